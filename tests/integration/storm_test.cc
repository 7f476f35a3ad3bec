// A randomized convergence test: a storm of every kind of change the agent handles, as fast as they come,
// in a nested folder; once it stops, the server's copy must become identical, directory metadata included.
//
// ctest runs a 5-second storm, which is a smoke test. The real run is 20 seconds or more:
//   MINISYNC_STORM_SECONDS=60 build-dir/tests/integration/minisync_integration_tests --gtest_filter='StormTest.*'
// Every run prints its seed (MINISYNC_STORM_SEED, random when unset) and, at the end, how many operations
// it made. The writer's choices depend on the seed and its own earlier operations alone, so
// MINISYNC_STORM_SEED=<seed> MINISYNC_STORM_OPERATIONS=<count> replays exactly the same operations (in
// place of a duration, which fits more or fewer of them depending on the machine). The agent's timing, and
// so which intermediate states it sees, still differs from run to run.
#include "minisync_fixture.h"
#include "test_files.h"
#include "tree_compare.h"
#include "tree_walk.h"
#include "unique_fd.h"
#include "wait_for.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <optional>
#include <random>
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
using Clock = std::chrono::steady_clock;

constexpr std::uint64_t DefaultStormSeconds = 5;
constexpr std::chrono::milliseconds ConvergenceDeadline = 90s;
// The tree hovers between these sizes: big enough for directory renames to carry content, small enough
// that each operation's fresh listing stays cheap.
constexpr std::size_t FewestEntries = 50;
constexpr std::size_t MostEntries = 200;
constexpr std::size_t DeepestDirectory = 3;

constexpr std::array<mode_t, 5> FileModes{0644, 0600, 0755, 0640, 0444};
// Always with owner rwx: without it the writer itself could not work inside (when not root).
constexpr std::array<mode_t, 3> DirectoryModes{0755, 0700, 0750};

// Unset: nothing. Set to anything but a whole number: an error, rather than a silently different run.
std::optional<std::uint64_t> environment_number(const char* name)
{
    const char* text = std::getenv(name);
    if (text == nullptr || *text == '\0') {
        return std::nullopt;
    }
    const std::string_view value{text};
    std::uint64_t number = 0;
    const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), number);
    if (error != std::errc{} || end != value.data() + value.size()) {
        throw std::invalid_argument(std::string{name} + " must be a whole number, not '" + text + "'");
    }
    return number;
}

std::size_t depth_of(const std::string& relative)
{
    return relative.empty() ? 0 : 1 + static_cast<std::size_t>(std::count(relative.begin(), relative.end(), '/'));
}

std::string join(const std::string& dir, const std::string& name)
{
    return dir.empty() ? name : dir + "/" + name;
}

std::string octal(mode_t mode)
{
    char text[8];
    std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode));
    return text;
}

bool is_below(const std::string& path, const std::string& dir)
{
    return path.size() > dir.size() && path.starts_with(dir) && path[dir.size()] == '/';
}

enum class Operation {
    CreateFile,
    Append,
    Overwrite,
    Truncate,
    RenameFile,
    RenameDirectory,
    Delete,
    DeleteTree,
    Mkdir,
    ChmodFile,
    ChmodDirectory,
    Symlink,
    Touch,
};
constexpr std::size_t OperationCount = static_cast<std::size_t>(Operation::Touch) + 1;

// Both in the order of Operation.
constexpr std::array<const char*, OperationCount> OperationNames{
    "create", "append", "overwrite", "truncate", "rename-file", "rename-dir", "delete",
    "rm-r", "mkdir", "chmod", "chmod-dir", "symlink", "touch",
};
// How often each operation comes while the tree is within its size bounds, relative to the others.
constexpr std::array<unsigned, OperationCount> UsualWeights{12, 8, 8, 4, 8, 3, 6, 1, 5, 4, 2, 6, 6};

// The tree as one operation finds it.
struct Snapshot {
    std::vector<std::string> files;
    std::vector<std::string> links;
    std::vector<std::string> directories; // "" (the folder itself) first
    std::vector<std::string> entries;     // all of the above except ""
    TreeListing listing;
};

