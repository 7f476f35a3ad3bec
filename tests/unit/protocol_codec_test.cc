// Tests for the protocol frame encoders and decoders: round trips, header decoding, strict rejection of
// truncated or over-long bodies, field validation, and the big-endian wire layout.
#include "protocol_codec.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace minisync::protocol {
namespace {

using ByteVec = std::vector<std::uint8_t>;

Sha256Digest sample_digest(std::uint8_t seed)
{
    Sha256Digest d{};
    for (std::size_t i = 0; i < d.size(); ++i) {
        d[i] = static_cast<std::uint8_t>(seed + i * 7);
    }
    return d;
}

// Decodes the header of a complete encoded frame, checks it against the expected type and the frame's
// actual size, and returns the body.
ByteVec body_of(const ByteVec& frame, FrameType expected_type)
{
    EXPECT_GE(frame.size(), FrameHeaderSize);
    if (frame.size() < FrameHeaderSize) {
        return {};
    }
    const HeaderResult header = decode_frame_header(frame);
    EXPECT_EQ(header.status, HeaderStatus::Ok);
    EXPECT_EQ(header.header.type, expected_type);
    EXPECT_EQ(header.header.body_size, frame.size() - FrameHeaderSize);
    return ByteVec(frame.begin() + FrameHeaderSize, frame.end());
}

// A decoder reduced to "did it accept these bytes".
using Accepts = std::function<bool(Bytes)>;

template <typename Decoder>
Accepts accepts(Decoder decoder)
{
    return [decoder](Bytes b) { return decoder(b).has_value(); };
}

// Every strict prefix of a valid body must be refused, and so must the body with any byte appended.
void expect_strict_framing(const char* what, const ByteVec& body, const Accepts& decoder)
{
    ASSERT_TRUE(decoder(body)) << what << ": the valid body itself was refused";
    for (std::size_t len = 0; len < body.size(); ++len) {
        EXPECT_FALSE(decoder(Bytes{body}.first(len))) << what << ": accepted a truncation to " << len << " bytes";
    }
    for (const std::uint8_t extra : {0x00, 0x01, 0xff}) {
        ByteVec longer = body;
        longer.push_back(extra);
        EXPECT_FALSE(decoder(longer)) << what << ": accepted trailing byte " << int{extra};
    }
    ByteVec much_longer = body;
    much_longer.resize(body.size() + 64, 0xaa);
    EXPECT_FALSE(decoder(much_longer)) << what << ": accepted 64 trailing bytes";
}

Hello sample_hello()
{
    Hello msg;
    msg.min_version = 1;
    msg.max_version = 3;
    msg.agent = "minisyncd/0.1.0 (test)";
    return msg;
}

HelloOk sample_hello_ok()
{
    HelloOk msg;
    msg.version = 2;
    msg.max_frame_body = 65536;
    msg.server = "minisync-server/0.1.0";
    msg.client_name = "laptop.example.com";
    msg.idle_timeout_seconds = 120;
    return msg;
}

ErrorMsg sample_error()
{
    ErrorMsg msg;
    msg.request_id = 0xdeadbeef;
    msg.code = ErrorCode::HashMismatch;
    msg.message = "sha256 of received data differs";
    return msg;
}

UploadBegin sample_upload_begin(bool with_hash)
{
    UploadBegin msg;
    msg.request_id = 0x01020304;
    msg.folder = "photos";
    msg.path = "2024/trip/\xff\xfeimg 001.jpg";
    msg.size = 0x0123456789abcdefULL;
    msg.mtime_ns = -1'234'567'890'123LL; // before the epoch: the sign must survive
    msg.mode = 0100644;
    if (with_hash) {
        msg.sha256 = sample_digest(0x10);
    }
    return msg;
}

void expect_equal(const UploadBegin& a, const UploadBegin& b)
{
    EXPECT_EQ(a.request_id, b.request_id);
    EXPECT_EQ(a.folder, b.folder);
    EXPECT_EQ(a.path, b.path);
    EXPECT_EQ(a.size, b.size);
    EXPECT_EQ(a.mtime_ns, b.mtime_ns);
    EXPECT_EQ(a.mode, b.mode);
    EXPECT_EQ(a.sha256, b.sha256);
    EXPECT_EQ(a.resume_offset, b.resume_offset);
    if (a.resume_offset > 0) { // the prefix digest is only on the wire when resuming
        EXPECT_EQ(a.prefix_sha256, b.prefix_sha256);
    }
}

UploadBegin sample_resume(bool with_hash, std::uint64_t resume_offset)
{
    UploadBegin msg = sample_upload_begin(with_hash);
    msg.size = 1'000'000;
    msg.resume_offset = resume_offset;
    msg.prefix_sha256 = sample_digest(0x77);
    return msg;
}

RemoveMsg sample_remove()
{
    RemoveMsg msg;
    msg.request_id = 0x0badf00d;
    msg.folder = "photos";
    msg.path = "2024/\xff\xfe old\nname.jpg";
    return msg;
}

// ---- header ---------------------------------------------------------------------------------------------

TEST(ProtocolCodecTest, HeaderLayoutIsBigEndian)
{
    const ByteVec frame = encode_request_only(FrameType::Abort, 0x0a0b0c0d);
    const ByteVec expected = {
        0x00, 0x00, 0x00, 0x04, // body size 4
        0x00, 0x10,             // type 16 = ABORT
        0x00, 0x00,             // flags
        0x0a, 0x0b, 0x0c, 0x0d, // request id
    };
    EXPECT_EQ(frame, expected);

    const ByteVec raw = {0x00, 0x01, 0x02, 0x03, 0x00, 0x0d, 0x00, 0x00};
    const HeaderResult header = decode_frame_header(raw);
    EXPECT_EQ(header.status, HeaderStatus::Ok);
    EXPECT_EQ(header.header.body_size, 0x00010203U);
    EXPECT_EQ(header.header.type, FrameType::Data);
}

TEST(ProtocolCodecTest, MessageFieldsAreBigEndian)
{
    UploadReady ready;
    ready.request_id = 0x11223344;
    ready.offset = 0x0102030405060708ULL;
    const ByteVec frame = encode(ready);
    const ByteVec expected = {
        0x00, 0x00, 0x00, 0x0c, 0x00, 0x0b, 0x00, 0x00, // header: 12 bytes, type 11
        0x11, 0x22, 0x33, 0x44,                         // request id
        0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, // offset
    };
    EXPECT_EQ(frame, expected);

    Hello hello;
    hello.min_version = 1;
    hello.max_version = 0x0203;
    hello.agent = "ab";
    const ByteVec hello_frame = encode(hello);
    const ByteVec hello_expected = {
        0x00, 0x00, 0x00, 0x0c, 0x00, 0x01, 0x00, 0x00, // header: 12 bytes, type 1
        'M',  'S',  'Y',  'N',                          // magic 0x4d53594e
        0x00, 0x01, 0x02, 0x03,                         // min, max version
        0x00, 0x02, 'a',  'b',                          // u16 length-prefixed string
    };
    EXPECT_EQ(hello_frame, hello_expected);
}

TEST(ProtocolCodecTest, HeaderNeedsEightBytes)
{
    const ByteVec frame = encode_request_only(FrameType::Committed, 7);
    for (std::size_t len = 0; len < FrameHeaderSize; ++len) {
        EXPECT_EQ(decode_frame_header(Bytes{frame}.first(len)).status, HeaderStatus::NeedMore) << len << " bytes";
    }
    const HeaderResult exact = decode_frame_header(Bytes{frame}.first(FrameHeaderSize));
    EXPECT_EQ(exact.status, HeaderStatus::Ok);
    EXPECT_EQ(exact.header.body_size, 4U);
    EXPECT_EQ(exact.header.type, FrameType::Committed);
    // Bytes beyond the header (the body) do not disturb header decoding.
    const HeaderResult whole = decode_frame_header(frame);
    EXPECT_EQ(whole.status, HeaderStatus::Ok);
    EXPECT_EQ(whole.header.body_size, 4U);
}

ByteVec raw_header(std::uint32_t body, std::uint16_t type, std::uint16_t flags)
{
    return {static_cast<std::uint8_t>(body >> 24), static_cast<std::uint8_t>(body >> 16),
            static_cast<std::uint8_t>(body >> 8),  static_cast<std::uint8_t>(body),
            static_cast<std::uint8_t>(type >> 8),  static_cast<std::uint8_t>(type),
            static_cast<std::uint8_t>(flags >> 8), static_cast<std::uint8_t>(flags)};
}

TEST(ProtocolCodecTest, HeaderBodySizeLimit)
{
    const HeaderResult at_limit = decode_frame_header(raw_header(MaxFrameBody, 13, 0));
    EXPECT_EQ(at_limit.status, HeaderStatus::Ok);
    EXPECT_EQ(at_limit.header.body_size, MaxFrameBody);

    EXPECT_EQ(decode_frame_header(raw_header(MaxFrameBody + 1, 13, 0)).status, HeaderStatus::TooLarge);
    EXPECT_EQ(decode_frame_header(raw_header(0xffffffffU, 1, 0)).status, HeaderStatus::TooLarge);
    EXPECT_EQ(decode_frame_header(raw_header(0, 2, 0)).status, HeaderStatus::Ok);
}

TEST(ProtocolCodecTest, HeaderNonZeroFlagsAreRefused)
{
    for (const std::uint16_t flags : {0x0001, 0x0100, 0x8000, 0xffff}) {
        EXPECT_EQ(decode_frame_header(raw_header(4, 16, flags)).status, HeaderStatus::BadFlags) << flags;
    }
}

TEST(ProtocolCodecTest, UnknownFrameTypePassesHeaderDecoding)
{
    for (const std::uint16_t type : {0x0000, 0x0004, 0x0011, 0x7777, 0xffff}) {
        const HeaderResult result = decode_frame_header(raw_header(3, type, 0));
        EXPECT_EQ(result.status, HeaderStatus::Ok) << type;
        EXPECT_EQ(static_cast<std::uint16_t>(result.header.type), type);
        EXPECT_EQ(result.header.body_size, 3U);
    }
}

// ---- round trips ----------------------------------------------------------------------------------------

TEST(ProtocolCodecTest, HelloRoundTrip)
{
    const Hello in = sample_hello();
    const std::optional<Hello> out = decode_hello(body_of(encode(in), FrameType::Hello));
    ASSERT_TRUE(out.has_value());
    EXPECT_EQ(out->min_version, in.min_version);
    EXPECT_EQ(out->max_version, in.max_version);
    EXPECT_EQ(out->agent, in.agent);

    Hello defaults; // the current version range, empty agent string
    const std::optional<Hello> out_defaults = decode_hello(body_of(encode(defaults), FrameType::Hello));
    ASSERT_TRUE(out_defaults.has_value());
    EXPECT_EQ(out_defaults->min_version, MinProtocolVersion);
    EXPECT_EQ(out_defaults->max_version, ProtocolVersion);
    EXPECT_EQ(out_defaults->agent, "");
}

TEST(ProtocolCodecTest, HelloOkRoundTrip)
{
    const HelloOk in = sample_hello_ok();
    const std::optional<HelloOk> out = decode_hello_ok(body_of(encode(in), FrameType::HelloOk));
    ASSERT_TRUE(out.has_value());
    EXPECT_EQ(out->version, in.version);
    EXPECT_EQ(out->max_frame_body, in.max_frame_body);
    EXPECT_EQ(out->server, in.server);
    EXPECT_EQ(out->client_name, in.client_name);
    EXPECT_EQ(out->idle_timeout_seconds, in.idle_timeout_seconds);
}

TEST(ProtocolCodecTest, KeepAliveIsAHeaderWithAnEmptyBody)
{
    const std::vector<std::uint8_t> frame = encode_keepalive();
    ASSERT_EQ(frame.size(), FrameHeaderSize);
    const HeaderResult header = decode_frame_header(frame);
    ASSERT_EQ(header.status, HeaderStatus::Ok);
    EXPECT_EQ(header.header.type, FrameType::KeepAlive);
    EXPECT_EQ(header.header.body_size, 0U);
}

TEST(ProtocolCodecTest, ErrorRoundTrip)
{
    const ErrorMsg in = sample_error();
    const std::optional<ErrorMsg> out = decode_error(body_of(encode(in), FrameType::Error));
    ASSERT_TRUE(out.has_value());
    EXPECT_EQ(out->request_id, in.request_id);
    EXPECT_EQ(out->code, in.code);
    EXPECT_EQ(out->message, in.message);
}

TEST(ProtocolCodecTest, ErrorRoundTripEveryCode)
{
    for (std::uint16_t code = static_cast<std::uint16_t>(ErrorCode::BadFrame);
         code <= static_cast<std::uint16_t>(ErrorCode::NotFound); ++code) {
        ErrorMsg in;
        in.request_id = 0; // connection-wide
        in.code = static_cast<ErrorCode>(code);
        in.message = to_string(in.code);
        const std::optional<ErrorMsg> out = decode_error(body_of(encode(in), FrameType::Error));
        ASSERT_TRUE(out.has_value()) << code;
        EXPECT_EQ(out->request_id, 0U);
        EXPECT_EQ(out->code, in.code);
        EXPECT_EQ(out->message, in.message);
    }
}

TEST(ProtocolCodecTest, UploadBeginRoundTripWithHash)
{
    const UploadBegin in = sample_upload_begin(true);
    const ByteVec frame = encode(in);
    const std::optional<UploadBegin> out = decode_upload_begin(body_of(frame, FrameType::UploadBegin));
    ASSERT_TRUE(out.has_value());
    ASSERT_TRUE(out->sha256.has_value());
    expect_equal(*out, in);
}

TEST(ProtocolCodecTest, UploadBeginRoundTripWithoutHash)
{
    const UploadBegin in = sample_upload_begin(false);
    const ByteVec frame = encode(in);
    const std::optional<UploadBegin> out = decode_upload_begin(body_of(frame, FrameType::UploadBegin));
    ASSERT_TRUE(out.has_value());
    EXPECT_FALSE(out->sha256.has_value());
    expect_equal(*out, in);
    // The hash costs exactly 32 bytes on the wire.
    EXPECT_EQ(encode(sample_upload_begin(true)).size(), frame.size() + 32);
}

TEST(ProtocolCodecTest, UploadBeginExtremeNumbers)
{
    UploadBegin in = sample_upload_begin(true);
    in.request_id = 0xffffffffU;
    in.size = 0xffffffffffffffffULL;
    in.mtime_ns = std::numeric_limits<std::int64_t>::min();
    in.mode = 0xffffffffU;
    std::optional<UploadBegin> out = decode_upload_begin(body_of(encode(in), FrameType::UploadBegin));
    ASSERT_TRUE(out.has_value());
    expect_equal(*out, in);

    in.size = 0;
    in.mtime_ns = std::numeric_limits<std::int64_t>::max();
    in.mode = 0;
    out = decode_upload_begin(body_of(encode(in), FrameType::UploadBegin));
    ASSERT_TRUE(out.has_value());
    expect_equal(*out, in);
}

TEST(ProtocolCodecTest, UploadReadyRoundTrip)
{
    UploadReady in;
    in.request_id = 77;
    in.offset = (1ULL << 40) + 5;
    const std::optional<UploadReady> out = decode_upload_ready(body_of(encode(in), FrameType::UploadReady));
    ASSERT_TRUE(out.has_value());
    EXPECT_EQ(out->request_id, in.request_id);
    EXPECT_EQ(out->offset, in.offset);
}

TEST(ProtocolCodecTest, CommitRoundTrip)
{
    Commit in;
    in.request_id = 123456;
    in.sha256 = sample_digest(0xf0);
    const std::optional<Commit> out = decode_commit(body_of(encode(in), FrameType::Commit));
    ASSERT_TRUE(out.has_value());
    EXPECT_EQ(out->request_id, in.request_id);
    EXPECT_EQ(out->sha256, in.sha256);
}

TEST(ProtocolCodecTest, RequestOnlyRoundTrip)
{
    for (const FrameType type : {FrameType::AlreadyHave, FrameType::Committed, FrameType::Abort}) {
        for (const std::uint32_t id : {1U, 0x80000001U, 0xffffffffU}) {
            const ByteVec frame = encode_request_only(type, id);
            EXPECT_EQ(frame.size(), FrameHeaderSize + 4);
            const std::optional<RequestOnly> out = decode_request_only(body_of(frame, type));
            ASSERT_TRUE(out.has_value()) << to_string(type);
            EXPECT_EQ(out->request_id, id) << to_string(type);
        }
    }
}

TEST(ProtocolCodecTest, DataHeadAndPrefixRoundTrip)
{
    DataPrefix prefix;
    prefix.request_id = 0x0a0b0c0d;
    prefix.offset = 0x0102030405060708ULL;
    const ByteVec payload = {'p', 'a', 'y', 'l', 'o', 'a', 'd'};
    const DataFrameHead head = encode_data_head(prefix, payload.size());

    const DataFrameHead expected = {
        0x00, 0x00, 0x00, 0x13, // body size 12 + 7
        0x00, 0x0d, 0x00, 0x00, // DATA, no flags
        0x0a, 0x0b, 0x0c, 0x0d, // request id
        0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, // offset
    };
    EXPECT_EQ(head, expected);

    ByteVec frame(head.begin(), head.end());
    frame.insert(frame.end(), payload.begin(), payload.end());
    const ByteVec body = body_of(frame, FrameType::Data);
    const std::optional<DataPrefix> out = decode_data_prefix(body);
    ASSERT_TRUE(out.has_value());
    EXPECT_EQ(out->request_id, prefix.request_id);
    EXPECT_EQ(out->offset, prefix.offset);
    EXPECT_EQ(ByteVec(body.begin() + DataPrefixSize, body.end()), payload);
}

TEST(ProtocolCodecTest, DataHeadAtMaximumPayloadFitsTheFrameLimit)
{
    const DataFrameHead head = encode_data_head(DataPrefix{1, 0}, MaxDataPayload);
    const HeaderResult header = decode_frame_header(head);
    EXPECT_EQ(header.status, HeaderStatus::Ok);
    EXPECT_EQ(header.header.body_size, MaxFrameBody);
    EXPECT_EQ(header.header.type, FrameType::Data);

    const DataFrameHead empty = encode_data_head(DataPrefix{1, 0}, 0);
    EXPECT_EQ(decode_frame_header(empty).header.body_size, DataPrefixSize);
}

// ---- strict framing -------------------------------------------------------------------------------------

TEST(ProtocolCodecTest, HelloRejectsTruncationAndTrailingBytes)
{
    expect_strict_framing("hello", body_of(encode(sample_hello()), FrameType::Hello), accepts(decode_hello));
    expect_strict_framing("hello with empty agent", body_of(encode(Hello{}), FrameType::Hello),
                          accepts(decode_hello));
}

TEST(ProtocolCodecTest, HelloOkRejectsTruncationAndTrailingBytes)
{
    expect_strict_framing("hello_ok", body_of(encode(sample_hello_ok()), FrameType::HelloOk),
                          accepts(decode_hello_ok));
}

TEST(ProtocolCodecTest, ErrorRejectsTruncationAndTrailingBytes)
{
    expect_strict_framing("error", body_of(encode(sample_error()), FrameType::Error), accepts(decode_error));
}

TEST(ProtocolCodecTest, UploadBeginRejectsTruncationAndTrailingBytes)
{
    expect_strict_framing("upload_begin with hash",
                          body_of(encode(sample_upload_begin(true)), FrameType::UploadBegin),
                          accepts(decode_upload_begin));
    expect_strict_framing("upload_begin without hash",
                          body_of(encode(sample_upload_begin(false)), FrameType::UploadBegin),
                          accepts(decode_upload_begin));
}

TEST(ProtocolCodecTest, UploadReadyRejectsTruncationAndTrailingBytes)
{
    expect_strict_framing("upload_ready", body_of(encode(UploadReady{5, 1000}), FrameType::UploadReady),
                          accepts(decode_upload_ready));
}

TEST(ProtocolCodecTest, CommitRejectsTruncationAndTrailingBytes)
{
    expect_strict_framing("commit", body_of(encode(Commit{5, sample_digest(3)}), FrameType::Commit),
                          accepts(decode_commit));
}

TEST(ProtocolCodecTest, RequestOnlyRejectsTruncationAndTrailingBytes)
{
    expect_strict_framing("request_only", body_of(encode_request_only(FrameType::Abort, 9), FrameType::Abort),
                          accepts(decode_request_only));
}

// DATA is the exception: whatever follows the 12-byte prefix is payload.
TEST(ProtocolCodecTest, DataPrefixRejectsTruncationButNotPayload)
{
    const DataFrameHead head = encode_data_head(DataPrefix{3, 4096}, 0);
    ByteVec body(head.begin() + FrameHeaderSize, head.end());
    ASSERT_EQ(body.size(), DataPrefixSize);
    for (std::size_t len = 0; len < body.size(); ++len) {
        EXPECT_FALSE(decode_data_prefix(Bytes{body}.first(len)).has_value()) << len << " bytes";
    }
    const std::optional<DataPrefix> bare = decode_data_prefix(body);
    ASSERT_TRUE(bare.has_value());
    EXPECT_EQ(bare->request_id, 3U);
    EXPECT_EQ(bare->offset, 4096U);

    body.resize(body.size() + 1000, 0x5a);
    const std::optional<DataPrefix> with_payload = decode_data_prefix(body);
    ASSERT_TRUE(with_payload.has_value());
    EXPECT_EQ(with_payload->request_id, 3U);
    EXPECT_EQ(with_payload->offset, 4096U);
}

// A string whose length prefix claims more bytes than the body holds must not be read past the end.
TEST(ProtocolCodecTest, StringLengthBeyondBodyIsRefused)
{
    ByteVec body = body_of(encode(sample_hello()), FrameType::Hello);
    // Body: magic(4) min(2) max(2) len(2) agent...
    ASSERT_GT(body.size(), 10U);
    body[8] = 0xff;
    body[9] = 0xff;
    EXPECT_FALSE(decode_hello(body).has_value());
}

// ---- field validation -----------------------------------------------------------------------------------

TEST(ProtocolCodecTest, HelloWithBadMagicIsRefused)
{
    const ByteVec good = body_of(encode(sample_hello()), FrameType::Hello);
    ASSERT_TRUE(decode_hello(good).has_value());
    for (std::size_t i = 0; i < 4; ++i) {
        ByteVec bad = good;
        bad[i] ^= 0x20; // e.g. "MSYN" -> "mSYN"
        EXPECT_FALSE(decode_hello(bad).has_value()) << "magic byte " << i;
    }
    ByteVec swapped = good; // little-endian magic
    std::swap(swapped[0], swapped[3]);
    std::swap(swapped[1], swapped[2]);
    EXPECT_FALSE(decode_hello(swapped).has_value());
}

TEST(ProtocolCodecTest, HelloVersionRange)
{
    Hello inverted = sample_hello();
    inverted.min_version = 3;
    inverted.max_version = 2;
    EXPECT_FALSE(decode_hello(body_of(encode(inverted), FrameType::Hello)).has_value());

    Hello single = sample_hello();
    single.min_version = 2;
    single.max_version = 2;
    const std::optional<Hello> out = decode_hello(body_of(encode(single), FrameType::Hello));
    ASSERT_TRUE(out.has_value());
    EXPECT_EQ(out->min_version, 2);
    EXPECT_EQ(out->max_version, 2);
}

TEST(ProtocolCodecTest, UploadBeginWithRequestIdZeroIsRefused)
{
    for (const bool with_hash : {false, true}) {
        UploadBegin msg = sample_upload_begin(with_hash);
        msg.request_id = 0;
        EXPECT_FALSE(decode_upload_begin(body_of(encode(msg), FrameType::UploadBegin)).has_value()) << with_hash;
    }
}

TEST(ProtocolCodecTest, UploadBeginHashFlagIsNoneDigestOrAskIfPresent)
{
    const UploadBegin msg = sample_upload_begin(false);
    const ByteVec good = body_of(encode(msg), FrameType::UploadBegin);
    // request id, folder, path, size, mtime, mode, then the flag, then the resume offset (version 2).
    const std::size_t flag_pos = 4 + 2 + msg.folder.size() + 2 + msg.path.size() + 8 + 8 + 4;
    ASSERT_EQ(flag_pos + 1 + 8, good.size());
    ASSERT_EQ(good[flag_pos], 0);
    ASSERT_TRUE(decode_upload_begin(good).has_value());

    // 2 (version 6): no digest follows, and the agent asks to be told if a file of this size is there.
    ByteVec ask = good;
    ask[flag_pos] = 2;
    const std::optional<UploadBegin> asked = decode_upload_begin(ask);
    ASSERT_TRUE(asked.has_value());
    EXPECT_TRUE(asked->hash_if_present);
    EXPECT_FALSE(asked->sha256.has_value());
    EXPECT_FALSE(decode_upload_begin(good)->hash_if_present);

    for (const std::uint8_t flag : {3, 0x80, 0xff}) {
        ByteVec bad = good;
        bad[flag_pos] = flag;
        EXPECT_FALSE(decode_upload_begin(bad).has_value()) << "flag " << int{flag};
        // Even with 32 bytes that could pass for a digest behind it.
        bad.insert(bad.begin() + static_cast<std::ptrdiff_t>(flag_pos + 1), 32, 0x11);
        EXPECT_FALSE(decode_upload_begin(bad).has_value()) << "flag " << int{flag} << " with digest";
    }

    // Flag 1 with the digest appended decodes, and the digest is the appended bytes.
    ByteVec with_digest = good;
    with_digest[flag_pos] = 1;
    const Sha256Digest digest = sample_digest(0x42);
    with_digest.insert(with_digest.begin() + static_cast<std::ptrdiff_t>(flag_pos + 1), digest.begin(), digest.end());
    const std::optional<UploadBegin> out = decode_upload_begin(with_digest);
    ASSERT_TRUE(out.has_value());
    EXPECT_EQ(out->sha256, std::optional<Sha256Digest>{digest});
}

TEST(ProtocolCodecTest, UploadBeginAskingForHashRoundTrips)
{
    UploadBegin in = sample_upload_begin(false);
    in.hash_if_present = true;
    const ByteVec body = body_of(encode(in), FrameType::UploadBegin);
    const std::optional<UploadBegin> out = decode_upload_begin(body);
    ASSERT_TRUE(out.has_value());
    EXPECT_TRUE(out->hash_if_present);
    EXPECT_FALSE(out->sha256.has_value());
    EXPECT_EQ(out->path, in.path);
    expect_strict_framing("upload_begin asking for the hash", body, accepts(decode_upload_begin));

    // A digest already given wins: the flag is not sent beside it.
    in.sha256 = sample_digest(0x24);
    const std::optional<UploadBegin> with_digest = decode_upload_begin(body_of(encode(in), FrameType::UploadBegin));
    ASSERT_TRUE(with_digest.has_value());
    EXPECT_FALSE(with_digest->hash_if_present);
    EXPECT_EQ(with_digest->sha256, in.sha256);
}

// ---- version 6: PUT_FILE and HASH_WANTED --------------------------------------------------------------

PutFile sample_put(const ByteVec& content)
{
    PutFile msg;
    msg.request_id = 77;
    msg.folder = "docs";
    msg.path = "a/b/notes.txt";
    msg.mtime_ns = -1'234'567'890'123LL; // before 1970
    msg.mode = 0640;
    msg.sha256 = sample_digest(0x5a);
    msg.content = content;
    return msg;
}

TEST(ProtocolCodecTest, PutFileRoundTripKeepsEveryFieldAndTheContent)
{
    for (const std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{4096}, std::size_t{65536}}) {
        ByteVec content(size);
        for (std::size_t i = 0; i < size; ++i) {
            content[i] = static_cast<std::uint8_t>(i * 7 + 3);
        }
        const PutFile in = sample_put(content);
        const ByteVec frame = encode(in);
        EXPECT_EQ(frame.size(), FrameHeaderSize + 4 + 2 + in.folder.size() + 2 + in.path.size() + 8 + 4 + 32 + size);
        const ByteVec body = body_of(frame, FrameType::PutFile);
        const std::optional<PutFile> out = decode_put_file(body);
        ASSERT_TRUE(out.has_value()) << size;
        EXPECT_EQ(out->request_id, in.request_id);
        EXPECT_EQ(out->folder, in.folder);
        EXPECT_EQ(out->path, in.path);
        EXPECT_EQ(out->mtime_ns, in.mtime_ns);
        EXPECT_EQ(out->mode, in.mode);
        EXPECT_EQ(out->sha256, in.sha256);
        EXPECT_EQ(ByteVec(out->content.begin(), out->content.end()), content);
        // The content is a view into the body, not a copy.
        if (size > 0) {
            EXPECT_EQ(out->content.data() + out->content.size(), body.data() + body.size());
        }
    }
}

