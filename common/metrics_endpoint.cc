// prometheus-cpp's Exposer behind a constructor that reports a failure to listen as one readable error.
#include "metrics_endpoint.h"

#include <stdexcept>

namespace minisync {

MetricsEndpoint::MetricsEndpoint(const HostPort& address, const std::shared_ptr<prometheus::Registry>& registry)
{
    const std::string where = address.to_string();
    try {
        // One worker thread: a scrape is a few kilobytes of text, and nothing else is served.
        exposer_ = std::make_unique<prometheus::Exposer>(where, 1);
    } catch (const std::exception& e) {
        throw std::runtime_error("cannot serve metrics on " + where + ": " + e.what());
    }
    exposer_->RegisterCollectable(registry);
}

std::uint16_t MetricsEndpoint::port() const
{
    const std::vector<int> ports = exposer_->GetListeningPorts();
    return ports.empty() ? 0 : static_cast<std::uint16_t>(ports.front());
}

prometheus::Histogram::BucketBoundaries latency_buckets()
{
    return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

} // namespace minisync
