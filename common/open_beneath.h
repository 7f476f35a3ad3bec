// Opens a relative path strictly beneath a directory descriptor, refusing any symlink on the way, so a
// directory swapped for a link cannot redirect the open outside the tree: openat2 with RESOLVE_BENEATH |
// RESOLVE_NO_SYMLINKS where the kernel has it (5.6 and later), else a walk that is race-free by
// construction (docs/SECURITY.md, "Path resolution").
#pragma once

#include "unique_fd.h"

namespace minisync {

// Whether a lookup may pass a mount point below dir_fd (a watched folder with one_file_system = false).
enum class Mounts { Refuse, Cross };

// Returns the descriptor, or an empty UniqueFd with errno set: ELOOP when the path crosses a symlink (or
// ends in one, unless flags hold O_PATH | O_NOFOLLOW, which open the link itself), EXDEV when it would
// leave the tree ("..", an absolute path, or another file system unless mounts is Cross), or what
// openat(2) says.
UniqueFd open_beneath(int dir_fd, const char* relative_path, int flags, Mounts mounts = Mounts::Refuse) noexcept;

// openat2 alone: empty with errno ENOSYS where the kernel has no openat2.
UniqueFd open_strictly_beneath(int dir_fd, const char* relative_path, int flags,
                               Mounts mounts = Mounts::Refuse) noexcept;

// The walk open_beneath uses without openat2: one component at a time from dir_fd, each directory opened
// with O_NOFOLLOW | O_DIRECTORY and checked to be a directory (on dir_fd's file system unless mounts is
// Cross), so nothing renamed or swapped meanwhile can lead it elsewhere. The same answers as open_beneath.
UniqueFd open_beneath_by_walk(int dir_fd, const char* relative_path, int flags,
                              Mounts mounts = Mounts::Refuse) noexcept;

// Which of the two open_beneath uses in this process, for the log at start. MINISYNC_FORCE_PATH_WALK=1
// in the environment makes it the walk even where openat2 exists (read once, at the first lookup).
const char* path_resolver() noexcept;

} // namespace minisync
