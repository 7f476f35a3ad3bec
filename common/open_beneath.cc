// openat2(2) through syscall() (glibc 2.36 has no wrapper), and the component walk for kernels without it.
#include "open_beneath.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>
#include <string_view>

namespace minisync {
namespace {

enum class Resolver { Openat2, Walk, ForcedWalk };

Resolver resolver() noexcept
{
    static const Resolver chosen = [] {
        const char* forced = std::getenv("MINISYNC_FORCE_PATH_WALK");
        if (forced != nullptr && std::string_view{forced} == "1") {
            return Resolver::ForcedWalk;
        }
        open_how how{};
        how.flags = O_PATH | O_CLOEXEC;
        const long fd = ::syscall(SYS_openat2, AT_FDCWD, "/", &how, sizeof how);
        if (fd >= 0) {
            ::close(static_cast<int>(fd));
            return Resolver::Openat2;
        }
        return errno == ENOSYS ? Resolver::Walk : Resolver::Openat2;
    }();
    return chosen;
}

// Empty with errno, for the error paths below.
UniqueFd failed(int error) noexcept
{
    errno = error;
    return UniqueFd{};
}

} // namespace

UniqueFd open_beneath(int dir_fd, const char* relative_path, int flags, Mounts mounts) noexcept
{
    if (resolver() == Resolver::Openat2) {
        UniqueFd fd = open_strictly_beneath(dir_fd, relative_path, flags, mounts);
        if (fd || errno != ENOSYS) {
            return fd;
        }
    }
    return open_beneath_by_walk(dir_fd, relative_path, flags, mounts);
}

UniqueFd open_strictly_beneath(int dir_fd, const char* relative_path, int flags, Mounts mounts) noexcept
{
    open_how how{};
    how.flags = static_cast<unsigned long long>(flags | O_NOFOLLOW | O_CLOEXEC);
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | (mounts == Mounts::Refuse ? RESOLVE_NO_XDEV : 0);
    for (int attempt = 0; attempt < 8; ++attempt) {
        const long fd = ::syscall(SYS_openat2, dir_fd, relative_path, &how, sizeof how);
        if (fd >= 0) {
            return UniqueFd{static_cast<int>(fd)};
        }
        // EAGAIN: a concurrent rename somewhere on the filesystem; the lookup is simply retried.
        if (errno != EAGAIN) {
            return UniqueFd{};
        }
    }
    return UniqueFd{};
}

UniqueFd open_beneath_by_walk(int dir_fd, const char* relative_path, int flags, Mounts mounts) noexcept
{
    struct stat top{};
    if (::fstat(dir_fd, &top) != 0) {
        return UniqueFd{};
    }
    std::string_view rest{relative_path};
    if (rest.empty()) {
        return failed(ENOENT);
    }
    if (rest.front() == '/') {
        return failed(EXDEV);
    }
    UniqueFd current; // empty while still at dir_fd
    while (true) {
        const std::size_t slash = rest.find('/');
        const bool last = slash == std::string_view::npos;
        std::string name{rest.substr(0, slash)};
        rest = last ? std::string_view{} : rest.substr(slash + 1);
        if (name == "..") {
            return failed(EXDEV);
        }
        if (name.empty() || name == ".") {
            if (!last) {
                continue;
            }
            name = ".";
        }
        const int at = current ? current.get() : dir_fd;
        // Every level is opened without following a link and only then looked at: whatever is renamed or
        // swapped in after the open, the descriptor stays on what was checked.
        UniqueFd next{::openat(at, name.c_str(),
                               last ? flags | O_NOFOLLOW | O_CLOEXEC : O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)};
        if (!next) {
            const int error = errno;
            struct stat seen{};
            // O_NOFOLLOW answers ELOOP for a final symlink, O_DIRECTORY ENOTDIR for one on the way: both
            // are the crossing of a link that openat2 reports as ELOOP.
            if (error == ENOTDIR && ::fstatat(at, name.c_str(), &seen, AT_SYMLINK_NOFOLLOW) == 0 &&
                S_ISLNK(seen.st_mode)) {
                return failed(ELOOP);
            }
            return failed(error);
        }
        struct stat opened{};
        if (::fstat(next.get(), &opened) != 0) {
            return UniqueFd{};
        }
        if (mounts == Mounts::Refuse && opened.st_dev != top.st_dev) {
            return failed(EXDEV); // a mount inside the tree: another file system
        }
        if (last) {
            return next;
        }
        if (!S_ISDIR(opened.st_mode)) {
            return failed(S_ISLNK(opened.st_mode) ? ELOOP : ENOTDIR);
        }
        current = std::move(next);
    }
}

const char* path_resolver() noexcept
{
    switch (resolver()) {
    case Resolver::Openat2: return "openat2 (RESOLVE_BENEATH, RESOLVE_NO_SYMLINKS, RESOLVE_NO_XDEV)";
    case Resolver::Walk: return "a component walk (this kernel has no openat2)";
    case Resolver::ForcedWalk: return "a component walk (MINISYNC_FORCE_PATH_WALK=1)";
    }
    return "?";
}

} // namespace minisync
