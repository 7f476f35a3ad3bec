// Fuzz target: any bytes sent to the metrics endpoint as a request are answered with HTTP or refused,
// never a crash, and the connection is closed soon after the client has sent them and shut its side.
//
// The endpoint is the one both daemons run (evhttp on an event loop, with their limits), listening on
// 127.0.0.1:0 on this process's own loop. Each input goes over a new TCP connection while the loop runs;
// the client then half-closes and reads until the endpoint closes. Debian's libevent is not instrumented,
// so libFuzzer sees no coverage inside evhttp's parser: the seeds and the dictionary steer the inputs,
// and AddressSanitizer checks what crosses into this tree and the C library.
#include "libevent_handles.h"
#include "metrics_endpoint.h"
#include "unique_fd.h"

#include <netinet/in.h>
#include <poll.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

namespace {

using namespace minisync;
using namespace std::chrono_literals;

// Far above what an answer takes (a few milliseconds); passing it means the endpoint kept a connection
// open after its client had finished, which is how a stalled client would starve the daemon of sockets.
constexpr auto Deadline = 5s;

void check(bool ok, const char* what)
{
    if (!ok) {
        std::fprintf(stderr, "fuzz_metrics_http: invariant broken: %s\n", what);
        std::abort();
    }
}

// One loop and endpoint for the whole run, serving a registry with a metric of each kind.
class Harness {
public:
    Harness()
    {
        // evhttp's warnings about bad requests would fill the log; the daemons route them to theirs.
        event_set_log_callback([](int, const char*) {});
        check(base_ != nullptr, "event_base_new");
        auto& counters = prometheus::BuildCounter().Name("fuzz_requests_total").Help("Requests").Register(*registry_);
        counters.Add({{"kind", "a"}}).Increment(3);
        counters.Add({{"kind", "b\"\\\n"}});
        prometheus::BuildGauge().Name("fuzz_depth").Help("Depth").Register(*registry_).Add({}).Set(-1.5);
        prometheus::BuildHistogram().Name("fuzz_seconds").Help("Latency").Register(*registry_)
            .Add({}, latency_buckets()).Observe(0.2);
        endpoint_ = std::make_unique<MetricsEndpoint>(base_.get(), HostPort{"127.0.0.1", 0}, registry_,
                                                      [this] { return serving_; });
    }

    // Sends request, half-closes, and returns what came back once the endpoint has closed the connection.
    std::string exchange(std::string_view request)
    {
        UniqueFd fd{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)};
        check(fd.valid(), "socket");
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(endpoint_->port());
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        check(::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0 ||
                  errno == EINPROGRESS,
              "connect");
        std::string response;
        bool shut = false;
        const auto deadline = std::chrono::steady_clock::now() + Deadline;
        for (;;) {
            if (!request.empty()) {
                const ssize_t sent = ::send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
                if (sent > 0) {
                    request.remove_prefix(static_cast<std::size_t>(sent));
                } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOTCONN) {
                    request = {}; // the endpoint answered and closed before reading everything
                }
            } else if (!shut) {
                ::shutdown(fd.get(), SHUT_WR);
                shut = true;
            }
            event_base_loop(base_.get(), EVLOOP_NONBLOCK);
            char chunk[16384];
            const ssize_t n = ::recv(fd.get(), chunk, sizeof chunk, MSG_DONTWAIT);
            if (n > 0) {
                response.append(chunk, static_cast<std::size_t>(n));
                continue;
            }
            if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
                return response; // closed, or reset
            }
            if (std::chrono::steady_clock::now() > deadline) {
                std::fprintf(stderr, "fuzz_metrics_http: the connection is still open %lld s after the request\n",
                             static_cast<long long>(std::chrono::seconds{Deadline}.count()));
                std::abort();
            }
            pollfd ready{fd.get(), POLLIN, 0};
            ::poll(&ready, 1, 1);
        }
    }

    void set_serving(bool serving) { serving_ = serving; }

private:
    EvBasePtr base_{event_base_new()};
    const std::shared_ptr<prometheus::Registry> registry_ = std::make_shared<prometheus::Registry>();
    bool serving_ = true;
    std::unique_ptr<MetricsEndpoint> endpoint_;
};

// "HTTP/<version> <3 digits> ...\r\n". The version is not checked: evhttp answers in the one the request
// named, as it parsed it (HTTP/0.1, HTTP/1.12, even HTTP/-1.-1), which only that client ever sees.
bool starts_with_status_line(std::string_view response)
{
    const std::size_t line_end = response.find("\r\n");
    const std::size_t space = response.find(' ');
    if (response.substr(0, 5) != "HTTP/" || line_end == std::string_view::npos || space > line_end ||
        space + 4 >= line_end) {
        return false;
    }
    const auto digit = [&](std::size_t i) { return response[i] >= '0' && response[i] <= '9'; };
    return digit(space + 1) && digit(space + 2) && digit(space + 3) && response[space + 4] == ' ';
}

Harness& harness()
{
    static Harness instance;
    return instance;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    static std::uint64_t runs = 0;
    Harness& h = harness();
    // /healthz answers from the daemon's state: both answers are reached.
    h.set_serving(size % 2 == 0);
    const std::string response = h.exchange({reinterpret_cast<const char*>(data), size});
    check(response.empty() || starts_with_status_line(response), "an answer that is not HTTP");
    // Whatever came before, the endpoint still answers a plain request.
    if (++runs % 256 == 0) {
        h.set_serving(true);
        const std::string health = h.exchange("GET /healthz HTTP/1.0\r\n\r\n");
        check(health.rfind("HTTP/1.0 200 OK\r\n", 0) == 0, "GET /healthz is not answered 200 any more");
    }
    return 0;
}
