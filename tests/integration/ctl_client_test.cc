// The real minisyncctl binary against no daemon, and against a scripted stand-in on a Unix socket: exit
// codes, what it prints, and the request lines it sends. Tests against a live minisyncd live elsewhere.
#include "control_protocol.h"
#include "ctl_runner.h"
#include "sandbox.h"
#include "unique_fd.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace minisync::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

UniqueFd bound_socket(const fs::path& path)
{
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    const std::string text = path.string();
    if (text.size() >= sizeof address.sun_path) {
        throw std::runtime_error("socket path too long: " + text);
    }
    std::memcpy(address.sun_path, text.data(), text.size());
    UniqueFd fd{::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)};
    if (!fd || ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
        throw std::runtime_error("bind '" + text + "': " + std::strerror(errno));
    }
    return fd;
}

// Stands in for minisyncd: accepts one connection, reads one request line and answers with a fixed reply
// (an empty reply closes the connection without one). A refusing fake answers without reading, then
// closes, as minisyncd does with a peer it does not accept.
class FakeDaemon {
public:
    enum class Mode { Answer, Refuse };

    FakeDaemon(const fs::path& path, std::string reply, Mode mode = Mode::Answer)
        : listener_{bound_socket(path)}, reply_{std::move(reply)}, mode_{mode}
    {
        if (::listen(listener_.get(), 4) != 0) {
            throw std::runtime_error(std::string{"listen: "} + std::strerror(errno));
        }
        thread_ = std::thread{[this] { serve(); }};
    }
    ~FakeDaemon()
    {
        stop_ = true;
        thread_.join();
    }
    FakeDaemon(const FakeDaemon&) = delete;
    FakeDaemon& operator=(const FakeDaemon&) = delete;

    // The request line received (without its "\n"), once there is one.
    std::optional<std::string> request() const
    {
        const std::lock_guard lock{mutex_};
        return request_;
    }

private:
    // Polls in short steps so the destructor never waits on a client that did not come.
    bool wait_readable(int fd)
    {
        while (!stop_) {
            pollfd entry{fd, POLLIN, 0};
            if (::poll(&entry, 1, 50) > 0) {
                return true;
            }
        }
        return false;
    }

    void serve()
    {
        if (!wait_readable(listener_.get())) {
            return;
        }
        const UniqueFd connection{::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC)};
        if (!connection) {
            return;
        }
        if (mode_ == Mode::Refuse) {
            (void)::send(connection.get(), reply_.data(), reply_.size(), MSG_NOSIGNAL);
            return;
        }
        std::string received;
        char chunk[4096];
        while (received.find('\n') == std::string::npos && wait_readable(connection.get())) {
            const ssize_t got = ::recv(connection.get(), chunk, sizeof chunk, 0);
            if (got <= 0) {
                return;
            }
            received.append(chunk, static_cast<std::size_t>(got));
        }
        {
            const std::lock_guard lock{mutex_};
            request_ = received.substr(0, received.find('\n'));
        }
        if (!reply_.empty()) {
            (void)::send(connection.get(), reply_.data(), reply_.size(), MSG_NOSIGNAL);
        }
    }

    UniqueFd listener_;
    std::string reply_;
    Mode mode_;
    std::atomic<bool> stop_{false};
    mutable std::mutex mutex_;
    std::optional<std::string> request_;
    std::thread thread_; // last: started once everything it reads exists
};

// Sets or unsets an environment variable for the scope; children started meanwhile inherit it.
class ScopedEnv {
public:
    ScopedEnv(const char* name, const char* value) : name_{name}
    {
        if (const char* old = std::getenv(name)) {
            old_ = old;
        }
        if (value != nullptr) {
            ::setenv(name, value, 1);
        } else {
            ::unsetenv(name);
        }
    }
    ~ScopedEnv()
    {
        if (old_) {
            ::setenv(name_, old_->c_str(), 1);
        } else {
            ::unsetenv(name_);
        }
    }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;

private:
    const char* name_;
    std::optional<std::string> old_;
};

