// minisyncctl's side of the control socket: connect, send one request line, wait for one reply line.
#pragma once

#include "control_protocol.h"
#include "result.h"
#include "unique_fd.h"

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace minisync::ctl {

class ControlClient {
public:
    // Connects to the Unix socket at path, waiting at most timeout for the daemon to accept. On failure
    // an Error (code Unreachable, with the errno when a call failed) whose message is a reason fit for
    // "cannot reach minisyncd at 'PATH': <reason>".
    static Result<ControlClient> connect(const std::string& path, std::chrono::milliseconds timeout);

    // Sends one request line (with its "\n") and returns the reply line, without its "\n". reply_timeout
    // bounds the wait for the reply; nothing means wait as long as it takes (resync --wait). On failure
    // (timeout, closed connection, reply over MaxReplyLine) an Error with code Unreachable.
    Result<std::string> exchange(std::string_view request_line, std::optional<std::chrono::milliseconds> reply_timeout);

private:
    explicit ControlClient(UniqueFd&& fd) : fd_{std::move(fd)} {}

    UniqueFd fd_;
    control::LineReader reader_{control::MaxReplyLine};
};

} // namespace minisync::ctl
