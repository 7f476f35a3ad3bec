// PUT_FILE's one strand task, from the frame's bytes to the group commit.
#include "put_file_request.h"

#include <cassert>
#include <span>
#include <utility>

namespace minisync::server {

void PutFileRequest::put(UploadTarget&& target, int root_fd, const std::atomic<bool>& stop, GroupCommitter& commits,
                         ByteBuffer&& body, std::size_t content_offset, PutReport report,
                         ClientUploads::Slot&& slot)
{
    assert(state_ == State::Admitted);
    state_ = State::Committing;
    file_ = std::make_shared<IncomingUpload>(std::move(target), stop, std::move(slot));
    strand()->post_held([file = file_, root_fd, &commits, content_offset, body = std::move(body),
                         report = std::move(report)](Strand::Resume resume) mutable {
        IncomingUpload::PutResult result = file->put(root_fd, std::span{body}.subspan(content_offset));
        body = {}; // written: the memory goes back now, not after the group commit
        if (result.already_had) {
            report(std::move(result));
            resume();
            return;
        }
        commit_or_report(commits, std::move(file), std::move(result.stored),
                         [report](Result<void> committed) {
                             report(IncomingUpload::PutResult{.already_had = false, .stored = std::move(committed)});
                         },
                         std::move(resume));
    });
}

void PutFileRequest::discard_partial()
{
    if (file_) {
        strand()->post([file = file_] { file->discard(); });
    }
}

} // namespace minisync::server
