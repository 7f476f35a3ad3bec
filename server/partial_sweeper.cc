// Iterative walk of the root with open_beneath (no symlinks, at most two descriptors open at a time,
// whatever the depth) and unlinkat of old partial files.
#include "partial_sweeper.h"

#include "dir_stream.h"
#include "open_beneath.h"
#include "path_rules.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <utility>

namespace minisync::server {
SweepResult sweep_stale_partials(int root_fd, std::chrono::seconds max_age, const std::atomic<bool>& stop)
{
    SweepResult result;
    const std::time_t cutoff = std::time(nullptr) - static_cast<std::time_t>(max_age.count());
    // Directories still to visit, relative to the root; each is opened afresh from the root descriptor.
    std::vector<std::string> pending{"."};
    while (!pending.empty() && !stop) {
        const std::string relative = std::move(pending.back());
        pending.pop_back();
        UniqueFd fd = open_beneath(root_fd, relative.c_str(), O_RDONLY | O_DIRECTORY);
        if (!fd) {
            if (errno != ENOENT) {
                result.errors.push_back("cannot open '" + relative + "': " + std::strerror(errno));
            }
            continue;
        }
        const DirStream dir = open_dir_stream(std::move(fd));
        if (!dir) {
            continue;
        }
        const bool is_root = relative == ".";
        while (const dirent* entry = ::readdir(dir.get())) {
            const char* name = entry->d_name;
            // Dot-names directly under the root are the server's own, never a client's namespace.
            if (std::strcmp(name, ".") == 0 || std::strcmp(name, "..") == 0 || (is_root && name[0] == '.')) {
                continue;
            }
            struct stat st{};
            if (::fstatat(::dirfd(dir.get()), name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
                continue;
            }
            if (S_ISDIR(st.st_mode)) {
                pending.push_back(is_root ? std::string{name} : relative + "/" + name);
            } else if (S_ISREG(st.st_mode) && is_partial_name(name)) {
                if (st.st_mtime >= cutoff) {
                    ++result.kept;
                } else if (::unlinkat(::dirfd(dir.get()), name, 0) == 0) {
                    ++result.removed;
                } else {
                    result.errors.push_back("cannot remove '" + relative + "/" + name + "': " + std::strerror(errno));
                }
            }
        }
    }
    return result;
}

} // namespace minisync::server
