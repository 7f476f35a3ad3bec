// Both daemons as a Type=notify service sees them: READY=1 once serving, STATUS= lines, WATCHDOG=1 at
// half of WatchdogSec, STOPPING=1 on SIGTERM. The test plays the service manager's notify socket.
#include "minisync_fixture.h"
#include "test_files.h"
#include "wait_for.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace minisync::test {
namespace {

using namespace std::chrono_literals;

// A datagram socket in the sandbox, as systemd's $NOTIFY_SOCKET; what the daemons send to it.
class NotifySocket {
public:
    explicit NotifySocket(const std::filesystem::path& path) : path_{path}
    {
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
        if (::bind(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
            throw std::runtime_error("bind " + path.string() + ": " + std::strerror(errno));
        }
    }
    ~NotifySocket() { ::close(fd_); }
    NotifySocket(const NotifySocket&) = delete;
    NotifySocket& operator=(const NotifySocket&) = delete;

    // Reads what arrived so far; true once some message contains text.
    bool received(const std::string& text)
    {
        char buffer[4096];
        ssize_t n = 0;
        while ((n = ::recv(fd_, buffer, sizeof buffer, 0)) > 0) {
            messages_.emplace_back(buffer, static_cast<std::size_t>(n));
        }
        for (const std::string& message : messages_) {
            if (message.find(text) != std::string::npos) {
                return true;
            }
        }
        return false;
    }

    [[nodiscard]] std::string all() const
    {
        std::string text;
        for (const std::string& message : messages_) {
            text += message + "\n---\n";
        }
        return text;
    }

private:
    std::filesystem::path path_;
    int fd_ = -1;
    std::vector<std::string> messages_;
};

// The daemons inherit the environment; a test process runs one test, so setting it here is contained.
class ServiceNotifyTest : public FolderTest {
protected:
    void SetUp() override
    {
        FolderTest::SetUp();
        notify_ = std::make_unique<NotifySocket>(sandbox() / "notify.sock");
        ::setenv("NOTIFY_SOCKET", (sandbox() / "notify.sock").c_str(), 1);
        ::setenv("WATCHDOG_USEC", "400000", 1);
    }
    void TearDown() override
    {
        ::unsetenv("NOTIFY_SOCKET");
        ::unsetenv("WATCHDOG_USEC");
        FolderTest::TearDown();
    }

    std::unique_ptr<NotifySocket> notify_;
};

TEST_F(ServiceNotifyTest, DaemonsReportReadyStatusWatchdogAndStopping)
{
    start_server();
    EXPECT_TRUE(wait_for([&] { return notify_->received("READY=1"); }, 10s)) << notify_->all();
    EXPECT_TRUE(wait_for([&] { return notify_->received("STATUS=0 connections"); }, 10s)) << notify_->all();
    EXPECT_TRUE(wait_for([&] { return notify_->received("WATCHDOG=1"); }, 10s)) << notify_->all();

    write_file(src_ / "a.txt", "a\n");
    ChildProcess& agent = start_and_sync({.probe = false});
    EXPECT_TRUE(wait_for([&] { return notify_->received("STATUS=connected to 127.0.0.1:"); }, 10s)) << notify_->all();
    EXPECT_TRUE(wait_for([&] { return notify_->received("1 synced"); }, 10s)) << notify_->all();

    ASSERT_TRUE(agent.send_signal(SIGTERM));
    EXPECT_EQ(agent.wait_for_exit(5s), std::optional<int>{0});
    EXPECT_TRUE(notify_->received("STOPPING=1")) << notify_->all();
}

} // namespace
} // namespace minisync::test
