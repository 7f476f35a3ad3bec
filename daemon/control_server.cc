// Socket setup with ownership checks, peer credential checks, and line-framed requests on bufferevents.
#include "control_server.h"

#include "must_succeed.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <vector>

namespace minisync::agent {
namespace {

constexpr std::size_t MaxConnections = 32;
// A client that connects and says nothing is dropped; one awaiting a reply is not read, so not timed.
constexpr timeval IdleTimeout{30, 0};

std::runtime_error failure(const std::string& what)
{
    return std::runtime_error("control socket: " + what);
}

// The directory holding the socket must be this user's and closed to others, or someone else could put
// their own socket in its place. It is created when missing.
void prepare_directory(const std::filesystem::path& dir, std::optional<gid_t> group)
{
    std::error_code ec;
    if (!std::filesystem::exists(dir, ec)) {
        std::filesystem::create_directories(dir, ec);
        if (ec) {
            throw failure("cannot create '" + dir.string() + "': " + ec.message());
        }
        const mode_t mode = group ? 0750 : 0700;
        if (::chmod(dir.c_str(), mode) != 0 || (group && ::chown(dir.c_str(), static_cast<uid_t>(-1), *group) != 0)) {
            throw failure("cannot set the mode or group of '" + dir.string() + "': " + std::strerror(errno));
        }
    }
    // The rule minisyncctl applies before it connects (docs/CONTROL.md): /tmp itself, sticky or not, is
    // refused, since anyone could have put a socket there first.
    if (Result<void> trusted = control::check_socket_directory(dir.string(), ::geteuid()); !trusted.ok()) {
        throw failure(trusted.error().message + "; refusing to put the socket there");
    }
}

sockaddr_un address_of(const std::string& path)
{
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.size() >= sizeof address.sun_path) {
        throw failure("path '" + path + "' is longer than a Unix socket address allows");
    }
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    return address;
}

// A socket file left by an agent that died is removed; one that still answers belongs to a running agent.
void remove_stale_socket(const std::string& path)
{
    struct stat st{};
    if (::lstat(path.c_str(), &st) != 0) {
        return;
    }
    if (!S_ISSOCK(st.st_mode)) {
        throw failure("'" + path + "' exists and is not a socket; refusing to replace it");
    }
    const sockaddr_un address = address_of(path);
    const int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const bool answered = probe >= 0 && ::connect(probe, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
    if (probe >= 0) {
        ::close(probe);
    }
    if (answered) {
        throw failure("another minisyncd is serving '" + path + "' (give each agent its own --control)");
    }
    ::unlink(path.c_str());
}

} // namespace

ControlServer::ControlServer(event_base* base, std::string path, std::optional<gid_t> group, Handler handler,
                             Refused refused)
    : base_{base}, path_{std::move(path)}, group_{group}, handler_{std::move(handler)}, refused_{std::move(refused)}
{
    prepare_directory(std::filesystem::path{path_}.parent_path(), group_);
    remove_stale_socket(path_);
    const sockaddr_un address = address_of(path_);
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        throw failure(std::string{"socket: "} + std::strerror(errno));
    }
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
        const int err = errno;
        ::close(fd);
        throw failure("cannot bind '" + path_ + "': " + std::strerror(err));
    }
    // The directory already keeps strangers out; the mode and group say who else may connect.
    if (::chmod(path_.c_str(), 0660) != 0 || (group_ && ::chown(path_.c_str(), static_cast<uid_t>(-1), *group_) != 0)) {
        const int err = errno;
        ::close(fd);
        ::unlink(path_.c_str());
        throw failure("cannot set the mode or group of '" + path_ + "': " + std::strerror(err));
    }
    listener_.reset(evconnlistener_new(base_, &ControlServer::on_accept, this,
                                       LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 16, fd));
    if (!listener_) {
        ::close(fd);
        ::unlink(path_.c_str());
        throw failure("cannot listen on '" + path_ + "'");
    }
}

ControlServer::~ControlServer()
{
    listener_.reset();
    connections_.clear();
    ::unlink(path_.c_str());
}

bool ControlServer::peer_allowed(int fd) const
{
    ucred peer{};
    socklen_t length = sizeof peer;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &length) != 0) {
        return false;
    }
    if (peer.uid == 0 || peer.uid == ::geteuid()) {
        return true;
    }
    if (!group_) {
        return false;
    }
    if (peer.gid == *group_) {
        return true;
    }
    // The peer's supplementary groups, as they were when it connected.
    std::vector<gid_t> groups(64);
    socklen_t size = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &size) != 0 && errno == ERANGE) {
        groups.resize(size / sizeof(gid_t));
        if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &size) != 0) {
            return false;
        }
    }
    groups.resize(size / sizeof(gid_t));
    return std::find(groups.begin(), groups.end(), *group_) != groups.end();
}

