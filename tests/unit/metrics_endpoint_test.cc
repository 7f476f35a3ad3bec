// Tests for the metrics endpoint on a loop the test runs itself: what each path and method is answered,
// the limits on requests, /healthz following the daemon's state, and that a stalled client holds up no one.
#include "metrics_endpoint.h"

#include "libevent_handles.h"
#include "unique_fd.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <prometheus/counter.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

namespace minisync {
namespace {

using namespace std::chrono_literals;

class MetricsEndpointTest : public ::testing::Test {
protected:
    // An answer, and whether the endpoint closed the connection after it.
    struct Answer {
        std::string text;
        bool closed = false;
    };

    void SetUp() override
    {
        ASSERT_TRUE(base_);
        auto& requests = prometheus::BuildCounter().Name("test_requests_total").Help("Requests").Register(*registry_);
        requests.Add({}).Increment(3);
        endpoint_ = std::make_unique<MetricsEndpoint>(base_.get(), HostPort{"127.0.0.1", 0}, registry_,
                                                      [this] { return serving_; });
        ASSERT_NE(endpoint_->port(), 0);
    }

    [[nodiscard]] UniqueFd connect_client() const
    {
        UniqueFd fd{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)};
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(endpoint_->port());
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        const int rc = ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address);
        EXPECT_TRUE(rc == 0 || errno == EINPROGRESS) << std::strerror(errno);
        return fd;
    }

    // Sends request on a new connection while running the loop, and reads until the endpoint closes it
    // or, once something came back, until nothing more arrives for a moment; at most 5 s.
    Answer exchange(std::string_view request)
    {
        const UniqueFd fd = connect_client();
        return exchange_on(fd.get(), request);
    }

    Answer exchange_on(int fd, std::string_view request)
    {
        Answer answer;
        const auto deadline = std::chrono::steady_clock::now() + 5s;
        auto last_progress = std::chrono::steady_clock::now();
        while (std::chrono::steady_clock::now() < deadline) {
            if (!request.empty()) {
                const ssize_t sent = ::send(fd, request.data(), request.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
                if (sent > 0) {
                    request.remove_prefix(static_cast<std::size_t>(sent));
                } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOTCONN) {
                    request = {}; // refused mid-request: read what was answered
                }
            }
            event_base_loop(base_.get(), EVLOOP_NONBLOCK);
            pollfd ready{fd, POLLIN, 0};
            ::poll(&ready, 1, 1);
            char chunk[16384];
            const ssize_t n = ::recv(fd, chunk, sizeof chunk, MSG_DONTWAIT);
            if (n > 0) {
                answer.text.append(chunk, static_cast<std::size_t>(n));
                last_progress = std::chrono::steady_clock::now();
            } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
                answer.closed = true;
                return answer;
            } else if (request.empty() && !answer.text.empty() &&
                       std::chrono::steady_clock::now() - last_progress > 100ms) {
                return answer; // a kept-alive connection: the answer is complete
            }
        }
        return answer;
    }

    // Runs the loop until done() holds; false if it still does not after deadline.
    bool run_loop_until(const std::function<bool()>& done, std::chrono::milliseconds deadline)
    {
        const auto end = std::chrono::steady_clock::now() + deadline;
        while (!done()) {
            if (std::chrono::steady_clock::now() >= end) {
                return false;
            }
            event_base_loop(base_.get(), EVLOOP_NONBLOCK);
            ::poll(nullptr, 0, 1);
        }
        return true;
    }

    static int status(const Answer& answer)
    {
        return answer.text.rfind("HTTP/1.", 0) == 0 && answer.text.size() > 12 ? std::stoi(answer.text.substr(9, 3))
                                                                                 : 0;
    }

    static std::string body(const Answer& answer)
    {
        const std::size_t end = answer.text.find("\r\n\r\n");
        return end == std::string::npos ? std::string{} : answer.text.substr(end + 4);
    }

    static bool has_header(const Answer& answer, std::string_view line)
    {
        const std::size_t end = answer.text.find("\r\n\r\n");
        const std::string wanted = "\r\n" + std::string{line} + "\r\n";
        return end != std::string::npos && answer.text.substr(0, end + 2).find(wanted) != std::string::npos;
    }

    EvBasePtr base_{event_base_new()};
    const std::shared_ptr<prometheus::Registry> registry_ = std::make_shared<prometheus::Registry>();
    bool serving_ = true;
    std::unique_ptr<MetricsEndpoint> endpoint_;
};

