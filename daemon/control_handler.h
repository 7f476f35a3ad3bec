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
#include "server_link.h"

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace minisync::agent {

class ControlHandler {
public:
    ControlHandler(const AgentSettings& settings, FolderTable& folders, RequestScheduler& scheduler,
                   FolderWatcher& watcher, const ServerLink& link, AgentMetrics& metrics);
    ControlHandler(const ControlHandler&) = delete;
    ControlHandler& operator=(const ControlHandler&) = delete;

    // Answers one request through reply, now or, for a resync that waits, once check_waiters() finds
    // the work done.
    void handle(const control::Request& request, ControlServer::Reply reply);
    // Answers every resync that waits once nothing is queued, in flight or being scanned. Called when
    // the scheduler goes idle and when the last scan ends.
    void check_waiters();
    [[nodiscard]] control::StatusReply status() const;
    // The one-line state systemd shows (STATUS=).
    [[nodiscard]] std::string service_status() const;

private:
    void pause_or_resume(const std::vector<std::size_t>& folders, bool pause, ControlServer::Reply reply);
    void resync(const std::vector<std::size_t>& folders, bool wait, ControlServer::Reply reply);
    [[nodiscard]] bool any_paused(const std::vector<std::size_t>& folders) const;

    struct Waiter {
        std::vector<std::size_t> folders;
        ControlServer::Reply reply;
    };

    const AgentSettings& settings_;
    FolderTable& folders_;
    RequestScheduler& scheduler_;
    FolderWatcher& watcher_;
    const ServerLink& link_;
    AgentMetrics& metrics_;
    std::vector<Waiter> waiters_;
    const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

} // namespace minisync::agent
