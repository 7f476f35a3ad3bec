// The disk side of one upload on the agent: the open file, its identity when opened, and the SHA-256
// of exactly the bytes read for sending. Blocking; every method runs on the upload's strand.
#pragma once

#include "byte_buffer.h"
#include "file_version.h"
#include "folder_root.h"
#include "result.h"
#include "sha256.h"
#include "sync_queue.h"
#include "unique_fd.h"

#include <sys/stat.h>

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace minisync::agent {

class OutgoingFile {
public:
    // Directory and Symlink: the path holds that instead of a file (version, mode and link_target tell
    // what to mirror); Special: a FIFO, socket or device, which is never synced.
    enum class Status { Ready, Directory, Symlink, Special, Gone };

    struct Opened {
        Status status = Status::Gone;
        FileVersion version;
        std::uint32_t mode = 0;
        std::string link_target;
        std::optional<Sha256Digest> sha256; // when hashing first was asked for, or the content was read
        // The whole file, when it was small enough to be read at once (and did not change meanwhile); its
        // SHA-256 is in sha256, and nothing more is read.
        std::optional<std::vector<std::uint8_t>> content;
        // When the resume hint still matches the file: where to continue, and the hash of what precedes.
        std::uint64_t resume_offset = 0;
        Sha256Digest prefix_sha256{};
    };

    // The bytes read, or why they could not be (a read error, or the file shrank): the upload must then
    // start over.
    using Chunk = Result<ByteBuffer>;

    struct Finished {
        bool unchanged = false; // same size, mtime and content as when opened
        // Changed, but only by growing: the bytes sent are then the file as it was up to its size when
        // opened, if it was only appended to (a log); a rewrite in place cannot be told apart from that.
        bool only_grew = false;
        Sha256Digest sha256{};
    };

    // stop is checked while hashing, so a daemon shutting down is not held up by a large file.
    OutgoingFile(FolderRoot folder_root, std::string relative_path, const std::atomic<bool>& stop)
        : folder_root_{std::move(folder_root)}, relative_path_{std::move(relative_path)}, stop_{stop}
    {
    }

    // A file of at most inline_limit bytes is read whole, unless resuming. Fails when the path could not
    // be looked at (a missing folder, a permission, an I/O error): that is no answer about the file, which
    // Gone is.
    Result<Opened> open(bool hash_first, const std::optional<ResumeHint>& resume, std::size_t inline_limit = 0);
    // The server did not take the resume offset: the running hash starts again from byte 0.
    void restart() { hasher_.reset(); }
    // Reads buffer.size() bytes at offset into buffer. Reads must come in offset order: they feed the
    // running hash.
    Chunk read(std::uint64_t offset, ByteBuffer&& buffer);
    Finished finish();

private:
    // What is at the path when it is not a regular file that could be opened.
    void describe_other_entry(int root_fd, Opened& opened);
    // Blocks (on the worker) until the clock that stamps mtimes has moved past this file's mtime.
    void wait_for_tick_after_mtime(struct stat& st);
    // Reads the whole (small) file and hashes it; false if it changed while being read.
    bool read_whole(Opened& opened);
    // Feeds up to length bytes from the start of the file to hasher; returns how many it fed.
    std::uint64_t hash_range(Sha256& hasher, std::uint64_t length);
    [[nodiscard]] std::string display_path() const { return folder_root_.path + "/" + relative_path_; }

    FolderRoot folder_root_;
    std::string relative_path_;
    const std::atomic<bool>& stop_;
    UniqueFd fd_;
    FileVersion version_;
    std::optional<Sha256Digest> first_hash_;
    Sha256 hasher_;
};

} // namespace minisync::agent
