// Turns inotify events on every watched folder into things to sync. Owns the inotify descriptor's
// place in the loop; subtree scans (new directories, start-up, overflow, after renames) run on workers.
//
// Events that say little on their own wait a moment for the ones that complete them:
//   IN_MOVED_FROM waits up to MoveWindow for the IN_MOVED_TO with its cookie: a pair is a rename, a move
//     out alone is a removal, a move in alone an upload (of a whole tree for a directory);
//   IN_CREATE of a non-directory waits CreateSettle for its close-write (a symlink, a hard link or a FIFO
//     gets none and is sent when the wait ends);
//   IN_MODIFY without a close-write (a log held open) sends the file at most every GrowingInterval.
#pragma once

#include "agent_metrics.h"
#include "agent_settings.h"
#include "deferred_sends.h"
#include "exclude_filter.h"
#include "folder_table.h"
#include "libevent_handles.h"
#include "loop_inbox.h"
#include "pending_moves.h"
#include "reconcile.h"
#include "state_store.h"
#include "tree_scanner.h"
#include "sync_queue.h"
#include "timer.h"
#include "watch_table.h"
#include "worker_pool.h"

#include <sys/inotify.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace minisync::agent {

class FolderWatcher {
public:
    using ChangeSink = std::function<void(SyncItem)>;
    using RecordsReady = std::function<void(std::shared_ptr<const FolderRecords>)>;
    // Fetches a folder's state database records (asynchronously), all of them or those of one subtree,
    // for a scan to reconcile with.
    using RecordsLoader = std::function<void(std::size_t folder, std::optional<std::string> subtree, RecordsReady)>;

    // folders is the agent's table, which may grow (add_folder); each folder's excludes are the global
    // ones plus its own. The watcher keeps its view of each folder there (watched, exclude filter, watch
    // limit, error).
    FolderWatcher(event_base* base, TimerMaker& timers, LoopInbox& inbox, WorkerPool& pool, FolderTable& folders,
                  std::vector<std::string> global_excludes, AgentMetrics& metrics, ChangeSink sink,
                  RecordsLoader load_records);
    FolderWatcher(const FolderWatcher&) = delete;
    FolderWatcher& operator=(const FolderWatcher&) = delete;

    // Watches and scans every folder and reconciles what it finds with known[folder], the state
    // database's records: only what changed, appeared or vanished since is reported.
    void start(std::vector<std::shared_ptr<const FolderRecords>> known);
    void stop();
    // The folder was just marked removed: stops watching it; nothing it held is reported any more.
    void remove_folder(std::size_t folder);
    // The folder's root is not there (RootGuard): nothing of it is watched or reported until
    // start_watching, which watches it again and compares it with the state database's records (Records),
    // or offers every entry to the server as resync does (Server: the records were dropped).
    enum class Against { Records, Server };
    void stop_watching(std::size_t folder);
    void start_watching(std::size_t folder, Against against = Against::Records);
    // New exclude patterns (a reload): every folder is rescanned and reconciled, which sends what is no
    // longer excluded. What became excluded stays on the server, as with rsync without --delete-excluded.
    void set_excludes(std::vector<std::string> global_excludes);
    // Told, once a comparison has reported what differs, whether path was found complete and in place:
    // the scan read all of it (no unreadable directory, nothing mounted below), found something there, and
    // the state database records every entry as committed on the server as it is now.
    using Compared = std::function<void(bool in_place)>;
    // Compares path (a file or a directory tree) with the state database's records of it and reports
    // what differs, as start-up does for a whole folder; then calls compared, if given (with false when
    // the scan was cut short or no longer concerns the folder).
    void reconcile_subtree(std::size_t folder, std::string path, Compared compared = {});
    // Offers every entry of the folder to the server again, files with their hash: whatever the server
    // lacks or holds differently is sent (minisyncctl resync).
    void resync(std::size_t folder);
    // Called each time the last running scan has finished and reported what it found.
    void on_scans_done(std::function<void()> done) { on_scans_done_ = std::move(done); }
    // Called for each folder whose events were lost (an inotify overflow), before its rescan loads the
    // state database's records: what is in flight then is not in those records yet.
    void on_events_lost(std::function<void(std::size_t folder)> lost) { on_events_lost_ = std::move(lost); }
    // Called when a folder's root may have gone (unmounted, removed, moved away, replaced under a scan),
    // with what was seen.
    void on_root_doubt(std::function<void(std::size_t folder, const std::string& what)> doubt)
    {
        on_root_doubt_ = std::move(doubt);
    }

    [[nodiscard]] std::size_t scans_running() const noexcept { return scans_running_; }
    [[nodiscard]] std::uint64_t overflows() const noexcept { return overflows_; }

private:
    using Clock = std::chrono::steady_clock;
    using MoveOut = PendingMoves::MoveOut;

    static void on_readable(evutil_socket_t, short, void* self) { static_cast<FolderWatcher*>(self)->read_events(); }

    void finish_scan(std::size_t folder, std::uint64_t epoch, const std::string& start, const ScanResult& result,
                     ReconcilePlan&& plan, const Compared& compared);
    void read_events();
    void handle_event(const inotify_event& event);
    void handle_file_event(std::size_t folder, std::string path, std::uint32_t mask);
    void handle_move_in(std::uint32_t cookie, std::size_t folder, std::string path, bool is_dir, bool excluded);
    void renamed(std::size_t folder, const std::string& from, std::string to, bool is_dir);
    void moved_away(const MoveOut& move);
    void moved_in(std::size_t folder, std::string path, bool is_dir);
    void send(std::size_t folder, std::string path, SyncItem::Kind kind, bool tree = false);
    void send_due();
    void arm_due_timer();
    // Without known records every entry found is reported (files with verify_first as given); with them,
    // the scan is reconciled with the records instead.
    void scan(std::size_t folder, std::string start, bool verify_first, std::shared_ptr<const FolderRecords> known,
              Compared compared = {});
    void rescan_with_records(std::size_t folder);
    [[nodiscard]] std::shared_ptr<const ExcludeFilter> filter_for(std::size_t folder) const;
    void root_doubt(std::size_t folder, const std::string& what);
    // Watched and not removed: its events, overflows and excludes concern the watcher.
    [[nodiscard]] bool watching(std::size_t folder) const;
    void note_watch_limit(std::size_t folder, bool reached);
    void rescan_watch_limited();

    LoopInbox& inbox_;
    WorkerPool& pool_;
    FolderTable& folders_;
    std::vector<std::string> global_excludes_;
    AgentMetrics& metrics_;
    const ChangeSink sink_;
    const RecordsLoader load_records_;
    const std::shared_ptr<WatchTable> watches_;
    const EventPtr read_event_;
    const TimerPtr due_timer_;    // the next deferred send or move out coming due
    const TimerPtr rescan_timer_; // the next rescan of folders with directories not watched
    DeferredSends deferred_;
    PendingMoves moves_out_;
    std::optional<Clock::time_point> due_timer_at_;
    std::chrono::seconds rescan_interval_;
    std::size_t scans_running_ = 0;
    std::uint64_t overflows_ = 0;
    std::function<void()> on_scans_done_;
    std::function<void(std::size_t)> on_events_lost_;
    std::function<void(std::size_t, const std::string&)> on_root_doubt_;
};

} // namespace minisync::agent
