// Depth-first directory walk with openat/fdopendir, adding an inotify watch to each directory first.
#include "tree_scanner.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace minisync::agent {
namespace {

struct DirClose {
    void operator()(DIR* dir) const noexcept { ::closedir(dir); }
};

std::string join(const std::string& dir, const char* name)
{
    return dir.empty() ? std::string{name} : dir + "/" + name;
}

} // namespace

ScanResult scan_tree(WatchTable& watches, const ExcludeFilter& excludes, std::size_t folder,
                     const std::string& folder_root, const std::string& start, const std::atomic<bool>& stop)
{
    ScanResult result;
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
        const int fd = ::open(absolute.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            if (errno != ENOENT && errno != ENOTDIR) {
                result.errors.push_back("cannot open directory '" + absolute + "': " + std::strerror(errno));
                result.scan.failed_dirs.insert(relative);
            }
            continue;
        }
        const std::unique_ptr<DIR, DirClose> dir{::fdopendir(fd)};
        if (!dir) {
            ::close(fd);
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
            if (entry->d_type == DT_DIR) {
                pending.push_back(std::move(child));
                continue;
            }
            if (entry->d_type != DT_REG && entry->d_type != DT_UNKNOWN) {
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
                pending.push_back(std::move(child));
            } else if (S_ISREG(st.st_mode)) {
                const FileVersion version{static_cast<std::uint64_t>(st.st_size),
                                          static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 +
                                              st.st_mtim.tv_nsec,
                                          static_cast<std::uint64_t>(st.st_ino)};
                result.scan.files.push_back(ScannedFile{std::move(child), version, st.st_mode & 07777U});
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
