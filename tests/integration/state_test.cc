// The agent's state database across restarts: changes made while it was stopped, a database destroyed
// while it was stopped, and the guard that keeps an emptied (unmounted?) folder from being wiped on the server.
#include "minisync_fixture.h"
#include "test_files.h"
#include "tree_compare.h"
#include "tree_walk.h"
#include "wait_for.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <chrono>
#include <string>

namespace minisync::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;


// What the start-up scan found (its "scanned ... unchanged, ... to send, ... to remove" line), which file the
// server already had (ALREADY_HAVE) and which removal it acknowledged are in no metric and no status field:
// those lines in the agent's log are the only record of them, and are asserted as such.
class StateTest : public FolderTest {
protected:
    // The --state every agent of the test shares (they all use the dev client certificate).
    fs::path state_db() const { return agent_state(pki().client()); }

    // An agent on src whose metrics the test reads (commits, idleness); the server's too.
    ChildProcess& start_watching() { return start_agent({src_.string()}, MetricsArgs); }

    // Starts the server and a first agent, waits until src is mirrored and the agent idle, and stops it.
    void sync_once_and_stop()
    {
        ChildProcess& first =
            start_and_sync({.agent_args = MetricsArgs, .server_args = MetricsArgs, .probe = false});
        ASSERT_TRUE(wait_until_idle(first));
        stop(first);
    }

    double server_commits() const { return sample(server(), "minisync_server_files_committed_total"); }
};

// Runs sql on the database through a connection of the test's own.
::testing::AssertionResult execute_sql(const fs::path& db, const std::string& sql)
{
    sqlite3* raw = nullptr;
    const int opened = sqlite3_open_v2(db.c_str(), &raw, SQLITE_OPEN_READWRITE, nullptr);
    char* message = nullptr;
    const int rc = opened == SQLITE_OK ? sqlite3_exec(raw, sql.c_str(), nullptr, nullptr, &message) : opened;
    const std::string error = message != nullptr ? message : sqlite3_errstr(rc);
    sqlite3_free(message);
    sqlite3_close(raw);
    if (rc != SQLITE_OK) {
        return ::testing::AssertionFailure() << sql << ": " << error;
    }
    return ::testing::AssertionSuccess();
}

TEST_F(StateTest, ChangesMadeWhileStoppedAreMirroredAtStart)
{
    fs::create_directories(src_ / "sub");
    write_file(src_ / "keep.txt", "never touched\n");
    write_file(src_ / "sub" / "nested.txt", "never touched either\n");
    write_file(src_ / "same-size.bin", random_bytes(64 * 1024, 1));
    write_file(src_ / "resized.bin", random_bytes(64 * 1024, 2));
    write_file(src_ / "doomed.txt", "deleted while stopped\n");
    write_file(src_ / "mode.txt", "chmod while stopped\n");
    ASSERT_NO_FATAL_FAILURE(sync_once_and_stop());
    const TreeListing before = files_only(list_tree(dst_));

    write_file(src_ / "created.txt", "created while stopped\n");
    write_file(src_ / "same-size.bin", random_bytes(64 * 1024, 3));
    write_file(src_ / "resized.bin", random_bytes(100 * 1024 + 1, 4));
    fs::remove(src_ / "doomed.txt");
    ASSERT_EQ(::chmod((src_ / "mode.txt").c_str(), 0600), 0);

    ChildProcess& agent = start_watching();
    // keep.txt, sub and sub/nested.txt unchanged; created, same-size, resized and mode to send; doomed to remove.
    EXPECT_TRUE(wait_for_log(agent, "folder=src: scanned 7 entries in 2 directories: 3 unchanged, 4 to send, 1 to remove"));
    ASSERT_TRUE(wait_until_synced(src_, dst_, 20s));
    // The server unlinks before it answers REMOVED, so the agent's line may come a moment after.
    EXPECT_TRUE(wait_for_log(agent, "folder=src path=doomed.txt: removed"));
    EXPECT_FALSE(fs::exists(dst_ / "doomed.txt"));

    // A mode change is applied to the file the server has, not by sending it again; untouched files stay so.
    const TreeListing after = files_only(list_tree(dst_));
    for (const char* path : {"keep.txt", "sub/nested.txt"}) {
        EXPECT_EQ(join_lines(compare_listings({{path, before.at(path)}}, {{path, after.at(path)}},
                                              CompareOptions{.identity = true})),
                  "");
    }
    EXPECT_EQ(after.at("mode.txt").inode, before.at("mode.txt").inode) << "mode.txt was sent again for a chmod";
    EXPECT_TRUE(wait_for_log(agent, "folder=src path=mode.txt: server already has it"));
}

