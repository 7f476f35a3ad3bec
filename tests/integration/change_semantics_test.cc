// Complete change semantics: every kind of change made in a watched folder reaches the server as that kind
// of change. Renames are renames there (same inode), directories, symlinks, modes and mtimes are mirrored,
// special files are skipped, editors' scratch files never sent, files still being written arrive, and the
// folder vanishing or being unmounted neither stops the agent nor deletes the server's copies.
#include "minisync_fixture.h"
#include "test_mounts.h"
#include "test_files.h"
#include "tree_compare.h"
#include "tree_walk.h"
#include "unique_fd.h"
#include "wait_for.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <csignal>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace minisync::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// True when one line of the log holds every fragment: a message about a path names it on that line.
bool log_has_line(const std::string& log, std::initializer_list<std::string_view> fragments)
{
    std::istringstream lines{log};
    for (std::string line; std::getline(lines, line);) {
        if (std::all_of(fragments.begin(), fragments.end(),
                        [&](std::string_view fragment) { return line.find(fragment) != std::string::npos; })) {
            return true;
        }
    }
    return false;
}

bool log_has_line(const ChildProcess& process, std::initializer_list<std::string_view> fragments)
{
    return log_has_line(process.log_text(), fragments);
}

std::optional<struct stat> lstat_of(const fs::path& path)
{
    struct stat st{};
    if (::lstat(path.c_str(), &st) != 0) {
        return std::nullopt;
    }
    return st;
}

bool exists_no_follow(const fs::path& path)
{
    return lstat_of(path).has_value();
}

// An open descriptor on a server file. While it is held the file's inode cannot be freed and its number
// reused, so finding that number under the new name proves the server renamed the file rather than
// writing a new one (which, with the old copy deleted first, might otherwise get the same number).
class HeldInode {
public:
    explicit HeldInode(const fs::path& path) : fd_{::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC)}
    {
        if (!fd_) {
            throw std::runtime_error("cannot open '" + path.string() + "': " + std::strerror(errno));
        }
    }

    [[nodiscard]] struct stat status() const
    {
        struct stat st{};
        if (::fstat(fd_.get(), &st) != 0) {
            throw std::runtime_error(std::string{"fstat: "} + std::strerror(errno));
        }
        return st;
    }

private:
    UniqueFd fd_;
};

::testing::AssertionResult is_the_same_file(const HeldInode& before, const fs::path& now)
{
    const struct stat held = before.status();
    const std::optional<struct stat> current = lstat_of(now);
    if (!current) {
        return ::testing::AssertionFailure() << "'" << now.string() << "' does not exist";
    }
    if (current->st_ino != held.st_ino || current->st_dev != held.st_dev) {
        return ::testing::AssertionFailure()
               << "'" << now.string() << "' is inode " << current->st_ino << ", a new file; the one held before the "
               << "move is inode " << held.st_ino << " with " << held.st_nlink << " links (0: deleted)";
    }
    return ::testing::AssertionSuccess();
}

// Every regular file under root, held open and keyed by its path relative to root.
std::map<std::string, HeldInode> hold_files(const fs::path& root)
{
    std::map<std::string, HeldInode> held;
    for (const auto& [path, entry] : files_only(list_tree(root))) {
        held.emplace(path, HeldInode{root / path});
    }
    return held;
}

TreeListing without(TreeListing listing, const std::function<bool(const std::string&)>& dropped)
{
    std::erase_if(listing, [&](const auto& item) { return dropped(item.first); });
    return listing;
}

class ChangeSemanticsTest : public FolderTest {
protected:
    // Starts the server and an agent with args (the folder first, see the exclude tests), writes a probe
    // file and waits for it (see StartOptions::probe).
    ChildProcess& start_and_probe(std::vector<std::string> args)
    {
        args.insert(args.end(), MetricsArgs.begin(), MetricsArgs.end());
        return FolderTest::start_and_sync({.folders = std::vector<std::string>{}, .agent_args = std::move(args),
                                           .await = Await::Probe});
    }

    // An agent on src, once the probe and the regular files src already held have arrived. Only those:
    // whatever else a test set up (directories, links, special files) is what it checks, and should fail
    // there, not here.
    ChildProcess& start_and_sync()
    {
        return FolderTest::start_and_sync({.agent_args = MetricsArgs, .await = Await::Files});
    }

