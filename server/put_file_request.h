// A whole file in one frame (PUT_FILE, for small files): opened, written, checked and committed in one
// held strand task, so a small file costs one hand-off each way. Loop thread only; the work it posts
// runs on a worker and reports through the function it is given.
//
// States:
//   Admitted --put()--> Committing (open, ALREADY_HAVE check, write, hash check, then group commit)
// Ends (the object is dropped by its table): from Committing with COMMITTED, ALREADY_HAVE or ERROR;
// from any state with ERROR, ABORT, SUSPEND, or the connection closing. DATA and COMMIT have no place
// in any state.
#pragma once

#include "byte_buffer.h"
#include "group_commit.h"
#include "incoming_upload.h"
#include "client_request.h"

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>

namespace minisync::server {

class PutFileRequest final : public ClientRequest {
public:
    enum class State { Admitted, Committing };
    using PutReport = std::function<void(IncomingUpload::PutResult)>;

    explicit PutFileRequest(Admission&& admission) : ClientRequest{std::move(admission.path)} {}

    [[nodiscard]] State state() const noexcept { return state_; }
    // After put().
    [[nodiscard]] const UploadTarget& target() const noexcept { return file_->target(); }

    // Admitted -> Committing. The content is the frame's body from content_offset on; the body is freed
    // as soon as it is written, not after the group commit. slot goes with the file and is given back once
    // it is closed.
    void put(UploadTarget&& target, int root_fd, const std::atomic<bool>& stop, GroupCommitter& commits,
             ByteBuffer&& body, std::size_t content_offset, PutReport report, ClientUploads::Slot&& slot);

    void discard_partial() override;

private:
    State state_ = State::Admitted;
    std::shared_ptr<IncomingUpload> file_; // from put()
};

} // namespace minisync::server
