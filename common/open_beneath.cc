// openat2(2) through syscall(): glibc 2.36 has no wrapper.
#include "open_beneath.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace minisync {

UniqueFd open_beneath(int dir_fd, const char* relative_path, int flags) noexcept
{
    UniqueFd fd = open_strictly_beneath(dir_fd, relative_path, flags);
    if (!fd && errno == ENOSYS) {
        fd.reset(::openat(dir_fd, relative_path, flags | O_NOFOLLOW | O_CLOEXEC));
    }
    return fd;
}

UniqueFd open_strictly_beneath(int dir_fd, const char* relative_path, int flags) noexcept
{
    open_how how{};
    how.flags = static_cast<unsigned long long>(flags | O_NOFOLLOW | O_CLOEXEC);
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS;
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

} // namespace minisync
