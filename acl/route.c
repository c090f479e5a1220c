/*
 * route.c - reverse mode's vhosts and routes (see route.h): the tables
 * built at config load, the match of one request, the rewrite of its path.
 *
 * Costs per request, whatever the size of the table:
 *   vhost   the Host is normalised into a stack buffer and hashed from its
 *           last byte backwards (acl_hash's FNV-1a order), so that one pass
 *           gives the hash of the whole name and of every suffix that
 *           starts after a dot: one probe of the exact names, then one
 *           probe of the wildcard suffixes per label, longest first, each
 *           probe one string compare at most on a full hash match;
 *   route   the vhost's routes in order (at most 64): a prefix is one
 *           memcmp, a regex one pcre2_match under the limits below;
 *   rewrite a regex route's pattern runs again for its captures (the hit
 *           carries only indexes); the result is measured first and then
 *           written, so that a rewrite that does not fit writes nothing.
 *
 * The two name tables are acl/'s string sets (rules_int.h); a vhost's
 * names go in with its index as the value.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcre2.h>

#include "acl/route.h"
#include "acl/rules_int.h"
#include "squidlike/chars.h"
#include "squidlike/hash.h"
#include "squidlike/http.h"

#define NAME_MAX_LEN 253        /* of a DNS name in text, RFC 1035 */
#define PATTERN_MAX 4096        /* bytes of a prefix or a regex */
#define REWRITE_MAX 4096        /* bytes of a rewrite text or template */
#define RX_OVEC 10              /* capture pairs kept: $0..$9 */
/* The match context (limits, JIT stack) is acl/rules.c's (acl_rx_context):
 * the work of one pattern on one path is bounded; a pattern that reaches a
 * limit does not match (route.h), and the next route is tried. */

struct route {
    enum acl_route_kind kind;
    int icase;
    char *pat;                  /* a prefix: lowercased when icase */
    size_t patlen;
    pcre2_code *re;             /* a regex: JIT-compiled where possible */
    char *rw;                   /* NULL: no rewrite */
    size_t rwlen;
};

struct vhost {
    struct route *routes;
    size_t nroutes;
};

struct acl_routes {
    struct vhost *vh;
    size_t nvh;
    int dflt;                   /* the default vhost, -1 when none */
    struct acl_sset exact;      /* "www.example.com" -> vhost */
    struct acl_sset wild;       /* "example.com" of "*.example.com" -> vhost */
    /* Scratch of the matcher, written while a pattern runs: matching is
     * allocation-free and reentrant on one thread, not safe from two
     * threads at once (route.h). */
    pcre2_match_context *mctx;
    pcre2_jit_stack *jstack;
    pcre2_match_data *md;
};


struct acl_routes *acl_routes_new(void)
{
    struct acl_routes *r = calloc(1, sizeof(*r));

    if (!r)
        return NULL;
    r->dflt = -1;
    r->md = pcre2_match_data_create(RX_OVEC, NULL);
    if (!r->md || acl_rx_context(&r->mctx, &r->jstack) < 0)
        goto fail;
    return r;
fail:
    acl_routes_free(r);
    return NULL;
}

void acl_routes_free(struct acl_routes *r)
{
    size_t i, j;

    if (!r)
        return;
    for (i = 0; i < r->nvh; i++) {
        for (j = 0; j < r->vh[i].nroutes; j++) {
            struct route *rt = &r->vh[i].routes[j];
            free(rt->pat);
            free(rt->rw);
            pcre2_code_free(rt->re);
        }
        free(r->vh[i].routes);
    }
    free(r->vh);
    acl_sset_free(&r->exact);
    acl_sset_free(&r->wild);
    pcre2_match_data_free(r->md);
    pcre2_match_context_free(r->mctx);
    pcre2_jit_stack_free(r->jstack);
    free(r);
}

size_t acl_routes_nvhosts(const struct acl_routes *r)
{
    return r ? r->nvh : 0;
}

size_t acl_routes_nroutes(const struct acl_routes *r, int v)
{
    return r && v >= 0 && (size_t)v < r->nvh ? r->vh[v].nroutes : 0;
}

const char *acl_routes_pattern(const struct acl_routes *r, int v, int i,
                               enum acl_route_kind *kind, int *icase)
{
    const struct route *rt;

