// Tests for parse_host_port, HostPort::to_string and HostPort::host_is_ip_literal.
#include "host_port.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>

namespace minisync {
namespace {

TEST(HostPortTest, ParsesIpv4AndPort)
{
    const std::optional<HostPort> hp = parse_host_port("127.0.0.1:7443");
    ASSERT_TRUE(hp.has_value());
    EXPECT_EQ(hp->host, "127.0.0.1");
    EXPECT_EQ(hp->port, 7443);
    EXPECT_TRUE(hp->host_is_ip_literal());
}

TEST(HostPortTest, ParsesDnsNameAndSmallPort)
{
    const std::optional<HostPort> hp = parse_host_port("localhost:1");
    ASSERT_TRUE(hp.has_value());
    EXPECT_EQ(hp->host, "localhost");
    EXPECT_EQ(hp->port, 1);
    EXPECT_FALSE(hp->host_is_ip_literal());
}

TEST(HostPortTest, ParsesBracketedIpv6)
{
    const std::optional<HostPort> hp = parse_host_port("[::1]:9100");
    ASSERT_TRUE(hp.has_value());
    EXPECT_EQ(hp->host, "::1");
    EXPECT_EQ(hp->port, 9100);
    EXPECT_TRUE(hp->host_is_ip_literal());

    const std::optional<HostPort> full = parse_host_port("[2001:db8::42]:443");
    ASSERT_TRUE(full.has_value());
    EXPECT_EQ(full->host, "2001:db8::42");
    EXPECT_EQ(full->port, 443);
}

TEST(HostPortTest, PortBounds)
{
    const std::optional<HostPort> max = parse_host_port("host:65535");
    ASSERT_TRUE(max.has_value());
    EXPECT_EQ(max->port, 65535);

    EXPECT_EQ(parse_host_port("host:65536"), std::nullopt);
    EXPECT_EQ(parse_host_port("host:99999"), std::nullopt);
    EXPECT_EQ(parse_host_port("host:100000"), std::nullopt);
    EXPECT_EQ(parse_host_port("host:4294967297"), std::nullopt); // would wrap to 1 in 32 bits
}

// A port has at most five digits, even when the value would fit.
TEST(HostPortTest, PortHasAtMostFiveDigits)
{
    const std::optional<HostPort> padded = parse_host_port("host:00080");
    ASSERT_TRUE(padded.has_value());
    EXPECT_EQ(padded->port, 80);
    EXPECT_EQ(parse_host_port("host:000080"), std::nullopt);
    EXPECT_EQ(parse_host_port("[::1]:000001"), std::nullopt);
}

TEST(HostPortTest, MalformedInputIsRejected)
{
    for (const std::string_view text : {
             "",
             ":80",         // no host
             "host:",       // no port
             "host",        // no colon at all
             "host:-1",     // negative port
             "host:+80",    // sign
             "host: 80",    // whitespace
             "host:80 ",    // trailing whitespace
             "host:80x",    // trailing garbage
             "host:0x50",   // hex
             "a:b:c",       // unbracketed IPv6-like text
             "::1:80",      // unbracketed IPv6
             "[::1]",       // bracketed without port
             "[::1]:",      // bracketed with empty port
             "[::1]9100",   // missing colon after bracket
             "[::1:9100",   // unterminated bracket
             "[]:80",       // empty bracketed host
             "[::1]:80]",   // garbage after port
         }) {
        EXPECT_EQ(parse_host_port(text), std::nullopt) << "input: '" << text << "'";
    }
}

TEST(HostPortTest, EmbeddedNulInPortIsRejected)
{
    EXPECT_EQ(parse_host_port(std::string_view{"host:80\0", 8}), std::nullopt);
}

TEST(HostPortTest, ToStringRoundTrips)
{
    for (const std::string_view text :
         {"127.0.0.1:7443", "localhost:1", "[::1]:9100", "example.com:65535", "[2001:db8::42]:443"}) {
        const std::optional<HostPort> hp = parse_host_port(text);
        ASSERT_TRUE(hp.has_value()) << text;
        EXPECT_EQ(hp->to_string(), text);
        const std::optional<HostPort> again = parse_host_port(hp->to_string());
        ASSERT_TRUE(again.has_value()) << text;
        EXPECT_EQ(again->host, hp->host);
        EXPECT_EQ(again->port, hp->port);
    }
}

TEST(HostPortTest, ToStringBracketsIpv6Hosts)
{
    const HostPort v6{"fe80::1", 22};
    EXPECT_EQ(v6.to_string(), "[fe80::1]:22");
    const HostPort v4{"192.0.2.1", 22};
    EXPECT_EQ(v4.to_string(), "192.0.2.1:22");
}

TEST(HostPortTest, HostIsIpLiteral)
{
    EXPECT_TRUE((HostPort{"1.2.3.4", 1}).host_is_ip_literal());
    EXPECT_TRUE((HostPort{"::1", 1}).host_is_ip_literal());
    EXPECT_TRUE((HostPort{"fe80::1", 1}).host_is_ip_literal());
    EXPECT_TRUE((HostPort{"::ffff:192.0.2.1", 1}).host_is_ip_literal());
    EXPECT_FALSE((HostPort{"localhost", 1}).host_is_ip_literal());
    EXPECT_FALSE((HostPort{"example.com", 1}).host_is_ip_literal());
    EXPECT_FALSE((HostPort{"256.1.1.1", 1}).host_is_ip_literal());
    EXPECT_FALSE((HostPort{"1.2.3", 1}).host_is_ip_literal());
    EXPECT_FALSE((HostPort{"", 1}).host_is_ip_literal());
}

} // namespace
} // namespace minisync
