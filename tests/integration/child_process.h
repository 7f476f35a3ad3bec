// One child process started by a test: its log file, signals, exit status, and that it never outlives the test.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace minisync::test {

class ChildProcess {
public:
    // Starts binary with args (argv[0] is the binary). stdin is /dev/null; stdout and stderr both go to
    // log_path, which is truncated first. The child gets SIGKILL if the test process dies, so a crashed or
    // timed-out test leaves no daemon behind. open_file_limit, when given, is the child's soft and hard
    // RLIMIT_NOFILE (set in the child, so the test's own limit stays as it is). Throws std::runtime_error if
    // fork fails.
    ChildProcess(std::string binary, const std::vector<std::string>& args, std::filesystem::path log_path,
                 std::optional<std::uint64_t> open_file_limit = std::nullopt);
    // SIGKILLs and reaps a child that is still running.
    ~ChildProcess();
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    [[nodiscard]] pid_t pid() const noexcept { return pid_; }
    [[nodiscard]] const std::filesystem::path& log_path() const noexcept { return log_path_; }
    [[nodiscard]] const std::string& binary() const noexcept { return binary_; }

    // False when the child has already been reaped.
    bool send_signal(int signal_number);
    // The exit code, or 128 + the signal number when a signal ended it (the shell's convention);
    // nothing if it is still running when the deadline passes.
    std::optional<int> wait_for_exit(std::chrono::milliseconds deadline);
    // Reaps the child if it has exited; true while it runs.
    bool running();

    [[nodiscard]] std::string log_text() const;
    [[nodiscard]] bool log_contains(std::string_view text) const;
    [[nodiscard]] std::size_t log_count(std::string_view text) const;

private:
    // Non-blocking reap; records the status when the child has exited.
    void try_reap();

    std::string binary_;
    std::filesystem::path log_path_;
    pid_t pid_ = -1;
    std::optional<int> exit_status_;
};

} // namespace minisync::test
