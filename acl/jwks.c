/*
 * jwks.c - the JWT key set (jwt.h): public keys from PEM, HMAC secrets,
 * and JWKS documents (RFC 7517, RFC 7518 6, RFC 8037 2), turned into
 * OpenSSL 3 EVP_PKEYs at config load. Each key gets a type, and its type
 * the algorithms it may verify, here and only here: the verifier trusts
 * key->algs.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "acl/jwt_int.h"
#include "filters/json.h"

#define MIN_RSA_BITS 2048
#define MIN_SECRET 32
#define MAX_SECRET 1024
#define MAX_RSA_BYTES 2048          /* a 16384-bit modulus */
#define JWKS_MAX_TOKENS 16384
#define B64_MAX 4096                /* a JWKS member's base64url text */

unsigned jwt_kty_algs(int kty, size_t secret_len)
{
    switch (kty) {
    case JWT_KTY_HMAC:
        return (secret_len >= 32 ? ACL_JWT_HS256 : 0) |
               (secret_len >= 48 ? ACL_JWT_HS384 : 0) |
               (secret_len >= 64 ? ACL_JWT_HS512 : 0);
    case JWT_KTY_RSA:
        return ACL_JWT_RS256 | ACL_JWT_RS384 | ACL_JWT_RS512 | ACL_JWT_PS256;
    case JWT_KTY_EC256:
        return ACL_JWT_ES256;
    case JWT_KTY_EC384:
        return ACL_JWT_ES384;
    case JWT_KTY_ED25519:
        return ACL_JWT_EDDSA;
    default:
        return 0;
    }
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (errlen > 0) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    ERR_clear_error();          /* leave nothing for the TLS code to find */
    return -1;
}

static void key_clear(struct jwt_key *k)
{
    EVP_PKEY_free(k->pkey);
    if (k->secret != NULL) {
        OPENSSL_cleanse(k->secret, k->secret_len);
        free(k->secret);
    }
    memset(k, 0, sizeof(*k));
}

struct acl_jwt_keys *acl_jwt_keys_new(void)
{
    struct acl_jwt_keys *ks = calloc(1, sizeof(*ks));

    if (ks == NULL)
        return NULL;
    ks->k = calloc(ACL_JWT_MAX_KEYS, sizeof(*ks->k));
    if (ks->k == NULL) {
        free(ks);
        return NULL;
    }
    return ks;
}

void acl_jwt_keys_free(struct acl_jwt_keys *ks)
{
    size_t i;

    if (ks == NULL)
        return;
    for (i = 0; i < ks->n; i++)
        key_clear(&ks->k[i]);
    free(ks->k);
    free(ks);
}

size_t acl_jwt_keys_count(const struct acl_jwt_keys *ks)
{
    return ks != NULL ? ks->n : 0;
}

static int has_kid(const struct acl_jwt_keys *ks, size_t from, size_t to, const char *kid)
{
    size_t i;

    for (i = from; i < to; i++)
        if (ks->k[i].has_kid && strcmp(ks->k[i].kid, kid) == 0)
            return 1;
    return 0;
}

/* Check kid and fill k's: 0, or -1 with err. */
static int set_kid(const struct acl_jwt_keys *ks, size_t upto, struct jwt_key *k,
                   const char *kid, char *err, size_t errlen)
{
    if (kid == NULL || kid[0] == '\0')
        return 0;
    if (strlen(kid) > ACL_JWT_MAX_KID)
        return fail(err, errlen, "kid longer than %d bytes", ACL_JWT_MAX_KID);
    if (has_kid(ks, 0, upto, kid))
        return fail(err, errlen, "kid \"%s\" given twice", kid);
    strcpy(k->kid, kid);
    k->has_kid = 1;
    return 0;
}

/* The type of an asymmetric key, or -1 with err (its size, its curve). */
static int pkey_kty(EVP_PKEY *pk, char *err, size_t errlen)
{
    char group[64];
    size_t glen = 0;

    if (EVP_PKEY_is_a(pk, "RSA")) {
        if (EVP_PKEY_get_bits(pk) < MIN_RSA_BITS)
            return fail(err, errlen, "RSA key of %d bits: at least %d are needed",
                        EVP_PKEY_get_bits(pk), MIN_RSA_BITS);
        return JWT_KTY_RSA;
    }
    if (EVP_PKEY_is_a(pk, "ED25519"))
        return JWT_KTY_ED25519;
    if (EVP_PKEY_is_a(pk, "EC")) {
        if (EVP_PKEY_get_group_name(pk, group, sizeof(group), &glen) != 1)
            return fail(err, errlen, "EC key without a named curve");
        if (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0)
            return JWT_KTY_EC256;
        if (strcmp(group, "secp384r1") == 0 || strcmp(group, "P-384") == 0)
            return JWT_KTY_EC384;
        return fail(err, errlen, "EC key on curve %s: only P-256 (ES256) and P-384 "
                    "(ES384) are supported", group);
    }
    return fail(err, errlen, "a %s key: RSA, EC (P-256, P-384) or Ed25519 expected",
                EVP_PKEY_get0_type_name(pk) ? EVP_PKEY_get0_type_name(pk) : "unknown");
}