class CtlClientTest : public ::testing::Test {
protected:
    // Runs minisyncctl with args and waits for it to exit.
    CtlResult run_ctl(const std::vector<std::string>& args)
    {
        CtlResult result = test::run_ctl(args, sandbox() / ("ctl-" + std::to_string(++runs_) + ".log"), 30s);
        EXPECT_NE(result.exit_code, -1) << "minisyncctl did not exit";
        return result;
    }

    // Runs minisyncctl --socket <the fake's socket> args against a fake daemon answering reply.
    CtlResult run_against(const std::string& reply, const std::vector<std::string>& args, std::string* request = nullptr)
    {
        const fs::path path = sandbox() / ("fake-" + std::to_string(runs_ + 1) + ".sock");
        FakeDaemon daemon{path, reply};
        std::vector<std::string> full{"--socket", path.string()};
        full.insert(full.end(), args.begin(), args.end());
        CtlResult result = run_ctl(full);
        if (request != nullptr) {
            *request = daemon.request().value_or("(none)");
        }
        return result;
    }

    [[nodiscard]] const fs::path& sandbox() const noexcept { return sandbox_.path(); }

    static control::StatusReply sample_status()
    {
        control::StatusReply status;
        status.version = "0.1.0";
        status.uptime_seconds = 3 * 3600 + 12 * 60;
        status.connected = true;
        status.server = "backup.example.org:7443";
        status.queue_depth = 12;
        status.inflight = {{"photos/2024/img001.jpg", 12582912, 27787264}};
        status.files_synced = 1234;
        status.bytes_sent = 5690831667ULL;
        status.folders = {{"photos", "/home/u/Pictures", false, 10, std::nullopt, "syncing"},
                          {"docs", "/home/u/Documents", true, 2, std::nullopt, "paused"}};
        return status;
    }

private:
    Sandbox sandbox_;
    int runs_ = 0;
};

TEST_F(CtlClientTest, MissingSocketExits3NamingThePath)
{
    const std::string path = (sandbox() / "nobody-here.sock").string();
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"--socket", path, "status"}, {"status", "--socket", path, "--json"},
          {"--socket", path, "pause", "docs"}, {"--socket", path, "resync", "--wait"}}) {
        const CtlResult run = run_ctl(args);
        EXPECT_EQ(run.exit_code, 3) << run.output;
        EXPECT_NE(run.output.find("'" + path + "'"), std::string::npos) << run.output;
    }
}

TEST_F(CtlClientTest, StaleSocketExits3)
{
    // Bound but not listening, as a socket left behind by a daemon that died: connect is refused.
    const fs::path path = sandbox() / "stale.sock";
    const UniqueFd stale = bound_socket(path);
    const CtlResult run = run_ctl({"--socket", path.string(), "status"});
    EXPECT_EQ(run.exit_code, 3) << run.output;
    EXPECT_NE(run.output.find("refused"), std::string::npos) << run.output;
}

TEST_F(CtlClientTest, UsageErrorsExit2)
{
    const std::string path = (sandbox() / "unused.sock").string();
    for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
             {},
             {"--socket", path},
             {"--socket", path, "frobnicate"},
             {"--socket", path, "status", "extra"},
             {"--socket", path, "pause", "a", "b"},
             {"--socket", path, "pause", ""},
             {"--socket", path, "status", "--wait"},
             {"--socket", path, "pause", "--wait"},
             {"--socket", path, "--bogus", "status"},
             {"--socket", "", "status"},
             {"status", "--socket"},
         }) {
        const CtlResult run = run_ctl(args);
        std::string joined;
        for (const std::string& arg : args) {
            joined += " '" + arg + "'";
        }
        EXPECT_EQ(run.exit_code, 2) << "minisyncctl" << joined << ":\n" << run.output;
        EXPECT_FALSE(run.output.empty()) << joined;
    }
}

TEST_F(CtlClientTest, HelpExits0)
{
    const CtlResult run = run_ctl({"--help"});
    EXPECT_EQ(run.exit_code, 0) << run.output;
    EXPECT_NE(run.output.find("resync"), std::string::npos) << run.output;
}

