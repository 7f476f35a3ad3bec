// Durations written for people: an integer with an optional s, m, h or d suffix (seconds by default).
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace minisync {

std::optional<std::chrono::seconds> parse_duration(std::string_view text);

} // namespace minisync
