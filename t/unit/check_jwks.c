/*
 * check_jwks.c - the JWT key set (acl/jwt.h): public keys from PEM (and
 * certificates), HMAC secrets, JWKS documents of each kty, and what each
 * refuses (short RSA, other curves, private keys, short secrets, missing
 * members, bad base64url, wrong curve for the alg, points off the curve,
 * duplicate kids, too many keys, too large), all or nothing.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "acl/jwt.h"
#include "t/unit/jwt_fixture.h"

START_TEST(pem_loading)
{
    struct acl_jwt_keys *ks = acl_jwt_keys_new();
    char err[256], *pem;
    X509 *x;
    BIO *b;
    long n;
    char *p;

    /* RSA under 2048 bits */
    pem = pem_of(rsa1024, 1);
    ck_assert_int_eq(acl_jwt_keys_add_pem(ks, NULL, pem, strlen(pem), err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "1024 bits") != NULL, "%s", err);
    free(pem);
    /* a curve we do not verify */
    pem = pem_of(p521, 1);
    ck_assert_int_eq(acl_jwt_keys_add_pem(ks, NULL, pem, strlen(pem), err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "secp521r1") != NULL, "%s", err);
    free(pem);
    /* a private key */
    pem = pem_of(p256, 0);
    ck_assert_int_eq(acl_jwt_keys_add_pem(ks, NULL, pem, strlen(pem), err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "private key") != NULL, "%s", err);
    free(pem);
    /* not PEM */
    ck_assert_int_eq(acl_jwt_keys_add_pem(ks, NULL, "hello", 5, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "no PEM public key") != NULL, "%s", err);
    ck_assert_uint_eq(acl_jwt_keys_count(ks), 0);
    ck_assert_uint_eq(ERR_peek_error(), 0);     /* nothing left for the TLS code */
    /* a certificate: its key */
    x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, p256);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)"idp", -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    ck_assert(X509_sign(x, p256, EVP_sha256()) > 0);
    b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(b, x);
    n = BIO_get_mem_data(b, &p);
    ck_assert_int_eq(acl_jwt_keys_add_pem(ks, "cert", p, (size_t)n, err, sizeof(err)), 0);
    BIO_free(b);
    X509_free(x);
    ck_assert_uint_eq(acl_jwt_keys_count(ks), 1);
    {
        struct acl_jwt_opts o = opts();
        struct acl_jwt_result r;

        ck_assert_str_eq(verdict(ks, &o, sign_alg("ES256", p256, "cert", "{}"), 0, &r), "");
    }
    acl_jwt_keys_free(ks);
}
END_TEST

START_TEST(secret_loading)
{
    struct acl_jwt_keys *ks = acl_jwt_keys_new();
    struct acl_jwt_opts o = opts();
    struct acl_jwt_result r;
    char err[256];

    ck_assert_int_eq(acl_jwt_keys_add_secret(ks, "s", "short", 5, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "at least 32") != NULL, "%s", err);
    ck_assert_int_eq(acl_jwt_keys_add_secret(ks, "s", secret64, 0, err, sizeof(err)), -1);
    /* 32 bytes: HS256 only (RFC 7518 3.2: a key as long as the hash) */
    ck_assert_int_eq(acl_jwt_keys_add_secret(ks, "s", secret64, 32, err, sizeof(err)), 0);
    ck_assert_str_eq(verdict(ks, &o, sign_tok("HS256", NULL, secret64, 32,
                                              "{\"alg\":\"HS256\"}", "{}"), 0, &r), "");
    ck_assert_str_eq(verdict(ks, &o, sign_tok("HS512", NULL, secret64, 32,
                                              "{\"alg\":\"HS512\"}", "{}"), 0, &r),
                     "algorithm not allowed");
    acl_jwt_keys_free(ks);
}
END_TEST

