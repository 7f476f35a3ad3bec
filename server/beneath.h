// Directory walks confined beneath an open directory: one validated component at a time, never
// following a symlink, so no name from the network can lead outside the client's namespace.
#pragma once

#include "fs_error.h"
#include "unique_fd.h"

#include <cstddef>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <variant>

namespace minisync::server {

// Opens base/components[0]/components[1]/..., creating missing directories when create is set: 0700 at
// the server's own levels, 0755 at mirrored ones (the agent's mode follows). Each component must already
// be validated.
// From index mirrored_from on, the components are the agent's mirrored entries: there a symlink or
// file in the way is replaced by a directory when creating (the agent has a directory there), and
// otherwise reported as absent (errno_value ENOTDIR). Before it, they are the server's own levels,
// where a symlink is refused as BadPath and never touched.
Result<UniqueFd> open_dir_beneath(int base_fd, std::span<const std::string_view> components,
                                                 bool create,
                                                 std::size_t mirrored_from = std::numeric_limits<std::size_t>::max());

// The directory that holds <client>/<folder>/<path>, opened readable (for fsync), and the last
// component of path. path must be a validated relative path.
struct ParentDir {
    UniqueFd fd;
    std::string name;
};
Result<ParentDir> open_parent_beneath(int root_fd, const std::string& client, const std::string& folder,
                                                     const std::string& path, bool create);

} // namespace minisync::server
