// What the agent counts, as Prometheus metrics (names, types and the label values of
// minisync_errors_total{kind} in docs/OPERATIONS.md "Monitoring"). Registered whether or not --metrics serves them:
// updating one is an atomic add. Updated on the loop thread.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <chrono>
#include <string>
#include <string_view>

namespace minisync::agent {

// The kinds of minisync_errors_total, each exported from the start at 0.
enum class ErrorKind {
    Read,       // a local file or directory could not be read
    Server,     // the server answered a request with an error
    Connection, // connecting to the server failed, or the connection broke
    State,      // the state database could not be written
    Watch,      // inotify could not watch a directory (watch limit)
    Control,    // a control socket request was refused or malformed
    Protocol,   // the server sent a frame the agent cannot take (the connection is reset)
};

class AgentMetrics {
public:
    explicit AgentMetrics(prometheus::Registry& registry);

    void error(ErrorKind kind);
    // minisync_folder_state{folder,state}: 1 for the folder's state (a name of folder_state_names), 0 for
    // the others.
    void folder_state(const std::string& folder, std::string_view state);
    // The folder left the configuration: its series go.
    void forget_folder_state(const std::string& folder);
    // A change seen at `seen` is now acknowledged by the server.
    void synced_after(std::chrono::steady_clock::time_point seen);

    prometheus::Counter& files_synced;
    prometheus::Counter& bytes_sent;    // file content, not wire bytes
    prometheus::Counter& resumed_bytes; // not sent again thanks to resume
    prometheus::Counter& reconnects;
    prometheus::Counter& inotify_overflows;
    prometheus::Gauge& queue_depth;
    prometheus::Gauge& inflight_transfers;
    prometheus::Gauge& connection_up;
    prometheus::Gauge& paused; // 1 while every folder is paused

private:
    prometheus::Family<prometheus::Counter>& errors_;
    prometheus::Family<prometheus::Gauge>& folder_states_;
    prometheus::Histogram& sync_latency_;
};

} // namespace minisync::agent
