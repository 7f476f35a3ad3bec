// inotify event decoding, rename pairing, deferred sends and the dispatch of subtree scans.
#include "folder_watcher.h"

#include "must_succeed.h"
#include "reconcile.h"
#include "tree_scanner.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

namespace minisync::agent {
namespace {

// Rescans of a folder not fully watched back off from the first to the last interval.
constexpr std::chrono::seconds FirstWatchLimitRescan{5};
constexpr std::chrono::seconds LastWatchLimitRescan{60};

std::string max_user_watches()
{
    std::ifstream in{"/proc/sys/fs/inotify/max_user_watches"};
    std::string value;
    in >> value;
    return value.empty() ? "unknown" : value;
}

} // namespace

FolderWatcher::FolderWatcher(event_base* base, TimerMaker& timers, LoopInbox& inbox, WorkerPool& pool,
                             FolderTable& folders,
                             std::vector<std::string> global_excludes,
                             AgentMetrics& metrics, ChangeSink sink, RecordsLoader load_records)
    : inbox_{inbox},
      pool_{pool},
      folders_{folders},
      global_excludes_{std::move(global_excludes)},
      metrics_{metrics},
      sink_{std::move(sink)},
      load_records_{std::move(load_records)},
      watches_{std::make_shared<WatchTable>()},
      read_event_{event_new(base, watches_->inotify_fd(), EV_READ | EV_PERSIST, &FolderWatcher::on_readable, this)},
      due_timer_{timers.make([this] { send_due(); })},
      rescan_timer_{timers.make([this] { rescan_watch_limited(); })},
      rescan_interval_{FirstWatchLimitRescan}
{
    must_succeed(read_event_ != nullptr, "event_new");
    for (std::size_t folder = 0; folder < folders_.size(); ++folder) {
        // A folder whose root is not there is watched once it is (start_watching).
        folders_[folder].watched = folders_[folder].root_state == RootVerdict::State::Present;
        folders_[folder].exclude_filter = filter_for(folder);
    }
}

std::shared_ptr<const ExcludeFilter> FolderWatcher::filter_for(std::size_t folder) const
{
    std::vector<std::string> patterns = global_excludes_;
    const std::vector<std::string>& own = folders_[folder].spec.excludes;
    patterns.insert(patterns.end(), own.begin(), own.end());
    return std::make_shared<const ExcludeFilter>(std::move(patterns));
}

bool FolderWatcher::watching(std::size_t folder) const
{
    return folders_[folder].watched && !folders_[folder].removed;
}

void FolderWatcher::remove_folder(std::size_t folder)
{
    watches_->unwatch_tree(folder, "");
    folders_[folder].watch_limited = false;
    moves_out_.drop_folder(folder);
    deferred_.drop_folder(folder);
}

void FolderWatcher::stop_watching(std::size_t folder)
{
    remove_folder(folder);
    folders_[folder].watched = false;
    ++folders_[folder].watch_epoch;
}

void FolderWatcher::start_watching(std::size_t folder, Against against)
{
    folders_[folder].watched = true;
    folders_[folder].exclude_filter = filter_for(folder);
    if (against == Against::Records) {
        rescan_with_records(folder);
    } else {
        resync(folder);
    }
}

void FolderWatcher::root_doubt(std::size_t folder, const std::string& what)
{
    if (on_root_doubt_) {
        on_root_doubt_(folder, what);
    }
}

void FolderWatcher::set_excludes(std::vector<std::string> global_excludes)
{
    global_excludes_ = std::move(global_excludes);
    for (std::size_t folder = 0; folder < folders_.size(); ++folder) {
        if (!folders_[folder].watched) {
            continue; // not loaded yet: its filter is made when watching starts
        }
        folders_[folder].exclude_filter = filter_for(folder);
        if (!folders_[folder].removed) {
            rescan_with_records(folder);
        }
    }
}

void FolderWatcher::start(std::vector<std::shared_ptr<const FolderRecords>> known)
{
    must_succeed(event_add(read_event_.get(), nullptr) == 0, "event_add");
    for (std::size_t folder = 0; folder < folders_.size(); ++folder) {
        if (watching(folder)) {
            scan(folder, "", true, folder < known.size() ? std::move(known[folder]) : nullptr);
        }
    }
}

void FolderWatcher::stop()
{
    must_succeed(event_del(read_event_.get()) == 0, "event_del");
    due_timer_->cancel();
    rescan_timer_->cancel();
}

void FolderWatcher::reconcile_subtree(std::size_t folder, std::string path, Compared compared)
{
    load_records_(folder, path,
                  [this, folder, path, compared = std::move(compared)](std::shared_ptr<const FolderRecords> records) {
                      scan(folder, path, true, std::move(records), compared);
                  });
}

void FolderWatcher::resync(std::size_t folder)
{
    scan(folder, "", true, nullptr);
}

void FolderWatcher::rescan_with_records(std::size_t folder)
{
    load_records_(folder, std::nullopt, [this, folder](std::shared_ptr<const FolderRecords> records) {
        scan(folder, "", true, std::move(records));
    });
}

void FolderWatcher::scan(std::size_t folder, std::string start, bool verify_first,
                         std::shared_ptr<const FolderRecords> known, Compared compared)
{
    ++scans_running_;
    // The worker touches only what it owns a share of; `this` is used back on the loop thread alone.
    pool_.post([this, &inbox = inbox_, &stop = pool_.stop_requested(), watches = watches_,
                excludes = folders_[folder].exclude_filter, folder, root = folders_[folder].root,
                start = std::move(start), verify_first, known = std::move(known),
                epoch = folders_[folder].watch_epoch, compared = std::move(compared)]() mutable {
        ScanResult result = scan_tree(*watches, *excludes, folder, root, start, stop);
        ReconcilePlan plan;
        if (known) {
            plan = reconcile(result.scan, *known, *excludes);
        } else {
            for (ScannedEntry& entry : result.scan.entries) {
                SyncItem item;
                item.verify_first = verify_first && entry.kind == EntryKind::File;
                item.path = std::move(entry.path);
                plan.uploads.push_back(std::move(item));
            }
        }
        inbox.post([this, folder, start, epoch, result = std::move(result), plan = std::move(plan),
                    compared = std::move(compared)]() mutable {
            finish_scan(folder, epoch, start, result, std::move(plan), compared);
        });
    });
}

void FolderWatcher::finish_scan(std::size_t folder, std::uint64_t epoch, const std::string& start,
                                const ScanResult& result, ReconcilePlan&& plan, const Compared& compared)
{
    --scans_running_;
    if (!watching(folder) || epoch != folders_[folder].watch_epoch || result.root_replaced) {
        // Removed or no longer watched (its watches went then, and any this scan added go too), watched
        // anew since it started, or its root was not the folder's: what it found says nothing now.
        if (!watching(folder)) {
            watches_->unwatch_tree(folder, "");
        }
        if (result.root_replaced && watching(folder)) {
            root_doubt(folder, "its root changed during a scan");
        }
        if (compared) {
            compared(false);
        }
        if (scans_running_ == 0 && on_scans_done_) {
            on_scans_done_();
        }
        return;
    }
    const std::string& name = folders_[folder].spec.name;
    for (const std::string& error : result.errors) {
        SPDLOG_WARN("folder={}: scan problem err={}", name, error);
    }
    for (const std::string& path : result.scan.mount_points) {
        SPDLOG_INFO("folder={} path={}: another file system is mounted here; what it holds is not synced "
                    "(one_file_system), and what the server holds below it stays there",
                    name, path);
    }
    for (const std::string& path : result.skipped) {
        SPDLOG_INFO("folder={} path={}: skipped: not a file, directory or symlink (a FIFO, socket or device)", name,
                    path);
    }
    if (result.watch_limit_reached || (start.empty() && result.scan.complete)) {
        note_watch_limit(folder, result.watch_limit_reached);
    }
    if (plan.withheld_removals) {
        SPDLOG_WARN("folder={}: the folder is empty but the state database remembers files; not deleting them "
                    "on the server (is the file system mounted?)",
                    name);
    }
    if (result.scan.complete && start.empty()) {
        SPDLOG_INFO("folder={}: scanned {} entries in {} directories: {} unchanged, {} to send, {} to remove", name,
                    result.scan.entries.size(), result.directories, plan.unchanged, plan.uploads.size(),
                    plan.removals.size());
    }
    for (SyncItem& item : plan.uploads) {
        item.folder = folder;
        sink_(std::move(item));
    }
    const bool in_place = result.scan.complete && result.scan.failed_dirs.empty() &&
                          result.scan.mount_points.empty() && !result.scan.entries.empty() && plan.uploads.empty();
    for (SyncItem& item : plan.removals) {
        item.folder = folder;
        sink_(std::move(item));
    }
    if (compared) {
        compared(in_place);
    }
    if (scans_running_ == 0 && on_scans_done_) {
        on_scans_done_();
    }
}

void FolderWatcher::note_watch_limit(std::size_t folder, bool reached)
{
    const std::string& name = folders_[folder].spec.name;
    Folder& watched = folders_[folder];
    if (!reached) {
        if (watched.watch_limited) {
            watched.watch_limited = false;
            watched.error.clear();
            SPDLOG_INFO("folder={}: every directory is watched again", name);
        }
        return;
    }
    if (!watched.watch_limited) {
        watched.watch_limited = true;
        metrics_.error(ErrorKind::Watch);
        rescan_interval_ = FirstWatchLimitRescan;
        watched.error = "inotify watch limit reached (fs.inotify.max_user_watches = " + max_user_watches() +
                                 "); raise it with: sysctl -w fs.inotify.max_user_watches=<more>";
        SPDLOG_ERROR("folder={}: {}; until then changes in the directories not watched are found by a rescan, "
                     "the first in {} s",
                     name, watched.error, rescan_interval_.count());
    }
    if (!rescan_timer_->armed()) {
        rescan_timer_->arm(rescan_interval_);
    }
}

void FolderWatcher::rescan_watch_limited()
{
    rescan_interval_ = std::min(rescan_interval_ * 2, LastWatchLimitRescan);
    for (std::size_t folder = 0; folder < folders_.size(); ++folder) {
        if (folders_[folder].watch_limited && watching(folder)) {
            SPDLOG_DEBUG("folder={}: rescanning, not every directory is watched", folders_[folder].spec.name);
            rescan_with_records(folder);
        }
    }
}

void FolderWatcher::read_events()
{
    // Large enough for a burst, aligned as inotify(7) requires.
    alignas(inotify_event) static thread_local char buffer[64 * 1024];
    while (true) {
        const ssize_t n = ::read(watches_->inotify_fd(), buffer, sizeof buffer);
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR) {
                SPDLOG_ERROR("reading inotify events failed: {} ({})", std::strerror(errno), errno);
            }
            if (errno != EINTR) {
                break;
            }
            continue;
        }
        for (ssize_t offset = 0; offset < n;) {
            const auto* event = reinterpret_cast<const inotify_event*>(buffer + offset);
            handle_event(*event);
            offset += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
        }
    }
    arm_due_timer();
}

