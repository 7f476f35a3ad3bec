// A gtest fixture owning a private temporary directory, removed with everything in it on teardown
// (Transmission's SandboxedTest).
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

namespace minisync::test {

class SandboxedTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        std::string pattern = (std::filesystem::temp_directory_path() / "minisync-unit-XXXXXX").string();
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr) << "mkdtemp failed for " << pattern;
        sandbox_ = pattern;
    }

    void TearDown() override
    {
        if (!sandbox_.empty()) {
            std::error_code ec;
            std::filesystem::remove_all(sandbox_, ec);
            EXPECT_FALSE(ec) << "couldn't remove '" << sandbox_.string() << "': " << ec.message();
        }
    }

    [[nodiscard]] const std::filesystem::path& sandbox() const noexcept { return sandbox_; }

private:
    std::filesystem::path sandbox_;
};

} // namespace minisync::test
