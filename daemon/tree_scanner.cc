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
    while (!pending.empty() && !stop) {
        const std::string relative = std::move(pending.back());
        pending.pop_back();
        const std::string absolute = relative.empty() ? folder_root : folder_root + "/" + relative;

        switch (watches.add(absolute, WatchedDir{folder, relative})) {
        case AddWatchResult::Added: break;
        case AddWatchResult::Gone: continue;
        case AddWatchResult::LimitReached: result.watch_limit_reached = true; break;
        case AddWatchResult::Failed:
            result.errors.push_back("cannot watch '" + absolute + "': " + std::strerror(errno));
            break;
        }
        const int fd = ::open(absolute.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            if (errno != ENOENT && errno != ENOTDIR) {
                result.errors.push_back("cannot open directory '" + absolute + "': " + std::strerror(errno));
            }
            continue;
        }
        const std::unique_ptr<DIR, DirClose> dir{::fdopendir(fd)};
        if (!dir) {
            ::close(fd);
            continue;
        }
        ++result.directories;
        while (const dirent* entry = ::readdir(dir.get())) {
            const char* name = entry->d_name;
            if (std::strcmp(name, ".") == 0 || std::strcmp(name, "..") == 0) {
                continue;
            }
            std::string child = join(relative, name);
            if (excludes.excluded(child)) {
                continue;
            }
            unsigned char type = entry->d_type;
            if (type == DT_UNKNOWN) {
                struct stat st{};
                if (::fstatat(::dirfd(dir.get()), name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
                    continue;
                }
                type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
            }
            if (type == DT_DIR) {
                pending.push_back(std::move(child));
            } else if (type == DT_REG) {
                result.files.push_back(std::move(child));
            }
        }
    }
    return result;
}

} // namespace minisync::agent
