// The narrow way a request speaks to the server: frames out, nothing else. The connection implements it;
// unit tests put a recorder in its place, so every request's transitions run without sockets.
#pragma once

#include "byte_buffer.h"
#include "protocol.h"

#include <cstdint>
#include <span>

namespace minisync::agent {

class FrameSink {
public:
    // One encoded frame.
    virtual void send(std::span<const std::uint8_t> frame) = 0;
    // A DATA frame, whose payload is handed over without a copy.
    virtual void send_data(const protocol::DataPrefix& prefix, ByteBuffer&& payload) = 0;

protected:
    ~FrameSink() = default;
};

} // namespace minisync::agent
