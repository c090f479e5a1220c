/*
 * fuzz_route.c - libFuzzer target for reverse mode's vhosts and routes
 * (acl/route.h: acl/route.c): tables built from the input, requests
 * matched and their paths rewritten, against a reference written here
 * from route.h's words (linear scans over plain strings, no hashing).
 *
 * The input is text, one command a line ('\n'), words split at blanks,
 * each word %-decoded ("%20" a space, "%00" a NUL, "%" before anything
 * but two hex digits as it is); a word "-" alone is empty (a host, a path,
 * a name, a rewrite); a rewrite not given is none:
 *   v NAME...            add a vhost with these names (up to 70)
 *   d NAME...            the same, the default vhost
 *   f N                  add N vhosts "fK.fill.test" + "*.fK.fill.test"
 *                        (K: the vhost's index), up to 300: the limits
 *   @ N                  the vhost the next routes go to (may not exist);
 *                        until the first "@", the vhost added last
 *   p PREFIX [RW]        add a prefix route ("pi": without case)
 *   x REGEX [RW]         add a regex route ("xi": PCRE2_CASELESS)
 *   k KIND PATTERN [RW]  add a route of a kind given by number
 *   r HOST PATH          a request
 * Other lines are ignored.
 *
 * Every run checks, and abort()s when one breaks:
 *   - each add is accepted exactly when the reference says it may be (the
 *     name rules, duplicates, one default, a prefix's "/" and bytes, the
 *     regex compiling, the template's "$", the limits of route.h); the
 *     index returned is the count before; a refusal leaves a message,
 *     NUL-terminated in its buffer, and the counts as they were;
 *   - every request (the input's, each also with its host uppercased,
 *     with ":8080", with a trailing dot, and one per name added: the name,
 *     a host under a wildcard and the wildcard's bare suffix) gets the
 *     vhost of the reference (exact names, then the longest wildcard
 *     suffix, then the default), the route of the reference (first match
 *     in order; the reference's regexes run with the same PCRE2 settings),
 *     -ENOENT / -ESRCH with the hit's fields -1 where route.h says; the
 *     indexes of a hit are in range; a second match says the same;
 *   - the rewrite of a hit is the reference's (a prefix's text and the
 *     rest, a template with its captures, "/" first) in a buffer of just
 *     its size after 3 bytes of data; one byte less gives -ENOSPC and
 *     leaves the buffer as it was (each buffer a heap block of exactly its
 *     size, so ASan sees a write past it); a hit that is not a route, or a
 *     route that rewrites and the path it did not match, gives -EINVAL;
 * and ASan/UBSan/LeakSanitizer watch the adds, the matches, the rewrites
 * and acl_routes_free.
 *
 * Seeds: t/fuzz/corpus/route/ (the cases of t/unit/check_route.c).
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

#define MAX_LINES 512
#define MAX_WORDS 72
#define MAX_FILL 300
#define MAX_REQS 64             /* of the input */
#define MAX_NAME_REQS 64        /* requests made from names added */
#define REF_NAMES (ACL_ROUTES_MAX_VHOSTS * ACL_ROUTES_MAX_NAMES)
#define ERRLEN 256
/* route.c's settings, so that a regex says the same in both */
#define RX_MATCH_LIMIT 200000
#define RX_DEPTH_LIMIT 10000
#define RX_OVEC 10

/* ---- the reference ---- */

struct ref_name {
    int vhost;
    int wild;                   /* s is the suffix of "*.s" */
    int v6;                     /* a is the address */
    unsigned char a[16];
    char s[256];
};

struct ref_route {
    int kind;
    int icase;
    char *pat;
    char *rw;                   /* NULL: none */
    pcre2_code *re;
};

struct ref {
    struct ref_name names[REF_NAMES];
    size_t nnames;
    struct ref_route routes[ACL_ROUTES_MAX_VHOSTS][ACL_ROUTES_MAX_ROUTES];
    int nroutes[ACL_ROUTES_MAX_VHOSTS];
    int nvh;
    int dflt;
    pcre2_match_context *mctx;
    pcre2_jit_stack *jstack;
    pcre2_match_data *md;
};

