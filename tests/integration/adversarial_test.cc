// Peers that try to use up the server: floods of junk connections, handshakes that never finish or
// trickle, authenticated connections that go silent. The server drops each at its limit, counts it, stays
// within bounded memory, and keeps serving a good agent throughout; a quiet agent keeps its connection.
#include "metrics_scrape.h"
#include "minisync_fixture.h"
#include "openssl_handles.h"
#include "protocol_codec.h"
#include "raw_client.h"
#include "test_files.h"
#include "unique_fd.h"
#include "wait_for.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace minisync::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

#if defined(__SANITIZE_ADDRESS__)
// ASan keeps freed memory in quarantine and adds shadow memory: the process's RSS says nothing about ours.
constexpr bool MemoryIsMeasurable = false;
#else
constexpr bool MemoryIsMeasurable = true;
#endif

UniqueFd connect_to(std::uint16_t port)
{
    UniqueFd fd{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
        throw std::runtime_error(std::string{"connect: "} + std::strerror(errno));
    }
    return fd;
}

void send_all(int fd, std::span<const std::uint8_t> bytes)
{
    (void)::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
}

// Whether the server has closed the connection, without waiting.
bool closed_by_server(int fd)
{
    std::uint8_t sink[4096];
    while (true) {
        const ssize_t n = ::recv(fd, sink, sizeof sink, MSG_DONTWAIT);
        if (n > 0) {
            continue; // an alert or a ServerHello: not an end yet
        }
        return n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
    }
}

// The first flight of a real TLS 1.3 client: a ClientHello, as a scanner or a stalled client sends it.
std::vector<std::uint8_t> client_hello()
{
    const SslCtxPtr ctx{SSL_CTX_new(TLS_client_method())};
    const SslPtr ssl{SSL_new(ctx.get())};
    BIO* network_in = BIO_new(BIO_s_mem());
    BIO* network_out = BIO_new(BIO_s_mem());
    SSL_set_bio(ssl.get(), network_in, network_out); // the SSL owns both now
    SSL_set_connect_state(ssl.get());
    (void)SSL_do_handshake(ssl.get()); // wants to read the ServerHello next
    char* data = nullptr;
    const long size = BIO_get_mem_data(network_out, &data);
    return {reinterpret_cast<std::uint8_t*>(data), reinterpret_cast<std::uint8_t*>(data) + size};
}

std::uint64_t resident_bytes(pid_t pid, const std::string& field = "VmRSS:")
{
    std::ifstream status{"/proc/" + std::to_string(pid) + "/status"};
    std::string key;
    std::uint64_t kib = 0;
    std::string unit;
    while (status >> key) {
        if (key == field) {
            status >> kib >> unit;
            return kib * 1024;
        }
        status.ignore(1 << 12, '\n');
    }
    return 0;
}

// The server's log lines for the timeouts it enforces are asserted as well as the counters: they tell the
// operator the limit in effect, which no metric does.
class AdversarialTest : public FolderTest {
protected:
    // Connections of an agent started with MetricsArgs that failed or broke.
    static double connection_failures(const ChildProcess& agent)
    {
        return sample(agent, "minisync_errors_total{kind=\"connection\"}");
    }
};