TEST_F(StateTest, GarbageStateDatabaseIsMovedAsideAndRebuiltWithoutResending)
{
    fs::create_directories(src_ / "dir");
    write_file(src_ / "a.txt", "alpha\n");
    write_file(src_ / "dir" / "b.bin", random_bytes(300 * 1024, 5));
    write_file(src_ / "dir" / "c.txt", "gamma\n");
    ASSERT_NO_FATAL_FAILURE(sync_once_and_stop());
    const TreeListing before = files_only(list_tree(dst_));

    const std::vector<std::uint8_t> garbage = random_bytes(64 * 1024, 6);
    write_file(state_db(), garbage);
    const double commits_before = server_commits();

    ChildProcess& agent = start_watching();
    // What the operator is told about the database: the lines are the contract here.
    ASSERT_TRUE(wait_for_log(agent, "state database '" + state_db().string() + "' is unusable: "));
    ASSERT_TRUE(wait_for_log(agent, "moved the unusable state database to '" + state_db().string() + ".corrupt-"));
    // Every file is offered with its hash and the server, holding the same bytes, answers ALREADY_HAVE.
    ASSERT_TRUE(wait_for([&] { return agent.log_count("server already has it") == 3; }, 20s)) << agent.log_text();
    EXPECT_TRUE(agent.running());

    std::vector<fs::path> aside;
    for (const fs::directory_entry& entry : fs::directory_iterator{sandbox()}) {
        if (entry.path().filename().string().starts_with(state_db().filename().string() + ".corrupt-")) {
            aside.push_back(entry.path());
        }
    }
    ASSERT_EQ(aside.size(), 1U) << "expected exactly one " << state_db().filename() << ".corrupt-* beside it";
    EXPECT_EQ(read_file(aside.front()), std::string(garbage.begin(), garbage.end()))
        << "the unusable database was not kept as it was";

    // Same inode and ctime: nothing on the server was rewritten or even touched.
    EXPECT_EQ(join_lines(compare_listings(before, files_only(list_tree(dst_)), CompareOptions{.identity = true})), "");
    EXPECT_EQ(server_commits(), commits_before) << "a file was sent again";

    write_file(src_ / "dir" / "after.txt", "written after the rebuild\n");
    ASSERT_TRUE(wait_until_synced(src_, dst_, 20s));
    EXPECT_TRUE(agent.running());
    // after.txt on the server is not the end of the agent's work: its COMMITTED is still to come, and then
    // the mtime of dir, which the server's commit moved, is set again (and recorded) once nothing else is in
    // flight. Stopped before that, the agent rightly has dir to send at the next start.
    ASSERT_TRUE(wait_until_idle(agent));

    // The new database learned every file: the next start sends nothing.
    stop(agent);
    ChildProcess& again = start_watching();
    EXPECT_TRUE(wait_for_log(again, "folder=src: scanned 5 entries in 2 directories: 5 unchanged, 0 to send, 0 to remove"));
}

