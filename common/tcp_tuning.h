// Socket options every minisync TCP connection gets: no Nagle delay for small frames, and keepalive
// plus a user timeout so a peer that vanishes (power loss, dropped route) is noticed within about a minute.
#pragma once

namespace minisync {

void tune_tcp_socket(int fd) noexcept;

} // namespace minisync
