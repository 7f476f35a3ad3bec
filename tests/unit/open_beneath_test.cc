// open_beneath and the walk it falls back to without openat2: the same answers for ordinary paths, links,
// ".." and absolute paths, and a walk that a link swapped in and out thousands of times never leads
// outside the tree.
#include "open_beneath.h"

#include "sandbox.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace minisync {
namespace {

namespace fs = std::filesystem;

using Opener = std::function<UniqueFd(int, const char*, int)>;

class OpenBeneathTest : public test::SandboxedTest {
protected:
    void SetUp() override
    {
        test::SandboxedTest::SetUp();
        root_ = sandbox() / "root";
        fs::create_directories(root_ / "dir" / "sub");
        std::ofstream{root_ / "dir" / "sub" / "file"} << "inside";
        std::ofstream{sandbox() / "secret"} << "outside";
        fs::create_directory_symlink(sandbox(), root_ / "escape");
        fs::create_symlink(sandbox() / "secret", root_ / "dir" / "link");
        root_fd_.reset(::open(root_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        ASSERT_TRUE(root_fd_);
    }

    // The errno of a lookup that must fail; 0 when it opened something.
    int error_of(const Opener& open, const char* path, int flags = O_RDONLY)
    {
        errno = 0;
        const UniqueFd fd = open(root_fd_.get(), path, flags);
        return fd ? 0 : errno;
    }

    void expect_the_rules(const Opener& open)
    {
        EXPECT_EQ(error_of(open, "dir/sub/file"), 0);
        EXPECT_EQ(error_of(open, "dir/sub", O_RDONLY | O_DIRECTORY), 0);
        EXPECT_EQ(error_of(open, "dir/./sub/file"), 0);
        EXPECT_EQ(error_of(open, "dir/missing"), ENOENT);
        EXPECT_EQ(error_of(open, "escape/secret"), ELOOP) << "a link on the way";
        EXPECT_EQ(error_of(open, "dir/link"), ELOOP) << "a link at the end";
        EXPECT_EQ(error_of(open, "dir/link", O_PATH | O_NOFOLLOW), 0) << "O_PATH | O_NOFOLLOW opens the link itself";
        EXPECT_EQ(error_of(open, "../secret"), EXDEV);
        EXPECT_EQ(error_of(open, "dir/../../secret"), EXDEV);
        EXPECT_EQ(error_of(open, (sandbox() / "secret").c_str()), EXDEV);
        EXPECT_EQ(error_of(open, "dir/sub/file/more"), ENOTDIR);
    }

    fs::path root_;
    UniqueFd root_fd_;
};

// The three openers as Openers, mount points refused or crossed.
Opener walk(Mounts mounts = Mounts::Refuse)
{
    return [mounts](int dir, const char* path, int flags) { return open_beneath_by_walk(dir, path, flags, mounts); };
}

Opener openat2_only(Mounts mounts = Mounts::Refuse)
{
    return [mounts](int dir, const char* path, int flags) { return open_strictly_beneath(dir, path, flags, mounts); };
}

Opener either(Mounts mounts = Mounts::Refuse)
{
    return [mounts](int dir, const char* path, int flags) { return open_beneath(dir, path, flags, mounts); };
}

bool have_openat2(int dir_fd)
{
    return open_strictly_beneath(dir_fd, "dir", O_PATH) || errno != ENOSYS;
}

TEST_F(OpenBeneathTest, TheWalkGivesTheAnswersOfOpenat2)
{
    expect_the_rules(walk());
    if (have_openat2(root_fd_.get())) {
        expect_the_rules(openat2_only());
    }
    expect_the_rules(either());
}

// A file system mounted below the directory is another folder's business unless crossing is asked for,
// and both resolvers agree on it.
TEST_F(OpenBeneathTest, AMountPointIsCrossedOnlyWhenAsked)
{
    if (::geteuid() != 0) {
        GTEST_SKIP() << "mounting a tmpfs needs root (CI runs as root)";
    }
    const fs::path mount_point = root_ / "dir" / "mnt";
    fs::create_directory(mount_point);
    ASSERT_EQ(::mount("tmpfs", mount_point.c_str(), "tmpfs", 0, "size=1m"), 0) << std::strerror(errno);
    struct Unmount {
        const fs::path& at;
        ~Unmount() { ::umount2(at.c_str(), MNT_DETACH); }
    } unmount{mount_point};
    std::ofstream{mount_point / "on_tmpfs"} << "elsewhere";
    std::vector<Opener> refusing{walk(), either()};
    std::vector<Opener> crossing{walk(Mounts::Cross), either(Mounts::Cross)};
    if (have_openat2(root_fd_.get())) {
        refusing.push_back(openat2_only());
        crossing.push_back(openat2_only(Mounts::Cross));
    }
    for (const Opener& open : refusing) {
        EXPECT_EQ(error_of(open, "dir/mnt/on_tmpfs"), EXDEV);
        EXPECT_EQ(error_of(open, "dir/mnt", O_PATH), EXDEV);
        EXPECT_EQ(error_of(open, "dir/sub/file"), 0);
    }
    for (const Opener& open : crossing) {
        EXPECT_EQ(error_of(open, "dir/mnt/on_tmpfs"), 0);
        expect_the_rules(open);
    }
}

// A local user who may write in the folder swaps a directory on the path for a link to the outside, over
// and over, while the walk opens a file below it: not once may it open the file outside.
TEST_F(OpenBeneathTest, ASwappedInLinkNeverLeadsTheWalkOutside)
{
    fs::create_directories(sandbox() / "outside" / "sub");
    std::ofstream{sandbox() / "outside" / "sub" / "file"} << "outside";
    struct stat outside{};
    ASSERT_EQ(::stat((sandbox() / "outside" / "sub" / "file").c_str(), &outside), 0);
    fs::create_directory_symlink(sandbox() / "outside", root_ / "link-to-outside");
    const fs::path real = root_ / "dir";
    const fs::path parked = root_ / "parked";

    std::atomic<bool> stop{false};
    std::thread attacker{[&] {
        // dir is a directory, then a link to the outside, then the directory again.
        while (!stop) {
            fs::rename(real, parked);
            fs::rename(root_ / "link-to-outside", real);
            fs::rename(real, root_ / "link-to-outside");
            fs::rename(parked, real);
        }
    }};
    int leaks = 0;
    int opened = 0;
    for (int i = 0; i < 20'000; ++i) {
        const UniqueFd fd = open_beneath_by_walk(root_fd_.get(), "dir/sub/file", O_RDONLY);
        struct stat st{};
        if (fd && ::fstat(fd.get(), &st) == 0) {
            ++opened;
            leaks += st.st_ino == outside.st_ino && st.st_dev == outside.st_dev ? 1 : 0;
        }
    }
    stop = true;
    attacker.join();
    EXPECT_EQ(leaks, 0) << "the walk opened the file outside the tree";
    EXPECT_GT(opened, 0) << "the race never let the walk through: the test proved nothing";
}

} // namespace
} // namespace minisync
