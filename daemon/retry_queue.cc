// Waiting items and the one timer that hands them back.
#include "retry_queue.h"

#include <utility>

namespace minisync::agent {

RetryQueue::RetryQueue(TimerMaker& timers, std::function<void(std::vector<SyncItem>)> due)
    : due_{std::move(due)}, timer_{timers.make([this] { fire(); })}
{
}

void RetryQueue::add(SyncItem item, std::uint32_t rounds)
{
    items_.push_back(Waiting{std::move(item), std::max<std::uint32_t>(rounds, 1)});
    if (!timer_->armed()) {
        timer_->arm(RetryDelay);
    }
}

std::size_t RetryQueue::count(std::size_t folder) const
{
    return static_cast<std::size_t>(std::count_if(
        items_.begin(), items_.end(), [folder](const Waiting& waiting) { return waiting.item.folder == folder; }));
}

void RetryQueue::fire()
{
    std::vector<SyncItem> due;
    std::erase_if(items_, [&](Waiting& waiting) {
        if (--waiting.rounds_left > 0) {
            return false;
        }
        due.push_back(std::move(waiting.item));
        return true;
    });
    // Armed before handing back: what due_ adds joins the next round instead of starting one of its own.
    if (!items_.empty()) {
        timer_->arm(RetryDelay);
    }
    if (!due.empty()) {
        due_(std::move(due));
    }
}

} // namespace minisync::agent
