// Connection management for minisyncd: name resolution off the loop, TLS setup, HELLO, backoff.
#include "server_link.h"

#include "must_succeed.h"
#include "tcp_tuning.h"
#include "tls_context.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace minisync::agent {
namespace {

using namespace std::chrono_literals;
constexpr std::size_t OutputLowWater = 1U << 20;
constexpr timeval ConnectTimeout{15, 0};
const char* const AgentVersion = "minisyncd " MINISYNC_VERSION;

timeval to_timeval(std::chrono::milliseconds ms)
{
    return timeval{static_cast<time_t>(ms.count() / 1000), static_cast<suseconds_t>((ms.count() % 1000) * 1000)};
}

} // namespace

ServerLink::ServerLink(event_base* base, const AgentSettings& settings, Listener& listener, AgentMetrics& metrics)
    : metrics_{metrics},
      base_{base},
      settings_{settings},
      listener_{listener},
      tls_{value_or_throw(make_client_tls_context(settings.tls))},
      retry_timer_{evtimer_new(base, &ServerLink::on_retry, this)},
      keepalive_timer_{event_new(base, -1, EV_PERSIST, &ServerLink::on_keepalive, this)},
      dns_{evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS | EVDNS_BASE_DISABLE_WHEN_INACTIVE)}
{
    // A missing or unreadable resolv.conf is no failure here (libevent then asks 127.0.0.1): only a
    // lack of memory is.
    must_succeed(dns_ && retry_timer_ && keepalive_timer_, "evdns_base_new, evtimer_new, event_new");
    set_bwlimit(settings.bwlimit);
}

void ServerLink::set_bwlimit(std::optional<std::uint64_t> bytes_per_second)
{
    EvTokenBucketCfgPtr limit;
    if (bytes_per_second) {
        // Refilled every 100 ms rather than every second, so the cap is a steady rate, not bursts.
        // libevent 2.1's SSL bufferevent keeps limits in an int: EV_RATE_LIMIT_MAX would read as -1 and stall.
        constexpr std::uint64_t Unlimited = std::numeric_limits<int>::max();
        const std::uint64_t per_tick = std::clamp<std::uint64_t>(*bytes_per_second / 10, 1, Unlimited);
        const timeval tick{0, 100'000};
        limit.reset(ev_token_bucket_cfg_new(Unlimited, Unlimited, per_tick, per_tick, &tick));
    }
    // libevent keeps a pointer to the configuration: the connection moves to the new one before the old
    // one is freed.
    for (const auto* channel : {&channel_, &retired_channel_}) {
        if (*channel) {
            must_succeed(bufferevent_set_rate_limit((*channel)->handle(), limit.get()) == 0,
                         "bufferevent_set_rate_limit");
        }
    }
    rate_limit_ = std::move(limit);
}

ServerLink::~ServerLink()
{
    *alive_ = false;
}

void ServerLink::start()
{
    resolve();
}

void ServerLink::stop(std::function<void()> done)
{
    const State previous = std::exchange(state_, State::Stopped);
    must_succeed(evtimer_del(retry_timer_.get()) == 0, "evtimer_del");
    must_succeed(event_del(keepalive_timer_.get()) == 0, "event_del");
    if (channel_ && !channel_->closing() && previous != State::Waiting) {
        on_stopped_ = std::move(done);
        channel_->close_after_flush("agent shutting down");
        return;
    }
    done();
}

std::size_t ServerLink::output_size() const
{
    return channel_ ? channel_->output_size() : 0;
}

void ServerLink::send(std::span<const std::uint8_t> frame)
{
    if (channel_) {
        channel_->send(frame);
    }
}

void ServerLink::send_data(const protocol::DataPrefix& prefix, ByteBuffer&& payload)
{
    if (channel_) {
        channel_->send_data(prefix, std::move(payload));
    }
}

void ServerLink::resolve()
{
    if (state_ == State::Stopped) {
        return;
    }
    state_ = State::Resolving;
    retired_channel_.reset();
    addresses_.clear();
    next_address_ = 0;
    evutil_addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    hints.ai_flags = EVUTIL_AI_NUMERICSERV | EVUTIL_AI_ADDRCONFIG;
    // The callback may run before evdns_getaddrinfo returns (numeric hosts, /etc/hosts), and on
    // cancellation after this object is gone: it gets its own context holding a liveness flag.
    auto* query = new ResolveQuery{alive_, this};
    const std::string port = std::to_string(settings_.server.port);
    evdns_getaddrinfo(dns_.get(), settings_.server.host.c_str(), port.c_str(), &hints, &ServerLink::on_resolved, query);
}

void ServerLink::on_resolved(int result, evutil_addrinfo* found, void* arg)
{
    const std::unique_ptr<ResolveQuery> query{static_cast<ResolveQuery*>(arg)};
    const std::unique_ptr<evutil_addrinfo, decltype(&evutil_freeaddrinfo)> owned{found, &evutil_freeaddrinfo};
    if (!*query->alive || result == EVUTIL_EAI_CANCEL) {
        return;
    }
    ServerLink& link = *query->link;
    if (link.state_ != State::Resolving) {
        return;
    }
    if (result != 0) {
        link.fail("cannot resolve '" + link.settings_.server.host + "': " + evutil_gai_strerror(result));
        return;
    }
    for (const evutil_addrinfo* entry = found; entry != nullptr; entry = entry->ai_next) {
        Address address;
        std::memcpy(&address.storage, entry->ai_addr, entry->ai_addrlen);
        address.length = static_cast<socklen_t>(entry->ai_addrlen);
        link.addresses_.push_back(address);
    }
    link.connect_next();
}

void ServerLink::connect_next()
{
    if (next_address_ >= addresses_.size()) {
        fail(addresses_.empty() ? "no address for '" + settings_.server.host + "'" : last_attempt_error_);
        return;
    }
    const Address& address = addresses_[next_address_++];
    SslPtr ssl{SSL_new(tls_.get())};
    if (!ssl || !expect_server_name(ssl.get(), settings_.server_name, settings_.server.host)) {
        fail("cannot set up TLS: " + drain_openssl_errors());
        return;
    }
    BufferEventPtr bev{bufferevent_openssl_socket_new(base_, -1, ssl.release(), BUFFEREVENT_SSL_CONNECTING,
                                                      BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS)};
    if (!bev) {
        fail("bufferevent_openssl_socket_new failed");
        return;
    }
    if (rate_limit_) {
        must_succeed(bufferevent_set_rate_limit(bev.get(), rate_limit_.get()) == 0, "bufferevent_set_rate_limit");
    }
    state_ = State::Connecting;
    channel_ = std::make_unique<FrameChannel>(std::move(bev), *this, OutputLowWater);
    channel_->set_read_timeout(&ConnectTimeout);
    bufferevent* raw = channel_->handle();
    if (bufferevent_socket_connect(raw, reinterpret_cast<const sockaddr*>(&address.storage),
                                   static_cast<int>(address.length)) != 0) {
        // Refused at once (no route, say): libevent reports nothing more, so move on here.
        last_attempt_error_ = evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR());
        retired_channel_ = std::move(channel_);
        connect_next();
        return;
    }
    tune_tcp_socket(bufferevent_getfd(raw));
}

