// Folders whose root goes away, is replaced, is missing at start, or has other file systems mounted in it
// (docs/SECURITY.md "Folders that go away"): nothing the agent sees then may remove anything from the
// server. The tests that mount a tmpfs need root and skip without it; CI runs as root.
#include "minisync_fixture.h"
#include "test_files.h"
#include "test_mounts.h"
#include "tree_compare.h"
#include "tree_walk.h"
#include "wait_for.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>

namespace minisync::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

class FolderRootTest : public FolderTest {
protected:
    ChildProcess& start_and_sync() { return FolderTest::start_and_sync({.agent_args = MetricsArgs, .probe = false}); }

    // The folder's state in status ("" when the agent does not list it).
    std::string state_of(ChildProcess& agent, const std::string& folder)
    {
        const nlohmann::json status = status_json(agent);
        for (const nlohmann::json& entry : status["folders"]) {
            if (entry["name"] == folder) {
                return entry["state"].get<std::string>();
            }
        }
        return {};
    }

    ::testing::AssertionResult wait_for_state(ChildProcess& agent, const std::string& folder, const std::string& state)
    {
        if (wait_for([&] { return state_of(agent, folder) == state; }, 20s)) {
            return ::testing::AssertionSuccess();
        }
        return ::testing::AssertionFailure() << "folder " << folder << " never became " << state << ": "
                                             << status_json(agent).dump();
    }

    // What the server holds for src, files only, to compare before and after.
    TreeListing server_files() const { return files_only(list_tree(dst_)); }

    static void expect_same(const TreeListing& before, const TreeListing& after)
    {
        EXPECT_EQ(join_lines(compare_listings(before, after, CompareOptions{})), "");
    }

    fs::path write_config(const std::string& text) const
    {
        const fs::path path = sandbox() / "agent.toml";
        write_file(path, text);
        return path;
    }
};

TEST_F(FolderRootTest, AFolderMovedAwayIsSuspendedAndResumesWhenMovedBack)
{
    write_file(src_ / "a.txt", "a\n");
    fs::create_directories(src_ / "sub");
    write_file(src_ / "sub" / "b.txt", "b\n");
    ChildProcess& agent = start_and_sync();
    const TreeListing before = server_files();

    fs::rename(src_, sandbox() / "away");
    ASSERT_TRUE(wait_for_state(agent, "src", "suspended"));
    EXPECT_TRUE(wait_for_sample(agent, "minisync_folder_state{folder=\"src\",state=\"suspended\"}",
                                [](double value) { return value == 1; }));
    write_file(sandbox() / "away" / "made-while-away.txt", "new\n");
    fs::remove(sandbox() / "away" / "a.txt");
    expect_same(before, server_files());

    fs::rename(sandbox() / "away", src_);
    ASSERT_TRUE(wait_until_synced(src_, dst_, 20s));
    EXPECT_TRUE(wait_for_state(agent, "src", "idle"));
    EXPECT_FALSE(fs::exists(dst_ / "a.txt")) << "the delete made while away is found by the rescan";
}

