// Pure encoders and decoders for protocol frames over bounded byte spans; no I/O, no allocation beyond results.
#pragma once

#include "protocol.h"

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace minisync::protocol {

using Bytes = std::span<const std::uint8_t>;

enum class HeaderStatus { Ok, NeedMore, TooLarge, BadFlags };

struct HeaderResult {
    HeaderStatus status = HeaderStatus::NeedMore;
    FrameHeader header{};
};

// Types are not checked here: an unknown type is a well-formed frame the dispatcher refuses.
HeaderResult decode_frame_header(Bytes input);

// Each encoder returns one complete frame, header included.
std::vector<std::uint8_t> encode(const Hello& msg);
std::vector<std::uint8_t> encode(const HelloOk& msg);
std::vector<std::uint8_t> encode(const ErrorMsg& msg);
std::vector<std::uint8_t> encode(const UploadBegin& msg);
std::vector<std::uint8_t> encode(const UploadReady& msg);
std::vector<std::uint8_t> encode(const PutFile& msg);
std::vector<std::uint8_t> encode(const Commit& msg);
std::vector<std::uint8_t> encode(const ProgressMsg& msg);
std::vector<std::uint8_t> encode(const RemoveMsg& msg);
std::vector<std::uint8_t> encode(const MakeDirMsg& msg);
std::vector<std::uint8_t> encode(const MakeSymlinkMsg& msg);
std::vector<std::uint8_t> encode(const RenameMsg& msg);
std::vector<std::uint8_t> encode_request_only(FrameType type, std::uint32_t request_id);
std::vector<std::uint8_t> encode_keepalive();

// A DATA frame's header and prefix; the payload follows it on the wire without being copied here.
using DataFrameHead = std::array<std::uint8_t, FrameHeaderSize + DataPrefixSize>;
DataFrameHead encode_data_head(const DataPrefix& prefix, std::size_t payload_size);

// Decoders take a frame body (without header) and fail on short, long or malformed input.
std::optional<Hello> decode_hello(Bytes body);
std::optional<HelloOk> decode_hello_ok(Bytes body);
std::optional<ErrorMsg> decode_error(Bytes body);
std::optional<UploadBegin> decode_upload_begin(Bytes body);
std::optional<UploadReady> decode_upload_ready(Bytes body);
// The content is a view into body, which must outlive it.
std::optional<PutFile> decode_put_file(Bytes body);
std::optional<Commit> decode_commit(Bytes body);
std::optional<ProgressMsg> decode_progress(Bytes body);
std::optional<RemoveMsg> decode_remove(Bytes body);
std::optional<MakeDirMsg> decode_make_dir(Bytes body);
std::optional<MakeSymlinkMsg> decode_make_symlink(Bytes body);
std::optional<RenameMsg> decode_rename(Bytes body);
std::optional<RequestOnly> decode_request_only(Bytes body);
// On success the payload is the rest of the body after the prefix.
std::optional<DataPrefix> decode_data_prefix(Bytes body);

} // namespace minisync::protocol