TEST(ProtocolCodecTest, PutFileRejectsTruncatedFieldsAndRequestIdZero)
{
    const ByteVec content(10, 0xab);
    const ByteVec body = body_of(encode(sample_put(content)), FrameType::PutFile);
    // Everything up to the end of the digest is required; what follows it is content of any length.
    const std::size_t fixed = body.size() - content.size();
    for (std::size_t len = 0; len < fixed; ++len) {
        EXPECT_FALSE(decode_put_file(Bytes{body}.first(len)).has_value()) << "truncated to " << len;
    }
    EXPECT_TRUE(decode_put_file(Bytes{body}.first(fixed)).has_value());

    PutFile zero = sample_put(content);
    zero.request_id = 0;
    EXPECT_FALSE(decode_put_file(body_of(encode(zero), FrameType::PutFile)).has_value());
}

TEST(ProtocolCodecTest, HashWantedIsARequestOnlyFrame)
{
    const ByteVec frame = encode_request_only(FrameType::HashWanted, 9);
    const std::optional<RequestOnly> out = decode_request_only(body_of(frame, FrameType::HashWanted));
    ASSERT_TRUE(out.has_value());
    EXPECT_EQ(out->request_id, 9U);
    EXPECT_STREQ(to_string(FrameType::HashWanted), "HASH_WANTED");
    EXPECT_STREQ(to_string(FrameType::PutFile), "PUT_FILE");
}

