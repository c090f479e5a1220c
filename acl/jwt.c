/*
 * jwt.c - JWS compact tokens verified and their JWT claims checked
 * (jwt.h). The order is fixed, and so is the first reason a token gets:
 *
 *   split in three, each part strict base64url, header and claims JSON
 *     -> "malformed token"
 *   header alg: "none", unknown, not accepted       -> "algorithm not allowed"
 *   keys of the kid (or all): none                  -> "no key for the token"
 *     none whose type fits alg                      -> "algorithm not allowed"
 *     no signature holds                            -> "bad signature"
 *   claims (only once signed): exp, nbf, iss, aud, required, consumer
 *
 * The claims are read only after the signature holds: what an attacker
 * writes there is never looked at. The header is read before (it names
 * the key), bounded to ACL_JWT_MAX_PART bytes and HDR_TOKENS values.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>

#include "acl/jwt_int.h"
#include "filters/json.h"

#define HDR_TOKENS 128
#define CLAIM_TOKENS 1024
#define MAX_SIG 1024                /* an 8192-bit RSA signature */

static const struct {
    const char *name;
    unsigned bit;
} algs[] = {
    { "HS256", ACL_JWT_HS256 }, { "HS384", ACL_JWT_HS384 }, { "HS512", ACL_JWT_HS512 },
    { "RS256", ACL_JWT_RS256 }, { "RS384", ACL_JWT_RS384 }, { "RS512", ACL_JWT_RS512 },
    { "PS256", ACL_JWT_PS256 }, { "ES256", ACL_JWT_ES256 }, { "ES384", ACL_JWT_ES384 },
    { "EdDSA", ACL_JWT_EDDSA },
};
#define NALGS (sizeof(algs) / sizeof(algs[0]))

unsigned acl_jwt_alg_parse(const char *name)
{
    size_t i;

    for (i = 0; i < NALGS; i++)
        if (strcmp(name, algs[i].name) == 0)
            return algs[i].bit;
    return 0;
}

const char *acl_jwt_alg_name(unsigned alg)
{
    size_t i;

    for (i = 0; i < NALGS; i++)
        if (alg == algs[i].bit)
            return algs[i].name;
    return NULL;
}

/* ---- signatures ---- */

/* The digests, fetched once: an implicit fetch per verification is a
 * lookup in OpenSSL 3's provider tables every time. */
static EVP_MD *md_sha[3];
static pthread_once_t md_once = PTHREAD_ONCE_INIT;

static void md_fetch(void)
{
    md_sha[0] = EVP_MD_fetch(NULL, "SHA256", NULL);
    md_sha[1] = EVP_MD_fetch(NULL, "SHA384", NULL);
    md_sha[2] = EVP_MD_fetch(NULL, "SHA512", NULL);
}

static const EVP_MD *alg_md(unsigned alg)
{
    pthread_once(&md_once, md_fetch);
    if (alg & (ACL_JWT_HS256 | ACL_JWT_RS256 | ACL_JWT_PS256 | ACL_JWT_ES256))
        return md_sha[0] != NULL ? md_sha[0] : EVP_sha256();
    if (alg & (ACL_JWT_HS384 | ACL_JWT_RS384 | ACL_JWT_ES384))
        return md_sha[1] != NULL ? md_sha[1] : EVP_sha384();
    if (alg & (ACL_JWT_HS512 | ACL_JWT_RS512))
        return md_sha[2] != NULL ? md_sha[2] : EVP_sha512();
    return NULL;                /* EdDSA: no separate digest */
}

/* One DER INTEGER of the unsigned big-endian v[0, n) at out. */
static size_t der_uint(unsigned char *out, const unsigned char *v, size_t n)
{
    size_t pad;

    while (n > 1 && v[0] == 0) {
        v++;
        n--;
    }
    pad = (v[0] & 0x80) ? 1 : 0;
    out[0] = 0x02;
    out[1] = (unsigned char)(n + pad);
    out[2] = 0;
    memcpy(out + 2 + pad, v, n);
    return 2 + pad + n;
}

