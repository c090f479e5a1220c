/*
 * blocklist.c - category blocklists in the UT1 / squidGuard layout (see
 * blocklist.h). Loading reads files; matching reads memory only.
 *
 * Layout in memory (sized for millions of names):
 *
 *   arena   one growable byte array holding every string: domain names and
 *           URL hosts as [len byte][bytes], URL paths as raw bytes. Offsets
 *           are 32-bit; offset 0 is a dummy byte so that 0 means "empty".
 *   dom     open-addressing hash table (linear probing, load <= 0.7) of
 *           8-byte slots { 24-bit hash tag | 8-bit category, arena offset }.
 *           A name in several categories has one slot per category, all
 *           pointing at the same arena record.
 *   urls    entries { host, path, category } sorted by (host, path,
 *           category); uhosts groups them per host, and utab hashes the
 *           host to its group. A request path is matched against a group
 *           by binary search (see url_search), so a host with thousands of
 *           entries costs a few log2(n) steps, not n.
 *   res     compiled PCRE2 expressions (JIT), each tagged with its
 *           category; patterns of one file are merged into alternations of
 *           up to FLT_BL_MERGE_MAX patterns when that is safe (re_mergeable).
 *
 * Host names are hashed right to left (FNV-1a over the reversed bytes, then
 * a 64-bit finalizer), so one pass over "a.b.example.com" yields the hashes
 * of every label suffix: a.b.example.com, b.example.com, example.com, com.
 * A lookup is one probe sequence per label, whatever the size of the lists.
 *
 * Matching allocates nothing but shares one pcre2 match_data, match context
 * and JIT stack per list: calls on one struct flt_bl must not run
 * concurrently (the daemon runs one loop; a threaded caller needs one list
 * per thread).
 */
#include "config.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "filters/blocklist.h"

#define BL_NAME_MAX 253         /* longest DNS name, without the final dot */
#define BL_LABEL_MAX 63
#define BL_LABELS_MAX 128       /* 253 bytes hold at most 127 labels */
#define BL_PATH_MAX 4096        /* longest path of a URL entry */
#define BL_READ_BUF (64 * 1024) /* also the longest line read */

/* How many expressions one merged alternation may hold (1: never merge).
 * Measured with t/bench/blbench: see the numbers in the module's note. */
#ifndef FLT_BL_MERGE_MAX
#define FLT_BL_MERGE_MAX 64
#endif
/* 0 runs every expression on every URL (for measuring). */
#ifndef FLT_BL_PREFILTER
#define FLT_BL_PREFILTER 1
#endif

/* Bound the CPU one expression may burn on one URL (no unbounded work per
 * event): past these limits the expression counts as not matching. */
#define BL_MATCH_LIMIT 200000
#define BL_DEPTH_LIMIT 10000
#define BL_JIT_STACK_MAX (512 * 1024)

enum bl_kind { BL_DOMAINS, BL_URLS, BL_EXPRESSIONS };

static const char *const bl_files[] = { "domains", "urls", "expressions" };

struct bl_slot {
    uint32_t tag;               /* dom: hash >> 40 << 8 | cat; utab: hash >> 32 */
    uint32_t off;               /* dom: arena offset; utab: uhost index + 1 */
};

struct bl_arena {
    char *p;
    size_t len, cap;
};

struct bl_url {
    uint32_t host;              /* arena: [len][host] */
    uint32_t path;              /* arena: raw bytes */
    uint16_t path_len;
    uint8_t cat;
};

struct bl_uhost {
    uint32_t host;
    uint32_t first, count;      /* a run of bl->urls */
};

struct bl_re {
    pcre2_code *code;
    uint32_t cat;
    uint32_t always;            /* 0: runs only when one of its literals occurs */
};

/* A literal one of which a match of expression re must contain. */
struct bl_lit {
    uint32_t key;               /* its first 2, 3 or 4 bytes */
    uint32_t next;              /* next in the hash chain, index + 1 */
    uint32_t off;               /* in lit_text */
    uint32_t re;
    uint16_t len;
};

struct bl_litab {
    uint32_t *head;             /* 1 << bits chains, index + 1 */
    unsigned bits;
    size_t n;
};

struct flt_bl {
    char *names[FLT_BL_MAX_CATEGORIES];
    size_t ncat;
    struct flt_bl_set has_dom, has_url, has_re;

    struct bl_arena arena;

    struct bl_slot *dom;
    size_t dom_mask, ndom;      /* mask + 1 slots, 0 when none */

    struct bl_url *urls;
    size_t nurls, urls_cap;
    struct bl_uhost *uhosts;
    size_t nuhosts;
    struct bl_slot *utab;
    size_t utab_mask;

    struct bl_re *res;
    size_t nres, res_cap, nexpr, re_bytes;
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    pcre2_jit_stack *jstack;
    struct bl_lit *lits;
    size_t nlits, lits_cap;
    struct bl_arena lit_text;
    struct bl_litab ltab[3];    /* literals of 2, 3, 4+ bytes */
    uint64_t *marks;            /* candidates during one match: nres bits */
    uint64_t *always;           /* expressions without literals: nres bits */

    size_t bad;
};

/* State of one flt_bl_load_dir call. */
struct bl_load {
    flt_bl_warn_cb warn;
    void *warn_data;
    char *err;
    size_t errlen;
    char *buf;                  /* BL_READ_BUF bytes for the line reader */
};

struct bl_reader {
    int fd;
    char *buf;
    size_t pos, end;
    unsigned line;
    int eof, skipping;
};

/* --- small helpers ---------------------------------------------------- */