TEST(ProtocolCodecTest, ToStringNamesEveryTypeAndCode)
{
    EXPECT_STREQ(to_string(FrameType::Hello), "HELLO");
    EXPECT_STREQ(to_string(FrameType::Data), "DATA");
    EXPECT_STREQ(to_string(static_cast<FrameType>(0x7777)), "UNKNOWN");
    EXPECT_STREQ(to_string(ErrorCode::HashMismatch), "hash mismatch");
    EXPECT_STREQ(to_string(static_cast<ErrorCode>(0x7777)), "unknown error");
    for (std::uint16_t code = static_cast<std::uint16_t>(ErrorCode::BadFrame);
         code <= static_cast<std::uint16_t>(ErrorCode::NotFound); ++code) {
        EXPECT_STRNE(to_string(static_cast<ErrorCode>(code)), "unknown error") << code;
    }
}

// ---- version 2: resumable uploads, PROGRESS, REMOVE ----------------------------------------------------

TEST(ProtocolCodecTest, ProgressRoundTrip)
{
    for (const ProgressMsg in : {ProgressMsg{1, 0}, ProgressMsg{42, 65536}, ProgressMsg{0xffffffffU, ~0ULL}}) {
        const ByteVec frame = encode(in);
        EXPECT_EQ(frame.size(), FrameHeaderSize + 4 + 8);
        const std::optional<ProgressMsg> out = decode_progress(body_of(frame, FrameType::Progress));
        ASSERT_TRUE(out.has_value());
        EXPECT_EQ(out->request_id, in.request_id);
        EXPECT_EQ(out->durable_offset, in.durable_offset);
    }
}

