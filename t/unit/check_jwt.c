/*
 * check_jwt.c - JWT verification (acl/jwt.h): the examples of RFC 7515
 * A.1-A.3 and RFC 8037 A.4; tokens signed here with keys OpenSSL makes at
 * test time for every algorithm; every refusal and its exact text; alg
 * none and the HS-with-an-RSA-public-key confusion; kid selection;
 * exp/nbf/skew at their edges; aud arrays; base64url; the verified-token
 * cache; and (printed, not asserted) what a verification and a cache hit
 * cost. Loading keys: check_jwks.c.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acl/jwt.h"
#include "t/unit/jwt_fixture.h"

/* ---- the RFC examples ---- */

START_TEST(rfc7515_a1_hs256)
{
    struct acl_jwt_keys *ks = jwks_set(a1_jwks);
    struct acl_jwt_opts o = opts();
    struct acl_jwt_result r;

    o.consumer_claim = "iss";
    ck_assert_str_eq(verdict(ks, &o, a1_token, RFC_EXP - 1, &r), "");
    ck_assert_str_eq(r.subject, "joe");
    ck_assert_int_eq(r.exp, RFC_EXP);
    ck_assert_uint_eq(r.alg, ACL_JWT_HS256);
    ck_assert_str_eq(verdict(ks, &o, a1_token, RFC_EXP, &r), "token expired");
    ck_assert_str_eq(verdict(ks, &o, tamper(a1_token), RFC_EXP - 1, &r), "bad signature");
    acl_jwt_keys_free(ks);
}
END_TEST

START_TEST(rfc7515_a2_rs256)
{
    struct acl_jwt_keys *ks = jwks_set(a2_jwks);
    struct acl_jwt_opts o = opts();
    struct acl_jwt_result r;

    ck_assert_str_eq(verdict(ks, &o, a2_token, RFC_EXP - 1, &r), "");
    ck_assert_str_eq(verdict(ks, &o, tamper(a2_token), RFC_EXP - 1, &r), "bad signature");
    o.algs = ACL_JWT_ES256;
    ck_assert_str_eq(verdict(ks, &o, a2_token, RFC_EXP - 1, &r), "algorithm not allowed");
    acl_jwt_keys_free(ks);
}
END_TEST

START_TEST(rfc7515_a3_es256)
{
    struct acl_jwt_keys *ks = jwks_set(a3_jwks);
    struct acl_jwt_opts o = opts();
    struct acl_jwt_result r;
    char cut[sizeof(a3_token)];

    ck_assert_str_eq(verdict(ks, &o, a3_token, RFC_EXP - 1, &r), "");
    ck_assert_str_eq(verdict(ks, &o, tamper(a3_token), RFC_EXP - 1, &r), "bad signature");
    /* R || S of the wrong length: refused, not padded (63 bytes) */
    strcpy(cut, a3_token);
    cut[strlen(cut) - 2] = '\0';
    ck_assert_str_eq(verdict(ks, &o, cut, RFC_EXP - 1, &r), "bad signature");
    acl_jwt_keys_free(ks);
}
END_TEST

START_TEST(rfc8037_a4_eddsa)
{
    struct acl_jwt_keys *ks = jwks_set(ed_jwks);
    struct acl_jwt_opts o = opts();
    struct acl_jwt_result r;

    /* the signature holds; the payload is not a claims set */
    ck_assert_str_eq(verdict(ks, &o, ed_token, 0, &r), "malformed token");
    ck_assert_str_eq(verdict(ks, &o, tamper(ed_token), 0, &r), "bad signature");
    acl_jwt_keys_free(ks);
}
END_TEST

/* ---- tokens signed here ---- */

static const struct {
    const char *alg;
    EVP_PKEY **key;             /* NULL: the HMAC secret */
} gen[] = {
    { "RS256", &rsa }, { "RS384", &rsa }, { "RS512", &rsa }, { "PS256", &rsa },
    { "ES256", &p256 }, { "ES384", &p384 }, { "EdDSA", &ed },
    { "HS256", NULL }, { "HS384", NULL }, { "HS512", NULL },
};

START_TEST(generated_tokens_verify)
{
    const char *alg = gen[_i].alg;
    EVP_PKEY *pk = gen[_i].key ? *gen[_i].key : NULL;
    struct acl_jwt_keys *ks;
    struct acl_jwt_opts o = opts();
    struct acl_jwt_result r;
    char err[256] = "", *tok;

    if (pk != NULL) {
        ks = pem_set(pk, "k1");
    } else {
        ks = acl_jwt_keys_new();
        ck_assert_int_eq(acl_jwt_keys_add_secret(ks, "k1", secret64, sizeof(secret64), err,
                                                 sizeof(err)), 0);
    }
    o.consumer_claim = "sub";
    o.require = (const char *const[]){ "exp" };
    o.n_require = 1;
    tok = sign_alg(alg, pk, "k1", "{\"sub\":\"alice\",\"exp\":2000}");
    ck_assert_msg(strcmp(verdict(ks, &o, tok, 1000, &r), "") == 0, "%s: %s", alg, r.why);
    ck_assert_str_eq(r.subject, "alice");
    ck_assert_uint_eq(r.alg, acl_jwt_alg_parse(alg));
    ck_assert_str_eq(verdict(ks, &o, tamper(tok), 1000, &r), "bad signature");
    /* without a kid: every key is tried */
    tok = sign_alg(alg, pk, NULL, "{\"sub\":\"alice\",\"exp\":2000}");
    ck_assert_str_eq(verdict(ks, &o, tok, 1000, &r), "");
    /* the alg not accepted */
    o.algs = ACL_JWT_ALGS_ALL & ~acl_jwt_alg_parse(alg);
    ck_assert_str_eq(verdict(ks, &o, tok, 1000, &r), "algorithm not allowed");
    acl_jwt_keys_free(ks);
}
END_TEST

