// Parsing of HOST:PORT and [IPv6]:PORT endpoints given on the command line or in config files.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace minisync {

struct HostPort {
    std::string host;
    std::uint16_t port = 0;

    [[nodiscard]] std::string to_string() const;
    // True for a literal IPv4 or IPv6 address, false for a DNS name.
    [[nodiscard]] bool host_is_ip_literal() const;
};

std::optional<HostPort> parse_host_port(std::string_view text);

} // namespace minisync
