// Filesystem failures on the server, as the Error (common/result.h) an agent is sent: the errno of the
// failed call mapped to a protocol error code, plus readable text.
#pragma once

#include "protocol.h"
#include "result.h"

#include <string_view>

namespace minisync::server {

// Maps errno to the code an agent can act on (no space, permission, conflict, bad path, I/O).
Error fs_error_from_errno(int err, std::string_view what);

} // namespace minisync::server