TEST(ProtocolCodecTest, ProgressLayoutIsBigEndian)
{
    const ByteVec frame = encode(ProgressMsg{0x11223344, 0x0102030405060708ULL});
    const ByteVec expected = {
        0x00, 0x00, 0x00, 0x0c, 0x00, 0x11, 0x00, 0x00, // header: 12 bytes, type 17 = PROGRESS
        0x11, 0x22, 0x33, 0x44,                         // request id
        0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, // durable offset
    };
    EXPECT_EQ(frame, expected);
}

TEST(ProtocolCodecTest, ProgressRejectsTruncationAndTrailingBytes)
{
    expect_strict_framing("progress", body_of(encode(ProgressMsg{7, 4096}), FrameType::Progress),
                          accepts(decode_progress));
}

TEST(ProtocolCodecTest, RemoveRoundTrip)
{
    const RemoveMsg in = sample_remove();
    const ByteVec frame = encode(in);
    EXPECT_EQ(frame.size(), FrameHeaderSize + 4 + 2 + in.folder.size() + 2 + in.path.size() + 1);
    const std::optional<RemoveMsg> out = decode_remove(body_of(frame, FrameType::Remove));
    ASSERT_TRUE(out.has_value());
    EXPECT_EQ(out->request_id, in.request_id);
    EXPECT_EQ(out->folder, in.folder);
    EXPECT_EQ(out->path, in.path);
}

