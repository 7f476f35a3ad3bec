// OpenSSL context setup shared by minisyncd and minisync-server; each option says why
// it is set.
#include "tls_context.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <cstring>

namespace minisync {
namespace {

constexpr const char* CipherSuites = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";

// code: UnusableFile for a certificate, key or CA file OpenSSL refused; Internal for OpenSSL itself.
Error fail(ErrorCode code, const std::string& what)
{
    return Error{code, what + ": " + drain_openssl_errors()};
}

Result<SslCtxPtr> make_common_context(const SSL_METHOD* method, const TlsFiles& files)
{
    SslCtxPtr ctx{SSL_CTX_new(method)};
    if (!ctx) {
        return fail(ErrorCode::Internal, "SSL_CTX_new failed");
    }
    if (SSL_CTX_set_min_proto_version(ctx.get(), TLS1_3_VERSION) != 1) {
        return fail(ErrorCode::Internal, "cannot require TLS 1.3");
    }
    if (SSL_CTX_set_ciphersuites(ctx.get(), CipherSuites) != 1) {
        return fail(ErrorCode::Internal, "cannot set the TLS 1.3 cipher suites");
    }
    // Our frames are self-delimiting, so a missing close_notify cannot truncate data unnoticed; without this
    // OpenSSL 3 reports a plain EOF as an error that libevent 2.1 cannot tell apart from a real one.
    SSL_CTX_set_options(ctx.get(), SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_mode(ctx.get(), SSL_MODE_RELEASE_BUFFERS);
    if (SSL_CTX_use_certificate_chain_file(ctx.get(), files.cert.c_str()) != 1) {
        return fail(ErrorCode::UnusableFile, "cannot load certificate '" + files.cert + "'");
    }
    if (SSL_CTX_use_PrivateKey_file(ctx.get(), files.key.c_str(), SSL_FILETYPE_PEM) != 1) {
        return fail(ErrorCode::UnusableFile, "cannot load private key '" + files.key + "'");
    }
    if (SSL_CTX_check_private_key(ctx.get()) != 1) {
        return fail(ErrorCode::UnusableFile,
                    "private key '" + files.key + "' does not match certificate '" + files.cert + "'");
    }
    if (SSL_CTX_load_verify_locations(ctx.get(), files.ca.c_str(), nullptr) != 1) {
        return fail(ErrorCode::UnusableFile, "cannot load CA certificate '" + files.ca + "'");
    }
    return ctx;
}

} // namespace

Result<SslCtxPtr> make_server_tls_context(const TlsFiles& files)
{
    Result<SslCtxPtr> made = make_common_context(TLS_server_method(), files);
    if (!made.ok()) {
        return made;
    }
    SslCtxPtr& ctx = made.value();
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    // Nothing to resume, and post-handshake tickets can reset a connection a client closes early.
    SSL_CTX_set_num_tickets(ctx.get(), 0);
    SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
    return made;
}

Result<SslCtxPtr> make_client_tls_context(const TlsFiles& files)
{
    Result<SslCtxPtr> made = make_common_context(TLS_client_method(), files);
    if (!made.ok()) {
        return made;
    }
    SslCtxPtr& ctx = made.value();
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
    SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
    return made;
}

bool expect_server_name(SSL* ssl, const std::string& expected_name, const std::string& sni_host)
{
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (SSL_set1_host(ssl, expected_name.c_str()) != 1) {
        return false;
    }
    // SNI carries DNS names only (RFC 6066); an IP literal is not sent.
    if (!sni_host.empty() && sni_host.find_first_not_of("0123456789.:") != std::string::npos) {
        if (SSL_set_tlsext_host_name(ssl, sni_host.c_str()) != 1) {
            return false;
        }
    }
    return true;
}

std::optional<std::string> peer_common_name(SSL* ssl)
{
    X509* cert = SSL_get0_peer_certificate(ssl);
    if (cert == nullptr) {
        return std::nullopt;
    }
    X509_NAME* subject = X509_get_subject_name(cert);
    const int index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
    if (index < 0 || X509_NAME_get_index_by_NID(subject, NID_commonName, index) >= 0) {
        return std::nullopt;
    }
    const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index));
    unsigned char* utf8 = nullptr;
    const int length = ASN1_STRING_to_UTF8(&utf8, data);
    if (length < 0) {
        return std::nullopt;
    }
    std::string cn{reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(length)};
    OPENSSL_free(utf8);
    if (cn.find('\0') != std::string::npos) {
        return std::nullopt;
    }
    return cn;
}

std::string drain_openssl_errors()
{
    std::string text;
    while (const unsigned long code = ERR_get_error()) {
        char buf[256];
        ERR_error_string_n(code, buf, sizeof buf);
        if (!text.empty()) {
            text += "; ";
        }
        text += buf;
    }
    return text.empty() ? "no OpenSSL error recorded" : text;
}

} // namespace minisync
