// fork/exec of test children with their output in a log file, and their reaping.
#include "child_process.h"

#include "wait_for.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace minisync::test {
namespace {

int status_to_exit_code(int status)
{
    if (WIFEXITED(status)) {
        return WEXITSTATUS(status);
    }
    if (WIFSIGNALED(status)) {
        return 128 + WTERMSIG(status);
    }
    return -1;
}

} // namespace

ChildProcess::ChildProcess(std::string binary, const std::vector<std::string>& args, std::filesystem::path log_path,
                           std::optional<std::uint64_t> open_file_limit)
    : binary_{std::move(binary)}, log_path_{std::move(log_path)}
{
    // Everything the child needs is prepared before fork: between fork and exec only async-signal-safe
    // calls are allowed.
    std::vector<std::string> argv_storage;
    argv_storage.push_back(binary_);
    argv_storage.insert(argv_storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& arg : argv_storage) {
        argv.push_back(arg.data());
    }
    argv.push_back(nullptr);
    const std::string log = log_path_.string();
    const pid_t parent = ::getpid();

    pid_ = ::fork();
    if (pid_ < 0) {
        throw std::runtime_error("fork for '" + binary_ + "': " + std::strerror(errno));
    }
    if (pid_ == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) {
            ::_exit(127); // the test died before the death signal was armed
        }
        // A disposition the test process set (SIGPIPE ignored for its raw TLS client) survives exec.
        ::signal(SIGPIPE, SIG_DFL);
        const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        const int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (out < 0 || in < 0 || ::dup2(in, STDIN_FILENO) < 0 || ::dup2(out, STDOUT_FILENO) < 0 ||
            ::dup2(out, STDERR_FILENO) < 0) {
            ::_exit(127);
        }
        if (open_file_limit) {
            const rlimit files{*open_file_limit, *open_file_limit};
            if (::setrlimit(RLIMIT_NOFILE, &files) != 0) {
                ::_exit(127);
            }
        }
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
}

ChildProcess::~ChildProcess()
{
    try_reap();
    if (!exit_status_) {
        ::kill(pid_, SIGKILL);
        int status = 0;
        while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
    }
}

void ChildProcess::try_reap()
{
    if (exit_status_) {
        return;
    }
    int status = 0;
    const pid_t reaped = ::waitpid(pid_, &status, WNOHANG);
    if (reaped == pid_) {
        exit_status_ = status_to_exit_code(status);
    }
}

bool ChildProcess::running()
{
    try_reap();
    return !exit_status_;
}

bool ChildProcess::send_signal(int signal_number)
{
    try_reap();
    return !exit_status_ && ::kill(pid_, signal_number) == 0;
}

std::optional<int> ChildProcess::wait_for_exit(std::chrono::milliseconds deadline)
{
    wait_for([this] { return !running(); }, deadline);
    return exit_status_;
}

std::string ChildProcess::log_text() const
{
    std::ifstream in{log_path_, std::ios::binary};
    return std::string{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
}

bool ChildProcess::log_contains(std::string_view text) const
{
    return log_text().find(text) != std::string::npos;
}

std::size_t ChildProcess::log_count(std::string_view text) const
{
    if (text.empty()) {
        return 0;
    }
    const std::string log = log_text();
    std::size_t count = 0;
    for (std::size_t at = log.find(text); at != std::string::npos; at = log.find(text, at + text.size())) {
        ++count;
    }
    return count;
}

} // namespace minisync::test
