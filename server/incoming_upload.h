// The disk side of one upload on the server: a hidden partial file beside the target, the running
// SHA-256 of what was written, and the durable commit (fsync, rename, fsync of the directory).
// Blocking; every method runs on the upload's strand, or for the last steps of the commit in a group
// commit while the strand is held, never on the loop thread.
#pragma once

#include "client_uploads.h"
#include "fs_error.h"
#include "sha256.h"
#include "unique_fd.h"

#include <sys/stat.h>
#include <sys/uio.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>

namespace minisync::server {

struct UploadTarget {
    std::string client;
    std::string folder;
    std::string path; // validated relative path
    std::uint64_t size = 0;
    std::int64_t mtime_ns = 0;
    std::uint32_t mode = 0644;
    std::optional<Sha256Digest> sha256;
    bool hash_if_present = false; // without sha256: ask for it when a file of this size is there
    std::uint64_t resume_offset = 0;
    Sha256Digest prefix_sha256{};
};

class IncomingUpload {
public:
    // HashWanted: no hash was given, but a file of this size is at the path; it may be this one.
    enum class OpenOutcome { Ready, AlreadyHave, HashWanted, Failed };
    struct OpenResult {
        OpenOutcome outcome = OpenOutcome::Failed;
        std::uint64_t offset = 0;
        Error error{ErrorCode::IoError, {}}; // when the outcome is Failed
    };

    // stop is checked while hashing an existing file, so a server shutting down is not held up. slot is
    // the upload's place among its client's open uploads, given back once the file's descriptors are closed.
    IncomingUpload(UploadTarget target, const std::atomic<bool>& stop, ClientUploads::Slot&& slot = {})
        : target_{std::move(target)}, stop_{stop}, slot_{std::move(slot)}
    {
    }

    struct WriteResult {
        std::optional<Error> error; // the write failed
        // Set when this write ended with an fsync: everything below this offset survives a crash.
        std::optional<std::uint64_t> durable_offset;
    };

    // Reuses a partial left by an interrupted upload when it begins with the prefix the agent
    // announced (same length and SHA-256); otherwise starts the partial afresh.
    OpenResult open(int root_fd);
    // After the first failure further writes are skipped; the failure is returned once.
    WriteResult write(std::uint64_t offset, std::span<const std::uint8_t> data);
    // The same for data in pieces (a frame body as it arrived in the connection's buffers), in order.
    WriteResult write(std::uint64_t offset, std::span<const iovec> pieces);

    // The durable commit, in the order it must happen; GroupCommitter runs the last three for many
    // uploads of one directory together. Each step that fails discards the partial.
    // 1. Checks size and SHA-256 and applies mode and mtime.
    Result<void> prepare_commit(const Sha256Digest& expected);
    // 2. fsync of the partial file; or, for a whole group at once, syncfs of the file system it is on.
    Result<void> make_durable();
    Result<void> sync_file_system();
    // After sync_file_system(): any write-back error of this file since it was opened (no I/O, no flush).
    Result<void> check_written();
    // Whether syncfs reports write-back errors here: Linux 5.8 or later, on a local file system that
    // implements it fully (ext4, XFS, Btrfs, tmpfs). Elsewhere a group falls back to an fsync each.
    [[nodiscard]] bool syncfs_is_enough() const;
    // 3. Renames the partial to the real name.
    Result<void> rename_into_place();
    // 4. fsync of the directory, which makes the renames in it durable (any upload's in it).
    Result<void> sync_directory();

    // A whole file at once (PUT_FILE; the target carries its hash): open, write and prepare_commit(), or
    // nothing to write when the final file already has this content (AlreadyHave; mode and mtime applied).
    struct PutResult {
        bool already_had = false;
        Result<void> stored; // the failure that stopped it, if any
    };
    PutResult put(int root_fd, std::span<const std::uint8_t> content);
    // Removes the partial file; safe to call in any state.
    void discard();

    [[nodiscard]] const UploadTarget& target() const noexcept { return target_; }
    // The directory the file goes into, known after prepare_commit().
    using DirectoryId = std::pair<dev_t, ino_t>;
    [[nodiscard]] DirectoryId directory() const noexcept { return directory_; }

private:
    // Refuses, before a byte is sent, an upload that cannot fit: streamed anyway, it would fill the disk
    // to its last block, failing every other upload meanwhile, and again at each of the agent's retries.
    // Uploads checked side by side may still not fit together; their writes then fail with NO_SPACE.
    [[nodiscard]] Result<void> check_room() const;
    // open() for an upload from offset 0.
    OpenResult open_fresh_partial();
    // Large files bypass the page cache while their writes stay block-aligned.
    void start_direct_writes();
    void stop_direct_writes();
    // The pieces copied into one aligned buffer for O_DIRECT; nothing when no such buffer could be had
    // (direct writes are then stopped).
    std::optional<iovec> stage_for_direct_write(std::span<const iovec> pieces, std::size_t size);
    // Every byte of the pieces written at offset; errno when a write failed.
    std::optional<int> write_all(std::span<const iovec> pieces, std::uint64_t offset);
    bool final_has_same_content(const Sha256Digest& expected);
    // Feeds the first length bytes of the open partial to the running hash; false on a read error.
    bool hash_partial_prefix(std::uint64_t length);
    // Same content, new mode or mtime (a chmod or touch on the agent): applied in place, durably.
    Result<void> update_final_metadata(const struct stat& current);

    UploadTarget target_;
    const std::atomic<bool>& stop_;
    // Before the descriptors, so it goes after they are closed.
    ClientUploads::Slot slot_;
    UniqueFd dir_fd_;
    UniqueFd file_fd_;
    std::string final_name_;
    std::string partial_name_;
    DirectoryId directory_{};
    Sha256 hasher_;
    std::uint64_t unsynced_bytes_ = 0;
    bool failed_ = false;
    bool direct_ = false;
    struct FreeAligned {
        void operator()(std::uint8_t* buffer) const noexcept { std::free(buffer); }
    };
    std::unique_ptr<std::uint8_t, FreeAligned> direct_buffer_;
    std::size_t direct_buffer_size_ = 0;
};

} // namespace minisync::server