    // wait_until_synced with directory modes and mtimes compared too.
    ::testing::AssertionResult wait_until_mirrored(std::chrono::milliseconds deadline)
    {
        std::vector<std::string> differences;
        const CompareOptions options{.directory_metadata = true};
        if (wait_for([&] { return (differences = compare_trees(src_, dst_, options)).empty(); }, deadline)) {
            return ::testing::AssertionSuccess();
        }
        return ::testing::AssertionFailure() << "'" << dst_.string() << "' still differs from '" << src_.string()
                                             << "' (directory metadata included) after " << deadline.count()
                                             << " ms:\n"
                                             << join_lines(differences);
    }

    // Polls until the server's listing equals expected(), listed afresh each time (metadata only: for
    // trees the agent deliberately does not mirror entirely).
    ::testing::AssertionResult wait_until_listing_matches(const std::function<TreeListing()>& expected,
                                                          std::chrono::milliseconds deadline)
    {
        std::vector<std::string> differences;
        if (wait_for([&] { return (differences = compare_listings(expected(), list_tree(dst_))).empty(); },
                     deadline)) {
            return ::testing::AssertionSuccess();
        }
        return ::testing::AssertionFailure() << "the server's listing still differs after " << deadline.count()
                                             << " ms:\n"
                                             << join_lines(differences);
    }

    // A negative poll: true when none of the paths appears on the server within the time. Used only once
    // a later change has arrived, and it first waits until the agent is idle, so whatever it had seen is
    // decided: the time is a margin for stragglers, not a wait for the agent.
    ::testing::AssertionResult stay_absent_on_server(const ChildProcess& agent, const std::vector<std::string>& relatives,
                                                     std::chrono::milliseconds time)
    {
        if (::testing::AssertionResult idle = wait_until_idle(agent); !idle) {
            return idle;
        }
        std::string appeared;
        const bool any = wait_for(
            [&] {
                for (const std::string& relative : relatives) {
                    if (exists_no_follow(dst_ / relative)) {
                        appeared = relative;
                        return true;
                    }
                }
                return false;
            },
            time);
        if (any) {
            return ::testing::AssertionFailure() << "'" << appeared << "' reached the server";
        }
        return ::testing::AssertionSuccess();
    }

    // For what only the agent's log records: that it sent a rename as one (no metric counts renames), and
    // the lines docs/OPERATIONS.md promises an operator (skipped special files).
    ::testing::AssertionResult wait_for_log_line(const ChildProcess& agent,
                                                 std::initializer_list<std::string_view> fragments)
    {
        if (wait_for([&] { return log_has_line(agent, fragments); }, 10s)) {
            return ::testing::AssertionSuccess();
        }
        ::testing::AssertionResult failure = ::testing::AssertionFailure();
        failure << "no line of the agent's log holds all of:";
        for (std::string_view fragment : fragments) {
            failure << " '" << fragment << "'";
        }
        return failure;
    }
};

// ---- renames are renames on the server ----

TEST_F(ChangeSemanticsTest, RenamedFileKeepsItsServerInode)
{
    write_file(src_ / "before-rename.txt", "renamed, not sent again\n");
    ChildProcess& agent = start_and_sync();
    const HeldInode before{dst_ / "before-rename.txt"};

    fs::rename(src_ / "before-rename.txt", src_ / "after-rename.txt");
    ASSERT_TRUE(wait_until_synced(src_, dst_, 20s));
    EXPECT_TRUE(is_the_same_file(before, dst_ / "after-rename.txt"));
    EXPECT_TRUE(wait_for_log_line(agent, {"renamed from", "before-rename.txt", "after-rename.txt"}));
}

TEST_F(ChangeSemanticsTest, FileMovedIntoAnotherDirectoryKeepsItsServerInode)
{
    fs::create_directories(src_ / "archive" / "2024");
    write_file(src_ / "archive" / "2024" / "older.txt", "already there\n");
    write_random_file(src_ / "report.bin", 300 * 1024, 1);
    ChildProcess& agent = start_and_sync();
    const HeldInode before{dst_ / "report.bin"};

    fs::rename(src_ / "report.bin", src_ / "archive" / "2024" / "report.bin");
    ASSERT_TRUE(wait_until_synced(src_, dst_, 20s));
    EXPECT_TRUE(is_the_same_file(before, dst_ / "archive" / "2024" / "report.bin"));
    EXPECT_TRUE(wait_for_log_line(agent, {"renamed from", "archive/2024/report.bin"}));
}

