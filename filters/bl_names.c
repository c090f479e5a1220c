/*
 * bl_names.c - the name side of the blocklists (see blocklist.c for the
 * layout): the string arena, host name hashing and normalisation, the
 * domain suffix hash table and the per-host URL prefix lists. Apart from
 * the expressions because it is all plain byte strings and hash probes,
 * no PCRE2: what a lookup of a host or a URL path costs is all here.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "filters/bl_int.h"
#include "squidlike/hash.h"

#define BL_LABEL_MAX 63
#define BL_LABELS_MAX 128       /* 253 bytes hold at most 127 labels */
#define BL_PATH_MAX 4096        /* longest path of a URL entry */

/* --- hashing ---------------------------------------------------------- */

/* The murmur3 finalizer: FNV alone leaves the low bits (the table index)
 * poorly mixed. */
static inline uint64_t h_mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

/* Hash of a whole name, read right to left like suffixes() does. */
static uint64_t name_hash(const char *s, size_t n)
{
    uint64_t h = SL_FNV64_INIT;

    while (n > 0)
        h = sl_fnv64_step(h, (unsigned char)s[--n]);
    return h_mix(h);
}

/*
 * The label suffixes of name[0..n), longest first: at[k] is where suffix k
 * starts, hash[k] its hash. Returns how many.
 */
static size_t suffixes(const char *name, size_t n, size_t *at,
                       uint64_t *hash)
{
    size_t i, k = BL_LABELS_MAX, cnt;
    uint64_t h = SL_FNV64_INIT;

    /* Walk right to left, filling the arrays from their end. */
    for (i = n; i > 0; i--) {
        h = sl_fnv64_step(h, (unsigned char)name[i - 1]);
        if ((i == 1 || name[i - 2] == '.') && k > 0) {
            k--;
            at[k] = i - 1;
            hash[k] = h_mix(h);
        }
    }
    cnt = BL_LABELS_MAX - k;
    if (k > 0) {
        memmove(at, at + k, cnt * sizeof(*at));
        memmove(hash, hash + k, cnt * sizeof(*hash));
    }
    return cnt;
}

/* --- arena ------------------------------------------------------------ */

int bl_arena_put(struct bl_arena *a, const char *s, size_t n,
                 int with_len, uint32_t *off)
{
    size_t need = n + (with_len ? 1 : 0) + (a->len == 0 ? 1 : 0);
    size_t cap;
    char *p;

    if (a->cap - a->len < need) {
        if (need > (size_t)UINT32_MAX - a->len)
            return -ENOMEM;         /* offsets are 32-bit */
        cap = a->cap ? a->cap : 64 * 1024;
        while (cap - a->len < need)
            cap *= 2;
        if (cap > (size_t)UINT32_MAX)
            cap = UINT32_MAX;
        p = realloc(a->p, cap);
        if (p == NULL)
            return -ENOMEM;
        a->p = p;
        a->cap = cap;
    }
    if (a->len == 0)
        a->p[a->len++] = 0;         /* offset 0 means "empty slot" */
    *off = (uint32_t)a->len;
    if (with_len)
        a->p[a->len++] = (char)n;
    memcpy(a->p + a->len, s, n);
    a->len += n;
    return 0;
}

/* Give back the unused tail once a load is done. */
void bl_arena_shrink(struct bl_arena *a)
{
    char *p;

    if (a->len == a->cap || a->len == 0)
        return;
    p = realloc(a->p, a->len);
    if (p != NULL) {
        a->p = p;
        a->cap = a->len;
    }
}

static inline int rec_eq(const char *arena, uint32_t off, const char *s,
                         size_t n)
{
    return (unsigned char)arena[off] == n && memcmp(arena + off + 1, s, n) == 0;
}

/* --- domains ---------------------------------------------------------- */

