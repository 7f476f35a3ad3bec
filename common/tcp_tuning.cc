// setsockopt calls for latency and dead-peer detection (tcp(7)).
#include "tcp_tuning.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace minisync {
namespace {

constexpr int KeepaliveIdleSeconds = 30;
constexpr int KeepaliveIntervalSeconds = 10;
constexpr int KeepaliveProbes = 3;
// Unacknowledged data older than this also ends the connection, which keepalive alone does not cover.
constexpr unsigned UserTimeoutMs = 60'000;

void set_int(int fd, int level, int name, int value) noexcept
{
    ::setsockopt(fd, level, name, &value, sizeof value);
}

} // namespace

void tune_tcp_socket(int fd) noexcept
{
    set_int(fd, IPPROTO_TCP, TCP_NODELAY, 1);
    set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 1);
    set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, KeepaliveIdleSeconds);
    set_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, KeepaliveIntervalSeconds);
    set_int(fd, IPPROTO_TCP, TCP_KEEPCNT, KeepaliveProbes);
    set_int(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, static_cast<int>(UserTimeoutMs));
}

} // namespace minisync
