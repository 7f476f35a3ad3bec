// Tests for control_socket_path.cc: the socket path rule, the environment it reads, and which socket
// directories are trusted.
#include "control_protocol.h"

#include "sandbox.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
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

class SocketDirectoryTest : public test::SandboxedTest {
protected:
    std::string directory(mode_t mode)
    {
        const std::filesystem::path dir = sandbox() / "socket-dir";
        std::filesystem::create_directories(dir);
        EXPECT_EQ(::chmod(dir.c_str(), mode), 0);
        return dir.string();
    }
};

TEST_F(SocketDirectoryTest, ADirectoryOnlyItsOwnerMayWriteToIsTrusted)
{
    for (const mode_t mode : {0700, 0750, 0755, 0711, 01700}) {
        const Result<void> trusted = check_socket_directory(directory(mode), ::geteuid());
        EXPECT_TRUE(trusted.ok()) << std::oct << mode << ": " << (trusted.ok() ? "" : trusted.error().message);
    }
}

// Sticky or not: in /tmp anyone may create the socket's name first.
TEST_F(SocketDirectoryTest, ADirectoryOthersMayWriteToIsNot)
{
    for (const mode_t mode : {0770, 0720, 0702, 0777, 01777}) {
        const std::string dir = directory(mode);
        const Result<void> trusted = check_socket_directory(dir, ::geteuid());
        ASSERT_FALSE(trusted.ok()) << std::oct << mode;
        EXPECT_EQ(trusted.error().code, ErrorCode::Untrusted);
        EXPECT_NE(trusted.error().message.find("'" + dir + "' is writable by others"), std::string::npos)
            << trusted.error().message;
    }
}

TEST_F(SocketDirectoryTest, ADirectoryOfAnotherUserIsNotButRootsIs)
{
    const std::string dir = directory(0755);
    if (::geteuid() == 0) {
        EXPECT_TRUE(check_socket_directory(dir, 4242).ok()) << "root's directory is trusted by everyone";
        ASSERT_EQ(::chown(dir.c_str(), 65534, static_cast<gid_t>(-1)), 0);
    }
    const uid_t someone_else = ::geteuid() == 0 ? 0 : ::geteuid() + 1;
    const Result<void> trusted = check_socket_directory(dir, someone_else);
    ASSERT_FALSE(trusted.ok());
    EXPECT_EQ(trusted.error().code, ErrorCode::Untrusted);
    EXPECT_NE(trusted.error().message.find("is owned by uid"), std::string::npos) << trusted.error().message;
}

TEST_F(SocketDirectoryTest, ASymlinkIsNotFollowedAndAMissingDirectoryIsNoVerdict)
{
    const std::filesystem::path link = sandbox() / "link";
    std::filesystem::create_directory_symlink(directory(0700), link);
    const Result<void> through_link = check_socket_directory(link.string(), ::geteuid());
    ASSERT_FALSE(through_link.ok());
    EXPECT_EQ(through_link.error().code, ErrorCode::Untrusted);
    const Result<void> missing = check_socket_directory((sandbox() / "missing").string(), ::geteuid());
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.error().code, ErrorCode::Unreachable);
    EXPECT_EQ(missing.error().errno_value, ENOENT);
}

} // namespace
} // namespace minisync::control
