// Suffix parsing with overflow checks.
#include "byte_size.h"

#include <charconv>
#include <limits>

namespace minisync {

std::optional<std::uint64_t> parse_byte_size(std::string_view text)
{
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end == text.data()) {
        return std::nullopt;
    }
    std::string_view suffix{end, static_cast<std::size_t>(text.data() + text.size() - end)};
    if (suffix.size() == 2 && (suffix[1] == 'B' || suffix[1] == 'b')) {
        suffix.remove_suffix(1);
    }
    unsigned shift = 0;
    if (suffix.size() == 1) {
        switch (suffix[0]) {
        case 'K': case 'k': shift = 10; break;
        case 'M': case 'm': shift = 20; break;
        case 'G': case 'g': shift = 30; break;
        case 'T': case 't': shift = 40; break;
        default: return std::nullopt;
        }
    } else if (!suffix.empty()) {
        return std::nullopt;
    }
    if (shift != 0 && value > (std::numeric_limits<std::uint64_t>::max() >> shift)) {
        return std::nullopt;
    }
    return value << shift;
}

} // namespace minisync
