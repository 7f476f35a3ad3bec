// Polling with a deadline: the only way the integration tests wait, so a slow machine costs time, not a flaky result.
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <thread>

namespace minisync::test {

// True as soon as condition() holds; false if it still does not hold when the deadline has passed.
// The interval starts at 1 ms (quick conditions answer quickly) and grows to 20 ms, so a long wait on a
// costly condition (walking a large tree) does not steal the CPU from the daemons being measured.
inline bool wait_for(const std::function<bool()>& condition, std::chrono::milliseconds deadline)
{
    using Clock = std::chrono::steady_clock;
    const Clock::time_point end = Clock::now() + deadline;
    std::chrono::milliseconds interval{1};
    while (true) {
        if (condition()) {
            return true;
        }
        const Clock::time_point now = Clock::now();
        if (now >= end) {
            return false;
        }
        std::this_thread::sleep_for(std::min<Clock::duration>(interval, end - now));
        interval = std::min(interval * 2, std::chrono::milliseconds{20});
    }
}

} // namespace minisync::test