/* Append k (its pkey/secret now owned by the set); 0 or -1 with err. */
static int append(struct acl_jwt_keys *ks, struct jwt_key *k, char *err, size_t errlen)
{
    if (ks->n == ACL_JWT_MAX_KEYS) {
        key_clear(k);
        return fail(err, errlen, "more than %d JWT keys", ACL_JWT_MAX_KEYS);
    }
    ks->k[ks->n++] = *k;
    return 0;
}

int acl_jwt_keys_add_pem(struct acl_jwt_keys *ks, const char *kid, const char *pem,
                         size_t len, char *err, size_t errlen)
{
    struct jwt_key k;
    BIO *bio = NULL;
    X509 *x = NULL;
    int kty;

    memset(&k, 0, sizeof(k));
    if (set_kid(ks, ks->n, &k, kid, err, errlen) < 0)
        return -1;
    if (len > 64 * 1024 || len > (size_t)INT32_MAX)
        return fail(err, errlen, "PEM text over 64 KiB");
    if (memmem(pem, len, "PRIVATE KEY-----", 16) != NULL)
        return fail(err, errlen, "a private key: give the PUBLIC KEY (openssl pkey -pubout)");
    bio = BIO_new_mem_buf(pem, (int)len);
    if (bio == NULL)
        return fail(err, errlen, "out of memory");
    k.pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    if (k.pkey == NULL) {
        BIO_free(bio);
        bio = BIO_new_mem_buf(pem, (int)len);
        x = bio != NULL ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
        k.pkey = x != NULL ? X509_get_pubkey(x) : NULL;
        X509_free(x);
    }
    BIO_free(bio);
    if (k.pkey == NULL)
        return fail(err, errlen, "no PEM public key (BEGIN PUBLIC KEY) or certificate");
    if ((kty = pkey_kty(k.pkey, err, errlen)) < 0) {
        key_clear(&k);
        return -1;
    }
    k.kty = kty;
    k.algs = jwt_kty_algs(kty, 0);
    ERR_clear_error();
    return append(ks, &k, err, errlen);
}

static int secret_key(struct jwt_key *k, const void *secret, size_t len,
                      char *err, size_t errlen)
{
    if (len < MIN_SECRET)
        return fail(err, errlen, "HMAC secret of %zu bytes: at least %d are needed "
                    "(RFC 7518 3.2)", len, MIN_SECRET);
    if (len > MAX_SECRET)
        return fail(err, errlen, "HMAC secret over %d bytes", MAX_SECRET);
    k->secret = malloc(len);
    if (k->secret == NULL)
        return fail(err, errlen, "out of memory");
    memcpy(k->secret, secret, len);
    k->secret_len = len;
    k->kty = JWT_KTY_HMAC;
    k->algs = jwt_kty_algs(JWT_KTY_HMAC, len);
    return 0;
}

int acl_jwt_keys_add_secret(struct acl_jwt_keys *ks, const char *kid, const void *secret,
                            size_t len, char *err, size_t errlen)
{
    struct jwt_key k;

    memset(&k, 0, sizeof(k));
    if (set_kid(ks, ks->n, &k, kid, err, errlen) < 0 ||
        secret_key(&k, secret, len, err, errlen) < 0)
        return -1;
    return append(ks, &k, err, errlen);
}

/* ---- JWKS ---- */

struct jwks {
    const char *text;
    struct flt_json_tok *t;
    char b64[B64_MAX];
    unsigned char bin[MAX_RSA_BYTES];
    char *err;
    size_t errlen;
    char what[ACL_JWT_MAX_KID + 40];    /* "key 3 (kid \"a\")" for messages */
};

/* Member name of key object obj: its token, -ENOENT, or -1 with err
 * (twice, or not a string when want_string). */
