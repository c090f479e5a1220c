/*
 * check_route.c - reverse mode's vhosts and routes (acl/route.h), table
 * driven: which vhost a Host value names (exact, wildcard, longest
 * wildcard, default, the Host's port, brackets, trailing dot and bad
 * bytes), the names a vhost may have and the errors of the others, routes
 * in order (prefix, regex, case), the rewrite of each kind (captures,
 * "$$", the leading "/", a buffer too small, a hit that is not one), the
 * limits of the header, the regex match limits, and a full-size table
 * (256 vhosts of 64 names) where every name finds its vhost.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl/route.h"

#define NV(...) (sizeof((const char *[]){ __VA_ARGS__ }) / sizeof(const char *))
/* Add a vhost that must be accepted with index idx. */
#define VHOST(r, idx, dflt, ...)                                              \
    do {                                                                      \
        static const char *const n_[] = { __VA_ARGS__ };                     \
        char e_[256] = "";                                                    \
        ck_assert_msg(acl_routes_add_vhost((r), n_, NV(__VA_ARGS__), (dflt),  \
                                           e_, sizeof(e_)) == (idx),          \
                      "vhost %d: %s", (idx), e_);                             \
    } while (0)
/* Add a route that must be accepted with index idx. */
#define ROUTE(r, v, idx, kind, pat, icase, rw)                                \
    do {                                                                      \
        char e_[256] = "";                                                    \
        ck_assert_msg(acl_routes_add_route((r), (v), (kind), (pat), (icase),  \
                                           (rw), e_, sizeof(e_)) == (idx),    \
                      "route %s: %s", (pat), e_);                             \
    } while (0)

static struct sl_view view(const char *s)
{
    struct sl_view v = { s, s ? strlen(s) : 0 };

    return v;
}

/* The vhost host names (-1: -ENOENT), checking the return code. */
static int host_vhost(const struct acl_routes *r, struct sl_view host)
{
    struct acl_route_hit hit = { 7, 7 };
    int rc = acl_routes_match(r, host, view("/"), &hit);

    if (rc == -ENOENT) {
        ck_assert_int_eq(hit.vhost, -1);
        ck_assert_int_eq(hit.route, -1);
        return -1;
    }
    /* every vhost has a "/" route */
    ck_assert_msg(rc == 0 && hit.route == 0, "Host \"%.*s\": %d, vhost %d "
                  "route %d", (int)host.len, host.base ? host.base : "", rc,
                  hit.vhost, hit.route);
    return hit.vhost;
}

/* ---- vhosts --------------------------------------------------------------- */

static struct acl_routes *host_table(int with_default)
{
    struct acl_routes *r = acl_routes_new();
    int v, n = 0;

    ck_assert_ptr_nonnull(r);
    VHOST(r, n++, 0, "www.example.com", "example.com");
    VHOST(r, n++, 0, "*.example.com");
    VHOST(r, n++, 0, "*.api.example.com");
    VHOST(r, n++, 0, "127.0.0.1", "[::1]", "2001:DB8:0::1");
    VHOST(r, n++, 0, "*.0.0.1", "Mixed.CASE.example.");
    if (with_default)
        VHOST(r, n++, 1, "default.example");
    for (v = 0; v < n; v++)
        ROUTE(r, v, 0, ACL_ROUTE_PREFIX, "/", 0, NULL);
    return r;
}

#define DFLT 5

static const struct {
    const char *host;
    int vhost;
} host_cases[] = {
    /* exact names, case, port, trailing dot, OWS */
    { "www.example.com", 0 },
    { "WWW.Example.COM", 0 },
    { "example.com", 0 },
    { "www.example.com:8080", 0 },
    { "www.example.com:", 0 },          /* port = *DIGIT */
    { "www.example.com.", 0 },
    { "www.example.com.:80", 0 },
    { " www.example.com\t", 0 },
    { "mixed.case.example", 4 },
    { "MIXED.case.EXAMPLE.", 4 },
    /* wildcards: one or more labels, longest suffix first, never bare */
    { "a.example.com", 1 },
    { "A.B.Example.Com:443", 1 },
    { "api.example.com", 1 },
    { "x.api.example.com", 2 },
    { "a.b.api.example.com", 2 },
    { "x.api.example.com.", 2 },
    { "a_b.example.com", 1 },           /* '_' as real hosts have it */
    { "xexample.com", DFLT },           /* not at a label boundary */
    { "com", DFLT },
    /* address literals: exact only, IPv6 canonical */
    { "127.0.0.1", 3 },
    { "127.0.0.1:3128", 3 },
    { "[::1]", 3 },
    { "[::1]:80", 3 },
    { "[0:0::1]", 3 },
    { "[2001:db8::1]:8443", 3 },
    { "[2001:DB8:0:0::1]", 3 },
    { "10.0.0.1", DFLT },               /* "*.0.0.1" is not for addresses */
    { "a.0.0.1", 4 },                   /* ... but for names */
    { "::1", DFLT },                    /* needs its brackets */
    /* what names no vhost: the default takes it */
    { "", DFLT },
    { "   ", DFLT },
    { "default.example", DFLT },
    { "nowhere.test", DFLT },
    { "www.example.com..", DFLT },
    { ".example.com", DFLT },
    { "a..example.com", DFLT },
    { "a b.example.com", DFLT },
    { "*.example.com", DFLT },
    { "a*.example.com", DFLT },
    { "www.example.com:80x", DFLT },
    { "www.example.com:8:8", DFLT },
    { "www.example.com/x", DFLT },
    { "www.example.com@evil.test", DFLT },
    { "[::1", DFLT },
    { "[::1]x", DFLT },
    { "[::1]:8o", DFLT },
    { "[www.example.com]", DFLT },
    { "[fe80::1%25eth0]", DFLT },
    { "www.ex\xc3\xa4mple.com", DFLT },
};

