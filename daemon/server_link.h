// The agent's one connection to the server: resolve, connect, TLS with the expected server name,
// HELLO, then frames both ways; on loss, reconnect with capped exponential backoff and jitter.
//
// States: Idle -> Resolving (evdns) -> Connecting (TCP + TLS, each address in turn) -> Greeting (HELLO sent) -> Ready
//         Resolving/Connecting/Greeting/Ready --(failure)--> Waiting --(backoff timer)--> Resolving
//         any --stop()--> Stopped
#pragma once

#include "agent_metrics.h"
#include "agent_settings.h"
#include "frame_channel.h"
#include "frame_sink.h"
#include "libevent_handles.h"
#include "openssl_handles.h"
#include "protocol_codec.h"
#include "reconnect_backoff.h"

#include <event2/bufferevent_ssl.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace minisync::agent {

class ServerLink final : public FrameChannel::Handler, public FrameSink {
public:
    class Listener {
    public:
        virtual void on_link_ready() = 0;
        // Every request in flight on the lost connection is void.
        virtual void on_link_lost() = 0;
        virtual void on_server_frame(const protocol::FrameHeader& header, ByteBuffer&& body) = 0;
        virtual void on_link_writable() = 0;

    protected:
        ~Listener() = default;
    };

    ServerLink(event_base* base, const AgentSettings& settings, Listener& listener, AgentMetrics& metrics);
    ServerLink(const ServerLink&) = delete;
    ServerLink& operator=(const ServerLink&) = delete;
    ~ServerLink();

    void start();
    // Changes the upload cap (none: unlimited), on the live connection too.
    void set_bwlimit(std::optional<std::uint64_t> bytes_per_second);
    // Flushes and closes the connection; calls done() once it is closed (or at once when there is none).
    void stop(std::function<void()> done);

    // Connected, greeted, and not being closed: requests may be sent.
    [[nodiscard]] bool ready() const noexcept { return state_ == State::Ready && channel_ && !channel_->closing(); }
    [[nodiscard]] std::size_t output_size() const;
    [[nodiscard]] const std::string& last_error() const noexcept { return last_error_; }
    void send(std::span<const std::uint8_t> frame) override;
    void send_data(const protocol::DataPrefix& prefix, ByteBuffer&& payload) override;
    // The server broke the protocol: the connection is closed (what is queued is flushed first) and made
    // again after the usual backoff; every request on it is void.
    void reset(const std::string& reason);

private:
    enum class State { Idle, Resolving, Connecting, Greeting, Ready, Waiting, Stopped };

    struct ResolveQuery {
        std::shared_ptr<bool> alive;
        ServerLink* link;
    };
    struct Address {
        sockaddr_storage storage{};
        socklen_t length = 0;
    };

    static void on_retry(evutil_socket_t, short, void* self) { static_cast<ServerLink*>(self)->resolve(); }
    static void on_resolved(int result, evutil_addrinfo* found, void* arg);
    static void on_keepalive(evutil_socket_t fd, short what, void* self);

    void resolve();
    // Tries the next resolved address; every address failing ends in fail() and a backoff.
    void connect_next();
    void fail(const std::string& reason);
    // Keeps a quiet connection inside the idle timeout the server announced in HELLO_OK (0: none).
    void start_keepalives(std::chrono::seconds server_idle_timeout);

    void on_connected() override;
    void on_frame(const protocol::FrameHeader& header, ByteBuffer&& body) override;
    void on_bad_frame(const std::string& reason) override;
    void on_output_low() override;
    void on_closed(const std::string& reason) override;

    AgentMetrics& metrics_;
    event_base* const base_;
    const AgentSettings& settings_;
    Listener& listener_;
    const SslCtxPtr tls_;
    const EventPtr retry_timer_;
    const EventPtr keepalive_timer_;
    // libevent keeps a pointer to it, so it outlives every connection's bufferevent.
    EvTokenBucketCfgPtr rate_limit_;
    const EvDnsBasePtr dns_;
    std::vector<Address> addresses_;
    std::size_t next_address_ = 0;
    std::string last_attempt_error_;
    State state_ = State::Idle;
    std::unique_ptr<FrameChannel> channel_;
    // A closed channel waits here until the next connection attempt: never freed in its own callback.
    std::unique_ptr<FrameChannel> retired_channel_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
    ReconnectBackoff backoff_;
    std::string last_error_;
    std::function<void()> on_stopped_;
};

} // namespace minisync::agent
