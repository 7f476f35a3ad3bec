// Scheduling of uploads, the per-upload protocol exchange and the bounded read-ahead that feeds it.
#include "uploader.h"

#include "protocol_codec.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace minisync::agent {
namespace {

using protocol::ErrorCode;
using protocol::FrameType;

// Enough uploads in flight that one round trip per file does not limit small-file throughput, and that
// the server finds many files of one directory ready at once, to commit them as one group.
constexpr std::size_t MaxJobs = 256;
constexpr std::size_t ChunkSize = 256 * 1024;
// A file up to this size is read whole while preparing and sent in one PUT_FILE frame: one request
// and one answer, instead of a round trip for UPLOAD_READY, DATA and COMMIT. Once read it goes to the
// connection's output, so MaxBufferedBytes bounds these too: no new job starts above it.
constexpr std::size_t InlineFileMax = 64 * 1024;
constexpr std::size_t MaxReadsPerJob = 4;
// Bytes read but not yet written to the socket, across all uploads: the agent's memory bound.
constexpr std::size_t MaxBufferedBytes = 8U << 20;
constexpr timeval RetryDelay{5, 0};

// A rename or a tree removal covers everything below its paths, on the server too (its path locks).
bool is_wide(const SyncItem& item)
{
    return item.kind == SyncItem::Kind::Rename || (item.kind == SyncItem::Kind::Remove && item.tree);
}

std::string key_of(const SyncItem& item)
{
    std::string key = std::to_string(item.folder);
    key.push_back('\0');
    key += item.path;
    return key;
}

std::string parent_of(const std::string& path)
{
    const std::size_t slash = path.rfind('/');
    return slash == std::string::npos ? std::string{} : path.substr(0, slash);
}

bool worth_retrying(ErrorCode code)
{
    // CONFLICT is retried: a directory in the way on the server goes once its contents are removed.
    switch (code) {
    case ErrorCode::BadPath:
    case ErrorCode::FileTooLarge: // until the file changes, which queues it anew
    case ErrorCode::PermissionDenied:
    case ErrorCode::NotAllowed: return false;
    default: return true;
    }
}

} // namespace

Uploader::Uploader(event_base* base, LoopInbox& inbox, WorkerPool& pool, const AgentSettings& settings,
                   StateWriter& state, AgentMetrics& metrics, std::vector<std::int64_t> folder_ids,
                   std::vector<FolderRoot> roots)
    : inbox_{inbox},
      pool_{pool},
      settings_{settings},
      state_{state},
      metrics_{metrics},
      folder_ids_{std::move(folder_ids)},
      roots_{std::move(roots)},
      removed_(settings.folders.size(), false),
      retry_timer_{evtimer_new(base, &Uploader::on_retry, this)},
      paused_(settings.folders.size(), false)
{
}

void Uploader::add_folder(std::int64_t folder_id, FolderRoot root)
{
    folder_ids_.push_back(folder_id);
    roots_.push_back(std::move(root));
    removed_.push_back(false);
    paused_.push_back(false);
}

void Uploader::remove_folder(std::size_t folder)
{
    removed_.at(folder) = true;
    paused_[folder] = false;
    auto of_folder = [folder](const SyncItem& item) { return item.folder == folder; };
    std::erase_if(held_, of_folder);
    std::erase_if(retry_later_, of_folder);
    pump(); // what is still queued for it is dropped as it comes up
}

void Uploader::recheck_in_flight(std::size_t folder)
{
    for (auto& [id, job] : jobs_) {
        if (job.item.folder == folder && job.item.kind == SyncItem::Kind::Upload) {
            job.recheck = true;
        }
    }
}

