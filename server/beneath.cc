// One openat2 for a parent that exists, else a component-by-component openat(O_NOFOLLOW | O_DIRECTORY) walk
// with mkdirat for missing levels.
#include "beneath.h"

#include "open_beneath.h"
#include "path_rules.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

namespace minisync::server {

Result<UniqueFd> open_dir_beneath(int base_fd, std::span<const std::string_view> components,
                                                 bool create, std::size_t mirrored_from)
{
    // Readable rather than O_PATH: the caller fsyncs the directory after a rename.
    constexpr int DirFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    UniqueFd current{::fcntl(base_fd, F_DUPFD_CLOEXEC, 0)};
    if (!current) {
        return fs_error_from_errno(errno, "dup");
    }
    for (std::size_t level = 0; level < components.size(); ++level) {
        const std::string name{components[level]};
        UniqueFd next{::openat(current.get(), name.c_str(), DirFlags)};
        if (!next && (errno == ELOOP || errno == ENOTDIR) && level >= mirrored_from) {
            if (!create) {
                return Error{protocol::ErrorCode::Conflict, "'" + name + "' is not a directory", ENOTDIR};
            }
            // A mirrored file or symlink where the agent now has a directory: unlinked, never followed.
            if (::unlinkat(current.get(), name.c_str(), 0) != 0 && errno != ENOENT) {
                return fs_error_from_errno(errno, "replace '" + name + "' by a directory");
            }
            errno = ENOENT;
        }
        if (!next && errno == ENOENT && create) {
            // A client's and a folder's namespace directory are the server user's alone: other users of the
            // backup host must not read clients' files (docs/SECURITY.md). Directories below are mirrored,
            // and their modes come from the agent.
            const mode_t mode = level < mirrored_from ? 0700 : 0755;
            if (::mkdirat(current.get(), name.c_str(), mode) == 0) {
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
                return Error{protocol::ErrorCode::BadPath, "'" + name + "' is a symlink; not followed"};
            }
            return fs_error_from_errno(err, "open directory '" + name + "'");
        }
        current = std::move(next);
    }
    return current;
}

Result<ParentDir> open_parent_beneath(int root_fd, const std::string& client, const std::string& folder,
                                                     const std::string& path, bool create)
{
    std::vector<std::string_view> components = split_path(path);
    ParentDir parent;
    parent.name = std::string{components.back()};
    components.pop_back();
    components.insert(components.begin(), {client, folder});
    // Nearly always the directory is there already: one openat2 that refuses any symlink and any way
    // out of the root finds it. Only when that fails does the walk run, which creates what is missing,
    // replaces a mirrored file that is in the way, and says exactly what went wrong.
    std::string joined;
    for (const std::string_view component : components) {
        joined.append(joined.empty() ? "" : "/").append(component);
    }
    if (UniqueFd found{open_strictly_beneath(root_fd, joined.c_str(), O_RDONLY | O_DIRECTORY)}) {
        parent.fd = std::move(found);
        return parent;
    }
    auto dir = open_dir_beneath(root_fd, components, create, 2);
    if (!dir.ok()) {
        return dir.error();
    }
    parent.fd = std::move(dir.value());
    return parent;
}

} // namespace minisync::server
