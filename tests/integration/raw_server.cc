// Listening, accepting and greeting for the stand-in server.
#include "raw_server.h"

#include "protocol_codec.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <stdexcept>

namespace minisync::test {

RawAgentConnection::RawAgentConnection(UniqueFd socket, const TlsFiles& files)
{
    ctx_ = value_or_throw(make_server_tls_context(files));
    socket_ = std::move(socket);
    ssl_.reset(SSL_new(ctx_.get()));
    if (!ssl_) {
        throw std::runtime_error("TLS setup: " + drain_openssl_errors());
    }
    SSL_set_accept_state(ssl_.get());
    handshake("the agent");
}

void RawAgentConnection::greet(std::chrono::milliseconds deadline)
{
    const ReadResult first = read_frame(deadline);
    if (first.status != ReadStatus::Frame || first.frame.type != protocol::FrameType::Hello) {
        throw std::runtime_error("the agent's first frame was not HELLO");
    }
    protocol::HelloOk reply;
    reply.server = "stand-in server";
    reply.client_name = "mini-rsync-client";
    if (!send(protocol::encode(reply), deadline)) {
        throw std::runtime_error("HELLO_OK could not be sent");
    }
}

RawServer::RawServer(const TlsFiles& files) : files_{files}
{
    // Writing to an agent that has just dropped the connection must be an error return, not the death of
    // the test process.
    std::signal(SIGPIPE, SIG_IGN);
    listener_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!listener_) {
        throw std::runtime_error(std::string{"socket: "} + std::strerror(errno));
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (::bind(listener_.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listener_.get(), 8) != 0 ||
        ::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
        throw std::runtime_error(std::string{"listen on 127.0.0.1: "} + std::strerror(errno));
    }
    port_ = ntohs(address.sin_port);
}

std::unique_ptr<RawAgentConnection> RawServer::accept(std::chrono::milliseconds deadline)
{
    pollfd pfd{listener_.get(), POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(deadline.count())) != 1) {
        throw std::runtime_error("no agent connected within " + std::to_string(deadline.count()) + " ms");
    }
    UniqueFd socket{::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC)};
    if (!socket) {
        throw std::runtime_error(std::string{"accept: "} + std::strerror(errno));
    }
    return std::make_unique<RawAgentConnection>(std::move(socket), files_);
}

} // namespace minisync::test