/* PS256 and RS256 signatures are not each other's. */
START_TEST(pss_is_not_pkcs1)
{
    struct acl_jwt_keys *ks = pem_set(rsa, NULL);
    struct acl_jwt_opts o = opts();
    struct acl_jwt_result r;
    char *tok = sign_tok("PS256", rsa, NULL, 0, "{\"alg\":\"RS256\"}", "{}");

    ck_assert_str_eq(verdict(ks, &o, tok, 0, &r), "bad signature");
    tok = sign_tok("RS256", rsa, NULL, 0, "{\"alg\":\"PS256\"}", "{}");
    ck_assert_str_eq(verdict(ks, &o, tok, 0, &r), "bad signature");
    acl_jwt_keys_free(ks);
}
END_TEST

/* ---- refusals ---- */

START_TEST(alg_none_refused)
{
    static const char *const hdrs[] = {
        "{\"alg\":\"none\"}", "{\"alg\":\"None\"}", "{\"alg\":\"NONE\"}", "{\"alg\":\"nOnE\"}",
        "{\"alg\":\"n\\u006fne\"}",
    };
    static const char nul_alg[] = "{\"alg\":\"HS256\\u0000\"}";
    struct acl_jwt_keys *ks = acl_jwt_keys_new();
    struct acl_jwt_opts o = opts();
    struct acl_jwt_result r;
    char tok[512], err[256];
    size_t i;

    ck_assert_int_eq(acl_jwt_keys_add_secret(ks, NULL, secret64, 64, err, sizeof(err)), 0);
    for (i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
        b64url((const unsigned char *)hdrs[i], strlen(hdrs[i]), tok);
        strcat(tok, ".eyJzdWIiOiJhZG1pbiJ9.");          /* {"sub":"admin"}, no signature */
        ck_assert_msg(strcmp(verdict(ks, &o, tok, 0, &r), "algorithm not allowed") == 0,
                      "%s: %s", hdrs[i], r.why);
        strcat(tok, "c2ln");                             /* with some signature */
        ck_assert_str_eq(verdict(ks, &o, tok, 0, &r), "algorithm not allowed");
    }
    /* an alg with a NUL inside is not the alg before the NUL */
    b64url((const unsigned char *)nul_alg, strlen(nul_alg), tok);
    strcat(tok, ".e30.");
    ck_assert_str_eq(verdict(ks, &o, tok, 0, &r), "algorithm not allowed");
    /* the RFC 7515 A.5 unsecured example */
    ck_assert_str_eq(verdict(ks, &o, "eyJhbGciOiJub25lIn0." RFC_PAYLOAD ".", 0, &r),
                     "algorithm not allowed");
    acl_jwt_keys_free(ks);
}
END_TEST

/* The classic confusion: an RS256 verifier handed an HS256 token whose
 * HMAC key is the text of the server's RSA public key. */
START_TEST(hs_with_rsa_public_key_refused)
{
    struct acl_jwt_keys *ks = pem_set(rsa, "rs1");
    struct acl_jwt_opts o = opts();
    struct acl_jwt_result r;
    char *pem = pem_of(rsa, 1), err[256], *tok;

    tok = sign_tok("HS256", NULL, pem, strlen(pem), "{\"alg\":\"HS256\",\"kid\":\"rs1\"}",
                   "{\"sub\":\"admin\"}");
    ck_assert_str_eq(verdict(ks, &o, tok, 0, &r), "algorithm not allowed");
    tok = sign_tok("HS256", NULL, pem, strlen(pem), "{\"alg\":\"HS256\"}", "{\"sub\":\"admin\"}");
    ck_assert_str_eq(verdict(ks, &o, tok, 0, &r), "algorithm not allowed");
    /* with an HMAC key beside it, the forged token meets that key: no match */
    ck_assert_int_eq(acl_jwt_keys_add_secret(ks, "hs1", secret64, 64, err, sizeof(err)), 0);
    ck_assert_str_eq(verdict(ks, &o, tok, 0, &r), "bad signature");
    /* and the other way: an RS256 token naming the HMAC key */
    tok = sign_tok("RS256", rsa, NULL, 0, "{\"alg\":\"RS256\",\"kid\":\"hs1\"}", "{}");
    ck_assert_str_eq(verdict(ks, &o, tok, 0, &r), "algorithm not allowed");
    free(pem);
    acl_jwt_keys_free(ks);
}
END_TEST

