// Entry-by-entry comparison of two directory trees (or two listings of one), as readable differences.
#pragma once

#include "tree_walk.h"

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

namespace minisync::test {

struct CompareOptions {
    // Directories are compared on existence only unless this is set: before protocol 4 the server made
    // them itself, with its own mode and mtime. When set, a mirrored directory's mode is expected to be the
    // original's with owner rwx added (the server always keeps those), unless identity is set too.
    bool directory_metadata = false;
    // "Untouched" rather than "same content": inode and ctime must match too (a rewrite that restores the
    // mtime still changes ctime). Meant for two listings of the same tree taken at different times.
    bool identity = false;
    // Partial uploads are the server's scratch space, not mirrored content.
    bool skip_partials = true;
    std::size_t max_differences = 20;
};

// Kind, size, mode bits (& 0777; not for symlinks, whose bits Linux fixes at 0777), mtime with nanoseconds
// (symlinks' own, never their targets') and symlink targets; no content.
std::vector<std::string> compare_listings(const TreeListing& expected, const TreeListing& actual,
                                          const CompareOptions& options = {});

// compare_listings over both trees, then SHA-256 of each pair of files. Content is hashed only when all
// metadata already matches, so polling a half-synced tree stays cheap. Empty means the trees are equal.
std::vector<std::string> compare_trees(const std::filesystem::path& expected, const std::filesystem::path& actual,
                                       const CompareOptions& options = {});

// The differences one per line, for assertion messages.
std::string join_lines(const std::vector<std::string>& lines);

} // namespace minisync::test
