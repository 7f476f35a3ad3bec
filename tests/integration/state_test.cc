// The agent's state database across restarts: changes made while it was stopped, a database destroyed
// while it was stopped, and the guard that keeps an emptied (unmounted?) folder from being wiped on the server.
#include "minisync_fixture.h"
#include "test_files.h"
#include "tree_compare.h"
#include "tree_walk.h"
#include "wait_for.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <csignal>
#include <string>

namespace minisync::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;


class StateTest : public FolderTest {
protected:
    // The --state every agent of the test shares (they all use the dev client certificate).
    fs::path state_db() const { return agent_state(pki().client()); }

    // Starts the server and a first agent, waits until src is mirrored, and stops that agent cleanly.
    void sync_once_and_stop()
    {
        start_server();
        ChildProcess& first = start_agent({src_.string()});
        ASSERT_TRUE(wait_until_synced(src_, dst_, 20s));
        stop(first);
    }

    static void stop(ChildProcess& child)
    {
        ASSERT_TRUE(child.send_signal(SIGTERM));
        ASSERT_EQ(child.wait_for_exit(5s), 0) << child.binary() << " did not exit 0 within 5 s of SIGTERM";
    }

    static ::testing::AssertionResult wait_for_log(const ChildProcess& child, const std::string& text)
    {
        if (wait_for([&] { return child.log_contains(text); }, 20s)) {
            return ::testing::AssertionSuccess();
        }
        return ::testing::AssertionFailure() << "'" << text << "' never appeared in " << child.log_path().string()
                                             << ":\n"
                                             << child.log_text();
    }

};

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

    ChildProcess& agent = start_agent({src_.string()});
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

    ChildProcess& agent = start_agent({src_.string()});
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
    EXPECT_EQ(agent.log_count("synced ("), 0U) << agent.log_text();

    write_file(src_ / "dir" / "after.txt", "written after the rebuild\n");
    ASSERT_TRUE(wait_until_synced(src_, dst_, 20s));
    EXPECT_TRUE(agent.running());

    // The new database learned every file: the next start sends nothing.
    stop(agent);
    ChildProcess& again = start_agent({src_.string()});
    EXPECT_TRUE(wait_for_log(again, "folder=src: scanned 5 entries in 2 directories: 5 unchanged, 0 to send, 0 to remove"));
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

    ChildProcess& agent = start_agent({src_.string()});
    EXPECT_TRUE(wait_for_log(agent, "not deleting them on the server"));
    EXPECT_TRUE(wait_for_log(agent, "folder=src: scanned 0 entries in 1 directories: 0 unchanged, 0 to send, 0 to remove"));
    ASSERT_TRUE(wait_until_connected(agent, 10s));
    // A removal queued or in flight would show in the exit line; one already done shows on the server.
    stop(agent);
    EXPECT_TRUE(agent.log_contains(", 0 still queued")) << agent.log_text();
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
    ChildProcess& agent = start_agent({src_.string()});
    EXPECT_TRUE(wait_for_log(agent, "folder=src: scanned 2 entries in 1 directories: 2 unchanged, 0 to send, 1 to remove"));
    ASSERT_TRUE(wait_until_synced(src_, dst_, 20s));
    EXPECT_TRUE(wait_for_log(agent, "folder=src path=b.txt: removed"));
    EXPECT_FALSE(agent.log_contains("not deleting them on the server")) << agent.log_text();
    TreeListing kept = before;
    kept.erase("b.txt");
    EXPECT_EQ(join_lines(compare_listings(kept, files_only(list_tree(dst_)), CompareOptions{.identity = true})), "");
}

} // namespace
} // namespace minisync::test