TEST(ProtocolCodecTest, RemoveKindRoundTripsAndUnknownKindsAreRefused)
{
    for (const RemoveKind kind : {RemoveKind::File, RemoveKind::Tree}) {
        const auto out = decode_remove(body_of(encode(RemoveMsg{7, "f", "d", kind}), FrameType::Remove));
        ASSERT_TRUE(out.has_value());
        EXPECT_EQ(out->kind, kind);
    }
    ByteVec body = body_of(encode(RemoveMsg{7, "f", "d", RemoveKind::Tree}), FrameType::Remove);
    body.back() = 2;
    EXPECT_FALSE(decode_remove(body).has_value());
}

TEST(ProtocolCodecTest, RemoveLayoutIsBigEndian)
{
    const ByteVec frame = encode(RemoveMsg{0x01020304, "f", "ab", RemoveKind::Tree});
    const ByteVec expected = {
        0x00, 0x00, 0x00, 0x0c, 0x00, 0x12, 0x00, 0x00, // header: 12 bytes, type 18 = REMOVE
        0x01, 0x02, 0x03, 0x04,                         // request id
        0x00, 0x01, 'f',                                // folder
        0x00, 0x02, 'a', 'b',                           // path
        0x01,                                           // kind: a whole tree
    };
    EXPECT_EQ(frame, expected);
}