// The folder was deleted and made again while the agent was stopped: another directory, with one stray
// file. The agent must not take it for the folder (which would delete everything else on the server)
// until the operator says so, and accepting it removes nothing either.
TEST_F(FolderRootTest, AReplacedFolderStaysSuspendedUntilItsRootIsAccepted)
{
    write_file(src_ / "a.txt", "a\n");
    fs::create_directories(src_ / "sub");
    write_file(src_ / "sub" / "b.txt", "b\n");
    ChildProcess& first = start_and_sync();
    stop(first);
    const TreeListing before = server_files();
    fs::remove_all(src_);
    fs::create_directories(src_);
    write_file(src_ / "stray.txt", "stray\n");

    ChildProcess& agent = start_agent({src_.string()}, MetricsArgs);
    ASSERT_TRUE(wait_for_state(agent, "src", "suspended"));
    const std::string reason = status_json(agent)["folders"][0]["error"].get<std::string>();
    EXPECT_NE(reason.find("minisyncctl resync --accept-root src"), std::string::npos) << reason;
    const CtlResult plain_resync = ctl(agent, {"resync", "src"});
    EXPECT_EQ(plain_resync.exit_code, 1) << plain_resync.output;
    EXPECT_NE(plain_resync.output.find("suspended"), std::string::npos) << plain_resync.output;
    EXPECT_FALSE(wait_for([&] { return fs::exists(dst_ / "stray.txt"); }, 3s)) << "a suspended folder was synced";
    expect_same(before, server_files());

    const CtlResult accepted = ctl(agent, {"resync", "--accept-root", "src", "--wait"});
    ASSERT_EQ(accepted.exit_code, 0) << accepted.output;
    EXPECT_EQ(read_file(dst_ / "stray.txt"), "stray\n");
    EXPECT_EQ(read_file(dst_ / "a.txt"), "a\n") << "accepting a root removed what the server held";
    EXPECT_EQ(read_file(dst_ / "sub" / "b.txt"), "b\n");
    EXPECT_EQ(state_of(agent, "src"), "idle");

    // The accepted root is the one recorded now: a restart syncs it without asking again.
    stop(agent);
    write_file(src_ / "after.txt", "after\n");
    ChildProcess& again = start_agent({src_.string()}, MetricsArgs);
    EXPECT_TRUE(wait_for([&] { return fs::exists(dst_ / "after.txt"); }, 20s)) << status_json(again).dump();
    EXPECT_EQ(state_of(again, "src"), "idle");
}

TEST_F(FolderRootTest, AMissingFolderAtStartIsReportedAndSyncedOnceItAppears)
{
    start_server();
    const fs::path later = sandbox() / "later";
    write_file(src_ / "a.txt", "a\n");
    const fs::path config = write_config("[[folder]]\npath = \"" + src_.string() + "\"\n[[folder]]\npath = \"" +
                                         later.string() + "\"\n");
    std::vector<std::string> args = MetricsArgs;
    args.insert(args.end(), {"--config", config.string()});
    ChildProcess& agent = start_agent({}, args);
    // The other folder is synced all the same.
    ASSERT_TRUE(wait_until_synced(src_, dst_, 20s)) << agent.log_text();
    ASSERT_TRUE(wait_for_state(agent, "later", "missing"));
    EXPECT_TRUE(wait_for_sample(agent, "minisync_folder_state{folder=\"later\",state=\"missing\"}",
                                [](double value) { return value == 1; }));
    EXPECT_TRUE(agent.running());

    fs::create_directories(later);
    write_file(later / "new.txt", "new\n");
    EXPECT_TRUE(wait_until_synced(later, server_file(DefaultCn, "later"), 20s));
    EXPECT_TRUE(wait_for_state(agent, "later", "idle"));
    EXPECT_TRUE(wait_for_sample(agent, "minisync_folder_state{folder=\"later\",state=\"missing\"}",
                                [](double value) { return value == 0; }));
}

// The folder is a mount point. Unmounted, its bare directory is empty: to a careless agent every file was
// deleted. Restarted while unmounted with a stray file in the bare directory, a careless agent would take
// the stray file for the whole folder.
TEST_F(FolderRootTest, ARestartWhileTheFolderIsUnmountedDeletesNothing)
{
    if (::geteuid() != 0) {
        GTEST_SKIP() << "mounting a tmpfs over the folder needs root";
    }
    TestMount mount{src_};
    ASSERT_TRUE(mount.mounted()) << mount.error();
    write_file(src_ / "a.txt", "a\n");
    fs::create_directories(src_ / "sub");
    write_file(src_ / "sub" / "b.txt", "b\n");
    ChildProcess& first = start_and_sync();
    ASSERT_TRUE(mount.detach());
    ASSERT_TRUE(wait_for_state(first, "src", "suspended"));
    stop(first);
    const TreeListing before = server_files();
    write_file(src_ / "stray.txt", "in the bare mount point\n");

    ChildProcess& agent = start_agent({src_.string()}, MetricsArgs);
    ASSERT_TRUE(wait_for_state(agent, "src", "suspended"));
    EXPECT_FALSE(wait_for([&] { return fs::exists(dst_ / "stray.txt"); }, 3s)) << "the bare mount point was synced";
    expect_same(before, server_files());
    EXPECT_EQ(agent.log_count(": removed"), 0U) << agent.log_text();
}