int bl_dom_reserve(struct flt_bl *bl, size_t entries)
{
    size_t cap = bl->dom ? bl->dom_mask + 1 : 1024, i, j, m;
    struct bl_slot *t;
    const char *a = bl->arena.p;

    while (entries * 10 > cap * 7)
        cap *= 2;
    if (bl->dom != NULL && cap == bl->dom_mask + 1)
        return 0;
    t = calloc(cap, sizeof(*t));
    if (t == NULL)
        return -ENOMEM;
    m = cap - 1;
    if (bl->dom != NULL) {
        /* The tag keeps high hash bits only: the index comes back from the
         * name. */
        for (i = 0; i <= bl->dom_mask; i++) {
            uint32_t off = bl->dom[i].off;

            if (off == 0)
                continue;
            j = name_hash(a + off + 1, (unsigned char)a[off]) & m;
            while (t[j].off != 0)
                j = (j + 1) & m;
            t[j] = bl->dom[i];
        }
    }
    free(bl->dom);
    bl->dom = t;
    bl->dom_mask = m;
    return 0;
}

/* Add a normalised name; 1 added, 0 duplicate, -ENOMEM. */
int bl_dom_add(struct flt_bl *bl, const char *s, size_t n, unsigned cat)
{
    uint64_t h;
    uint32_t tag, shared = 0, off;
    size_t i;

    if (bl->dom == NULL || (bl->ndom + 1) * 10 > (bl->dom_mask + 1) * 7)
        if (bl_dom_reserve(bl, bl->ndom + 1) != 0)
            return -ENOMEM;
    h = name_hash(s, n);
    tag = (uint32_t)(h >> 40) << 8;
    for (i = h & bl->dom_mask; bl->dom[i].off != 0;
         i = (i + 1) & bl->dom_mask) {
        if ((bl->dom[i].tag & ~0xffu) != tag
            || !rec_eq(bl->arena.p, bl->dom[i].off, s, n))
            continue;
        if ((bl->dom[i].tag & 0xffu) == cat)
            return 0;
        shared = bl->dom[i].off;    /* same name, other category */
    }
    if (shared != 0)
        off = shared;
    else if (bl_arena_put(&bl->arena, s, n, 1, &off) != 0)
        return -ENOMEM;
    bl->dom[i].tag = tag | cat;
    bl->dom[i].off = off;
    bl->ndom++;
    bl_set_add(&bl->has_dom, cat);
    return 1;
}

/* The lowest wanted category holding exactly this name, or -1. */
static int dom_find(const struct flt_bl *bl, const struct flt_bl_set *want,
                    const char *s, size_t n, uint64_t h)
{
    uint32_t tag = (uint32_t)(h >> 40) << 8;
    size_t i;
    int best = -1;

    for (i = h & bl->dom_mask; bl->dom[i].off != 0;
         i = (i + 1) & bl->dom_mask) {
        unsigned cat = bl->dom[i].tag & 0xffu;

        if ((bl->dom[i].tag & ~0xffu) != tag || !bl_set_has(want, cat)
            || (best >= 0 && cat >= (unsigned)best)
            || !rec_eq(bl->arena.p, bl->dom[i].off, s, n))
            continue;
        best = (int)cat;
    }
    return best;
}

/* --- host names ------------------------------------------------------- */

/* An IPv6 literal, with or without brackets, in canonical form into out
 * (INET6_ADDRSTRLEN bytes). Returns its length or 0. */
static size_t ipv6_canon(const char *s, size_t n, char *out)
{
    char tmp[INET6_ADDRSTRLEN + 2];
    struct in6_addr a;

    if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
        s++;
        n -= 2;
    }
    if (n == 0 || n >= sizeof(tmp))
        return 0;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    if (inet_pton(AF_INET6, tmp, &a) != 1
        || inet_ntop(AF_INET6, &a, out, INET6_ADDRSTRLEN) == NULL)
        return 0;
    return strlen(out);
}

