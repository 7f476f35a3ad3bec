// splitmix64 content generation and whole-file I/O with errors that name the file.
#include "test_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <utility>

namespace minisync::test {
namespace {

// splitmix64: fast enough for hundreds of MiB and good enough that no two chunks compress or collide.
class RandomStream {
public:
    explicit RandomStream(std::uint64_t seed) : state_{seed} {}

    void fill(std::span<std::uint8_t> out)
    {
        std::size_t i = 0;
        while (i < out.size()) {
            std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
            z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
            z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
            z ^= z >> 31;
            const std::size_t n = std::min<std::size_t>(8, out.size() - i);
            std::memcpy(out.data() + i, &z, n);
            i += n;
        }
    }

private:
    std::uint64_t state_;
};

[[noreturn]] void fail(const std::string& what, const std::filesystem::path& path)
{
    throw std::runtime_error(what + " '" + path.string() + "': " + std::strerror(errno));
}

class OutputFile {
public:
    explicit OutputFile(const std::filesystem::path& path)
        : path_{path}, fd_{::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)}
    {
        if (fd_ < 0) {
            fail("cannot create", path_);
        }
    }
    ~OutputFile()
    {
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }
    OutputFile(const OutputFile&) = delete;
    OutputFile& operator=(const OutputFile&) = delete;

    void write(std::span<const std::uint8_t> data)
    {
        while (!data.empty()) {
            const ssize_t n = ::write(fd_, data.data(), data.size());
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n < 0) {
                fail("cannot write", path_);
            }
            data = data.subspan(static_cast<std::size_t>(n));
        }
    }
    void close()
    {
        const int fd = std::exchange(fd_, -1);
        if (::close(fd) != 0) {
            fail("cannot close", path_);
        }
    }

private:
    std::filesystem::path path_;
    int fd_;
};

} // namespace

std::vector<std::uint8_t> random_bytes(std::size_t size, std::uint64_t seed)
{
    std::vector<std::uint8_t> bytes(size);
    RandomStream{seed}.fill(bytes);
    return bytes;
}

void write_file(const std::filesystem::path& path, std::span<const std::uint8_t> content)
{
    OutputFile file{path};
    file.write(content);
    file.close();
}

void write_file(const std::filesystem::path& path, std::string_view content)
{
    write_file(path, std::span{reinterpret_cast<const std::uint8_t*>(content.data()), content.size()});
}

void write_random_file(const std::filesystem::path& path, std::uint64_t size, std::uint64_t seed)
{
    RandomStream random{seed};
    std::vector<std::uint8_t> block(1 << 20);
    OutputFile file{path};
    for (std::uint64_t done = 0; done < size;) {
        const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(block.size(), size - done));
        random.fill(std::span{block}.first(n));
        file.write(std::span{block}.first(n));
        done += n;
    }
    file.close();
}

std::string read_file(const std::filesystem::path& path)
{
    std::ifstream in{path, std::ios::binary};
    if (!in) {
        fail("cannot open", path);
    }
    return std::string{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
}

void set_mtime(const std::filesystem::path& path, const timespec& mtime)
{
    const timespec times[2] = {timespec{0, UTIME_OMIT}, mtime};
    if (::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) {
        fail("cannot set the mtime of", path);
    }
}

} // namespace minisync::test
