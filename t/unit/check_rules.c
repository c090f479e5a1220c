/*
 * check_rules.c - named ACLs and http_access rules (acl/rules.h): every ACL
 * type matching and not, list files, rule semantics, the facts a rule may
 * need (destination, server name, user), error messages and the cost of
 * large domain lists.
 */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "acl/group.h"
#include "acl/rules.h"

#define NV(...) (sizeof((const char *[]){ __VA_ARGS__ }) / sizeof(const char *))
/* Define an ACL that must be accepted. */
#define DEF(s, name, type, icase, ...)                                        \
    do {                                                                      \
        static const char *const v_[] = { __VA_ARGS__ };                     \
        char e_[256] = "";                                                    \
        ck_assert_msg(acl_set_define((s), (name), (type), (icase), v_,        \
                                     NV(__VA_ARGS__), e_, sizeof(e_)) == 0,   \
                      "define %s: %s", (name), e_);                           \
    } while (0)
/* A definition that must fail with exactly this message. */
#define BAD(s, name, type, msg, ...)                                          \
    do {                                                                      \
        static const char *const v_[] = { __VA_ARGS__ };                     \
        char e_[256] = "";                                                    \
        ck_assert_int_eq(acl_set_define((s), (name), (type), 0, v_,           \
                                        NV(__VA_ARGS__), e_, sizeof(e_)), -1);\
        ck_assert_str_eq(e_, (msg));                                          \
    } while (0)
/* A type without values ("all"). */
#define DEF0(s, name, type)                                                   \
    ck_assert_int_eq(acl_set_define((s), (name), (type), 0, NULL, 0, NULL, 0), 0)
#define RULE(s, text)                                                         \
    do {                                                                      \
        char e_[256] = "";                                                    \
        ck_assert_msg(acl_set_rule((s), (text), e_, sizeof(e_)) == 0,         \
                      "rule %s: %s", (text), e_);                             \
    } while (0)

/* 2024-01-01 00:00:00 UTC, a Monday. */
#define MONDAY 1704067200
enum { MON, TUE, WED, THU, FRI, SAT, SUN };

static struct sockaddr_storage cli_ss, dst_ss;

static void set_addr(struct sockaddr_storage *ss, const char *s)
{
    memset(ss, 0, sizeof(*ss));
    if (strchr(s, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        ck_assert_int_eq(inet_pton(AF_INET6, s, &a->sin6_addr), 1);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)ss;
        a->sin_family = AF_INET;
        ck_assert_int_eq(inet_pton(AF_INET, s, &a->sin_addr), 1);
    }
}

static time_t at(int day, int h, int m)
{
    return MONDAY + (time_t)day * 86400 + h * 3600 + m * 60;
}

/* A plain GET from 192.168.1.10 to http://www.example.com/index.html. */
static struct acl_request req(void)
{
    struct acl_request r;

    memset(&r, 0, sizeof(r));
    set_addr(&cli_ss, "192.168.1.10");
    set_addr(&dst_ss, "93.184.216.34");
    r.client = (struct sockaddr *)&cli_ss;
    r.dst = (struct sockaddr *)&dst_ss;
    r.host = "www.example.com";
    r.host_len = strlen(r.host);
    r.port = 80;
    r.method = "GET";
    r.url = "http://www.example.com/index.html";
    r.url_len = strlen(r.url);
    r.path = "/index.html";
    r.path_len = strlen(r.path);
    r.conns = 1;
    r.now = at(MON, 12, 0);
    return r;
}

/* A CONNECT to host:port. */
static struct acl_request tunnel(const char *host, unsigned port)
{
    static char url[300];
    struct acl_request r = req();

    snprintf(url, sizeof(url), "%s:%u", host, port);
    r.host = host;
    r.host_len = strlen(host);
    r.port = port;
    r.method = "CONNECT";
    r.is_connect = 1;
    r.url = url;
    r.url_len = strlen(url);
    r.path = "";
    r.path_len = 0;
    return r;
}

static void set_host(struct acl_request *r, const char *host)
{
    r->host = host;
    r->host_len = strlen(host);
}

static void set_url(struct acl_request *r, const char *url, const char *path)
{
    r->url = url;
    r->url_len = strlen(url);
    r->path = path;
    r->path_len = strlen(path);
}

static int m(const struct acl_set *s, const char *name,
             const struct acl_request *r)
{
    return acl_match_name(s, name, r);
}

static int host_m(const struct acl_set *s, const char *name, const char *host)
{
    struct acl_request r = req();

    set_host(&r, host);
    return m(s, name, &r);
}

static int port_m(const struct acl_set *s, const char *name, unsigned port)
{
    struct acl_request r = req();

    r.port = port;
    return m(s, name, &r);
}

static int time_m(const struct acl_set *s, const char *name, time_t t)
{
    struct acl_request r = req();

    r.now = t;
    return m(s, name, &r);
}

/* ---- src, dst ------------------------------------------------------------ */

START_TEST(src_match)
{
    struct acl_set *s = acl_set_new();
    struct acl_request r = req();

    DEF(s, "lan", "src", 0, "10.0.0.0/8", "192.168.1.0/24", "fc00::/7");
    DEF(s, "any", "src", 0, "all");
    ck_assert_int_eq(m(s, "lan", &r), 1);
    set_addr(&cli_ss, "192.168.2.1");
    ck_assert_int_eq(m(s, "lan", &r), 0);
    set_addr(&cli_ss, "10.255.255.255");
    ck_assert_int_eq(m(s, "lan", &r), 1);
    set_addr(&cli_ss, "11.0.0.0");
    ck_assert_int_eq(m(s, "lan", &r), 0);
    set_addr(&cli_ss, "::ffff:10.1.2.3");         /* IPv4-mapped */
    ck_assert_int_eq(m(s, "lan", &r), 1);
    set_addr(&cli_ss, "::ffff:11.1.2.3");
    ck_assert_int_eq(m(s, "lan", &r), 0);
    set_addr(&cli_ss, "fd12::1");
    ck_assert_int_eq(m(s, "lan", &r), 1);
    set_addr(&cli_ss, "2001:db8::1");
    ck_assert_int_eq(m(s, "lan", &r), 0);
    ck_assert_int_eq(m(s, "any", &r), 1);
    r.client = NULL;
    ck_assert_int_eq(m(s, "any", &r), 0);
    acl_set_free(s);
}
END_TEST

/* The reverse listeners' rules are a list of their own over the same
 * ACLs: neither list sees the other's rules, and each has its implicit
 * last rule. */
START_TEST(rule_lists)
{
    struct acl_set *s = acl_set_new();
    struct acl_request r = req();
    struct acl_result res;
    char e[256];

    DEF(s, "lan", "src", 0, "10.0.0.0/8");
    DEF(s, "any", "src", 0, "all");
    RULE(s, "allow lan");
    RULE(s, "deny any");
    ck_assert_int_eq(acl_set_rule_in(s, ACL_LIST_REVERSE, "deny lan", e, sizeof(e)), 0);
    ck_assert_int_eq(acl_set_rule_in(s, ACL_LIST_REVERSE, "allow nosuch", e, sizeof(e)), -1);
    ck_assert_uint_eq(acl_set_nrules(s), 2);
    ck_assert_uint_eq(acl_set_nrules_in(s, ACL_LIST_REVERSE), 1);
    set_addr(&cli_ss, "10.1.2.3");
    ck_assert_int_eq(acl_check(s, &r, &res), ACL_ALLOW);
    ck_assert_int_eq(acl_check_in(s, ACL_LIST_REVERSE, &r, &res), ACL_DENY);
    ck_assert_str_eq(res.rule_text, "deny lan");
    set_addr(&cli_ss, "192.0.2.1");
    ck_assert_int_eq(acl_check(s, &r, &res), ACL_DENY);
    /* the reverse list's implicit last rule: the opposite of "deny" */
    ck_assert_int_eq(acl_check_in(s, ACL_LIST_REVERSE, &r, &res), ACL_ALLOW);
    ck_assert_int_eq(res.rule, -1);
    acl_set_free(s);
}
END_TEST

START_TEST(dst_match)
{
    struct acl_set *s = acl_set_new();
    struct acl_request r = req();
    struct acl_result res;

    DEF(s, "internal", "dst", 0, "93.184.0.0/16", "::1");
    RULE(s, "deny internal");
    ck_assert_int_eq(m(s, "internal", &r), 1);
    set_addr(&dst_ss, "93.185.0.1");
    ck_assert_int_eq(m(s, "internal", &r), 0);
    set_addr(&dst_ss, "::1");
    ck_assert_int_eq(m(s, "internal", &r), 1);
    r.dst = NULL;
    ck_assert_int_eq(m(s, "internal", &r), -1);  /* needs the fact */
    ck_assert_int_eq(acl_check(s, &r, &res), ACL_NEED_DST);
    ck_assert_int_eq(res.rule, 0);
    ck_assert_str_eq(res.acl, "internal");
    acl_set_free(s);
}
END_TEST

