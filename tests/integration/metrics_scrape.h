// Reading a daemon's Prometheus endpoint from a test: the port it logged, one GET, the samples by name.
#pragma once

#include "child_process.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace minisync::test {

// "name{labels}" -> value, for every sample line.
using Samples = std::map<std::string, double>;

// One GET over plain TCP; the body of the answer, or nothing when the endpoint does not answer.
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