TEST_F(ChangeSemanticsTest, RenamedDirectoryKeepsTheServerInodesOfEverythingBelowIt)
{
    fs::create_directories(src_ / "old-name" / "sub" / "deeper");
    fs::create_directories(src_ / "old-name" / "empty");
    write_file(src_ / "old-name" / "top.txt", "top\n");
    write_file(src_ / "old-name" / "sub" / "middle.txt", "middle\n");
    write_random_file(src_ / "old-name" / "sub" / "deeper" / "bottom.bin", 100 * 1024, 2);
    ChildProcess& agent = start_and_sync();
    const std::map<std::string, HeldInode> before = hold_files(dst_ / "old-name");
    ASSERT_EQ(before.size(), 3U);

    fs::rename(src_ / "old-name", src_ / "new-name");
    ASSERT_TRUE(wait_until_synced(src_, dst_, 20s));
    EXPECT_FALSE(exists_no_follow(dst_ / "old-name"));
    for (const auto& [relative, held] : before) {
        EXPECT_TRUE(is_the_same_file(held, dst_ / "new-name" / relative)) << relative;
    }
    EXPECT_TRUE(wait_for_log_line(agent, {"renamed from", "old-name", "new-name"}));
}

TEST_F(ChangeSemanticsTest, EditorStyleAtomicSaveEndsWithTheNewContentAndNoTemporaryFile)
{
    write_file(src_ / "document.txt", "first version\n");
    start_and_sync();

    write_file(src_ / "document.txt.tmp", "second version, saved atomically\n");
    fs::rename(src_ / "document.txt.tmp", src_ / "document.txt");
    ASSERT_TRUE(wait_until_synced(src_, dst_, 20s));
    EXPECT_EQ(read_file(dst_ / "document.txt"), "second version, saved atomically\n");
    EXPECT_FALSE(exists_no_follow(dst_ / "document.txt.tmp"));
}

TEST_F(ChangeSemanticsTest, FileMovedOutOfTheFolderIsDeletedOnTheServer)
{
    write_file(src_ / "leaving.txt", "moved to a sibling of the folder\n");
    write_file(src_ / "staying.txt", "stays\n");
    start_and_sync();

    const fs::path sibling = make_dir("sibling");
    fs::rename(src_ / "leaving.txt", sibling / "leaving.txt");
    EXPECT_TRUE(wait_for([&] { return !exists_no_follow(dst_ / "leaving.txt"); }, 20s));
    EXPECT_TRUE(wait_until_synced(src_, dst_, 20s));
}

TEST_F(ChangeSemanticsTest, FileAndDirectoryTreeMovedIntoTheFolderAreUploaded)
{
    start_and_sync();
    const fs::path outside = make_dir("outside");
    fs::create_directories(outside / "tree" / "a" / "b");
    fs::create_directories(outside / "tree" / "empty");
    write_file(outside / "single.txt", "moved in alone\n");
    write_file(outside / "tree" / "t.txt", "t\n");
    write_random_file(outside / "tree" / "a" / "b" / "deep.bin", 200 * 1024, 3);

    fs::rename(outside / "single.txt", src_ / "single.txt");
    fs::rename(outside / "tree", src_ / "tree");
    ASSERT_TRUE(wait_until_synced(src_, dst_, 20s));
    EXPECT_EQ(read_file(dst_ / "single.txt"), "moved in alone\n");
}

// ---- directories and empty files ----