// The writer. Every path it touches is the folder's root joined with a path from a fresh listing of the
// folder (which never descends into symlinks) or with a new single name, and it never opens or changes
// anything through a symlink, so it cannot write outside the folder whatever the links point to.
class Storm {
public:
    // Every operation is also written to journal, with its paths: with MINISYNC_KEEP_SANDBOX=1 it shows
    // what happened to a path that did not converge.
    Storm(fs::path root, std::uint64_t seed, const fs::path& journal)
        : root_{std::move(root)}, random_{seed}, journal_{journal}
    {
        if (!journal_) {
            throw std::runtime_error("cannot create '" + journal.string() + "'");
        }
    }

    void step()
    {
        ++steps_;
        const Snapshot tree = snapshot();
        const Operation operation = choose(tree);
        what_.clear();
        bool applied = false;
        try {
            applied = apply(operation, tree);
        } catch (const std::exception& e) {
            what_ += std::string{": "} + e.what();
        }
        ++(applied ? applied_ : refused_)[static_cast<std::size_t>(operation)];
        journal_ << steps_ << ' ' << OperationNames[static_cast<std::size_t>(operation)] << ' ' << what_
                 << (applied ? "" : " (refused)") << std::endl; // complete even if the test dies
    }

    // Mostly none: the aim is churn faster than the agent can settle, with the odd gap in which it can.
    void pause()
    {
        if (chance(1, 4)) {
            std::this_thread::sleep_for(std::chrono::microseconds{below(2000)});
        }
    }

    [[nodiscard]] std::string summary() const
    {
        std::ostringstream out;
        std::size_t total = 0;
        for (std::size_t i = 0; i < OperationCount; ++i) {
            total += applied_[i];
            out << ' ' << OperationNames[i] << '=' << applied_[i];
            if (refused_[i] != 0) {
                out << " (+" << refused_[i] << " refused)";
            }
        }
        return std::to_string(steps_) + " operations, " + std::to_string(total) + " applied:" + out.str();
    }

    [[nodiscard]] std::uint64_t steps() const noexcept { return steps_; }

    [[nodiscard]] std::size_t applied() const
    {
        std::size_t total = 0;
        for (std::size_t count : applied_) {
            total += count;
        }
        return total;
    }

private:
    std::uint64_t below(std::uint64_t bound) { return bound == 0 ? 0 : random_() % bound; }
    bool chance(std::uint64_t in, std::uint64_t of) { return below(of) < in; }
    template <typename T>
    const T& pick(const std::vector<T>& items)
    {
        return items[below(items.size())];
    }
    [[nodiscard]] fs::path absolute(const std::string& relative) const { return root_ / relative; }

    Snapshot snapshot() const
    {
        Snapshot tree;
        tree.listing = list_tree(root_);
        tree.directories.emplace_back();
        for (const auto& [path, entry] : tree.listing) {
            tree.entries.push_back(path);
            switch (entry.kind) {
            case EntryKind::File: tree.files.push_back(path); break;
            case EntryKind::Symlink: tree.links.push_back(path); break;
            case EntryKind::Directory: tree.directories.push_back(path); break;
            case EntryKind::Other: break;
            }
        }
        return tree;
    }

    Operation choose(const Snapshot& tree)
    {
        std::array<unsigned, OperationCount> weights = UsualWeights;
        const auto weight = [&](Operation operation) -> unsigned& {
            return weights[static_cast<std::size_t>(operation)];
        };
        if (tree.entries.size() < FewestEntries) {
            weight(Operation::Delete) = 0;
            weight(Operation::DeleteTree) = 0;
            weight(Operation::CreateFile) *= 3;
            weight(Operation::Mkdir) *= 2;
        } else if (tree.entries.size() > MostEntries) {
            weight(Operation::CreateFile) = 0;
            weight(Operation::Mkdir) = 0;
            weight(Operation::Symlink) = 0;
            weight(Operation::Delete) *= 4;
            weight(Operation::DeleteTree) *= 4;
        }
        unsigned total = 0;
        for (unsigned w : weights) {
            total += w;
        }
        std::uint64_t ticket = below(total);
        for (std::size_t i = 0; i < OperationCount; ++i) {
            if (ticket < weights[i]) {
                return static_cast<Operation>(i);
            }
            ticket -= weights[i];
        }
        return Operation::CreateFile;
    }

