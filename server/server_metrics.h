// What the server counts about its own work, as Prometheus metrics (names, types and the reasons of
// minisync_server_rejected_total in docs/OPERATIONS.md "Monitoring"). Updated on the loop thread.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <string>

namespace minisync::server {

// Why a connection or request was refused: the reason label of minisync_server_rejected_total, each
// exported from the start at 0.
enum class RejectReason {
    BadHandshake,       // not TLS 1.3, or the handshake broke off
    BadCert,            // no client certificate, not signed by the CA, expired, or an unusable CN
    CnNotAllowed,       // a valid certificate whose CN is not on --allow-cn
    HandshakeTimeout,   // TLS and HELLO not done within --handshake-timeout
    IdleTimeout,        // nothing received for --idle-timeout
    TooManyConnections, // --max-connections or --max-connections-per-client
    TooManyHandshakes,  // --max-handshakes or --max-handshakes-per-address
    TooManyUploads,     // more requests in flight on one connection than the server allows
    TooManyOpenUploads, // --max-open-uploads-per-client or --max-open-uploads (answered BUSY)
    UnsupportedVersion,
    BadFrame,           // malformed, oversized or unknown frame
    Protocol,           // a well-formed frame out of order
    BadPath,            // a folder name or path that is not a clean relative path
    HashMismatch,       // COMMIT whose SHA-256 the received content does not match
    FileTooLarge,       // an upload over --max-file-size
    NoSpace,            // an upload that does not fit on the disk (or under the file size limit)
};

const char* to_string(RejectReason reason) noexcept;

class ServerMetrics {
public:
    explicit ServerMetrics(prometheus::Registry& registry);

    void rejected(RejectReason reason);

    prometheus::Gauge& connections;       // open right now
    prometheus::Counter& bytes_received;  // file content, not wire bytes
    prometheus::Counter& files_committed;
    prometheus::Counter& hash_mismatches;
    prometheus::Counter& directory_syncs;

private:
    prometheus::Family<prometheus::Counter>& rejected_;
};

} // namespace minisync::server
