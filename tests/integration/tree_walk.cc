// lstat-based recursive listing of a directory tree and content hashing of its files.
#include "tree_walk.h"

#include "dir_stream.h"
#include "path_rules.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace minisync::test {
namespace {

EntryKind kind_of(mode_t mode)
{
    if (S_ISREG(mode)) return EntryKind::File;
    if (S_ISDIR(mode)) return EntryKind::Directory;
    if (S_ISLNK(mode)) return EntryKind::Symlink;
    return EntryKind::Other;
}

void walk(const std::filesystem::path& dir, const std::string& relative, TreeListing& out)
{
    const DirStream handle{::opendir(dir.c_str())};
    if (!handle) {
        return;
    }
    while (const dirent* entry = ::readdir(handle.get())) {
        const std::string name = entry->d_name;
        if (name == "." || name == "..") {
            continue;
        }
        const std::filesystem::path absolute = dir / name;
        struct stat st{};
        if (::lstat(absolute.c_str(), &st) != 0) {
            continue;
        }
        const std::string child = relative.empty() ? name : relative + "/" + name;
        TreeEntry& item = out[child];
        item.kind = kind_of(st.st_mode);
        item.size = item.kind == EntryKind::File ? static_cast<std::uint64_t>(st.st_size) : 0;
        item.mode = st.st_mode & 07777;
        item.mtime = st.st_mtim;
        item.ctime = st.st_ctim;
        item.inode = st.st_ino;
        if (item.kind == EntryKind::Symlink) {
            std::error_code ec;
            item.link_target = std::filesystem::read_symlink(absolute, ec).string();
        }
        if (item.kind == EntryKind::Directory) {
            walk(absolute, child, out);
        }
    }
}

} // namespace

const char* to_string(EntryKind kind) noexcept
{
    switch (kind) {
    case EntryKind::File: return "file";
    case EntryKind::Directory: return "directory";
    case EntryKind::Symlink: return "symlink";
    case EntryKind::Other: return "other";
    }
    return "?";
}

TreeListing list_tree(const std::filesystem::path& root)
{
    TreeListing listing;
    walk(root, "", listing);
    return listing;
}

std::vector<std::string> find_partials(const std::filesystem::path& root)
{
    std::vector<std::string> partials;
    for (const auto& [path, entry] : list_tree(root)) {
        if (is_partial_name(std::filesystem::path{path}.filename().string())) {
            partials.push_back(path);
        }
    }
    return partials;
}

Sha256Digest file_sha256(const std::filesystem::path& path)
{
    const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        throw std::runtime_error("cannot open '" + path.string() + "': " + std::strerror(errno));
    }
    Sha256 hasher;
    std::vector<std::uint8_t> buffer(1 << 20);
    while (true) {
        const ssize_t n = ::read(fd, buffer.data(), buffer.size());
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            const int err = errno;
            ::close(fd);
            throw std::runtime_error("cannot read '" + path.string() + "': " + std::strerror(err));
        }
        if (n == 0) {
            break;
        }
        hasher.update(std::span{buffer.data(), static_cast<std::size_t>(n)});
    }
    ::close(fd);
    return hasher.finish();
}

std::string format_timespec(const timespec& t)
{
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%lld.%09ld", static_cast<long long>(t.tv_sec), t.tv_nsec);
    return buffer;
}

TreeListing files_only(TreeListing listing)
{
    std::erase_if(listing, [](const auto& item) { return item.second.kind != EntryKind::File; });
    return listing;
}

std::uint64_t partial_bytes(const std::filesystem::path& root)
{
    std::uint64_t bytes = 0;
    const TreeListing listing = list_tree(root);
    for (const std::string& path : find_partials(root)) {
        if (const auto it = listing.find(path); it != listing.end()) {
            bytes += it->second.size;
        }
    }
    return bytes;
}

} // namespace minisync::test
