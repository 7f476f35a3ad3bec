// Incremental SHA-256 over OpenSSL EVP, plus the digest type and its hex form used on the wire and in logs.
#pragma once

#include "openssl_handles.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace minisync {

using Sha256Digest = std::array<std::uint8_t, 32>;

class Sha256 {
public:
    Sha256();
    void update(std::span<const std::uint8_t> data);
    void update(std::string_view data);
    // Returns the digest and leaves the hasher ready for a new message.
    Sha256Digest finish();
    // The digest of what was fed so far, without ending the message (the prefix of a resumed upload).
    [[nodiscard]] Sha256Digest digest_so_far() const;
    void reset();

private:
    EvpMdCtxPtr ctx_;
};

Sha256Digest sha256_of(std::string_view data);
Sha256Digest sha256_of(std::span<const std::uint8_t> data);
std::string to_hex(std::span<const std::uint8_t> bytes);
std::optional<Sha256Digest> digest_from_hex(std::string_view hex);

} // namespace minisync
