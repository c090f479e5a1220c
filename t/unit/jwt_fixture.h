/*
 * jwt_fixture.h - what the JWT tests share (check_jwt.c: tokens and the
 * cache; check_jwks.c: loading keys): the RFC 7515 / RFC 8037 examples,
 * keys OpenSSL makes once per test binary (an unchecked fixture: RSA
 * keygen is slow), and a signer of test tokens for every algorithm.
 * Static functions: each test binary includes it once.
 */
#ifndef JWT_FIXTURE_H
#define JWT_FIXTURE_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "acl/jwt.h"

#define FX_UNUSED __attribute__((unused))


#define TOKMAX 12000

/* ---- RFC examples ---- */

/* RFC 7515 A.1-A.3 share this payload: {"iss":"joe",\r\n "exp":1300819380,\r\n
 * "http://example.com/is_root":true} */
#define RFC_PAYLOAD "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
#define RFC_EXP 1300819380

static const char a1_token[] = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9." RFC_PAYLOAD
    ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
static const char a1_jwks[] = "{\"keys\":[{\"kty\":\"oct\",\"k\":"
    "\"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow\"}]}";

static const char a2_token[] = "eyJhbGciOiJSUzI1NiJ9." RFC_PAYLOAD
    ".cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5"
    "jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L"
    "07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUi"
    "pUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";
#define A2_N "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4Ql" \
    "L-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsL" \
    "A9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8" \
    "NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ"
static const char a2_jwks[] = "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"" A2_N "\",\"e\":\"AQAB\"}]}";

static const char a3_token[] = "eyJhbGciOiJFUzI1NiJ9." RFC_PAYLOAD
    ".DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
static const char a3_jwks[] = "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\","
    "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
    "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}]}";

/* RFC 8037 A.4: the payload is the text "Example of Ed25519 signing",
 * not a claims set. */
static const char ed_token[] = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
static const char ed_jwks[] = "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
    "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}]}";

/* ---- helpers ---- */

FX_UNUSED static struct acl_jwt_opts opts(void)
{
    struct acl_jwt_opts o = { ACL_JWT_ALGS_ALL, NULL, NULL, 0, NULL, 0, NULL };

    return o;
}

FX_UNUSED static struct acl_jwt_keys *jwks_set(const char *json)
{
    struct acl_jwt_keys *ks = acl_jwt_keys_new();
    char err[256] = "";

    ck_assert_ptr_nonnull(ks);
    ck_assert_msg(acl_jwt_keys_add_jwks(ks, json, strlen(json), err, sizeof(err)) == 0,
                  "jwks: %s", err);
    return ks;
}

/* Verify tok; returns r.why ("" when accepted). */
FX_UNUSED static const char *verdict(const struct acl_jwt_keys *ks, const struct acl_jwt_opts *o,
                           const char *tok, int64_t now, struct acl_jwt_result *r)
{
    static char why[128];
    int rc = acl_jwt_verify(ks, o, tok, strlen(tok), now, r);

    if (rc == 0) {
        ck_assert_int_eq(r->err, ACL_JWT_OK);
        return "";
    }
    ck_assert_int_eq(rc, -1);
    ck_assert_int_ne(r->err, ACL_JWT_OK);
    ck_assert_ptr_nonnull(r->why);
    snprintf(why, sizeof(why), "%s", r->why);
    return why;
}

FX_UNUSED static void b64url(const unsigned char *in, size_t n, char *out)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t i, o = 0;

    for (i = 0; i + 2 < n; i += 3) {
        out[o++] = a[in[i] >> 2];
        out[o++] = a[(in[i] & 3) << 4 | in[i + 1] >> 4];
        out[o++] = a[(in[i + 1] & 15) << 2 | in[i + 2] >> 6];
        out[o++] = a[in[i + 2] & 63];
    }
    if (n - i == 1) {
        out[o++] = a[in[i] >> 2];
        out[o++] = a[(in[i] & 3) << 4];
    } else if (n - i == 2) {
        out[o++] = a[in[i] >> 2];
        out[o++] = a[(in[i] & 3) << 4 | in[i + 1] >> 4];
        out[o++] = a[(in[i + 1] & 15) << 2];
    }
    out[o] = '\0';
}

/* Keys made once, in the parent (an unchecked fixture): RSA keygen is slow. */
static EVP_PKEY *rsa, *rsa2, *rsa1024, *p256, *p384, *p521, *ed;
static const unsigned char secret64[64] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde";

FX_UNUSED static void keys_setup(void)
{
    rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    rsa2 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    rsa1024 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    p256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    p521 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521");
    ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (!rsa || !rsa2 || !rsa1024 || !p256 || !p384 || !p521 || !ed) {
        fprintf(stderr, "check_jwt: key generation failed\n");
        exit(1);
    }
}

FX_UNUSED static void keys_teardown(void)
{
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(rsa2);
    EVP_PKEY_free(rsa1024);
    EVP_PKEY_free(p256);
    EVP_PKEY_free(p384);
    EVP_PKEY_free(p521);
    EVP_PKEY_free(ed);
}

/* The PEM of a key's public half (pub) or of the private key. */
FX_UNUSED static char *pem_of(EVP_PKEY *pk, int pub)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *p, *s;
    long n;

    ck_assert(pub ? PEM_write_bio_PUBKEY(b, pk) : PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL));
    n = BIO_get_mem_data(b, &p);
    s = malloc((size_t)n + 1);
    memcpy(s, p, (size_t)n);
    s[n] = '\0';
    BIO_free(b);
    return s;
}

