// Identity checks on folder roots, their judgement against the recorded identity, and symlink-free lookups
// beneath them.
#include "folder_root.h"

#include "open_beneath.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cerrno>
#include <string>

namespace minisync::agent {

namespace {

// The identity of the directory at path below dir_fd (AT_EMPTY_PATH: dir_fd itself), symlinks followed;
// none when it is not a directory.
std::optional<RootIdentity> identity_of(int dir_fd, const char* path, int flags)
{
    struct statx stx{};
    if (::statx(dir_fd, path, flags | AT_STATX_SYNC_AS_STAT, STATX_TYPE | STATX_INO | STATX_BTIME, &stx) != 0 ||
        !S_ISDIR(stx.stx_mode)) {
        return std::nullopt;
    }
    RootIdentity identity{makedev(stx.stx_dev_major, stx.stx_dev_minor), static_cast<ino_t>(stx.stx_ino), 0};
    if ((stx.stx_mask & STATX_BTIME) != 0) {
        identity.birth_ns = static_cast<std::int64_t>(stx.stx_btime.tv_sec) * 1'000'000'000 + stx.stx_btime.tv_nsec;
    }
    return identity;
}

std::string describe(const RootIdentity& identity)
{
    return "device " + std::to_string(identity.device) + " inode " + std::to_string(identity.inode) +
           (identity.birth_ns != 0 ? " born " + std::to_string(identity.birth_ns) : std::string{});
}

} // namespace

bool same_root(const RootIdentity& recorded, const RootIdentity& found) noexcept
{
    return recorded.device == found.device && recorded.inode == found.inode &&
           (recorded.birth_ns == 0 || found.birth_ns == 0 || recorded.birth_ns == found.birth_ns);
}

std::optional<FolderRoot> identify_folder_root(const std::string& path)
{
    const std::optional<RootIdentity> identity = identity_of(AT_FDCWD, path.c_str(), 0);
    if (!identity) {
        return std::nullopt;
    }
    return FolderRoot{path, *identity};
}

RootVerdict judge_root(const std::string& path, const std::optional<FolderRoot>& found,
                       const std::optional<RootIdentity>& recorded)
{
    using State = RootVerdict::State;
    if (!found && !recorded) {
        return RootVerdict{State::Missing, false, "'" + path + "' does not exist or is not a directory"};
    }
    if (!found) {
        // The directory synced so far went (removed, moved away, unmounted with its mount point): whatever
        // appears there next is another one.
        return RootVerdict{State::Suspended, false,
                           "'" + path + "', the directory synced so far, is gone (removed, moved away or unmounted)"};
    }
    if (!recorded) {
        return RootVerdict{State::Present, true, {}};
    }
    if (same_root(*recorded, found->identity)) {
        return RootVerdict{};
    }
    return RootVerdict{State::Suspended, false,
                       "'" + path + "' is not the directory synced so far (" + describe(*recorded) + ", now " +
                           describe(found->identity) + "): an unmounted file system or a replaced folder"};
}

UniqueFd open_folder_root(const FolderRoot& root)
{
    UniqueFd fd{::open(root.path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC)};
    if (!fd) {
        return UniqueFd{};
    }
    const std::optional<RootIdentity> identity = identity_of(fd.get(), "", AT_EMPTY_PATH);
    if (!identity || !same_root(root.identity, *identity)) {
        return UniqueFd{};
    }
    return fd;
}

PathPresence check_path(const FolderRoot& root, const std::string& relative_path)
{
    const UniqueFd root_fd = open_folder_root(root);
    if (!root_fd) {
        return PathPresence::RootChanged;
    }
    const UniqueFd fd = open_beneath(root_fd.get(), relative_path.c_str(), O_PATH, root.mounts);
    if (!fd) {
        const int err = errno;
        if (err == EXDEV) {
            return PathPresence::OtherFileSystem; // a relative path without ".." leaves only through a mount
        }
        return (err == ENOENT || err == ENOTDIR || err == ELOOP) ? PathPresence::Absent : PathPresence::Unknown;
    }
    struct stat st{};
    if (::fstat(fd.get(), &st) != 0) {
        return PathPresence::Unknown;
    }
    if (S_ISREG(st.st_mode)) {
        return PathPresence::RegularFile;
    }
    return S_ISDIR(st.st_mode) ? PathPresence::Directory : PathPresence::Absent;
}

} // namespace minisync::agent
