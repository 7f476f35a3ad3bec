// Moves queued paths to the server: many uploads in flight on one connection, each read and hashed on
// its own strand, with a global cap on buffered bytes so memory stays bounded whatever the file sizes.
//
// Upload states:  Preparing (open, stat, maybe hash, or hash the prefix to resume from; on a strand)
//                   -> Committing (a small file read whole: PUT_FILE sent) -> finished on COMMITTED,
//                      ALREADY_HAVE or ERROR
//                   -> AwaitingReady (UPLOAD_BEGIN sent, with the resume offset and prefix hash)
//                      -> finished on ALREADY_HAVE or ERROR; on HASH_WANTED requeued to be hashed first
//                      -> Streaming (reads on the strand from the offset the server took, DATA frames out;
//                                    PROGRESS records the durable offset in the state database)
//                         -> Finishing (final hash and change check on the strand)
//                            -> Committing (COMMIT sent) -> finished on COMMITTED or ERROR
//                            -> finished and requeued when the file changed underneath (ABORT sent)
//                 Preparing may find a directory or a symlink instead of a file:
//                   -> Applying (MAKE_DIR or MAKE_SYMLINK sent) -> finished on DONE or ERROR
// Removal states: Preparing (lstat on a strand: a path that exists again is uploaded instead)
//                   -> Removing (REMOVE sent) -> finished on REMOVED or ERROR
// Renames:        Applying (RENAME sent, once nothing in flight touches either path) -> finished on DONE
//                   or ERROR; either way the new path is then compared with the state database.
// A directory in which something changed on the server gets its mode and mtime sent again once the
// uploader is idle, since the server's own work inside it moved its mtime.
// Losing the connection ends every request and requeues its path, with what the server confirmed
// as durable so the upload resumes there.
#pragma once

#include "agent_metrics.h"
#include "agent_settings.h"
#include "libevent_handles.h"
#include "loop_inbox.h"
#include "folder_root.h"
#include "outgoing_file.h"
#include "server_link.h"
#include "state_writer.h"
#include "sync_queue.h"
#include "worker_pool.h"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

namespace minisync::agent {

struct UploadStats {
    std::uint64_t files_synced = 0;
    std::uint64_t bytes_sent = 0; // file content, not wire bytes
    std::uint64_t failures = 0;
    std::uint64_t files_removed = 0;
    std::uint64_t resumed_bytes = 0; // not sent again thanks to resume
};

class Uploader final : public ServerLink::Listener {
public:
    // Told when a rename has ended: applied on the server (its records must follow it) or not (the old
    // path must be removed there). Either way the new path is then compared with the state database.
    using RenameDone = std::function<void(const SyncItem& rename, bool applied)>;

    // folder_ids[i] is the state database's id of settings.folders[i], roots[i] its root as found at start.
    Uploader(event_base* base, LoopInbox& inbox, WorkerPool& pool, const AgentSettings& settings,
             StateWriter& state, AgentMetrics& metrics, std::vector<std::int64_t> folder_ids,
             std::vector<FolderRoot> roots);
    Uploader(const Uploader&) = delete;
    Uploader& operator=(const Uploader&) = delete;

    // Must be called once, before any traffic: the link is created after the uploader it reports to.
    void attach(ServerLink& link) { link_ = &link; }
    void on_rename_done(RenameDone done) { rename_done_ = std::move(done); }

    void enqueue(SyncItem item);
    // Shutting down: starts nothing new and reads no more, then calls done() once no commit or removal
    // waits for the server's answer (or at once without a connection). Those answers reach the state
    // database; uploads still streaming resume from their confirmed offsets next time.
    void drain(std::function<void()> done);

    // A paused folder's changes are kept, not sent; uploads of it in flight are suspended (their partial
    // files stay on the server) and resume from their confirmed offsets once it is resumed.
    void set_paused(std::size_t folder, bool paused);
    // The folder just appended to the agent's list (a reload), with its state database id and root.
    void add_folder(std::int64_t folder_id, FolderRoot root);
    // Drops what is queued for the folder; requests in flight finish. Nothing is removed on the server.
    void remove_folder(std::size_t folder);
    // Events of the folder were lost: an upload in flight may have had its file deleted meanwhile, and
    // the rescan cannot tell (the state database learns of the upload only when it ends). Each such
    // path is looked at again once its upload ends; one that is gone is then removed on the server.
    void recheck_in_flight(std::size_t folder);
    void set_folder_id(std::size_t folder, std::int64_t folder_id) { folder_ids_.at(folder) = folder_id; }
    [[nodiscard]] bool paused(std::size_t folder) const { return paused_.at(folder); }
    // Paths of the folder waiting to be sent: queued, held while paused, or waiting to be retried.
    [[nodiscard]] std::size_t pending(std::size_t folder) const;
    // Nothing queued or in flight for any folder that is not paused (retries waiting aside).
    [[nodiscard]] bool idle() const;
    [[nodiscard]] std::size_t retries_waiting() const noexcept { return retry_later_.size(); }
    // Called whenever the uploader becomes idle.
    void on_idle(std::function<void()> idle) { on_idle_ = std::move(idle); }

    struct Transfer {
        std::string path; // "<folder name>/<relative path>"
        std::uint64_t offset = 0;
        std::uint64_t size = 0;
    };
    [[nodiscard]] std::vector<Transfer> transfers() const;

