// Deletes and renames while the agent runs: the server mirrors them (old names gone, new ones present).
#include "minisync_fixture.h"
#include "test_files.h"
#include "tree_compare.h"
#include "tree_walk.h"
#include "wait_for.h"

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <stdexcept>
#include <string>

namespace minisync::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// No metric counts removals: where a test must know the agent had its REMOVED answer (not only that the
// server's copy went), the agent's line for it is asserted.
class RemovalTest : public FolderTest {
protected:
    // An agent on src, started once src has arrived: from then on the connection is up and the folder is watched.
    ChildProcess& start_and_sync() { return FolderTest::start_and_sync({.agent_args = MetricsArgs, .probe = false}); }

    // Waits until the server holds no partial: an upload seen in progress has been committed (its partial
    // renamed to the final name), abandoned or removed. Until then, trees that match prove nothing, since
    // partials do not count in the comparison.
    ::testing::AssertionResult wait_until_upload_ended()
    {
        if (wait_for([&] { return find_partials(server_root()).empty(); }, 20s)) {
            return ::testing::AssertionSuccess();
        }
        return ::testing::AssertionFailure() << "partials still on the server: " << join_lines(find_partials(server_root()));
    }

};

TEST_F(RemovalTest, DeletedFileIsRemovedOnTheServer)
{
    write_file(src_ / "stays.txt", "stays\n");
    write_file(src_ / "goes.txt", "goes\n");
    fs::create_directories(src_ / "sub");
    write_file(src_ / "sub" / "goes-too.bin", random_bytes(100 * 1024, 1));
    ChildProcess& agent = start_and_sync();

    fs::remove(src_ / "goes.txt");
    fs::remove(src_ / "sub" / "goes-too.bin");
    ASSERT_TRUE(wait_until_synced(src_, dst_, 20s));
    // The server unlinks before it answers REMOVED, so the agent's line may come a moment after.
    EXPECT_TRUE(wait_for([&] { return agent.log_contains("folder=src path=goes.txt: removed"); }, 10s))
        << agent.log_text();
    EXPECT_TRUE(wait_for([&] { return agent.log_contains("folder=src path=sub/goes-too.bin: removed"); }, 10s))
        << agent.log_text();
}

TEST_F(RemovalTest, RenamedFileIsMirroredUnderItsNewNameOnly)
{
    fs::create_directories(src_ / "archive");
    write_file(src_ / "archive" / "older.txt", "already archived\n");
    write_file(src_ / "draft.txt", "renamed in place\n");
    write_file(src_ / "report.bin", random_bytes(200 * 1024, 2));
    write_file(src_ / "leaving.txt", "moved out of the folder\n");
    write_file(src_ / "new.txt", "replaces old.txt\n");
    write_file(src_ / "old.txt", "replaced by new.txt\n");
    start_and_sync();

    fs::rename(src_ / "draft.txt", src_ / "final.txt");
    fs::rename(src_ / "report.bin", src_ / "archive" / "report.bin");
    fs::rename(src_ / "leaving.txt", sandbox() / "leaving.txt");
    fs::rename(src_ / "new.txt", src_ / "old.txt");
    ASSERT_TRUE(wait_until_synced(src_, dst_, 20s));
    for (const char* gone : {"draft.txt", "report.bin", "leaving.txt", "new.txt"}) {
        EXPECT_FALSE(fs::exists(dst_ / gone)) << gone;
    }
    EXPECT_EQ(read_file(dst_ / "old.txt"), "replaces old.txt\n");
}

TEST_F(RemovalTest, FileDeletedDuringItsUploadIsNotLeftOnTheServer)
{
    start_server();
    ChildProcess& agent = start_agent({src_.string()}, {"--bwlimit", "4M"});
    ASSERT_TRUE(wait_until_connected(agent, 10s));
    // About two seconds at the cap: deleted while the agent still streams it from its open descriptor.
    write_random_file(src_ / "short-lived.bin", 8 << 20, 3);
    ASSERT_TRUE(wait_for([&] { return !find_partials(dst_).empty(); }, 10s)) << "the upload never started";
    fs::remove(src_ / "short-lived.bin");

    ASSERT_TRUE(wait_until_upload_ended());
    EXPECT_TRUE(wait_until_synced(src_, dst_, 10s));
}

TEST_F(RemovalTest, FileRenamedDuringItsUploadEndsUnderItsNewNameOnly)
{
    start_server();
    ChildProcess& agent = start_agent({src_.string()}, {"--bwlimit", "4M"});
    ASSERT_TRUE(wait_until_connected(agent, 10s));
    write_random_file(src_ / "first-name.bin", 8 << 20, 4);
    ASSERT_TRUE(wait_for([&] { return !find_partials(dst_).empty(); }, 10s)) << "the upload never started";
    fs::rename(src_ / "first-name.bin", src_ / "second-name.bin");

    ASSERT_TRUE(wait_until_upload_ended());
    EXPECT_TRUE(wait_until_synced(src_, dst_, 10s));
}

