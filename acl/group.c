/*
 * group.c - the ldap_group ACL's memory of the directory's answers, and
 * the search filters it asks with (see group.h).
 *
 * The cache is a chained hash table of (user, group) answers threaded on
 * one LRU list: a lookup is one probe; a new answer past max evicts the
 * least recently used one. Keys are authenticated user names (never what
 * an anonymous client typed) and configured group names, so the table's
 * size, not the hash, is what an abuser could push on: it is bounded.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl/acl.h"
#include "acl/group.h"
#include "squidlike/hash.h"

struct gent {
    struct gent *hnext;         /* bucket chain */
    struct gent *prev, *next;   /* LRU: head is the most recent */
    uint32_t hash;
    time_t expires;
    unsigned char ans;
    size_t klen;                /* "user\0group" */
    char key[];
};

struct acl_gcache {
    struct gent **b;
    size_t nb;                  /* power of two */
    size_t n, max;
    time_t ttl[4];              /* by enum acl_gans */
    struct gent *head, *tail;
    unsigned long long hits, misses, evictions;
};

struct acl_gcache *acl_gcache_new(size_t max, time_t ttl, time_t neg_ttl,
                                  time_t err_ttl)
{
    struct acl_gcache *gc;
    size_t nb = 16;

    if (max == 0)
        return NULL;
    while (nb < max && nb < ((size_t)1 << 22))
        nb <<= 1;
    gc = calloc(1, sizeof(*gc));
    if (gc == NULL)
        return NULL;
    gc->b = calloc(nb, sizeof(*gc->b));
    if (gc->b == NULL) {
        free(gc);
        return NULL;
    }
    gc->nb = nb;
    gc->max = max;
    gc->ttl[ACL_GANS_MEMBER] = ttl;
    gc->ttl[ACL_GANS_NOT] = neg_ttl;
    gc->ttl[ACL_GANS_ERROR] = err_ttl;
    return gc;
}

void acl_gcache_free(struct acl_gcache *gc)
{
    struct gent *e, *next;

    if (gc == NULL)
        return;
    for (e = gc->head; e; e = next) {
        next = e->next;
        free(e);
    }
    free(gc->b);
    free(gc);
}

/* "user\0group" into key (room for both maxima); its length, 0 if too long. */
static size_t make_key(const char *user, const char *group, char *key)
{
    size_t ul = strlen(user), gl = strlen(group);

    if (ul > ACL_GROUP_USER_MAX || gl > ACL_GROUP_NAME_MAX)
        return 0;
    memcpy(key, user, ul + 1);
    memcpy(key + ul + 1, group, gl);
    return ul + 1 + gl;
}

static struct gent **slot_of(struct acl_gcache *gc, const char *key,
                             size_t klen, uint32_t h)
{
    struct gent **p = &gc->b[h & (gc->nb - 1)];

    while (*p && ((*p)->hash != h || (*p)->klen != klen ||
                  memcmp((*p)->key, key, klen) != 0))
        p = &(*p)->hnext;
    return p;
}

