// The reload plan and carrying it out on the running components.
#include "config_reload.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace minisync::agent {

ReloadPlan plan_reload(const FolderTable& running, const std::vector<std::string>& running_excludes,
                       const AgentSettings& next)
{
    ReloadPlan plan;
    for (std::size_t index = 0; index < running.size(); ++index) {
        const Folder& folder = running[index];
        if (folder.removed) {
            continue;
        }
        const bool kept = std::any_of(next.folders.begin(), next.folders.end(), [&](const FolderSpec& wanted) {
            return wanted.name == folder.spec.name && wanted.path == folder.spec.path;
        });
        if (!kept) {
            plan.removed.push_back(index);
        }
    }
    plan.excludes_changed = next.excludes != running_excludes;
    for (const FolderSpec& wanted : next.folders) {
        const std::optional<std::size_t> kept = running.find_running(wanted.name, wanted.path);
        if (!kept) {
            plan.added.push_back(wanted);
        } else if (running[*kept].spec.excludes != wanted.excludes) {
            plan.own_excludes.push_back(ReloadPlan::OwnExcludes{*kept, wanted.excludes});
            plan.excludes_changed = true;
        }
    }
    return plan;
}

ConfigReload::ConfigReload(std::vector<std::string> argv, AgentSettings& settings, FolderTable& folders,
                           RequestScheduler& scheduler, FolderWatcher& watcher, RootGuard& root_guard,
                           ServerLink& link, StateWriter& state_writer)
    : argv_{std::move(argv)},
      settings_{settings},
      folders_{folders},
      scheduler_{scheduler},
      watcher_{watcher},
      root_guard_{root_guard},
      link_{link},
      state_writer_{state_writer}
{
}

void ConfigReload::reload()
{
    auto reloaded = reload_agent_settings(argv_);
    if (!reloaded.ok()) {
        SPDLOG_ERROR("reload refused, the running configuration stays: {}", reloaded.error().message);
        return;
    }
    AgentSettings next = std::move(reloaded).value();
    SPDLOG_INFO("reloading the configuration");
    if (next.log_level != settings_.log_level) {
        spdlog::set_level(next.log_level);
        settings_.log_level = next.log_level;
    }
    if (next.bwlimit != settings_.bwlimit) {
        link_.set_bwlimit(next.bwlimit);
        settings_.bwlimit = next.bwlimit;
        SPDLOG_INFO("bwlimit: {}", next.bwlimit ? std::to_string(*next.bwlimit) + " bytes/s" : "none");
    }
    ReloadPlan plan = plan_reload(folders_, settings_.excludes, next);
    for (const std::size_t folder : plan.removed) {
        remove_folder(folder);
    }
    for (FolderSpec& folder : plan.added) {
        add_folder(std::move(folder));
    }
    for (ReloadPlan::OwnExcludes& own : plan.own_excludes) {
        folders_[own.folder].spec.excludes = std::move(own.excludes);
    }
    if (plan.excludes_changed) {
        settings_.excludes = next.excludes;
        watcher_.set_excludes(settings_.excludes);
    }
    const std::string unchanged_note = "changes to server, certificates, state, control and workers take a restart";
    if (next.server.to_string() != settings_.server.to_string() || next.tls.cert != settings_.tls.cert ||
        next.tls.key != settings_.tls.key || next.tls.ca != settings_.tls.ca || next.state_path != settings_.state_path ||
        next.workers != settings_.workers) {
        SPDLOG_WARN("reload: {}", unchanged_note);
    }
}

void ConfigReload::add_folder(FolderSpec folder)
{
    SPDLOG_INFO("adding folder={} path={} (by a reload)", folder.name, folder.path);
    const std::string name = folder.name;
    Folder added;
    added.root.path = folder.path;
    added.root.mounts = folder.one_file_system ? Mounts::Refuse : Mounts::Cross;
    added.spec = std::move(folder);
    // The state id stays 0 until the state database has given the folder one; nothing is sent before that.
    const std::size_t index = folders_.append(std::move(added));
    scheduler_.set_paused(index, true);
    state_writer_.open_folder(name, [this, index](Result<StoredFolder> stored) {
        Folder& opened = folders_[index];
        if (!stored.ok()) {
            // Never watched and nothing queued for it: marking it removed is all there is to undo.
            SPDLOG_ERROR("reload: folder '{}' not added: {}", opened.spec.name, stored.error().message);
            opened.removed = true;
            scheduler_.remove_folder(index);
            return;
        }
        if (opened.removed) {
            return; // removed by a later reload before it was ever watched
        }
        opened.state_id = stored.value().id;
        opened.recorded_root = stored.value().root;
        opened.root.identity = stored.value().root.value_or(RootIdentity{});
        scheduler_.set_paused(index, false);
        root_guard_.admit(index);
    });
}

void ConfigReload::remove_folder(std::size_t folder)
{
    SPDLOG_INFO("folder={}: no longer watched (removed by a reload); the server keeps its copy",
                folders_[folder].spec.name);
    folders_[folder].removed = true;
    watcher_.remove_folder(folder);
    scheduler_.remove_folder(folder);
}

} // namespace minisync::agent
