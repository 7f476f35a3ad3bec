// What a folder name, a client CN and a relative path may look like, and the names reserved for partial uploads.
// Everything that turns a string from the network or the command line into a filesystem name passes here first.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace minisync {

constexpr std::size_t MaxNameBytes = 255;      // NAME_MAX
constexpr std::size_t MaxRelativePathBytes = 4095; // PATH_MAX less the terminating NUL

// One path component: 1-255 bytes, not "." or "..", no '/' and no NUL.
bool is_valid_name_component(std::string_view name) noexcept;
bool is_valid_folder_name(std::string_view name) noexcept;
// A CN names a directory directly under the server root, where dot-names are the server's own.
bool is_valid_client_cn(std::string_view cn) noexcept;

// Returns why the path is unacceptable, or nothing when it is a clean relative path:
// components separated by single '/', none empty, ".", ".." or reserved, no NUL, within length limits.
std::optional<std::string> check_relative_path(std::string_view path);

std::vector<std::string_view> split_path(std::string_view path);

// Partial uploads live beside their target under a hidden name derived from the final name, so an
// interrupted upload is found again after a restart and is never mistaken for (or synced as) a user file.
std::string partial_name_for(std::string_view final_name);
bool is_partial_name(std::string_view name) noexcept;

} // namespace minisync
