// minisyncctl against a running minisyncd: status fields, pause and resume (with a suspended upload that
// resumes), resync repairing what was altered or deleted on the server, malformed and oversized
// requests, and peers the daemon must refuse.
#include "control_protocol.h"
#include "minisync_fixture.h"
#include "test_files.h"
#include "tree_compare.h"
#include "tree_walk.h"
#include "wait_for.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

namespace minisync::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// A raw connection to the control socket, for what minisyncctl never sends.
class ControlConnection {
public:
    explicit ControlConnection(const fs::path& socket)
    {
        fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        std::strncpy(address.sun_path, socket.c_str(), sizeof address.sun_path - 1);
        if (::connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
            throw std::runtime_error("connect " + socket.string() + ": " + std::strerror(errno));
        }
        const timeval timeout{10, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    }
    ~ControlConnection() { ::close(fd_); }
    ControlConnection(const ControlConnection&) = delete;
    ControlConnection& operator=(const ControlConnection&) = delete;

    void send(const std::string& bytes) const
    {
        for (std::size_t sent = 0; sent < bytes.size();) {
            const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
            if (n <= 0) {
                return; // the daemon may close on us; what it answered is still read
            }
            sent += static_cast<std::size_t>(n);
        }
    }

    // The next reply line, or nothing when the daemon closed the connection (or said nothing for 10 s).
    std::optional<std::string> read_line()
    {
        while (true) {
            if (const std::size_t newline = buffer_.find('\n'); newline != std::string::npos) {
                std::string line = buffer_.substr(0, newline);
                buffer_.erase(0, newline + 1);
                return line;
            }
            char chunk[4096];
            const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
            if (n <= 0) {
                return std::nullopt;
            }
            buffer_.append(chunk, static_cast<std::size_t>(n));
        }
    }

private:
    int fd_ = -1;
    std::string buffer_;
};

class ControlTest : public FolderTest {
protected:
    // The agent, started once its probe file has arrived and its control socket is there; minisyncctl and
    // the tests' own connections talk to it.
    ChildProcess& start_and_sync(std::vector<std::string> extra_args = {})
    {
        extra_args.insert(extra_args.end(), MetricsArgs.begin(), MetricsArgs.end());
        agent_ = &FolderTest::start_and_sync({.agent_args = std::move(extra_args), .await = Await::Probe});
        wait_for_control_socket(*agent_);
        return *agent_;
    }

