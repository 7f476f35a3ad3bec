// Partial-file writing and the verified, durable commit of one uploaded file.
#include "incoming_upload.h"

#include "beneath.h"
#include "mirrored_metadata.h"
#include "path_rules.h"
#include "read_buffer.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <linux/magic.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <string>
#include <vector>

namespace minisync::server {
namespace {

// A partial is fsynced, and its durable length reported, after this many new bytes.
constexpr std::uint64_t ProgressInterval = 8U << 20;
// Files from this size on are written past the page cache (O_DIRECT), in blocks of DirectAlignment.
constexpr std::uint64_t DirectWritesFrom = 8U << 20;
constexpr std::size_t DirectAlignment = 4096;

} // namespace

IncomingUpload::OpenResult IncomingUpload::open(int root_fd)
{
    OpenResult result;
    auto parent = open_parent_beneath(root_fd, target_.client, target_.folder, target_.path, true);
    if (!parent.ok()) {
        result.error = parent.error();
        return result;
    }
    dir_fd_ = std::move(parent.value().fd);
    final_name_ = std::move(parent.value().name);

    struct stat st{};
    if (::fstatat(dir_fd_.get(), final_name_.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
        // The agent has a file where the server has a directory: an empty one (its files already
        // removed) simply makes way; one that still holds files is a conflict until they are gone.
        if (S_ISDIR(st.st_mode) && ::unlinkat(dir_fd_.get(), final_name_.c_str(), AT_REMOVEDIR) != 0) {
            result.error = Error{protocol::ErrorCode::Conflict, "'" + target_.path + "' is a directory on the server"};
            return result;
        }
        const bool same_size = S_ISREG(st.st_mode) && static_cast<std::uint64_t>(st.st_size) == target_.size;
        if (same_size && !target_.sha256 && target_.hash_if_present) {
            result.outcome = OpenOutcome::HashWanted;
            return result;
        }
        if (same_size && target_.sha256 && final_has_same_content(*target_.sha256)) {
            if (Result<void> updated = update_final_metadata(st); !updated.ok()) {
                result.error = updated.error();
                return result;
            }
            result.outcome = OpenOutcome::AlreadyHave;
            return result;
        }
    }

    partial_name_ = partial_name_for(final_name_);
    if (target_.resume_offset == 0) {
        return open_fresh_partial();
    }
    if (Result<void> room = check_room(); !room.ok()) {
        result.error = room.error();
        return result;
    }
    file_fd_.reset(::openat(dir_fd_.get(), partial_name_.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!file_fd_ || ::fstat(file_fd_.get(), &st) != 0) {
        result.error = fs_error_from_errno(errno, "open partial for '" + target_.path + "'");
        return result;
    }
    const std::uint64_t resume = target_.resume_offset;
    if (resume > 0 && static_cast<std::uint64_t>(st.st_size) >= resume) {
        const bool hashed = hash_partial_prefix(resume);
        if (stop_) {
            // Shutting down: an unfinished check proves nothing, and the partial stays as it is.
            result.error = Error{protocol::ErrorCode::Internal, "server shutting down"};
            return result;
        }
        if (hashed && hasher_.digest_so_far() == target_.prefix_sha256) {
            result.offset = resume;
        } else {
            hasher_.reset();
        }
    }
    // Bytes past the agreed offset are either unconfirmed or another version's: they are rewritten.
    if (::ftruncate(file_fd_.get(), static_cast<off_t>(result.offset)) != 0) {
        result.error = fs_error_from_errno(errno, "truncate partial for '" + target_.path + "'");
        return result;
    }
    start_direct_writes();
    result.outcome = OpenOutcome::Ready;
    return result;
}

IncomingUpload::OpenResult IncomingUpload::open_fresh_partial()
{
    OpenResult result;
    // Nothing of an older partial is kept: truncated as it opens, it gives its space back before the
    // room check, and no separate stat and truncate are needed.
    file_fd_.reset(::openat(dir_fd_.get(), partial_name_.c_str(),
                            O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!file_fd_) {
        result.error = fs_error_from_errno(errno, "open partial for '" + target_.path + "'");
        return result;
    }
    if (Result<void> room = check_room(); !room.ok()) {
        discard();
        result.error = room.error();
        return result;
    }
    start_direct_writes();
    result.outcome = OpenOutcome::Ready;
    return result;
}

Result<void> IncomingUpload::check_room() const
{
    // Checked against the limit of this process, which a service manager may set (LimitFSIZE=): a write
    // past it would fail with EFBIG, or end the process with SIGXFSZ where that signal is not ignored.
    rlimit limit{};
    if (::getrlimit(RLIMIT_FSIZE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY && target_.size > limit.rlim_cur) {
        return fs_error_from_errno(EFBIG, "'" + target_.path + "' has " + std::to_string(target_.size) +
                                              " bytes, over the server's file size limit of " +
                                              std::to_string(limit.rlim_cur));
    }
    // A partial of this version keeps the prefix the agent resumes from, if it holds that much; whatever
    // it holds beyond is cut off before writing, which gives that space back.
    // (A fresh upload has truncated its partial already.)
    struct stat partial{};
    const std::uint64_t held = target_.resume_offset > 0 &&
                                       ::fstatat(dir_fd_.get(), partial_name_.c_str(), &partial, AT_SYMLINK_NOFOLLOW) == 0 &&
                                       S_ISREG(partial.st_mode)
                                   ? static_cast<std::uint64_t>(partial.st_size)
                                   : 0;
    const std::uint64_t kept = held >= target_.resume_offset ? target_.resume_offset : 0;
    const std::uint64_t to_write = target_.size - kept;
    struct statvfs vfs{};
    if (::fstatvfs(dir_fd_.get(), &vfs) != 0) {
        return {}; // no figures to judge by: the writes will tell
    }
    // What an unprivileged user may still use: a server running as root leaves the root reserve alone.
    const std::uint64_t free_bytes = static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize + (held - kept);
    if (to_write > free_bytes) {
        return fs_error_from_errno(ENOSPC, "no room for '" + target_.path + "': " + std::to_string(to_write) +
                                               " bytes to write, " + std::to_string(free_bytes) + " free");
    }
    return {};
}

bool IncomingUpload::hash_partial_prefix(std::uint64_t length)
{
    const ReadBuffer buffer{length};
    for (std::uint64_t offset = 0; offset < length;) {
        if (stop_) {
            return false;
        }
        const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), length - offset));
        const ssize_t n = ::pread(file_fd_.get(), buffer.data(), want, static_cast<off_t>(offset));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        hasher_.update(buffer.first(static_cast<std::size_t>(n)));
        offset += static_cast<std::uint64_t>(n);
    }
    return true;
}

Result<void> IncomingUpload::update_final_metadata(const struct stat& current)
{
    const mode_t mode = static_cast<mode_t>(target_.mode) & MirroredModeBits;
    const timespec mtime = to_timespec(target_.mtime_ns);
    if ((current.st_mode & MirroredModeBits) == mode && current.st_mtim.tv_sec == mtime.tv_sec &&
        current.st_mtim.tv_nsec == mtime.tv_nsec) {
        return {};
    }
    UniqueFd fd{::openat(dir_fd_.get(), final_name_.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)};
    const timespec times[2] = {timespec{0, UTIME_OMIT}, mtime};
    if (!fd || ::fchmod(fd.get(), mode) != 0 || ::futimens(fd.get(), times) != 0 || ::fsync(fd.get()) != 0) {
        return fs_error_from_errno(errno, "update mode/mtime of '" + target_.path + "'");
    }
    return {};
}

bool IncomingUpload::final_has_same_content(const Sha256Digest& expected)
{
    UniqueFd fd{::openat(dir_fd_.get(), final_name_.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)};
    if (!fd) {
        return false;
    }
    Sha256 hasher;
    const ReadBuffer buffer{target_.size};
    while (!stop_) {
        const ssize_t n = ::read(fd.get(), buffer.data(), buffer.size());
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return false;
        }
        if (n == 0) {
            break;
        }
        hasher.update(buffer.first(static_cast<std::size_t>(n)));
    }
    return !stop_ && hasher.finish() == expected;
}

void IncomingUpload::start_direct_writes()
{
    // A large upload copied through the page cache costs the server more CPU in copies, reclaim and
    // write-back than the network and the hash together, and its pages are seldom read again. Where the
    // file system refuses O_DIRECT the upload simply stays buffered.
    if (target_.size < DirectWritesFrom) {
        return;
    }
    const int flags = ::fcntl(file_fd_.get(), F_GETFL);
    direct_ = flags >= 0 && ::fcntl(file_fd_.get(), F_SETFL, flags | O_DIRECT) == 0;
}

void IncomingUpload::stop_direct_writes()
{
    const int flags = ::fcntl(file_fd_.get(), F_GETFL);
    if (flags >= 0) {
        ::fcntl(file_fd_.get(), F_SETFL, flags & ~O_DIRECT);
    }
    direct_ = false;
}

std::optional<iovec> IncomingUpload::stage_for_direct_write(std::span<const iovec> pieces, std::size_t size)
{
    // O_DIRECT needs an aligned buffer too; one copy in memory is far cheaper than the page cache.
    if (direct_buffer_size_ < size) {
        direct_buffer_.reset(static_cast<std::uint8_t*>(std::aligned_alloc(DirectAlignment, size)));
        direct_buffer_size_ = direct_buffer_ ? size : 0;
    }
    if (!direct_buffer_) {
        stop_direct_writes();
        return std::nullopt;
    }
    std::uint8_t* next = direct_buffer_.get();
    for (const iovec& piece : pieces) {
        std::memcpy(next, piece.iov_base, piece.iov_len);
        next += piece.iov_len;
    }
    return iovec{direct_buffer_.get(), size};
}

IncomingUpload::WriteResult IncomingUpload::write(std::uint64_t offset, std::span<const std::uint8_t> data)
{
    const iovec whole{const_cast<std::uint8_t*>(data.data()), data.size()};
    return write(offset, std::span{&whole, 1});
}

IncomingUpload::WriteResult IncomingUpload::write(std::uint64_t offset, std::span<const iovec> pieces)
{
    WriteResult result;
    if (failed_ || !file_fd_) {
        return result;
    }
    std::size_t size = 0;
    for (const iovec& piece : pieces) {
        size += piece.iov_len;
    }
    std::optional<iovec> staged;
    if (direct_ && size > 0) {
        if (offset % DirectAlignment == 0 && size % DirectAlignment == 0) {
            staged = stage_for_direct_write(pieces, size);
        } else {
            stop_direct_writes(); // the tail of the file, or a resume from an odd offset
        }
    }
    std::optional<int> failure = write_all(staged ? std::span{&*staged, 1} : pieces, offset);
    if (failure == EINVAL && direct_) {
        stop_direct_writes(); // the device wants a larger alignment: the same bytes, buffered
        failure = write_all(pieces, offset);
    }
    if (failure) {
        failed_ = true;
        result.error = fs_error_from_errno(*failure, "write '" + target_.path + "'");
        return result;
    }
    for (const iovec& piece : pieces) {
        hasher_.update({static_cast<const std::uint8_t*>(piece.iov_base), piece.iov_len});
    }
    unsynced_bytes_ += size;
    if (unsynced_bytes_ >= ProgressInterval && offset + size < target_.size) {
        // A failed fsync may have dropped dirty pages, and the next fsync on this descriptor would not
        // say so again: the upload fails here rather than commit what the disk may not hold.
        if (::fdatasync(file_fd_.get()) != 0) {
            failed_ = true;
            result.error = fs_error_from_errno(errno, "fsync partial of '" + target_.path + "'");
            return result;
        }
        unsynced_bytes_ = 0;
        result.durable_offset = offset + size;
    }
    return result;
}

std::optional<int> IncomingUpload::write_all(std::span<const iovec> pieces, std::uint64_t offset)
{
    std::vector<iovec> left;
    left.reserve(pieces.size());
    std::copy_if(pieces.begin(), pieces.end(), std::back_inserter(left),
                 [](const iovec& piece) { return piece.iov_len > 0; });
    std::size_t first = 0;
    while (first < left.size()) {
        const int count = static_cast<int>(std::min<std::size_t>(left.size() - first, IOV_MAX));
        const ssize_t n = ::pwritev(file_fd_.get(), left.data() + first, count, static_cast<off_t>(offset));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return n < 0 ? errno : EIO;
        }
        offset += static_cast<std::uint64_t>(n);
        // A short write ends inside some piece: skip what was written and go on from there.
        for (auto written = static_cast<std::size_t>(n); written > 0;) {
            iovec& piece = left[first];
            const std::size_t step = std::min(written, piece.iov_len);
            piece.iov_base = static_cast<std::uint8_t*>(piece.iov_base) + step;
            piece.iov_len -= step;
            written -= step;
            if (piece.iov_len == 0) {
                ++first;
            }
        }
    }
    return std::nullopt;
}

