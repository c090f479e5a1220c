/*
 * auth.c - Basic proxy authentication against an htpasswd-style file of
 * crypt(3) hashes, with a bounded cache of verified credentials (see
 * auth.h).
 *
 * Users live in a chained hash table built once by acl_auth_load and never
 * changed afterwards (a reload builds a new struct acl_auth). Only hashes
 * libxcrypt rates strong are accepted (crypt_checksalt() == CRYPT_SALT_OK:
 * yescrypt, gost-yescrypt, scrypt, bcrypt, SHA-512); plain text, DES, MD5
 * and the other legacy methods are refused with a warning.
 *
 * The cache holds SHA-256(secret || user || '\0' || password), never the
 * password: the secret is random per instance, so a memory dump of the
 * cache does not give an attacker a fast (unsalted SHA-256) oracle to
 * brute-force passwords that the slow hash is there to protect. Entries sit
 * in a ring in insertion order (the oldest is evicted first, and, all
 * having the same ttl, the oldest is also the first to expire) with a
 * chained index on the key.
 *
 * One crypt call costs milliseconds on the caller's thread (yescrypt at
 * libxcrypt's default cost: about 20 ms; SHA-512 and bcrypt $2b$05: 2-3 ms); the struct crypt_data it needs (32 KiB)
 * lives in struct acl_auth, so an instance is single-threaded.
 */
#include "config.h"

#include <crypt.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "acl/auth.h"
#include "acl/auth_int.h"
#include "squidlike/chars.h"
#include "squidlike/hash.h"

#define AUTH_USER_MAX   64          /* bytes of a user name */
#define AUTH_CRED_MAX   512         /* decoded "user:password" */
#define AUTH_B64_MAX    (((AUTH_CRED_MAX + 2) / 3) * 4)
#define AUTH_LINE_MAX   1024        /* a file line, CRLF included */
#define AUTH_CACHE_MAX  (1u << 20)  /* entries */
#define AUTH_SECRET_LEN 32

struct auth_user {
    struct auth_user *next;         /* hash chain */
    unsigned line;                  /* where it was defined, for warnings */
    size_t hashlen;
    char *hash;                     /* points into name[] */
    char name[];                    /* "user\0hash\0" */
};

struct auth_ent {
    unsigned char key[SHA256_DIGEST_LENGTH];
    time_t when;                    /* verified at */
    uint32_t next;                  /* index + 1 of the next in the chain */
    unsigned char live;             /* 0: unlinked, waits to leave the ring */
};

struct acl_auth {
    struct acl_auth_stats st;       /* first: see auth_int.h */

    struct auth_user **users;       /* nbuckets chains */
    size_t nbuckets, nusers;
    char *dummy;                    /* hashed for unknown users; NULL: none */

    time_t ttl;
    struct auth_ent *ring;          /* cap entries; NULL: no cache */
    uint32_t *index;                /* ibuckets heads, index + 1, 0 = none */
    size_t cap, head, count, ibuckets;
    unsigned char secret[AUTH_SECRET_LEN];

    int (*budget)(void *);          /* may we hash now? NULL: always */
    void *budget_data;

    struct crypt_data cd;           /* crypt_rn scratch, 32 KiB */
};

_Static_assert(offsetof(struct acl_auth, st) == 0,
               "auth_int.h reads the stats at the start of struct acl_auth");

/* ---- users ------------------------------------------------------------ */

static struct auth_user **user_slot(struct acl_auth *a, const char *name, size_t n)
{
    struct auth_user **pp = &a->users[sl_fnv64(name, n) & (a->nbuckets - 1)];

    for (; *pp; pp = &(*pp)->next)
        if (strlen((*pp)->name) == n && memcmp((*pp)->name, name, n) == 0)
            break;
    return pp;
}

static int users_grow(struct acl_auth *a)
{
    size_t nb = a->nbuckets * 2, i;
    struct auth_user **t = calloc(nb, sizeof(*t));

    if (t == NULL)
        return -ENOMEM;
    for (i = 0; i < a->nbuckets; i++) {
        struct auth_user *u = a->users[i], *next;
        for (; u; u = next) {
            size_t b = sl_fnv64(u->name, strlen(u->name)) & (nb - 1);
            next = u->next;
            u->next = t[b];
            t[b] = u;
        }
    }
    free(a->users);
    a->users = t;
    a->nbuckets = nb;
    return 0;
}

