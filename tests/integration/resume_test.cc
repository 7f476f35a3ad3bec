// Interrupted uploads: the agent killed with SIGKILL, the server killed with SIGKILL and restarted, and the
// file rewritten while it is being sent. Resumed uploads must not send again what the server already holds,
// and the server must only ever show a complete version of the file, never a mix of two.
#include "minisync_fixture.h"
#include "test_files.h"
#include "tree_compare.h"
#include "tree_walk.h"
#include "wait_for.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <csignal>
#include <iostream>
#include <optional>
#include <regex>
#include <string>

namespace minisync::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr std::uint64_t MiB = 1ULL << 20;
constexpr std::uint64_t BigSize = 200 * MiB;
// Half of the file: a restart from zero would then cost 1.5 × the size in all, over the 1.4 × bound below,
// so the byte count fails if resume breaks. (Killed at 60 MiB, a restart from zero costs only 1.3 ×.)
constexpr std::uint64_t KillAfter = BigSize / 2;
// About three seconds for the whole file: slow enough to kill it half-way, fast enough for the suite.
constexpr const char* SlowRate = "64M";
constexpr std::chrono::milliseconds UploadDeadline = 90s;

std::optional<std::uint64_t> first_number(const std::string& text, const std::regex& pattern)
{
    std::smatch match;
    if (!std::regex_search(text, match, pattern)) {
        return std::nullopt;
    }
    return std::stoull(match[1].str());
}

// Content bytes one server run received, from the line it logs when SIGTERM stops it.
std::optional<std::uint64_t> bytes_received(const ChildProcess& server)
{
    static const std::regex Stopped{R"(stopped: \d+ files committed, (\d+) bytes received)"};
    return first_number(server.log_text(), Stopped);
}

// Content bytes the agent handed to its connections over its whole life (resent ones counted again), from
// the line it logs when SIGTERM stops it: an upper bound of what every server run received from it.
std::optional<std::uint64_t> bytes_sent(const ChildProcess& agent)
{
    static const std::regex Stopped{R"(stopped: \d+ files synced, (\d+) bytes sent)"};
    return first_number(agent.log_text(), Stopped);
}

// The offset the agent resumed path at, from its `resuming at byte N of SIZE` line.
std::optional<std::uint64_t> resume_offset(const ChildProcess& agent, const std::string& path)
{
    const std::regex resuming{"path=" + path + R"(: resuming at byte (\d+) of \d+)"};
    return first_number(agent.log_text(), resuming);
}

// For the record of a run, like sync_test's timing lines: how far the resume got and what it all cost.
void report_resume(std::uint64_t offset, std::uint64_t total)
{
    std::cout << "[ resume ] resumed at " << offset / MiB << " MiB; " << total / MiB << " MiB sent in all for "
              << BigSize / MiB << " MiB" << std::endl;
}

class ResumeTest : public FolderTest {
protected:

    ::testing::AssertionResult wait_for_partial(std::uint64_t bytes)
    {
        if (wait_for([&] { return partial_bytes(dst_) >= bytes; }, 30s)) {
            return ::testing::AssertionSuccess();
        }
        return ::testing::AssertionFailure() << "the server's partial never reached " << bytes << " bytes (it has "
                                             << partial_bytes(dst_) << ")";
    }
};

