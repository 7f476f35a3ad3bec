// Counters the server keeps about its own work; read by logs now and by the metrics exporter.
// Loop thread only.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace minisync::server {

struct ServerStats {
    std::int64_t connections = 0; // open right now
    std::uint64_t bytes_received = 0; // file content, not wire bytes
    std::uint64_t files_committed = 0;
    std::uint64_t hash_mismatches = 0;
    // reason: bad_cert, cn_not_allowed, bad_frame, bad_path, unsupported_version, protocol
    std::map<std::string, std::uint64_t> rejected;
};

} // namespace minisync::server
