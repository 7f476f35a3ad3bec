// The JSON-line codec under every control message: one JSON object per line, text cut for error
// messages, and nlohmann's errors made readable. Internal to the control_*.cc files.
#pragma once

#include "result.h"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace minisync::control::codec {

// How much of a client's text an error message quotes (an unknown command or field name).
constexpr std::size_t MaxQuoted = 64;

// The one place JSON becomes text: the object as one line, "\n" included. Never throws on bytes that are
// not UTF-8 (each invalid sequence becomes U+FFFD).
std::string to_line(const nlohmann::ordered_json& object);

// line without its trailing "\n", if it has one.
std::string_view without_newline(std::string_view line) noexcept;

// Nothing but spaces, tabs, "\r" and "\n".
bool is_blank(std::string_view text) noexcept;

// At most max_bytes of text for an error message, cut on a UTF-8 sequence boundary, with "..." when cut.
std::string excerpt(std::string_view text, std::size_t max_bytes);

// The message of a JSON exception, without nlohmann's "[json.exception...] " prefix, at most 200 bytes.
std::string json_error_text(const nlohmann::json::exception& e);

// A line that does not follow the control protocol: an Error with code Control.
Error malformed(std::string message);

} // namespace minisync::control::codec
