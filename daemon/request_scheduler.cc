// Scheduling of the agent's requests: what starts when, what a queued path turns out to be and which
// request it becomes, and how a job ends (its outcome judged by OutcomeJudge).
#include "request_scheduler.h"

#include "entry_request.h"
#include "file_transfer.h"
#include "removal_request.h"
#include "rename_request.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace minisync::agent {
namespace {

using protocol::FrameType;

// A file up to this size is read whole while it is looked at and sent in one PUT_FILE frame: one request
// and one answer, instead of a round trip for UPLOAD_READY, DATA and COMMIT. Once read it goes to the
// connection's output, so MaxBufferedBytes bounds these too: no new job starts above it.
constexpr std::size_t InlineFileMax = 64 * 1024;

} // namespace

RequestScheduler::RequestScheduler(TimerMaker& timers, LoopInbox& inbox, WorkerPool& pool,
                                   const AgentSettings& settings, FolderTable& folders, StateWriter& state,
                                   AgentMetrics& metrics)
    : inbox_{inbox},
      pool_{pool},
      settings_{settings},
      folders_{folders},
      metrics_{metrics},
      ledger_{state, metrics, folders},
      judge_{folders, ledger_, jobs_},
      retries_{timers,
               [this](std::vector<SyncItem> due) {
                   for (SyncItem& item : due) {
                       queue_.push(std::move(item));
                   }
                   pump();
               }},
      settled_timer_{timers.make([this] { call_settled(); })}
{
    // A folder whose root is not there at start is held from the first change on.
    for (std::size_t folder = 0; folder < folders_.size(); ++folder) {
        update_hold(folder);
    }
}

RequestScheduler::~RequestScheduler() = default;

void RequestScheduler::remove_folder(std::size_t folder)
{
    folders_[folder].paused = false;
    held_folders_.erase(folder);
    auto of_folder = [folder](const SyncItem& item) { return item.folder == folder; };
    std::erase_if(held_, of_folder);
    retries_.erase_if(of_folder);
    std::erase_if(settled_waiters_, [folder](const SettledWaiter& waiter) { return waiter.folder == folder; });
    pump(); // what is still queued for it is dropped as it comes up
}

void RequestScheduler::drop_pending(std::size_t folder)
{
    auto of_folder = [folder](const SyncItem& item) { return item.folder == folder; };
    queue_.drop_folder(folder);
    std::erase_if(held_, of_folder);
    retries_.erase_if(of_folder);
    update_gauges();
}

void RequestScheduler::recheck_in_flight(std::size_t folder)
{
    for (auto& [id, job] : jobs_) {
        if (job.item.folder == folder && job.item.kind == SyncItem::Kind::Upload) {
            job.recheck = true;
        }
    }
}

void RequestScheduler::set_paused(std::size_t folder, bool paused)
{
    folders_[folder].paused = paused;
    update_hold(folder);
}

void RequestScheduler::update_hold(std::size_t folder)
{
    const bool hold = folders_[folder].held();
    if (hold == held_folders_.contains(folder)) {
        return;
    }
    if (hold) {
        held_folders_.insert(folder);
        std::vector<std::uint64_t> suspended;
        for (const auto& [id, job] : jobs_) {
            const FileTransfer* transfer = job.transfer;
            if (job.item.folder == folder && transfer != nullptr &&
                (transfer->state() == FileTransfer::State::Streaming ||
                 transfer->state() == FileTransfer::State::AwaitingReady)) {
                suspended.push_back(id);
            }
        }
        for (const std::uint64_t id : suspended) {
            Job& job = *jobs_.find(id);
            FileTransfer& transfer = *job.transfer;
            transfer.suspend();
            // Held with what the server confirmed, to resume there; a change that came in meanwhile is
            // found by the resume itself (the version no longer matches, so it starts over).
            SyncItem item = job.item;
            item.resume.reset();
            if (transfer.confirmed_offset() > 0) {
                item.resume = ResumeHint{transfer.upload().version, transfer.confirmed_offset()};
            }
            job.changed_again = false;
            job.recheck = false; // held items are looked at afresh on resume anyway
            end_job(id, Then::Done);
            held_.push_back(std::move(item));
        }
    } else {
        held_folders_.erase(folder);
        std::vector<SyncItem> still_held;
        for (SyncItem& item : held_) {
            if (item.folder == folder) {
                queue_.push(std::move(item));
            } else {
                still_held.push_back(std::move(item));
            }
        }
        held_ = std::move(still_held);
    }
    pump();
}

