// HOST:PORT parsing with strict port bounds.
#include "host_port.h"

#include <arpa/inet.h>

#include <charconv>

namespace minisync {

std::string HostPort::to_string() const
{
    if (host.find(':') != std::string::npos) {
        return "[" + host + "]:" + std::to_string(port);
    }
    return host + ":" + std::to_string(port);
}

bool HostPort::host_is_ip_literal() const
{
    unsigned char buf[sizeof(in6_addr)];
    return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

std::optional<HostPort> parse_host_port(std::string_view text)
{
    HostPort result;
    std::string_view port_text;
    if (text.starts_with('[')) {
        const std::size_t close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
            return std::nullopt;
        }
        result.host = std::string{text.substr(1, close - 1)};
        port_text = text.substr(close + 2);
    } else {
        const std::size_t colon = text.rfind(':');
        if (colon == std::string_view::npos || text.substr(0, colon).find(':') != std::string_view::npos) {
            return std::nullopt;
        }
        result.host = std::string{text.substr(0, colon)};
        port_text = text.substr(colon + 1);
    }
    if (result.host.empty() || port_text.empty() || port_text.size() > 5) {
        return std::nullopt;
    }
    unsigned port = 0;
    const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc{} || end != port_text.data() + port_text.size() || port > 65535) {
        return std::nullopt;
    }
    result.port = static_cast<std::uint16_t>(port);
    return result;
}

} // namespace minisync