    CtlResult ctl(const std::vector<std::string>& args) { return MinisyncTest::ctl(*agent_, args); }
    nlohmann::json status_json() { return MinisyncTest::status_json(*agent_); }

private:
    ChildProcess* agent_ = nullptr;
};

TEST_F(ControlTest, StatusReportsEveryFieldWithItsType)
{
    start_and_sync();
    ASSERT_TRUE(wait_for([&] { return status_json()["files_synced"].get<int>() >= 1; }, 10s));
    const nlohmann::json status = status_json();
    EXPECT_EQ(status["ok"], true);
    EXPECT_EQ(status["state"], "running");
    EXPECT_EQ(status["connected"], true);
    EXPECT_EQ(status["server"], "127.0.0.1:" + std::to_string(port()));
    EXPECT_TRUE(status["queue_depth"].is_number_integer());
    EXPECT_TRUE(status["inflight"].is_array());
    EXPECT_GE(status["files_synced"].get<int>(), 1);
    EXPECT_EQ(status["bytes_sent"].get<int>(), 6);
    EXPECT_TRUE(status["last_error"].is_null());
    ASSERT_EQ(status["folders"].size(), 1U);
    const nlohmann::json& folder = status["folders"][0];
    EXPECT_EQ(folder["name"], "src");
    EXPECT_EQ(folder["path"], src_.string());
    EXPECT_EQ(folder["paused"], false);
    EXPECT_TRUE(folder["pending"].is_number_integer());

    const CtlResult human = ctl({"status"});
    EXPECT_EQ(human.exit_code, 0) << human.output;
    EXPECT_NE(human.output.find("connected"), std::string::npos) << human.output;
    EXPECT_NE(human.output.find(src_.string()), std::string::npos) << human.output;
}

TEST_F(ControlTest, PausedFolderRecordsChangesAndSendsThemOnResume)
{
    start_and_sync();
    const CtlResult paused = ctl({"pause", "src"});
    ASSERT_EQ(paused.exit_code, 0) << paused.output;
    EXPECT_EQ(status_json()["state"], "paused");
    EXPECT_EQ(status_json()["folders"][0]["paused"], true);

    write_file(src_ / "while-paused.txt", "kept for later\n");
    // Recorded: it shows as pending, and it is not sent.
    EXPECT_TRUE(wait_for([&] { return status_json()["folders"][0]["pending"].get<int>() >= 1; }, 10s));
    EXPECT_FALSE(wait_for([&] { return fs::exists(dst_ / "while-paused.txt"); }, 1s));

    const CtlResult resumed = ctl({"resume"});
    ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
    EXPECT_TRUE(wait_until_synced(src_, dst_, 20s));
    EXPECT_EQ(status_json()["state"], "running");
}

TEST_F(ControlTest, PauseSuspendsAnUploadInFlightWhichResumesFromItsOffset)
{
    ChildProcess& agent = start_and_sync({"--bwlimit", "8M"});
    write_random_file(src_ / "big.bin", 20U << 20, 3);
    // Under way and with a confirmed offset (PROGRESS comes every 8 MiB).
    ASSERT_TRUE(wait_for([&] { return partial_bytes(server_root()) >= (9U << 20); }, 30s));
    ASSERT_EQ(ctl({"pause"}).exit_code, 0);
    // The partial stays on the server for the resume; nothing more arrives while paused.
    ASSERT_TRUE(wait_for([&] { return status_json()["inflight"].empty(); }, 10s));
    const std::uint64_t kept = partial_bytes(server_root());
    EXPECT_GE(kept, 8U << 20);
    EXPECT_FALSE(wait_for([&] { return fs::exists(dst_ / "big.bin"); }, 1s));

    ASSERT_EQ(ctl({"resume"}).exit_code, 0);
    ASSERT_TRUE(wait_until_synced(src_, dst_, 60s));
    // It went on from what the server had kept, not from byte 0.
    EXPECT_GE(sample(agent, "minisync_resumed_bytes_total"), static_cast<double>(8U << 20));
}

TEST_F(ControlTest, ResyncRestoresFilesAlteredOrDeletedOnTheServer)
{
    write_file(src_ / "altered.txt", "the real content\n");
    write_file(src_ / "deleted.txt", "gone from the server\n");
    start_and_sync();
    ASSERT_TRUE(wait_until_synced(src_, dst_, 20s));

    // Same size and mtime: only a content check can tell.
    struct stat before{};
    ASSERT_EQ(::stat((dst_ / "altered.txt").c_str(), &before), 0);
    write_file(dst_ / "altered.txt", "THE REAL CONTENT\n");
    const timespec times[2] = {before.st_atim, before.st_mtim};
    ASSERT_EQ(::utimensat(AT_FDCWD, (dst_ / "altered.txt").c_str(), times, 0), 0);
    fs::remove(dst_ / "deleted.txt");

    const CtlResult resync = ctl({"resync", "--wait"});
    EXPECT_EQ(resync.exit_code, 0) << resync.output;
    // --wait returned after the queue drained: the repairs are done, not merely started.
    EXPECT_EQ(read_file(dst_ / "altered.txt"), "the real content\n");
    EXPECT_EQ(read_file(dst_ / "deleted.txt"), "gone from the server\n");
}

TEST_F(ControlTest, ResyncWaitWhilePausedFailsAtOnce)
{
    start_and_sync();
    ASSERT_EQ(ctl({"pause"}).exit_code, 0);
    const CtlResult resync = ctl({"resync", "--wait"});
    EXPECT_EQ(resync.exit_code, 1) << resync.output;
    EXPECT_NE(resync.output.find("paused"), std::string::npos) << resync.output;
}

TEST_F(ControlTest, UnknownFolderIsAnErrorFromTheDaemon)
{
    start_and_sync();
    const CtlResult result = ctl({"pause", "no-such-folder"});
    EXPECT_EQ(result.exit_code, 1) << result.output;
    EXPECT_NE(result.output.find("no folder named 'no-such-folder'"), std::string::npos) << result.output;
}

TEST_F(ControlTest, MalformedAndOversizedRequestsAreAnsweredAndTheDaemonKeepsServing)
{
    ChildProcess& agent = start_and_sync();
    {
        ControlConnection connection{control_socket(agent)};
        const std::vector<std::string> malformed{"garbage", "{\"command\":\"explode\"}", "[1,2,3]",
                                                 "{\"command\":\"status\",\"x\":1}", "{\"command\":\"st\xff\"}"};
        for (const std::string& bad : malformed) {
            connection.send(bad + "\n");
            const std::optional<std::string> reply = connection.read_line();
            ASSERT_TRUE(reply.has_value()) << bad;
            const nlohmann::json parsed = nlohmann::json::parse(*reply);
            EXPECT_EQ(parsed["ok"], false) << bad;
            EXPECT_TRUE(parsed["error"].is_string()) << bad;
        }
        // The same connection still answers a good request.
        connection.send("{\"command\":\"status\"}\n");
        const std::optional<std::string> reply = connection.read_line();
        ASSERT_TRUE(reply.has_value());
        EXPECT_EQ(nlohmann::json::parse(*reply)["ok"], true);
    }
    {
        ControlConnection connection{control_socket(agent)};
        connection.send(std::string(control::MaxRequestLine + 10, 'x'));
        const std::optional<std::string> reply = connection.read_line();
        ASSERT_TRUE(reply.has_value());
        EXPECT_EQ(nlohmann::json::parse(*reply)["error"], std::string{control::LineTooLongError});
        EXPECT_FALSE(connection.read_line().has_value()); // closed after the answer
    }
    EXPECT_TRUE(agent.running());
    EXPECT_EQ(status_json()["connected"], true);
}

TEST_F(ControlTest, AnotherUserIsRefusedEvenWhenTheSocketFileLetsThemIn)
{
    if (::geteuid() != 0) {
        GTEST_SKIP() << "needs root to run minisyncctl as another user";
    }
    ChildProcess& agent = start_and_sync();
    // The socket's directory opened to all and the file too, so that only the daemon's own check of the
    // peer's credentials stands in the way.
    const fs::path socket = control_socket(agent);
    ASSERT_EQ(::chmod(sandbox().c_str(), 0755), 0);
    ASSERT_EQ(::chmod(socket.c_str(), 0666), 0);

    const CtlResult refused = run_ctl({"--socket", socket.string(), "status"}, sandbox() / "ctl-nobody.log", 20s,
                                      {"/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"});
    ASSERT_NE(refused.exit_code, -1) << "minisyncctl did not exit";
    EXPECT_NE(refused.exit_code, 0) << refused.output;
    EXPECT_NE(refused.output.find("permission denied"), std::string::npos) << refused.output;
    EXPECT_TRUE(agent.running());
    EXPECT_TRUE(wait_for_sample(agent, "minisync_errors_total{kind=\"control\"}", [](double n) { return n >= 1; }, 5s));
}

} // namespace
} // namespace minisync::test