void Uploader::set_paused(std::size_t folder, bool paused)
{
    if (paused_.at(folder) == paused) {
        return;
    }
    paused_[folder] = paused;
    if (paused) {
        std::vector<std::uint64_t> suspended;
        for (const auto& [id, job] : jobs_) {
            if (job.item.folder == folder && (job.state == State::Streaming || job.state == State::AwaitingReady)) {
                suspended.push_back(id);
            }
        }
        for (const std::uint64_t id : suspended) {
            Job& job = jobs_.at(id);
            link_->send(protocol::encode_request_only(FrameType::Suspend, job.request_id));
            // Held with what the server confirmed, to resume there; a change that came in meanwhile is
            // found by the resume itself (the version no longer matches, so it starts over).
            SyncItem item = job.item;
            item.resume.reset();
            if (job.confirmed_offset > 0) {
                item.resume = ResumeHint{job.version, job.confirmed_offset};
            }
            job.changed_again = false;
            job.recheck = false; // held items are looked at afresh on resume anyway
            end_job(id, Then::Done);
            held_.push_back(std::move(item));
        }
    } else {
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

std::size_t Uploader::pending(std::size_t folder) const
{
    auto of_folder = [folder](const SyncItem& item) { return item.folder == folder; };
    return queue_.count(folder) + static_cast<std::size_t>(std::count_if(held_.begin(), held_.end(), of_folder)) +
           static_cast<std::size_t>(std::count_if(retry_later_.begin(), retry_later_.end(), of_folder));
}

bool Uploader::idle() const
{
    return queue_.empty() && jobs_.empty();
}

std::vector<Uploader::Transfer> Uploader::transfers() const
{
    std::vector<Transfer> transfers;
    for (const auto& [id, job] : jobs_) {
        if (job.item.kind == SyncItem::Kind::Upload && job.entry == EntryKind::File && job.state != State::Preparing) {
            transfers.push_back(Transfer{settings_.folders[job.item.folder].name + "/" + job.item.path,
                                         job.bytes_sent, job.size});
        }
    }
    return transfers;
}

void Uploader::enqueue(SyncItem item)
{
    if (item.seen == std::chrono::steady_clock::time_point{}) {
        item.seen = std::chrono::steady_clock::now();
    }
    if (item.kind == SyncItem::Kind::Rename) {
        // A retry waiting at or below the old path would find nothing there now: the comparison after
        // the rename covers it.
        std::erase_if(retry_later_, [&](const SyncItem& waiting) {
            return waiting.folder == item.folder && paths_overlap(waiting.path, item.from) &&
                   waiting.path.size() >= item.from.size();
        });
    }
    if (const auto it = job_by_path_.find(key_of(item));
        it != job_by_path_.end() && item.kind != SyncItem::Kind::Rename &&
        jobs_.at(it->second).item.kind != SyncItem::Kind::Rename) {
        // Sent again once this request ends, as whatever happened last (a delete during an upload
        // must end as a removal); if the content changed under an upload, finish() notices first.
        note_change_during_job(jobs_.at(it->second), item);
        return;
    }
    queue_.push(std::move(item));
    pump();
}

void Uploader::note_change_during_job(Job& job, const SyncItem& latest)
{
    note_change_during_job(job, latest.kind);
    // Once a directory went, its tree must go on the server even if a file removal follows.
    job.latest_tree = job.latest_tree || (latest.kind == SyncItem::Kind::Remove && latest.tree);
}

void Uploader::note_change_during_job(Job& job, SyncItem::Kind latest)
{
    job.changed_again = true;
    job.latest_kind = latest;
}

std::size_t Uploader::buffered_bytes() const
{
    return link_->output_size() + bytes_being_read_;
}

void Uploader::drain(std::function<void()> done)
{
    on_drained_ = std::move(done);
    check_drained();
}

void Uploader::check_drained()
{
    if (!on_drained_) {
        return;
    }
    const bool awaiting = link_ != nullptr && link_->ready() &&
                          std::any_of(jobs_.begin(), jobs_.end(), [](const auto& entry) {
                              const State state = entry.second.state;
                              return state == State::Finishing || state == State::Committing ||
                                     state == State::Removing || state == State::Applying;
                          });
    if (!awaiting) {
        std::exchange(on_drained_, nullptr)();
    }
}

void Uploader::pump()
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
        if (next == nullptr || (!paused_[next->folder] && !removed_[next->folder] && must_wait(*next))) {
            break;
        }
        SyncItem item = *queue_.pop();
        if (removed_[item.folder]) {
            continue;
        }
        if (paused_[item.folder]) {
            held_.push_back(std::move(item));
            continue;
        }
        if (const auto it = job_by_path_.find(key_of(item)); it != job_by_path_.end()) {
            note_change_during_job(jobs_.at(it->second), item);
            continue;
        }
        start_job(std::move(item));
    }
    if (jobs_.empty() && queue_.empty() && !unsettled_dirs_.empty()) {
        settle_directories();
    }
    update_gauges();
    for (auto& [id, job] : jobs_) {
        if (buffered_bytes() >= MaxBufferedBytes) {
            break;
        }
        if (job.state == State::Streaming) {
            issue_reads(job);
        }
    }
    if (idle() && on_idle_) {
        on_idle_();
    }
}