void FolderWatcher::handle_event(const inotify_event& event)
{
    if ((event.mask & IN_Q_OVERFLOW) != 0) {
        ++overflows_;
        metrics_.inotify_overflows.Increment();
        SPDLOG_WARN("inotify queue overflowed; rescanning every folder");
        // Events were lost, deletions among them: the rescan is reconciled with the state database,
        // exactly as at start-up.
        for (std::size_t folder = 0; folder < folders_.size(); ++folder) {
            if (watching(folder)) {
                if (on_events_lost_) {
                    on_events_lost_(folder);
                }
                rescan_with_records(folder);
            }
        }
        return;
    }
    const std::optional<WatchedDir> dir = watches_->find(event.wd);
    if (!dir || folders_[dir->folder].removed) {
        return;
    }
    Folder& event_folder = folders_[dir->folder];
    if ((event.mask & IN_IGNORED) != 0) {
        watches_->forget(event.wd);
        if (dir->path.empty() && watching(dir->folder)) {
            root_doubt(dir->folder, "the watch on its root ended");
        }
        return;
    }
    if ((event.mask & IN_UNMOUNT) != 0) {
        if (dir->path.empty()) {
            root_doubt(dir->folder, "the file system holding its root was unmounted");
        } else {
            // Only a folder with one_file_system = false watches another file system: what it held is gone
            // from view, not deleted, so it stays on the server.
            SPDLOG_WARN("folder={} path={}: the file system mounted here was unmounted; what it held stays on the "
                        "server",
                        event_folder.spec.name, dir->path);
            watches_->unwatch_tree(dir->folder, dir->path);
        }
        return;
    }
    if ((event.mask & (IN_DELETE_SELF | IN_MOVE_SELF)) != 0) {
        if (dir->path.empty()) {
            root_doubt(dir->folder, (event.mask & IN_DELETE_SELF) != 0 ? "its root was removed"
                                                                     : "its root was moved away");
        }
        return;
    }
    if (event.len == 0) {
        return; // about the watched directory itself: its parent's watch reports it by name
    }
    const std::string name{event.name, ::strnlen(event.name, event.len)};
    std::string path = dir->path.empty() ? name : dir->path + "/" + name;
    const bool excluded = event_folder.exclude_filter->excluded(path);
    const bool is_dir = (event.mask & IN_ISDIR) != 0;
    if ((event.mask & IN_MOVED_FROM) != 0) {
        moves_out_.add(MoveOut{event.cookie, dir->folder, std::move(path), is_dir, excluded}, Clock::now());
        return;
    }
    if ((event.mask & IN_MOVED_TO) != 0) {
        handle_move_in(event.cookie, dir->folder, std::move(path), is_dir, excluded);
        return;
    }
    if (excluded) {
        return;
    }
    if (!is_dir) {
        handle_file_event(dir->folder, std::move(path), event.mask);
        return;
    }
    if ((event.mask & IN_CREATE) != 0) {
        // The new directory may already hold entries created before its watch existed: its scan sends
        // them, and the directory itself.
        scan(dir->folder, std::move(path), false, nullptr);
    } else if ((event.mask & IN_DELETE) != 0) {
        send(dir->folder, std::move(path), SyncItem::Kind::Remove, true);
    } else if ((event.mask & (IN_ATTRIB | IN_MODIFY)) != 0) {
        // A chmod, or a touch: setting only the mtime is reported as IN_MODIFY, never caused by entries
        // coming and going (those have events of their own).
        send(dir->folder, std::move(path), SyncItem::Kind::Upload);
    }
}