static const struct {
    const char *name, *tok;
} malformed[] = {
    { "empty", "" },
    { "two parts", "eyJhbGciOiJIUzI1NiJ9.e30" },
    { "four parts", "eyJhbGciOiJIUzI1NiJ9.e30.c2ln.c2ln" },
    { "JWE five parts", "eyJhbGciOiJIUzI1NiJ9.e30.c2ln.c2ln.c2ln" },
    { "empty header", ".e30.c2ln" },
    { "empty claims", "eyJhbGciOiJIUzI1NiJ9..c2ln" },
    { "padding", "eyJhbGciOiJIUzI1NiJ9.e30=.c2ln" },
    { "base64 not url", "eyJhbGciOiJIUzI1NiJ9.e3+/.c2ln" },
    { "length 4k+1", "eyJhbGciOiJIUzI1NiJ9.e30AA.c2lnA" },
    { "trailing bits", "eyJhbGciOiJIUzI1NiJ9.e31.c2ln" },       /* e31: '}' with a low bit set */
    { "space", "eyJhbGciOiJIUzI1NiJ9 .e30.c2ln" },
    { "header not JSON", "eyJhbGciOiJIUzI1NiI.e30.c2ln" },      /* {"alg":"HS256" */
    { "header an array", "WyJIUzI1NiJd.e30.c2ln" },             /* ["HS256"] */
    { "no alg", "eyJ0eXAiOiJKV1QifQ.e30.c2ln" },                /* {"typ":"JWT"} */
    { "alg a number", "eyJhbGciOjI1Nn0.e30.c2ln" },             /* {"alg":256} */
    { "alg twice", "eyJhbGciOiJIUzI1NiIsImFsZyI6Im5vbmUifQ.e30.c2ln" },
    { "header trailing comma", "eyJhbGciOiJIUzI1NiIsfQ.e30.c2ln" },   /* {"alg":"HS256",} */
};

START_TEST(malformed_tokens)
{
    struct acl_jwt_keys *ks = acl_jwt_keys_new();
    struct acl_jwt_opts o = opts();
    struct acl_jwt_result r;
    char err[256];

    ck_assert_int_eq(acl_jwt_keys_add_secret(ks, NULL, secret64, 64, err, sizeof(err)), 0);
    ck_assert_msg(strcmp(verdict(ks, &o, malformed[_i].tok, 0, &r), "malformed token") == 0,
                  "%s: %s", malformed[_i].name, r.why);
    acl_jwt_keys_free(ks);
}
END_TEST

START_TEST(malformed_signed_parts)
{
    struct acl_jwt_keys *ks = pem_set(p256, NULL);
    struct acl_jwt_opts o = opts();
    struct acl_jwt_result r;
    char big[ACL_JWT_MAX_PART + 64], *tok, *longtok;

    /* signed, but the claims are not what a JWT holds */
    tok = sign_tok("ES256", p256, NULL, 0, "{\"alg\":\"ES256\"}", "[1,2]");
    ck_assert_str_eq(verdict(ks, &o, tok, 0, &r), "malformed token");
    tok = sign_tok("ES256", p256, NULL, 0, "{\"alg\":\"ES256\"}", "{\"exp\":\"2000\"}");
    ck_assert_str_eq(verdict(ks, &o, tok, 0, &r), "malformed token");
    tok = sign_tok("ES256", p256, NULL, 0, "{\"alg\":\"ES256\"}", "{\"nbf\":1e400}");
    ck_assert_str_eq(verdict(ks, &o, tok, 0, &r), "malformed token");
    tok = sign_tok("ES256", p256, NULL, 0, "{\"alg\":\"ES256\"}", "{\"exp\":5,\"exp\":9999}");
    ck_assert_str_eq(verdict(ks, &o, tok, 0, &r), "malformed token");
    tok = sign_tok("ES256", p256, NULL, 0, "{\"alg\":\"ES256\"}", "{\"a\":1,}");
    ck_assert_str_eq(verdict(ks, &o, tok, 0, &r), "malformed token");
    /* crit: an extension we do not understand */
    tok = sign_tok("ES256", p256, NULL, 0, "{\"alg\":\"ES256\",\"crit\":[\"exp\"],\"exp\":1}", "{}");
    ck_assert_str_eq(verdict(ks, &o, tok, 0, &r), "malformed token");
    /* a kid that is not a string, or holds a NUL */
    tok = sign_tok("ES256", p256, NULL, 0, "{\"alg\":\"ES256\",\"kid\":7}", "{}");
    ck_assert_str_eq(verdict(ks, &o, tok, 0, &r), "malformed token");
    tok = sign_tok("ES256", p256, NULL, 0, "{\"alg\":\"ES256\",\"kid\":\"a\\u0000b\"}", "{}");
    ck_assert_str_eq(verdict(ks, &o, tok, 0, &r), "malformed token");
    /* typ and cty are not looked at */
    tok = sign_tok("ES256", p256, NULL, 0, "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"cty\":1}", "{}");
    ck_assert_str_eq(verdict(ks, &o, tok, 0, &r), "");
    /* claims over 4 KiB decoded */
    memset(big, 0, sizeof(big));
    strcpy(big, "{\"x\":\"");
    memset(big + 6, 'a', ACL_JWT_MAX_PART - 8);
    strcat(big, "\"}");
    ck_assert_uint_eq(strlen(big), ACL_JWT_MAX_PART);
    tok = sign_tok("ES256", p256, NULL, 0, "{\"alg\":\"ES256\"}", big);
    ck_assert_str_eq(verdict(ks, &o, tok, 0, &r), "");
    strcpy(big + ACL_JWT_MAX_PART - 2, "a\"}");
    tok = sign_tok("ES256", p256, NULL, 0, "{\"alg\":\"ES256\"}", big);
    ck_assert_str_eq(verdict(ks, &o, tok, 0, &r), "malformed token");
    /* a token over 8 KiB */
    longtok = malloc(ACL_JWT_MAX_TOKEN + 2);
    memset(longtok, 'A', ACL_JWT_MAX_TOKEN + 1);
    memcpy(longtok, "eyJhbGciOiJFUzI1NiJ9.", 21);
    longtok[100] = '.';
    longtok[ACL_JWT_MAX_TOKEN + 1] = '\0';
    ck_assert_str_eq(verdict(ks, &o, longtok, 0, &r), "malformed token");
    free(longtok);
    acl_jwt_keys_free(ks);
}
END_TEST