static void lru_unlink(struct acl_gcache *gc, struct gent *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        gc->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        gc->tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_front(struct acl_gcache *gc, struct gent *e)
{
    e->next = gc->head;
    e->prev = NULL;
    if (gc->head)
        gc->head->prev = e;
    gc->head = e;
    if (gc->tail == NULL)
        gc->tail = e;
}

/* Take e (found at *p in its chain) out and free it. */
static void drop(struct acl_gcache *gc, struct gent **p, struct gent *e)
{
    *p = e->hnext;
    lru_unlink(gc, e);
    gc->n--;
    free(e);
}

static uint32_t key_hash(const char *key, size_t klen)
{
    uint32_t h = sl_fnv32(key, klen);

    h ^= h >> 16;               /* FNV's low bits are weak: mix before masking */
    h *= 0x45d9f3bu;
    return h ^ (h >> 16);
}

enum acl_gans acl_gcache_get(struct acl_gcache *gc, const char *user,
                             const char *group, time_t now)
{
    char key[ACL_GROUP_USER_MAX + ACL_GROUP_NAME_MAX + 2];
    size_t klen = make_key(user, group, key);
    struct gent **p, *e;
    uint32_t h;

    if (gc == NULL || klen == 0)
        return ACL_GANS_NONE;
    h = key_hash(key, klen);
    p = slot_of(gc, key, klen, h);
    e = *p;
    if (e != NULL && e->expires <= now) {
        drop(gc, p, e);
        e = NULL;
    }
    if (e == NULL) {
        gc->misses++;
        return ACL_GANS_NONE;
    }
    gc->hits++;
    lru_unlink(gc, e);
    lru_front(gc, e);
    return (enum acl_gans)e->ans;
}

int acl_gcache_put(struct acl_gcache *gc, const char *user, const char *group,
                   enum acl_gans ans, time_t now)
{
    char key[ACL_GROUP_USER_MAX + ACL_GROUP_NAME_MAX + 2];
    size_t klen = make_key(user, group, key);
    struct gent **p, *e;
    uint32_t h;

    if (gc == NULL || klen == 0 || ans == ACL_GANS_NONE || ans > ACL_GANS_ERROR)
        return -EINVAL;
    h = key_hash(key, klen);
    p = slot_of(gc, key, klen, h);
    e = *p;
    if (e == NULL) {
        if (gc->n >= gc->max) {
            struct gent *old = gc->tail;

            drop(gc, slot_of(gc, old->key, old->klen, old->hash), old);
            gc->evictions++;
            p = slot_of(gc, key, klen, h);  /* the chain may have changed */
        }
        e = malloc(sizeof(*e) + klen);
        if (e == NULL)
            return -ENOMEM;
        memcpy(e->key, key, klen);
        e->klen = klen;
        e->hash = h;
        e->hnext = NULL;
        e->prev = e->next = NULL;
        *p = e;
        gc->n++;
    } else {
        lru_unlink(gc, e);
    }
    e->ans = (unsigned char)ans;
    e->expires = now + gc->ttl[ans];
    lru_front(gc, e);
    return 0;
}

void acl_gcache_stats(const struct acl_gcache *gc, struct acl_gcache_stats *st)
{
    memset(st, 0, sizeof(*st));
    if (gc == NULL)
        return;
    st->n = gc->n;
    st->max = gc->max;
    st->hits = gc->hits;
    st->misses = gc->misses;
    st->evictions = gc->evictions;
}

/* ---- filters ------------------------------------------------------------ */

int acl_ldap_escape(const char *s, size_t len, char *out, size_t outlen)
{
    static const char hex[] = "0123456789abcdef";
    size_t i, o = 0;
    unsigned char c;

    if (outlen == 0)
        return -ENOSPC;
    for (i = 0; i < len; i++) {
        c = (unsigned char)s[i];
        if (c < 0x21 || c > 0x7e || c == '*' || c == '(' || c == ')' || c == '\\') {
            /* a blank is legal in a value, but escaped it cannot be
             * trimmed or folded by anybody along the way */
            if (o + 3 >= outlen)
                goto full;
            out[o++] = '\\';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        } else {
            if (o + 1 >= outlen)
                goto full;
            out[o++] = (char)c;
        }
    }
    out[o] = '\0';
    return (int)o;
full:
    out[0] = '\0';
    return -ENOSPC;
}

/* The placeholder at p ('%' there): 'D' (%u_dn), 'u', 'g', '%', or 0. */
static char placeholder(const char *p, size_t *len)
{
    if (strncmp(p, "%u_dn", 5) == 0) {
        *len = 5;
        return 'D';
    }
    *len = 2;
    return (p[1] == 'u' || p[1] == 'g' || p[1] == '%') ? p[1] : 0;
}

int acl_ldap_filter_check(const char *tpl, const char *need, char *why,
                          size_t whylen)
{
    int depth = 0, has_u = 0, has_g = 0;
    const char *p;
    size_t n;
    char k;

    if (strlen(tpl) > ACL_LDAP_FILTER_MAX)
        return acl_why(why, whylen, "longer than %d bytes", ACL_LDAP_FILTER_MAX);
    if (tpl[0] != '(')
        return acl_why(why, whylen, "\"%s\" does not start with '('", tpl);
    for (p = tpl; *p; p++) {
        if (*p == '%') {
            k = placeholder(p, &n);
            if (k == 0)
                return acl_why(why, whylen, "unknown placeholder \"%.2s\" in \"%s\" "
                               "(known: %%u, %%g, %%u_dn, %%%%)", p, tpl);
            has_u |= k == 'u' || k == 'D';
            has_g |= k == 'g';
            p += n - 1;
        } else if (*p == '\\') {
            /* an escape of the template's own: two hex digits */
            if (!strchr("0123456789abcdefABCDEF", p[1]) || p[1] == '\0' ||
                !strchr("0123456789abcdefABCDEF", p[2]) || p[2] == '\0')
                return acl_why(why, whylen, "bad escape in \"%s\" (want \\XX)", tpl);
            p += 2;
        } else if (*p == '(') {
            depth++;
        } else if (*p == ')') {
            if (--depth < 0)
                break;
            if (depth == 0 && p[1] != '\0')
                return acl_why(why, whylen, "text after the filter's closing ')' "
                               "in \"%s\"", tpl);
        } else if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            return acl_why(why, whylen, "control character in \"%s\"", tpl);
        }
    }
    if (depth != 0)
        return acl_why(why, whylen, "unbalanced parentheses in \"%s\"", tpl);
    if (strchr(need, 'u') && !has_u)
        return acl_why(why, whylen, "\"%s\" does not use %%u", tpl);
    if (strchr(need, 'g') && !has_g)
        return acl_why(why, whylen, "\"%s\" does not use %%g", tpl);
    return 0;
}

int acl_ldap_filter_wants_dn(const char *tpl)
{
    const char *p;
    size_t n;

    for (p = tpl; (p = strchr(p, '%')) != NULL; p += n)
        if (placeholder(p, &n) == 'D')
            return 1;
        else if (n == 2 && p[1] == '\0')
            break;
    return 0;
}

int acl_ldap_filter(const char *tpl, const char *user, const char *group,
                    const char *user_dn, char *out, size_t outlen)
{
    size_t o = 0, n;
    const char *p, *v;
    int w;
    char k;

    if (outlen == 0)
        return -ENOSPC;
    for (p = tpl; *p; p++) {
        if (*p != '%' || (k = placeholder(p, &n)) == 0 || k == '%') {
            if (o + 1 >= outlen)
                goto full;
            out[o++] = *p;
            if (*p == '%' && p[1] == '%')
                p++;
            continue;
        }
        v = k == 'u' ? user : k == 'g' ? group : user_dn;
        if (v == NULL) {
            out[0] = '\0';
            return -EINVAL;
        }
        w = acl_ldap_escape(v, strlen(v), out + o, outlen - o);
        if (w < 0)
            goto full;
        o += (size_t)w;
        p += n - 1;
    }
    out[o] = '\0';
    return (int)o;
full:
    out[0] = '\0';
    return -ENOSPC;
}
