// Wiring of minisyncd's components and its shutdown sequence.
#include "agent.h"

#include "must_succeed.h"
#include "open_beneath.h"
#include "service_notify.h"

#include <spdlog/spdlog.h>

#include <csignal>
#include <grp.h>
#include <ctime>
#include <filesystem>
#include <stdexcept>
#include <utility>

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

// The configured folders with their state database ids, and their roots judged against the identities
// recorded (a first root is recorded now): a folder whose root is not there starts held, not watched.
FolderTable initial_folders(StateStore& store, std::vector<FolderSpec> specs)
{
    FolderTable folders;
    for (FolderSpec& spec : specs) {
        Result<StoredFolder> stored = store.open_folder(spec.name);
        if (!stored.ok()) {
            throw std::runtime_error("folder '" + spec.name + "': " + stored.error().message);
        }
        Folder folder;
        folder.state_id = stored.value().id;
        folder.recorded_root = stored.value().root;
        folder.root.path = spec.path;
        folder.root.identity = stored.value().root.value_or(RootIdentity{});
        folder.root.mounts = spec.one_file_system ? Mounts::Refuse : Mounts::Cross;
        const std::optional<FolderRoot> found = identify_folder_root(spec.path);
        const RootVerdict verdict = judge_root(spec.path, found, folder.recorded_root);
        folder.root_state = verdict.state;
        if (verdict.state == RootVerdict::State::Present) {
            folder.root.identity = found->identity;
            if (verdict.record_identity) {
                if (Result<void> recorded = store.set_root_identity(folder.state_id, found->identity); !recorded.ok()) {
                    throw std::runtime_error("folder '" + spec.name + "': " + recorded.error().message);
                }
                folder.recorded_root = found->identity;
            }
        } else {
            folder.root_problem = describe_root_problem(spec.name, verdict);
        }
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
      store_{open_state(settings_.state_path)},
      folders_{initial_folders(*store_, std::exchange(settings_.folders, {}))},
      base_{make_base()},
      inbox_{base_.get()},
      pool_{settings_.workers},
      state_writer_{base_.get(), inbox_, pool_, store_, metrics_},
      scheduler_{timers_, inbox_, pool_, settings_, folders_, state_writer_, metrics_},
      link_{base_.get(), settings_, scheduler_, metrics_},
      watcher_{base_.get(), timers_, inbox_, pool_, folders_,
               settings_.excludes, metrics_,
               [this](SyncItem item) {
                   control_handler_.note_work(item.folder);
                   scheduler_.enqueue(std::move(item));
               },
               [this](std::size_t folder, std::optional<std::string> subtree, FolderWatcher::RecordsReady done) {
                   if (subtree) {
                       state_writer_.load_subtree(folders_[folder].state_id, std::move(*subtree), std::move(done));
                   } else {
                       state_writer_.load_folder(folders_[folder].state_id, std::move(done));
                   }
               }},
      shutdown_deadline_{evtimer_new(base_.get(), &Agent::on_deadline, this)},
      config_reload_{std::move(argv), settings_, folders_, scheduler_, watcher_, root_guard_, link_, state_writer_}
{
    if (settings_.metrics) {
        metrics_endpoint_ = std::make_unique<MetricsEndpoint>(base_.get(), *settings_.metrics, registry_,
                                                              [this] { return !shutting_down_; });
    }
    scheduler_.attach(link_);
    scheduler_.on_idle([this] {
        control_handler_.check_waiters();
        control_handler_.publish_folder_states();
        memory_release_.note_work();
    });
    watcher_.on_scans_done([this] { control_handler_.check_waiters(); });
    watcher_.on_events_lost([this](std::size_t folder) { scheduler_.recheck_in_flight(folder); });
    watcher_.on_root_doubt([this](std::size_t folder, const std::string& what) { root_guard_.doubt(folder, what); });
    scheduler_.on_root_doubt([this](std::size_t folder, const std::string& what) { root_guard_.doubt(folder, what); });
    control_handler_.publish_folder_states();
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
        if (folder.root_state == RootVerdict::State::Present) {
            SPDLOG_INFO("watching folder={} path={}", folder.spec.name, folder.spec.path);
        }
    }
    SPDLOG_INFO("server={} expecting certificate name '{}', state in '{}', control socket '{}'",
                settings_.server.to_string(), settings_.server_name, settings_.state_path, control_->path());
    SPDLOG_INFO("paths in folders are resolved with {}", path_resolver());
    // Loaded before the loop runs: reconciliation compares every scanned file with these records.
    std::vector<std::shared_ptr<const FolderRecords>> known;
    for (const Folder& folder : folders_) {
        Result<FolderRecords> records = store_->load_folder(folder.state_id);
        if (!records.ok()) {
            throw std::runtime_error("folder '" + folder.spec.name + "': " + records.error().message);
        }
        known.push_back(std::make_shared<const FolderRecords>(std::move(records).value()));
    }
    if (metrics_endpoint_) {
        SPDLOG_INFO("metrics on http://{}/metrics",
                    HostPort{settings_.metrics->host, metrics_endpoint_->port()}.to_string());
    }
    watcher_.start(std::move(known));
    root_guard_.start();
    mount_watch_ = std::make_unique<MountWatch>(base_.get(), [this] { root_guard_.recheck_all(); });
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
        watcher_.reconcile_subtree(rename.folder, rename.path);
        return;
    }
    // The server still holds the old path (or nothing there): it stays until the new one is in place.
    rename_fallback_.start(rename);
}

void Agent::reload()
{
    if (!shutting_down_) {
        config_reload_.reload();
        control_handler_.publish_folder_states();
    }
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
    mount_watch_.reset();
    root_guard_.stop();
    must_succeed(evtimer_add(shutdown_deadline_.get(), &ShutdownGrace) == 0, "evtimer_add");
    scheduler_.drain([this] { link_.stop([this] { event_base_loopbreak(base_.get()); }); });
}

} // namespace minisync::agent
