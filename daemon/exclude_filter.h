// Which paths inside a folder are never synced: the user's --exclude patterns and the agent's own names.
// Immutable after construction, so scanner threads and the loop share one instance.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace minisync::agent {

// Always excluded: scratch files editors write beside the file being saved (vim swap files and its
// "4913" write test, backup files ending in ~, Emacs and LibreOffice lock files). The agent's own
// partial names never reach this list: they are excluded by their exact shape.
inline constexpr const char* DefaultExcludes[] = {"*.swp", "*.swx", "*~", ".#*", "4913", ".~lock.*#"};

class ExcludeFilter {
public:
    // A pattern without '/' matches a name at any depth; one with '/' matches the path relative to the
    // folder, where '*' and '?' stay within one component and '**' crosses directories (as in rsync).
    // The defaults above are added to patterns.
    explicit ExcludeFilter(std::vector<std::string> patterns);

    [[nodiscard]] bool excluded(std::string_view relative_path) const;

private:
    std::vector<std::string> name_patterns_;
    std::vector<std::string> path_patterns_;
};

} // namespace minisync::agent