    if (i < 0 || (size_t)i >= acl_routes_nroutes(r, v))
        return NULL;
    rt = &r->vh[v].routes[i];
    if (kind)
        *kind = rt->kind;
    if (icase)
        *icase = rt->icase;
    return rt->pat;
}

/* ---- names ---------------------------------------------------------------- */

/* Rewrite the IPv6 literal buf[0..len) (SL_HTTP_HOST_MAX + 1 bytes) in
 * its canonical form ("2001:DB8:0::1" -> "2001:db8::1"), so that a name
 * and a Host that spell one address two ways meet; its length, 0 if bad.
 * Only hex digits, ':' and '.' get to inet_pton, which would stop at a
 * NUL and take "::1\0x" for ::1. */
static size_t v6_canon(char *buf, size_t len)
{
    unsigned char a[16];
    size_t i;

    for (i = 0; i < len; i++)
        if (!sl_is_hex(buf[i]) && buf[i] != ':' && buf[i] != '.')
            return 0;
    if (inet_pton(AF_INET6, buf, a) != 1 ||
        !inet_ntop(AF_INET6, a, buf, SL_HTTP_HOST_MAX + 1))
        return 0;
    return strlen(buf);
}

/* Is buf[0..len) labels of host bytes (sl_is_host_char when host, else
 * letters, digits, '-') separated by single dots, none empty? */
static int labels_ok(const char *buf, size_t len, int host)
{
    size_t i;

    if (len == 0 || buf[0] == '.' || buf[len - 1] == '.')
        return 0;
    for (i = 0; i < len; i++) {
        char c = buf[i];
        if (c == '.' ? buf[i - 1] == '.' :
            !(host ? sl_is_host_char(c) : sl_is_alnum(c) || c == '-'))
            return 0;
    }
    return 1;
}

/*
 * A configured name, normalised into out (SL_HTTP_HOST_MAX + 1 bytes):
 * lowercase, no trailing dot, an IPv6 literal without brackets and in its
 * canonical form; *wild says it began with "*." (dropped: out is the
 * suffix). Returns the length, or 0 with err.
 */
static size_t name_norm(const char *name, char *out, int *wild, char *err,
                        size_t errlen)
{
    const char *s = name;
    size_t len = strlen(name), i;
    int v6 = 0;

    *wild = (s[0] == '*' && s[1] == '.');
    if (*wild) {
        s += 2;
        len -= 2;
    } else if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
        s++;                    /* brackets are for IPv6 only */
        len -= 2;
        v6 = 1;
    }
    if (len && s[len - 1] == '.')
        len--;
    if (len > NAME_MAX_LEN) {
        acl_fail(err, errlen, "bad name \"%.64s...\": longer than %d bytes",
             name, NAME_MAX_LEN);
        return 0;
    }
    for (i = 0; i < len; i++)
        out[i] = sl_lower(s[i]);
    out[len] = '\0';
    if (v6 || (!*wild && memchr(out, ':', len))) {
        len = v6_canon(out, len);
        if (len == 0)
            acl_fail(err, errlen, "bad name \"%s\": not an IPv6 address", name);
        return len;
    }
    if (!labels_ok(out, len, 0)) {
        acl_fail(err, errlen, "bad name \"%s\": a name is letters, digits, '-' "
             "and '.' (\"*.\" first for a wildcard, an IPv6 address in "
             "brackets or not)", name);
        return 0;
    }
    return len;
}

