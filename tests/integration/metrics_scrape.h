// Reading a daemon's Prometheus endpoint from a test: the port it logged, one GET, the samples by name.
#pragma once

#include "child_process.h"

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace minisync::test {

// "name{labels}" -> value, for every sample line.
using Samples = std::map<std::string, double>;

// Sends request, raw bytes, to 127.0.0.1:port over plain TCP and reads until the endpoint closes the
// connection, resets it or is silent for timeout. The bytes that came back (empty when none did), or
// nothing when the connection could not be made.
std::optional<std::string> http_exchange(std::uint16_t port, const std::string& request,
                                         std::chrono::milliseconds timeout = std::chrono::seconds{10});

// The status code of the response that starts a raw answer, 0 when it does not start with a status line.
int http_status(const std::string& response);

// The body of a raw answer: what follows the end of its headers.
std::string http_body(const std::string& response);

// One GET over plain TCP; the body of the answer, or nothing when the endpoint does not answer 200.
std::optional<std::string> http_get(std::uint16_t port, const std::string& path);

Samples parse_samples(const std::string& text);

// The port a daemon logged for "metrics on http://HOST:PORT/metrics".
std::optional<std::uint16_t> logged_metrics_port(const ChildProcess& daemon);

// The exposition text of a daemon started with --metrics 127.0.0.1:0; throws when it never logged its
// endpoint or does not answer.
std::string scrape_text(const ChildProcess& daemon);

// Every sample of one scrape_text().
Samples scrape(const ChildProcess& daemon);

// One sample's value, 0 when it is absent (a labelled counter appears only once it has counted).
double sample_value(const ChildProcess& daemon, const std::string& name);

} // namespace minisync::test
