// minisyncd's top level: the event loop and the pieces on it (watcher, uploader, server link), the
// worker pool behind them, and orderly shutdown on SIGTERM/SIGINT.
#pragma once

#include "agent_settings.h"
#include "exclude_filter.h"
#include "folder_watcher.h"
#include "libevent_handles.h"
#include "loop_inbox.h"
#include "server_link.h"
#include "state_store.h"
#include "state_writer.h"
#include "uploader.h"
#include "worker_pool.h"

#include <memory>
#include <vector>

namespace minisync::agent {

class Agent {
public:
    // Throws std::runtime_error when certificates or inotify cannot be set up.
    explicit Agent(AgentSettings settings);
    Agent(const Agent&) = delete;
    Agent& operator=(const Agent&) = delete;
    ~Agent();

    // Runs until SIGTERM or SIGINT; returns the process exit code.
    int run();

private:
    static void on_signal(evutil_socket_t, short, void* self) { static_cast<Agent*>(self)->begin_shutdown(); }
    static void on_deadline(evutil_socket_t, short, void* self)
    {
        event_base_loopbreak(static_cast<Agent*>(self)->base_.get());
    }
    void begin_shutdown();
    // A rename ended: the state database follows it, or the old path is removed; then the new path is
    // compared with the database, which sends whatever the rename did not carry.
    void after_rename(const SyncItem& rename, bool applied);

    // Declaration order is destruction order reversed: the pool joins before the inbox and base go,
    // and everything holding an event is freed before the base.
    const AgentSettings settings_;
    const std::shared_ptr<StateStore> store_;
    const std::vector<std::int64_t> folder_ids_;
    EvBasePtr base_;
    LoopInbox inbox_;
    WorkerPool pool_;
    StateWriter state_writer_;
    Uploader uploader_;
    ServerLink link_;
    FolderWatcher watcher_;
    EventPtr shutdown_deadline_;
    std::vector<EventPtr> signal_events_;
    bool shutting_down_ = false;
};

} // namespace minisync::agent
