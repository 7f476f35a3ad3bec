// How much the server's open-file limit holds: the connection, handshake and open-upload limits in
// effect, each either given (a flag or config key always wins) or sized from the limit at start, so that
// every place the limits allow has its descriptors and the server never runs out of them.
#pragma once

#include "server_settings.h"

#include <cstddef>
#include <cstdint>
#include <string>

namespace minisync::server {

// What the server holds open, besides the descriptors it counts: listeners, the metrics endpoint, the
// root, the wake-up and signal descriptors, the log, and what each worker opens for a moment (a walk
// beneath the root, an existing file it hashes, a directory it syncs or sweeps).
constexpr std::uint64_t FixedFds = 64;
constexpr std::uint64_t FdsPerWorker = 4;
// A connection is its socket, whether in its handshake or authenticated.
constexpr std::uint64_t FdsPerConnection = 1;
// An open upload holds its partial file and the directory it goes into (IncomingUpload).
constexpr std::uint64_t FdsPerUpload = 2;

// The highest limits sized from the open-file limit. An agent keeps at most 256 requests in flight on its
// one connection (RequestTable::MaxRequests); twice that per client means it never meets the cap on open
// uploads, not even while the files of uploads it has just ended are still being closed on the workers.
constexpr std::size_t DefaultMaxConnections = 1024;
constexpr std::size_t DefaultMaxHandshakes = 256;
constexpr std::size_t DefaultMaxOpenUploadsPerClient = 512;

struct ServerLimits {
    std::uint64_t open_file_limit = 0; // the soft RLIMIT_NOFILE they were sized for
    std::size_t connections = 0;
    std::size_t connections_per_client = 0;
    std::size_t handshakes = 0;
    std::size_t handshakes_per_address = 0;
    std::size_t open_uploads = 0;
    std::size_t open_uploads_per_client = 0;

    // Descriptors used with every limit reached, FixedFds and the workers' included.
    [[nodiscard]] std::uint64_t fds_needed(std::size_t workers) const noexcept;
};

// Each limit the settings leave unset is sized from open_file_limit (RLIM_INFINITY may be passed as is):
// what remains after the fixed and the workers' descriptors goes an eighth to handshakes (at most 256),
// a quarter to connections (at most 1024), and the rest to open uploads in all; one client may hold a
// quarter of those (at most 512). Every limit is at least 1. Limits that are given are kept as they are,
// even when they do not fit (fds_needed() then says by how much).
ServerLimits size_limits(const ServerSettings& settings, std::uint64_t open_file_limit);

// The soft RLIMIT_NOFILE of this process now (after prepare_process() has raised it).
std::uint64_t current_open_file_limit();

// One line for the start-up log: the limits and the descriptors they may take of the limit.
std::string describe(const ServerLimits& limits, std::size_t workers);

} // namespace minisync::server