bool Uploader::must_wait(const SyncItem& item) const
{
    // The common case, a file among hundreds in flight, decided without walking them all.
    if (wide_jobs_ == 0 && !is_wide(item) && !item.settle) {
        return false;
    }
    const bool is_rename = item.kind == SyncItem::Kind::Rename;
    for (const auto& [id, job] : jobs_) {
        if (job.item.folder != item.folder) {
            continue;
        }
        if (item.settle && job.item.path.size() > item.path.size() && paths_overlap(job.item.path, item.path)) {
            return true; // what runs below would move the mtime being set
        }
        const bool job_is_rename = job.item.kind == SyncItem::Kind::Rename;
        if (!is_wide(item) && !is_wide(job.item)) {
            continue; // one path each: a job on the same path absorbs the item instead
        }
        const SyncItem& running = job.item; // clang 14 cannot capture a structured binding
        auto touches = [&](const std::string& path) {
            return paths_overlap(path, running.path) || (job_is_rename && paths_overlap(path, running.from));
        };
        if (touches(item.path) || (is_rename && touches(item.from))) {
            return true;
        }
    }
    return false;
}

void Uploader::retarget(Job& job, SyncItem::Kind kind, bool tree)
{
    wide_jobs_ -= is_wide(job.item) ? 1 : 0;
    job.item.kind = kind;
    job.item.tree = tree;
    wide_jobs_ += is_wide(job.item) ? 1 : 0;
}

void Uploader::note_directory_changed(std::size_t folder, const std::string& path)
{
    // Every directory above, not only the parent: the server may have had to create some of them on the
    // way, which moved the mtime of the one above. The folder's own root is not mirrored.
    for (std::string parent = parent_of(path); !parent.empty(); parent = parent_of(parent)) {
        if (!unsettled_dirs_.emplace(folder, parent).second) {
            break; // its ancestors were noted with it
        }
    }
}

void Uploader::settle_directories()
{
    // Deepest first: setting a directory's attributes never moves its parent's mtime, but making a missing
    // one does, so a parent waits for the directories below it (must_wait).
    std::vector<std::pair<std::size_t, std::string>> dirs(unsettled_dirs_.begin(), unsettled_dirs_.end());
    unsettled_dirs_.clear();
    auto depth = [](const std::string& path) { return std::count(path.begin(), path.end(), '/'); };
    std::stable_sort(dirs.begin(), dirs.end(),
                     [&](const auto& a, const auto& b) { return depth(a.second) > depth(b.second); });
    for (auto& [folder, path] : dirs) {
        SyncItem item;
        item.folder = folder;
        item.path = std::move(path);
        item.settle = true;
        queue_.push(std::move(item));
    }
    pump();
}

void Uploader::start_job(SyncItem item)
{
    const std::uint64_t id = next_job_id_++;
    Job job;
    job.id = id;
    job.key = key_of(item);
    job.file = std::make_shared<OutgoingFile>(roots_[item.folder], item.path, pool_.stop_requested());
    job.strand = Strand::create(pool_);
    job.item = std::move(item);
    job_by_path_.emplace(job.key, id);
    auto& stored = jobs_.emplace(id, std::move(job)).first->second;
    wide_jobs_ += is_wide(stored.item) ? 1 : 0;
    if (stored.item.kind == SyncItem::Kind::Remove) {
        start_removal(stored);
        return;
    }
    if (stored.item.kind == SyncItem::Kind::Rename) {
        start_rename(stored);
        return;
    }
    stored.strand->post([this, &inbox = inbox_, file = stored.file, id, hash_first = stored.item.hash_requested,
                         resume = stored.item.resume] {
        OutgoingFile::Opened opened = file->open(hash_first, resume, InlineFileMax);
        inbox.post([this, id, opened = std::move(opened)] { on_prepared(id, opened); });
    });
}