static struct ref ref;          /* big: static, reset per run */

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int is_hexc(int c)
{
    return (c >= '0' && c <= '9') || (lower(c) >= 'a' && lower(c) <= 'f');
}

/* Labels of allowed bytes, single dots between, none empty. */
static int labels(const char *s, size_t n, const char *extra)
{
    size_t i;

    if (n == 0 || s[0] == '.' || s[n - 1] == '.')
        return 0;
    for (i = 0; i < n; i++) {
        int c = (unsigned char)s[i];

        if (c == '.') {
            if (s[i - 1] == '.')
                return 0;
        } else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                     c == '-' || (c && strchr(extra, c)))) {
            return 0;
        }
    }
    return 1;
}

/* An IPv6 literal s[0..n) into a; 1 or 0. */
static int v6_parse(const char *s, size_t n, unsigned char *a)
{
    char tmp[256];
    size_t i;

    if (n == 0 || n > 255)
        return 0;
    for (i = 0; i < n; i++)
        if (!is_hexc((unsigned char)s[i]) && s[i] != ':' && s[i] != '.')
            return 0;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    return inet_pton(AF_INET6, tmp, a) == 1;
}

/* route.h's name rules: 1 with *out filled, 0 when refused. */
static int ref_name_norm(const char *name, struct ref_name *out)
{
    size_t n = strlen(name), i;
    const char *s = name;
    int br = 0;

    memset(out, 0, sizeof(*out));
    if (n >= 2 && s[0] == '*' && s[1] == '.') {
        out->wild = 1;
        s += 2;
        n -= 2;
    } else if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
        br = 1;
        s++;
        n -= 2;
    }
    if (n && s[n - 1] == '.')
        n--;
    if (n > 253)
        return 0;
    for (i = 0; i < n; i++)
        out->s[i] = (char)lower((unsigned char)s[i]);
    if (!out->wild && (br || memchr(out->s, ':', n))) {
        out->v6 = 1;
        out->s[0] = '\0';
        return v6_parse(s, n, out->a);
    }
    return labels(out->s, n, "");
}

static int same_name(const struct ref_name *a, const struct ref_name *b)
{
    if (a->wild != b->wild || a->v6 != b->v6)
        return 0;
    return a->v6 ? memcmp(a->a, b->a, 16) == 0 : strcmp(a->s, b->s) == 0;
}

/* What a Host value names: 0 nothing, 1 a name, 2 an IPv4 literal, 3 an
 * IPv6 literal (in out). */
static int ref_host(const char *h, size_t n, struct ref_name *out)
{
    const char *end, *name, *rest;
    struct in_addr in;
    size_t len, i;

    memset(out, 0, sizeof(*out));
    while (n && (h[0] == ' ' || h[0] == '\t')) {
        h++;
        n--;
    }
    while (n && (h[n - 1] == ' ' || h[n - 1] == '\t'))
        n--;
    if (n == 0)
        return 0;
    end = h + n;
    if (h[0] == '[') {
        const char *close = memchr(h, ']', n);

        if (!close)
            return 0;
        name = h + 1;
        len = (size_t)(close - name);
        rest = close + 1;
    } else {
        const char *colon = memchr(h, ':', n);

        name = h;
        rest = colon ? colon : end;
        len = (size_t)(rest - name);
    }
    if (rest < end) {
        if (*rest != ':')
            return 0;
        for (rest++; rest < end; rest++)
            if (*rest < '0' || *rest > '9')
                return 0;
    }
    if (h[0] == '[') {
        out->v6 = 1;
        return v6_parse(name, len, out->a) ? 3 : 0;
    }
    if (len && name[len - 1] == '.')
        len--;
    if (len == 0 || len > 255)
        return 0;
    for (i = 0; i < len; i++)
        out->s[i] = (char)lower((unsigned char)name[i]);
    if (!labels(out->s, len, "_"))
        return 0;
    return inet_pton(AF_INET, out->s, &in) == 1 ? 2 : 1;
}

