// A watched folder's root directory as it was at start (device and inode), and lookups that hold to it:
// a folder moved away or a file system unmounted must never look like files that were deleted.
// Blocking; used on worker threads.
#pragma once

#include "unique_fd.h"

#include <sys/types.h>

#include <optional>
#include <string>

namespace minisync::agent {

struct FolderRoot {
    std::string path;
    dev_t device = 0;
    ino_t inode = 0;
};

std::optional<FolderRoot> identify_folder_root(const std::string& path);

// The root, opened O_PATH, if the directory at its path is still the one identified at start.
UniqueFd open_folder_root(const FolderRoot& root);

enum class PathPresence {
    RegularFile, // the path names a regular file in the folder
    Directory,   // the path names a directory in the folder
    Absent,      // nothing there, something else (a symlink, a FIFO), or reached only through a symlink
    Unknown,     // the folder root is missing or replaced, or the lookup failed: decide nothing now
};

PathPresence check_path(const FolderRoot& root, const std::string& relative_path);

} // namespace minisync::agent