/*
 * Normalise a host name from a list into out (BL_NAME_MAX + 1 bytes):
 * strip one leading "." or "*." and one trailing dot, lowercase, check the
 * labels. IPv4 addresses pass as they are, IPv6 ones in canonical form.
 * Returns the length, or 0 with *why.
 */
size_t bl_host_norm(const char *s, size_t n, char *out, const char **why)
{
    size_t i, label = 0, digits = 0, alnum = 0;
    struct in_addr a4;

    if (memchr(s, ':', n) != NULL) {
        char v6[INET6_ADDRSTRLEN];
        size_t k = ipv6_canon(s, n, v6);

        if (k == 0) {
            *why = "not a host name (bad IPv6 address)";
            return 0;
        }
        memcpy(out, v6, k + 1);
        return k;
    }
    if (n >= 2 && s[0] == '*' && s[1] == '.') {
        s += 2;
        n -= 2;
    } else if (n >= 1 && s[0] == '.') {
        s++;
        n--;
    }
    if (n > 0 && s[n - 1] == '.')
        n--;
    if (n == 0) {
        *why = "not a host name (empty)";
        return 0;
    }
    if (n > BL_NAME_MAX) {
        *why = "not a host name (longer than 253 bytes)";
        return 0;
    }
    for (i = 0; i < n; i++) {
        char c = sl_lower(s[i]);

        out[i] = c;
        if (c == '.') {
            if (label == 0) {
                *why = "not a host name (empty label)";
                return 0;
            }
            if (alnum == 0)
                break;
            label = digits = alnum = 0;
            continue;
        }
        if (!sl_is_host_char(c)) {        /* '.' was taken above */
            *why = (c == '*') ? "not a host name (wildcard inside the name)"
                              : "not a host name (bad character)";
            return 0;
        }
        if (++label > BL_LABEL_MAX) {
            *why = "not a host name (label longer than 63 bytes)";
            return 0;
        }
        if (sl_is_digit(c))
            digits++;
        if (c != '-' && c != '_')
            alnum++;
    }
    out[n] = '\0';
    if (label == 0) {
        *why = "not a host name (empty label)";
        return 0;
    }
    /* Hyphens and underscores appear in real names, even at label edges,
     * but a label made of nothing else is a typo. */
    if (alnum == 0) {
        *why = "not a host name (label without a letter or digit)";
        return 0;
    }
    /* An all-digit last label is only valid as part of an IPv4 address:
     * "1.2.3" would otherwise block the suffixes of addresses. */
    if (digits == label && inet_pton(AF_INET, out, &a4) != 1) {
        *why = "not a host name (numeric top-level label)";
        return 0;
    }
    return n;
}

/*
 * The request host, ready for the suffix walk, into out (BL_NAME_MAX + 1
 * bytes): lowercase, no trailing dot, no port, IPv6 canonical; a name
 * longer than any list entry keeps its last labels only. Returns the
 * length, 0 when nothing of it can match.
 */
static size_t req_host(const char *h, size_t n, char *out)
{
    size_t i;

    while (n > 0 && h[n - 1] == '.')
        n--;
    if (n > 0 && memchr(h, ':', n) != NULL) {
        char v6[INET6_ADDRSTRLEN];
        size_t k = ipv6_canon(h, n, v6);

        if (k != 0) {
            memcpy(out, v6, k + 1);
            return k;
        }
        /* "name:port": the port is not part of the name. */
        for (i = n; i > 0 && sl_is_digit(h[i - 1]); i--)
            ;
        if (i == 0 || h[i - 1] != ':' || memchr(h, ':', i - 1) != NULL)
            return 0;
        n = i - 1;
        while (n > 0 && h[n - 1] == '.')
            n--;
    }
    if (n > BL_NAME_MAX) {
        const char *p = h + n - BL_NAME_MAX - 1;   /* a '.' here is fine */
        const char *dot = memchr(p, '.', (size_t)(h + n - p));

        if (dot == NULL)
            return 0;
        n = (size_t)(h + n - dot - 1);
        h = dot + 1;
    }
    for (i = 0; i < n; i++)
        out[i] = sl_lower(h[i]);
    out[n] = '\0';
    return n;
}