TEST_F(CtlClientTest, StatusIsHumanReadable)
{
    std::string request;
    const CtlResult run = run_against(control::encode_status(sample_status()), {"status"}, &request);
    EXPECT_EQ(run.exit_code, 0) << run.output;
    EXPECT_EQ(request, R"({"command":"status"})");
    EXPECT_EQ(run.output, "minisyncd 0.1.0 \u2014 running, connected to backup.example.org:7443 (up 3h12m)\n"
                          "queue 12, 1 in flight, 1,234 files synced, 5.3 GiB sent\n"
                          "  photos  /home/u/Pictures   syncing  pending 10\n"
                          "  docs    /home/u/Documents  paused   pending 2\n"
                          "in flight:\n"
                          "  photos/2024/img001.jpg   45%  12.0 MiB / 26.5 MiB\n");
}

TEST_F(CtlClientTest, StatusJsonPrintsTheReplyAsItCame)
{
    const std::string reply = control::encode_status(sample_status());
    const CtlResult before = run_against(reply, {"--json", "status"});
    EXPECT_EQ(before.exit_code, 0) << before.output;
    EXPECT_EQ(before.output, reply);
    const CtlResult after = run_against(reply, {"status", "--json"});
    EXPECT_EQ(after.exit_code, 0) << after.output;
    EXPECT_EQ(after.output, reply);
}

TEST_F(CtlClientTest, PauseResumeResyncSendTheirRequests)
{
    std::string request;
    CtlResult run = run_against(control::encode_folders({{"photos", "docs"}, std::nullopt}), {"pause"}, &request);
    EXPECT_EQ(run.exit_code, 0) << run.output;
    EXPECT_EQ(request, R"({"command":"pause"})");
    EXPECT_EQ(run.output, "paused: photos, docs\n");

    run = run_against(control::encode_folders({{"docs"}, std::nullopt}), {"resume", "docs"}, &request);
    EXPECT_EQ(run.exit_code, 0) << run.output;
    EXPECT_EQ(request, R"({"command":"resume","folder":"docs"})");
    EXPECT_EQ(run.output, "resumed: docs\n");

    run = run_against(control::encode_folders({{"docs"}, std::nullopt}), {"resync", "docs"}, &request);
    EXPECT_EQ(run.exit_code, 0) << run.output;
    EXPECT_EQ(request, R"({"command":"resync","folder":"docs"})");

    run = run_against(control::encode_folders({{"docs"}, 0}), {"resync", "--wait", "docs"}, &request);
    EXPECT_EQ(run.exit_code, 0) << run.output;
    EXPECT_EQ(request, R"({"command":"resync","folder":"docs","wait":true})");
}

TEST_F(CtlClientTest, DaemonErrorsExit1)
{
    CtlResult run = run_against(control::error_reply(control::unknown_folder_error("nope")), {"pause", "nope"});
    EXPECT_EQ(run.exit_code, 1) << run.output;
    EXPECT_NE(run.output.find("no folder named 'nope'"), std::string::npos) << run.output;

    run = run_against(control::error_reply(control::PausedError), {"resync", "--wait"});
    EXPECT_EQ(run.exit_code, 1) << run.output;
    EXPECT_NE(run.output.find("paused"), std::string::npos) << run.output;

    run = run_against(control::encode_folders({{"docs"}, 3}), {"resync", "--wait"});
    EXPECT_EQ(run.exit_code, 1) << run.output;
    EXPECT_NE(run.output.find("3 files could not be synced"), std::string::npos) << run.output;
}

TEST_F(CtlClientTest, BrokenRepliesExit3)
{
    for (const std::string& reply : {std::string{"not json\n"}, std::string{"{\"ok\":true}\n"}, // no status fields
                                     std::string{"[1,2]\n"}, std::string{"{\"ok\":true,\"folders\":[]"}}) {
        const CtlResult run = run_against(reply, {"status"});
        EXPECT_EQ(run.exit_code, 3) << reply << run.output;
        EXPECT_NE(run.output.find(".sock'"), std::string::npos) << run.output;
    }
    const CtlResult closed = run_against("", {"status"}); // closes without a reply
    EXPECT_EQ(closed.exit_code, 3) << closed.output;
    EXPECT_NE(closed.output.find("without a reply"), std::string::npos) << closed.output;
}