START_TEST(jwks_each_kty)
{
    char json[16384], k[100];
    struct acl_jwt_keys *ks;
    struct acl_jwt_opts o = opts();
    struct acl_jwt_result r;

    b64url(secret64, sizeof(secret64), k);
    snprintf(json, sizeof(json), "{\"keys\":[%s,%s,%s,%s,"
             "{\"kty\":\"oct\",\"kid\":\"hs\",\"k\":\"%s\",\"alg\":\"HS512\",\"use\":\"sig\"},"
             "{\"kty\":\"RSA\",\"kid\":\"enc\",\"use\":\"enc\",\"n\":\"x\",\"e\":\"x\"},"
             "{\"kty\":\"EC\",\"kid\":\"ops\",\"key_ops\":[\"encrypt\"]}"
             "],\"other\":true}",
             jwk_of(rsa, "rs", ",\"alg\":\"RS256\",\"use\":\"sig\""), jwk_of(p256, "e256", ""),
             jwk_of(p384, "e384", ",\"key_ops\":[\"sign\",\"verify\"]"), jwk_of(ed, "ed", ""), k);
    ks = jwks_set(json);
    ck_assert_uint_eq(acl_jwt_keys_count(ks), 5);    /* the enc keys left out */
#define V(alg, key, kid) verdict(ks, &o, sign_alg(alg, key, kid, "{}"), 0, &r)
    ck_assert_str_eq(V("RS256", rsa, "rs"), "");
    ck_assert_str_eq(V("RS512", rsa, "rs"), "algorithm not allowed");   /* its "alg" */
    ck_assert_str_eq(V("ES256", p256, "e256"), "");
    ck_assert_str_eq(V("ES384", p384, "e384"), "");
    ck_assert_str_eq(V("ES384", p384, "e256"), "algorithm not allowed");  /* curve by alg */
    ck_assert_str_eq(V("EdDSA", ed, "ed"), "");
    ck_assert_str_eq(V("HS512", NULL, "hs"), "");
    ck_assert_str_eq(V("HS256", NULL, "hs"), "algorithm not allowed");
    /* the enc key is not in the set, and no key is without a kid */
    ck_assert_str_eq(V("RS256", rsa, "enc"), "no key for the token");
#undef V
    acl_jwt_keys_free(ks);
}
END_TEST

static const struct {
    const char *name, *jwks, *err;
} bad_jwks[] = {
    { "not JSON", "{\"keys\":[}", "not JSON" },
    { "no keys", "{\"key\":[]}", "no \"keys\" array" },
    { "keys not array", "{\"keys\":{}}", "no \"keys\" array" },
    { "not an object", "{\"keys\":[1]}", "key 1: not an object" },
    { "no kty", "{\"keys\":[{\"n\":\"AQAB\"}]}", "\"kty\" missing" },
    { "unknown kty", "{\"keys\":[{\"kty\":\"DSA\"}]}", "kty \"DSA\"" },
    { "RSA no n", "{\"keys\":[{\"kty\":\"RSA\",\"e\":\"AQAB\"}]}", "\"n\" missing" },
    { "RSA padded e", "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"" A2_N "\",\"e\":\"AQAB=\"}]}",
      "\"e\" is not base64url" },
    { "RSA e not string", "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"" A2_N "\",\"e\":65537}]}",
      "\"e\" is not a string" },
    { "RSA short", "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp\","
      "\"e\":\"AQAB\"}]}", "RSA key of 384 bits" },
    { "EC wrong curve for alg", "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"alg\":\"ES384\","
      "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
      "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}]}", "alg ES384 does not fit" },
    { "EC P-521", "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-521\",\"x\":\"AA\",\"y\":\"AA\"}]}",
      "curve \"P-521\"" },
    { "EC short x", "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\","
      "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVA\","
      "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}]}", "\"x\" of 31 bytes" },
    { "EC off the curve", "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\","
      "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
      "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a4\"}]}", "not a point" },
    { "OKP X25519", "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"X25519\","
      "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}]}", "only Ed25519" },
    { "oct short", "{\"keys\":[{\"kty\":\"oct\",\"k\":\"c2hvcnQ\"}]}", "at least 32" },
    { "alg unknown", "{\"keys\":[{\"kty\":\"oct\",\"alg\":\"A128KW\",\"k\":\"GawgguFyGrWKav7AX4VKUg\"}]}",
      "alg \"A128KW\"" },
    { "alg none", "{\"keys\":[{\"kty\":\"oct\",\"alg\":\"none\",\"k\":\"GawgguFyGrWKav7AX4VKUg\"}]}",
      "alg \"none\"" },
    { "kid twice", "{\"keys\":[" "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"a\","
      "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"},"
      "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"a\","
      "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}]}", "key 2 (kid \"a\"): kid given twice" },
    { "member twice", "{\"keys\":[{\"kty\":\"OKP\",\"kty\":\"RSA\"}]}", "\"kty\" given twice" },
};

