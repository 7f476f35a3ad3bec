// Timers in virtual time: nothing fires until the test advances the clock past a timer's deadline.
#pragma once

#include "timer.h"

#include <chrono>
#include <functional>
#include <memory>
#include <vector>

namespace minisync::testing {

class ManualTimerMaker final : public TimerMaker {
public:
    TimerPtr make(std::function<void()> on_fire) override
    {
        auto timer = std::make_unique<ManualTimer>(*this, std::move(on_fire));
        timers_.push_back(timer.get());
        return timer;
    }

    // Moves virtual time forward, firing each timer whose deadline is passed, in deadline order.
    void advance(std::chrono::milliseconds by)
    {
        const std::chrono::milliseconds until = now_ + by;
        while (ManualTimer* due = next_due(until)) {
            now_ = due->deadline_;
            due->armed_ = false;
            due->on_fire_();
        }
        now_ = until;
    }

    [[nodiscard]] std::chrono::milliseconds now() const noexcept { return now_; }

private:
    class ManualTimer final : public Timer {
    public:
        ManualTimer(ManualTimerMaker& maker, std::function<void()> on_fire)
            : maker_{maker}, on_fire_{std::move(on_fire)}
        {
        }
        ~ManualTimer() override { std::erase(maker_.timers_, this); }

        void arm(std::chrono::milliseconds delay) override
        {
            deadline_ = maker_.now_ + delay;
            armed_ = true;
        }
        void cancel() override { armed_ = false; }
        [[nodiscard]] bool armed() const override { return armed_; }

        ManualTimerMaker& maker_;
        std::function<void()> on_fire_;
        std::chrono::milliseconds deadline_{0};
        bool armed_ = false;
    };

    ManualTimer* next_due(std::chrono::milliseconds until)
    {
        ManualTimer* due = nullptr;
        for (ManualTimer* timer : timers_) {
            if (timer->armed_ && timer->deadline_ <= until && (due == nullptr || timer->deadline_ < due->deadline_)) {
                due = timer;
            }
        }
        return due;
    }

    std::vector<ManualTimer*> timers_;
    std::chrono::milliseconds now_{0};
};

} // namespace minisync::testing