void Uploader::start_removal(Job& job)
{
    // The path may exist again by now (deleted and re-created): then it is uploaded, not removed. The
    // lookup follows the same rules as opening for an upload, so the two can never disagree.
    job.strand->post([this, &inbox = inbox_, root = roots_[job.item.folder], path = job.item.path, id = job.id] {
        const PathPresence presence = check_path(root, path);
        inbox.post([this, id, presence] { on_removal_checked(id, presence); });
    });
}

void Uploader::start_rename(Job& job)
{
    if (job.item.from == job.item.path) {
        // Moved away and back before anything was sent: nothing to move, only the comparison to do.
        finish_rename(job.id, true);
        return;
    }
    job.request_id = next_request_id_++;
    job.state = State::Applying;
    job_by_request_.emplace(job.request_id, job.id);
    link_->send(protocol::encode(protocol::RenameMsg{job.request_id, settings_.folders[job.item.folder].name,
                                                     job.item.from, job.item.path}));
}

void Uploader::finish_rename(std::uint64_t job_id, bool applied)
{
    const auto it = jobs_.find(job_id);
    if (it == jobs_.end()) {
        return;
    }
    const SyncItem rename = it->second.item;
    if (applied) {
        // Directories waiting for their mtime to be restored moved with the rename.
        std::vector<std::pair<std::size_t, std::string>> moved;
        for (auto dir = unsettled_dirs_.begin(); dir != unsettled_dirs_.end();) {
            if (dir->first == rename.folder && paths_overlap(dir->second, rename.from) &&
                dir->second.size() >= rename.from.size()) {
                moved.emplace_back(dir->first, rename.path + dir->second.substr(rename.from.size()));
                dir = unsettled_dirs_.erase(dir);
            } else {
                ++dir;
            }
        }
        unsettled_dirs_.insert(moved.begin(), moved.end());
    }
    end_job(job_id, Then::Done);
    if (rename_done_) {
        rename_done_(rename, applied);
    }
}

void Uploader::on_removal_checked(std::uint64_t job_id, PathPresence presence)
{
    const auto it = jobs_.find(job_id);
    if (it == jobs_.end()) {
        return;
    }
    Job& job = it->second;
    switch (presence) {
    case PathPresence::Unknown:
        SPDLOG_WARN("folder={} path={}: the folder is missing or replaced (moved? unmounted?); not removing "
                    "anything on the server for now",
                    settings_.folders[job.item.folder].name, job.item.path);
        end_job(job_id, Then::RetryLater);
        return;
    case PathPresence::RegularFile:
        if (!job.item.tree) {
            retarget(job, SyncItem::Kind::Upload, false);
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
            retarget(job, SyncItem::Kind::Remove, true);
            const bool jobs_below = std::any_of(jobs_.begin(), jobs_.end(), [&](const auto& entry) {
                const SyncItem& other = entry.second.item;
                return entry.first != job_id && other.folder == job.item.folder &&
                       other.path.size() > job.item.path.size() && paths_overlap(other.path, job.item.path);
            });
            if (jobs_below) {
                end_job(job_id, Then::Requeue);
                return;
            }
        }
        break;
    }
    job.request_id = next_request_id_++;
    job.state = State::Removing;
    job_by_request_.emplace(job.request_id, job_id);
    link_->send(protocol::encode(protocol::RemoveMsg{
        job.request_id, settings_.folders[job.item.folder].name, job.item.path,
        job.item.tree ? protocol::RemoveKind::Tree : protocol::RemoveKind::File}));
}

void Uploader::update_gauges()
{
    metrics_.queue_depth.Set(static_cast<double>(queue_.size() + retry_later_.size()));
    metrics_.inflight_transfers.Set(static_cast<double>(jobs_.size()));
}

void Uploader::count_acknowledged(const Job& job, bool entry_synced)
{
    if (entry_synced) {
        ++stats_.files_synced;
        metrics_.files_synced.Increment();
    }
    if (!job.item.settle) {
        metrics_.synced_after(job.item.seen);
    }
}

void Uploader::record_committed(const Job& job)
{
    StateChange change;
    change.kind = StateChange::Kind::Committed;
    change.folder_id = folder_ids_[job.item.folder];
    change.path = job.item.path;
    change.version = job.version;
    change.mode = job.mode;
    change.sha256 = job.sha256;
    change.entry = job.entry;
    state_.record(std::move(change));
}

