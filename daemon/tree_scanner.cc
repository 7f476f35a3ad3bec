// Depth-first directory walk with openat/fdopendir, adding an inotify watch to each directory first.
#include "tree_scanner.h"

#include "dir_stream.h"
#include "unique_fd.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <utility>

namespace minisync::agent {
namespace {

std::string join(const std::string& dir, const char* name)
{
    return dir.empty() ? std::string{name} : dir + "/" + name;
}

std::optional<ScannedEntry> entry_of(std::string path, const struct stat& st)
{
    const std::int64_t mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
    const auto inode = static_cast<std::uint64_t>(st.st_ino);
    const std::uint32_t mode = st.st_mode & 07777U;
    if (S_ISREG(st.st_mode)) {
        return ScannedEntry{std::move(path), FileVersion{static_cast<std::uint64_t>(st.st_size), mtime_ns, inode}, mode,
                            EntryKind::File};
    }
    if (S_ISDIR(st.st_mode)) {
        return ScannedEntry{std::move(path), FileVersion{0, mtime_ns, inode}, mode, EntryKind::Directory};
    }
    if (S_ISLNK(st.st_mode)) {
        return ScannedEntry{std::move(path), FileVersion{static_cast<std::uint64_t>(st.st_size), mtime_ns, inode}, mode,
                            EntryKind::Symlink};
    }
    return std::nullopt;
}

} // namespace

ScanResult scan_tree(WatchTable& watches, const ExcludeFilter& excludes, std::size_t folder, const FolderRoot& root,
                     const std::string& start, const std::atomic<bool>& stop)
{
    ScanResult result;
    result.scan.whole_folder = start.empty();
    const std::string& folder_root = root.path;
    if (!open_folder_root(root)) {
        struct stat st{};
        if (::stat(folder_root.c_str(), &st) == 0) {
            result.root_replaced = true;
        }
        // Gone or another directory: nothing below the path says anything about the folder.
        result.scan.failed_dirs.insert("");
        result.scan.complete = true;
        return result;
    }
    // Directories on another device are mount points, unless the folder crosses them.
    auto other_file_system = [&root](const struct stat& st) {
        return root.mounts == Mounts::Refuse && st.st_dev != root.identity.device;
    };
    if (!start.empty()) {
        // The start itself is an entry too: an empty directory or a single file must reach the server.
        struct stat st{};
        const std::string absolute = folder_root + "/" + start;
        if (::lstat(absolute.c_str(), &st) != 0) {
            const int err = errno;
            struct stat root{};
            if (err != ENOENT && err != ENOTDIR) {
                result.errors.push_back("cannot stat '" + absolute + "': " + std::strerror(err));
                result.scan.failed_dirs.insert(start);
            } else if (::lstat(folder_root.c_str(), &root) != 0 || !S_ISDIR(root.st_mode)) {
                // The folder itself is gone (deleted, unmounted): that says nothing about this path.
                result.scan.failed_dirs.insert("");
            }
            result.scan.complete = true;
            return result;
        }
        if (S_ISDIR(st.st_mode) && other_file_system(st)) {
            result.scan.mount_points.insert(start);
            result.scan.complete = true;
            return result;
        }
        std::optional<ScannedEntry> entry = entry_of(start, st);
        if (!entry) {
            result.skipped.push_back(start);
        } else {
            result.scan.entries.push_back(std::move(*entry));
        }
        if (!S_ISDIR(st.st_mode)) {
            result.scan.complete = true;
            return result;
        }
    }
    std::vector<std::string> pending{start};
    while (!pending.empty()) {
        if (stop) {
            return result;
        }
        const std::string relative = std::move(pending.back());
        pending.pop_back();
        const std::string absolute = relative.empty() ? folder_root : folder_root + "/" + relative;

        switch (watches.add(absolute, WatchedDir{folder, relative})) {
        case AddWatchResult::Added: break;
        case AddWatchResult::Gone:
            if (relative.empty()) {
                result.scan.failed_dirs.insert(relative); // the folder itself is gone: nothing is known
            }
            continue;
        case AddWatchResult::LimitReached: result.watch_limit_reached = true; break;
        case AddWatchResult::Failed:
            result.errors.push_back("cannot watch '" + absolute + "': " + std::strerror(errno));
            break;
        }
        UniqueFd fd{::open(absolute.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)};
        if (!fd) {
            if (errno != ENOENT && errno != ENOTDIR) {
                result.errors.push_back("cannot open directory '" + absolute + "': " + std::strerror(errno));
                result.scan.failed_dirs.insert(relative);
            }
            continue;
        }
        const DirStream dir = open_dir_stream(std::move(fd));
        if (!dir) {
            result.scan.failed_dirs.insert(relative);
            continue;
        }
        ++result.directories;
        bool listed = true;
        while (true) {
            // readdir reports errors only through errno, which the calls below may set too.
            errno = 0;
            const dirent* entry = ::readdir(dir.get());
            if (entry == nullptr) {
                listed = errno == 0;
                break;
            }
            const char* name = entry->d_name;
            if (std::strcmp(name, ".") == 0 || std::strcmp(name, "..") == 0) {
                continue;
            }
            std::string child = join(relative, name);
            if (excludes.excluded(child)) {
                continue;
            }
            struct stat st{};
            if (::fstatat(::dirfd(dir.get()), name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
                if (errno != ENOENT) { // vanished since readdir: nothing to know
                    result.errors.push_back("cannot stat '" + absolute + "/" + name + "': " + std::strerror(errno));
                    result.scan.failed_dirs.insert(relative);
                }
                continue;
            }
            if (S_ISDIR(st.st_mode)) {
                if (other_file_system(st)) {
                    // Not the folder's: neither the mount point (what shows there is the other file
                    // system's root) nor anything below it.
                    result.scan.mount_points.insert(std::move(child));
                    continue;
                }
                pending.push_back(child);
            }
            std::optional<ScannedEntry> scanned = entry_of(std::move(child), st);
            if (scanned) {
                result.scan.entries.push_back(std::move(*scanned));
            } else {
                result.skipped.push_back(join(relative, name));
            }
        }
        if (!listed) {
            result.scan.failed_dirs.insert(relative);
        } else if (!result.scan.failed_dirs.contains(relative)) {
            result.scan.listed_dirs.insert(relative);
        }
    }
    result.scan.complete = true;
    return result;
}

} // namespace minisync::agent