/* The vhost route.h says host goes to, -1 for none. */
static int ref_vhost(const char *h, size_t n)
{
    struct ref_name host;
    size_t i, hl, best = 0;
    int kind = ref_host(h, n, &host), v = -1;

    hl = strlen(host.s);
    for (i = 0; kind && i < ref.nnames; i++) {
        const struct ref_name *e = &ref.names[i];

        if (!e->wild && e->v6 == (kind == 3) && same_name(e, &host))
            return e->vhost;
    }
    for (i = 0; kind == 1 && i < ref.nnames; i++) {
        const struct ref_name *e = &ref.names[i];
        size_t sl = strlen(e->s);

        if (e->wild && hl > sl + 1 && host.s[hl - sl - 1] == '.' &&
            strcmp(host.s + hl - sl, e->s) == 0 && sl > best) {
            best = sl;
            v = e->vhost;
        }
    }
    return v >= 0 ? v : ref.dflt;
}

/* rc of the reference's regex (same settings as route.c) over path. */
static int ref_rx(const struct ref_route *rt, const char *p, size_t n)
{
    return pcre2_match(rt->re, (PCRE2_SPTR)(p ? p : ""), n, 0, 0, ref.md,
                       ref.mctx);
}

static int ref_prefix(const struct ref_route *rt, const char *p, size_t n)
{
    size_t pl = strlen(rt->pat), i;

    if (n < pl)
        return 0;
    for (i = 0; i < pl; i++)
        if (rt->icase ? lower((unsigned char)p[i]) != lower((unsigned char)rt->pat[i])
                      : p[i] != rt->pat[i])
            return 0;
    return 1;
}

static int ref_route(int v, const char *p, size_t n)
{
    int i;

    for (i = 0; i < ref.nroutes[v]; i++) {
        const struct ref_route *rt = &ref.routes[v][i];

        if (rt->kind == ACL_ROUTE_PREFIX ? ref_prefix(rt, p, n)
                                         : ref_rx(rt, p, n) >= 0)
            return i;
    }
    return -1;
}

/* Append s[0..n) to the growing string *o (*olen, *ocap). */
static void put(char **o, size_t *olen, size_t *ocap, const char *s, size_t n)
{
    if (*olen + n + 1 > *ocap) {
        *ocap = (*olen + n + 1) * 2;
        *o = realloc(*o, *ocap);
        CHECK(*o != NULL);
    }
    if (n)
        memcpy(*o + *olen, s, n);
    *olen += n;
}

/* The rewrite of p by route (v, i), which matches it: malloc'd, *len. */
static char *ref_rewrite(int v, int i, const char *p, size_t n, size_t *len)
{
    const struct ref_route *rt = &ref.routes[v][i];
    char *o = NULL;
    size_t olen = 0, ocap = 0, k;

    put(&o, &olen, &ocap, "", 0);
    if (!rt->rw) {
        put(&o, &olen, &ocap, p, n);
        *len = olen;
        return o;
    }
    if (rt->kind == ACL_ROUTE_PREFIX) {
        put(&o, &olen, &ocap, rt->rw, strlen(rt->rw));
        put(&o, &olen, &ocap, p + strlen(rt->pat), n - strlen(rt->pat));
    } else {
        int rc = ref_rx(rt, p, n);
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(ref.md);
        size_t npairs = rc == 0 ? RX_OVEC : (size_t)rc;

        CHECK(rc >= 0);
        for (k = 0; rt->rw[k]; k++) {
            if (rt->rw[k] != '$') {
                put(&o, &olen, &ocap, rt->rw + k, 1);
            } else if (rt->rw[++k] == '$') {
                put(&o, &olen, &ocap, "$", 1);
            } else {
                size_t g = (size_t)(rt->rw[k] - '0');

                if (g < npairs && ov[2 * g] != PCRE2_UNSET &&
                    ov[2 * g] <= ov[2 * g + 1])
                    put(&o, &olen, &ocap, p + ov[2 * g], ov[2 * g + 1] - ov[2 * g]);
            }
        }
    }
    if (olen == 0 || o[0] != '/') {
        put(&o, &olen, &ocap, "", 1);           /* room for one more */
        memmove(o + 1, o, olen - 1);
        o[0] = '/';
    }
    *len = olen;
    return o;
}

