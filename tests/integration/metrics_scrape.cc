#include "metrics_scrape.h"

#include "unique_fd.h"
#include "wait_for.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <regex>
#include <sstream>
#include <stdexcept>

namespace minisync::test {

using namespace std::chrono_literals;

std::optional<std::string> http_exchange(std::uint16_t port, const std::string& request,
                                         std::chrono::milliseconds timeout)
{
    const UniqueFd fd{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(timeout);
    const timeval limit{static_cast<time_t>(seconds.count()),
                        static_cast<suseconds_t>(std::chrono::microseconds{timeout - seconds}.count())};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
        return std::nullopt;
    }
    // An endpoint may answer and close before it has read everything (a header over its limit): the
    // rest of the request is then refused, and what it answered is still read below.
    (void)::send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL);
    std::string response;
    char chunk[8192];
    ssize_t n = 0;
    while ((n = ::recv(fd.get(), chunk, sizeof chunk, 0)) > 0) {
        response.append(chunk, static_cast<std::size_t>(n));
    }
    return response;
}

int http_status(const std::string& response)
{
    static const std::regex status_line{R"(^HTTP/1\.[01] (\d{3}) )"};
    std::smatch match;
    return std::regex_search(response, match, status_line) ? std::stoi(match[1]) : 0;
}

std::string http_body(const std::string& response)
{
    const std::size_t end = response.find("\r\n\r\n");
    return end == std::string::npos ? std::string{} : response.substr(end + 4);
}

std::optional<std::string> http_get(std::uint16_t port, const std::string& path)
{
    const std::optional<std::string> response =
        http_exchange(port, "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
    if (!response || http_status(*response) != 200 || response->find("\r\n\r\n") == std::string::npos) {
        return std::nullopt;
    }
    return http_body(*response);
}

Samples parse_samples(const std::string& text)
{
    Samples samples;
    std::istringstream lines{text};
    std::string line;
    while (std::getline(lines, line)) {
        if (line.empty() || line.front() == '#') {
            continue;
        }
        const std::size_t space = line.rfind(' ');
        samples[line.substr(0, space)] = std::stod(line.substr(space + 1));
    }
    return samples;
}

std::optional<std::uint16_t> logged_metrics_port(const ChildProcess& daemon)
{
    static const std::regex pattern{R"(metrics on http://[^:]+:(\d+)/metrics)"};
    std::smatch match;
    const std::string log = daemon.log_text();
    if (!std::regex_search(log, match, pattern)) {
        return std::nullopt;
    }
    return static_cast<std::uint16_t>(std::stoi(match[1]));
}

std::string scrape_text(const ChildProcess& daemon)
{
    std::optional<std::uint16_t> port;
    if (!wait_for([&] { return (port = logged_metrics_port(daemon)).has_value(); }, 10s)) {
        throw std::runtime_error("no metrics endpoint logged:\n" + daemon.log_text());
    }
    const std::optional<std::string> body = http_get(*port, "/metrics");
    if (!body) {
        throw std::runtime_error("GET /metrics failed on port " + std::to_string(*port));
    }
    return *body;
}

Samples scrape(const ChildProcess& daemon)
{
    return parse_samples(scrape_text(daemon));
}

double sample_value(const ChildProcess& daemon, const std::string& name)
{
    const Samples samples = scrape(daemon);
    const auto it = samples.find(name);
    return it == samples.end() ? 0.0 : it->second;
}

} // namespace minisync::test