TEST_F(ChangeSemanticsTest, MkdirRmdirEmptyFilesAndEmptyDirectoriesAreMirrored)
{
    start_and_sync();
    fs::create_directories(src_ / "empty-dir");
    fs::create_directories(src_ / "nested" / "empty" / "deeper");
    write_file(src_ / "empty-file", "");
    write_file(src_ / "nested" / "zero-bytes", "");
    ASSERT_TRUE(wait_until_synced(src_, dst_, 20s));
    EXPECT_TRUE(fs::is_directory(fs::symlink_status(dst_ / "empty-dir")));
    EXPECT_TRUE(fs::is_directory(fs::symlink_status(dst_ / "nested" / "empty" / "deeper")));
    EXPECT_TRUE(fs::is_regular_file(fs::symlink_status(dst_ / "empty-file")));
    EXPECT_EQ(fs::file_size(dst_ / "nested" / "zero-bytes"), 0U);

    ASSERT_EQ(::rmdir((src_ / "empty-dir").c_str()), 0);
    ASSERT_EQ(::rmdir((src_ / "nested" / "empty" / "deeper").c_str()), 0);
    ASSERT_TRUE(wait_until_synced(src_, dst_, 20s));
    EXPECT_FALSE(exists_no_follow(dst_ / "empty-dir"));
    EXPECT_FALSE(exists_no_follow(dst_ / "nested" / "empty" / "deeper"));
    EXPECT_TRUE(fs::is_directory(fs::symlink_status(dst_ / "nested" / "empty")));
}

// ---- symlinks ----

TEST_F(ChangeSemanticsTest, SymlinksAreMirroredAsLinksAndNeverFollowed)
{
    fs::create_directories(src_ / "sub");
    write_file(src_ / "target.txt", "the target\n");
    // Found by the start-up scan; the others below by inotify.
    fs::create_symlink("target.txt", src_ / "at-start");
    start_and_sync();

    const std::map<std::string, std::string> links{
        {"relative", "target.txt"},
        {"sub/up-and-over", "../target.txt"},
        {"to-a-directory", "sub"},
        {"absolute-outside", "/etc/passwd"},
        {"dangling", "no/such/file"},
    };
    for (const auto& [link, target] : links) {
        fs::create_symlink(target, src_ / link);
    }
    ASSERT_TRUE(wait_until_synced(src_, dst_, 20s));
    for (const auto& [link, target] : links) {
        ASSERT_TRUE(fs::is_symlink(fs::symlink_status(dst_ / link))) << link;
        EXPECT_EQ(fs::read_symlink(dst_ / link).string(), target) << link;
    }
    EXPECT_TRUE(fs::is_symlink(fs::symlink_status(dst_ / "at-start")));
}

TEST_F(ChangeSemanticsTest, RetargetedSymlinkIsUpdated)
{
    write_file(src_ / "one.txt", "one\n");
    write_file(src_ / "two.txt", "two\n");
    fs::create_directories(src_ / "dir-one");
    fs::create_directories(src_ / "dir-two");
    fs::create_symlink("one.txt", src_ / "current");
    fs::create_symlink("dir-one", src_ / "current-dir");
    start_and_sync();

    // ln -sf: unlink, then a new link under the same name.
    fs::remove(src_ / "current");
    fs::create_symlink("two.txt", src_ / "current");
    // ln -sfn as coreutils does it today: a new link under a temporary name renamed over the old one.
    fs::create_symlink("dir-two", src_ / "current-dir.tmp");
    fs::rename(src_ / "current-dir.tmp", src_ / "current-dir");
    ASSERT_TRUE(wait_until_synced(src_, dst_, 20s));
    EXPECT_EQ(fs::read_symlink(dst_ / "current").string(), "two.txt");
    EXPECT_EQ(fs::read_symlink(dst_ / "current-dir").string(), "dir-two");
    EXPECT_FALSE(exists_no_follow(dst_ / "current-dir.tmp"));
}

TEST_F(ChangeSemanticsTest, SymlinkReplacedByAFileAndBackConverges)
{
    write_file(src_ / "target.txt", "target\n");
    fs::create_symlink("target.txt", src_ / "shifting");
    start_and_sync();

    fs::remove(src_ / "shifting");
    write_file(src_ / "shifting", "a file now\n");
    ASSERT_TRUE(wait_until_synced(src_, dst_, 20s));
    EXPECT_EQ(read_file(dst_ / "shifting"), "a file now\n");

    fs::remove(src_ / "shifting");
    fs::create_symlink("elsewhere", src_ / "shifting");
    ASSERT_TRUE(wait_until_synced(src_, dst_, 20s));
    EXPECT_TRUE(fs::is_symlink(fs::symlink_status(dst_ / "shifting")));
}

