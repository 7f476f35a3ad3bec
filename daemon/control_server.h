// The agent's control socket (docs/CONTROL.md): a Unix stream socket served on the event loop, one JSON
// request per line from minisyncctl, each answered by one line. Only root, the agent's own user and
// members of the configured control group may talk to it: the peer's credentials (SO_PEERCRED,
// SO_PEERGROUPS) are checked on accept. Loop thread only.
#pragma once

#include "control_protocol.h"
#include "libevent_handles.h"

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace minisync::agent {

class ControlServer {
public:
    // Answers one request by calling reply exactly once with a complete reply line, now or later (a
    // resync that waits). The connection reads nothing more until then.
    using Reply = std::function<void(std::string line)>;
    using Handler = std::function<void(const control::Request& request, Reply reply)>;
    // Told about every refused peer and malformed request.
    using Refused = std::function<void()>;

    // Creates the socket at path (its directory too, mode 0700, or 0750 with a group) and listens.
    // Throws std::runtime_error when the directory is not safe (owned by someone else, writable by
    // others), another agent answers on the socket, or the socket cannot be made.
    ControlServer(event_base* base, std::string path, std::optional<gid_t> group, Handler handler, Refused refused);
    ControlServer(const ControlServer&) = delete;
    ControlServer& operator=(const ControlServer&) = delete;
    // Removes the socket file.
    ~ControlServer();

    [[nodiscard]] const std::string& path() const noexcept { return path_; }

private:
    struct Connection {
        ControlServer* server = nullptr; // the callbacks' argument is the connection itself
        std::uint64_t id = 0;
        BufferEventPtr bev;
        bool awaiting_reply = false;
        bool closing = false; // closed once its output is written
    };

    static void on_accept(evconnlistener*, evutil_socket_t fd, sockaddr*, int, void* self)
    {
        static_cast<ControlServer*>(self)->accept(fd);
    }
    static void on_read(bufferevent*, void* connection);
    static void on_write(bufferevent*, void* connection);
    static void on_event(bufferevent*, short events, void* connection);

    void accept(evutil_socket_t fd);
    [[nodiscard]] bool peer_allowed(int fd) const;
    void read_requests(std::uint64_t id);
    void send(std::uint64_t id, const std::string& line, bool then_close);
    void close(std::uint64_t id);

    event_base* const base_;
    const std::string path_;
    const std::optional<gid_t> group_;
    const Handler handler_;
    const Refused refused_;
    EvListenerPtr listener_;
    std::map<std::uint64_t, Connection> connections_;
    std::uint64_t next_id_ = 1;
};

} // namespace minisync::agent
