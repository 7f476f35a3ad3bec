// FileTransfer's transitions, driven by replies and disk results through a recording sink: every state's
// valid replies, and the replies that are a protocol error in it.
#include "file_transfer.h"

#include "recording_frame_sink.h"

#include <gtest/gtest.h>

#include <utility>
#include <vector>

namespace minisync::agent {
namespace {

using protocol::ErrorCode;
using protocol::FrameType;
using testing::RecordingFrameSink;
using State = FileTransfer::State;

class RecordingDisk final : public FileTransfer::Disk {
public:
    void read(std::uint64_t offset, std::size_t length) override { reads.emplace_back(offset, length); }
    void finish() override { ++finishes; }
    void restart() override { ++restarts; }

    std::vector<std::pair<std::uint64_t, std::size_t>> reads;
    int finishes = 0;
    int restarts = 0;
};

constexpr std::uint32_t Id = 7;

ServerReply reply(FrameType type, std::uint64_t offset = 0)
{
    return ServerReply{type, Id, offset, {}, {}};
}

ServerReply error_reply(ErrorCode code, std::string message)
{
    return ServerReply{FrameType::Error, Id, 0, code, std::move(message)};
}

OutgoingFile::Chunk chunk_of(std::size_t length)
{
    return OutgoingFile::Chunk{ByteBuffer(length)};
}

Sha256Digest digest(std::uint8_t fill)
{
    Sha256Digest digest{};
    digest.fill(fill);
    return digest;
}

class FileTransferTest : public ::testing::Test {
protected:
    FileTransfer& make(std::uint64_t size, FileTransfer::Upload upload = {})
    {
        upload.folder = "docs";
        upload.path = "a/b.bin";
        upload.version.size = size;
        upload.version.mtime_ns = 1234;
        upload.mode = 0644;
        transfer_ = std::make_unique<FileTransfer>(sink_, disk_, Id, std::move(upload));
        return *transfer_;
    }

    // Begun, taken from offset 0, and every chunk read and sent: waiting for the final hash.
    FileTransfer& streamed(std::uint64_t size)
    {
        FileTransfer& transfer = make(size);
        transfer.begin();
        EXPECT_EQ(transfer.on_reply(reply(FrameType::UploadReady, 0)), Outcome::Ready);
        while (transfer.state() == State::Streaming) {
            const std::size_t before = disk_.reads.size();
            transfer.issue_reads(SIZE_MAX);
            for (std::size_t i = before; i < disk_.reads.size(); ++i) {
                EXPECT_EQ(transfer.on_chunk(disk_.reads[i].first, disk_.reads[i].second,
                                            chunk_of(disk_.reads[i].second)),
                          Outcome::Continue);
            }
        }
        return transfer;
    }

