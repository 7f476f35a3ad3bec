// Control replies: building the daemon's reply lines and decoding them in the client, field by field.
#include "control_codec.h"
#include "control_protocol.h"

#include <algorithm>
#include <utility>

namespace minisync::control {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;
using codec::to_line;

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

Result<Reply> decode_reply_unchecked(std::string_view line)
{
    line = codec::without_newline(line);
    if (codec::is_blank(line)) {
        return codec::malformed("empty reply");
    }
    if (line.find('\0') != std::string_view::npos) {
        return codec::malformed("reply is not JSON: NUL byte in the reply");
    }
    json object;
    try {
        object = json::parse(line);
    } catch (const json::exception& e) {
        return codec::malformed("reply is not JSON: " + codec::json_error_text(e));
    }
    if (!object.is_object()) {
        return codec::malformed("reply is not a JSON object");
    }
    const auto ok = object.find("ok");
    if (ok == object.end() || !ok->is_boolean()) {
        return codec::malformed("reply has no boolean 'ok'");
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

Result<StatusReply> decode_status_unchecked(const json& body)
{
    if (!body.is_object()) {
        return codec::malformed("status reply is not a JSON object");
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
            if (item.contains("state")) { // absent from daemons before it was added
                item_fields.string("state", folder.state);
            }
            item_fields.boolean("paused", folder.paused);
            item_fields.u64("pending", folder.pending);
            item_fields.string_or_null("error", folder.error);
            status.folders.push_back(std::move(folder));
        }
    }
    if (!error.empty()) {
        return codec::malformed("bad status reply: " + error);
    }
    return status;
}

Result<FoldersReply> decode_folders_unchecked(const json& body)
{
    if (!body.is_object()) {
        return codec::malformed("reply is not a JSON object");
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
        return codec::malformed("bad reply: " + error);
    }
    return reply;
}

// A whole reply line through decode_reply and then decode_body; ok:false is a failure with the daemon's text.
template <typename Decoded>
Result<Decoded> decode_line(std::string_view line, Result<Decoded> (*decode_body)(const json&))
{
    Result<Reply> reply = decode_reply_unchecked(line);
    if (!reply.ok()) {
        return reply.error();
    }
    const Reply& decoded = reply.value();
    if (!decoded.ok) {
        return Error{ErrorCode::Refused, decoded.error};
    }
    return decode_body(decoded.body);
}

} // namespace

const char* to_string(DaemonState state) noexcept
{
    switch (state) {
    case DaemonState::Running: return "running";
    case DaemonState::Paused: return "paused";
    }
    return "?";
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
    return "no folder named '" + codec::excerpt(name, 255) + "'";
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
        item["state"] = folder.state;
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

// noexcept: the only exception left after the JSON ones is std::bad_alloc, and running out of memory
// stops the process (docs/ARCHITECTURE.md "Errors").
Result<Reply> decode_reply(std::string_view line) noexcept
{
    return decode_reply_unchecked(line);
}

Result<StatusReply> decode_status_body(const nlohmann::json& body) noexcept
{
    return decode_status_unchecked(body);
}

Result<FoldersReply> decode_folders_body(const nlohmann::json& body) noexcept
{
    return decode_folders_unchecked(body);
}

Result<StatusReply> decode_status(std::string_view line) noexcept
{
    return decode_line<StatusReply>(line, decode_status_unchecked);
}

Result<FoldersReply> decode_folders(std::string_view line) noexcept
{
    return decode_line<FoldersReply>(line, decode_folders_unchecked);
}

} // namespace minisync::control
