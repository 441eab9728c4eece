#ifndef GW_COPENSSL_SHIMS_H
#define GW_COPENSSL_SHIMS_H
/* Real functions for the OpenSSL macros Swift cannot import, and a few helpers
 * that keep OSSL_PARAM construction out of Swift. Every symbol is prefixed gw_. */
#include <stddef.h>
#include <openssl/evp.h>

/* A prepared HMAC: EVP_MAC plus its digest name, fetched once. */
EVP_MAC_CTX *gw_hmac_ctx_new(EVP_MAC *mac, const char *digest_name,
                             const unsigned char *key, size_t key_len);
int gw_hmac_reinit(EVP_MAC_CTX *ctx, const char *digest_name,
                   const unsigned char *key, size_t key_len);

/* TLS (macros in OpenSSL's headers). */
#include <openssl/ssl.h>
/* A server context: TLS 1.2 minimum, modern AEAD ciphers only, no renegotiation, no compression,
 * server cipher preference. Returns NULL on failure (see the error queue). */
SSL_CTX *gw_tls_server_ctx_new(void);
/* A client context verifying peers against `ca_file` (NULL: the system store) unless `verify`
 * is 0. Same protocol and cipher policy as the server. */
SSL_CTX *gw_tls_client_ctx_new(const char *ca_file, int verify);
/* Frees read/write buffers of idle connections (SSL_MODE_RELEASE_BUFFERS) and allows partial
 * writes with a moving buffer. */
void gw_tls_set_modes(SSL *ssl);
/* SNI and host-name verification for a client session. */
int gw_tls_set_host(SSL *ssl, const char *host, int verify);
/* The negotiated protocol version name ("TLSv1.3"). */
const char *gw_tls_version(const SSL *ssl);
#endif