/* ---- dstdomain, server_name ---------------------------------------------- */

START_TEST(dstdomain_exact_suffix)
{
    struct acl_set *s = acl_set_new();

    DEF(s, "d", "dstdomain", 0, "example.com", ".example.org", "Mixed.CASE.net.",
        ".Dotted.Suffix.", "192.0.2.1", ".0.2.2", "[2001:db8::1]",
        "2001:DB8:0:0::5");
    ck_assert_int_eq(host_m(s, "d", "example.com"), 1);
    ck_assert_int_eq(host_m(s, "d", "www.example.com"), 0);   /* exact only */
    ck_assert_int_eq(host_m(s, "d", "xexample.com"), 0);
    ck_assert_int_eq(host_m(s, "d", "example.org"), 1);       /* suffix: itself */
    ck_assert_int_eq(host_m(s, "d", "www.example.org"), 1);
    ck_assert_int_eq(host_m(s, "d", "a.b.c.example.org"), 1);
    ck_assert_int_eq(host_m(s, "d", "badexample.org"), 0);    /* label boundary */
    ck_assert_int_eq(host_m(s, "d", "example.org.evil.com"), 0);
    ck_assert_int_eq(host_m(s, "d", "org"), 0);
    ck_assert_int_eq(host_m(s, "d", "mixed.case.net"), 1);    /* lowercased */
    ck_assert_int_eq(host_m(s, "d", "MIXED.Case.NET"), 1);
    ck_assert_int_eq(host_m(s, "d", "mixed.case.net."), 1);   /* trailing dots */
    ck_assert_int_eq(host_m(s, "d", "example.com."), 1);
    ck_assert_int_eq(host_m(s, "d", "x.dotted.suffix"), 1);
    ck_assert_int_eq(host_m(s, "d", "x.dotted.suffix."), 1);
    ck_assert_int_eq(host_m(s, "d", "192.0.2.1"), 1);         /* IP literal */
    ck_assert_int_eq(host_m(s, "d", "10.192.0.2.1"), 0);
    ck_assert_int_eq(host_m(s, "d", "1.0.2.2"), 0);           /* no IP suffixes */
    ck_assert_int_eq(host_m(s, "d", "2001:db8::1"), 1);
    ck_assert_int_eq(host_m(s, "d", "2001:db8::2"), 0);
    ck_assert_int_eq(host_m(s, "d", "2001:0db8:0::1"), 1);    /* any v6 spelling */
    ck_assert_int_eq(host_m(s, "d", "2001:db8::5"), 1);
    ck_assert_int_eq(host_m(s, "d", "2001:db8:::5"), 0);
    ck_assert_int_eq(host_m(s, "d", ""), 0);
    ck_assert_int_eq(host_m(s, "d", "."), 0);
    acl_set_free(s);
}
END_TEST