FX_UNUSED static struct acl_jwt_keys *pem_set(EVP_PKEY *pk, const char *kid)
{
    struct acl_jwt_keys *ks = acl_jwt_keys_new();
    char err[256] = "", *pem = pem_of(pk, 1);

    ck_assert_msg(acl_jwt_keys_add_pem(ks, kid, pem, strlen(pem), err, sizeof(err)) == 0,
                  "pem: %s", err);
    free(pem);
    return ks;
}

FX_UNUSED static const EVP_MD *md_of(const char *alg)
{
    if (strstr(alg, "384"))
        return EVP_sha384();
    if (strstr(alg, "512"))
        return EVP_sha512();
    if (strcmp(alg, "EdDSA") == 0)
        return NULL;
    return EVP_sha256();
}

/* A signature of data under alg, JWS form, into sig; its length. */
FX_UNUSED static size_t sign_raw(const char *alg, EVP_PKEY *pk, const void *secret, size_t slen,
                       const char *data, unsigned char *sig)
{
    unsigned char der[1024];
    size_t n = sizeof(der);
    unsigned int hl = 0;
    EVP_MD_CTX *ctx;
    EVP_PKEY_CTX *pctx = NULL;

    if (alg[0] == 'H') {
        ck_assert_ptr_nonnull(HMAC(md_of(alg), secret, (int)slen, (const unsigned char *)data,
                                   strlen(data), sig, &hl));
        return hl;
    }
    ctx = EVP_MD_CTX_new();
    ck_assert(EVP_DigestSignInit(ctx, &pctx, md_of(alg), NULL, pk) == 1);
    if (alg[0] == 'P') {
        ck_assert(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1);
        ck_assert(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1);
    }
    ck_assert(EVP_DigestSign(ctx, der, &n, (const unsigned char *)data, strlen(data)) == 1);
    EVP_MD_CTX_free(ctx);
    if (alg[0] == 'E' && alg[1] == 'S') {   /* DER -> R || S */
        const unsigned char *p = der;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)n);
        size_t half = strstr(alg, "384") ? 48 : 32;

        ck_assert_ptr_nonnull(es);
        BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, (int)half);
        BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + half, (int)half);
        ECDSA_SIG_free(es);
        return 2 * half;
    }
    memcpy(sig, der, n);
    return n;
}

/* A token of header and claims (JSON texts) signed under alg. */
FX_UNUSED static char *sign_tok(const char *alg, EVP_PKEY *pk, const void *secret, size_t slen,
                      const char *header, const char *claims)
{
    static char tok[TOKMAX];
    unsigned char sig[1024];
    size_t n;

    b64url((const unsigned char *)header, strlen(header), tok);
    strcat(tok, ".");
    b64url((const unsigned char *)claims, strlen(claims), tok + strlen(tok));
    n = sign_raw(alg, pk, secret, slen, tok, sig);
    strcat(tok, ".");
    b64url(sig, n, tok + strlen(tok));
    return tok;
}

FX_UNUSED static char *sign_alg(const char *alg, EVP_PKEY *pk, const char *kid, const char *claims)
{
    char header[256];

    if (kid != NULL)
        snprintf(header, sizeof(header), "{\"alg\":\"%s\",\"kid\":\"%s\"}", alg, kid);
    else
        snprintf(header, sizeof(header), "{\"alg\":\"%s\",\"typ\":\"JWT\"}", alg);
    return sign_tok(alg, pk, secret64, sizeof(secret64), header, claims);
}

/* Flip a bit of the signature's first character (the token stays
 * base64url and canonical). */
FX_UNUSED static char *tamper(const char *tok)
{
    static char t[TOKMAX];
    char *s;

    strcpy(t, tok);
    s = strrchr(t, '.') + 1;
    *s = *s == 'A' ? 'B' : 'A';
    return t;
}

/* A JWKS of one key of each type, from the generated keys. */
FX_UNUSED static char *jwk_of(EVP_PKEY *pk, const char *kid, const char *extra)
{
    static char out[4][4096];
    static int k;
    char *s = out[k++ % 4], a[1200], b[1200];
    unsigned char buf[1024];
    size_t n = 0;
    BIGNUM *bn = NULL;

    if (EVP_PKEY_is_a(pk, "RSA")) {
        EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_N, &bn);
        n = (size_t)BN_bn2bin(bn, buf);
        b64url(buf, n, a);
        BN_free(bn);
        bn = NULL;
        EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_E, &bn);
        n = (size_t)BN_bn2bin(bn, buf);
        b64url(buf, n, b);
        BN_free(bn);
        snprintf(s, 4096, "{\"kty\":\"RSA\",\"kid\":\"%s\",\"n\":\"%s\",\"e\":\"%s\"%s}",
                 kid, a, b, extra);
    } else if (EVP_PKEY_is_a(pk, "EC")) {
        size_t half = EVP_PKEY_get_bits(pk) == 256 ? 32 : 48;

        EVP_PKEY_get_octet_string_param(pk, OSSL_PKEY_PARAM_PUB_KEY, buf, sizeof(buf), &n);
        ck_assert_uint_eq(n, 1 + 2 * half);
        b64url(buf + 1, half, a);
        b64url(buf + 1 + half, half, b);
        snprintf(s, 4096, "{\"kty\":\"EC\",\"kid\":\"%s\",\"crv\":\"%s\",\"x\":\"%s\","
                 "\"y\":\"%s\"%s}", kid, half == 32 ? "P-256" : "P-384", a, b, extra);
    } else {
        n = sizeof(buf);
        EVP_PKEY_get_raw_public_key(pk, buf, &n);
        b64url(buf, n, a);
        snprintf(s, 4096, "{\"kty\":\"OKP\",\"kid\":\"%s\",\"crv\":\"Ed25519\",\"x\":\"%s\"%s}",
                 kid, a, extra);
    }
    return s;
}


#endif