/* JWS ECDSA signatures are R || S, each the curve's size (RFC 7518
 * 3.4); EVP wants an ECDSA-Sig-Value in DER. Lengths other than 2 x size
 * are refused, not padded. */
static size_t ecdsa_der(const unsigned char *sig, size_t half, unsigned char *der)
{
    size_t n = 2;

    n += der_uint(der + n, sig, half);
    n += der_uint(der + n, sig + half, half);
    der[0] = 0x30;
    der[1] = (unsigned char)(n - 2);    /* at most 2 x (3 + 48) < 128 */
    return n;
}

static int verify_key(const struct jwt_key *k, unsigned alg, const char *data, size_t n,
                      const unsigned char *sig, size_t slen)
{
    unsigned char mac[EVP_MAX_MD_SIZE], der[2 + 2 * (3 + 48)];
    unsigned int maclen = 0;
    const EVP_MD *md = alg_md(alg);
    EVP_MD_CTX *ctx = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    int ok = 0;

    if (k->kty == JWT_KTY_HMAC) {
        if (HMAC(md, k->secret, (int)k->secret_len, (const unsigned char *)data, n,
                 mac, &maclen) == NULL)
            goto out;
        ok = slen == maclen && CRYPTO_memcmp(mac, sig, maclen) == 0;
        OPENSSL_cleanse(mac, sizeof(mac));
        goto out;
    }
    if (k->kty == JWT_KTY_EC256 || k->kty == JWT_KTY_EC384) {
        size_t half = k->kty == JWT_KTY_EC256 ? 32 : 48;

        if (slen != 2 * half)
            goto out;
        slen = ecdsa_der(sig, half, der);
        sig = der;
    } else if (k->kty == JWT_KTY_ED25519) {
        if (slen != 64)
            goto out;
    } else if (slen != (size_t)EVP_PKEY_get_size(k->pkey)) {
        goto out;               /* RSA: exactly the modulus' size */
    }
    ctx = EVP_MD_CTX_new();
    if (ctx == NULL || EVP_DigestVerifyInit(ctx, &pctx, md, NULL, k->pkey) != 1)
        goto out;
    if (alg == ACL_JWT_PS256 &&
        (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
         EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) != 1))
        goto out;
    ok = EVP_DigestVerify(ctx, sig, slen, (const unsigned char *)data, n) == 1;
out:
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return ok;
}

/* ---- the token ---- */

static int refuse(struct acl_jwt_result *r, int err)
{
    static const char *const why[] = {
        [ACL_JWT_MALFORMED] = "malformed token",
        [ACL_JWT_ALG] = "algorithm not allowed",
        [ACL_JWT_NO_KEY] = "no key for the token",
        [ACL_JWT_BAD_SIG] = "bad signature",
        [ACL_JWT_EXPIRED] = "token expired",
        [ACL_JWT_NOT_YET] = "token not yet valid",
        [ACL_JWT_ISSUER] = "wrong issuer",
        [ACL_JWT_AUDIENCE] = "wrong audience",
        [ACL_JWT_MISSING] = "missing claim",
    };

    r->err = err;
    r->why = why[err];
    r->subject[0] = '\0';
    return -1;
}

static int missing(struct acl_jwt_result *r, const char *claim)
{
    refuse(r, ACL_JWT_MISSING);
    snprintf(r->whybuf, sizeof(r->whybuf), "missing claim %.80s", claim);
    r->why = r->whybuf;
    return -1;
}

/* The keys token tries (see jwt.h), then the signature. 0 or refused. */
static int check_signature(const struct acl_jwt_keys *ks, const char *kid, int with_kid,
                           unsigned alg, const char *data, size_t n,
                           const unsigned char *sig, size_t slen, struct acl_jwt_result *r)
{
    size_t i, cand = 0, tried = 0;
    int by_kid = 0;

    if (with_kid)
        for (i = 0; i < ks->n && !by_kid; i++)
            by_kid = ks->k[i].has_kid && strcmp(ks->k[i].kid, kid) == 0;
    for (i = 0; i < ks->n && tried < ACL_JWT_MAX_TRIES; i++) {
        const struct jwt_key *k = &ks->k[i];

        if (by_kid ? !(k->has_kid && strcmp(k->kid, kid) == 0) :
            with_kid ? k->has_kid : 0)
            continue;
        cand++;
        if (!(k->algs & alg))
            continue;
        tried++;
        if (verify_key(k, alg, data, n, sig, slen))
            return 0;
    }
    return refuse(r, cand == 0 ? ACL_JWT_NO_KEY : tried == 0 ? ACL_JWT_ALG : ACL_JWT_BAD_SIG);
}

