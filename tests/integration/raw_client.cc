// Socket setup, TLS handshake and poll-driven SSL reads and writes for the test's connections.
#include "raw_client.h"

#include "protocol_codec.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <stdexcept>

namespace minisync::test {
namespace {

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point end)
{
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now()).count();
    return left <= 0 ? 0 : static_cast<int>(left);
}

} // namespace

RawClient::RawClient(std::uint16_t port, const TlsFiles& files, const std::string& server_name)
{
    ctx_ = value_or_throw(make_client_tls_context(files));
    // Writing to a connection the server has just dropped must be an error return, not the death of the
    // test process. Children get SIGPIPE back (ChildProcess resets it before exec).
    std::signal(SIGPIPE, SIG_IGN);

    socket_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!socket_) {
        throw std::runtime_error(std::string{"socket: "} + std::strerror(errno));
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(socket_.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
        throw std::runtime_error("connect to 127.0.0.1:" + std::to_string(port) + ": " + std::strerror(errno));
    }
    ssl_.reset(SSL_new(ctx_.get()));
    if (!ssl_ || !expect_server_name(ssl_.get(), server_name, "127.0.0.1")) {
        throw std::runtime_error("TLS setup: " + drain_openssl_errors());
    }
    SSL_set_connect_state(ssl_.get());
    handshake("127.0.0.1:" + std::to_string(port));
}

void RawConnection::handshake(const std::string& peer)
{
    const int one = 1;
    ::setsockopt(socket_.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::fcntl(socket_.get(), F_SETFL, ::fcntl(socket_.get(), F_GETFL) | O_NONBLOCK);
    if (SSL_set_fd(ssl_.get(), socket_.get()) != 1) {
        throw std::runtime_error("TLS setup: " + drain_openssl_errors());
    }
    std::string detail;
    const IoStatus status = drive([this] { return SSL_do_handshake(ssl_.get()); }, Clock::now() + DefaultDeadline, detail);
    if (status != IoStatus::Done) {
        throw std::runtime_error("TLS handshake with " + peer + " failed: " +
                                 (status == IoStatus::TimedOut ? std::string{"timed out"} : detail));
    }
}

template <typename Operation>
RawConnection::IoStatus RawConnection::drive(Operation&& operation, Clock::time_point end, std::string& detail)
{
    while (true) {
        ERR_clear_error();
        const int rc = operation();
        if (rc > 0) {
            return IoStatus::Done;
        }
        const int error = SSL_get_error(ssl_.get(), rc);
        short events = 0;
        if (error == SSL_ERROR_WANT_READ) {
            events = POLLIN;
        } else if (error == SSL_ERROR_WANT_WRITE) {
            events = POLLOUT;
        } else {
            if (error == SSL_ERROR_ZERO_RETURN) {
                detail = "closed by peer";
            } else if (error == SSL_ERROR_SYSCALL) {
                detail = errno != 0 ? std::strerror(errno) : "connection closed";
            } else {
                detail = drain_openssl_errors();
            }
            return IoStatus::Closed;
        }
        pollfd pfd{socket_.get(), events, 0};
        const int ready = ::poll(&pfd, 1, remaining_ms(end));
        if (ready < 0 && errno != EINTR) {
            detail = std::string{"poll: "} + std::strerror(errno);
            return IoStatus::Closed;
        }
        if (ready == 0) {
            return IoStatus::TimedOut;
        }
    }
}

protocol::HelloOk RawClient::hello(std::chrono::milliseconds deadline)
{
    if (!send(protocol::encode(protocol::Hello{protocol::MinProtocolVersion, protocol::ProtocolVersion,
                                               "minisync integration test"}),
              deadline)) {
        throw std::runtime_error("HELLO could not be sent");
    }
    const ReadResult reply = read_frame(deadline);
    if (reply.status != ReadStatus::Frame) {
        throw std::runtime_error("no answer to HELLO: " +
                                 (reply.status == ReadStatus::TimedOut ? std::string{"timed out"} : reply.detail));
    }
    if (reply.frame.type != protocol::FrameType::HelloOk) {
        std::string why = std::string{"HELLO answered with "} + protocol::to_string(reply.frame.type);
        if (const auto error = protocol::decode_error(reply.frame.body)) {
            why += ": " + error->message;
        }
        throw std::runtime_error(why);
    }
    const auto hello_ok = protocol::decode_hello_ok(reply.frame.body);
    if (!hello_ok) {
        throw std::runtime_error("malformed HELLO_OK");
    }
    return *hello_ok;
}

bool RawConnection::send(std::span<const std::uint8_t> bytes, std::chrono::milliseconds deadline)
{
    const Clock::time_point end = Clock::now() + deadline;
    std::string detail;
    while (!bytes.empty()) {
        // Without SSL_MODE_ENABLE_PARTIAL_WRITE a retried SSL_write must repeat the same arguments; one
        // record-sized piece at a time keeps that simple.
        const int piece = static_cast<int>(std::min<std::size_t>(bytes.size(), 16 * 1024));
        if (drive([&] { return SSL_write(ssl_.get(), bytes.data(), piece); }, end, detail) != IoStatus::Done) {
            return false;
        }
        bytes = bytes.subspan(static_cast<std::size_t>(piece));
    }
    return true;
}

ReadResult RawConnection::read_frame(std::chrono::milliseconds deadline)
{
    const Clock::time_point end = Clock::now() + deadline;
    ReadResult result;
    while (true) {
        const protocol::HeaderResult header = protocol::decode_frame_header(input_);
        if (header.status == protocol::HeaderStatus::TooLarge || header.status == protocol::HeaderStatus::BadFlags) {
            throw std::runtime_error("server sent a malformed frame header");
        }
        if (header.status == protocol::HeaderStatus::Ok &&
            input_.size() >= protocol::FrameHeaderSize + header.header.body_size) {
            const auto body_begin = input_.begin() + protocol::FrameHeaderSize;
            const auto body_end = body_begin + header.header.body_size;
            result.status = ReadStatus::Frame;
            result.frame.type = header.header.type;
            result.frame.body.assign(body_begin, body_end);
            input_.erase(input_.begin(), body_end);
            return result;
        }
        std::uint8_t buffer[64 * 1024];
        int received = 0;
        const IoStatus status = drive(
            [&] {
                received = SSL_read(ssl_.get(), buffer, sizeof buffer);
                return received;
            },
            end, result.detail);
        if (status == IoStatus::TimedOut) {
            result.status = ReadStatus::TimedOut;
            return result;
        }
        if (status == IoStatus::Closed) {
            result.status = ReadStatus::Closed;
            return result;
        }
        input_.insert(input_.end(), buffer, buffer + received);
    }
}

bool RawConnection::wait_closed(std::chrono::milliseconds deadline)
{
    const Clock::time_point end = Clock::now() + deadline;
    while (true) {
        const ReadResult result = read_frame(std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now()));
        if (result.status == ReadStatus::Closed) {
            return true;
        }
        if (result.status == ReadStatus::TimedOut) {
            return false;
        }
    }
}

} // namespace minisync::test
