// The private temporary directory a test owns: created fresh, removed with everything in it on every exit path.
#pragma once

#include <filesystem>

namespace minisync::test {

class Sandbox {
public:
    // Creates a new directory under $TMPDIR (or /tmp); throws std::runtime_error if that fails.
    Sandbox();
    // Removes the whole tree; errors are ignored because a destructor has nobody to report them to.
    ~Sandbox();
    Sandbox(const Sandbox&) = delete;
    Sandbox& operator=(const Sandbox&) = delete;

    [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

private:
    std::filesystem::path path_;
};

} // namespace minisync::test
