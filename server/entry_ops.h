// Directories, symlinks and renames beneath a client's namespace on behalf of its agent. Each is
// durable (its directory fsynced) before it returns. Blocking; runs on the path's strand.
#pragma once

#include "fs_error.h"

#include <cstdint>
#include <optional>
#include <string>

namespace minisync::server {

// Where one request's entry lives: <root>/<client>/<folder>/<path>; path already validated.
struct EntryPlace {
    std::string client;
    std::string folder;
    std::string path;
};

// Makes sure a directory is at the place, replacing a file or symlink there, and gives it the mode (with
// owner rwx kept) and mtime.
Result<void> make_directory(int root_fd, const EntryPlace& place, std::uint32_t mode, std::int64_t mtime_ns);

// Puts a symlink with this target text at the place, atomically replacing a file or symlink there. The
// target is stored as text and never resolved. A directory in the way is removed if empty, else CONFLICT.
Result<void> make_symlink(int root_fd, const EntryPlace& place, const std::string& target,
                                    std::int64_t mtime_ns);

// Moves the entry at from to `to` in the same folder, replacing a file, symlink or empty directory at
// `to` as rename(2) does. NOT_FOUND when nothing is at from; CONFLICT when rename(2) cannot replace what is
// at `to` (a directory that is not empty, a directory over a file or the reverse).
Result<void> rename_entry(int root_fd, const EntryPlace& from, const std::string& to);

// A symlink target the server accepts: 1 to 4095 bytes, no NUL. Nothing else is checked: it is never used
// as a path by the server.
std::optional<std::string> check_symlink_target(const std::string& target);

} // namespace minisync::server
