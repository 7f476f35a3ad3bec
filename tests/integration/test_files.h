// Test content (deterministic pseudo-random bytes) and the plain file writes and reads tests do themselves.
#pragma once

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace minisync::test {

// The same seed always gives the same bytes, so a failing run can be reproduced.
std::vector<std::uint8_t> random_bytes(std::size_t size, std::uint64_t seed);

// Each throws std::runtime_error naming the file. Writes create or truncate, with one open/close, so a
// watching agent sees exactly one IN_CLOSE_WRITE per call.
void write_file(const std::filesystem::path& path, std::span<const std::uint8_t> content);
void write_file(const std::filesystem::path& path, std::string_view content);
// Streams size bytes in 1 MiB blocks, so a large file does not need that much memory.
void write_random_file(const std::filesystem::path& path, std::uint64_t size, std::uint64_t seed);
std::string read_file(const std::filesystem::path& path);
void set_mtime(const std::filesystem::path& path, const timespec& mtime);

} // namespace minisync::test
