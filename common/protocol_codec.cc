// Big-endian field encoding for every protocol message, with bounds-checked reading.
#include "protocol_codec.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <string_view>

namespace minisync::protocol {
namespace {

class Writer {
public:
    explicit Writer(FrameType type) : type_{type} { out_.resize(FrameHeaderSize); }

    void u8(std::uint8_t v) { out_.push_back(v); }
    void u16(std::uint16_t v)
    {
        u8(static_cast<std::uint8_t>(v >> 8));
        u8(static_cast<std::uint8_t>(v));
    }
    void u32(std::uint32_t v)
    {
        u16(static_cast<std::uint16_t>(v >> 16));
        u16(static_cast<std::uint16_t>(v));
    }
    void u64(std::uint64_t v)
    {
        u32(static_cast<std::uint32_t>(v >> 32));
        u32(static_cast<std::uint32_t>(v));
    }
    void bytes(std::span<const std::uint8_t> b) { out_.insert(out_.end(), b.begin(), b.end()); }
    // Strings longer than a u16 cannot be framed; callers validate lengths long before this.
    void str(std::string_view s)
    {
        const auto len = static_cast<std::uint16_t>(std::min<std::size_t>(s.size(), 0xffff));
        u16(len);
        out_.insert(out_.end(), s.begin(), s.begin() + len);
    }

    std::vector<std::uint8_t> finish()
    {
        const auto body = static_cast<std::uint32_t>(out_.size() - FrameHeaderSize);
        put_header(out_.data(), body, type_);
        return std::move(out_);
    }

    static void put_header(std::uint8_t* p, std::uint32_t body, FrameType type)
    {
        p[0] = static_cast<std::uint8_t>(body >> 24);
        p[1] = static_cast<std::uint8_t>(body >> 16);
        p[2] = static_cast<std::uint8_t>(body >> 8);
        p[3] = static_cast<std::uint8_t>(body);
        const auto t = static_cast<std::uint16_t>(type);
        p[4] = static_cast<std::uint8_t>(t >> 8);
        p[5] = static_cast<std::uint8_t>(t);
        p[6] = 0;
        p[7] = 0;
    }

private:
    FrameType type_;
    std::vector<std::uint8_t> out_;
};

class Reader {
public:
    explicit Reader(Bytes in) : in_{in} {}

