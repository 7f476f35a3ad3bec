// The house rule for libevent and OpenSSL calls that fail only when the process is out of memory or its
// event loop is broken (docs/ARCHITECTURE.md "Errors"): such a failure is logged as critical, naming the
// call and where it was made, and the process stops instead of serving on in an unknown state.
#pragma once

namespace minisync {

// Where a call was made. The compiler builtins, not std::source_location: clang 14 (the fuzz build)
// cannot use libstdc++ 12's <source_location>.
struct CallSite {
    const char* file;
    int line;
    const char* function;
};

[[noreturn]] void stop_after_failed_call(const char* call, CallSite where) noexcept;

// succeeded is the caller's reading of the call's result, since libevent returns 0, OpenSSL 1 and the
// evbuffer copies a byte count on success.
inline void must_succeed(bool succeeded, const char* call, const char* file = __builtin_FILE(),
                         int line = __builtin_LINE(), const char* function = __builtin_FUNCTION()) noexcept
{
    if (!succeeded) {
        stop_after_failed_call(call, CallSite{file, line, function});
    }
}

} // namespace minisync
