// The one shape of a likely failure (docs/ARCHITECTURE.md "Errors"): an operation that can fail for
// reasons the environment controls (disk, network, peer data, TLS, configuration) returns Result<T>, a value
// or an Error. Error carries a code the protocol and metrics can use, a message for the log and, when a
// system call failed, its errno. Unlikely failures do not come back this way: they stop the process.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

namespace minisync {

// What went wrong, as a number a program can act on. The codes from 1 to 999 are the wire's error codes
// (protocol::ErrorCode is this type; the numbers are docs/PROTOCOL.md's and never change). The codes from
// 1000 on are local: they name failures that never cross the wire and are never put in an ERROR frame.
enum class ErrorCode : std::uint16_t {
    BadFrame = 1,
    UnsupportedVersion = 2,
    BadPath = 3,
    NotAllowed = 4,
    HashMismatch = 5,
    NoSpace = 6,
    PermissionDenied = 7,
    IoError = 8,
    UnknownRequest = 9,
    TooManyUploads = 10,
    Internal = 11,
    Conflict = 12,     // the path is taken by another kind of entry (a directory where a file should go)
    Busy = 13,         // another connection is uploading the same path; try later
    SizeMismatch = 14,
    NotFound = 15,     // RENAME: nothing at the source path
    FileTooLarge = 16, // UPLOAD_BEGIN: the size is over the server's --max-file-size

    Config = 1000,        // a config file or command line that cannot be used as written
    UnusableFile = 1001,  // a file the process needs (certificate, key, CA bundle) cannot be read or used
    State = 1002,         // the agent's state database failed (an SQLite error)
    DamagedState = 1003,  // the state database is not one this agent can read; moving it aside may help
    Control = 1004,       // a control request or reply that does not follow the control protocol
    Unreachable = 1005,   // the peer could not be reached or stopped answering (connect, timeout, EOF)
    Refused = 1006,       // the agent answered a control request with ok:false; the message is its reason
    Untrusted = 1007,     // a control socket another user may have put there, or one served by another user
};

// Short readable name ("no space", "state database"), for logs and metric labels.
const char* to_string(ErrorCode code) noexcept;

struct Error {
    ErrorCode code = ErrorCode::Internal;
    std::string message;  // for the log; names the object it concerns (a path, a folder, a peer)
    int errno_value = 0;  // when a system call failed, its errno; 0 otherwise
};

// Stops the process: a Result was read as the other alternative than it holds, a broken invariant.
[[noreturn]] void stop_on_wrong_result_access(const char* wanted) noexcept;

// A value of type T or the Error that prevented it. Check ok() before value() or error(): reading the
// alternative a Result does not hold stops the process.
template <typename T>
class [[nodiscard]] Result {
public:
    Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}
    Result(Error error) : state_(std::in_place_index<1>, std::move(error)) {}

    bool ok() const noexcept { return state_.index() == 0; }

    T& value() &
    {
        check(true);
        return std::get<0>(state_);
    }
    const T& value() const&
    {
        check(true);
        return std::get<0>(state_);
    }
    T&& value() &&
    {
        check(true);
        return std::get<0>(std::move(state_));
    }
    const Error& error() const
    {
        check(false);
        return std::get<1>(state_);
    }

private:
    void check(bool want_value) const
    {
        if (ok() != want_value) {
            stop_on_wrong_result_access(want_value ? "value()" : "error()");
        }
    }

    std::variant<T, Error> state_;
};

// An operation that has no value to give: success, or the Error.
template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Error error) : error_(std::move(error)) {}

    bool ok() const noexcept { return !error_; }
    const Error& error() const
    {
        if (!error_) {
            stop_on_wrong_result_access("error()");
        }
        return *error_;
    }

private:
    std::optional<Error> error_;
};

// For a constructor that sets the process up at start and has no other way to fail (Server, ServerLink):
// the value, or a std::runtime_error with the message, which main() prints before it exits 1.
template <typename T>
T value_or_throw(Result<T>&& result)
{
    if (!result.ok()) {
        throw std::runtime_error(result.error().message);
    }
    return std::move(result).value();
}

} // namespace minisync
