// Opening, hashing and chunked reading of a file being uploaded, with change detection.
#include "outgoing_file.h"

#include "open_beneath.h"
#include "read_buffer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

namespace minisync::agent {
namespace {

std::int64_t mtime_ns_of(const struct stat& st)
{
    return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

// Fills the buffer unless end of file comes first; returns bytes read or -1.
ssize_t read_fully(int fd, std::uint8_t* buffer, std::size_t length, std::uint64_t offset)
{
    std::size_t done = 0;
    while (done < length) {
        const ssize_t n = ::pread(fd, buffer + done, length - done, static_cast<off_t>(offset + done));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return -1;
        }
        if (n == 0) {
            break;
        }
        done += static_cast<std::size_t>(n);
    }
    return static_cast<ssize_t>(done);
}

std::int64_t now_ns(clockid_t clock)
{
    timespec now{};
    ::clock_gettime(clock, &now);
    return static_cast<std::int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
}

std::int64_t coarse_now_ns()
{
    return now_ns(CLOCK_REALTIME_COARSE);
}

std::int64_t fine_now_ns()
{
    return now_ns(CLOCK_REALTIME);
}

} // namespace

void OutgoingFile::wait_for_tick_after_mtime(struct stat& st)
{
    // The kernel stamps mtime from a coarse clock. A file written in the current tick could be written
    // again in the same tick without its mtime changing, and a read racing that write would go unnoticed.
    // Once the coarse clock has moved past the mtime, any later write shows as a later mtime.
    // A file stamped in the future (touch -d) gets no such guarantee and is not waited for.
    constexpr std::int64_t MaxWaitNs = 50'000'000;
    // Past the tick's expected time, so that one sleep is normally enough despite timer slack.
    constexpr std::int64_t TickMarginNs = 100'000;
    timespec resolution{};
    ::clock_getres(CLOCK_REALTIME_COARSE, &resolution);
    const std::int64_t tick_ns = static_cast<std::int64_t>(resolution.tv_sec) * 1'000'000'000 + resolution.tv_nsec;
    // Bounded by time, not by a count of sleeps: a coarse clock that lags (a tickless CPU catching up)
    // makes the computed sleeps short, and they must still add up to more than a tick or two.
    const std::int64_t give_up = fine_now_ns() + MaxWaitNs + 2 * tick_ns;
    while (fine_now_ns() < give_up) {
        const std::int64_t coarse = coarse_now_ns();
        const std::int64_t lead = mtime_ns_of(st) - coarse;
        if (lead < 0 || lead > MaxWaitNs) {
            return;
        }
        // The coarse clock shows the time of its last tick: the next one is due a tick after that, which
        // is on average half a tick away, not a whole one.
        const std::int64_t since_tick = std::clamp<std::int64_t>(fine_now_ns() - coarse, 0, tick_ns);
        const std::int64_t wait = std::max<std::int64_t>(lead, tick_ns - since_tick) + TickMarginNs;
        const timespec pause{static_cast<time_t>(wait / 1'000'000'000), static_cast<long>(wait % 1'000'000'000)};
        ::nanosleep(&pause, nullptr);
        if (::fstat(fd_.get(), &st) != 0) {
            return;
        }
    }
}

Result<OutgoingFile::Opened> OutgoingFile::open(bool hash_first, const std::optional<ResumeHint>& resume,
                                                std::size_t inline_limit)
{
    Opened opened;
    const UniqueFd root = open_folder_root(folder_root_);
    if (!root) {
        // Not Gone: a folder moved away or unmounted says nothing about its files.
        return Error{ErrorCode::IoError,
                     "folder '" + folder_root_.path + "' is missing or is no longer the directory watched at start"};
    }
    // O_NONBLOCK: a FIFO put where a file was must not hang the worker.
    fd_ = open_beneath(root.get(), relative_path_.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY, folder_root_.mounts);
    if (!fd_) {
        // ELOOP: the path is a symlink, or crosses one (then it is not this folder's entry any more).
        const int err = errno;
        if (err != ENOENT && err != ELOOP && err != EXDEV && err != ENOTDIR) {
            return Error{err == EACCES || err == EPERM ? ErrorCode::PermissionDenied : ErrorCode::IoError,
                         "cannot open '" + display_path() + "': " + std::strerror(err), err};
        }
        opened.status = Status::Gone;
        if (err == ELOOP) {
            describe_other_entry(root.get(), opened);
        }
        return opened;
    }
    struct stat st{};
    if (::fstat(fd_.get(), &st) != 0) {
        const int err = errno;
        return Error{ErrorCode::IoError, "cannot stat '" + display_path() + "': " + std::strerror(err), err};
    }
    if (!S_ISREG(st.st_mode)) {
        fd_.reset();
        opened.status = Status::Gone;
        describe_other_entry(root.get(), opened);
        return opened;
    }
    wait_for_tick_after_mtime(st);
    ::posix_fadvise(fd_.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
    version_ = FileVersion{static_cast<std::uint64_t>(st.st_size), mtime_ns_of(st), static_cast<std::uint64_t>(st.st_ino)};
    opened.version = version_;
    opened.mode = st.st_mode & 07777;
    if (resume && resume->version == version_ && resume->offset > 0 && resume->offset <= version_.size) {
        // The prefix goes into the running hash: the commit hash covers the whole file.
        if (hash_range(hasher_, resume->offset) == resume->offset) {
            opened.resume_offset = resume->offset;
            opened.prefix_sha256 = hasher_.digest_so_far();
        } else {
            hasher_.reset();
        }
    } else if (version_.size <= inline_limit) {
        read_whole(opened);
    } else if (hash_first) {
        Sha256 hasher;
        hash_range(hasher, version_.size);
        first_hash_ = hasher.finish();
        opened.sha256 = first_hash_;
    }
    opened.status = Status::Ready;
    return opened;
}

bool OutgoingFile::read_whole(Opened& opened)
{
    // One byte more than expected, so that a file that grew is noticed without another call.
    std::vector<std::uint8_t> content(version_.size + 1);
    const ssize_t n = read_fully(fd_.get(), content.data(), content.size(), 0);
    struct stat st{};
    if (n != static_cast<ssize_t>(version_.size) || ::fstat(fd_.get(), &st) != 0 ||
        static_cast<std::uint64_t>(st.st_size) != version_.size || mtime_ns_of(st) != version_.mtime_ns) {
        return false; // changed while read: sent the ordinary way, whose commit check sees the change
    }
    content.resize(version_.size);
    hasher_.update(content);
    opened.sha256 = hasher_.finish();
    opened.content = std::move(content);
    fd_.reset();
    return true;
}

void OutgoingFile::describe_other_entry(int root_fd, Opened& opened)
{
    // The parent is reached without crossing a symlink; the entry itself is looked at, never followed.
    const std::size_t slash = relative_path_.rfind('/');
    const std::string name = slash == std::string::npos ? relative_path_ : relative_path_.substr(slash + 1);
    UniqueFd parent;
    if (slash != std::string::npos) {
        parent = open_beneath(root_fd, relative_path_.substr(0, slash).c_str(), O_PATH | O_DIRECTORY, folder_root_.mounts);
        if (!parent) {
            return;
        }
    }
    const int dir_fd = parent ? parent.get() : root_fd;
    struct stat st{};
    if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        return;
    }
    opened.version = FileVersion{S_ISDIR(st.st_mode) ? 0 : static_cast<std::uint64_t>(st.st_size), mtime_ns_of(st),
                                 static_cast<std::uint64_t>(st.st_ino)};
    opened.mode = st.st_mode & 07777;
    if (S_ISDIR(st.st_mode)) {
        opened.status = Status::Directory;
    } else if (S_ISLNK(st.st_mode)) {
        std::string target(static_cast<std::size_t>(st.st_size) + 1, '\0');
        const ssize_t n = ::readlinkat(dir_fd, name.c_str(), target.data(), target.size());
        if (n <= 0 || static_cast<std::size_t>(n) == target.size()) {
            return; // replaced meanwhile; the event that replaced it sends it again
        }
        target.resize(static_cast<std::size_t>(n));
        opened.link_target = std::move(target);
        opened.status = Status::Symlink;
    } else if (!S_ISREG(st.st_mode)) {
        opened.status = Status::Special;
    }
}

std::uint64_t OutgoingFile::hash_range(Sha256& hasher, std::uint64_t length)
{
    const ReadBuffer buffer{length};
    std::uint64_t offset = 0;
    while (offset < length && !stop_) {
        const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), length - offset));
        const ssize_t n = read_fully(fd_.get(), buffer.data(), want, offset);
        if (n <= 0) {
            break; // shrank while hashing; finish() will notice the change
        }
        hasher.update(buffer.first(static_cast<std::size_t>(n)));
        offset += static_cast<std::uint64_t>(n);
    }
    return offset;
}

