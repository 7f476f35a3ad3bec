// Faults of the real processes: the server's disk filling up (its --root on a small tmpfs of its own), and the
// server killed with SIGKILL again and again while it commits. Errors must reach the agent as NO_SPACE and be
// retried without restarting anything, other files must keep arriving, and whatever was committed must stay
// intact: a final name only ever holds one complete version of a file.
#include "metrics_scrape.h"
#include "minisync_fixture.h"
#include "path_rules.h"
#include "test_files.h"
#include "tree_compare.h"
#include "tree_walk.h"
#include "wait_for.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/resource.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <mutex>
#include <optional>
#include <random>
#include <regex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>

namespace minisync::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr std::uint64_t KiB = 1ULL << 10;
constexpr std::uint64_t MiB = 1ULL << 20;

// Names under dir that are neither expected nor the hidden name of a partial upload: what a client could
// mistake for content.
std::vector<std::string> unexpected_names(const fs::path& dir, const std::set<std::string>& expected)
{
    std::vector<std::string> stray;
    for (const auto& [path, entry] : list_tree(dir)) {
        if (!expected.contains(path) && !is_partial_name(fs::path{path}.filename().string())) {
            stray.push_back(path + " (" + to_string(entry.kind) + ", " + std::to_string(entry.size) + " bytes)");
        }
    }
    return stray;
}

// The entry at path alone (none if there is none), to check that one file stays untouched.
TreeListing only(TreeListing listing, const std::string& path)
{
    std::erase_if(listing, [&](const auto& item) { return item.first != path; });
    return listing;
}

// Versions that identify themselves: version v of file f is lines of 64 bytes, each naming f, v and its own
// number, cut at a length that depends on (f, v). A reader can tell a complete version from a truncated one
// or from a mix of two, and say which versions a torn file was made of.
class VersionedFiles {
public:
    static constexpr int FileCount = 20;
    static constexpr std::uint64_t MinSize = 64 * KiB;
    static constexpr std::uint64_t MaxSize = 2 * MiB;

    explicit VersionedFiles(std::uint64_t seed) : seed_{seed} {}

    static std::string name(int file)
    {
        char buffer[32];
        std::snprintf(buffer, sizeof buffer, "file-%02d.bin", file);
        return buffer;
    }

    // The file named name, or nothing for another name.
    static std::optional<int> index_of(const std::string& name)
    {
        for (int file = 0; file < FileCount; ++file) {
            if (name == VersionedFiles::name(file)) {
                return file;
            }
        }
        return std::nullopt;
    }

    [[nodiscard]] std::uint64_t size(int file, std::uint32_t version) const
    {
        std::uint64_t z = seed_ ^ (static_cast<std::uint64_t>(file) << 40) ^ version;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        z ^= z >> 31;
        return MinSize + z % (MaxSize - MinSize + 1);
    }

    [[nodiscard]] std::string content(int file, std::uint32_t version) const
    {
        const std::uint64_t total = size(file, version);
        std::string out;
        out.reserve(total + LineBytes);
        for (std::uint32_t line = 0; out.size() < total; ++line) {
            out += line_text(file, version, line);
        }
        out.resize(total);
        return out;
    }

    // The version content is, complete; otherwise nothing, and what is wrong with it in problem.
    [[nodiscard]] std::optional<std::uint32_t> identify(int file, const std::string& content,
                                                        std::string& problem) const
    {
        int named_file = -1;
        std::uint32_t version = 0;
        std::uint32_t line = 0;
        if (std::sscanf(content.c_str(), "file %d version %u line %u", &named_file, &version, &line) != 3 ||
            named_file != file || line != 0) {
            problem = "does not begin with its own first line (" + std::to_string(content.size()) + " bytes)";
            return std::nullopt;
        }
        const std::string expected = this->content(file, version);
        if (content == expected) {
            return version;
        }
        std::size_t at = 0;
        while (at < content.size() && at < expected.size() && content[at] == expected[at]) {
            ++at;
        }
        problem = "begins as version " + std::to_string(version) + " (" + std::to_string(expected.size()) +
                  " bytes) but has " + std::to_string(content.size()) + " bytes and differs from byte " +
                  std::to_string(at);
        if (at < content.size()) {
            const std::size_t line_start = at - at % LineBytes;
            int other_file = -1;
            std::uint32_t other_version = 0;
            if (std::sscanf(content.c_str() + line_start, "file %d version %u", &other_file, &other_version) == 2) {
                problem += ", where a line of version " + std::to_string(other_version) + " is";
            }
        }
        return std::nullopt;
    }

private:
    static constexpr std::size_t LineBytes = 64;

