// Tests for parse_byte_size: plain integers, K/M/G/T suffixes (powers of 1024), the optional trailing B,
// and rejection of malformed or overflowing input.
#include "byte_size.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

namespace minisync {
namespace {

constexpr std::uint64_t KiB = 1024;
constexpr std::uint64_t MiB = KiB * 1024;
constexpr std::uint64_t GiB = MiB * 1024;
constexpr std::uint64_t TiB = GiB * 1024;

TEST(ByteSizeTest, PlainIntegers)
{
    EXPECT_EQ(parse_byte_size("0"), std::optional<std::uint64_t>{0});
    EXPECT_EQ(parse_byte_size("500"), std::optional<std::uint64_t>{500});
    EXPECT_EQ(parse_byte_size("007"), std::optional<std::uint64_t>{7});
    EXPECT_EQ(parse_byte_size("18446744073709551615"),
              std::optional<std::uint64_t>{std::numeric_limits<std::uint64_t>::max()});
}

TEST(ByteSizeTest, UpperCaseSuffixesArePowersOf1024)
{
    EXPECT_EQ(parse_byte_size("500K"), std::optional<std::uint64_t>{512000});
    EXPECT_EQ(parse_byte_size("1M"), std::optional<std::uint64_t>{MiB});
    EXPECT_EQ(parse_byte_size("2G"), std::optional<std::uint64_t>{2 * GiB});
    EXPECT_EQ(parse_byte_size("1T"), std::optional<std::uint64_t>{TiB});
    EXPECT_EQ(parse_byte_size("0K"), std::optional<std::uint64_t>{0});
}

TEST(ByteSizeTest, LowerCaseSuffixes)
{
    EXPECT_EQ(parse_byte_size("500k"), std::optional<std::uint64_t>{512000});
    EXPECT_EQ(parse_byte_size("3m"), std::optional<std::uint64_t>{3 * MiB});
    EXPECT_EQ(parse_byte_size("2g"), std::optional<std::uint64_t>{2 * GiB});
    EXPECT_EQ(parse_byte_size("5t"), std::optional<std::uint64_t>{5 * TiB});
}

// The parser accepts one optional B (either case) after a K/M/G/T suffix, as in "10KB".
TEST(ByteSizeTest, OptionalTrailingBAfterSuffix)
{
    EXPECT_EQ(parse_byte_size("10KB"), std::optional<std::uint64_t>{10 * KiB});
    EXPECT_EQ(parse_byte_size("10kb"), std::optional<std::uint64_t>{10 * KiB});
    EXPECT_EQ(parse_byte_size("10Kb"), std::optional<std::uint64_t>{10 * KiB});
    EXPECT_EQ(parse_byte_size("4MB"), std::optional<std::uint64_t>{4 * MiB});
    EXPECT_EQ(parse_byte_size("1GB"), std::optional<std::uint64_t>{GiB});
    EXPECT_EQ(parse_byte_size("2TB"), std::optional<std::uint64_t>{2 * TiB});
}

// B is only accepted after a multiplier suffix: a bare "10B" and a doubled B are refused.
TEST(ByteSizeTest, BWithoutMultiplierOrRepeatedIsRejected)
{
    EXPECT_EQ(parse_byte_size("10B"), std::nullopt);
    EXPECT_EQ(parse_byte_size("10b"), std::nullopt);
    EXPECT_EQ(parse_byte_size("10BB"), std::nullopt);
    EXPECT_EQ(parse_byte_size("10KBB"), std::nullopt);
    EXPECT_EQ(parse_byte_size("10KX"), std::nullopt);
}

TEST(ByteSizeTest, MalformedInputIsRejected)
{
    for (const std::string_view text :
         {"", "K", "KB", "-1", "+1", "1.5M", "12X", " 1", "1 ", "1K ", "1 K", "0x10", "1e3", "MK", "1KM", "K1"}) {
        EXPECT_EQ(parse_byte_size(text), std::nullopt) << "input: '" << text << "'";
    }
}

TEST(ByteSizeTest, EmbeddedNulIsRejected)
{
    EXPECT_EQ(parse_byte_size(std::string_view{"1\0", 2}), std::nullopt);
    EXPECT_EQ(parse_byte_size(std::string_view{"1K\0", 3}), std::nullopt);
}

TEST(ByteSizeTest, IntegerOverflowIsRejected)
{
    EXPECT_EQ(parse_byte_size("18446744073709551616"), std::nullopt);
    EXPECT_EQ(parse_byte_size("99999999999999999999"), std::nullopt);
    EXPECT_EQ(parse_byte_size("99999999999999999999K"), std::nullopt);
}

// Values that fit in 64 bits before the shift but not after it.
TEST(ByteSizeTest, OverflowAfterShiftIsRejected)
{
    EXPECT_EQ(parse_byte_size("17179869184G"), std::nullopt); // 2^34 << 30 == 2^64
    EXPECT_EQ(parse_byte_size("16777216T"), std::nullopt);    // 2^24 << 40 == 2^64
    EXPECT_EQ(parse_byte_size("18014398509481984K"), std::nullopt); // 2^54 << 10 == 2^64
    EXPECT_EQ(parse_byte_size("18446744073709551615K"), std::nullopt);
}

TEST(ByteSizeTest, LargestValuesBelowOverflowAreAccepted)
{
    constexpr std::uint64_t Max = std::numeric_limits<std::uint64_t>::max();
    EXPECT_EQ(parse_byte_size("17179869183G"), std::optional<std::uint64_t>{(Max >> 30) << 30});
    EXPECT_EQ(parse_byte_size("16777215T"), std::optional<std::uint64_t>{(Max >> 40) << 40});
    EXPECT_EQ(parse_byte_size("18014398509481983K"), std::optional<std::uint64_t>{(Max >> 10) << 10});
}

} // namespace
} // namespace minisync
