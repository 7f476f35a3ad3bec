// Which paths inside a folder are never synced: the user's --exclude patterns and the agent's own names.
// Immutable after construction, so scanner threads and the loop share one instance.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace minisync::agent {

class ExcludeFilter {
public:
    // A pattern without '/' matches a name at any depth; one with '/' matches the path relative to the
    // folder, where '*' and '?' stay within one component and '**' crosses directories (as in rsync).
    explicit ExcludeFilter(std::vector<std::string> patterns);

    [[nodiscard]] bool excluded(std::string_view relative_path) const;

private:
    std::vector<std::string> name_patterns_;
    std::vector<std::string> path_patterns_;
};

} // namespace minisync::agent
