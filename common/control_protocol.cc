// Control protocol codecs: request validation, reply encoding and decoding, line framing, socket path rule.
#include "control_protocol.h"

#include <sys/stat.h>

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <set>
#include <utility>

namespace minisync::control {
namespace {

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

// At most max_bytes of text for an error message, cut on a UTF-8 sequence boundary, with "..." when cut.
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

constexpr std::size_t MaxQuoted = 64;

// Field-by-field checks over a JSON object, keeping the first error, with field names qualified by where
// the object sits ("folders[2].pending").
class FieldReader {
public:
    FieldReader(const json& object, std::string context, std::string& error)
        : object_{object}, context_{std::move(context)}, error_{error}
    {
    }

    void u64(const char* key, std::uint64_t& out)
    {
        const json* value = find(key);
        if (value == nullptr) {
            return;
        }
        if (value->is_number_unsigned()) {
            out = value->get<std::uint64_t>();
        } else if (value->is_number_integer() && value->get<std::int64_t>() >= 0) {
            out = static_cast<std::uint64_t>(value->get<std::int64_t>());
        } else {
            fail(key, "must be a non-negative integer");
        }
    }

    void boolean(const char* key, bool& out)
    {
        if (const json* value = find(key)) {
            if (value->is_boolean()) {
                out = value->get<bool>();
            } else {
                fail(key, "must be true or false");
            }
        }
    }

    void string(const char* key, std::string& out)
    {
        if (const json* value = find(key)) {
            if (value->is_string()) {
                out = value->get<std::string>();
            } else {
                fail(key, "must be a string");
            }
        }
    }

    void string_or_null(const char* key, std::optional<std::string>& out)
    {
        if (const json* value = find(key)) {
            if (value->is_string()) {
                out = value->get<std::string>();
            } else if (value->is_null()) {
                out.reset();
            } else {
                fail(key, "must be a string or null");
            }
        }
    }

    // The array, or nullptr (with the error recorded) when it is missing or something else.
    const json* array(const char* key)
    {
        const json* value = find(key);
        if (value != nullptr && !value->is_array()) {
            fail(key, "must be an array");
            return nullptr;
        }
        return value;
    }

    [[nodiscard]] std::string qualified(const char* key) const
    {
        return context_.empty() ? std::string{key} : context_ + "." + key;
    }

private:
    const json* find(const char* key)
    {
        if (!error_.empty()) {
            return nullptr;
        }
        const auto it = object_.find(key);
        if (it == object_.end()) {
            error_ = "missing field '" + qualified(key) + "'";
            return nullptr;
        }
        return &*it;
    }

    void fail(const char* key, const char* what)
    {
        if (error_.empty()) {
            error_ = "field '" + qualified(key) + "' " + what;
        }
    }

