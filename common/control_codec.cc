// JSON-line helpers shared by the request and reply codecs of the control protocol.
#include "control_codec.h"

#include <algorithm>

namespace minisync::control::codec {

using nlohmann::json;
using nlohmann::ordered_json;

// The one place JSON becomes text. error_handler_t::replace turns each invalid UTF-8 sequence into
// U+FFFD instead of throwing: paths are bytes, and the daemon must answer whatever a folder holds.
// Control characters are escaped by dump(), so the text never contains a raw "\n".
std::string to_line(const ordered_json& object)
{
    std::string line = object.dump(-1, ' ', false, json::error_handler_t::replace);
    line.push_back('\n');
    return line;
}

std::string_view without_newline(std::string_view line) noexcept
{
    if (!line.empty() && line.back() == '\n') {
        line.remove_suffix(1);
    }
    return line;
}

bool is_blank(std::string_view text) noexcept
{
    return std::all_of(text.begin(), text.end(), [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; });
}

std::string excerpt(std::string_view text, std::size_t max_bytes)
{
    if (text.size() <= max_bytes) {
        return std::string{text};
    }
    std::size_t end = max_bytes;
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) {
        --end; // text[end] continues a sequence: cut before the sequence starts
    }
    return std::string{text.substr(0, end)} + "...";
}

// nlohmann's messages start with "[json.exception.parse_error.101] "; the reader needs only the rest.
std::string json_error_text(const json::exception& e)
{
    std::string_view what = e.what();
    if (const std::size_t close = what.find("] "); !what.empty() && what.front() == '[' && close != std::string_view::npos) {
        what.remove_prefix(close + 2);
    }
    return excerpt(what, 200);
}

Error malformed(std::string message)
{
    return Error{ErrorCode::Control, std::move(message)};
}

} // namespace minisync::control::codec
