// Sizes and rates written the rsync way: an integer with an optional K, M, G or T suffix (powers of 1024).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace minisync {

std::optional<std::uint64_t> parse_byte_size(std::string_view text);

} // namespace minisync
