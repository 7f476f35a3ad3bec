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
#include <stdexcept>

namespace minisync::agent {
namespace {

using namespace std::chrono_literals;

// The two halves of a rename normally arrive together; the window only covers a read that splits them.
constexpr auto MoveWindow = 50ms;
constexpr auto CreateSettle = 100ms;
constexpr auto GrowingInterval = 2s;
// Rescans of a folder not fully watched back off from the first to the last interval.
constexpr std::chrono::seconds FirstWatchLimitRescan{5};
constexpr std::chrono::seconds LastWatchLimitRescan{60};

timeval to_timeval(std::chrono::microseconds us)
{
    const auto clamped = std::max(us, std::chrono::microseconds{0});
    return timeval{static_cast<time_t>(clamped.count() / 1'000'000), static_cast<suseconds_t>(clamped.count() % 1'000'000)};
}

std::string max_user_watches()
{
    std::ifstream in{"/proc/sys/fs/inotify/max_user_watches"};
    std::string value;
    in >> value;
    return value.empty() ? "unknown" : value;
}

} // namespace

FolderWatcher::FolderWatcher(event_base* base, LoopInbox& inbox, WorkerPool& pool, FolderTable& folders,
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
      due_timer_{evtimer_new(base, &FolderWatcher::on_due, this)},
      rescan_timer_{evtimer_new(base, &FolderWatcher::on_rescan, this)},
      rescan_interval_{FirstWatchLimitRescan}
{
    if (!read_event_ || !due_timer_ || !rescan_timer_) {
        throw std::runtime_error("event_new failed for the inotify descriptor");
    }
    for (std::size_t folder = 0; folder < folders_.size(); ++folder) {
        folders_[folder].watched = true;
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

void FolderWatcher::add_folder(std::size_t folder, std::shared_ptr<const FolderRecords> known)
{
    folders_[folder].watched = true;
    folders_[folder].exclude_filter = filter_for(folder);
    scan(folder, "", true, std::move(known));
}

void FolderWatcher::remove_folder(std::size_t folder)
{
    watches_->unwatch_tree(folder, "");
    folders_[folder].watch_limited = false;
    std::erase_if(moves_out_, [folder](const MoveOut& move) { return move.folder == folder; });
    std::erase_if(deferred_, [folder](const auto& entry) { return entry.first.first == folder; });
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
        scan(folder, "", true, folder < known.size() ? std::move(known[folder]) : nullptr);
    }
}

void FolderWatcher::stop()
{
    must_succeed(event_del(read_event_.get()) == 0, "event_del");
    must_succeed(evtimer_del(due_timer_.get()) == 0, "evtimer_del");
    must_succeed(evtimer_del(rescan_timer_.get()) == 0, "evtimer_del");
}

void FolderWatcher::reconcile_subtree(std::size_t folder, std::string path)
{
    load_records_(folder, path, [this, folder, path](std::shared_ptr<const FolderRecords> records) {
        scan(folder, path, true, std::move(records));
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
                         std::shared_ptr<const FolderRecords> known)
{
    ++scans_running_;
    // The worker touches only what it owns a share of; `this` is used back on the loop thread alone.
    pool_.post([this, &inbox = inbox_, &stop = pool_.stop_requested(), watches = watches_,
                excludes = folders_[folder].exclude_filter, folder, root = folders_[folder].spec.path, start = std::move(start), verify_first,
                known = std::move(known)] {
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
        inbox.post([this, folder, start, result = std::move(result), plan = std::move(plan)]() mutable {
            finish_scan(folder, start, result, std::move(plan));
        });
    });
}

void FolderWatcher::finish_scan(std::size_t folder, const std::string& start, const ScanResult& result,
                                ReconcilePlan&& plan)
{
    --scans_running_;
    if (folders_[folder].removed) {
        // Its watches went when it was removed; any this scan added go too.
        watches_->unwatch_tree(folder, "");
        if (scans_running_ == 0 && on_scans_done_) {
            on_scans_done_();
        }
        return;
    }
    const std::string& name = folders_[folder].spec.name;
    for (const std::string& error : result.errors) {
        SPDLOG_WARN("folder={}: scan problem err={}", name, error);
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
    for (SyncItem& item : plan.removals) {
        item.folder = folder;
        sink_(std::move(item));
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
    if (evtimer_pending(rescan_timer_.get(), nullptr) == 0) {
        const timeval delay = to_timeval(rescan_interval_);
        must_succeed(evtimer_add(rescan_timer_.get(), &delay) == 0, "evtimer_add");
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
    if ((event.mask & IN_IGNORED) != 0) {
        watches_->forget(event.wd);
        return;
    }
    Folder& event_folder = folders_[dir->folder];
    const std::string& folder_name = event_folder.spec.name;
    if ((event.mask & IN_UNMOUNT) != 0) {
        if (dir->path.empty()) {
            SPDLOG_ERROR("folder={}: the file system holding '{}' was unmounted; nothing is removed on the server, "
                         "and the folder is not watched until minisyncd is restarted",
                         folder_name, event_folder.spec.path);
            event_folder.error = "file system unmounted";
        }
        return;
    }
    if ((event.mask & (IN_DELETE_SELF | IN_MOVE_SELF)) != 0) {
        if (dir->path.empty()) {
            SPDLOG_ERROR("folder={}: the watched folder '{}' was removed or moved away; the server keeps its copy",
                         folder_name, event_folder.spec.path);
            event_folder.error = "folder removed or moved away";
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
        moves_out_.push_back(MoveOut{event.cookie, dir->folder, std::move(path), is_dir, excluded, Clock::now() + MoveWindow});
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
        drop_deferred(folder, path);
        send(folder, std::move(path), SyncItem::Kind::Upload);
    } else if ((mask & IN_DELETE) != 0) {
        drop_deferred(folder, path);
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
        defer(folder, std::move(path), true);
    } else if ((mask & IN_CREATE) != 0) {
        defer(folder, std::move(path), false);
    }
}

void FolderWatcher::handle_move_in(std::uint32_t cookie, std::size_t folder, std::string path, bool is_dir,
                                   bool excluded)
{
    const auto it = std::find_if(moves_out_.begin(), moves_out_.end(),
                                 [cookie](const MoveOut& move) { return move.cookie == cookie; });
    std::optional<MoveOut> source;
    if (it != moves_out_.end()) {
        source = std::move(*it);
        moves_out_.erase(it);
    }
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
    drop_deferred(folder, from);
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
    drop_deferred(move.folder, move.path);
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

void FolderWatcher::defer(std::size_t folder, std::string path, bool growing)
{
    const Clock::time_point now = Clock::now();
    auto [it, inserted] = deferred_.try_emplace(PathKey{folder, std::move(path)});
    Deferred& entry = it->second;
    if (inserted) {
        entry.growing = growing;
        entry.due = now + (growing ? Clock::duration{GrowingInterval} : Clock::duration{CreateSettle});
    } else if (growing && !entry.growing) {
        // Being written: no longer a bare create, so it waits for its close-write or the growing interval.
        entry.growing = true;
        entry.due = now + GrowingInterval;
    }
}

void FolderWatcher::drop_deferred(std::size_t folder, const std::string& path)
{
    auto it = deferred_.lower_bound(PathKey{folder, path});
    while (it != deferred_.end() && it->first.first == folder && paths_overlap(it->first.second, path) &&
           it->first.second.size() >= path.size()) {
        it = deferred_.erase(it);
    }
}

void FolderWatcher::send_due()
{
    due_timer_at_.reset();
    const Clock::time_point now = Clock::now();
    for (auto it = moves_out_.begin(); it != moves_out_.end();) {
        if (it->due <= now) {
            const MoveOut move = std::move(*it);
            it = moves_out_.erase(it);
            moved_away(move);
        } else {
            ++it;
        }
    }
    for (auto it = deferred_.begin(); it != deferred_.end();) {
        if (it->second.due > now) {
            ++it;
            continue;
        }
        SyncItem item;
        item.folder = it->first.first;
        item.path = it->first.second;
        item.growing = it->second.growing;
        it = deferred_.erase(it);
        sink_(std::move(item));
    }
    arm_due_timer();
}

void FolderWatcher::arm_due_timer()
{
    std::optional<Clock::time_point> earliest;
    for (const MoveOut& move : moves_out_) {
        earliest = earliest ? std::min(*earliest, move.due) : move.due;
    }
    for (const auto& [key, entry] : deferred_) {
        earliest = earliest ? std::min(*earliest, entry.due) : entry.due;
    }
    if (!earliest || (due_timer_at_ && *due_timer_at_ <= *earliest)) {
        return;
    }
    due_timer_at_ = earliest;
    const timeval delay =
        to_timeval(std::chrono::duration_cast<std::chrono::microseconds>(*earliest - Clock::now()));
    must_succeed(evtimer_add(due_timer_.get(), &delay) == 0, "evtimer_add");
}

} // namespace minisync::agent
