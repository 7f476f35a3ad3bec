// What a directory tree holds, as seen by lstat: one entry per path, symlinks listed but never followed.
#pragma once

#include "sha256.h"

#include <sys/types.h>

#include <cstdint>
#include <ctime>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace minisync::test {

enum class EntryKind { File, Directory, Symlink, Other };

const char* to_string(EntryKind kind) noexcept;

struct TreeEntry {
    EntryKind kind = EntryKind::Other;
    std::uint64_t size = 0;
    mode_t mode = 0; // permission bits only (& 07777)
    timespec mtime{};
    timespec ctime{};
    ino_t inode = 0;
    std::string link_target; // symlinks only
};

// Keyed by the path relative to the root ("a/b/c"); the root itself is not an entry.
using TreeListing = std::map<std::string, TreeEntry>;

// Walks root depth-first without following symlinks; includes partial-upload files. A missing root is an
// empty listing. Entries that vanish during the walk are skipped (the daemons may be working in the tree).
TreeListing list_tree(const std::filesystem::path& root);

// Partial-upload files (minisync::is_partial_name) anywhere under root, as relative paths.
std::vector<std::string> find_partials(const std::filesystem::path& root);
// Bytes in the partial files under root: how far the uploads in progress have got.
std::uint64_t partial_bytes(const std::filesystem::path& root);

// Throws std::runtime_error if the file cannot be read.
Sha256Digest file_sha256(const std::filesystem::path& path);

std::string format_timespec(const timespec& t);

// Only regular files: directory metadata is the server's own (see CompareOptions::directory_metadata).
TreeListing files_only(TreeListing listing);

} // namespace minisync::test