Result<void> IncomingUpload::prepare_commit(const Sha256Digest& expected)
{
    if (failed_ || !file_fd_) {
        discard();
        return Error{protocol::ErrorCode::IoError, "'" + target_.path + "' had a failed write"};
    }
    struct stat st{};
    if (::fstat(file_fd_.get(), &st) != 0 || static_cast<std::uint64_t>(st.st_size) != target_.size) {
        discard();
        return Error{protocol::ErrorCode::SizeMismatch, "partial of '" + target_.path + "' has the wrong size"};
    }
    if (hasher_.finish() != expected) {
        discard();
        return Error{protocol::ErrorCode::HashMismatch, "SHA-256 of received '" + target_.path + "' does not match"};
    }
    const timespec times[2] = {timespec{0, UTIME_OMIT}, to_timespec(target_.mtime_ns)};
    if (::fchmod(file_fd_.get(), static_cast<mode_t>(target_.mode) & MirroredModeBits) != 0 ||
        ::futimens(file_fd_.get(), times) != 0) {
        const Error error = fs_error_from_errno(errno, "set mode/mtime of '" + target_.path + "'");
        discard();
        return error;
    }
    struct stat dir{};
    if (::fstat(dir_fd_.get(), &dir) != 0) {
        const Error error = fs_error_from_errno(errno, "stat the directory of '" + target_.path + "'");
        discard();
        return error;
    }
    directory_ = DirectoryId{dir.st_dev, dir.st_ino};
    return {};
}

