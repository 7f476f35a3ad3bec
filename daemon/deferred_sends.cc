// The waiting rules of created and growing files.
#include "deferred_sends.h"

#include <algorithm>

namespace minisync::agent {

void DeferredSends::defer(std::size_t folder, std::string path, bool growing, Clock::time_point now)
{
    auto [it, inserted] = waiting_.try_emplace(PathKey{folder, std::move(path)});
    Waiting& entry = it->second;
    if (inserted) {
        entry.growing = growing;
        entry.due = now + (growing ? Clock::duration{GrowingInterval} : Clock::duration{CreateSettle});
    } else if (growing && !entry.growing) {
        // Being written: no longer a bare create, so it waits for its close-write or the growing interval.
        entry.growing = true;
        entry.due = now + GrowingInterval;
    }
}

void DeferredSends::drop(std::size_t folder, const std::string& path)
{
    if (path.empty()) {
        drop_folder(folder);
        return;
    }
    waiting_.erase(PathKey{folder, path});
    // Below path is the key range [path + "/", path + "0"): '0' follows '/'. A sibling such as "a b" sorts
    // between "a" and "a/x", so walking on from path itself would stop before reaching what is below it.
    const PathKey after{folder, path + "0"};
    for (auto it = waiting_.lower_bound(PathKey{folder, path + "/"}); it != waiting_.end() && it->first < after;) {
        it = waiting_.erase(it);
    }
}

void DeferredSends::drop_folder(std::size_t folder)
{
    std::erase_if(waiting_, [folder](const auto& entry) { return entry.first.first == folder; });
}

std::vector<DeferredSends::Due> DeferredSends::take_due(Clock::time_point now)
{
    std::vector<Due> due;
    for (auto it = waiting_.begin(); it != waiting_.end();) {
        if (it->second.due > now) {
            ++it;
            continue;
        }
        due.push_back(Due{it->first.first, it->first.second, it->second.growing});
        it = waiting_.erase(it);
    }
    return due;
}

std::optional<DeferredSends::Clock::time_point> DeferredSends::earliest() const
{
    std::optional<Clock::time_point> earliest;
    for (const auto& [key, entry] : waiting_) {
        earliest = earliest ? std::min(*earliest, entry.due) : entry.due;
    }
    return earliest;
}

} // namespace minisync::agent