/*
 * Add or replace (the last definition wins) a user. *prev_line receives the
 * line of the replaced definition, 0 when the user is new.
 * Returns 0 or -ENOMEM.
 */
static int user_put(struct acl_auth *a, const char *name, size_t n,
                    const char *hash, size_t hlen, unsigned line,
                    unsigned *prev_line)
{
    struct auth_user **pp, *u;

    *prev_line = 0;
    if (a->nusers >= a->nbuckets && users_grow(a) < 0)
        return -ENOMEM;
    u = malloc(sizeof(*u) + n + 1 + hlen + 1);
    if (u == NULL)
        return -ENOMEM;
    memcpy(u->name, name, n);
    u->name[n] = '\0';
    u->hash = u->name + n + 1;
    memcpy(u->hash, hash, hlen);
    u->hash[hlen] = '\0';
    u->hashlen = hlen;
    u->line = line;

    pp = user_slot(a, name, n);
    if (*pp) {
        *prev_line = (*pp)->line;
        u->next = (*pp)->next;
        free(*pp);
    } else {
        u->next = NULL;
        a->nusers++;
    }
    *pp = u;
    return 0;
}

/* ---- the file --------------------------------------------------------- */

static void warnf(acl_auth_warn_cb warn, void *data, const char *path,
                  unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void warnf(acl_auth_warn_cb warn, void *data, const char *path,
                  unsigned line, const char *fmt, ...)
{
    char why[256];
    va_list ap;

    if (warn == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    warn(data, path, line, why);
}

/* Why a hash is refused, or NULL when it is acceptable. */
static const char *hash_refused(const char *h, size_t len)
{
    size_t i;

    if (len == 0)
        return "empty hash";
    if (len >= CRYPT_OUTPUT_SIZE)
        return "hash too long";
    for (i = 0; i < len; i++)
        if ((unsigned char)h[i] <= ' ' || (unsigned char)h[i] >= 0x7f || h[i] == ':')
            return "bad character in the hash";
    if (strncmp(h, "$1$", 3) == 0)
        return "MD5 hash (\"$1$\") refused: weak; use yescrypt, SHA-512 or bcrypt";
    if (h[0] != '$')
        return "plain text password or DES hash refused: weak; "
               "use yescrypt, SHA-512 or bcrypt";
    switch (crypt_checksalt(h)) {
    case CRYPT_SALT_OK:
        return NULL;
    case CRYPT_SALT_INVALID:
        return "not a crypt(3) hash this libxcrypt knows";
    case CRYPT_SALT_METHOD_DISABLED:
        return "hash method disabled in this libxcrypt";
    default:
        return "legacy hash method refused: weak; use yescrypt, SHA-512 or bcrypt";
    }
}

/* One line without its '\n'. Returns 0 (bad lines are warned about) or -ENOMEM. */
static int parse_line(struct acl_auth *a, char *s, size_t len, const char *path,
                      unsigned line, acl_auth_warn_cb warn, void *wdata)
{
    const char *colon, *why;
    size_t ulen, i;
    unsigned prev;

    /* CRLF, and trailing blanks: a hash never ends with one */
    while (len > 0 && (s[len - 1] == '\r' || sl_is_ows(s[len - 1])))
        len--;
    s[len] = '\0';
    for (i = 0; i < len && sl_is_ows(s[i]); i++)
        ;
    if (i == len || s[i] == '#')
        return 0;

    colon = memchr(s, ':', len);
    if (colon == NULL) {
        warnf(warn, wdata, path, line, "no ':' between user and hash");
        return 0;
    }
    ulen = (size_t)(colon - s);
    if (ulen == 0) {
        warnf(warn, wdata, path, line, "empty user name");
        return 0;
    }
    if (ulen > AUTH_USER_MAX) {
        warnf(warn, wdata, path, line, "user name longer than %d bytes", AUTH_USER_MAX);
        return 0;
    }
    for (i = 0; i < ulen; i++) {
        if ((unsigned char)s[i] < ' ' || (unsigned char)s[i] == 0x7f) {
            warnf(warn, wdata, path, line, "control character in the user name");
            return 0;
        }
    }
    why = hash_refused(colon + 1, len - ulen - 1);
    if (why) {
        warnf(warn, wdata, path, line, "user '%.*s': %s", (int)ulen, s, why);
        return 0;
    }
    if (user_put(a, s, ulen, colon + 1, len - ulen - 1, line, &prev) < 0)
        return -ENOMEM;
    if (prev)
        warnf(warn, wdata, path, line,
              "user '%.*s' also defined on line %u: the last definition wins",
              (int)ulen, s, prev);
    return 0;
}

/*
 * Read the file line by line into a fixed buffer (a config file, but a
 * line is still bounded). Returns 0, -ENOMEM or -errno of the read.
 */
static int load_file(struct acl_auth *a, FILE *f, const char *path,
                     acl_auth_warn_cb warn, void *wdata, unsigned *lineno)
{
    char s[AUTH_LINE_MAX + 1];
    int c, rc;

    for (;;) {
        size_t len = 0;
        int toolong = 0, nul = 0;

        errno = 0;
        while ((c = getc(f)) != EOF && c != '\n') {
            if (c == '\0')
                nul = 1;
            if (len < AUTH_LINE_MAX)
                s[len++] = (char)c;
            else
                toolong = 1;
        }
        if (c == EOF && ferror(f))
            return errno ? -errno : -EIO;
        if (c == EOF && len == 0)
            break;
        ++*lineno;
        if (toolong)
            warnf(warn, wdata, path, *lineno, "line longer than %d bytes", AUTH_LINE_MAX);
        else if (nul)
            warnf(warn, wdata, path, *lineno, "NUL byte in the line");
        else if ((rc = parse_line(a, s, len, path, *lineno, warn, wdata)) < 0)
            return rc;
        if (c == EOF)
            break;
    }
    return 0;
}

/* The hash unknown users cost: the first user's, so as dear as a real one. */
static int pick_dummy(struct acl_auth *a)
{
    const struct auth_user *first = NULL;
    size_t i;

    for (i = 0; i < a->nbuckets; i++) {
        const struct auth_user *u;
        for (u = a->users[i]; u; u = u->next)
            if (first == NULL || u->line < first->line)
                first = u;
    }
    if (first == NULL)
        return 0;
    a->dummy = strdup(first->hash);
    return a->dummy ? 0 : -ENOMEM;
}

static int cache_init(struct acl_auth *a, size_t cache_size, time_t ttl)
{
    size_t nb = 1;

    a->ttl = ttl;
    if (cache_size == 0 || ttl <= 0)
        return 0;
    while (nb < cache_size)
        nb *= 2;
    a->ring = calloc(cache_size, sizeof(*a->ring));
    a->index = calloc(nb, sizeof(*a->index));
    if (a->ring == NULL || a->index == NULL)
        return -ENOMEM;
    a->cap = cache_size;
    a->ibuckets = nb;
    return RAND_bytes(a->secret, sizeof(a->secret)) == 1 ? 0 : -EIO;
}

struct acl_auth *acl_auth_load(const char *path, size_t cache_size, time_t ttl,
                               acl_auth_warn_cb warn, void *warn_data,
                               char *err, size_t errlen)
{
    struct acl_auth *a = NULL;
    const char *why = "out of memory";
    FILE *f = NULL;
    unsigned lineno = 0;
    int rc;

    if (cache_size > AUTH_CACHE_MAX) {
        snprintf(err, errlen, "%s: cache of %zu entries: more than %u",
                 path, cache_size, AUTH_CACHE_MAX);
        return NULL;
    }
    f = fopen(path, "re");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    /* calloc: crypt_data must start zeroed ("initialized", "reserved") */
    a = calloc(1, sizeof(*a));
    if (a == NULL || (a->users = calloc(16, sizeof(*a->users))) == NULL)
        goto fail;
    a->nbuckets = 16;
    rc = load_file(a, f, path, warn, warn_data, &lineno);
    if (rc < 0) {
        why = strerror(-rc);
        goto fail;
    }
    if (pick_dummy(a) < 0)
        goto fail;
    rc = cache_init(a, cache_size, ttl);
    if (rc < 0) {
        if (rc != -ENOMEM)
            why = "no random bytes for the cache key";
        goto fail;
    }
    fclose(f);
    return a;

fail:
    snprintf(err, errlen, "%s:%u: %s", path, lineno, why);
    fclose(f);
    acl_auth_free(a);
    return NULL;
}

void acl_auth_free(struct acl_auth *a)
{
    size_t i;

    if (a == NULL)
        return;
    for (i = 0; a->users && i < a->nbuckets; i++) {
        struct auth_user *u = a->users[i], *next;
        for (; u; u = next) {
            next = u->next;
            free(u);
        }
    }
    free(a->users);
    free(a->dummy);
    free(a->ring);
    free(a->index);
    OPENSSL_cleanse(a, sizeof(*a));     /* the secret, crypt scratch */
    free(a);
}

void acl_auth_set_budget(struct acl_auth *a, int (*take)(void *), void *data)
{
    a->budget = take;
    a->budget_data = data;
}

size_t acl_auth_users(const struct acl_auth *a)
{
    return a->nusers;
}

/* ---- the cache -------------------------------------------------------- */

static uint32_t *cache_bucket(struct acl_auth *a, const unsigned char *key)
{
    uint32_t h;

    memcpy(&h, key, sizeof(h));         /* a keyed hash: already uniform */
    return &a->index[h & (a->ibuckets - 1)];
}

static int cache_fresh(const struct acl_auth *a, const struct auth_ent *e, time_t now)
{
    /* a clock that went back expires the entry rather than extending it */
    return now >= e->when && now - e->when < a->ttl;
}

static void cache_unlink(struct acl_auth *a, struct auth_ent *e)
{
    uint32_t *p = cache_bucket(a, e->key);
    uint32_t self = (uint32_t)(e - a->ring) + 1;

    while (*p != self)
        p = &a->ring[*p - 1].next;
    *p = e->next;
    e->live = 0;
    a->st.cached--;
}

/* 1 when key was verified less than ttl ago. An expired entry is dropped. */
static int cache_get(struct acl_auth *a, const unsigned char *key, time_t now)
{
    uint32_t i;

    for (i = *cache_bucket(a, key); i; i = a->ring[i - 1].next) {
        struct auth_ent *e = &a->ring[i - 1];
        if (CRYPTO_memcmp(e->key, key, SHA256_DIGEST_LENGTH) != 0)
            continue;
        if (cache_fresh(a, e, now))
            return 1;
        cache_unlink(a, e);
        return 0;
    }
    return 0;
}

static void cache_put(struct acl_auth *a, const unsigned char *key, time_t now)
{
    struct auth_ent *e;
    uint32_t *b;

    /* free the head: unlinked, expired, or the oldest when full */
    while (a->count > 0) {
        e = &a->ring[a->head];
        if (e->live && a->count < a->cap && cache_fresh(a, e, now))
            break;
        if (e->live)
            cache_unlink(a, e);
        a->head = (a->head + 1) % a->cap;
        a->count--;
    }
    e = &a->ring[(a->head + a->count) % a->cap];
    a->count++;
    memcpy(e->key, key, SHA256_DIGEST_LENGTH);
    e->when = now;
    e->live = 1;
    b = cache_bucket(a, key);
    e->next = *b;
    *b = (uint32_t)(e - a->ring) + 1;
    a->st.cached++;
}

/* ---- checking --------------------------------------------------------- */

/* SHA-256(secret || user || '\0' || password). */
static void cache_key(const struct acl_auth *a, const char *user, size_t ulen,
                      const char *pw, size_t pwlen, unsigned char *key)
{
    unsigned char m[AUTH_SECRET_LEN + AUTH_CRED_MAX + 1];

    memcpy(m, a->secret, AUTH_SECRET_LEN);
    memcpy(m + AUTH_SECRET_LEN, user, ulen);
    m[AUTH_SECRET_LEN + ulen] = '\0';
    memcpy(m + AUTH_SECRET_LEN + ulen + 1, pw, pwlen);
    SHA256(m, AUTH_SECRET_LEN + ulen + 1 + pwlen, key);
    OPENSSL_cleanse(m, sizeof(m));
}

/* 1 when pw hashes to hash (hashlen 0: never). Costs one crypt call. */
static int verify(struct acl_auth *a, const char *pw, const char *hash, size_t hashlen)
{
    const char *out;
    int ok;

    a->st.hashes++;
    out = crypt_rn(pw, hash, &a->cd, (int)sizeof(a->cd));
    ok = out != NULL && strlen(out) == hashlen
         && CRYPTO_memcmp(out, hash, hashlen) == 0;
    OPENSSL_cleanse(a->cd.output, sizeof(a->cd.output));
    OPENSSL_cleanse(a->cd.input, sizeof(a->cd.input));
    return ok;
}

enum acl_auth_result acl_auth_check(struct acl_auth *a, struct sl_view value,
                                    time_t now, char *user, size_t userlen)
{
    unsigned char cred[AUTH_CRED_MAX + 1], key[SHA256_DIGEST_LENGTH];
    enum acl_auth_result r = ACL_AUTH_BAD;
    const struct auth_user *u;
    size_t sch = 0, ulen = 0, pwlen;
    const char *pw, *colon;
    long n;

    if (user != NULL && userlen > 0)
        user[0] = '\0';
    while (sch < value.len && value.base[sch] != ' ' && value.base[sch] != '\t')
        sch++;
    if (sch != 5 || !sl_view_ieq((struct sl_view){ value.base, sch }, "basic"))
        return ACL_AUTH_NONE;
    if (value.len < 6 || value.base[5] != ' ' || value.len - 6 > AUTH_B64_MAX)
        return ACL_AUTH_BAD;
    n = acl_b64_decode(value.base + 6, value.len - 6, cred, AUTH_CRED_MAX);
    if (n < 0)
        goto done;
    if (memchr(cred, '\0', (size_t)n) != NULL)      /* crypt would cut there */
        goto done;
    colon = memchr(cred, ':', (size_t)n);
    if (colon == NULL)
        goto done;
    ulen = (size_t)(colon - (const char *)cred);
    if (ulen == 0 || ulen > AUTH_USER_MAX || (user != NULL && userlen <= ulen))
        goto done;
    cred[n] = '\0';
    pw = colon + 1;
    pwlen = (size_t)n - ulen - 1;

    if (a->ring) {
        cache_key(a, (const char *)cred, ulen, pw, pwlen, key);
        if (cache_get(a, key, now)) {
            a->st.hits++;
            r = ACL_AUTH_OK;
            goto done;
        }
    }
    if (a->budget && !a->budget(a->budget_data)) {
        r = ACL_AUTH_BUSY;      /* no hash now: the caller sheds the load */
        goto done;
    }
    u = *user_slot(a, (const char *)cred, ulen);
    if (u == NULL) {
        /* as dear as a known user: the timing does not tell who exists */
        if (a->dummy)
            verify(a, pw, a->dummy, 0);
        goto done;
    }
    if (!verify(a, pw, u->hash, u->hashlen))
        goto done;
    if (a->ring)
        cache_put(a, key, now);
    r = ACL_AUTH_OK;

done:
    if (user != NULL && userlen > 0) {
        size_t i;

        /* On failure the name is for the log only, and it is the client's
         * text: anything but plain printable ASCII becomes '?'. */
        for (i = 0; i < ulen && i + 1 < userlen; i++) {
            unsigned char ch = cred[i];
            user[i] = (char)(r == ACL_AUTH_OK || (ch > 0x20 && ch < 0x7f &&
                             ch != '"' && ch != '\\') ? ch : '?');
        }
        user[i] = '\0';
    }
    OPENSSL_cleanse(cred, sizeof(cred));
    OPENSSL_cleanse(key, sizeof(key));
    return r;
}
