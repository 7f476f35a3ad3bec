// An upload in several frames: UPLOAD_BEGIN, then DATA in order, then COMMIT. Holds the upload's place
// in the file (what the agent has sent) and hands the disk work to its strand. Loop thread only; the
// work it posts runs on workers and reports through the functions it is given.
//
// States (each left only as the table says; any state may also end, see below):
//   Admitted  --open()------------------------------------> Opening    (the partial is opened on the strand)
//   Opening   --opened(): UPLOAD_READY sent----------------> Receiving
//   Receiving --accept_data(): DATA at the next offset-----> Receiving
//   Receiving --accept_commit(): COMMIT after every byte---> Committing (hash checked, then group commit)
// Ends (the object is dropped by its table): from Opening with ALREADY_HAVE, HASH_WANTED or ERROR; from
// Committing with COMMITTED or ERROR; from any state with ERROR (a DATA or COMMIT that does not fit, a
// failed write), ABORT, SUSPEND, or the connection closing (which keeps the partial for a resume).
#pragma once

#include "group_commit.h"
#include "incoming_upload.h"
#include "libevent_handles.h"
#include "client_request.h"
#include "sha256.h"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

namespace minisync::server {

class UploadRequest final : public ClientRequest {
public:
    enum class State { Admitted, Opening, Receiving, Committing };
    // What a DATA or COMMIT frame means for this upload. OutOfPlace breaks the protocol (DATA before
    // UPLOAD_READY, COMMIT twice); the others fail the request only.
    enum class DataCheck { Accepted, OutOfPlace, Discontinuous };
    enum class CommitCheck { Accepted, OutOfPlace, Incomplete };

    using OpenReport = std::function<void(IncomingUpload::OpenResult)>;
    using WriteReport = std::function<void(IncomingUpload::WriteResult)>;
    using CommitReport = std::function<void(Result<void>)>;

    UploadRequest(Admission&& admission, std::uint64_t size) : ClientRequest{std::move(admission.path)}, size_{size} {}

    [[nodiscard]] State state() const noexcept { return state_; }
    [[nodiscard]] std::uint64_t size() const noexcept { return size_; }
    // The offset the next DATA must start at.
    [[nodiscard]] std::uint64_t next_offset() const noexcept { return next_offset_; }
    // After open().
    [[nodiscard]] const UploadTarget& target() const noexcept { return file_->target(); }

    // Admitted -> Opening. stop is checked while hashing an existing file, so a shutdown is not held up;
    // slot goes with the file and is given back once it is closed.
    void open(UploadTarget&& target, int root_fd, const std::atomic<bool>& stop, OpenReport report,
              ClientUploads::Slot&& slot);
    // Opening -> Receiving: the agent sends from offset (its resume offset, or 0).
    void opened(std::uint64_t offset) noexcept;
    // Accepted moves the next offset past the payload; nothing changes otherwise.
    [[nodiscard]] DataCheck accept_data(std::uint64_t offset, std::size_t length) noexcept;
    // After an accepted DATA: the payload (what remains of body) is written from the buffers it arrived in.
    void write(std::uint64_t offset, EvBufferPtr body, WriteReport report);
    // Accepted moves Receiving -> Committing; nothing changes otherwise.
    [[nodiscard]] CommitCheck accept_commit() noexcept;
    // After an accepted COMMIT: checks the hash, then the group commit makes the file durable.
    void commit(GroupCommitter& commits, const Sha256Digest& digest, CommitReport report);

    void discard_partial() override;

private:
    const std::uint64_t size_;
    std::uint64_t next_offset_ = 0;
    State state_ = State::Admitted;
    std::shared_ptr<IncomingUpload> file_; // from open()
};

} // namespace minisync::server
