// Fuzz target: path and name rules accept exactly what path_rules.h promises, and never a partial name.
#include "path_rules.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

using namespace minisync;

void check(bool ok, const char* what)
{
    if (!ok) {
        std::fprintf(stderr, "fuzz_path_rules: invariant broken: %s\n", what);
        std::abort();
    }
}

bool has_nul(std::string_view s)
{
    return s.find('\0') != std::string_view::npos;
}

// The rules restated from path_rules.h, independently of path_rules.cc.
bool reference_component(std::string_view name)
{
    return !name.empty() && name.size() <= MaxNameBytes && name != "." && name != ".." &&
           name.find('/') == std::string_view::npos && !has_nul(name);
}

bool reference_partial(std::string_view name)
{
    constexpr std::string_view Prefix = ".minisync.";
    constexpr std::string_view Suffix = ".part";
    if (name.size() != Prefix.size() + 16 + Suffix.size() || name.substr(0, Prefix.size()) != Prefix ||
        name.substr(name.size() - Suffix.size()) != Suffix) {
        return false;
    }
    const std::string_view hex = name.substr(Prefix.size(), 16);
    return std::all_of(hex.begin(), hex.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

void check_names(std::string_view s)
{
    const bool component = is_valid_name_component(s);
    check(component == reference_component(s), "is_valid_name_component");
    check(is_valid_folder_name(s) == component, "is_valid_folder_name");
    check(is_valid_client_cn(s) == (component && s.front() != '.'), "is_valid_client_cn");
    check(is_partial_name(s) == reference_partial(s), "is_partial_name");
}

void check_split(std::string_view s)
{
    const auto parts = split_path(s);
    check(parts.size() == static_cast<std::size_t>(std::count(s.begin(), s.end(), '/')) + 1, "split_path count");
    std::string joined;
    for (std::size_t i = 0; i < parts.size(); ++i) {
        check(parts[i].find('/') == std::string_view::npos, "split_path part holds '/'");
        if (i > 0) {
            joined += '/';
        }
        joined += parts[i];
    }
    check(joined == s, "split_path parts do not join back");
}

void check_relative(std::string_view s)
{
    const auto problem = check_relative_path(s);
    bool reference = !s.empty() && s.size() <= MaxRelativePathBytes && !has_nul(s) && s.front() != '/';
    if (reference) {
        for (const std::string_view part : split_path(s)) {
            reference = reference && reference_component(part) && !reference_partial(part);
        }
    }
    check(problem.has_value() != reference, "check_relative_path disagrees with its documented rule");
    if (problem) {
        check(!problem->empty(), "check_relative_path refused without saying why");
        return;
    }
    // What an accepted path promises to the code that joins it under a folder.
    check(s.front() != '/' && s.back() != '/' && !has_nul(s), "accepted path is absolute, ends in '/' or has NUL");
    check(s.find("//") == std::string_view::npos, "accepted path has an empty component");
    for (const std::string_view part : split_path(s)) {
        check(!part.empty() && part != "." && part != "..", "accepted path has '', '.' or '..'");
        check(!is_partial_name(part), "accepted path has a partial name");
    }
}

void check_partial(std::string_view s)
{
    const std::string partial = partial_name_for(s);
    check(is_partial_name(partial), "partial_name_for gives a name is_partial_name refuses");
    check(is_valid_name_component(partial), "partial name is not a valid component");
    check(check_relative_path(partial).has_value(), "a partial name is accepted as a path");
    check(partial_name_for(s) == partial, "partial_name_for is not deterministic");
    // Beside an accepted path's file, its partial is never accepted either.
    if (!check_relative_path(s)) {
        const std::size_t name_start = s.rfind('/') + 1; // npos + 1 is 0: no directory part
        const std::string beside = std::string{s.substr(0, name_start)} + partial_name_for(s.substr(name_start));
        check(check_relative_path(beside).has_value(), "the partial beside an accepted path is accepted");
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string_view input{reinterpret_cast<const char*>(data), size};
    check_names(input);
    check_split(input);
    check_relative(input);
    check_partial(input);
    for (const std::string_view part : split_path(input)) {
        check_names(part);
    }
    return 0;
}
