/*
 * jwt_cache.c - verified tokens kept until they expire (jwt.h): an RSA
 * verification costs tens of microseconds, a hit one SHA-256 of the token
 * and a few compares. A fixed table, open addressing over
 * ACL_JWT_CACHE_PROBES slots from the hash: a lookup costs the same
 * however full the table is, and memory is fixed at creation.
 *
 * The key is the SHA-256 of the whole token, so a hit is the very token
 * that verified (a 256-bit preimage, not a 64-bit hash an attacker could
 * aim at). Nothing here knows the key set or the options: the caller makes
 * a new cache when either changes (a reload).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "acl/jwt.h"

struct cache_entry {
    unsigned char h[SHA256_DIGEST_LENGTH];
    int64_t exp, nbf;
    unsigned alg;
    uint8_t used;
    char subject[sizeof(((struct acl_jwt_result *)0)->subject)];
};

struct acl_jwt_cache {
    struct cache_entry *e;
    size_t n, used;
    int64_t skew;
    EVP_MD *md;
    EVP_MD_CTX *ctx;
    unsigned long long hits, misses, replaced;
};

struct acl_jwt_cache *acl_jwt_cache_new(size_t n, int64_t skew_s)
{
    struct acl_jwt_cache *c;

    if (n == 0 || n > ACL_JWT_CACHE_MAX || skew_s < 0)
        return NULL;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->e = calloc(n, sizeof(*c->e));
    c->md = EVP_MD_fetch(NULL, "SHA256", NULL);
    c->ctx = EVP_MD_CTX_new();
    if (c->e == NULL || c->md == NULL || c->ctx == NULL) {
        acl_jwt_cache_free(c);
        return NULL;
    }
    c->n = n;
    c->skew = skew_s;
    return c;
}

void acl_jwt_cache_free(struct acl_jwt_cache *c)
{
    if (c == NULL)
        return;
    free(c->e);
    EVP_MD_free(c->md);
    EVP_MD_CTX_free(c->ctx);
    free(c);
}

/* The token's hash, and its first slot. 0, or -1 when OpenSSL fails
 * (then the cache is passed by: a miss, nothing kept). */
static int hash(struct acl_jwt_cache *c, const char *tok, size_t len,
                unsigned char *h, size_t *slot)
{
    unsigned int hl = 0;
    uint64_t v;

    if (EVP_DigestInit_ex2(c->ctx, c->md, NULL) != 1 ||
        EVP_DigestUpdate(c->ctx, tok, len) != 1 ||
        EVP_DigestFinal_ex(c->ctx, h, &hl) != 1 || hl != SHA256_DIGEST_LENGTH)
        return -1;
    memcpy(&v, h, sizeof(v));
    *slot = (size_t)(v % c->n);
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

/* Still valid at now: the verifier's rule (jwt.c read_claims). */
static int live(const struct acl_jwt_cache *c, const struct cache_entry *e, int64_t now)
{
    return now < sat_add(e->exp, c->skew) && now >= sat_add(e->nbf, -c->skew);
}

int acl_jwt_cache_get(struct acl_jwt_cache *c, const char *tok, size_t len,
                      int64_t now_s, struct acl_jwt_result *r)
{
    unsigned char h[SHA256_DIGEST_LENGTH];
    struct cache_entry *e;
    size_t slot, p;

    if (hash(c, tok, len, h, &slot) < 0)
        goto miss;
    for (p = 0; p < ACL_JWT_CACHE_PROBES && p < c->n; p++) {
        e = &c->e[(slot + p) % c->n];
        if (!e->used || memcmp(e->h, h, sizeof(h)) != 0)
            continue;
        if (now_s >= sat_add(e->exp, c->skew)) {
            /* expired: the verifier says so, and the slot is free again */
            e->used = 0;
            c->used--;
            goto miss;
        }
        if (!live(c, e, now_s))
            goto miss;          /* not yet valid (the clock went back) */
        r->err = ACL_JWT_OK;
        r->why = NULL;
        r->alg = e->alg;
        r->exp = e->exp;
        r->nbf = e->nbf;
        memcpy(r->subject, e->subject, sizeof(r->subject));
        r->whybuf[0] = '\0';
        c->hits++;
        return 1;
    }
miss:
    c->misses++;
    return 0;
}

void acl_jwt_cache_put(struct acl_jwt_cache *c, const char *tok, size_t len,
                       int64_t now_s, const struct acl_jwt_result *r)
{
    unsigned char h[SHA256_DIGEST_LENGTH];
    struct cache_entry *e, *pick = NULL;
    size_t slot, p;
    int pick_free = 0;

    if (r->err != ACL_JWT_OK || hash(c, tok, len, h, &slot) < 0)
        return;
    for (p = 0; p < ACL_JWT_CACHE_PROBES && p < c->n; p++) {
        e = &c->e[(slot + p) % c->n];
        if (e->used && memcmp(e->h, h, sizeof(h)) == 0) {
            pick = e;           /* the same token again */
            break;
        }
        if (!e->used || !live(c, e, now_s)) {
            if (!pick_free) {
                pick = e;       /* the first free or outdated slot */
                pick_free = 1;
            }
            continue;
        }
        if (!pick_free && (pick == NULL || e->exp < pick->exp))
            pick = e;           /* else the one nearest to its expiry */
    }
    if (pick->used && memcmp(pick->h, h, sizeof(h)) != 0 && live(c, pick, now_s))
        c->replaced++;
    if (!pick->used)
        c->used++;
    memcpy(pick->h, h, sizeof(h));
    pick->exp = r->exp;
    pick->nbf = r->nbf;
    pick->alg = r->alg;
    memcpy(pick->subject, r->subject, sizeof(pick->subject));
    pick->used = 1;
}

void acl_jwt_cache_get_stats(const struct acl_jwt_cache *c, struct acl_jwt_cache_stats *st)
{
    st->entries = c->used;
    st->capacity = c->n;
    st->hits = c->hits;
    st->misses = c->misses;
    st->replaced = c->replaced;
}