std::size_t RequestScheduler::pending(std::size_t folder) const
{
    auto of_folder = [folder](const SyncItem& item) { return item.folder == folder; };
    return queue_.count(folder) + static_cast<std::size_t>(std::count_if(held_.begin(), held_.end(), of_folder)) +
           retries_.count(folder);
}

bool RequestScheduler::has_work(std::size_t folder) const
{
    return pending(folder) > 0 ||
           std::any_of(jobs_.begin(), jobs_.end(), [folder](const auto& entry) { return entry.second.item.folder == folder; });
}

bool RequestScheduler::idle() const
{
    return queue_.empty() && jobs_.empty();
}

std::vector<RequestScheduler::Transfer> RequestScheduler::transfers() const
{
    std::vector<Transfer> transfers;
    for (const auto& [id, job] : jobs_) {
        if (job.transfer != nullptr && job.item.kind == SyncItem::Kind::Upload) {
            transfers.push_back(
                Transfer{folder_name(job) + "/" + job.item.path, job.transfer->bytes_sent(), job.transfer->size()});
        }
    }
    return transfers;
}

void RequestScheduler::enqueue(SyncItem item)
{
    if (item.seen == std::chrono::steady_clock::time_point{}) {
        item.seen = std::chrono::steady_clock::now();
    }
    if (item.kind == SyncItem::Kind::Rename) {
        // A rename waiting for a retry onto this one's old path composes with it in the queue (a to b, b
        // to c: a to c), so the server's copy at a is moved, not left behind.
        for (SyncItem& composed : retries_.take_if([&](const SyncItem& waiting) {
                 return waiting.folder == item.folder && waiting.kind == SyncItem::Kind::Rename &&
                        waiting.path == item.from;
             })) {
            queue_.push(std::move(composed));
        }
        // Another retry waiting at or below the old path would find nothing there now: the comparison after
        // the rename covers it.
        retries_.erase_if([&](const SyncItem& waiting) {
            return waiting.folder == item.folder && paths_overlap(waiting.path, item.from) &&
                   waiting.path.size() >= item.from.size();
        });
    } else if (retries_.any_of([&](const SyncItem& waiting) {
                   return waiting.kind == SyncItem::Kind::Rename && waiting.folder == item.folder &&
                          paths_overlap(item.path, waiting.path) && item.path.size() >= waiting.path.size();
               })) {
        // At or below the new path of a rename waiting for a retry: folded into it, as the queue folds such
        // changes into a queued rename. The comparison after it sends them; sent now, they would put
        // something in the way of the rename on the server.
        return;
    }
    if (Job* running = jobs_.find_by_path(item);
        running != nullptr && item.kind != SyncItem::Kind::Rename && running->item.kind != SyncItem::Kind::Rename) {
        // Sent again once this job ends, as whatever happened last (a delete during an upload must end
        // as a removal); if the content changed under an upload, the transfer's finish notices first.
        note_change_during_job(*running, item);
        return;
    }
    queue_.push(std::move(item));
    pump();
}

void RequestScheduler::note_change_during_job(Job& job, const SyncItem& latest)
{
    note_change_during_job(job, latest.kind);
    // Once a directory went, its tree must go on the server even if a file removal follows.
    job.latest_tree = job.latest_tree || (latest.kind == SyncItem::Kind::Remove && latest.tree);
}

void RequestScheduler::note_change_during_job(Job& job, SyncItem::Kind latest)
{
    job.changed_again = true;
    job.latest_kind = latest;
}

std::size_t RequestScheduler::buffered_bytes() const
{
    return link_->output_size() + bytes_being_read_;
}

const std::string& RequestScheduler::folder_name(const Job& job) const
{
    return folders_[job.item.folder].spec.name;
}

void RequestScheduler::drain(std::function<void()> done)
{
    on_drained_ = std::move(done);
    check_drained();
}

void RequestScheduler::check_drained()
{
    if (!on_drained_) {
        return;
    }
    const bool awaiting = link_ != nullptr && link_->ready() &&
                          std::any_of(jobs_.begin(), jobs_.end(), [](const auto& entry) {
                              const Request* request = entry.second.request.get();
                              return request != nullptr && request->awaits_answer();
                          });
    if (!awaiting) {
        std::exchange(on_drained_, nullptr)();
    }
}