static int member(struct jwks *j, int obj, const char *name, int want_string)
{
    int i = flt_json_get(j->text, j->t, obj, name);

    if (i == -EEXIST)
        return fail(j->err, j->errlen, "JWKS %s: member \"%s\" given twice", j->what, name);
    if (i >= 0 && want_string && j->t[i].type != FLT_JSON_STRING)
        return fail(j->err, j->errlen, "JWKS %s: \"%s\" is not a string", j->what, name);
    return i < 0 ? -ENOENT : i;
}

/* A required base64url member into j->bin: its length, or -1 with err
 * (absent, not base64url, or not want bytes when want > 0). */
static long b64_member(struct jwks *j, int obj, const char *name, size_t want)
{
    long n;
    int i = member(j, obj, name, 1);

    if (i == -1)
        return -1;
    if (i < 0)
        return fail(j->err, j->errlen, "JWKS %s: \"%s\" missing", j->what, name);
    if (flt_json_string(j->text, j->t, i, j->b64, sizeof(j->b64)) < 0 ||
        (n = acl_b64url_decode(j->b64, strlen(j->b64), j->bin, sizeof(j->bin))) <= 0)
        return fail(j->err, j->errlen, "JWKS %s: \"%s\" is not base64url (RFC 7515 2: "
                    "no padding) of at most %zu bytes", j->what, name, sizeof(j->bin));
    if (want > 0 && (size_t)n != want)
        return fail(j->err, j->errlen, "JWKS %s: \"%s\" of %ld bytes, %zu expected",
                    j->what, name, n, want);
    return n;
}

static EVP_PKEY *fromdata(const char *type, OSSL_PARAM *params)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    EVP_PKEY_CTX *check = NULL;
    EVP_PKEY *pk = NULL;

    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1)
        goto fail;
    /* an EC point not on the curve must not load */
    check = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
    if (check == NULL || EVP_PKEY_public_check(check) != 1)
        goto fail;
    EVP_PKEY_CTX_free(check);
    EVP_PKEY_CTX_free(ctx);
    return pk;
fail:
    EVP_PKEY_free(pk);
    EVP_PKEY_CTX_free(check);
    EVP_PKEY_CTX_free(ctx);
    return NULL;
}

static int jwk_rsa(struct jwks *j, int obj, struct jwt_key *k)
{
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    BIGNUM *n = NULL, *e = NULL;
    long len;
    int rc = -1;

    if ((len = b64_member(j, obj, "n", 0)) < 0)
        return -1;
    n = BN_bin2bn(j->bin, (int)len, NULL);
    if ((len = b64_member(j, obj, "e", 0)) < 0)
        goto out;
    e = BN_bin2bn(j->bin, (int)len, NULL);
    if (n == NULL || e == NULL || (bld = OSSL_PARAM_BLD_new()) == NULL ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) ||
        (params = OSSL_PARAM_BLD_to_param(bld)) == NULL) {
        fail(j->err, j->errlen, "out of memory");
        goto out;
    }
    if (BN_num_bits(n) < MIN_RSA_BITS) {
        fail(j->err, j->errlen, "JWKS %s: RSA key of %d bits: at least %d are needed",
             j->what, BN_num_bits(n), MIN_RSA_BITS);
        goto out;
    }
    if (!BN_is_odd(e) || BN_is_one(e) || BN_num_bits(e) > 64 ||
        (k->pkey = fromdata("RSA", params)) == NULL) {
        fail(j->err, j->errlen, "JWKS %s: not a valid RSA public key", j->what);
        goto out;
    }
    k->kty = JWT_KTY_RSA;
    rc = 0;
out:
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    return rc;
}

static int jwk_ec(struct jwks *j, int obj, struct jwt_key *k)
{
    unsigned char pub[1 + 2 * 48];
    OSSL_PARAM params[3];
    const char *group;
    size_t clen;
    int i;

    if ((i = member(j, obj, "crv", 1)) == -1)
        return -1;
    if (i < 0)
        return fail(j->err, j->errlen, "JWKS %s: \"crv\" missing", j->what);
    if (flt_json_eq(j->text, j->t, i, "P-256", 5)) {
        group = "P-256";
        clen = 32;
        k->kty = JWT_KTY_EC256;
    } else if (flt_json_eq(j->text, j->t, i, "P-384", 5)) {
        group = "P-384";
        clen = 48;
        k->kty = JWT_KTY_EC384;
    } else {
        return fail(j->err, j->errlen, "JWKS %s: curve %.*s: only P-256 and P-384 are "
                    "supported", j->what, (int)(j->t[i].end - j->t[i].start),
                    j->text + j->t[i].start);
    }
    /* RFC 7518 6.2.1.2: x and y are the full length of the curve's size */
    pub[0] = 0x04;
    if (b64_member(j, obj, "x", clen) < 0)
        return -1;
    memcpy(pub + 1, j->bin, clen);
    if (b64_member(j, obj, "y", clen) < 0)
        return -1;
    memcpy(pub + 1 + clen, j->bin, clen);
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)group, 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pub, 1 + 2 * clen);
    params[2] = OSSL_PARAM_construct_end();
    if ((k->pkey = fromdata("EC", params)) == NULL)
        return fail(j->err, j->errlen, "JWKS %s: x, y not a point of %s", j->what, group);
    return 0;
}

