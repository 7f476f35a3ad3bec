// Signals and both daemons: SIGTERM gives exit status 0 within 5 s when idle, connected, or in the middle of an
// upload; any other signal a careless operator or script may send leaves them serving.
#include "minisync_fixture.h"
#include "protocol_codec.h"
#include "raw_client.h"
#include "test_files.h"
#include "tree_walk.h"
#include "wait_for.h"

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>

namespace minisync::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// README.md: "both daemons exit 0 within 5 s of SIGTERM or Ctrl-C".
constexpr std::chrono::milliseconds ExitDeadline = 5s;

class ShutdownTest : public FolderTest {};

TEST_F(ShutdownTest, ConnectedAgentThenIdleServerExitZero)
{
    write_file(src_ / "f.txt", "content\n");
    ChildProcess& agent = start_and_sync({.probe = false});

    ASSERT_TRUE(agent.send_signal(SIGTERM));
    EXPECT_EQ(agent.wait_for_exit(ExitDeadline), 0);
    ASSERT_TRUE(server().send_signal(SIGTERM));
    EXPECT_EQ(server().wait_for_exit(ExitDeadline), 0);
}

TEST_F(ShutdownTest, ServerWithConnectedAgentThenReconnectingAgentExitZero)
{
    write_file(src_ / "f.txt", "content\n");
    ChildProcess& agent = start_and_sync({.agent_args = MetricsArgs, .probe = false});

    ASSERT_TRUE(server().send_signal(SIGTERM));
    EXPECT_EQ(server().wait_for_exit(ExitDeadline), 0);
    // The agent has lost its server and is backing off between reconnection attempts.
    ASSERT_TRUE(wait_for_sample(agent, "minisync_errors_total{kind=\"connection\"}", [](double n) { return n >= 1; },
                                5s));
    ASSERT_TRUE(agent.send_signal(SIGTERM));
    EXPECT_EQ(agent.wait_for_exit(ExitDeadline), 0);
}

TEST_F(ShutdownTest, AgentInTheMiddleOfAnUploadExitsZero)
{
    // 64 MiB takes a few hundred ms here; the server is frozen as soon as the upload has begun, so the
    // agent is stopped with a full send buffer that it can never flush.
    write_random_file(src_ / "big.bin", 64 << 20, 3);
    start_server();
    ChildProcess& agent = start_agent({src_.string()});
    // Data already written to the partial: the agent is streaming, not still waiting for UPLOAD_READY.
    ASSERT_TRUE(wait_for([&] { return partial_bytes(dst_) > 0; }, 10s)) << "the upload never started";
    ASSERT_TRUE(server().send_signal(SIGSTOP));
    ASSERT_FALSE(fs::exists(dst_ / "big.bin")) << "the upload finished before the server could be frozen";

    ASSERT_TRUE(agent.send_signal(SIGTERM));
    EXPECT_EQ(agent.wait_for_exit(ExitDeadline), 0);
    ASSERT_TRUE(server().send_signal(SIGCONT));
    ASSERT_TRUE(server().send_signal(SIGTERM));
    EXPECT_EQ(server().wait_for_exit(ExitDeadline), 0);
    EXPECT_FALSE(fs::exists(dst_ / "big.bin")) << "a cut-short upload must not appear under its final name";
}

TEST_F(ShutdownTest, ServerInTheMiddleOfAnUploadExitsZero)
{
    start_server();
    // A raw client holds the upload open for as long as the test likes: half of it sent, no COMMIT.
    RawClient client{port(), pki().client()};
    client.hello();
    protocol::UploadBegin begin;
    begin.request_id = 1;
    begin.folder = "f";
    begin.path = "half.bin";
    begin.size = 8 << 20;
    ASSERT_TRUE(client.send(protocol::encode(begin)));
    const ReadResult ready = client.read_frame();
    ASSERT_EQ(ready.status, ReadStatus::Frame);
    ASSERT_EQ(ready.frame.type, protocol::FrameType::UploadReady);
    const std::vector<std::uint8_t> chunk = random_bytes(256 * 1024, 9);
    for (std::uint64_t offset = 0; offset < (4 << 20); offset += chunk.size()) {
        const protocol::DataFrameHead head = protocol::encode_data_head({1, offset}, chunk.size());
        ASSERT_TRUE(client.send(head));
        ASSERT_TRUE(client.send(chunk));
    }

    ASSERT_TRUE(server().send_signal(SIGTERM));
    EXPECT_EQ(server().wait_for_exit(ExitDeadline), 0);
    EXPECT_FALSE(fs::exists(server_file(DefaultCn, "f", "half.bin")));
}

// SIGUSR1, SIGUSR2 and SIGPIPE end a process by default; SIGHUP does too, and the server has no reload.
// Both daemons must keep serving through all of them.
TEST_F(ShutdownTest, StraySignalsLeaveBothDaemonsServing)
{
    write_file(src_ / "before.txt", "before\n");
    ChildProcess& agent = start_and_sync({.probe = false});

    // SIGHUP last: once its log line is written, the signals sent before it have been dealt with.
    for (const int signal_number : {SIGUSR1, SIGUSR2, SIGPIPE, SIGHUP}) {
        ASSERT_TRUE(server().send_signal(signal_number));
        ASSERT_TRUE(agent.send_signal(signal_number));
    }
    EXPECT_TRUE(wait_for_log(server(), "SIGHUP: this server does not re-read its configuration")) << server().log_text();
    EXPECT_TRUE(wait_for_log(agent, "reloading the configuration")) << agent.log_text();

    write_file(src_ / "after.txt", "after\n");
    EXPECT_TRUE(wait_until_synced(src_, dst_, 20s));
    EXPECT_TRUE(server().running()) << "the server ended: " << server().wait_for_exit(0ms).value_or(-1);
    EXPECT_TRUE(agent.running()) << "the agent ended: " << agent.wait_for_exit(0ms).value_or(-1);
}

} // namespace
} // namespace minisync::test
