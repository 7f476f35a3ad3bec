// What identifies one version of a file without reading it: size, modification time and inode.
#pragma once

#include <cstdint>

namespace minisync::agent {

struct FileVersion {
    std::uint64_t size = 0;
    std::int64_t mtime_ns = 0;
    std::uint64_t inode = 0;

    friend bool operator==(const FileVersion&, const FileVersion&) = default;
};

} // namespace minisync::agent
