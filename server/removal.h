// Deleting a file, or a whole directory tree, beneath a client's namespace on behalf of its agent.
// Blocking; runs on the path's strand.
#pragma once

#include "fs_error.h"
#include "protocol.h"

#include <atomic>
#include <optional>
#include <string>

namespace minisync::server {

// Removes <root>/<client>/<folder>/<path> and any partial upload of it, then fsyncs the directory.
// A path that does not exist is not an error (the delete already happened). With RemoveKind::File a
// directory found there is left as it is; with RemoveKind::Tree it goes with everything beneath it,
// symlinks removed as links and never followed.
// A tree removal gives up, unfinished and retryable, once stop is set.
Result<void> remove_beneath(int root_fd, const std::string& client, const std::string& folder,
                                      const std::string& path, protocol::RemoveKind kind,
                                      const std::atomic<bool>& stop);

} // namespace minisync::server
