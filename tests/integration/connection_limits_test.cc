// The server's connection limits: authenticated connections in all (closed at accept, before any TLS
// work) and per client CN (refused right after the handshake), and connections still in their handshake,
// in all and per source address; each counted, and other clients unaffected.
#include "minisync_fixture.h"
#include "protocol_codec.h"
#include "raw_client.h"
#include "wait_for.h"

#include "test_files.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace minisync::test {
namespace {

using namespace std::chrono_literals;

// A plain TCP connection that says nothing: it holds a handshake slot until the handshake timeout.
// source: the loopback address it comes from (all of 127/8 is loopback), so a test can be another host.
class SilentConnection {
public:
    explicit SilentConnection(std::uint16_t port, const char* source = "127.0.0.1")
    {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in from{};
        from.sin_family = AF_INET;
        ::inet_pton(AF_INET, source, &from.sin_addr);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(port);
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        connected_ = ::bind(fd_, reinterpret_cast<const sockaddr*>(&from), sizeof from) == 0 &&
                     ::connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
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

// Only authenticated connections count against --max-connections: beyond it, a new connection is closed
// on arrival, and a freed place can be used again.
TEST_F(ConnectionLimitsTest, AuthenticatedConnectionsBeyondTheTotalLimitAreClosedAtAccept)
{
    pki().generate({"--client", "alice", "--client", "bob", "--client", "carol"});
    start_server({"--max-connections", "3", "--metrics", "127.0.0.1:0"});
    std::vector<std::unique_ptr<RawClient>> clients;
    for (const char* cn : {"alice", "bob", "carol"}) {
        clients.push_back(std::make_unique<RawClient>(port(), pki().client(cn)));
        clients.back()->hello();
    }
    // Idle connections are no client: they do not take the authenticated clients' room...
    SilentConnection idle{port()};
    ASSERT_TRUE(idle.connected());
    // ...but with three clients in, a fourth connection is closed as it arrives.
    EXPECT_TRUE(wait_for([&] {
        SilentConnection extra{port()};
        return extra.connected() && extra.closed_by_server(1s);
    }, 10s));
    EXPECT_TRUE(wait_for([&] { return rejected("too_many_connections") >= 1; }, 5s));
    // A freed place is usable again.
    clients.pop_back();
    EXPECT_TRUE(wait_for([&] {
        try {
            RawClient client{port(), pki().client("alice")};
            client.hello(2s);
            return true;
        } catch (const std::exception&) {
            return false;
        }
    }, 15s));
}

// More idle TCP connections than --max-connections, from one other host, cannot lock an agent out: they
// fill their address's few handshake places, the rest are closed on arrival, and the agent is served.
TEST_F(ConnectionLimitsTest, AThousandIdleConnectionsFromOneHostDoNotLockAnAgentOut)
{
    constexpr int Flood = 1100;
    rlimit files{};
    ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &files), 0);
    if (files.rlim_max != RLIM_INFINITY && files.rlim_max < Flood + 200) {
        GTEST_SKIP() << "the hard limit on open files (" << files.rlim_max << ") is too low to hold " << Flood
                     << " connections";
    }
    files.rlim_cur = files.rlim_max == RLIM_INFINITY ? Flood + 200 : files.rlim_max;
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &files), 0);

    const std::filesystem::path src = make_dir("src");
    start_server({"--metrics", "127.0.0.1:0"});
    std::vector<std::unique_ptr<SilentConnection>> flood;
    for (int i = 0; i < Flood; ++i) {
        flood.push_back(std::make_unique<SilentConnection>(port(), "127.0.0.2"));
        ASSERT_TRUE(flood.back()->connected()) << "connection " << i << ": " << std::strerror(errno);
    }
    ASSERT_TRUE(wait_for([&] { return rejected("too_many_handshakes") >= Flood - 8; }, 10s))
        << rejected("too_many_handshakes") << " refused";

    start_agent({src.string()});
    write_file(src / "through.txt", "the flood did not keep me out\n");
    EXPECT_TRUE(wait_until_synced(src, server_file(DefaultCn, "src"), 3s));
    EXPECT_EQ(rejected("too_many_connections"), 0);
}

// The soft limit on open files from "Max open files" in /proc/PID/limits; nothing while unreadable.
std::optional<std::uint64_t> soft_open_files(pid_t pid)
{
    std::ifstream limits{"/proc/" + std::to_string(pid) + "/limits"};
    std::string line;
    while (std::getline(limits, line)) {
        if (line.rfind("Max open files", 0) == 0) {
            std::istringstream fields{line.substr(std::string{"Max open files"}.size())};
            std::uint64_t soft = 0;
            if (fields >> soft) {
                return soft;
            }
        }
    }
    return std::nullopt;
}

// systemd and login shells start services with a soft limit of 1024 open files, which would cap the
// server far below --max-connections: both daemons raise it to the hard limit at start.
TEST_F(ConnectionLimitsTest, BothDaemonsRaiseTheirOpenFileLimitToTheHardLimit)
{
    rlimit inherited{};
    ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &inherited), 0);
    if (inherited.rlim_max == RLIM_INFINITY || inherited.rlim_max <= 256) {
        GTEST_SKIP() << "a hard limit of " << inherited.rlim_max << " leaves nothing to raise";
    }
    rlimit low = inherited;
    low.rlim_cur = 256;
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
    start_server();
    ChildProcess& agent = start_agent({make_dir("src").string()});
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &inherited), 0);
    for (ChildProcess* daemon : {&server(), &agent}) {
        std::optional<std::uint64_t> soft;
        EXPECT_TRUE(wait_for([&] { return (soft = soft_open_files(daemon->pid())) == inherited.rlim_max; }, 10s))
            << daemon->binary() << ": soft limit " << soft.value_or(0) << ", hard " << inherited.rlim_max;
    }
}

} // namespace
} // namespace minisync::test