    bool u8(std::uint8_t& v)
    {
        if (in_.size() - pos_ < 1) return false;
        v = in_[pos_++];
        return true;
    }
    bool u16(std::uint16_t& v)
    {
        if (in_.size() - pos_ < 2) return false;
        v = static_cast<std::uint16_t>((in_[pos_] << 8) | in_[pos_ + 1]);
        pos_ += 2;
        return true;
    }
    bool u32(std::uint32_t& v)
    {
        std::uint16_t hi = 0;
        std::uint16_t lo = 0;
        if (in_.size() - pos_ < 4 || !u16(hi) || !u16(lo)) return false;
        v = (std::uint32_t{hi} << 16) | lo;
        return true;
    }
    bool u64(std::uint64_t& v)
    {
        std::uint32_t hi = 0;
        std::uint32_t lo = 0;
        if (in_.size() - pos_ < 8 || !u32(hi) || !u32(lo)) return false;
        v = (std::uint64_t{hi} << 32) | lo;
        return true;
    }
    bool i64(std::int64_t& v)
    {
        std::uint64_t raw = 0;
        if (!u64(raw)) return false;
        std::memcpy(&v, &raw, sizeof v);
        return true;
    }
    bool str(std::string& s)
    {
        std::uint16_t len = 0;
        if (!u16(len) || in_.size() - pos_ < len) return false;
        s.assign(reinterpret_cast<const char*>(in_.data() + pos_), len);
        pos_ += len;
        return true;
    }
    template <std::size_t N>
    bool fixed(std::array<std::uint8_t, N>& out)
    {
        if (in_.size() - pos_ < N) return false;
        std::memcpy(out.data(), in_.data() + pos_, N);
        pos_ += N;
        return true;
    }
    [[nodiscard]] bool at_end() const { return pos_ == in_.size(); }
    // Everything not read yet, which counts as read afterwards.
    Bytes rest()
    {
        const Bytes remaining = in_.subspan(pos_);
        pos_ = in_.size();
        return remaining;
    }

private:
    Bytes in_;
    std::size_t pos_ = 0;
};

// UPLOAD_BEGIN's hash byte.
constexpr std::uint8_t NoHash = 0;
constexpr std::uint8_t HashFollows = 1;
constexpr std::uint8_t HashIfPresent = 2;

} // namespace

const char* to_string(FrameType type) noexcept
{
    switch (type) {
    case FrameType::Hello: return "HELLO";
    case FrameType::HelloOk: return "HELLO_OK";
    case FrameType::Error: return "ERROR";
    case FrameType::UploadBegin: return "UPLOAD_BEGIN";
    case FrameType::UploadReady: return "UPLOAD_READY";
    case FrameType::AlreadyHave: return "ALREADY_HAVE";
    case FrameType::Data: return "DATA";
    case FrameType::Commit: return "COMMIT";
    case FrameType::Committed: return "COMMITTED";
    case FrameType::Abort: return "ABORT";
    case FrameType::Progress: return "PROGRESS";
    case FrameType::Remove: return "REMOVE";
    case FrameType::Removed: return "REMOVED";
    case FrameType::MakeDir: return "MAKE_DIR";
    case FrameType::MakeSymlink: return "MAKE_SYMLINK";
    case FrameType::Rename: return "RENAME";
    case FrameType::Done: return "DONE";
    case FrameType::Suspend: return "SUSPEND";
    case FrameType::KeepAlive: return "KEEPALIVE";
    case FrameType::HashWanted: return "HASH_WANTED";
    case FrameType::PutFile: return "PUT_FILE";
    }
    return "UNKNOWN";
}

HeaderResult decode_frame_header(Bytes input)
{
    HeaderResult result;
    if (input.size() < FrameHeaderSize) {
        return result;
    }
    Reader reader{input.first(FrameHeaderSize)};
    std::uint16_t type = 0;
    std::uint16_t flags = 0;
    reader.u32(result.header.body_size);
    reader.u16(type);
    reader.u16(flags);
    result.header.type = static_cast<FrameType>(type);
    if (result.header.body_size > MaxFrameBody) {
        result.status = HeaderStatus::TooLarge;
    } else if (flags != 0) {
        result.status = HeaderStatus::BadFlags;
    } else {
        result.status = HeaderStatus::Ok;
    }
    return result;
}

std::vector<std::uint8_t> encode(const Hello& msg)
{
    Writer w{FrameType::Hello};
    w.u32(HelloMagic);
    w.u16(msg.min_version);
    w.u16(msg.max_version);
    w.str(msg.agent);
    return w.finish();
}

std::vector<std::uint8_t> encode(const HelloOk& msg)
{
    Writer w{FrameType::HelloOk};
    w.u16(msg.version);
    w.u32(msg.max_frame_body);
    w.str(msg.server);
    w.str(msg.client_name);
    w.u32(msg.idle_timeout_seconds);
    return w.finish();
}

std::vector<std::uint8_t> encode(const ErrorMsg& msg)
{
    Writer w{FrameType::Error};
    w.u32(msg.request_id);
    w.u16(static_cast<std::uint16_t>(msg.code));
    w.str(msg.message);
    return w.finish();
}

std::vector<std::uint8_t> encode(const UploadBegin& msg)
{
    Writer w{FrameType::UploadBegin};
    w.u32(msg.request_id);
    w.str(msg.folder);
    w.str(msg.path);
    w.u64(msg.size);
    w.u64(static_cast<std::uint64_t>(msg.mtime_ns));
    w.u32(msg.mode);
    w.u8(msg.sha256 ? HashFollows : msg.hash_if_present ? HashIfPresent : NoHash);
    if (msg.sha256) {
        w.bytes(*msg.sha256);
    }
    w.u64(msg.resume_offset);
    if (msg.resume_offset > 0) {
        w.bytes(msg.prefix_sha256);
    }
    return w.finish();
}

std::vector<std::uint8_t> encode(const UploadReady& msg)
{
    Writer w{FrameType::UploadReady};
    w.u32(msg.request_id);
    w.u64(msg.offset);
    return w.finish();
}

std::vector<std::uint8_t> encode(const PutFile& msg)
{
    Writer w{FrameType::PutFile};
    w.u32(msg.request_id);
    w.str(msg.folder);
    w.str(msg.path);
    w.u64(static_cast<std::uint64_t>(msg.mtime_ns));
    w.u32(msg.mode);
    w.bytes(msg.sha256);
    w.bytes(msg.content);
    return w.finish();
}

std::vector<std::uint8_t> encode(const Commit& msg)
{
    Writer w{FrameType::Commit};
    w.u32(msg.request_id);
    w.bytes(msg.sha256);
    return w.finish();
}

std::vector<std::uint8_t> encode(const ProgressMsg& msg)
{
    Writer w{FrameType::Progress};
    w.u32(msg.request_id);
    w.u64(msg.durable_offset);
    return w.finish();
}

std::vector<std::uint8_t> encode(const RemoveMsg& msg)
{
    Writer w{FrameType::Remove};
    w.u32(msg.request_id);
    w.str(msg.folder);
    w.str(msg.path);
    w.u8(static_cast<std::uint8_t>(msg.kind));
    return w.finish();
}

std::vector<std::uint8_t> encode(const MakeDirMsg& msg)
{
    Writer w{FrameType::MakeDir};
    w.u32(msg.request_id);
    w.str(msg.folder);
    w.str(msg.path);
    w.u32(msg.mode);
    w.u64(static_cast<std::uint64_t>(msg.mtime_ns));
    return w.finish();
}

std::vector<std::uint8_t> encode(const MakeSymlinkMsg& msg)
{
    Writer w{FrameType::MakeSymlink};
    w.u32(msg.request_id);
    w.str(msg.folder);
    w.str(msg.path);
    w.str(msg.target);
    w.u64(static_cast<std::uint64_t>(msg.mtime_ns));
    return w.finish();
}

std::vector<std::uint8_t> encode(const RenameMsg& msg)
{
    Writer w{FrameType::Rename};
    w.u32(msg.request_id);
    w.str(msg.folder);
    w.str(msg.from);
    w.str(msg.to);
    return w.finish();
}

std::vector<std::uint8_t> encode_request_only(FrameType type, std::uint32_t request_id)
{
    Writer w{type};
    w.u32(request_id);
    return w.finish();
}

std::vector<std::uint8_t> encode_keepalive()
{
    return Writer{FrameType::KeepAlive}.finish();
}

DataFrameHead encode_data_head(const DataPrefix& prefix, std::size_t payload_size)
{
    DataFrameHead head{};
    Writer::put_header(head.data(), static_cast<std::uint32_t>(DataPrefixSize + payload_size), FrameType::Data);
    std::uint8_t* p = head.data() + FrameHeaderSize;
    for (int i = 0; i < 4; ++i) {
        p[i] = static_cast<std::uint8_t>(prefix.request_id >> (24 - 8 * i));
    }
    for (int i = 0; i < 8; ++i) {
        p[4 + i] = static_cast<std::uint8_t>(prefix.offset >> (56 - 8 * i));
    }
    return head;
}

std::optional<Hello> decode_hello(Bytes body)
{
    Reader r{body};
    std::uint32_t magic = 0;
    Hello msg;
    if (!r.u32(magic) || magic != HelloMagic || !r.u16(msg.min_version) || !r.u16(msg.max_version) ||
        !r.str(msg.agent) || !r.at_end() || msg.min_version > msg.max_version) {
        return std::nullopt;
    }
    return msg;
}

std::optional<HelloOk> decode_hello_ok(Bytes body)
{
    Reader r{body};
    HelloOk msg;
    if (!r.u16(msg.version) || !r.u32(msg.max_frame_body) || !r.str(msg.server) || !r.str(msg.client_name) ||
        !r.u32(msg.idle_timeout_seconds) || !r.at_end()) {
        return std::nullopt;
    }
    return msg;
}

std::optional<ErrorMsg> decode_error(Bytes body)
{
    Reader r{body};
    ErrorMsg msg;
    std::uint16_t code = 0;
    if (!r.u32(msg.request_id) || !r.u16(code) || !r.str(msg.message) || !r.at_end()) {
        return std::nullopt;
    }
    msg.code = static_cast<ErrorCode>(code);
    return msg;
}

std::optional<UploadBegin> decode_upload_begin(Bytes body)
{
    Reader r{body};
    UploadBegin msg;
    std::uint8_t has_hash = 0;
    if (!r.u32(msg.request_id) || !r.str(msg.folder) || !r.str(msg.path) || !r.u64(msg.size) ||
        !r.i64(msg.mtime_ns) || !r.u32(msg.mode) || !r.u8(has_hash) || has_hash > HashIfPresent) {
        return std::nullopt;
    }
    msg.hash_if_present = has_hash == HashIfPresent;
    if (has_hash == HashFollows) {
        Sha256Digest digest{};
        if (!r.fixed(digest)) {
            return std::nullopt;
        }
        msg.sha256 = digest;
    }
    if (!r.u64(msg.resume_offset) || msg.resume_offset > msg.size ||
        (msg.resume_offset > 0 && !r.fixed(msg.prefix_sha256))) {
        return std::nullopt;
    }
    if (!r.at_end() || msg.request_id == 0) {
        return std::nullopt;
    }
    return msg;
}

std::optional<UploadReady> decode_upload_ready(Bytes body)
{
    Reader r{body};
    UploadReady msg;
    if (!r.u32(msg.request_id) || !r.u64(msg.offset) || !r.at_end()) {
        return std::nullopt;
    }
    return msg;
}

std::optional<PutFile> decode_put_file(Bytes body)
{
    Reader r{body};
    PutFile msg;
    if (!r.u32(msg.request_id) || !r.str(msg.folder) || !r.str(msg.path) || !r.i64(msg.mtime_ns) ||
        !r.u32(msg.mode) || !r.fixed(msg.sha256) || msg.request_id == 0) {
        return std::nullopt;
    }
    msg.content = r.rest();
    return msg;
}

std::optional<Commit> decode_commit(Bytes body)
{
    Reader r{body};
    Commit msg;
    if (!r.u32(msg.request_id) || !r.fixed(msg.sha256) || !r.at_end()) {
        return std::nullopt;
    }
    return msg;
}

std::optional<ProgressMsg> decode_progress(Bytes body)
{
    Reader r{body};
    ProgressMsg msg;
    if (!r.u32(msg.request_id) || !r.u64(msg.durable_offset) || !r.at_end()) {
        return std::nullopt;
    }
    return msg;
}

std::optional<RemoveMsg> decode_remove(Bytes body)
{
    Reader r{body};
    RemoveMsg msg;
    std::uint8_t kind = 0;
    if (!r.u32(msg.request_id) || !r.str(msg.folder) || !r.str(msg.path) || !r.u8(kind) || kind > 1 ||
        !r.at_end() || msg.request_id == 0) {
        return std::nullopt;
    }
    msg.kind = static_cast<RemoveKind>(kind);
    return msg;
}

std::optional<MakeDirMsg> decode_make_dir(Bytes body)
{
    Reader r{body};
    MakeDirMsg msg;
    if (!r.u32(msg.request_id) || !r.str(msg.folder) || !r.str(msg.path) || !r.u32(msg.mode) ||
        !r.i64(msg.mtime_ns) || !r.at_end() || msg.request_id == 0) {
        return std::nullopt;
    }
    return msg;
}

std::optional<MakeSymlinkMsg> decode_make_symlink(Bytes body)
{
    Reader r{body};
    MakeSymlinkMsg msg;
    if (!r.u32(msg.request_id) || !r.str(msg.folder) || !r.str(msg.path) || !r.str(msg.target) ||
        !r.i64(msg.mtime_ns) || !r.at_end() || msg.request_id == 0) {
        return std::nullopt;
    }
    return msg;
}

std::optional<RenameMsg> decode_rename(Bytes body)
{
    Reader r{body};
    RenameMsg msg;
    if (!r.u32(msg.request_id) || !r.str(msg.folder) || !r.str(msg.from) || !r.str(msg.to) || !r.at_end() ||
        msg.request_id == 0) {
        return std::nullopt;
    }
    return msg;
}

std::optional<RequestOnly> decode_request_only(Bytes body)
{
    Reader r{body};
    RequestOnly msg;
    if (!r.u32(msg.request_id) || !r.at_end()) {
        return std::nullopt;
    }
    return msg;
}

std::optional<DataPrefix> decode_data_prefix(Bytes body)
{
    Reader r{body};
    DataPrefix msg;
    if (!r.u32(msg.request_id) || !r.u64(msg.offset)) {
        return std::nullopt;
    }
    return msg;
}

} // namespace minisync::protocol
