#include "COpenSSLShims.h"
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/x509v3.h>
#include <arpa/inet.h>

EVP_MAC_CTX *gw_hmac_ctx_new(EVP_MAC *mac, const char *digest_name,
                             const unsigned char *key, size_t key_len) {
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
    if (ctx == NULL) return NULL;
    if (!gw_hmac_reinit(ctx, digest_name, key, key_len)) {
        EVP_MAC_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

int gw_hmac_reinit(EVP_MAC_CTX *ctx, const char *digest_name,
                   const unsigned char *key, size_t key_len) {
    OSSL_PARAM params[2];
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)digest_name, 0);
    params[1] = OSSL_PARAM_construct_end();
    /* EVP_MAC_init refuses a NULL key with length 0 on some providers; pass a dummy pointer. */
    static const unsigned char empty = 0;
    return EVP_MAC_init(ctx, key_len ? key : &empty, key_len, params);
}

/* TLS 1.2 suites: ECDHE key exchange and AEAD only (forward secrecy, no CBC, no RSA kex).
 * TLS 1.3 suites are OpenSSL's defaults (all AEAD). */
static const char *gw_tls12_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

static int gw_tls_policy(SSL_CTX *ctx) {
    if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)) return 0;
    if (!SSL_CTX_set_cipher_list(ctx, gw_tls12_ciphers)) return 0;
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    return 1;
}

SSL_CTX *gw_tls_server_ctx_new(void) {
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) return NULL;
    if (!gw_tls_policy(ctx)) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    return ctx;
}

SSL_CTX *gw_tls_client_ctx_new(const char *ca_file, int verify) {
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL) return NULL;
    if (!gw_tls_policy(ctx)) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (verify) {
        int ok = ca_file ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL) : SSL_CTX_set_default_verify_paths(ctx);
        if (!ok) {
            SSL_CTX_free(ctx);
            return NULL;
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    }
    return ctx;
}

void gw_tls_set_modes(SSL *ssl) {
    SSL_set_mode(ssl, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_ENABLE_PARTIAL_WRITE);
}

int gw_tls_set_host(SSL *ssl, const char *host, int verify) {
    unsigned char addr[16];
    int is_ip = inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
    if (is_ip) {
        /* No SNI for addresses (RFC 6066); verify against the certificate's IP SANs. */
        return verify ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) : 1;
    }
    if (!SSL_set_tlsext_host_name(ssl, host)) return 0;
    if (verify && !SSL_set1_host(ssl, host)) return 0;
    return 1;
}

const char *gw_tls_version(const SSL *ssl) { return SSL_get_version(ssl); }
