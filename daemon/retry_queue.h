// Items that failed for a reason that may pass (a server error, a read error, a folder root that is not
// there for now): kept aside and handed back together once RetryDelay has passed since the first of them.
// An item may ask to sit out more than one such round (a rename the server keeps answering BUSY backs
// off: backoff_rounds). Loop thread only; the timer comes from a TimerMaker, so tests run it in virtual time.
#pragma once

#include "sync_queue.h"
#include "timer.h"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace minisync::agent {

class RetryQueue {
public:
    static constexpr std::chrono::milliseconds RetryDelay{5000};
    // The longest backoff, in rounds of RetryDelay.
    static constexpr std::uint32_t MaxBackoffRounds = 8;

    // The rounds to wait before attempt number `retry` (1 for the first retry): 1, 2, 4, then
    // MaxBackoffRounds from the fourth on.
    static constexpr std::uint32_t backoff_rounds(std::uint32_t retry)
    {
        return retry <= 1 ? 1 : retry >= 4 ? MaxBackoffRounds : 1U << (retry - 1);
    }

    // due receives every waiting item whose rounds are over, in the order they were added.
    RetryQueue(TimerMaker& timers, std::function<void(std::vector<SyncItem>)> due);

    // The item comes back once `rounds` rounds have ended (the first of them may have started earlier).
    void add(SyncItem item, std::uint32_t rounds = 1);
    template <typename Predicate>
    void erase_if(Predicate&& predicate)
    {
        std::erase_if(items_, [&](const Waiting& waiting) { return predicate(waiting.item); });
    }
    // Removes and returns the waiting items that satisfy the predicate, in the order they were added.
    template <typename Predicate>
    std::vector<SyncItem> take_if(Predicate&& predicate)
    {
        std::vector<SyncItem> taken;
        std::erase_if(items_, [&](Waiting& waiting) {
            if (!predicate(static_cast<const SyncItem&>(waiting.item))) {
                return false;
            }
            taken.push_back(std::move(waiting.item));
            return true;
        });
        return taken;
    }
    template <typename Predicate>
    [[nodiscard]] bool any_of(Predicate&& predicate) const
    {
        return std::any_of(items_.begin(), items_.end(), [&](const Waiting& waiting) { return predicate(waiting.item); });
    }
    [[nodiscard]] std::size_t size() const noexcept { return items_.size(); }
    [[nodiscard]] std::size_t count(std::size_t folder) const;

private:
    struct Waiting {
        SyncItem item;
        std::uint32_t rounds_left = 1;
    };

    void fire();

    std::vector<Waiting> items_;
    std::function<void(std::vector<SyncItem>)> due_;
    const TimerPtr timer_;
};

} // namespace minisync::agent
