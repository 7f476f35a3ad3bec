// Both daemons' Prometheus endpoints, scraped over HTTP: every metric docs/OPERATIONS.md lists is there, counters
// move with the work done, and (where promtool is installed) the exposition passes its lint.
#include "metrics_scrape.h"
#include "minisync_fixture.h"
#include "test_files.h"
#include "wait_for.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string>

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
