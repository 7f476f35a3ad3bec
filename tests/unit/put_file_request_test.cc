// Tests for a whole file in one frame: one strand task takes it from the frame's bytes to a durable
// file, and a second PUT of the same content finds it already there.
#include "put_file_request.h"

#include "request_fixture.h"

#include "byte_buffer.h"
#include "sha256.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>

namespace minisync::server {
namespace {

class PutFileRequestTest : public test::RequestFixture {
protected:
    // A PUT of content to path, as a frame body with a header of header_size bytes before the content.
    IncomingUpload::PutResult put(const std::string& path, const std::string& content, std::size_t header_size = 7)
    {
        PutFileRequest request{admission(path)};
        EXPECT_EQ(request.state(), PutFileRequest::State::Admitted);
        ByteBuffer body(header_size + content.size());
        std::copy(content.begin(), content.end(), body.begin() + static_cast<std::ptrdiff_t>(header_size));
        UploadTarget target;
        target.client = Client;
        target.folder = Folder;
        target.path = path;
        target.size = content.size();
        target.sha256 = sha256_of(std::string_view{content});
        test::Reported<IncomingUpload::PutResult> done;
        request.put(std::move(target), root_.get(), stop(), commits_, std::move(body), header_size, done.reporter(),
                    {});
        EXPECT_EQ(request.state(), PutFileRequest::State::Committing);
        auto result = done.wait();
        EXPECT_TRUE(result) << "no report";
        return result.value_or(IncomingUpload::PutResult{.already_had = false, .stored = Error{ErrorCode::IoError, {}}});
    }

    std::string read(const std::string& path) const
    {
        std::ifstream in{sandbox() / Client / Folder / path, std::ios::binary};
        return {std::istreambuf_iterator<char>{in}, {}};
    }
};

TEST_F(PutFileRequestTest, TheContentLandsDurablyInOneTask)
{
    const IncomingUpload::PutResult result = put("small.txt", "a small file");
    EXPECT_FALSE(result.already_had);
    ASSERT_TRUE(result.stored.ok()) << result.stored.error().message;
    EXPECT_EQ(read("small.txt"), "a small file");
}

TEST_F(PutFileRequestTest, TheSameContentAgainIsAlreadyThere)
{
    ASSERT_TRUE(put("again.txt", "same bytes").stored.ok());
    const IncomingUpload::PutResult again = put("again.txt", "same bytes");
    EXPECT_TRUE(again.already_had);
    EXPECT_TRUE(again.stored.ok());
}

} // namespace
} // namespace minisync::server
