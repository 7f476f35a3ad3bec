// One connection on the server: TLS identity, HELLO, backpressure and closing; request frames are
// handed to the frame handlers.
#include "client_session.h"

#include "frame_handlers.h"
#include "path_rules.h"
#include "protocol_codec.h"
#include "tls_context.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <exception>
#include <limits>

namespace minisync::server {
namespace {

using protocol::ErrorCode;
using protocol::FrameType;

constexpr std::size_t OutputLowWater = 64 * 1024;
// Receive-side backpressure: stop reading the socket while this much data waits for the disk.
constexpr std::size_t PauseReadingAbove = 32U << 20;
constexpr std::size_t ResumeReadingBelow = 8U << 20;
// A peer that sends requests but never reads the answers stops being read once this much waits for it.
constexpr std::size_t MaxUnreadReplies = 1U << 20;

// A certificate the server refused, or a handshake that was not TLS 1.3 or broke off.
RejectReason handshake_failure_reason(SSL* ssl, const std::string& failure)
{
    const bool certificate_refused = (ssl != nullptr && SSL_get_verify_result(ssl) != X509_V_OK) ||
                                     failure.find("certificate") != std::string::npos;
    return certificate_refused ? RejectReason::BadCert : RejectReason::BadHandshake;
}

timeval to_timeval(std::chrono::seconds duration)
{
    return timeval{static_cast<time_t>(duration.count()), 0};
}

// A timer fails to be created, armed or cancelled only when memory runs out or libevent is misused:
// neither is a state to serve on in (docs/ARCHITECTURE.md "Errors").
void check_timer(bool ok, const char* what)
{
    if (!ok) {
        SPDLOG_CRITICAL("couldn't {} a connection's handshake timer", what);
        std::terminate();
    }
}

const char* const ServerVersion = "minisync-server " MINISYNC_VERSION;

} // namespace

ClientSession::ClientSession(std::uint64_t id, SessionContext& context, BufferEventPtr bev, std::string peer,
                             HandshakeAdmission::Slot handshake)
    : id_{id},
      context_{context},
      peer_{std::move(peer)},
      handshake_{std::move(handshake)},
      handshake_deadline_{evtimer_new(bufferevent_get_base(bev.get()), &ClientSession::on_handshake_deadline, this)},
      channel_{std::move(bev), *this, OutputLowWater},
      requests_{context, id, client_, *this}
{
    check_timer(handshake_deadline_ != nullptr, "create");
    // A deadline for the whole handshake rather than a read timeout, which a peer trickling one byte at a
    // time would reset forever.
    const timeval deadline = to_timeval(context_.settings.handshake_timeout);
    check_timer(evtimer_add(handshake_deadline_.get(), &deadline) == 0, "arm");
}

void ClientSession::handle_handshake_deadline()
{
    if (state_ == State::Refused || channel_.closing()) {
        return; // already on its way out
    }
    const std::string reason =
        "handshake and HELLO not finished within " + std::to_string(context_.settings.handshake_timeout.count()) + " s";
    context_.metrics.rejected(RejectReason::HandshakeTimeout);
    SPDLOG_WARN("connection peer={}: {}", peer_, reason);
    state_ = State::Refused;
    channel_.close_after_flush(reason);
}

ClientSession::~ClientSession()
{
    if (counted_for_client_) {
        context_.connections.remove(client_);
    }
    // The requests still in flight go with requests_, and their path locks with them. Their partials
    // stay on disk: the agent resumes them on its next connection.
}

void ClientSession::shutdown(const std::string& reason)
{
    channel_.close_after_flush(reason);
}

void ClientSession::on_connected()
{
    SSL* ssl = channel_.ssl();
    // From here on, a refusal is about who the client is, not about the handshake.
    state_ = State::Refused;
    handshake_.release();
    if (SSL_get_verify_result(ssl) != X509_V_OK) {
        reject_connection(ErrorCode::NotAllowed, "client certificate not verified", RejectReason::BadCert);
        return;
    }
    const std::optional<std::string> cn = peer_common_name(ssl);
    if (!cn || !is_valid_client_cn(*cn)) {
        reject_connection(ErrorCode::NotAllowed, "client certificate CN is not a valid namespace name",
                          RejectReason::BadCert);
        return;
    }
    const auto& allowed = context_.settings.allow_cn;
    if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), *cn) == allowed.end()) {
        reject_connection(ErrorCode::NotAllowed, "client '" + *cn + "' is not in --allow-cn",
                          RejectReason::CnNotAllowed);
        return;
    }
    if (context_.connections.total() >= context_.limits.connections) {
        client_ = *cn;
        reject_connection(ErrorCode::NotAllowed,
                          "already " + std::to_string(context_.connections.total()) +
                              " connections open (--max-connections)",
                          RejectReason::TooManyConnections);
        return;
    }
    if (const std::size_t open = context_.connections.of(*cn); open >= context_.limits.connections_per_client) {
        client_ = *cn;
        reject_connection(ErrorCode::NotAllowed,
                          "client '" + *cn + "' already has " + std::to_string(open) + " connections open",
                          RejectReason::TooManyConnections);
        return;
    }
    context_.connections.add(*cn);
    counted_for_client_ = true;
    client_ = *cn;
    state_ = State::AwaitHello;
    SPDLOG_INFO("connection peer={} client={}: TLS established", peer_, client_);
}

