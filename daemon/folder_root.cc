// Identity checks on folder roots and symlink-free lookups beneath them.
#include "folder_root.h"

#include "open_beneath.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>

namespace minisync::agent {

std::optional<FolderRoot> identify_folder_root(const std::string& path)
{
    struct stat st{};
    if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        return std::nullopt;
    }
    return FolderRoot{path, st.st_dev, st.st_ino};
}

UniqueFd open_folder_root(const FolderRoot& root)
{
    UniqueFd fd{::open(root.path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC)};
    struct stat st{};
    if (!fd || ::fstat(fd.get(), &st) != 0 || st.st_dev != root.device || st.st_ino != root.inode) {
        return UniqueFd{};
    }
    return fd;
}

PathPresence check_path(const FolderRoot& root, const std::string& relative_path)
{
    const UniqueFd root_fd = open_folder_root(root);
    if (!root_fd) {
        return PathPresence::Unknown;
    }
    const UniqueFd fd = open_beneath(root_fd.get(), relative_path.c_str(), O_PATH);
    if (!fd) {
        const int err = errno;
        return (err == ENOENT || err == ENOTDIR || err == ELOOP || err == EXDEV) ? PathPresence::Absent
                                                                                : PathPresence::Unknown;
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
