#ifndef UCPSIM_CLIBCRYPTO_SHIM_H
#define UCPSIM_CLIBCRYPTO_SHIM_H

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

/* Macros and composite constants that Swift cannot import directly. */

enum {
    UCPSIM_EVP_PKEY_PUBLIC_KEY = EVP_PKEY_PUBLIC_KEY,
    UCPSIM_EVP_PKEY_KEYPAIR = EVP_PKEY_KEYPAIR,
    UCPSIM_EVP_PKEY_EC = EVP_PKEY_EC,
    UCPSIM_EVP_PKEY_ED25519 = EVP_PKEY_ED25519,
};

static inline long ucpsim_BIO_get_mem_data(BIO *bio, char **data) {
    return BIO_get_mem_data(bio, data);
}

static inline void ucpsim_OPENSSL_free(void *pointer) {
    OPENSSL_free(pointer);
}

static inline int ucpsim_EVP_PKEY_CTX_set_group_name(EVP_PKEY_CTX *ctx, const char *name) {
    return EVP_PKEY_CTX_set_group_name(ctx, name);
}

/* OSSL_PARAM keeps the key-name pointer: these names have static storage. */
static inline const char *ucpsim_param_group_name(void) { return OSSL_PKEY_PARAM_GROUP_NAME; }
static inline const char *ucpsim_param_pub_key(void) { return OSSL_PKEY_PARAM_PUB_KEY; }
static inline const char *ucpsim_mac_param_digest(void) { return OSSL_MAC_PARAM_DIGEST; }

#endif
