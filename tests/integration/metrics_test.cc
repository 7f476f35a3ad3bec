// Both daemons' Prometheus endpoints, scraped over HTTP: every metric docs/OPERATIONS.md lists is there, counters
// move with the work done, (where promtool is installed) the exposition passes its lint, and hostile or
// stalled HTTP clients neither crash a daemon nor keep others from its /metrics and /healthz.
#include "metrics_scrape.h"
#include "minisync_fixture.h"
#include "test_files.h"
#include "unique_fd.h"
#include "wait_for.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace minisync::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

class MetricsTest : public FolderTest {
protected:
    Samples scrape(const ChildProcess& daemon)
    {
        last_scrape_ = scrape_text(daemon);
        return parse_samples(last_scrape_);
    }

    // promtool's lint of the last scrape, when promtool is installed.
    void check_with_promtool(const std::string& name)
    {
        if (::access("/usr/bin/promtool", X_OK) != 0) {
            std::cout << "[ note ] promtool not installed; the exposition format is checked by parsing only\n";
            return;
        }
        const fs::path input = sandbox() / (name + ".prom");
        write_file(input, last_scrape_);
        ChildProcess promtool{"/bin/sh", {"-c", "/usr/bin/promtool check metrics < '" + input.string() + "'"},
                              sandbox() / (name + ".promtool.log")};
        EXPECT_EQ(promtool.wait_for_exit(30s), std::optional<int>{0}) << promtool.log_text();
    }

    std::string last_scrape_;
};

TEST_F(MetricsTest, BothEndpointsServeTheNamedMetricsAndCountersMove)
{
    write_file(src_ / "one.txt", std::string(1000, 'a'));
    ChildProcess& agent = start_and_sync({.agent_args = MetricsArgs, .server_args = MetricsArgs, .probe = false});
    write_file(src_ / "two.txt", std::string(500, 'b'));
    ASSERT_TRUE(wait_until_synced(src_, dst_, 20s));

    Samples agent_samples;
    // Counted once the commit is acknowledged, a moment after the file appears.
    ASSERT_TRUE(wait_for([&] { return (agent_samples = scrape(agent))["minisync_files_synced_total"] >= 2; }, 10s))
        << last_scrape_;
    for (const char* name : {"minisync_bytes_sent_total", "minisync_queue_depth", "minisync_inflight_transfers",
                             "minisync_connection_up", "minisync_reconnects_total", "minisync_resumed_bytes_total",
                             "minisync_inotify_overflows_total", "minisync_paused",
                             "minisync_sync_latency_seconds_count", "minisync_errors_total{kind=\"read\"}"}) {
        EXPECT_TRUE(agent_samples.contains(name)) << name << " missing from:\n" << last_scrape_;
    }
    EXPECT_EQ(agent_samples["minisync_bytes_sent_total"], 1500);
    EXPECT_EQ(agent_samples["minisync_connection_up"], 1);
    EXPECT_GE(agent_samples["minisync_sync_latency_seconds_count"], 2);
    EXPECT_EQ(agent_samples["minisync_paused"], 0);
    check_with_promtool("agent");

    // A connection that never completes its handshake is refused and counted.
    {
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(port());
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ASSERT_EQ(::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address), 0);
        const std::string junk = "this is not TLS\r\n\r\n";
        (void)::send(fd, junk.data(), junk.size(), MSG_NOSIGNAL);
        char sink[256];
        while (::recv(fd, sink, sizeof sink, 0) > 0) {
        }
        ::close(fd);
    }
    Samples server_samples;
    ASSERT_TRUE(wait_for([&] {
        return (server_samples = scrape(server()))["minisync_server_rejected_total{reason=\"bad_handshake\"}"] >= 1;
    }, 10s)) << last_scrape_;
    EXPECT_EQ(server_samples["minisync_server_connections"], 1);
    EXPECT_EQ(server_samples["minisync_server_bytes_received_total"], 1500);
    EXPECT_GE(server_samples["minisync_server_files_committed_total"], 2);
    EXPECT_EQ(server_samples["minisync_server_hash_mismatches_total"], 0);
    EXPECT_TRUE(server_samples.contains("minisync_server_rejected_total{reason=\"bad_path\"}")) << last_scrape_;
    check_with_promtool("server");
}

