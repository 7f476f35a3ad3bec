// Glob matching for excludes: fnmatch(3) for single names, an rsync-style matcher for paths.
#include "exclude_filter.h"

#include "path_rules.h"

#include <fnmatch.h>

#include <iterator>

namespace minisync::agent {
namespace {

// One character against a bracket expression starting at pattern[i] == '['; on success i is moved
// past the closing bracket. A '[' with no closing bracket is a literal.
bool match_class(std::string_view pattern, std::size_t& i, char c)
{
    std::size_t j = i + 1;
    const bool negate = j < pattern.size() && (pattern[j] == '!' || pattern[j] == '^');
    if (negate) {
        ++j;
    }
    bool matched = false;
    const std::size_t first = j;
    for (; j < pattern.size() && (pattern[j] != ']' || j == first); ++j) {
        if (j + 2 < pattern.size() && pattern[j + 1] == '-' && pattern[j + 2] != ']') {
            matched = matched || (pattern[j] <= c && c <= pattern[j + 2]);
            j += 2;
        } else {
            matched = matched || pattern[j] == c;
        }
    }
    if (j >= pattern.size()) {
        const bool literal = c == '[';
        ++i;
        return literal;
    }
    i = j + 1;
    return matched != negate && c != '/';
}

// rsync-style glob over a relative path: '*' and '?' stay within one component, '**' crosses '/'.
bool glob_match(std::string_view pattern, std::string_view text)
{
    std::size_t p = 0;
    std::size_t t = 0;
    while (p < pattern.size()) {
        const char pc = pattern[p];
        if (pc == '*') {
            const bool crosses = p + 1 < pattern.size() && pattern[p + 1] == '*';
            std::size_t rest = p + (crosses ? 2 : 1);
            while (rest < pattern.size() && pattern[rest] == '*') {
                ++rest;
            }
            for (std::size_t skip = t;; ++skip) {
                if (glob_match(pattern.substr(rest), text.substr(skip))) {
                    return true;
                }
                if (skip == text.size() || (!crosses && text[skip] == '/')) {
                    return false;
                }
            }
        }
        if (t == text.size()) {
            return false;
        }
        if (pc == '?') {
            if (text[t] == '/') {
                return false;
            }
            ++p;
        } else if (pc == '[') {
            if (!match_class(pattern, p, text[t])) {
                return false;
            }
        } else {
            if (pc == '\\' && p + 1 < pattern.size()) {
                ++p;
            }
            if (pattern[p] != text[t]) {
                return false;
            }
            ++p;
        }
        ++t;
    }
    return t == text.size();
}

bool path_matches(const std::string& pattern, const std::string& path)
{
    std::string_view anchored = pattern;
    if (anchored.front() == '/') {
        anchored.remove_prefix(1);
    }
    if (!anchored.empty() && anchored.back() == '/') {
        anchored.remove_suffix(1);
    }
    return glob_match(anchored, path);
}

} // namespace

ExcludeFilter::ExcludeFilter(std::vector<std::string> patterns)
{
    patterns.insert(patterns.end(), std::begin(DefaultExcludes), std::end(DefaultExcludes));
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
