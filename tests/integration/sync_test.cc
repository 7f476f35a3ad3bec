// Content sync end to end: files with their mode and mtime, new and moved-in directory trees, the start-up
// scan and ALREADY_HAVE on restart, large and many small files, rapid rewrites, unusual names, per-client
// namespaces, the bandwidth cap, no leftover partials, and group commits of many files in one directory.
#include "metrics_scrape.h"
#include "minisync_fixture.h"
#include "test_files.h"
#include "tree_compare.h"
#include "tree_walk.h"
#include "wait_for.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <stdexcept>
#include <string>

namespace minisync::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

void print_timing(const std::string& what, Clock::duration elapsed)
{
    // The lead records these lines; keep their shape stable.
    std::cout << "[ timing ] " << what << ": " << std::fixed << std::setprecision(2)
              << std::chrono::duration<double>(elapsed).count() << " s" << std::endl;
}


class SyncTest : public FolderTest {
protected:
};

TEST_F(SyncTest, OneFileArrivesWithSameContentModeAndMtime)
{
    start_and_sync();
    const fs::path staging = make_dir("staging");
    const std::vector<std::uint8_t> content = random_bytes(300 * 1024 + 7, 1);
    write_file(staging / "report.bin", content);
    ASSERT_EQ(::chmod((staging / "report.bin").c_str(), 0640), 0);
    const timespec mtime{1'600'000'000, 123'456'789};
    set_mtime(staging / "report.bin", mtime);
    // A rename delivers the file complete, mode and mtime already set, in one IN_MOVED_TO.
    fs::rename(staging / "report.bin", src_ / "report.bin");

    ASSERT_TRUE(wait_until_synced(src_, dst_, 20s));
    struct stat st{};
    ASSERT_EQ(::lstat((dst_ / "report.bin").c_str(), &st), 0);
    EXPECT_TRUE(S_ISREG(st.st_mode));
    EXPECT_EQ(st.st_mode & 0777, 0640U);
    EXPECT_EQ(st.st_mtim.tv_sec, mtime.tv_sec);
    EXPECT_EQ(st.st_mtim.tv_nsec, mtime.tv_nsec);
    EXPECT_EQ(read_file(dst_ / "report.bin"), std::string(content.begin(), content.end()));
}

TEST_F(SyncTest, FilesWrittenIntoJustCreatedNestedDirectoriesArrive)
{
    start_and_sync();
    for (int i = 0; i < 20; ++i) {
        const fs::path deepest = src_ / ("tree" + std::to_string(i)) / "a" / "b" / "c" / "d";
        fs::create_directories(deepest);
        // Written at once, before the agent can have watched any of the new directories: only its scan
        // of a new directory can find this file.
        write_file(deepest / "leaf.txt", "leaf of tree " + std::to_string(i) + "\n");
    }
    ASSERT_TRUE(wait_until_synced(src_, dst_, 30s));
}

TEST_F(SyncTest, DirectoryTreeMovedInArrivesAndIsWatched)
{
    start_and_sync();
    const fs::path outside = make_dir("elsewhere/moved/inner");
    write_file(outside / "before-move.txt", "written before the move\n");
    write_file(outside.parent_path() / "top.txt", "top\n");
    fs::rename(outside.parent_path(), src_ / "moved");
    ASSERT_TRUE(wait_until_synced(src_, dst_, 20s));

    // Arrival alone could come from one scan; a later write shows the moved-in directories are watched.
    write_file(src_ / "moved" / "inner" / "after-move.txt", "written after the move\n");
    ASSERT_TRUE(wait_until_synced(src_, dst_, 20s));
}

TEST_F(SyncTest, ClientsWithTheSameFolderNameStayInTheirOwnNamespaces)
{
    pki().generate({"--client", "alice", "--client", "bob"});
    const fs::path alice_dir = make_dir("alice/shared");
    const fs::path bob_dir = make_dir("bob/shared");
    write_file(alice_dir / "note.txt", "from alice\n");
    write_file(bob_dir / "note.txt", "from bob\n");
    write_file(bob_dir / "only-bob.txt", "bob's alone\n");
    start_server();
    start_agent({alice_dir.string()}, {}, pki().client("alice"));
    start_agent({bob_dir.string()}, {}, pki().client("bob"));

    EXPECT_TRUE(wait_until_synced(alice_dir, server_file("alice", "shared"), 20s));
    EXPECT_TRUE(wait_until_synced(bob_dir, server_file("bob", "shared"), 20s));
}

// Other users of the backup host must not read clients' files: a client's and a folder's directories
// are the server user's alone.
TEST_F(SyncTest, NamespaceDirectoriesAreOpenOnlyToTheServersUser)
{
    write_file(src_ / "a.txt", "a\n");
    start_and_sync({.probe = false});
    for (const fs::path& dir : {dst_.parent_path(), dst_}) {
        struct stat st{};
        ASSERT_EQ(::stat(dir.c_str(), &st), 0) << dir;
        EXPECT_EQ(st.st_mode & 07777, 0700U) << dir << " has mode " << std::oct << (st.st_mode & 07777);
    }
}

// Kernels before 5.6 have no openat2: the agent then resolves paths with a walk of its own, which
// MINISYNC_FORCE_PATH_WALK=1 forces here. The agent says at start which one it uses.
TEST_F(SyncTest, TheComponentWalkResolvesPathsWhereOpenat2IsMissing)
{
    fs::create_directories(src_ / "a" / "b");
    write_file(src_ / "a" / "b" / "deep.txt", "deep\n");
    write_file(src_ / "top.txt", "top\n");
    start_server();
    ASSERT_EQ(::setenv("MINISYNC_FORCE_PATH_WALK", "1", 1), 0);
    ChildProcess& agent = start_agent({src_.string()});
    ASSERT_EQ(::unsetenv("MINISYNC_FORCE_PATH_WALK"), 0);
    EXPECT_TRUE(wait_until_synced(src_, dst_, 20s));
    write_file(src_ / "a" / "b" / "later.txt", "later\n");
    EXPECT_TRUE(wait_until_synced(src_, dst_, 20s));
    EXPECT_TRUE(agent.log_contains("paths in folders are resolved with a component walk (MINISYNC_FORCE_PATH_WALK=1)"))
        << agent.log_text();
}

TEST_F(SyncTest, StartupScanSyncsExistingFilesAndRestartRewritesNothing)
{
    fs::create_directories(src_ / "docs" / "deep" / "er");
    write_file(src_ / "top.txt", "top\n");
    write_file(src_ / "empty", "");
    write_file(src_ / "docs" / "readme.md", "# readme\n");
    write_random_file(src_ / "docs" / "deep" / "er" / "data.bin", (1 << 20) + 3, 7);
    ASSERT_EQ(::chmod((src_ / "top.txt").c_str(), 0600), 0);
    set_mtime(src_ / "docs" / "readme.md", timespec{1'234'567'890, 987'654'321});
    constexpr std::size_t FileCount = 4;

    ChildProcess& first = start_and_sync({.agent_args = MetricsArgs, .probe = false, .deadline = 30s});
    const TreeListing before = files_only(list_tree(dst_));
    ASSERT_EQ(before.size(), FileCount);
    // The server makes missing directories itself, so the tree can match before the agent's own requests
    // for them (and the mtimes it restores afterwards) are answered and recorded.
    ASSERT_TRUE(wait_until_idle(first));
    stop(first);

    ChildProcess& second = start_agent({src_.string()}, MetricsArgs);
    // The state database remembers every committed version: the rescan compares stat data only, and
    // neither hashes nor offers anything to the server. (No metric reports what the scan found: its line is
    // the record.)
    ASSERT_TRUE(wait_for_log(second, "7 unchanged, 0 to send, 0 to remove"));
    ASSERT_TRUE(wait_until_connected(second, 10s));
    // Every answer the server gives (COMMITTED, ALREADY_HAVE, DONE) counts as an entry synced.
    EXPECT_EQ(sample(second, "minisync_files_synced_total"), 0);
    const TreeListing after = files_only(list_tree(dst_));
    // Same inode and ctime: not rewritten, not replaced by a rename, not even touched.
    EXPECT_EQ(join_lines(compare_listings(before, after, CompareOptions{.identity = true})), "");
    EXPECT_EQ(join_lines(compare_trees(src_, dst_)), "");
}

TEST_F(SyncTest, RestartAfterModeAndMtimeOnlyChangesSyncsThem)
{
    write_file(src_ / "same.txt", "same content\n");
    ChildProcess& first = start_and_sync({.probe = false});
    stop(first);

    // Changed while no agent ran: same bytes, new mode and mtime. On start every file that changed (README.md
    // "Agent") is synced, mode and mtime included.
    ASSERT_EQ(::chmod((src_ / "same.txt").c_str(), 0600), 0);
    set_mtime(src_ / "same.txt", timespec{1'000'000'000, 123'456'789});
    start_agent({src_.string()});
    EXPECT_TRUE(wait_until_synced(src_, dst_, 10s));
}

TEST_F(SyncTest, UnusualFileNamesArrive)
{
    start_and_sync();
    const std::vector<std::string> names{
        "with space.txt", "ünïcödé-名前.txt", "new\nline", "tab\tname",
        "back\\slash", "-leading-dash", "trailing.", "...", ".hidden", "a=b", "#%*?[]",
        ".minisync.not-a-partial", std::string(255, 'n'),
    };
    fs::create_directories(src_ / "dir with space" / ".hidden dir");
    for (const std::string& name : names) {
        write_file(src_ / name, name);
        write_file(src_ / "dir with space" / ".hidden dir" / name, name + name);
    }
    ASSERT_TRUE(wait_until_synced(src_, dst_, 20s));
}

TEST_F(SyncTest, LargeFileArrivesIntact)
{
    constexpr std::uint64_t Size = 200ULL << 20;
    write_random_file(src_ / "big.bin", Size, 200);
    start_server();

    const Clock::time_point started = Clock::now();
    start_agent({src_.string()});
    // The final name appears only by the rename of a verified, complete file: its existence is arrival.
    ASSERT_TRUE(wait_for([&] { return metadata_matches(); }, 120s)) << join_lines(compare_trees(src_, dst_));
    print_timing("200 MiB", Clock::now() - started);
    EXPECT_EQ(join_lines(compare_trees(src_, dst_)), "");
}

// The bytes a process has read, files and sockets together (proc(5): rchar in /proc/PID/io).
std::uint64_t bytes_read_by(pid_t pid)
{
    std::ifstream io{"/proc/" + std::to_string(pid) + "/io"};
    std::string key;
    std::uint64_t value = 0;
    while (io >> key >> value) {
        if (key == "rchar:") {
            return value;
        }
    }
    throw std::runtime_error("no rchar in /proc/" + std::to_string(pid) + "/io");
}

TEST_F(SyncTest, InitialSyncReadsANewFileOnceAndDoesNotHashItFirst)
{
    // Nothing on the server has this size, so the server does not ask for the hash before the data.
    constexpr std::uint64_t Size = 48ULL << 20;
    write_random_file(src_ / "new.bin", Size, 48);
    start_server();
    ChildProcess& agent = start_agent({src_.string()}, MetricsArgs);
    ASSERT_TRUE(wait_for([&] { return metadata_matches(); }, 60s)) << join_lines(compare_trees(src_, dst_));
    // Its COMMITTED came back: the agent has done all it will do with it.
    ASSERT_TRUE(wait_for_sample(agent, "minisync_files_synced_total", [](double synced) { return synced == 1; }, 10s));
    const std::uint64_t read = bytes_read_by(agent.pid());
    EXPECT_GE(read, Size);
    EXPECT_LT(read, Size + Size / 4) << "the agent read the file more than once";
    // No metric counts HASH_WANTED: the agent's line for it is the only trace.
    EXPECT_EQ(agent.log_count("offering the hash"), 0U) << agent.log_text();
}

TEST_F(SyncTest, ManySmallFilesInOneDirectoryShareDirectoryFsyncs)
{
    // The agent keeps dozens of files in flight; those that wait together for one directory go into it
    // under one fsync of the directory instead of one each.
    constexpr int Files = 400;
    fs::create_directory(src_ / "many");
    for (int f = 0; f < Files; ++f) {
        write_file(src_ / "many" / ("file" + std::to_string(f)), random_bytes(2048, 7000 + static_cast<std::uint64_t>(f)));
    }
    start_server(MetricsArgs);
    start_agent({src_.string()});
    ASSERT_TRUE(wait_for([&] { return metadata_matches(); }, 60s)) << join_lines(compare_trees(src_, dst_));
    EXPECT_EQ(join_lines(compare_trees(src_, dst_)), "");
    const double committed = sample_value(server(), "minisync_server_files_committed_total");
    const double directory_syncs = sample_value(server(), "minisync_server_directory_syncs_total");
    std::cout << "[ note ] " << committed << " files committed with " << directory_syncs << " directory fsyncs\n";
    EXPECT_GE(committed, Files);
    EXPECT_GE(directory_syncs, 1);
    EXPECT_LE(directory_syncs, committed / 4) << "files were not committed in groups";
}

TEST_F(SyncTest, ThousandSmallFilesCreatedWhileRunningArrive)
{
    start_and_sync();
    const Clock::time_point started = Clock::now();
    std::uint64_t seed = 1000;
    for (int d = 0; d < 10; ++d) {
        const fs::path dir = src_ / ("batch" + std::to_string(d));
        fs::create_directory(dir);
        for (int f = 0; f < 100; ++f) {
            const std::size_t size = 1024 + static_cast<std::size_t>((seed * 2654435761U) % (7 * 1024 + 1));
            write_file(dir / ("file" + std::to_string(f) + ".bin"), random_bytes(size, seed++));
        }
    }
    ASSERT_TRUE(wait_for([&] { return metadata_matches(); }, 60s)) << join_lines(compare_trees(src_, dst_));
    print_timing("1000 files of 1-8 KiB", Clock::now() - started);
    EXPECT_EQ(join_lines(compare_trees(src_, dst_)), "");
    EXPECT_EQ(files_only(list_tree(dst_)).size(), 1001U); // and the probe
}

TEST_F(SyncTest, RapidRewritesEndWithTheFinalContent)
{
    ChildProcess& agent = start_and_sync();
    // Same size every time, several rewrites per mtime tick: only content tells the versions apart,
    // and the agent reads while the file is being truncated and rewritten under it.
    constexpr std::size_t Size = 512 * 1024;
    std::vector<std::uint8_t> last;
    for (int i = 0; i < 100; ++i) {
        last = random_bytes(Size, 5000 + static_cast<std::uint64_t>(i));
        write_file(src_ / "hot.bin", last);
    }
    const Sha256Digest expected = sha256_of(std::string_view{reinterpret_cast<const char*>(last.data()), last.size()});

    ASSERT_TRUE(wait_until_synced(src_, dst_, 30s));
    EXPECT_EQ(file_sha256(dst_ / "hot.bin"), expected);
    // Uploads given up half-way (the file changed under them) must not leave their partials behind.
    EXPECT_TRUE(wait_for([&] { return find_partials(server_root()).empty(); }, 10s))
        << join_lines(find_partials(server_root()));
    // Whatever was still in flight when the trees first matched must not replace the final version.
    stop(agent);
    EXPECT_EQ(join_lines(compare_trees(src_, dst_)), "");
    EXPECT_EQ(file_sha256(dst_ / "hot.bin"), expected);
}

TEST_F(SyncTest, BandwidthLimitedUploadArrivesNoFasterThanTheCap)
{
    // 2 MiB at 1 MiB/s: about two seconds, whatever the machine.
    write_random_file(src_ / "capped.bin", 2 << 20, 21);
    start_server();
    const Clock::time_point started = Clock::now();
    start_agent({src_.string()}, {"--bwlimit", "1M"});
    ASSERT_TRUE(wait_for([&] { return metadata_matches(); }, 10s)) << join_lines(compare_trees(src_, dst_));
    const Clock::duration elapsed = Clock::now() - started;
    EXPECT_GE(elapsed, 1500ms) << "2 MiB arrived faster than --bwlimit 1M allows";
    EXPECT_EQ(join_lines(compare_trees(src_, dst_)), "");
}

TEST_F(SyncTest, NoPartialFilesRemainAfterSync)
{
    // Sizes around the agent's 256 KiB chunk and the multi-chunk case.
    fs::create_directories(src_ / "sub");
    write_file(src_ / "zero", "");
    write_file(src_ / "one", "1");
    write_random_file(src_ / "sub" / "chunk-minus-one", 256 * 1024 - 1, 11);
    write_random_file(src_ / "sub" / "chunk", 256 * 1024, 12);
    write_random_file(src_ / "sub" / "chunk-plus-one", 256 * 1024 + 1, 13);
    write_random_file(src_ / "sub" / "five-mib", 5 << 20, 14);
    start_server();
    start_agent({src_.string()});

    ASSERT_TRUE(wait_until_synced(src_, dst_, 30s));
    EXPECT_EQ(join_lines(find_partials(server_root())), "");
    EXPECT_EQ(join_lines(find_partials(src_)), "");
}

TEST_F(SyncTest, FileKeptBusyIsRetriedAfterAPauseNotInALoop)
{
    write_random_file(src_ / "busy.bin", 4 << 20, 31);
    const int fd = ::open((src_ / "busy.bin").c_str(), O_WRONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    start_server();
    ChildProcess& agent = start_agent({src_.string()});
    ASSERT_TRUE(wait_until_connected(agent, 10s));
    // Written in place without a pause and never closed: every attempt to send it sees it change.
    const auto until = Clock::now() + 1500ms;
    for (std::uint64_t i = 0; Clock::now() < until; ++i) {
        const char byte = static_cast<char>(i);
        ASSERT_EQ(::pwrite(fd, &byte, 1, static_cast<off_t>((i * 7919) % (4 << 20))), 1);
    }
    // An upload of 4 MiB takes milliseconds here: retried at once, it would have failed dozens of times. No
    // metric counts uploads given up on a change, so the agent's line for each is what is counted.
    EXPECT_LE(agent.log_count("changed while being sent"), 2U) << agent.log_text();
    ASSERT_EQ(::close(fd), 0);
    // The close-write that finally comes sends it at once.
    EXPECT_TRUE(wait_until_synced(src_, dst_, 20s));
}

} // namespace
} // namespace minisync::test
