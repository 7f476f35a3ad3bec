// Names of the error codes, and the stop for a Result read the wrong way.
#include "result.h"

#include <cstdio>
#include <cstdlib>

namespace minisync {

const char* to_string(ErrorCode code) noexcept
{
    switch (code) {
    case ErrorCode::BadFrame: return "bad frame";
    case ErrorCode::UnsupportedVersion: return "unsupported version";
    case ErrorCode::BadPath: return "bad path";
    case ErrorCode::NotAllowed: return "not allowed";
    case ErrorCode::HashMismatch: return "hash mismatch";
    case ErrorCode::NoSpace: return "no space";
    case ErrorCode::PermissionDenied: return "permission denied";
    case ErrorCode::IoError: return "I/O error";
    case ErrorCode::UnknownRequest: return "unknown request";
    case ErrorCode::TooManyUploads: return "too many uploads";
    case ErrorCode::Internal: return "internal error";
    case ErrorCode::Conflict: return "conflict";
    case ErrorCode::Busy: return "busy";
    case ErrorCode::SizeMismatch: return "size mismatch";
    case ErrorCode::NotFound: return "not found";
    case ErrorCode::FileTooLarge: return "file too large";
    case ErrorCode::Config: return "config";
    case ErrorCode::UnusableFile: return "unusable file";
    case ErrorCode::State: return "state database";
    case ErrorCode::DamagedState: return "damaged state database";
    case ErrorCode::Control: return "control protocol";
    case ErrorCode::Unreachable: return "unreachable";
    case ErrorCode::Refused: return "refused";
    case ErrorCode::Untrusted: return "untrusted";
    }
    return "unknown error";
}

void stop_on_wrong_result_access(const char* wanted) noexcept
{
    std::fprintf(stderr, "minisync: Result::%s read from a Result that does not hold it\n", wanted);
    std::abort();
}

} // namespace minisync
