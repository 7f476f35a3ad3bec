// Metadata diff of tree listings and content verification of mirrored files.
#include "tree_compare.h"

#include "path_rules.h"

#include <iomanip>
#include <set>
#include <sstream>

namespace minisync::test {
namespace {

bool same_time(const timespec& a, const timespec& b)
{
    return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

bool is_partial_path(const std::string& path)
{
    return is_partial_name(std::filesystem::path{path}.filename().string());
}

std::string octal(mode_t mode)
{
    std::ostringstream out;
    out << '0' << std::oct << std::setw(3) << std::setfill('0') << mode;
    return out.str();
}

class DifferenceList {
public:
    explicit DifferenceList(std::size_t limit) : limit_{limit} {}

    void add(const std::string& path, const std::string& what)
    {
        ++total_;
        if (lines_.size() < limit_) {
            lines_.push_back("'" + path + "': " + what);
        }
    }
    [[nodiscard]] bool empty() const noexcept { return total_ == 0; }

    std::vector<std::string> finish()
    {
        if (total_ > lines_.size()) {
            lines_.push_back("... and " + std::to_string(total_ - lines_.size()) + " more differences");
        }
        return std::move(lines_);
    }

private:
    std::size_t limit_;
    std::size_t total_ = 0;
    std::vector<std::string> lines_;
};

// The server keeps owner rwx on every directory it mirrors, or it could not manage what is below it.
mode_t expected_mode(const TreeEntry& want, const CompareOptions& options)
{
    const bool mirrored_directory =
        want.kind == EntryKind::Directory && options.directory_metadata && !options.identity;
    return (mirrored_directory ? want.mode | 0700 : want.mode) & 0777;
}

void compare_entry(const std::string& path, const TreeEntry& want, const TreeEntry& got, const CompareOptions& options,
                   DifferenceList& differences)
{
    if (want.kind != got.kind) {
        differences.add(path, std::string{"expected a "} + to_string(want.kind) + ", found a " + to_string(got.kind));
        return;
    }
    const bool metadata = want.kind != EntryKind::Directory || options.directory_metadata || options.identity;
    if (want.kind == EntryKind::File && want.size != got.size) {
        differences.add(path, "size " + std::to_string(got.size) + ", expected " + std::to_string(want.size));
    }
    if (want.kind == EntryKind::Symlink && want.link_target != got.link_target) {
        differences.add(path, "points to '" + got.link_target + "', expected '" + want.link_target + "'");
    }
    // A symlink's permission bits are always 0777 on Linux and cannot be changed: nothing to mirror.
    if (metadata && want.kind != EntryKind::Symlink && expected_mode(want, options) != (got.mode & 0777)) {
        differences.add(path, "mode " + octal(got.mode & 0777) + ", expected " + octal(expected_mode(want, options)));
    }
    if (metadata && !same_time(want.mtime, got.mtime)) {
        differences.add(path, "mtime " + format_timespec(got.mtime) + ", expected " + format_timespec(want.mtime));
    }
    if (options.identity && want.inode != got.inode) {
        differences.add(path, "inode " + std::to_string(got.inode) + ", expected " + std::to_string(want.inode));
    }
    if (options.identity && !same_time(want.ctime, got.ctime)) {
        differences.add(path, "ctime " + format_timespec(got.ctime) + ", expected " + format_timespec(want.ctime));
    }
}

DifferenceList diff_listings(const TreeListing& expected, const TreeListing& actual, const CompareOptions& options)
{
    DifferenceList differences{options.max_differences};
    std::set<std::string> paths;
    for (const auto& [path, entry] : expected) {
        paths.insert(path);
    }
    for (const auto& [path, entry] : actual) {
        paths.insert(path);
    }
    for (const std::string& path : paths) {
        if (options.skip_partials && is_partial_path(path)) {
            continue;
        }
        const auto want = expected.find(path);
        const auto got = actual.find(path);
        if (got == actual.end()) {
            differences.add(path, std::string{"missing (expected a "} + to_string(want->second.kind) + ")");
        } else if (want == expected.end()) {
            differences.add(path, std::string{"unexpected "} + to_string(got->second.kind));
        } else {
            compare_entry(path, want->second, got->second, options, differences);
        }
    }
    return differences;
}

} // namespace

std::vector<std::string> compare_listings(const TreeListing& expected, const TreeListing& actual,
                                          const CompareOptions& options)
{
    return diff_listings(expected, actual, options).finish();
}

std::vector<std::string> compare_trees(const std::filesystem::path& expected, const std::filesystem::path& actual,
                                       const CompareOptions& options)
{
    const TreeListing want = list_tree(expected);
    const TreeListing got = list_tree(actual);
    DifferenceList differences = diff_listings(want, got, options);
    if (!differences.empty()) {
        return differences.finish();
    }
    for (const auto& [path, entry] : want) {
        if (entry.kind != EntryKind::File || (options.skip_partials && is_partial_path(path))) {
            continue;
        }
        try {
            if (file_sha256(expected / path) != file_sha256(actual / path)) {
                differences.add(path, "content differs (SHA-256)");
            }
        } catch (const std::exception& e) {
            differences.add(path, e.what());
        }
    }
    return differences.finish();
}

std::string join_lines(const std::vector<std::string>& lines)
{
    std::string text;
    for (const std::string& line : lines) {
        text += line;
        text += '\n';
    }
    return text;
}

} // namespace minisync::test