TEST_F(CtlClientTest, RefusalIsReadEvenWhenTheRequestCannotBeSent)
{
    // Whether the daemon has closed before the request goes out or not, its error line is what is shown.
    const fs::path path = sandbox() / "refusing.sock";
    const FakeDaemon daemon{path, control::error_reply("too many control connections"), FakeDaemon::Mode::Refuse};
    const CtlResult run = run_ctl({"--socket", path.string(), "status"});
    EXPECT_EQ(run.exit_code, 1) << run.output;
    EXPECT_NE(run.output.find("too many control connections"), std::string::npos) << run.output;
}

// Another user could have put a socket in a directory others may write to (/tmp, sticky or not):
// minisyncctl says so and sends nothing there.
TEST_F(CtlClientTest, ASocketInADirectoryOthersMayWriteToIsRefusedBeforeAnythingIsSent)
{
    for (const mode_t mode : {01777, 0777, 0770}) {
        const fs::path dir = sandbox() / ("open-" + std::to_string(mode));
        fs::create_directory(dir);
        ASSERT_EQ(::chmod(dir.c_str(), mode), 0);
        const FakeDaemon daemon{dir / "minisyncd.sock", control::encode_folders({{"docs"}, std::nullopt})};
        const CtlResult run = run_ctl({"--socket", (dir / "minisyncd.sock").string(), "pause", "docs"});
        EXPECT_EQ(run.exit_code, 3) << run.output;
        EXPECT_NE(run.output.find("is writable by others"), std::string::npos) << run.output;
        EXPECT_EQ(daemon.request(), std::nullopt) << "a request went to a socket in a directory of mode " << mode;
    }
}

// A socket served by another user is refused once connected, from its credentials, before a byte is sent.
TEST_F(CtlClientTest, ASocketServedByAnotherUserIsRefusedBeforeAnythingIsSent)
{
    if (::geteuid() != 0) {
        GTEST_SKIP() << "serving a socket as another user needs root (CI runs as root)";
    }
    const fs::path path = sandbox() / "other-user.sock";
    const UniqueFd listener = bound_socket(path);
    int report[2];
    ASSERT_EQ(::pipe2(report, O_CLOEXEC), 0);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        // SO_PEERCRED tells a client the credentials of the process that called listen().
        if (::setgid(65534) != 0 || ::setuid(65534) != 0 || ::listen(listener.get(), 4) != 0) {
            ::_exit(1);
        }
        pollfd waiting{listener.get(), POLLIN, 0};
        char verdict = 'X'; // nobody came
        if (::poll(&waiting, 1, 20'000) > 0) {
            const int connection = ::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC);
            pollfd reading{connection, POLLIN, 0};
            char byte = 0;
            verdict = ::poll(&reading, 1, 20'000) <= 0 ? 'T' : ::recv(connection, &byte, 1, 0) == 0 ? 'E' : 'B';
        }
        (void)!::write(report[1], &verdict, 1);
        ::_exit(0);
    }
    ::close(report[1]);
    const UniqueFd verdicts{report[0]};
    const CtlResult run = run_ctl({"--socket", path.string(), "status"});
    EXPECT_EQ(run.exit_code, 3) << run.output;
    EXPECT_NE(run.output.find("runs as uid 65534"), std::string::npos) << run.output;
    char verdict = 0;
    EXPECT_EQ(::read(verdicts.get(), &verdict, 1), 1);
    EXPECT_EQ(verdict, 'E') << "E: closed without a byte; B: bytes were sent, X: no connection, T: left open";
    int status = 0;
    EXPECT_EQ(::waitpid(child, &status, 0), child);
}

TEST_F(CtlClientTest, FindsTheSocketLikeTheDaemon)
{
    // Without --socket, minisyncctl looks where default_socket_path() says: $RUNTIME_DIRECTORY first.
    const ScopedEnv runtime{"RUNTIME_DIRECTORY", sandbox().c_str()};
    const FakeDaemon daemon{sandbox() / "minisyncd.sock", control::encode_folders({{"docs"}, std::nullopt})};
    const CtlResult run = run_ctl({"pause", "docs"});
    EXPECT_EQ(run.exit_code, 0) << run.output;
    EXPECT_EQ(daemon.request(), R"({"command":"pause","folder":"docs"})");
}

} // namespace
} // namespace minisync::test
