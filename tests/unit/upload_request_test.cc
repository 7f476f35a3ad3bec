// Tests for an upload's states: which DATA and COMMIT frames fit in which state, without a socket, and
// an upload driven through its strand work to a durable file in a sandbox.
#include "upload_request.h"

#include "request_fixture.h"

#include "byte_buffer.h"
#include "sha256.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

namespace minisync::server {
namespace {

using State = UploadRequest::State;
using DataCheck = UploadRequest::DataCheck;
using CommitCheck = UploadRequest::CommitCheck;

class UploadRequestTest : public test::RequestFixture {
protected:
    UploadTarget target_of(const std::string& path, std::uint64_t size) const
    {
        UploadTarget target;
        target.client = Client;
        target.folder = Folder;
        target.path = path;
        target.size = size;
        return target;
    }

    // An upload of size bytes to path, opened on its strand and answered with UPLOAD_READY.
    std::unique_ptr<UploadRequest> receiving(const std::string& path, std::uint64_t size)
    {
        auto upload = std::make_unique<UploadRequest>(admission(path), size);
        test::Reported<IncomingUpload::OpenResult> opened;
        upload->open(target_of(path, size), root_.get(), stop(), opened.reporter(), {});
        const auto result = opened.wait();
        EXPECT_TRUE(result && result->outcome == IncomingUpload::OpenOutcome::Ready);
        upload->opened(result ? result->offset : 0);
        return upload;
    }

    static EvBufferPtr data_body(const std::string& payload)
    {
        EvBufferPtr body{evbuffer_new()};
        EXPECT_EQ(evbuffer_add(body.get(), payload.data(), payload.size()), 0);
        return body;
    }
};

TEST_F(UploadRequestTest, DataBeforeUploadReadyIsOutOfPlace)
{
    UploadRequest upload{admission("early.bin"), 4};
    EXPECT_EQ(upload.state(), State::Admitted);
    EXPECT_EQ(upload.accept_data(0, 4), DataCheck::OutOfPlace);

    test::Reported<IncomingUpload::OpenResult> opened;
    upload.open(target_of("early.bin", 4), root_.get(), stop(), opened.reporter(), {});
    EXPECT_EQ(upload.state(), State::Opening);
    EXPECT_EQ(upload.accept_data(0, 4), DataCheck::OutOfPlace) << "UPLOAD_READY is not sent yet";
    EXPECT_EQ(upload.accept_commit(), CommitCheck::OutOfPlace);

    const auto result = opened.wait();
    ASSERT_TRUE(result);
    ASSERT_EQ(result->outcome, IncomingUpload::OpenOutcome::Ready) << result->error.message;
    upload.opened(result->offset);
    EXPECT_EQ(upload.state(), State::Receiving);
    EXPECT_EQ(upload.accept_data(0, 4), DataCheck::Accepted);
}

TEST_F(UploadRequestTest, DataMustContinueWhereTheLastEnded)
{
    const auto upload = receiving("gaps.bin", 10);
    EXPECT_EQ(upload->accept_data(4, 2), DataCheck::Discontinuous) << "a gap";
    EXPECT_EQ(upload->accept_data(0, 11), DataCheck::Discontinuous) << "past the announced size";
    EXPECT_EQ(upload->next_offset(), 0U) << "a refused DATA moves nothing";
    EXPECT_EQ(upload->accept_data(0, 6), DataCheck::Accepted);
    EXPECT_EQ(upload->next_offset(), 6U);
    EXPECT_EQ(upload->accept_data(0, 2), DataCheck::Discontinuous) << "a repeat";
    EXPECT_EQ(upload->accept_data(6, 5), DataCheck::Discontinuous) << "one byte over";
    EXPECT_EQ(upload->accept_data(6, 4), DataCheck::Accepted);
    EXPECT_EQ(upload->state(), State::Receiving);
}

TEST_F(UploadRequestTest, CommitBeforeEveryByteIsIncomplete)
{
    const auto upload = receiving("short.bin", 8);
    EXPECT_EQ(upload->accept_commit(), CommitCheck::Incomplete);
    ASSERT_EQ(upload->accept_data(0, 5), DataCheck::Accepted);
    EXPECT_EQ(upload->accept_commit(), CommitCheck::Incomplete);
    EXPECT_EQ(upload->state(), State::Receiving) << "still receiving: the request fails, not the connection";
}

TEST_F(UploadRequestTest, CommitTwiceIsOutOfPlace)
{
    const auto upload = receiving("twice.bin", 3);
    ASSERT_EQ(upload->accept_data(0, 3), DataCheck::Accepted);
    EXPECT_EQ(upload->accept_commit(), CommitCheck::Accepted);
    EXPECT_EQ(upload->state(), State::Committing);
    EXPECT_EQ(upload->accept_commit(), CommitCheck::OutOfPlace);
    EXPECT_EQ(upload->accept_data(3, 0), DataCheck::OutOfPlace) << "no DATA after COMMIT";
    EXPECT_EQ(upload->state(), State::Committing);
}

TEST_F(UploadRequestTest, AnEmptyFileCommitsWithNoData)
{
    const auto upload = receiving("empty.bin", 0);
    EXPECT_EQ(upload->accept_commit(), CommitCheck::Accepted);
}

TEST_F(UploadRequestTest, ChunksWrittenOnTheStrandAreCommittedDurably)
{
    const std::string content = "the whole content, in two chunks";
    const auto upload = receiving("whole.txt", content.size());

    const std::size_t half = content.size() / 2;
    const std::vector<std::pair<std::size_t, std::size_t>> chunks{{0, half}, {half, content.size() - half}};
    for (const auto& [offset, length] : chunks) {
        ASSERT_EQ(upload->accept_data(offset, length), DataCheck::Accepted);
        test::Reported<IncomingUpload::WriteResult> written;
        upload->write(offset, data_body(content.substr(offset, length)), written.reporter());
        const auto result = written.wait();
        ASSERT_TRUE(result);
        ASSERT_FALSE(result->error) << result->error->message;
    }
    ASSERT_EQ(upload->accept_commit(), CommitCheck::Accepted);
    test::Reported<Result<void>> committed;
    upload->commit(commits_, sha256_of(std::string_view{content}), committed.reporter());
    const auto outcome = committed.wait();
    ASSERT_TRUE(outcome) << "no report";
    ASSERT_TRUE(outcome->ok()) << outcome->error().message;

    std::ifstream in{sandbox() / Client / Folder / "whole.txt", std::ios::binary};
    EXPECT_EQ(std::string(std::istreambuf_iterator<char>{in}, {}), content);
}

} // namespace
} // namespace minisync::server