int acl_routes_add_vhost(struct acl_routes *r, const char *const *names,
                         size_t n, int is_default, char *err, size_t errlen)
{
    char (*norm)[SL_HTTP_HOST_MAX + 1] = NULL;
    size_t *len = NULL;
    int *wild = NULL;
    struct vhost *nv;
    size_t i, j;
    int v, rc = -1;

    if (!r)
        return acl_fail(err, errlen, "no route table");
    if (r->nvh >= ACL_ROUTES_MAX_VHOSTS)
        return acl_fail(err, errlen, "more than %d vhosts", ACL_ROUTES_MAX_VHOSTS);
    if (n > ACL_ROUTES_MAX_NAMES)
        return acl_fail(err, errlen, "a vhost with %zu names: at most %d",
                    n, ACL_ROUTES_MAX_NAMES);
    if (n == 0 && !is_default)
        return acl_fail(err, errlen, "a vhost with no name that is not the default");
    if (n && !names)
        return acl_fail(err, errlen, "no names");
    if (is_default && r->dflt >= 0)
        return acl_fail(err, errlen, "a second default vhost (vhost %d is the "
                    "default)", r->dflt);
    v = (int)r->nvh;
    norm = malloc((n ? n : 1) * sizeof(*norm));
    len = malloc((n ? n : 1) * sizeof(*len));
    wild = malloc((n ? n : 1) * sizeof(*wild));
    if (!norm || !len || !wild) {
        acl_fail(err, errlen, "out of memory");
        goto out;
    }
    /* Check every name before adding any: a refused vhost leaves the
     * table as it was. */
    for (i = 0; i < n; i++) {
        const struct acl_sset_ent *e;
        struct acl_sset *t;

        if (!names[i]) {
            acl_fail(err, errlen, "name %zu of the vhost is missing", i);
            goto out;
        }
        len[i] = name_norm(names[i], norm[i], &wild[i], err, errlen);
        if (len[i] == 0)
            goto out;
        t = wild[i] ? &r->wild : &r->exact;
        e = acl_sset_find(t, norm[i], len[i], acl_hash(norm[i], len[i]));
        if (e) {
            acl_fail(err, errlen, "name %s%s is already vhost %u's",
                 wild[i] ? "*." : "", norm[i], (unsigned)e->val);
            goto out;
        }
        for (j = 0; j < i; j++)
            if (wild[j] == wild[i] && len[j] == len[i] &&
                memcmp(norm[j], norm[i], len[i]) == 0) {
                acl_fail(err, errlen, "name %s%s is listed twice",
                     wild[i] ? "*." : "", norm[i]);
                goto out;
            }
    }
    nv = realloc(r->vh, (r->nvh + 1) * sizeof(*nv));
    if (!nv) {
        acl_fail(err, errlen, "out of memory");
        goto out;
    }
    r->vh = nv;
    r->vh[v] = (struct vhost){ NULL, 0 };
    r->nvh++;
    if (is_default)
        r->dflt = v;
    rc = v;
    /* Out of memory half way: the vhost stays, with part of its names
     * (every name in the tables still names a vhost that exists); the
     * caller gives up on the table anyway. */
    for (i = 0; i < n; i++)
        if (acl_sset_add(wild[i] ? &r->wild : &r->exact, norm[i], len[i],
                         (uint32_t)v) < 0) {
            rc = acl_fail(err, errlen, "out of memory");
            break;
        }
out:
    free(norm);
    free(len);
    free(wild);
    return rc;
}

/*
 * The name a Host value names, lowercased into buf (SL_HTTP_HOST_MAX + 1
 * bytes): OWS, the port (":" and digits only), the brackets of an IPv6
 * literal (then canonical) and one trailing dot dropped. *ip: the name is
 * an address literal, which only an exact name takes. Returns the length,
 * 0 when the value can name no vhost: empty, a port that is not digits,
 * bytes after "]", a bad literal, a byte outside sl_is_host_char, an empty
 * label, too long.
 */
static size_t host_norm(struct sl_view host, char *buf, int *ip)
{
    const char *p, *end, *hs, *he;
    struct in_addr in;
    size_t len, i;
    int v6 = 0;

    host = sl_view_trim(host);
    if (host.len == 0 || !host.base)
        return 0;
    p = host.base;
    end = sl_view_end(host);
    if (*p == '[') {
        he = memchr(p, ']', host.len);
        if (!he)
            return 0;
        hs = p + 1;
        p = he + 1;
        v6 = 1;
    } else {
        hs = p;
        he = memchr(p, ':', host.len);
        if (!he)
            he = end;
        p = he;
    }
    if (p < end) {
        if (*p++ != ':')
            return 0;
        for (; p < end; p++)
            if (!sl_is_digit(*p))
                return 0;
    }
    len = (size_t)(he - hs);
    if (!v6 && len && hs[len - 1] == '.')
        len--;
    if (len == 0 || len > SL_HTTP_HOST_MAX)
        return 0;
    for (i = 0; i < len; i++)
        buf[i] = sl_lower(hs[i]);
    buf[len] = '\0';
    if (v6) {
        *ip = 1;
        return v6_canon(buf, len);
    }
    if (!labels_ok(buf, len, 1))
        return 0;
    *ip = sl_is_digit(buf[len - 1]) && inet_pton(AF_INET, buf, &in) == 1;
    return len;
}