START_TEST(vhost_by_host)
{
    struct acl_routes *r = host_table(1);
    size_t i;

    for (i = 0; i < sizeof(host_cases) / sizeof(host_cases[0]); i++)
        ck_assert_msg(host_vhost(r, view(host_cases[i].host)) == host_cases[i].vhost,
                      "Host \"%s\": vhost %d, want %d", host_cases[i].host,
                      host_vhost(r, view(host_cases[i].host)), host_cases[i].vhost);
    acl_routes_free(r);
}
END_TEST

START_TEST(vhost_host_edges)
{
    struct acl_routes *r = host_table(1);
    char big[400];
    struct sl_view v;

    /* A NUL inside the value, a view that stops inside a name, NULL. */
    v = (struct sl_view){ "www.example.com\0.evil", 21 };
    ck_assert_int_eq(host_vhost(r, v), DFLT);
    v = (struct sl_view){ "www.example.comx", 15 };
    ck_assert_int_eq(host_vhost(r, v), 0);
    v = (struct sl_view){ NULL, 0 };
    ck_assert_int_eq(host_vhost(r, v), DFLT);
    /* inet_pton stops at a NUL: "[::1\0x]" is not [::1]. */
    v = (struct sl_view){ "[::1\0x]", 7 };
    ck_assert_int_eq(host_vhost(r, v), DFLT);
    v = (struct sl_view){ "[::1\0]:80", 9 };
    ck_assert_int_eq(host_vhost(r, v), DFLT);
    /* Longer than any name: the default, however many labels. */
    memset(big, 'a', sizeof(big));
    memcpy(big + sizeof(big) - 13, ".example.com", 12);
    big[sizeof(big) - 1] = '\0';
    ck_assert_int_eq(host_vhost(r, view(big)), DFLT);
    for (size_t i = 0; i + 1 < sizeof(big) - 13; i += 2)
        big[i + 1] = '.';
    ck_assert_int_eq(host_vhost(r, view(big)), DFLT);
    /* 255 bytes of labels (the longest Host kept) still reach a wildcard. */
    memset(big, 0, sizeof(big));
    memset(big, 'a', 243);
    for (size_t i = 1; i < 243; i += 2)
        big[i] = '.';
    strcat(big, ".example.com");
    ck_assert_uint_eq(strlen(big), 255);
    ck_assert_int_eq(host_vhost(r, view(big)), 1);
    acl_routes_free(r);
}
END_TEST

START_TEST(vhost_no_default)
{
    struct acl_routes *r = host_table(0);
    struct acl_route_hit hit = { 3, 3 };

    ck_assert_int_eq(host_vhost(r, view("nowhere.test")), -1);
    ck_assert_int_eq(host_vhost(r, view("")), -1);
    ck_assert_int_eq(host_vhost(r, view("example.com")), 0);
    ck_assert_int_eq(host_vhost(r, view("a.example.com")), 1);
    acl_routes_free(r);
    /* An empty table, and no table. */
    r = acl_routes_new();
    ck_assert_int_eq(acl_routes_match(r, view("a.test"), view("/"), &hit), -ENOENT);
    ck_assert_int_eq(hit.vhost, -1);
    acl_routes_free(r);
    ck_assert_int_eq(acl_routes_match(NULL, view("a.test"), view("/"), &hit), -ENOENT);
    acl_routes_free(NULL);
}
END_TEST

/* Only the default: it takes everything, an empty name list is fine. */
START_TEST(vhost_default_only)
{
    struct acl_routes *r = acl_routes_new();
    char err[256] = "";

    ck_assert_int_eq(acl_routes_add_vhost(r, NULL, 0, 1, err, sizeof(err)), 0);
    ROUTE(r, 0, 0, ACL_ROUTE_PREFIX, "/", 0, NULL);
    ck_assert_int_eq(host_vhost(r, view("anything.test:81")), 0);
    ck_assert_int_eq(host_vhost(r, view("")), 0);
    ck_assert_int_eq(host_vhost(r, view("[::1]")), 0);
    acl_routes_free(r);
}
END_TEST

