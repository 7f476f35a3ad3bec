// The map from inotify watch descriptors to the directories they watch. Scanner threads add watches
// while the loop reads events, so a watch is added and recorded under one lock: the loop can never
// read an event for a descriptor it cannot resolve.
#pragma once

#include "unique_fd.h"

#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace minisync::agent {

struct WatchedDir {
    std::size_t folder = 0;
    std::string path; // relative to the folder root; "" for the root itself
};

enum class AddWatchResult { Added, Gone, LimitReached, Failed };

class WatchTable {
public:
    // Throws std::runtime_error when inotify is unavailable (e.g. the per-user instance limit).
    WatchTable();

    [[nodiscard]] int inotify_fd() const noexcept { return inotify_fd_.get(); }

    // Watches the directory at absolute_path (never following a symlink) and records it.
    AddWatchResult add(const std::string& absolute_path, WatchedDir dir);
    std::optional<WatchedDir> find(int wd) const;
    void forget(int wd);
    // Stops watching path and every directory below it: they moved out of reach under their old names.
    // "" is the whole folder.
    void unwatch_tree(std::size_t folder, const std::string& path);
    // path and every directory below it were renamed to to: their watches follow the inodes, so only the
    // recorded paths change.
    void rename_tree(std::size_t folder, const std::string& path, const std::string& to);
    [[nodiscard]] std::size_t size() const;

private:
    // Owned here so that a scan still running on a worker never adds a watch to a closed descriptor.
    const UniqueFd inotify_fd_;
    mutable std::mutex mutex_;
    std::unordered_map<int, WatchedDir> dirs_;
};

} // namespace minisync::agent