/* The header (its JSON in h): alg and kid. 0 or refused. */
static int read_header(const char *h, size_t hn, const struct acl_jwt_opts *o,
                       unsigned *alg, char *kid, int *with_kid, struct acl_jwt_result *r)
{
    struct flt_json_tok t[HDR_TOKENS];
    char name[16];
    long n;
    int i;

    if (flt_json_parse(h, hn, t, HDR_TOKENS) < 1 || t[0].type != FLT_JSON_OBJECT)
        return refuse(r, ACL_JWT_MALFORMED);
    i = flt_json_get(h, t, 0, "alg");
    if (i < 0 || t[i].type != FLT_JSON_STRING)
        return refuse(r, ACL_JWT_MALFORMED);
    /* "none" in any case is named here, not just left unknown: the day
     * acl_jwt_alg_parse learns a name, "none" must not slip in with it */
    n = flt_json_string(h, t, i, name, sizeof(name));
    if (n < 0 || strlen(name) != (size_t)n || strcasecmp(name, "none") == 0 ||
        (*alg = acl_jwt_alg_parse(name)) == 0 || !(*alg & o->algs))
        return refuse(r, ACL_JWT_ALG);
    r->alg = *alg;
    if (flt_json_get(h, t, 0, "crit") != -ENOENT)
        return refuse(r, ACL_JWT_MALFORMED);
    i = flt_json_get(h, t, 0, "kid");
    if (i == -EEXIST)
        return refuse(r, ACL_JWT_MALFORMED);
    *with_kid = i >= 0;
    if (i >= 0) {
        n = flt_json_string(h, t, i, kid, ACL_JWT_MAX_KID + 1);
        if (n < 0 || strlen(kid) != (size_t)n)
            return refuse(r, ACL_JWT_MALFORMED);   /* not a string, too long, NUL */
    }
    return 0;
}

static int64_t sat_add(int64_t a, int64_t b)
{
    if (b > 0 && a > INT64_MAX - b)
        return INT64_MAX;
    if (b < 0 && a < INT64_MIN - b)
        return INT64_MIN;
    return a + b;
}

/* A NumericDate claim: 0 (*has 0 when absent: *v untouched) or -1
 * (malformed). */
static int numeric_date(const char *c, const struct flt_json_tok *t, const char *name,
                        int64_t *v, int *has)
{
    int i = flt_json_get(c, t, 0, name);

    *has = i >= 0;
    if (i == -ENOENT)
        return 0;
    if (i < 0 || flt_json_int(c, t, i, v) < 0)
        return -1;
    return 0;
}

static int aud_has(const char *c, const struct flt_json_tok *t, int i, const char *aud)
{
    size_t n = strlen(aud);
    uint32_t m;
    int e;

    if (t[i].type == FLT_JSON_STRING)
        return flt_json_eq(c, t, i, aud, n);
    if (t[i].type != FLT_JSON_ARRAY)
        return 0;
    for (m = 0, e = i + 1; m < t[i].size; m++, e = (int)t[e].next)
        if (flt_json_eq(c, t, e, aud, n))
            return 1;
    return 0;
}

