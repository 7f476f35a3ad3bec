// Posting a transfer's disk work to its strand and its results back to the loop.
#include "strand_disk.h"

namespace minisync::agent {

StrandDisk::StrandDisk(LoopInbox& inbox, Results& results, std::uint64_t job_id, std::shared_ptr<OutgoingFile> file,
                       std::shared_ptr<Strand> strand)
    : inbox_{inbox}, results_{results}, job_id_{job_id}, file_{std::move(file)}, strand_{std::move(strand)}
{
}

void StrandDisk::read(std::uint64_t offset, std::size_t length)
{
    // Allocated here and freed here once sent: the loop thread's heap, which an idle agent hands back
    // (a worker's heap keeps what it frees at its top, where malloc_trim() does not reach).
    strand_->post([&inbox = inbox_, &results = results_, file = file_, id = job_id_, offset, length,
                   buffer = ByteBuffer(length)]() mutable {
        OutgoingFile::Chunk chunk = file->read(offset, std::move(buffer));
        inbox.post([&results, id, offset, length, chunk = std::move(chunk)]() mutable {
            results.on_chunk(id, offset, length, std::move(chunk));
        });
    });
}

void StrandDisk::finish()
{
    strand_->post([&inbox = inbox_, &results = results_, file = file_, id = job_id_] {
        const OutgoingFile::Finished finished = file->finish();
        inbox.post([&results, id, finished] { results.on_finished(id, finished); });
    });
}

void StrandDisk::restart()
{
    strand_->post([file = file_] { file->restart(); });
}

} // namespace minisync::agent
