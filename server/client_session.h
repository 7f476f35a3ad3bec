// One agent's connection to the server: TLS identity check, HELLO, reading (and pausing it), closing.
// The requests it carries are SessionRequests'; frames past HELLO go to them through frame_handlers.
//
// Connection states (previous --(event)--> next):
//   Handshake             --(TLS done, CN accepted)----------> AwaitHello
//   Handshake             --(TLS done, CN refused: ERROR)----> Refused
//   Handshake, AwaitHello --(handshake deadline)-------------> Refused
//   AwaitHello            --(HELLO with a version in common)-> Ready
// In any state a malformed or misplaced frame is answered with ERROR, and the connection closes once
// that is flushed, as on shutdown; an error, EOF or the idle timeout (Ready) close it. A closed
// connection is reported to the server and reaped on a later loop pass.
// Request states are in upload_request.h, put_file_request.h and entry_change.h. A connection that
// closes keeps its partial files for the agent to resume; ABORT and errors discard them.
#pragma once

#include "frame_channel.h"
#include "reply_sink.h"
#include "libevent_handles.h"
#include "protocol_codec.h"
#include "session_context.h"
#include "session_requests.h"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace minisync::server {

class ClientSession final : public FrameChannel::Handler, private ReplySink {
public:
    // handshake: the connection's place among the handshakes in progress, given back once its client is
    // authenticated (or it goes).
    ClientSession(std::uint64_t id, SessionContext& context, BufferEventPtr bev, std::string peer,
                  HandshakeAdmission::Slot handshake);
    ClientSession(const ClientSession&) = delete;
    ClientSession& operator=(const ClientSession&) = delete;
    ~ClientSession();

    [[nodiscard]] std::uint64_t id() const noexcept { return id_; }
    void shutdown(const std::string& reason);
    // For worker results coming back (session_completion.h).
    [[nodiscard]] SessionRequests& requests() noexcept { return requests_; }

private:
    enum class State { Handshake, Refused, AwaitHello, Ready };

    void on_connected() override;
    void on_frame(const protocol::FrameHeader& header, ByteBuffer&& body) override;
    void on_data_frame(const protocol::FrameHeader& header, EvBufferPtr body) override;
    void on_bad_frame(const std::string& reason) override;
    void on_output_low() override;
    void on_closed(const std::string& reason) override;
    static void on_handshake_deadline(evutil_socket_t /*fd*/, short /*what*/, void* self)
    {
        static_cast<ClientSession*>(self)->handle_handshake_deadline();
    }
    void handle_handshake_deadline();

    // ReplySink, for the requests.
    void send(std::span<const std::uint8_t> frame) override { channel_.send(frame); }
    [[nodiscard]] bool closing() const override { return channel_.closing(); }
    void reject_connection(protocol::ErrorCode code, const std::string& message, RejectReason reason) override;
    void disk_caught_up() override { update_read_pause(); }

    void dispatch(const protocol::FrameHeader& header, ByteBuffer&& body);
    // Stops reading while too much waits for the disk or for the peer to read its replies.
    void update_read_pause();
    void handle_hello(protocol::Bytes body);

    const std::uint64_t id_;
    SessionContext& context_;
    const std::string peer_;
    HandshakeAdmission::Slot handshake_;
    EventPtr handshake_deadline_; // cancelled by HELLO; before the channel, which its callback uses
    FrameChannel channel_;
    State state_ = State::Handshake;
    std::string client_;
    bool counted_for_client_ = false; // in context.connections
    // After client_, which it names its locks and logs by; its path locks go as it does.
    SessionRequests requests_;
    bool read_paused_ = false;
};

} // namespace minisync::server
