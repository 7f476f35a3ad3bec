// The server's connection limits: authenticated connections in all (closed at accept, before any TLS
// work) and per client CN (refused right after the handshake), and connections still in their handshake,
// in all and per source address; open uploads per client CN across its connections (answered BUSY); and
// the defaults sized from the open-file limit. Each counted, and other clients unaffected.
#include "minisync_fixture.h"
#include "protocol_codec.h"
#include "sha256.h"
#include "raw_client.h"
#include "wait_for.h"

#include "test_files.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
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

// ---- open uploads per client ----------------------------------------------------------------------------

// UPLOAD_BEGIN for a 1 MiB file at path in folder "f", from offset 0 and without a hash: the server opens
// a partial file for it and then waits for DATA that never comes.
std::vector<std::uint8_t> begin_upload(std::uint32_t request_id, const std::string& path)
{
    protocol::UploadBegin begin;
    begin.request_id = request_id;
    begin.folder = "f";
    begin.path = path;
    begin.size = 1U << 20;
    begin.mode = 0644;
    return protocol::encode(begin);
}

// The answer to one request: UPLOAD_READY, or the code of its ERROR; nothing if the connection gave neither.
struct Answer {
    protocol::FrameType type = protocol::FrameType::Error;
    protocol::ErrorCode code = protocol::ErrorCode::Internal;
    std::string message;
};

std::optional<Answer> read_answer(RawClient& client, std::chrono::milliseconds deadline = 10s)
{
    const ReadResult read = client.read_frame(deadline);
    if (read.status != ReadStatus::Frame) {
        return std::nullopt;
    }
    Answer answer;
    answer.type = read.frame.type;
    if (read.frame.type == protocol::FrameType::Error) {
        const auto error = protocol::decode_error(read.frame.body);
        if (!error) {
            return std::nullopt;
        }
        answer.code = error->code;
        answer.message = error->message;
    }
    return answer;
}

// Open file descriptors of a process, from /proc.
std::size_t open_fds(pid_t pid)
{
    std::size_t count = 0;
    for ([[maybe_unused]] const auto& entry :
         std::filesystem::directory_iterator{"/proc/" + std::to_string(pid) + "/fd"}) {
        ++count;
    }
    return count;
}

// The cap counts a client's uploads over all its connections, UPLOAD_BEGIN and PUT_FILE alike; beyond it
// an upload is answered BUSY (the agent sends it again later), a place comes back as an upload ends, and
// another client is not held back.
TEST_F(ConnectionLimitsTest, OpenUploadsBeyondThePerClientLimitAreBusyAcrossConnections)
{
    pki().generate({"--client", "hoarder"});
    const std::filesystem::path src = make_dir("src");
    start_server({"--max-open-uploads-per-client", "4", "--metrics", "127.0.0.1:0"});
    RawClient first{port(), pki().client("hoarder")};
    first.hello();
    RawClient second{port(), pki().client("hoarder")};
    second.hello();
    for (std::uint32_t id = 1; id <= 3; ++id) {
        ASSERT_TRUE(first.send(begin_upload(id, "first-" + std::to_string(id))));
        const auto answer = read_answer(first);
        ASSERT_TRUE(answer.has_value());
        EXPECT_EQ(answer->type, protocol::FrameType::UploadReady) << answer->message;
    }
    ASSERT_TRUE(second.send(begin_upload(1, "second-1")));
    auto answer = read_answer(second);
    ASSERT_TRUE(answer.has_value());
    EXPECT_EQ(answer->type, protocol::FrameType::UploadReady) << answer->message;

    // The fifth, on either connection, and a PUT_FILE too.
    ASSERT_TRUE(second.send(begin_upload(2, "second-2")));
    answer = read_answer(second);
    ASSERT_TRUE(answer.has_value());
    EXPECT_EQ(answer->type, protocol::FrameType::Error);
    EXPECT_EQ(answer->code, protocol::ErrorCode::Busy);
    EXPECT_NE(answer->message.find("already has 4 uploads open (--max-open-uploads-per-client)"), std::string::npos)
        << answer->message;
    const std::vector<std::uint8_t> content{'h', 'i', '\n'};
    ASSERT_TRUE(first.send(protocol::encode(
        protocol::PutFile{4, "f", "small.txt", 0, 0644, sha256_of(std::span{content}), std::span{content}})));
    answer = read_answer(first);
    ASSERT_TRUE(answer.has_value());
    EXPECT_EQ(answer->type, protocol::FrameType::Error);
    EXPECT_EQ(answer->code, protocol::ErrorCode::Busy);
    EXPECT_EQ(rejected("too_many_open_uploads"), 2);

    // Another client syncs meanwhile.
    start_agent({src.string()});
    write_file(src / "through.txt", "not held back by the hoarder\n");
    EXPECT_TRUE(wait_until_synced(src, server_file(DefaultCn, "src"), 5s));

    // An upload given up frees its place once its partial file is closed: a new one then gets it.
    ASSERT_TRUE(first.send(protocol::encode_request_only(protocol::FrameType::Abort, 1)));
    std::uint32_t next_id = 3;
    EXPECT_TRUE(wait_for([&] {
        const std::uint32_t id = next_id++;
        if (!second.send(begin_upload(id, "second-" + std::to_string(id)))) {
            return false;
        }
        const auto retried = read_answer(second);
        return retried && retried->type == protocol::FrameType::UploadReady;
    }, 10s));
    // The connections that held uploads all along are still served.
    EXPECT_TRUE(first.send(protocol::encode(protocol::RemoveMsg{5, "f", "nothing", protocol::RemoveKind::File})));
    answer = read_answer(first);
    ASSERT_TRUE(answer.has_value());
    EXPECT_EQ(answer->type, protocol::FrameType::Removed);
}

