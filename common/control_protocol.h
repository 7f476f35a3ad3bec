// The control protocol between minisyncctl and minisyncd: requests, replies, line framing, limits and the
// default socket path. docs/CONTROL.md describes the exchange; this header is the single source of its
// names and numbers. Everything here is pure except default_socket_path(), which reads the environment.
// Implemented by job: control_commands.cc (command table, requests), control_replies.cc (building and
// decoding replies), control_line_reader.cc (framing), control_socket_path.cc (where the socket is), over
// the JSON-line helpers of control_codec.h.
//
// Transport: a Unix stream socket. Each request is one line (a JSON object and "\n"), answered by one
// line; a connection may carry several requests in sequence.
//
// Change history (bump ControlProtocolVersion when a client or daemon of the previous version would
// misread a message; adding a reply field is compatible, because clients ignore fields they do not know):
//   1  initial: status, pause, resume, resync (with wait); later, compatibly: resync's accept_root,
//      status's folders[].state (a daemon without them refuses accept_root as an unknown field).
#pragma once

#include "result.h"

#include <nlohmann/json.hpp>

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace minisync::control {

constexpr int ControlProtocolVersion = 1;

// The longest request line, not counting its "\n". A longer line gets error_reply(LineTooLongError) and
// the connection is closed: the rest of the line cannot be told apart from the next request.
constexpr std::size_t MaxRequestLine = 64 * 1024;
// The longest reply line a client accepts. Replies are not bounded by the protocol (a status lists every
// folder); this only stops a broken daemon from filling the client's memory.
constexpr std::size_t MaxReplyLine = 16 * 1024 * 1024;

// Error texts that clients or scripts may test for.
constexpr std::string_view LineTooLongError = "request line longer than 65536 bytes";
constexpr std::string_view PausedError = "paused"; // resync with wait while an affected folder is paused

enum class Command {
    Status, // report everything (StatusReply)
    Pause,  // stop sending; changes keep being recorded (FoldersReply)
    Resume, // send what was recorded meanwhile (FoldersReply)
    Resync, // rescan and re-verify against the server (FoldersReply; with wait, once the queue drained)
};

// The wire name: "status", "pause", "resume", "resync".
const char* to_string(Command command) noexcept;
std::optional<Command> command_from_string(std::string_view name) noexcept;

struct Request {
    Command command = Command::Status;
    // Pause, Resume, Resync: only this folder; unset means every folder. Always unset for Status.
    std::optional<std::string> folder;
    // Resync only: reply once the queue has drained rather than at once.
    bool wait = false;
    // Resync of one folder only: the directory now at the folder's path becomes its root (a folder
    // suspended because its root is not the one recorded is synced again, against that directory).
    bool accept_root = false;

    bool operator==(const Request&) const = default;
};

// Validates one request line (with or without its trailing "\n"): a JSON object with a known "command",
// and only the fields that command takes, of the right types. Never throws and never recurses, whatever
// the bytes. On failure returns an Error with code Control and a message fit for error_reply().
Result<Request> parse_request(std::string_view line) noexcept;

// One request line, "\n" included. A folder name that is not valid UTF-8 cannot be sent as it is: each
// invalid sequence becomes U+FFFD, so the daemon will not find such a folder.
std::string encode_request(const Request& request);

// ---- Replies. Every encoder returns one complete line ("\n" included) and never throws on bytes that
// are not UTF-8: each invalid sequence in a string becomes U+FFFD (EF BF BD), so a path that is not UTF-8
// arrives readable but altered. Decoders ignore fields they do not know.

// {"ok":false,"error":message}
std::string error_reply(std::string_view message);
// The error text for a folder name no folder carries: "no folder named 'NAME'".
std::string unknown_folder_error(std::string_view name);

struct InflightTransfer {
    std::string path; // "<folder name>/<relative path>"
    std::uint64_t offset = 0; // bytes of the file the server has confirmed or been sent
    std::uint64_t size = 0;

    bool operator==(const InflightTransfer&) const = default;
};

struct FolderStatus {
    std::string name;
    std::string path; // absolute local path
    bool paused = false;
    std::uint64_t pending = 0; // paths waiting to be sent
    std::optional<std::string> error; // why the folder cannot be synced right now, if it cannot
    // "syncing", "idle", "paused", "missing" (no directory at path) or "suspended" (not the directory
    // synced so far); error says why for the last two. Empty from a daemon that does not report it.
    std::string state;

    bool operator==(const FolderStatus&) const = default;
};

enum class DaemonState { Running, Paused };
const char* to_string(DaemonState state) noexcept; // "running", "paused"

// The reply to status: {"ok":true, "version", "uptime_seconds", "state", "connected", "server",
// "queue_depth", "inflight", "files_synced", "bytes_sent", "last_error", "folders"}.
struct StatusReply {
    std::string version; // the daemon's software version
    std::uint64_t uptime_seconds = 0;
    DaemonState state = DaemonState::Running; // see overall_state()
    bool connected = false;
    std::string server; // the configured "host:port"
    std::uint64_t queue_depth = 0;
    std::vector<InflightTransfer> inflight;
    std::uint64_t files_synced = 0;
    std::uint64_t bytes_sent = 0; // file content, not wire bytes
    std::optional<std::string> last_error;
    std::vector<FolderStatus> folders;

    bool operator==(const StatusReply&) const = default;
};

// Paused when there is at least one folder and every folder is paused; running otherwise.
DaemonState overall_state(const std::vector<FolderStatus>& folders) noexcept;

std::string encode_status(const StatusReply& status);

// The reply to pause, resume and resync: {"ok":true,"folders":[names affected]}; a resync with wait adds
// "failed": the number of files that could not be synced (0 when all went well).
struct FoldersReply {
    std::vector<std::string> folders;
    std::optional<std::uint64_t> failed; // resync with wait only

    bool operator==(const FoldersReply&) const = default;
};

std::string encode_folders(const FoldersReply& reply);

// Any reply line, checked only as far as every reply goes: a JSON object with a boolean "ok", and a
// string "error" when ok is false. body is the whole object.
struct Reply {
    bool ok = false;
    std::string error; // ok == false only
    nlohmann::json body;
};

// Never throws; on failure an Error with code Control whose message says why the line is not a reply.
Result<Reply> decode_reply(std::string_view line) noexcept;

// The body of an ok reply (Reply::body) to status, or to pause/resume/resync. Every field above must be
// present with its type. They never throw; on failure an Error with code Control whose message names the
// field at fault.
Result<StatusReply> decode_status_body(const nlohmann::json& body) noexcept;
Result<FoldersReply> decode_folders_body(const nlohmann::json& body) noexcept;
// decode_reply, then the body: a whole reply line. An ok:false reply is a failure carrying the daemon's
// error text (code Refused; a malformed line is code Control).
Result<StatusReply> decode_status(std::string_view line) noexcept;
Result<FoldersReply> decode_folders(std::string_view line) noexcept;

// ---- Framing

// Cuts a byte stream into lines, each at most max_line bytes before its "\n". Pure: the owner feeds it
// what it read, and takes lines out until it needs more.
class LineReader {
public:
    enum class Result {
        Line,     // *line holds the next line, without its "\n"
        NeedMore, // no complete line buffered
        TooLong,  // the next line is longer than max_line: the stream cannot be resynchronised
    };

    explicit LineReader(std::size_t max_line) noexcept : max_line_{max_line} {}

    void append(std::string_view bytes) { buffer_.append(bytes); }
    Result next(std::string* line);
    // Bytes received but not yet returned as a line.
    [[nodiscard]] std::size_t buffered() const noexcept { return buffer_.size() - start_; }

private:
    std::size_t max_line_;
    std::string buffer_;
    std::size_t start_ = 0;   // where the unread part of buffer_ begins
    std::size_t scanned_ = 0; // buffer_ before this holds no "\n" after start_: each byte is searched once
};

// ---- Where the socket lives

// The rule of docs/CONTROL.md "Where the socket is": $RUNTIME_DIRECTORY/minisyncd.sock when RUNTIME_DIRECTORY is set and not empty (systemd's
// RuntimeDirectory=; its first entry when several are ':'-separated); else
// $XDG_RUNTIME_DIR/minisync/minisyncd.sock when XDG_RUNTIME_DIR is an absolute path; else
// /tmp/minisync-$UID/minisyncd.sock. The daemon and minisyncctl both use it.
std::string default_socket_path();

// Where minisyncctl looks when no --socket is given: the default above if a socket is there, else the
// agent run by the systemd unit (/run/minisync/minisyncd.sock, which a login shell's environment does not
// point to), else the default above (so an error names it).
std::string client_socket_path();
constexpr const char* SystemAgentSocket = "/run/minisync/minisyncd.sock";
// The same rule over given values (unset = nullopt), for tests.
std::string socket_path_for(std::optional<std::string_view> runtime_directory,
                            std::optional<std::string_view> xdg_runtime_dir, uid_t uid);

// Whether a socket in this directory can be trusted by user: the directory (not a symlink to one) is
// owned by user or root and nobody else may write to it, sticky bit or not. Otherwise another user could
// have put a socket there, and an Error with code Untrusted says why.
Result<void> check_socket_directory(const std::string& directory, uid_t user);

} // namespace minisync::control
