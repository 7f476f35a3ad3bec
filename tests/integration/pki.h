// A test PKI in one directory, made by scripts/gen-certs.sh: the CA, the dev server and client certificates,
// and whatever extra certificates a test asks for.
#pragma once

#include "tls_context.h"

#include <filesystem>
#include <string>
#include <vector>

namespace minisync::test {

class Pki {
public:
    explicit Pki(std::filesystem::path dir) : dir_{std::move(dir)} {}

    // Runs `gen-certs.sh DIR extra_args...`; the script is idempotent, so a test may call this again to
    // add certificates. Throws std::runtime_error with the script's output when it fails.
    void generate(const std::vector<std::string>& extra_args = {}) const;

    [[nodiscard]] const std::filesystem::path& dir() const noexcept { return dir_; }
    [[nodiscard]] std::string ca() const;
    // server.crt/server.key (or STEM.crt/STEM.key) with this PKI's CA.
    [[nodiscard]] TlsFiles server(const std::string& stem = "server") const;
    // client.crt/client.key (or STEM.crt/STEM.key) with this PKI's CA.
    [[nodiscard]] TlsFiles client(const std::string& stem = "client") const;

private:
    std::filesystem::path dir_;
};

} // namespace minisync::test
