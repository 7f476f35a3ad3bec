// An upload's state checks and the strand work of its three steps: open, write, commit.
#include "upload_request.h"

#include <sys/uio.h>

#include <algorithm>
#include <cassert>
#include <utility>
#include <vector>

namespace minisync::server {
namespace {

// The buffers that hold body, in order, for a write without first joining them.
std::vector<iovec> pieces_of(evbuffer* body)
{
    const int count = evbuffer_peek(body, -1, nullptr, nullptr, 0);
    std::vector<evbuffer_iovec> found(static_cast<std::size_t>(std::max(count, 0)));
    evbuffer_peek(body, -1, nullptr, found.data(), count);
    std::vector<iovec> pieces;
    pieces.reserve(found.size());
    for (const evbuffer_iovec& piece : found) {
        pieces.push_back(iovec{piece.iov_base, piece.iov_len});
    }
    return pieces;
}

} // namespace

void UploadRequest::open(UploadTarget&& target, int root_fd, const std::atomic<bool>& stop, OpenReport report,
                         ClientUploads::Slot&& slot)
{
    assert(state_ == State::Admitted);
    state_ = State::Opening;
    file_ = std::make_shared<IncomingUpload>(std::move(target), stop, std::move(slot));
    strand()->post([file = file_, root_fd, report = std::move(report)] { report(file->open(root_fd)); });
}

void UploadRequest::opened(std::uint64_t offset) noexcept
{
    assert(state_ == State::Opening);
    state_ = State::Receiving;
    next_offset_ = offset;
}

UploadRequest::DataCheck UploadRequest::accept_data(std::uint64_t offset, std::size_t length) noexcept
{
    if (state_ != State::Receiving) {
        return DataCheck::OutOfPlace;
    }
    if (offset != next_offset_ || length > size_ - next_offset_) {
        return DataCheck::Discontinuous;
    }
    next_offset_ += length;
    return DataCheck::Accepted;
}

void UploadRequest::write(std::uint64_t offset, EvBufferPtr body, WriteReport report)
{
    assert(state_ == State::Receiving);
    // The body is the worker's alone from here.
    strand()->post([file = file_, offset, body = std::shared_ptr<evbuffer>{std::move(body)},
                    report = std::move(report)] { report(file->write(offset, pieces_of(body.get()))); });
}

UploadRequest::CommitCheck UploadRequest::accept_commit() noexcept
{
    if (state_ != State::Receiving) {
        return CommitCheck::OutOfPlace;
    }
    if (next_offset_ != size_) {
        return CommitCheck::Incomplete;
    }
    state_ = State::Committing;
    return CommitCheck::Accepted;
}

void UploadRequest::commit(GroupCommitter& commits, const Sha256Digest& digest, CommitReport report)
{
    assert(state_ == State::Committing);
    strand()->post_held(
        [&commits, file = file_, digest, report = std::move(report)](Strand::Resume resume) mutable {
            Result<void> prepared = file->prepare_commit(digest);
            commit_or_report(commits, file, std::move(prepared), std::move(report), std::move(resume));
        });
}

void UploadRequest::discard_partial()
{
    if (file_) {
        strand()->post([file = file_] { file->discard(); });
    }
}

} // namespace minisync::server