START_TEST(no_key_for_the_token)
{
    struct acl_jwt_keys *ks = pem_set(p256, "ec1"), *none = acl_jwt_keys_new();
    struct acl_jwt_opts o = opts();
    struct acl_jwt_result r;
    char *tok = sign_alg("ES256", p256, "other", "{}");

    ck_assert_str_eq(verdict(ks, &o, tok, 0, &r), "no key for the token");
    ck_assert_int_eq(r.err, ACL_JWT_NO_KEY);
    ck_assert_str_eq(verdict(none, &o, tok, 0, &r), "no key for the token");
    tok = sign_alg("ES256", p256, NULL, "{}");
    ck_assert_str_eq(verdict(none, &o, tok, 0, &r), "no key for the token");
    acl_jwt_keys_free(ks);
    acl_jwt_keys_free(none);
}
END_TEST

START_TEST(kid_selection)
{
    struct acl_jwt_keys *ks = pem_set(rsa, "k1");
    struct acl_jwt_opts o = opts();
    struct acl_jwt_result r;
    char err[256], *pem2 = pem_of(rsa2, 1), *tok;
    unsigned char s[40];
    int i;

    ck_assert_int_eq(acl_jwt_keys_add_pem(ks, "k2", pem2, strlen(pem2), err, sizeof(err)), 0);
    ck_assert_int_eq(acl_jwt_keys_add_pem(ks, "k2", pem2, strlen(pem2), err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "kid \"k2\" given twice") != NULL, "%s", err);
    ck_assert_uint_eq(acl_jwt_keys_count(ks), 2);
    /* a kid uses that key only */
    tok = sign_alg("RS256", rsa2, "k2", "{}");
    ck_assert_str_eq(verdict(ks, &o, tok, 0, &r), "");
    tok = sign_alg("RS256", rsa2, "k1", "{}");
    ck_assert_str_eq(verdict(ks, &o, tok, 0, &r), "bad signature");
    /* no kid: every key */
    tok = sign_alg("RS256", rsa2, NULL, "{}");
    ck_assert_str_eq(verdict(ks, &o, tok, 0, &r), "");
    /* an unknown kid falls back on the keys without a kid */
    ck_assert_int_eq(acl_jwt_keys_add_secret(ks, NULL, secret64, 64, err, sizeof(err)), 0);
    tok = sign_alg("HS256", NULL, "rotated", "{}");
    ck_assert_str_eq(verdict(ks, &o, tok, 0, &r), "");
    tok = sign_alg("RS256", rsa2, "rotated", "{}");
    ck_assert_str_eq(verdict(ks, &o, tok, 0, &r), "algorithm not allowed");
    acl_jwt_keys_free(ks);
    free(pem2);

    /* a token without a kid tries at most ACL_JWT_MAX_TRIES keys */
    ks = acl_jwt_keys_new();
    for (i = 0; i < ACL_JWT_MAX_TRIES + 1; i++) {
        memset(s, 'a' + i, sizeof(s));
        ck_assert_int_eq(acl_jwt_keys_add_secret(ks, NULL, s, sizeof(s), err, sizeof(err)), 0);
    }
    memset(s, 'a' + ACL_JWT_MAX_TRIES - 1, sizeof(s));
    tok = sign_tok("HS256", NULL, s, sizeof(s), "{\"alg\":\"HS256\"}", "{}");
    ck_assert_str_eq(verdict(ks, &o, tok, 0, &r), "");
    memset(s, 'a' + ACL_JWT_MAX_TRIES, sizeof(s));
    tok = sign_tok("HS256", NULL, s, sizeof(s), "{\"alg\":\"HS256\"}", "{}");
    ck_assert_str_eq(verdict(ks, &o, tok, 0, &r), "bad signature");
    acl_jwt_keys_free(ks);
}
END_TEST