OutgoingFile::Chunk OutgoingFile::read(std::uint64_t offset, ByteBuffer&& buffer)
{
    const std::size_t length = buffer.size();
    const ssize_t n = read_fully(fd_.get(), buffer.data(), length, offset);
    if (n < 0) {
        const int err = errno;
        return Error{ErrorCode::IoError, "cannot read '" + display_path() + "': " + std::strerror(err), err};
    }
    if (static_cast<std::size_t>(n) != length) {
        return Error{ErrorCode::IoError, "'" + display_path() + "' shrank while being sent"};
    }
    hasher_.update(buffer);
    return std::move(buffer);
}

OutgoingFile::Finished OutgoingFile::finish()
{
    Finished finished;
    finished.sha256 = hasher_.finish();
    struct stat st{};
    const bool same_content = !first_hash_ || *first_hash_ == finished.sha256;
    const bool stat_ok = ::fstat(fd_.get(), &st) == 0;
    finished.unchanged = stat_ok && static_cast<std::uint64_t>(st.st_size) == version_.size &&
                         mtime_ns_of(st) == version_.mtime_ns && same_content;
    finished.only_grew = stat_ok && !finished.unchanged && same_content &&
                         static_cast<std::uint64_t>(st.st_size) >= version_.size;
    fd_.reset();
    return finished;
}

} // namespace minisync::agent
