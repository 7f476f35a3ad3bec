// Deleting a file or symlink beneath a client's namespace on behalf of its agent. Blocking; runs on
// the path's strand.
#pragma once

#include "fs_error.h"

#include <optional>
#include <string>

namespace minisync::server {

// Removes <root>/<client>/<folder>/<path> and any partial upload of it, then fsyncs the directory.
// A path that does not exist is not an error (the delete already happened). A directory is a CONFLICT.
std::optional<FsError> remove_file_beneath(int root_fd, const std::string& client, const std::string& folder,
                                           const std::string& path);

} // namespace minisync::server