void ClientSession::on_frame(const protocol::FrameHeader& header, ByteBuffer&& body)
{
    dispatch(header, std::move(body));
    update_read_pause();
}

void ClientSession::on_data_frame(const protocol::FrameHeader& header, EvBufferPtr body)
{
    if (state_ != State::Ready) {
        // Out of place before HELLO: the ordinary dispatch says so.
        FrameChannel::Handler::on_data_frame(header, std::move(body));
        return;
    }
    handle_data(requests_, std::move(body));
    update_read_pause();
}

void ClientSession::on_output_low()
{
    update_read_pause();
}

void ClientSession::update_read_pause()
{
    if (channel_.closing()) {
        return;
    }
    // Hysteresis on both counts, so reading does not flap on and off around one threshold.
    const bool disk_behind = requests_.bytes_queued_to_disk() > (read_paused_ ? ResumeReadingBelow : PauseReadingAbove);
    const bool peer_not_reading = channel_.output_size() > (read_paused_ ? OutputLowWater : MaxUnreadReplies);
    const bool pause = disk_behind || peer_not_reading;
    if (pause == read_paused_) {
        return;
    }
    read_paused_ = pause;
    if (pause) {
        channel_.pause_reading();
    } else {
        channel_.resume_reading();
    }
}

void ClientSession::dispatch(const protocol::FrameHeader& header, ByteBuffer&& body)
{
    switch (state_) {
    case State::Handshake:
    case State::Refused:
        return; // nothing is read before the handshake, and nothing more from a refused client
    case State::AwaitHello:
        if (header.type != FrameType::Hello) {
            reject_connection(ErrorCode::BadFrame, std::string{"expected HELLO, got "} + to_string(header.type),
                              RejectReason::Protocol);
            return;
        }
        handle_hello(body);
        return;
    case State::Ready:
        handle_request_frame(requests_, header, std::move(body));
        return;
    }
}

void ClientSession::on_bad_frame(const std::string& reason)
{
    reject_connection(ErrorCode::BadFrame, reason, RejectReason::BadFrame);
}

void ClientSession::on_closed(const std::string& reason)
{
    if (state_ == State::Handshake) {
        context_.metrics.rejected(handshake_failure_reason(channel_.ssl(), reason));
        SPDLOG_WARN("connection peer={}: TLS handshake failed err={}", peer_, reason);
    } else if (state_ == State::Ready && reason == FrameChannel::TimedOut) {
        context_.metrics.rejected(RejectReason::IdleTimeout);
        SPDLOG_INFO("connection peer={} client={} closed: nothing received for {} s", peer_, client_,
                    context_.settings.idle_timeout.count());
    } else {
        SPDLOG_INFO("connection peer={} client={} closed: {}", peer_, client_, reason);
    }
    context_.session_closed(id_);
}

void ClientSession::handle_hello(protocol::Bytes body)
{
    const auto hello = protocol::decode_hello(body);
    if (!hello) {
        reject_connection(ErrorCode::BadFrame, "malformed HELLO", RejectReason::BadFrame);
        return;
    }
    if (hello->max_version < protocol::MinProtocolVersion || hello->min_version > protocol::ProtocolVersion) {
        reject_connection(ErrorCode::UnsupportedVersion,
                          "server speaks protocol versions " + std::to_string(protocol::MinProtocolVersion) + "-" +
                              std::to_string(protocol::ProtocolVersion),
                          RejectReason::UnsupportedVersion);
        return;
    }
    protocol::HelloOk reply;
    reply.version = std::min(hello->max_version, protocol::ProtocolVersion);
    reply.server = ServerVersion;
    reply.client_name = client_;
    reply.idle_timeout_seconds = static_cast<std::uint32_t>(
        std::min<std::int64_t>(context_.settings.idle_timeout.count(), std::numeric_limits<std::uint32_t>::max()));
    channel_.send(protocol::encode(reply));
    state_ = State::Ready;
    check_timer(evtimer_del(handshake_deadline_.get()) == 0, "cancel");
    // Reading is paused only while this server is behind, so a timeout is always the peer's silence.
    const timeval idle = to_timeval(context_.settings.idle_timeout);
    channel_.set_read_timeout(&idle);
    SPDLOG_INFO("connection peer={} client={}: agent '{}' ready, protocol {}", peer_, client_, hello->agent,
                reply.version);
}

void ClientSession::reject_connection(ErrorCode code, const std::string& message, RejectReason reason)
{
    if (channel_.closing()) {
        return;
    }
    context_.metrics.rejected(reason);
    SPDLOG_WARN("connection peer={} client={}: refused err={}", peer_, client_.empty() ? "-" : client_, message);
    channel_.send(protocol::encode(protocol::ErrorMsg{0, code, message}));
    channel_.close_after_flush(message);
}

} // namespace minisync::server
