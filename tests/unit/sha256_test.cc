// Tests for the incremental SHA-256 hasher, sha256_of, and the hex conversions.
#include "sha256.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace minisync {
namespace {

constexpr std::string_view EmptyHex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr std::string_view AbcHex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
constexpr std::string_view Nist448Input = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
constexpr std::string_view Nist448Hex = "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
constexpr std::string_view MillionAHex = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";

std::vector<std::uint8_t> pseudo_random_bytes(std::size_t size, std::uint32_t seed)
{
    std::mt19937 gen{seed};
    std::vector<std::uint8_t> out(size);
    for (std::uint8_t& byte : out) {
        byte = static_cast<std::uint8_t>(gen());
    }
    return out;
}

TEST(Sha256Test, KnownVectorsOneShot)
{
    EXPECT_EQ(to_hex(sha256_of("")), EmptyHex);
    EXPECT_EQ(to_hex(sha256_of("abc")), AbcHex);
    EXPECT_EQ(to_hex(sha256_of(Nist448Input)), Nist448Hex);
}

TEST(Sha256Test, KnownVectorsThroughHasher)
{
    Sha256 hasher;
    EXPECT_EQ(to_hex(hasher.finish()), EmptyHex);
    hasher.update(std::string_view{"abc"});
    EXPECT_EQ(to_hex(hasher.finish()), AbcHex);
    const std::string nist{Nist448Input};
    hasher.update(std::span{reinterpret_cast<const std::uint8_t*>(nist.data()), nist.size()});
    EXPECT_EQ(to_hex(hasher.finish()), Nist448Hex);
}

// FIPS 180-2 long vector: one million 'a', fed in uneven chunks.
TEST(Sha256Test, MillionAInChunks)
{
    const std::string chunk(999, 'a');
    Sha256 hasher;
    std::size_t fed = 0;
    while (fed < 1'000'000) {
        const std::size_t n = std::min(chunk.size(), 1'000'000 - fed);
        hasher.update(std::string_view{chunk}.substr(0, n));
        fed += n;
    }
    EXPECT_EQ(to_hex(hasher.finish()), MillionAHex);
}

TEST(Sha256Test, IncrementalInOddPiecesEqualsOneShot)
{
    const std::vector<std::uint8_t> data = pseudo_random_bytes(1 << 20, 12345);
    const std::span<const std::uint8_t> all{data};

    Sha256 one_shot;
    one_shot.update(all);
    const Sha256Digest expected = one_shot.finish();
    EXPECT_EQ(expected, sha256_of(std::string_view{reinterpret_cast<const char*>(data.data()), data.size()}));

    // Piece sizes straddle the 64-byte block boundary in every way, including empty updates.
    constexpr std::size_t Pieces[] = {1, 0, 3, 63, 64, 65, 7, 127, 4097, 13, 1000, 31};
    Sha256 pieces;
    std::size_t pos = 0;
    std::size_t i = 0;
    while (pos < data.size()) {
        const std::size_t n = std::min(Pieces[i++ % std::size(Pieces)], data.size() - pos);
        pieces.update(all.subspan(pos, n));
        pos += n;
    }
    EXPECT_EQ(pieces.finish(), expected);

    // A different seed gives a different digest, so the comparison above is not vacuous.
    const std::vector<std::uint8_t> other = pseudo_random_bytes(1 << 20, 54321);
    Sha256 other_hasher;
    other_hasher.update(std::span<const std::uint8_t>{other});
    EXPECT_NE(other_hasher.finish(), expected);
}

TEST(Sha256Test, FinishResetsTheHasher)
{
    Sha256 hasher;
    hasher.update(std::string_view{"abc"});
    EXPECT_EQ(to_hex(hasher.finish()), AbcHex);
    // Without a reset this would be the hash of "abcabc".
    hasher.update(std::string_view{"abc"});
    EXPECT_EQ(to_hex(hasher.finish()), AbcHex);
    EXPECT_NE(sha256_of("abcabc"), sha256_of("abc"));
    // Nothing fed since the last finish: the empty message.
    EXPECT_EQ(to_hex(hasher.finish()), EmptyHex);
}

TEST(Sha256Test, ToHexIsLowerCaseTwoDigitsPerByte)
{
    const std::uint8_t bytes[] = {0x00, 0x0f, 0xf0, 0xff, 0x5a, 0xa5};
    EXPECT_EQ(to_hex(bytes), "000ff0ff5aa5");
    EXPECT_EQ(to_hex(std::span<const std::uint8_t>{}), "");
}

TEST(Sha256Test, HexRoundTrip)
{
    for (const std::string_view input : {"", "abc", "minisync"}) {
        const Sha256Digest digest = sha256_of(input);
        const std::string hex = to_hex(digest);
        ASSERT_EQ(hex.size(), 64U);
        const std::optional<Sha256Digest> back = digest_from_hex(hex);
        ASSERT_TRUE(back.has_value()) << hex;
        EXPECT_EQ(*back, digest);
    }
    Sha256Digest all_values{};
    for (std::size_t i = 0; i < all_values.size(); ++i) {
        all_values[i] = static_cast<std::uint8_t>(i * 8 + 7);
    }
    EXPECT_EQ(digest_from_hex(to_hex(all_values)), std::optional<Sha256Digest>{all_values});
}

TEST(Sha256Test, DigestFromHexAcceptsUpperCase)
{
    std::string upper{AbcHex};
    std::transform(upper.begin(), upper.end(), upper.begin(), [](char c) {
        return (c >= 'a' && c <= 'f') ? static_cast<char>(c - 'a' + 'A') : c;
    });
    ASSERT_NE(upper, std::string{AbcHex});
    EXPECT_EQ(digest_from_hex(upper), std::optional<Sha256Digest>{sha256_of("abc")});
}

TEST(Sha256Test, DigestFromHexRejectsWrongLength)
{
    const std::string good{AbcHex};
    EXPECT_EQ(digest_from_hex(""), std::nullopt);
    EXPECT_EQ(digest_from_hex(good.substr(0, 63)), std::nullopt);
    EXPECT_EQ(digest_from_hex(good.substr(0, 62)), std::nullopt);
    EXPECT_EQ(digest_from_hex(good + "0"), std::nullopt);
    EXPECT_EQ(digest_from_hex(good + "00"), std::nullopt);
}

TEST(Sha256Test, DigestFromHexRejectsNonHexCharacters)
{
    const std::string good{AbcHex};
    ASSERT_TRUE(digest_from_hex(good).has_value());
    // Every position, so both the high and the low nibble of every byte are checked.
    for (std::size_t pos = 0; pos < good.size(); ++pos) {
        for (const char bad : {'g', 'G', 'x', ' ', '-', '\0', '/', ':', '@', '`'}) {
            std::string text = good;
            text[pos] = bad;
            EXPECT_EQ(digest_from_hex(text), std::nullopt) << "position " << pos << " char " << int{bad};
        }
    }
}

TEST(Sha256Test, DigestSoFarEqualsTheDigestOfThePrefix)
{
    const std::vector<std::uint8_t> data = pseudo_random_bytes(200'000, 777);
    const std::span<const std::uint8_t> all{data};
    const std::string_view text{reinterpret_cast<const char*>(data.data()), data.size()};

    Sha256 hasher;
    EXPECT_EQ(to_hex(hasher.digest_so_far()), EmptyHex);
    // Cut points on and around block boundaries, so the copied context holds every kind of partial block.
    constexpr std::size_t Cuts[] = {1, 55, 56, 63, 64, 65, 128, 1000, 4096, 65537, 199'999, 200'000};
    std::size_t fed = 0;
    for (const std::size_t cut : Cuts) {
        hasher.update(all.subspan(fed, cut - fed));
        fed = cut;
        const Sha256Digest so_far = hasher.digest_so_far();
        EXPECT_EQ(so_far, sha256_of(text.substr(0, cut))) << "prefix of " << cut << " bytes";
        // Asking twice gives the same answer: the first call did not finish the running hash.
        EXPECT_EQ(hasher.digest_so_far(), so_far) << cut;
    }
    // After all those peeks, the running hash still covers exactly the whole input.
    EXPECT_EQ(hasher.finish(), sha256_of(text));
}

TEST(Sha256Test, DigestSoFarDoesNotDisturbLaterUpdates)
{
    Sha256 peeked;
    Sha256 plain;
    for (const std::string_view piece : {"ab", "c", "", "dbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"}) {
        peeked.update(piece);
        plain.update(piece);
        (void)peeked.digest_so_far();
    }
    EXPECT_EQ(peeked.finish(), plain.finish());

    Sha256 abc;
    abc.update(std::string_view{"ab"});
    EXPECT_EQ(abc.digest_so_far(), sha256_of("ab"));
    abc.update(std::string_view{"c"});
    EXPECT_EQ(to_hex(abc.digest_so_far()), AbcHex);
    EXPECT_EQ(to_hex(abc.finish()), AbcHex);
    // finish() started a new message.
    EXPECT_EQ(to_hex(abc.digest_so_far()), EmptyHex);
}

TEST(Sha256Test, ResetDiscardsWhatWasFed)
{
    Sha256 hasher;
    hasher.update(std::string_view{"garbage that must not count"});
    hasher.reset();
    EXPECT_EQ(to_hex(hasher.digest_so_far()), EmptyHex);
    hasher.update(std::string_view{"abc"});
    EXPECT_EQ(to_hex(hasher.finish()), AbcHex);

    // Resetting a fresh or just-finished hasher leaves it at the empty message.
    Sha256 fresh;
    fresh.reset();
    EXPECT_EQ(to_hex(fresh.finish()), EmptyHex);
    fresh.reset();
    fresh.update(std::string_view{Nist448Input});
    EXPECT_EQ(to_hex(fresh.finish()), Nist448Hex);
}

} // namespace
} // namespace minisync