void ControlServer::accept(evutil_socket_t fd)
{
    if (!peer_allowed(fd) || connections_.size() >= MaxConnections) {
        const bool too_many = connections_.size() >= MaxConnections;
        const std::string line = control::error_reply(too_many ? "too many control connections"
                                                               : "permission denied: not root, not this "
                                                                 "daemon's user and not in its control group");
        // Best effort: a short line fits any socket buffer, and this peer gets nothing more.
        (void)::send(fd, line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        ::close(fd);
        SPDLOG_WARN("control: refused a connection: {}", too_many ? "too many connections" : "peer not allowed");
        refused_();
        return;
    }
    BufferEventPtr bev{bufferevent_socket_new(base_, fd, BEV_OPT_CLOSE_ON_FREE)};
    if (!bev) {
        ::close(fd);
        return;
    }
    const std::uint64_t id = next_id_++;
    Connection& connection = connections_[id];
    connection.server = this;
    connection.id = id;
    connection.bev = std::move(bev);
    bufferevent_setcb(connection.bev.get(), &ControlServer::on_read, &ControlServer::on_write,
                      &ControlServer::on_event, &connection);
    must_succeed(bufferevent_set_timeouts(connection.bev.get(), &IdleTimeout, nullptr) == 0,
                 "bufferevent_set_timeouts");
    // Reading stops at the line limit (plus its newline) until a line is taken out.
    bufferevent_setwatermark(connection.bev.get(), EV_READ, 0, control::MaxRequestLine + 1);
    must_succeed(bufferevent_enable(connection.bev.get(), EV_READ | EV_WRITE) == 0, "bufferevent_enable");
}

void ControlServer::on_read(bufferevent*, void* connection)
{
    auto* c = static_cast<Connection*>(connection);
    c->server->read_requests(c->id);
}

void ControlServer::on_write(bufferevent*, void* connection)
{
    auto* c = static_cast<Connection*>(connection);
    if (c->closing) {
        c->server->close(c->id);
    }
}

void ControlServer::on_event(bufferevent*, short, void* connection)
{
    // EOF, an error or the idle timeout: the peer is gone or has nothing to say.
    auto* c = static_cast<Connection*>(connection);
    c->server->close(c->id);
}

void ControlServer::read_requests(std::uint64_t id)
{
    while (true) {
        const auto it = connections_.find(id);
        if (it == connections_.end() || it->second.awaiting_reply || it->second.closing) {
            return;
        }
        evbuffer* input = bufferevent_get_input(it->second.bev.get());
        std::size_t length = 0;
        char* raw = evbuffer_readln(input, &length, EVBUFFER_EOL_LF);
        if (raw == nullptr) {
            if (evbuffer_get_length(input) > control::MaxRequestLine) {
                refused_();
                send(id, control::error_reply(control::LineTooLongError), true);
            }
            return;
        }
        const std::unique_ptr<char, decltype(&std::free)> owned{raw, &std::free};
        if (length > control::MaxRequestLine) {
            refused_();
            send(id, control::error_reply(control::LineTooLongError), true);
            return;
        }
        auto parsed = control::parse_request(std::string_view{raw, length});
        if (!parsed.ok()) {
            refused_();
            SPDLOG_WARN("control: malformed request err={}", parsed.error().message);
            send(id, control::error_reply(parsed.error().message), false);
            continue;
        }
        it->second.awaiting_reply = true;
        must_succeed(bufferevent_disable(it->second.bev.get(), EV_READ) == 0, "bufferevent_disable");
        handler_(parsed.value(), [this, id](std::string line) {
            const auto connection = connections_.find(id);
            if (connection == connections_.end()) {
                return; // the client left before the answer
            }
            connection->second.awaiting_reply = false;
            send(id, line, false);
            must_succeed(bufferevent_enable(connection->second.bev.get(), EV_READ) == 0, "bufferevent_enable");
            read_requests(id);
        });
    }
}

void ControlServer::send(std::uint64_t id, const std::string& line, bool then_close)
{
    const auto it = connections_.find(id);
    if (it == connections_.end()) {
        return;
    }
    must_succeed(bufferevent_write(it->second.bev.get(), line.data(), line.size()) == 0, "bufferevent_write");
    if (then_close) {
        it->second.closing = true;
        must_succeed(bufferevent_disable(it->second.bev.get(), EV_READ) == 0, "bufferevent_disable");
    }
}

void ControlServer::close(std::uint64_t id)
{
    // Freeing a bufferevent from inside its own callback is safe: libevent defers the release.
    connections_.erase(id);
}

} // namespace minisync::agent