    RecordingFrameSink sink_;
    RecordingDisk disk_;
    std::unique_ptr<FileTransfer> transfer_;
};

TEST_F(FileTransferTest, AWholeFileIsOnePutFileAndCommittedEndsIt)
{
    FileTransfer::Upload upload;
    upload.sha256 = digest(0xab);
    FileTransfer& transfer = make(3, upload);
    const std::vector<std::uint8_t> content{1, 2, 3};
    transfer.put_whole(content);

    ASSERT_EQ(sink_.types(), std::vector{FrameType::PutFile});
    const auto put = protocol::decode_put_file(sink_.frames[0].body);
    ASSERT_TRUE(put);
    EXPECT_EQ(put->request_id, Id);
    EXPECT_EQ(put->folder, "docs");
    EXPECT_EQ(put->path, "a/b.bin");
    EXPECT_EQ(put->sha256, digest(0xab));
    EXPECT_EQ(std::vector<std::uint8_t>(put->content.begin(), put->content.end()), content);
    EXPECT_EQ(transfer.state(), State::Putting);
    EXPECT_TRUE(transfer.awaits_answer());
    EXPECT_EQ(transfer.bytes_sent(), 3U);

    EXPECT_EQ(transfer.on_reply(reply(FrameType::Committed)), Outcome::Acknowledged);
    EXPECT_EQ(transfer.state(), State::Ended);
    EXPECT_EQ(transfer.sha256(), digest(0xab));
}

TEST_F(FileTransferTest, APutFileTheServerHoldsEndsAsAlreadyHeld)
{
    FileTransfer::Upload upload;
    upload.sha256 = digest(1);
    FileTransfer& transfer = make(3, upload);
    transfer.put_whole(std::vector<std::uint8_t>{1, 2, 3});
    EXPECT_EQ(transfer.on_reply(reply(FrameType::AlreadyHave)), Outcome::AlreadyHeld);
    EXPECT_EQ(transfer.sha256(), digest(1));
}

TEST_F(FileTransferTest, RepliesThatOnlyAStreamingUploadGetsAreInvalidForAPutFile)
{
    for (const FrameType type : {FrameType::UploadReady, FrameType::Progress, FrameType::HashWanted,
                                 FrameType::Removed, FrameType::Done}) {
        FileTransfer& transfer = make(3);
        transfer.put_whole(std::vector<std::uint8_t>{1, 2, 3});
        EXPECT_EQ(transfer.on_reply(reply(type)), Outcome::Invalid) << protocol::to_string(type);
        EXPECT_EQ(transfer.state(), State::Putting) << protocol::to_string(type);
    }
}

TEST_F(FileTransferTest, ABegunUploadAnnouncesItselfAndStreamsFromTheOffsetTaken)
{
    FileTransfer::Upload upload;
    upload.hash_if_present = true;
    FileTransfer& transfer = make(600 * 1024, upload);
    transfer.begin();
    ASSERT_EQ(sink_.types(), std::vector{FrameType::UploadBegin});
    const auto begin = protocol::decode_upload_begin(sink_.frames[0].body);
    ASSERT_TRUE(begin);
    EXPECT_EQ(begin->request_id, Id);
    EXPECT_EQ(begin->size, 600U * 1024);
    EXPECT_EQ(begin->mtime_ns, 1234);
    EXPECT_EQ(begin->mode, 0644U);
    EXPECT_TRUE(begin->hash_if_present);
    EXPECT_EQ(transfer.state(), State::AwaitingReady);
    EXPECT_FALSE(transfer.awaits_answer()); // a shutdown does not wait for a transfer that can resume

    EXPECT_EQ(transfer.on_reply(reply(FrameType::UploadReady, 0)), Outcome::Ready);
    EXPECT_EQ(transfer.state(), State::Streaming);
    EXPECT_EQ(transfer.resumed_at(), 0U);
    EXPECT_EQ(disk_.restarts, 0);

    EXPECT_EQ(transfer.issue_reads(SIZE_MAX), 600U * 1024);
    ASSERT_EQ(disk_.reads.size(), 3U);
    EXPECT_EQ(disk_.reads[0], std::make_pair(std::uint64_t{0}, FileTransfer::ChunkSize));
    EXPECT_EQ(disk_.reads[1], std::make_pair(std::uint64_t{FileTransfer::ChunkSize}, FileTransfer::ChunkSize));
    EXPECT_EQ(disk_.reads[2], std::make_pair(std::uint64_t{2 * FileTransfer::ChunkSize}, std::size_t{88 * 1024}));
    EXPECT_EQ(transfer.issue_reads(SIZE_MAX), 0U); // every byte asked for

    for (const auto& [offset, length] : disk_.reads) {
        EXPECT_EQ(transfer.on_chunk(offset, length, chunk_of(length)), Outcome::Continue);
    }
    ASSERT_EQ(sink_.frames.size(), 4U);
    EXPECT_EQ(sink_.frames[3].type, FrameType::Data);
    EXPECT_EQ(sink_.frames[3].data_offset, 2 * FileTransfer::ChunkSize);
    EXPECT_EQ(sink_.frames[3].data_request, Id);
    EXPECT_EQ(transfer.state(), State::Finishing);
    EXPECT_EQ(disk_.finishes, 1);
    EXPECT_TRUE(transfer.awaits_answer());

    EXPECT_EQ(transfer.on_finished(OutgoingFile::Finished{true, false, digest(9)}), Outcome::Continue);
    EXPECT_EQ(transfer.state(), State::Committing);
    ASSERT_EQ(sink_.frames.back().type, FrameType::Commit);
    const auto commit = protocol::decode_commit(sink_.frames.back().body);
    ASSERT_TRUE(commit);
    EXPECT_EQ(commit->sha256, digest(9));

    EXPECT_EQ(transfer.on_reply(reply(FrameType::Committed)), Outcome::Acknowledged);
    EXPECT_EQ(transfer.sha256(), digest(9));
}

TEST_F(FileTransferTest, ReadsStayWithinTheirWindowAndTheByteAllowance)
{
    FileTransfer& transfer = make(10 * FileTransfer::ChunkSize);
    transfer.begin();
    ASSERT_EQ(transfer.on_reply(reply(FrameType::UploadReady, 0)), Outcome::Ready);
    EXPECT_EQ(transfer.issue_reads(1), FileTransfer::ChunkSize); // one read, even for a small allowance
    EXPECT_EQ(transfer.issue_reads(SIZE_MAX), (FileTransfer::MaxReadsInFlight - 1) * FileTransfer::ChunkSize);
    EXPECT_EQ(transfer.issue_reads(SIZE_MAX), 0U); // the window is full
    EXPECT_EQ(transfer.on_chunk(0, FileTransfer::ChunkSize, chunk_of(FileTransfer::ChunkSize)), Outcome::Continue);
    EXPECT_EQ(transfer.issue_reads(0), 0U);
    EXPECT_EQ(transfer.issue_reads(SIZE_MAX), FileTransfer::ChunkSize);
}

TEST_F(FileTransferTest, AStrayCommittedOrRepeatedReadyIsAProtocolError)
{
    FileTransfer& transfer = make(1000);
    transfer.begin();
    EXPECT_EQ(transfer.on_reply(reply(FrameType::Committed)), Outcome::Invalid);
    EXPECT_EQ(transfer.state(), State::AwaitingReady);
    EXPECT_EQ(transfer.on_reply(reply(FrameType::Progress, 10)), Outcome::Invalid);
    ASSERT_EQ(transfer.on_reply(reply(FrameType::UploadReady, 0)), Outcome::Ready);
    EXPECT_EQ(transfer.on_reply(reply(FrameType::UploadReady, 0)), Outcome::Invalid);
    EXPECT_EQ(transfer.on_reply(reply(FrameType::Committed)), Outcome::Invalid);
    EXPECT_EQ(transfer.on_reply(reply(FrameType::AlreadyHave)), Outcome::Invalid);
    EXPECT_EQ(transfer.on_reply(reply(FrameType::HashWanted)), Outcome::Invalid);
    EXPECT_EQ(transfer.on_reply(reply(FrameType::Removed)), Outcome::Invalid);
    EXPECT_EQ(transfer.on_reply(reply(FrameType::Done)), Outcome::Invalid);
    EXPECT_EQ(transfer.state(), State::Streaming);
}

TEST_F(FileTransferTest, CommittedBeforeTheCommitIsSentIsAProtocolError)
{
    FileTransfer& transfer = streamed(1000);
    ASSERT_EQ(transfer.state(), State::Finishing);
    EXPECT_EQ(transfer.on_reply(reply(FrameType::Committed)), Outcome::Invalid);
    EXPECT_EQ(transfer.on_reply(reply(FrameType::AlreadyHave)), Outcome::Invalid);
}

TEST_F(FileTransferTest, ProgressIsRecordedWhileStreamingAndIgnoredOnceCommitting)
{
    FileTransfer& transfer = make(3 * FileTransfer::ChunkSize);
    transfer.begin();
    ASSERT_EQ(transfer.on_reply(reply(FrameType::UploadReady, 0)), Outcome::Ready);
    EXPECT_EQ(transfer.on_reply(reply(FrameType::Progress, 500)), Outcome::Progressed);
    EXPECT_EQ(transfer.confirmed_offset(), 500U);
    EXPECT_EQ(transfer.on_reply(reply(FrameType::Progress, 100)), Outcome::Progressed);
    EXPECT_EQ(transfer.confirmed_offset(), 500U); // never moves back

    FileTransfer& committing = streamed(10);
    ASSERT_EQ(committing.on_finished(OutgoingFile::Finished{true, false, digest(2)}), Outcome::Continue);
    ASSERT_EQ(committing.state(), State::Committing);
    EXPECT_EQ(committing.on_reply(reply(FrameType::Progress, 10)), Outcome::Continue);
    EXPECT_EQ(committing.on_reply(reply(FrameType::Committed)), Outcome::Acknowledged);
}

TEST_F(FileTransferTest, AResumeTakenContinuesThePrefixAndOneRefusedStartsOver)
{
    FileTransfer::Upload upload;
    upload.resume_offset = 4096;
    upload.prefix_sha256 = digest(3);
    {
        FileTransfer& transfer = make(10000, upload);
        EXPECT_EQ(transfer.confirmed_offset(), 4096U);
        transfer.begin();
        const auto begin = protocol::decode_upload_begin(sink_.frames.back().body);
        ASSERT_TRUE(begin);
        EXPECT_EQ(begin->resume_offset, 4096U);
        EXPECT_EQ(begin->prefix_sha256, digest(3));
        EXPECT_EQ(transfer.on_reply(reply(FrameType::UploadReady, 4096)), Outcome::Ready);
        EXPECT_EQ(transfer.resumed_at(), 4096U);
        EXPECT_EQ(transfer.bytes_sent(), 4096U);
        EXPECT_EQ(disk_.restarts, 0);
        transfer.issue_reads(SIZE_MAX);
        ASSERT_FALSE(disk_.reads.empty());
        EXPECT_EQ(disk_.reads.front().first, 4096U);
    }
    {
        FileTransfer& transfer = make(10000, upload);
        transfer.begin();
        EXPECT_EQ(transfer.on_reply(reply(FrameType::UploadReady, 0)), Outcome::Ready);
        EXPECT_EQ(transfer.resumed_at(), 0U);
        EXPECT_EQ(transfer.confirmed_offset(), 0U);
        EXPECT_EQ(disk_.restarts, 1); // the running hash starts again from byte 0
    }
    {
        FileTransfer& transfer = make(10000, upload);
        transfer.begin();
        EXPECT_EQ(transfer.on_reply(reply(FrameType::UploadReady, 100)), Outcome::OffsetRefused);
        EXPECT_EQ(sink_.frames.back().type, FrameType::Abort);
        EXPECT_EQ(transfer.state(), State::Ended);
    }
}

TEST_F(FileTransferTest, AnEmptyFileGoesStraightToItsFinalHash)
{
    FileTransfer& transfer = make(0);
    transfer.begin();
    EXPECT_EQ(transfer.on_reply(reply(FrameType::UploadReady, 0)), Outcome::Ready);
    EXPECT_EQ(transfer.state(), State::Finishing);
    EXPECT_EQ(disk_.finishes, 1);
    EXPECT_EQ(transfer.issue_reads(SIZE_MAX), 0U);
}

TEST_F(FileTransferTest, HashWantedIsValidOnlyWhenTheUploadAskedForIt)
{
    FileTransfer::Upload asking;
    asking.hash_if_present = true;
    FileTransfer& asked = make(1000, asking);
    asked.begin();
    EXPECT_EQ(asked.on_reply(reply(FrameType::HashWanted)), Outcome::HashWanted);
    EXPECT_EQ(asked.state(), State::Ended);

    FileTransfer& not_asked = make(1000);
    not_asked.begin();
    EXPECT_EQ(not_asked.on_reply(reply(FrameType::HashWanted)), Outcome::Invalid);
}

TEST_F(FileTransferTest, AlreadyHaveAnswersABeginWithAKnownHash)
{
    FileTransfer::Upload upload;
    upload.sha256 = digest(5);
    FileTransfer& transfer = make(1000, upload);
    transfer.begin();
    EXPECT_EQ(transfer.on_reply(reply(FrameType::AlreadyHave)), Outcome::AlreadyHeld);
    EXPECT_EQ(transfer.sha256(), digest(5));
}

TEST_F(FileTransferTest, AnErrorEndsTheTransferInAnyStateOnce)
{
    FileTransfer& waiting = make(1000);
    waiting.begin();
    EXPECT_EQ(waiting.on_reply(error_reply(ErrorCode::NoSpace, "disk full")), Outcome::Refused);
    EXPECT_EQ(waiting.error().code, ErrorCode::NoSpace);
    EXPECT_EQ(waiting.error().message, "disk full");
    EXPECT_EQ(waiting.on_reply(error_reply(ErrorCode::IoError, "again")), Outcome::Invalid);

    FileTransfer& finishing = streamed(1000);
    EXPECT_EQ(finishing.on_reply(error_reply(ErrorCode::IoError, "write failed")), Outcome::Refused);
    EXPECT_EQ(finishing.state(), State::Ended);
    // The final hash coming back afterwards sends nothing more.
    const std::size_t sent = sink_.frames.size();
    EXPECT_EQ(finishing.on_finished(OutgoingFile::Finished{true, false, digest(1)}), Outcome::Continue);
    EXPECT_EQ(sink_.frames.size(), sent);
}

TEST_F(FileTransferTest, AFailedReadAbortsWithItsReason)
{
    FileTransfer& transfer = make(1000);
    transfer.begin();
    ASSERT_EQ(transfer.on_reply(reply(FrameType::UploadReady, 0)), Outcome::Ready);
    transfer.issue_reads(SIZE_MAX);
    OutgoingFile::Chunk failed{Error{ErrorCode::IoError, "file shrank"}};
    EXPECT_EQ(transfer.on_chunk(0, 1000, std::move(failed)), Outcome::ReadFailed);
    EXPECT_EQ(sink_.frames.back().type, FrameType::Abort);
    EXPECT_EQ(transfer.error().message, "file shrank");
    EXPECT_EQ(transfer.state(), State::Ended);
}

TEST_F(FileTransferTest, AFileChangedWhileSentIsAbortedUnlessItOnlyGrewAndIsGrowing)
{
    FileTransfer& changed = streamed(1000);
    EXPECT_EQ(changed.on_finished(OutgoingFile::Finished{false, true, digest(1)}), Outcome::ChangedWhileSent);
    EXPECT_EQ(sink_.frames.back().type, FrameType::Abort);

    FileTransfer::Upload growing_upload;
    growing_upload.growing = true;
    FileTransfer& growing = make(1000, growing_upload);
    growing.begin();
    ASSERT_EQ(growing.on_reply(reply(FrameType::UploadReady, 0)), Outcome::Ready);
    growing.issue_reads(SIZE_MAX);
    ASSERT_EQ(growing.on_chunk(0, 1000, chunk_of(1000)), Outcome::Continue);
    EXPECT_EQ(growing.on_finished(OutgoingFile::Finished{false, true, digest(1)}), Outcome::Continue);
    EXPECT_EQ(sink_.frames.back().type, FrameType::Commit);
}

TEST_F(FileTransferTest, SuspendKeepsThePartialForAResume)
{
    FileTransfer& transfer = make(1000);
    transfer.begin();
    transfer.suspend();
    EXPECT_EQ(sink_.frames.back().type, FrameType::Suspend);
    const auto suspend = protocol::decode_request_only(sink_.frames.back().body);
    ASSERT_TRUE(suspend);
    EXPECT_EQ(suspend->request_id, Id);
    EXPECT_EQ(transfer.state(), State::Ended);
}

} // namespace
} // namespace minisync::agent