// A TCP connection to 127.0.0.1:port that has sent what it was given, if anything, and then nothing more.
UniqueFd stalled_client(std::uint16_t port, const std::string& sent)
{
    UniqueFd fd{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 ||
        ::send(fd.get(), sent.data(), sent.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(sent.size())) {
        return {};
    }
    return fd;
}

// Each daemon's metrics port: GET / used to crash the agent (civetweb built its error page on a 100 KiB
// thread stack), any path below /metrics answered 200, and one client that sent nothing held the
// endpoint's only thread so that no one else was answered.
TEST_F(MetricsTest, HostileAndStalledHttpClientsLeaveBothEndpointsServing)
{
    start_server(MetricsArgs);
    ChildProcess& agent = start_agent({src_.string()}, MetricsArgs);
    ASSERT_TRUE(wait_until_connected(agent, 20s));

    for (ChildProcess* daemon : {&agent, &server()}) {
        SCOPED_TRACE(daemon->binary());
        std::optional<std::uint16_t> port;
        ASSERT_TRUE(wait_for([&] { return (port = logged_metrics_port(*daemon)).has_value(); }, 10s))
            << daemon->log_text();
        const auto status_of = [&](const std::string& request) {
            const std::optional<std::string> response = http_exchange(*port, request);
            return response ? http_status(*response) : -1;
        };

        for (const char* path : {"/", "/metrics/extra", "/metrics/", "/no/such/path", "/healthz/x"}) {
            EXPECT_EQ(status_of("GET " + std::string{path} + " HTTP/1.0\r\n\r\n"), 404) << path;
        }
        const std::optional<std::string> post = http_exchange(
            *port, "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello");
        ASSERT_TRUE(post.has_value());
        EXPECT_EQ(http_status(*post), 405) << *post;
        EXPECT_NE(post->find("\r\nAllow: GET, HEAD\r\n"), std::string::npos) << *post;

        const std::optional<std::string> head =
            http_exchange(*port, "HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        ASSERT_TRUE(head.has_value());
        EXPECT_EQ(http_status(*head), 200) << *head;
        EXPECT_EQ(http_body(*head), "") << "an answer to HEAD carries no body";
        EXPECT_NE(head->find("\r\nContent-Length: "), std::string::npos) << *head;

        EXPECT_EQ(status_of("this is not http\r\n\r\n"), 400);
        EXPECT_EQ(status_of("GET /metrics HTTP/1.1 trailing words\r\n\r\n"), 400);
        // Far over the 8 KiB of headers the endpoint reads: refused, never served (the endpoint may close
        // before the client has sent it all, which can cost the client the answer).
        const std::optional<std::string> big_header = http_exchange(
            *port, "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Filler: " + std::string(64 * 1024, 'a') + "\r\n\r\n");
        ASSERT_TRUE(big_header.has_value());
        EXPECT_TRUE(big_header->empty() || (http_status(*big_header) >= 400 && http_status(*big_header) < 500))
            << *big_header;

        // Clients that send nothing, or half a request line, and wait: the next client is answered at once.
        const UniqueFd silent = stalled_client(*port, "");
        const UniqueFd half = stalled_client(*port, "GET /metr");
        ASSERT_TRUE(silent && half);
        const auto started = std::chrono::steady_clock::now();
        const std::optional<std::string> scrape =
            http_exchange(*port, "GET /metrics HTTP/1.0\r\n\r\n", std::chrono::milliseconds{3000});
        ASSERT_TRUE(scrape.has_value());
        EXPECT_EQ(http_status(*scrape), 200) << "after " << std::chrono::duration_cast<std::chrono::milliseconds>(
                                                     std::chrono::steady_clock::now() - started).count()
                                              << " ms: " << *scrape;

        EXPECT_TRUE(daemon->running()) << daemon->log_text();
        EXPECT_TRUE(http_get(*port, "/metrics").has_value());
        EXPECT_EQ(http_get(*port, "/healthz"), std::optional<std::string>{"ok\n"});
    }
    // Both still do their work: a file still syncs.
    write_file(src_ / "after.txt", "still syncing\n");
    EXPECT_TRUE(wait_until_synced(src_, dst_, 20s));
}

TEST_F(MetricsTest, MetricsAreOffUnlessAnAddressIsGiven)
{
    start_server();
    ChildProcess& agent = start_agent({src_.string()});
    ASSERT_TRUE(wait_until_connected(agent, 10s));
    EXPECT_FALSE(logged_metrics_port(agent).has_value());
    EXPECT_FALSE(logged_metrics_port(server()).has_value());
}

} // namespace
} // namespace minisync::test