TEST_F(AdversarialTest, JunkConnectionFloodLeavesAGoodAgentServedAndMemoryBounded)
{
    // The flood comes from the agent's own address, and this test is about what junk that reaches the TLS
    // layer costs: the per-address cap, which would close all but 8 of it at accept, is lifted here and
    // has tests of its own (ConnectionLimitsTest).
    start_server({"--metrics", "127.0.0.1:0", "--handshake-timeout", "3s", "--max-handshakes-per-address", "1000"});
    ChildProcess& agent = start_agent({src_.string()}, MetricsArgs);
    ASSERT_TRUE(wait_until_connected(agent, 20s));
    write_file(src_ / "before.txt", "synced before the flood\n");
    ASSERT_TRUE(wait_until_synced(src_, dst_, 20s));
    const std::uint64_t rss_before = resident_bytes(server().pid());

    // 200 at once: random bytes (refused at once), half a ClientHello (stalls mid-handshake), nothing at
    // all (stalls before it), and whole ClientHellos that never answer the server's flight.
    const std::vector<std::uint8_t> hello = client_hello();
    ASSERT_GT(hello.size(), 100U);
    constexpr int Flood = 200;
    const Clock::time_point flood_start = Clock::now();
    std::vector<UniqueFd> junk;
    int expected_bad_handshakes = 0;
    for (int i = 0; i < Flood; ++i) {
        junk.push_back(connect_to(port()));
        const int fd = junk.back().get();
        switch (i % 4) {
        case 0: {
            std::vector<std::uint8_t> noise = random_bytes(4096, static_cast<std::uint64_t>(i));
            // Not a TLS record header, so the server has no announced length to wait for: an HTTP request.
            std::copy_n("GET ", 4, noise.begin());
            send_all(fd, noise);
            ++expected_bad_handshakes;
            break;
        }
        case 1: send_all(fd, std::span{hello}.first(hello.size() / 2)); break;
        case 2: break;
        case 3: send_all(fd, hello); break;
        }
    }
    // The good agent is served while they are all open.
    fs::create_directory(src_ / "during");
    for (int i = 0; i < 50; ++i) {
        write_random_file(src_ / ("during/file-" + std::to_string(i)), 16 * 1024, static_cast<std::uint64_t>(i));
    }
    EXPECT_TRUE(wait_until_synced(src_, dst_, 30s));

    // Every junk connection is closed by the server: the random ones at once, the rest at the deadline.
    EXPECT_TRUE(wait_for([&] {
        return std::all_of(junk.begin(), junk.end(), [](const UniqueFd& fd) { return closed_by_server(fd.get()); });
    }, 30s));
    EXPECT_LT(Clock::now() - flood_start, 15s) << "the 3 s handshake deadline was not kept";
    EXPECT_GE(rejected("bad_handshake"), expected_bad_handshakes);
    EXPECT_GE(rejected("handshake_timeout"), Flood - expected_bad_handshakes);
    EXPECT_TRUE(server().running());
    EXPECT_TRUE(wait_for([&] { return sample_value(server(), "minisync_server_connections") == 1; }, 10s));

    const std::uint64_t peak = resident_bytes(server().pid(), "VmHWM:");
    std::cout << "[ info ] server RSS " << (rss_before >> 20) << " MiB before the flood, peak " << (peak >> 20)
              << " MiB\n";
    if (MemoryIsMeasurable) {
        EXPECT_LT(peak, rss_before + (64U << 20)) << "before " << rss_before << ", peak " << peak;
    }

    // The agent's connection survived it all.
    write_file(src_ / "after.txt", "synced after the flood\n");
    EXPECT_TRUE(wait_until_synced(src_, dst_, 20s));
    EXPECT_EQ(connection_failures(agent), 0);
}

TEST_F(AdversarialTest, AHandshakeTricklingOneByteAtATimeIsDroppedAtTheDeadline)
{
    start_server({"--metrics", "127.0.0.1:0", "--handshake-timeout", "1s"});
    const std::vector<std::uint8_t> hello = client_hello();
    const UniqueFd fd = connect_to(port());
    const Clock::time_point start = Clock::now();
    std::size_t sent = 0;
    // One byte every 100 ms would keep a read timeout from ever firing; the deadline still does.
    while (!closed_by_server(fd.get()) && Clock::now() - start < 10s) {
        send_all(fd.get(), std::span{hello}.subspan(sent % hello.size(), 1));
        ++sent;
        std::this_thread::sleep_for(100ms); // the trickle's own pace, not a wait for the server
    }
    const auto elapsed = Clock::now() - start;
    EXPECT_TRUE(closed_by_server(fd.get()));
    EXPECT_GE(elapsed, 900ms);
    EXPECT_LT(elapsed, 5s);
    EXPECT_EQ(rejected("handshake_timeout"), 1);
    EXPECT_TRUE(server().log_contains("handshake and HELLO not finished within 1 s")) << server().log_text();
}

TEST_F(AdversarialTest, AnAuthenticatedConnectionThatGoesSilentIsDroppedAfterTheIdleTimeout)
{
    start_server({"--metrics", "127.0.0.1:0", "--idle-timeout", "2s"});

    RawClient chatty{port(), pki().client()};
    EXPECT_EQ(chatty.hello().idle_timeout_seconds, 2U);
    RawClient silent{port(), pki().client()};
    silent.hello();
    const Clock::time_point start = Clock::now();

    // Keepalives every half second hold one connection open well past the timeout...
    while (Clock::now() - start < 4s) {
        ASSERT_TRUE(chatty.send(protocol::encode_keepalive()));
        std::this_thread::sleep_for(500ms); // the keepalive pace
    }
    EXPECT_EQ(chatty.read_frame(100ms).status, ReadStatus::TimedOut) << "the server closed a live connection";
    // ...while the silent one was closed after about two seconds.
    EXPECT_TRUE(silent.wait_closed(1s));
    EXPECT_EQ(rejected("idle_timeout"), 1);
    EXPECT_TRUE(server().log_contains("nothing received for 2 s")) << server().log_text();

    // Silence closes the chatty one too, once it stops.
    EXPECT_TRUE(chatty.wait_closed(10s));
    EXPECT_EQ(rejected("idle_timeout"), 2);
}