/* The vhost whose name host is, or -1 (then the default, if any). */
static int vhost_find(const struct acl_routes *r, struct sl_view host)
{
    char buf[SL_HTTP_HOST_MAX + 1];
    /* Where each candidate suffix starts (after a dot) and its hash; the
     * walk meets them shortest first. */
    uint16_t at[SL_HTTP_HOST_MAX / 2 + 1];
    uint32_t hs[SL_HTTP_HOST_MAX / 2 + 1];
    const struct acl_sset_ent *e;
    uint32_t h = SL_FNV32_INIT;
    size_t len, i, n = 0;
    int ip = 0;

    len = host_norm(host, buf, &ip);
    if (len == 0)
        return -1;
    for (i = len; i-- > 0;) {
        h = sl_fnv32_step(h, (unsigned char)buf[i]);
        if (!ip && i > 0 && buf[i - 1] == '.') {
            at[n] = (uint16_t)i;
            hs[n++] = h;
        }
    }
    e = acl_sset_find(&r->exact, buf, len, h);
    if (e)
        return (int)e->val;
    while (n-- > 0) {
        e = acl_sset_find(&r->wild, buf + at[n], len - at[n], hs[n]);
        if (e)
            return (int)e->val;
    }
    return -1;
}

/* ---- routes --------------------------------------------------------------- */

/* Check that text[0..len) can be in a request target (RFC 9112 3.2 as the
 * parser takes it, and no fragment); what is the text, for err. */
static int target_bytes(const char *what, const char *text, size_t len,
                        char *err, size_t errlen)
{
    size_t i;

    for (i = 0; i < len; i++)
        if (!(sl_cls(text[i]) & SL_C_TARGET) || text[i] == '#')
            return acl_fail(err, errlen, "%s \"%s\": byte 0x%02x at offset %zu "
                        "cannot be in a request target", what, text,
                        (unsigned char)text[i], i);
    return 0;
}

/* Check a regex route's template against its pattern's ngroups groups. */
static int template_check(const char *t, size_t len, uint32_t ngroups,
                          char *err, size_t errlen)
{
    size_t i;

    for (i = 0; i < len; i++) {
        if (t[i] != '$')
            continue;
        if (i + 1 < len && t[i + 1] == '$') {
            i++;
            continue;
        }
        if (i + 1 == len || !sl_is_digit(t[i + 1]))
            return acl_fail(err, errlen, "rewrite \"%s\": \"$\" at offset %zu is "
                        "not followed by a digit or \"$\"", t, i);
        if ((uint32_t)(t[i + 1] - '0') > ngroups)
            return acl_fail(err, errlen, "rewrite \"%s\": $%c but the regex has "
                        "%u group%s", t, t[i + 1], (unsigned)ngroups,
                        ngroups == 1 ? "" : "s");
        i++;
    }
    return target_bytes("rewrite", t, len, err, errlen);
}

static pcre2_code *rx_compile(const char *pattern, int icase, uint32_t *ngroups,
                              char *err, size_t errlen)
{
    PCRE2_UCHAR msg[128];
    PCRE2_SIZE off;
    pcre2_code *re;
    int ec;

    re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                       icase ? PCRE2_CASELESS : 0, &ec, &off, NULL);
    if (!re) {
        pcre2_get_error_message(ec, msg, sizeof(msg));
        acl_fail(err, errlen, "bad regex \"%s\": %s at offset %zu", pattern,
             (const char *)msg, (size_t)off);
        return NULL;
    }
    (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);  /* interpreter if no JIT */
    if (pcre2_pattern_info(re, PCRE2_INFO_CAPTURECOUNT, ngroups) != 0)
        *ngroups = 0;
    return re;
}

