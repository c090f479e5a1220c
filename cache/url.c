/*
 * url.c - resolving Location / Content-Location against the request URL
 * for invalidation (RFC 9111 4.4 with RFC 3986 5.2). Pure; split from
 * policy.c.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "cache/policy.h"
#include "squidlike/chars.h"

static int put(struct sl_buf *out, const char *p, size_t n)
{
    return sl_buf_append(out, p, n);
}

/* RFC 3986 5.2.4 in place on a path starting with '/'; the result is never
 * longer than the input. Returns the new length. */
static size_t remove_dot_segments(char *p, size_t n)
{
    size_t r = 0, w = 0, s, e;

    while (r < n) {             /* p[r] == '/' */
        for (s = e = r + 1; e < n && p[e] != '/'; e++)
            ;
        if (e - s == 1 && p[s] == '.') {
            if (e == n)
                p[w++] = '/';
        } else if (e - s == 2 && p[s] == '.' && p[s + 1] == '.') {
            while (w > 0 && p[--w] != '/')
                ;
            if (e == n)
                p[w++] = '/';
        } else {
            memmove(p + w, p + r, e - r);
            w += e - r;
        }
        r = e;
    }
    return w;
}

/* Do u and base name the same origin (scheme http, host, port; 4.4)? */
static int same_origin(const struct sl_url *u, const struct sl_url *base)
{
    return u->port == base->port && u->host_is_ipv6 == base->host_is_ipv6
           && strcmp(u->host, base->host) == 0;
}

/* The path of an "http://authority[/path]" that sl_http_parse_url accepted
 * (an authority holds no '/'); empty when it has none. */
static struct sl_view url_path(struct sl_view url)
{
    const char *s = memchr(url.base + 7, '/', url.len - 7), *end = sl_view_end(url);

    return sl_view_from(s ? s : end, end);
}

/* How a Location / Content-Location value resolves (RFC 3986 5.2.2). */
enum ref_kind {
    REF_NONE = 0,               /* other origin or unusable */
    REF_PATH,                   /* path as given ("/" when empty) */
    REF_QUERY,                  /* "?q": the base path, this query */
    REF_RELATIVE                /* merged with the base directory */
};

/* Classify ref, check its origin, split off its path and query. */
static enum ref_kind ref_parts(struct sl_view ref, const struct sl_url *base,
                               struct sl_view *path, struct sl_view *query)
{
    const char *p = ref.base, *end = sl_view_end(ref), *q;
    char auth[SL_HTTP_HOST_MAX + 16];
    enum ref_kind kind = REF_PATH;
    struct sl_url u;
    const char *err;

    for (q = p; q < end && sl_is_scheme_char(*q, q == p); q++)
        ;
    if (q > p && q < end && *q == ':') {        /* absolute-URI */
        if (sl_http_parse_url(ref, &u, &err) < 0 || !same_origin(&u, base))
            return REF_NONE;
        p = url_path(ref).base;
    } else if (ref.len >= 2 && p[0] == '/' && p[1] == '/') {
        /* network-path reference: check "http:" + its authority */
        for (q = p + 2; q < end && *q != '/' && *q != '?'; q++)
            ;
        if ((size_t)(q - p) + 5 > sizeof(auth))
            return REF_NONE;
        memcpy(auth, "http:", 5);
        memcpy(auth + 5, p, (size_t)(q - p));
        if (sl_http_parse_url(sl_view_from(auth, auth + 5 + (q - p)), &u, &err) < 0
            || !same_origin(&u, base))
            return REF_NONE;
        p = q;
    } else if (*p == '?') {
        kind = REF_QUERY;
    } else if (*p != '/') {
        kind = REF_RELATIVE;
    }
    q = memchr(p, '?', (size_t)(end - p));
    *path = sl_view_from(p, q ? q : end);
    *query = sl_view_from(q ? q : end, end);
    return kind;
}

int cache_same_origin_url(const char *request_url, struct sl_view ref,
                          struct sl_buf *out)
{
    struct sl_view rv = { request_url, request_url ? strlen(request_url) : 0 };
    struct sl_view path, query, bpath, dir;
    struct sl_url base;
    enum ref_kind kind;
    const char *err, *hash, *q;
    char *mark = out->last, *pstart;
    size_t i;

    if (rv.len == 0 || sl_http_parse_url(rv, &base, &err) < 0)
        return 0;
    ref = sl_view_trim(ref);
    if (ref.len && (hash = memchr(ref.base, '#', ref.len)) != NULL)
        ref.len = (size_t)(hash - ref.base);        /* fragments are not keys */
    for (i = 0; i < ref.len; i++)
        if ((unsigned char)ref.base[i] <= ' ' || ref.base[i] == 0x7f)
            return 0;
    if (ref.len == 0 || (kind = ref_parts(ref, &base, &path, &query)) == REF_NONE)
        return 0;
    /* The base path without its query, and its directory (up to the last
     * '/'); a URL without a path has "/". */
    bpath = url_path(rv);
    if ((q = memchr(bpath.base, '?', bpath.len)) != NULL)
        bpath.len = (size_t)(q - bpath.base);
    if (bpath.len == 0)
        bpath = SL_VIEW_LIT("/");
    for (dir = bpath; dir.base[dir.len - 1] != '/'; dir.len--)
        ;

    /* The origin is written as the request URL spells it, so the result has
     * the same form as the caller's cache key. */
    if (put(out, rv.base, (size_t)(url_path(rv).base - rv.base)) < 0)
        goto fail;
    pstart = out->last;
    if (kind == REF_QUERY)
        path = bpath;
    else if (kind == REF_PATH && path.len == 0)
        path = SL_VIEW_LIT("/");
    else if (kind == REF_RELATIVE && put(out, dir.base, dir.len) < 0)
        goto fail;              /* 5.2.3: merge with the base directory */
    if (put(out, path.base, path.len) < 0)
        goto fail;
    out->last = pstart + remove_dot_segments(pstart, (size_t)(out->last - pstart));
    if (put(out, query.base, query.len) < 0)
        goto fail;
    return 1;

fail:
    out->last = mark;
    return -ENOSPC;
}
