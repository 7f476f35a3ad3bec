// SHA-256 through a digest implementation fetched once per process and shared by every hasher.
#include "sha256.h"

#include "must_succeed.h"


namespace minisync {
namespace {

// Explicit fetching avoids a provider lookup (and its lock) on every init (crypto(7)).
const EVP_MD* sha256_md()
{
    static const EvpMdPtr md{EVP_MD_fetch(nullptr, "SHA256", nullptr)};
    must_succeed(md != nullptr, "EVP_MD_fetch(SHA256)");
    return md.get();
}

} // namespace

Sha256::Sha256() : ctx_{EVP_MD_CTX_new()}
{
    must_succeed(ctx_ && EVP_DigestInit_ex(ctx_.get(), sha256_md(), nullptr) == 1, "EVP_MD_CTX_new, EVP_DigestInit_ex");
}

void Sha256::update(std::span<const std::uint8_t> data)
{
    if (!data.empty()) {
        must_succeed(EVP_DigestUpdate(ctx_.get(), data.data(), data.size()) == 1, "EVP_DigestUpdate");
    }
}

void Sha256::update(std::string_view data)
{
    update(std::span{reinterpret_cast<const std::uint8_t*>(data.data()), data.size()});
}

Sha256Digest Sha256::finish()
{
    Sha256Digest digest{};
    unsigned int len = 0;
    must_succeed(EVP_DigestFinal_ex(ctx_.get(), digest.data(), &len) == 1 &&
                     EVP_DigestInit_ex(ctx_.get(), sha256_md(), nullptr) == 1,
                 "EVP_DigestFinal_ex, EVP_DigestInit_ex");
    return digest;
}

Sha256Digest Sha256::digest_so_far() const
{
    const EvpMdCtxPtr copy{EVP_MD_CTX_new()};
    Sha256Digest digest{};
    unsigned int len = 0;
    must_succeed(copy && EVP_MD_CTX_copy_ex(copy.get(), ctx_.get()) == 1 &&
                     EVP_DigestFinal_ex(copy.get(), digest.data(), &len) == 1,
                 "EVP_MD_CTX_copy_ex, EVP_DigestFinal_ex");
    return digest;
}

void Sha256::reset()
{
    must_succeed(EVP_DigestInit_ex(ctx_.get(), sha256_md(), nullptr) == 1, "EVP_DigestInit_ex");
}

Sha256Digest sha256_of(std::string_view data)
{
    Sha256 hasher;
    hasher.update(data);
    return hasher.finish();
}

Sha256Digest sha256_of(std::span<const std::uint8_t> data)
{
    Sha256 hasher;
    hasher.update(data);
    return hasher.finish();
}

std::string to_hex(std::span<const std::uint8_t> bytes)
{
    static constexpr char Digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (const std::uint8_t byte : bytes) {
        out.push_back(Digits[byte >> 4]);
        out.push_back(Digits[byte & 0x0f]);
    }
    return out;
}

std::optional<Sha256Digest> digest_from_hex(std::string_view hex)
{
    Sha256Digest digest{};
    if (hex.size() != digest.size() * 2) {
        return std::nullopt;
    }
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    for (std::size_t i = 0; i < digest.size(); ++i) {
        const int high = nibble(hex[2 * i]);
        const int low = nibble(hex[2 * i + 1]);
        if (high < 0 || low < 0) {
            return std::nullopt;
        }
        digest[i] = static_cast<std::uint8_t>((high << 4) | low);
    }
    return digest;
}

} // namespace minisync