static int bl_fail(struct bl_load *ld, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int bl_fail(struct bl_load *ld, const char *fmt, ...)
{
    va_list ap;

    if (ld->err != NULL && ld->errlen > 0) {
        va_start(ap, fmt);
        vsnprintf(ld->err, ld->errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static void bl_warn(struct flt_bl *bl, struct bl_load *ld, const char *file,
                    unsigned line, const char *why)
{
    bl->bad++;
    if (ld->warn != NULL)
        ld->warn(ld->warn_data, file, line, why);
}

static inline int set_has(const struct flt_bl_set *s, unsigned cat)
{
    return (int)((s->bits[cat >> 6] >> (cat & 63)) & 1);
}

static inline void set_add(struct flt_bl_set *s, unsigned cat)
{
    s->bits[cat >> 6] |= (uint64_t)1 << (cat & 63);
}

static inline int set_meets(const struct flt_bl_set *a,
                            const struct flt_bl_set *b)
{
    uint64_t m = 0;
    size_t i;

    for (i = 0; i < FLT_BL_MAX_CATEGORIES / 64; i++)
        m |= a->bits[i] & b->bits[i];
    return m != 0;
}

static inline unsigned ctz64(uint64_t x)
{
#if defined(__GNUC__) || defined(__clang__)
    return (unsigned)__builtin_ctzll(x);
#else
    unsigned n = 0;

    while (!(x & 1)) {
        x >>= 1;
        n++;
    }
    return n;
#endif
}

static inline char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c + ('a' - 'A')) : c;
}

static inline int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* --- hashing ---------------------------------------------------------- */

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static inline uint64_t h_step(uint64_t h, char c)
{
    return (h ^ (unsigned char)c) * FNV_PRIME;
}

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
    uint64_t h = FNV_OFFSET;

    while (n > 0)
        h = h_step(h, s[--n]);
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
    uint64_t h = FNV_OFFSET;

    /* Walk right to left, filling the arrays from their end. */
    for (i = n; i > 0; i--) {
        h = h_step(h, name[i - 1]);
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

static int arena_put(struct bl_arena *a, const char *s, size_t n,
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
static void arena_shrink(struct bl_arena *a)
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

static int dom_reserve(struct flt_bl *bl, size_t entries)
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
static int dom_add(struct flt_bl *bl, const char *s, size_t n, unsigned cat)
{
    uint64_t h;
    uint32_t tag, shared = 0, off;
    size_t i;

    if (bl->dom == NULL || (bl->ndom + 1) * 10 > (bl->dom_mask + 1) * 7)
        if (dom_reserve(bl, bl->ndom + 1) != 0)
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
    else if (arena_put(&bl->arena, s, n, 1, &off) != 0)
        return -ENOMEM;
    bl->dom[i].tag = tag | cat;
    bl->dom[i].off = off;
    bl->ndom++;
    set_add(&bl->has_dom, cat);
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

        if ((bl->dom[i].tag & ~0xffu) != tag || !set_has(want, cat)
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
static size_t host_norm(const char *s, size_t n, char *out, const char **why)
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
        char c = lower(s[i]);

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
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'
              || c == '_')) {
            *why = (c == '*') ? "not a host name (wildcard inside the name)"
                              : "not a host name (bad character)";
            return 0;
        }
        if (++label > BL_LABEL_MAX) {
            *why = "not a host name (label longer than 63 bytes)";
            return 0;
        }
        if (c >= '0' && c <= '9')
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
        for (i = n; i > 0 && h[i - 1] >= '0' && h[i - 1] <= '9'; i--)
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
        out[i] = lower(h[i]);
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
static int url_index(struct flt_bl *bl)
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
            if (set_has(want, u[m].cat))
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
static int url_add(struct flt_bl *bl, char *s, size_t n, unsigned cat,
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
    for (k = hn; k > 0 && s[k - 1] >= '0' && s[k - 1] <= '9'; k--)
        ;
    if (k > 0 && k < hn && s[k - 1] == ':' && memchr(s, ':', k - 1) == NULL
        && s[0] != '[')
        hn = k - 1;
    hn = host_norm(s, hn, host, why);
    if (hn == 0)
        return 0;
    if (hn > 4 && memcmp(host, "www", 3) == 0) {
        for (k = 3; k < hn && host[k] >= '0' && host[k] <= '9'; k++)
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
    if (arena_put(&bl->arena, host, hn, 1, &hoff) != 0
        || arena_put(&bl->arena, path, pn, 0, &poff) != 0)
        return -ENOMEM;
    u = &bl->urls[bl->nurls++];
    u->host = hoff;
    u->path = poff;
    u->path_len = (uint16_t)pn;
    u->cat = (uint8_t)cat;
    set_add(&bl->has_url, cat);
    return 1;
}

/* --- expressions: required literals ------------------------------------ */

/*
 * PCRE2 costs 20 to 100 ns per pattern and URL even with JIT, merged or
 * not: a thousand expressions would cost ~100 us per request. So each
 * pattern is read once at load for a set of literals one of which every
 * match must contain ("(^|[-/_])(porn|sexy?)($|[-/_])" needs "porn" or
 * "sex"); matching scans the URL once for all literals of all patterns
 * and runs only the patterns whose literals showed up, plus those without
 * a usable set (which are the ones merged into alternations).
 *
 * The reader is conservative: any construct it does not know (back
 * references, \Q, \x, recursion, conditionals, extended mode, odd braces)
 * gives "no requirement", never a wrong one. Case is ignored throughout:
 * patterns compile caseless, literals and the scanned URL are lowercase.
 */

#define RQ_LIT_MAX 32           /* longest literal kept */
#define RQ_SET_MAX 256          /* strings in a set (a large alternation) */
#define RQ_CROSS_MAX 64         /* strings a concatenation may multiply to */
#define RQ_CLASS_MAX 8          /* [abc] up to this size is a set of strings */
#define RQ_DEPTH_MAX 32
#define RQ_BUDGET (1u << 20)    /* bytes of work space per pattern */

enum rq_kind { RQ_ITEM, RQ_NOTHING };

struct rq_lit {
    uint32_t off, len;          /* in rq.text */
};

/* A set of strings (a range of rq.lits), or "unknown" (any = 1). */
struct rq_set {
    size_t first, count, minlen;
    int any;
};

/*
 * What is known of an item: exact, the strings it can consume (when few
 * and short); req, strings one of which it always consumes.
 */
struct rq_info {
    struct rq_set exact, req;
};

struct rq {
    const char *p;
    size_t n, i;
    int fail;
    char *text;
    size_t tlen, tcap;
    struct rq_lit *lits;
    size_t nlits, lcap;
    struct rq_info *stk;        /* branches of the alternations open */
    size_t nstk, scap;
};

static const struct rq_set rq_unknown = { 0, 0, 0, 1 };

static void *rq_grow(struct rq *q, void *p, size_t *cap, size_t need,
                     size_t size)
{
    size_t c = *cap ? *cap : 64;
    void *np;

    if (need <= *cap)
        return p;
    while (c < need)
        c *= 2;
    np = c * size <= RQ_BUDGET ? realloc(p, c * size) : NULL;
    if (np == NULL) {
        q->fail = 1;                /* out of budget: "no requirement" */
        return p;
    }
    *cap = c;
    return np;
}

/* A new set holding one string: a followed by b (offsets into text). */
static int rq_str(struct rq *q, size_t a, size_t la, size_t b, size_t lb)
{
    q->text = rq_grow(q, q->text, &q->tcap, q->tlen + la + lb, 1);
    q->lits = rq_grow(q, q->lits, &q->lcap, q->nlits + 1, sizeof(*q->lits));
    if (q->fail)
        return -1;
    if (la > 0)
        memmove(q->text + q->tlen, q->text + a, la);
    if (lb > 0)
        memmove(q->text + q->tlen + la, q->text + b, lb);
    q->lits[q->nlits].off = (uint32_t)q->tlen;
    q->lits[q->nlits].len = (uint32_t)(la + lb);
    q->nlits++;
    q->tlen += la + lb;
    return 0;
}

/* A set of single strings, one per byte of s. */
static struct rq_set rq_chars(struct rq *q, const char *s, size_t n)
{
    struct rq_set r = { q->nlits, n, n ? 1 : 0, 0 };
    size_t i;

    q->text = rq_grow(q, q->text, &q->tcap, q->tlen + n, 1);
    q->lits = rq_grow(q, q->lits, &q->lcap, q->nlits + n, sizeof(*q->lits));
    if (q->fail)
        return rq_unknown;
    for (i = 0; i < n; i++) {
        q->text[q->tlen] = lower(s[i]);
        q->lits[q->nlits].off = (uint32_t)q->tlen++;
        q->lits[q->nlits++].len = 1;
    }
    return r;
}

static struct rq_set rq_empty(struct rq *q)
{
    struct rq_set r = { q->nlits, 1, 0, 0 };

    if (rq_str(q, 0, 0, 0, 0) != 0)
        return rq_unknown;
    return r;
}

/* Every string of a followed by every string of b, if few and short. */
static struct rq_set rq_cross(struct rq *q, struct rq_set a, struct rq_set b)
{
    struct rq_set r = { q->nlits, a.count * b.count, SIZE_MAX, 0 };
    size_t i, j;

    if (a.any || b.any || r.count > RQ_CROSS_MAX
        || r.count == 0)
        return rq_unknown;
    for (i = 0; i < a.count; i++)
        for (j = 0; j < b.count; j++) {
            struct rq_lit x = q->lits[a.first + i], y = q->lits[b.first + j];

            if (x.len + y.len > RQ_LIT_MAX
                || rq_str(q, x.off, x.len, y.off, y.len) != 0)
                return rq_unknown;
            if (x.len + y.len < r.minlen)
                r.minlen = x.len + y.len;
        }
    return r;
}

/* Sets a then b in one range (copies of the entries, not of the text). */
static struct rq_set rq_join(struct rq *q, struct rq_set a, struct rq_set b)
{
    struct rq_set r = { q->nlits, a.count + b.count,
                        a.minlen < b.minlen ? a.minlen : b.minlen, 0 };
    size_t i;

    if (a.any || b.any || r.count > RQ_SET_MAX)
        return rq_unknown;
    q->lits = rq_grow(q, q->lits, &q->lcap, q->nlits + r.count,
                      sizeof(*q->lits));
    if (q->fail)
        return rq_unknown;
    for (i = 0; i < a.count; i++)
        q->lits[q->nlits++] = q->lits[a.first + i];
    for (i = 0; i < b.count; i++)
        q->lits[q->nlits++] = q->lits[b.first + i];
    return r;
}

/* Words found in most URLs: a literal made of them selects little. */
static const char *const rq_common[] = {
    "www", "com", "net", "org", "http", "https", "html", "htm", "php", "asp",
    "index", "jpg", "jpeg", "png", "gif", "css", "js", "cdn", "img", "static",
    NULL
};

static inline int is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
           || (unsigned char)c >= 0x80;
}

/*
 * How selective a set is: the letters and digits of its poorest string.
 * Punctuation counts for nothing and a common word for 1: ".com/" and
 * ".jpg" are in a large share of all URLs, "/ka/" is not.
 */
static size_t rq_score(const struct rq *q, struct rq_set s)
{
    size_t i, j, k, w, min = SIZE_MAX;

    for (i = 0; i < s.count; i++) {
        const struct rq_lit *l = &q->lits[s.first + i];
        const char *t = q->text + l->off;

        for (k = 0, j = 0; j < l->len; j = w) {
            size_t c;

            for (w = j; w < l->len && is_alnum(t[w]); w++)
                ;
            if (w == j) {
                w++;
                continue;
            }
            for (c = 0; rq_common[c] != NULL; c++)
                if (strlen(rq_common[c]) == w - j
                    && memcmp(rq_common[c], t + j, w - j) == 0)
                    break;
            k += rq_common[c] != NULL ? 1 : w - j;
        }
        if (k < min)
            min = k;
    }
    return min;
}

/* The more selective requirement: better score, then longer, then fewer. */
static struct rq_set rq_better(const struct rq *q, struct rq_set best,
                               struct rq_set c)
{
    size_t sb, sc;

    if (c.any || c.minlen < 2)
        return best;
    if (best.any)
        return c;
    sb = rq_score(q, best);
    sc = rq_score(q, c);
    if (sc != sb)
        return sc > sb ? c : best;
    if (c.minlen > best.minlen
        || (c.minlen == best.minlen && c.count < best.count))
        return c;
    return best;
}

/* A quantifier after an atom: its bounds (max 0 means unbounded). */
static void rq_quant(struct rq *q, unsigned long *min, unsigned long *max)
{
    const char *p = q->p;
    size_t i = q->i, n = q->n;

    *min = *max = 1;
    if (i < n && (p[i] == '*' || p[i] == '?' || p[i] == '+')) {
        *min = p[i] == '+';
        *max = p[i] == '?';
        i++;
    } else if (i < n && p[i] == '{') {
        /* Only {n}, {n,} and {n,m}: other braces are literal in some PCRE2
         * versions and quantifiers in others. */
        if (++i >= n || p[i] < '0' || p[i] > '9') {
            q->fail = 1;
            return;
        }
        for (*min = 0; i < n && p[i] >= '0' && p[i] <= '9' && *min < 65536;
             i++)
            *min = *min * 10 + (unsigned long)(p[i] - '0');
        *max = *min;
        if (i < n && p[i] == ',') {
            *max = 0;
            for (i++; i < n && p[i] >= '0' && p[i] <= '9' && *max < 65536; i++)
                *max = *max * 10 + (unsigned long)(p[i] - '0');
        }
        if (i >= n || p[i] != '}') {
            q->fail = 1;
            return;
        }
        i++;
    } else {
        return;
    }
    if (i < n && (p[i] == '?' || p[i] == '+'))
        i++;                        /* lazy, possessive */
    q->i = i;
}

static struct rq_info rq_alt(struct rq *q, unsigned depth);

/* A parenthesised item at q->i. */
static enum rq_kind rq_group(struct rq *q, unsigned depth,
                             struct rq_info *it)
{
    const char *p = q->p;
    size_t i = q->i + 1, n = q->n;
    int zero = 0;

    if (depth >= RQ_DEPTH_MAX || (i < n && p[i] == '*'))
        goto fail;
    if (i < n && p[i] == '?') {
        char c = ++i < n ? p[i] : '\0';

        if (c == ':' || c == '>' || c == '|') {
            i++;
        } else if (c == '=' || c == '!') {
            i++;
            zero = 1;
        } else if (c == '<' && i + 1 < n
                   && (p[i + 1] == '=' || p[i + 1] == '!')) {
            i += 2;
            zero = 1;
        } else if (c == '<' || c == '\''
                   || (c == 'P' && i + 1 < n && p[i + 1] == '<')) {
            char close = c == '\'' ? '\'' : '>';

            i += c == 'P' ? 2 : 1;  /* a named group */
            while (i < n && p[i] != close)
                i++;
            if (i++ >= n)
                goto fail;
        } else {
            /* (?flags) or (?flags:...); x would change what a blank is. */
            while (i < n && p[i] != ')' && p[i] != ':') {
                if (strchr("imnsUJ-^", p[i]) == NULL)
                    goto fail;
                i++;
            }
            if (i >= n)
                goto fail;
            if (p[i] == ')') {
                q->i = i + 1;
                return RQ_NOTHING;
            }
            i++;
        }
    }
    q->i = i;
    *it = rq_alt(q, depth + 1);
    if (q->fail || q->i >= n || p[q->i] != ')')
        goto fail;
    q->i++;
    if (zero) {
        /* A lookaround consumes nothing, whatever it looks at. */
        it->exact = rq_empty(q);
        it->req = rq_unknown;
    }
    return RQ_ITEM;

fail:
    q->fail = 1;
    return RQ_ITEM;
}

/* A bracketed class at q->i: a few plain bytes make a set. */
static void rq_class(struct rq *q, struct rq_info *it)
{
    const char *p = q->p;
    size_t n = q->n, start = q->i + 1, i = start, k = 0;
    char m[RQ_CLASS_MAX];
    int plain = 1;

    if (i < n && p[i] == '^') {
        plain = 0;
        i++;
    }
    if (i < n && p[i] == ']')
        i++;
    while (i < n && p[i] != ']') {
        if (p[i] == '\\') {
            if (i + 1 >= n || p[i + 1] == 'Q' || p[i + 1] == 'E') {
                q->fail = 1;
                return;
            }
            i += 2;
        } else if (p[i] == '[' && i + 1 < n && p[i + 1] == ':') {
            for (i += 2; i + 1 < n && !(p[i] == ':' && p[i + 1] == ']'); i++)
                ;
            if (i + 1 >= n) {
                q->fail = 1;
                return;
            }
            i += 2;
            plain = 0;
        } else {
            i++;
        }
    }
    if (i >= n) {
        q->fail = 1;
        return;
    }
    q->i = i + 1;
    /* Members: bytes and escaped punctuation; '-' only at an edge. */
    for (i = start; plain && i < q->i - 1; i++) {
        char c = p[i];

        if (c == '\\') {
            c = p[++i];
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                || (c >= '0' && c <= '9'))
                plain = 0;
        } else if (c == '-' && i != start && i + 1 != q->i - 1) {
            plain = 0;              /* a range */
        } else if (c == '[') {
            plain = 0;
        }
        if (plain && k == RQ_CLASS_MAX)
            plain = 0;
        else if (plain)
            m[k++] = c;
    }
    if (plain && k > 0) {
        it->exact = rq_chars(q, m, k);
        it->req = it->exact;
    }
}

/* One item at q->i into *it (unknown unless set). */
static enum rq_kind rq_atom(struct rq *q, unsigned depth, struct rq_info *it)
{
    const char *p = q->p;
    size_t n = q->n;
    char c = p[q->i], d;

    it->exact = it->req = rq_unknown;
    switch (c) {
    case '(':
        return rq_group(q, depth, it);
    case '[':
        rq_class(q, it);
        return RQ_ITEM;
    case '.':
        q->i++;
        return RQ_ITEM;
    case '^':
    case '$':
        q->i++;
        it->exact = rq_empty(q);    /* consumes nothing */
        return RQ_ITEM;
    case '{':
    case '*':
    case '+':
    case '?':
        q->fail = 1;
        return RQ_ITEM;
    case '\\':
        if (q->i + 1 >= n) {
            q->fail = 1;
            return RQ_ITEM;
        }
        d = p[q->i + 1];
        q->i += 2;
        if (!((d >= 'a' && d <= 'z') || (d >= 'A' && d <= 'Z')
              || (d >= '0' && d <= '9'))) {
            it->exact = it->req = rq_chars(q, &d, 1);   /* punctuation */
            return RQ_ITEM;
        }
        if (strchr("dDwWsShHvVR", d) != NULL
            || (d == 'N' && (q->i >= n || p[q->i] != '{')))
            return RQ_ITEM;
        if (strchr("bBAzZGK", d) != NULL) {
            it->exact = rq_empty(q);
            return RQ_ITEM;
        }
        if (strchr("tnrfea", d) != NULL) {
            d = d == 't' ? '\t' : d == 'n' ? '\n' : d == 'r' ? '\r'
              : d == 'f' ? '\f' : d == 'e' ? '\033' : '\a';
            it->exact = it->req = rq_chars(q, &d, 1);
            return RQ_ITEM;
        }
        q->fail = 1;                /* \x, \1, \Q, \p, \g, \k, \c... */
        return RQ_ITEM;
    default:
        q->i++;
        it->exact = it->req = rq_chars(q, &c, 1);
        return RQ_ITEM;
    }
}

/*
 * One branch. E holds the strings the items since the last break can
 * consume together (a cross product while it stays small); a break
 * offers E as a requirement and starts again.
 */
static struct rq_info rq_seq(struct rq *q, unsigned depth)
{
    struct rq_info out, it;
    struct rq_set best = rq_unknown, e = rq_empty(q), x, y, z;
    int exact = 1;

    while (q->i < q->n && !q->fail) {
        unsigned long min, max;

        if (q->p[q->i] == '|' || q->p[q->i] == ')')
            break;
        if (rq_atom(q, depth, &it) == RQ_NOTHING)
            continue;
        if (q->fail)
            break;
        rq_quant(q, &min, &max);
        if (q->fail)
            break;
        x = it.exact;
        y = rq_unknown;
        if (!x.any && min == 1 && max == 1)
            y = x;
        else if (!x.any && min == 0 && max == 1)
            y = rq_join(q, x, rq_empty(q));
        else if (!x.any && min == max && min >= 2 && min <= 4)
            for (y = x; min-- > 1;)
                y = rq_cross(q, y, x);
        if (!y.any) {
            z = rq_cross(q, e, y);
            if (z.any) {
                best = rq_better(q, best, e);
                e = y;
                exact = 0;
            } else {
                e = z;
            }
            continue;
        }
        /* The run breaks here. "ab+c" still requires "ab" and "bc". */
        exact = 0;
        if (!x.any && min >= 1) {
            z = rq_cross(q, e, x);
            best = rq_better(q, best, z.any ? e : z);
            best = rq_better(q, best, x);
            e = x;
            continue;
        }
        best = rq_better(q, best, e);
        if (min >= 1)
            best = rq_better(q, best, it.req);
        e = rq_empty(q);
    }
    best = rq_better(q, best, e);
    out.req = best;
    out.exact = exact ? e : rq_unknown;
    return out;
}

/* Branches: the union of their sets, unless one is unknown. */
static struct rq_info rq_alt(struct rq *q, unsigned depth)
{
    size_t base = q->nstk, i;
    struct rq_info u, s;

    for (;;) {
        s = rq_seq(q, depth);
        if (q->fail)
            break;
        q->stk = rq_grow(q, q->stk, &q->scap, q->nstk + 1, sizeof(*q->stk));
        if (q->fail)
            break;
        q->stk[q->nstk++] = s;
        if (q->i >= q->n || q->p[q->i] != '|')
            break;
        q->i++;
    }
    u.exact = u.req = rq_unknown;
    if (q->fail) {
        q->nstk = base;
        return u;
    }
    u = q->stk[base];
    for (i = base + 1; i < q->nstk; i++) {
        u.exact = rq_join(q, u.exact, q->stk[i].exact);
        u.req = rq_join(q, u.req, q->stk[i].req);
    }
    q->nstk = base;
    return u;
}

static int rq_contains(const struct rq *q, struct rq_lit big,
                       struct rq_lit small)
{
    size_t i;

    for (i = 0; i + small.len <= big.len; i++)
        if (memcmp(q->text + big.off + i, q->text + small.off, small.len) == 0)
            return 1;
    return 0;
}

/*
 * Drop the strings that contain another string of the set (and repeats):
 * whenever one of them occurs, the shorter one does too, so the set finds
 * the same candidates with fewer entries.
 */
static struct rq_set rq_prune(struct rq *q, struct rq_set s)
{
    struct rq_set r = { q->nlits, 0, s.minlen, 0 };
    size_t i, j;

    q->lits = rq_grow(q, q->lits, &q->lcap, q->nlits + s.count,
                      sizeof(*q->lits));
    if (q->fail)
        return s;
    for (i = 0; i < s.count; i++) {
        struct rq_lit a = q->lits[s.first + i];

        for (j = 0; j < s.count; j++) {
            struct rq_lit b = q->lits[s.first + j];

            if (j != i && (b.len < a.len || (b.len == a.len && j < i))
                && rq_contains(q, a, b))
                break;
        }
        if (j == s.count)
            q->lits[q->nlits++] = a;
    }
    r.count = q->nlits - r.first;
    return r;
}

/* The literals of pattern p (n bytes) that every match contains one of; any = 1 when there is no such set worth using. */
static struct rq_set rq_analyze(struct rq *q, const char *p, size_t n)
{
    struct rq_info it;

    q->p = p;
    q->n = n;
    q->i = 0;
    q->fail = 0;
    q->tlen = q->nlits = q->nstk = 0;
    it = rq_alt(q, 0);
    if (q->fail || q->i != n || it.req.any || it.req.minlen < 2)
        return rq_unknown;
    return rq_prune(q, it.req);
}

static void rq_free(struct rq *q)
{
    free(q->text);
    free(q->lits);
    free(q->stk);
}

/* The literal tables: literals keyed by their first 2, 3 or 4 bytes. */
static inline uint32_t lit_slot(uint32_t key, unsigned bits)
{
    return (key * 0x9e3779b1u) >> (32 - bits);
}

static int lit_add(struct flt_bl *bl, const char *s, size_t len, size_t re)
{
    struct bl_lit *l;
    size_t k = len < 4 ? len : 4, i;
    uint32_t off;

    if (bl->nlits == bl->lits_cap) {
        size_t cap = bl->lits_cap ? bl->lits_cap * 2 : 256;

        l = realloc(bl->lits, cap * sizeof(*l));
        if (l == NULL)
            return -ENOMEM;
        bl->lits = l;
        bl->lits_cap = cap;
    }
    if (arena_put(&bl->lit_text, s, len, 0, &off) != 0)
        return -ENOMEM;
    l = &bl->lits[bl->nlits++];
    for (l->key = 0, i = 0; i < k; i++)
        l->key = l->key << 8 | (unsigned char)s[i];
    l->off = off;
    l->len = (uint16_t)len;
    l->re = (uint32_t)re;
    l->next = 0;
    return 0;
}

/* Hash the literals, size the candidate marks: end of every load. */
static int lit_index(struct flt_bl *bl)
{
    size_t t, i, words = (bl->nres + 63) / 64;
    uint64_t *m;

    for (t = 0; t < 3; t++) {
        struct bl_litab *tab = &bl->ltab[t];
        size_t cnt = 0;

        free(tab->head);
        tab->head = NULL;
        tab->n = 0;
        for (i = 0; i < bl->nlits; i++)
            cnt += (bl->lits[i].len < 4 ? bl->lits[i].len : 4) == t + 2;
        if (cnt == 0)
            continue;
        for (tab->bits = 4; ((size_t)1 << tab->bits) < cnt * 2; tab->bits++)
            ;
        tab->head = calloc((size_t)1 << tab->bits, sizeof(*tab->head));
        if (tab->head == NULL)
            return -ENOMEM;
        tab->n = cnt;
        for (i = 0; i < bl->nlits; i++) {
            struct bl_lit *l = &bl->lits[i];
            uint32_t h;

            if ((l->len < 4 ? l->len : 4) != t + 2)
                continue;
            h = lit_slot(l->key, tab->bits);
            l->next = tab->head[h];
            tab->head[h] = (uint32_t)i + 1;
        }
    }
    m = realloc(bl->marks, (words ? words : 1) * sizeof(*m));
    if (m == NULL)
        return -ENOMEM;
    memset(m, 0, (words ? words : 1) * sizeof(*m));
    bl->marks = m;
    m = realloc(bl->always, (words ? words : 1) * sizeof(*m));
    if (m == NULL)
        return -ENOMEM;
    memset(m, 0, (words ? words : 1) * sizeof(*m));
    for (i = 0; i < bl->nres; i++)
        if (bl->res[i].always)
            m[i >> 6] |= (uint64_t)1 << (i & 63);
    bl->always = m;
    return 0;
}

static inline void lit_probe(const struct flt_bl *bl, unsigned t,
                             uint32_t key, const char *s, size_t n, size_t i)
{
    const struct bl_litab *tab = &bl->ltab[t];
    uint32_t e;
    size_t j;

    if (tab->n == 0)
        return;
    for (e = tab->head[lit_slot(key, tab->bits)]; e != 0;
         e = bl->lits[e - 1].next) {
        const struct bl_lit *l = &bl->lits[e - 1];
        const char *w = bl->lit_text.p + l->off;

        if (l->key != key || l->len > n - i)
            continue;
        for (j = t + 2; j < l->len && lower(s[i + j]) == w[j]; j++)
            ;
        if (j == l->len)
            bl->marks[l->re >> 6] |= (uint64_t)1 << (l->re & 63);
    }
}

/* Mark the expressions whose literals occur in s[0..n). */
static void lit_scan(const struct flt_bl *bl, const char *s, size_t n)
{
    size_t i;

    for (i = 0; i + 2 <= n; i++) {
        uint32_t k = (uint32_t)(unsigned char)lower(s[i]) << 8
                     | (unsigned char)lower(s[i + 1]);

        lit_probe(bl, 0, k, s, n, i);
        if (i + 3 > n)
            continue;
        k = k << 8 | (unsigned char)lower(s[i + 2]);
        lit_probe(bl, 1, k, s, n, i);
        if (i + 4 > n)
            continue;
        k = k << 8 | (unsigned char)lower(s[i + 3]);
        lit_probe(bl, 2, k, s, n, i);
    }
}

/* --- expressions: compiling --------------------------------------------- */

struct bl_pat {
    size_t off, len;            /* in the file's pattern text */
    pcre2_code *code;
};

/*
 * Can p be wrapped as "(?:p)" among other alternatives and mean the same?
 * Not when it refers to groups by number (renumbered by the merge), uses
 * verbs that act across alternatives ((*COMMIT), (*SKIP)...), start-of-
 * pattern options, \Q (which could swallow the rest) or # (an extended-
 * mode comment would swallow the closing parenthesis).
 */
static int re_mergeable(const pcre2_code *code, const char *p, size_t n)
{
    uint32_t br = 0;
    size_t i;

    if (pcre2_pattern_info(code, PCRE2_INFO_BACKREFMAX, &br) != 0 || br != 0)
        return 0;
    for (i = 0; i < n; i++) {
        char c = p[i], d = i + 1 < n ? p[i + 1] : '\0';
        char e = i + 2 < n ? p[i + 2] : '\0';

        if (c == '#')
            return 0;
        if (c == '\\') {
            if (d == 'Q' || d == 'E' || d == 'g' || d == 'k')
                return 0;
            i++;
            continue;
        }
        if (c == '(' && d == '*')
            return 0;
        if (c == '(' && d == '?'
            && ((e >= '0' && e <= '9') || e == 'R' || e == '+' || e == '-'))
            return 0;
    }
    return 1;
}

static void re_account(struct flt_bl *bl, const pcre2_code *code)
{
    size_t sz = 0, jsz = 0;

    pcre2_pattern_info(code, PCRE2_INFO_SIZE, &sz);
    pcre2_pattern_info(code, PCRE2_INFO_JITSIZE, &jsz);
    bl->re_bytes += sz + jsz;
}

/*
 * Keep a compiled expression (the list owns code from here on success).
 * With q and set, it runs only when one of those literals occurs.
 */
static int re_push(struct flt_bl *bl, pcre2_code *code, unsigned cat,
                   const struct rq *q, const struct rq_set *set)
{
    struct bl_re *r;
    size_t i;

    if (bl->nres == bl->res_cap) {
        size_t cap = bl->res_cap ? bl->res_cap * 2 : 16;

        r = realloc(bl->res, cap * sizeof(*r));
        if (r == NULL)
            return -ENOMEM;
        bl->res = r;
        bl->res_cap = cap;
    }
    if (bl->nres >= UINT32_MAX)
        return -ENOMEM;
    for (i = 0; set != NULL && i < set->count; i++) {
        const struct rq_lit *l = &q->lits[set->first + i];

        if (lit_add(bl, q->text + l->off, l->len, bl->nres) != 0)
            return -ENOMEM;
    }
    /* Without JIT support the interpreter runs the same pattern. */
    (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
    r = &bl->res[bl->nres++];
    r->code = code;
    r->cat = cat;
    r->always = set == NULL;
    re_account(bl, code);
    set_add(&bl->has_re, cat);
    return 0;
}

/* The match-time state, made once: matching then allocates nothing. */
static int re_state(struct flt_bl *bl)
{
    if (bl->md != NULL)
        return 0;
    bl->md = pcre2_match_data_create(1, NULL);
    bl->mctx = pcre2_match_context_create(NULL);
    bl->jstack = pcre2_jit_stack_create(32 * 1024, BL_JIT_STACK_MAX, NULL);
    if (bl->md == NULL || bl->mctx == NULL || bl->jstack == NULL)
        return -ENOMEM;
    pcre2_set_match_limit(bl->mctx, BL_MATCH_LIMIT);
    pcre2_set_depth_limit(bl->mctx, BL_DEPTH_LIMIT);
    pcre2_jit_stack_assign(bl->mctx, NULL, bl->jstack);
    return 0;
}

/* Compile "(?:a)|(?:b)|..." from the chunk; NULL if it does not compile. */
static pcre2_code *re_merge(const struct bl_pat *pats, const size_t *chunk,
                            size_t nchunk, const char *text)
{
    size_t len = 0, j;
    pcre2_code *code;
    PCRE2_SIZE eo;
    char *m;
    int ec;

    for (j = 0; j < nchunk; j++)
        len += pats[chunk[j]].len + 5;
    m = malloc(len);
    if (m == NULL)
        return NULL;
    for (len = 0, j = 0; j < nchunk; j++) {
        const struct bl_pat *p = &pats[chunk[j]];

        if (j > 0)
            m[len++] = '|';
        memcpy(m + len, "(?:", 3);
        memcpy(m + len + 3, text + p->off, p->len);
        len += p->len + 3;
        m[len++] = ')';
    }
    code = pcre2_compile((PCRE2_SPTR)m, len, PCRE2_CASELESS, &ec, &eo, NULL);
    free(m);
    return code;
}

/*
 * Keep a file's patterns (each alone was already compiled, to report its
 * own line). Patterns with required literals stay alone behind the
 * literal scan; the others are merged in runs of up to FLT_BL_MERGE_MAX
 * when re_mergeable() says the meaning survives (a merge that does not
 * compile keeps them alone). Takes the codes in pats (kept or freed; the
 * caller frees those left non-NULL after an error).
 */
static int re_commit(struct flt_bl *bl, struct bl_pat *pats, size_t npats,
                     const char *text, unsigned cat)
{
    struct rq q;
    struct rq_set set;
    size_t i, j, *chunk, nchunk = 0;
    int rc = 0;

    memset(&q, 0, sizeof(q));
    chunk = malloc((npats ? npats : 1) * sizeof(*chunk));
    if (chunk == NULL)
        return -ENOMEM;
    for (i = 0; i <= npats && rc == 0; i++) {
        if (i < npats) {
            set = rq_unknown;
            if (FLT_BL_PREFILTER)
                set = rq_analyze(&q, text + pats[i].off, pats[i].len);
            if (!set.any) {
                rc = re_push(bl, pats[i].code, cat, &q, &set);
                if (rc == 0)
                    pats[i].code = NULL;
                continue;
            }
            if (FLT_BL_MERGE_MAX > 1
                && re_mergeable(pats[i].code, text + pats[i].off, pats[i].len))
                chunk[nchunk++] = i;
            else {
                rc = re_push(bl, pats[i].code, cat, NULL, NULL);
                if (rc == 0)
                    pats[i].code = NULL;
            }
        }
        if (nchunk == 0 || (nchunk < FLT_BL_MERGE_MAX && i < npats))
            continue;
        if (nchunk > 1) {
            pcre2_code *code = re_merge(pats, chunk, nchunk, text);

            if (code != NULL) {
                rc = re_push(bl, code, cat, NULL, NULL);
                if (rc != 0) {
                    pcre2_code_free(code);
                    break;
                }
                for (j = 0; j < nchunk; j++) {
                    pcre2_code_free(pats[chunk[j]].code);
                    pats[chunk[j]].code = NULL;
                }
                nchunk = 0;
                continue;
            }
        }
        for (j = 0; j < nchunk && rc == 0; j++) {
            rc = re_push(bl, pats[chunk[j]].code, cat, NULL, NULL);
            if (rc == 0)
                pats[chunk[j]].code = NULL;
        }
        nchunk = 0;
    }
    free(chunk);
    rq_free(&q);
    return rc;
}

/* Room for one more pattern and text of tlen bytes in all. */
static int pat_room(struct bl_pat **pats, size_t *cap, size_t npats,
                    char **text, size_t *tcap, size_t tlen)
{
    size_t c;
    void *p;

    if (npats == *cap) {
        c = *cap ? *cap * 2 : 64;
        p = realloc(*pats, c * sizeof(**pats));
        if (p == NULL)
            return -ENOMEM;
        *pats = p;
        *cap = c;
    }
    if (tlen > *tcap) {
        for (c = *tcap ? *tcap : 4096; c < tlen; c *= 2)
            ;
        p = realloc(*text, c);
        if (p == NULL)
            return -ENOMEM;
        *text = p;
        *tcap = c;
    }
    return 0;
}

/* --- reading files ---------------------------------------------------- */

/*
 * The next line of r without its '\n': 1 (line in *s, *n), 0 at the end,
 * -1 on a read error (errno), -2 when a line longer than the buffer was
 * skipped (its number in r->line).
 */
static int rd_line(struct bl_reader *r, char **s, size_t *n)
{
    for (;;) {
        char *p = r->buf + r->pos;
        char *nl = memchr(p, '\n', r->end - r->pos);
        ssize_t got;

        if (nl != NULL || (r->eof && (r->pos < r->end || r->skipping))) {
            size_t len = nl != NULL ? (size_t)(nl - p) : r->end - r->pos;

            r->pos += len + (nl != NULL);
            r->line++;
            if (r->skipping) {
                r->skipping = 0;
                return -2;
            }
            *s = p;
            *n = len;
            return 1;
        }
        if (r->eof)
            return 0;
        if (r->pos > 0) {
            memmove(r->buf, p, r->end - r->pos);
            r->end -= r->pos;
            r->pos = 0;
        }
        if (r->end == BL_READ_BUF) {
            r->skipping = 1;        /* no newline in a full buffer */
            r->end = 0;
        }
        got = read(r->fd, r->buf + r->end, BL_READ_BUF - r->end);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (got == 0)
            r->eof = 1;
        r->end += (size_t)got;
    }
}

/* Strip blanks and CR around s[0..*n); returns the new start. */
static char *trim(char *s, size_t *n)
{
    size_t len = *n;

    while (len > 0 && is_blank(s[len - 1]))
        len--;
    while (len > 0 && is_blank(*s)) {
        s++;
        len--;
    }
    *n = len;
    return s;
}

/*
 * A domains or urls line is one word, optionally followed by a comment.
 * Cuts *n to the word; returns 0 if something else follows.
 */
static int one_word(const char *s, size_t *n)
{
    size_t i, j;

    for (i = 0; i < *n && !is_blank(s[i]); i++)
        ;
    for (j = i; j < *n && is_blank(s[j]); j++)
        ;
    if (j < *n && s[j] != '#')
        return 0;
    *n = i;
    return 1;
}

/*
 * Load one list file of a category. A missing file is an empty list.
 * Returns 0, or -1 with the error in ld (unreadable file, no memory).
 */
static int load_file(struct flt_bl *bl, struct bl_load *ld, const char *path,
                     enum bl_kind kind, unsigned cat)
{
    struct bl_reader r;
    struct bl_pat *pats = NULL;
    size_t npats = 0, pats_cap = 0, tlen = 0, tcap = 0, n;
    char *text = NULL, *s, name[BL_NAME_MAX + 1];
    const char *why;
    struct stat st;
    int rc = 0, got;

    memset(&r, 0, sizeof(r));
    r.buf = ld->buf;
    r.fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r.fd < 0) {
        if (errno == ENOENT)
            return 0;
        return bl_fail(ld, "%s: %s", path, strerror(errno));
    }
    /* Size the table for the file at once (~16 bytes a line) rather
     * than rehash a million names while they come in. */
    if (kind == BL_DOMAINS && fstat(r.fd, &st) == 0 && st.st_size > 0
        && dom_reserve(bl, bl->ndom + (size_t)st.st_size / 16) != 0) {
        rc = -ENOMEM;
        goto done;
    }
    if (kind == BL_EXPRESSIONS && re_state(bl) != 0) {
        rc = -ENOMEM;
        goto done;
    }

    while ((got = rd_line(&r, &s, &n)) != 0) {
        if (got == -1) {
            rc = bl_fail(ld, "%s: %s", path, strerror(errno));
            goto done;
        }
        if (got == -2) {
            bl_warn(bl, ld, path, r.line, "line too long");
            continue;
        }
        if (r.line == 1 && n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0) {
            s += 3;                 /* UTF-8 byte order mark */
            n -= 3;
        }
        s = trim(s, &n);
        if (n == 0 || s[0] == '#')
            continue;
        why = NULL;
        if (kind != BL_EXPRESSIONS && !one_word(s, &n)) {
            bl_warn(bl, ld, path, r.line, "unexpected text after the entry");
            continue;
        }
        if (kind == BL_DOMAINS) {
            size_t k = host_norm(s, n, name, &why);

            if (k == 0) {
                bl_warn(bl, ld, path, r.line, why);
                continue;
            }
            if (dom_add(bl, name, k, cat) < 0) {
                rc = -ENOMEM;
                goto done;
            }
        } else if (kind == BL_URLS) {
            int k = url_add(bl, s, n, cat, &why);

            if (k < 0) {
                rc = -ENOMEM;
                goto done;
            }
            if (k == 0)
                bl_warn(bl, ld, path, r.line, why);
        } else {
            char msg[160], emsg[120];
            int ec;
            PCRE2_SIZE eo;
            pcre2_code *code;

            code = pcre2_compile((PCRE2_SPTR)s, n, PCRE2_CASELESS, &ec, &eo,
                                 NULL);
            if (code == NULL) {
                pcre2_get_error_message(ec, (PCRE2_UCHAR *)emsg, sizeof(emsg));
                snprintf(msg, sizeof(msg), "bad expression: %s at offset %zu",
                         emsg, (size_t)eo);
                bl_warn(bl, ld, path, r.line, msg);
                continue;
            }
            if (pat_room(&pats, &pats_cap, npats, &text, &tcap, tlen + n)
                != 0) {
                pcre2_code_free(code);
                rc = -ENOMEM;
                goto done;
            }
            memcpy(text + tlen, s, n);
            pats[npats].off = tlen;
            pats[npats].len = n;
            pats[npats].code = code;
            npats++;
            tlen += n;
            bl->nexpr++;
        }
    }
    if (kind == BL_EXPRESSIONS)
        rc = re_commit(bl, pats, npats, text, cat);

done:
    if (rc == -ENOMEM)
        rc = bl_fail(ld, "%s: out of memory", path);
    while (npats > 0)
        pcre2_code_free(pats[--npats].code);    /* NULL when kept */
    free(pats);
    free(text);
    close(r.fd);
    return rc;
}

/* --- categories ------------------------------------------------------- */

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_dir(const char *dir, const char *name, int *err)
{
    char path[PATH_MAX];
    struct stat st;

    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name)
        >= sizeof(path)) {
        *err = ENAMETOOLONG;
        return 0;
    }
    if (stat(path, &st) != 0) {
        *err = errno;
        return 0;
    }
    *err = S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
    return S_ISDIR(st.st_mode);
}

static int valid_category(const char *name)
{
    return name[0] != '\0' && name[0] != '.' && strchr(name, '/') == NULL;
}

/*
 * The category names to load: the listed ones (checked, duplicates
 * dropped) or every subdirectory of dir, sorted. *out holds pointers into
 * names or strdup'd copies (*owned).
 */
static int pick_categories(struct bl_load *ld, const char *dir,
                           const char *const *names, size_t n,
                           char ***out, size_t *nout)
{
    char **v = NULL, **nv;
    size_t cnt = 0, cap = 0, i, j;
    DIR *d;
    struct dirent *de;
    int e;

    if (names != NULL) {
        v = calloc(n ? n : 1, sizeof(*v));
        if (v == NULL)
            return bl_fail(ld, "out of memory");
        for (i = 0; i < n; i++) {
            if (names[i] == NULL || !valid_category(names[i])) {
                free(v);
                return bl_fail(ld, "%s: bad category name \"%s\"", dir,
                               names[i] ? names[i] : "(null)");
            }
            if (!is_dir(dir, names[i], &e)) {
                free(v);
                return bl_fail(ld, "%s/%s: unknown category (%s)", dir,
                               names[i], strerror(e));
            }
            for (j = 0; j < cnt && strcmp(v[j], names[i]) != 0; j++)
                ;
            if (j == cnt)
                v[cnt++] = (char *)names[i];
        }
        *out = v;
        *nout = cnt;
        return 0;
    }

    d = opendir(dir);
    if (d == NULL)
        return bl_fail(ld, "%s: %s", dir, strerror(errno));
    while ((de = readdir(d)) != NULL) {
        if (!valid_category(de->d_name) || !is_dir(dir, de->d_name, &e))
            continue;
        if (cnt == cap) {
            cap = cap ? cap * 2 : 32;
            nv = realloc(v, cap * sizeof(*v));
            if (nv == NULL)
                goto nomem;
            v = nv;
        }
        v[cnt] = strdup(de->d_name);
        if (v[cnt] == NULL)
            goto nomem;
        cnt++;
    }
    closedir(d);
    if (cnt > 0)
        qsort(v, cnt, sizeof(*v), name_cmp);
    *out = v;
    *nout = cnt;
    return 0;

nomem:
    closedir(d);
    while (cnt > 0)
        free(v[--cnt]);
    free(v);
    return bl_fail(ld, "out of memory");
}

/* --- public ----------------------------------------------------------- */

struct flt_bl *flt_bl_new(void)
{
    return calloc(1, sizeof(struct flt_bl));
}

void flt_bl_free(struct flt_bl *bl)
{
    size_t i;

    if (bl == NULL)
        return;
    for (i = 0; i < bl->ncat; i++)
        free(bl->names[i]);
    for (i = 0; i < bl->nres; i++)
        pcre2_code_free(bl->res[i].code);
    free(bl->res);
    pcre2_match_data_free(bl->md);
    pcre2_match_context_free(bl->mctx);
    pcre2_jit_stack_free(bl->jstack);
    free(bl->lits);
    free(bl->lit_text.p);
    for (i = 0; i < 3; i++)
        free(bl->ltab[i].head);
    free(bl->marks);
    free(bl->always);
    free(bl->dom);
    free(bl->urls);
    free(bl->uhosts);
    free(bl->utab);
    free(bl->arena.p);
    free(bl);
}

int flt_bl_load_dir(struct flt_bl *bl, const char *dir,
                    const char *const *names, size_t n,
                    flt_bl_warn_cb warn, void *warn_data,
                    char *err, size_t errlen)
{
    struct bl_load ld = { warn, warn_data, err, errlen, NULL };
    char **cats = NULL, path[PATH_MAX];
    unsigned ids[FLT_BL_MAX_CATEGORIES];
    size_t ncats = 0, fresh = 0, i, k;
    int rc = -1;

    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (bl == NULL || dir == NULL)
        return bl_fail(&ld, "no list or directory");
    if (pick_categories(&ld, dir, names, n, &cats, &ncats) != 0)
        return -1;
    for (i = 0; i < ncats; i++)
        if (flt_bl_category_id(bl, cats[i]) < 0)
            fresh++;
    if (bl->ncat + fresh > FLT_BL_MAX_CATEGORIES) {
        bl_fail(&ld, "%s: too many categories (at most %d)", dir,
                FLT_BL_MAX_CATEGORIES);
        goto out;
    }
    /* Ids follow the order of names, or of the sorted directory. */
    for (i = 0; i < ncats; i++) {
        int id = flt_bl_category_id(bl, cats[i]);

        if (id < 0) {
            bl->names[bl->ncat] = strdup(cats[i]);
            if (bl->names[bl->ncat] == NULL) {
                bl_fail(&ld, "out of memory");
                goto out;
            }
            id = (int)bl->ncat++;
        }
        ids[i] = (unsigned)id;
    }
    ld.buf = malloc(BL_READ_BUF);
    if (ld.buf == NULL) {
        bl_fail(&ld, "out of memory");
        goto out;
    }
    for (i = 0; i < ncats; i++)
        for (k = 0; k < 3; k++) {
            if ((size_t)snprintf(path, sizeof(path), "%s/%s/%s", dir, cats[i],
                                 bl_files[k]) >= sizeof(path)) {
                bl_fail(&ld, "%s/%s: path too long", dir, cats[i]);
                goto out;
            }
            if (load_file(bl, &ld, path, (enum bl_kind)k, ids[i]) != 0)
                goto out;
        }
    if (url_index(bl) != 0 || lit_index(bl) != 0) {
        bl_fail(&ld, "%s: out of memory", dir);
        goto out;
    }
    arena_shrink(&bl->arena);
    rc = 0;

out:
    free(ld.buf);
    if (names == NULL)
        for (i = 0; i < ncats; i++)
            free(cats[i]);
    free(cats);
    return rc;
}

int flt_bl_category_id(const struct flt_bl *bl, const char *name)
{
    size_t i;

    if (bl == NULL || name == NULL)
        return -1;
    for (i = 0; i < bl->ncat; i++)
        if (strcmp(bl->names[i], name) == 0)
            return (int)i;
    return -1;
}

const char *flt_bl_category_name(const struct flt_bl *bl, int id)
{
    if (bl == NULL || id < 0 || (size_t)id >= bl->ncat)
        return NULL;
    return bl->names[id];
}

size_t flt_bl_ncategories(const struct flt_bl *bl)
{
    return bl ? bl->ncat : 0;
}

int flt_bl_match(const struct flt_bl *bl, const struct flt_bl_set *want,
                 const char *host, size_t host_len,
                 const char *url, size_t url_len)
{
    char name[BL_NAME_MAX + 1];
    size_t at[BL_LABELS_MAX], nsuf = 0, n = 0, k, i;
    uint64_t hash[BL_LABELS_MAX];
    struct flt_bl_set all;
    const char *path = "", *subj;
    size_t plen = 0, slen;
    int c;

    if (bl == NULL)
        return -1;
    if (want == NULL) {                 /* NULL: every category */
        memset(&all, 0xff, sizeof(all));
        want = &all;
    }
    if (host != NULL && host_len > 0)
        n = req_host(host, host_len, name);
    if (n > 0 && (bl->ndom > 0 || bl->nuhosts > 0))
        nsuf = suffixes(name, n, at, hash);

    if (bl->ndom > 0 && set_meets(want, &bl->has_dom))
        for (k = 0; k < nsuf; k++) {
            c = dom_find(bl, want, name + at[k], n - at[k], hash[k]);
            if (c >= 0)
                return c;
        }

    if (bl->nuhosts > 0 && nsuf > 0 && set_meets(want, &bl->has_url)) {
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

    if (bl->nres > 0 && set_meets(want, &bl->has_re)) {
        subj = url != NULL ? url : host;
        slen = url != NULL ? url_len : host_len;
        if (subj == NULL)
            return -1;
        if (bl->nlits > 0)
            lit_scan(bl, subj, slen);
        c = -1;
        /* The candidates, in list order: a walk over set bits, not over
         * every expression. */
        for (k = 0; k < (bl->nres + 63) / 64 && c < 0; k++) {
            uint64_t bits = bl->marks[k] | bl->always[k];

            while (bits != 0 && c < 0) {
                const struct bl_re *r = &bl->res[k * 64 + ctz64(bits)];

                bits &= bits - 1;
                if (set_has(want, r->cat)
                    && pcre2_match(r->code, (PCRE2_SPTR)subj, slen, 0, 0,
                                   bl->md, bl->mctx) >= 0)
                    c = (int)r->cat;
            }
        }
        if (bl->nlits > 0)
            memset(bl->marks, 0, (bl->nres + 63) / 64 * sizeof(*bl->marks));
        return c;
    }
    return -1;
}

void flt_bl_get_stats(const struct flt_bl *bl, struct flt_bl_stats *st)
{
    size_t i;

    memset(st, 0, sizeof(*st));
    if (bl == NULL)
        return;
    st->domains = bl->ndom;
    st->urls = bl->nurls;
    st->expressions = bl->nexpr;
    st->bad_lines = bl->bad;
    st->bytes = sizeof(*bl) + bl->arena.cap + bl->re_bytes
                + (bl->dom ? (bl->dom_mask + 1) * sizeof(*bl->dom) : 0)
                + bl->urls_cap * sizeof(*bl->urls)
                + bl->nuhosts * sizeof(*bl->uhosts)
                + (bl->utab ? (bl->utab_mask + 1) * sizeof(*bl->utab) : 0)
                + bl->res_cap * sizeof(*bl->res)
                + bl->lits_cap * sizeof(*bl->lits) + bl->lit_text.cap
                + (bl->marks ? (bl->nres + 63) / 64 * sizeof(*bl->marks) : 0);
    for (i = 0; i < 3; i++)
        st->bytes += bl->ltab[i].head
                     ? ((size_t)1 << bl->ltab[i].bits) * sizeof(uint32_t) : 0;
    for (i = 0; i < bl->ncat; i++)
        st->bytes += strlen(bl->names[i]) + 1;
}