START_TEST(dstdomain_big_list_fast)
{
    struct acl_set *s = acl_set_new();
    struct acl_request r = req();
    static const char *hosts[] = {
        "www.d99999.example", "d12345.example", "a.b.c.d.e.f.host49999.test",
        "nothere.example", "d100000.example", "host99999.test",
        "x.y.host100000.test", "www.example.com",
    };
    static const int want[] = { 0, 1, 1, 0, 0, 1, 0, 0 };
    char **v = malloc(100000 * sizeof(*v)), err[256];
    struct timespec t0, t1;
    long i, hits = 0;
    double secs;

    for (i = 0; i < 100000; i++) {
        v[i] = malloc(32);
        if (i % 2)
            snprintf(v[i], 32, ".host%ld.test", i);     /* odd: suffixes */
        else
            snprintf(v[i], 32, "d%ld.example", i + 1);  /* even: exact, 1..99999 odd */
    }
    ck_assert_int_eq(acl_set_define(s, "big", "dstdomain", 0,
                                    (const char *const *)v, 100000, err,
                                    sizeof(err)), 0);
    for (i = 0; i < 100000; i++)
        free(v[i]);
    free(v);
    for (i = 0; i < 8; i++) {
        set_host(&r, hosts[i]);
        ck_assert_msg(m(s, "big", &r) == want[i], "%s", hosts[i]);
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (i = 0; i < 1000000; i++) {
        set_host(&r, hosts[i & 7]);
        hits += m(s, "big", &r);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    ck_assert_int_eq(hits, 3 * 1000000 / 8);
    ck_assert_msg(secs < 2.0, "1M lookups took %.3f s", secs);
    acl_set_free(s);
}
END_TEST

START_TEST(server_name_match)
{
    struct acl_set *s = acl_set_new();
    struct acl_request r = tunnel("203.0.113.7", 443);
    struct acl_result res;

    DEF(s, "sn", "server_name", 0, ".example.com", "203.0.113.7");
    RULE(s, "deny sn");
    /* a listed CONNECT host matches at once, before any peek */
    ck_assert_int_eq(m(s, "sn", &r), 1);
    ck_assert_int_eq(acl_check(s, &r, &res), ACL_DENY);
    ck_assert_int_eq(res.rule, 0);
    r.sni_known = 1;
    r.sni = "www.example.net";
    ck_assert_int_eq(m(s, "sn", &r), 1);         /* a made-up SNI changes nothing */
    set_host(&r, "198.51.100.1");                /* an unlisted host: the SNI decides */
    r.sni_known = 0;
    r.sni = NULL;
    ck_assert_int_eq(m(s, "sn", &r), -1);        /* CONNECT, peek not done */
    ck_assert_int_eq(acl_check(s, &r, &res), ACL_NEED_SNI);
    ck_assert_str_eq(res.acl, "sn");
    r.sni_known = 1;
    r.sni = "WWW.Example.COM";
    ck_assert_int_eq(m(s, "sn", &r), 1);
    ck_assert_int_eq(acl_check(s, &r, &res), ACL_DENY);
    ck_assert_int_eq(res.rule, 0);
    r.sni = "www.example.net";
    ck_assert_int_eq(m(s, "sn", &r), 0);
    ck_assert_int_eq(acl_check(s, &r, &res), ACL_ALLOW);
    ck_assert_int_eq(res.rule, -1);
    r.sni = NULL;                                /* no name: the host alone */
    ck_assert_int_eq(m(s, "sn", &r), 0);
    r = req();                                   /* plain request: its host */
    ck_assert_int_eq(m(s, "sn", &r), 1);
    set_host(&r, "example.net");
    ck_assert_int_eq(m(s, "sn", &r), 0);
    acl_set_free(s);
}
END_TEST

/* ---- regex types ------------------------------------------------------------- */

START_TEST(regex_types)
{
    struct acl_set *s = acl_set_new();
    struct acl_request r = req();

    DEF(s, "dr", "dstdom_regex", 0, "^www\\.", "\\.test$");
    DEF(s, "dri", "dstdom_regex", 1, "EXAMPLE");
    DEF(s, "ur", "url_regex", 0, "^http://[^/]*/index");
    DEF(s, "upr", "urlpath_regex", 0, "\\.(exe|zip)$");
    DEF(s, "upri", "urlpath_regex", 1, "\\.(EXE|ZIP)$");
    ck_assert_int_eq(m(s, "dr", &r), 1);
    ck_assert_int_eq(m(s, "dri", &r), 1);        /* -i */
    ck_assert_int_eq(m(s, "ur", &r), 1);
    ck_assert_int_eq(m(s, "upr", &r), 0);
    ck_assert_int_eq(m(s, "upri", &r), 0);
    set_host(&r, "mail.example.test");
    ck_assert_int_eq(m(s, "dr", &r), 1);
    set_host(&r, "mail.example.com");
    ck_assert_int_eq(m(s, "dr", &r), 0);
    set_url(&r, "http://h/a/Setup.EXE", "/a/Setup.EXE");
    ck_assert_int_eq(m(s, "ur", &r), 0);
    ck_assert_int_eq(m(s, "upr", &r), 0);        /* case-sensitive */
    ck_assert_int_eq(m(s, "upri", &r), 1);
    set_url(&r, "http://h/a/b.zip", "/a/b.zip");
    ck_assert_int_eq(m(s, "upr", &r), 1);
    set_url(&r, "http://h/a/b.zip?x=1", "/a/b.zip?x=1");
    ck_assert_int_eq(m(s, "upr", &r), 0);
    acl_set_free(s);
}
END_TEST

/* Several values become one alternation: anchors must stay per value,
 * group references must keep their meaning, and repeated definitions add. */
START_TEST(regex_alternation)
{
    struct acl_set *s = acl_set_new();
    struct acl_request r = req();

    DEF(s, "a", "dstdom_regex", 0, "^a$", "^b$", "^(p)(q)$", "(x)\\1",
        "(?i)^mixed$", "c|d", "\\Qzz", "w\\E");
    set_host(&r, "a");
    ck_assert_int_eq(m(s, "a", &r), 1);
    set_host(&r, "b");
    ck_assert_int_eq(m(s, "a", &r), 1);
    set_host(&r, "ab");
    ck_assert_int_eq(m(s, "a", &r), 0);
    set_host(&r, "xx");
    ck_assert_int_eq(m(s, "a", &r), 1);          /* backreference kept */
    set_host(&r, "x");
    ck_assert_int_eq(m(s, "a", &r), 0);
    set_host(&r, "MIXED");
    ck_assert_int_eq(m(s, "a", &r), 1);          /* inline option, own scope */
    set_host(&r, "d");
    ck_assert_int_eq(m(s, "a", &r), 1);
    set_host(&r, "pq");
    ck_assert_int_eq(m(s, "a", &r), 1);
    set_host(&r, "zz");                          /* \Q quotes its own value */
    ck_assert_int_eq(m(s, "a", &r), 1);
    set_host(&r, "w");
    ck_assert_int_eq(m(s, "a", &r), 1);
    set_host(&r, "B");
    ck_assert_int_eq(m(s, "a", &r), 0);
    set_host(&r, "C");
    ck_assert_int_eq(m(s, "a", &r), 0);          /* "(?i)" did not leak */
    /* the same group name twice cannot be one alternation */
    DEF(s, "named", "dstdom_regex", 0, "^(?<n>a)b$", "^(?<n>c)d$", "^ef$");
    set_host(&r, "ab");
    ck_assert_int_eq(m(s, "named", &r), 1);
    set_host(&r, "cd");
    ck_assert_int_eq(m(s, "named", &r), 1);
    set_host(&r, "ef");
    ck_assert_int_eq(m(s, "named", &r), 1);
    set_host(&r, "ad");
    ck_assert_int_eq(m(s, "named", &r), 0);
    /* repeated definitions: each keeps its own -i */
    DEF(s, "a", "dstdom_regex", 1, "^upper$");
    DEF(s, "a", "dstdom_regex", 0, "^lower$");
    set_host(&r, "UPPER");
    ck_assert_int_eq(m(s, "a", &r), 1);
    set_host(&r, "LOWER");
    ck_assert_int_eq(m(s, "a", &r), 0);
    set_host(&r, "lower");
    ck_assert_int_eq(m(s, "a", &r), 1);
    set_host(&r, "a");
    ck_assert_int_eq(m(s, "a", &r), 1);
    acl_set_free(s);
}
END_TEST

/* Thousands of values (beyond one alternation's size): every one matches. */
START_TEST(regex_many)
{
    struct acl_set *s = acl_set_new();
    struct acl_request r = req();
    char **v = malloc(5000 * sizeof(*v)), err[256], host[128];
    int i;

    for (i = 0; i < 5000; i++) {
        v[i] = malloc(48);
        snprintf(v[i], 48, "^site%d\\.(com|net)$", i);
    }
    ck_assert_int_eq(acl_set_define(s, "many", "dstdom_regex", 0,
                                    (const char *const *)v, 5000, err,
                                    sizeof(err)), 0);
    for (i = 0; i < 5000; i++)
        free(v[i]);
    free(v);
    for (i = 0; i < 5000; i += 7) {
        snprintf(host, sizeof(host), "site%d.net", i);
        set_host(&r, host);
        ck_assert_msg(m(s, "many", &r) == 1, "%s", host);
        snprintf(host, sizeof(host), "site%d.org", i);
        set_host(&r, host);
        ck_assert_int_eq(m(s, "many", &r), 0);
    }
    set_host(&r, "site4999.com");
    ck_assert_int_eq(m(s, "many", &r), 1);
    set_host(&r, "site5000.com");
    ck_assert_int_eq(m(s, "many", &r), 0);

    /* repeated groups compile large: alternations too big get halved */
    v = malloc(1000 * sizeof(*v));
    for (i = 0; i < 1000; i++) {
        v[i] = malloc(48);
        snprintf(v[i], 48, "^(?:ab|cd){40}x%d$", i);
    }
    ck_assert_int_eq(acl_set_define(s, "big", "dstdom_regex", 0,
                                    (const char *const *)v, 1000, err,
                                    sizeof(err)), 0);
    for (i = 0; i < 1000; i++)
        free(v[i]);
    free(v);
    for (i = 0; i < 1000; i += 37) {
        int k;
        for (k = 0; k < 40; k++)
            memcpy(host + 2 * k, k % 3 ? "ab" : "cd", 2);
        snprintf(host + 80, sizeof(host) - 80, "x%d", i);
        set_host(&r, host);
        ck_assert_msg(m(s, "big", &r) == 1, "%s", host);
        host[0] = 'z';
        ck_assert_int_eq(m(s, "big", &r), 0);
    }
    acl_set_free(s);
}
END_TEST

static struct sl_http_hdr hdrs[16];

static struct sl_http_msg parse(const char *head)
{
    struct sl_http_limits lim = { 8192, 65536 };
    struct sl_http_msg msg;

    memset(&msg, 0, sizeof(msg));
    msg.hdrs = hdrs;
    msg.max_hdrs = 16;
    ck_assert_int_eq(sl_http_parse_request(head, strlen(head), &lim, &msg),
                     (ssize_t)strlen(head));
    return msg;
}

START_TEST(header_types)
{
    struct acl_set *s = acl_set_new();
    struct acl_request r = req();
    struct sl_http_msg msg = parse(
        "GET http://www.example.com/ HTTP/1.1\r\n"
        "Host: www.example.com\r\n"
        "X-Tag: first\r\n"
        "user-agent: Mozilla/5.0 (X11)\r\n"
        "x-tag: second-value\r\n"
        "\r\n");

    DEF(s, "tag", "req_header", 0, "X-Tag ^second", "Accept text/html");
    DEF(s, "tag1", "req_header", 0, "x-tag ^FIRST$");
    DEF(s, "tag1i", "req_header", 1, "X-TAG ^FIRST$");
    DEF(s, "moz", "browser", 0, "^Mozilla/");
    DEF(s, "curl", "browser", 0, "^curl/");
    DEF(s, "x11", "browser", 1, "x11");
    ck_assert_int_eq(m(s, "tag", &r), 0);        /* no fields given */
    ck_assert_int_eq(m(s, "moz", &r), 0);
    r.req = &msg;
    ck_assert_int_eq(m(s, "tag", &r), 1);        /* second X-Tag line */
    ck_assert_int_eq(m(s, "tag1", &r), 0);       /* regex is case-sensitive */
    ck_assert_int_eq(m(s, "tag1i", &r), 1);
    ck_assert_int_eq(m(s, "moz", &r), 1);        /* field name any case */
    ck_assert_int_eq(m(s, "curl", &r), 0);
    ck_assert_int_eq(m(s, "x11", &r), 1);
    msg = parse("GET http://h/ HTTP/1.1\r\nHost: h\r\nAccept: text/html\r\n\r\n");
    ck_assert_int_eq(m(s, "tag", &r), 1);        /* the other header */
    ck_assert_int_eq(m(s, "moz", &r), 0);
    acl_set_free(s);
}
END_TEST

/* ---- regexes that run into PCRE2's limits --------------------------------- */

/* "http://example.com/" then unit repeated n times, then tail (static). */
static const char *long_url(const char *unit, int n, const char *tail)
{
    static char buf[16384];
    size_t len = (size_t)snprintf(buf, sizeof(buf), "http://example.com/");
    size_t ul = strlen(unit);
    int i;

    for (i = 0; i < n; i++, len += ul) {
        ck_assert_uint_lt(len + ul + strlen(tail), sizeof(buf));
        memcpy(buf + len, unit, ul);
    }
    snprintf(buf + len, sizeof(buf) - len, "%s", tail);
    return buf;
}

/*
 * A long URL must not turn "deny url_regex" into allow. The first two need
 * more than PCRE2's default 32 KiB JIT stack (they match with the set's
 * stack, or stop on the interpreter's limits); the third does not match but
 * backtracks exponentially: it stops at the match limit, soon, and counts
 * as a match (fail closed).
 */
START_TEST(regex_limits_fail_closed)
{
    static const char *const pats[] = {
        "(/[a-z]*)*\\.exe$", "(?:a|b)*\\.exe", "^http://[^/]+/(.+)+\\.exe" };
    struct acl_request r = req();
    struct acl_result res;
    char e[256];
    int i;

    for (i = 0; i < 3; i++) {
        struct acl_set *s = acl_set_new();

        ck_assert_int_eq(acl_set_define(s, "bad", "url_regex", 0, &pats[i], 1,
                                        e, sizeof(e)), 0);
        DEF0(s, "all", "all");
        RULE(s, "deny bad");
        RULE(s, "allow all");
        if (i == 0)
            set_url(&r, long_url("a/", 4000, "x.exe"), "/");
        else if (i == 1)
            set_url(&r, long_url("ab", 4000, ".exe"), "/");
        else
            set_url(&r, long_url("ab/", 2000, "x.zip"), "/");
        ck_assert_msg(acl_check(s, &r, &res) == ACL_DENY, "%s allowed", pats[i]);
        ck_assert_str_eq(res.rule_text, "deny bad");
        /* A short URL still decides by the pattern. */
        set_url(&r, "http://example.com/a/x.zip", "/a/x.zip");
        ck_assert_int_eq(acl_check(s, &r, NULL), ACL_ALLOW);
        acl_set_free(s);
    }
}
END_TEST

/* The negation of an ACL that stopped on a limit is false: "deny !re" does
 * not apply (the documented price of failing closed). */
START_TEST(regex_limits_negated)
{
    struct acl_set *s = acl_set_new();
    struct acl_request r = req();

    DEF(s, "slow", "url_regex", 0, "^http://[^/]+/(.+)+\\.exe");
    DEF0(s, "all", "all");
    RULE(s, "deny !slow");
    RULE(s, "allow all");
    set_url(&r, long_url("ab/", 2000, "x.zip"), "/");
    ck_assert_int_eq(m(s, "slow", &r), 1);
    ck_assert_int_eq(acl_check(s, &r, NULL), ACL_ALLOW);
    set_url(&r, "http://example.com/a/x.zip", "/a/x.zip");
    ck_assert_int_eq(acl_check(s, &r, NULL), ACL_DENY);
    acl_set_free(s);
}
END_TEST

/* The field types get the set's limits too, also for a field name added
 * by a repeated definition: "^(?:a|b)*" over 8000 bytes needs more than
 * the default 32 KiB JIT stack, on which "uaz" and "hz" would fail and
 * so count as matching. */
START_TEST(regex_limits_fields)
{
    static char head[20000];
    struct acl_set *s = acl_set_new();
    struct acl_request r = req();
    struct sl_http_msg msg;
    char v[9000];
    int i;

    for (i = 0; i < 4000; i++)
        memcpy(v + 2 * i, "ab", 2);
    memcpy(v + 8000, ".exe", 5);
    snprintf(head, sizeof(head), "GET http://h/ HTTP/1.1\r\nHost: h\r\n"
             "User-Agent: %s\r\nX-B: %s\r\n\r\n", v, v);
    msg = parse(head);
    r.req = &msg;
    DEF(s, "ua", "browser", 0, "^(?:a|b)*\\.exe");
    DEF(s, "uaz", "browser", 0, "^(?:a|b)*\\.exx");
    DEF(s, "h", "req_header", 0, "X-A ^foo");
    DEF(s, "h", "req_header", 0, "X-B ^(?:a|b)*\\.exe");
    DEF(s, "hz", "req_header", 0, "X-A ^foo");
    DEF(s, "hz", "req_header", 0, "X-B ^(?:a|b)*\\.exx");
    ck_assert_int_eq(m(s, "ua", &r), 1);
    ck_assert_int_eq(m(s, "uaz", &r), 0);
    ck_assert_int_eq(m(s, "h", &r), 1);
    ck_assert_int_eq(m(s, "hz", &r), 0);
    acl_set_free(s);
}
END_TEST

/* ---- port, method, proto, maxconn, all -------------------------------------- */

START_TEST(port_ranges)
{
    struct acl_set *s = acl_set_new();

    DEF(s, "p", "port", 0, "80", "1025-65535", "443-443");
    ck_assert_int_eq(port_m(s, "p", 80), 1);
    ck_assert_int_eq(port_m(s, "p", 79), 0);
    ck_assert_int_eq(port_m(s, "p", 81), 0);
    ck_assert_int_eq(port_m(s, "p", 1024), 0);
    ck_assert_int_eq(port_m(s, "p", 1025), 1);
    ck_assert_int_eq(port_m(s, "p", 65535), 1);
    ck_assert_int_eq(port_m(s, "p", 443), 1);
    ck_assert_int_eq(port_m(s, "p", 442), 0);
    ck_assert_int_eq(port_m(s, "p", 444), 0);
    acl_set_free(s);
}
END_TEST

START_TEST(method_proto)
{
    struct acl_set *s = acl_set_new();
    struct acl_request r = req();
    struct acl_request t = tunnel("example.com", 443);

    DEF(s, "get", "method", 0, "GET", "HEAD");
    DEF(s, "CONNECT", "method", 0, "CONNECT");
    DEF(s, "http", "proto", 0, "HTTP");
    DEF(s, "conn", "proto", 0, "connect");
    DEF(s, "https", "proto", 0, "https");
    ck_assert_int_eq(m(s, "get", &r), 1);
    ck_assert_int_eq(m(s, "CONNECT", &r), 0);
    ck_assert_int_eq(m(s, "CONNECT", &t), 1);
    r.method = "get";
    ck_assert_int_eq(m(s, "get", &r), 0);        /* methods are exact */
    r.method = "HEAD";
    ck_assert_int_eq(m(s, "get", &r), 1);
    ck_assert_int_eq(m(s, "http", &r), 1);       /* value lowercased */
    ck_assert_int_eq(m(s, "conn", &r), 0);
    ck_assert_int_eq(m(s, "http", &t), 0);
    ck_assert_int_eq(m(s, "conn", &t), 1);
    set_url(&r, "HTTPS://example.com/", "/");
    ck_assert_int_eq(m(s, "https", &r), 1);
    ck_assert_int_eq(m(s, "http", &r), 0);
    acl_set_free(s);
}
END_TEST

START_TEST(maxconn_all)
{
    struct acl_set *s = acl_set_new();
    struct acl_request r = req();

    DEF(s, "many", "maxconn", 0, "2");
    ck_assert_int_eq(acl_set_define(s, "all", "all", 0, NULL, 0, NULL, 0), 0);
    r.conns = 2;
    ck_assert_int_eq(m(s, "many", &r), 0);
    r.conns = 3;
    ck_assert_int_eq(m(s, "many", &r), 1);
    r.conns = 0;
    ck_assert_int_eq(m(s, "many", &r), 0);
    ck_assert_int_eq(m(s, "all", &r), 1);
    memset(&r, 0, sizeof(r));                   /* nothing known: still all */
    ck_assert_int_eq(m(s, "all", &r), 1);
    ck_assert_int_eq(m(s, "nosuch", &r), -1);
    ck_assert(acl_set_has(s, "all"));
    ck_assert(!acl_set_has(s, "nosuch"));
    acl_set_free(s);
    acl_set_free(NULL);
}
END_TEST

/* ---- time ------------------------------------------------------------------- */

START_TEST(time_windows)
{
    struct acl_set *s = acl_set_new();

    DEF(s, "work", "time", 0, "MTWHF 08:00-17:30");
    ck_assert_int_eq(time_m(s, "work", at(MON, 8, 0)), 1);
    ck_assert_int_eq(time_m(s, "work", at(MON, 7, 59)), 0);
    ck_assert_int_eq(time_m(s, "work", at(MON, 17, 30)), 1);   /* end minute in */
    ck_assert_int_eq(time_m(s, "work", at(MON, 17, 31)), 0);
    ck_assert_int_eq(time_m(s, "work", at(FRI, 12, 0)), 1);
    ck_assert_int_eq(time_m(s, "work", at(SAT, 12, 0)), 0);
    ck_assert_int_eq(time_m(s, "work", at(SUN, 12, 0)), 0);

    DEF(s, "weekend", "time", 0, "AS");
    ck_assert_int_eq(time_m(s, "weekend", at(SAT, 0, 0)), 1);
    ck_assert_int_eq(time_m(s, "weekend", at(SUN, 23, 59)), 1);
    ck_assert_int_eq(time_m(s, "weekend", at(FRI, 23, 59)), 0);
    ck_assert_int_eq(time_m(s, "weekend", at(MON + 7, 0, 0)), 0);

    DEF(s, "morning", "time", 0, "9:00-12:00");
    ck_assert_int_eq(time_m(s, "morning", at(WED, 9, 0)), 1);
    ck_assert_int_eq(time_m(s, "morning", at(SUN, 11, 59)), 1);
    ck_assert_int_eq(time_m(s, "morning", at(WED, 8, 59)), 0);
    ck_assert_int_eq(time_m(s, "morning", at(WED, 12, 1)), 0);

    DEF(s, "weekdays", "time", 0, "D");
    ck_assert_int_eq(time_m(s, "weekdays", at(TUE, 3, 0)), 1);
    ck_assert_int_eq(time_m(s, "weekdays", at(SAT, 3, 0)), 0);
    acl_set_free(s);
}
END_TEST

START_TEST(time_midnight)
{
    struct acl_set *s = acl_set_new();

    DEF(s, "night", "time", 0, "F 22:00-06:00");
    ck_assert_int_eq(time_m(s, "night", at(FRI, 22, 0)), 1);
    ck_assert_int_eq(time_m(s, "night", at(FRI, 21, 59)), 0);
    ck_assert_int_eq(time_m(s, "night", at(FRI, 23, 59)), 1);
    ck_assert_int_eq(time_m(s, "night", at(SAT, 0, 0)), 1);   /* Friday's night */
    ck_assert_int_eq(time_m(s, "night", at(SAT, 6, 0)), 1);
    ck_assert_int_eq(time_m(s, "night", at(SAT, 6, 1)), 0);
    ck_assert_int_eq(time_m(s, "night", at(FRI, 3, 0)), 0);   /* Thursday's */
    ck_assert_int_eq(time_m(s, "night", at(SAT, 22, 30)), 0);

    /* one stream of tokens: the days go with the window that follows */
    DEF(s, "sat_am", "time", 0, "A", "09:00-12:00");
    ck_assert_int_eq(time_m(s, "sat_am", at(SAT, 10, 0)), 1);
    ck_assert_int_eq(time_m(s, "sat_am", at(SAT, 13, 0)), 0);
    ck_assert_int_eq(time_m(s, "sat_am", at(MON, 10, 0)), 0);

    /* day tokens gather until a window takes them */
    DEF(s, "mw", "time", 0, "M", "W 10:00-11:00");
    ck_assert_int_eq(time_m(s, "mw", at(MON, 10, 30)), 1);
    ck_assert_int_eq(time_m(s, "mw", at(WED, 10, 30)), 1);
    ck_assert_int_eq(time_m(s, "mw", at(TUE, 10, 30)), 0);
    ck_assert_int_eq(time_m(s, "mw", at(WED, 11, 30)), 0);
    /* days with no window after them: all day */
    DEF(s, "tail", "time", 0, "08:00-09:00 H");
    ck_assert_int_eq(time_m(s, "tail", at(MON, 8, 30)), 1);
    ck_assert_int_eq(time_m(s, "tail", at(THU, 20, 0)), 1);
    ck_assert_int_eq(time_m(s, "tail", at(MON, 20, 0)), 0);

    DEF(s, "allday", "time", 0, "00:00-24:00");
    ck_assert_int_eq(time_m(s, "allday", at(THU, 23, 59)), 1);
    ck_assert_int_eq(time_m(s, "allday", at(THU, 0, 0)), 1);
    acl_set_free(s);
}
END_TEST

/* ---- proxy_auth --------------------------------------------------------------- */

START_TEST(proxy_auth_users)
{
    struct acl_set *s = acl_set_new();
    struct acl_request r = req();
    struct acl_result res;

    DEF(s, "staff", "proxy_auth", 0, "alice", "bob");
    DEF(s, "anyone", "proxy_auth", 0, "REQUIRED");
    RULE(s, "allow staff");
    ck_assert_int_eq(m(s, "staff", &r), -1);
    ck_assert_int_eq(acl_check(s, &r, &res), ACL_NEED_AUTH);
    ck_assert_int_eq(res.rule, 0);
    ck_assert_str_eq(res.acl, "staff");
    r.auth_tried = 1;                            /* failed login: no match */
    ck_assert_int_eq(m(s, "staff", &r), 0);
    ck_assert_int_eq(m(s, "anyone", &r), 0);
    ck_assert_int_eq(acl_check(s, &r, &res), ACL_DENY);
    r.user = "alice";
    ck_assert_int_eq(m(s, "staff", &r), 1);
    ck_assert_int_eq(acl_check(s, &r, &res), ACL_ALLOW);
    r.user = "Alice";
    ck_assert_int_eq(m(s, "staff", &r), 0);      /* names are exact */
    ck_assert_int_eq(m(s, "anyone", &r), 1);
    r.user = "carol";
    ck_assert_int_eq(m(s, "staff", &r), 0);
    ck_assert_int_eq(m(s, "anyone", &r), 1);
    acl_set_free(s);
}
END_TEST

/* ---- ldap_group ----------------------------------------------------------------- */

START_TEST(ldap_group_answers)
{
    struct acl_set *s = acl_set_new();
    struct acl_gcache *gc = acl_gcache_new(100, 300, 60, 10);
    struct acl_request r = req();
    struct acl_result res;
    const char *const *g;
    size_t n;

    DEF(s, "staff", "ldap_group", 0, "Staff", "Admins", "Staff");
    DEF(s, "lan", "src", 0, "192.168.0.0/16");
    RULE(s, "allow staff");
    ck_assert_int_eq(acl_set_groups(s, "staff", &g, &n), 0);
    ck_assert_uint_eq(n, 2);                    /* the duplicate once */
    ck_assert_str_eq(g[0], "Staff");
    ck_assert_str_eq(g[1], "Admins");
    ck_assert_int_eq(acl_set_groups(s, "lan", &g, &n), -1);
    ck_assert_int_eq(acl_set_groups(s, "nope", &g, &n), -1);
    /* no user yet: authentication first, as proxy_auth */
    r.groups = gc;
    ck_assert_int_eq(acl_check(s, &r, &res), ACL_NEED_AUTH);
    r.auth_tried = 1;
    ck_assert_int_eq(m(s, "staff", &r), 0);
    r.user = "alice";
    /* nothing known: the lookup is asked for, naming the ACL */
    ck_assert_int_eq(acl_check(s, &r, &res), ACL_NEED_GROUP);
    ck_assert_str_eq(res.acl, "staff");
    ck_assert_int_eq(m(s, "staff", &r), -1);
    /* one group says yes: a match, whatever the other says */
    acl_gcache_put(gc, "alice", "Admins", ACL_GANS_MEMBER, r.now);
    ck_assert_int_eq(acl_check(s, &r, &res), ACL_ALLOW);
    /* both no: no match */
    acl_gcache_put(gc, "bob", "Staff", ACL_GANS_NOT, r.now);
    acl_gcache_put(gc, "bob", "Admins", ACL_GANS_NOT, r.now);
    r.user = "bob";
    ck_assert_int_eq(m(s, "staff", &r), 0);
    ck_assert_int_eq(acl_check(s, &r, &res), ACL_DENY);
    ck_assert_int_eq(res.rule, -1);
    /* one no, one not looked up: still asks; after the lookup (final)
     * a missing answer is unknown */
    acl_gcache_put(gc, "carol", "Staff", ACL_GANS_NOT, r.now);
    r.user = "carol";
    ck_assert_int_eq(acl_check(s, &r, &res), ACL_NEED_GROUP);
    r.groups_final = 1;
    ck_assert_int_eq(m(s, "staff", &r), -1);
    ck_assert_int_eq(acl_check(s, &r, &res), ACL_DENY);
    /* without a directory the answer is unknown, never asked for */
    r.groups = NULL;
    r.groups_final = 0;
    ck_assert_int_eq(acl_check(s, &r, &res), ACL_DENY);
    acl_gcache_free(gc);
    acl_set_free(s);
}
END_TEST

/* A directory that cannot answer: an allow rule does not apply, a deny
 * rule does (fail closed), "!" or not; the other ACLs still decide. */
START_TEST(ldap_group_unknown)
{
    struct acl_set *s = acl_set_new();
    struct acl_gcache *gc = acl_gcache_new(100, 300, 60, 10);
    struct acl_request r = req();
    struct acl_result res;

    DEF(s, "staff", "ldap_group", 0, "Staff");
    DEF(s, "interns", "ldap_group", 0, "Interns");
    DEF(s, "social", "dstdomain", 0, ".social.example");
    DEF(s, "lan", "src", 0, "192.168.0.0/16");
    DEF0(s, "all", "all");
    RULE(s, "deny interns social");
    RULE(s, "deny !staff social");
    RULE(s, "allow staff");
    RULE(s, "allow lan");
    RULE(s, "deny all");
    r.groups = gc;
    r.user = "alice";
    acl_gcache_put(gc, "alice", "Interns", ACL_GANS_ERROR, r.now);
    acl_gcache_put(gc, "alice", "Staff", ACL_GANS_ERROR, r.now);
    ck_assert_int_eq(m(s, "interns", &r), -1);
    /* not social: both deny rules fail at social, "allow staff" does not
     * allow on an unknown answer, "allow lan" does */
    ck_assert_int_eq(acl_check(s, &r, &res), ACL_ALLOW);
    ck_assert_int_eq(res.rule, 3);
    /* social: the deny rule applies as if interns had matched */
    set_host(&r, "www.social.example");
    ck_assert_int_eq(acl_check(s, &r, &res), ACL_DENY);
    ck_assert_int_eq(res.rule, 0);
    ck_assert_str_eq(res.acl, "social");
    /* known not an intern: the negated staff decides (unknown: denies) */
    acl_gcache_put(gc, "alice", "Interns", ACL_GANS_NOT, r.now);
    ck_assert_int_eq(acl_check(s, &r, &res), ACL_DENY);
    ck_assert_int_eq(res.rule, 1);
    /* the directory back: a member of staff gets social */
    acl_gcache_put(gc, "alice", "Staff", ACL_GANS_MEMBER, r.now);
    ck_assert_int_eq(acl_check(s, &r, &res), ACL_ALLOW);
    ck_assert_int_eq(res.rule, 2);
    /* from outside the lan with the directory down: denied */
    acl_gcache_put(gc, "alice", "Staff", ACL_GANS_ERROR, r.now);
    set_host(&r, "www.example.com");
    set_addr(&cli_ss, "203.0.113.9");
    ck_assert_int_eq(acl_check(s, &r, &res), ACL_DENY);
    ck_assert_int_eq(res.rule, 4);
    acl_gcache_free(gc);
    acl_set_free(s);
}
END_TEST

/* ---- external ----------------------------------------------------------------- */

static int ext_calls, ext_freed;

static int ext_match(void *data, const struct acl_request *r, const char **note)
{
    ext_calls++;
    if (r->host_len >= 4 && memcmp(r->host, "bad.", 4) == 0) {
        *note = (const char *)data;
        return 1;
    }
    return 0;
}

static void ext_free(void *data)
{
    ck_assert_str_eq((const char *)data, "malware");
    ext_freed++;
}

START_TEST(external_acl)
{
    struct acl_set *s = acl_set_new();
    struct acl_request r = req();
    struct acl_result res;
    char err[256];

    ck_assert_int_eq(acl_set_define_external(s, "blocked", ext_match,
                                             (void *)"malware", ext_free, err,
                                             sizeof(err)), 0);
    ck_assert(acl_set_has(s, "blocked"));
    DEF0(s, "all", "all");
    RULE(s, "deny blocked");
    RULE(s, "allow !blocked all");
    ck_assert_int_eq(acl_check(s, &r, &res), ACL_ALLOW);
    ck_assert_int_eq(ext_calls, 2);
    ck_assert_int_eq(res.rule, 1);
    ck_assert_str_eq(res.acl, "all");
    ck_assert_ptr_null(res.note);                /* it did not match */
    set_host(&r, "bad.example.com");
    ck_assert_int_eq(acl_check(s, &r, &res), ACL_DENY);
    ck_assert_int_eq(res.rule, 0);
    ck_assert_str_eq(res.rule_text, "deny blocked");
    ck_assert_str_eq(res.acl, "blocked");
    ck_assert_str_eq(res.note, "malware");
    ck_assert_int_eq(m(s, "blocked", &r), 1);
    /* a name is taken once; a failed call keeps the data with the caller */
    ck_assert_int_eq(acl_set_define_external(s, "blocked", ext_match, NULL,
                                             ext_free, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "ACL \"blocked\" already defined with type external");
    BAD(s, "blocked", "src", "ACL \"blocked\" already defined with type external",
        "10.0.0.0/8");
    ck_assert_int_eq(ext_freed, 0);
    acl_set_free(s);
    ck_assert_int_eq(ext_freed, 1);
}
END_TEST

/* ---- list files --------------------------------------------------------------- */

struct warned {
    int n;
    unsigned lines[8];
    char file[256];
    char why[8][256];
};

static void on_warn(void *data, const char *file, unsigned line, const char *why)
{
    struct warned *w = data;

    if (w->n < 8) {
        w->lines[w->n] = line;
        snprintf(w->why[w->n], sizeof(w->why[0]), "%s", why);
    }
    snprintf(w->file, sizeof(w->file), "%s", file);
    w->n++;
}

static void write_file(char *path, const char *text)
{
    int fd;

    strcpy(path, "/tmp/check_rules.XXXXXX");
    fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

START_TEST(file_values)
{
    struct acl_set *s = acl_set_new();
    struct warned w;
    char path[64], err[256];

    memset(&w, 0, sizeof(w));
    write_file(path, "# blocked sites\r\n"
                     "\r\n"
                     "  example.com  \r\n"
                     "bad domain.com\n"
                     ".example.org # trailing comment\n"
                     "\t\n"
                     "*.wild.com\n"
                     "last.net");
    ck_assert_int_eq(acl_set_define_file(s, "f", "dstdomain", 0, path, on_warn,
                                         &w, err, sizeof(err)), 0);
    ck_assert_int_eq(w.n, 2);
    ck_assert_str_eq(w.file, path);
    ck_assert_uint_eq(w.lines[0], 4);
    ck_assert_str_eq(w.why[0], "bad domain \"bad domain.com\"");
    ck_assert_uint_eq(w.lines[1], 7);
    ck_assert_str_eq(w.why[1], "bad domain \"*.wild.com\"");
    ck_assert_int_eq(host_m(s, "f", "example.com"), 1);
    ck_assert_int_eq(host_m(s, "f", "www.example.org"), 1);
    ck_assert_int_eq(host_m(s, "f", "last.net"), 1);
    ck_assert_int_eq(host_m(s, "f", "domain.com"), 0);
    unlink(path);

    /* regexes keep a "#"; ports take trailing comments */
    write_file(path, "^a#b$\n(unclosed\n^c$\n");
    memset(&w, 0, sizeof(w));
    ck_assert_int_eq(acl_set_define_file(s, "rx", "dstdom_regex", 0, path,
                                         on_warn, &w, err, sizeof(err)), 0);
    ck_assert_int_eq(w.n, 1);
    ck_assert_uint_eq(w.lines[0], 2);
    ck_assert_ptr_nonnull(strstr(w.why[0], "bad regex \"(unclosed\""));
    ck_assert_int_eq(host_m(s, "rx", "a#b"), 1);
    ck_assert_int_eq(host_m(s, "rx", "c"), 1);
    unlink(path);
    write_file(path, "443 # https\n80x\n8080-8090\n");
    memset(&w, 0, sizeof(w));
    ck_assert_int_eq(acl_set_define_file(s, "pf", "port", 0, path, NULL, NULL,
                                         err, sizeof(err)), 0);
    ck_assert_int_eq(port_m(s, "pf", 443), 1);
    ck_assert_int_eq(port_m(s, "pf", 8090), 1);
    ck_assert_int_eq(port_m(s, "pf", 80), 0);
    unlink(path);

    ck_assert_int_eq(acl_set_define_file(s, "g", "dstdomain", 0,
                                         "/nonexistent/list", on_warn, &w, err,
                                         sizeof(err)), -1);
    ck_assert_str_eq(err, "cannot open \"/nonexistent/list\": No such file or directory");
    ck_assert(!acl_set_has(s, "g"));
    ck_assert_int_eq(acl_set_define_file(s, "f", "src", 0, "/nonexistent/list",
                                         on_warn, &w, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "ACL \"f\" already defined with type dstdomain");
    acl_set_free(s);
}
END_TEST

/* ---- rules -------------------------------------------------------------------- */

START_TEST(rule_order_and_negation)
{
    struct acl_set *s = acl_set_new();
    struct acl_request r = req();
    struct acl_result res;

    DEF(s, "lan", "src", 0, "192.168.0.0/16");
    DEF(s, "web", "port", 0, "80");
    DEF(s, "ex", "dstdomain", 0, ".example.com");
    RULE(s, "deny   lan\t!web");                 /* AND, negation */
    RULE(s, "allow lan ex");
    RULE(s, "deny lan");
    RULE(s, "allow web");

    ck_assert_uint_eq(acl_set_nrules(s), 4);
    ck_assert_int_eq(acl_check(s, &r, &res), ACL_ALLOW);   /* first match wins */
    ck_assert_int_eq(res.rule, 1);
    ck_assert_str_eq(res.rule_text, "allow lan ex");
    ck_assert_str_eq(res.acl, "ex");
    r.port = 8080;
    ck_assert_int_eq(acl_check(s, &r, &res), ACL_DENY);
    ck_assert_int_eq(res.rule, 0);
    ck_assert_str_eq(res.rule_text, "deny lan !web");     /* normalised */
    ck_assert_str_eq(res.acl, "web");
    r.port = 80;
    set_host(&r, "example.net");
    ck_assert_int_eq(acl_check(s, &r, &res), ACL_DENY);
    ck_assert_int_eq(res.rule, 2);
    set_addr(&cli_ss, "10.0.0.1");
    ck_assert_int_eq(acl_check(s, &r, &res), ACL_ALLOW);
    ck_assert_int_eq(res.rule, 3);
    r.port = 81;                                 /* implicit: opposite of allow */
    ck_assert_int_eq(acl_check(s, &r, &res), ACL_DENY);
    ck_assert_int_eq(res.rule, -1);
    ck_assert_str_eq(res.rule_text, "(default)");
    ck_assert_ptr_null(res.acl);
    ck_assert_ptr_null(res.note);
    ck_assert_int_eq(acl_check(s, &r, NULL), ACL_DENY);
    acl_set_free(s);
}
END_TEST

START_TEST(implicit_rule)
{
    struct acl_set *s = acl_set_new();
    struct acl_request r = req();
    struct acl_result res;

    ck_assert_int_eq(acl_check(s, &r, &res), ACL_DENY);   /* no rules: deny */
    ck_assert_int_eq(res.rule, -1);
    ck_assert_str_eq(res.rule_text, "(default)");
    DEF(s, "bad", "dstdomain", 0, "bad.example");
    RULE(s, "deny bad");
    ck_assert_int_eq(acl_check(s, &r, &res), ACL_ALLOW);  /* last is deny */
    ck_assert_int_eq(res.rule, -1);
    set_host(&r, "bad.example");
    ck_assert_int_eq(acl_check(s, &r, &res), ACL_DENY);
    ck_assert_int_eq(res.rule, 0);
    RULE(s, "allow bad");
    set_host(&r, "good.example");
    ck_assert_int_eq(acl_check(s, &r, &res), ACL_DENY);   /* last is allow */
    ck_assert_int_eq(res.rule, -1);
    acl_set_free(s);
}
END_TEST

/* A fact is asked for only when everything before it in the rule matched;
 * the caller then evaluates again with the fact. */
START_TEST(need_only_when_reached)
{
    struct acl_set *s = acl_set_new();
    struct acl_request r = req();
    struct acl_result res;

    DEF(s, "lan", "src", 0, "192.168.0.0/16");
    DEF(s, "priv", "dst", 0, "10.0.0.0/8");
    DEF(s, "ssl", "port", 0, "443");
    DEF(s, "sn", "server_name", 0, ".bank.example");
    DEF(s, "staff", "proxy_auth", 0, "REQUIRED");
    DEF0(s, "all", "all");
    RULE(s, "deny !lan priv");
    RULE(s, "allow ssl sn");
    RULE(s, "allow lan staff");
    RULE(s, "deny all");

    /* outsider: rule 0 needs the destination */
    set_addr(&cli_ss, "203.0.113.9");
    r.dst = NULL;
    ck_assert_int_eq(acl_check(s, &r, &res), ACL_NEED_DST);
    ck_assert_int_eq(res.rule, 0);
    ck_assert_str_eq(res.acl, "priv");
    set_addr(&dst_ss, "10.1.1.1");               /* re-evaluate with it */
    r.dst = (struct sockaddr *)&dst_ss;
    ck_assert_int_eq(acl_check(s, &r, &res), ACL_DENY);
    ck_assert_int_eq(res.rule, 0);
    set_addr(&dst_ss, "198.51.100.1");
    ck_assert_int_eq(acl_check(s, &r, &res), ACL_DENY);
    ck_assert_int_eq(res.rule, 3);               /* staff not reached: !lan */

    /* insider, port 80, no dst: rule 0 fails at !lan, rule 1 at ssl, so
     * neither asks; rule 2 needs the user */
    set_addr(&cli_ss, "192.168.1.1");
    r.dst = NULL;
    ck_assert_int_eq(acl_check(s, &r, &res), ACL_NEED_AUTH);
    ck_assert_int_eq(res.rule, 2);
    ck_assert_str_eq(res.acl, "staff");
    r.user = "alice";
    ck_assert_int_eq(acl_check(s, &r, &res), ACL_ALLOW);
    ck_assert_int_eq(res.rule, 2);

    /* CONNECT to 443: rule 1 needs the server name */
    r = tunnel("203.0.113.50", 443);
    set_addr(&cli_ss, "192.168.1.1");
    ck_assert_int_eq(acl_check(s, &r, &res), ACL_NEED_SNI);
    ck_assert_int_eq(res.rule, 1);
    r.sni_known = 1;
    r.sni = "www.bank.example";
    ck_assert_int_eq(acl_check(s, &r, &res), ACL_ALLOW);
    ck_assert_int_eq(res.rule, 1);
    ck_assert_str_eq(res.acl, "sn");
    r.sni = "other.example";
    r.auth_tried = 1;                           /* login failed */
    ck_assert_int_eq(acl_check(s, &r, &res), ACL_DENY);
    ck_assert_int_eq(res.rule, 3);
    acl_set_free(s);
}
END_TEST

/* A negated ACL needs its fact too, and the fact stops the rule even when a
 * later ACL would fail. */
START_TEST(need_negated)
{
    struct acl_set *s = acl_set_new();
    struct acl_request r = req();
    struct acl_result res;

    DEF(s, "priv", "dst", 0, "10.0.0.0/8");
    DEF(s, "never", "port", 0, "1");
    RULE(s, "allow !priv never");
    RULE(s, "allow !priv");
    r.dst = NULL;
    ck_assert_int_eq(acl_check(s, &r, &res), ACL_NEED_DST);
    ck_assert_int_eq(res.rule, 0);
    r.dst = (struct sockaddr *)&dst_ss;
    ck_assert_int_eq(acl_check(s, &r, &res), ACL_ALLOW);
    ck_assert_int_eq(res.rule, 1);
    ck_assert_str_eq(res.acl, "priv");
    set_addr(&dst_ss, "10.0.0.1");
    ck_assert_int_eq(acl_check(s, &r, &res), ACL_DENY);
    ck_assert_int_eq(res.rule, -1);
    acl_set_free(s);
}
END_TEST

START_TEST(squid_classic_policy)
{
    struct acl_set *s = acl_set_new();
    struct acl_request r;
    struct acl_result res;

    DEF(s, "localnet", "src", 0, "10.0.0.0/8", "172.16.0.0/12",
        "192.168.0.0/16", "fc00::/7", "fe80::/10");
    DEF(s, "SSL_ports", "port", 0, "443");
    DEF(s, "Safe_ports", "port", 0, "80", "21", "443", "70", "210");
    DEF(s, "Safe_ports", "port", 0, "1025-65535", "280", "488", "591", "777");
    DEF(s, "CONNECT", "method", 0, "CONNECT");
    DEF0(s, "all", "all");
    RULE(s, "deny !Safe_ports");
    RULE(s, "deny CONNECT !SSL_ports");
    RULE(s, "allow localnet");
    RULE(s, "deny all");

    r = req();
    ck_assert_int_eq(acl_check(s, &r, &res), ACL_ALLOW);
    ck_assert_int_eq(res.rule, 2);
    ck_assert_str_eq(res.acl, "localnet");
    r.port = 25;
    ck_assert_int_eq(acl_check(s, &r, &res), ACL_DENY);
    ck_assert_int_eq(res.rule, 0);
    ck_assert_str_eq(res.rule_text, "deny !Safe_ports");
    ck_assert_str_eq(res.acl, "Safe_ports");
    r.port = 8080;                               /* second Safe_ports line */
    ck_assert_int_eq(acl_check(s, &r, &res), ACL_ALLOW);
    r = tunnel("example.com", 8443);
    ck_assert_int_eq(acl_check(s, &r, &res), ACL_DENY);
    ck_assert_int_eq(res.rule, 1);
    ck_assert_str_eq(res.acl, "SSL_ports");
    r = tunnel("example.com", 22);
    ck_assert_int_eq(acl_check(s, &r, &res), ACL_DENY);
    ck_assert_int_eq(res.rule, 0);
    r = tunnel("example.com", 443);
    ck_assert_int_eq(acl_check(s, &r, &res), ACL_ALLOW);
    ck_assert_int_eq(res.rule, 2);
    set_addr(&cli_ss, "fe80::1");
    ck_assert_int_eq(acl_check(s, &r, &res), ACL_ALLOW);
    set_addr(&cli_ss, "203.0.113.5");
    ck_assert_int_eq(acl_check(s, &r, &res), ACL_DENY);
    ck_assert_int_eq(res.rule, 3);
    ck_assert_str_eq(res.rule_text, "deny all");
    ck_assert_str_eq(res.acl, "all");
    acl_set_free(s);
}
END_TEST

/* ---- errors ------------------------------------------------------------------ */

START_TEST(define_errors)
{
    struct acl_set *s = acl_set_new();
    char longname[80], msg[128], err[256];

    BAD(s, "x", "dstdomian", "unknown ACL type \"dstdomian\"", "a.com");
    BAD(s, "x", "port", "bad port \"80x\"", "443", "80x");
    BAD(s, "x", "port", "bad port range \"80-\"", "80-");
    BAD(s, "x", "port", "bad port range \"90-80\"", "90-80");
    BAD(s, "x", "port", "bad port \"65536\"", "65536");
    BAD(s, "x", "src", "bad address \"10.0.0.1/8\": address has bits set "
        "beyond the prefix length", "10.0.0.1/8");
    BAD(s, "x", "dst", "bad address \"example.com\": not an IP address",
        "example.com");
    BAD(s, "x", "dstdomain", "bad domain \"a..b\"", "a..b");
    BAD(s, "x", "dstdomain", "bad domain \".\"", ".");
    BAD(s, "x", "server_name", "bad domain \"*.a.com\"", "*.a.com");
    BAD(s, "x", "url_regex", "bad regex \"a(b\": missing closing parenthesis "
        "at offset 3", "a(b");
    BAD(s, "x", "url_regex", "empty regex", "");
    BAD(s, "x", "req_header", "bad req_header \"X-Foo\": want \"Header-Name "
        "regex\"", "X-Foo");
    BAD(s, "x", "time", "bad time \"25:00-26:00\"", "MTWHF 25:00-26:00");
    BAD(s, "x", "time", "bad time \"MXQ\"", "MXQ");
    BAD(s, "x", "time", "bad time \"08:60-09:00\"", "08:60-09:00");
    BAD(s, "x", "time", "bad time \"24:00-01:00\"", "24:00-01:00");
    BAD(s, "x", "method", "bad method \"GE T\"", "GE T");
    BAD(s, "x", "proto", "bad proto \"ht/tp\"", "ht/tp");
    BAD(s, "x", "proxy_auth", "bad user name \"a b\"", "a b");
    BAD(s, "x", "ldap_group", "bad group name \"a\tb\" (1 to 256 bytes, no control characters)", "a\tb");
    BAD(s, "x", "ldap_group", "bad group name \"\" (1 to 256 bytes, no control characters)", "");
    BAD(s, "x", "maxconn", "bad maxconn \"-1\"", "-1");
    BAD(s, "x", "maxconn", "ACL \"x\": type maxconn takes one value", "1", "2");
    BAD(s, "x", "all", "ACL \"x\": type all takes no values", "yes");
    BAD(s, "!x", "src", "bad ACL name \"!x\"", "10.0.0.0/8");
    BAD(s, "a b", "src", "bad ACL name \"a b\"", "10.0.0.0/8");
    BAD(s, "", "src", "bad ACL name \"\"", "10.0.0.0/8");
    memset(longname, 'n', 65);
    longname[65] = '\0';
    snprintf(msg, sizeof(msg), "ACL name \"%s\" longer than 64", longname);
    BAD(s, longname, "src", msg, "10.0.0.0/8");
    longname[64] = '\0';
    DEF(s, longname, "src", 0, "10.0.0.0/8");
    ck_assert(!acl_set_has(s, "x"));             /* failures define nothing */

    DEF(s, "foo", "src", 0, "10.0.0.0/8");
    BAD(s, "foo", "dst", "ACL \"foo\" already defined with type src",
        "10.0.0.0/8");
    DEF(s, "p", "port", 0, "80");
    BAD(s, "p", "port", "bad port \"x\"", "443", "x");
    ck_assert_int_eq(port_m(s, "p", 443), 0);    /* nothing of it was added */
    ck_assert_int_eq(port_m(s, "p", 80), 1);
    DEF(s, "mc", "maxconn", 0, "5");
    BAD(s, "mc", "maxconn", "ACL \"mc\": type maxconn takes one value", "6");
    ck_assert_int_eq(acl_set_define(s, "z", "src", 0, NULL, 0, err, sizeof(err)), 0);
    ck_assert_int_eq(acl_set_define(s, "t", "time", 0, NULL, 0, err, sizeof(err)), 0);
    ck_assert_int_eq(acl_set_define(s, "z2", "bogus", 0, NULL, 0, NULL, 0), -1);
    acl_set_free(s);
}
END_TEST

START_TEST(rule_errors)
{
    struct acl_set *s = acl_set_new();
    char text[1024], err[256];
    int i;

    DEF(s, "foo", "src", 0, "10.0.0.0/8");
#define RBAD(t, msg)                                                          \
    do {                                                                      \
        ck_assert_int_eq(acl_set_rule(s, (t), err, sizeof(err)), -1);         \
        ck_assert_str_eq(err, (msg));                                         \
    } while (0)
    RBAD("deny bar", "unknown ACL \"bar\" in rule \"deny bar\"");
    RBAD("allow  foo !bar", "unknown ACL \"bar\" in rule \"allow foo !bar\"");
    RBAD("permit foo", "rule \"permit foo\" must start with allow or deny");
    RBAD("", "rule \"\" must start with allow or deny");
    RBAD("allow", "rule \"allow\" names no ACL");
    RBAD("deny foo !", "bad ACL name \"!\" in rule \"deny foo !\"");
    RBAD("deny !!foo", "bad ACL name \"!!foo\" in rule \"deny !!foo\"");
    strcpy(text, "allow");
    for (i = 0; i < 65; i++)
        strcat(text, " foo");
    ck_assert_int_eq(acl_set_rule(s, text, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "more than 64 ACLs in rule"));
    text[strlen(text) - 4] = '\0';               /* 64 is fine */
    RULE(s, text);
    ck_assert_uint_eq(acl_set_nrules(s), 1);
#undef RBAD
    acl_set_free(s);
}
END_TEST

START_TEST(limits)
{
    struct acl_set *s = acl_set_new();
    static const char *const v[] = { "80" };
    char name[32], err[256];
    int i;

    for (i = 0; i < 4096; i++) {
        snprintf(name, sizeof(name), "a%d", i);
        ck_assert_int_eq(acl_set_define(s, name, "port", 0, v, 1, err, sizeof(err)), 0);
    }
    ck_assert_int_eq(acl_set_define(s, "one_more", "port", 0, v, 1, err,
                                    sizeof(err)), -1);
    ck_assert_str_eq(err, "too many ACLs (at most 4096)");
    DEF(s, "a7", "port", 0, "81");               /* adding to one still works */
    ck_assert_int_eq(port_m(s, "a7", 81), 1);
    for (i = 0; i < 4096; i++)
        ck_assert_int_eq(acl_set_rule(s, "deny a4095", err, sizeof(err)), 0);
    ck_assert_int_eq(acl_set_rule(s, "deny a1", err, sizeof(err)), -1);
    ck_assert_str_eq(err, "too many rules (at most 4096)");
    ck_assert_uint_eq(acl_set_nrules(s), 4096);
    acl_set_free(s);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("rules");
    TCase *tc = tcase_create("core");
    TCase *perf = tcase_create("perf");
    SRunner *sr;
    int failed;

    setenv("TZ", "UTC", 1);
    tzset();
    tcase_add_test(tc, src_match);
    tcase_add_test(tc, rule_lists);
    tcase_add_test(tc, dst_match);
    tcase_add_test(tc, dstdomain_exact_suffix);
    tcase_add_test(tc, server_name_match);
    tcase_add_test(tc, regex_types);
    tcase_add_test(tc, regex_alternation);
    tcase_add_test(tc, header_types);
    tcase_add_test(tc, regex_limits_fail_closed);
    tcase_add_test(tc, regex_limits_negated);
    tcase_add_test(tc, regex_limits_fields);
    tcase_add_test(tc, port_ranges);
    tcase_add_test(tc, method_proto);
    tcase_add_test(tc, maxconn_all);
    tcase_add_test(tc, time_windows);
    tcase_add_test(tc, time_midnight);
    tcase_add_test(tc, proxy_auth_users);
    tcase_add_test(tc, ldap_group_answers);
    tcase_add_test(tc, ldap_group_unknown);
    tcase_add_test(tc, external_acl);
    tcase_add_test(tc, file_values);
    tcase_add_test(tc, rule_order_and_negation);
    tcase_add_test(tc, implicit_rule);
    tcase_add_test(tc, need_only_when_reached);
    tcase_add_test(tc, need_negated);
    tcase_add_test(tc, squid_classic_policy);
    tcase_add_test(tc, define_errors);
    tcase_add_test(tc, rule_errors);
    suite_add_tcase(s, tc);
    tcase_set_timeout(perf, 60);
    tcase_add_test(perf, dstdomain_big_list_fast);
    tcase_add_test(perf, regex_many);
    tcase_add_test(perf, limits);
    suite_add_tcase(s, perf);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
