// Applying the configuration read again on SIGHUP to the running agent: log level, bwlimit, excludes,
// and folders added and removed. plan_reload() decides what happens to the folders, without side effects;
// ConfigReload carries it out. What needs a restart (server, certificates, state, workers) only gets a
// warning. Loop thread only.
#pragma once

#include "agent_settings.h"
#include "folder_table.h"
#include "folder_watcher.h"
#include "request_scheduler.h"
#include "root_guard.h"
#include "server_link.h"
#include "state_writer.h"

#include <cstddef>
#include <string>
#include <vector>

namespace minisync::agent {

// A folder is kept when a configured one has its name and path; anything else is a removal and an
// addition (a new folder index), so nothing recorded under one path is ever taken for another.
struct ReloadPlan {
    struct OwnExcludes {
        std::size_t folder = 0;
        std::vector<std::string> excludes;
    };
    // Running folders no longer configured with the same name and path, by index.
    std::vector<std::size_t> removed;
    // Configured folders not running, in the configuration's order.
    std::vector<FolderSpec> added;
    // Kept folders whose own excludes changed, with the new patterns.
    std::vector<OwnExcludes> own_excludes;
    // The global excludes or a kept folder's own changed: every folder is filtered and rescanned anew.
    bool excludes_changed = false;
};

// running and running_excludes are what the agent runs with now, next the configuration just read.
[[nodiscard]] ReloadPlan plan_reload(const FolderTable& running, const std::vector<std::string>& running_excludes,
                                     const AgentSettings& next);

class ConfigReload {
public:
    // argv is the command line the agent was started with, parsed again on each reload; settings are
    // the agent's, updated with what changed.
    ConfigReload(std::vector<std::string> argv, AgentSettings& settings, FolderTable& folders,
                 RequestScheduler& scheduler, FolderWatcher& watcher, RootGuard& root_guard, ServerLink& link,
                 StateWriter& state_writer);
    ConfigReload(const ConfigReload&) = delete;
    ConfigReload& operator=(const ConfigReload&) = delete;

    // Reads the configuration again and applies what can change while running; a configuration with
    // errors is refused and the running one kept.
    void reload();

private:
    // A new folder is paused until the state database has given it an id (on the writer's strand); then
    // the root guard judges its root, and it is watched and reconciled as at start once that is there.
    void add_folder(FolderSpec folder);
    void remove_folder(std::size_t folder);

    const std::vector<std::string> argv_;
    AgentSettings& settings_;
    FolderTable& folders_;
    RequestScheduler& scheduler_;
    FolderWatcher& watcher_;
    RootGuard& root_guard_;
    ServerLink& link_;
    StateWriter& state_writer_;
};

} // namespace minisync::agent