static int target_byte(int c)
{
    return c > 0x20 && c != 0x7f && c != '#';
}

static int target_text(const char *s)
{
    for (; *s; s++)
        if (!target_byte((unsigned char)*s))
            return 0;
    return 1;
}

static int template_ok(const char *t, uint32_t ngroups)
{
    for (; *t; t++) {
        if (*t != '$')
            continue;
        t++;
        if (*t == '$')
            continue;
        if (*t < '0' || *t > '9' || (uint32_t)(*t - '0') > ngroups)
            return 0;
    }
    return 1;
}

static void ref_reset(void)
{
    int v, i;

    for (v = 0; v < ref.nvh; v++)
        for (i = 0; i < ref.nroutes[v]; i++) {
            free(ref.routes[v][i].pat);
            free(ref.routes[v][i].rw);
            pcre2_code_free(ref.routes[v][i].re);
        }
    memset(ref.nroutes, 0, sizeof(ref.nroutes));
    ref.nnames = 0;
    ref.nvh = 0;
    ref.dflt = -1;
}

static void ref_init(void)
{
    uint32_t jit = 0;

    if (ref.md)
        return;
    ref.mctx = pcre2_match_context_create(NULL);
    ref.md = pcre2_match_data_create(RX_OVEC, NULL);
    CHECK(ref.mctx && ref.md);
    if (pcre2_config(PCRE2_CONFIG_JIT, &jit) == 0 && jit) {
        ref.jstack = pcre2_jit_stack_create(32 * 1024, 512 * 1024, NULL);
        CHECK(ref.jstack);
        pcre2_jit_stack_assign(ref.mctx, NULL, ref.jstack);
    }
    pcre2_set_match_limit(ref.mctx, RX_MATCH_LIMIT);
    pcre2_set_depth_limit(ref.mctx, RX_DEPTH_LIMIT);
}

/* ---- the checks ---- */

static void check_err(const char *err, size_t errlen)
{
    CHECK(err[0] != '\0' && err[0] != '?');
    CHECK(memchr(err, '\0', errlen) != NULL);
}

static void add_vhost(struct acl_routes *r, const char *const *names, size_t n,
                      int dflt)
{
    struct ref_name nn[MAX_WORDS];
    char err[ERRLEN];
    int ok = ref.nvh < ACL_ROUTES_MAX_VHOSTS && n <= ACL_ROUTES_MAX_NAMES &&
             (n > 0 || dflt) && (!dflt || ref.dflt < 0);
    size_t i, j;
    int rc;

    for (i = 0; ok && i < n; i++) {
        ok = ref_name_norm(names[i], &nn[i]);
        for (j = 0; ok && j < ref.nnames; j++)
            ok = !same_name(&ref.names[j], &nn[i]);
        for (j = 0; ok && j < i; j++)
            ok = !same_name(&nn[j], &nn[i]);
    }
    memset(err, '?', sizeof(err));
    rc = acl_routes_add_vhost(r, names, n, dflt, err, sizeof(err));
    if (!ok) {
        CHECK(rc == -1);
        check_err(err, sizeof(err));
        CHECK(acl_routes_nvhosts(r) == (size_t)ref.nvh);
        return;
    }
    CHECK(rc == ref.nvh);
    for (i = 0; i < n; i++) {
        nn[i].vhost = rc;
        ref.names[ref.nnames++] = nn[i];
    }
    if (dflt)
        ref.dflt = rc;
    ref.nvh++;
    CHECK(acl_routes_nvhosts(r) == (size_t)ref.nvh);
    CHECK(acl_routes_nroutes(r, rc) == 0);
}