static int jwk_okp(struct jwks *j, int obj, struct jwt_key *k)
{
    int i;

    if ((i = member(j, obj, "crv", 1)) == -1)
        return -1;
    if (i < 0)
        return fail(j->err, j->errlen, "JWKS %s: \"crv\" missing", j->what);
    if (!flt_json_eq(j->text, j->t, i, "Ed25519", 7))
        return fail(j->err, j->errlen, "JWKS %s: OKP curve %.*s: only Ed25519 is supported",
                    j->what, (int)(j->t[i].end - j->t[i].start), j->text + j->t[i].start);
    if (b64_member(j, obj, "x", 32) < 0)
        return -1;
    k->pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, j->bin, 32);
    if (k->pkey == NULL)
        return fail(j->err, j->errlen, "JWKS %s: not an Ed25519 public key", j->what);
    k->kty = JWT_KTY_ED25519;
    return 0;
}

/* 1 when the key is for signatures, 0 when it is to be left out
 * ("use" other than "sig", "key_ops" without "verify"), -1 with err. */
static int for_signing(struct jwks *j, int obj)
{
    int i, e;
    uint32_t m;

    if ((i = member(j, obj, "use", 1)) == -1)
        return -1;
    if (i >= 0 && !flt_json_eq(j->text, j->t, i, "sig", 3))
        return 0;
    i = flt_json_get(j->text, j->t, obj, "key_ops");
    if (i == -EEXIST || (i >= 0 && j->t[i].type != FLT_JSON_ARRAY))
        return fail(j->err, j->errlen, "JWKS %s: \"key_ops\" is not one array", j->what);
    if (i < 0)
        return 1;
    for (m = 0, e = i + 1; m < j->t[i].size; m++, e = (int)j->t[e].next)
        if (flt_json_eq(j->text, j->t, e, "verify", 6))
            return 1;
    return 0;
}

/* Key object obj (the n-th, from 1) into k; 1 when loaded, 0 when left
 * out, -1 with err. */