/* exp and nbf at their edges, with and without skew. */
START_TEST(time_edges)
{
    struct acl_jwt_keys *ks = pem_set(ed, NULL);
    struct acl_jwt_opts o = opts();
    struct acl_jwt_result r;
    char *tok;

    tok = sign_alg("EdDSA", ed, NULL, "{\"exp\":1000,\"nbf\":900}");
    ck_assert_str_eq(verdict(ks, &o, tok, 999, &r), "");
    ck_assert_int_eq(r.exp, 1000);
    ck_assert_int_eq(r.nbf, 900);
    ck_assert_str_eq(verdict(ks, &o, tok, 1000, &r), "token expired");     /* "before" exp */
    ck_assert_int_eq(r.err, ACL_JWT_EXPIRED);
    ck_assert_str_eq(verdict(ks, &o, tok, 900, &r), "");                   /* "at or after" nbf */
    ck_assert_str_eq(verdict(ks, &o, tok, 899, &r), "token not yet valid");
    ck_assert_int_eq(r.err, ACL_JWT_NOT_YET);
    o.skew_s = 30;
    ck_assert_str_eq(verdict(ks, &o, tok, 1029, &r), "");
    ck_assert_str_eq(verdict(ks, &o, tok, 1030, &r), "token expired");
    ck_assert_str_eq(verdict(ks, &o, tok, 870, &r), "");
    ck_assert_str_eq(verdict(ks, &o, tok, 869, &r), "token not yet valid");
    /* NumericDates may have fractions: floored */
    tok = sign_alg("EdDSA", ed, NULL, "{\"exp\":1000.9}");
    o.skew_s = 0;
    ck_assert_str_eq(verdict(ks, &o, tok, 999, &r), "");
    ck_assert_str_eq(verdict(ks, &o, tok, 1000, &r), "token expired");
    /* no exp: valid forever unless required */
    tok = sign_alg("EdDSA", ed, NULL, "{\"sub\":\"x\"}");
    ck_assert_str_eq(verdict(ks, &o, tok, INT64_MAX, &r), "");
    ck_assert_int_eq(r.exp, INT64_MAX);
    ck_assert_int_eq(r.nbf, INT64_MIN);
    o.require = (const char *const[]){ "exp" };
    o.n_require = 1;
    ck_assert_str_eq(verdict(ks, &o, tok, 0, &r), "missing claim exp");
    ck_assert_int_eq(r.err, ACL_JWT_MISSING);
    /* extreme values do not overflow */
    o.n_require = 0;
    o.skew_s = 600;
    tok = sign_alg("EdDSA", ed, NULL, "{\"exp\":9223372036854775807,\"nbf\":-9223372036854775808}");
    ck_assert_str_eq(verdict(ks, &o, tok, INT64_MAX - 1, &r), "");
    ck_assert_str_eq(verdict(ks, &o, tok, INT64_MIN, &r), "");
    acl_jwt_keys_free(ks);
}
END_TEST

START_TEST(issuer_audience_required)
{
    struct acl_jwt_keys *ks = pem_set(p384, NULL);
    struct acl_jwt_opts o = opts();
    struct acl_jwt_result r;
    static const char *const req[] = { "exp", "scope" };

    o.issuer = "https://idp.example.com";
    o.audience = "api.example.com";
#define V(claims) verdict(ks, &o, sign_alg("ES384", p384, NULL, claims), 0, &r)
    ck_assert_str_eq(V("{\"iss\":\"https://idp.example.com\",\"aud\":\"api.example.com\"}"), "");
    ck_assert_str_eq(V("{\"iss\":\"https://idp.example.com\",\"aud\":[\"x\",\"api.example.com\"]}"), "");
    ck_assert_str_eq(V("{\"iss\":\"https:\\/\\/idp.example.com\",\"aud\":\"api.example.com\"}"), "");
    ck_assert_str_eq(V("{\"aud\":\"api.example.com\"}"), "wrong issuer");
    ck_assert_int_eq(r.err, ACL_JWT_ISSUER);
    ck_assert_str_eq(V("{\"iss\":\"https://evil.example.com\",\"aud\":\"api.example.com\"}"),
                     "wrong issuer");
    ck_assert_str_eq(V("{\"iss\":[\"https://idp.example.com\"],\"aud\":\"api.example.com\"}"),
                     "wrong issuer");
    ck_assert_str_eq(V("{\"iss\":\"https://idp.example.com\"}"), "wrong audience");
    ck_assert_int_eq(r.err, ACL_JWT_AUDIENCE);
    ck_assert_str_eq(V("{\"iss\":\"https://idp.example.com\",\"aud\":\"api.example.co\"}"),
                     "wrong audience");
    ck_assert_str_eq(V("{\"iss\":\"https://idp.example.com\",\"aud\":[\"a\",\"b\"]}"),
                     "wrong audience");
    ck_assert_str_eq(V("{\"iss\":\"https://idp.example.com\",\"aud\":[]}"), "wrong audience");
    ck_assert_str_eq(V("{\"iss\":\"https://idp.example.com\",\"aud\":[[\"api.example.com\"]]}"),
                     "wrong audience");
    o.issuer = o.audience = NULL;
    o.require = req;
    o.n_require = 2;
    ck_assert_str_eq(V("{\"exp\":10,\"scope\":\"\"}"), "");
    ck_assert_str_eq(V("{\"exp\":10}"), "missing claim scope");
    ck_assert_str_eq(V("{\"scope\":null}"), "missing claim exp");
    o.n_require = 0;
    o.consumer_claim = "client_id";
    ck_assert_str_eq(V("{\"client_id\":\"svc-1\"}"), "");
    ck_assert_str_eq(r.subject, "svc-1");
    ck_assert_str_eq(V("{\"sub\":\"svc-1\"}"), "missing claim client_id");
    ck_assert_str_eq(r.subject, "");
    ck_assert_str_eq(V("{\"client_id\":42}"), "missing claim client_id");
    ck_assert_str_eq(V("{\"client_id\":\"a\\u0000b\"}"), "malformed token");
#undef V
    acl_jwt_keys_free(ks);
}
END_TEST