    static std::string line_text(int file, std::uint32_t version, std::uint32_t line)
    {
        char buffer[LineBytes + 1];
        const int n = std::snprintf(buffer, sizeof buffer, "file %02d version %06u line %07u ", file, version, line);
        std::string text{buffer, static_cast<std::size_t>(n)};
        text.resize(LineBytes - 1, '.');
        text.push_back('\n');
        return text;
    }

    const std::uint64_t seed_;
};

// Rewrites every file in rounds, each file replaced whole by a rename from outside the watched folder: the
// agent only ever reads complete versions, so anything else on the server is the server's doing.
class RoundWriter {
public:
    RoundWriter(const VersionedFiles& files, fs::path folder, fs::path staging)
        : files_{files}, folder_{std::move(folder)}, staging_{std::move(staging)}
    {
    }
    RoundWriter(const RoundWriter&) = delete;
    RoundWriter& operator=(const RoundWriter&) = delete;
    ~RoundWriter() { stop(); }

    void write_round()
    {
        const std::uint32_t version = ++rounds_;
        for (int file = 0; file < VersionedFiles::FileCount; ++file) {
            const fs::path staged = staging_ / VersionedFiles::name(file);
            write_file(staged, files_.content(file, version));
            // Raised before the rename: no version on the server can be newer than this says.
            latest_[static_cast<std::size_t>(file)] = version;
            fs::rename(staged, folder_ / VersionedFiles::name(file));
        }
    }

    // A new round every pause until stop(): the agent always has something to send.
    void start(std::chrono::milliseconds pause)
    {
        thread_ = std::jthread{[this, pause](std::stop_token stop) {
            std::mutex mutex;
            std::condition_variable_any wake;
            try {
                while (!stop.stop_requested()) {
                    write_round();
                    std::unique_lock lock{mutex};
                    wake.wait_for(lock, stop, pause, [] { return false; });
                }
            } catch (const std::exception& error) {
                const std::lock_guard lock{error_mutex_};
                error_ = error.what();
            }
        }};
    }

    // Waits for the round in progress to finish; returns what went wrong in the thread, if anything.
    std::string stop()
    {
        if (thread_.joinable()) {
            thread_.request_stop();
            thread_.join();
        }
        const std::lock_guard lock{error_mutex_};
        return error_;
    }

    [[nodiscard]] std::uint32_t latest(int file) const { return latest_[static_cast<std::size_t>(file)]; }
    [[nodiscard]] std::uint32_t rounds() const { return rounds_; }

private:
    const VersionedFiles& files_;
    const fs::path folder_;
    const fs::path staging_;
    std::array<std::atomic<std::uint32_t>, VersionedFiles::FileCount> latest_{};
    std::atomic<std::uint32_t> rounds_{0};
    std::mutex error_mutex_;
    std::string error_;
    std::jthread thread_;
};

std::uint64_t test_seed()
{
    if (const char* fixed = std::getenv("MINISYNC_FAULT_SEED"); fixed != nullptr && *fixed != '\0') {
        return std::strtoull(fixed, nullptr, 10);
    }
    return std::random_device{}();
}

// For the disk-full tests, the server's --root on a file system of its own, small enough to fill: a tmpfs when
// this process may mount one (root, as in CI); otherwise, where the scenario allows it, the server's
// RLIMIT_FSIZE stands in for the size of the disk, since a file over the limit cannot be written there either.
// For the kill tests, the check of what the server holds while it is down.
class FaultTest : public FolderTest {
protected:
    void TearDown() override
    {
        // The server first: a busy mount point cannot be unmounted cleanly.
        FolderTest::TearDown();
        if (mounted_ && ::umount2(server_root().c_str(), 0) != 0 &&
            ::umount2(server_root().c_str(), MNT_DETACH) != 0) {
            ADD_FAILURE() << "cannot unmount the tmpfs at '" << server_root().string() << "': " << std::strerror(errno);
        }
    }