// The codec frames strings; whether a path is acceptable is decided later, by path_rules.
TEST(ProtocolCodecTest, RemoveCarriesEmptyStrings)
{
    const std::optional<RemoveMsg> out = decode_remove(body_of(encode(RemoveMsg{9, "", ""}), FrameType::Remove));
    ASSERT_TRUE(out.has_value());
    EXPECT_EQ(out->request_id, 9U);
    EXPECT_EQ(out->folder, "");
    EXPECT_EQ(out->path, "");
}

TEST(ProtocolCodecTest, RemoveRejectsTruncationAndTrailingBytes)
{
    expect_strict_framing("remove", body_of(encode(sample_remove()), FrameType::Remove), accepts(decode_remove));
    expect_strict_framing("remove with empty strings", body_of(encode(RemoveMsg{1, "", ""}), FrameType::Remove),
                          accepts(decode_remove));
}

TEST(ProtocolCodecTest, RemoveWithRequestIdZeroIsRefused)
{
    RemoveMsg msg = sample_remove();
    msg.request_id = 0;
    EXPECT_FALSE(decode_remove(body_of(encode(msg), FrameType::Remove)).has_value());
    msg.request_id = 1;
    EXPECT_TRUE(decode_remove(body_of(encode(msg), FrameType::Remove)).has_value());
}

