// minisyncd's top level: the event loop and the pieces on it (watcher, request scheduler, server link,
// control socket, reload), the worker pool behind them, the start, and orderly shutdown on SIGTERM/SIGINT.
#pragma once

#include "agent_metrics.h"
#include "agent_settings.h"
#include "config_reload.h"
#include "control_handler.h"
#include "control_server.h"
#include "folder_table.h"
#include "folder_watcher.h"
#include "idle_memory_release.h"
#include "libevent_handles.h"
#include "metrics_endpoint.h"
#include "mount_watch.h"
#include "rename_fallback.h"
#include "service_heartbeat.h"
#include "loop_inbox.h"
#include "server_link.h"
#include "state_store.h"
#include "state_writer.h"
#include "request_scheduler.h"
#include "root_guard.h"
#include "timer.h"
#include "worker_pool.h"

#include <memory>
#include <string>
#include <vector>

namespace minisync::agent {

class Agent {
public:
    // Throws std::runtime_error when certificates or inotify cannot be set up.
    // argv is the command line it was started with, read again on SIGHUP.
    Agent(AgentSettings settings, std::vector<std::string> argv);
    Agent(const Agent&) = delete;
    Agent& operator=(const Agent&) = delete;
    ~Agent();

    // Runs until SIGTERM or SIGINT; returns the process exit code.
    int run();

private:
    static void on_signal(evutil_socket_t, short, void* self) { static_cast<Agent*>(self)->begin_shutdown(); }
    static void on_reload(evutil_socket_t, short, void* self) { static_cast<Agent*>(self)->reload(); }
    static void on_deadline(evutil_socket_t, short, void* self)
    {
        event_base_loopbreak(static_cast<Agent*>(self)->base_.get());
    }
    void begin_shutdown();
    // SIGHUP: the configuration is read again and applied (ConfigReload), unless shutting down.
    void reload();
    // A rename ended. Applied: the state database follows it, and the new path is compared with the
    // database, which sends whatever the rename did not carry. Not applied: RenameFallback sends the new
    // path as new and removes the old one once that is done.
    void after_rename(const SyncItem& rename, bool applied);

    // Declaration order is destruction order reversed: the pool joins before the inbox and base go,
    // and everything holding an event is freed before the base.
    // settings_.folders is moved into folders_ at start: the table is the one list of folders.
    AgentSettings settings_;
    const std::shared_ptr<StateStore> store_;
    FolderTable folders_;
    const std::shared_ptr<prometheus::Registry> registry_ = std::make_shared<prometheus::Registry>();
    AgentMetrics metrics_{*registry_};
    EvBasePtr base_;
    LoopInbox inbox_;
    WorkerPool pool_;
    StateWriter state_writer_;
    EventTimerMaker timers_{base_.get()};
    RequestScheduler scheduler_;
    // Once the scheduler has been idle a while, the buffers a transfer left are handed back.
    IdleMemoryRelease memory_release_{base_.get(), [this] {
        const UploadStats& stats = scheduler_.stats();
        return stats.files_synced + stats.files_removed + stats.failures + stats.bytes_sent;
    }};
    ServerLink link_;
    FolderWatcher watcher_;
    RenameFallback rename_fallback_{
        [this](std::size_t folder, std::string path, std::function<void(bool)> done) {
            watcher_.reconcile_subtree(folder, std::move(path), std::move(done));
        },
        [this](std::size_t folder, std::string path, std::function<void()> done) {
            scheduler_.when_settled(folder, std::move(path), std::move(done));
        },
        [this](SyncItem removal) { scheduler_.enqueue(std::move(removal)); },
        [this](std::size_t folder) -> const std::string& { return folders_[folder].spec.name; }};
    RootGuard root_guard_{timers_, inbox_, pool_, folders_, watcher_, scheduler_, state_writer_,
                          [this](std::size_t) { control_handler_.publish_folder_states(); }};
    // Made in run(), once the folders are watched: each change of the mount table has every root judged.
    std::unique_ptr<MountWatch> mount_watch_;
    EventPtr shutdown_deadline_;
    std::unique_ptr<ControlServer> control_;
    ControlHandler control_handler_{settings_, folders_, scheduler_, watcher_, root_guard_, link_, metrics_};
    ConfigReload config_reload_;
    ServiceHeartbeat heartbeat_{base_.get(), [this] { return control_handler_.service_status(); }};
    // /metrics and /healthz on the loop when --metrics is given; /healthz answers 503 once shutting down.
    std::unique_ptr<MetricsEndpoint> metrics_endpoint_;
    std::vector<EventPtr> signal_events_;
    bool shutting_down_ = false;
};

} // namespace minisync::agent
