// Registration of the agent's metric families.
#include "agent_metrics.h"

#include "folder_table.h"
#include "metrics_endpoint.h"

namespace minisync::agent {
namespace {

prometheus::Counter& counter(prometheus::Registry& registry, const char* name, const char* help)
{
    return prometheus::BuildCounter().Name(name).Help(help).Register(registry).Add({});
}

prometheus::Gauge& gauge(prometheus::Registry& registry, const char* name, const char* help)
{
    return prometheus::BuildGauge().Name(name).Help(help).Register(registry).Add({});
}

const char* label_of(ErrorKind kind)
{
    switch (kind) {
    case ErrorKind::Read: return "read";
    case ErrorKind::Server: return "server";
    case ErrorKind::Connection: return "connection";
    case ErrorKind::State: return "state";
    case ErrorKind::Watch: return "watch";
    case ErrorKind::Control: return "control";
    case ErrorKind::Protocol: return "protocol";
    }
    return "other";
}

} // namespace

AgentMetrics::AgentMetrics(prometheus::Registry& registry)
    : files_synced{counter(registry, "minisync_files_synced_total",
                           "Entries the server acknowledged (files committed or already held, directories, "
                           "symlinks, renames)")},
      bytes_sent{counter(registry, "minisync_bytes_sent_total", "File content sent, in bytes (not wire bytes)")},
      resumed_bytes{counter(registry, "minisync_resumed_bytes_total",
                            "Bytes not sent again because an interrupted upload resumed")},
      reconnects{counter(registry, "minisync_reconnects_total", "Connections to the server made after the first")},
      inotify_overflows{counter(registry, "minisync_inotify_overflows_total",
                                "inotify queue overflows, each followed by a rescan")},
      queue_depth{gauge(registry, "minisync_queue_depth", "Paths waiting to be sent")},
      inflight_transfers{gauge(registry, "minisync_inflight_transfers", "Requests in flight to the server")},
      connection_up{gauge(registry, "minisync_connection_up", "1 while connected to the server")},
      paused{gauge(registry, "minisync_paused", "1 while sending is paused for every folder")},
      errors_{prometheus::BuildCounter()
                  .Name("minisync_errors_total")
                  .Help("Errors by kind: read, server, connection, state, watch, control, protocol")
                  .Register(registry)},
      folder_states_{prometheus::BuildGauge()
                         .Name("minisync_folder_state")
                         .Help("1 for each folder's state (syncing, idle, paused, missing, suspended), 0 for the others")
                         .Register(registry)},
      sync_latency_{prometheus::BuildHistogram()
                        .Name("minisync_sync_latency_seconds")
                        .Help("Time from a change being seen to the server acknowledging it")
                        .Register(registry)
                        .Add({}, latency_buckets())}
{
    for (const ErrorKind kind : {ErrorKind::Read, ErrorKind::Server, ErrorKind::Connection, ErrorKind::State,
                                 ErrorKind::Watch, ErrorKind::Control, ErrorKind::Protocol}) {
        errors_.Add({{"kind", label_of(kind)}});
    }
}

void AgentMetrics::error(ErrorKind kind)
{
    errors_.Add({{"kind", label_of(kind)}}).Increment();
}

void AgentMetrics::folder_state(const std::string& folder, std::string_view state)
{
    for (const std::string_view name : folder_state_names) {
        folder_states_.Add({{"folder", folder}, {"state", std::string{name}}}).Set(name == state ? 1 : 0);
    }
}

void AgentMetrics::forget_folder_state(const std::string& folder)
{
    for (const std::string_view name : folder_state_names) {
        folder_states_.Remove(&folder_states_.Add({{"folder", folder}, {"state", std::string{name}}}));
    }
}

void AgentMetrics::synced_after(std::chrono::steady_clock::time_point seen)
{
    if (seen == std::chrono::steady_clock::time_point{}) {
        return;
    }
    sync_latency_.Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - seen).count());
}

} // namespace minisync::agent