void RequestScheduler::pump()
{
    if (link_ == nullptr || !link_->ready()) {
        return;
    }
    if (on_drained_) {
        check_drained();
        return;
    }
    while (jobs_.size() < MaxJobs && buffered_bytes() < MaxBufferedBytes) {
        const SyncItem* next = queue_.front();
        // The queue keeps its order: what waits for a job in flight holds back what came after it.
        if (next == nullptr ||
            (!held_folders_.contains(next->folder) && !folders_[next->folder].removed && jobs_.must_wait(*next))) {
            break;
        }
        SyncItem item = *queue_.pop();
        if (folders_[item.folder].removed) {
            continue;
        }
        if (held_folders_.contains(item.folder)) {
            held_.push_back(std::move(item));
            continue;
        }
        if (Job* running = jobs_.find_by_path(item)) {
            note_change_during_job(*running, item);
            continue;
        }
        start_job(std::move(item));
    }
    if (jobs_.empty() && queue_.empty() && !settler_.empty()) {
        for (SyncItem& item : settler_.take()) {
            queue_.push(std::move(item));
        }
        pump();
    }
    update_gauges();
    issue_reads();
    if (idle() && on_idle_) {
        on_idle_();
    }
}

void RequestScheduler::issue_reads()
{
    for (auto& [id, job] : jobs_) {
        const std::size_t buffered = buffered_bytes();
        if (buffered >= MaxBufferedBytes) {
            break;
        }
        if (job.transfer != nullptr) {
            bytes_being_read_ += job.transfer->issue_reads(MaxBufferedBytes - buffered);
        }
    }
}

std::uint32_t RequestScheduler::take_request_id()
{
    return next_request_id_++;
}

void RequestScheduler::start_job(SyncItem item)
{
    Job& stored = jobs_.add(std::move(item));
    const std::uint64_t id = stored.id;
    stored.file = std::make_shared<OutgoingFile>(folders_[stored.item.folder].root, stored.item.path, pool_.stop_requested());
    stored.strand = Strand::create(pool_);
    if (stored.item.kind == SyncItem::Kind::Remove) {
        start_removal(stored);
        return;
    }
    if (stored.item.kind == SyncItem::Kind::Rename) {
        start_rename(stored);
        return;
    }
    stored.strand->post([this, file = stored.file, id, hash_first = stored.item.hash_requested,
                         resume = stored.item.resume] {
        Result<OutgoingFile::Opened> prepared = file->open(hash_first, resume, InlineFileMax);
        inbox_.post([this, id, prepared = std::move(prepared)]() mutable { on_prepared(id, std::move(prepared)); });
    });
}

void RequestScheduler::start_removal(Job& job)
{
    // The path may exist again by now (deleted and re-created): then it is uploaded, not removed. The
    // lookup follows the same rules as opening for an upload, so the two can never disagree.
    job.strand->post([this, root = folders_[job.item.folder].root, path = job.item.path, id = job.id] {
        const PathPresence presence = check_path(root, path);
        inbox_.post([this, id, presence] { on_removal_checked(id, presence); });
    });
}

void RequestScheduler::start_rename(Job& job)
{
    if (job.item.from == job.item.path) {
        // Moved away and back before anything was sent: nothing to move, only the comparison to do.
        finish_rename(job.id, true);
        return;
    }
    jobs_.attach(job, std::make_unique<RenameRequest>(*link_, take_request_id(), folder_name(job), job.item.from,
                                                      job.item.path));
}

void RequestScheduler::finish_rename(std::uint64_t job_id, bool applied)
{
    const Job* job = jobs_.find(job_id);
    if (job == nullptr) {
        return;
    }
    const SyncItem rename = job->item;
    if (applied) {
        // Directories waiting for their mtime to be restored moved with the rename.
        settler_.follow_rename(rename.folder, rename.from, rename.path);
    }
    end_job(job_id, Then::Done);
    if (rename_done_) {
        rename_done_(rename, applied);
    }
}

