// Running minisyncctl from a test: one child process, its exit code and everything it printed.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace minisync::test {

struct CtlResult {
    int exit_code = -1;
    std::string output; // stdout and stderr together
};

// Runs minisyncctl with args, its output going to log, and waits for it to exit; exit_code is -1 when it
// is still running at the deadline (it is killed then). With a prefix (a command such as setpriv and its
// arguments), minisyncctl runs under it.
CtlResult run_ctl(const std::vector<std::string>& args, const std::filesystem::path& log,
                  std::chrono::milliseconds deadline, const std::vector<std::string>& prefix = {});

} // namespace minisync::test
