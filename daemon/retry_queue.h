// Items that failed for a reason that may pass (a server error, a read error, a folder root that is not
// there for now): kept aside and handed back together once RetryDelay has passed since the first of them.
// Loop thread only; the timer comes from a TimerMaker, so tests run it in virtual time.
#pragma once

#include "sync_queue.h"
#include "timer.h"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <functional>
#include <vector>

namespace minisync::agent {

class RetryQueue {
public:
    static constexpr std::chrono::milliseconds RetryDelay{5000};

    // due receives every waiting item, in the order they were added.
    RetryQueue(TimerMaker& timers, std::function<void(std::vector<SyncItem>)> due);

    void add(SyncItem item);
    template <typename Predicate>
    void erase_if(Predicate&& predicate)
    {
        std::erase_if(items_, std::forward<Predicate>(predicate));
    }
    [[nodiscard]] std::size_t size() const noexcept { return items_.size(); }
    [[nodiscard]] std::size_t count(std::size_t folder) const;

private:
    void fire();

    std::vector<SyncItem> items_;
    std::function<void(std::vector<SyncItem>)> due_;
    const TimerPtr timer_;
};

} // namespace minisync::agent