    // Mostly small files, some up to 300 KiB (several chunks), the odd empty one and the rare 2 MiB.
    std::size_t content_size()
    {
        const std::uint64_t roll = below(100);
        if (roll < 5) {
            return 0;
        }
        if (roll < 65) {
            return 1 + below(16 * 1024);
        }
        if (roll < 98) {
            return 1 + below(300 * 1024);
        }
        return 2 << 20;
    }

    // A name not in the listing yet. Few names per directory are in use, so collisions, when they come,
    // exercise the cases that reuse a name (rename over, replace).
    std::string fresh_name(const Snapshot& tree, const std::string& dir, const char* prefix)
    {
        for (int attempt = 0; attempt < 20; ++attempt) {
            const std::string name = prefix + std::to_string(below(1000));
            if (!tree.listing.contains(join(dir, name))) {
                return name;
            }
        }
        return prefix + std::to_string(1000 + next_unique_++);
    }

    bool write_content(const std::string& relative, int flags, std::size_t size)
    {
        const UniqueFd fd{::open(absolute(relative).c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC | flags, 0644)};
        if (!fd) {
            return false;
        }
        const std::vector<std::uint8_t> content = random_bytes(size, random_());
        for (std::size_t done = 0; done < content.size();) {
            const ssize_t n = ::write(fd.get(), content.data() + done, content.size() - done);
            if (n < 0) {
                return false;
            }
            done += static_cast<std::size_t>(n);
        }
        return true;
    }

    // A relative target: to an entry of the folder, from the link's directory, or to nothing at all.
    std::string link_target(const Snapshot& tree, const std::string& link_dir)
    {
        std::string up;
        for (std::size_t i = 0; i < depth_of(link_dir); ++i) {
            up += "../";
        }
        if (!tree.entries.empty() && chance(3, 5)) {
            return up + pick(tree.entries);
        }
        return (up.empty() || chance(1, 2) ? std::string{} : up) + "missing-" + std::to_string(below(100));
    }