    // Mounts a tmpfs of the size at server_root(); false, with the reason in mount_error_, if not permitted.
    bool mount_small_disk(std::uint64_t bytes)
    {
        fs::create_directories(server_root());
        const std::string options = "size=" + std::to_string(bytes) + ",mode=0700";
        if (::mount("tmpfs", server_root().c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) != 0) {
            mount_error_ = std::string{"mount -t tmpfs: "} + std::strerror(errno);
            return false;
        }
        mounted_ = true;
        return true;
    }

    // Makes room without restarting anything, as an operator growing the volume would.
    ::testing::AssertionResult resize_disk(std::uint64_t bytes)
    {
        const std::string options = "size=" + std::to_string(bytes);
        if (::mount("tmpfs", server_root().c_str(), nullptr, MS_REMOUNT | MS_NOSUID | MS_NODEV, options.c_str()) != 0) {
            return ::testing::AssertionFailure() << "remount " << options << ": " << std::strerror(errno);
        }
        return ::testing::AssertionSuccess();
    }

    // Sets the soft RLIMIT_FSIZE of the running server (raising it is allowed up to the hard limit).
    static ::testing::AssertionResult set_file_size_limit(ChildProcess& server, rlim_t bytes)
    {
        rlimit current{};
        if (::prlimit(server.pid(), RLIMIT_FSIZE, nullptr, &current) != 0) {
            return ::testing::AssertionFailure() << "prlimit: " << std::strerror(errno);
        }
        const rlimit wanted{std::min(bytes, current.rlim_max), current.rlim_max};
        if (::prlimit(server.pid(), RLIMIT_FSIZE, &wanted, nullptr) != 0) {
            return ::testing::AssertionFailure() << "prlimit: " << std::strerror(errno);
        }
        return ::testing::AssertionSuccess();
    }

    // Fills the disk under the server root with a file of the test's own, outside every client's namespace,
    // until the file system refuses; returns how much it took.
    std::uint64_t fill_disk(const fs::path& filler)
    {
        const std::vector<std::uint8_t> block = random_bytes(256 * KiB, 99);
        const int fd = ::open(filler.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) {
            throw std::runtime_error("cannot create '" + filler.string() + "': " + std::strerror(errno));
        }
        std::uint64_t written = 0;
        while (true) {
            const ssize_t n = ::write(fd, block.data(), block.size());
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                break;
            }
            written += static_cast<std::uint64_t>(n);
        }
        const int err = errno;
        ::close(fd);
        if (err != ENOSPC) {
            throw std::runtime_error("filling '" + filler.string() + "' stopped with " + std::strerror(err) +
                                     ", not ENOSPC");
        }
        return written;
    }

    // The agent's answer for path, as it logs it: "server refused it, retried in 5 s err=... (no space)".
    static std::size_t no_space_refusals(const ChildProcess& agent, const std::string& path)
    {
        const std::regex refused{"path=" + path + R"(: server refused it, retried in 5 s err=[^\n]*\(no space\))"};
        const std::string log = agent.log_text();
        return static_cast<std::size_t>(
            std::distance(std::sregex_iterator(log.begin(), log.end(), refused), std::sregex_iterator{}));
    }

    // The agent's log line for the first error the server answered for path; empty while there is none.
    static std::string first_refusal(const ChildProcess& agent, const std::string& path)
    {
        const std::string log = agent.log_text();
        const std::size_t at = log.find("path=" + path + ": server refused it");
        return at == std::string::npos ? std::string{} : log.substr(at, log.find('\n', at) - at);
    }

    // Every entry of the folder on the server while no server runs: each final name must hold one complete
    // version, no older than the one seen there before. Returns the problems; counts partials and files.
    std::vector<std::string> inspect(const VersionedFiles& files, const RoundWriter& writer, std::size_t& partials,
                                     std::size_t& complete)
    {
        std::vector<std::string> problems;
        partials = 0;
        complete = 0;
        for (const auto& [path, entry] : list_tree(dst_)) {
            if (is_partial_name(fs::path{path}.filename().string())) {
                ++partials;
                continue;
            }
            const std::optional<int> file = VersionedFiles::index_of(path);
            if (!file || entry.kind != EntryKind::File) {
                problems.push_back(path + ": not a file the test wrote (" + to_string(entry.kind) + ")");
                continue;
            }
            std::string problem;
            const std::optional<std::uint32_t> version = files.identify(*file, read_file(dst_ / path), problem);
            if (!version) {
                problems.push_back(path + ": torn: " + problem);
                continue;
            }
            std::uint32_t& seen = highest_seen_[static_cast<std::size_t>(*file)];
            if (*version > writer.latest(*file) || *version < seen) {
                problems.push_back(path + ": version " + std::to_string(*version) + " after version " +
                                   std::to_string(seen) + " (latest written " + std::to_string(writer.latest(*file)) +
                                   ")");
            }
            seen = std::max(seen, *version);
            ++complete;
        }
        return problems;
    }

    bool mounted_ = false;
    std::string mount_error_;
    std::array<std::uint32_t, VersionedFiles::FileCount> highest_seen_{};
};

