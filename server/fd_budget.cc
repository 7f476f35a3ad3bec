// Sizing the server's limits from its open-file limit.
#include "fd_budget.h"

#include <sys/resource.h>

#include <algorithm>

namespace minisync::server {
namespace {

// A limit that is RLIM_INFINITY, or near it, is sized as this many descriptors; the defaults' ceilings
// are reached long before.
constexpr std::uint64_t EffectivelyUnlimited = 1ULL << 32;

std::size_t within(std::uint64_t value, std::size_t ceiling)
{
    return static_cast<std::size_t>(std::clamp<std::uint64_t>(value, 1, ceiling));
}

} // namespace

std::uint64_t ServerLimits::fds_needed(std::size_t workers) const noexcept
{
    return FixedFds + FdsPerWorker * workers + FdsPerConnection * (handshakes + connections) +
           FdsPerUpload * open_uploads;
}

ServerLimits size_limits(const ServerSettings& settings, std::uint64_t open_file_limit)
{
    const std::uint64_t limit = std::min(open_file_limit, EffectivelyUnlimited);
    const std::uint64_t reserved = FixedFds + FdsPerWorker * settings.workers;
    const std::uint64_t room = limit > reserved ? limit - reserved : 0;

    ServerLimits limits;
    limits.open_file_limit = open_file_limit;
    limits.connections_per_client = settings.max_connections_per_client;
    limits.handshakes_per_address = settings.max_handshakes_per_address;
    limits.handshakes = settings.max_handshakes.value_or(within(room / 8 / FdsPerConnection, DefaultMaxHandshakes));
    limits.connections =
        settings.max_connections.value_or(within(room / 4 / FdsPerConnection, DefaultMaxConnections));
    const std::uint64_t sockets = FdsPerConnection * (limits.handshakes + limits.connections);
    const std::uint64_t left = room > sockets ? room - sockets : 0;
    limits.open_uploads = settings.max_open_uploads.value_or(within(left / FdsPerUpload, EffectivelyUnlimited));
    limits.open_uploads_per_client = settings.max_open_uploads_per_client.value_or(
        within(limits.open_uploads / 4, DefaultMaxOpenUploadsPerClient));
    return limits;
}

std::uint64_t current_open_file_limit()
{
    rlimit files{};
    if (::getrlimit(RLIMIT_NOFILE, &files) != 0) {
        return 1024; // what Linux starts processes with
    }
    return files.rlim_cur;
}

std::string describe(const ServerLimits& limits, std::size_t workers)
{
    const std::string open_files = limits.open_file_limit == RLIM_INFINITY
                                       ? std::string{"unlimited"}
                                       : std::to_string(limits.open_file_limit);
    return "open files: limit " + open_files + ", at most " + std::to_string(limits.fds_needed(workers)) +
           " in use with " + std::to_string(limits.connections) + " connections (" +
           std::to_string(limits.connections_per_client) + " per client), " + std::to_string(limits.handshakes) +
           " handshakes (" + std::to_string(limits.handshakes_per_address) + " per address) and " +
           std::to_string(limits.open_uploads) + " open uploads (" + std::to_string(limits.open_uploads_per_client) +
           " per client)";
}

} // namespace minisync::server