void Uploader::on_prepared(std::uint64_t job_id, const OutgoingFile::Opened& opened)
{
    const auto it = jobs_.find(job_id);
    if (it == jobs_.end()) {
        return;
    }
    Job& job = it->second;
    if (job.item.settle && opened.status != OutgoingFile::Status::Directory &&
        opened.status != OutgoingFile::Status::Failed) {
        // Only a directory's attributes were to be restored; whatever is there now came with events of
        // its own (a removal, a rename of the directory), which say what the server must do.
        end_job(job_id, Then::Done);
        return;
    }
    if (opened.status == OutgoingFile::Status::Directory || opened.status == OutgoingFile::Status::Symlink) {
        send_entry(job, opened);
        return;
    }
    if (opened.status == OutgoingFile::Status::Special) {
        SPDLOG_INFO("folder={} path={}: skipped: not a file, directory or symlink (a FIFO, socket or device)",
                    settings_.folders[job.item.folder].name, job.item.path);
    }
    if (opened.status == OutgoingFile::Status::Gone || opened.status == OutgoingFile::Status::Special) {
        // Deleted (or replaced by something that is not a file) before it could be sent: the server may
        // hold an older version, so the path is removed there; a removal of nothing costs one round trip.
        SPDLOG_DEBUG("folder={} path={}: gone before it could be sent", settings_.folders[job.item.folder].name,
                     job.item.path);
        note_change_during_job(job, SyncItem::Kind::Remove);
        end_job(job_id, Then::Done);
        return;
    }
    if (opened.status == OutgoingFile::Status::Failed) {
        ++stats_.failures;
        metrics_.error(ErrorKind::Read);
        last_error_ = settings_.folders[job.item.folder].name + "/" + job.item.path + ": " + opened.error;
        SPDLOG_WARN("folder={} path={}: not sent, retried in 5 s err={}", settings_.folders[job.item.folder].name,
                    job.item.path, opened.error);
        end_job(job_id, Then::RetryLater);
        return;
    }
    job.request_id = next_request_id_++;
    job.version = opened.version;
    job.size = opened.version.size;
    job.mode = opened.mode;
    job.announced_sha256 = opened.sha256;
    job.resume_offset = opened.resume_offset;
    job.confirmed_offset = opened.resume_offset;
    job_by_request_.emplace(job.request_id, job_id);
    if (opened.content) {
        send_whole_file(job, *opened.content);
        return;
    }
    job.state = State::AwaitingReady;
    protocol::UploadBegin begin;
    begin.request_id = job.request_id;
    begin.folder = settings_.folders[job.item.folder].name;
    begin.path = job.item.path;
    begin.size = opened.version.size;
    begin.mtime_ns = opened.version.mtime_ns;
    begin.mode = opened.mode;
    begin.sha256 = opened.sha256;
    begin.hash_if_present = job.item.verify_first && !opened.sha256;
    begin.resume_offset = opened.resume_offset;
    begin.prefix_sha256 = opened.prefix_sha256;
    link_->send(protocol::encode(begin));
}

void Uploader::send_whole_file(Job& job, std::span<const std::uint8_t> content)
{
    job.state = State::Committing;
    job.sha256 = *job.announced_sha256;
    job.bytes_sent = job.size;
    stats_.bytes_sent += job.size;
    metrics_.bytes_sent.Increment(static_cast<double>(job.size));
    link_->send(protocol::encode(protocol::PutFile{job.request_id, settings_.folders[job.item.folder].name,
                                                   job.item.path, job.version.mtime_ns, job.mode, job.sha256,
                                                   content}));
}

void Uploader::send_entry(Job& job, const OutgoingFile::Opened& opened)
{
    job.request_id = next_request_id_++;
    job.version = opened.version;
    job.mode = opened.mode;
    job.state = State::Applying;
    job_by_request_.emplace(job.request_id, job.id);
    const std::string& folder = settings_.folders[job.item.folder].name;
    if (opened.status == OutgoingFile::Status::Directory) {
        job.entry = EntryKind::Directory;
        link_->send(protocol::encode(
            protocol::MakeDirMsg{job.request_id, folder, job.item.path, opened.mode, opened.version.mtime_ns}));
    } else {
        job.entry = EntryKind::Symlink;
        link_->send(protocol::encode(protocol::MakeSymlinkMsg{job.request_id, folder, job.item.path,
                                                              opened.link_target, opened.version.mtime_ns}));
    }
}

