// Blocking protocol connections for tests: a client that authenticates with a real certificate like an
// agent would, then sends whatever frames (or raw bytes) a test chooses and reads the answers with a
// deadline; raw_server.h plays the other side.
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

// One TLS connection driven by blocking calls with deadlines: the test's side of a conversation with a
// daemon, whichever side the test plays.
class RawConnection {
public:
    static constexpr std::chrono::milliseconds DefaultDeadline{10'000};

    RawConnection(const RawConnection&) = delete;
    RawConnection& operator=(const RawConnection&) = delete;
    virtual ~RawConnection() = default;

    // False when the connection is gone (the peer may legitimately have closed it already).
    bool send(std::span<const std::uint8_t> bytes, std::chrono::milliseconds deadline = DefaultDeadline);

    ReadResult read_frame(std::chrono::milliseconds deadline = DefaultDeadline);
    // Reads frames until the connection ends; false if it is still open at the deadline.
    bool wait_closed(std::chrono::milliseconds deadline = DefaultDeadline);

protected:
    RawConnection() = default;

    enum class IoStatus { Done, Closed, TimedOut };
    // Drives one SSL_* call on the non-blocking socket, polling for whatever it waits on.
    template <typename Operation>
    IoStatus drive(Operation&& operation, std::chrono::steady_clock::time_point end, std::string& detail);
    // Makes the socket non-blocking and runs the handshake (connect or accept, as ssl_ is set up).
    void handshake(const std::string& peer);

    UniqueFd socket_;
    SslCtxPtr ctx_;
    SslPtr ssl_;
    std::vector<std::uint8_t> input_;
};

// The agent's side: connects to a server and authenticates with a real certificate like an agent would.
class RawClient final : public RawConnection {
public:
    // TCP connect to 127.0.0.1:port and a TLS 1.3 handshake using the project's client context, checking
    // the server certificate for server_name. Throws std::runtime_error with the OpenSSL reason.
    RawClient(std::uint16_t port, const TlsFiles& files, const std::string& server_name = "mini-rsync-server");

    // Sends HELLO and returns HELLO_OK; throws if the server answers anything else.
    protocol::HelloOk hello(std::chrono::milliseconds deadline = DefaultDeadline);
};

} // namespace minisync::test
