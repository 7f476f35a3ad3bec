// Keeps each folder synced only while its root is the directory recorded for it (docs/SECURITY.md
// "Folders that go away"). A folder whose root is missing (never there, or gone) or is another directory
// (an unmounted file system, a replaced folder) is not watched and nothing of it is sent or removed on the
// server; it is looked at again every RecheckInterval, and synced again, with a rescan against the state
// database, once the recorded root is back (or, when it was missing and nothing was ever recorded, once a
// directory appears). An operator may accept the directory now at the path instead (minisyncctl resync
// --accept-root). Loop thread only; the lookups run on workers.
#pragma once

#include "agent_metrics.h"
#include "folder_root.h"
#include "folder_table.h"
#include "folder_watcher.h"
#include "loop_inbox.h"
#include "request_scheduler.h"
#include "state_writer.h"
#include "timer.h"
#include "worker_pool.h"

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <set>
#include <string>

namespace minisync::agent {

// What status and the log say of a folder whose root is missing or suspended, with what brings it back.
std::string describe_root_problem(const std::string& folder_name, const RootVerdict& verdict);

class RootGuard {
public:
    static constexpr std::chrono::seconds RecheckInterval{2};

    // state_changed is called after each change of a folder's root state.
    RootGuard(TimerMaker& timers, LoopInbox& inbox, WorkerPool& pool, FolderTable& folders, FolderWatcher& watcher,
              RequestScheduler& scheduler, StateWriter& state_writer, std::function<void(std::size_t)> state_changed);
    RootGuard(const RootGuard&) = delete;
    RootGuard& operator=(const RootGuard&) = delete;

    // After the watcher started: logs the folders whose root is not there and starts looking for them.
    void start();
    // Shutting down: nothing is judged or changed any more.
    void stop();
    // A folder added by a reload, with its state database id and recorded root known and not watched yet:
    // its root is judged, and the folder is watched and compared with its records once the root is there.
    void admit(std::size_t folder);
    // Something suggests that the folder's root went (an unmount, its removal, a lookup that failed): it is
    // judged again now. what says what was seen, for the log.
    void doubt(std::size_t folder, const std::string& what);
    // The mount table changed: every folder's root is judged again, quietly unless its state changes.
    void recheck_all();
    // The directory at the folder's path becomes its root, recorded, and the folder starts over with it:
    // its state database records and what waited to be sent are dropped, and everything in the directory
    // is offered to the server (by hash, as a resync does). Nothing is removed on the server for what the
    // new root lacks. done gets an error when there is no directory there.
    void accept(std::size_t folder, std::function<void(Result<void>)> done);

private:
    void judge(std::size_t folder);
    void judge_all_not_present();
    void apply(std::size_t folder, const std::optional<FolderRoot>& found, const RootVerdict& verdict);
    void arm_recheck();

    LoopInbox& inbox_;
    WorkerPool& pool_;
    FolderTable& folders_;
    FolderWatcher& watcher_;
    RequestScheduler& scheduler_;
    StateWriter& state_writer_;
    const std::function<void(std::size_t)> state_changed_;
    const TimerPtr recheck_timer_;
    bool stopped_ = false;
    std::set<std::size_t> judging_; // folders being looked at on a worker: a doubt about them waits for that
};

} // namespace minisync::agent
