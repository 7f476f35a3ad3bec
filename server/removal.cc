// unlinkat beneath the namespace, and an iterative tree removal that never follows a symlink and keeps
// at most a few descriptors open whatever the depth.
#include "removal.h"

#include "beneath.h"
#include "dir_stream.h"
#include "open_beneath.h"
#include "path_rules.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

namespace minisync::server {
namespace {

// Empties the directory `name` in parent_fd, deepest directories first, then removes it.
Result<void> remove_tree(int parent_fd, const std::string& name, const std::string& display,
                                   const std::atomic<bool>& stop)
{
    const Error stopped{protocol::ErrorCode::IoError, "server shutting down; removal of '" + display + "' unfinished"};
    const UniqueFd top{::openat(parent_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)};
    if (!top) {
        return fs_error_from_errno(errno, "open '" + display + "'");
    }
    // Every directory below, parents before children; each is reopened from `top` when its turn comes.
    std::vector<std::string> dirs{"."};
    for (std::size_t i = 0; i < dirs.size(); ++i) {
        if (stop) {
            return stopped;
        }
        UniqueFd fd = open_beneath(top.get(), dirs[i].c_str(), O_RDONLY | O_DIRECTORY);
        if (!fd) {
            return fs_error_from_errno(errno, "open '" + display + "/" + dirs[i] + "'");
        }
        const DirStream dir = open_dir_stream(std::move(fd));
        if (!dir) {
            return fs_error_from_errno(errno, "read '" + display + "/" + dirs[i] + "'");
        }
        while (const dirent* entry = ::readdir(dir.get())) {
            const char* child = entry->d_name;
            if (std::strcmp(child, ".") == 0 || std::strcmp(child, "..") == 0) {
                continue;
            }
            struct stat st{};
            if (::fstatat(::dirfd(dir.get()), child, &st, AT_SYMLINK_NOFOLLOW) != 0) {
                continue;
            }
            if (S_ISDIR(st.st_mode)) {
                dirs.push_back(dirs[i] == "." ? std::string{child} : dirs[i] + "/" + child);
            } else if (::unlinkat(::dirfd(dir.get()), child, 0) != 0 && errno != ENOENT) {
                return fs_error_from_errno(errno, "remove '" + display + "/" + dirs[i] + "/" + child + "'");
            }
        }
    }
    for (std::size_t i = dirs.size(); i-- > 1;) {
        if (stop) {
            return stopped;
        }
        const std::string& relative = dirs[i];
        const std::size_t slash = relative.rfind('/');
        const std::string parent = slash == std::string::npos ? "." : relative.substr(0, slash);
        const UniqueFd parent_fd = open_beneath(top.get(), parent.c_str(), O_RDONLY | O_DIRECTORY);
        const std::string leaf = relative.substr(slash == std::string::npos ? 0 : slash + 1);
        if (!parent_fd || (::unlinkat(parent_fd.get(), leaf.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)) {
            return fs_error_from_errno(errno, "remove directory '" + display + "/" + relative + "'");
        }
    }
    if (::unlinkat(parent_fd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
        return fs_error_from_errno(errno, "remove directory '" + display + "'");
    }
    return {};
}

} // namespace

Result<void> remove_beneath(int root_fd, const std::string& client, const std::string& folder,
                                      const std::string& path, protocol::RemoveKind kind,
                                      const std::atomic<bool>& stop)
{
    auto parent = open_parent_beneath(root_fd, client, folder, path, false);
    if (!parent.ok()) {
        // A missing parent, or a file or symlink where it would be, means the entry is gone already; a
        // symlink planted at the client or folder level is still refused.
        if (parent.error().errno_value == ENOENT || parent.error().errno_value == ENOTDIR) {
            return {};
        }
        return parent.error();
    }
    const UniqueFd& dir_fd = parent.value().fd;
    const std::string& name = parent.value().name;
    bool changed = ::unlinkat(dir_fd.get(), partial_name_for(name).c_str(), 0) == 0;
    struct stat st{};
    if (::fstatat(dir_fd.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (S_ISDIR(st.st_mode)) {
            if (kind == protocol::RemoveKind::Tree) {
                if (Result<void> done = remove_tree(dir_fd.get(), name, path, stop); !done.ok()) {
                    return done;
                }
                changed = true;
            }
        } else {
            if (::unlinkat(dir_fd.get(), name.c_str(), 0) != 0 && errno != ENOENT) {
                return fs_error_from_errno(errno, "remove '" + path + "'");
            }
            changed = true;
        }
    }
    if (changed && ::fsync(dir_fd.get()) != 0) {
        return fs_error_from_errno(errno, "fsync directory of '" + path + "'");
    }
    return {};
}

} // namespace minisync::server
