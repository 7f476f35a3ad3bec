// Tests for the disk side of an upload: a large file is written past the page cache, so a backup
// server receiving many gigabytes keeps its memory for other work, and it still lands whole.
#include "incoming_upload.h"

#include "sandbox.h"
#include "sha256.h"
#include "unique_fd.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <span>
#include <string>
#include <vector>

namespace minisync::server {
namespace {

namespace fs = std::filesystem;

// Pages of the file held in the page cache, by mincore() over a mapping of it.
std::size_t resident_pages(const fs::path& path)
{
    const UniqueFd fd{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
    struct stat st{};
    if (!fd || ::fstat(fd.get(), &st) != 0 || st.st_size == 0) {
        return 0;
    }
    const auto size = static_cast<std::size_t>(st.st_size);
    void* map = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd.get(), 0);
    if (map == MAP_FAILED) {
        return 0;
    }
    const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    std::vector<unsigned char> residency((size + page - 1) / page);
    std::size_t resident = 0;
    if (::mincore(map, size, residency.data()) == 0) {
        for (const unsigned char flags : residency) {
            resident += flags & 1U;
        }
    }
    ::munmap(map, size);
    return resident;
}

bool supports_direct_io(const fs::path& dir)
{
    const fs::path probe = dir / "direct-io-probe";
    const UniqueFd fd{::open(probe.c_str(), O_RDWR | O_CREAT | O_DIRECT | O_CLOEXEC, 0600)};
    ::unlink(probe.c_str());
    return static_cast<bool>(fd);
}

std::vector<std::uint8_t> patterned_content(std::size_t size)
{
    std::vector<std::uint8_t> content(size);
    for (std::size_t i = 0; i < size; ++i) {
        content[i] = static_cast<std::uint8_t>((i * 2654435761U) >> 13);
    }
    return content;
}

std::vector<std::uint8_t> read_whole(const fs::path& path)
{
    std::ifstream in{path, std::ios::binary};
    return {std::istreambuf_iterator<char>{in}, {}};
}

// data cut into pieces of 0 to 196 bytes, as a frame body arrives in many small buffers: a chunk of
// 256 KiB becomes more pieces than one pwritev() takes.
std::vector<iovec> cut_into_pieces(std::span<const std::uint8_t> data)
{
    std::vector<iovec> pieces;
    std::size_t offset = 0;
    for (std::size_t i = 0; offset < data.size(); ++i) {
        const std::size_t length = std::min<std::size_t>((i * 37) % 197, data.size() - offset);
        pieces.push_back(iovec{const_cast<std::uint8_t*>(data.data() + offset), length});
        offset += length;
    }
    return pieces;
}

class IncomingUploadTest : public test::SandboxedTest {
protected:
    void SetUp() override
    {
        SandboxedTest::SetUp();
        root_.reset(::open(sandbox().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        ASSERT_TRUE(root_);
    }

    static UploadTarget target_of(std::string path, std::size_t size)
    {
        UploadTarget target;
        target.client = "client";
        target.folder = "folder";
        target.path = std::move(path);
        target.size = size;
        return target;
    }

    std::atomic<bool> stop_{false};
    UniqueFd root_;
};

// Both sides of DirectWritesFrom: a file written with O_DIRECT (from an aligned copy) and a buffered one.
class PiecewiseWriteTest : public IncomingUploadTest, public ::testing::WithParamInterface<std::size_t> {};

TEST_P(PiecewiseWriteTest, ChunksWrittenInPiecesLandByteForByte)
{
    constexpr std::size_t Chunk = 256 * 1024;
    const std::size_t size = GetParam();
    const std::vector<std::uint8_t> content = patterned_content(size);
    IncomingUpload upload{target_of("pieces.bin", size), stop_};
    ASSERT_EQ(upload.open(root_.get()).outcome, IncomingUpload::OpenOutcome::Ready);
    const std::span<const std::uint8_t> all{content};
    for (std::size_t offset = 0; offset < size; offset += Chunk) {
        const std::size_t length = std::min(Chunk, size - offset);
        const std::vector<iovec> pieces = cut_into_pieces(all.subspan(offset, length));
        if (length == Chunk) {
            ASSERT_GT(pieces.size(), static_cast<std::size_t>(IOV_MAX)) << "the test no longer crosses IOV_MAX";
        }
        const auto written = upload.write(offset, pieces);
        ASSERT_FALSE(written.error) << written.error->message;
    }
    ASSERT_TRUE(upload.prepare_commit(sha256_of(all)).ok()) << "the hash over the pieces differs";
    ASSERT_TRUE(upload.make_durable().ok());
    ASSERT_TRUE(upload.rename_into_place().ok());
    EXPECT_TRUE(read_whole(sandbox() / "client" / "folder" / "pieces.bin") == content)
        << "the stored file differs from what was sent";
}

INSTANTIATE_TEST_SUITE_P(Sizes, PiecewiseWriteTest,
                         ::testing::Values(std::size_t{9 * 1024 * 1024 + 777}, std::size_t{3 * 256 * 1024 + 5}));

TEST_F(IncomingUploadTest, ALargeFileIsWrittenPastThePageCacheAndLandsWhole)
{
    if (!supports_direct_io(sandbox())) {
        GTEST_SKIP() << "this file system does not do O_DIRECT";
    }
    // 32 MiB in 256 KiB chunks, and an odd tail that has to go through the page cache.
    constexpr std::size_t Chunk = 256 * 1024;
    constexpr std::size_t Size = 32 * 1024 * 1024 + 1234;
    const std::vector<std::uint8_t> content = patterned_content(Size);
    IncomingUpload upload{target_of("big.bin", Size), stop_};
    ASSERT_EQ(upload.open(root_.get()).outcome, IncomingUpload::OpenOutcome::Ready);
    const std::span<const std::uint8_t> all{content};
    for (std::size_t offset = 0; offset < Size; offset += Chunk) {
        const auto written = upload.write(offset, all.subspan(offset, std::min(Chunk, Size - offset)));
        ASSERT_FALSE(written.error) << written.error->message;
    }
    ASSERT_TRUE(upload.prepare_commit(sha256_of(all)).ok());
    ASSERT_TRUE(upload.make_durable().ok());
    ASSERT_TRUE(upload.rename_into_place().ok());
    ASSERT_TRUE(upload.sync_directory().ok());

    const fs::path final_path = sandbox() / "client" / "folder" / "big.bin";
    // Only the tail may be cached; buffered writes would have left all 8,193 pages there.
    EXPECT_LE(resident_pages(final_path), 4U) << "the upload went through the page cache";
    const std::vector<std::uint8_t> stored = read_whole(final_path);
    EXPECT_EQ(stored.size(), Size);
    EXPECT_TRUE(stored == content) << "the stored file differs from what was sent";
}

} // namespace
} // namespace minisync::server