TEST_F(FaultTest, ServerDiskFullRefusesAnUploadThatCannotFitRetriesItAndTakesItOnceThereIsRoom)
{
    constexpr std::uint64_t DiskSize = 8 * MiB;
    const bool on_tmpfs = mount_small_disk(DiskSize);
    if (!on_tmpfs) {
        std::cout << "[ note ] " << mount_error_ << "; the server's RLIMIT_FSIZE stands in for a full disk\n";
    }
    write_random_file(src_ / "first.bin", 1 * MiB, 1);
    start_server(MetricsArgs);
    if (!on_tmpfs) {
        ASSERT_TRUE(set_file_size_limit(server(), DiskSize));
    }
    ChildProcess& agent = start_agent({src_.string()}, MetricsArgs);
    ASSERT_TRUE(wait_until_synced(src_, dst_, 20s));
    const fs::path first = dst_ / "first.bin";
    const Sha256Digest first_digest = file_sha256(first);
    const TreeListing committed = only(list_tree(dst_), "first.bin");

    // More than the disk holds at all: no retry can succeed until there is room.
    constexpr std::uint64_t BigSize = 12 * MiB;
    write_random_file(src_ / "big.bin", BigSize, 2);
    wait_for([&] { return no_space_refusals(agent, "big.bin") >= 1 || !server().running(); }, 20s);
    // SIGXFSZ (128 + 25) here: the server wrote past its RLIMIT_FSIZE instead of refusing the file.
    ASSERT_TRUE(server().running()) << "the server died of it, exit status "
                                    << server().wait_for_exit(0ms).value_or(-1);
    ASSERT_GE(no_space_refusals(agent, "big.bin"), 1U) << agent.log_text();
    // The server says why too: the disk, not the agent, is the problem.
    static const std::regex ServerSaysNoSpace{R"(big\.bin[^\n]*(No space left on device|File too large))"};
    EXPECT_TRUE(std::regex_search(server().log_text(), ServerSaysNoSpace)) << server().log_text();

    // Retried later (every 5 s), never given up, and neither process went down over it.
    ASSERT_TRUE(wait_for([&] { return no_space_refusals(agent, "big.bin") >= 2; }, 15s)) << agent.log_text();
    EXPECT_TRUE(agent.running());
    EXPECT_TRUE(server().running());

    // Other files keep arriving while the big one waits for room.
    const std::vector<std::uint8_t> small = random_bytes(64 * KiB, 3);
    write_file(src_ / "small.bin", small);
    ASSERT_TRUE(wait_for([&] { return fs::exists(dst_ / "small.bin"); }, 15s)) << agent.log_text();
    EXPECT_EQ(read_file(dst_ / "small.bin"), std::string(small.begin(), small.end()));
    EXPECT_FALSE(fs::exists(dst_ / "big.bin"));

    // Nothing committed was touched, and nothing half-written shows under a final name.
    EXPECT_EQ(file_sha256(first), first_digest);
    EXPECT_EQ(join_lines(compare_listings(committed, only(list_tree(dst_), "first.bin"), {.identity = true})), "");
    EXPECT_EQ(join_lines(unexpected_names(dst_, {"first.bin", "small.bin"})), "");

    // The agent counts the refusals; the server refused the big file before a byte of it was sent, so the
    // disk never filled up for the other uploads.
    Samples agent_samples = scrape(agent);
    EXPECT_GE((agent_samples["minisync_errors_total{kind=\"server\"}"]), 2);
    Samples server_samples = scrape(server());
    EXPECT_EQ(server_samples["minisync_server_bytes_received_total"], static_cast<double>(1 * MiB + small.size()))
        << "the server received bytes of an upload it had no room for";
    EXPECT_GE((server_samples["minisync_server_rejected_total{reason=\"no_space\"}"]), 2);

    // Room is made; the next retry brings the file, with no restart of either process.
    if (on_tmpfs) {
        ASSERT_TRUE(resize_disk(64 * MiB));
    } else {
        ASSERT_TRUE(set_file_size_limit(server(), RLIM_INFINITY));
    }
    ASSERT_TRUE(wait_until_synced(src_, dst_, 20s));
    EXPECT_EQ(file_sha256(first), first_digest);
    EXPECT_TRUE(agent.running());
    EXPECT_TRUE(server().running());
    EXPECT_EQ(server_runs().size(), 1U);
    EXPECT_TRUE(wait_for([&] { return find_partials(server_root()).empty(); }, 10s))
        << join_lines(find_partials(server_root()));
}