/* --- URLs ------------------------------------------------------------- */

/* A URL entry with its strings resolved, for sorting (qsort passes no
 * context, and a global would make loading non-reentrant). */
struct bl_url_key {
    const char *host, *path;
    struct bl_url u;
};

static int bytes_cmp(const char *a, size_t la, const char *b, size_t lb)
{
    int c = memcmp(a, b, la < lb ? la : lb);

    if (c != 0)
        return c;
    return la < lb ? -1 : (la > lb ? 1 : 0);
}

static int url_cmp(const void *pa, const void *pb)
{
    const struct bl_url_key *a = pa, *b = pb;
    int c = bytes_cmp(a->host + 1, (unsigned char)a->host[0], b->host + 1,
                      (unsigned char)b->host[0]);

    if (c == 0)
        c = bytes_cmp(a->path, a->u.path_len, b->path, b->u.path_len);
    return c != 0 ? c : (int)a->u.cat - (int)b->u.cat;
}

/*
 * Sort the URL entries, drop duplicates, group them per host and hash the
 * hosts. Run at the end of every load (entries accumulate across loads).
 */
int bl_url_index(struct flt_bl *bl)
{
    size_t i, n = 0, cap;
    struct bl_uhost *hosts;
    struct bl_url_key *keys;
    struct bl_slot *tab;
    const char *a = bl->arena.p;

    free(bl->uhosts);
    free(bl->utab);
    bl->uhosts = NULL;
    bl->utab = NULL;
    bl->nuhosts = 0;
    bl->utab_mask = 0;
    if (bl->nurls == 0)
        return 0;
    keys = malloc(bl->nurls * sizeof(*keys));
    if (keys == NULL)
        return -ENOMEM;
    for (i = 0; i < bl->nurls; i++) {
        keys[i].host = a + bl->urls[i].host;
        keys[i].path = a + bl->urls[i].path;
        keys[i].u = bl->urls[i];
    }
    qsort(keys, bl->nurls, sizeof(*keys), url_cmp);
    for (i = 0; i < bl->nurls; i++)
        if (n == 0 || url_cmp(&keys[n - 1], &keys[i]) != 0)
            keys[n++] = keys[i];
    for (i = 0; i < n; i++)
        bl->urls[i] = keys[i].u;
    bl->nurls = n;
    free(keys);

    hosts = malloc(n * sizeof(*hosts));
    if (hosts == NULL)
        return -ENOMEM;
    for (i = 0; i < n; i++) {
        struct bl_uhost *last = bl->nuhosts ? &hosts[bl->nuhosts - 1] : NULL;
        uint32_t off = bl->urls[i].host;

        if (last != NULL
            && rec_eq(a, last->host, a + off + 1, (unsigned char)a[off])) {
            bl->urls[i].host = last->host;
            last->count++;
            continue;
        }
        hosts[bl->nuhosts].host = off;
        hosts[bl->nuhosts].first = (uint32_t)i;
        hosts[bl->nuhosts].count = 1;
        bl->nuhosts++;
    }
    bl->uhosts = hosts;

    for (cap = 16; cap < bl->nuhosts * 2; cap *= 2)
        ;
    tab = calloc(cap, sizeof(*tab));
    if (tab == NULL)
        return -ENOMEM;
    for (i = 0; i < bl->nuhosts; i++) {
        uint32_t off = hosts[i].host;
        uint64_t h = name_hash(a + off + 1, (unsigned char)a[off]);
        size_t j = h & (cap - 1);

        while (tab[j].off != 0)
            j = (j + 1) & (cap - 1);
        tab[j].tag = (uint32_t)(h >> 32);
        tab[j].off = (uint32_t)i + 1;
    }
    bl->utab = tab;
    bl->utab_mask = cap - 1;
    return 0;
}

