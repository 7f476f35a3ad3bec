// The requests answered once (MAKE_DIR, MAKE_SYMLINK, REMOVE, RENAME) and the decoding of the server's
// replies: the frame each sends, its answer, and the replies that are a protocol error.
#include "entry_request.h"
#include "removal_request.h"
#include "rename_request.h"
#include "request.h"

#include "recording_frame_sink.h"

#include <gtest/gtest.h>

#include <functional>
#include <memory>

namespace minisync::agent {
namespace {

using protocol::ErrorCode;
using protocol::FrameType;
using testing::RecordingFrameSink;

constexpr std::uint32_t Id = 3;

ServerReply reply(FrameType type)
{
    return ServerReply{type, Id, 0, {}, {}};
}

// Every reply type the server may send an agent.
constexpr FrameType AllReplies[] = {FrameType::UploadReady, FrameType::AlreadyHave, FrameType::Committed,
                                    FrameType::Progress,    FrameType::Removed,     FrameType::Done,
                                    FrameType::HashWanted,  FrameType::Error};

// A request answered by `answer`: acknowledged by it, refused by ERROR, and a protocol error for any other
// reply or for a second answer.
void expect_one_answer(const std::function<std::unique_ptr<OneAnswerRequest>(FrameSink&)>& make, FrameType answer)
{
    for (const FrameType type : AllReplies) {
        RecordingFrameSink sink;
        const auto request = make(sink);
        ASSERT_EQ(sink.frames.size(), 1U);
        EXPECT_TRUE(request->awaits_answer());
        const Outcome outcome = request->on_reply(reply(type));
        if (type == answer) {
            EXPECT_EQ(outcome, Outcome::Acknowledged);
        } else if (type == FrameType::Error) {
            EXPECT_EQ(outcome, Outcome::Refused);
        } else {
            EXPECT_EQ(outcome, Outcome::Invalid) << protocol::to_string(type);
            EXPECT_TRUE(request->awaits_answer()) << protocol::to_string(type);
            continue;
        }
        EXPECT_FALSE(request->awaits_answer());
        EXPECT_EQ(request->on_reply(reply(answer)), Outcome::Invalid) << "a second answer";
    }
}

TEST(EntryRequestTest, ADirectoryIsMakeDirAnsweredByDone)
{
    RecordingFrameSink sink;
    EntryRequest::Entry entry{EntryKind::Directory, FileVersion{0, 5'000'000'123, 77}, 0755, {}};
    EntryRequest request{sink, Id, "docs", "a/b", entry};
    ASSERT_EQ(sink.types(), std::vector{FrameType::MakeDir});
    const auto msg = protocol::decode_make_dir(sink.frames[0].body);
    ASSERT_TRUE(msg);
    EXPECT_EQ(msg->request_id, Id);
    EXPECT_EQ(msg->folder, "docs");
    EXPECT_EQ(msg->path, "a/b");
    EXPECT_EQ(msg->mode, 0755U);
    EXPECT_EQ(msg->mtime_ns, 5'000'000'123);

    expect_one_answer(
        [&](FrameSink& other) { return std::make_unique<EntryRequest>(other, Id, "docs", "a/b", entry); },
        FrameType::Done);
}

TEST(EntryRequestTest, ASymlinkIsMakeSymlinkWithItsTarget)
{
    RecordingFrameSink sink;
    EntryRequest request{sink, Id, "docs", "link", {EntryKind::Symlink, FileVersion{}, 0777, "../elsewhere"}};
    ASSERT_EQ(sink.types(), std::vector{FrameType::MakeSymlink});
    const auto msg = protocol::decode_make_symlink(sink.frames[0].body);
    ASSERT_TRUE(msg);
    EXPECT_EQ(msg->target, "../elsewhere");
    EXPECT_EQ(request.entry().kind, EntryKind::Symlink);
}

TEST(RemovalRequestTest, AFileOrATreeIsRemoveAnsweredByRemoved)
{
    for (const bool tree : {false, true}) {
        RecordingFrameSink sink;
        RemovalRequest request{sink, Id, "docs", "old", tree};
        ASSERT_EQ(sink.types(), std::vector{FrameType::Remove});
        const auto msg = protocol::decode_remove(sink.frames[0].body);
        ASSERT_TRUE(msg);
        EXPECT_EQ(msg->path, "old");
        EXPECT_EQ(msg->kind, tree ? protocol::RemoveKind::Tree : protocol::RemoveKind::File);
    }
    expect_one_answer([](FrameSink& sink) { return std::make_unique<RemovalRequest>(sink, Id, "docs", "old", true); },
                      FrameType::Removed);
}

TEST(RenameRequestTest, ARenameIsAnsweredByDoneOrRefusedWithTheServersReason)
{
    RecordingFrameSink sink;
    RenameRequest request{sink, Id, "docs", "from", "to"};
    const auto msg = protocol::decode_rename(sink.frames.at(0).body);
    ASSERT_TRUE(msg);
    EXPECT_EQ(msg->from, "from");
    EXPECT_EQ(msg->to, "to");
    EXPECT_EQ(request.on_reply(ServerReply{FrameType::Error, Id, 0, ErrorCode::NotFound, "nothing at 'from'"}),
              Outcome::Refused);
    EXPECT_EQ(request.error().code, ErrorCode::NotFound);
    EXPECT_EQ(request.error().message, "nothing at 'from'");

    expect_one_answer([](FrameSink& other) { return std::make_unique<RenameRequest>(other, Id, "docs", "a", "b"); },
                      FrameType::Done);
}

TEST(DecodeReplyTest, EveryReplyTypeDecodesWithItsRequestIdAndFields)
{
    auto decoded = [](std::vector<std::uint8_t> frame) {
        const auto header = protocol::decode_frame_header(frame);
        return decode_reply(header.header, std::span{frame}.subspan(protocol::FrameHeaderSize));
    };
    const auto ready = decoded(protocol::encode(protocol::UploadReady{9, 4096}));
    ASSERT_TRUE(ready);
    EXPECT_EQ(ready->type, FrameType::UploadReady);
    EXPECT_EQ(ready->request_id, 9U);
    EXPECT_EQ(ready->offset, 4096U);

    const auto progress = decoded(protocol::encode(protocol::ProgressMsg{9, 8192}));
    ASSERT_TRUE(progress);
    EXPECT_EQ(progress->offset, 8192U);

    const auto error = decoded(protocol::encode(protocol::ErrorMsg{9, ErrorCode::Busy, "busy"}));
    ASSERT_TRUE(error);
    EXPECT_EQ(error->code, ErrorCode::Busy);
    EXPECT_EQ(error->message, "busy");

    for (const FrameType type : {FrameType::AlreadyHave, FrameType::Committed, FrameType::Removed, FrameType::Done,
                                 FrameType::HashWanted}) {
        const auto answer = decoded(protocol::encode_request_only(type, 9));
        ASSERT_TRUE(answer) << protocol::to_string(type);
        EXPECT_EQ(answer->type, type);
        EXPECT_EQ(answer->request_id, 9U);
    }
}

TEST(DecodeReplyTest, FramesThatAreNoReplyOrDoNotDecodeAreRefused)
{
    const auto hello_ok = protocol::encode(protocol::HelloOk{});
    const auto header = protocol::decode_frame_header(hello_ok);
    EXPECT_FALSE(decode_reply(header.header, std::span{hello_ok}.subspan(protocol::FrameHeaderSize)));
    // A COMMITTED cut short.
    EXPECT_FALSE(decode_reply(protocol::FrameHeader{2, FrameType::Committed}, std::vector<std::uint8_t>{0, 0}));
    // DATA goes from the agent to the server only.
    EXPECT_FALSE(decode_reply(protocol::FrameHeader{12, FrameType::Data}, std::vector<std::uint8_t>(12)));
}

} // namespace
} // namespace minisync::agent
