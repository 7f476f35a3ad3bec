// The first half of a rename: inotify reports a move as IN_MOVED_FROM and IN_MOVED_TO with one cookie,
// as two events that normally arrive together, but a read of the inotify queue can split them. A MOVED_FROM waits here MoveWindow for its MOVED_TO; one that
// finds none was a move out of the watched tree, which is a removal. The caller passes the time in, so the
// window is tested in virtual time. Loop thread only.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace minisync::agent {

class PendingMoves {
public:
    using Clock = std::chrono::steady_clock;
    static constexpr std::chrono::milliseconds MoveWindow{50};

    struct MoveOut {
        std::uint32_t cookie = 0;
        std::size_t folder = 0;
        std::string path;
        bool is_dir = false;
        bool excluded = false;
    };

    void add(MoveOut move, Clock::time_point now);
    // The MOVED_FROM with this cookie, now that its MOVED_TO has come.
    [[nodiscard]] std::optional<MoveOut> take(std::uint32_t cookie);
    // Every MOVED_FROM whose window has passed without its MOVED_TO, in the order they came.
    [[nodiscard]] std::vector<MoveOut> take_expired(Clock::time_point now);
    void drop_folder(std::size_t folder);
    [[nodiscard]] std::optional<Clock::time_point> earliest() const;

private:
    struct Waiting {
        MoveOut move;
        Clock::time_point due;
    };

    std::vector<Waiting> waiting_; // in arrival order, so also in order of due time
};

} // namespace minisync::agent