TEST(ProtocolCodecTest, RemovedIsARequestOnlyFrame)
{
    const ByteVec frame = encode_request_only(FrameType::Removed, 0x00c0ffee);
    const ByteVec expected = {0x00, 0x00, 0x00, 0x04, 0x00, 0x13, 0x00, 0x00, 0x00, 0xc0, 0xff, 0xee};
    EXPECT_EQ(frame, expected);
    const std::optional<RequestOnly> out = decode_request_only(body_of(frame, FrameType::Removed));
    ASSERT_TRUE(out.has_value());
    EXPECT_EQ(out->request_id, 0x00c0ffeeU);
}

TEST(ProtocolCodecTest, UploadBeginWithResumeCarriesThePrefixDigest)
{
    for (const bool with_hash : {false, true}) {
        SCOPED_TRACE(with_hash ? "with hash" : "without hash");
        const UploadBegin in = sample_resume(with_hash, 65536);
        const ByteVec frame = encode(in);
        const std::optional<UploadBegin> out = decode_upload_begin(body_of(frame, FrameType::UploadBegin));
        ASSERT_TRUE(out.has_value());
        expect_equal(*out, in);
        EXPECT_EQ(out->resume_offset, 65536U);
        EXPECT_EQ(out->prefix_sha256, sample_digest(0x77));

        // The prefix digest costs exactly 32 bytes, and only when resuming.
        const ByteVec fresh = encode(sample_resume(with_hash, 0));
        EXPECT_EQ(frame.size(), fresh.size() + 32);

        // The body ends with the resume offset and then the prefix digest.
        const Sha256Digest prefix = sample_digest(0x77);
        ASSERT_GE(frame.size(), 40U);
        EXPECT_TRUE(std::equal(prefix.begin(), prefix.end(), frame.end() - 32));
        const ByteVec offset_bytes(frame.end() - 40, frame.end() - 32);
        EXPECT_EQ(offset_bytes, (ByteVec{0, 0, 0, 0, 0, 0x01, 0x00, 0x00}));
    }
}

TEST(ProtocolCodecTest, UploadBeginWithoutResumeLeavesThePrefixOffTheWire)
{
    UploadBegin in = sample_resume(true, 0);
    in.prefix_sha256 = sample_digest(0x55); // set, but meaningless without an offset
    const ByteVec frame = encode(in);
    const std::optional<UploadBegin> out = decode_upload_begin(body_of(frame, FrameType::UploadBegin));
    ASSERT_TRUE(out.has_value());
    EXPECT_EQ(out->resume_offset, 0U);
    EXPECT_EQ(out->prefix_sha256, Sha256Digest{});
    // The body ends with the eight zero bytes of the resume offset.
    EXPECT_EQ(ByteVec(frame.end() - 8, frame.end()), ByteVec(8, 0));
}

TEST(ProtocolCodecTest, UploadBeginResumeOffsetUpToTheSizeIsAccepted)
{
    for (const std::uint64_t offset : {std::uint64_t{1}, std::uint64_t{999'999}, std::uint64_t{1'000'000}}) {
        const UploadBegin in = sample_resume(true, offset);
        const std::optional<UploadBegin> out = decode_upload_begin(body_of(encode(in), FrameType::UploadBegin));
        ASSERT_TRUE(out.has_value()) << offset;
        EXPECT_EQ(out->resume_offset, offset);
    }
}

TEST(ProtocolCodecTest, UploadBeginResumeOffsetBeyondTheSizeIsRefused)
{
    for (const bool with_hash : {false, true}) {
        EXPECT_FALSE(decode_upload_begin(body_of(encode(sample_resume(with_hash, 1'000'001)), FrameType::UploadBegin))
                         .has_value())
            << with_hash;
        EXPECT_FALSE(decode_upload_begin(body_of(encode(sample_resume(with_hash, ~0ULL)), FrameType::UploadBegin))
                         .has_value())
            << with_hash;
        UploadBegin empty = sample_resume(with_hash, 1);
        empty.size = 0;
        EXPECT_FALSE(decode_upload_begin(body_of(encode(empty), FrameType::UploadBegin)).has_value()) << with_hash;
    }
}

TEST(ProtocolCodecTest, UploadBeginWithResumeRejectsTruncationAndTrailingBytes)
{
    expect_strict_framing("upload_begin resuming with hash",
                          body_of(encode(sample_resume(true, 4096)), FrameType::UploadBegin),
                          accepts(decode_upload_begin));
    expect_strict_framing("upload_begin resuming without hash",
                          body_of(encode(sample_resume(false, 4096)), FrameType::UploadBegin),
                          accepts(decode_upload_begin));
}

// A resume offset of zero followed by 32 bytes is a frame with trailing garbage, not a digest.
TEST(ProtocolCodecTest, UploadBeginPrefixDigestWithoutResumeIsRefused)
{
    ByteVec body = body_of(encode(sample_resume(true, 0)), FrameType::UploadBegin);
    ASSERT_TRUE(decode_upload_begin(body).has_value());
    const Sha256Digest prefix = sample_digest(0x77);
    body.insert(body.end(), prefix.begin(), prefix.end());
    EXPECT_FALSE(decode_upload_begin(body).has_value());
}

} // namespace
} // namespace minisync::protocol

