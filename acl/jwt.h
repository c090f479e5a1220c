/*
 * jwt.h - JSON Web Tokens for the API gateway: JWS compact serialization
 * (RFC 7515) verified with OpenSSL 3 (EVP only), the JWT claims (RFC 7519)
 * checked, keys from PEM, HMAC secrets and JWKS (RFC 7517), and a cache of
 * verified tokens. Pure: no sockets, no clock (the caller gives the time),
 * no file I/O (the caller reads the files and hands over their bytes).
 *
 * Keys. A key set is built at config load and read-only after, so that
 * workers and requests share it without locks. Each key has a type that
 * alone decides which algorithms it may verify:
 *   HMAC secret        HS256 (>= 32 bytes), HS384 (>= 48), HS512 (>= 64):
 *                      RFC 7518 3.2, a key at least as long as the hash
 *   RSA (>= 2048 bits) RS256 RS384 RS512 PS256
 *   EC P-256 / P-384   ES256 / ES384
 *   Ed25519            EdDSA
 * so a public key can never be used as an HMAC secret (the classic
 * RS256 -> HS256 confusion): an HS token whose kid names an RSA key gets
 * "algorithm not allowed". A JWKS key's "alg" narrows it to that one
 * algorithm; its "use" (or "key_ops") marking it for encryption only
 * leaves it out of the set.
 *
 * Which keys a token tries. A token with a "kid" uses the keys of that kid
 * (kids are unique in a set), or, when no key has it, the keys without a
 * kid. A token without a kid tries every key. Of those, the keys whose
 * type fits the token's alg are tried in the order they were added, at
 * most ACL_JWT_MAX_TRIES of them (a token cannot make us run 300 RSA
 * verifications). None at all -> "no key for the token"; some, but none
 * fitting the alg -> "algorithm not allowed".
 *
 * The header: "alg" required ("none", in any case, is never accepted:
 * it is not an algorithm here); "kid" optional (a string); "typ" and
 * "cty" ignored (lenient: IdPs write "JWT", "at+jwt", or nothing);
 * "crit" present -> refused as malformed (we understand no extension,
 * and RFC 7515 4.1.11 says a recipient that does not must refuse). A
 * member the verifier reads that appears twice makes the token malformed.
 *
 * Claims, once the signature holds: "exp" and "nbf" are NumericDates
 * (JSON numbers, fractions floored), any other type is malformed; the
 * token is valid while now < exp + skew (RFC 7519 4.1.4: "before") and
 * from nbf - skew on (4.1.5: "after or equal"). "iss" must equal the
 * issuer and "aud" (a string, or an array of them) contain the audience,
 * when those are set. Every claim in `require` must be present. The
 * consumer claim's value must be a string without NUL bytes of at most
 * 255 bytes.
 */
#ifndef ACL_JWT_H
#define ACL_JWT_H

#include <stddef.h>
#include <stdint.h>

#include "acl/b64.h"

/* The algorithms, one bit each (acl_jwt_opts.algs). */
#define ACL_JWT_HS256 0x001u
#define ACL_JWT_HS384 0x002u
#define ACL_JWT_HS512 0x004u
#define ACL_JWT_RS256 0x008u
#define ACL_JWT_RS384 0x010u
#define ACL_JWT_RS512 0x020u
#define ACL_JWT_PS256 0x040u
#define ACL_JWT_ES256 0x080u
#define ACL_JWT_ES384 0x100u
#define ACL_JWT_EDDSA 0x200u
#define ACL_JWT_ALGS_ALL 0x3ffu

/* Bounds. */
#define ACL_JWT_MAX_TOKEN 8192      /* the compact token's bytes */
#define ACL_JWT_MAX_PART 4096       /* header or claims, decoded */
#define ACL_JWT_MAX_KEYS 256        /* in a set */
#define ACL_JWT_MAX_TRIES 8         /* keys verified per token */
#define ACL_JWT_MAX_KID 255
#define ACL_JWKS_MAX_LEN (256 * 1024)
#define ACL_JWKS_MAX_KEYS 64

/* The bit of an algorithm name ("RS256": exact case, as JWS writes them);
 * 0 when unknown ("none" is unknown). */
unsigned acl_jwt_alg_parse(const char *name);
/* The name of one bit, NULL when not exactly one known bit. */
const char *acl_jwt_alg_name(unsigned alg);

struct acl_jwt_keys;

/* An empty set; NULL when out of memory. */
struct acl_jwt_keys *acl_jwt_keys_new(void);
/* NULL: no-op. */
void acl_jwt_keys_free(struct acl_jwt_keys *ks);

/*
 * Add a key. kid NULL or "" adds a key without a kid; a kid already in
 * the set is refused. On failure -1 with err filled (a message without a
 * file name: the caller prefixes file:line) and the set unchanged.
 *
 *  _add_pem     a public key in PEM: "PUBLIC KEY" (RSA, EC P-256/P-384,
 *               Ed25519) or "CERTIFICATE" (its key). Private keys, other
 *               curves, RSA under 2048 bits are refused.
 *  _add_secret  an HMAC secret: the bytes as they are (1..1024 bytes;
 *               under 32 it verifies nothing, so it is refused).
 *  _add_jwks    a JWKS document {"keys": [...]} of at most
 *               ACL_JWKS_MAX_LEN bytes and ACL_JWKS_MAX_KEYS keys: kty
 *               "RSA" (n, e), "EC" (crv P-256/P-384, x, y), "OKP" (crv
 *               Ed25519, x), "oct" (k); "kid", "alg", "use", "key_ops"
 *               honoured. All its keys are added, or none.
 */
