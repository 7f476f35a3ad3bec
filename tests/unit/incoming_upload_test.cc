// Tests for the disk side of an upload: a large file is written past the page cache, so a backup
// server receiving many gigabytes keeps its memory for other work, and it still lands whole.
#include "incoming_upload.h"

#include "sandbox.h"
#include "sha256.h"
#include "unique_fd.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
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

class IncomingUploadTest : public test::SandboxedTest {
protected:
    void SetUp() override
    {
        SandboxedTest::SetUp();
        root_.reset(::open(sandbox().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        ASSERT_TRUE(root_);
    }

    std::atomic<bool> stop_{false};
    UniqueFd root_;
};

TEST_F(IncomingUploadTest, ALargeFileIsWrittenPastThePageCacheAndLandsWhole)
{
    if (!supports_direct_io(sandbox())) {
        GTEST_SKIP() << "this file system does not do O_DIRECT";
    }
    // 32 MiB in 256 KiB chunks, and an odd tail that has to go through the page cache.
    constexpr std::size_t Chunk = 256 * 1024;
    constexpr std::size_t Size = 32 * 1024 * 1024 + 1234;
    std::vector<std::uint8_t> content(Size);
    for (std::size_t i = 0; i < Size; ++i) {
        content[i] = static_cast<std::uint8_t>((i * 2654435761U) >> 13);
    }
    UploadTarget target;
    target.client = "client";
    target.folder = "folder";
    target.path = "big.bin";
    target.size = Size;
    IncomingUpload upload{std::move(target), stop_};
    ASSERT_EQ(upload.open(root_.get()).outcome, IncomingUpload::OpenOutcome::Ready);
    const std::span<const std::uint8_t> all{content};
    for (std::size_t offset = 0; offset < Size; offset += Chunk) {
        const auto written = upload.write(offset, all.subspan(offset, std::min(Chunk, Size - offset)));
        ASSERT_FALSE(written.error) << written.error->message;
    }
    ASSERT_FALSE(upload.prepare_commit(sha256_of(all)));
    ASSERT_FALSE(upload.make_durable());
    ASSERT_FALSE(upload.rename_into_place());
    ASSERT_FALSE(upload.sync_directory());

    const fs::path final_path = sandbox() / "client" / "folder" / "big.bin";
    // Only the tail may be cached; buffered writes would have left all 8,193 pages there.
    EXPECT_LE(resident_pages(final_path), 4U) << "the upload went through the page cache";
    std::ifstream in{final_path, std::ios::binary};
    const std::vector<std::uint8_t> stored{std::istreambuf_iterator<char>{in}, {}};
    EXPECT_EQ(stored.size(), Size);
    EXPECT_TRUE(stored == content) << "the stored file differs from what was sent";
}

} // namespace
} // namespace minisync::server