void Uploader::issue_reads(Job& job)
{
    while (job.reads_in_flight < MaxReadsPerJob && job.next_read < job.size && buffered_bytes() < MaxBufferedBytes) {
        const std::uint64_t offset = job.next_read;
        const std::size_t length = static_cast<std::size_t>(std::min<std::uint64_t>(ChunkSize, job.size - offset));
        job.next_read += length;
        ++job.reads_in_flight;
        bytes_being_read_ += length;
        // Allocated here and freed here once sent: the loop thread's heap, which an idle agent hands back
        // (a worker's heap keeps what it frees at its top, where malloc_trim() does not reach).
        job.strand->post([this, &inbox = inbox_, file = job.file, id = job.id, offset, length,
                          buffer = ByteBuffer(length)]() mutable {
            OutgoingFile::Chunk chunk = file->read(offset, std::move(buffer));
            inbox.post([this, id, offset, length, chunk = std::move(chunk)]() mutable {
                on_chunk(id, offset, length, std::move(chunk));
            });
        });
    }
}

void Uploader::on_chunk(std::uint64_t job_id, std::uint64_t offset, std::size_t length, OutgoingFile::Chunk&& chunk)
{
    bytes_being_read_ -= length;
    const auto it = jobs_.find(job_id);
    if (it == jobs_.end()) {
        pump();
        return;
    }
    Job& job = it->second;
    --job.reads_in_flight;
    if (!chunk.ok) {
        metrics_.error(ErrorKind::Read);
        SPDLOG_INFO("folder={} path={}: {}; sending it again once it settles", settings_.folders[job.item.folder].name,
                    job.item.path, chunk.error);
        link_->send(protocol::encode_request_only(FrameType::Abort, job.request_id));
        end_job(job_id, Then::RetryLater);
        return;
    }
    link_->send_data(protocol::DataPrefix{job.request_id, offset}, std::move(chunk.data));
    job.bytes_sent += length;
    stats_.bytes_sent += length;
    metrics_.bytes_sent.Increment(static_cast<double>(length));
    if (job.bytes_sent == job.size) {
        job.state = State::Finishing;
        job.strand->post([this, &inbox = inbox_, file = job.file, job_id] {
            const OutgoingFile::Finished finished = file->finish();
            inbox.post([this, job_id, finished] { on_finished(job_id, finished); });
        });
    }
    pump();
}

void Uploader::on_finished(std::uint64_t job_id, const OutgoingFile::Finished& finished)
{
    const auto it = jobs_.find(job_id);
    if (it == jobs_.end()) {
        return;
    }
    Job& job = it->second;
    if (!finished.unchanged && !(finished.only_grew && job.item.growing)) {
        // A writer that closes the file queues it again at once (its close-write event marks this
        // job); one that keeps it open and busy is retried only after a pause, not in a hot loop of
        // whole-file reads.
        SPDLOG_INFO("folder={} path={}: changed while being sent; sending it again once it settles",
                    settings_.folders[job.item.folder].name, job.item.path);
        link_->send(protocol::encode_request_only(FrameType::Abort, job.request_id));
        // If its close-write has sent it meanwhile, the retry costs a hash, not a transfer.
        job.item.verify_first = true;
        job.item.hash_requested = true;
        end_job(job_id, Then::RetryLater);
        return;
    }
    job.state = State::Committing;
    job.sha256 = finished.sha256;
    link_->send(protocol::encode(protocol::Commit{job.request_id, finished.sha256}));
}

void Uploader::on_server_frame(const protocol::FrameHeader& header, ByteBuffer&& body)
{
    std::optional<std::uint32_t> request_id;
    switch (header.type) {
    case FrameType::UploadReady:
        if (const auto ready = protocol::decode_upload_ready(body)) request_id = ready->request_id;
        break;
    case FrameType::AlreadyHave:
    case FrameType::Committed:
    case FrameType::Removed:
    case FrameType::Done:
    case FrameType::HashWanted:
        if (const auto reply = protocol::decode_request_only(body)) request_id = reply->request_id;
        break;
    case FrameType::Progress:
        if (const auto progress = protocol::decode_progress(body)) request_id = progress->request_id;
        break;
    case FrameType::Error:
        if (const auto error = protocol::decode_error(body)) request_id = error->request_id;
        break;
    default: break;
    }
    if (!request_id) {
        SPDLOG_WARN("server sent an unexpected or malformed {} frame; ignored", protocol::to_string(header.type));
        return;
    }
    handle_reply(*request_id, header.type, body);
}