void ServerLink::on_connected()
{
    state_ = State::Greeting;
    channel_->send(protocol::encode(protocol::Hello{protocol::MinProtocolVersion, protocol::ProtocolVersion,
                                                    AgentVersion}));
}

void ServerLink::on_frame(const protocol::FrameHeader& header, ByteBuffer&& body)
{
    if (header.type == protocol::FrameType::Error) {
        const auto error = protocol::decode_error(body);
        if (error && error->request_id == 0) {
            last_error_ = std::string{"server refused the connection: "} + error->message;
            SPDLOG_ERROR("server={}: {}", settings_.server.to_string(), last_error_);
            channel_->close_after_flush(last_error_);
            return;
        }
    }
    if (state_ == State::Greeting) {
        const auto hello = header.type == protocol::FrameType::HelloOk ? protocol::decode_hello_ok(body) : std::nullopt;
        if (!hello || hello->version < protocol::MinProtocolVersion || hello->version > protocol::ProtocolVersion) {
            channel_->close_after_flush("server answered HELLO with something else");
            return;
        }
        state_ = State::Ready;
        backoff_.reset();
        last_error_.clear();
        channel_->set_read_timeout(nullptr);
        start_keepalives(std::chrono::seconds{hello->idle_timeout_seconds});
        SPDLOG_INFO("server={}: connected as '{}' ({}, protocol {})", settings_.server.to_string(),
                    hello->client_name, hello->server, hello->version);
        listener_.on_link_ready();
        return;
    }
    if (state_ == State::Ready) {
        listener_.on_server_frame(header, std::move(body));
    }
}

void ServerLink::on_bad_frame(const std::string& reason)
{
    reset("server sent a bad frame: " + reason);
}

void ServerLink::reset(const std::string& reason)
{
    if (channel_) {
        channel_->close_after_flush(reason);
    }
}

void ServerLink::on_output_low()
{
    if (state_ == State::Ready) {
        listener_.on_link_writable();
    }
}

void ServerLink::start_keepalives(std::chrono::seconds server_idle_timeout)
{
    if (server_idle_timeout.count() == 0) {
        return;
    }
    // A third of the timeout: one keepalive may be late or queued behind data and the next still arrives.
    const timeval interval = to_timeval(std::chrono::duration_cast<std::chrono::milliseconds>(server_idle_timeout) / 3);
    must_succeed(event_add(keepalive_timer_.get(), &interval) == 0, "event_add");
}

void ServerLink::on_keepalive(evutil_socket_t /*fd*/, short /*what*/, void* self)
{
    auto& link = *static_cast<ServerLink*>(self);
    if (link.state_ == State::Ready && link.channel_) {
        link.channel_->send(protocol::encode_keepalive());
    }
}

void ServerLink::on_closed(const std::string& reason)
{
    must_succeed(event_del(keepalive_timer_.get()) == 0, "event_del");
    const bool was_ready = state_ == State::Ready;
    retired_channel_ = std::move(channel_);
    if (was_ready) {
        listener_.on_link_lost();
    }
    if (state_ == State::Stopped) {
        if (on_stopped_) {
            std::exchange(on_stopped_, nullptr)();
        }
        return;
    }
    if (!was_ready && next_address_ < addresses_.size()) {
        last_attempt_error_ = reason;
        connect_next();
        return;
    }
    fail(reason);
}

void ServerLink::fail(const std::string& reason)
{
    if (state_ == State::Stopped) {
        return;
    }
    if (last_error_.empty() || reason.find("refused the connection") == std::string::npos) {
        last_error_ = reason;
    }
    state_ = State::Waiting;
    metrics_.error(ErrorKind::Connection);
    const std::chrono::milliseconds delay = backoff_.next();
    SPDLOG_WARN("server={}: connection failed, retrying in {} ms err={}", settings_.server.to_string(),
                delay.count(), reason);
    const timeval tv = to_timeval(delay);
    must_succeed(evtimer_add(retry_timer_.get(), &tv) == 0, "evtimer_add");
}

} // namespace minisync::agent
