// Listener, accept path, session bookkeeping and orderly shutdown of minisync-server.
#include "server.h"

#include "must_succeed.h"
#include "open_beneath.h"
#include "partial_sweeper.h"
#include "service_notify.h"
#include "tcp_tuning.h"

#include <event2/bufferevent_ssl.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace minisync::server {
namespace {

constexpr int ListenBacklog = 512;
constexpr timeval AcceptRetryDelay{1, 0};
constexpr timeval ShutdownGrace{3, 0};

UniqueFd open_root(const std::string& root)
{
    std::error_code ec;
    std::filesystem::create_directories(root, ec);
    if (ec) {
        throw std::runtime_error("cannot create root '" + root + "': " + ec.message());
    }
    UniqueFd fd{::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
    if (!fd) {
        throw std::runtime_error("cannot open root '" + root + "': " + std::strerror(errno));
    }
    // Dot-names under the root are the server's own (CNs may not start with '.'): metadata and state.
    if (::mkdirat(fd.get(), ".minisync", 0700) != 0 && errno != EEXIST) {
        throw std::runtime_error("cannot create '" + root + "/.minisync': " + std::strerror(errno));
    }
    return fd;
}

// The source address alone, without the port: what a per-address limit counts.
std::string address_of(const sockaddr* addr)
{
    char host[INET6_ADDRSTRLEN] = "?";
    if (addr->sa_family == AF_INET) {
        evutil_inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(addr)->sin_addr, host, sizeof host);
    } else if (addr->sa_family == AF_INET6) {
        evutil_inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(addr)->sin6_addr, host, sizeof host);
    }
    return host;
}

std::string describe_peer(const sockaddr* addr)
{
    if (addr->sa_family == AF_INET) {
        return address_of(addr) + ":" + std::to_string(ntohs(reinterpret_cast<const sockaddr_in*>(addr)->sin_port));
    }
    const unsigned port =
        addr->sa_family == AF_INET6 ? ntohs(reinterpret_cast<const sockaddr_in6*>(addr)->sin6_port) : 0;
    return "[" + address_of(addr) + "]:" + std::to_string(port);
}

} // namespace

Server::Server(ServerSettings settings)
    : settings_{std::move(settings)},
      limits_{size_limits(settings_, current_open_file_limit())},
      root_fd_{open_root(settings_.root)},
      tls_{value_or_throw(make_server_tls_context(settings_.tls))},
      base_{event_base_new()},
      inbox_{base_.get()},
      pool_{settings_.workers},
      path_locks_{pool_, inbox_},
      context_{inbox_,
               pool_,
               settings_,
               limits_,
               root_fd_.get(),
               metrics_,
               path_locks_,
               commits_,
               memory_release_,
               [this](std::uint64_t id) { return find_session(id); },
               [this](std::uint64_t id) { session_closed(id); },
               connections_,
               uploads_}
{
    if (const std::uint64_t needed = limits_.fds_needed(settings_.workers); needed > limits_.open_file_limit) {
        // Only limits given explicitly overshoot, or a limit too low to leave even one place of each.
        SPDLOG_WARN("{}: over the limit by {}; raise LimitNOFILE= (or ulimit -Hn) or lower the limits given",
                    describe(limits_, settings_.workers), needed - limits_.open_file_limit);
    } else {
        SPDLOG_INFO("{}", describe(limits_, settings_.workers));
    }
    reap_event_.reset(event_new(base_.get(), -1, 0, &Server::on_reap, this));
    accept_resume_.reset(evtimer_new(base_.get(), &Server::on_accept_resume, this));
    shutdown_deadline_.reset(evtimer_new(base_.get(), &Server::on_shutdown_deadline, this));
    sweep_timer_.reset(evtimer_new(base_.get(), &Server::on_sweep, this));
    must_succeed(reap_event_ && accept_resume_ && shutdown_deadline_ && sweep_timer_, "event_new");
    for (const int signal_number : {SIGTERM, SIGINT}) {
        EventPtr ev{evsignal_new(base_.get(), signal_number, &Server::on_signal, this)};
        must_succeed(ev != nullptr, "evsignal_new");
        must_succeed(event_add(ev.get(), nullptr) == 0, "event_add");
        signal_events_.push_back(std::move(ev));
    }
    EventPtr hangup{evsignal_new(base_.get(), SIGHUP, &Server::on_hangup, this)};
    must_succeed(hangup != nullptr && event_add(hangup.get(), nullptr) == 0, "evsignal_new, event_add");
    signal_events_.push_back(std::move(hangup));
    bind_listener();
    if (settings_.metrics) {
        metrics_endpoint_ = std::make_unique<MetricsEndpoint>(base_.get(), *settings_.metrics, registry_,
                                                              [this] { return !shutting_down_; });
    }
}

