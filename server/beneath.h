// Directory walks confined beneath an open directory: one validated component at a time, never
// following a symlink, so no name from the network can lead outside the client's namespace.
#pragma once

#include "fs_error.h"
#include "unique_fd.h"

#include <span>
#include <string_view>
#include <variant>

namespace minisync::server {

// Opens base/components[0]/components[1]/..., creating missing directories (mode 0755) when create is
// set. Each component must already be validated; a symlink or non-directory on the way is an error.
std::variant<UniqueFd, FsError> open_dir_beneath(int base_fd, std::span<const std::string_view> components,
                                                 bool create);

} // namespace minisync::server