    // Each case draws its random choices in separate statements: the order in which function arguments
    // are evaluated is unspecified, and a replay must draw them in the same order whatever the compiler.
    bool apply(Operation operation, const Snapshot& tree)
    {
        std::vector<std::string> files_and_links = tree.files;
        files_and_links.insert(files_and_links.end(), tree.links.begin(), tree.links.end());
        const std::vector<std::string> subdirectories(tree.directories.begin() + 1, tree.directories.end());

        switch (operation) {
        case Operation::CreateFile: {
            const std::string& dir = pick(tree.directories);
            const std::string file = join(dir, fresh_name(tree, dir, "f"));
            const std::size_t size = content_size();
            note(file + " (" + std::to_string(size) + " bytes)");
            return write_content(file, O_CREAT | O_EXCL, size);
        }
        case Operation::Append:
        case Operation::Overwrite: {
            if (tree.files.empty()) {
                return false;
            }
            const std::string& file = pick(tree.files);
            const bool append = operation == Operation::Append;
            const std::size_t size = append ? 1 + below(64 * 1024) : content_size();
            note(file + " (" + std::to_string(size) + " bytes)");
            return write_content(file, append ? O_APPEND : O_TRUNC, size);
        }
        case Operation::Truncate: {
            if (tree.files.empty()) {
                return false;
            }
            const std::string& file = pick(tree.files);
            const std::uint64_t size = below(tree.listing.at(file).size + 1);
            note(file + " to " + std::to_string(size) + " bytes");
            const UniqueFd fd{::open(absolute(file).c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC)};
            return fd && ::ftruncate(fd.get(), static_cast<off_t>(size)) == 0;
        }
        case Operation::RenameFile: {
            if (files_and_links.empty()) {
                return false;
            }
            const std::string& from = pick(files_and_links);
            const std::string& dir = pick(tree.directories);
            std::vector<std::string> replaceable;
            for (const std::string& other : files_and_links) {
                if (fs::path{other}.parent_path().string() == dir && other != from) {
                    replaceable.push_back(other);
                }
            }
            const std::string to = !replaceable.empty() && chance(1, 3) ? pick(replaceable)
                                                                       : join(dir, fresh_name(tree, dir, "f"));
            note(from + " -> " + to);
            return ::rename(absolute(from).c_str(), absolute(to).c_str()) == 0;
        }
        case Operation::RenameDirectory: {
            if (subdirectories.empty()) {
                return false;
            }
            const std::string& dir = pick(subdirectories);
            std::size_t height = 0;
            for (const std::string& other : subdirectories) {
                if (is_below(other, dir)) {
                    height = std::max(height, depth_of(other) - depth_of(dir));
                }
            }
            std::vector<std::string> parents;
            for (const std::string& parent : tree.directories) {
                if (parent != dir && !is_below(parent, dir) && depth_of(parent) + 1 + height <= DeepestDirectory) {
                    parents.push_back(parent);
                }
            }
            if (parents.empty()) {
                note(dir + ": nowhere to go within the depth limit");
                return false;
            }
            const std::string& parent = pick(parents);
            const std::string to = join(parent, fresh_name(tree, parent, "d"));
            note(dir + " -> " + to);
            return ::rename(absolute(dir).c_str(), absolute(to).c_str()) == 0;
        }
        case Operation::Delete: {
            if (files_and_links.empty()) {
                return false;
            }
            const std::string& entry = pick(files_and_links);
            note(entry);
            return ::unlink(absolute(entry).c_str()) == 0;
        }
        case Operation::DeleteTree: {
            if (subdirectories.empty()) {
                return false;
            }
            const std::string& dir = pick(subdirectories);
            note(dir);
            std::error_code ec;
            fs::remove_all(absolute(dir), ec);
            return !ec;
        }
        case Operation::Mkdir: {
            std::vector<std::string> parents;
            for (const std::string& parent : tree.directories) {
                if (depth_of(parent) < DeepestDirectory) {
                    parents.push_back(parent);
                }
            }
            const std::string& parent = pick(parents);
            const std::string dir = join(parent, fresh_name(tree, parent, "d"));
            const mode_t mode = DirectoryModes[below(DirectoryModes.size())];
            note(dir + " " + octal(mode));
            // chmod as well: mkdir's mode passes through the umask.
            return ::mkdir(absolute(dir).c_str(), mode) == 0 && ::chmod(absolute(dir).c_str(), mode) == 0;
        }
        case Operation::ChmodFile:
        case Operation::ChmodDirectory: {
            const bool file = operation == Operation::ChmodFile;
            const std::vector<std::string>& candidates = file ? tree.files : subdirectories;
            if (candidates.empty()) {
                return false;
            }
            const std::string& entry = pick(candidates);
            const mode_t mode =
                file ? FileModes[below(FileModes.size())] : DirectoryModes[below(DirectoryModes.size())];
            note(entry + " " + octal(mode));
            return ::chmod(absolute(entry).c_str(), mode) == 0;
        }
        case Operation::Symlink: {
            const std::string& dir = pick(tree.directories);
            std::vector<std::string> replaceable;
            for (const std::string& other : files_and_links) {
                if (fs::path{other}.parent_path().string() == dir) {
                    replaceable.push_back(other);
                }
            }
            const bool replace = !replaceable.empty() && chance(1, 3);
            const std::string link = replace ? pick(replaceable) : join(dir, fresh_name(tree, dir, "l"));
            const std::string target = link_target(tree, dir);
            if (replace && chance(1, 2)) {
                // ln -sfn: the new link is made under a temporary name and renamed over the old entry.
                const std::string temporary = join(dir, fresh_name(tree, dir, ".tmp-l"));
                note(link + " -> '" + target + "' (renamed over it from " + temporary + ")");
                return ::symlink(target.c_str(), absolute(temporary).c_str()) == 0 &&
                       ::rename(absolute(temporary).c_str(), absolute(link).c_str()) == 0;
            }
            note(link + " -> '" + target + "'" + (replace ? " (unlinked first)" : ""));
            // ln -sf: unlink, then link.
            if (replace && ::unlink(absolute(link).c_str()) != 0) {
                return false;
            }
            return ::symlink(target.c_str(), absolute(link).c_str()) == 0;
        }
        case Operation::Touch: {
            if (tree.entries.empty()) {
                return false;
            }
            const std::string& entry = pick(tree.entries);
            const timespec mtime{static_cast<time_t>(1'000'000'000 + below(700'000'000)),
                                 static_cast<long>(below(1'000'000'000))};
            note(entry + " " + format_timespec(mtime));
            const timespec times[2] = {timespec{0, UTIME_OMIT}, mtime};
            return ::utimensat(AT_FDCWD, absolute(entry).c_str(), times, AT_SYMLINK_NOFOLLOW) == 0;
        }
        }
        return false;
    }

    void note(std::string what) { what_ = std::move(what); }

    const fs::path root_;
    std::mt19937_64 random_;
    std::uint64_t next_unique_ = 0;
    std::uint64_t steps_ = 0;
    std::string what_;
    std::ofstream journal_;
    std::array<std::size_t, OperationCount> applied_{};
    std::array<std::size_t, OperationCount> refused_{};
};

class StormTest : public FolderTest {};

TEST_F(StormTest, RandomChurnConvergesToAnIdenticalMirror)
{
    const std::uint64_t seed = environment_number("MINISYNC_STORM_SEED").value_or(
        (static_cast<std::uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}());
    const std::uint64_t seconds = environment_number("MINISYNC_STORM_SECONDS").value_or(DefaultStormSeconds);
    const std::optional<std::uint64_t> operations = environment_number("MINISYNC_STORM_OPERATIONS");
    std::error_code ec;
    const std::string command = fs::read_symlink("/proc/self/exe", ec).string() + " --gtest_filter='StormTest.*'";
    std::string rerun = "MINISYNC_STORM_SEED=" + std::to_string(seed) + " " +
                        (operations ? "MINISYNC_STORM_OPERATIONS=" + std::to_string(*operations)
                                    : "MINISYNC_STORM_SECONDS=" + std::to_string(seconds)) +
                        " " + command;
    // Printed first, so even a crash or a ctest timeout leaves the way to replay it.
    std::cout << "[ storm ] seed " << seed << "; rerun with: " << rerun << std::endl;
    RecordProperty("storm_seed", std::to_string(seed));

    ChildProcess& agent = start_and_sync();
    Storm storm{src_, seed, sandbox() / "storm-operations.log"};
    const Clock::time_point end = Clock::now() + std::chrono::seconds{seconds};
    while (operations ? storm.steps() < *operations : Clock::now() < end) {
        storm.step();
        storm.pause();
    }
    rerun = "MINISYNC_STORM_SEED=" + std::to_string(seed) + " MINISYNC_STORM_OPERATIONS=" +
            std::to_string(storm.steps()) + " " + command;
    std::cout << "[ storm ] " << storm.summary() << "\n[ storm ] replay exactly with: " << rerun << std::endl;
    ASSERT_GT(storm.applied(), 0U) << "the storm changed nothing";
    ASSERT_TRUE(agent.running()) << "the agent died during the storm (seed " << seed << "; rerun: " << rerun << ")";

    std::vector<std::string> differences;
    const CompareOptions options{.directory_metadata = true};
    EXPECT_TRUE(wait_for([&] { return (differences = compare_trees(src_, dst_, options)).empty(); },
                         ConvergenceDeadline))
        << "not converged " << ConvergenceDeadline.count() / 1000 << " s after the storm (seed " << seed
        << "; rerun: " << rerun << "; with MINISYNC_KEEP_SANDBOX=1 the sandbox stays, and its "
        << "storm-operations.log lists every operation):\n"
        << join_lines(differences);
    EXPECT_TRUE(agent.running()) << "the agent died after the storm (seed " << seed << "; rerun: " << rerun << ")";
}

} // namespace
} // namespace minisync::test
