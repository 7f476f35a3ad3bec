// One framed, TLS-protected connection: splits the byte stream into protocol frames, queues outgoing
// frames without copying bulk data, and closes gracefully. Loop thread only.
#pragma once

#include "byte_buffer.h"
#include "libevent_handles.h"
#include "protocol.h"

#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace minisync {

class FrameChannel {
public:
    class Handler {
    public:
        virtual void on_connected() {}
        virtual void on_frame(const protocol::FrameHeader& header, ByteBuffer&& body) = 0;
        // A DATA frame, its body (prefix and payload) moved out of the connection's input without a copy.
        // By default it is copied into one buffer for on_frame(); a handler that writes file chunks
        // takes it as it is, so a megabyte of payload is not copied on the loop thread.
        virtual void on_data_frame(const protocol::FrameHeader& header, EvBufferPtr body);
        // The peer broke framing; reading has stopped. The handler decides what to answer.
        virtual void on_bad_frame(const std::string& reason) = 0;
        // Output fell to the low-water mark: room to queue more data.
        virtual void on_output_low() {}
        // Terminal. The handler may schedule the channel's destruction, but must not destroy it in here.
        virtual void on_closed(const std::string& reason) = 0;

    protected:
        ~Handler() = default;
    };

    // The reason on_closed() gives when a read timeout expired.
    static constexpr std::string_view TimedOut = "timed out";

    // bev must have been created with BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS.
    FrameChannel(BufferEventPtr bev, Handler& handler, std::size_t output_low_water);
    FrameChannel(const FrameChannel&) = delete;
    FrameChannel& operator=(const FrameChannel&) = delete;

    void send(std::span<const std::uint8_t> frame);
    // The payload is handed to libevent by reference and freed once written: no copy of bulk data.
    void send_data(const protocol::DataPrefix& prefix, ByteBuffer&& payload);

    [[nodiscard]] std::size_t output_size() const;
    // nullptr clears it. A peer silent for this long is reported through on_closed(TimedOut).
    void set_read_timeout(const timeval* timeout);
    void pause_reading();
    void resume_reading();

    // Stops reading, flushes what is queued, sends close_notify and then reports on_closed(reason).
    void close_after_flush(std::string reason);
    [[nodiscard]] bool closed() const noexcept { return closed_; }
    [[nodiscard]] bool closing() const noexcept { return closing_ || closed_; }
    [[nodiscard]] SSL* ssl() const;
    [[nodiscard]] bufferevent* handle() const noexcept { return bev_.get(); }

private:
    static void on_read(bufferevent*, void* self) { static_cast<FrameChannel*>(self)->handle_read(); }
    static void on_write(bufferevent*, void* self) { static_cast<FrameChannel*>(self)->handle_write(); }
    static void on_event(bufferevent*, short what, void* self) { static_cast<FrameChannel*>(self)->handle_event(what); }

    void handle_read();
    void handle_write();
    void handle_event(short what);
    void finish(const std::string& reason);
    std::string describe_failure(short what);

    BufferEventPtr bev_;
    Handler& handler_;
    bool reading_paused_ = false;
    bool closing_ = false;
    bool closed_ = false;
    std::string close_reason_;
};

} // namespace minisync
