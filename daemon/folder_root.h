// A watched folder's root directory and its identity (device and inode), the judgement of a root against
// the identity recorded for it, and lookups that hold to the identity: a folder moved away, replaced or
// whose file system was unmounted must never look like files that were deleted (docs/SECURITY.md
// "Folders that go away"). identify_folder_root and the lookups block; they run on worker threads, and
// at start-up before the loop runs.
#pragma once

#include "open_beneath.h"
#include "unique_fd.h"

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

namespace minisync::agent {

// Device and inode name a directory while it exists; a directory deleted and made again often gets the
// same inode number back at once, so its birth time (statx, nanoseconds; 0 where the file system keeps
// none) tells the two apart.
struct RootIdentity {
    dev_t device = 0;
    ino_t inode = 0;
    std::int64_t birth_ns = 0;

    bool operator==(const RootIdentity&) const = default;
};

// Whether found is the directory recorded: the same device and inode, born at the same time where both
// birth times are known.
bool same_root(const RootIdentity& recorded, const RootIdentity& found) noexcept;

struct FolderRoot {
    std::string path;
    RootIdentity identity;
    // Whether lookups below it may pass mount points: only for a folder with one_file_system = false.
    Mounts mounts = Mounts::Refuse;
};

// The directory at path now, symlinks followed as for any configured path; none when there is no
// directory there.
std::optional<FolderRoot> identify_folder_root(const std::string& path);

// Whether a folder can be synced, from its root as found now and the identity recorded for it.
struct RootVerdict {
    enum class State {
        Present,   // the directory recorded, or a first one (then record_identity is set)
        Missing,   // no directory at the path, and none was ever recorded
        Suspended, // not the directory recorded, or none: an unmounted file system, a removed or replaced folder
    };
    State state = State::Present;
    bool record_identity = false; // nothing was recorded yet: the directory found is the folder's from now on
    std::string reason;           // Missing and Suspended: why, for the log and status
};

// Pure: found is what identify_folder_root gave for the path, recorded the identity stored for the folder.
RootVerdict judge_root(const std::string& path, const std::optional<FolderRoot>& found,
                       const std::optional<RootIdentity>& recorded);

// The root, opened O_PATH, if the directory at its path is still the one identified.
UniqueFd open_folder_root(const FolderRoot& root);

enum class PathPresence {
    RegularFile, // the path names a regular file in the folder
    Directory,   // the path names a directory in the folder
    Absent,      // nothing there, something else (a symlink, a FIFO), or reached only through a symlink
    OtherFileSystem, // below a mount point the folder does not cross: not the folder's, decide nothing
    RootChanged, // the folder root is missing or replaced: decide nothing now
    Unknown,     // the lookup failed: decide nothing now
};

PathPresence check_path(const FolderRoot& root, const std::string& relative_path);

} // namespace minisync::agent
