// Durable commits a directory at a time. Uploads that become ready for one directory while a group is
// being committed there wait and go together as the next group: the files are made durable (fsync for
// a group of one; for more, one syncfs, which writes them all and flushes the disk's cache once, then a
// check of each file's own write-back errors; an fsync each where syncfs cannot be trusted to report
// errors), all are renamed into place, and one fsync of the directory covers every rename. Only then is any of them
// reported done. Groups of different directories run side by side on the worker pool.
#pragma once

#include "fs_error.h"
#include "incoming_upload.h"
#include "worker_pool.h"

#include <prometheus/counter.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

namespace minisync::server {

class GroupCommitter {
public:
    // Runs on a worker thread once the file is durable under its real name, or with the error that
    // stopped it (its partial then discarded, unless only the directory's fsync failed).
    using Done = std::function<void(Result<void>)>;

    GroupCommitter(WorkerPool& pool, prometheus::Counter& directory_syncs) : pool_{pool}, directory_syncs_{directory_syncs}
    {
    }
    GroupCommitter(const GroupCommitter&) = delete;
    GroupCommitter& operator=(const GroupCommitter&) = delete;

    // The upload has passed prepare_commit(). A worker thread: it may run the group itself.
    void submit(std::shared_ptr<IncomingUpload> upload, Done done);

private:
    struct Waiting {
        std::shared_ptr<IncomingUpload> upload;
        Done done;
    };

    void run_group(IncomingUpload::DirectoryId directory);
    void commit(std::vector<Waiting>& group);

    WorkerPool& pool_;
    prometheus::Counter& directory_syncs_;
    std::mutex mutex_;
    // A directory is listed while a group of it is scheduled or running; what waits there is the next group.
    std::map<IncomingUpload::DirectoryId, std::vector<Waiting>> directories_;
};

// The end of a held strand task whose upload went through prepare_commit() (with error, if it failed):
// the group commit takes it, or the error is reported at once; either way the strand resumes once the
// report is made.
void commit_or_report(GroupCommitter& commits, std::shared_ptr<IncomingUpload> upload, Result<void> prepared,
                      GroupCommitter::Done report, Strand::Resume resume);

} // namespace minisync::server