/* ---- base64url, algorithm names ---- */

START_TEST(base64url_strict)
{
    unsigned char out[16];

    ck_assert_int_eq(acl_b64url_decode("", 0, out, sizeof(out)), 0);
    ck_assert_int_eq(acl_b64url_decode("e30", 3, out, sizeof(out)), 2);
    ck_assert(memcmp(out, "{}", 2) == 0);
    ck_assert_int_eq(acl_b64url_decode("-_8", 3, out, sizeof(out)), 2);
    ck_assert(out[0] == 0xfb && out[1] == 0xff);
    ck_assert_int_eq(acl_b64url_decode("YQ", 2, out, sizeof(out)), 1);
    ck_assert_int_eq(acl_b64url_decode("YR", 2, out, sizeof(out)), -1);     /* bits left */
    ck_assert_int_eq(acl_b64url_decode("YWI", 3, out, sizeof(out)), 2);
    ck_assert_int_eq(acl_b64url_decode("YWJ", 3, out, sizeof(out)), -1);
    ck_assert_int_eq(acl_b64url_decode("YQ==", 4, out, sizeof(out)), -1);
    ck_assert_int_eq(acl_b64url_decode("Y", 1, out, sizeof(out)), -1);
    ck_assert_int_eq(acl_b64url_decode("+/8=", 4, out, sizeof(out)), -1);
    ck_assert_int_eq(acl_b64url_decode("YW\nI", 4, out, sizeof(out)), -1);
    ck_assert_int_eq(acl_b64url_decode("YWJj", 4, out, 2), -1);             /* too long */
    ck_assert_int_eq(acl_b64url_decode("YWJj", 4, out, 3), 3);
}
END_TEST

START_TEST(algorithm_names)
{
    unsigned bit, all = 0;

    for (bit = 1; bit <= ACL_JWT_ALGS_ALL; bit <<= 1) {
        ck_assert_ptr_nonnull(acl_jwt_alg_name(bit));
        ck_assert_uint_eq(acl_jwt_alg_parse(acl_jwt_alg_name(bit)), bit);
        all |= bit;
    }
    ck_assert_uint_eq(all, ACL_JWT_ALGS_ALL);
    ck_assert_uint_eq(acl_jwt_alg_parse("none"), 0);
    ck_assert_uint_eq(acl_jwt_alg_parse("rs256"), 0);
    ck_assert_uint_eq(acl_jwt_alg_parse("PS384"), 0);
    ck_assert_ptr_null(acl_jwt_alg_name(ACL_JWT_HS256 | ACL_JWT_RS256));
    ck_assert_ptr_null(acl_jwt_alg_name(0));
}
END_TEST

/* ---- the cache ---- */

static void result_of(struct acl_jwt_result *r, const char *sub, int64_t exp, int64_t nbf)
{
    memset(r, 0, sizeof(*r));
    r->err = ACL_JWT_OK;
    snprintf(r->subject, sizeof(r->subject), "%s", sub);
    r->exp = exp;
    r->nbf = nbf;
}

