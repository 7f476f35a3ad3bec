// The quiet-period timer: re-armed while progress moves, malloc_trim once it stands still.
#include "idle_memory_release.h"

#include "must_succeed.h"

#include <malloc.h>


namespace minisync {

IdleMemoryRelease::IdleMemoryRelease(event_base* base, std::function<std::uint64_t()> progress,
                                     std::chrono::milliseconds quiet_period, std::function<void()> release)
    : progress_{std::move(progress)},
      quiet_period_{quiet_period},
      release_{release ? std::move(release) : [] { ::malloc_trim(0); }},
      timer_{evtimer_new(base, &IdleMemoryRelease::on_timer, this)}
{
    must_succeed(timer_ != nullptr, "evtimer_new");
}

void IdleMemoryRelease::note_work()
{
    if (evtimer_pending(timer_.get(), nullptr) == 0) {
        arm();
    }
}

void IdleMemoryRelease::arm()
{
    progress_when_armed_ = progress_();
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(quiet_period_).count();
    const timeval delay{static_cast<time_t>(us / 1'000'000), static_cast<suseconds_t>(us % 1'000'000)};
    must_succeed(evtimer_add(timer_.get(), &delay) == 0, "evtimer_add");
}

void IdleMemoryRelease::check()
{
    if (progress_() != progress_when_armed_) {
        arm(); // still working: look again a quiet period later
        return;
    }
    release_();
}

} // namespace minisync