// ---- version 4: directories, symlinks, renames --------------------------------------------------------

namespace minisync::protocol {
namespace {

MakeDirMsg sample_make_dir()
{
    return MakeDirMsg{0x0a0b0c0d, "photos", "2024/\xff new\ndir", 040755, -5'000'000'001LL};
}

MakeSymlinkMsg sample_make_symlink()
{
    return MakeSymlinkMsg{0x11, "photos", "latest", "../../etc/\xfe passwd", 1'700'000'000'123'456'789LL};
}

RenameMsg sample_rename()
{
    return RenameMsg{0x22, "photos", "old name/a b", "new\nname/\xff"};
}

TEST(ProtocolCodecTest, MakeDirRoundTrip)
{
    const MakeDirMsg in = sample_make_dir();
    const std::optional<MakeDirMsg> out = decode_make_dir(body_of(encode(in), FrameType::MakeDir));
    ASSERT_TRUE(out.has_value());
    EXPECT_EQ(out->request_id, in.request_id);
    EXPECT_EQ(out->folder, in.folder);
    EXPECT_EQ(out->path, in.path);
    EXPECT_EQ(out->mode, in.mode);
    EXPECT_EQ(out->mtime_ns, in.mtime_ns);
}

TEST(ProtocolCodecTest, MakeDirLayoutIsBigEndian)
{
    const ByteVec frame = encode(MakeDirMsg{0x01020304, "f", "d", 0755, 0x0102030405060708});
    const ByteVec expected = {
        0x00, 0x00, 0x00, 0x16, 0x00, 0x14, 0x00, 0x00, // header: 22 bytes, type 20 = MAKE_DIR
        0x01, 0x02, 0x03, 0x04,                         // request id
        0x00, 0x01, 'f',                                // folder
        0x00, 0x01, 'd',                                // path
        0x00, 0x00, 0x01, 0xed,                         // mode 0755
        0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, // mtime
    };
    EXPECT_EQ(frame, expected);
}

TEST(ProtocolCodecTest, MakeSymlinkRoundTrip)
{
    const MakeSymlinkMsg in = sample_make_symlink();
    const std::optional<MakeSymlinkMsg> out = decode_make_symlink(body_of(encode(in), FrameType::MakeSymlink));
    ASSERT_TRUE(out.has_value());
    EXPECT_EQ(out->request_id, in.request_id);
    EXPECT_EQ(out->folder, in.folder);
    EXPECT_EQ(out->path, in.path);
    EXPECT_EQ(out->target, in.target);
    EXPECT_EQ(out->mtime_ns, in.mtime_ns);
}

TEST(ProtocolCodecTest, RenameRoundTrip)
{
    const RenameMsg in = sample_rename();
    const std::optional<RenameMsg> out = decode_rename(body_of(encode(in), FrameType::Rename));
    ASSERT_TRUE(out.has_value());
    EXPECT_EQ(out->request_id, in.request_id);
    EXPECT_EQ(out->folder, in.folder);
    EXPECT_EQ(out->from, in.from);
    EXPECT_EQ(out->to, in.to);
}

TEST(ProtocolCodecTest, EntryMessagesRejectTruncationAndTrailingBytes)
{
    expect_strict_framing("make dir", body_of(encode(sample_make_dir()), FrameType::MakeDir),
                          accepts(decode_make_dir));
    expect_strict_framing("make symlink", body_of(encode(sample_make_symlink()), FrameType::MakeSymlink),
                          accepts(decode_make_symlink));
    expect_strict_framing("rename", body_of(encode(sample_rename()), FrameType::Rename), accepts(decode_rename));
}

TEST(ProtocolCodecTest, EntryMessagesWithRequestIdZeroAreRefused)
{
    MakeDirMsg dir = sample_make_dir();
    dir.request_id = 0;
    EXPECT_FALSE(decode_make_dir(body_of(encode(dir), FrameType::MakeDir)).has_value());
    MakeSymlinkMsg link = sample_make_symlink();
    link.request_id = 0;
    EXPECT_FALSE(decode_make_symlink(body_of(encode(link), FrameType::MakeSymlink)).has_value());
    RenameMsg rename = sample_rename();
    rename.request_id = 0;
    EXPECT_FALSE(decode_rename(body_of(encode(rename), FrameType::Rename)).has_value());
}

TEST(ProtocolCodecTest, DoneIsARequestOnlyFrame)
{
    const ByteVec frame = encode_request_only(FrameType::Done, 5);
    const ByteVec expected = {0x00, 0x00, 0x00, 0x04, 0x00, 0x17, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05};
    EXPECT_EQ(frame, expected);
    EXPECT_STREQ(to_string(FrameType::Done), "DONE");
    EXPECT_STREQ(to_string(FrameType::Rename), "RENAME");
}

} // namespace
} // namespace minisync::protocol
