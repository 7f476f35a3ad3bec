// What every request the agent sends has in common: its id on the connection, the replies the server may
// send it, and what a reply meant. Each kind of request is a class of its own with its own states
// (file_transfer.h, entry_request.h, removal_request.h, rename_request.h); RequestScheduler owns them.
#pragma once

#include "frame_sink.h"
#include "protocol.h"
#include "protocol_codec.h"
#include "result.h"

#include <cstdint>
#include <optional>
#include <string>

namespace minisync::agent {

// A reply from the server, decoded once, for whichever request it names.
struct ServerReply {
    protocol::FrameType type = protocol::FrameType::Error;
    std::uint32_t request_id = 0;
    std::uint64_t offset = 0;         // UPLOAD_READY: where to send from; PROGRESS: the durable length
    protocol::ErrorCode code{};       // ERROR
    std::string message;              // ERROR
};

// Nothing when the frame is not a reply to a request (a type the server never sends the agent after
// HELLO_OK) or does not decode: either is a protocol error.
std::optional<ServerReply> decode_reply(const protocol::FrameHeader& header, protocol::Bytes body);

// What an event meant for a request; the scheduler acts on it (records, counts, requeues).
enum class Outcome {
    Continue,         // the request goes on; nothing to record
    Ready,            // UPLOAD_READY taken: the transfer streams (resumed_at() says from where)
    Progressed,       // the server confirmed more bytes durable: worth recording for a resume
    Acknowledged,     // applied on the server: COMMITTED, DONE or REMOVED
    AlreadyHeld,      // ALREADY_HAVE: the server holds this content already
    HashWanted,       // HASH_WANTED: ask again with the file's SHA-256
    Refused,          // ERROR: error() holds the server's code and message
    OffsetRefused,    // UPLOAD_READY offered an offset this side did not ask for: ABORT sent
    ReadFailed,       // a local read failed or the file shrank: ABORT sent; error() says why
    ChangedWhileSent, // the file changed while being read: ABORT sent
    Invalid,          // a reply this request cannot take in its state: a protocol error
};

class Request {
public:
    Request(const Request&) = delete;
    Request& operator=(const Request&) = delete;
    virtual ~Request() = default;

    [[nodiscard]] std::uint32_t id() const noexcept { return id_; }
    // The server's reply to this request.
    virtual Outcome on_reply(const ServerReply& reply) = 0;
    // True while an answer is due whose effect belongs in the state database (a commit, a removal, an
    // applied entry): a shutdown waits for it. An upload still streaming resumes next time instead.
    [[nodiscard]] virtual bool awaits_answer() const noexcept = 0;
    [[nodiscard]] virtual const char* state_name() const noexcept = 0;
    // Why the request was refused or failed (Refused, ReadFailed).
    [[nodiscard]] const Error& error() const noexcept { return error_; }

protected:
    Request(FrameSink& sink, std::uint32_t id) : sink_{sink}, id_{id} {}

    // Keeps the server's ERROR for error().
    Outcome refused(const ServerReply& reply);

    FrameSink& sink_;
    const std::uint32_t id_;
    Error error_;
};

// A request the server answers once: MAKE_DIR, MAKE_SYMLINK, REMOVE and RENAME.
//
// States:  Sent --(its answer)--> Answered            Acknowledged
//          Sent --(ERROR)--> Answered                  Refused
//          Sent --(any other reply)--> Sent            Invalid
//          Answered --(any reply)--> Answered          Invalid
class OneAnswerRequest : public Request {
public:
    enum class State { Sent, Answered };

    Outcome on_reply(const ServerReply& reply) final;
    [[nodiscard]] bool awaits_answer() const noexcept final { return state_ == State::Sent; }
    [[nodiscard]] const char* state_name() const noexcept final;
    [[nodiscard]] State state() const noexcept { return state_; }

protected:
    // The request frame is sent here; answer is the reply that acknowledges it.
    OneAnswerRequest(FrameSink& sink, std::uint32_t id, std::span<const std::uint8_t> frame,
                     protocol::FrameType answer);

private:
    const protocol::FrameType answer_;
    State state_ = State::Sent;
};

} // namespace minisync::agent