Uploader::Job* Uploader::job_for_request(std::uint32_t request_id)
{
    const auto it = job_by_request_.find(request_id);
    return it == job_by_request_.end() ? nullptr : &jobs_.at(it->second);
}

void Uploader::handle_reply(std::uint32_t request_id, FrameType type, protocol::Bytes body)
{
    Job* job = job_for_request(request_id);
    if (job == nullptr) {
        return; // an upload this side already gave up
    }
    const std::string& folder = settings_.folders[job->item.folder].name;
    switch (type) {
    case FrameType::UploadReady: {
        const auto ready = protocol::decode_upload_ready(body);
        const bool resumed = ready->offset == job->resume_offset;
        if (job->state != State::AwaitingReady || (!resumed && ready->offset != 0)) {
            SPDLOG_WARN("folder={} path={}: server offered offset {}, which this agent did not ask for", folder,
                        job->item.path, ready->offset);
            link_->send(protocol::encode_request_only(FrameType::Abort, request_id));
            end_job(job->id, Then::RetryLater);
            return;
        }
        if (resumed && ready->offset > 0) {
            stats_.resumed_bytes += ready->offset;
            metrics_.resumed_bytes.Increment(static_cast<double>(ready->offset));
            SPDLOG_INFO("folder={} path={}: resuming at byte {} of {}", folder, job->item.path, ready->offset,
                        job->size);
        } else if (job->resume_offset > 0) {
            // The server's partial was gone or not this version: the prefix hash starts over too.
            job->strand->post([file = job->file] { file->restart(); });
            job->confirmed_offset = 0;
        }
        job->state = State::Streaming;
        job->next_read = ready->offset;
        job->bytes_sent = ready->offset;
        if (job->bytes_sent == job->size) {
            job->state = State::Finishing;
            job->strand->post([this, &inbox = inbox_, file = job->file, job_id = job->id] {
                const OutgoingFile::Finished finished = file->finish();
                inbox.post([this, job_id, finished] { on_finished(job_id, finished); });
            });
            return;
        }
        pump();
        return;
    }
    case FrameType::Progress: {
        const auto progress = protocol::decode_progress(body);
        if (job->state != State::Streaming && job->state != State::Finishing) {
            return;
        }
        job->confirmed_offset = std::max(job->confirmed_offset, progress->durable_offset);
        StateChange change;
        change.kind = StateChange::Kind::Progress;
        change.folder_id = folder_ids_[job->item.folder];
        change.path = job->item.path;
        change.version = job->version;
        change.offset = job->confirmed_offset;
        state_.record(std::move(change));
        return;
    }
    case FrameType::Removed: {
        ++stats_.files_removed;
        count_acknowledged(*job, false);
        SPDLOG_INFO("folder={} path={}: removed{}", folder, job->item.path, job->item.tree ? " with all below it" : "");
        StateChange change;
        change.kind = job->item.tree ? StateChange::Kind::ForgottenTree : StateChange::Kind::Forgotten;
        change.folder_id = folder_ids_[job->item.folder];
        change.path = job->item.path;
        state_.record(std::move(change));
        end_job(job->id, Then::Done);
        return;
    }
    case FrameType::Done:
        if (job->item.kind == SyncItem::Kind::Rename) {
            SPDLOG_INFO("folder={} path={}: renamed from {}", folder, job->item.path, job->item.from);
            count_acknowledged(*job, true);
            finish_rename(job->id, true);
            return;
        }
        count_acknowledged(*job, true);
        SPDLOG_DEBUG("folder={} path={}: {} synced", folder, job->item.path,
                     job->entry == EntryKind::Directory ? "directory" : "symlink");
        record_committed(*job);
        end_job(job->id, Then::Done);
        return;
    case FrameType::HashWanted:
        // Its hash decides whether the server's file of the same size is this one: asked again with it.
        SPDLOG_DEBUG("folder={} path={}: server has a file of this size; offering the hash", folder, job->item.path);
        job->item.hash_requested = true;
        end_job(job->id, Then::Requeue);
        return;
    case FrameType::AlreadyHave:
        count_acknowledged(*job, true);
        SPDLOG_DEBUG("folder={} path={}: server already has it", folder, job->item.path);
        if (job->announced_sha256) {
            job->sha256 = *job->announced_sha256;
            record_committed(*job);
        }
        end_job(job->id, Then::Done);
        return;
    case FrameType::Committed:
        count_acknowledged(*job, true);
        SPDLOG_INFO("folder={} path={}: synced ({} bytes)", folder, job->item.path, job->size);
        record_committed(*job);
        end_job(job->id, Then::Done);
        return;
    case FrameType::Error: {
        const auto error = protocol::decode_error(body);
        if (job->item.kind == SyncItem::Kind::Rename) {
            // Nothing there (never sent, or already moved) or something in the way: the old path is
            // removed and the new one compared and sent, as if the rename had been a delete and a create.
            SPDLOG_INFO("folder={} path={}: rename from {} not applied ({}: {}); sending it anew", folder,
                        job->item.path, job->item.from, protocol::to_string(error->code), error->message);
            finish_rename(job->id, false);
            return;
        }
        ++stats_.failures;
        metrics_.error(ErrorKind::Server);
        if (error->code == ErrorCode::Conflict && job->item.kind == SyncItem::Kind::Upload) {
            // A directory where this file goes: the agent has a file there, so the server's tree is
            // stale. It is removed first (the removal sends the file once it is done).
            SPDLOG_INFO("folder={} path={}: a directory is in the way on the server; replacing it", folder,
                        job->item.path);
            retarget(*job, SyncItem::Kind::Remove, true);
            end_job(job->id, Then::Requeue);
            return;
        }
        const bool retry = worth_retrying(error->code);
        last_error_ = folder + "/" + job->item.path + ": server error: " + error->message;
        SPDLOG_WARN("folder={} path={}: server refused it{} err={} ({})", folder, job->item.path,
                    retry ? ", retried in 5 s" : "", error->message, protocol::to_string(error->code));
        end_job(job->id, retry ? Then::RetryLater : Then::Done);
        return;
    }
    default: return;
    }
}