Result<void> IncomingUpload::make_durable()
{
    // A failed fsync is never retried as a success: the kernel may have dropped the dirty pages.
    if (::fsync(file_fd_.get()) != 0) {
        const Error error = fs_error_from_errno(errno, "fsync '" + target_.path + "'");
        discard();
        return error;
    }
    return {};
}

Result<void> IncomingUpload::sync_file_system()
{
    // Reports a write-back error of any file on the file system since this partial was opened: the
    // group then fails as a whole, which is safe, where a success would not be.
    if (::syncfs(file_fd_.get()) != 0) {
        const Error error = fs_error_from_errno(errno, "syncfs for '" + target_.path + "'");
        discard();
        return error;
    }
    return {};
}

Result<void> IncomingUpload::check_written()
{
    // Everything was written by the syncfs, so this waits for nothing; it returns the error the
    // kernel recorded for this file's pages since this descriptor was opened.
    if (::sync_file_range(file_fd_.get(), 0, 0,
                          SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER) != 0) {
        const Error error = fs_error_from_errno(errno, "write-back of '" + target_.path + "'");
        discard();
        return error;
    }
    return {};
}

bool IncomingUpload::syncfs_is_enough() const
{
    static const bool kernel_reports_errors = [] {
        utsname name{};
        unsigned major = 0;
        unsigned minor = 0;
        return ::uname(&name) == 0 && std::sscanf(name.release, "%u.%u", &major, &minor) == 2 &&
               (major > 5 || (major == 5 && minor >= 8));
    }();
    struct statfs fs{};
    if (!kernel_reports_errors || ::fstatfs(file_fd_.get(), &fs) != 0) {
        return false;
    }
    switch (static_cast<unsigned long>(fs.f_type)) {
    case EXT4_SUPER_MAGIC: // also ext2 and ext3
    case XFS_SUPER_MAGIC:
    case BTRFS_SUPER_MAGIC:
    case TMPFS_MAGIC:
        return true;
    default:
        return false;
    }
}