TEST_F(FaultTest, ServerDiskFillingUpDuringAnUploadFailsItCleanlyAndItLandsOnceThereIsRoom)
{
    if (!mount_small_disk(16 * MiB)) {
        GTEST_SKIP() << "filling the server's disk during an upload needs a file system of its own: " << mount_error_;
    }
    write_random_file(src_ / "first.bin", 1 * MiB, 11);
    start_server();
    // Slow enough that the disk can be filled while the upload is half-way.
    ChildProcess& agent = start_agent({src_.string()}, {"--bwlimit", "4M"});
    ASSERT_TRUE(wait_until_synced(src_, dst_, 20s));
    const fs::path first = dst_ / "first.bin";
    const Sha256Digest first_digest = file_sha256(first);
    const TreeListing committed = only(list_tree(dst_), "first.bin");

    // Fits when it starts (the server's check at UPLOAD_BEGIN passes); the disk fills up under it.
    write_random_file(src_ / "mid.bin", 8 * MiB, 12);
    ASSERT_TRUE(wait_for([&] { return partial_bytes(dst_) >= 1 * MiB; }, 20s)) << agent.log_text();
    const fs::path filler = server_root() / "filler";
    const std::uint64_t filled = fill_disk(filler);
    std::cout << "[ disk ] filled the last " << filled / KiB << " KiB with a file of the test's own" << std::endl;

    // That upload fails at its next write, as NO_SPACE, and only that upload.
    std::string refusal;
    ASSERT_TRUE(wait_for([&] { return !(refusal = first_refusal(agent, "mid.bin")).empty(); }, 20s))
        << agent.log_text();
    EXPECT_NE(refusal.find("err=write 'mid.bin': No space left on device (no space)"), std::string::npos) << refusal;
    static const std::regex WriteFailed{R"(write failed err=write 'mid\.bin': No space left on device)"};
    EXPECT_TRUE(std::regex_search(server().log_text(), WriteFailed)) << server().log_text();
    // Its partial is discarded, which gives the space back; nothing shows under the final name.
    EXPECT_TRUE(wait_for([&] { return find_partials(server_root()).empty(); }, 10s))
        << join_lines(find_partials(server_root()));
    EXPECT_FALSE(fs::exists(dst_ / "mid.bin"));
    EXPECT_EQ(join_lines(unexpected_names(dst_, {"first.bin"})), "");
    EXPECT_EQ(file_sha256(first), first_digest);
    EXPECT_EQ(join_lines(compare_listings(committed, only(list_tree(dst_), "first.bin"), {.identity = true})), "");
    EXPECT_TRUE(agent.running());
    EXPECT_TRUE(server().running());

    // Room again: the retry brings the file without a restart.
    fs::remove(filler);
    ASSERT_TRUE(wait_until_synced(src_, dst_, 30s));
    EXPECT_EQ(file_sha256(first), first_digest);
    EXPECT_EQ(server_runs().size(), 1U);
    EXPECT_TRUE(agent.running());
    EXPECT_TRUE(wait_for([&] { return find_partials(server_root()).empty(); }, 10s))
        << join_lines(find_partials(server_root()));
}