static const struct bl_uhost *url_host(const struct flt_bl *bl,
                                       const char *s, size_t n, uint64_t h)
{
    uint32_t tag = (uint32_t)(h >> 32);
    size_t i;

    for (i = h & bl->utab_mask; bl->utab[i].off != 0;
         i = (i + 1) & bl->utab_mask) {
        const struct bl_uhost *u = &bl->uhosts[bl->utab[i].off - 1];

        if (bl->utab[i].tag == tag && rec_eq(bl->arena.p, u->host, s, n))
            return u;
    }
    return NULL;
}

/* Compare entry path e with p[0..n) as url_cmp orders them. */
static int path_cmp(const char *arena, const struct bl_url *e, const char *p,
                    size_t n)
{
    int c = memcmp(arena + e->path, p, e->path_len < n ? e->path_len : n);

    if (c != 0)
        return c;
    return e->path_len < n ? -1 : (e->path_len > n ? 1 : 0);
}

/*
 * The wanted category of the longest entry path in u[lo..hi) (sorted) that
 * is a prefix of p[0..n), or -1.
 *
 * Let e be the greatest entry <= p. If e is a prefix of p, it is the
 * longest one. If not, every entry that is a prefix of p is <= e and so a
 * prefix of p[0..lcp(e, p)): search again with that shorter p. Either way
 * p shrinks, so this ends after at most a few steps of log2(hi - lo).
 */
static int url_search(const struct flt_bl *bl, const struct flt_bl_set *want,
                      size_t lo, size_t hi, const char *p, size_t n)
{
    const char *a = bl->arena.p;
    const struct bl_url *u = bl->urls;

    for (;;) {
        size_t l = lo, r = hi, k, m;
        const struct bl_url *e;

        while (l < r) {
            m = l + (r - l) / 2;
            if (path_cmp(a, &u[m], p, n) <= 0)
                l = m + 1;
            else
                r = m;
        }
        if (l == lo)
            return -1;
        e = &u[l - 1];
        for (m = 0; m < e->path_len && a[e->path + m] == p[m]; m++)
            ;
        if (m < e->path_len) {
            n = m;                  /* e is not a prefix of p */
            hi = l - 1;
            continue;
        }
        /* e is a prefix: its equal-path run is sorted by category. */
        for (k = l - 1; k > lo && u[k - 1].path_len == e->path_len
             && memcmp(a + u[k - 1].path, a + e->path, e->path_len) == 0; k--)
            ;
        for (m = k; m < l; m++)
            if (bl_set_has(want, u[m].cat))
                return u[m].cat;
        if (e->path_len == 0)
            return -1;
        n = e->path_len - 1;
        hi = k;
    }
}

/*
 * A "urls" line: [scheme://]host[:port][/path]. The host is normalised as
 * a domain and loses a "www." / "wwwN." prefix, as squidGuard strips it
 * (the entry then covers the host and all its subdomains); the path keeps
 * its case; a path of "/" means the whole host.
 */