static void add_route(struct acl_routes *r, int v, int kind, const char *pat,
                      int icase, const char *rw)
{
    pcre2_code *re = NULL;
    uint32_t ngroups = 0;
    char err[ERRLEN];
    int ok, rc;

    ok = v >= 0 && v < ref.nvh && ref.nroutes[v] < ACL_ROUTES_MAX_ROUTES &&
         (kind == ACL_ROUTE_PREFIX || kind == ACL_ROUTE_REGEX) &&
         pat && *pat && strlen(pat) <= 4096 && (!rw || strlen(rw) <= 4096);
    if (ok && kind == ACL_ROUTE_PREFIX) {
        ok = pat[0] == '/' && target_text(pat) && (!rw || target_text(rw));
    } else if (ok) {
        PCRE2_SIZE off;
        int ec;

        re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED,
                           icase ? PCRE2_CASELESS : 0, &ec, &off, NULL);
        if (re) {
            (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
            CHECK(pcre2_pattern_info(re, PCRE2_INFO_CAPTURECOUNT, &ngroups) == 0);
        }
        ok = re && (!rw || (template_ok(rw, ngroups) && target_text(rw)));
    }
    memset(err, '?', sizeof(err));
    rc = acl_routes_add_route(r, v, (enum acl_route_kind)kind, pat, icase, rw,
                              err, sizeof(err));
    if (!ok) {
        pcre2_code_free(re);
        CHECK(rc == -1);
        check_err(err, sizeof(err));
        if (v >= 0 && v < ref.nvh)
            CHECK(acl_routes_nroutes(r, v) == (size_t)ref.nroutes[v]);
        return;
    }
    CHECK(rc == ref.nroutes[v]);
    ref.routes[v][rc] = (struct ref_route){ kind, !!icase, strdup(pat),
                                            rw ? strdup(rw) : NULL, re };
    CHECK(ref.routes[v][rc].pat && (!rw || ref.routes[v][rc].rw));
    ref.nroutes[v]++;
    CHECK(acl_routes_nroutes(r, v) == (size_t)ref.nroutes[v]);
}

/* Rewrite p for hit into a heap block of 3 + room bytes holding "abc";
 * returns rc, the output (malloc'd, after the "abc") in *out. */
static int rewrite_into(struct acl_routes *r, const struct acl_route_hit *hit,
                        struct sl_view p, size_t room, char **out, size_t *len)
{
    char *mem = malloc(3 + room), *copy = malloc(3 + room);
    struct sl_buf b = { mem, mem + 3 + room, mem, mem + 3 };
    int rc;

    CHECK(mem && copy);
    memset(mem, 0xa5, 3 + room);
    memcpy(mem, "abc", 3);
    memcpy(copy, mem, 3 + room);
    rc = acl_routes_rewrite(r, hit, p, &b);
    CHECK(b.start == mem && b.pos == mem && b.end == mem + 3 + room);
    CHECK(rc == 0 || rc == -ENOSPC || rc == -EINVAL);
    if (rc != 0) {
        CHECK(b.last == mem + 3 && memcmp(mem, copy, 3 + room) == 0);
        *out = NULL;
        *len = 0;
    } else {
        CHECK(b.last >= mem + 3 && memcmp(mem, "abc", 3) == 0);
        *len = (size_t)(b.last - mem - 3);
        *out = malloc(*len + 1);
        CHECK(*out);
        memcpy(*out, mem + 3, *len);
    }
    free(mem);
    free(copy);
    return rc;
}

static void check_rewrite(struct acl_routes *r, const struct acl_route_hit *hit,
                          struct sl_view p)
{
    size_t elen, glen;
    char *exp = ref_rewrite(hit->vhost, hit->route, p.base, p.len, &elen);
    char *got;

    CHECK(rewrite_into(r, hit, p, elen, &got, &glen) == 0);
    CHECK(glen == elen && memcmp(got, exp, elen) == 0);
    free(got);
    if (elen > 0) {
        CHECK(rewrite_into(r, hit, p, elen - 1, &got, &glen) == -ENOSPC);
        CHECK(rewrite_into(r, hit, p, 0, &got, &glen) == -ENOSPC);
    }
    free(exp);
}

