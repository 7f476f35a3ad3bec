// Owns one open directory stream (DIR*), so every listing is closed exactly once, on every path out.
#pragma once

#include "unique_fd.h"

#include <dirent.h>

#include <cerrno>
#include <memory>

namespace minisync {

struct DirClose {
    void operator()(DIR* dir) const noexcept { ::closedir(dir); }
};
using DirStream = std::unique_ptr<DIR, DirClose>;

// fdopendir(3) over an owned descriptor: on success the stream owns it (closedir closes it); on failure
// the descriptor is closed here, and errno still says why fdopendir failed.
inline DirStream open_dir_stream(UniqueFd&& fd) noexcept
{
    DirStream dir{::fdopendir(fd.get())};
    if (dir) {
        static_cast<void>(fd.release());
    } else {
        const int saved = errno;
        fd.reset();
        errno = saved;
    }
    return dir;
}

} // namespace minisync
