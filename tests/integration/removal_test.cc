// Deletes and renames while the agent runs: the server mirrors them (old names gone, new ones present),
// and a rename the server cannot apply at once never costs the server's copy or a transfer it can avoid.
#include "minisync_fixture.h"
#include "protocol_codec.h"
#include "raw_client.h"
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

// Another connection of this client (a second agent with the same certificate, a stale connection the
// server has not dropped yet) holds a path below the directory being renamed, so the server answers the
// RENAME with BUSY. The agent must send the rename again once the path is free, not remove the old tree
// and send everything again.
TEST_F(RemovalTest, ARenameAnsweredBusyIsRetriedAndSendsNothingAgain)
{
    fs::create_directories(src_ / "d");
    write_file(src_ / "d" / "one.bin", random_bytes(300 * 1024, 5));
    write_file(src_ / "d" / "two.bin", random_bytes(300 * 1024, 6));
    write_file(src_ / "d" / "small.txt", "small\n");
    ChildProcess& agent = start_and_sync();
    ASSERT_TRUE(wait_until_idle(agent));
    const double sent_before = sample(agent, "minisync_bytes_sent_total");
    ASSERT_GT(sent_before, 600 * 1024);

    RawClient holder{port(), pki().client()};
    holder.hello();
    protocol::UploadBegin begin;
    begin.request_id = 1;
    begin.folder = "src";
    begin.path = "d/held.bin";
    begin.size = 10;
    begin.mode = 0644;
    ASSERT_TRUE(holder.send(protocol::encode(begin)));
    const ReadResult ready = holder.read_frame();
    ASSERT_EQ(ready.status, ReadStatus::Frame);
    ASSERT_EQ(ready.frame.type, protocol::FrameType::UploadReady);

    fs::rename(src_ / "d", src_ / "e");
    ASSERT_TRUE(wait_for_sample(agent, "minisync_errors_total{kind=\"server\"}", [](double v) { return v >= 1; }));
    EXPECT_TRUE(fs::exists(dst_ / "d" / "one.bin"));
    // The path is free again: the next attempt of the rename goes through.
    ASSERT_TRUE(holder.send(protocol::encode_request_only(protocol::FrameType::Abort, 1)));
    ASSERT_TRUE(wait_until_synced(src_, dst_, 30s)) << agent.log_text();
    ASSERT_TRUE(wait_until_idle(agent));
    EXPECT_TRUE(agent.log_contains("folder=src path=e: renamed from d")) << agent.log_text();
    EXPECT_EQ(sample(agent, "minisync_bytes_sent_total"), sent_before) << agent.log_text();
    EXPECT_EQ(read_file(dst_ / "e" / "small.txt"), "small\n");
}

// The server cannot apply the rename (a file is in the way of the directory), so the agent sends the new
// path as new. The old tree is the server's only copy of that content until then: it may go only once
// the new one is in place, and it does go then.
TEST_F(RemovalTest, ARenameTheServerRefusesKeepsTheOldPathUntilTheNewOneIsInPlace)
{
    fs::create_directories(src_ / "d");
    write_file(src_ / "d" / "big.bin", random_bytes(4 << 20, 7));
    write_file(src_ / "d" / "small.txt", "small\n");
    std::vector<std::string> agent_args = MetricsArgs;
    agent_args.insert(agent_args.end(), {"--bwlimit", "2M"});
    ChildProcess& agent = FolderTest::start_and_sync({.agent_args = agent_args, .probe = false, .deadline = 30s});
    ASSERT_TRUE(wait_until_idle(agent));
    // rename(2) will not put a directory over a file: CONFLICT.
    write_file(dst_ / "e", "in the way\n");

    fs::rename(src_ / "d", src_ / "e");
    const std::string content = read_file(src_ / "e" / "big.bin");
    bool neither_on_the_server = false;
    // The old copy is looked at first: missing then, with the new one missing after, both were missing at once.
    ASSERT_TRUE(wait_for(
        [&] {
            const bool old_there = fs::exists(dst_ / "d" / "big.bin");
            const bool new_there = fs::is_regular_file(dst_ / "e" / "big.bin");
            neither_on_the_server = neither_on_the_server || (!old_there && !new_there);
            return new_there;
        },
        30s))
        << agent.log_text();
    EXPECT_FALSE(neither_on_the_server) << "the old path was removed before the new one was in place\n"
                                        << agent.log_text();
    ASSERT_TRUE(wait_until_synced(src_, dst_, 30s)) << agent.log_text();
    EXPECT_FALSE(fs::exists(dst_ / "d"));
    EXPECT_EQ(read_file(dst_ / "e" / "big.bin"), content);
}

} // namespace
} // namespace minisync::test
