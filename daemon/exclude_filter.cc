// Glob matching for excludes on top of fnmatch(3).
#include "exclude_filter.h"

#include "path_rules.h"

#include <fnmatch.h>

namespace minisync::agent {
namespace {

bool path_matches(const std::string& pattern, const std::string& path)
{
    // '**' needs '*' to cross '/': fnmatch without FNM_PATHNAME does exactly that.
    const bool crosses = pattern.find("**") != std::string::npos;
    std::string anchored = pattern.front() == '/' ? pattern.substr(1) : pattern;
    if (anchored.back() == '/') {
        anchored.pop_back();
    }
    return ::fnmatch(anchored.c_str(), path.c_str(), crosses ? 0 : FNM_PATHNAME) == 0;
}

} // namespace

ExcludeFilter::ExcludeFilter(std::vector<std::string> patterns)
{
    for (std::string& pattern : patterns) {
        if (pattern.empty()) {
            continue;
        }
        const std::string_view body = std::string_view{pattern}.substr(0, pattern.size() - (pattern.back() == '/'));
        if (body.find('/') == std::string_view::npos) {
            name_patterns_.emplace_back(body);
        } else {
            path_patterns_.push_back(std::move(pattern));
        }
    }
}

bool ExcludeFilter::excluded(std::string_view relative_path) const
{
    const std::string path{relative_path};
    // A path is excluded when it or any of its parent directories is.
    std::size_t end = 0;
    while (end != std::string::npos) {
        end = path.find('/', end + 1);
        const std::string prefix = path.substr(0, end);
        const std::size_t slash = prefix.rfind('/');
        const std::string name = slash == std::string::npos ? prefix : prefix.substr(slash + 1);
        if (is_partial_name(name)) {
            return true;
        }
        for (const std::string& pattern : name_patterns_) {
            if (::fnmatch(pattern.c_str(), name.c_str(), 0) == 0) {
                return true;
            }
        }
        for (const std::string& pattern : path_patterns_) {
            if (path_matches(pattern, prefix)) {
                return true;
            }
        }
    }
    return false;
}

} // namespace minisync::agent
