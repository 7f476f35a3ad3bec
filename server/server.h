// minisync-server's top level: the listening socket, the TLS context, the event loop and its sessions.
#pragma once

#include "client_session.h"
#include "client_uploads.h"
#include "fd_budget.h"
#include "group_commit.h"
#include "idle_memory_release.h"
#include "libevent_handles.h"
#include "loop_inbox.h"
#include "openssl_handles.h"
#include "path_locks.h"
#include "server_settings.h"
#include "metrics_endpoint.h"
#include "server_metrics.h"
#include "service_heartbeat.h"
#include "unique_fd.h"
#include "worker_pool.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace minisync::server {

class Server {
public:
    // Throws std::runtime_error when the root, the certificates or the listening address cannot be used.
    explicit Server(ServerSettings settings);
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;
    ~Server();

    // Serves until SIGTERM or SIGINT; returns the process exit code.
    int run();
    [[nodiscard]] std::uint16_t bound_port() const noexcept { return bound_port_; }

private:
    static void on_accept(evconnlistener*, evutil_socket_t fd, sockaddr* addr, int len, void* self)
    {
        static_cast<Server*>(self)->handle_accept(fd, addr, len);
    }
    static void on_accept_error(evconnlistener*, void* self) { static_cast<Server*>(self)->handle_accept_error(); }
    static void on_signal(evutil_socket_t, short, void* self) { static_cast<Server*>(self)->begin_shutdown(); }
    static void on_hangup(evutil_socket_t, short, void*);
    static void on_reap(evutil_socket_t, short, void* self) { static_cast<Server*>(self)->graveyard_.clear(); }
    static void on_accept_resume(evutil_socket_t, short, void* self)
    {
        evconnlistener_enable(static_cast<Server*>(self)->listener_.get());
    }
    static void on_sweep(evutil_socket_t, short, void* self) { static_cast<Server*>(self)->sweep_partials(); }
    static void on_shutdown_deadline(evutil_socket_t, short, void* self)
    {
        event_base_loopbreak(static_cast<Server*>(self)->base_.get());
    }

    void bind_listener();
    void handle_accept(evutil_socket_t fd, sockaddr* addr, int len);
    void handle_accept_error();
    void begin_shutdown();
    void sweep_partials();
    ClientSession* find_session(std::uint64_t id);
    void session_closed(std::uint64_t id);

    const ServerSettings settings_;
    // Sized from the open-file limit as it is now: after prepare_process() has raised it.
    const ServerLimits limits_;
    // Before the workers: their queued tasks may hold open uploads, whose slots point here.
    ClientUploads uploads_{limits_.open_uploads_per_client, limits_.open_uploads};
    UniqueFd root_fd_;
    SslCtxPtr tls_;
    EvBasePtr base_;
    LoopInbox inbox_;
    WorkerPool pool_;
    const std::shared_ptr<prometheus::Registry> registry_ = std::make_shared<prometheus::Registry>();
    ServerMetrics metrics_{*registry_};
    // /metrics and /healthz on the loop when --metrics is given; /healthz answers 503 once shutting down.
    std::unique_ptr<MetricsEndpoint> metrics_endpoint_;
    PathLocks path_locks_;
    GroupCommitter commits_{pool_, metrics_.directory_syncs};
    IdleMemoryRelease memory_release_{base_.get(), [this] {
        return static_cast<std::uint64_t>(metrics_.files_committed.Value() + metrics_.bytes_received.Value());
    }};
    ClientConnections connections_;
    // Before the sessions, whose handshake slots it counts.
    HandshakeAdmission handshakes_{limits_.handshakes, limits_.handshakes_per_address};
    SessionContext context_;
    std::map<std::uint64_t, std::unique_ptr<ClientSession>> sessions_;
    // Sessions closed during a callback are destroyed on a later loop pass, never inside their own callback.
    std::vector<std::unique_ptr<ClientSession>> graveyard_;
    std::uint64_t next_session_id_ = 1;
    bool shutting_down_ = false;
    std::uint16_t bound_port_ = 0;
    EvListenerPtr listener_;
    EventPtr reap_event_;
    EventPtr accept_resume_;
    EventPtr shutdown_deadline_;
    EventPtr sweep_timer_;
    std::vector<EventPtr> signal_events_;
    ServiceHeartbeat heartbeat_{base_.get(), [this] {
        return std::to_string(sessions_.size()) + " connections, " +
               std::to_string(static_cast<std::uint64_t>(metrics_.files_committed.Value())) + " files committed";
    }};
};

} // namespace minisync::server
