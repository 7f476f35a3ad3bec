// Waiting items and the one timer that hands them back.
#include "retry_queue.h"

#include <utility>

namespace minisync::agent {

RetryQueue::RetryQueue(TimerMaker& timers, std::function<void(std::vector<SyncItem>)> due)
    : due_{std::move(due)}, timer_{timers.make([this] { fire(); })}
{
}

void RetryQueue::add(SyncItem item)
{
    items_.push_back(std::move(item));
    if (!timer_->armed()) {
        timer_->arm(RetryDelay);
    }
}

std::size_t RetryQueue::count(std::size_t folder) const
{
    return static_cast<std::size_t>(
        std::count_if(items_.begin(), items_.end(), [folder](const SyncItem& item) { return item.folder == folder; }));
}

void RetryQueue::fire()
{
    due_(std::exchange(items_, {}));
}

} // namespace minisync::agent
