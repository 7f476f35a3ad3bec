// Lost inotify events must not lose changes: with the kernel's event queue shrunk, a burst of creates and
// deletes overflows it, and the rescan that follows (reconciled with the state database) still converges.
#include "minisync_fixture.h"
#include "test_files.h"
#include "tree_compare.h"
#include "tree_walk.h"
#include "wait_for.h"

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <functional>
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

class OverflowTest : public FolderTest {
protected:
    // Starts the agent with an inotify queue of 16 events; other processes get the old limit back.
    ChildProcess* start_agent_with_small_queue(std::vector<std::string> extra_args = {})
    {
        QueueLimit limit{16};
        if (!limit.lowered()) {
            return nullptr;
        }
        extra_args.insert(extra_args.end(), MetricsArgs.begin(), MetricsArgs.end());
        ChildProcess& agent = start_agent({src_.string()}, extra_args);
        // The agent makes its inotify instance before its metrics endpoint: once that answers, the instance
        // exists, with the lowered limit.
        EXPECT_NO_THROW(scrape_text(agent)) << agent.log_text();
        return &agent;
    }

    // With the agent stopped nothing drains its queue: 100 creates fill it, and whatever change() does
    // behind them is lost, known only to the rescan that follows the overflow.
    void overflow_then(ChildProcess& agent, const std::function<void()>& change)
    {
        ASSERT_TRUE(agent.send_signal(SIGSTOP));
        for (int i = 0; i < 100; ++i) {
            write_file(src_ / ("new-" + std::to_string(i)), "new " + std::to_string(i) + "\n");
        }
        change();
        ASSERT_TRUE(agent.send_signal(SIGCONT));
        ASSERT_TRUE(wait_for_sample(agent, "minisync_inotify_overflows_total", [](double n) { return n >= 1; }));
    }
};

TEST_F(OverflowTest, ChangesLostInAnOverflowStillConverge)
{
    for (int i = 0; i < 30; ++i) {
        write_file(src_ / ("old-" + std::to_string(i)), "old " + std::to_string(i) + "\n");
    }
    start_server();
    ChildProcess* agent = start_agent_with_small_queue();
    if (agent == nullptr) {
        GTEST_SKIP() << "cannot lower " << MaxQueuedEvents << " (needs root)";
    }
    ASSERT_TRUE(wait_until_synced(src_, dst_, 20s));

    // The deletions are known only to a rescan that compares with the state database.
    overflow_then(*agent, [&] {
        for (int i = 0; i < 30; i += 2) {
            fs::remove(src_ / ("old-" + std::to_string(i)));
        }
    });
    EXPECT_TRUE(wait_until_synced(src_, dst_, 30s));
    EXPECT_FALSE(fs::exists(dst_ / "old-0"));
    EXPECT_TRUE(fs::exists(dst_ / "old-1"));
}

// A file deleted while its upload is in flight is not in the state database when the rescan loads it, nor
// on the disk when the rescan looks: only the upload itself can tell that its path must be looked at again.
TEST_F(OverflowTest, AFileDeletedDuringItsUploadAndAnOverflowIsRemoved)
{
    write_random_file(src_ / "in-flight.bin", 1 << 20, 7);
    start_server();
    // About four seconds for the file: still streaming when the agent is stopped.
    ChildProcess* agent = start_agent_with_small_queue({"--bwlimit", "256K"});
    if (agent == nullptr) {
        GTEST_SKIP() << "cannot lower " << MaxQueuedEvents << " (needs root)";
    }
    ASSERT_TRUE(wait_for([&] { return partial_bytes(dst_) > 0; }, 20s)) << agent->log_text();

    overflow_then(*agent, [&] { fs::remove(src_ / "in-flight.bin"); });
    EXPECT_TRUE(wait_until_synced(src_, dst_, 30s));
    EXPECT_FALSE(fs::exists(dst_ / "in-flight.bin"));
}

} // namespace
} // namespace minisync::test
