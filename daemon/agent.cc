// Wiring of minisyncd's components and its shutdown sequence.
#include "agent.h"

#include "must_succeed.h"
#include "service_notify.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <csignal>
#include <grp.h>
#include <ctime>
#include <filesystem>
#include <stdexcept>

namespace minisync::agent {
namespace {

// Both daemons exit within 5 s of SIGTERM (README.md, docs/OPERATIONS.md), so the flush of the connection gets a little less.
constexpr timeval ShutdownGrace{3, 0};

// A damaged database is moved aside (with its WAL, which may hold its latest commits) and rebuilt
// empty: the state is derived data, which a rescan and the server's answers restore, and refusing to
// start would only crash-loop the service. Anything else (a newer schema, an I/O error) stops the agent.
std::shared_ptr<StateStore> open_state(const std::string& path)
{
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path{path}.parent_path(), ec);
    auto opened = StateStore::open(path);
    if (auto* store = std::get_if<std::unique_ptr<StateStore>>(&opened)) {
        return std::move(*store);
    }
    const StateOpenError& failure = std::get<StateOpenError>(opened);
    if (!failure.damaged) {
        throw std::runtime_error(failure.message);
    }
    char stamp[32];
    const std::time_t now = std::time(nullptr);
    std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%S", std::gmtime(&now));
    const std::string aside = path + ".corrupt-" + stamp;
    SPDLOG_ERROR("{}", failure.message);
    std::filesystem::rename(path, aside, ec);
    if (ec) {
        throw std::runtime_error("cannot move the damaged state database '" + path + "' aside: " + ec.message());
    }
    for (const char* suffix : {"-wal", "-shm"}) {
        std::filesystem::rename(path + suffix, aside + suffix, ec);
    }
    SPDLOG_ERROR("moved the unusable state database to '{}' and started a new one at '{}'; every file is "
                 "checked against the server again (hashed, not re-sent when unchanged)",
                 aside, path);
    auto fresh = StateStore::open(path);
    if (auto* store = std::get_if<std::unique_ptr<StateStore>>(&fresh)) {
        return std::move(*store);
    }
    throw std::runtime_error(std::get<StateOpenError>(fresh).message);
}

// The configured folders with their state database ids and their roots as they are now.
FolderTable initial_folders(StateStore& store, std::vector<FolderSpec> specs)
{
    FolderTable folders;
    for (FolderSpec& spec : specs) {
        Folder folder;
        folder.state_id = store.folder_id(spec.name);
        auto root = identify_folder_root(spec.path);
        if (!root) {
            throw std::runtime_error("folder '" + spec.path + "' is not a directory");
        }
        folder.root = std::move(*root);
        folder.spec = std::move(spec);
        folders.append(std::move(folder));
    }
    return folders;
}

// The group whose members may use the control socket; the settings checked that it exists.
std::optional<gid_t> resolve_group(const std::optional<std::string>& name)
{
    if (!name) {
        return std::nullopt;
    }
    group entry{};
    group* found = nullptr;
    std::vector<char> buffer(16384);
    if (::getgrnam_r(name->c_str(), &entry, buffer.data(), buffer.size(), &found) != 0 || found == nullptr) {
        throw std::runtime_error("control group '" + *name + "' does not exist");
    }
    return found->gr_gid;
}

EvBasePtr make_base()
{
    EvBasePtr base{event_base_new()};
    if (!base) {
        throw std::runtime_error("event_base_new failed");
    }
    return base;
}

} // namespace