void RequestScheduler::on_removal_checked(std::uint64_t job_id, PathPresence presence)
{
    Job* found = jobs_.find(job_id);
    if (found == nullptr) {
        return;
    }
    Job& job = *found;
    switch (presence) {
    case PathPresence::RootChanged:
        SPDLOG_WARN("folder={} path={}: the folder is missing or replaced (moved? unmounted?); not removing "
                    "anything on the server for now",
                    folder_name(job), job.item.path);
        if (root_doubt_) {
            root_doubt_(job.item.folder, "a removal found its root missing or replaced");
        }
        end_job(job_id, Then::RetryLater);
        return;
    case PathPresence::Unknown:
        SPDLOG_WARN("folder={} path={}: cannot tell whether it is still there; not removing it on the server for now",
                    folder_name(job), job.item.path);
        end_job(job_id, Then::RetryLater);
        return;
    case PathPresence::OtherFileSystem:
        SPDLOG_INFO("folder={} path={}: below a file system mounted inside the folder (one_file_system); left on "
                    "the server",
                    folder_name(job), job.item.path);
        end_job(job_id, Then::Done);
        return;
    case PathPresence::RegularFile:
        if (!job.item.tree) {
            jobs_.retarget(job, SyncItem::Kind::Upload, false);
            end_job(job_id, Then::Requeue);
            return;
        }
        // A directory became a file: the server's tree goes first, then the file is sent.
        note_change_during_job(job, SyncItem::Kind::Upload);
        break;
    case PathPresence::Directory:
        if (job.item.tree) {
            // The directory is back (deleted and re-created, or moved back); its scan sends what it holds.
            end_job(job_id, Then::Done);
            return;
        }
        break; // a file became a directory: the server removes a file there and leaves a directory alone
    case PathPresence::Absent:
        // Nothing is there, so nothing of any kind should be on the server either: a directory there
        // (made implicitly for a file below it, say) goes too. As a tree removal it waits its turn behind
        // the jobs below it.
        if (!job.item.tree) {
            jobs_.retarget(job, SyncItem::Kind::Remove, true);
            if (jobs_.any_below(job)) {
                end_job(job_id, Then::Requeue);
                return;
            }
        }
        break;
    }
    jobs_.attach(job, std::make_unique<RemovalRequest>(*link_, take_request_id(), folder_name(job), job.item.path,
                                                       job.item.tree));
}

void RequestScheduler::on_prepared(std::uint64_t job_id, Result<OutgoingFile::Opened>&& prepared)
{
    Job* found = jobs_.find(job_id);
    if (found == nullptr) {
        return;
    }
    Job& job = *found;
    const std::string& folder = folder_name(job);
    if (!prepared.ok()) {
        const std::string& reason = prepared.error().message;
        ledger_.open_failed(folder + "/" + job.item.path, reason);
        SPDLOG_WARN("folder={} path={}: not sent, retried in 5 s err={}", folder, job.item.path, reason);
        end_job(job_id, Then::RetryLater);
        return;
    }
    OutgoingFile::Opened& opened = prepared.value();
    using Status = OutgoingFile::Status;
    if (job.item.settle && opened.status != Status::Directory) {
        // Only a directory's attributes were to be restored; whatever is there now came with events of
        // its own (a removal, a rename of the directory), which say what the server must do.
        end_job(job_id, Then::Done);
        return;
    }
    switch (opened.status) {
    case Status::Directory:
    case Status::Symlink: {
        EntryRequest::Entry entry{opened.status == Status::Directory ? EntryKind::Directory : EntryKind::Symlink,
                                  opened.version, opened.mode, std::move(opened.link_target)};
        jobs_.attach(job,
                     std::make_unique<EntryRequest>(*link_, take_request_id(), folder, job.item.path, std::move(entry)));
        return;
    }
    case Status::Special:
        SPDLOG_INFO("folder={} path={}: skipped: not a file, directory or symlink (a FIFO, socket or device)", folder,
                    job.item.path);
        [[fallthrough]];
    case Status::Gone:
        // Deleted (or replaced by something that is not a file) before it could be sent: the server may
        // hold an older version, so the path is removed there; a removal of nothing costs one round trip.
        SPDLOG_DEBUG("folder={} path={}: gone before it could be sent", folder, job.item.path);
        note_change_during_job(job, SyncItem::Kind::Remove);
        end_job(job_id, Then::Done);
        return;
    case Status::Ready: break;
    }
    FileTransfer::Upload upload;
    upload.folder = folder;
    upload.path = job.item.path;
    upload.version = opened.version;
    upload.mode = opened.mode;
    upload.sha256 = opened.sha256;
    upload.hash_if_present = job.item.verify_first && !opened.sha256;
    upload.resume_offset = opened.resume_offset;
    upload.prefix_sha256 = opened.prefix_sha256;
    upload.growing = job.item.growing;
    StrandDisk::Results& results = *this;
    job.disk = std::make_unique<StrandDisk>(inbox_, results, job_id, job.file, job.strand);
    jobs_.attach(job, std::make_unique<FileTransfer>(*link_, *job.disk, take_request_id(), std::move(upload)));
    if (opened.content) {
        job.transfer->put_whole(*opened.content);
        ledger_.sent(job.transfer->size());
        return;
    }
    job.transfer->begin();
}