// Under an open-file limit of 1024, the default limits are sized to fit it: one client opening 16
// connections of 256 uploads each (4,096 partial files, two descriptors each) gets BUSY beyond its share,
// the server's descriptors stay well within the limit, and an agent of another client still connects and
// syncs. Without the sizing, that client took every descriptor and the agent could not even connect.
TEST_F(ConnectionLimitsTest, OneClientCannotTakeTheServersFileDescriptors)
{
    constexpr rlim_t Limit = 1024;
    constexpr int Connections = 16;
    constexpr std::uint32_t UploadsPerConnection = 256;
    rlimit inherited{};
    ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &inherited), 0);
    if (inherited.rlim_max != RLIM_INFINITY && inherited.rlim_max < Limit) {
        GTEST_SKIP() << "the hard open-file limit (" << inherited.rlim_max << ") is below " << Limit;
    }
    pki().generate({"--client", "hoarder"});
    const std::filesystem::path src = make_dir("src");
    limit_server_open_files(Limit);
    start_server({"--metrics", "127.0.0.1:0"});
    EXPECT_TRUE(wait_for_log(server(), "open files: limit 1024, at most 1024 in use", 5s));

    std::vector<std::unique_ptr<RawClient>> hoarder;
    for (int i = 0; i < Connections; ++i) {
        hoarder.push_back(std::make_unique<RawClient>(port(), pki().client("hoarder")));
        hoarder.back()->hello();
    }
    std::size_t ready = 0;
    std::size_t busy = 0;
    std::size_t other = 0;
    std::size_t peak_fds = 0;
    for (int c = 0; c < Connections; ++c) {
        RawClient& connection = *hoarder[static_cast<std::size_t>(c)];
        for (std::uint32_t id = 1; id <= UploadsPerConnection; ++id) {
            ASSERT_TRUE(connection.send(begin_upload(id, "c" + std::to_string(c) + "/" + std::to_string(id))));
        }
        for (std::uint32_t id = 1; id <= UploadsPerConnection; ++id) {
            const auto answer = read_answer(connection);
            ASSERT_TRUE(answer.has_value()) << "connection " << c << " ended after " << id - 1 << " answers";
            if (answer->type == protocol::FrameType::UploadReady) {
                ++ready;
            } else if (answer->code == protocol::ErrorCode::Busy) {
                ++busy;
            } else {
                ++other;
            }
        }
        peak_fds = std::max(peak_fds, open_fds(server().pid()));
    }
    EXPECT_GT(ready, 0U);
    EXPECT_LE(ready, 256U);
    EXPECT_EQ(ready + busy, static_cast<std::size_t>(Connections) * UploadsPerConnection);
    EXPECT_EQ(other, 0U) << "uploads failed otherwise than BUSY: the server ran out of something";
    EXPECT_EQ(rejected("too_many_open_uploads"), static_cast<double>(busy));
    EXPECT_LT(peak_fds, static_cast<std::size_t>(Limit) / 2) << "descriptors held for one client";

    start_agent({src.string()});
    write_file(src / "through.txt", "the hoarder did not keep me out\n");
    EXPECT_TRUE(wait_until_synced(src, server_file(DefaultCn, "src"), 5s));
    EXPECT_LT(open_fds(server().pid()), static_cast<std::size_t>(Limit) / 2);
}

} // namespace
} // namespace minisync::test
