// Files that were created or are being written wait here before they are sent. A created file waits
// CreateSettle, for its close-write (which sends it at once) or for the writes that make it a growing file;
// a file written without being closed is sent every GrowingInterval while it grows, never on every write.
// The caller passes the time in, so these rules are tested in virtual time. Loop thread only.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace minisync::agent {

class DeferredSends {
public:
    using Clock = std::chrono::steady_clock;
    static constexpr std::chrono::milliseconds CreateSettle{100};
    static constexpr std::chrono::milliseconds GrowingInterval{2000};

    struct Due {
        std::size_t folder = 0;
        std::string path;
        bool growing = false; // modified without a close-write; otherwise only created
    };

    // growing: a write without a close-write (IN_MODIFY); otherwise a creation (IN_CREATE). A path already
    // waiting keeps its time, unless a creation turns out to be a file being written.
    void defer(std::size_t folder, std::string path, bool growing, Clock::time_point now);
    // Forgets the path and everything below it: it was closed after writing, deleted or moved.
    void drop(std::size_t folder, const std::string& path);
    void drop_folder(std::size_t folder);
    // Hands over every path whose time has come, in path order.
    [[nodiscard]] std::vector<Due> take_due(Clock::time_point now);
    [[nodiscard]] std::optional<Clock::time_point> earliest() const;
    [[nodiscard]] bool empty() const noexcept { return waiting_.empty(); }

private:
    using PathKey = std::pair<std::size_t, std::string>; // folder, relative path
    struct Waiting {
        Clock::time_point due;
        bool growing = false;
    };

    std::map<PathKey, Waiting> waiting_;
};

} // namespace minisync::agent
