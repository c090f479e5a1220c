/*
 * jwt_int.h - what jwt.c (tokens), jwks.c (key sets) and jwt_cache.c
 * share inside acl/: the key set's layout. Private to acl/.
 */
#ifndef ACL_JWT_INT_H
#define ACL_JWT_INT_H

#include <openssl/evp.h>

#include "acl/jwt.h"

enum jwt_kty {
    JWT_KTY_HMAC = 1,
    JWT_KTY_RSA,
    JWT_KTY_EC256,
    JWT_KTY_EC384,
    JWT_KTY_ED25519
};

struct jwt_key {
    char kid[ACL_JWT_MAX_KID + 1];
    int has_kid;
    int kty;                    /* enum jwt_kty */
    unsigned algs;              /* ACL_JWT_* this key may verify */
    EVP_PKEY *pkey;             /* the public key (asymmetric types) */
    unsigned char *secret;      /* the HMAC secret (JWT_KTY_HMAC) */
    size_t secret_len;
};

struct acl_jwt_keys {
    struct jwt_key *k;          /* ACL_JWT_MAX_KEYS slots */
    size_t n;
};

/* The algorithms a key of type kty may verify (secret_len: HMAC only). */
unsigned jwt_kty_algs(int kty, size_t secret_len);

#endif