int bl_url_add(struct flt_bl *bl, char *s, size_t n, unsigned cat,
               const char **why)
{
    char host[BL_NAME_MAX + 1];
    const char *sep, *path;
    size_t hn, pn, i, k;
    uint32_t hoff, poff;
    struct bl_url *u;

    sep = memchr(s, '/', n);
    if (sep != NULL && sep > s && sep[-1] == ':' && (size_t)(sep - s) + 1 < n
        && sep[1] == '/') {
        n -= (size_t)(sep - s) + 2;     /* drop "scheme://" */
        s = (char *)sep + 2;
    }
    for (i = 0; i < n && s[i] != '/' && s[i] != '?'; i++)
        ;
    path = s + i;
    pn = n - i;
    hn = i;
    /* A port after the host. */
    for (k = hn; k > 0 && sl_is_digit(s[k - 1]); k--)
        ;
    if (k > 0 && k < hn && s[k - 1] == ':' && memchr(s, ':', k - 1) == NULL
        && s[0] != '[')
        hn = k - 1;
    hn = bl_host_norm(s, hn, host, why);
    if (hn == 0)
        return 0;
    if (hn > 4 && memcmp(host, "www", 3) == 0) {
        for (k = 3; k < hn && sl_is_digit(host[k]); k++)
            ;
        if (host[k] == '.' && memchr(host + k + 1, '.', hn - k - 1) != NULL) {
            hn -= k + 1;
            memmove(host, host + k + 1, hn + 1);
        }
    }
    if (pn == 1 && path[0] == '/')
        pn = 0;
    if (pn > BL_PATH_MAX) {
        *why = "URL path longer than 4096 bytes";
        return 0;
    }
    for (i = 0; i < pn; i++)
        if ((unsigned char)path[i] <= ' ' || path[i] == 0x7f) {
            *why = "control character in the URL path";
            return 0;
        }
    if (bl->nurls == bl->urls_cap) {
        size_t cap = bl->urls_cap ? bl->urls_cap * 2 : 256;

        u = realloc(bl->urls, cap * sizeof(*u));
        if (u == NULL)
            return -ENOMEM;
        bl->urls = u;
        bl->urls_cap = cap;
    }
    if (bl_arena_put(&bl->arena, host, hn, 1, &hoff) != 0
        || bl_arena_put(&bl->arena, path, pn, 0, &poff) != 0)
        return -ENOMEM;
    u = &bl->urls[bl->nurls++];
    u->host = hoff;
    u->path = poff;
    u->path_len = (uint16_t)pn;
    u->cat = (uint8_t)cat;
    bl_set_add(&bl->has_url, cat);
    return 1;
}

/* --- lookups ---------------------------------------------------------- */

/*
 * The first wanted category whose domains, then URL entries, hold this
 * request (see flt_bl_match), or -1. The label suffixes of the host are
 * hashed once for both tables.
 */
int bl_names_match(const struct flt_bl *bl, const struct flt_bl_set *want,
                   const char *host, size_t host_len,
                   const char *url, size_t url_len)
{
    char name[BL_NAME_MAX + 1];
    size_t at[BL_LABELS_MAX], nsuf = 0, n = 0, k, i;
    uint64_t hash[BL_LABELS_MAX];
    const char *path = "";
    size_t plen = 0;
    int c;

    if (host != NULL && host_len > 0)
        n = req_host(host, host_len, name);
    if (n > 0 && (bl->ndom > 0 || bl->nuhosts > 0))
        nsuf = suffixes(name, n, at, hash);

    if (bl->ndom > 0 && bl_set_meets(want, &bl->has_dom))
        for (k = 0; k < nsuf; k++) {
            c = dom_find(bl, want, name + at[k], n - at[k], hash[k]);
            if (c >= 0)
                return c;
        }

    if (bl->nuhosts > 0 && nsuf > 0 && bl_set_meets(want, &bl->has_url)) {
        if (url != NULL) {
            /* Skip "scheme://" if the caller left one, then the host. */
            for (i = 0; i < url_len && i < 16 && url[i] != '/'; i++)
                ;
            if (i + 2 < url_len && i > 0 && url[i - 1] == ':'
                && url[i] == '/' && url[i + 1] == '/')
                i += 2;
            else
                i = 0;
            for (; i < url_len && url[i] != '/' && url[i] != '?'; i++)
                ;
            path = url + i;
            plen = url_len - i;
        }
        for (k = 0; k < nsuf; k++) {
            const struct bl_uhost *u = url_host(bl, name + at[k], n - at[k],
                                                hash[k]);

            if (u == NULL)
                continue;
            c = url_search(bl, want, u->first, (size_t)u->first + u->count,
                           path, plen);
            if (c >= 0)
                return c;
        }
    }
    return -1;
}