static int jwk(struct jwks *j, const struct acl_jwt_keys *ks, size_t upto, int obj,
               size_t n, struct jwt_key *k)
{
    char kid[ACL_JWT_MAX_KID + 1], alg[16];
    unsigned algbit = 0;
    long klen;
    int i, rc;

    snprintf(j->what, sizeof(j->what), "key %zu", n);
    if (j->t[obj].type != FLT_JSON_OBJECT)
        return fail(j->err, j->errlen, "JWKS %s: not an object", j->what);
    if ((i = member(j, obj, "kid", 1)) == -1)
        return -1;
    if (i >= 0) {
        long l = flt_json_string(j->text, j->t, i, kid, sizeof(kid));

        if (l <= 0 || strlen(kid) != (size_t)l)
            return fail(j->err, j->errlen, "JWKS %s: \"kid\" empty, over %d bytes or "
                        "holding a NUL", j->what, ACL_JWT_MAX_KID);
        snprintf(j->what, sizeof(j->what), "key %zu (kid \"%s\")", n, kid);
    }
    /* an encryption key may share its kid with a signing key: left out
     * before the kid is taken */
    if ((rc = for_signing(j, obj)) <= 0)
        return rc;
    if (i >= 0 && set_kid(ks, upto, k, kid, j->err, j->errlen) < 0)
        return fail(j->err, j->errlen, "JWKS %s: kid given twice", j->what);
    if ((i = member(j, obj, "alg", 1)) == -1)
        return -1;
    if (i >= 0) {
        if (flt_json_string(j->text, j->t, i, alg, sizeof(alg)) < 0 ||
            (algbit = acl_jwt_alg_parse(alg)) == 0)
            return fail(j->err, j->errlen, "JWKS %s: alg %.*s is not a JWS algorithm "
                        "verified here", j->what, (int)(j->t[i].end - j->t[i].start),
                        j->text + j->t[i].start);
    }
    if ((i = member(j, obj, "kty", 1)) == -1)
        return -1;
    if (i < 0)
        return fail(j->err, j->errlen, "JWKS %s: \"kty\" missing", j->what);
    if (flt_json_eq(j->text, j->t, i, "RSA", 3))
        rc = jwk_rsa(j, obj, k);
    else if (flt_json_eq(j->text, j->t, i, "EC", 2))
        rc = jwk_ec(j, obj, k);
    else if (flt_json_eq(j->text, j->t, i, "OKP", 3))
        rc = jwk_okp(j, obj, k);
    else if (flt_json_eq(j->text, j->t, i, "oct", 3))
        rc = (klen = b64_member(j, obj, "k", 0)) < 0 ? -1 :
             secret_key(k, j->bin, (size_t)klen, j->err, j->errlen);
    else
        return fail(j->err, j->errlen, "JWKS %s: kty %.*s: RSA, EC, OKP or oct expected",
                    j->what, (int)(j->t[i].end - j->t[i].start), j->text + j->t[i].start);
    if (rc < 0)
        return -1;
    k->algs = jwt_kty_algs(k->kty, k->secret_len);
    if (algbit != 0) {
        if (!(k->algs & algbit))
            return fail(j->err, j->errlen, "JWKS %s: alg %s does not fit the key (%s)",
                        j->what, alg, k->kty == JWT_KTY_EC256 ? "a P-256 key: ES256" :
                        k->kty == JWT_KTY_EC384 ? "a P-384 key: ES384" :
                        k->kty == JWT_KTY_HMAC ? "an oct key: HS*, as long as the hash" :
                        k->kty == JWT_KTY_RSA ? "an RSA key: RS*, PS256" :
                        "an Ed25519 key: EdDSA");
        k->algs = algbit;
    }
    return 1;
}

int acl_jwt_keys_add_jwks(struct acl_jwt_keys *ks, const char *json, size_t len,
                          char *err, size_t errlen)
{
    struct jwks *j = NULL;
    size_t n0 = ks->n;
    uint32_t m;
    int ntok, keys, e, rc;

    if (len > ACL_JWKS_MAX_LEN)
        return fail(err, errlen, "JWKS over %d bytes", ACL_JWKS_MAX_LEN);
    j = calloc(1, sizeof(*j));
    if (j == NULL || (j->t = calloc(JWKS_MAX_TOKENS, sizeof(*j->t))) == NULL) {
        rc = fail(err, errlen, "out of memory");
        goto out;
    }
    j->text = json;
    j->err = err;
    j->errlen = errlen;
    ntok = flt_json_parse(json, len, j->t, JWKS_MAX_TOKENS);
    if (ntok < 0) {
        rc = fail(err, errlen, "JWKS is not JSON%s", ntok == -ENOSPC ?
                  ": too many values" : ntok == -ELOOP ? ": nested too deep" :
                  " (RFC 8259, strict)");
        goto out;
    }
    keys = flt_json_get(json, j->t, 0, "keys");
    if (keys < 0 || j->t[keys].type != FLT_JSON_ARRAY) {
        rc = fail(err, errlen, "JWKS: no \"keys\" array (an object {\"keys\": [...]} "
                  "expected)");
        goto out;
    }
    if (j->t[keys].size > ACL_JWKS_MAX_KEYS) {
        rc = fail(err, errlen, "JWKS of %u keys: at most %d", j->t[keys].size,
                  ACL_JWKS_MAX_KEYS);
        goto out;
    }
    for (m = 0, e = keys + 1; m < j->t[keys].size; m++, e = (int)j->t[e].next) {
        struct jwt_key k;

        memset(&k, 0, sizeof(k));
        rc = jwk(j, ks, ks->n, e, m + 1, &k);
        if (rc < 0) {
            key_clear(&k);
            goto out;
        }
        if (rc == 0) {
            key_clear(&k);
            continue;
        }
        if ((rc = append(ks, &k, err, errlen)) < 0)
            goto out;
    }
    rc = 0;
out:
    if (rc < 0)                 /* all or nothing */
        while (ks->n > n0)
            key_clear(&ks->k[--ks->n]);
    if (j != NULL)
        free(j->t);
    free(j);
    ERR_clear_error();
    return rc < 0 ? -1 : 0;
}
