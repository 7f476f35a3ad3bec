// Suffix parsing with overflow checks.
#include "duration.h"

#include <charconv>
#include <cstdint>
#include <limits>

namespace minisync {

std::optional<std::chrono::seconds> parse_duration(std::string_view text)
{
    std::int64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end == text.data() || value < 0) {
        return std::nullopt;
    }
    const std::string_view suffix{end, static_cast<std::size_t>(text.data() + text.size() - end)};
    std::int64_t unit = 1;
    if (suffix == "m") {
        unit = 60;
    } else if (suffix == "h") {
        unit = 3600;
    } else if (suffix == "d") {
        unit = 86400;
    } else if (!suffix.empty() && suffix != "s") {
        return std::nullopt;
    }
    if (value > std::numeric_limits<std::int64_t>::max() / unit) {
        return std::nullopt;
    }
    return std::chrono::seconds{value * unit};
}

} // namespace minisync