TEST_F(AdversarialTest, AKeepaliveWithABodyIsABadFrame)
{
    start_server({"--metrics", "127.0.0.1:0"});
    RawClient client{port(), pki().client()};
    client.hello();
    std::vector<std::uint8_t> frame = protocol::encode_keepalive();
    frame[3] = 1; // body size 1
    frame.push_back(0);
    ASSERT_TRUE(client.send(frame));
    EXPECT_TRUE(client.wait_closed(5s));
    EXPECT_EQ(rejected("bad_frame"), 1);
}

TEST_F(AdversarialTest, AnUploadOverTheMaxFileSizeIsRefusedBeforeAnythingIsWritten)
{
    start_server({"--metrics", "127.0.0.1:0", "--max-file-size", "1M"});
    RawClient client{port(), pki().client()};
    client.hello();
    protocol::UploadBegin begin;
    begin.request_id = 1;
    begin.folder = "f";
    begin.path = "huge.bin";
    begin.size = (1U << 20) + 1;
    begin.mode = 0644;
    ASSERT_TRUE(client.send(protocol::encode(begin)));
    const ReadResult refused = client.read_frame();
    ASSERT_EQ(refused.status, ReadStatus::Frame);
    ASSERT_EQ(refused.frame.type, protocol::FrameType::Error);
    const auto error = protocol::decode_error(refused.frame.body);
    ASSERT_TRUE(error.has_value());
    EXPECT_EQ(error->request_id, 1U);
    EXPECT_EQ(error->code, protocol::ErrorCode::FileTooLarge);
    EXPECT_EQ(rejected("file_too_large"), 1);
    EXPECT_FALSE(fs::exists(server_file(DefaultCn, "f")));

    // A file at the limit is accepted on the same connection.
    begin.request_id = 2;
    begin.size = 1U << 20;
    ASSERT_TRUE(client.send(protocol::encode(begin)));
    const ReadResult ready = client.read_frame();
    ASSERT_EQ(ready.status, ReadStatus::Frame);
    EXPECT_EQ(ready.frame.type, protocol::FrameType::UploadReady);
}

TEST_F(AdversarialTest, AWholeFileOverTheMaxFileSizeIsRefusedAndNothingIsWritten)
{
    start_server({"--metrics", "127.0.0.1:0", "--max-file-size", "1K"});
    RawClient client{port(), pki().client()};
    client.hello();
    auto put = [](std::uint32_t request_id, const std::vector<std::uint8_t>& content) {
        return protocol::encode(protocol::PutFile{request_id, "f", "whole.bin", 0, 0644, sha256_of(std::span{content}), content});
    };
    const std::vector<std::uint8_t> over(1025, 0x61);
    ASSERT_TRUE(client.send(put(1, over)));
    const ReadResult refused = client.read_frame();
    ASSERT_EQ(refused.status, ReadStatus::Frame);
    ASSERT_EQ(refused.frame.type, protocol::FrameType::Error);
    const auto error = protocol::decode_error(refused.frame.body);
    ASSERT_TRUE(error.has_value());
    EXPECT_EQ(error->code, protocol::ErrorCode::FileTooLarge);
    EXPECT_EQ(rejected("file_too_large"), 1);
    EXPECT_FALSE(fs::exists(server_file(DefaultCn, "f")));

    const std::vector<std::uint8_t> at_limit(1024, 0x62);
    ASSERT_TRUE(client.send(put(2, at_limit)));
    const ReadResult landed = client.read_frame();
    ASSERT_EQ(landed.status, ReadStatus::Frame);
    EXPECT_EQ(landed.frame.type, protocol::FrameType::Committed);
    EXPECT_EQ(fs::file_size(server_file(DefaultCn, "f", "whole.bin")), 1024U);
}

TEST_F(AdversarialTest, AnIdleAgentKeepsItsConnectionThroughManyIdleTimeouts)
{
    start_server({"--metrics", "127.0.0.1:0", "--idle-timeout", "2s"});
    ChildProcess& agent = start_agent({src_.string()}, MetricsArgs);
    ASSERT_TRUE(wait_until_connected(agent, 20s));

    // Three and a half idle timeouts with nothing to sync: the agent's keepalives must hold the line.
    const bool dropped =
        wait_for([&] { return rejected("idle_timeout") > 0 || connection_failures(agent) > 0; }, 7s);
    EXPECT_FALSE(dropped) << server().log_text();
    EXPECT_EQ(rejected("idle_timeout"), 0);

    write_file(src_ / "late.txt", "still connected\n");
    EXPECT_TRUE(wait_until_synced(src_, dst_, 20s));
    EXPECT_EQ(connection_failures(agent), 0) << agent.log_text();
}

} // namespace
} // namespace minisync::test
