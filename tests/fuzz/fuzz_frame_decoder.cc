// Fuzz target: the frame codec refuses bad bytes cleanly, and what it accepts re-encodes to the same bytes.
#include "protocol_codec.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <tuple>
#include <vector>

namespace {

using namespace minisync::protocol;
using ByteVec = std::vector<std::uint8_t>;

void check(bool ok, const char* what)
{
    if (!ok) {
        std::fprintf(stderr, "fuzz_frame_decoder: invariant broken: %s\n", what);
        std::abort();
    }
}

// The message structs have no operator== (the codec never needs one); these compare the fields. A field
// added later and missed here is still covered: round_trip() also compares the re-encoded bytes.
bool same(const Hello& a, const Hello& b)
{
    return std::tie(a.min_version, a.max_version, a.agent) == std::tie(b.min_version, b.max_version, b.agent);
}
bool same(const HelloOk& a, const HelloOk& b)
{
    return std::tie(a.version, a.max_frame_body, a.server, a.client_name, a.idle_timeout_seconds) ==
           std::tie(b.version, b.max_frame_body, b.server, b.client_name, b.idle_timeout_seconds);
}
bool same(const ErrorMsg& a, const ErrorMsg& b)
{
    return std::tie(a.request_id, a.code, a.message) == std::tie(b.request_id, b.code, b.message);
}
bool same(const UploadBegin& a, const UploadBegin& b)
{
    return std::tie(a.request_id, a.folder, a.path, a.size, a.mtime_ns, a.mode, a.sha256, a.hash_if_present,
                    a.resume_offset, a.prefix_sha256) == std::tie(b.request_id, b.folder, b.path, b.size, b.mtime_ns,
                                                                  b.mode, b.sha256, b.hash_if_present, b.resume_offset,
                                                                  b.prefix_sha256);
}
bool same(const PutFile& a, const PutFile& b)
{
    return std::tie(a.request_id, a.folder, a.path, a.mtime_ns, a.mode, a.sha256) ==
               std::tie(b.request_id, b.folder, b.path, b.mtime_ns, b.mode, b.sha256) &&
           std::equal(a.content.begin(), a.content.end(), b.content.begin(), b.content.end());
}
bool same(const UploadReady& a, const UploadReady& b)
{
    return std::tie(a.request_id, a.offset) == std::tie(b.request_id, b.offset);
}
bool same(const Commit& a, const Commit& b)
{
    return std::tie(a.request_id, a.sha256) == std::tie(b.request_id, b.sha256);
}
bool same(const ProgressMsg& a, const ProgressMsg& b)
{
    return std::tie(a.request_id, a.durable_offset) == std::tie(b.request_id, b.durable_offset);
}
bool same(const RemoveMsg& a, const RemoveMsg& b)
{
    return std::tie(a.request_id, a.folder, a.path, a.kind) == std::tie(b.request_id, b.folder, b.path, b.kind);
}
bool same(const MakeDirMsg& a, const MakeDirMsg& b)
{
    return std::tie(a.request_id, a.folder, a.path, a.mode, a.mtime_ns) ==
           std::tie(b.request_id, b.folder, b.path, b.mode, b.mtime_ns);
}
bool same(const MakeSymlinkMsg& a, const MakeSymlinkMsg& b)
{
    return std::tie(a.request_id, a.folder, a.path, a.target, a.mtime_ns) ==
           std::tie(b.request_id, b.folder, b.path, b.target, b.mtime_ns);
}
bool same(const RenameMsg& a, const RenameMsg& b)
{
    return std::tie(a.request_id, a.folder, a.from, a.to) == std::tie(b.request_id, b.folder, b.from, b.to);
}

std::uint32_t be32(const std::uint8_t* p)
{
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}

// The frame an encoder must produce for this body: the header written by hand from protocol.h's layout.
ByteVec frame_of(FrameType type, Bytes body)
{
    const auto size = static_cast<std::uint32_t>(body.size());
    const auto t = static_cast<std::uint16_t>(type);
    ByteVec frame{static_cast<std::uint8_t>(size >> 24), static_cast<std::uint8_t>(size >> 16),
                  static_cast<std::uint8_t>(size >> 8),  static_cast<std::uint8_t>(size),
                  static_cast<std::uint8_t>(t >> 8),     static_cast<std::uint8_t>(t),
                  0,                                     0};
    frame.insert(frame.end(), body.begin(), body.end());
    return frame;
}

// Whatever decode accepts, encode must write back byte for byte (the decoders take only the canonical
// form, so a relayed or logged message is the one that arrived), and that frame must decode again to
// the same message.
template <class Decode, class Encode>
void round_trip(FrameType type, Bytes body, Decode decode, Encode encode, const char* what)
{
    const auto first = decode(body);
    if (!first) {
        return;
    }
    const ByteVec frame = encode(*first);
    check(frame == frame_of(type, body), what);
    const HeaderResult header = decode_frame_header(frame);
    check(header.status == HeaderStatus::Ok && header.header.type == type &&
              header.header.body_size == frame.size() - FrameHeaderSize,
          "header of a re-encoded frame");
    const auto second = decode(Bytes{frame}.subspan(FrameHeaderSize));
    check(second.has_value(), what);
    check(same(*first, *second), what);
}

template <class Msg>
ByteVec encode_message(const Msg& msg)
{
    return encode(msg);
}

void check_header(Bytes input, const HeaderResult& result)
{
    if (input.size() < FrameHeaderSize) {
        check(result.status == HeaderStatus::NeedMore, "short header not NeedMore");
        return;
    }
    const std::uint32_t size = be32(input.data());
    const auto type = static_cast<std::uint16_t>((input[4] << 8) | input[5]);
    const bool flags = input[6] != 0 || input[7] != 0;
    check(result.header.body_size == size, "header body size");
    check(static_cast<std::uint16_t>(result.header.type) == type, "header type");
    const HeaderStatus expected = size > MaxFrameBody ? HeaderStatus::TooLarge
                                  : flags             ? HeaderStatus::BadFlags
                                                      : HeaderStatus::Ok;
    check(result.status == expected, "header status");
}

void try_every_decoder(Bytes body, std::optional<FrameType> type)
{
    round_trip(FrameType::Hello, body, decode_hello, encode_message<Hello>, "HELLO round trip");
    round_trip(FrameType::HelloOk, body, decode_hello_ok, encode_message<HelloOk>, "HELLO_OK round trip");
    round_trip(FrameType::Error, body, decode_error, encode_message<ErrorMsg>, "ERROR round trip");
    round_trip(FrameType::UploadBegin, body, decode_upload_begin, encode_message<UploadBegin>,
               "UPLOAD_BEGIN round trip");
    round_trip(FrameType::PutFile, body, decode_put_file, encode_message<PutFile>, "PUT_FILE round trip");
    round_trip(FrameType::UploadReady, body, decode_upload_ready, encode_message<UploadReady>,
               "UPLOAD_READY round trip");
    round_trip(FrameType::Commit, body, decode_commit, encode_message<Commit>, "COMMIT round trip");
    round_trip(FrameType::Progress, body, decode_progress, encode_message<ProgressMsg>, "PROGRESS round trip");
    round_trip(FrameType::Remove, body, decode_remove, encode_message<RemoveMsg>, "REMOVE round trip");
    round_trip(FrameType::MakeDir, body, decode_make_dir, encode_message<MakeDirMsg>, "MAKE_DIR round trip");
    round_trip(FrameType::MakeSymlink, body, decode_make_symlink, encode_message<MakeSymlinkMsg>,
               "MAKE_SYMLINK round trip");
    round_trip(FrameType::Rename, body, decode_rename, encode_message<RenameMsg>, "RENAME round trip");

    // The request-only frames share one body layout; the header's type goes back as it came.
    const FrameType request_type = type.value_or(FrameType::Abort);
    if (const auto request = decode_request_only(body)) {
        const ByteVec frame = encode_request_only(request_type, request->request_id);
        check(frame == frame_of(request_type, body), "request-only round trip");
    }

    // KEEPALIVE has no decoder: its body is empty, and the encoder writes exactly that.
    if (body.empty()) {
        check(encode_keepalive() == frame_of(FrameType::KeepAlive, body), "KEEPALIVE encoding");
    }

    // DATA: the head written for a payload of the rest of the body is the frame's first bytes.
    if (const auto prefix = decode_data_prefix(body)) {
        check(body.size() >= DataPrefixSize, "DATA prefix accepted from a short body");
        const DataFrameHead head = encode_data_head(*prefix, body.size() - DataPrefixSize);
        const ByteVec frame = frame_of(FrameType::Data, body);
        check(std::equal(head.begin(), head.end(), frame.begin()), "DATA head round trip");
    } else {
        check(body.size() < DataPrefixSize, "DATA prefix refused from a long enough body");
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const Bytes input{data, size};
    const HeaderResult header = decode_frame_header(input);
    check_header(input, header);

    // A whole frame: the body the header announces goes to every decoder, as a confused or hostile
    // peer could label any body with any type. Otherwise the bytes after the header are still a body.
    const Bytes rest = input.subspan(std::min(size, FrameHeaderSize));
    if (header.status == HeaderStatus::Ok && rest.size() >= header.header.body_size) {
        try_every_decoder(rest.first(header.header.body_size), header.header.type);
    } else {
        try_every_decoder(rest, std::nullopt);
    }
    return 0;
}
