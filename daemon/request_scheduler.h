// Turns queued paths into requests to the server and runs them: many in flight on one connection, each
// path's disk work on its own strand, a global cap on buffered bytes so memory stays bounded whatever the
// file sizes, retries after a pause, and the order rules between renames, tree removals and the paths
// below them. The requests themselves (their frames and states) are classes of their own: FileTransfer,
// EntryRequest, RemovalRequest, RenameRequest.
//
// A job is one queued item on its way through the scheduler:
//   Looking  (on the path's strand: open the file, or see whether a removed path is back)
//     -> a request: FileTransfer for a file, EntryRequest for a directory or symlink, RemovalRequest,
//        RenameRequest (sent at once, once nothing in flight touches either path)
//     -> or ended without one: the path went (queued again as a removal), a removed path is back
//        (queued again as an upload), or it could not be read (retried later)
//   the request's outcomes are judged by OutcomeJudge (recorded and counted in RequestLedger), and the
//   verdict ends the job: Done, Requeue (at once) or RetryLater (RetryQueue)
// A reply that the job's request cannot take in its state, a reply for a request id never sent, or a frame
// that is not a reply is a protocol error: counted (minisync_errors_total{kind="protocol"}), logged with
// the request id, and the connection is reset.
// Losing the connection ends every job and requeues its path, with what the server confirmed as durable
// so that an upload resumes there.
#pragma once

#include "agent_metrics.h"
#include "agent_settings.h"
#include "directory_settler.h"
#include "folder_table.h"
#include "job_table.h"
#include "loop_inbox.h"
#include "outcome_judge.h"
#include "outgoing_file.h"
#include "request.h"
#include "request_ledger.h"
#include "retry_queue.h"
#include "server_link.h"
#include "state_writer.h"
#include "strand_disk.h"
#include "sync_queue.h"
#include "timer.h"
#include "worker_pool.h"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace minisync::agent {

class RequestScheduler final : public ServerLink::Listener, private StrandDisk::Results {
public:
    // Told when a rename has ended: applied on the server (its records must follow it) or, for good, not
    // (the new path must be sent as new, the old one staying on the server until that is done). A rename
    // the server answered BUSY, or an error that may pass, is retried with backoff before that.
    using RenameDone = std::function<void(const SyncItem& rename, bool applied)>;

    // Enough requests in flight that one round trip per file does not limit small-file throughput, and
    // that the server finds many files of one directory ready at once, to commit them as one group.
    static constexpr std::size_t MaxJobs = 256;
    // Bytes read but not yet written to the socket, across all uploads: the agent's memory bound.
    static constexpr std::size_t MaxBufferedBytes = 8U << 20;
    static constexpr std::chrono::milliseconds SettledCheckInterval{250};

    // Each folder's root, state database id and paused state are read from folders, and set_paused
    // writes the latter there.
    RequestScheduler(TimerMaker& timers, LoopInbox& inbox, WorkerPool& pool, const AgentSettings& settings,
                     FolderTable& folders, StateWriter& state, AgentMetrics& metrics);
    RequestScheduler(const RequestScheduler&) = delete;
    RequestScheduler& operator=(const RequestScheduler&) = delete;
    ~RequestScheduler();

    // Must be called once, before any traffic: the link is created after the scheduler it reports to.
    void attach(ServerLink& link) { link_ = &link; }
    void on_rename_done(RenameDone done) { rename_done_ = std::move(done); }
    // Called when a job finds its folder's root missing or replaced, with what it saw.
    void on_root_doubt(std::function<void(std::size_t folder, const std::string& what)> doubt)
    {
        root_doubt_ = std::move(doubt);
    }

    void enqueue(SyncItem item);
    // Shutting down: starts nothing new and reads no more, then calls done() once no commit or removal
    // waits for the server's answer (or at once without a connection). Those answers reach the state
    // database; uploads still streaming resume from their confirmed offsets next time.
    void drain(std::function<void()> done);

