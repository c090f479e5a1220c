/*
 * fuzz_jwt.c - libFuzzer target for the API gateway's JWT verification
 * (acl/jwt.c, acl/jwks.c, acl/jwt_cache.c) and the JSON parser under it
 * (filters/json.c).
 *
 * The input is a mode byte, an options byte, then the mode's text:
 *   'v'  a compact token, verified against a fixed key set: an HMAC key
 *        (kid "hs"), the RSA key of RFC 7515 A.2 (kid "rs"), the P-256
 *        key of A.3 (kid "ec") and the Ed25519 key of RFC 8037 A.4 (no kid)
 *   's'  a header and a claims set (JSON texts, split at the first '\n'),
 *        signed here with the HMAC key, then verified: the fuzzer cannot
 *        forge signatures, so this is how it reaches the claims
 *   'k'  a JWKS document, loaded into an empty set
 *   'j'  a JSON document, parsed
 *   other: the same four, by the byte's value modulo 4.
 * Options (bits): 1 issuer, 2 audience, 4 require exp, 8 consumer claim
 * "sub", 16 skew 30 s, 32 only HS256 and ES256, 64 now = 1300819379 (the
 * RFC examples' time) instead of 1700000000.
 *
 * Every run checks, and abort()s when one breaks:
 *   - verify answers 0 or -1; a refusal has an error code and exactly its
 *     text ("missing claim <a claim asked for>"); acceptance has a
 *     NUL-terminated subject (non-empty when a consumer claim is asked
 *     for), exp/nbf that hold at now with the skew, an accepted alg; a
 *     token that is not three base64url parts is never accepted; the
 *     same call gives the same answer; the cache then returns the same
 *     subject; OpenSSL's error queue is left empty;
 *   - 's': a header naming HS256 and our kid (or none) whose JSON parses
 *     is never refused for its key or signature;
 *   - JWKS: 0 or -1; a failure leaves an error message and the set as it
 *     was (empty); success at most ACL_JWKS_MAX_KEYS keys;
 *   - JSON: the token tree is consistent (offsets inside the text, next
 *     after each subtree, sizes match the children), each value's text
 *     parses alone to the same subtree, strings unescape within their
 *     length, numbers floor or are out of range, lookups agree with a
 *     scan of the keys;
 * and ASan/UBSan watch every read (the input is exactly its size).
 *
 * make fuzz builds t/fuzz/fuzz_jwt; seeds: t/fuzz/corpus/jwt/ (make check
 * replays them: t/fuzz/replay_jwt).
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "acl/jwt.h"
#include "filters/json.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

#define NTOK 2048
#define TOKMAX (3 * ACL_JWT_MAX_TOKEN)

static struct acl_jwt_keys *keys;
static struct acl_jwt_cache *cache;
static const unsigned char secret[64] = "fuzz-jwt-hmac-key-0123456789abcdef0123456789abcdef0123456789abc";

static const char fixed_jwks[] =
    "{\"keys\":["
    "{\"kty\":\"RSA\",\"kid\":\"rs\",\"e\":\"AQAB\",\"n\":\"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQo"
    "Tbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32"
    "690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665x"
    "smtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2"
    "PAcDTW9gb54h4FRWyuXpoQ\"},"
    "{\"kty\":\"EC\",\"kid\":\"ec\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
    "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"},"
    "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}"
    "]}";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[256];

    (void)argc;
    (void)argv;
    keys = acl_jwt_keys_new();
    cache = acl_jwt_cache_new(64, 30);
    if (keys == NULL || cache == NULL ||
        acl_jwt_keys_add_secret(keys, "hs", secret, sizeof(secret), err, sizeof(err)) < 0 ||
        acl_jwt_keys_add_jwks(keys, fixed_jwks, strlen(fixed_jwks), err, sizeof(err)) < 0) {
        fprintf(stderr, "fuzz_jwt: key set: %s\n", err);
        exit(1);
    }
    CHECK(acl_jwt_keys_count(keys) == 4);
    return 0;
}

/* ---- verification ---- */

static const char *const require_exp[] = { "exp" };

static void options(unsigned bits, struct acl_jwt_opts *o, int64_t *now)
{
    memset(o, 0, sizeof(*o));
    o->algs = bits & 32 ? ACL_JWT_HS256 | ACL_JWT_ES256 : ACL_JWT_ALGS_ALL;
    o->issuer = bits & 1 ? "joe" : NULL;
    o->audience = bits & 2 ? "api" : NULL;
    if (bits & 4) {
        o->require = require_exp;
        o->n_require = 1;
    }
    o->consumer_claim = bits & 8 ? "sub" : NULL;
    o->skew_s = bits & 16 ? 30 : 0;
    *now = bits & 64 ? 1300819379 : 1700000000;
}

static int b64u_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
}

/* Three parts of base64url characters only (the verifier may still
 * refuse them). */
