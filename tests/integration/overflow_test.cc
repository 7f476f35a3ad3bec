// Lost inotify events must not lose changes: with the kernel's event queue shrunk, a burst of creates and
// deletes overflows it, and the rescan that follows (reconciled with the state database) still converges.
#include "minisync_fixture.h"
#include "test_files.h"
#include "tree_compare.h"
#include "wait_for.h"

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <string>

namespace minisync::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

const fs::path MaxQueuedEvents = "/proc/sys/fs/inotify/max_queued_events";

// Lowers the per-instance event queue limit for inotify instances created while it lives. The limit is
// read when an instance is created, so the agent keeps the low one after the old value is restored.
class QueueLimit {
public:
    explicit QueueLimit(int events)
    {
        std::ifstream in{MaxQueuedEvents};
        in >> previous_;
        std::ofstream out{MaxQueuedEvents};
        out << events << std::flush;
        lowered_ = in && out && previous_ > 0;
    }
    QueueLimit(const QueueLimit&) = delete;
    QueueLimit& operator=(const QueueLimit&) = delete;
    ~QueueLimit() { restore(); }

    [[nodiscard]] bool lowered() const noexcept { return lowered_; }
    void restore()
    {
        if (previous_ > 0) {
            std::ofstream out{MaxQueuedEvents};
            out << previous_ << std::flush;
            previous_ = 0;
        }
    }

private:
    int previous_ = 0;
    bool lowered_ = false;
};

class OverflowTest : public FolderTest {};

TEST_F(OverflowTest, ChangesLostInAnOverflowStillConverge)
{
    for (int i = 0; i < 30; ++i) {
        write_file(src_ / ("old-" + std::to_string(i)), "old " + std::to_string(i) + "\n");
    }
    start_server();
    QueueLimit limit{16};
    if (!limit.lowered()) {
        GTEST_SKIP() << "cannot lower " << MaxQueuedEvents << " (needs root)";
    }
    ChildProcess& agent = start_agent({src_.string()});
    // The agent's inotify instance exists once it logs its folders; other processes get the old limit back.
    ASSERT_TRUE(wait_for([&] { return agent.log_contains("watching folder=src"); }, 10s)) << agent.log_text();
    limit.restore();
    ASSERT_TRUE(wait_until_synced(src_, dst_, 20s));

    // With the agent stopped nothing drains the queue: the creates fill it, and the deletes behind them
    // are lost, known only to a rescan that compares with the state database.
    ASSERT_TRUE(agent.send_signal(SIGSTOP));
    for (int i = 0; i < 100; ++i) {
        write_file(src_ / ("new-" + std::to_string(i)), "new " + std::to_string(i) + "\n");
    }
    for (int i = 0; i < 30; i += 2) {
        fs::remove(src_ / ("old-" + std::to_string(i)));
    }
    ASSERT_TRUE(agent.send_signal(SIGCONT));
    ASSERT_TRUE(wait_for([&] { return agent.log_contains("inotify queue overflowed"); }, 20s)) << agent.log_text();
    EXPECT_TRUE(wait_until_synced(src_, dst_, 30s));
    EXPECT_FALSE(fs::exists(dst_ / "old-0"));
    EXPECT_TRUE(fs::exists(dst_ / "old-1"));
}

} // namespace
} // namespace minisync::test