    [[nodiscard]] std::size_t queue_depth() const noexcept { return queue_.size() + held_.size(); }
    [[nodiscard]] std::size_t in_flight() const noexcept { return jobs_.size(); }
    [[nodiscard]] const UploadStats& stats() const noexcept { return stats_; }
    // The latest error a request met, or empty.
    [[nodiscard]] const std::string& last_error() const noexcept { return last_error_; }

    void on_link_ready() override;
    void on_link_lost() override;
    void on_server_frame(const protocol::FrameHeader& header, ByteBuffer&& body) override;
    void on_link_writable() override { pump(); }

private:
    enum class State { Preparing, AwaitingReady, Streaming, Finishing, Committing, Removing, Applying };

    struct Job {
        std::uint64_t id = 0;
        SyncItem item;
        std::string key;
        State state = State::Preparing;
        std::shared_ptr<OutgoingFile> file;
        std::shared_ptr<Strand> strand;
        std::uint32_t request_id = 0;
        FileVersion version;
        std::uint32_t mode = 0;
        EntryKind entry = EntryKind::File; // what Preparing found at the path
        std::optional<Sha256Digest> announced_sha256;
        Sha256Digest sha256{};
        std::uint64_t resume_offset = 0;   // what this side offered to continue from
        std::uint64_t confirmed_offset = 0; // durable on the server, from PROGRESS
        std::uint64_t size = 0;
        std::uint64_t next_read = 0;     // next offset to ask the strand for
        std::uint64_t bytes_sent = 0;    // handed to the connection
        std::size_t reads_in_flight = 0;
        bool changed_again = false;      // another event came in while this request ran
        bool recheck = false;            // events were lost while this upload ran (recheck_in_flight)
        SyncItem::Kind latest_kind = SyncItem::Kind::Upload; // what that event asked for
        bool latest_tree = false;        // and whether a directory went meanwhile
    };

    static void on_retry(evutil_socket_t, short, void* self) { static_cast<Uploader*>(self)->retry_failed(); }

    void pump();
    void check_drained();
    void retry_failed();
    void start_job(SyncItem item);
    void start_removal(Job& job);
    void start_rename(Job& job);
    void send_entry(Job& job, const OutgoingFile::Opened& opened);
    // A small file read whole while preparing: PUT_FILE, answered like a COMMIT.
    void send_whole_file(Job& job, std::span<const std::uint8_t> content);
    // True while the item must wait for a job in flight: a rename and anything on its paths exclude
    // each other, as do a tree removal and anything below it.
    [[nodiscard]] bool must_wait(const SyncItem& item) const;
    // Changes what a job in flight does: every change of a job's kind or tree goes through here, which
    // keeps wide_jobs_ true.
    void retarget(Job& job, SyncItem::Kind kind, bool tree);
    // The server changed something inside path's directory: its mtime is sent again once idle.
    void note_directory_changed(std::size_t folder, const std::string& path);
    void settle_directories();
    void on_removal_checked(std::uint64_t job_id, PathPresence presence);
    void record_committed(const Job& job);
    // The server acknowledged the job's change: counted, and its latency observed.
    void count_acknowledged(const Job& job, bool entry_synced);
    void update_gauges();
    void finish_rename(std::uint64_t job_id, bool applied);
    void note_change_during_job(Job& job, SyncItem::Kind latest);
    void note_change_during_job(Job& job, const SyncItem& latest);
    void issue_reads(Job& job);
    void on_prepared(std::uint64_t job_id, const OutgoingFile::Opened& opened);
    void on_chunk(std::uint64_t job_id, std::uint64_t offset, std::size_t length, OutgoingFile::Chunk&& chunk);
    void on_finished(std::uint64_t job_id, const OutgoingFile::Finished& finished);
    void handle_reply(std::uint32_t request_id, protocol::FrameType type, protocol::Bytes body);
    // Ends a job; requeue sends its path again (now or, after a server-side failure, a little later).
    enum class Then { Done, Requeue, RetryLater };
    void end_job(std::uint64_t job_id, Then then);
    Job* job_for_request(std::uint32_t request_id);
    [[nodiscard]] std::size_t buffered_bytes() const;

    LoopInbox& inbox_;
    WorkerPool& pool_;
    const AgentSettings& settings_;
    StateWriter& state_;
    AgentMetrics& metrics_;
    std::vector<std::int64_t> folder_ids_;
    std::vector<FolderRoot> roots_;
    std::vector<bool> removed_;
    ServerLink* link_ = nullptr;
    SyncQueue queue_;
    std::map<std::uint64_t, Job> jobs_;
    std::size_t wide_jobs_ = 0; // jobs_ that are renames or tree removals (see retarget)
    std::unordered_map<std::string, std::uint64_t> job_by_path_;
    std::unordered_map<std::uint32_t, std::uint64_t> job_by_request_;
    std::vector<SyncItem> retry_later_;
    std::uint64_t next_job_id_ = 1;
    std::uint32_t next_request_id_ = 1;
    std::size_t bytes_being_read_ = 0;
    UploadStats stats_;
    const EventPtr retry_timer_;
    std::function<void()> on_drained_;
    std::function<void()> on_idle_;
    bool ever_connected_ = false;
    std::vector<bool> paused_;
    std::vector<SyncItem> held_; // items of paused folders, in queue order
    std::string last_error_;
    RenameDone rename_done_;
    std::set<std::pair<std::size_t, std::string>> unsettled_dirs_;
};

} // namespace minisync::agent