TEST_F(ResumeTest, AgentKilledMidUploadResumesFromPersistedOffset)
{
    write_random_file(src_ / "big.bin", BigSize, 301);
    start_server();
    ChildProcess& slow = start_agent({src_.string()}, {"--bwlimit", SlowRate});
    ASSERT_TRUE(wait_for_partial(KillAfter));
    ASSERT_TRUE(slow.send_signal(SIGKILL));
    ASSERT_EQ(slow.wait_for_exit(5s), 128 + SIGKILL);
    ASSERT_FALSE(fs::exists(dst_ / "big.bin")) << "the upload finished before the agent could be killed";
    // Every offset the agent persisted was confirmed by the server after an fsync of at least that much.
    const std::uint64_t held = partial_bytes(dst_);

    // Same state database, no cap: the agent finds the upload it had confirmed offsets for.
    ChildProcess& agent = start_agent({src_.string()});
    ASSERT_TRUE(wait_for([&] { return metadata_matches(); }, UploadDeadline))
        << join_lines(compare_trees(src_, dst_));
    EXPECT_EQ(join_lines(compare_trees(src_, dst_)), "");
    EXPECT_EQ(join_lines(find_partials(dst_)), "");

    const std::optional<std::uint64_t> offset = resume_offset(agent, "big.bin");
    ASSERT_TRUE(offset) << "the restarted agent did not resume:\n" << agent.log_text();
    EXPECT_GT(*offset, 0U);
    EXPECT_LE(*offset, held) << "resumed past what the server held when the agent was killed";

    // A resumed upload is recorded as committed like any other: the next start has nothing to do.
    stop(agent);
    ChildProcess& third = start_agent({src_.string()});
    // No metric reports what the start-up scan found: its line is the record.
    EXPECT_TRUE(wait_for_log(third, "1 unchanged, 0 to send, 0 to remove"));

    stop(server());
    const std::optional<std::uint64_t> received = bytes_received(server());
    ASSERT_TRUE(received) << "the server logged no byte count at exit";
    EXPECT_LT(*received, BigSize * 14 / 10) << "resume saved too little: the server received " << *received
                                            << " bytes for a file of " << BigSize;
    report_resume(*offset, *received);
}

TEST_F(ResumeTest, ServerKilledMidUploadAgentReconnectsAndResumes)
{
    write_random_file(src_ / "big.bin", BigSize, 302);
    start_server();
    ChildProcess& agent = start_agent({src_.string()}, {"--bwlimit", SlowRate});
    ASSERT_TRUE(wait_for_partial(KillAfter));
    ChildProcess& first = server();
    ASSERT_TRUE(first.send_signal(SIGKILL));
    ASSERT_EQ(first.wait_for_exit(5s), 128 + SIGKILL);
    ASSERT_FALSE(fs::exists(dst_ / "big.bin")) << "the upload finished before the server could be killed";

    // Same port and root: the agent is left to find the new server by itself.
    restart_server();
    ASSERT_TRUE(wait_for([&] { return metadata_matches(); }, UploadDeadline))
        << join_lines(compare_trees(src_, dst_));
    EXPECT_EQ(join_lines(compare_trees(src_, dst_)), "");
    EXPECT_EQ(join_lines(find_partials(dst_)), "");

    const std::optional<std::uint64_t> offset = resume_offset(agent, "big.bin");
    ASSERT_TRUE(offset) << "the agent did not resume on the restarted server";
    EXPECT_GT(*offset, 0U);

    // The killed run logged nothing at exit; the agent's own count bounds what both runs received.
    stop(agent);
    const std::optional<std::uint64_t> sent = bytes_sent(agent);
    ASSERT_TRUE(sent) << "the agent logged no byte count at exit";
    EXPECT_LT(*sent, BigSize * 14 / 10) << "resume saved too little: the agent sent " << *sent
                                        << " bytes for a file of " << BigSize;
    stop(server());
    const std::optional<std::uint64_t> received = bytes_received(server());
    ASSERT_TRUE(received) << "the restarted server logged no byte count at exit";
    EXPECT_EQ(*received, BigSize - *offset) << "the restarted server must receive exactly the part it did not hold";
    report_resume(*offset, *sent);
}