TEST_F(MetricsEndpointTest, GetMetricsAnswersTheRegistryInTheTextFormat)
{
    const Answer answer = exchange("GET /metrics HTTP/1.0\r\n\r\n");
    EXPECT_EQ(status(answer), 200) << answer.text;
    EXPECT_TRUE(has_header(answer, "Content-Type: text/plain; version=0.0.4; charset=utf-8")) << answer.text;
    EXPECT_NE(body(answer).find("\ntest_requests_total 3\n"), std::string::npos) << answer.text;
    EXPECT_TRUE(answer.closed);

    // A query and the absolute form name the same resource.
    EXPECT_EQ(status(exchange("GET /metrics?name[]=x HTTP/1.0\r\n\r\n")), 200);
    EXPECT_EQ(status(exchange("GET http://127.0.0.1/metrics HTTP/1.0\r\n\r\n")), 200);
}

TEST_F(MetricsEndpointTest, HeadAnswersTheHeadersWithTheBodysLengthAndNoBody)
{
    const Answer get = exchange("GET /metrics HTTP/1.0\r\n\r\n");
    const Answer head = exchange("HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(status(head), 200) << head.text;
    EXPECT_TRUE(has_header(head, "Content-Length: " + std::to_string(body(get).size()))) << head.text;
    EXPECT_EQ(body(head), "");

    // On a kept-alive connection the next answer follows the headers directly.
    const Answer two = exchange("HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    const std::size_t second = two.text.find("HTTP/1.1", 1);
    ASSERT_NE(second, std::string::npos) << two.text;
    EXPECT_EQ(two.text.substr(two.text.find("\r\n\r\n") + 4, 8), "HTTP/1.1") << two.text;
    EXPECT_EQ(two.text.substr(two.text.size() - 3), "ok\n") << two.text;
}

TEST_F(MetricsEndpointTest, HealthzAnswers200WhileServingAnd503OnceShuttingDown)
{
    Answer answer = exchange("GET /healthz HTTP/1.0\r\n\r\n");
    EXPECT_EQ(status(answer), 200) << answer.text;
    EXPECT_EQ(body(answer), "ok\n");

    serving_ = false;
    answer = exchange("GET /healthz HTTP/1.0\r\n\r\n");
    EXPECT_EQ(status(answer), 503) << answer.text;
    // Metrics are still served while the daemon shuts down.
    EXPECT_EQ(status(exchange("GET /metrics HTTP/1.0\r\n\r\n")), 200);
}

TEST_F(MetricsEndpointTest, AnyOtherPathIsNotFound)
{
    for (const char* path : {"/", "/metrics/", "/metrics/extra", "/metricsx", "/healthz/x", "/Metrics", "/metric%73",
                             "*", "/no/such/path"}) {
        const Answer answer = exchange("GET " + std::string{path} + " HTTP/1.0\r\n\r\n");
        EXPECT_EQ(status(answer), 404) << path << ": " << answer.text;
    }
    EXPECT_EQ(status(exchange("POST /nothing HTTP/1.0\r\nContent-Length: 2\r\n\r\nhi")), 404);
}

TEST_F(MetricsEndpointTest, OtherMethodsOnTheTwoPathsAre405)
{
    for (const char* request :
         {"POST /metrics HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello", "PUT /healthz HTTP/1.0\r\n\r\n",
          "DELETE /metrics HTTP/1.0\r\n\r\n", "OPTIONS /metrics HTTP/1.0\r\n\r\n", "TRACE /metrics HTTP/1.0\r\n\r\n",
          "PATCH /healthz HTTP/1.0\r\n\r\n"}) {
        const Answer answer = exchange(request);
        EXPECT_EQ(status(answer), 405) << request << answer.text;
        EXPECT_TRUE(has_header(answer, "Allow: GET, HEAD")) << answer.text;
    }
    // Methods evhttp does not serve: it answers them itself.
    EXPECT_EQ(status(exchange("CONNECT example.org:443 HTTP/1.1\r\nHost: example.org\r\n\r\n")), 501);
    EXPECT_EQ(status(exchange("BREW /metrics HTTP/1.0\r\n\r\n")), 501);
}

TEST_F(MetricsEndpointTest, MalformedAndOversizedRequestsAreRefused)
{
    EXPECT_EQ(status(exchange("this is not http\r\n\r\n")), 400);
    EXPECT_EQ(status(exchange("GET /metrics HTTP/1.1 and more\r\n\r\n")), 400);
    EXPECT_EQ(status(exchange("GET /metrics HTTP/2.0\r\n\r\n")), 400);
    EXPECT_EQ(status(exchange("GET /metrics HTTP/1.0\r\nno colon here\r\n\r\n")), 400);

    const std::string filler(MetricsEndpoint::MaxHeaderBytes + 1, 'a');
    Answer answer = exchange("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Filler: " + filler + "\r\n\r\n");
    EXPECT_EQ(status(answer), 400) << answer.text;
    EXPECT_TRUE(answer.closed);

    const std::string body(MetricsEndpoint::MaxBodyBytes + 1, 'b');
    answer = exchange("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
                      "\r\n\r\n" + body);
    EXPECT_EQ(status(answer), 413) << answer.text;

    // And the endpoint goes on answering.
    EXPECT_EQ(status(exchange("GET /metrics HTTP/1.0\r\n\r\n")), 200);
}

TEST_F(MetricsEndpointTest, ClientsThatStallHoldUpNoOneElse)
{
    // Enough series that an answer is far larger than what a small socket buffer takes.
    auto& series = prometheus::BuildCounter().Name("test_series_total").Help("Series").Register(*registry_);
    for (int i = 0; i < 3000; ++i) {
        series.Add({{"n", std::to_string(i)}});
    }
    const UniqueFd silent = connect_client();
    const UniqueFd half = connect_client();
    ASSERT_EQ(::send(half.get(), "GET /metr", 9, MSG_NOSIGNAL), 9);
    // Asks for the large answer and never reads it: the rest of the answer waits for the socket.
    UniqueFd no_reader{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
    const int small = 4096;
    ASSERT_EQ(::setsockopt(no_reader.get(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(endpoint_->port());
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(no_reader.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address), 0);
    const std::string request = "GET /metrics HTTP/1.0\r\n\r\n";
    ASSERT_EQ(::send(no_reader.get(), request.data(), request.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(request.size()));
    int queued = 0;
    ASSERT_TRUE(run_loop_until([&] { return ::ioctl(no_reader.get(), FIONREAD, &queued) == 0 && queued > 0; }, 5s));

    const auto started = std::chrono::steady_clock::now();
    const Answer answer = exchange("GET /metrics HTTP/1.0\r\n\r\n");
    EXPECT_EQ(status(answer), 200) << answer.text.substr(0, 200);
    EXPECT_TRUE(answer.closed);
    EXPECT_NE(body(answer).find("test_series_total{n=\"2999\"} 0"), std::string::npos);
    EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
    // The one that did not read got only part of its answer so far.
    ASSERT_EQ(::ioctl(no_reader.get(), FIONREAD, &queued), 0);
    EXPECT_LT(static_cast<std::size_t>(queued), body(answer).size());
}

TEST_F(MetricsEndpointTest, AnAddressInUseIsRefusedWithTheAddress)
{
    const std::string where = "127.0.0.1:" + std::to_string(endpoint_->port());
    try {
        MetricsEndpoint second{base_.get(), HostPort{"127.0.0.1", endpoint_->port()}, registry_};
        FAIL() << "a second endpoint listens on " << where;
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string{e.what()}.find("cannot serve metrics on " + where), std::string::npos) << e.what();
    }
}

} // namespace
} // namespace minisync
