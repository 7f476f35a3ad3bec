// mkdtemp-based sandbox creation and recursive removal.
#include "sandbox.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

namespace minisync::test {

Sandbox::Sandbox()
{
    const char* tmpdir = std::getenv("TMPDIR");
    const std::string base = tmpdir != nullptr && *tmpdir != '\0' ? tmpdir : "/tmp";
    std::string pattern = base + "/minisync-it-XXXXXX";
    std::vector<char> buffer(pattern.begin(), pattern.end());
    buffer.push_back('\0');
    if (::mkdtemp(buffer.data()) == nullptr) {
        throw std::runtime_error("mkdtemp '" + pattern + "': " + std::strerror(errno));
    }
    // Canonical, so paths the daemons log (they canonicalise folders) compare equal to ours.
    path_ = std::filesystem::canonical(buffer.data());
}

Sandbox::~Sandbox()
{
    // For a post-mortem of the daemons' full logs and trees.
    if (const char* keep = std::getenv("MINISYNC_KEEP_SANDBOX"); keep != nullptr && *keep == '1') {
        return;
    }
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
}

} // namespace minisync::test