TEST_F(ResumeTest, PartialOfFileDeletedWhileAgentWasDownIsRemoved)
{
    write_random_file(src_ / "abandoned.bin", 32 * MiB, 303);
    start_server();
    ChildProcess& slow = start_agent({src_.string()}, {"--bwlimit", "16M"});
    ASSERT_TRUE(wait_for_partial(16 * MiB));
    ASSERT_TRUE(slow.send_signal(SIGKILL));
    ASSERT_EQ(slow.wait_for_exit(5s), 128 + SIGKILL);
    fs::remove(src_ / "abandoned.bin");
    write_file(src_ / "other.txt", "keeps the folder from looking unmounted\n");

    ChildProcess& agent = start_agent({src_.string()});
    ASSERT_TRUE(wait_until_synced(src_, dst_, 20s));
    // No metric counts removals: the agent's line says it had the server's REMOVED.
    EXPECT_TRUE(wait_for_log(agent, "path=abandoned.bin: removed", 10s));
    EXPECT_TRUE(wait_for([&] { return find_partials(server_root()).empty(); }, 10s))
        << join_lines(find_partials(server_root()));
}

struct RewriteCase {
    const char* name;
    std::uint64_t new_size;
};

// Names the case in test listings, instead of gtest's dump of the struct's bytes.
void PrintTo(const RewriteCase& param, std::ostream* out)
{
    *out << param.name << " (" << param.new_size << " bytes)";
}

class RewriteDuringUploadTest : public ResumeTest, public ::testing::WithParamInterface<RewriteCase> {};

// 40 MiB at 16 MiB/s: 2.5 s per version, larger than the agent's read-ahead plus socket buffers, so at
// half-way the agent has not read the old version to its end.
constexpr std::uint64_t RewriteSize = 40 * MiB;

TEST_P(RewriteDuringUploadTest, ServerEndsWithTheNewContentAndNeverAMix)
{
    const fs::path local = src_ / "doc.bin";
    const fs::path remote = dst_ / "doc.bin";
    write_random_file(local, RewriteSize, 401);
    const Sha256Digest old_digest = file_sha256(local);
    start_server();
    start_agent({src_.string()}, {"--bwlimit", "16M"});
    ASSERT_TRUE(wait_for_partial(RewriteSize / 2));
    ASSERT_FALSE(fs::exists(remote)) << "the old version arrived before it could be rewritten";

    // In place: truncated, then written again in 1 MiB blocks while the agent is reading it.
    write_random_file(local, GetParam().new_size, 402);
    const Sha256Digest new_digest = file_sha256(local);

    // The final name changes only by rename, so each version the server commits stays in place for at
    // least a poll: hashing each one seen shows whether any was neither the old nor the new content.
    std::vector<std::string> foreign;
    std::optional<Sha256Digest> current;
    struct stat seen{};
    const bool arrived = wait_for(
        [&] {
            struct stat st{};
            if (::lstat(remote.c_str(), &st) != 0) {
                return false;
            }
            if (!current || st.st_ino != seen.st_ino || st.st_size != seen.st_size ||
                st.st_mtim.tv_nsec != seen.st_mtim.tv_nsec || st.st_mtim.tv_sec != seen.st_mtim.tv_sec) {
                seen = st;
                current = file_sha256(remote);
                if (*current != old_digest && *current != new_digest) {
                    foreign.push_back(std::to_string(st.st_size) + " bytes, inode " + std::to_string(st.st_ino));
                }
            }
            return *current == new_digest;
        },
        30s);
    EXPECT_EQ(join_lines(foreign), "") << "the server committed content that is neither version";
    ASSERT_TRUE(arrived) << "the new content never arrived: " << join_lines(compare_trees(src_, dst_));
    EXPECT_EQ(join_lines(compare_trees(src_, dst_)), "");
    // The abandoned upload's partial is reused or removed, never left behind.
    EXPECT_TRUE(wait_for([&] { return find_partials(server_root()).empty(); }, 10s))
        << join_lines(find_partials(server_root()));
}

INSTANTIATE_TEST_SUITE_P(Variants, RewriteDuringUploadTest,
                         ::testing::Values(RewriteCase{"SameSize", RewriteSize},
                                           // Shorter than what the server already holds of the old version.
                                           RewriteCase{"Shorter", RewriteSize * 3 / 8 + 7}),
                         [](const ::testing::TestParamInfo<RewriteCase>& info) { return info.param.name; });

} // namespace
} // namespace minisync::test
