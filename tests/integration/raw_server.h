// A stand-in server for tests of the agent: listens on 127.0.0.1:0, accepts with the project's server TLS
// context and a real certificate, answers HELLO, and then lets the test send whatever replies it chooses,
// hostile ones included.
#pragma once

#include "raw_client.h"

#include <chrono>
#include <cstdint>
#include <memory>

namespace minisync::test {

// The server's side of one agent's connection.
class RawAgentConnection final : public RawConnection {
public:
    RawAgentConnection(UniqueFd socket, const TlsFiles& files);

    // Reads the agent's HELLO and answers HELLO_OK; throws if the first frame is anything else.
    void greet(std::chrono::milliseconds deadline = DefaultDeadline);
};

class RawServer {
public:
    explicit RawServer(const TlsFiles& files);

    [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
    // The next connection, handshaken; throws when none arrives before the deadline.
    std::unique_ptr<RawAgentConnection> accept(std::chrono::milliseconds deadline = RawConnection::DefaultDeadline);

private:
    TlsFiles files_;
    UniqueFd listener_;
    std::uint16_t port_ = 0;
};

} // namespace minisync::test
