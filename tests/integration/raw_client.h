// A blocking protocol client for tests: authenticates with a real certificate like an agent would, then
// sends whatever frames (or raw bytes) a test chooses and reads the server's answers with a deadline.
#pragma once

#include "openssl_handles.h"
#include "protocol.h"
#include "tls_context.h"
#include "unique_fd.h"

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace minisync::test {

struct Frame {
    protocol::FrameType type = protocol::FrameType::Error;
    std::vector<std::uint8_t> body;
};

enum class ReadStatus { Frame, Closed, TimedOut };

struct ReadResult {
    ReadStatus status = ReadStatus::TimedOut;
    Frame frame;        // when status is Frame
    std::string detail; // why the connection ended, when status is Closed
};

class RawClient {
public:
    static constexpr std::chrono::milliseconds DefaultDeadline{10'000};

    // TCP connect to 127.0.0.1:port and a TLS 1.3 handshake using the project's client context, checking
    // the server certificate for server_name. Throws std::runtime_error with the OpenSSL reason.
    RawClient(std::uint16_t port, const TlsFiles& files, const std::string& server_name = "mini-rsync-server");
    RawClient(const RawClient&) = delete;
    RawClient& operator=(const RawClient&) = delete;

    // Sends HELLO and returns HELLO_OK; throws if the server answers anything else.
    protocol::HelloOk hello(std::chrono::milliseconds deadline = DefaultDeadline);

    // False when the connection is gone (the peer may legitimately have closed it already).
    bool send(std::span<const std::uint8_t> bytes, std::chrono::milliseconds deadline = DefaultDeadline);

    ReadResult read_frame(std::chrono::milliseconds deadline = DefaultDeadline);
    // Reads frames until the connection ends; false if it is still open at the deadline.
    bool wait_closed(std::chrono::milliseconds deadline = DefaultDeadline);

private:
    enum class IoStatus { Done, Closed, TimedOut };
    // Drives one SSL_* call on the non-blocking socket, polling for whatever it waits on.
    template <typename Operation>
    IoStatus drive(Operation&& operation, std::chrono::steady_clock::time_point end, std::string& detail);

    UniqueFd socket_;
    SslCtxPtr ctx_;
    SslPtr ssl_;
    std::vector<std::uint8_t> input_;
};

} // namespace minisync::test