static void check_request(struct acl_routes *r, const char *h, size_t hn,
                          const char *p, size_t pn)
{
    struct sl_view host = { h, hn }, path = { p, pn };
    struct acl_route_hit hit = { 99, 99 }, again = { 98, 98 }, other;
    int ev = ref_vhost(h, hn), er, rc;
    char *got;
    size_t glen;

    rc = acl_routes_match(r, host, path, &hit);
    CHECK(acl_routes_match(r, host, path, &again) == rc);
    CHECK(again.vhost == hit.vhost && again.route == hit.route);
    if (ev < 0) {
        CHECK(rc == -ENOENT && hit.vhost == -1 && hit.route == -1);
        CHECK(rewrite_into(r, &hit, path, 64, &got, &glen) == -EINVAL);
        return;
    }
    CHECK(hit.vhost == ev);
    er = ref_route(ev, p, pn);
    if (er < 0) {
        CHECK(rc == -ESRCH && hit.route == -1);
        CHECK(rewrite_into(r, &hit, path, 64, &got, &glen) == -EINVAL);
        return;
    }
    CHECK(rc == 0 && hit.route == er);
    CHECK(hit.vhost >= 0 && (size_t)hit.vhost < acl_routes_nvhosts(r));
    CHECK(hit.route >= 0 && (size_t)hit.route < acl_routes_nroutes(r, hit.vhost));
    check_rewrite(r, &hit, path);
    /* Another route's hit: it rewrites only a path it matches. */
    other = hit;
    other.route = (hit.route + 1) % ref.nroutes[ev];
    {
        const struct ref_route *rt = &ref.routes[ev][other.route];
        int m = rt->kind == ACL_ROUTE_PREFIX ? ref_prefix(rt, p, pn)
                                             : ref_rx(rt, p, pn) >= 0;

        if (m || !rt->rw)
            check_rewrite(r, &other, path);
        else
            CHECK(rewrite_into(r, &other, path, 64, &got, &glen) == -EINVAL);
    }
}

/* A request, and the same with its host changed in ways route.h ignores
 * (the reference decides what each one names anyway). */
static void check_variants(struct acl_routes *r, const char *h, size_t hn,
                           const char *p, size_t pn)
{
    char *v = malloc(hn + 8);
    size_t i;

    CHECK(v);
    check_request(r, h, hn, p, pn);
    for (i = 0; i < hn; i++)
        v[i] = (h[i] >= 'a' && h[i] <= 'z') ? (char)(h[i] - 32) : h[i];
    check_request(r, v, hn, p, pn);
    memcpy(v, h, hn);
    memcpy(v + hn, ":8080", 5);
    check_request(r, v, hn + 5, p, pn);
    v[hn] = '.';
    check_request(r, v, hn + 1, p, pn);
    free(v);
}

/* ---- the input ---- */

static int hexv(int c)
{
    return c <= '9' ? c - '0' : lower(c) - 'a' + 10;
}

/* %-decode w in place; its length. "-" alone is empty. */
static size_t decode(char *w)
{
    size_t i, o = 0;

    if (strcmp(w, "-") == 0) {
        w[0] = '\0';
        return 0;
    }
    for (i = 0; w[i]; i++) {
        if (w[i] == '%' && is_hexc((unsigned char)w[i + 1]) &&
            is_hexc((unsigned char)w[i + 2])) {
            w[o++] = (char)(hexv((unsigned char)w[i + 1]) * 16 +
                            hexv((unsigned char)w[i + 2]));
            i += 2;
        } else {
            w[o++] = w[i];
        }
    }
    w[o] = '\0';
    return o;
}

struct req {
    char *h, *p;
    size_t hn, pn;
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct acl_routes *r;
    struct req reqs[MAX_REQS];
    size_t nreqs = 0, nlines = 0, i;
    const char *s = (const char *)data, *end = s + size;
    int cur = -1;

