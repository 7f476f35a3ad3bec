// A file transfer's disk side on its upload's strand: the reads, the final hash and a restart of the hash
// run there, and their results come back to the loop through the inbox, addressed by job id, since the
// job may have ended meanwhile.
#pragma once

#include "file_transfer.h"
#include "loop_inbox.h"
#include "outgoing_file.h"
#include "worker_pool.h"

#include <cstddef>
#include <cstdint>
#include <memory>

namespace minisync::agent {

class StrandDisk final : public FileTransfer::Disk {
public:
    // Where the results go, on the loop thread.
    class Results {
    public:
        virtual void on_chunk(std::uint64_t job_id, std::uint64_t offset, std::size_t length,
                              OutgoingFile::Chunk&& chunk) = 0;
        virtual void on_finished(std::uint64_t job_id, const OutgoingFile::Finished& finished) = 0;

    protected:
        ~Results() = default;
    };

    StrandDisk(LoopInbox& inbox, Results& results, std::uint64_t job_id, std::shared_ptr<OutgoingFile> file,
               std::shared_ptr<Strand> strand);

    void read(std::uint64_t offset, std::size_t length) override;
    void finish() override;
    void restart() override;

private:
    LoopInbox& inbox_;
    Results& results_;
    const std::uint64_t job_id_;
    const std::shared_ptr<OutgoingFile> file_;
    const std::shared_ptr<Strand> strand_;
};

} // namespace minisync::agent
