// The metrics endpoint: its listening socket, evhttp's limits, and the answer to each request.
#include "metrics_endpoint.h"

#include "libevent_handles.h"
#include "must_succeed.h"

#include <event2/http.h>
#include <netdb.h>
#include <netinet/in.h>
#include <prometheus/text_serializer.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace minisync {
namespace {

constexpr int ListenBacklog = 64;
// The Prometheus text exposition format, version 0.0.4.
constexpr const char* MetricsContentType = "text/plain; version=0.0.4; charset=utf-8";
constexpr const char* PlainText = "text/plain; charset=utf-8";

// The methods that reach handle(), where a known path answers any but GET and HEAD with 405 and names
// those two. evhttp answers the rest with 501 itself: CONNECT, which asks for a proxy, and methods it does
// not know.
constexpr ev_uint16_t HandledMethods = EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                                       EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
                                       EVHTTP_REQ_PATCH;

// Sends code with body. libevent 2.1.12 would send the body of an answer to HEAD too, which a client
// then reads as the start of its next answer: HEAD gets the headers alone, with the body's length.
void reply(evhttp_request* request, int code, const char* reason, std::string_view body,
           const char* content_type = PlainText)
{
    evkeyvalq* headers = evhttp_request_get_output_headers(request);
    must_succeed(evhttp_add_header(headers, "Content-Type", content_type) == 0, "evhttp_add_header");
    if (evhttp_request_get_command(request) == EVHTTP_REQ_HEAD) {
        must_succeed(evhttp_add_header(headers, "Content-Length", std::to_string(body.size()).c_str()) == 0,
                     "evhttp_add_header");
    } else {
        must_succeed(evbuffer_add(evhttp_request_get_output_buffer(request), body.data(), body.size()) == 0,
                     "evbuffer_add");
    }
    evhttp_send_reply(request, code, reason, nullptr);
}

std::uint16_t bound_port(evutil_socket_t fd)
{
    sockaddr_storage bound{};
    socklen_t length = sizeof bound;
    must_succeed(::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length) == 0, "getsockname");
    return ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<const sockaddr_in6*>(&bound)->sin6_port
                                             : reinterpret_cast<const sockaddr_in*>(&bound)->sin_port);
}

} // namespace

void EvHttpFree::operator()(evhttp* http) const noexcept
{
    evhttp_free(http);
}

MetricsEndpoint::MetricsEndpoint(event_base* base, const HostPort& address,
                                 std::shared_ptr<prometheus::Registry> registry, Serving serving)
    : registry_{std::move(registry)}, serving_{std::move(serving)}, http_{evhttp_new(base)}
{
    must_succeed(http_ != nullptr, "evhttp_new");
    const std::string where = address.to_string();
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* found = nullptr;
    const std::string port = std::to_string(address.port);
    if (const int rc = ::getaddrinfo(address.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
        throw std::runtime_error("cannot serve metrics on " + where + ": " + gai_strerror(rc));
    }
    const std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addresses{found, &::freeaddrinfo};
    // Made without a callback, so it accepts nothing until evhttp takes it over and sets its own.
    EvListenerPtr listener{evconnlistener_new_bind(base, nullptr, nullptr,
                                                   LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
                                                   ListenBacklog, found->ai_addr, static_cast<int>(found->ai_addrlen))};
    if (!listener) {
        throw std::runtime_error("cannot serve metrics on " + where + ": " +
                                 evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
    }
    port_ = bound_port(evconnlistener_get_fd(listener.get()));
    // evhttp owns the listener from here on and frees it with itself.
    must_succeed(evhttp_bind_listener(http_.get(), listener.get()) != nullptr, "evhttp_bind_listener");
    (void)listener.release();

    evhttp_set_max_headers_size(http_.get(), static_cast<ev_ssize_t>(MaxHeaderBytes));
    evhttp_set_max_body_size(http_.get(), static_cast<ev_ssize_t>(MaxBodyBytes));
    evhttp_set_timeout(http_.get(), IdleTimeoutSeconds);
    evhttp_set_allowed_methods(http_.get(), HandledMethods);
    evhttp_set_gencb(http_.get(), &MetricsEndpoint::on_request, this);
}

void MetricsEndpoint::on_request(evhttp_request* request, void* self)
{
    try {
        static_cast<MetricsEndpoint*>(self)->handle(request);
    } catch (const std::exception& e) {
        // An exception here is a bug (or memory ran out); it must not unwind through libevent.
        SPDLOG_CRITICAL("unhandled exception in the metrics endpoint: {}", e.what());
        std::terminate();
    }
}

void MetricsEndpoint::handle(evhttp_request* request)
{
    // evhttp itself answers a request it cannot parse or with headers over the limit (400), a body over
    // the limit (413), and CONNECT or a method it does not know (501); what arrives here has a parsed target.
    const evhttp_uri* uri = evhttp_request_get_evhttp_uri(request);
    const char* raw_path = uri != nullptr ? evhttp_uri_get_path(uri) : nullptr;
    const std::string_view path = raw_path != nullptr ? raw_path : "";
    const bool metrics = path == "/metrics";
    if (!metrics && path != "/healthz") {
        reply(request, HTTP_NOTFOUND, "Not Found", "not found: only /metrics and /healthz are served here\n");
        return;
    }
    const evhttp_cmd_type method = evhttp_request_get_command(request);
    if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_HEAD) {
        must_succeed(evhttp_add_header(evhttp_request_get_output_headers(request), "Allow", "GET, HEAD") == 0,
                     "evhttp_add_header");
        reply(request, HTTP_BADMETHOD, "Method Not Allowed", "method not allowed: use GET or HEAD\n");
        return;
    }
    if (metrics) {
        // A scrape is a few kilobytes of text: serialised on the loop, like any other short answer.
        reply(request, HTTP_OK, "OK", prometheus::TextSerializer{}.Serialize(registry_->Collect()),
              MetricsContentType);
    } else if (!serving_ || serving_()) {
        reply(request, HTTP_OK, "OK", "ok\n");
    } else {
        reply(request, HTTP_SERVUNAVAIL, "Service Unavailable", "shutting down\n");
    }
}

prometheus::Histogram::BucketBoundaries latency_buckets()
{
    return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

} // namespace minisync