void FolderWatcher::handle_file_event(std::size_t folder, std::string path, std::uint32_t mask)
{
    if ((mask & IN_CLOSE_WRITE) != 0) {
        deferred_.drop(folder, path);
        send(folder, std::move(path), SyncItem::Kind::Upload);
    } else if ((mask & IN_DELETE) != 0) {
        deferred_.drop(folder, path);
        send(folder, std::move(path), SyncItem::Kind::Remove);
    } else if ((mask & IN_ATTRIB) != 0) {
        // chmod or touch: the content is most likely what the server has, so offer the hash and let
        // the server apply the new mode and mtime without a transfer.
        SyncItem item;
        item.folder = folder;
        item.path = std::move(path);
        item.verify_first = true;
        sink_(std::move(item));
    } else if ((mask & IN_MODIFY) != 0) {
        deferred_.defer(folder, std::move(path), true, Clock::now());
    } else if ((mask & IN_CREATE) != 0) {
        deferred_.defer(folder, std::move(path), false, Clock::now());
    }
}

void FolderWatcher::handle_move_in(std::uint32_t cookie, std::size_t folder, std::string path, bool is_dir,
                                   bool excluded)
{
    const std::optional<MoveOut> source = moves_out_.take(cookie);
    if (source && source->folder == folder && !source->excluded && !excluded) {
        renamed(folder, source->path, std::move(path), is_dir);
        return;
    }
    // Across folders, or into or out of what is excluded: a removal on one side, an upload on the other.
    if (source) {
        moved_away(*source);
    }
    if (!excluded) {
        moved_in(folder, std::move(path), is_dir);
    }
}

