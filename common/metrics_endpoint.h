// A Prometheus pull endpoint (GET /metrics) serving one registry. prometheus-cpp runs it on threads of
// its own; the metrics themselves are thread-safe, so the event loop updates them directly.
#pragma once

#include "host_port.h"

#include <prometheus/exposer.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <memory>

namespace minisync {

class MetricsEndpoint {
public:
    // Throws std::runtime_error naming the address when it cannot listen there.
    MetricsEndpoint(const HostPort& address, const std::shared_ptr<prometheus::Registry>& registry);

    // The port it listens on (the one asked for, or the one chosen for port 0).
    [[nodiscard]] std::uint16_t port() const;

private:
    std::unique_ptr<prometheus::Exposer> exposer_;
};

// Latency buckets from 1 ms to 60 s, roughly three per decade.
prometheus::Histogram::BucketBoundaries latency_buckets();

} // namespace minisync
