// Mounts for tests, each lazily unmounted again whatever happens to the test: a mount left behind would
// outlive the sandbox. Mounting needs root; tests skip without it.
#pragma once

#include <sys/mount.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

namespace minisync::test {

// A small tmpfs over a directory, or (with a source) the source directory bound there: the same directory,
// device and inode, seen at a second place.
class TestMount {
public:
    explicit TestMount(std::filesystem::path at, const std::filesystem::path& source = {}) : at_{std::move(at)}
    {
        mounted_ = source.empty() ? ::mount("tmpfs", at_.c_str(), "tmpfs", 0, "size=4m,mode=0755") == 0
                                  : ::mount(source.c_str(), at_.c_str(), nullptr, MS_BIND, nullptr) == 0;
        error_ = mounted_ ? 0 : errno;
    }
    TestMount(const TestMount&) = delete;
    TestMount& operator=(const TestMount&) = delete;
    ~TestMount() { detach(); }

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
