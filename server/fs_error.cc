// errno to protocol error mapping for filesystem failures on the server.
#include "fs_error.h"

#include <cerrno>
#include <cstring>
#include <string>

namespace minisync::server {

Error fs_error_from_errno(int err, std::string_view what)
{
    using protocol::ErrorCode;
    Error error;
    error.errno_value = err;
    error.message = std::string{what} + ": " + std::strerror(err);
    switch (err) {
    case ENOSPC:
    case EDQUOT:
    case EFBIG: error.code = ErrorCode::NoSpace; break;
    case EACCES:
    case EPERM:
    case EROFS: error.code = ErrorCode::PermissionDenied; break;
    case ELOOP:
    case EXDEV: error.code = ErrorCode::BadPath; error.message = std::string{what} + ": path crosses a symlink"; break;
    case ENOTDIR:
    case EISDIR:
    case ENOTEMPTY:
    case EEXIST: error.code = ErrorCode::Conflict; break;
    case ENAMETOOLONG: error.code = ErrorCode::BadPath; break;
    default: error.code = ErrorCode::IoError; break;
    }
    return error;
}

} // namespace minisync::server
