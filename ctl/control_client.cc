// Blocking Unix-socket client with socket-level timeouts: minisyncctl does one exchange and exits, so an
// event loop would buy nothing.
#include "control_client.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace minisync::ctl {
namespace {

std::string errno_text(int code)
{
    return std::string{std::strerror(code)} + " (" + std::to_string(code) + ")";
}

// The reasons a user can act on get words of their own; the rest keep the system's text.
std::string connect_error_text(int code)
{
    switch (code) {
    case ENOENT: return "no such socket (is minisyncd running? is this its --control path?)";
    case ECONNREFUSED: return "connection refused (minisyncd is not running, or the socket is stale)";
    case EACCES:
    case EPERM: return "permission denied (the socket belongs to another user)";
    case ENOTDIR: return "a component of the path is not a directory";
    case EAGAIN:
    case ETIMEDOUT: return "minisyncd did not accept the connection in time";
    default: return errno_text(code);
    }
}

Error unreachable(std::string reason, int err = 0)
{
    return Error{ErrorCode::Unreachable, std::move(reason), err};
}

// "WHAT: <errno text>", for the call that just failed.
Error call_failed(const std::string& what)
{
    const int err = errno;
    return unreachable(what + ": " + errno_text(err), err);
}

// A zero timeval means "no timeout" to SO_RCVTIMEO and SO_SNDTIMEO.
bool set_timeout(int fd, int option, std::optional<std::chrono::milliseconds> timeout)
{
    timeval tv{};
    if (timeout) {
        const auto ms = std::max<std::chrono::milliseconds::rep>(timeout->count(), 1);
        tv.tv_sec = static_cast<time_t>(ms / 1000);
        tv.tv_usec = static_cast<suseconds_t>((ms % 1000) * 1000);
    }
    return ::setsockopt(fd, SOL_SOCKET, option, &tv, sizeof tv) == 0;
}

} // namespace

Result<ControlClient> ControlClient::connect(const std::string& path, std::chrono::milliseconds timeout)
{
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof address.sun_path) {
        return unreachable("not a usable socket path (1 to " + std::to_string(sizeof address.sun_path - 1) +
                           " bytes)");
    }
    std::memcpy(address.sun_path, path.data(), path.size());
    // Nothing is sent to a socket another user could have put in place (docs/CONTROL.md, "Trust"): a
    // request may carry what minisyncctl was told, and a reply is shown as the agent's word.
    const std::filesystem::path directory = std::filesystem::path{path}.parent_path();
    // A directory that cannot be looked at is left to connect() to report, in the words users know.
    if (Result<void> trusted = control::check_socket_directory(directory.empty() ? "." : directory.string(), ::getuid());
        !trusted.ok() && trusted.error().code == ErrorCode::Untrusted) {
        return Error{ErrorCode::Untrusted, "refusing to use it: " + trusted.error().message};
    }

    UniqueFd fd{::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)};
    if (!fd) {
        return call_failed("couldn't create a socket");
    }
    // SO_SNDTIMEO also bounds a blocking connect() on a Unix socket whose listen backlog is full.
    if (!set_timeout(fd.get(), SO_SNDTIMEO, timeout)) {
        return call_failed("couldn't set a send timeout");
    }
    int rc = 0;
    do {
        rc = ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address);
    } while (rc < 0 && errno == EINTR);
    if (rc < 0) {
        const int err = errno;
        return unreachable(connect_error_text(err), err);
    }
    ucred peer{};
    socklen_t length = sizeof peer;
    if (::getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &peer, &length) != 0) {
        return call_failed("couldn't read the credentials of the process serving the socket");
    }
    if (peer.uid != ::getuid() && peer.uid != 0) {
        return Error{ErrorCode::Untrusted, "refusing to use it: the process serving it runs as uid " +
                                               std::to_string(peer.uid) + ", neither this user (uid " +
                                               std::to_string(::getuid()) + ") nor root"};
    }
    return ControlClient{std::move(fd)};
}

Result<std::string> ControlClient::exchange(std::string_view request_line,
                                            std::optional<std::chrono::milliseconds> reply_timeout)
{
    std::optional<Error> send_error;
    while (!request_line.empty()) {
        // MSG_NOSIGNAL: a daemon that closed the connection must give an error here, not SIGPIPE.
        const ssize_t sent = ::send(fd_.get(), request_line.data(), request_line.size(), MSG_NOSIGNAL);
        if (sent >= 0) {
            request_line.remove_prefix(static_cast<std::size_t>(sent));
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return unreachable("the daemon did not read the request in time", errno);
        } else if (errno != EINTR) {
            // A daemon that refuses a peer (credentials, too many connections) writes one error line and
            // closes without reading: that line, still in our receive queue, says more than EPIPE.
            send_error = call_failed("couldn't send the request");
            break;
        }
    }
    if (!set_timeout(fd_.get(), SO_RCVTIMEO, reply_timeout)) {
        return call_failed("couldn't set a receive timeout");
    }
    std::string line;
    std::array<char, 64 * 1024> chunk{};
    while (true) {
        switch (reader_.next(&line)) {
        case control::LineReader::Result::Line: return line;
        case control::LineReader::Result::TooLong:
            return unreachable("the reply is longer than " + std::to_string(control::MaxReplyLine) + " bytes");
        case control::LineReader::Result::NeedMore: break;
        }
        const ssize_t got = ::recv(fd_.get(), chunk.data(), chunk.size(), 0);
        if (got > 0) {
            reader_.append(std::string_view{chunk.data(), static_cast<std::size_t>(got)});
            continue;
        }
        if (got == 0) {
            if (send_error) {
                return *send_error;
            }
            return unreachable(reader_.buffered() == 0 ? "the daemon closed the connection without a reply"
                                                       : "the daemon closed the connection in the middle of a reply");
        }
        if (errno == EINTR) {
            continue;
        }
        if (send_error) {
            return *send_error;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return unreachable("no reply within " + std::to_string(reply_timeout ? reply_timeout->count() : 0) + " ms",
                               errno);
        }
        return call_failed("couldn't read the reply");
    }
}

} // namespace minisync::ctl
