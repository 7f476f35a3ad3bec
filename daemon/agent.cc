// Wiring of minisyncd's components and its shutdown sequence.
#include "agent.h"

#include "service_notify.h"

#include <spdlog/spdlog.h>

#include <csignal>
#include <stdexcept>

namespace minisync::agent {
namespace {

// SPEC: exit within 5 s of SIGTERM, so the flush of the connection gets a little less.
constexpr timeval ShutdownGrace{3, 0};

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
      base_{make_base()},
      inbox_{base_.get()},
      pool_{settings_.workers},
      uploader_{base_.get(), inbox_, pool_, settings_},
      link_{base_.get(), settings_, uploader_},
      watcher_{base_.get(), inbox_, pool_, settings_.folders,
               std::make_shared<const ExcludeFilter>(settings_.excludes),
               [this](SyncItem item) { uploader_.enqueue(std::move(item)); }},
      shutdown_deadline_{evtimer_new(base_.get(), &Agent::on_deadline, this)}
{
    uploader_.attach(link_);
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
}

int Agent::run()
{
    for (const FolderSpec& folder : settings_.folders) {
        SPDLOG_INFO("watching folder={} path={}", folder.name, folder.path);
    }
    SPDLOG_INFO("server={} expecting certificate name '{}'", settings_.server.to_string(), settings_.server_name);
    watcher_.start();
    link_.start();
    notify_ready("watching " + std::to_string(settings_.folders.size()) + " folder(s), server " +
                 settings_.server.to_string());
    event_base_dispatch(base_.get());
    const UploadStats& stats = uploader_.stats();
    SPDLOG_INFO("stopped: {} files synced, {} bytes sent, {} still queued", stats.files_synced, stats.bytes_sent,
                uploader_.queue_depth() + uploader_.in_flight());
    return 0;
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
    link_.stop([this] { event_base_loopbreak(base_.get()); });
}

} // namespace minisync::agent