static int looks_compact(const char *t, size_t n)
{
    size_t i, dots = 0;

    for (i = 0; i < n; i++) {
        if (t[i] == '.')
            dots++;
        else if (!b64u_char(t[i]))
            return 0;
    }
    return dots == 2;
}

static const char *const reasons[] = {
    [ACL_JWT_MALFORMED] = "malformed token", [ACL_JWT_ALG] = "algorithm not allowed",
    [ACL_JWT_NO_KEY] = "no key for the token", [ACL_JWT_BAD_SIG] = "bad signature",
    [ACL_JWT_EXPIRED] = "token expired", [ACL_JWT_NOT_YET] = "token not yet valid",
    [ACL_JWT_ISSUER] = "wrong issuer", [ACL_JWT_AUDIENCE] = "wrong audience",
};

static int64_t sat_add(int64_t a, int64_t b)
{
    if (b > 0 && a > INT64_MAX - b)
        return INT64_MAX;
    if (b < 0 && a < INT64_MIN - b)
        return INT64_MIN;
    return a + b;
}

/* Verify tok under bits; the result's err. */
static int verify(const char *tok, size_t n, unsigned bits)
{
    struct acl_jwt_opts o;
    struct acl_jwt_result r, r2, c;
    int64_t now;
    int rc, rc2;

    options(bits, &o, &now);
    rc = acl_jwt_verify(keys, &o, tok, n, now, &r);
    CHECK(ERR_peek_error() == 0);
    CHECK(rc == 0 || rc == -1);
    if (rc < 0) {
        CHECK(r.err > ACL_JWT_OK && r.err <= ACL_JWT_MISSING && r.why != NULL);
        if (r.err == ACL_JWT_MISSING)
            CHECK((o.n_require && strcmp(r.why, "missing claim exp") == 0) ||
                  (o.consumer_claim && strcmp(r.why, "missing claim sub") == 0));
        else
            CHECK(strcmp(r.why, reasons[r.err]) == 0);
        CHECK(r.subject[0] == '\0');
    } else {
        CHECK(r.err == ACL_JWT_OK && looks_compact(tok, n) && n <= ACL_JWT_MAX_TOKEN);
        CHECK(memchr(r.subject, '\0', sizeof(r.subject)) != NULL);
        CHECK(r.exp == INT64_MAX || now < sat_add(r.exp, o.skew_s));
        CHECK(r.nbf == INT64_MIN || now >= sat_add(r.nbf, -o.skew_s));
        CHECK(acl_jwt_alg_name(r.alg) != NULL && (r.alg & o.algs));
        /* the cache answers for it as the verifier did (skew 30 there) */
        if (o.skew_s == 30) {
            acl_jwt_cache_put(cache, tok, n, now, &r);
            CHECK(acl_jwt_cache_get(cache, tok, n, now, &c) == 1);
            CHECK(strcmp(c.subject, r.subject) == 0 && c.exp == r.exp && c.nbf == r.nbf);
        }
    }
    rc2 = acl_jwt_verify(keys, &o, tok, n, now, &r2);
    CHECK(rc2 == rc && r2.err == r.err && strcmp(r2.subject, r.subject) == 0);
    return r.err;
}

static void b64url(const unsigned char *in, size_t n, char *out)
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

/* 's': header '\n' claims, signed with our HMAC key under HS256. */
static void sign_and_verify(const char *p, size_t n, unsigned bits)
{
    static char tok[TOKMAX];
    struct flt_json_tok t[64];
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int ml = 0;
    const char *nl = memchr(p, '\n', n);
    size_t hn = nl ? (size_t)(nl - p) : n, cn = nl ? n - hn - 1 : 0, len;
    int err, nt, i, ours = 0;

    if (hn > ACL_JWT_MAX_TOKEN || cn > ACL_JWT_MAX_TOKEN)
        return;
    b64url((const unsigned char *)p, hn, tok);
    len = strlen(tok);
    tok[len++] = '.';
    b64url((const unsigned char *)p + hn + 1, cn, tok + len);
    len = strlen(tok);
    CHECK(HMAC(EVP_sha256(), secret, sizeof(secret), (const unsigned char *)tok, len, mac,
               &ml) != NULL);
    tok[len++] = '.';
    b64url(mac, ml, tok + len);
    len = strlen(tok);
    err = verify(tok, len, bits);

    /* a header {"alg":"HS256"} (+ our kid, and nothing we refuse) that
     * parses is never refused for its key or signature */
    nt = flt_json_parse(p, hn, t, 64);
    if (nt > 0 && t[0].type == FLT_JSON_OBJECT && len <= ACL_JWT_MAX_TOKEN &&
        hn <= ACL_JWT_MAX_PART && hn > 0) {
        i = flt_json_get(p, t, 0, "alg");
        ours = i >= 0 && flt_json_eq(p, t, i, "HS256", 5) &&
               flt_json_get(p, t, 0, "crit") == -ENOENT;
        i = flt_json_get(p, t, 0, "kid");
        ours = ours && (i == -ENOENT || (i >= 0 && flt_json_eq(p, t, i, "hs", 2)));
    }
    if (ours)
        CHECK(err != ACL_JWT_NO_KEY && err != ACL_JWT_BAD_SIG && err != ACL_JWT_ALG);
}

