// The libevent implementation of Timer: one evtimer per timer, its callback a static trampoline.
#include "timer.h"

#include "must_succeed.h"

#include <spdlog/spdlog.h>

#include <exception>

namespace minisync {
namespace {

class EventTimer final : public Timer {
public:
    EventTimer(event_base* base, std::function<void()> on_fire)
        : on_fire_{std::move(on_fire)}, event_{evtimer_new(base, &EventTimer::on_timer, this)}
    {
        must_succeed(event_ != nullptr, "evtimer_new");
    }

    void arm(std::chrono::milliseconds delay) override
    {
        const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(delay);
        const timeval tv{static_cast<time_t>(seconds.count()),
                         static_cast<suseconds_t>((delay - seconds).count() * 1000)};
        must_succeed(evtimer_add(event_.get(), &tv) == 0, "evtimer_add");
    }

    void cancel() override { evtimer_del(event_.get()); }

    [[nodiscard]] bool armed() const override { return evtimer_pending(event_.get(), nullptr) != 0; }

private:
    static void on_timer(evutil_socket_t /*fd*/, short /*what*/, void* self)
    {
        try {
            static_cast<EventTimer*>(self)->on_fire_();
        } catch (const std::exception& e) {
            // An exception here is a bug; it must not unwind through libevent.
            SPDLOG_CRITICAL("unhandled exception in a timer: {}", e.what());
            std::terminate();
        }
    }

    const std::function<void()> on_fire_;
    const EventPtr event_;
};

} // namespace

TimerPtr EventTimerMaker::make(std::function<void()> on_fire)
{
    return std::make_unique<EventTimer>(base_, std::move(on_fire));
}

} // namespace minisync