Agent::Agent(AgentSettings settings, std::vector<std::string> argv)
    : settings_{std::move(settings)},
      argv_{std::move(argv)},
      store_{open_state(settings_.state_path)},
      folders_{initial_folders(*store_, std::exchange(settings_.folders, {}))},
      base_{make_base()},
      inbox_{base_.get()},
      pool_{settings_.workers},
      state_writer_{base_.get(), inbox_, pool_, store_, metrics_},
      scheduler_{timers_, inbox_, pool_, settings_, folders_, state_writer_, metrics_},
      link_{base_.get(), settings_, scheduler_, metrics_},
      watcher_{base_.get(), inbox_, pool_, folders_,
               settings_.excludes, metrics_,
               [this](SyncItem item) { scheduler_.enqueue(std::move(item)); },
               [this](std::size_t folder, std::optional<std::string> subtree, FolderWatcher::RecordsReady done) {
                   if (subtree) {
                       state_writer_.load_subtree(folders_[folder].state_id, std::move(*subtree), std::move(done));
                   } else {
                       state_writer_.load_folder(folders_[folder].state_id, std::move(done));
                   }
               }},
      shutdown_deadline_{evtimer_new(base_.get(), &Agent::on_deadline, this)}
{
    if (settings_.metrics) {
        metrics_endpoint_ = std::make_unique<MetricsEndpoint>(*settings_.metrics, registry_);
    }
    scheduler_.attach(link_);
    scheduler_.on_idle([this] {
        control_handler_.check_waiters();
        memory_release_.note_work();
    });
    watcher_.on_scans_done([this] { control_handler_.check_waiters(); });
    watcher_.on_events_lost([this](std::size_t folder) { scheduler_.recheck_in_flight(folder); });
    control_ = std::make_unique<ControlServer>(
        base_.get(), settings_.control_socket.empty() ? control::default_socket_path() : settings_.control_socket,
        resolve_group(settings_.control_group), [this](const control::Request& request, ControlServer::Reply reply) {
            control_handler_.handle(request, std::move(reply));
        },
        [this] { metrics_.error(ErrorKind::Control); });
    scheduler_.on_rename_done([this](const SyncItem& rename, bool applied) { after_rename(rename, applied); });
    for (const int signal_number : {SIGTERM, SIGINT}) {
        EventPtr ev{evsignal_new(base_.get(), signal_number, &Agent::on_signal, this)};
        must_succeed(ev != nullptr, "evsignal_new");
        must_succeed(event_add(ev.get(), nullptr) == 0, "event_add");
        signal_events_.push_back(std::move(ev));
    }
    EventPtr hangup{evsignal_new(base_.get(), SIGHUP, &Agent::on_reload, this)};
    must_succeed(hangup != nullptr && shutdown_deadline_ != nullptr, "evsignal_new, evtimer_new");
    must_succeed(event_add(hangup.get(), nullptr) == 0, "event_add");
    signal_events_.push_back(std::move(hangup));
}

Agent::~Agent()
{
    // Workers stop first: none may still run a task that reports to the members about to go.
    pool_.shutdown();
    state_writer_.write_remaining();
}

int Agent::run()
{
    for (const Folder& folder : folders_) {
        SPDLOG_INFO("watching folder={} path={}", folder.spec.name, folder.spec.path);
    }
    SPDLOG_INFO("server={} expecting certificate name '{}', state in '{}', control socket '{}'",
                settings_.server.to_string(), settings_.server_name, settings_.state_path, control_->path());
    // Loaded before the loop runs: reconciliation compares every scanned file with these records.
    std::vector<std::shared_ptr<const FolderRecords>> known;
    for (const Folder& folder : folders_) {
        known.push_back(std::make_shared<const FolderRecords>(store_->load_folder(folder.state_id)));
    }
    if (metrics_endpoint_) {
        SPDLOG_INFO("metrics on http://{}:{}/metrics", settings_.metrics->host, metrics_endpoint_->port());
    }
    watcher_.start(std::move(known));
    link_.start();
    notify_ready("watching " + std::to_string(folders_.size()) + " folder(s), server " +
                 settings_.server.to_string());
    heartbeat_.start();
    must_succeed(event_base_dispatch(base_.get()) != -1, "event_base_dispatch");
    const UploadStats& stats = scheduler_.stats();
    SPDLOG_INFO("stopped: {} files synced, {} bytes sent, {} still queued", stats.files_synced, stats.bytes_sent,
                scheduler_.queue_depth() + scheduler_.in_flight());
    return 0;
}

