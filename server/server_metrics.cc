// Registration of the server's metric families.
#include "server_metrics.h"

namespace minisync::server {
namespace {

prometheus::Counter& counter(prometheus::Registry& registry, const char* name, const char* help)
{
    return prometheus::BuildCounter().Name(name).Help(help).Register(registry).Add({});
}

constexpr RejectReason AllRejectReasons[] = {
    RejectReason::BadHandshake,       RejectReason::BadCert,     RejectReason::CnNotAllowed,
    RejectReason::HandshakeTimeout,   RejectReason::IdleTimeout, RejectReason::TooManyConnections,
    RejectReason::UnsupportedVersion, RejectReason::BadFrame,    RejectReason::Protocol,
    RejectReason::BadPath,            RejectReason::HashMismatch, RejectReason::TooManyUploads,
    RejectReason::FileTooLarge,       RejectReason::NoSpace,      RejectReason::TooManyHandshakes,
    RejectReason::TooManyOpenUploads,
};

} // namespace

const char* to_string(RejectReason reason) noexcept
{
    switch (reason) {
    case RejectReason::BadHandshake: return "bad_handshake";
    case RejectReason::BadCert: return "bad_cert";
    case RejectReason::CnNotAllowed: return "cn_not_allowed";
    case RejectReason::HandshakeTimeout: return "handshake_timeout";
    case RejectReason::IdleTimeout: return "idle_timeout";
    case RejectReason::TooManyConnections: return "too_many_connections";
    case RejectReason::TooManyHandshakes: return "too_many_handshakes";
    case RejectReason::TooManyUploads: return "too_many_uploads";
    case RejectReason::TooManyOpenUploads: return "too_many_open_uploads";
    case RejectReason::UnsupportedVersion: return "unsupported_version";
    case RejectReason::BadFrame: return "bad_frame";
    case RejectReason::Protocol: return "protocol";
    case RejectReason::BadPath: return "bad_path";
    case RejectReason::HashMismatch: return "hash_mismatch";
    case RejectReason::FileTooLarge: return "file_too_large";
    case RejectReason::NoSpace: return "no_space";
    }
    return "unknown";
}

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
      directory_syncs{counter(registry, "minisync_server_directory_syncs_total",
                              "fsyncs of a directory after uploads were renamed into it; one covers a whole group")},
      rejected_{prometheus::BuildCounter()
                    .Name("minisync_server_rejected_total")
                    .Help("Connections and requests refused, by reason")
                    .Register(registry)}
{
    for (const RejectReason reason : AllRejectReasons) {
        rejected_.Add({{"reason", to_string(reason)}});
    }
}

void ServerMetrics::rejected(RejectReason reason)
{
    rejected_.Add({{"reason", to_string(reason)}}).Increment();
}

} // namespace minisync::server
