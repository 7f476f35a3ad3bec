// TLS 1.3 contexts for both ends of a mutually authenticated connection, and reading the peer's identity.
#pragma once

#include "openssl_handles.h"
#include "result.h"

#include <optional>
#include <string>

namespace minisync {

struct TlsFiles {
    std::string cert;
    std::string key;
    std::string ca;
};

// Both fail with UnusableFile and a message naming the file OpenSSL refused (or Internal when OpenSSL
// itself fails).
// The server context demands a client certificate signed by the CA.
Result<SslCtxPtr> make_server_tls_context(const TlsFiles& files);
// The client context verifies the server against the CA; the expected name is set per connection.
Result<SslCtxPtr> make_client_tls_context(const TlsFiles& files);

// Prepares a client SSL to accept only a server certificate carrying expected_name (SAN DNS/IP), and
// names sni_host in its hello. False when OpenSSL refuses either name; its error queue says why.
bool expect_server_name(SSL* ssl, const std::string& expected_name, const std::string& sni_host);

// The subject CN of a verified peer certificate; nothing when missing, repeated or containing NUL.
std::optional<std::string> peer_common_name(SSL* ssl);

// Empties this thread's OpenSSL error queue into one readable line.
std::string drain_openssl_errors();

} // namespace minisync
