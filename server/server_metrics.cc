// Registration of the server's metric families.
#include "server_metrics.h"

namespace minisync::server {
namespace {

prometheus::Counter& counter(prometheus::Registry& registry, const char* name, const char* help)
{
    return prometheus::BuildCounter().Name(name).Help(help).Register(registry).Add({});
}

} // namespace

ServerMetrics::ServerMetrics(prometheus::Registry& registry)
    : connections{prometheus::BuildGauge()
                      .Name("minisync_server_connections")
                      .Help("Agent connections open now")
                      .Register(registry)
                      .Add({})},
      bytes_received{counter(registry, "minisync_server_bytes_received_total",
                             "File content received from agents, in bytes (not wire bytes)")},
      files_committed{counter(registry, "minisync_server_files_committed_total",
                              "Files made durable under their final name")},
      hash_mismatches{counter(registry, "minisync_server_hash_mismatches_total",
                              "Uploads refused because their content did not match the SHA-256 in COMMIT")},
      rejected_{prometheus::BuildCounter()
                    .Name("minisync_server_rejected_total")
                    .Help("Connections and requests refused, by reason")
                    .Register(registry)}
{
    for (const char* reason : RejectReasons) {
        rejected_.Add({{"reason", reason}});
    }
}

void ServerMetrics::rejected(const std::string& reason)
{
    rejected_.Add({{"reason", reason}}).Increment();
}

} // namespace minisync::server
