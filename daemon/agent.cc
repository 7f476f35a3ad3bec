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
    if (opened.ok()) {
        return std::move(opened).value();
    }
    const Error& failure = opened.error();
    if (failure.code != ErrorCode::DamagedState) {
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
    if (fresh.ok()) {
        return std::move(fresh).value();
    }
    throw std::runtime_error(fresh.error().message);
}

std::vector<std::int64_t> resolve_folder_ids(StateStore& store, const std::vector<FolderSpec>& folders)
{
    std::vector<std::int64_t> ids;
    for (const FolderSpec& folder : folders) {
        ids.push_back(store.folder_id(folder.name));
    }
    return ids;
}

std::vector<FolderRoot> identify_roots(const std::vector<FolderSpec>& folders)
{
    std::vector<FolderRoot> roots;
    for (const FolderSpec& folder : folders) {
        auto root = identify_folder_root(folder.path);
        if (!root) {
            throw std::runtime_error("folder '" + folder.path + "' is not a directory");
        }
        roots.push_back(std::move(*root));
    }
    return roots;
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
      folder_removed_(settings_.folders.size(), false),
      store_{open_state(settings_.state_path)},
      folder_ids_{resolve_folder_ids(*store_, settings_.folders)},
      base_{make_base()},
      inbox_{base_.get()},
      pool_{settings_.workers},
      state_writer_{base_.get(), inbox_, pool_, store_, metrics_},
      scheduler_{timers_, inbox_, pool_, settings_, state_writer_, metrics_, folder_ids_,
                identify_roots(settings_.folders)},
      link_{base_.get(), settings_, scheduler_, metrics_},
      watcher_{base_.get(), inbox_, pool_, settings_.folders,
               settings_.excludes, metrics_,
               [this](SyncItem item) { scheduler_.enqueue(std::move(item)); },
               [this](std::size_t folder, std::optional<std::string> subtree, FolderWatcher::RecordsReady done) {
                   if (subtree) {
                       state_writer_.load_subtree(folder_ids_[folder], std::move(*subtree), std::move(done));
                   } else {
                       state_writer_.load_folder(folder_ids_[folder], std::move(done));
                   }
               }},
      shutdown_deadline_{evtimer_new(base_.get(), &Agent::on_deadline, this)}
{
    if (settings_.metrics) {
        metrics_endpoint_ = std::make_unique<MetricsEndpoint>(*settings_.metrics, registry_);
    }
    scheduler_.attach(link_);
    scheduler_.on_idle([this] {
        check_waiters();
        memory_release_.note_work();
    });
    watcher_.on_scans_done([this] { check_waiters(); });
    watcher_.on_events_lost([this](std::size_t folder) { scheduler_.recheck_in_flight(folder); });
    control_ = std::make_unique<ControlServer>(
        base_.get(), settings_.control_socket.empty() ? control::default_socket_path() : settings_.control_socket,
        resolve_group(settings_.control_group), [this](const control::Request& request, ControlServer::Reply reply) {
            handle_control(request, std::move(reply));
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
    for (const FolderSpec& folder : settings_.folders) {
        SPDLOG_INFO("watching folder={} path={}", folder.name, folder.path);
    }
    SPDLOG_INFO("server={} expecting certificate name '{}', state in '{}', control socket '{}'",
                settings_.server.to_string(), settings_.server_name, settings_.state_path, control_->path());
    // Loaded before the loop runs: reconciliation compares every scanned file with these records.
    std::vector<std::shared_ptr<const FolderRecords>> known;
    for (const std::int64_t id : folder_ids_) {
        known.push_back(std::make_shared<const FolderRecords>(store_->load_folder(id)));
    }
    if (metrics_endpoint_) {
        SPDLOG_INFO("metrics on http://{}:{}/metrics", settings_.metrics->host, metrics_endpoint_->port());
    }
    watcher_.start(std::move(known));
    link_.start();
    notify_ready("watching " + std::to_string(settings_.folders.size()) + " folder(s), server " +
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
        change.folder_id = folder_ids_[rename.folder];
        change.path = rename.path;
        change.from = rename.from;
        state_writer_.record(std::move(change));
    } else {
        scheduler_.enqueue(removal_item(rename.folder, rename.from, rename.tree));
    }
    watcher_.reconcile_subtree(rename.folder, rename.path);
}

std::vector<std::size_t> Agent::select_folders(const std::optional<std::string>& name) const
{
    std::vector<std::size_t> selected;
    for (std::size_t folder = 0; folder < settings_.folders.size(); ++folder) {
        if (!folder_removed_[folder] && (!name || settings_.folders[folder].name == *name)) {
            selected.push_back(folder);
        }
    }
    return selected;
}

std::vector<std::string> Agent::names_of(const std::vector<std::size_t>& folders) const
{
    std::vector<std::string> names;
    for (const std::size_t folder : folders) {
        names.push_back(settings_.folders[folder].name);
    }
    return names;
}

void Agent::handle_control(const control::Request& request, ControlServer::Reply reply)
{
    if (request.command == control::Command::Status) {
        reply(control::encode_status(status()));
        return;
    }
    const std::vector<std::size_t> folders = select_folders(request.folder);
    if (folders.empty()) {
        reply(control::error_reply(control::unknown_folder_error(request.folder.value_or(""))));
        return;
    }
    control::FoldersReply answer;
    answer.folders = names_of(folders);
    switch (request.command) {
    case control::Command::Pause:
    case control::Command::Resume: {
        const bool pause = request.command == control::Command::Pause;
        for (const std::size_t folder : folders) {
            scheduler_.set_paused(folder, pause);
            SPDLOG_INFO("folder={}: {}", settings_.folders[folder].name,
                        pause ? "paused; changes are recorded and sent on resume" : "resumed");
        }
        bool all_paused = true;
        for (std::size_t folder = 0; folder < settings_.folders.size(); ++folder) {
            all_paused = all_paused && (folder_removed_[folder] || scheduler_.paused(folder));
        }
        metrics_.paused.Set(all_paused ? 1 : 0);
        reply(control::encode_folders(answer));
        check_waiters();
        return;
    }
    case control::Command::Resync: {
        if (request.wait && std::any_of(folders.begin(), folders.end(),
                                        [this](std::size_t folder) { return scheduler_.paused(folder); })) {
            reply(control::error_reply(control::PausedError));
            return;
        }
        for (const std::size_t folder : folders) {
            SPDLOG_INFO("folder={}: resync: every entry is offered to the server again", settings_.folders[folder].name);
            watcher_.resync(folder);
        }
        if (!request.wait) {
            reply(control::encode_folders(answer));
            return;
        }
        waiters_.push_back(Waiter{folders, std::move(reply)});
        return;
    }
    case control::Command::Status: break;
    }
}

void Agent::check_waiters()
{
    if (waiters_.empty() || !scheduler_.idle() || watcher_.scans_running() > 0) {
        return;
    }
    for (Waiter& waiter : std::exchange(waiters_, {})) {
        if (std::any_of(waiter.folders.begin(), waiter.folders.end(),
                        [this](std::size_t folder) { return scheduler_.paused(folder); })) {
            waiter.reply(control::error_reply(control::PausedError));
            continue;
        }
        control::FoldersReply answer;
        answer.folders = names_of(waiter.folders);
        // Queued and in flight are empty by now: what is left waits for a retry, having failed.
        std::uint64_t failed = 0;
        for (const std::size_t folder : waiter.folders) {
            failed += scheduler_.pending(folder);
        }
        answer.failed = failed;
        waiter.reply(control::encode_folders(answer));
    }
}

std::string Agent::service_status() const
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

control::StatusReply Agent::status() const
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
    for (std::size_t folder = 0; folder < settings_.folders.size(); ++folder) {
        if (folder_removed_[folder]) {
            continue;
        }
        control::FolderStatus entry;
        entry.name = settings_.folders[folder].name;
        entry.path = settings_.folders[folder].path;
        entry.paused = scheduler_.paused(folder);
        entry.pending = scheduler_.pending(folder);
        if (const std::string& error = watcher_.folder_errors()[folder]; !error.empty()) {
            entry.error = error;
        }
        status.folders.push_back(std::move(entry));
    }
    status.state = control::overall_state(status.folders);
    return status;
}

void Agent::reload()
{
    if (shutting_down_) {
        return;
    }
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
    // A folder is kept when its name and path are the same; anything else is a removal and an addition.
    for (std::size_t folder = 0; folder < settings_.folders.size(); ++folder) {
        if (folder_removed_[folder]) {
            continue;
        }
        const FolderSpec& current = settings_.folders[folder];
        const bool kept = std::any_of(next.folders.begin(), next.folders.end(), [&](const FolderSpec& wanted) {
            return wanted.name == current.name && wanted.path == current.path;
        });
        if (!kept) {
            remove_folder(folder);
        }
    }
    bool excludes_changed = next.excludes != settings_.excludes;
    for (FolderSpec& wanted : next.folders) {
        std::optional<std::size_t> running;
        for (std::size_t folder = 0; folder < settings_.folders.size() && !running; ++folder) {
            const FolderSpec& current = settings_.folders[folder];
            if (!folder_removed_[folder] && current.name == wanted.name && current.path == wanted.path) {
                running = folder;
            }
        }
        if (!running) {
            add_folder(std::move(wanted));
        } else if (settings_.folders[*running].excludes != wanted.excludes) {
            settings_.folders[*running].excludes = wanted.excludes;
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
    const std::size_t index = settings_.folders.size();
    const std::string name = folder.name;
    settings_.folders.push_back(std::move(folder));
    folder_removed_.push_back(false);
    // Placeholders until the state database has given the folder its id; nothing is sent before that.
    folder_ids_.push_back(0);
    scheduler_.add_folder(0, *root);
    scheduler_.set_paused(index, true);
    state_writer_.folder_id(name, [this, index, root = *root](std::int64_t id) {
        folder_ids_[index] = id;
        scheduler_.set_folder_id(index, id);
        state_writer_.load_folder(id, [this, index](std::shared_ptr<const FolderRecords> records) {
            // Added in order whatever happened meanwhile, so the watcher's index is the agent's.
            watcher_.add_folder(std::move(records));
            if (folder_removed_[index]) {
                watcher_.remove_folder(index);
                return;
            }
            scheduler_.set_paused(index, false);
        });
    });
}

void Agent::remove_folder(std::size_t folder)
{
    SPDLOG_INFO("folder={}: no longer watched (removed by a reload); the server keeps its copy",
                settings_.folders[folder].name);
    folder_removed_[folder] = true;
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