/* The claims (their JSON in c), once the signature holds. */
static int read_claims(const char *c, size_t cn, const struct acl_jwt_opts *o,
                       int64_t now, struct acl_jwt_result *r)
{
    struct flt_json_tok t[CLAIM_TOKENS];
    size_t k;
    long n;
    int i, has_exp, has_nbf;

    if (flt_json_parse(c, cn, t, CLAIM_TOKENS) < 1 || t[0].type != FLT_JSON_OBJECT)
        return refuse(r, ACL_JWT_MALFORMED);
    if (numeric_date(c, t, "exp", &r->exp, &has_exp) < 0 ||
        numeric_date(c, t, "nbf", &r->nbf, &has_nbf) < 0)
        return refuse(r, ACL_JWT_MALFORMED);
    if (has_exp && now >= sat_add(r->exp, o->skew_s))
        return refuse(r, ACL_JWT_EXPIRED);
    if (has_nbf && now < sat_add(r->nbf, -o->skew_s))
        return refuse(r, ACL_JWT_NOT_YET);
    if (o->issuer != NULL && o->issuer[0] != '\0') {
        i = flt_json_get(c, t, 0, "iss");
        if (i == -EEXIST)
            return refuse(r, ACL_JWT_MALFORMED);
        if (i < 0 || !flt_json_eq(c, t, i, o->issuer, strlen(o->issuer)))
            return refuse(r, ACL_JWT_ISSUER);
    }
    if (o->audience != NULL && o->audience[0] != '\0') {
        i = flt_json_get(c, t, 0, "aud");
        if (i == -EEXIST)
            return refuse(r, ACL_JWT_MALFORMED);
        if (i < 0 || !aud_has(c, t, i, o->audience))
            return refuse(r, ACL_JWT_AUDIENCE);
    }
    for (k = 0; k < o->n_require; k++) {
        i = flt_json_get(c, t, 0, o->require[k]);
        if (i == -EEXIST)
            return refuse(r, ACL_JWT_MALFORMED);
        if (i < 0)
            return missing(r, o->require[k]);
    }
    if (o->consumer_claim != NULL && o->consumer_claim[0] != '\0') {
        i = flt_json_get(c, t, 0, o->consumer_claim);
        if (i == -EEXIST)
            return refuse(r, ACL_JWT_MALFORMED);
        if (i < 0 || t[i].type != FLT_JSON_STRING)
            return missing(r, o->consumer_claim);
        n = flt_json_string(c, t, i, r->subject, sizeof(r->subject));
        if (n < 0 || strlen(r->subject) != (size_t)n)
            return refuse(r, ACL_JWT_MALFORMED);
    }
    return 0;
}

int acl_jwt_verify(const struct acl_jwt_keys *ks, const struct acl_jwt_opts *o,
                   const char *tok, size_t len, int64_t now_s, struct acl_jwt_result *r)
{
    unsigned char hdr[ACL_JWT_MAX_PART], claims[ACL_JWT_MAX_PART], sig[MAX_SIG];
    char kid[ACL_JWT_MAX_KID + 1];
    const char *d1, *d2;
    long hn, cn, sn;
    unsigned alg = 0;
    int with_kid = 0;

    r->err = ACL_JWT_OK;
    r->why = NULL;
    r->alg = 0;
    r->subject[0] = '\0';
    r->exp = INT64_MAX;
    r->nbf = INT64_MIN;
    r->whybuf[0] = '\0';
    if (len == 0 || len > ACL_JWT_MAX_TOKEN ||
        (d1 = memchr(tok, '.', len)) == NULL ||
        (d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - tok))) == NULL ||
        memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - tok)) != NULL)
        return refuse(r, ACL_JWT_MALFORMED);
    hn = acl_b64url_decode(tok, (size_t)(d1 - tok), hdr, sizeof(hdr));
    cn = acl_b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), claims, sizeof(claims));
    sn = acl_b64url_decode(d2 + 1, len - (size_t)(d2 + 1 - tok), sig, sizeof(sig));
    /* an empty signature is not malformed: "alg":"none" tokens have one,
     * and they are refused for their alg; any other alg fails to verify */
    if (hn <= 0 || cn <= 0 || sn < 0)
        return refuse(r, ACL_JWT_MALFORMED);
    if (read_header((const char *)hdr, (size_t)hn, o, &alg, kid, &with_kid, r) < 0)
        return -1;
    /* the signing input is the ASCII of the first two parts, as sent */
    if (check_signature(ks, kid, with_kid, alg, tok, (size_t)(d2 - tok), sig, (size_t)sn,
                        r) < 0)
        return -1;
    return read_claims((const char *)claims, (size_t)cn, o, now_s, r);
}
