// A filesystem failure as the server reports it to an agent: protocol error code plus readable text.
#pragma once

#include "protocol.h"

#include <string>
#include <string_view>

namespace minisync::server {

struct FsError {
    protocol::ErrorCode code = protocol::ErrorCode::IoError;
    std::string message;
    int errno_value = 0; // when the failure came from a system call
};

// Maps errno to the code an agent can act on (no space, permission, conflict, bad path, I/O).
FsError fs_error_from_errno(int err, std::string_view what);

} // namespace minisync::server