TEST_F(RemovalTest, FolderMovedAwayWhileChangesWaitRemovesNothingOnTheServer)
{
    write_file(src_ / "a.txt", "a\n");
    write_file(src_ / "b.txt", "b\n");
    ChildProcess& agent = start_and_sync();
    const TreeListing before = files_only(list_tree(dst_));
    // With the server gone the changes wait in the queue; then the whole folder goes away (a mv, an
    // unmount). The queued uploads must not turn into deletions of the server's copies.
    ASSERT_TRUE(server().send_signal(SIGTERM));
    ASSERT_EQ(server().wait_for_exit(5s), 0);
    write_file(src_ / "a.txt", "a, changed\n");
    write_file(src_ / "b.txt", "b, changed\n");
    fs::rename(src_, sandbox() / "src.moved");
    // The folder is suspended: what waited for it is held, not tried against whatever is at its path now.
    ASSERT_TRUE(wait_for([&] { return status_json(agent)["folders"][0]["state"] == "suspended"; }, 20s))
        << status_json(agent).dump();
    restart_server();
    ASSERT_TRUE(wait_until_connected(agent, 10s));
    EXPECT_EQ(status_json(agent)["folders"][0]["state"], "suspended");
    EXPECT_EQ(agent.log_count(": removed"), 0U) << agent.log_text();
    EXPECT_EQ(join_lines(compare_listings(before, files_only(list_tree(dst_)), CompareOptions{})), "");
    // Moved back, it is the same directory: the folder resumes and sends the changes made meanwhile.
    fs::rename(sandbox() / "src.moved", src_);
    ASSERT_TRUE(wait_until_synced(src_, dst_, 20s));
    EXPECT_EQ(read_file(dst_ / "a.txt"), "a, changed\n");
    EXPECT_EQ(agent.log_count(": removed"), 0U) << agent.log_text();
}

TEST_F(RemovalTest, DeletedDirectoryTreeIsRemovedOnTheServer)
{
    fs::create_directories(src_ / "keep");
    fs::create_directories(src_ / "tree" / "a" / "b");
    write_file(src_ / "keep" / "k.txt", "k\n");
    write_file(src_ / "tree" / "t.txt", "t\n");
    write_file(src_ / "tree" / "a" / "b" / "deep.txt", "deep\n");
    ChildProcess& agent = start_and_sync();
    fs::remove_all(src_ / "tree");
    EXPECT_TRUE(wait_for([&] { return !fs::exists(dst_ / "tree"); }, 20s)) << agent.log_text();
    EXPECT_EQ(read_file(dst_ / "keep" / "k.txt"), "k\n");
}

TEST_F(RemovalTest, DirectoryMovedWithinTheFolderEndsUnderItsNewName)
{
    fs::create_directories(src_ / "old" / "sub");
    write_file(src_ / "old" / "sub" / "f.txt", "f\n");
    write_file(src_ / "old" / "g.txt", "g\n");
    start_and_sync();
    fs::rename(src_ / "old", src_ / "new");
    EXPECT_TRUE(wait_for([&] { return !fs::exists(dst_ / "old"); }, 20s));
    ASSERT_TRUE(wait_until_synced(src_, dst_, 20s));
    EXPECT_EQ(read_file(dst_ / "new" / "sub" / "f.txt"), "f\n");
    // The moved tree is watched under its new name.
    write_file(src_ / "new" / "sub" / "after.txt", "after\n");
    EXPECT_TRUE(wait_until_synced(src_, dst_, 20s));
}

TEST_F(RemovalTest, DirectoryMovedOutOfTheFolderIsRemovedAndNoLongerWatched)
{
    fs::create_directories(src_ / "leaving");
    write_file(src_ / "leaving" / "x.txt", "x\n");
    ChildProcess& agent = start_and_sync();
    const fs::path outside = sandbox() / "outside";
    fs::rename(src_ / "leaving", outside);
    EXPECT_TRUE(wait_for([&] { return !fs::exists(dst_ / "leaving"); }, 20s)) << agent.log_text();
    // Written after the move: outside the folder, so never sent (under either name).
    write_file(outside / "later.txt", "later\n");
    write_file(src_ / "marker.txt", "m\n");
    ASSERT_TRUE(wait_until_synced(src_, dst_, 20s));
    EXPECT_TRUE(wait_until_idle(agent));
    EXPECT_FALSE(fs::exists(dst_ / "leaving"));
    // Nothing counts what the agent looked at without sending: its log is searched for any mention.
    EXPECT_EQ(agent.log_count("later.txt"), 0U) << agent.log_text();
}

TEST_F(RemovalTest, FileWhereTheServerHasADirectoryReplacesIt)
{
    // The server still holds a directory (with files) where the agent now has a file, as after a
    // directory replaced by a file while the agent was stopped.
    fs::create_directories(dst_ / "d" / "sub");
    write_file(dst_ / "d" / "sub" / "stale.txt", "stale\n");
    write_file(src_ / "d", "now a file\n");
    start_server();
    ChildProcess& agent = start_agent({src_.string()});
    ASSERT_TRUE(wait_until_synced(src_, dst_, 20s)) << agent.log_text();
    EXPECT_EQ(read_file(dst_ / "d"), "now a file\n");
}

} // namespace
} // namespace minisync::test
