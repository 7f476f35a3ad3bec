// Depth-first walk with openat(O_NOFOLLOW) and unlinkat of old partial files.
#include "partial_sweeper.h"

#include "path_rules.h"
#include "unique_fd.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>

namespace minisync::server {
namespace {

struct DirClose {
    void operator()(DIR* dir) const noexcept { ::closedir(dir); }
};

void sweep_dir(int dir_fd, const std::string& where, std::time_t cutoff, bool is_root, const std::atomic<bool>& stop,
               SweepResult& result)
{
    const int fd = ::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return;
    }
    const std::unique_ptr<DIR, DirClose> dir{::fdopendir(fd)};
    if (!dir) {
        ::close(fd);
        return;
    }
    while (const dirent* entry = ::readdir(dir.get())) {
        if (stop) {
            return;
        }
        const char* name = entry->d_name;
        if (std::strcmp(name, ".") == 0 || std::strcmp(name, "..") == 0 || (is_root && name[0] == '.')) {
            continue;
        }
        struct stat st{};
        if (::fstatat(::dirfd(dir.get()), name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            const UniqueFd child{::openat(::dirfd(dir.get()), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)};
            if (child) {
                sweep_dir(child.get(), where + "/" + name, cutoff, false, stop, result);
            }
        } else if (S_ISREG(st.st_mode) && is_partial_name(name)) {
            if (st.st_mtime >= cutoff) {
                ++result.kept;
            } else if (::unlinkat(::dirfd(dir.get()), name, 0) == 0) {
                ++result.removed;
            } else {
                result.errors.push_back("cannot remove '" + where + "/" + name + "': " + std::strerror(errno));
            }
        }
    }
}

} // namespace

SweepResult sweep_stale_partials(int root_fd, std::chrono::seconds max_age, const std::atomic<bool>& stop)
{
    SweepResult result;
    const std::time_t cutoff = std::time(nullptr) - static_cast<std::time_t>(max_age.count());
    sweep_dir(root_fd, "", cutoff, true, stop, result);
    return result;
}

} // namespace minisync::server
