// Tests for control_socket_path.cc: the socket path rule and the environment it reads.
#include "control_protocol.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <string>

namespace minisync::control {
namespace {

TEST(ControlSocketPathTest, SocketPathRule)
{
    EXPECT_EQ(socket_path_for("/run/minisyncd", "/run/user/1000", 1000), "/run/minisyncd/minisyncd.sock");
    EXPECT_EQ(socket_path_for("/run/minisyncd/", std::nullopt, 0), "/run/minisyncd/minisyncd.sock");
    EXPECT_EQ(socket_path_for("/run/a:/run/b", std::nullopt, 0), "/run/a/minisyncd.sock");
    EXPECT_EQ(socket_path_for("", "/run/user/1000", 1000), "/run/user/1000/minisync/minisyncd.sock");
    EXPECT_EQ(socket_path_for(":/run/b", "/run/user/7", 7), "/run/user/7/minisync/minisyncd.sock");
    EXPECT_EQ(socket_path_for(std::nullopt, "/run/user/1000", 1000), "/run/user/1000/minisync/minisyncd.sock");
    EXPECT_EQ(socket_path_for(std::nullopt, "/run/user/1000/", 1000), "/run/user/1000/minisync/minisyncd.sock");
    EXPECT_EQ(socket_path_for(std::nullopt, "relative/dir", 1000), "/tmp/minisync-1000/minisyncd.sock");
    EXPECT_EQ(socket_path_for(std::nullopt, "", 1000), "/tmp/minisync-1000/minisyncd.sock");
    EXPECT_EQ(socket_path_for(std::nullopt, std::nullopt, 4242), "/tmp/minisync-4242/minisyncd.sock");
}

// Sets or unsets an environment variable for the scope, restoring what was there.
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

TEST(ControlSocketPathTest, DefaultSocketPathReadsTheEnvironment)
{
    const std::string uid = std::to_string(::getuid());
    {
        ScopedEnv runtime{"RUNTIME_DIRECTORY", "/run/minisyncd"};
        ScopedEnv xdg{"XDG_RUNTIME_DIR", "/run/user/1000"};
        EXPECT_EQ(default_socket_path(), "/run/minisyncd/minisyncd.sock");
    }
    {
        ScopedEnv runtime{"RUNTIME_DIRECTORY", "/run/minisyncd:/run/other"};
        ScopedEnv xdg{"XDG_RUNTIME_DIR", nullptr};
        EXPECT_EQ(default_socket_path(), "/run/minisyncd/minisyncd.sock");
    }
    {
        ScopedEnv runtime{"RUNTIME_DIRECTORY", nullptr};
        ScopedEnv xdg{"XDG_RUNTIME_DIR", "/run/user/1000"};
        EXPECT_EQ(default_socket_path(), "/run/user/1000/minisync/minisyncd.sock");
    }
    {
        ScopedEnv runtime{"RUNTIME_DIRECTORY", nullptr};
        ScopedEnv xdg{"XDG_RUNTIME_DIR", "run/user/1000"};
        EXPECT_EQ(default_socket_path(), "/tmp/minisync-" + uid + "/minisyncd.sock");
    }
    {
        ScopedEnv runtime{"RUNTIME_DIRECTORY", nullptr};
        ScopedEnv xdg{"XDG_RUNTIME_DIR", nullptr};
        EXPECT_EQ(default_socket_path(), "/tmp/minisync-" + uid + "/minisyncd.sock");
    }
}

} // namespace
} // namespace minisync::control