void Uploader::end_job(std::uint64_t job_id, Then then)
{
    const auto it = jobs_.find(job_id);
    if (it == jobs_.end()) {
        return;
    }
    Job job = std::move(it->second);
    jobs_.erase(it);
    wide_jobs_ -= is_wide(job.item) ? 1 : 0;
    if (job.request_id != 0 && !job.item.settle) {
        // Whatever the answer, the server may have changed the directory: a partial file made and
        // discarded moves its mtime as surely as a commit does.
        note_directory_changed(job.item.folder, job.item.path);
        if (job.item.kind == SyncItem::Kind::Rename) {
            note_directory_changed(job.item.folder, job.item.from);
        }
    }
    job_by_path_.erase(job.key);
    if (job.request_id != 0) {
        job_by_request_.erase(job.request_id);
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
        retry_later_.push_back(std::move(item));
        if (evtimer_pending(retry_timer_.get(), nullptr) == 0) {
            evtimer_add(retry_timer_.get(), &RetryDelay);
        }
    }
    pump();
}

void Uploader::retry_failed()
{
    for (SyncItem& item : std::exchange(retry_later_, {})) {
        queue_.push(std::move(item));
    }
    pump();
}

void Uploader::on_link_ready()
{
    metrics_.connection_up.Set(1);
    if (std::exchange(ever_connected_, true)) {
        metrics_.reconnects.Increment();
    }
    // Request ids are per connection and only have to increase on it.
    next_request_id_ = 1;
    pump();
}

void Uploader::on_link_lost()
{
    metrics_.connection_up.Set(0);
    for (auto& [id, job] : jobs_) {
        // A commit may have landed before the connection died; hashing first avoids sending it twice.
        job.item.verify_first = job.item.verify_first || job.state == State::Committing;
        // A job still preparing keeps the hint it came with; one that got further offers what the
        // server confirmed.
        if (job.state != State::Preparing) {
            job.item.resume.reset();
            if (job.confirmed_offset > 0 && job.state != State::Committing) {
                job.item.resume = ResumeHint{job.version, job.confirmed_offset};
            }
        }
        queue_.push(std::move(job.item));
    }
    jobs_.clear();
    wide_jobs_ = 0;
    job_by_path_.clear();
    job_by_request_.clear();
    update_gauges();
    check_drained();
}

} // namespace minisync::agent
