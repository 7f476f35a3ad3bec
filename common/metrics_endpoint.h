// A daemon's HTTP endpoint for Prometheus and load balancers, served by libevent's evhttp on the daemon's
// own event loop: GET or HEAD /metrics (one registry in the text format), /healthz (200 while the daemon
// serves, 503 once it shuts down), 404 for any other path, 405 for other methods on those two. Requests
// are bounded (headers, body, an idle timeout per connection), and a client that is slow or silent holds
// only its own connection. Loop thread only; the metrics themselves are updated from any thread.
#pragma once

#include "host_port.h"

#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

struct event_base;
struct evhttp;
struct evhttp_request;

namespace minisync {

// Kept out of libevent_handles.h, whose users link libevent_core alone: evhttp is in libevent_extra, which
// only this endpoint links.
struct EvHttpFree {
    // Closes the listening socket and every connection; their requests are dropped unanswered.
    void operator()(evhttp* http) const noexcept;
};
using EvHttpPtr = std::unique_ptr<evhttp, EvHttpFree>;

class MetricsEndpoint {
public:
    // What /healthz reports: true while the daemon serves.
    using Serving = std::function<bool()>;

    // Limits on what a client may send, and how long a connection may stay idle (waiting for a request
    // or for the client to read the answer) before it is closed.
    static constexpr std::size_t MaxHeaderBytes = 8 * 1024;
    static constexpr std::size_t MaxBodyBytes = 4 * 1024;
    static constexpr int IdleTimeoutSeconds = 10;

    // Listens on address at once; requests are answered while base's loop runs. Without serving,
    // /healthz always answers 200. Throws std::runtime_error naming the address when it cannot listen there.
    MetricsEndpoint(event_base* base, const HostPort& address, std::shared_ptr<prometheus::Registry> registry,
                    Serving serving = {});
    MetricsEndpoint(const MetricsEndpoint&) = delete;
    MetricsEndpoint& operator=(const MetricsEndpoint&) = delete;

    // The port it listens on (the one asked for, or the one chosen for port 0).
    [[nodiscard]] std::uint16_t port() const noexcept { return port_; }

private:
    static void on_request(evhttp_request* request, void* self);
    void handle(evhttp_request* request);

    const std::shared_ptr<prometheus::Registry> registry_;
    const Serving serving_;
    EvHttpPtr http_;
    std::uint16_t port_ = 0;
};

// Latency buckets from 1 ms to 60 s, roughly three per decade.
prometheus::Histogram::BucketBoundaries latency_buckets();

} // namespace minisync