/* ---- JWKS ---- */

static void jwks(const char *p, size_t n)
{
    struct acl_jwt_keys *ks = acl_jwt_keys_new();
    char err[256];
    int rc;

    CHECK(ks != NULL);
    memset(err, 'x', sizeof(err));
    rc = acl_jwt_keys_add_jwks(ks, p, n, err, sizeof(err));
    CHECK(ERR_peek_error() == 0);
    CHECK(rc == 0 || rc == -1);
    if (rc < 0)
        CHECK(acl_jwt_keys_count(ks) == 0 && memchr(err, '\0', sizeof(err)) && err[0] != '\0');
    else
        CHECK(acl_jwt_keys_count(ks) <= ACL_JWKS_MAX_KEYS);
    acl_jwt_keys_free(ks);
}

/* ---- JSON ---- */

static struct flt_json_tok jt[NTOK], sub[NTOK];

static void json_value(const char *p, size_t n, int i)
{
    char buf[256];
    int64_t v;
    long l;
    int rc, b;

    (void)n;
    switch (jt[i].type) {
    case FLT_JSON_STRING:
        l = flt_json_string(p, jt, i, buf, sizeof(buf));
        CHECK(l == -ENOSPC || (l >= 0 && (size_t)l <= jt[i].end - jt[i].start - 2 &&
                                buf[l] == '\0'));
        if (l >= 0)
            CHECK(flt_json_eq(p, jt, i, buf, (size_t)l));
        break;
    case FLT_JSON_NUMBER:
        rc = flt_json_int(p, jt, i, &v);
        CHECK(rc == 0 || rc == -ERANGE);
        break;
    case FLT_JSON_TRUE:
    case FLT_JSON_FALSE:
        CHECK(flt_json_bool(jt, i, &b) == 0 && b == (jt[i].type == FLT_JSON_TRUE));
        break;
    default:
        CHECK(flt_json_bool(jt, i, &b) == -EINVAL);
    }
}

static void json(const char *p, size_t n)
{
    int nt = flt_json_parse(p, n, jt, NTOK), i, k, m, again, found;
    char key[128];

    CHECK(nt > 0 || nt == -EINVAL || nt == -ENOSPC || nt == -ELOOP);
    if (nt <= 0)
        return;
    CHECK(jt[0].next == (uint32_t)nt);
    for (i = 0; i < nt; i++) {
        CHECK(jt[i].start < jt[i].end && jt[i].end <= n);
        CHECK(jt[i].next > (uint32_t)i && jt[i].next <= (uint32_t)nt);
        if (jt[i].type == FLT_JSON_OBJECT || jt[i].type == FLT_JSON_ARRAY) {
            /* the children fill the subtree exactly */
            for (m = 0, k = i + 1; m < (int)jt[i].size; m++) {
                if (jt[i].type == FLT_JSON_OBJECT) {
                    CHECK(jt[k].type == FLT_JSON_STRING && jt[k].next == (uint32_t)k + 1);
                    k++;
                }
                CHECK(jt[k].start >= jt[i].start && jt[k].end <= jt[i].end);
                k = (int)jt[k].next;
            }
            CHECK(k == (int)jt[i].next);
        }
        /* the value's text alone parses to the same subtree */
        again = flt_json_parse(p + jt[i].start, jt[i].end - jt[i].start, sub, NTOK);
        CHECK(again == (int)(jt[i].next - (uint32_t)i) && sub[0].type == jt[i].type &&
              sub[0].size == jt[i].size);
        json_value(p, n, i);
    }
    /* lookups agree with a scan of the top-level keys */
    if (jt[0].type == FLT_JSON_OBJECT)
        for (m = 0, k = 1; m < (int)jt[0].size; m++, k = (int)jt[k + 1].next) {
            long l = flt_json_string(p, jt, k, key, sizeof(key));
            int j, c;

            if (l < 0 || strlen(key) != (size_t)l)
                continue;
            for (c = 0, j = 1, found = -1; j < nt && c < (int)jt[0].size;
                 c++, j = (int)jt[j + 1].next)
                if (flt_json_eq(p, jt, j, key, (size_t)l))
                    found = found == -1 ? j + 1 : -EEXIST;
            CHECK(flt_json_get(p, jt, 0, key) == found);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data + 2;
    size_t n = size - 2;
    int mode;

    if (size < 2)
        return 0;
    switch (data[0]) {
    case 'v': mode = 0; break;
    case 's': mode = 1; break;
    case 'k': mode = 2; break;
    case 'j': mode = 3; break;
    default: mode = data[0] % 4; break;
    }
    if (mode == 0)
        verify(p, n, data[1]);
    else if (mode == 1)
        sign_and_verify(p, n, data[1]);
    else if (mode == 2)
        jwks(p, n);
    else
        json(p, n);
    return 0;
}
