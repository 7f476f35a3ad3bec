// inotify_add_watch under the table lock, with the watch mask minisyncd relies on.
#include "watch_table.h"

#include <sys/inotify.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace minisync::agent {
namespace {

// IN_MODIFY tells of files written without being closed (logs); IN_CREATE of symlinks, hard links and
// special files, which no close-write follows.
constexpr std::uint32_t WatchMask = IN_CLOSE_WRITE | IN_MODIFY | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE |
                                    IN_DELETE_SELF | IN_MOVE_SELF | IN_ATTRIB | IN_ONLYDIR | IN_DONT_FOLLOW |
                                    IN_EXCL_UNLINK;

} // namespace

WatchTable::WatchTable() : inotify_fd_{::inotify_init1(IN_NONBLOCK | IN_CLOEXEC)}
{
    if (!inotify_fd_) {
        throw std::runtime_error(std::string{"inotify_init1 failed: "} + std::strerror(errno) +
                                 " (see fs.inotify.max_user_instances)");
    }
}

AddWatchResult WatchTable::add(const std::string& absolute_path, WatchedDir dir)
{
    const std::lock_guard lock{mutex_};
    const int wd = ::inotify_add_watch(inotify_fd_.get(), absolute_path.c_str(), WatchMask);
    if (wd < 0) {
        switch (errno) {
        case ENOENT:
        case ENOTDIR: return AddWatchResult::Gone;
        case ENOSPC: return AddWatchResult::LimitReached;
        default: return AddWatchResult::Failed;
        }
    }
    dirs_[wd] = std::move(dir);
    return AddWatchResult::Added;
}

std::optional<WatchedDir> WatchTable::find(int wd) const
{
    const std::lock_guard lock{mutex_};
    const auto it = dirs_.find(wd);
    if (it == dirs_.end()) {
        return std::nullopt;
    }
    return it->second;
}

void WatchTable::forget(int wd)
{
    const std::lock_guard lock{mutex_};
    dirs_.erase(wd);
}

void WatchTable::unwatch_tree(std::size_t folder, const std::string& path)
{
    const std::lock_guard lock{mutex_};
    const std::string below = path + "/";
    for (auto it = dirs_.begin(); it != dirs_.end();) {
        const WatchedDir& dir = it->second;
        if (dir.folder == folder && (path.empty() || dir.path == path || dir.path.starts_with(below))) {
            ::inotify_rm_watch(inotify_fd_.get(), it->first);
            it = dirs_.erase(it);
        } else {
            ++it;
        }
    }
}

void WatchTable::rename_tree(std::size_t folder, const std::string& path, const std::string& to)
{
    const std::lock_guard lock{mutex_};
    const std::string below = path + "/";
    for (auto& [wd, dir] : dirs_) {
        if (dir.folder == folder && (dir.path == path || dir.path.starts_with(below))) {
            dir.path = to + dir.path.substr(path.size());
        }
    }
}

std::size_t WatchTable::size() const
{
    const std::lock_guard lock{mutex_};
    return dirs_.size();
}

} // namespace minisync::agent
