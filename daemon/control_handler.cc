// minisyncctl's commands carried out on the agent, and the status reports.
#include "control_handler.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

namespace minisync::agent {

ControlHandler::ControlHandler(const AgentSettings& settings, FolderTable& folders, RequestScheduler& scheduler,
                               FolderWatcher& watcher, RootGuard& root_guard, const ServerLink& link,
                               AgentMetrics& metrics)
    : settings_{settings},
      folders_{folders},
      scheduler_{scheduler},
      watcher_{watcher},
      root_guard_{root_guard},
      link_{link},
      metrics_{metrics}
{
}

void ControlHandler::handle(const control::Request& request, ControlServer::Reply reply)
{
    if (request.command == control::Command::Status) {
        reply(control::encode_status(status()));
        return;
    }
    const std::vector<std::size_t> folders = folders_.select(request.folder);
    if (folders.empty()) {
        reply(control::error_reply(control::unknown_folder_error(request.folder.value_or(""))));
        return;
    }
    switch (request.command) {
    case control::Command::Pause: pause_or_resume(folders, true, std::move(reply)); return;
    case control::Command::Resume: pause_or_resume(folders, false, std::move(reply)); return;
    case control::Command::Resync:
        if (request.accept_root) {
            accept_root(folders.front(), request.wait, std::move(reply));
        } else {
            resync(folders, request.wait, std::move(reply));
        }
        return;
    case control::Command::Status: break;
    }
}

void ControlHandler::pause_or_resume(const std::vector<std::size_t>& folders, bool pause, ControlServer::Reply reply)
{
    for (const std::size_t folder : folders) {
        scheduler_.set_paused(folder, pause);
        SPDLOG_INFO("folder={}: {}", folders_[folder].spec.name,
                    pause ? "paused; changes are recorded and sent on resume" : "resumed");
    }
    metrics_.paused.Set(folders_.all_paused() ? 1 : 0);
    publish_folder_states();
    control::FoldersReply answer;
    answer.folders = folders_.names_of(folders);
    reply(control::encode_folders(answer));
    check_waiters();
}

void ControlHandler::resync(const std::vector<std::size_t>& folders, bool wait, ControlServer::Reply reply)
{
    if (wait && any_paused(folders)) {
        reply(control::error_reply(control::PausedError));
        return;
    }
    if (folders.size() == 1 && folders_[folders.front()].root_state != RootVerdict::State::Present) {
        const Folder& named = folders_[folders.front()];
        reply(control::error_reply("folder '" + named.spec.name + "' is " +
                                   std::string{folder_state_name(named, false)} + ": " + named.root_problem));
        return;
    }
    for (const std::size_t folder : folders) {
        if (folders_[folder].root_state != RootVerdict::State::Present) {
            SPDLOG_INFO("folder={}: resync: skipped, {}", folders_[folder].spec.name, folders_[folder].root_problem);
            continue;
        }
        SPDLOG_INFO("folder={}: resync: every entry is offered to the server again", folders_[folder].spec.name);
        watcher_.resync(folder);
    }
    if (!wait) {
        control::FoldersReply answer;
        answer.folders = folders_.names_of(folders);
        reply(control::encode_folders(answer));
        return;
    }
    waiters_.push_back(Waiter{folders, std::move(reply)});
}

void ControlHandler::accept_root(std::size_t folder, bool wait, ControlServer::Reply reply)
{
    if (wait && folders_[folder].paused) {
        reply(control::error_reply(control::PausedError));
        return;
    }
    root_guard_.accept(folder, [this, folder, wait, reply = std::move(reply)](Result<void> accepted) mutable {
        if (!accepted.ok()) {
            reply(control::error_reply(accepted.error().message));
            return;
        }
        if (!wait) {
            control::FoldersReply answer;
            answer.folders = folders_.names_of({folder});
            reply(control::encode_folders(answer));
            return;
        }
        waiters_.push_back(Waiter{{folder}, std::move(reply)});
    });
}

void ControlHandler::publish_folder_states()
{
    for (std::size_t folder = 0; folder < folders_.size(); ++folder) {
        publish_folder_state(folder);
    }
}

void ControlHandler::note_work(std::size_t folder)
{
    if (folder >= published_states_.size() || published_states_[folder] == "idle") {
        publish_folder_state(folder);
    }
}

void ControlHandler::publish_folder_state(std::size_t folder)
{
    if (published_states_.size() < folders_.size()) {
        published_states_.resize(folders_.size());
    }
    const Folder& reported = folders_[folder];
    if (reported.removed) {
        if (!published_states_[folder].empty()) {
            metrics_.forget_folder_state(reported.spec.name);
            published_states_[folder] = {};
        }
        return;
    }
    const std::string_view state = folder_state_name(reported, scheduler_.has_work(folder));
    if (state != published_states_[folder]) {
        metrics_.folder_state(reported.spec.name, state);
        published_states_[folder] = state;
    }
}

bool ControlHandler::any_paused(const std::vector<std::size_t>& folders) const
{
    return std::any_of(folders.begin(), folders.end(), [this](std::size_t folder) { return folders_[folder].paused; });
}

void ControlHandler::check_waiters()
{
    if (waiters_.empty() || !scheduler_.idle() || watcher_.scans_running() > 0) {
        return;
    }
    for (Waiter& waiter : std::exchange(waiters_, {})) {
        if (any_paused(waiter.folders)) {
            waiter.reply(control::error_reply(control::PausedError));
            continue;
        }
        control::FoldersReply answer;
        answer.folders = folders_.names_of(waiter.folders);
        // Queued and in flight are empty by now: what is left waits for a retry, having failed.
        std::uint64_t failed = 0;
        for (const std::size_t folder : waiter.folders) {
            failed += scheduler_.pending(folder);
        }
        answer.failed = failed;
        waiter.reply(control::encode_folders(answer));
    }
}

std::string ControlHandler::service_status() const
{
    std::string text = link_.ready() ? "connected to " + settings_.server.to_string()
                                     : "not connected to " + settings_.server.to_string() +
                                           (link_.last_error().empty() ? "" : " (" + link_.last_error() + ")");
    text += "; " + std::to_string(scheduler_.queue_depth() + scheduler_.retries_waiting()) + " queued, " +
            std::to_string(scheduler_.in_flight()) + " in flight, " + std::to_string(scheduler_.stats().files_synced) +
            " synced";
    if (metrics_.paused.Value() > 0) {
        text += "; paused";
    }
    return text;
}

control::StatusReply ControlHandler::status() const
{
    control::StatusReply status;
    status.version = MINISYNC_VERSION;
    status.uptime_seconds = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started_).count());
    status.connected = link_.ready();
    status.server = settings_.server.to_string();
    status.queue_depth = scheduler_.queue_depth() + scheduler_.retries_waiting();
    for (const RequestScheduler::Transfer& transfer : scheduler_.transfers()) {
        status.inflight.push_back(control::InflightTransfer{transfer.path, transfer.offset, transfer.size});
    }
    status.files_synced = scheduler_.stats().files_synced;
    status.bytes_sent = scheduler_.stats().bytes_sent;
    if (!status.connected && !link_.last_error().empty()) {
        status.last_error = link_.last_error();
    } else if (!scheduler_.last_error().empty()) {
        status.last_error = scheduler_.last_error();
    }
    for (std::size_t index = 0; index < folders_.size(); ++index) {
        const Folder& folder = folders_[index];
        if (folder.removed) {
            continue;
        }
        control::FolderStatus entry;
        entry.name = folder.spec.name;
        entry.path = folder.spec.path;
        entry.paused = folder.paused;
        entry.pending = scheduler_.pending(index);
        entry.state = folder_state_name(folder, scheduler_.has_work(index));
        if (!folder.root_problem.empty()) {
            entry.error = folder.root_problem;
        } else if (!folder.error.empty()) {
            entry.error = folder.error;
        }
        status.folders.push_back(std::move(entry));
    }
    status.state = control::overall_state(status.folders);
    return status;
}

} // namespace minisync::agent
