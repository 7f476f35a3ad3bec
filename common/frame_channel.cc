// Frame extraction from a bufferevent_openssl, by-reference sends and the graceful TLS close
// (libevent 2.1 never sends close_notify itself; docs/ARCHITECTURE.md "Ownership and lifetimes").
#include "frame_channel.h"

#include "must_succeed.h"
#include "protocol_codec.h"

#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <exception>

namespace minisync {

void FrameChannel::Handler::on_data_frame(const protocol::FrameHeader& header, EvBufferPtr body)
{
    ByteBuffer copy(evbuffer_get_length(body.get()));
    if (!copy.empty()) {
        must_succeed(evbuffer_remove(body.get(), copy.data(), copy.size()) == static_cast<int>(copy.size()),
                     "evbuffer_remove");
    }
    on_frame(header, std::move(copy));
}

FrameChannel::FrameChannel(BufferEventPtr bev, Handler& handler, std::size_t output_low_water)
    : bev_{std::move(bev)}, handler_{handler}
{
    bufferevent_setcb(bev_.get(), &FrameChannel::on_read, &FrameChannel::on_write, &FrameChannel::on_event, this);
    bufferevent_setwatermark(bev_.get(), EV_WRITE, output_low_water, 0);
    must_succeed(bufferevent_enable(bev_.get(), EV_READ | EV_WRITE) == 0, "bufferevent_enable");
}

SSL* FrameChannel::ssl() const
{
    return bufferevent_openssl_get_ssl(bev_.get());
}

void FrameChannel::send(std::span<const std::uint8_t> frame)
{
    if (closed_) {
        return;
    }
    must_succeed(evbuffer_add(bufferevent_get_output(bev_.get()), frame.data(), frame.size()) == 0, "evbuffer_add");
}

void FrameChannel::send_data(const protocol::DataPrefix& prefix, ByteBuffer&& payload)
{
    if (closed_) {
        return;
    }
    evbuffer* out = bufferevent_get_output(bev_.get());
    const protocol::DataFrameHead head = protocol::encode_data_head(prefix, payload.size());
    must_succeed(evbuffer_add(out, head.data(), head.size()) == 0, "evbuffer_add");
    if (payload.empty()) {
        return;
    }
    auto* owned = new ByteBuffer(std::move(payload));
    const int added = evbuffer_add_reference(
        out, owned->data(), owned->size(),
        [](const void*, size_t, void* extra) { delete static_cast<ByteBuffer*>(extra); }, owned);
    must_succeed(added == 0, "evbuffer_add_reference");
}

std::size_t FrameChannel::output_size() const
{
    return evbuffer_get_length(bufferevent_get_output(bev_.get()));
}

void FrameChannel::set_read_timeout(const timeval* timeout)
{
    must_succeed(bufferevent_set_timeouts(bev_.get(), timeout, nullptr) == 0, "bufferevent_set_timeouts");
}

void FrameChannel::pause_reading()
{
    // Disabling EV_READ (rather than a read high-watermark) avoids libevent's busy loop on SSL bevs.
    reading_paused_ = true;
    must_succeed(bufferevent_disable(bev_.get(), EV_READ) == 0, "bufferevent_disable");
}

void FrameChannel::resume_reading()
{
    if (!reading_paused_ || closing()) {
        return;
    }
    reading_paused_ = false;
    must_succeed(bufferevent_enable(bev_.get(), EV_READ) == 0, "bufferevent_enable");
    // Frames already buffered would otherwise wait for the next bytes from the socket.
    bufferevent_trigger(bev_.get(), EV_READ, BEV_TRIG_DEFER_CALLBACKS);
}

void FrameChannel::close_after_flush(std::string reason)
{
    if (closing()) {
        return;
    }
    closing_ = true;
    close_reason_ = std::move(reason);
    must_succeed(bufferevent_disable(bev_.get(), EV_READ) == 0, "bufferevent_disable");
    // A peer that never reads must not keep a closing connection alive.
    constexpr timeval FlushTimeout{10, 0};
    must_succeed(bufferevent_set_timeouts(bev_.get(), nullptr, &FlushTimeout) == 0, "bufferevent_set_timeouts");
    bufferevent_setwatermark(bev_.get(), EV_WRITE, 0, 0);
    // The write callback finishes the close; deferring it keeps on_closed out of the caller's stack.
    bufferevent_trigger(bev_.get(), EV_WRITE, static_cast<int>(BEV_TRIG_IGNORE_WATERMARKS) | static_cast<int>(BEV_TRIG_DEFER_CALLBACKS));
}

void FrameChannel::handle_read()
{
    evbuffer* input = bufferevent_get_input(bev_.get());
    while (!closing() && !reading_paused_) {
        std::uint8_t raw_header[protocol::FrameHeaderSize];
        if (evbuffer_copyout(input, raw_header, sizeof raw_header) < static_cast<ev_ssize_t>(sizeof raw_header)) {
            return;
        }
        const protocol::HeaderResult parsed = protocol::decode_frame_header(raw_header);
        if (parsed.status != protocol::HeaderStatus::Ok) {
            pause_reading();
            handler_.on_bad_frame(parsed.status == protocol::HeaderStatus::TooLarge
                                      ? "frame of " + std::to_string(parsed.header.body_size) + " bytes exceeds the " +
                                            std::to_string(protocol::MaxFrameBody) + "-byte limit"
                                      : std::string{"frame header has reserved flags set"});
            return;
        }
        if (evbuffer_get_length(input) < protocol::FrameHeaderSize + parsed.header.body_size) {
            return;
        }
        must_succeed(evbuffer_drain(input, protocol::FrameHeaderSize) == 0, "evbuffer_drain");
        if (parsed.header.type == protocol::FrameType::Data) {
            // Whole chains change hands; only the part of the chain where the frame ends is copied.
            EvBufferPtr body{evbuffer_new()};
            if (!body || evbuffer_remove_buffer(input, body.get(), parsed.header.body_size) !=
                             static_cast<int>(parsed.header.body_size)) {
                // Out of memory: not a condition to serve on in (docs/ARCHITECTURE.md "Errors").
                SPDLOG_CRITICAL("out of memory moving a {}-byte frame body", parsed.header.body_size);
                std::terminate();
            }
            handler_.on_data_frame(parsed.header, std::move(body));
            continue;
        }
        ByteBuffer body(parsed.header.body_size);
        if (!body.empty()) {
            must_succeed(evbuffer_remove(input, body.data(), body.size()) == static_cast<int>(body.size()),
                         "evbuffer_remove");
        }
        handler_.on_frame(parsed.header, std::move(body));
    }
}

void FrameChannel::handle_write()
{
    if (closed_) {
        return;
    }
    if (closing_) {
        if (output_size() == 0) {
            // libevent never sends close_notify itself. One SSL_shutdown, errors discarded so they
            // cannot surface on another connection handled by this thread.
            SSL_shutdown(ssl());
            ERR_clear_error();
            finish(close_reason_);
        }
        return;
    }
    handler_.on_output_low();
}

void FrameChannel::handle_event(short what)
{
    if (closed_) {
        return;
    }
    if ((what & BEV_EVENT_CONNECTED) != 0) {
        handler_.on_connected();
        return;
    }
    if ((what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) != 0) {
        const std::string reason = describe_failure(what);
        // Frames that arrived together with the EOF are still the peer's last words.
        if (!closing_ && !reading_paused_ && (what & BEV_EVENT_TIMEOUT) == 0) {
            handle_read();
        }
        if (!closed_) {
            finish(closing_ && close_reason_.size() ? close_reason_ : reason);
        }
    }
}

void FrameChannel::finish(const std::string& reason)
{
    closed_ = true;
    must_succeed(bufferevent_disable(bev_.get(), EV_READ | EV_WRITE) == 0, "bufferevent_disable");
    ERR_clear_error();
    handler_.on_closed(reason);
}

std::string FrameChannel::describe_failure(short what)
{
    if ((what & BEV_EVENT_TIMEOUT) != 0) {
        return std::string{TimedOut};
    }
    std::string text;
    // The queue mixes packed OpenSSL error codes with raw SSL_get_error() values; only the former say anything.
    while (const unsigned long code = bufferevent_get_openssl_error(bev_.get())) {
        if (ERR_GET_LIB(code) == 0) {
            continue;
        }
        char buf[256];
        ERR_error_string_n(code, buf, sizeof buf);
        text += text.empty() ? "" : "; ";
        text += buf;
    }
    if (SSL* tls = ssl(); tls != nullptr) {
        const long verify = SSL_get_verify_result(tls);
        if (verify != X509_V_OK) {
            text += text.empty() ? "" : "; ";
            text += std::string{"certificate verification: "} + X509_verify_cert_error_string(verify);
        }
    }
    if (text.empty() && (what & BEV_EVENT_ERROR) != 0) {
        const int err = EVUTIL_SOCKET_ERROR();
        text = err != 0 ? evutil_socket_error_to_string(err) : "connection error";
    }
    if (text.empty()) {
        text = "connection closed by peer";
    }
    return text;
}

} // namespace minisync
