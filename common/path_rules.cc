// Validation of names and relative paths; pure string logic, shared by the agent and the server.
#include "path_rules.h"

#include "sha256.h"

#include <algorithm>
#include <span>

namespace minisync {
namespace {

constexpr std::string_view PartialPrefix = ".minisync.";
constexpr std::string_view PartialSuffix = ".part";
constexpr std::size_t PartialHashChars = 16;

bool is_hex_lower(char c) noexcept
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

} // namespace

bool is_valid_name_component(std::string_view name) noexcept
{
    if (name.empty() || name.size() > MaxNameBytes || name == "." || name == "..") {
        return false;
    }
    return name.find('/') == std::string_view::npos && name.find('\0') == std::string_view::npos;
}

bool is_valid_folder_name(std::string_view name) noexcept
{
    return is_valid_name_component(name);
}

bool is_valid_client_cn(std::string_view cn) noexcept
{
    return is_valid_name_component(cn) && cn.front() != '.';
}

std::optional<std::string> check_relative_path(std::string_view path)
{
    if (path.empty()) {
        return "empty path";
    }
    if (path.size() > MaxRelativePathBytes) {
        return "path longer than " + std::to_string(MaxRelativePathBytes) + " bytes";
    }
    if (path.find('\0') != std::string_view::npos) {
        return "path contains a NUL byte";
    }
    if (path.front() == '/') {
        return "absolute path";
    }
    for (const std::string_view component : split_path(path)) {
        if (component.empty()) {
            return "empty path component";
        }
        if (component == "." || component == "..") {
            return "path component '" + std::string{component} + "'";
        }
        if (component.size() > MaxNameBytes) {
            return "path component longer than " + std::to_string(MaxNameBytes) + " bytes";
        }
        if (is_partial_name(component)) {
            return "reserved name '" + std::string{component} + "'";
        }
    }
    return std::nullopt;
}

std::vector<std::string_view> split_path(std::string_view path)
{
    std::vector<std::string_view> parts;
    std::size_t start = 0;
    while (true) {
        const std::size_t slash = path.find('/', start);
        parts.push_back(path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
        if (slash == std::string_view::npos) {
            break;
        }
        start = slash + 1;
    }
    return parts;
}

std::string partial_name_for(std::string_view final_name)
{
    const Sha256Digest digest = sha256_of(final_name);
    std::string name{PartialPrefix};
    name += to_hex(std::span{digest}.first(PartialHashChars / 2));
    name += PartialSuffix;
    return name;
}

bool is_partial_name(std::string_view name) noexcept
{
    if (name.size() != PartialPrefix.size() + PartialHashChars + PartialSuffix.size() ||
        !name.starts_with(PartialPrefix) || !name.ends_with(PartialSuffix)) {
        return false;
    }
    const std::string_view hex = name.substr(PartialPrefix.size(), PartialHashChars);
    return std::all_of(hex.begin(), hex.end(), is_hex_lower);
}

} // namespace minisync
