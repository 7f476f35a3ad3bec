// Component-by-component openat(O_NOFOLLOW | O_DIRECTORY) walk with mkdirat for missing levels.
#include "beneath.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace minisync::server {

std::variant<UniqueFd, FsError> open_dir_beneath(int base_fd, std::span<const std::string_view> components,
                                                 bool create)
{
    // Readable rather than O_PATH: the caller fsyncs the directory after a rename.
    constexpr int DirFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    UniqueFd current{::fcntl(base_fd, F_DUPFD_CLOEXEC, 0)};
    if (!current) {
        return fs_error_from_errno(errno, "dup");
    }
    for (const std::string_view component : components) {
        const std::string name{component};
        UniqueFd next{::openat(current.get(), name.c_str(), DirFlags)};
        if (!next && errno == ENOENT && create) {
            if (::mkdirat(current.get(), name.c_str(), 0755) == 0) {
                // The new entry must survive a crash as surely as the file about to be committed in it.
                if (::fsync(current.get()) != 0) {
                    return fs_error_from_errno(errno, "fsync directory above '" + name + "'");
                }
            } else if (errno != EEXIST) {
                return fs_error_from_errno(errno, "mkdir '" + name + "'");
            }
            next.reset(::openat(current.get(), name.c_str(), DirFlags));
        }
        if (!next) {
            const int err = errno;
            // O_NOFOLLOW on a symlink yields ELOOP or, with O_DIRECTORY, ENOTDIR; report both as the
            // refusal to follow that they are.
            struct stat st{};
            if (::fstatat(current.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
                return FsError{protocol::ErrorCode::BadPath, "'" + name + "' is a symlink; not followed"};
            }
            return fs_error_from_errno(err, "open directory '" + name + "'");
        }
        current = std::move(next);
    }
    return current;
}

} // namespace minisync::server