static const struct {
    const char *names[3];
    size_t n;
    int dflt;
    const char *err;
} bad_vhosts[] = {
    { { "a b" }, 1, 0, "bad name \"a b\": a name is letters, digits, '-' and '.' "
      "(\"*.\" first for a wildcard, an IPv6 address in brackets or not)" },
    { { "*" }, 1, 0, NULL },
    { { "*." }, 1, 0, NULL },
    { { "**.a.com" }, 1, 0, NULL },
    { { "a.*.com" }, 1, 0, NULL },
    { { "*a.com" }, 1, 0, NULL },
    { { "a..com" }, 1, 0, NULL },
    { { ".a.com" }, 1, 0, NULL },
    { { "a.com.." }, 1, 0, NULL },
    { { "." }, 1, 0, NULL },
    { { "" }, 1, 0, NULL },
    { { "a_b.com" }, 1, 0, NULL },
    { { "a.com:80" }, 1, 0, "bad name \"a.com:80\": not an IPv6 address" },
    { { "[::1" }, 1, 0, "bad name \"[::1\": not an IPv6 address" },
    { { "1::2::3" }, 1, 0, "bad name \"1::2::3\": not an IPv6 address" },
    { { "[a.com]" }, 1, 0, "bad name \"[a.com]\": not an IPv6 address" },
    { { "[1.2.3.4]" }, 1, 0, "bad name \"[1.2.3.4]\": not an IPv6 address" },
    { { "*.::1" }, 1, 0, NULL },
    { { "ok.test", "b\xc3\xa4r.test" }, 2, 0, NULL },
    { { "www.example.com" }, 1, 0, "name www.example.com is already vhost 0's" },
    { { "WWW.Example.COM." }, 1, 0, "name www.example.com is already vhost 0's" },
    { { "ok.test", "*.Example.com" }, 2, 0,
      "name *.example.com is already vhost 0's" },
    { { "[::1]" }, 1, 0, "name ::1 is already vhost 0's" },
    { { "0::1" }, 1, 0, "name ::1 is already vhost 0's" },
    { { "ok.test", "OK.test" }, 2, 0, "name ok.test is listed twice" },
    { { "ok.test" }, 1, 1, "a second default vhost (vhost 0 is the default)" },
    { { NULL }, 0, 0, "a vhost with no name that is not the default" },
    { { "ok.test", NULL }, 2, 0, "name 1 of the vhost is missing" },
};

START_TEST(vhost_name_errors)
{
    struct acl_routes *r = acl_routes_new();
    char err[256], want[256];
    size_t i;

    VHOST(r, 0, 1, "www.example.com", "*.example.com", "::1");
    ROUTE(r, 0, 0, ACL_ROUTE_PREFIX, "/", 0, NULL);
    for (i = 0; i < sizeof(bad_vhosts) / sizeof(bad_vhosts[0]); i++) {
        strcpy(err, "(unset)");
        ck_assert_msg(acl_routes_add_vhost(r, bad_vhosts[i].names, bad_vhosts[i].n,
                                           bad_vhosts[i].dflt, err,
                                           sizeof(err)) == -1,
                      "case %zu accepted", i);
        if (bad_vhosts[i].err) {
            ck_assert_str_eq(err, bad_vhosts[i].err);
        } else {
            snprintf(want, sizeof(want), "bad name \"%s\": ",
                     bad_vhosts[i].names[bad_vhosts[i].n - 1]);
            ck_assert_msg(strncmp(err, want, strlen(want)) == 0,
                          "case %zu: \"%s\"", i, err);
        }
        /* Refused: the table is as it was, ok.test is nobody's. */
        ck_assert_msg(acl_routes_nvhosts(r) == 1 &&
                      host_vhost(r, view("ok.test")) == 0, "case %zu", i);
    }
    /* ... and can still be given. */
    VHOST(r, 1, 0, "ok.test");
    ROUTE(r, 1, 0, ACL_ROUTE_PREFIX, "/", 0, NULL);
    ck_assert_int_eq(host_vhost(r, view("ok.test")), 1);
    /* No error buffer: still refused. */
    ck_assert_int_eq(acl_routes_add_vhost(r, bad_vhosts[0].names, 1, 0, NULL, 0), -1);
    acl_routes_free(r);
}
END_TEST

