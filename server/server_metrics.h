// What the server counts about its own work, as Prometheus metrics (names in SPEC.md "Metrics"; the
// reasons of minisync_server_rejected_total in docs/OPERATIONS.md). Updated on the loop thread.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <string>

namespace minisync::server {

class ServerMetrics {
public:
    // The reasons a connection or request is refused; each is exported from the start, at 0.
    static constexpr const char* RejectReasons[] = {"bad_cert", "cn_not_allowed", "bad_frame", "bad_path",
                                                    "unsupported_version", "protocol",
                                                    "too_many_connections"};

    explicit ServerMetrics(prometheus::Registry& registry);

    void rejected(const std::string& reason);

    prometheus::Gauge& connections;       // open right now
    prometheus::Counter& bytes_received;  // file content, not wire bytes
    prometheus::Counter& files_committed;
    prometheus::Counter& hash_mismatches;

private:
    prometheus::Family<prometheus::Counter>& rejected_;
};

} // namespace minisync::server