START_TEST(cache_hit_miss_expiry)
{
    struct acl_jwt_cache *c = acl_jwt_cache_new(100, 30);
    struct acl_jwt_cache_stats st;
    struct acl_jwt_result r, got;

    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_null(acl_jwt_cache_new(0, 30));
    ck_assert_ptr_null(acl_jwt_cache_new(ACL_JWT_CACHE_MAX + 1, 30));
    ck_assert_int_eq(acl_jwt_cache_get(c, "tok-a", 5, 1000, &got), 0);
    result_of(&r, "alice", 2000, 900);
    acl_jwt_cache_put(c, "tok-a", 5, 1000, &r);
    memset(&got, 0, sizeof(got));
    ck_assert_int_eq(acl_jwt_cache_get(c, "tok-a", 5, 1000, &got), 1);
    ck_assert_str_eq(got.subject, "alice");
    ck_assert_int_eq(got.exp, 2000);
    ck_assert_int_eq(got.err, ACL_JWT_OK);
    ck_assert_int_eq(acl_jwt_cache_get(c, "tok-b", 5, 1000, &got), 0);
    ck_assert_int_eq(acl_jwt_cache_get(c, "tok-", 4, 1000, &got), 0);
    /* the verifier's edges: now < exp + skew, now >= nbf - skew */
    ck_assert_int_eq(acl_jwt_cache_get(c, "tok-a", 5, 2029, &got), 1);
    ck_assert_int_eq(acl_jwt_cache_get(c, "tok-a", 5, 870, &got), 1);
    ck_assert_int_eq(acl_jwt_cache_get(c, "tok-a", 5, 869, &got), 0);
    ck_assert_int_eq(acl_jwt_cache_get(c, "tok-a", 5, 1000, &got), 1);    /* kept */
    ck_assert_int_eq(acl_jwt_cache_get(c, "tok-a", 5, 2030, &got), 0);
    ck_assert_int_eq(acl_jwt_cache_get(c, "tok-a", 5, 1000, &got), 0);   /* dropped */
    /* a refusal is not kept */
    result_of(&r, "bob", 2000, 0);
    r.err = ACL_JWT_BAD_SIG;
    acl_jwt_cache_put(c, "tok-c", 5, 1000, &r);
    ck_assert_int_eq(acl_jwt_cache_get(c, "tok-c", 5, 1000, &got), 0);
    acl_jwt_cache_get_stats(c, &st);
    ck_assert_uint_eq(st.capacity, 100);
    ck_assert_uint_eq(st.hits, 4);
    ck_assert_uint_eq(st.misses, 7);
    acl_jwt_cache_free(c);
    acl_jwt_cache_free(NULL);
}
END_TEST

START_TEST(cache_replacement)
{
    /* one slot, as many probes as slots: every token fights for it */
    struct acl_jwt_cache *c = acl_jwt_cache_new(ACL_JWT_CACHE_PROBES, 0);
    struct acl_jwt_cache_stats st;
    struct acl_jwt_result r, got;
    char tok[32];
    int i;

    /* a full table: exp 1000+i for token i */
    for (i = 0; i < ACL_JWT_CACHE_PROBES; i++) {
        snprintf(tok, sizeof(tok), "t%d", i);
        result_of(&r, tok, 1000 + i, 0);
        acl_jwt_cache_put(c, tok, strlen(tok), 0, &r);
    }
    acl_jwt_cache_get_stats(c, &st);
    ck_assert_uint_eq(st.entries, ACL_JWT_CACHE_PROBES);
    ck_assert_uint_eq(st.replaced, 0);
    /* a new one replaces the entry nearest to expiry (t0) */
    result_of(&r, "new", 5000, 0);
    acl_jwt_cache_put(c, "new", 3, 0, &r);
    ck_assert_int_eq(acl_jwt_cache_get(c, "t0", 2, 0, &got), 0);
    ck_assert_int_eq(acl_jwt_cache_get(c, "t1", 2, 0, &got), 1);
    ck_assert_int_eq(acl_jwt_cache_get(c, "new", 3, 0, &got), 1);
    ck_assert_str_eq(got.subject, "new");
    acl_jwt_cache_get_stats(c, &st);
    ck_assert_uint_eq(st.replaced, 1);
    /* an outdated entry goes first, and is not counted as replaced */
    result_of(&r, "later", 9000, 0);
    acl_jwt_cache_put(c, "later", 5, 1002, &r);     /* t1 (1001) and t2 (1002) are outdated */
    acl_jwt_cache_get_stats(c, &st);
    ck_assert_uint_eq(st.replaced, 1);
    ck_assert_int_eq(acl_jwt_cache_get(c, "later", 5, 1002, &got), 1);
    ck_assert_int_eq(acl_jwt_cache_get(c, "t7", 2, 1002, &got), 1);
    /* the same token put again keeps one entry */
    acl_jwt_cache_put(c, "later", 5, 1002, &r);
    acl_jwt_cache_get_stats(c, &st);
    ck_assert_uint_le(st.entries, ACL_JWT_CACHE_PROBES);
    acl_jwt_cache_free(c);
}
END_TEST

