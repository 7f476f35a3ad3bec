// How an agent's mode bits and mtimes are applied to what the server writes.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <ctime>

namespace minisync::server {

// Set-id bits are not mirrored: the server owns every file it writes, so they would grant its own rights.
constexpr mode_t MirroredModeBits = 01777;
// A directory keeps owner rwx on the server whatever its mode on the agent, or the server could not
// write what the agent sends into it later.
constexpr mode_t DirectoryOwnerBits = 0700;

// Nanoseconds since the epoch (negative before it) as a timespec with 0 <= tv_nsec < 1e9.
timespec to_timespec(std::int64_t ns);

} // namespace minisync::server