START_TEST(vhost_names_accepted)
{
    struct acl_routes *r = acl_routes_new();
    char name[300];

    VHOST(r, 0, 0, "xn--bcher-kva.example", "A-1.EXAMPLE.", "*.com",
          "10.1.2.3");
    VHOST(r, 1, 0, "::2", "[fe80::1]", "*.xn--p1ai");
    /* 253 bytes: the longest name. */
    memset(name, 0, sizeof(name));
    for (int i = 0; i < 253; i++)
        name[i] = (i % 2) ? '.' : 'a';
    {
        const char *n1[] = { name };
        char err[256];

        ck_assert_int_eq(acl_routes_add_vhost(r, n1, 1, 0, err, sizeof(err)), 2);
        name[253] = '.';                        /* a trailing dot is fine */
        name[254] = 'a';
        ck_assert_int_eq(acl_routes_add_vhost(r, n1, 1, 0, err, sizeof(err)), -1);
        ck_assert_msg(strstr(err, "longer than 253 bytes") != NULL, "%s", err);
    }
    for (int v = 0; v < 3; v++)
        ROUTE(r, v, 0, ACL_ROUTE_PREFIX, "/", 0, NULL);
    ck_assert_int_eq(host_vhost(r, view("xn--bcher-kva.example")), 0);
    ck_assert_int_eq(host_vhost(r, view("a-1.example")), 0);
    ck_assert_int_eq(host_vhost(r, view("anything.com")), 0);
    ck_assert_int_eq(host_vhost(r, view("10.1.2.3:80")), 0);
    ck_assert_int_eq(host_vhost(r, view("[0::2]")), 1);
    ck_assert_int_eq(host_vhost(r, view("[FE80::1]")), 1);
    ck_assert_int_eq(host_vhost(r, view("a.xn--p1ai")), 1);
    name[253] = '\0';
    ck_assert_int_eq(host_vhost(r, view(name)), 2);
    ck_assert_int_eq(host_vhost(r, view("com")), -1);
    acl_routes_free(r);
}
END_TEST

/* ---- routes and rewrites ------------------------------------------------ */

static struct acl_routes *route_table(void)
{
    struct acl_routes *r = acl_routes_new();
    int n = 0;

    ck_assert_ptr_nonnull(r);
    VHOST(r, 0, 0, "app.test");
    ROUTE(r, 0, n++, ACL_ROUTE_PREFIX, "/api/v1/", 0, "/");              /* 0 */
    ROUTE(r, 0, n++, ACL_ROUTE_PREFIX, "/api/", 0, NULL);                /* 1 */
    ROUTE(r, 0, n++, ACL_ROUTE_REGEX, "^/users/([0-9]+)(/.*)?$", 0,
          "/u/$1$2");                                                    /* 2 */
    ROUTE(r, 0, n++, ACL_ROUTE_PREFIX, "/Static/", 1, "/s/");            /* 3 */
    ROUTE(r, 0, n++, ACL_ROUTE_REGEX, "^/old/(?<x>[a-z]+)", 1,
          "/new/$1?$$v=$0");                                             /* 4 */
    ROUTE(r, 0, n++, ACL_ROUTE_PREFIX, "/strip/", 0, "");                /* 5 */
    ROUTE(r, 0, n++, ACL_ROUTE_REGEX, "^/tmpl/(.*)", 0, "$1");           /* 6 */
    ROUTE(r, 0, n++, ACL_ROUTE_REGEX, "^/opt(/a)?(/b)?", 0, "/x$2$1");   /* 7 */
    ROUTE(r, 0, n++, ACL_ROUTE_REGEX,
          "^/g/(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)", 0, "/$9$1$0");        /* 8 */
    ROUTE(r, 0, n++, ACL_ROUTE_REGEX, "\\.php$", 0, NULL);               /* 9 */
    ROUTE(r, 0, n++, ACL_ROUTE_PREFIX, "/dollar/", 0, "/$1/");           /* 10 */
    ROUTE(r, 0, n++, ACL_ROUTE_REGEX, "^/q\\?(.*)", 0, "/query/$1");     /* 11 */
    ck_assert_uint_eq(acl_routes_nroutes(r, 0), (size_t)n);
    return r;
}

static const struct {
    const char *path;
    int route;                  /* -1: -ESRCH */
    const char *out;            /* the rewrite */
} route_cases[] = {
    { "/api/v1/users?x=1", 0, "/users?x=1" },
    { "/api/v1/", 0, "/" },
    { "/api/v2/x", 1, "/api/v2/x" },
    { "/api/", 1, "/api/" },
    { "/apix", -1, NULL },
    { "/api", -1, NULL },
    { "/API/v1/x", -1, NULL },                  /* a prefix keeps its case */
    { "/users/42", 2, "/u/42" },                /* $2 unset: empty */
    { "/users/42/edit?a=1", 2, "/u/42/edit?a=1" },
    { "/users/x", -1, NULL },
    { "/static/a.css", 3, "/s/a.css" },
    { "/STATIC/A.css", 3, "/s/A.css" },
    { "/OLD/abc/d", 4, "/new/abc?$v=/OLD/abc" },
    { "/strip/x?y", 5, "/x?y" },                /* "/" put first */
    { "/strip/", 5, "/" },
    { "/tmpl/abc", 6, "/abc" },
    { "/tmpl//abc", 6, "/abc" },
    { "/tmpl/", 6, "/" },
    { "/opt/b", 7, "/x/b" },                    /* $1 unset before a set $2 */
    { "/opt/a/b", 7, "/x/b/a" },
    { "/opt", 7, "/x" },
    { "/g/abcdefghijkz", 8, "/ia/g/abcdefghijk" },   /* more groups than kept */
    { "/index.php", 9, "/index.php" },
    { "/api/v1/index.php", 0, "/index.php" },   /* first match wins */
    { "/dollar/x", 10, "/$1/x" },               /* a prefix's text is literal */
    { "/q?a=b", 11, "/query/a=b" },             /* the query is matched too */
    { "", -1, NULL },
    { "/", -1, NULL },
    { "*", -1, NULL },
};

