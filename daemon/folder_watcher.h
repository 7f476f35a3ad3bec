// Turns inotify events on every watched folder into paths to sync. Owns the inotify descriptor's
// place in the loop; subtree scans (new directories, start-up, overflow) run on worker threads.
#pragma once

#include "agent_settings.h"
#include "exclude_filter.h"
#include "libevent_handles.h"
#include "loop_inbox.h"
#include "reconcile.h"
#include "state_store.h"
#include "tree_scanner.h"
#include "sync_queue.h"
#include "watch_table.h"
#include "worker_pool.h"

#include <sys/inotify.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace minisync::agent {

class FolderWatcher {
public:
    using ChangeSink = std::function<void(SyncItem)>;
    // Fetches a folder's state database records (asynchronously) for a rescan to reconcile with.
    using RecordsLoader =
        std::function<void(std::size_t folder, std::function<void(std::shared_ptr<const FolderRecords>)>)>;

    FolderWatcher(event_base* base, LoopInbox& inbox, WorkerPool& pool, const std::vector<FolderSpec>& folders,
                  std::shared_ptr<const ExcludeFilter> excludes, ChangeSink sink, RecordsLoader load_records);
    FolderWatcher(const FolderWatcher&) = delete;
    FolderWatcher& operator=(const FolderWatcher&) = delete;

    // Watches and scans every folder and reconciles what it finds with known[folder], the state
    // database's records: only what changed, appeared or vanished since is reported.
    void start(std::vector<std::shared_ptr<const FolderRecords>> known);
    void stop();

    [[nodiscard]] std::size_t scans_running() const noexcept { return scans_running_; }
    [[nodiscard]] std::uint64_t overflows() const noexcept { return overflows_; }

private:
    static void on_readable(evutil_socket_t, short, void* self) { static_cast<FolderWatcher*>(self)->read_events(); }

    void finish_scan(std::size_t folder, const ScanResult& result, ReconcilePlan&& plan);
    void read_events();
    void handle_event(const inotify_event& event);
    // Without known records every file found is reported (with verify_first as given); with them, the
    // scan is reconciled with the records instead.
    void scan(std::size_t folder, std::string start, bool verify_first, std::shared_ptr<const FolderRecords> known);

    LoopInbox& inbox_;
    WorkerPool& pool_;
    const std::vector<FolderSpec>& folders_;
    const std::shared_ptr<const ExcludeFilter> excludes_;
    const ChangeSink sink_;
    const RecordsLoader load_records_;
    const std::shared_ptr<WatchTable> watches_;
    const EventPtr read_event_;
    std::size_t scans_running_ = 0;
    std::uint64_t overflows_ = 0;
    bool watch_limit_reported_ = false;
};

} // namespace minisync::agent