    // A paused folder's changes are kept, not sent; uploads of it in flight are suspended (their partial
    // files stay on the server) and resume from their confirmed offsets once it is resumed.
    void set_paused(std::size_t folder, bool paused);
    // The folder's Folder::held() may have changed (its root went or came back): held as when paused, or
    // released.
    void update_hold(std::size_t folder);
    // What waits to be sent for the folder (queued, held, to be retried) is dropped; requests in flight
    // finish. Nothing is removed on the server.
    void drop_pending(std::size_t folder);
    // The folder was just marked removed: drops what is queued for it; requests in flight finish.
    // Nothing is removed on the server.
    void remove_folder(std::size_t folder);
    // Events of the folder were lost: an upload in flight may have had its file deleted meanwhile, and
    // the rescan cannot tell (the state database learns of the upload only when it ends). Each such
    // path is looked at again once its upload ends; one that is gone is then removed on the server.
    void recheck_in_flight(std::size_t folder);
    // Paths of the folder waiting to be sent: queued, held (paused, root not there), or waiting to be retried.
    [[nodiscard]] std::size_t pending(std::size_t folder) const;
    // Something of the folder waits to be sent or is in flight.
    [[nodiscard]] bool has_work(std::size_t folder) const;
    // done() is called (once, on the loop) when nothing at, above or below path in the folder is queued,
    // held, waiting for a retry or in flight, and the connection is up: every change seen there so far has
    // had its answer. Looked at every SettledCheckInterval, not on every event: with a long queue each look
    // costs a walk of it. Forgotten if the folder is removed.
    void when_settled(std::size_t folder, std::string path, std::function<void()> done);
    // Nothing queued or in flight for any folder that is not held (retries waiting aside).
    [[nodiscard]] bool idle() const;
    [[nodiscard]] std::size_t retries_waiting() const noexcept { return retries_.size(); }
    // Called whenever the scheduler becomes idle.
    void on_idle(std::function<void()> idle) { on_idle_ = std::move(idle); }

    struct Transfer {
        std::string path; // "<folder name>/<relative path>"
        std::uint64_t offset = 0;
        std::uint64_t size = 0;
    };
    [[nodiscard]] std::vector<Transfer> transfers() const;

    [[nodiscard]] std::size_t queue_depth() const noexcept { return queue_.size() + held_.size(); }
    [[nodiscard]] std::size_t in_flight() const noexcept { return jobs_.size(); }
    [[nodiscard]] const UploadStats& stats() const noexcept { return ledger_.stats(); }
    // The latest error a request met, or empty.
    [[nodiscard]] const std::string& last_error() const noexcept { return ledger_.last_error(); }

    void on_link_ready() override;
    void on_link_lost() override;
    void on_server_frame(const protocol::FrameHeader& header, ByteBuffer&& body) override;
    void on_link_writable() override { pump(); }

private:
    // Ends a job; requeue sends its path again (now or, after a failure that may pass, a little later).
    enum class Then { Done, Requeue, RetryLater };

    void pump();
    void check_drained();
    void start_job(SyncItem item);
    void start_removal(Job& job);
    void start_rename(Job& job);
    [[nodiscard]] std::uint32_t take_request_id();
    void on_prepared(std::uint64_t job_id, Result<OutgoingFile::Opened>&& prepared);
    void on_removal_checked(std::uint64_t job_id, PathPresence presence);
    void on_chunk(std::uint64_t job_id, std::uint64_t offset, std::size_t length,
                  OutgoingFile::Chunk&& chunk) override;
    void on_finished(std::uint64_t job_id, const OutgoingFile::Finished& finished) override;
    // What the outcome of an event of the job's request means: records, counts, and how the job goes on.
    void act_on(Job& job, Outcome outcome);
    void finish_rename(std::uint64_t job_id, bool applied);
    void note_change_during_job(Job& job, SyncItem::Kind latest);
    void note_change_during_job(Job& job, const SyncItem& latest);
    void end_job(std::uint64_t job_id, Then then);
    // The server broke the protocol: counted, logged, and the connection reset (every job requeued).
    void protocol_error(const std::string& what);
    void update_gauges();
    void issue_reads();
    // Something of the folder at, above or below path waits or runs (see when_settled).
    [[nodiscard]] bool touches(std::size_t folder, const std::string& path) const;
    void call_settled();
    [[nodiscard]] std::size_t buffered_bytes() const;
    [[nodiscard]] const std::string& folder_name(const Job& job) const;

    LoopInbox& inbox_;
    WorkerPool& pool_;
    const AgentSettings& settings_;
    FolderTable& folders_;
    AgentMetrics& metrics_;
    ServerLink* link_ = nullptr;
    SyncQueue queue_;
    JobTable jobs_;
    RequestLedger ledger_;
    OutcomeJudge judge_;
    RetryQueue retries_;
    DirectorySettler settler_;
    std::uint32_t next_request_id_ = 1;
    std::size_t bytes_being_read_ = 0;
    std::function<void()> on_drained_;
    std::function<void()> on_idle_;
    bool ever_connected_ = false;
    std::vector<SyncItem> held_;           // items of held folders, in queue order
    std::set<std::size_t> held_folders_;   // the folders whose items go to held_
    RenameDone rename_done_;
    struct SettledWaiter {
        std::size_t folder = 0;
        std::string path;
        std::function<void()> done;
    };
    std::vector<SettledWaiter> settled_waiters_;
    const TimerPtr settled_timer_; // armed while settled_waiters_ is not empty
    std::function<void(std::size_t, const std::string&)> root_doubt_;
};

} // namespace minisync::agent
