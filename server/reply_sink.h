// The connection as a connection's requests see it: somewhere to send answers, whether it is closing,
// and a way to refuse the whole connection when a frame breaks the protocol. ClientSession is the one
// in service; the narrow shape keeps the requests from reaching into TLS and sockets.
#pragma once

#include "protocol.h"
#include "server_metrics.h"

#include <cstdint>
#include <span>
#include <string>

namespace minisync::server {

class ReplySink {
public:
    virtual void send(std::span<const std::uint8_t> frame) = 0;
    // Closing or closed: answers are no longer sent and worker results are dropped.
    [[nodiscard]] virtual bool closing() const = 0;
    // ERROR with request id 0, then the connection closes once it is flushed.
    virtual void reject_connection(protocol::ErrorCode code, const std::string& message, RejectReason reason) = 0;
    // The disk has caught up by some bytes: reading may resume.
    virtual void disk_caught_up() = 0;

protected:
    ~ReplySink() = default;
};

} // namespace minisync::server
