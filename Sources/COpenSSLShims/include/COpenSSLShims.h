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
#endif