TEST_F(FaultTest, ServerKilledWhileCommittingNeverLeavesATornFinalFile)
{
    const std::uint64_t seed = test_seed();
    std::cout << "[ seed ] " << seed << " (MINISYNC_FAULT_SEED=" << seed << " repeats the sizes and kill points)"
              << std::endl;
    std::mt19937_64 random{seed};
    const VersionedFiles files{seed};
    RoundWriter writer{files, src_, make_dir("staging")};
    writer.write_round();

    start_server(MetricsArgs);
    start_agent({src_.string()});
    writer.start(250ms);

    constexpr int Kills = 8;
    std::size_t partials_at_kills = 0;
    for (int round = 1; round <= Kills; ++round) {
        ChildProcess& running = server();
        // A random number of commits into this run, and while the server is behind the folder (sizes or
        // mtimes differ): the kill lands among writes, fsyncs and renames in flight, not in a lull between rounds.
        const std::size_t commits = std::uniform_int_distribution<std::size_t>{1, 30}(random);
        ASSERT_TRUE(wait_for(
            [&] {
                return sample(running, "minisync_server_files_committed_total") >= static_cast<double>(commits) &&
                       !compare_listings(list_tree(src_), list_tree(dst_)).empty();
            },
            30s))
            << "the server committed " << sample(running, "minisync_server_files_committed_total")
            << " files in 30 s, not " << commits
            << " while behind";
        ASSERT_TRUE(running.send_signal(SIGKILL));
        ASSERT_EQ(running.wait_for_exit(5s), 128 + SIGKILL);

        std::size_t partials = 0;
        std::size_t complete = 0;
        const std::vector<std::string> problems = inspect(files, writer, partials, complete);
        partials_at_kills += partials;
        std::cout << "[ kill ] " << round << ": SIGKILL after " << commits << " commits; " << complete
                  << " final files hold one complete version, " << problems.size() << " do not; " << partials
                  << " partial uploads" << std::endl;
        EXPECT_EQ(join_lines(problems), "") << "after kill " << round;
        restart_server();
    }
    const std::string writer_error = writer.stop();
    ASSERT_EQ(writer_error, "");
    std::cout << "[ fault ] " << writer.rounds() << " rounds of " << VersionedFiles::FileCount << " files written"
              << std::endl;
    // The kills came while uploads were in progress, not in lulls.
    EXPECT_GT(partials_at_kills, 0U) << "no kill found an upload in progress";

    ASSERT_TRUE(wait_until_synced(src_, dst_, 40s));
    std::size_t partials = 0;
    std::size_t complete = 0;
    EXPECT_EQ(join_lines(inspect(files, writer, partials, complete)), "");
    EXPECT_EQ(complete, static_cast<std::size_t>(VersionedFiles::FileCount));
    for (int file = 0; file < VersionedFiles::FileCount; ++file) {
        EXPECT_EQ(highest_seen_[static_cast<std::size_t>(file)], writer.latest(file)) << VersionedFiles::name(file);
    }
    EXPECT_TRUE(wait_for([&] { return find_partials(server_root()).empty(); }, 10s))
        << join_lines(find_partials(server_root()));
}

} // namespace
} // namespace minisync::test