/* verify + cache as the gateway will use them */
START_TEST(cache_with_verify)
{
    struct acl_jwt_keys *ks = pem_set(p256, NULL);
    struct acl_jwt_cache *c = acl_jwt_cache_new(16, 0);
    struct acl_jwt_opts o = opts();
    struct acl_jwt_result r;
    char *tok;

    o.consumer_claim = "sub";
    tok = sign_alg("ES256", p256, NULL, "{\"sub\":\"carol\",\"exp\":100}");
    ck_assert_int_eq(acl_jwt_cache_get(c, tok, strlen(tok), 50, &r), 0);
    ck_assert_str_eq(verdict(ks, &o, tok, 50, &r), "");
    acl_jwt_cache_put(c, tok, strlen(tok), 50, &r);
    memset(&r, 0, sizeof(r));
    ck_assert_int_eq(acl_jwt_cache_get(c, tok, strlen(tok), 99, &r), 1);
    ck_assert_str_eq(r.subject, "carol");
    ck_assert_int_eq(acl_jwt_cache_get(c, tok, strlen(tok), 100, &r), 0);
    ck_assert_str_eq(verdict(ks, &o, tok, 100, &r), "token expired");
    acl_jwt_cache_free(c);
    acl_jwt_keys_free(ks);
}
END_TEST

/* ---- cost (printed for the report, not asserted) ---- */

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

START_TEST(cost_per_token)
{
    static const struct {
        const char *alg;
        EVP_PKEY **key;
        int n;
    } b[] = {
        { "RS256", &rsa, 2000 }, { "PS256", &rsa, 2000 }, { "ES256", &p256, 2000 },
        { "ES384", &p384, 500 }, { "EdDSA", &ed, 2000 }, { "HS256", NULL, 20000 },
    };
    static const char claims[] = "{\"iss\":\"https://idp.example.com\",\"sub\":\"alice\","
        "\"aud\":\"api.example.com\",\"exp\":4000000000,\"iat\":1700000000,\"scope\":\"read write\"}";
    struct acl_jwt_opts o = opts();
    struct acl_jwt_result r;
    struct acl_jwt_cache *c = acl_jwt_cache_new(10000, 30);
    size_t i;
    double t;
    int k, ok;
    char tok[TOKMAX];

    o.issuer = "https://idp.example.com";
    o.audience = "api.example.com";
    o.consumer_claim = "sub";
    for (i = 0; i < sizeof(b) / sizeof(b[0]); i++) {
        struct acl_jwt_keys *ks;
        char err[256];

        if (b[i].key != NULL) {
            ks = pem_set(*b[i].key, "k");
        } else {
            ks = acl_jwt_keys_new();
            ck_assert_int_eq(acl_jwt_keys_add_secret(ks, "k", secret64, 64, err, sizeof(err)), 0);
        }
        strcpy(tok, sign_alg(b[i].alg, b[i].key ? *b[i].key : NULL, "k", claims));
        t = now_s();
        for (k = 0, ok = 0; k < b[i].n; k++)
            ok += acl_jwt_verify(ks, &o, tok, strlen(tok), 1700000000, &r) == 0;
        t = now_s() - t;
        ck_assert_int_eq(ok, b[i].n);
        printf("check_jwt cost: %s verify %.1f us/token (%zu-byte token, %d runs)\n",
               b[i].alg, t / b[i].n * 1e6, strlen(tok), b[i].n);
        if (i == 0) {
            acl_jwt_cache_put(c, tok, strlen(tok), 1700000000, &r);
            t = now_s();
            for (k = 0, ok = 0; k < 200000; k++)
                ok += acl_jwt_cache_get(c, tok, strlen(tok), 1700000000, &r);
            t = now_s() - t;
            ck_assert_int_eq(ok, 200000);
            printf("check_jwt cost: cache hit %.2f us/token (%zu-byte token)\n",
                   t / 200000 * 1e6, strlen(tok));
        }
        acl_jwt_keys_free(ks);
    }
    acl_jwt_cache_free(c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("jwt");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_unchecked_fixture(tc, keys_setup, keys_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, rfc7515_a1_hs256);
    tcase_add_test(tc, rfc7515_a2_rs256);
    tcase_add_test(tc, rfc7515_a3_es256);
    tcase_add_test(tc, rfc8037_a4_eddsa);
    tcase_add_loop_test(tc, generated_tokens_verify, 0, (int)(sizeof(gen) / sizeof(gen[0])));
    tcase_add_test(tc, pss_is_not_pkcs1);
    tcase_add_test(tc, alg_none_refused);
    tcase_add_test(tc, hs_with_rsa_public_key_refused);
    tcase_add_loop_test(tc, malformed_tokens, 0, (int)(sizeof(malformed) / sizeof(malformed[0])));
    tcase_add_test(tc, malformed_signed_parts);
    tcase_add_test(tc, no_key_for_the_token);
    tcase_add_test(tc, kid_selection);
    tcase_add_test(tc, time_edges);
    tcase_add_test(tc, issuer_audience_required);
    tcase_add_test(tc, base64url_strict);
    tcase_add_test(tc, algorithm_names);
    tcase_add_test(tc, cache_hit_miss_expiry);
    tcase_add_test(tc, cache_replacement);
    tcase_add_test(tc, cache_with_verify);
    tcase_add_test(tc, cost_per_token);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
