// Tests for per-path leases on the server: one live request per path, a path keeping its strand until
// the work queued by the previous request has run, and entries dropped once their strand is idle.
#include "path_locks.h"

#include "libevent_handles.h"
#include "loop_inbox.h"
#include "process_setup.h"
#include "worker_pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace minisync::server {
namespace {

using namespace std::chrono_literals;

EvBasePtr make_base()
{
    // libevent's thread support must be on before the base exists, or event_active from a worker
    // thread would not wake the loop.
    static std::once_flag once;
    std::call_once(once, [] { prepare_process(); });
    return EvBasePtr{event_base_new()};
}

struct TimerNoop {
    static void fire(evutil_socket_t, short, void*) {}
};

// A latch that worker tasks wait on; opened by the test (and always by teardown, so no worker is
// left blocked when the pool joins).
class Gate {
public:
    void wait() const { future_.wait(); }
    void open()
    {
        if (!std::exchange(opened_, true)) {
            promise_.set_value();
        }
    }

private:
    std::promise<void> promise_;
    std::shared_future<void> future_{promise_.get_future().share()};
    bool opened_ = false;
};

class PathLocksTest : public ::testing::Test {
protected:
    void SetUp() override { ASSERT_NE(base_, nullptr); }

    void TearDown() override
    {
        gate_.open();
        pool_.shutdown(); // before locks_ goes: queued release tasks refer to it
    }

    // Runs the loop until done() holds or the deadline passes. The timer bounds each pass, so the
    // loop blocks in the kernel while it waits for a worker's wake-up instead of spinning.
    bool wait_for(const std::function<bool()>& done, std::chrono::milliseconds limit = 10s)
    {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        const EventPtr timer{event_new(base_.get(), -1, 0, &TimerNoop::fire, nullptr)};
        while (!done()) {
            const auto now = std::chrono::steady_clock::now();
            if (now >= deadline) {
                return false;
            }
            const auto slice = std::min<std::chrono::microseconds>(
                std::chrono::duration_cast<std::chrono::microseconds>(deadline - now), 50ms);
            const timeval tv{static_cast<time_t>(slice.count() / 1'000'000),
                             static_cast<suseconds_t>(slice.count() % 1'000'000)};
            event_add(timer.get(), &tv);
            event_base_loop(base_.get(), EVLOOP_ONCE);
        }
        return true;
    }

    // Runs the loop until everything the inbox held when this was called has run.
    bool drain_inbox()
    {
        auto reached = std::make_shared<std::atomic<bool>>(false);
        inbox_.post([reached] { *reached = true; });
        return wait_for([reached] { return reached->load(); });
    }

    // Runs the loop until the work queued on strand so far, and whatever it handed to the loop, has run.
    bool settle(Strand& strand)
    {
        auto reached = std::make_shared<std::atomic<bool>>(false);
        strand.post([&inbox = inbox_, reached] { inbox.post([reached] { *reached = true; }); });
        return wait_for([reached] { return reached->load(); });
    }

    void record(const std::string& what)
    {
        const std::lock_guard lock{mutex_};
        ran_.push_back(what);
    }

    std::vector<std::string> ran()
    {
        const std::lock_guard lock{mutex_};
        return ran_;
    }

