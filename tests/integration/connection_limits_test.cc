// The server's connection limits: in all (closed at accept, before any TLS work) and per client CN
// (refused right after the handshake); both counted, and other clients unaffected.
#include "minisync_fixture.h"
#include "protocol_codec.h"
#include "raw_client.h"
#include "wait_for.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace minisync::test {
namespace {

using namespace std::chrono_literals;

// A plain TCP connection that says nothing: it holds a slot until the handshake timeout.
class SilentConnection {
public:
    explicit SilentConnection(std::uint16_t port)
    {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(port);
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        connected_ = ::connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
    }
    ~SilentConnection() { ::close(fd_); }
    SilentConnection(const SilentConnection&) = delete;
    SilentConnection& operator=(const SilentConnection&) = delete;

    [[nodiscard]] bool connected() const noexcept { return connected_; }
    // True once the server has closed it (a read returns end of file).
    bool closed_by_server(std::chrono::milliseconds deadline)
    {
        const timeval timeout{static_cast<time_t>(deadline.count() / 1000),
                              static_cast<suseconds_t>((deadline.count() % 1000) * 1000)};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
        char byte = 0;
        return ::recv(fd_, &byte, 1, 0) == 0;
    }

private:
    int fd_ = -1;
    bool connected_ = false;
};

class ConnectionLimitsTest : public MinisyncTest {};

TEST_F(ConnectionLimitsTest, ConnectionsBeyondThePerClientLimitAreRefusedAndOthersStillConnect)
{
    start_server({"--max-connections-per-client", "2", "--metrics", "127.0.0.1:0"});
    pki().generate({"--client", "other"});
    RawClient first{port(), pki().client()};
    first.hello();
    RawClient second{port(), pki().client()};
    second.hello();

    RawClient third{port(), pki().client()};
    const ReadResult refused = third.read_frame();
    ASSERT_EQ(refused.status, ReadStatus::Frame);
    ASSERT_EQ(refused.frame.type, protocol::FrameType::Error);
    const auto error = protocol::decode_error(refused.frame.body);
    ASSERT_TRUE(error.has_value());
    EXPECT_EQ(error->request_id, 0U);
    EXPECT_EQ(error->code, protocol::ErrorCode::NotAllowed);
    EXPECT_NE(error->message.find("2 connections open"), std::string::npos) << error->message;
    EXPECT_TRUE(third.wait_closed(5s));

    // Another client is not held back, and the first ones still work.
    RawClient other{port(), pki().client("other")};
    EXPECT_EQ(other.hello().client_name, "other");
    EXPECT_TRUE(first.send(protocol::encode(protocol::RemoveMsg{1, "f", "nothing", protocol::RemoveKind::File})));
    EXPECT_EQ(first.read_frame().frame.type, protocol::FrameType::Removed);
    EXPECT_EQ(rejected("too_many_connections"), 1);
}

TEST_F(ConnectionLimitsTest, ASlotFreedByAClosedConnectionCanBeUsedAgain)
{
    start_server({"--max-connections-per-client", "1"});
    {
        RawClient only{port(), pki().client()};
        only.hello();
    }
    // The server notices the close; then the slot is free.
    EXPECT_TRUE(wait_for([&] {
        try {
            RawClient again{port(), pki().client()};
            again.hello(2s);
            return true;
        } catch (const std::exception&) {
            return false;
        }
    }, 10s));
}

TEST_F(ConnectionLimitsTest, ConnectionsBeyondTheTotalLimitAreClosedAtAccept)
{
    start_server({"--max-connections", "3", "--metrics", "127.0.0.1:0"});
    std::vector<std::unique_ptr<SilentConnection>> silent;
    for (int i = 0; i < 3; ++i) {
        silent.push_back(std::make_unique<SilentConnection>(port()));
        ASSERT_TRUE(silent.back()->connected());
    }
    // The server has accepted the three once the fourth is closed on arrival.
    EXPECT_TRUE(wait_for([&] {
        SilentConnection extra{port()};
        return extra.connected() && extra.closed_by_server(1s);
    }, 10s));
    EXPECT_TRUE(wait_for([&] { return rejected("too_many_connections") >= 1; }, 5s));
    // Freed slots are usable: the silent ones go, an agent's connection is served.
    silent.clear();
    EXPECT_TRUE(wait_for([&] {
        try {
            RawClient client{port(), pki().client()};
            client.hello(2s);
            return true;
        } catch (const std::exception&) {
            return false;
        }
    }, 15s));
}

} // namespace
} // namespace minisync::test