Result<void> IncomingUpload::rename_into_place()
{
    if (::renameat(dir_fd_.get(), partial_name_.c_str(), dir_fd_.get(), final_name_.c_str()) != 0) {
        const Error error = fs_error_from_errno(errno, "rename into '" + target_.path + "'");
        discard();
        return error;
    }
    file_fd_.reset();
    return {};
}

Result<void> IncomingUpload::sync_directory()
{
    if (::fsync(dir_fd_.get()) != 0) {
        return fs_error_from_errno(errno, "fsync directory of '" + target_.path + "'");
    }
    return {};
}

IncomingUpload::PutResult IncomingUpload::put(int root_fd, std::span<const std::uint8_t> content)
{
    PutResult result;
    OpenResult opened = open(root_fd);
    if (opened.outcome == OpenOutcome::AlreadyHave) {
        result.already_had = true;
        return result;
    }
    if (opened.outcome != OpenOutcome::Ready) {
        result.stored = std::move(opened.error);
        return result;
    }
    if (WriteResult written = write(0, content); written.error) {
        discard();
        result.stored = std::move(*written.error);
        return result;
    }
    result.stored = prepare_commit(*target_.sha256);
    return result;
}

void IncomingUpload::discard()
{
    if (file_fd_) {
        file_fd_.reset();
        ::unlinkat(dir_fd_.get(), partial_name_.c_str(), 0);
    }
    failed_ = true;
}

} // namespace minisync::server
