// Directories whose mode and mtime must be sent again: the server's own work inside a directory (a file
// committed, a partial discarded, a rename into it) moves its mtime. Once the scheduler has nothing else
// to do, each is queued as a settle item, deepest first. Loop thread only.
#pragma once

#include "sync_queue.h"

#include <cstddef>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace minisync::agent {

class DirectorySettler {
public:
    // The server changed something at path: every directory above it, up to (not including) the root.
    void note_changed(std::size_t folder, const std::string& path);
    // A rename applied on the server carried the directories noted below from to the same place below to.
    void follow_rename(std::size_t folder, const std::string& from, const std::string& to);
    [[nodiscard]] bool empty() const noexcept { return dirs_.empty(); }
    // Every noted directory as a settle item, deepest first, and forgets them.
    std::vector<SyncItem> take();

private:
    std::set<std::pair<std::size_t, std::string>> dirs_;
};

} // namespace minisync::agent