int acl_routes_add_route(struct acl_routes *r, int v, enum acl_route_kind kind,
                         const char *pattern, int icase, const char *rewrite,
                         char *err, size_t errlen)
{
    struct route rt = { kind, !!icase, NULL, 0, NULL, NULL, 0 }, *nr;
    struct vhost *vh;
    uint32_t ngroups = 0;
    size_t i;

    if (!r || v < 0 || (size_t)v >= r->nvh)
        return acl_fail(err, errlen, "no vhost %d", v);
    vh = &r->vh[v];
    if (vh->nroutes >= ACL_ROUTES_MAX_ROUTES)
        return acl_fail(err, errlen, "more than %d routes in vhost %d",
                    ACL_ROUTES_MAX_ROUTES, v);
    if (kind != ACL_ROUTE_PREFIX && kind != ACL_ROUTE_REGEX)
        return acl_fail(err, errlen, "unknown route kind %d", (int)kind);
    if (!pattern || !*pattern)
        return acl_fail(err, errlen, "empty route pattern");
    rt.patlen = strlen(pattern);
    if (rt.patlen > PATTERN_MAX)
        return acl_fail(err, errlen, "route pattern longer than %d bytes",
                    PATTERN_MAX);
    if (rewrite) {
        rt.rwlen = strlen(rewrite);
        if (rt.rwlen > REWRITE_MAX)
            return acl_fail(err, errlen, "rewrite longer than %d bytes",
                        REWRITE_MAX);
    }
    if (kind == ACL_ROUTE_PREFIX) {
        /* A path (origin-form) starts with "/": a prefix that does not
         * could never match, which is a mistake worth saying. */
        if (pattern[0] != '/')
            return acl_fail(err, errlen, "prefix \"%s\" does not start with \"/\"",
                        pattern);
        if (target_bytes("prefix", pattern, rt.patlen, err, errlen) < 0 ||
            (rewrite && target_bytes("rewrite", rewrite, rt.rwlen, err,
                                     errlen) < 0))
            return -1;
    } else {
        rt.re = rx_compile(pattern, icase, &ngroups, err, errlen);
        if (!rt.re)
            return -1;
        if (rewrite && template_check(rewrite, rt.rwlen, ngroups, err,
                                      errlen) < 0)
            goto fail;
    }
    rt.pat = malloc(rt.patlen + 1);
    rt.rw = rewrite ? malloc(rt.rwlen + 1) : NULL;
    nr = realloc(vh->routes, (vh->nroutes + 1) * sizeof(*nr));
    if (nr)
        vh->routes = nr;
    if (!rt.pat || (rewrite && !rt.rw) || !nr) {
        acl_fail(err, errlen, "out of memory");
        goto fail;
    }
    for (i = 0; i < rt.patlen; i++)
        rt.pat[i] = (icase && kind == ACL_ROUTE_PREFIX) ? sl_lower(pattern[i])
                                                         : pattern[i];
    rt.pat[rt.patlen] = '\0';
    if (rewrite)
        memcpy(rt.rw, rewrite, rt.rwlen + 1);
    vh->routes[vh->nroutes] = rt;
    return (int)vh->nroutes++;
fail:
    pcre2_code_free(rt.re);
    free(rt.pat);
    free(rt.rw);
    return -1;
}

static int prefix_match(const struct route *rt, struct sl_view path)
{
    size_t i;

    if (path.len < rt->patlen)
        return 0;
    if (!rt->icase)
        return memcmp(path.base, rt->pat, rt->patlen) == 0;
    for (i = 0; i < rt->patlen; i++)
        if (sl_lower(path.base[i]) != rt->pat[i])
            return 0;
    return 1;
}

/* pcre2_match's result for rt over path: >= 0 a match (0: more groups
 * than RX_OVEC, all of the ovector set), < 0 none, a limit included. */
static int rx_run(const struct acl_routes *r, const struct route *rt,
                  struct sl_view path)
{
    return pcre2_match(rt->re, (PCRE2_SPTR)(path.base ? path.base : ""),
                       path.len, 0, 0, r->md, r->mctx);
}

static int route_match(const struct acl_routes *r, const struct route *rt,
                       struct sl_view path)
{
    if (rt->kind == ACL_ROUTE_PREFIX)
        return prefix_match(rt, path);
    return rx_run(r, rt, path) >= 0;
}

