// What each minisyncctl command does to the running agent (docs/CONTROL.md), the status it reports, to
// minisyncctl and as systemd's one-line STATUS=, and the resyncs that wait for the queue to drain. Loop
// thread only.
#pragma once

#include "agent_metrics.h"
#include "agent_settings.h"
#include "control_protocol.h"
#include "control_server.h"
#include "folder_table.h"
#include "folder_watcher.h"
#include "request_scheduler.h"
#include "root_guard.h"
#include "server_link.h"

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace minisync::agent {

class ControlHandler {
public:
    ControlHandler(const AgentSettings& settings, FolderTable& folders, RequestScheduler& scheduler,
                   FolderWatcher& watcher, RootGuard& root_guard, const ServerLink& link, AgentMetrics& metrics);
    ControlHandler(const ControlHandler&) = delete;
    ControlHandler& operator=(const ControlHandler&) = delete;

    // Answers one request through reply, now or, for a resync that waits, once check_waiters() finds
    // the work done.
    void handle(const control::Request& request, ControlServer::Reply reply);
    // Answers every resync that waits once nothing is queued, in flight or being scanned. Called when
    // the scheduler goes idle and when the last scan ends.
    void check_waiters();
    [[nodiscard]] control::StatusReply status() const;
    // minisync_folder_state for every folder (and the series of removed folders dropped): called when a
    // folder's root state, pause or configuration changes, and when the scheduler goes idle.
    void publish_folder_states();
    // Something of the folder was queued: an idle folder is reported syncing from now.
    void note_work(std::size_t folder);
    // The one-line state systemd shows (STATUS=).
    [[nodiscard]] std::string service_status() const;

private:
    void pause_or_resume(const std::vector<std::size_t>& folders, bool pause, ControlServer::Reply reply);
    void resync(const std::vector<std::size_t>& folders, bool wait, ControlServer::Reply reply);
    void accept_root(std::size_t folder, bool wait, ControlServer::Reply reply);
    void publish_folder_state(std::size_t folder);
    [[nodiscard]] bool any_paused(const std::vector<std::size_t>& folders) const;

    struct Waiter {
        std::vector<std::size_t> folders;
        ControlServer::Reply reply;
    };

    const AgentSettings& settings_;
    FolderTable& folders_;
    RequestScheduler& scheduler_;
    FolderWatcher& watcher_;
    RootGuard& root_guard_;
    const ServerLink& link_;
    AgentMetrics& metrics_;
    std::vector<Waiter> waiters_;
    // What minisync_folder_state says of each folder now, by index; empty for none.
    std::vector<std::string_view> published_states_;
    const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

} // namespace minisync::agent
