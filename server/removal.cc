// unlinkat beneath the namespace, never following a symlink on the way.
#include "removal.h"

#include "beneath.h"
#include "path_rules.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

namespace minisync::server {

std::optional<FsError> remove_file_beneath(int root_fd, const std::string& client, const std::string& folder,
                                           const std::string& path)
{
    std::vector<std::string_view> components = split_path(path);
    const std::string name{components.back()};
    components.pop_back();
    components.insert(components.begin(), {client, folder});
    auto dir = open_dir_beneath(root_fd, components, false);
    if (auto* error = std::get_if<FsError>(&dir)) {
        // A missing parent means the file is gone already; a symlink on the way is still refused.
        if (error->errno_value == ENOENT || error->errno_value == ENOTDIR) {
            return std::nullopt;
        }
        return std::move(*error);
    }
    const UniqueFd& dir_fd = std::get<UniqueFd>(dir);
    bool changed = ::unlinkat(dir_fd.get(), partial_name_for(name).c_str(), 0) == 0;
    struct stat st{};
    if (::fstatat(dir_fd.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (S_ISDIR(st.st_mode)) {
            return FsError{protocol::ErrorCode::Conflict, "'" + path + "' is a directory on the server"};
        }
        if (::unlinkat(dir_fd.get(), name.c_str(), 0) != 0 && errno != ENOENT) {
            return fs_error_from_errno(errno, "remove '" + path + "'");
        }
        changed = true;
    }
    if (changed && ::fsync(dir_fd.get()) != 0) {
        return fs_error_from_errno(errno, "fsync directory of '" + path + "'");
    }
    return std::nullopt;
}

} // namespace minisync::server
