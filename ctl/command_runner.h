// One minisyncctl invocation after its arguments were parsed: the exchange with the daemon, what is
// printed, and the exit code.
#pragma once

#include "control_protocol.h"

#include <chrono>
#include <iosfwd>
#include <string>

namespace minisync::ctl {

// The exit codes promised to scripts (docs/CONTROL.md "minisyncctl").
constexpr int ExitOk = 0;
constexpr int ExitDaemonError = 1;  // ok:false, or resync --wait with files that could not be synced
constexpr int ExitUsage = 2;        // bad arguments (main.cc decides these)
constexpr int ExitUnreachable = 3;  // no socket, refused, no reply, or a reply that is not one

// How long a command other than resync --wait waits for the connection and for the reply.
constexpr std::chrono::milliseconds ReplyTimeout{10'000};

struct CtlOptions {
    std::string socket_path; // empty: control::default_socket_path()
    bool json = false;       // print the daemon's reply line as it came
    bool debug = false;      // print the raw exchange on err
    control::Request request;
};

// Runs the request; results go to out, complaints to err. Returns one of the exit codes above.
int run_command(const CtlOptions& options, std::ostream& out, std::ostream& err);

} // namespace minisync::ctl