    ref_init();
    ref_reset();
    r = acl_routes_new();
    CHECK(r != NULL);
    while (s < end && nlines++ < MAX_LINES) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s), nw = 0;
        char *line = malloc(n + 1), *save = NULL, *t;
        char *w[MAX_WORDS];
        size_t wl[MAX_WORDS];

        CHECK(line);
        memcpy(line, s, n);
        line[n] = '\0';
        s = nl ? nl + 1 : end;
        for (t = strtok_r(line, " \t\r", &save); t && nw < MAX_WORDS;
             t = strtok_r(NULL, " \t\r", &save))
            w[nw++] = t;
        for (i = 1; i < nw; i++)
            wl[i] = decode(w[i]);
        if (nw == 0) {
            ;
        } else if (!strcmp(w[0], "v") || !strcmp(w[0], "d")) {
            add_vhost(r, (const char *const *)w + 1, nw - 1, w[0][0] == 'd');
            cur = -1;
        } else if (!strcmp(w[0], "f") && nw > 1) {
            long k = strtol(w[1], NULL, 10);
            char a[64], b[64];
            const char *nm[2] = { a, b };

            for (; k > 0 && k <= MAX_FILL; k--) {
                snprintf(a, sizeof(a), "f%d.fill.test", ref.nvh);
                snprintf(b, sizeof(b), "*.f%d.fill.test", ref.nvh);
                add_vhost(r, nm, 2, 0);
            }
            cur = -1;
        } else if (!strcmp(w[0], "@") && nw > 1) {
            cur = (int)strtol(w[1], NULL, 10);
        } else if ((w[0][0] == 'p' || w[0][0] == 'x' || w[0][0] == 'k') &&
                   (w[0][1] == '\0' || !strcmp(w[0] + 1, "i"))) {
            size_t a = 1;
            int kind = w[0][0] == 'p' ? ACL_ROUTE_PREFIX : ACL_ROUTE_REGEX;

            if (w[0][0] == 'k')
                kind = a < nw ? (int)strtol(w[a++], NULL, 10) : 0;
            add_route(r, cur >= 0 ? cur : ref.nvh - 1, kind,
                      a < nw ? w[a] : NULL, w[0][1] == 'i',
                      a + 1 < nw ? w[a + 1] : NULL);
        } else if (!strcmp(w[0], "r") && nw > 2 && nreqs < MAX_REQS) {
            size_t hn = wl[1], pn = wl[2];

            reqs[nreqs].h = malloc(hn + 1);
            reqs[nreqs].p = malloc(pn + 1);
            CHECK(reqs[nreqs].h && reqs[nreqs].p);
            memcpy(reqs[nreqs].h, w[1], hn + 1);
            memcpy(reqs[nreqs].p, w[2], pn + 1);
            reqs[nreqs].hn = hn;
            reqs[nreqs++].pn = pn;
        }
        free(line);
    }
    for (i = 0; i < nreqs; i++)
        check_variants(r, reqs[i].h, reqs[i].hn, reqs[i].p, reqs[i].pn);
    /* Requests for the names themselves: each exact name (an address in
     * brackets), a host under each wildcard and its bare suffix. */
    for (i = 0; i < ref.nnames && i < MAX_NAME_REQS; i++) {
        const struct ref_name *e = &ref.names[i];
        const char *p = nreqs ? reqs[i % nreqs].p : "/";
        size_t pn = nreqs ? reqs[i % nreqs].pn : 1;
        char h[300], a6[INET6_ADDRSTRLEN];

        if (e->v6) {
            CHECK(inet_ntop(AF_INET6, e->a, a6, sizeof(a6)));
            snprintf(h, sizeof(h), "[%s]", a6);
        } else {
            snprintf(h, sizeof(h), "%s", e->s);
        }
        check_variants(r, h, strlen(h), p, pn);
        if (e->wild) {
            snprintf(h, sizeof(h), "x-1.%s", e->s);
            check_variants(r, h, strlen(h), p, pn);
        }
    }
    for (i = 0; i < nreqs; i++) {
        free(reqs[i].h);
        free(reqs[i].p);
    }
    acl_routes_free(r);
    ref_reset();
    return 0;
}
