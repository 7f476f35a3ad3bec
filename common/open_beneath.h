// Opens a relative path strictly beneath a directory descriptor, refusing any symlink on the way
// (openat2 with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), so a directory swapped for a link cannot
// redirect the open outside the tree.
#pragma once

#include "unique_fd.h"

namespace minisync {

// Returns the descriptor, or an empty UniqueFd with errno set: ELOOP or EXDEV when the path would leave
// the tree or cross a symlink. On kernels without openat2 (before 5.6) it falls back to openat with
// O_NOFOLLOW, which guards the last component only.
UniqueFd open_beneath(int dir_fd, const char* relative_path, int flags) noexcept;

// The same without the fallback: empty with errno ENOSYS where the kernel has no openat2.
UniqueFd open_strictly_beneath(int dir_fd, const char* relative_path, int flags) noexcept;

} // namespace minisync
