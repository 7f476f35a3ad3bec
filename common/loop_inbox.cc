// Cross-thread wake-up of the loop through event_active on one long-lived event; libevent 2.1's cross-thread
// timer add/del can lose wake-ups, an activation of a never-pending event cannot.
#include "loop_inbox.h"

#include "must_succeed.h"

#include <spdlog/spdlog.h>

#include <exception>

namespace minisync {

LoopInbox::LoopInbox(event_base* base) : wake_{event_new(base, -1, 0, &LoopInbox::on_wake, this)}
{
    must_succeed(wake_ != nullptr, "event_new");
}

void LoopInbox::post(Task task)
{
    bool first = false;
    {
        const std::lock_guard lock{mutex_};
        first = pending_.empty();
        pending_.push_back(std::move(task));
    }
    // Activations coalesce, so one wake per batch is enough; drain() takes everything queued.
    if (first) {
        event_active(wake_.get(), EV_READ, 0);
    }
}

void LoopInbox::drain()
{
    std::vector<Task> batch;
    {
        const std::lock_guard lock{mutex_};
        batch.swap(pending_);
    }
    for (Task& task : batch) {
        try {
            task();
        } catch (const std::exception& e) {
            // An exception here is a bug; it must not unwind through libevent.
            SPDLOG_CRITICAL("unhandled exception in loop task: {}", e.what());
            std::terminate();
        }
    }
}

} // namespace minisync
