// The agent-server wire protocol: version constants, frame types, messages and error codes.
// docs/PROTOCOL.md describes the exchange; this header is the single source of the numbers.
//
// Change history (bump ProtocolVersion when a peer of the previous version would misread a frame):
//   1  initial: HELLO/HELLO_OK, uploads with BEGIN/READY|HAVE/DATA/COMMIT/COMMITTED|ERROR, ABORT.
//   2  resumable uploads: UPLOAD_BEGIN carries a resume offset and the SHA-256 of that prefix; the
//      server confirms durable progress with PROGRESS; REMOVE/REMOVED delete a file. Version 1 peers
//      are refused (none was ever deployed).
//   3  REMOVE carries a u8 kind: a file (a directory there is left alone) or a whole directory tree.
//   4  Every kind of entry and renames: MAKE_DIR (a directory with its mode and mtime), MAKE_SYMLINK (a
//      link and its target text), RENAME (within a folder), each answered by DONE; error NOT_FOUND;
//      SUSPEND ends an upload and keeps its partial file for a later resume (a paused folder).
//   5  The server drops connections that stay silent: HELLO_OK carries its idle timeout, and an agent with
//      nothing to say sends KEEPALIVE well within it; error FILE_TOO_LARGE (--max-file-size). Version 4
//      peers are refused (none was deployed).
//   6  Fewer round trips and reads: PUT_FILE carries a whole small file (metadata, SHA-256 and content) in
//      one frame, answered like a COMMIT; UPLOAD_BEGIN's hash byte may be 2, "no hash yet: answer
//      HASH_WANTED if a file of this size is already at the path", so a new file is read once, not first
//      hashed in case the server holds it. Version 5 peers are refused (none was deployed).
#pragma once

#include "result.h"
#include "sha256.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace minisync::protocol {

constexpr std::uint32_t HelloMagic = 0x4d53594e; // "MSYN"
constexpr std::uint16_t ProtocolVersion = 6;
constexpr std::uint16_t MinProtocolVersion = 6;

// Every frame: u32 body size, u16 type, u16 flags (zero; reserved), then the body. Big-endian.
constexpr std::size_t FrameHeaderSize = 8;
// Hard cap on a frame body; a peer announcing more is dropped before anything is buffered.
constexpr std::uint32_t MaxFrameBody = 1U << 20;
constexpr std::size_t DataPrefixSize = 4 + 8; // request id, offset
constexpr std::size_t MaxDataPayload = MaxFrameBody - DataPrefixSize;

enum class FrameType : std::uint16_t {
    Hello = 1,       // agent -> server, first frame after the TLS handshake
    HelloOk = 2,     // server -> agent, the connection may carry uploads from now on
    Error = 3,       // either way; request id 0 means the whole connection and is followed by close
    UploadBegin = 10,
    UploadReady = 11, // server: send from this offset
    AlreadyHave = 12, // server: the final file already has this size and SHA-256; request finished
    Data = 13,
    Commit = 14,
    Committed = 15,  // server: durable under its final name; request finished
    Abort = 16,      // agent gives a request up; request finished
    Progress = 17,   // server: this many bytes of the partial are durable (fsynced)
    Remove = 18,     // agent: delete this file or symlink
    Removed = 19,    // server: it is gone (or never was); request finished
    MakeDir = 20,    // agent: a directory with this mode and mtime is here (replacing whatever was)
    MakeSymlink = 21, // agent: a symlink with this target text is here (replacing a file or link)
    Rename = 22,     // agent: move what is at one path to another, within the folder
    Done = 23,       // server: MAKE_DIR, MAKE_SYMLINK or RENAME applied and durable; request finished
    Suspend = 24,    // agent: stop this upload, keep its partial to resume later; request finished
    KeepAlive = 25,  // agent: still here (empty body, no answer); resets the server's idle timer
    HashWanted = 26, // server: a file of this size is at the path; ask again with the SHA-256; request finished
    PutFile = 27,    // agent: a whole file in one frame; answered by COMMITTED, ALREADY_HAVE or ERROR
};