START_TEST(routes_and_rewrites)
{
    struct acl_routes *r = route_table();
    struct acl_route_hit hit;
    struct sl_buf out;
    size_t i;
    int rc;

    ck_assert_int_eq(sl_buf_init(&out, 256), 0);
    for (i = 0; i < sizeof(route_cases) / sizeof(route_cases[0]); i++) {
        rc = acl_routes_match(r, view("app.test"), view(route_cases[i].path), &hit);
        ck_assert_int_eq(hit.vhost, 0);
        if (route_cases[i].route < 0) {
            ck_assert_msg(rc == -ESRCH, "%s: %d route %d", route_cases[i].path,
                          rc, hit.route);
            ck_assert_int_eq(hit.route, -1);
            ck_assert_int_eq(acl_routes_rewrite(r, &hit, view(route_cases[i].path),
                                                &out), -EINVAL);
            continue;
        }
        ck_assert_msg(rc == 0 && hit.route == route_cases[i].route,
                      "%s: %d route %d, want %d", route_cases[i].path, rc,
                      hit.route, route_cases[i].route);
        sl_buf_reset(&out);
        ck_assert_int_eq(acl_routes_rewrite(r, &hit, view(route_cases[i].path),
                                            &out), 0);
        ck_assert_msg(sl_buf_len(&out) == strlen(route_cases[i].out) &&
                      memcmp(out.pos, route_cases[i].out, sl_buf_len(&out)) == 0,
                      "%s: rewritten \"%.*s\", want \"%s\"", route_cases[i].path,
                      (int)sl_buf_len(&out), out.pos, route_cases[i].out);
    }
    sl_buf_free(&out);
    acl_routes_free(r);
}
END_TEST

/* Every route case through a buffer of every size up to the one it needs
 * (and with data already in it): -ENOSPC and not one byte written until
 * it fits, then exactly the rewrite after the data. */
START_TEST(rewrite_bounded)
{
    struct acl_routes *r = route_table();
    struct acl_route_hit hit;
    char mem[300];
    size_t i, room;

    for (i = 0; i < sizeof(route_cases) / sizeof(route_cases[0]); i++) {
        size_t want;

        if (route_cases[i].route < 0)
            continue;
        ck_assert_int_eq(acl_routes_match(r, view("app.test"),
                                          view(route_cases[i].path), &hit), 0);
        want = strlen(route_cases[i].out);
        for (room = 0; room <= want + 1; room++) {
            struct sl_buf out = { mem, mem + 3 + room, mem, mem + 3 };
            int rc;

            memset(mem, '#', sizeof(mem));
            memcpy(mem, "abc", 3);
            rc = acl_routes_rewrite(r, &hit, view(route_cases[i].path), &out);
            if (room < want) {
                ck_assert_msg(rc == -ENOSPC, "%s room %zu: %d",
                              route_cases[i].path, room, rc);
                ck_assert_ptr_eq(out.last, mem + 3);
                for (size_t k = 3; k < sizeof(mem); k++)
                    ck_assert_int_eq(mem[k], '#');
                continue;
            }
            ck_assert_int_eq(rc, 0);
            ck_assert_ptr_eq(out.pos, mem);
            ck_assert_ptr_eq(out.last, mem + 3 + want);
            ck_assert(memcmp(mem, "abc", 3) == 0);
            ck_assert(memcmp(mem + 3, route_cases[i].out, want) == 0);
            for (size_t k = 3 + want; k < sizeof(mem); k++)
                ck_assert_int_eq(mem[k], '#');
        }
    }
    acl_routes_free(r);
}
END_TEST