// ---- modes and mtimes ----

TEST_F(ChangeSemanticsTest, FileModesAndNanosecondMtimesAreMirrored)
{
    fs::create_directories(src_ / "sub");
    write_file(src_ / "private.txt", "private\n");
    write_file(src_ / "sub" / "tool.sh", "#!/bin/sh\n");
    write_file(src_ / "sub" / "frozen.txt", "read-only\n");
    start_and_sync();

    ASSERT_EQ(::chmod((src_ / "private.txt").c_str(), 0600), 0);
    ASSERT_EQ(::chmod((src_ / "sub" / "tool.sh").c_str(), 0755), 0);
    ASSERT_EQ(::chmod((src_ / "sub" / "frozen.txt").c_str(), 0444), 0);
    set_mtime(src_ / "private.txt", timespec{1'500'000'000, 123'456'789});
    set_mtime(src_ / "sub" / "frozen.txt", timespec{1'000'000'001, 999'999'999});
    ASSERT_TRUE(wait_until_synced(src_, dst_, 20s));
}

TEST_F(ChangeSemanticsTest, DirectoryAndSymlinkMetadataIsMirrored)
{
    start_and_sync();
    fs::create_directories(src_ / "project" / "secret");
    fs::create_directories(src_ / "read-only");
    write_file(src_ / "project" / "notes.txt", "notes\n");
    fs::create_symlink("../probe.txt", src_ / "project" / "link");
    set_mtime(src_ / "project" / "link", timespec{1'400'000'000, 111'111'111});
    ASSERT_EQ(::chmod((src_ / "project").c_str(), 0750), 0);
    ASSERT_EQ(::chmod((src_ / "project" / "secret").c_str(), 0700), 0);
    // The server keeps owner rwx: expected there as 0755.
    ASSERT_EQ(::chmod((src_ / "read-only").c_str(), 0555), 0);
    // Last, since every entry made in a directory moves its mtime.
    set_mtime(src_ / "project" / "secret", timespec{1'300'000'000, 222'222'222});
    set_mtime(src_ / "project", timespec{1'200'000'000, 333'333'333});
    ASSERT_TRUE(wait_until_mirrored(20s));
    EXPECT_EQ(lstat_of(dst_ / "read-only").value().st_mode & 0777, 0755U);

    // Changed again on directories the server already has.
    ASSERT_EQ(::chmod((src_ / "project").c_str(), 0700), 0);
    set_mtime(src_ / "project", timespec{1'250'000'000, 444'444'444});
    set_mtime(src_ / "read-only", timespec{1'100'000'000, 555'555'555});
    EXPECT_TRUE(wait_until_mirrored(20s));
}

// ---- hard links, special files, names ----

TEST_F(ChangeSemanticsTest, HardLinksAreStoredAsSeparateFiles)
{
    fs::create_directories(src_ / "other-dir");
    start_and_sync();
    write_random_file(src_ / "original.bin", 64 * 1024, 4);
    fs::create_hard_link(src_ / "original.bin", src_ / "second-name.bin");
    fs::create_hard_link(src_ / "original.bin", src_ / "other-dir" / "third-name.bin");
    ASSERT_TRUE(wait_until_synced(src_, dst_, 20s));
    for (const char* name : {"original.bin", "second-name.bin", "other-dir/third-name.bin"}) {
        const std::optional<struct stat> st = lstat_of(dst_ / name);
        ASSERT_TRUE(st) << name;
        EXPECT_EQ(st->st_nlink, 1U) << name;
    }
}

TEST_F(ChangeSemanticsTest, FifosAreSkippedAndOtherFilesStillSync)
{
    ASSERT_EQ(::mkfifo((src_ / "pipe-at-start").c_str(), 0644), 0);
    write_file(src_ / "before.txt", "before\n");
    ChildProcess& agent = start_and_sync();
    // Reading a FIFO with no writer would block whoever opens it: the agent must not even try.
    ASSERT_EQ(::mkfifo((src_ / "pipe-while-running").c_str(), 0644), 0);
    write_file(src_ / "after.txt", "after\n");

    const auto is_pipe = [](const std::string& path) { return path.starts_with("pipe-"); };
    ASSERT_TRUE(wait_until_listing_matches([&] { return without(list_tree(src_), is_pipe); }, 20s));
    EXPECT_EQ(read_file(dst_ / "after.txt"), "after\n");
    EXPECT_TRUE(wait_for_log_line(agent, {"skipped", "pipe-at-start"}));
    EXPECT_TRUE(wait_for_log_line(agent, {"skipped", "pipe-while-running"}));
    EXPECT_TRUE(stay_absent_on_server(agent, {"pipe-at-start", "pipe-while-running"}, 500ms));
}

TEST_F(ChangeSemanticsTest, NamesWithSpacesNewlinesNonUtf8BytesAndLongPathsArrive)
{
    start_and_sync();
    fs::create_directories(src_ / "dir with space" / "new\nline dir");
    write_file(src_ / "dir with space" / "new\nline dir" / "file with\nnewline", "odd names\n");
    const std::string not_utf8 = "\xff\xfe";
    fs::create_directories(src_ / (not_utf8 + "-dir"));
    write_file(src_ / not_utf8, "not UTF-8\n");
    write_file(src_ / (not_utf8 + "-dir") / ("latin1-\xe9t\xe9"), "not UTF-8 either\n");

    // About 4000 bytes of relative path in components of NAME_MAX bytes, as long as both the local and the
    // server copy stay within PATH_MAX (the test itself walks them by full path).
    constexpr std::size_t WantedRelativeBytes = 4000;
    const std::size_t prefix = std::max(src_.string().size(), dst_.string().size()) + 1;
    const std::size_t budget = std::min(WantedRelativeBytes, PATH_MAX - 1 - prefix);
    std::string relative;
    for (char c = 'a'; relative.size() + NAME_MAX + 1 < budget; ++c) {
        relative += std::string(NAME_MAX, c) + "/";
    }
    fs::create_directories(src_ / relative);
    relative += std::string(std::min<std::size_t>(NAME_MAX, budget - relative.size()), 'z');
    ASSERT_GE(relative.size(), 3800U) << "the sandbox path is too long to test long paths";
    write_file(src_ / relative, "at the end of a long path\n");

    ASSERT_TRUE(wait_until_synced(src_, dst_, 20s));
    EXPECT_EQ(read_file(dst_ / relative), "at the end of a long path\n");
}

// ---- excludes ----

TEST_F(ChangeSemanticsTest, EditorScratchFilesAreNeverSent)
{
    fs::create_directories(src_ / "sub");
    const std::vector<std::string> scratch{
        "at-start.swp", "sub/at-start~", "sub/.#at-start", "x.swp", "x~", ".#x", "4913", "sub/4913", "sub/.x.swp",
    };
    write_file(src_ / "at-start.swp", "vim swap\n");
    write_file(src_ / "sub" / "at-start~", "backup\n");
    write_file(src_ / "sub" / ".#at-start", "emacs lock\n");
    write_file(src_ / "sub" / "kept.txt", "kept\n");
    ChildProcess& agent = start_and_probe({src_.string()});
    // vim's write probe (4913), swap files, backups and emacs lock files.
    for (const char* name : {"x.swp", "x~", ".#x", "4913", "sub/4913", "sub/.x.swp"}) {
        write_file(src_ / name, "scratch\n");
    }
    // Written after the scratch files, so once it is there the scratch files had their chance.
    write_file(src_ / "sub" / "real.txt", "real\n");

    const auto is_scratch = [&](const std::string& path) {
        return std::find(scratch.begin(), scratch.end(), path) != scratch.end();
    };
    ASSERT_TRUE(wait_until_listing_matches([&] { return without(list_tree(src_), is_scratch); }, 20s));
    EXPECT_TRUE(stay_absent_on_server(agent, scratch, 500ms));
}

TEST_F(ChangeSemanticsTest, ExcludeOptionMatchesNamesAtAnyDepthAndPathsWithDoubleStar)
{
    // Every directory also holds a file that is sent, so this tests excludes alone, not how empty
    // directories are mirrored.
    fs::create_directories(src_ / "deep" / "er");
    fs::create_directories(src_ / "builder");
    write_file(src_ / "main.o", "object\n");
    write_file(src_ / "deep" / "er" / "util.o", "object\n");
    write_file(src_ / "deep" / "er" / "util.c", "source\n");
    write_file(src_ / "builder" / "kept.txt", "not below build/\n");
    write_file(src_ / "main.c", "source\n");
    // The folder before the options: what is tested here is the matching, not where the option may stand
    // (the next test).
    ChildProcess& agent = start_and_probe({src_.string(), "--exclude", "build/**", "--exclude", "*.o"});

    fs::create_directories(src_ / "build" / "obj" / "x86");
    write_file(src_ / "build" / "out.bin", "output\n");
    write_file(src_ / "build" / "obj" / "x86" / "a.bin", "output\n");
    write_file(src_ / "deep" / "later.o", "object\n");
    write_file(src_ / "deep" / "later.c", "source\n");

    // Whether build itself is mirrored (empty) is not the pattern's business: only what is below it.
    const auto is_excluded = [](const std::string& path) {
        return path == "build" || path.starts_with("build/") || path.ends_with(".o");
    };
    const auto not_build = [](const std::string& path) { return path == "build"; };
    std::vector<std::string> differences;
    EXPECT_TRUE(wait_for(
        [&] {
            differences = compare_listings(without(list_tree(src_), is_excluded), without(list_tree(dst_), not_build));
            return differences.empty();
        },
        20s))
        << join_lines(differences);
    EXPECT_TRUE(stay_absent_on_server(agent, {"main.o", "deep/er/util.o", "deep/later.o", "build/out.bin", "build/obj"},
                                      500ms));
}

TEST_F(ChangeSemanticsTest, ExcludeOptionGivenBeforeTheFolderLeavesTheFolderAlone)
{
    write_file(src_ / "kept.txt", "kept\n");
    write_file(src_ / "dropped.o", "object\n");
    // As the usage line and the README put it: minisyncd [options] FOLDER, with "--exclude GLOB" among the
    // options, so the folder comes right after a pattern.
    std::vector<std::string> args{"--exclude", "*.o"};
    args.insert(args.end(), MetricsArgs.begin(), MetricsArgs.end());
    ChildProcess& agent = FolderTest::start_and_sync({.agent_args = args, .await = Await::Probe});
    ASSERT_TRUE(wait_for([&] { return fs::exists(dst_ / "kept.txt"); }, 20s)) << "the agent never synced";
    EXPECT_TRUE(stay_absent_on_server(agent, {"dropped.o"}, 500ms));
}

// ---- files still being written, bursts ----

TEST_F(ChangeSemanticsTest, FileThatKeepsGrowingWithoutBeingClosedReachesTheServer)
{
    start_and_sync();
    const fs::path log = src_ / "service.log";
    const UniqueFd fd{::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)};
    ASSERT_TRUE(fd) << std::strerror(errno);
    std::atomic<int> write_errno{0};
    std::jthread writer{[&](std::stop_token stop) {
        for (int line = 0; !stop.stop_requested(); ++line) {
            const std::string text = "line " + std::to_string(line) + ": the service is still running\n";
            if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
                write_errno = errno;
                return;
            }
            // Pacing the writer like a real service, not waiting for the agent.
            std::this_thread::sleep_for(50ms);
        }
    }};

    // A snapshot of a file being appended to: what the server has must be how the file began.
    std::string server_copy;
    const auto server_holds_a_prefix = [&] {
        try {
            if (!fs::is_regular_file(fs::symlink_status(dst_ / "service.log"))) {
                return false;
            }
            server_copy = read_file(dst_ / "service.log");
            return !server_copy.empty() && read_file(log).starts_with(server_copy);
        } catch (const std::exception&) {
            return false; // replaced between the check and the read
        }
    };
    EXPECT_TRUE(wait_for(server_holds_a_prefix, 10s))
        << "after 10 s the server holds " << server_copy.size() << " bytes, not a non-empty prefix of the "
        << fs::file_size(log) << " written";

    writer.request_stop();
    writer.join();
    ASSERT_EQ(write_errno.load(), 0) << std::strerror(write_errno.load());
    // Still open: no IN_CLOSE_WRITE will ever tell the agent the file is complete.
    const std::string final_content = read_file(log);
    EXPECT_TRUE(wait_for(
        [&] {
            try {
                return read_file(dst_ / "service.log") == final_content;
            } catch (const std::exception&) {
                return false;
            }
        },
        15s))
        << "the server's copy never caught up with the " << final_content.size() << " bytes written";
}

TEST_F(ChangeSemanticsTest, BurstOfWritesToOnePathEndsWithTheFinalContent)
{
    start_and_sync();
    std::string last;
    for (int i = 0; i < 200; ++i) {
        // Sizes differ from write to write, so a stale version shows in the listing as well as the hash.
        const std::vector<std::uint8_t> bytes = random_bytes(1000 + static_cast<std::size_t>(i * 37 % 5000), 100 + i);
        last = "version " + std::to_string(i) + "\n" + std::string(bytes.begin(), bytes.end());
        write_file(src_ / "hot.txt", last);
    }
    ASSERT_TRUE(wait_until_synced(src_, dst_, 20s));
    EXPECT_EQ(read_file(dst_ / "hot.txt"), last);
}

// ---- the folder itself going away ----

TEST_F(ChangeSemanticsTest, DeletedWatchedFolderDoesNotStopTheAgent)
{
    fs::create_directories(src_ / "sub");
    write_file(src_ / "a.txt", "a\n");
    write_file(src_ / "sub" / "b.txt", "b\n");
    ChildProcess& agent = start_and_sync();

    fs::remove_all(src_);
    // The per-file deletes came first and went through; once the root itself is gone the folder is suspended,
    // and status tells the truth about the server's copy.
    ASSERT_TRUE(wait_for([&] { return status_json(agent)["folders"][0]["state"] == "suspended"; }, 20s))
        << status_json(agent).dump();
    const std::string reason = status_json(agent)["folders"][0]["error"].get<std::string>();
    EXPECT_NE(reason.find("nothing is removed on the server"), std::string::npos) << reason;
    EXPECT_FALSE(agent.log_contains("the server keeps its copy")) << "a claim the per-file deletes made untrue";
    // Whatever the agent schedules in reaction (a retry, a rescan) gets a moment to misbehave.
    EXPECT_FALSE(wait_for([&] { return !agent.running(); }, 2s)) << "the agent exited after its folder was deleted";
    ASSERT_TRUE(agent.send_signal(SIGTERM));
    EXPECT_EQ(agent.wait_for_exit(10s), 0);
}

TEST_F(ChangeSemanticsTest, UnmountedFolderKeepsItsFilesOnTheServer)
{
    if (::geteuid() != 0) {
        GTEST_SKIP() << "mounting a tmpfs over the folder needs root";
    }
    TestMount mount{src_};
    if (!mount.mounted()) {
        GTEST_SKIP() << "cannot mount a tmpfs at '" << src_.string() << "': " << mount.error();
    }
    fs::create_directories(src_ / "sub");
    write_file(src_ / "on-the-mount.txt", "lives on the tmpfs\n");
    write_file(src_ / "sub" / "nested.txt", "nested\n");
    ChildProcess& agent = start_and_sync();
    const std::size_t log_before = agent.log_text().size();

    // The directory underneath is empty: to a careless agent, every file was just deleted.
    ASSERT_TRUE(mount.detach()) << std::strerror(errno);
    // The warning docs/OPERATIONS.md promises for an unmounted folder: the log line is the contract.
    const auto folder_reported = [&] {
        const std::string log = agent.log_text();
        const std::string since = log.size() > log_before ? log.substr(log_before) : std::string{};
        return log_has_line(since, {"warning: ", "folder=src"}) || log_has_line(since, {"error: ", "folder=src"}) ||
               log_has_line(since, {"warning: ", src_.string()}) || log_has_line(since, {"error: ", src_.string()});
    };
    EXPECT_TRUE(wait_for(folder_reported, 20s)) << "no warning or error about the folder after the unmount";
    EXPECT_TRUE(wait_for([&] { return status_json(agent)["folders"][0]["state"] == "suspended"; }, 20s))
        << status_json(agent).dump();
    EXPECT_FALSE(wait_for([&] { return !exists_no_follow(dst_ / "on-the-mount.txt"); }, 3s))
        << "the server's copy was deleted after the folder was unmounted";
    EXPECT_TRUE(exists_no_follow(dst_ / "sub" / "nested.txt"));
    EXPECT_TRUE(agent.running());
}

} // namespace
} // namespace minisync::test
