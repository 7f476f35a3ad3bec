// Tests for the release of free memory after work: once, only after progress has stood still for the
// quiet period, and with no timer left behind in an idle daemon.
#include "idle_memory_release.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>

namespace minisync {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto Quiet = 30ms;

class IdleMemoryReleaseTest : public ::testing::Test {
protected:
    // Runs the loop until pred() holds or the deadline passes; false on timeout.
    template <typename Pred>
    bool run_until(Pred pred, std::chrono::milliseconds deadline = 5s)
    {
        const auto end = Clock::now() + deadline;
        while (!pred()) {
            if (Clock::now() >= end) {
                return false;
            }
            event_base_loop(base_.get(), EVLOOP_ONCE);
        }
        return true;
    }

    [[nodiscard]] int events_added() const { return event_base_get_num_events(base_.get(), EVENT_BASE_COUNT_ADDED); }

    // A transfer's work, one step per call.
    static void advance(evutil_socket_t /*fd*/, short /*what*/, void* self)
    {
        auto* test = static_cast<IdleMemoryReleaseTest*>(self);
        ++test->progress_;
        test->last_progress_ = Clock::now();
    }

    EvBasePtr base_{event_base_new()};
    std::uint64_t progress_ = 0;
    int releases_ = 0;
    Clock::time_point released_at_{};
    Clock::time_point last_progress_{};
    IdleMemoryRelease release_{base_.get(), [this] { return progress_; }, Quiet, [this] {
                                   ++releases_;
                                   released_at_ = Clock::now();
                               }};
};

TEST_F(IdleMemoryReleaseTest, NothingIsArmedBeforeAnyWork)
{
    EXPECT_EQ(events_added(), 0);
}

TEST_F(IdleMemoryReleaseTest, ReleasesOnceAfterTheWorkAndLeavesNoTimer)
{
    const auto noted = Clock::now();
    release_.note_work();
    release_.note_work(); // already armed: still one release
    ASSERT_TRUE(run_until([&] { return releases_ > 0; }));
    EXPECT_EQ(releases_, 1);
    EXPECT_GE(released_at_ - noted, Quiet);
    EXPECT_EQ(events_added(), 0) << "a timer is left running in an idle daemon";
}

TEST_F(IdleMemoryReleaseTest, WaitsUntilProgressHasStoodStillForTheQuietPeriod)
{
    // Progress moves every 5 ms for 150 ms (five quiet periods), as during a transfer.
    const auto start = Clock::now();
    EventPtr work{event_new(base_.get(), -1, EV_PERSIST, &IdleMemoryReleaseTest::advance, this)};
    const timeval every{0, 5000};
    event_add(work.get(), &every);
    release_.note_work();
    ASSERT_TRUE(run_until([&] {
        if (Clock::now() - start >= 150ms) {
            event_del(work.get());
        }
        return releases_ > 0;
    }));
    EXPECT_EQ(releases_, 1);
    EXPECT_GE(released_at_ - start, 150ms) << "released while progress still moved";
    EXPECT_GE(released_at_ - last_progress_, Quiet);
    EXPECT_EQ(events_added(), 0);
}

} // namespace
} // namespace minisync
