// One-shot timers behind an interface, so that code which waits (retries, backoff, coalescing) can be
// tested in virtual time: the daemons make them on their libevent loop, tests make manual ones.
#pragma once

#include "libevent_handles.h"

#include <chrono>
#include <functional>
#include <memory>

namespace minisync {

class Timer {
public:
    Timer() = default;
    Timer(const Timer&) = delete;
    Timer& operator=(const Timer&) = delete;
    virtual ~Timer() = default;

    // Fires once, delay from now; arming an armed timer moves its deadline.
    virtual void arm(std::chrono::milliseconds delay) = 0;
    virtual void cancel() = 0;
    [[nodiscard]] virtual bool armed() const = 0;
};

using TimerPtr = std::unique_ptr<Timer>;

class TimerMaker {
public:
    virtual ~TimerMaker() = default;
    // on_fire runs on the thread that runs the timers (the loop thread, for the daemons).
    virtual TimerPtr make(std::function<void()> on_fire) = 0;
};

// Timers on a libevent loop.
class EventTimerMaker final : public TimerMaker {
public:
    explicit EventTimerMaker(event_base* base) : base_{base} {}
    TimerPtr make(std::function<void()> on_fire) override;

private:
    event_base* const base_;
};

} // namespace minisync