// A bind mount going leaves its file system mounted elsewhere, so inotify says nothing: the mount table
// does. Bound again, it is the same directory, and the folder resumes by itself.
TEST_F(FolderRootTest, AFolderWhoseBindMountGoesIsSuspendedAndResumesWhenBoundAgain)
{
    if (::geteuid() != 0) {
        GTEST_SKIP() << "bind mounts need root";
    }
    const fs::path store = make_dir("store");
    TestMount tmpfs{store};
    ASSERT_TRUE(tmpfs.mounted()) << tmpfs.error();
    write_file(store / "a.txt", "a\n");
    auto bind = std::make_unique<TestMount>(src_, store);
    ASSERT_TRUE(bind->mounted()) << bind->error();
    ChildProcess& agent = start_and_sync();
    const TreeListing before = server_files();

    ASSERT_TRUE(bind->detach());
    ASSERT_TRUE(wait_for_state(agent, "src", "suspended"));
    write_file(store / "while-unbound.txt", "made meanwhile\n");
    expect_same(before, server_files());

    bind = std::make_unique<TestMount>(src_, store);
    ASSERT_TRUE(bind->mounted()) << bind->error();
    EXPECT_TRUE(wait_for([&] { return fs::exists(dst_ / "while-unbound.txt"); }, 20s)) << status_json(agent).dump();
    EXPECT_TRUE(wait_for_state(agent, "src", "idle"));
    EXPECT_EQ(read_file(dst_ / "a.txt"), "a\n");
}

// Like rsync -x: a file system mounted inside the folder is not synced (nor is its mount point, which shows
// the other file system's root), and its unmount removes nothing. With one_file_system = false it is
// synced, and its unmount still removes nothing.
TEST_F(FolderRootTest, AFileSystemMountedInsideTheFolderIsSyncedOnlyWhenAsked)
{
    if (::geteuid() != 0) {
        GTEST_SKIP() << "mounting a tmpfs inside the folder needs root";
    }
    fs::create_directories(src_ / "mnt");
    write_file(src_ / "plain.txt", "plain\n");
    TestMount mount{src_ / "mnt"};
    ASSERT_TRUE(mount.mounted()) << mount.error();
    write_file(src_ / "mnt" / "on-tmpfs.txt", "elsewhere\n");

    start_server();
    ChildProcess& agent = start_agent({src_.string()}, MetricsArgs);
    ASSERT_TRUE(wait_for([&] { return fs::exists(dst_ / "plain.txt"); }, 20s)) << agent.log_text();
    ASSERT_TRUE(wait_until_idle(agent));
    EXPECT_FALSE(fs::exists(dst_ / "mnt" / "on-tmpfs.txt")) << "a file on another file system was synced";
    EXPECT_TRUE(wait_for_log(agent, "path=mnt: another file system is mounted here"));
    stop(agent);

    const fs::path config = write_config("[[folder]]\npath = \"" + src_.string() + "\"\none_file_system = false\n");
    std::vector<std::string> args = MetricsArgs;
    args.insert(args.end(), {"--config", config.string()});
    ChildProcess& crossing = start_agent({}, args);
    ASSERT_TRUE(wait_for([&] { return fs::exists(dst_ / "mnt" / "on-tmpfs.txt"); }, 20s)) << crossing.log_text();
    const TreeListing before = server_files();
    ASSERT_TRUE(mount.detach());
    EXPECT_TRUE(wait_for_log(crossing, "the file system mounted here was unmounted", 20s));
    write_file(src_ / "after.txt", "after\n");
    ASSERT_TRUE(wait_for([&] { return fs::exists(dst_ / "after.txt"); }, 20s)) << crossing.log_text();
    ASSERT_TRUE(wait_until_idle(crossing));
    EXPECT_TRUE(fs::exists(dst_ / "mnt" / "on-tmpfs.txt")) << "the unmount removed the server's copy";
    TreeListing after = server_files();
    after.erase("after.txt");
    expect_same(before, after);
}

} // namespace
} // namespace minisync::test