void Agent::after_rename(const SyncItem& rename, bool applied)
{
    if (applied) {
        // Recorded before the comparison loads the records, so it finds them under the new path.
        StateChange change;
        change.kind = StateChange::Kind::Renamed;
        change.folder_id = folders_[rename.folder].state_id;
        change.path = rename.path;
        change.from = rename.from;
        state_writer_.record(std::move(change));
    } else {
        scheduler_.enqueue(removal_item(rename.folder, rename.from, rename.tree));
    }
    watcher_.reconcile_subtree(rename.folder, rename.path);
}

void Agent::reload()
{
    if (shutting_down_) {
        return;
    }
    auto reloaded = reload_agent_settings(argv_);
    if (auto* error = std::get_if<std::string>(&reloaded)) {
        SPDLOG_ERROR("reload refused, the running configuration stays: {}", *error);
        return;
    }
    AgentSettings next = std::move(std::get<AgentSettings>(reloaded));
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
    // A folder is kept when its name and path are the same; anything else is a removal and an addition.
    for (std::size_t folder = 0; folder < folders_.size(); ++folder) {
        if (folders_[folder].removed) {
            continue;
        }
        const FolderSpec& current = folders_[folder].spec;
        const bool kept = std::any_of(next.folders.begin(), next.folders.end(), [&](const FolderSpec& wanted) {
            return wanted.name == current.name && wanted.path == current.path;
        });
        if (!kept) {
            remove_folder(folder);
        }
    }
    bool excludes_changed = next.excludes != settings_.excludes;
    for (FolderSpec& wanted : next.folders) {
        const std::optional<std::size_t> running = folders_.find_running(wanted.name, wanted.path);
        if (!running) {
            add_folder(std::move(wanted));
        } else if (folders_[*running].spec.excludes != wanted.excludes) {
            folders_[*running].spec.excludes = wanted.excludes;
            excludes_changed = true;
        }
    }
    if (excludes_changed) {
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

void Agent::add_folder(FolderSpec folder)
{
    const auto root = identify_folder_root(folder.path);
    if (!root) {
        SPDLOG_ERROR("reload: folder '{}' is not a directory; not added", folder.path);
        return;
    }
    SPDLOG_INFO("watching folder={} path={} (added by a reload)", folder.name, folder.path);
    const std::string name = folder.name;
    Folder added;
    added.spec = std::move(folder);
    added.root = *root;
    // The state id stays 0 until the state database has given the folder one; nothing is sent before that.
    const std::size_t index = folders_.append(std::move(added));
    scheduler_.set_paused(index, true);
    state_writer_.folder_id(name, [this, index](std::int64_t id) {
        folders_[index].state_id = id;
        state_writer_.load_folder(id, [this, index](std::shared_ptr<const FolderRecords> records) {
            if (folders_[index].removed) {
                return; // removed by a later reload before it was ever watched
            }
            watcher_.add_folder(index, std::move(records));
            scheduler_.set_paused(index, false);
        });
    });
}

void Agent::remove_folder(std::size_t folder)
{
    SPDLOG_INFO("folder={}: no longer watched (removed by a reload); the server keeps its copy",
                folders_[folder].spec.name);
    folders_[folder].removed = true;
    watcher_.remove_folder(folder);
    scheduler_.remove_folder(folder);
}

void Agent::begin_shutdown()
{
    if (shutting_down_) {
        return;
    }
    shutting_down_ = true;
    notify_stopping();
    heartbeat_.stop();
    SPDLOG_INFO("shutting down");
    watcher_.stop();
    must_succeed(evtimer_add(shutdown_deadline_.get(), &ShutdownGrace) == 0, "evtimer_add");
    scheduler_.drain([this] { link_.stop([this] { event_base_loopbreak(base_.get()); }); });
}

} // namespace minisync::agent
