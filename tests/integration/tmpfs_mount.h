// Mounts a small tmpfs over a directory and lazily unmounts it again, whatever happens to the test: a
// mount left behind would outlive the sandbox. Mounting needs root; tests skip without it.
#pragma once

#include <sys/mount.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

namespace minisync::test {

class TmpfsMount {
public:
    explicit TmpfsMount(std::filesystem::path at) : at_{std::move(at)}
    {
        mounted_ = ::mount("tmpfs", at_.c_str(), "tmpfs", 0, "size=4m,mode=0755") == 0;
        error_ = mounted_ ? 0 : errno;
    }
    TmpfsMount(const TmpfsMount&) = delete;
    TmpfsMount& operator=(const TmpfsMount&) = delete;
    ~TmpfsMount() { detach(); }

    [[nodiscard]] bool mounted() const noexcept { return mounted_; }
    [[nodiscard]] std::string error() const { return std::strerror(error_); }
    // umount -l: the mount disappears from the tree at once, even while something still uses it.
    bool detach()
    {
        if (!mounted_) {
            return false;
        }
        mounted_ = false;
        return ::umount2(at_.c_str(), MNT_DETACH) == 0;
    }

private:
    std::filesystem::path at_;
    bool mounted_ = false;
    int error_ = 0;
};

} // namespace minisync::test