START_TEST(rewrite_bad_hits)
{
    struct acl_routes *r = route_table();
    struct acl_route_hit hit;
    struct sl_buf out;
    static const struct acl_route_hit bad[] = {
        { -1, 0 }, { 1, 0 }, { 0, -1 }, { 0, 12 }, { 999, 999 },
    };

    ck_assert_int_eq(sl_buf_init(&out, 64), 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_int_eq(acl_routes_rewrite(r, &bad[i], view("/api/x"), &out),
                         -EINVAL);
    /* A route that rewrites and a path it does not match. */
    hit = (struct acl_route_hit){ 0, 0 };
    ck_assert_int_eq(acl_routes_rewrite(r, &hit, view("/other"), &out), -EINVAL);
    hit.route = 2;
    ck_assert_int_eq(acl_routes_rewrite(r, &hit, view("/users/x"), &out), -EINVAL);
    /* One that does not rewrite copies the path as it is. */
    hit.route = 1;
    ck_assert_int_eq(acl_routes_rewrite(r, &hit, view("/x y"), &out), 0);
    ck_assert_uint_eq(sl_buf_len(&out), 4);
    ck_assert_int_eq(acl_routes_rewrite(NULL, &hit, view("/"), &out), -EINVAL);
    ck_assert_uint_eq(sl_buf_len(&out), 4);
    sl_buf_free(&out);
    acl_routes_free(r);
}
END_TEST

/* Routes belong to their vhost; a vhost without a match says -ESRCH. */
START_TEST(routes_per_vhost)
{
    struct acl_routes *r = acl_routes_new();
    struct acl_route_hit hit;

    VHOST(r, 0, 0, "a.test");
    VHOST(r, 1, 1, "b.test");
    VHOST(r, 2, 0, "c.test");
    ROUTE(r, 0, 0, ACL_ROUTE_PREFIX, "/a/", 0, NULL);
    ROUTE(r, 1, 0, ACL_ROUTE_PREFIX, "/b/", 0, NULL);
    ROUTE(r, 1, 1, ACL_ROUTE_PREFIX, "/", 0, NULL);
    ck_assert_int_eq(acl_routes_match(r, view("a.test"), view("/a/1"), &hit), 0);
    ck_assert_int_eq(hit.vhost, 0);
    ck_assert_int_eq(acl_routes_match(r, view("a.test"), view("/b/1"), &hit), -ESRCH);
    ck_assert_int_eq(hit.vhost, 0);
    ck_assert_int_eq(hit.route, -1);
    ck_assert_int_eq(acl_routes_match(r, view("x.test"), view("/a/1"), &hit), 0);
    ck_assert_int_eq(hit.vhost, 1);
    ck_assert_int_eq(hit.route, 1);
    ck_assert_int_eq(acl_routes_match(r, view("c.test"), view("/"), &hit), -ESRCH);
    ck_assert_int_eq(hit.vhost, 2);
    ck_assert_uint_eq(acl_routes_nroutes(r, 0), 1);
    ck_assert_uint_eq(acl_routes_nroutes(r, 1), 2);
    ck_assert_uint_eq(acl_routes_nroutes(r, 2), 0);
    ck_assert_uint_eq(acl_routes_nroutes(r, 3), 0);
    ck_assert_uint_eq(acl_routes_nroutes(r, -1), 0);
    ck_assert_uint_eq(acl_routes_nroutes(NULL, 0), 0);
    ck_assert_uint_eq(acl_routes_nvhosts(r), 3);
    ck_assert_uint_eq(acl_routes_nvhosts(NULL), 0);
    acl_routes_free(r);
}
END_TEST

/* What the ops pages show of a route: its pattern, kind and icase. */
START_TEST(route_pattern_shown)
{
    struct acl_routes *r = acl_routes_new();
    enum acl_route_kind kind = ACL_ROUTE_PREFIX;
    int icase = 0;

    VHOST(r, 0, 0, "a.test");
    ROUTE(r, 0, 0, ACL_ROUTE_PREFIX, "/Api/", 1, "/");
    ROUTE(r, 0, 1, ACL_ROUTE_REGEX, "^/U/([0-9]+)$", 0, "/users/$1");
    ck_assert_str_eq(acl_routes_pattern(r, 0, 0, &kind, &icase), "/api/");
    ck_assert_int_eq(kind, ACL_ROUTE_PREFIX);
    ck_assert_int_eq(icase, 1);
    ck_assert_str_eq(acl_routes_pattern(r, 0, 1, &kind, &icase), "^/U/([0-9]+)$");
    ck_assert_int_eq(kind, ACL_ROUTE_REGEX);
    ck_assert_int_eq(icase, 0);
    ck_assert_str_eq(acl_routes_pattern(r, 0, 1, NULL, NULL), "^/U/([0-9]+)$");
    ck_assert_ptr_null(acl_routes_pattern(r, 0, 2, &kind, &icase));
    ck_assert_ptr_null(acl_routes_pattern(r, 0, -1, &kind, &icase));
    ck_assert_ptr_null(acl_routes_pattern(r, 1, 0, &kind, &icase));
    ck_assert_ptr_null(acl_routes_pattern(NULL, 0, 0, &kind, &icase));
    acl_routes_free(r);
}
END_TEST

static const struct {
    int v;
    int kind;
    const char *pattern;
    const char *rewrite;
    const char *err;
} bad_routes[] = {
    { 1, ACL_ROUTE_PREFIX, "/", NULL, "no vhost 1" },
    { -1, ACL_ROUTE_PREFIX, "/", NULL, "no vhost -1" },
    { 0, 7, "/", NULL, "unknown route kind 7" },
    { 0, ACL_ROUTE_PREFIX, "", NULL, "empty route pattern" },
    { 0, ACL_ROUTE_PREFIX, NULL, NULL, "empty route pattern" },
    { 0, ACL_ROUTE_REGEX, "", NULL, "empty route pattern" },
    { 0, ACL_ROUTE_PREFIX, "api/", NULL, "prefix \"api/\" does not start with \"/\"" },
    { 0, ACL_ROUTE_PREFIX, "/a b", NULL,
      "prefix \"/a b\": byte 0x20 at offset 2 cannot be in a request target" },
    { 0, ACL_ROUTE_PREFIX, "/a\x7f", NULL,
      "prefix \"/a\x7f\": byte 0x7f at offset 2 cannot be in a request target" },
    { 0, ACL_ROUTE_PREFIX, "/a", "/b c",
      "rewrite \"/b c\": byte 0x20 at offset 2 cannot be in a request target" },
    { 0, ACL_ROUTE_PREFIX, "/a", "/b#c",
      "rewrite \"/b#c\": byte 0x23 at offset 2 cannot be in a request target" },
    { 0, ACL_ROUTE_REGEX, "^/(a", NULL,
      "bad regex \"^/(a\": missing closing parenthesis at offset 4" },
    { 0, ACL_ROUTE_REGEX, "^/(a)", "/$2",
      "rewrite \"/$2\": $2 but the regex has 1 group" },
    { 0, ACL_ROUTE_REGEX, "^/a", "/$1",
      "rewrite \"/$1\": $1 but the regex has 0 groups" },
    { 0, ACL_ROUTE_REGEX, "^/(a)", "/$x",
      "rewrite \"/$x\": \"$\" at offset 1 is not followed by a digit or \"$\"" },
    { 0, ACL_ROUTE_REGEX, "^/(a)", "/a$",
      "rewrite \"/a$\": \"$\" at offset 2 is not followed by a digit or \"$\"" },
    { 0, ACL_ROUTE_REGEX, "^/(a)", "/${1}",
      "rewrite \"/${1}\": \"$\" at offset 1 is not followed by a digit or \"$\"" },
    { 0, ACL_ROUTE_REGEX, "^/(a)", "/$1 x",
      "rewrite \"/$1 x\": byte 0x20 at offset 3 cannot be in a request target" },
};

START_TEST(route_errors)
{
    struct acl_routes *r = acl_routes_new();
    char err[256], big[5000];
    size_t i;

    VHOST(r, 0, 0, "a.test");
    for (i = 0; i < sizeof(bad_routes) / sizeof(bad_routes[0]); i++) {
        strcpy(err, "(unset)");
        ck_assert_msg(acl_routes_add_route(r, bad_routes[i].v, bad_routes[i].kind,
                                           bad_routes[i].pattern, 0,
                                           bad_routes[i].rewrite, err,
                                           sizeof(err)) == -1,
                      "case %zu accepted", i);
        ck_assert_str_eq(err, bad_routes[i].err);
        ck_assert_uint_eq(acl_routes_nroutes(r, 0), 0);
    }
    memset(big, 'a', sizeof(big));
    big[0] = '/';
    big[4097] = '\0';
    ck_assert_int_eq(acl_routes_add_route(r, 0, ACL_ROUTE_PREFIX, big, 0, NULL,
                                          err, sizeof(err)), -1);
    ck_assert_str_eq(err, "route pattern longer than 4096 bytes");
    ck_assert_int_eq(acl_routes_add_route(r, 0, ACL_ROUTE_PREFIX, "/", 0, big,
                                          err, sizeof(err)), -1);
    ck_assert_str_eq(err, "rewrite longer than 4096 bytes");
    big[4096] = '\0';
    ROUTE(r, 0, 0, ACL_ROUTE_PREFIX, big, 0, big);
    /* The good templates. */
    ROUTE(r, 0, 1, ACL_ROUTE_REGEX, "^/(a)", 0, "/$$1$$$1$0");
    ROUTE(r, 0, 2, ACL_ROUTE_REGEX, "^/(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)", 0, "/$9$10");
    acl_routes_free(r);
}
END_TEST

/* ---- limits ---------------------------------------------------------------- */

/* A regex that reaches the match limit does not match: the next route
 * takes the path. The first branch backtracks 2^n times for n a's before
 * the second matches: with 14 the match is well within the limit; with 22
 * it needs ~5M steps, which PCRE2's default limit (10M) allows (8 ms) and
 * the house limit (200k) does not (0.25 ms). */
START_TEST(regex_match_limit)
{
    struct acl_routes *r = acl_routes_new();
    struct acl_route_hit hit;
    char path[64];

    VHOST(r, 0, 1, "a.test");
    ROUTE(r, 0, 0, ACL_ROUTE_REGEX, "^/(?:(?:a+)+b|a+!)", 0, NULL);
    ROUTE(r, 0, 1, ACL_ROUTE_PREFIX, "/", 0, NULL);
    memset(path, 'a', sizeof(path));
    path[0] = '/';
    strcpy(path + 15, "!");
    ck_assert_int_eq(acl_routes_match(r, view("a.test"), view(path), &hit), 0);
    ck_assert_int_eq(hit.route, 0);
    memset(path, 'a', sizeof(path));
    path[0] = '/';
    strcpy(path + 23, "!");
    ck_assert_int_eq(acl_routes_match(r, view("a.test"), view(path), &hit), 0);
    ck_assert_int_eq(hit.route, 1);
    acl_routes_free(r);
}
END_TEST

/* The limits of route.h, and a full-size table where every name (exact
 * and wildcard) finds its own vhost. */
START_TEST(limits_full_table)
{
    static char names[ACL_ROUTES_MAX_NAMES + 1][64];
    const char *np[ACL_ROUTES_MAX_NAMES + 1];
    struct acl_routes *r = acl_routes_new();
    struct acl_route_hit hit;
    char err[256], host[80];
    int v, i;

    for (i = 0; i <= ACL_ROUTES_MAX_NAMES; i++)
        np[i] = names[i];
    for (v = 0; v < ACL_ROUTES_MAX_VHOSTS; v++) {
        for (i = 0; i <= ACL_ROUTES_MAX_NAMES; i++) {
            if (i % 2)
                snprintf(names[i], sizeof(names[i]), "*.w%d.v%d.test", i, v);
            else
                snprintf(names[i], sizeof(names[i]), "n%d.v%d.test", i, v);
        }
        if (v == 0) {
            ck_assert_int_eq(acl_routes_add_vhost(r, np, ACL_ROUTES_MAX_NAMES + 1,
                                                  0, err, sizeof(err)), -1);
            ck_assert_str_eq(err, "a vhost with 65 names: at most 64");
        }
        ck_assert_int_eq(acl_routes_add_vhost(r, np, ACL_ROUTES_MAX_NAMES, 0,
                                              err, sizeof(err)), v);
        ck_assert_int_eq(acl_routes_add_route(r, v, ACL_ROUTE_PREFIX, "/", 0,
                                              NULL, err, sizeof(err)), 0);
    }
    np[0] = "one.more.test";
    ck_assert_int_eq(acl_routes_add_vhost(r, np, 1, 0, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "more than 256 vhosts");
    ck_assert_int_eq(acl_routes_add_vhost(r, np, 0, 1, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "more than 256 vhosts");
    ck_assert_uint_eq(acl_routes_nvhosts(r), ACL_ROUTES_MAX_VHOSTS);
    for (i = 1; i < ACL_ROUTES_MAX_ROUTES; i++)
        ROUTE(r, 7, i, ACL_ROUTE_REGEX, "^/r", 0, NULL);
    ck_assert_int_eq(acl_routes_add_route(r, 7, ACL_ROUTE_PREFIX, "/", 0, NULL,
                                          err, sizeof(err)), -1);
    ck_assert_str_eq(err, "more than 64 routes in vhost 7");
    for (v = 0; v < ACL_ROUTES_MAX_VHOSTS; v++)
        for (i = 0; i < ACL_ROUTES_MAX_NAMES; i++) {
            if (i % 2)
                snprintf(host, sizeof(host), "x.y.w%d.v%d.test", i, v);
            else
                snprintf(host, sizeof(host), "N%d.v%d.test.:80", i, v);
            ck_assert_int_eq(acl_routes_match(r, view(host), view("/"), &hit), 0);
            ck_assert_msg(hit.vhost == v, "%s: %d", host, hit.vhost);
            snprintf(host, sizeof(host), "w%d.v%d.test", i, v);
            ck_assert_int_eq(acl_routes_match(r, view(host), view("/"), &hit),
                             -ENOENT);
        }
    acl_routes_free(r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("route");
    TCase *tc = tcase_create("route");
    SRunner *sr;
    int failed;

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, vhost_by_host);
    tcase_add_test(tc, vhost_host_edges);
    tcase_add_test(tc, vhost_no_default);
    tcase_add_test(tc, vhost_default_only);
    tcase_add_test(tc, vhost_name_errors);
    tcase_add_test(tc, vhost_names_accepted);
    tcase_add_test(tc, routes_and_rewrites);
    tcase_add_test(tc, rewrite_bounded);
    tcase_add_test(tc, rewrite_bad_hits);
    tcase_add_test(tc, routes_per_vhost);
    tcase_add_test(tc, route_pattern_shown);
    tcase_add_test(tc, route_errors);
    tcase_add_test(tc, regex_match_limit);
    tcase_add_test(tc, limits_full_table);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