void FolderWatcher::renamed(std::size_t folder, const std::string& from, std::string to, bool is_dir)
{
    deferred_.drop(folder, from);
    if (is_dir) {
        watches_->rename_tree(folder, from, to);
    }
    SyncItem item;
    item.folder = folder;
    item.path = std::move(to);
    item.kind = SyncItem::Kind::Rename;
    item.from = from;
    item.tree = is_dir;
    sink_(std::move(item));
}

void FolderWatcher::moved_away(const MoveOut& move)
{
    if (move.excluded) {
        return;
    }
    deferred_.drop(move.folder, move.path);
    if (move.is_dir) {
        watches_->unwatch_tree(move.folder, move.path);
    }
    send(move.folder, move.path, SyncItem::Kind::Remove, move.is_dir);
}

void FolderWatcher::moved_in(std::size_t folder, std::string path, bool is_dir)
{
    if (is_dir) {
        scan(folder, std::move(path), false, nullptr);
    } else {
        send(folder, std::move(path), SyncItem::Kind::Upload);
    }
}

void FolderWatcher::send(std::size_t folder, std::string path, SyncItem::Kind kind, bool tree)
{
    SyncItem item;
    item.folder = folder;
    item.path = std::move(path);
    item.kind = kind;
    item.tree = tree;
    sink_(std::move(item));
}

void FolderWatcher::send_due()
{
    due_timer_at_.reset();
    const Clock::time_point now = Clock::now();
    // Moves out first: a removal drops what was deferred below the path it removes.
    for (const MoveOut& move : moves_out_.take_expired(now)) {
        moved_away(move);
    }
    for (DeferredSends::Due& due : deferred_.take_due(now)) {
        SyncItem item;
        item.folder = due.folder;
        item.path = std::move(due.path);
        item.growing = due.growing;
        sink_(std::move(item));
    }
    arm_due_timer();
}

void FolderWatcher::arm_due_timer()
{
    std::optional<Clock::time_point> earliest = moves_out_.earliest();
    if (const auto next_send = deferred_.earliest(); next_send && (!earliest || *next_send < *earliest)) {
        earliest = next_send;
    }
    if (!earliest || (due_timer_at_ && *due_timer_at_ <= *earliest)) {
        return;
    }
    due_timer_at_ = earliest;
    // Rounded up: a timer that fired before anything was due would only arm itself again.
    const auto delay = std::chrono::ceil<std::chrono::milliseconds>(*earliest - Clock::now());
    due_timer_->arm(std::max(delay, std::chrono::milliseconds{0}));
}

} // namespace minisync::agent