// The wire's error codes are the project's error codes (common/result.h): the numbers from 1 to 999 are
// sent in ERROR frames; the local codes from 1000 on never are.
using ErrorCode = minisync::ErrorCode;
using minisync::to_string;

const char* to_string(FrameType type) noexcept;

struct FrameHeader {
    std::uint32_t body_size = 0;
    FrameType type = FrameType::Error;
};

struct Hello {
    std::uint16_t min_version = MinProtocolVersion;
    std::uint16_t max_version = ProtocolVersion;
    std::string agent;
};

struct HelloOk {
    std::uint16_t version = ProtocolVersion;
    std::uint32_t max_frame_body = MaxFrameBody;
    std::string server;
    std::string client_name; // the certificate CN the server filed this agent under
    // The server closes a connection on which nothing arrives for this long; 0: it never does.
    std::uint32_t idle_timeout_seconds = 0;
};

struct ErrorMsg {
    std::uint32_t request_id = 0;
    ErrorCode code = ErrorCode::Internal;
    std::string message;
};

// Request ids are chosen by the agent, strictly increasing on a connection, never 0.
struct UploadBegin {
    std::uint32_t request_id = 0;
    std::string folder;
    std::string path;
    std::uint64_t size = 0;
    std::int64_t mtime_ns = 0;
    std::uint32_t mode = 0;
    std::optional<Sha256Digest> sha256; // present when the agent knows it; enables AlreadyHave
    // Without sha256: the server may hold this file already (the agent has no record of sending it), so
    // the server answers HASH_WANTED instead of UPLOAD_READY if a file of this size is at the path.
    bool hash_if_present = false;
    // Where the agent would like to continue an interrupted upload, and the SHA-256 of its first
    // resume_offset bytes; the server resumes only if its partial holds exactly that prefix.
    std::uint64_t resume_offset = 0;
    Sha256Digest prefix_sha256{};
};

// UPLOAD_BEGIN, DATA and COMMIT in one frame, for a file small enough to fit in it whole. The server
// answers ALREADY_HAVE (the final file has this content; mode and mtime are applied), COMMITTED or ERROR.
struct PutFile {
    std::uint32_t request_id = 0;
    std::string folder;
    std::string path;
    std::int64_t mtime_ns = 0;
    std::uint32_t mode = 0;
    Sha256Digest sha256{};
    std::span<const std::uint8_t> content; // decoded: a view into the frame body it came in
};

struct ProgressMsg {
    std::uint32_t request_id = 0;
    std::uint64_t durable_offset = 0;
};

enum class RemoveKind : std::uint8_t {
    File = 0, // a file or symlink; a directory found there is left alone
    Tree = 1, // whatever is there, a directory with everything beneath it
};

struct RemoveMsg {
    std::uint32_t request_id = 0;
    std::string folder;
    std::string path;
    RemoveKind kind = RemoveKind::File;
};

struct MakeDirMsg {
    std::uint32_t request_id = 0;
    std::string folder;
    std::string path;
    std::uint32_t mode = 0;
    std::int64_t mtime_ns = 0;
};

struct MakeSymlinkMsg {
    std::uint32_t request_id = 0;
    std::string folder;
    std::string path;
    std::string target; // the link's text, never resolved by the server
    std::int64_t mtime_ns = 0;
};

struct RenameMsg {
    std::uint32_t request_id = 0;
    std::string folder;
    std::string from;
    std::string to;
};

struct UploadReady {
    std::uint32_t request_id = 0;
    std::uint64_t offset = 0;
};

struct RequestOnly {
    std::uint32_t request_id = 0;
};
using AlreadyHave = RequestOnly;
using Committed = RequestOnly;
using Abort = RequestOnly;
using Removed = RequestOnly;
using Done = RequestOnly;
using Suspend = RequestOnly;
using HashWanted = RequestOnly;

struct DataPrefix {
    std::uint32_t request_id = 0;
    std::uint64_t offset = 0;
};

struct Commit {
    std::uint32_t request_id = 0;
    Sha256Digest sha256{};
};

} // namespace minisync::protocol
