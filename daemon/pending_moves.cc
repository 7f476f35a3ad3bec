// MOVED_FROM events waiting for their MOVED_TO.
#include "pending_moves.h"

#include <algorithm>

namespace minisync::agent {

void PendingMoves::add(MoveOut move, Clock::time_point now)
{
    waiting_.push_back(Waiting{std::move(move), now + MoveWindow});
}

std::optional<PendingMoves::MoveOut> PendingMoves::take(std::uint32_t cookie)
{
    const auto it =
        std::find_if(waiting_.begin(), waiting_.end(), [cookie](const Waiting& entry) { return entry.move.cookie == cookie; });
    if (it == waiting_.end()) {
        return std::nullopt;
    }
    MoveOut move = std::move(it->move);
    waiting_.erase(it);
    return move;
}

std::vector<PendingMoves::MoveOut> PendingMoves::take_expired(Clock::time_point now)
{
    std::vector<MoveOut> expired;
    for (auto it = waiting_.begin(); it != waiting_.end();) {
        if (it->due <= now) {
            expired.push_back(std::move(it->move));
            it = waiting_.erase(it);
        } else {
            ++it;
        }
    }
    return expired;
}

void PendingMoves::drop_folder(std::size_t folder)
{
    std::erase_if(waiting_, [folder](const Waiting& entry) { return entry.move.folder == folder; });
}

std::optional<PendingMoves::Clock::time_point> PendingMoves::earliest() const
{
    std::optional<Clock::time_point> earliest;
    for (const Waiting& entry : waiting_) {
        earliest = earliest ? std::min(*earliest, entry.due) : entry.due;
    }
    return earliest;
}

} // namespace minisync::agent
