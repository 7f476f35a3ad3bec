// Wiring of minisyncd's components and its shutdown sequence.
#include "agent.h"

#include "service_notify.h"

#include <spdlog/spdlog.h>

#include <csignal>
#include <ctime>
#include <filesystem>
#include <stdexcept>

namespace minisync::agent {
namespace {

// SPEC: exit within 5 s of SIGTERM, so the flush of the connection gets a little less.
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

EvBasePtr make_base()
{
    EvBasePtr base{event_base_new()};
    if (!base) {
        throw std::runtime_error("event_base_new failed");
    }
    return base;
}

} // namespace

Agent::Agent(AgentSettings settings)
    : settings_{std::move(settings)},
      store_{open_state(settings_.state_path)},
      folder_ids_{resolve_folder_ids(*store_, settings_.folders)},
      base_{make_base()},
      inbox_{base_.get()},
      pool_{settings_.workers},
      state_writer_{base_.get(), inbox_, pool_, store_},
      uploader_{base_.get(), inbox_, pool_, settings_, state_writer_, folder_ids_, identify_roots(settings_.folders)},
      link_{base_.get(), settings_, uploader_},
      watcher_{base_.get(), inbox_, pool_, settings_.folders,
               std::make_shared<const ExcludeFilter>(settings_.excludes),
               [this](SyncItem item) { uploader_.enqueue(std::move(item)); },
               [this](std::size_t folder, std::optional<std::string> subtree, FolderWatcher::RecordsReady done) {
                   if (subtree) {
                       state_writer_.load_subtree(folder_ids_[folder], std::move(*subtree), std::move(done));
                   } else {
                       state_writer_.load_folder(folder_ids_[folder], std::move(done));
                   }
               }},
      shutdown_deadline_{evtimer_new(base_.get(), &Agent::on_deadline, this)}
{
    uploader_.attach(link_);
    uploader_.on_rename_done([this](const SyncItem& rename, bool applied) { after_rename(rename, applied); });
    for (const int signal_number : {SIGTERM, SIGINT}) {
        EventPtr ev{evsignal_new(base_.get(), signal_number, &Agent::on_signal, this)};
        event_add(ev.get(), nullptr);
        signal_events_.push_back(std::move(ev));
    }
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
    SPDLOG_INFO("server={} expecting certificate name '{}', state in '{}'", settings_.server.to_string(),
                settings_.server_name, settings_.state_path);
    // Loaded before the loop runs: reconciliation compares every scanned file with these records.
    std::vector<std::shared_ptr<const FolderRecords>> known;
    for (const std::int64_t id : folder_ids_) {
        known.push_back(std::make_shared<const FolderRecords>(store_->load_folder(id)));
    }
    watcher_.start(std::move(known));
    link_.start();
    notify_ready("watching " + std::to_string(settings_.folders.size()) + " folder(s), server " +
                 settings_.server.to_string());
    event_base_dispatch(base_.get());
    const UploadStats& stats = uploader_.stats();
    SPDLOG_INFO("stopped: {} files synced, {} bytes sent, {} still queued", stats.files_synced, stats.bytes_sent,
                uploader_.queue_depth() + uploader_.in_flight());
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
        uploader_.enqueue(removal_item(rename.folder, rename.from, rename.tree));
    }
    watcher_.reconcile_subtree(rename.folder, rename.path);
}

void Agent::begin_shutdown()
{
    if (shutting_down_) {
        return;
    }
    shutting_down_ = true;
    notify_stopping();
    SPDLOG_INFO("shutting down");
    watcher_.stop();
    evtimer_add(shutdown_deadline_.get(), &ShutdownGrace);
    uploader_.drain([this] { link_.stop([this] { event_base_loopbreak(base_.get()); }); });
}

} // namespace minisync::agent