// A database that opens but cannot answer is not taken as "nothing synced yet": the agent stops at once,
// naming the folder and SQLite's reason, and leaves both the database and the server's copy alone.
TEST_F(StateTest, AStateDatabaseThatCannotAnswerStopsTheStartNamingTheFolder)
{
    write_file(src_ / "a.txt", "alpha\n");
    ASSERT_NO_FATAL_FAILURE(sync_once_and_stop());
    ASSERT_TRUE(execute_sql(state_db(), "DROP TABLE files; DROP TABLE folders;"));

    ChildProcess& agent = start_watching();
    EXPECT_EQ(agent.wait_for_exit(20s), std::optional<int>{1}) << agent.log_text();
    EXPECT_TRUE(agent.log_contains("folder 'src': state database '" + state_db().string() + "'")) << agent.log_text();
    EXPECT_TRUE(agent.log_contains("no such table: folders")) << agent.log_text();
    EXPECT_EQ(read_file(dst_ / "a.txt"), "alpha\n");
    ASSERT_TRUE(execute_sql(state_db(), "SELECT 1")) << "the database was moved or replaced";
}

TEST_F(StateTest, EmptiedFolderIsNotWipedOnTheServer)
{
    fs::create_directories(src_ / "sub");
    write_file(src_ / "a.txt", "alpha\n");
    write_file(src_ / "b.txt", "beta\n");
    write_file(src_ / "sub" / "c.txt", "gamma\n");
    ASSERT_NO_FATAL_FAILURE(sync_once_and_stop());
    const TreeListing before = files_only(list_tree(dst_));
    ASSERT_EQ(before.size(), 3U);

    // What an unmounted file system looks like: the folder is there, with nothing in it.
    for (const fs::directory_entry& entry : fs::directory_iterator{src_}) {
        fs::remove_all(entry.path());
    }

    ChildProcess& agent = start_watching();
    // The warning docs/OPERATIONS.md promises for a folder that looks unmounted: the line is the contract.
    EXPECT_TRUE(wait_for_log(agent, "not deleting them on the server"));
    EXPECT_TRUE(wait_for_log(agent, "folder=src: scanned 0 entries in 1 directories: 0 unchanged, 0 to send, 0 to remove"));
    ASSERT_TRUE(wait_until_connected(agent, 10s));
    // The scan is done and the agent connected: a removal would now be queued or in flight, or done (and
    // then it shows on the server).
    EXPECT_TRUE(wait_until_idle(agent));
    stop(agent);
    // No metric counts removals: the agent's line for one is the only trace of it besides the server's tree.
    EXPECT_FALSE(agent.log_contains(": removed")) << agent.log_text();
    EXPECT_EQ(join_lines(compare_listings(before, files_only(list_tree(dst_)), CompareOptions{.identity = true})), "");
}

TEST_F(StateTest, FileDeletedWhileStoppedIsRemovedOnTheServer)
{
    write_file(src_ / "a.txt", "alpha\n");
    write_file(src_ / "b.txt", "beta\n");
    write_file(src_ / "c.txt", "gamma\n");
    ASSERT_NO_FATAL_FAILURE(sync_once_and_stop());
    const TreeListing before = files_only(list_tree(dst_));

    fs::remove(src_ / "b.txt");
    ChildProcess& agent = start_watching();
    EXPECT_TRUE(wait_for_log(agent, "folder=src: scanned 2 entries in 1 directories: 2 unchanged, 0 to send, 1 to remove"));
    ASSERT_TRUE(wait_until_synced(src_, dst_, 20s));
    EXPECT_TRUE(wait_for_log(agent, "folder=src path=b.txt: removed"));
    // The unmounted-folder warning must not be given for a folder that still holds files.
    EXPECT_FALSE(agent.log_contains("not deleting them on the server")) << agent.log_text();
    TreeListing kept = before;
    kept.erase("b.txt");
    EXPECT_EQ(join_lines(compare_listings(kept, files_only(list_tree(dst_)), CompareOptions{.identity = true})), "");
}

} // namespace
} // namespace minisync::test