START_TEST(jwks_errors)
{
    struct acl_jwt_keys *ks = jwks_set(ed_jwks);
    char err[256] = "";
    int rc;

    rc = acl_jwt_keys_add_jwks(ks, bad_jwks[_i].jwks, strlen(bad_jwks[_i].jwks), err, sizeof(err));
    ck_assert_msg(rc == -1, "%s: accepted", bad_jwks[_i].name);
    ck_assert_msg(strstr(err, bad_jwks[_i].err) != NULL, "%s: \"%s\"", bad_jwks[_i].name, err);
    ck_assert_uint_eq(acl_jwt_keys_count(ks), 1);      /* all or nothing */
    ck_assert_uint_eq(ERR_peek_error(), 0);
    acl_jwt_keys_free(ks);
}
END_TEST

/* A JWKS of n Ed25519 keys k0..k(n-1) in json. */
static void many_keys(char *json, int n)
{
    size_t len;
    int i;

    len = (size_t)sprintf(json, "{\"keys\":[");
    for (i = 0; i < n; i++)
        len += (size_t)sprintf(json + len, "%s{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"k%d\","
                               "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}",
                               i ? "," : "", i);
    strcpy(json + len, "]}");
}

START_TEST(jwks_limits)
{
    struct acl_jwt_keys *ks = acl_jwt_keys_new();
    char *json = malloc(ACL_JWKS_MAX_LEN + 2), err[256];

    many_keys(json, ACL_JWKS_MAX_KEYS + 1);
    ck_assert_int_eq(acl_jwt_keys_add_jwks(ks, json, strlen(json), err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "at most 64") != NULL, "%s", err);
    ck_assert_uint_eq(acl_jwt_keys_count(ks), 0);
    many_keys(json, ACL_JWKS_MAX_KEYS);
    ck_assert_int_eq(acl_jwt_keys_add_jwks(ks, json, strlen(json), err, sizeof(err)), 0);
    ck_assert_uint_eq(acl_jwt_keys_count(ks), ACL_JWKS_MAX_KEYS);
    /* over 256 KiB (whitespace is enough) */
    memset(json, ' ', ACL_JWKS_MAX_LEN + 1);
    memcpy(json, "{\"keys\":[]}", 11);
    json[ACL_JWKS_MAX_LEN + 1] = '\0';
    ck_assert_int_eq(acl_jwt_keys_add_jwks(ks, json, ACL_JWKS_MAX_LEN + 1, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "over") != NULL, "%s", err);
    ck_assert_int_eq(acl_jwt_keys_add_jwks(ks, json, ACL_JWKS_MAX_LEN, err, sizeof(err)), 0);
    free(json);
    acl_jwt_keys_free(ks);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("jwks");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_unchecked_fixture(tc, keys_setup, keys_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, pem_loading);
    tcase_add_test(tc, secret_loading);
    tcase_add_test(tc, jwks_each_kty);
    tcase_add_loop_test(tc, jwks_errors, 0, (int)(sizeof(bad_jwks) / sizeof(bad_jwks[0])));
    tcase_add_test(tc, jwks_limits);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
