// The control commands: the command table (wire names) and validating and encoding request lines.
#include "control_codec.h"
#include "control_protocol.h"

#include <set>

namespace minisync::control {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;
using codec::excerpt;
using codec::MaxQuoted;

Result<Request> validate_request(const json& object)
{
    if (!object.is_object()) {
        return codec::malformed("a request must be a JSON object");
    }
    // Unknown fields first: {"comand":"status"} is better answered by the typo than by a missing command.
    for (const auto& [key, value] : object.items()) {
        if (key != "command" && key != "folder" && key != "wait" && key != "accept_root") {
            return codec::malformed("unknown field '" + excerpt(key, MaxQuoted) +
                                    "' (known: command, folder, wait, accept_root)");
        }
    }
    const auto command_field = object.find("command");
    if (command_field == object.end()) {
        return codec::malformed("missing field 'command'");
    }
    if (!command_field->is_string()) {
        return codec::malformed("field 'command' must be a string");
    }
    const std::string& name = command_field->get_ref<const std::string&>();
    const std::optional<Command> command = command_from_string(name);
    if (!command) {
        return codec::malformed("unknown command '" + excerpt(name, MaxQuoted) + "' (known: status, pause, resume, resync)");
    }
    Request request;
    request.command = *command;
    if (const auto folder = object.find("folder"); folder != object.end()) {
        if (*command == Command::Status) {
            return codec::malformed("status takes no 'folder'");
        }
        if (!folder->is_string()) {
            return codec::malformed("field 'folder' must be a string");
        }
        request.folder = folder->get<std::string>();
    }
    if (const auto wait = object.find("wait"); wait != object.end()) {
        if (*command != Command::Resync) {
            return codec::malformed("field 'wait' is only valid for resync");
        }
        if (!wait->is_boolean()) {
            return codec::malformed("field 'wait' must be true or false");
        }
        request.wait = wait->get<bool>();
    }
    if (const auto accept = object.find("accept_root"); accept != object.end()) {
        if (*command != Command::Resync) {
            return codec::malformed("field 'accept_root' is only valid for resync");
        }
        if (!accept->is_boolean()) {
            return codec::malformed("field 'accept_root' must be true or false");
        }
        request.accept_root = accept->get<bool>();
    }
    if (request.accept_root && !request.folder) {
        return codec::malformed("resync with 'accept_root' needs a 'folder'");
    }
    return request;
}

Result<Request> parse_request_unchecked(std::string_view line)
{
    line = codec::without_newline(line);
    if (line.size() > MaxRequestLine) {
        return codec::malformed(std::string{LineTooLongError});
    }
    if (codec::is_blank(line)) {
        return codec::malformed("empty request");
    }
    // nlohmann's lexer takes a NUL byte for the end of the input and would ignore whatever follows it.
    if (line.find('\0') != std::string_view::npos) {
        return codec::malformed("invalid JSON: NUL byte in the request");
    }
    // nlohmann keeps the last of duplicate keys silently; a request saying two things is refused instead.
    // The parser is iterative (an explicit stack), so deep nesting costs memory bounded by the line
    // length, never the call stack.
    std::set<std::string> keys;
    std::string duplicate;
    const json::parser_callback_t note_keys = [&](int depth, json::parse_event_t event, json& parsed) {
        if (event == json::parse_event_t::key && depth == 1 && duplicate.empty() &&
            !keys.insert(parsed.get<std::string>()).second) {
            duplicate = parsed.get<std::string>();
        }
        return true;
    };
    json object;
    try {
        object = json::parse(line, note_keys);
    } catch (const json::exception& e) {
        return codec::malformed("invalid JSON: " + codec::json_error_text(e));
    }
    if (!duplicate.empty()) {
        return codec::malformed("duplicate field '" + excerpt(duplicate, MaxQuoted) + "'");
    }
    return validate_request(object);
}

} // namespace

const char* to_string(Command command) noexcept
{
    switch (command) {
    case Command::Status: return "status";
    case Command::Pause: return "pause";
    case Command::Resume: return "resume";
    case Command::Resync: return "resync";
    }
    return "?";
}

std::optional<Command> command_from_string(std::string_view name) noexcept
{
    for (const Command command : {Command::Status, Command::Pause, Command::Resume, Command::Resync}) {
        if (name == to_string(command)) {
            return command;
        }
    }
    return std::nullopt;
}

// noexcept: the only exception left after the JSON ones is std::bad_alloc, and running out of memory
// stops the process (docs/ARCHITECTURE.md "Errors").
Result<Request> parse_request(std::string_view line) noexcept
{
    return parse_request_unchecked(line);
}

std::string encode_request(const Request& request)
{
    ordered_json object;
    object["command"] = to_string(request.command);
    if (request.folder) {
        object["folder"] = *request.folder;
    }
    if (request.wait) {
        object["wait"] = true;
    }
    if (request.accept_root) {
        object["accept_root"] = true;
    }
    return codec::to_line(object);
}

} // namespace minisync::control
