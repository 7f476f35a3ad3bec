// The house rule for libevent and OpenSSL calls that fail only when the process is out of memory or its
// event loop is broken (docs/ARCHITECTURE.md "Errors"): such a failure is logged as critical, naming the
// call and where it was made, and the process stops instead of serving on in an unknown state.
#pragma once

#include <source_location>

namespace minisync {

[[noreturn]] void stop_after_failed_call(const char* call, std::source_location where) noexcept;

// succeeded is the caller's reading of the call's result, since libevent returns 0, OpenSSL 1 and the
// evbuffer copies a byte count on success.
inline void must_succeed(bool succeeded, const char* call,
                         std::source_location where = std::source_location::current()) noexcept
{
    if (!succeeded) {
        stop_after_failed_call(call, where);
    }
}

} // namespace minisync
