// mkdirat/symlinkat/renameat beneath the namespace, each followed by fsync of the directories it changed.
#include "entry_ops.h"

#include "beneath.h"
#include "mirrored_metadata.h"
#include "path_rules.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <variant>

namespace minisync::server {
namespace {

using protocol::ErrorCode;

Result<void> fsync_dir(int dir_fd, const std::string& path)
{
    if (::fsync(dir_fd) != 0) {
        return fs_error_from_errno(errno, "fsync directory of '" + path + "'");
    }
    return {};
}

// Clears the way for a non-directory entry: an empty directory goes, one with contents is a conflict the
// agent resolves by removing that tree first.
Result<void> clear_directory_at(int dir_fd, const std::string& name, const std::string& path)
{
    struct stat st{};
    if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode)) {
        return {};
    }
    if (::unlinkat(dir_fd, name.c_str(), AT_REMOVEDIR) != 0) {
        return Error{ErrorCode::Conflict, "'" + path + "' is a directory on the server", errno};
    }
    return {};
}

} // namespace

std::optional<std::string> check_symlink_target(const std::string& target)
{
    if (target.empty()) {
        return "empty symlink target";
    }
    if (target.size() > MaxRelativePathBytes) {
        return "symlink target longer than " + std::to_string(MaxRelativePathBytes) + " bytes";
    }
    if (target.find('\0') != std::string::npos) {
        return "symlink target contains a NUL byte";
    }
    return std::nullopt;
}

Result<void> make_directory(int root_fd, const EntryPlace& place, std::uint32_t mode, std::int64_t mtime_ns)
{
    auto opened = open_parent_beneath(root_fd, place.client, place.folder, place.path, true);
    if (!opened.ok()) {
        return opened.error();
    }
    const ParentDir& parent = opened.value();
    constexpr int DirFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    UniqueFd dir{::openat(parent.fd.get(), parent.name.c_str(), DirFlags)};
    if (!dir) {
        if (errno == ELOOP || errno == ENOTDIR) {
            // A file or symlink where the agent has a directory: replaced, never followed.
            if (::unlinkat(parent.fd.get(), parent.name.c_str(), 0) != 0 && errno != ENOENT) {
                return fs_error_from_errno(errno, "replace '" + place.path + "' by a directory");
            }
        } else if (errno != ENOENT) {
            return fs_error_from_errno(errno, "open directory '" + place.path + "'");
        }
        if (::mkdirat(parent.fd.get(), parent.name.c_str(), 0700) != 0 && errno != EEXIST) {
            return fs_error_from_errno(errno, "mkdir '" + place.path + "'");
        }
        if (Result<void> done = fsync_dir(parent.fd.get(), place.path); !done.ok()) {
            return done;
        }
        dir.reset(::openat(parent.fd.get(), parent.name.c_str(), DirFlags));
        if (!dir) {
            return fs_error_from_errno(errno, "open directory '" + place.path + "'");
        }
    }
    const mode_t wanted = (static_cast<mode_t>(mode) & MirroredModeBits) | DirectoryOwnerBits;
    const timespec times[2] = {timespec{0, UTIME_OMIT}, to_timespec(mtime_ns)};
    if (::fchmod(dir.get(), wanted) != 0 || ::futimens(dir.get(), times) != 0 || ::fsync(dir.get()) != 0) {
        return fs_error_from_errno(errno, "set mode/mtime of directory '" + place.path + "'");
    }
    return {};
}

Result<void> make_symlink(int root_fd, const EntryPlace& place, const std::string& target,
                                    std::int64_t mtime_ns)
{
    auto opened = open_parent_beneath(root_fd, place.client, place.folder, place.path, true);
    if (!opened.ok()) {
        return opened.error();
    }
    const ParentDir& parent = opened.value();
    if (Result<void> done = clear_directory_at(parent.fd.get(), parent.name, place.path); !done.ok()) {
        return done;
    }
    // Made under a reserved hidden name and renamed into place, so the final name never lacks an entry.
    // Its own name, distinct from the partial of a file upload to the same path.
    const std::string temporary = partial_name_for(parent.name + '\0' + "symlink");
    ::unlinkat(parent.fd.get(), temporary.c_str(), 0);
    if (::symlinkat(target.c_str(), parent.fd.get(), temporary.c_str()) != 0) {
        return fs_error_from_errno(errno, "create symlink '" + place.path + "'");
    }
    const timespec times[2] = {timespec{0, UTIME_OMIT}, to_timespec(mtime_ns)};
    if (::utimensat(parent.fd.get(), temporary.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0 ||
        ::renameat(parent.fd.get(), temporary.c_str(), parent.fd.get(), parent.name.c_str()) != 0) {
        Error error = fs_error_from_errno(errno, "put symlink '" + place.path + "' in place");
        ::unlinkat(parent.fd.get(), temporary.c_str(), 0);
        return error;
    }
    return fsync_dir(parent.fd.get(), place.path);
}

Result<void> rename_entry(int root_fd, const EntryPlace& from, const std::string& to)
{
    auto source = open_parent_beneath(root_fd, from.client, from.folder, from.path, false);
    if (!source.ok()) {
        if (source.error().errno_value == ENOENT || source.error().errno_value == ENOTDIR) {
            return Error{ErrorCode::NotFound, "nothing at '" + from.path + "'", ENOENT};
        }
        return source.error();
    }
    const ParentDir& source_dir = source.value();
    struct stat st{};
    if (::fstatat(source_dir.fd.get(), source_dir.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) {
            return Error{ErrorCode::NotFound, "nothing at '" + from.path + "'", ENOENT};
        }
        return fs_error_from_errno(errno, "stat '" + from.path + "'");
    }
    auto target = open_parent_beneath(root_fd, from.client, from.folder, to, true);
    if (!target.ok()) {
        return target.error();
    }
    const ParentDir& target_dir = target.value();
    if (::renameat(source_dir.fd.get(), source_dir.name.c_str(), target_dir.fd.get(), target_dir.name.c_str()) != 0) {
        const int err = errno;
        if (err == EINVAL) { // a directory into itself: no agent asks this of a real tree
            return Error{ErrorCode::BadPath, "cannot move '" + from.path + "' into itself", err};
        }
        return fs_error_from_errno(err, "rename '" + from.path + "' to '" + to + "'");
    }
    if (Result<void> done = fsync_dir(target_dir.fd.get(), to); !done.ok()) {
        return done;
    }
    return fsync_dir(source_dir.fd.get(), from.path);
}

} // namespace minisync::server