    const json& object_;
    std::string context_;
    std::string& error_;
};

std::variant<Request, std::string> validate_request(const json& object)
{
    if (!object.is_object()) {
        return std::string{"a request must be a JSON object"};
    }
    // Unknown fields first: {"comand":"status"} is better answered by the typo than by a missing command.
    for (const auto& [key, value] : object.items()) {
        if (key != "command" && key != "folder" && key != "wait") {
            return "unknown field '" + excerpt(key, MaxQuoted) + "' (known: command, folder, wait)";
        }
    }
    const auto command_field = object.find("command");
    if (command_field == object.end()) {
        return std::string{"missing field 'command'"};
    }
    if (!command_field->is_string()) {
        return std::string{"field 'command' must be a string"};
    }
    const std::string& name = command_field->get_ref<const std::string&>();
    const std::optional<Command> command = command_from_string(name);
    if (!command) {
        return "unknown command '" + excerpt(name, MaxQuoted) + "' (known: status, pause, resume, resync)";
    }
    Request request;
    request.command = *command;
    if (const auto folder = object.find("folder"); folder != object.end()) {
        if (*command == Command::Status) {
            return std::string{"status takes no 'folder'"};
        }
        if (!folder->is_string()) {
            return std::string{"field 'folder' must be a string"};
        }
        request.folder = folder->get<std::string>();
    }
    if (const auto wait = object.find("wait"); wait != object.end()) {
        if (*command != Command::Resync) {
            return std::string{"field 'wait' is only valid for resync"};
        }
        if (!wait->is_boolean()) {
            return std::string{"field 'wait' must be true or false"};
        }
        request.wait = wait->get<bool>();
    }
    return request;
}

std::variant<Request, std::string> parse_request_unchecked(std::string_view line)
{
    line = without_newline(line);
    if (line.size() > MaxRequestLine) {
        return std::string{LineTooLongError};
    }
    if (is_blank(line)) {
        return std::string{"empty request"};
    }
    // nlohmann's lexer takes a NUL byte for the end of the input and would ignore whatever follows it.
    if (line.find('\0') != std::string_view::npos) {
        return std::string{"invalid JSON: NUL byte in the request"};
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
        return "invalid JSON: " + json_error_text(e);
    }
    if (!duplicate.empty()) {
        return "duplicate field '" + excerpt(duplicate, MaxQuoted) + "'";
    }
    return validate_request(object);
}

std::variant<Reply, std::string> decode_reply_unchecked(std::string_view line)
{
    line = without_newline(line);
    if (is_blank(line)) {
        return std::string{"empty reply"};
    }
    if (line.find('\0') != std::string_view::npos) {
        return std::string{"reply is not JSON: NUL byte in the reply"};
    }
    json object;
    try {
        object = json::parse(line);
    } catch (const json::exception& e) {
        return "reply is not JSON: " + json_error_text(e);
    }
    if (!object.is_object()) {
        return std::string{"reply is not a JSON object"};
    }
    const auto ok = object.find("ok");
    if (ok == object.end() || !ok->is_boolean()) {
        return std::string{"reply has no boolean 'ok'"};
    }
    Reply reply;
    reply.ok = ok->get<bool>();
    if (!reply.ok) {
        const auto error = object.find("error");
        reply.error = error != object.end() && error->is_string() ? error->get<std::string>()
                                                                   : "the daemon reported an error without a message";
    }
    reply.body = std::move(object);
    return reply;
}

std::variant<StatusReply, std::string> decode_status_unchecked(const json& body)
{
    if (!body.is_object()) {
        return std::string{"status reply is not a JSON object"};
    }
    std::string error;
    StatusReply status;
    FieldReader fields{body, "", error};
    fields.string("version", status.version);
    fields.u64("uptime_seconds", status.uptime_seconds);
    std::string state;
    fields.string("state", state);
    if (error.empty()) {
        if (state == "running") {
            status.state = DaemonState::Running;
        } else if (state == "paused") {
            status.state = DaemonState::Paused;
        } else {
            error = "field 'state' must be \"running\" or \"paused\"";
        }
    }
    fields.boolean("connected", status.connected);
    fields.string("server", status.server);
    fields.u64("queue_depth", status.queue_depth);
    fields.u64("files_synced", status.files_synced);
    fields.u64("bytes_sent", status.bytes_sent);
    fields.string_or_null("last_error", status.last_error);
    if (const json* inflight = fields.array("inflight")) {
        for (std::size_t i = 0; i < inflight->size() && error.empty(); ++i) {
            const std::string context = "inflight[" + std::to_string(i) + "]";
            const json& item = (*inflight)[i];
            if (!item.is_object()) {
                error = "field '" + context + "' must be an object";
                break;
            }
            InflightTransfer transfer;
            FieldReader item_fields{item, context, error};
            item_fields.string("path", transfer.path);
            item_fields.u64("offset", transfer.offset);
            item_fields.u64("size", transfer.size);
            status.inflight.push_back(std::move(transfer));
        }
    }
    if (const json* folders = fields.array("folders")) {
        for (std::size_t i = 0; i < folders->size() && error.empty(); ++i) {
            const std::string context = "folders[" + std::to_string(i) + "]";
            const json& item = (*folders)[i];
            if (!item.is_object()) {
                error = "field '" + context + "' must be an object";
                break;
            }
            FolderStatus folder;
            FieldReader item_fields{item, context, error};
            item_fields.string("name", folder.name);
            item_fields.string("path", folder.path);
            item_fields.boolean("paused", folder.paused);
            item_fields.u64("pending", folder.pending);
            item_fields.string_or_null("error", folder.error);
            status.folders.push_back(std::move(folder));
        }
    }
    if (!error.empty()) {
        return "bad status reply: " + error;
    }
    return status;
}

std::variant<FoldersReply, std::string> decode_folders_unchecked(const json& body)
{
    if (!body.is_object()) {
        return std::string{"reply is not a JSON object"};
    }
    std::string error;
    FoldersReply reply;
    FieldReader fields{body, "", error};
    if (const json* folders = fields.array("folders")) {
        for (std::size_t i = 0; i < folders->size(); ++i) {
            if (!(*folders)[i].is_string()) {
                error = "field 'folders[" + std::to_string(i) + "]' must be a string";
                break;
            }
            reply.folders.push_back((*folders)[i].get<std::string>());
        }
    }
    if (error.empty() && body.contains("failed")) {
        std::uint64_t failed = 0;
        fields.u64("failed", failed);
        reply.failed = failed;
    }
    if (!error.empty()) {
        return "bad reply: " + error;
    }
    return reply;
}

// A whole reply line through decode_reply and then decode_body; ok:false is a failure with the daemon's text.
template <typename Result>
std::variant<Result, std::string> decode_line(std::string_view line,
                                              std::variant<Result, std::string> (*decode_body)(const json&))
{
    std::variant<Reply, std::string> reply = decode_reply_unchecked(line);
    if (auto* error = std::get_if<std::string>(&reply)) {
        return std::move(*error);
    }
    const Reply& decoded = std::get<Reply>(reply);
    if (!decoded.ok) {
        return decoded.error;
    }
    return decode_body(decoded.body);
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

const char* to_string(DaemonState state) noexcept
{
    switch (state) {
    case DaemonState::Running: return "running";
    case DaemonState::Paused: return "paused";
    }
    return "?";
}

// noexcept: the only exception left after the JSON ones is std::bad_alloc, and running out of memory
// stops the process (docs/ARCHITECTURE.md "Errors").
std::variant<Request, std::string> parse_request(std::string_view line) noexcept
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
    return to_line(object);
}

std::string error_reply(std::string_view message)
{
    ordered_json object;
    object["ok"] = false;
    object["error"] = message;
    return to_line(object);
}

std::string unknown_folder_error(std::string_view name)
{
    // 255 bytes: no folder name is longer, so the rest would only bloat the reply.
    return "no folder named '" + excerpt(name, 255) + "'";
}

DaemonState overall_state(const std::vector<FolderStatus>& folders) noexcept
{
    const bool all_paused =
        !folders.empty() && std::all_of(folders.begin(), folders.end(), [](const FolderStatus& f) { return f.paused; });
    return all_paused ? DaemonState::Paused : DaemonState::Running;
}

std::string encode_status(const StatusReply& status)
{
    const auto string_or_null = [](const std::optional<std::string>& text) {
        return text ? ordered_json(*text) : ordered_json(nullptr);
    };
    ordered_json object;
    object["ok"] = true;
    object["version"] = status.version;
    object["uptime_seconds"] = status.uptime_seconds;
    object["state"] = to_string(status.state);
    object["connected"] = status.connected;
    object["server"] = status.server;
    object["queue_depth"] = status.queue_depth;
    ordered_json inflight = ordered_json::array();
    for (const InflightTransfer& transfer : status.inflight) {
        ordered_json item;
        item["path"] = transfer.path;
        item["offset"] = transfer.offset;
        item["size"] = transfer.size;
        inflight.push_back(std::move(item));
    }
    object["inflight"] = std::move(inflight);
    object["files_synced"] = status.files_synced;
    object["bytes_sent"] = status.bytes_sent;
    object["last_error"] = string_or_null(status.last_error);
    ordered_json folders = ordered_json::array();
    for (const FolderStatus& folder : status.folders) {
        ordered_json item;
        item["name"] = folder.name;
        item["path"] = folder.path;
        item["paused"] = folder.paused;
        item["pending"] = folder.pending;
        item["error"] = string_or_null(folder.error);
        folders.push_back(std::move(item));
    }
    object["folders"] = std::move(folders);
    return to_line(object);
}

std::string encode_folders(const FoldersReply& reply)
{
    ordered_json object;
    object["ok"] = true;
    object["folders"] = reply.folders;
    if (reply.failed) {
        object["failed"] = *reply.failed;
    }
    return to_line(object);
}

std::variant<Reply, std::string> decode_reply(std::string_view line) noexcept
{
    return decode_reply_unchecked(line);
}

std::variant<StatusReply, std::string> decode_status_body(const nlohmann::json& body) noexcept
{
    return decode_status_unchecked(body);
}

std::variant<FoldersReply, std::string> decode_folders_body(const nlohmann::json& body) noexcept
{
    return decode_folders_unchecked(body);
}

std::variant<StatusReply, std::string> decode_status(std::string_view line) noexcept
{
    return decode_line<StatusReply>(line, decode_status_unchecked);
}

std::variant<FoldersReply, std::string> decode_folders(std::string_view line) noexcept
{
    return decode_line<FoldersReply>(line, decode_folders_unchecked);
}

LineReader::Result LineReader::next(std::string* line)
{
    const std::size_t newline = buffer_.find('\n', scanned_);
    if (newline == std::string::npos) {
        scanned_ = buffer_.size();
        return buffered() > max_line_ ? Result::TooLong : Result::NeedMore;
    }
    if (newline - start_ > max_line_) {
        return Result::TooLong;
    }
    line->assign(buffer_, start_, newline - start_);
    start_ = newline + 1;
    scanned_ = start_;
    if (start_ == buffer_.size()) {
        buffer_.clear();
        start_ = scanned_ = 0;
    } else if (start_ > 64 * 1024 && start_ > buffer_.size() / 2) {
        // Drop what was returned once it is most of the buffer, so a long stream keeps a small buffer
        // without moving the tail after every line.
        buffer_.erase(0, start_);
        start_ = scanned_ = 0;
    }
    return Result::Line;
}

std::string socket_path_for(std::optional<std::string_view> runtime_directory,
                            std::optional<std::string_view> xdg_runtime_dir, uid_t uid)
{
    const auto trimmed = [](std::string_view dir) {
        while (!dir.empty() && dir.back() == '/') {
            dir.remove_suffix(1);
        }
        return std::string{dir};
    };
    if (runtime_directory) {
        // systemd sets one entry per RuntimeDirectory= name, ':'-separated; ours is the first.
        const std::string_view first = runtime_directory->substr(0, runtime_directory->find(':'));
        if (!first.empty()) {
            return trimmed(first) + "/minisyncd.sock";
        }
    }
    // The XDG base directory spec says a relative XDG_RUNTIME_DIR is invalid and must be ignored.
    if (xdg_runtime_dir && !xdg_runtime_dir->empty() && xdg_runtime_dir->front() == '/') {
        return trimmed(*xdg_runtime_dir) + "/minisync/minisyncd.sock";
    }
    return "/tmp/minisync-" + std::to_string(uid) + "/minisyncd.sock";
}

std::string default_socket_path()
{
    const auto env = [](const char* name) -> std::optional<std::string_view> {
        const char* value = std::getenv(name);
        return value != nullptr ? std::optional<std::string_view>{value} : std::nullopt;
    };
    return socket_path_for(env("RUNTIME_DIRECTORY"), env("XDG_RUNTIME_DIR"), ::getuid());
}

std::string client_socket_path()
{
    const std::string preferred = default_socket_path();
    struct stat st{};
    if (::stat(preferred.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
        return preferred;
    }
    if (::stat(SystemAgentSocket, &st) == 0 && S_ISSOCK(st.st_mode)) {
        return SystemAgentSocket;
    }
    return preferred;
}

} // namespace minisync::control
