#include "COpenSSLShims.h"
#include <openssl/core_names.h>
#include <openssl/params.h>

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