    EvBasePtr base_{make_base()};
    LoopInbox inbox_{base_.get()};
    WorkerPool pool_{2};
    PathLocks locks_{pool_, inbox_};
    Gate gate_;

private:
    std::mutex mutex_;
    std::vector<std::string> ran_;
};

TEST_F(PathLocksTest, SecondAcquireOfAHeldPathIsRefused)
{
    const std::optional<PathLocks::Lease> first = locks_.acquire("alice/photos/a.jpg");
    ASSERT_TRUE(first.has_value());
    ASSERT_NE(first->strand, nullptr);
    EXPECT_NE(first->generation, 0U);
    EXPECT_EQ(locks_.acquire("alice/photos/a.jpg"), std::nullopt);
    EXPECT_EQ(locks_.acquire("alice/photos/a.jpg"), std::nullopt);
    EXPECT_EQ(locks_.size(), 1U);
}

TEST_F(PathLocksTest, TreeRemovalHoldsEverythingBelowItsPath)
{
    const std::string dir = std::string{"c\0f\0d", 5};
    const auto tree = locks_.acquire(dir, true);
    ASSERT_TRUE(tree.has_value());
    EXPECT_EQ(locks_.acquire(dir + "/x"), std::nullopt);
    EXPECT_EQ(locks_.acquire(dir + "/sub/deeper/y"), std::nullopt);
    // Siblings that merely start with the same bytes, and other folders, are not below it.
    EXPECT_TRUE(locks_.acquire(dir + "0/x").has_value());
    EXPECT_TRUE(locks_.acquire(dir + ".txt").has_value());
    EXPECT_TRUE(locks_.acquire(std::string{"c\0g\0d/x", 7}).has_value());
    locks_.release(dir, tree->generation);
    EXPECT_TRUE(locks_.acquire(dir + "/x").has_value());
}

TEST_F(PathLocksTest, TreeRemovalWaitsForRequestsBelowItsPath)
{
    const std::string dir = std::string{"c\0f\0d", 5};
    const auto below = locks_.acquire(dir + "/sub/x");
    ASSERT_TRUE(below.has_value());
    EXPECT_EQ(locks_.acquire(dir, true), std::nullopt);
    // A plain request for the directory's own path does not cover what is below it.
    const auto plain = locks_.acquire(dir);
    ASSERT_TRUE(plain.has_value());
    locks_.release(dir, plain->generation);
    locks_.release(dir + "/sub/x", below->generation);
    EXPECT_TRUE(locks_.acquire(dir, true).has_value());
}

TEST_F(PathLocksTest, DifferentPathsHaveTheirOwnStrands)
{
    const std::optional<PathLocks::Lease> a = locks_.acquire("alice/f/a");
    const std::optional<PathLocks::Lease> b = locks_.acquire("alice/f/b");
    const std::optional<PathLocks::Lease> other_client = locks_.acquire("bob/f/a");
    ASSERT_TRUE(a && b && other_client);
    EXPECT_NE(a->strand, b->strand);
    EXPECT_NE(a->strand, other_client->strand);
    EXPECT_NE(a->generation, b->generation);
    EXPECT_NE(b->generation, other_client->generation);
    EXPECT_EQ(locks_.size(), 3U);
}

TEST_F(PathLocksTest, EntryIsDroppedOnceTheStrandIsIdle)
{
    const std::optional<PathLocks::Lease> lease = locks_.acquire("k");
    ASSERT_TRUE(lease.has_value());
    locks_.release("k", lease->generation);
    ASSERT_TRUE(wait_for([this] { return locks_.size() == 0; })) << "entry never dropped";

    // A fresh acquire after the drop gets a new strand, not the one still referenced by the old lease.
    const std::optional<PathLocks::Lease> again = locks_.acquire("k");
    ASSERT_TRUE(again.has_value());
    EXPECT_NE(again->strand, lease->strand);
    EXPECT_GT(again->generation, lease->generation);
}

TEST_F(PathLocksTest, EntryStaysWhileQueuedWorkRuns)
{
    const std::optional<PathLocks::Lease> lease = locks_.acquire("k");
    ASSERT_TRUE(lease.has_value());
    lease->strand->post([this] {
        gate_.wait();
        record("discard partial");
    });
    locks_.release("k", lease->generation);
    EXPECT_EQ(locks_.size(), 1U);

    ASSERT_TRUE(drain_inbox());
    EXPECT_EQ(locks_.size(), 1U) << "dropped while the old request's work was still queued";
    EXPECT_TRUE(ran().empty());

    gate_.open();
    ASSERT_TRUE(wait_for([this] { return locks_.size() == 0; })) << "entry never dropped";
    EXPECT_EQ(ran(), (std::vector<std::string>{"discard partial"}));
}

TEST_F(PathLocksTest, ReacquireAfterReleaseGetsTheSameStrandBeforeQueuedWorkRan)
{
    const std::optional<PathLocks::Lease> first = locks_.acquire("k");
    ASSERT_TRUE(first.has_value());
    first->strand->post([this] {
        gate_.wait();
        record("old request's work");
    });
    locks_.release("k", first->generation);

    const std::optional<PathLocks::Lease> second = locks_.acquire("k");
    ASSERT_TRUE(second.has_value()) << "a released path must be acquirable at once";
    EXPECT_EQ(second->strand, first->strand) << "the new request must queue behind the old work";
    EXPECT_NE(second->generation, first->generation);
    EXPECT_TRUE(ran().empty());
    EXPECT_EQ(locks_.acquire("k"), std::nullopt) << "the new lease holds the path";

    std::atomic<bool> new_work_ran{false};
    second->strand->post([this, &new_work_ran] {
        record("new request's work");
        new_work_ran = true;
    });
    gate_.open();
    ASSERT_TRUE(wait_for([&new_work_ran] { return new_work_ran.load(); }));
    EXPECT_EQ(ran(), (std::vector<std::string>{"old request's work", "new request's work"}));

    // Once the first release's clean-up has run, the entry must still be there: the second lease holds it.
    ASSERT_TRUE(settle(*second->strand));
    EXPECT_EQ(locks_.size(), 1U) << "the first release dropped an entry held by the second lease";
    EXPECT_EQ(locks_.acquire("k"), std::nullopt);

    locks_.release("k", second->generation);
    ASSERT_TRUE(wait_for([this] { return locks_.size() == 0; })) << "entry never dropped";
}

TEST_F(PathLocksTest, StaleOrUnknownReleaseIsIgnored)
{
    const std::optional<PathLocks::Lease> first = locks_.acquire("k");
    ASSERT_TRUE(first.has_value());
    locks_.release("k", first->generation + 1000); // no such lease
    locks_.release("unknown", first->generation);
    EXPECT_EQ(locks_.acquire("k"), std::nullopt) << "a release with the wrong generation freed the path";

    locks_.release("k", first->generation);
    const std::optional<PathLocks::Lease> second = locks_.acquire("k");
    ASSERT_TRUE(second.has_value());
    // Releasing the first lease a second time must not end the second one.
    locks_.release("k", first->generation);
    EXPECT_EQ(locks_.acquire("k"), std::nullopt) << "a stale release freed the path";
    ASSERT_TRUE(settle(*second->strand));
    EXPECT_EQ(locks_.size(), 1U) << "the first release's clean-up dropped the second lease's entry";

    locks_.release("k", second->generation);
    ASSERT_TRUE(wait_for([this] { return locks_.size() == 0; }));
}

TEST_F(PathLocksTest, ReleasingOnePathLeavesOthersHeld)
{
    const std::optional<PathLocks::Lease> a = locks_.acquire("a");
    const std::optional<PathLocks::Lease> b = locks_.acquire("b");
    ASSERT_TRUE(a && b);
    locks_.release("a", a->generation);
    ASSERT_TRUE(wait_for([this] { return locks_.size() == 1; }));
    EXPECT_EQ(locks_.acquire("b"), std::nullopt);
    EXPECT_TRUE(locks_.acquire("a").has_value());
}

TEST_F(PathLocksTest, StrandsBelowIncludeEndedRequestsWhoseWorkHasNotRun)
{
    const std::optional<PathLocks::Lease> live = locks_.acquire("alice/photos/d/live");
    const std::optional<PathLocks::Lease> ended = locks_.acquire("alice/photos/d/sub/ended");
    const std::optional<PathLocks::Lease> beside = locks_.acquire("alice/photos/d0/x");
    ASSERT_TRUE(live && ended && beside);
    // The ended request left work behind (a partial to discard) that has not run yet.
    ended->strand->post([this] { gate_.wait(); });
    locks_.release("alice/photos/d/sub/ended", ended->generation);

    std::vector<std::shared_ptr<Strand>> below = locks_.strands_below("alice/photos/d");
    EXPECT_EQ(below.size(), 2U);
    EXPECT_NE(std::find(below.begin(), below.end(), live->strand), below.end());
    EXPECT_NE(std::find(below.begin(), below.end(), ended->strand), below.end());
    EXPECT_TRUE(locks_.strands_below("alice/photos/d/live").empty());

    // Once that work has run, the ended path is no longer waited for.
    gate_.open();
    ASSERT_TRUE(settle(*ended->strand));
    ASSERT_TRUE(drain_inbox());
    EXPECT_EQ(locks_.strands_below("alice/photos/d").size(), 1U);
}

} // namespace
} // namespace minisync::server