int acl_jwt_keys_add_pem(struct acl_jwt_keys *ks, const char *kid, const char *pem,
                         size_t len, char *err, size_t errlen);
int acl_jwt_keys_add_secret(struct acl_jwt_keys *ks, const char *kid, const void *secret,
                            size_t len, char *err, size_t errlen);
int acl_jwt_keys_add_jwks(struct acl_jwt_keys *ks, const char *json, size_t len,
                          char *err, size_t errlen);
size_t acl_jwt_keys_count(const struct acl_jwt_keys *ks);

struct acl_jwt_opts {
    unsigned algs;                  /* ACL_JWT_* accepted; 0 = none */
    const char *issuer;             /* NULL or "": iss not checked */
    const char *audience;           /* NULL or "": aud not checked */
    int64_t skew_s;                 /* clock skew allowed, >= 0 */
    const char *const *require;     /* claims that must be present */
    size_t n_require;
    const char *consumer_claim;     /* NULL or "": no subject wanted */
};

/* Why a token was refused (acl_jwt_result.err); why holds the text. */
enum acl_jwt_err {
    ACL_JWT_OK = 0,
    ACL_JWT_MALFORMED,              /* "malformed token" */
    ACL_JWT_ALG,                    /* "algorithm not allowed" */
    ACL_JWT_NO_KEY,                 /* "no key for the token" */
    ACL_JWT_BAD_SIG,                /* "bad signature" */
    ACL_JWT_EXPIRED,                /* "token expired" */
    ACL_JWT_NOT_YET,                /* "token not yet valid" */
    ACL_JWT_ISSUER,                 /* "wrong issuer" */
    ACL_JWT_AUDIENCE,               /* "wrong audience" */
    ACL_JWT_MISSING                 /* "missing claim <name>" */
};

struct acl_jwt_result {
    int err;                        /* enum acl_jwt_err */
    const char *why;                /* static text, or whybuf: do not copy
                                     * the struct and keep why */
    unsigned alg;                   /* the token's, when known */
    char subject[256];              /* the consumer claim's value ("" if none) */
    int64_t exp, nbf;               /* INT64_MAX / INT64_MIN when absent */
    char whybuf[96];
};

/*
 * Verify the compact token tok[0, len) (the bytes after "Bearer ") at
 * time now_s (Unix seconds). 0 when valid (r->subject, exp, nbf set);
 * -1 when refused, r->err and r->why say why. Never fails otherwise: an
 * internal OpenSSL failure refuses the token ("bad signature") and leaves
 * no error on OpenSSL's queue.
 */
int acl_jwt_verify(const struct acl_jwt_keys *ks, const struct acl_jwt_opts *o,
                   const char *tok, size_t len, int64_t now_s, struct acl_jwt_result *r);

/* acl_b64url_decode: acl/b64.h */

/*
 * The cache of verified tokens (one per worker and per key set: a reload
 * makes a new one; no locks). A fixed table of at least n entries keyed
 * by the SHA-256 of the whole token, holding its subject, exp and nbf.
 * An entry answers while now < exp + skew and now >= nbf - skew (the
 * verifier's own rule), so a hit never outlives the token. Lookups probe
 * ACL_JWT_CACHE_PROBES slots; a new token takes a free or outdated slot
 * among them, else the one nearest to its expiry. Only successful
 * verifications go in.
 */
#define ACL_JWT_CACHE_PROBES 8
#define ACL_JWT_CACHE_MAX (1u << 22)

struct acl_jwt_cache;

/* n entries (1..ACL_JWT_CACHE_MAX, about 300 bytes each: 10000 take
 * 3 MB), skew_s the verifier's; NULL when n is out of range or out of
 * memory. */
struct acl_jwt_cache *acl_jwt_cache_new(size_t n, int64_t skew_s);
void acl_jwt_cache_free(struct acl_jwt_cache *c);
/* 1 and r->subject/exp/nbf (r->err ACL_JWT_OK) on a hit, 0 on a miss. */
int acl_jwt_cache_get(struct acl_jwt_cache *c, const char *tok, size_t len,
                      int64_t now_s, struct acl_jwt_result *r);
/* Keep a token that acl_jwt_verify just accepted (r its result). */
void acl_jwt_cache_put(struct acl_jwt_cache *c, const char *tok, size_t len,
                       int64_t now_s, const struct acl_jwt_result *r);

struct acl_jwt_cache_stats {
    size_t entries, capacity;
    unsigned long long hits, misses, replaced;  /* replaced: live entries dropped */
};
void acl_jwt_cache_get_stats(const struct acl_jwt_cache *c, struct acl_jwt_cache_stats *st);

#endif