int acl_routes_match(const struct acl_routes *r, struct sl_view host,
                     struct sl_view path, struct acl_route_hit *hit)
{
    const struct vhost *vh;
    size_t i;
    int v;

    hit->vhost = hit->route = -1;
    if (!r)
        return -ENOENT;
    v = r->nvh ? vhost_find(r, host) : -1;
    if (v < 0)
        v = r->dflt;
    if (v < 0)
        return -ENOENT;
    hit->vhost = v;
    vh = &r->vh[v];
    for (i = 0; i < vh->nroutes; i++)
        if (route_match(r, &vh->routes[i], path)) {
            hit->route = (int)i;
            return 0;
        }
    return -ESRCH;
}

/* ---- rewrite -------------------------------------------------------------- */

/* Where a rewrite goes: at NULL it only counts (the measuring pass). */
struct wr {
    char *at;
    size_t n;
    int first;                  /* the first byte put, -1 before any */
};

static void wr_put(struct wr *w, const char *s, size_t len)
{
    if (len == 0)
        return;
    if (w->n == 0)
        w->first = (unsigned char)s[0];
    if (w->at)
        memcpy(w->at + w->n, s, len);
    w->n += len;
}

/* The rewrite of path by rt into w; ov: the captures of rt's regex over
 * path, npairs of them set. */
static void rewrite_put(const struct route *rt, struct sl_view path,
                        const PCRE2_SIZE *ov, size_t npairs, struct wr *w)
{
    const char *t = rt->rw, *end = rt->rw + rt->rwlen, *d;

    if (rt->kind == ACL_ROUTE_PREFIX) {
        wr_put(w, rt->rw, rt->rwlen);
        wr_put(w, path.base + rt->patlen, path.len - rt->patlen);
        return;
    }
    while (t < end) {
        size_t k;

        d = memchr(t, '$', (size_t)(end - t));
        if (!d) {
            wr_put(w, t, (size_t)(end - t));
            break;
        }
        wr_put(w, t, (size_t)(d - t));
        if (d[1] == '$') {                          /* checked at add */
            wr_put(w, "$", 1);
        } else {
            k = (size_t)(d[1] - '0');
            /* An unset group (or one past what the match set) is empty;
             * so is a "\K" capture that ends before it starts. */
            if (k < npairs && ov[2 * k] != PCRE2_UNSET &&
                ov[2 * k] <= ov[2 * k + 1] && ov[2 * k + 1] <= path.len)
                wr_put(w, path.base + ov[2 * k], ov[2 * k + 1] - ov[2 * k]);
        }
        t = d + 2;
    }
}

int acl_routes_rewrite(const struct acl_routes *r, const struct acl_route_hit *hit,
                       struct sl_view path, struct sl_buf *out)
{
    const PCRE2_SIZE *ov = NULL;
    const struct route *rt;
    struct wr w = { NULL, 0, -1 };
    size_t npairs = 0, slash;
    int rc;

    if (!r || !hit || hit->vhost < 0 || (size_t)hit->vhost >= r->nvh ||
        hit->route < 0 ||
        (size_t)hit->route >= r->vh[hit->vhost].nroutes)
        return -EINVAL;
    if (!path.base)
        path = SL_VIEW_LIT("");
    rt = &r->vh[hit->vhost].routes[hit->route];
    if (!rt->rw)
        return sl_buf_append(out, path.base, path.len);
    if (rt->kind == ACL_ROUTE_PREFIX) {
        if (!prefix_match(rt, path))
            return -EINVAL;
    } else {
        rc = rx_run(r, rt, path);
        if (rc < 0)
            return -EINVAL;
        npairs = rc == 0 ? RX_OVEC : (size_t)rc;
        ov = pcre2_get_ovector_pointer(r->md);
    }
    rewrite_put(rt, path, ov, npairs, &w);
    /* An origin-form target starts with "/" (an empty result is "/"). */
    slash = w.first != '/';
    if (sl_buf_space(out) < slash + w.n)
        return -ENOSPC;
    if (slash)
        out->last[0] = '/';
    w = (struct wr){ out->last + slash, 0, -1 };
    rewrite_put(rt, path, ov, npairs, &w);
    out->last += slash + w.n;
    return 0;
}