Server::~Server()
{
    // Workers stop first: none may still run a task that reports to the sessions or context about to go.
    // Partial files of interrupted uploads stay on disk, hidden, and are replaced by the next upload.
    pool_.shutdown();
    listener_.reset();
    sessions_.clear();
    graveyard_.clear();
}

void Server::bind_listener()
{
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* found = nullptr;
    const std::string port = std::to_string(settings_.listen.port);
    if (const int rc = ::getaddrinfo(settings_.listen.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
        throw std::runtime_error("cannot resolve listen address '" + settings_.listen.to_string() +
                                 "': " + gai_strerror(rc));
    }
    std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addresses{found, &::freeaddrinfo};
    listener_.reset(evconnlistener_new_bind(base_.get(), &Server::on_accept, this,
                                            LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
                                            ListenBacklog, found->ai_addr, static_cast<int>(found->ai_addrlen)));
    if (!listener_) {
        throw std::runtime_error("cannot listen on " + settings_.listen.to_string() + ": " +
                                 evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
    }
    evconnlistener_set_error_cb(listener_.get(), &Server::on_accept_error);
    sockaddr_storage bound{};
    socklen_t bound_len = sizeof bound;
    ::getsockname(evconnlistener_get_fd(listener_.get()), reinterpret_cast<sockaddr*>(&bound), &bound_len);
    bound_port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                                    : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
}

int Server::run()
{
    SPDLOG_INFO("listening on {}:{} root={}; paths are resolved with {}", settings_.listen.host, bound_port_,
                settings_.root, path_resolver());
    if (metrics_endpoint_) {
        SPDLOG_INFO("metrics on http://{}/metrics",
                    HostPort{settings_.metrics->host, metrics_endpoint_->port()}.to_string());
    }
    notify_ready("listening on " + settings_.listen.host + ":" + std::to_string(bound_port_));
    sweep_partials();
    heartbeat_.start();
    must_succeed(event_base_dispatch(base_.get()) != -1, "event_base_dispatch");
    SPDLOG_INFO("stopped: {} files committed, {} bytes received", metrics_.files_committed.Value(),
                metrics_.bytes_received.Value());
    return 0;
}

void Server::handle_accept(evutil_socket_t fd, sockaddr* addr, int)
{
    if (shutting_down_) {
        evutil_closesocket(fd);
        return;
    }
    // Refusals here come before any TLS work: a flood costs an accept and a close each. Each is counted
    // first, so that whoever sees the close finds it counted.
    if (connections_.total() >= limits_.connections) {
        metrics_.rejected(RejectReason::TooManyConnections);
        SPDLOG_WARN("connection peer={}: refused err=already {} connections open (--max-connections)",
                    describe_peer(addr), connections_.total());
        evutil_closesocket(fd);
        return;
    }
    HandshakeAdmission::Slot handshake;
    const std::string address = address_of(addr);
    if (const auto verdict = handshakes_.admit(address, handshake); verdict != HandshakeAdmission::Verdict::Admitted) {
        metrics_.rejected(RejectReason::TooManyHandshakes);
        SPDLOG_WARN("connection peer={}: refused err={}", describe_peer(addr),
                    verdict == HandshakeAdmission::Verdict::TooManyInAll
                        ? "already " + std::to_string(handshakes_.in_progress()) +
                              " handshakes in progress (--max-handshakes)"
                        : "already " + std::to_string(handshakes_.from(address)) + " handshakes in progress from " +
                              address + " (--max-handshakes-per-address)");
        evutil_closesocket(fd);
        return;
    }
    tune_tcp_socket(fd);
    SSL* ssl = SSL_new(tls_.get());
    if (ssl == nullptr) {
        SPDLOG_ERROR("SSL_new failed; dropping connection");
        evutil_closesocket(fd);
        return;
    }
    BufferEventPtr bev{bufferevent_openssl_socket_new(base_.get(), fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                                      BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS)};
    if (!bev) {
        // libevent has freed the SSL on this path; the socket is still ours.
        evutil_closesocket(fd);
        SPDLOG_ERROR("bufferevent_openssl_socket_new failed; dropping connection");
        return;
    }
    const std::uint64_t id = next_session_id_++;
    sessions_.emplace(id, std::make_unique<ClientSession>(id, context_, std::move(bev), describe_peer(addr),
                                                          std::move(handshake)));
    metrics_.connections.Increment();
}

void Server::handle_accept_error()
{
    const int err = EVUTIL_SOCKET_ERROR();
    SPDLOG_ERROR("accept failed: {} ({}); pausing accepts for {} s", evutil_socket_error_to_string(err), err,
                 AcceptRetryDelay.tv_sec);
    // Out of descriptors: accepting again at once would spin on the same error.
    must_succeed(evconnlistener_disable(listener_.get()) == 0, "evconnlistener_disable");
    must_succeed(evtimer_add(accept_resume_.get(), &AcceptRetryDelay) == 0, "evtimer_add");
}

// SIGHUP's default action would end the server without a word (a reload sent to the wrong daemon, an
// operator's habit); it is logged instead, and the server keeps serving.
void Server::on_hangup(evutil_socket_t, short, void*)
{
    SPDLOG_WARN("SIGHUP: this server does not re-read its configuration; restart it to apply a changed one");
}

void Server::begin_shutdown()
{
    if (shutting_down_) {
        return;
    }
    shutting_down_ = true;
    notify_stopping();
    heartbeat_.stop();
    SPDLOG_INFO("shutting down: {} connections open", sessions_.size());
    must_succeed(evconnlistener_disable(listener_.get()) == 0, "evconnlistener_disable");
    for (const auto& [id, session] : sessions_) {
        session->shutdown("server shutting down");
    }
    if (sessions_.empty()) {
        event_base_loopbreak(base_.get());
        return;
    }
    must_succeed(evtimer_add(shutdown_deadline_.get(), &ShutdownGrace) == 0, "evtimer_add");
}

void Server::sweep_partials()
{
    constexpr timeval SweepInterval{24 * 3600, 0};
    must_succeed(evtimer_add(sweep_timer_.get(), &SweepInterval) == 0, "evtimer_add");
    pool_.post([&inbox = inbox_, &stop = pool_.stop_requested(), root = root_fd_.get(),
                max_age = settings_.partial_max_age] {
        SweepResult result = sweep_stale_partials(root, max_age, stop);
        inbox.post([result = std::move(result)] {
            for (const std::string& error : result.errors) {
                SPDLOG_WARN("partial cleanup: {}", error);
            }
            if (result.removed > 0) {
                SPDLOG_INFO("partial cleanup: removed {} stale partial uploads, kept {}", result.removed, result.kept);
            }
        });
    });
}

ClientSession* Server::find_session(std::uint64_t id)
{
    const auto it = sessions_.find(id);
    return it == sessions_.end() ? nullptr : it->second.get();
}

void Server::session_closed(std::uint64_t id)
{
    const auto it = sessions_.find(id);
    if (it == sessions_.end()) {
        return;
    }
    graveyard_.push_back(std::move(it->second));
    sessions_.erase(it);
    metrics_.connections.Decrement();
    event_active(reap_event_.get(), EV_READ, 0);
    if (shutting_down_ && sessions_.empty()) {
        event_base_loopbreak(base_.get());
    }
}

} // namespace minisync::server
