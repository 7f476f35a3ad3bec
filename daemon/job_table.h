// The scheduler's jobs in flight, found by id, by path and by request id, and the order rules between
// them: a rename and anything on either of its paths exclude each other, as do a tree removal and
// anything below it. Loop thread only.
#pragma once

#include "file_transfer.h"
#include "outgoing_file.h"
#include "request.h"
#include "sync_queue.h"
#include "worker_pool.h"

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace minisync::agent {

// One queued item on its way through the scheduler (see request_scheduler.h).
struct Job {
    std::uint64_t id = 0;
    SyncItem item;
    std::string key; // folder and path: one job per path
    std::shared_ptr<OutgoingFile> file;
    std::shared_ptr<Strand> strand;
    std::unique_ptr<FileTransfer::Disk> disk; // outlives the request, which holds it as its Disk
    std::unique_ptr<Request> request;         // none while the path is being looked at
    FileTransfer* transfer = nullptr;         // the request, when it is a file transfer (read-ahead walks these)
    bool changed_again = false;               // another event came in while this job ran
    bool recheck = false;                     // events were lost while this upload ran
    SyncItem::Kind latest_kind = SyncItem::Kind::Upload; // what that event asked for
    bool latest_tree = false;                            // and whether a directory went meanwhile
};

class JobTable {
public:
    using Jobs = std::map<std::uint64_t, Job>;

    // A new job for the item, under a new id.
    Job& add(SyncItem item);
    // The job's request has been sent: its replies find the job by the request's id.
    void attach(Job& job, std::unique_ptr<Request> request);
    void attach(Job& job, std::unique_ptr<FileTransfer> transfer);
    [[nodiscard]] Job* find(std::uint64_t id);
    [[nodiscard]] Job* find_by_path(const SyncItem& item);
    [[nodiscard]] Job* find_by_request(std::uint32_t request_id);
    // Removes the job from every index and hands it over.
    Job take(std::uint64_t id);
    // Every job, in the order they were added; the table is empty afterwards.
    std::vector<Job> take_all();

    // True while the item must wait for a job in flight.
    [[nodiscard]] bool must_wait(const SyncItem& item) const;
    // True when another job works on a path below the job's path.
    [[nodiscard]] bool any_below(const Job& job) const;
    // Changes what a job in flight does: every change of a job's kind or tree goes through here, which
    // keeps wide_jobs_ true.
    void retarget(Job& job, SyncItem::Kind kind, bool tree);

    [[nodiscard]] std::size_t size() const noexcept { return jobs_.size(); }
    [[nodiscard]] bool empty() const noexcept { return jobs_.empty(); }
    [[nodiscard]] Jobs::iterator begin() noexcept { return jobs_.begin(); }
    [[nodiscard]] Jobs::iterator end() noexcept { return jobs_.end(); }
    [[nodiscard]] Jobs::const_iterator begin() const noexcept { return jobs_.begin(); }
    [[nodiscard]] Jobs::const_iterator end() const noexcept { return jobs_.end(); }

    [[nodiscard]] static std::string key_of(const SyncItem& item);

private:
    Jobs jobs_;
    std::unordered_map<std::string, std::uint64_t> by_path_;
    std::unordered_map<std::uint32_t, std::uint64_t> by_request_;
    std::size_t wide_jobs_ = 0; // jobs that are renames or tree removals (see retarget)
    std::uint64_t next_id_ = 1;
};

} // namespace minisync::agent