void RequestScheduler::on_chunk(std::uint64_t job_id, std::uint64_t offset, std::size_t length,
                                OutgoingFile::Chunk&& chunk)
{
    bytes_being_read_ -= length;
    Job* found = jobs_.find(job_id);
    if (found == nullptr || found->transfer == nullptr) {
        pump();
        return;
    }
    Job& job = *found;
    FileTransfer& transfer = *job.transfer;
    const std::uint64_t sent_before = transfer.bytes_sent();
    const Outcome outcome = transfer.on_chunk(offset, length, std::move(chunk));
    ledger_.sent(transfer.bytes_sent() - sent_before);
    act_on(job, outcome);
    pump();
}

void RequestScheduler::on_finished(std::uint64_t job_id, const OutgoingFile::Finished& finished)
{
    Job* job = jobs_.find(job_id);
    if (job == nullptr || job->transfer == nullptr) {
        return;
    }
    act_on(*job, job->transfer->on_finished(finished));
}

void RequestScheduler::on_server_frame(const protocol::FrameHeader& header, ByteBuffer&& body)
{
    const std::optional<ServerReply> reply = decode_reply(header, body);
    if (!reply) {
        protocol_error(std::string{"an unexpected or malformed "} + protocol::to_string(header.type) + " frame");
        return;
    }
    if (reply->request_id == 0) {
        if (reply->type == FrameType::Error) {
            // About the whole connection; the server closes it next.
            SPDLOG_WARN("server={}: the server ends the connection err={} ({})", settings_.server.to_string(),
                        reply->message, protocol::to_string(reply->code));
        } else {
            protocol_error(std::string{protocol::to_string(reply->type)} + " for request 0");
        }
        return;
    }
    Job* found = jobs_.find_by_request(reply->request_id);
    if (found == nullptr) {
        if (reply->request_id >= next_request_id_) {
            protocol_error(std::string{protocol::to_string(reply->type)} + " for request " +
                           std::to_string(reply->request_id) + ", which was never sent");
        }
        return; // a request this side already ended (late PROGRESS, say)
    }
    Job& job = *found;
    const char* const state = job.request->state_name();
    const Outcome outcome = job.request->on_reply(*reply);
    if (outcome == Outcome::Invalid) {
        protocol_error(std::string{protocol::to_string(reply->type)} + " for request " +
                       std::to_string(reply->request_id) + " (folder=" + folder_name(job) + " path=" + job.item.path +
                       "), which is " + state);
        return;
    }
    act_on(job, outcome);
}

void RequestScheduler::act_on(Job& job, Outcome outcome)
{
    switch (judge_.judge(job, outcome)) {
    case Verdict::Continue:
        if (outcome == Outcome::Ready) {
            pump(); // reads can start
        }
        return;
    case Verdict::Done: end_job(job.id, Then::Done); return;
    case Verdict::Requeue: end_job(job.id, Then::Requeue); return;
    case Verdict::RetryLater: end_job(job.id, Then::RetryLater); return;
    case Verdict::RenameApplied: finish_rename(job.id, true); return;
    case Verdict::RenameNotApplied: finish_rename(job.id, false); return;
    }
}

void RequestScheduler::protocol_error(const std::string& what)
{
    metrics_.error(ErrorKind::Protocol);
    SPDLOG_WARN("server={}: protocol error, resetting the connection: {}", settings_.server.to_string(), what);
    link_->reset("protocol error: " + what);
}

void RequestScheduler::end_job(std::uint64_t job_id, Then then)
{
    if (jobs_.find(job_id) == nullptr) {
        return;
    }
    Job job = jobs_.take(job_id);
    if (job.request != nullptr && !job.item.settle) {
        // Whatever the answer, the server may have changed the directory: a partial file made and
        // discarded moves its mtime as surely as a commit does.
        settler_.note_changed(job.item.folder, job.item.path);
        if (job.item.kind == SyncItem::Kind::Rename) {
            settler_.note_changed(job.item.folder, job.item.from);
        }
    }
    SyncItem item = std::move(job.item);
    if (then == Then::Requeue || job.changed_again) {
        // A tree removal that did not happen yet stays one whatever came in meanwhile (it sends a file
        // that is back once the tree is gone); otherwise the latest change decides.
        const bool pending_tree_removal = then == Then::Requeue && item.kind == SyncItem::Kind::Remove && item.tree;
        if (job.changed_again && !pending_tree_removal) {
            item.kind = job.latest_kind;
            item.tree = item.kind == SyncItem::Kind::Remove && job.latest_tree;
            // A new event is a real change: no longer only a snapshot of a growing file or a settling.
            item.growing = false;
            item.settle = false;
            item.hash_requested = false;
        }
        item.verify_first = false;
        item.resume.reset();
        queue_.push(std::move(item));
    } else if (then == Then::Done && job.recheck) {
        // Most likely unchanged: offered by hash, so only a file that differs (or is gone) costs more.
        SyncItem again;
        again.folder = item.folder;
        again.path = std::move(item.path);
        again.verify_first = true;
        again.seen = item.seen;
        queue_.push(std::move(again));
    } else if (then == Then::RetryLater) {
        const std::uint32_t rounds =
            item.kind == SyncItem::Kind::Rename ? RetryQueue::backoff_rounds(item.rename_retries) : 1;
        retries_.add(std::move(item), rounds);
    }
    pump();
}

void RequestScheduler::when_settled(std::size_t folder, std::string path, std::function<void()> done)
{
    settled_waiters_.push_back(SettledWaiter{folder, std::move(path), std::move(done)});
    if (!settled_timer_->armed()) {
        settled_timer_->arm(SettledCheckInterval);
    }
}

bool RequestScheduler::touches(std::size_t folder, const std::string& path) const
{
    auto touching = [&](const SyncItem& item) {
        return item.folder == folder && (paths_overlap(item.path, path) ||
                                         (item.kind == SyncItem::Kind::Rename && paths_overlap(item.from, path)));
    };
    return queue_.touches(folder, path) || std::any_of(held_.begin(), held_.end(), touching) ||
           retries_.any_of(touching) ||
           std::any_of(jobs_.begin(), jobs_.end(), [&](const auto& entry) { return touching(entry.second.item); });
}

void RequestScheduler::call_settled()
{
    if (settled_waiters_.empty()) {
        return;
    }
    if (link_ == nullptr || !link_->ready() || on_drained_) {
        settled_timer_->arm(SettledCheckInterval);
        return;
    }
    std::vector<std::function<void()>> due;
    std::erase_if(settled_waiters_, [&](SettledWaiter& waiter) {
        if (touches(waiter.folder, waiter.path)) {
            return false;
        }
        due.push_back(std::move(waiter.done));
        return true;
    });
    if (!settled_waiters_.empty()) {
        settled_timer_->arm(SettledCheckInterval);
    }
    // Called after the list is consistent again: a callback may add a waiter of its own.
    for (std::function<void()>& done : due) {
        done();
    }
}

void RequestScheduler::on_link_ready()
{
    metrics_.connection_up.Set(1);
    if (std::exchange(ever_connected_, true)) {
        metrics_.reconnects.Increment();
    }
    // Request ids are per connection and only have to increase on it.
    next_request_id_ = 1;
    pump();
}

void RequestScheduler::on_link_lost()
{
    metrics_.connection_up.Set(0);
    for (Job& job : jobs_.take_all()) {
        const FileTransfer* transfer = job.transfer;
        const bool committing = transfer != nullptr && (transfer->state() == FileTransfer::State::Committing ||
                                                        transfer->state() == FileTransfer::State::Putting);
        // A commit may have landed before the connection died; hashing first avoids sending it twice.
        job.item.verify_first = job.item.verify_first || committing;
        // A job still looking at its path keeps the hint it came with; one that got further offers what
        // the server confirmed.
        if (job.request != nullptr) {
            job.item.resume.reset();
            if (transfer != nullptr && transfer->confirmed_offset() > 0 && !committing) {
                job.item.resume = ResumeHint{transfer->upload().version, transfer->confirmed_offset()};
            }
        }
        queue_.push(std::move(job.item));
    }
    update_gauges();
    check_drained();
}

void RequestScheduler::update_gauges()
{
    metrics_.queue_depth.Set(static_cast<double>(queue_.size() + retries_.size()));
    metrics_.inflight_transfers.Set(static_cast<double>(jobs_.size()));
}

} // namespace minisync::agent
