/*
 * check_conf.c - tests for squidlike/conf.c: the shipped sample loads and
 * means what it says, an empty file means the same, every kind of bad file
 * is refused with "FILE:LINE: reason", and the value parsers hold at their
 * edges.
 *
 * Files are written to a fresh mkdtemp directory per test (checked
 * fixture, so it runs in the forked child) and removed afterwards. The
 * sample is found through $top_srcdir (as automake exports it), else ".".
 */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "squidlike/conf.h"
#include "conf_fixture.h"

static char err[SL_CONF_ERR_MAX];

static const char *conf_path;

static struct sl_conf *load_text(const char *text)
{
    conf_path = write_file("t.conf", text);
    err[0] = '\0';
    return sl_conf_load(conf_path, err, sizeof(err));
}

/* text must be refused with "t.conf path:line: ...phrase...". */
static void expect_error(const char *text, int line, const char *phrase)
{
    struct sl_conf *c = load_text(text);
    char prefix[256];

    ck_assert_msg(c == NULL, "accepted: %s", text);
    snprintf(prefix, sizeof(prefix), "%s:%d: ", conf_path, line);
    ck_assert_msg(strncmp(err, prefix, strlen(prefix)) == 0,
                  "error '%s' does not start with '%s' (file: %s)", err,
                  prefix, text);
    ck_assert_msg(strstr(err, phrase) != NULL,
                  "error '%s' lacks '%s' (file: %s)", err, phrase, text);
}

static struct sl_conf *load_ok(const char *text)
{
    struct sl_conf *c = load_text(text);

    ck_assert_msg(c != NULL, "refused: %s (file: %s)", err, text);
    return c;
}

static int net_eq(const struct acl_net *n, const char *text)
{
    struct acl_net want;
    const char *why;

    ck_assert_int_eq(acl_net_parse(text, &want, &why), 0);
    return memcmp(n, &want, sizeof(want)) == 0;
}

/* Every value etc/squidlike.conf states. */
static void assert_sample_values(const struct sl_conf *c)
{
    const struct sockaddr_in *in =
        (const struct sockaddr_in *)&c->listen[0].addr;
    static const char *const nets[] = { "127.0.0.0/8", "::1/128",
        "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7" };
    size_t i;

    ck_assert_int_eq(c->refs, 1);
    ck_assert_uint_eq(c->n_listen, 1);
    ck_assert_int_eq(in->sin_family, AF_INET);
    ck_assert_uint_eq(ntohs(in->sin_port), 3128);
    ck_assert_uint_eq(ntohl(in->sin_addr.s_addr), 0x7f000001);
    ck_assert_uint_eq(c->listen[0].addrlen, sizeof(struct sockaddr_in));
    ck_assert_str_eq(c->listen[0].text, "127.0.0.1:3128");
    ck_assert_str_eq(c->visible_hostname, "squidlike");
    ck_assert_pstr_eq(c->pid_file, "var/run/squidlike.pid");
    ck_assert_pstr_eq(c->access_log, "var/log/access.log");
    ck_assert_int_eq(c->access_log_format, SL_LOG_FMT_SQUID);
    ck_assert_pstr_eq(c->error_log, "var/log/error.log");
    ck_assert_int_eq(c->log_level, SL_LOG_INFO);

    ck_assert_int_eq(c->http.via, 1);
    ck_assert_int_eq(c->http.forwarded_for, FLT_XFF_DELETE);
    ck_assert_uint_eq(c->http.max_request_line, 8192);
    ck_assert_uint_eq(c->http.max_request_head, 65536);
    ck_assert_uint_eq(c->http.max_response_head, 65536);
    ck_assert_uint_eq(c->http.max_headers, 128);

    ck_assert_int_eq(c->timeouts.client_idle, 120000);
    ck_assert_int_eq(c->timeouts.request_head, 30000);
    ck_assert_int_eq(c->timeouts.connect, 30000);
    ck_assert_int_eq(c->timeouts.origin_first_byte, 60000);
    ck_assert_int_eq(c->timeouts.origin_idle, 900000);
    ck_assert_int_eq(c->timeouts.pool_idle, 60000);
    ck_assert_int_eq(c->timeouts.tunnel_idle, 3600000);
    ck_assert_int_eq(c->timeouts.shutdown, 30000);

    ck_assert_uint_eq(c->pool.max_idle, 256);
    ck_assert_uint_eq(c->pool.max_idle_per_host, 16);

    ck_assert_uint_eq(c->dns.n_nameservers, 0);
    ck_assert_int_eq(c->dns.timeout, 5000);
    ck_assert_uint_eq(c->dns.cache_size, 4096);
    ck_assert_int_eq(c->dns.max_ttl, 6 * 3600000);
    ck_assert_int_eq(c->dns.negative_ttl, 30000);
    ck_assert_int_eq(c->dns.ipv6, 1);

    ck_assert_uint_eq(c->access.n_allow_sources, 6);
    for (i = 0; i < 6; i++)
        ck_assert_msg(net_eq(&c->access.allow_sources[i], nets[i]),
                      "allow_sources[%zu] is not %s", i, nets[i]);
    ck_assert_uint_eq(c->access.n_connect_ports, 1);
    ck_assert_uint_eq(c->access.connect_ports[0], 443);
    ck_assert_int_eq(c->access.to_localhost, ACL_TOLOCAL_LOCAL_CLIENTS);

    ck_assert_uint_eq(c->limits.max_connections, 4096);
    ck_assert_uint_eq(c->limits.buffer_size, 16384);
}

static const char *sample_path(char *buf, size_t len)
{
    const char *top = getenv("top_srcdir");

    snprintf(buf, len, "%s/etc/squidlike.conf", top && *top ? top : ".");
    return buf;
}

/* ------------------------------------------------------- good files */

START_TEST(test_sample_loads)
{
    char path[4096];
    struct sl_conf *c = sl_conf_load(sample_path(path, sizeof(path)), err,
                                     sizeof(err));

    ck_assert_msg(c != NULL, "sample refused: %s", err);
    ck_assert_str_eq(c->path, path);
    assert_sample_values(c);
    sl_conf_unref(c);
}
END_TEST

START_TEST(test_empty_gives_defaults)
{
    struct sl_conf *c = load_ok("");

    ck_assert_str_eq(c->path, conf_path);
    assert_sample_values(c);
    sl_conf_unref(c);
    c = load_ok("# only a comment\n\n// and another\n");
    assert_sample_values(c);
    sl_conf_unref(c);
}
END_TEST

/* The defaults and the sample agree byte for byte, sub-struct by sub-struct. */
START_TEST(test_defaults_equal_sample)
{
    char path[4096];
    struct sl_conf *s = sl_conf_load(sample_path(path, sizeof(path)), err,
                                     sizeof(err));
    struct sl_conf *d;

    ck_assert_msg(s != NULL, "sample refused: %s", err);
    d = load_ok("");
    ck_assert_mem_eq(&s->listen[0], &d->listen[0], sizeof(s->listen[0]));
    ck_assert_mem_eq(&s->http, &d->http, sizeof(s->http));
    ck_assert_mem_eq(&s->timeouts, &d->timeouts, sizeof(s->timeouts));
    ck_assert_mem_eq(&s->pool, &d->pool, sizeof(s->pool));
    ck_assert_mem_eq(&s->dns, &d->dns, sizeof(s->dns));
    ck_assert_mem_eq(&s->access, &d->access, sizeof(s->access));
    ck_assert_mem_eq(&s->limits, &d->limits, sizeof(s->limits));
    sl_conf_unref(s);
    sl_conf_unref(d);
}
END_TEST

/*
 * The refresh_patterns of the sample and the built-in defaults agree, and
 * give package files a long heuristic lifetime and indexes none: one URL
 * of each kind a package manager fetches, and its near misses.
 */
START_TEST(test_package_patterns)
{
    enum { INDEX, PKG, OTHER };
    static const struct { const char *url; int want; } cases[] = {
        /* apt */
        { "http://deb.debian.org/debian/pool/main/c/curl/curl_7.88.1-10_amd64.deb", PKG },
        { "http://deb.debian.org/debian/pool/main/x/x/x_1_all.DEB", PKG },
        { "http://deb.debian.org/debian/pool/main/d/d/d-udeb_1_amd64.udeb", PKG },
        { "http://ddebs.ubuntu.com/pool/main/x/x/x-dbgsym_1_amd64.ddeb", PKG },
        { "http://deb.debian.org/debian/dists/bookworm/main/binary-amd64/by-hash/"
          "SHA256/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", PKG },
        { "http://deb.debian.org/debian/dists/bookworm/InRelease", INDEX },
        { "http://deb.debian.org/debian/dists/bookworm/Release", INDEX },
        { "http://deb.debian.org/debian/dists/bookworm/Release.gpg", INDEX },
        { "http://deb.debian.org/debian/dists/bookworm/main/binary-amd64/Packages.xz", INDEX },
        { "http://deb.debian.org/debian/dists/bookworm/main/source/Sources.gz", INDEX },
        { "http://deb.debian.org/debian/dists/bookworm/main/i18n/Translation-en.bz2", INDEX },
        { "http://deb.debian.org/debian/dists/bookworm/main/Contents-amd64.gz", INDEX },
        { "http://deb.debian.org/debian/dists/bookworm/main/dep11/Components-amd64.yml.gz", INDEX },
        { "http://deb.debian.org/debian/dists/bookworm/main/binary-amd64/Packages.diff/Index", INDEX },
        { "http://repo.example/flat/Packages", INDEX },
        { "http://repo.example/flat/InRelease", INDEX },
        /* rpm */
        { "http://mirror.example/fedora/39/x86_64/os/Packages/c/curl-8.2.1-3.fc39.x86_64.rpm", PKG },
        { "http://mirror.example/fedora/updates/39/x86_64/drpms/c/curl-8.2.1-4.fc39.x86_64.drpm", PKG },
        { "http://mirror.example/fedora/39/x86_64/os/repodata/repomd.xml", INDEX },
        { "http://mirror.example/fedora/39/x86_64/os/repodata/repomd.xml.asc", INDEX },
        { "http://mirror.example/fedora/39/x86_64/os/repodata/"
          "3f0c2a1e9b8d7c6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f-primary.xml.zck", PKG },
        { "http://mirror.example/centos/7/os/x86_64/repodata/primary.xml.gz", INDEX },
        /* apk */
        { "http://dl-cdn.alpinelinux.org/alpine/v3.19/main/x86_64/APKINDEX.tar.gz", INDEX },
        { "http://dl-cdn.alpinelinux.org/alpine/v3.19/main/x86_64/musl-1.2.4_git20230717-r4.apk", PKG },
        { "http://example.com/download/app.apk", OTHER },
        /* pacman */
        { "http://mirror.example/archlinux/core/os/x86_64/core.db", INDEX },
        { "http://mirror.example/archlinux/extra/os/x86_64/extra.files.tar.gz", INDEX },
        { "http://mirror.example/archlinux/core/os/x86_64/bash-5.2.026-2-x86_64.pkg.tar.zst", PKG },
        { "http://mirror.example/archlinux/core/os/x86_64/bash-5.2.026-2-x86_64.pkg.tar.zst.sig", PKG },
        { "http://example.com/data/app.db", OTHER },
        /* everything else, and dynamic content before any package rule */
        { "http://example.com/index.html", OTHER },
        { "http://example.com/latest.tar.gz", OTHER },
        { "http://example.com/get?file=x.deb", INDEX },
        { "http://example.com/cgi-bin/pkg.rpm", INDEX },
    };
    static const struct cache_heuristic want[] = {
        [INDEX] = { .min = 0 },
        [PKG] = { .min = 90 * 86400, .percent = 100, .max = 90 * 86400,
                  .range_fetch = 1ull << 30 },
        [OTHER] = { .min = 0, .percent = 20, .max = 3 * 86400 },
    };
    char path[4096];
    struct sl_conf *s = sl_conf_load(sample_path(path, sizeof(path)), err,
                                     sizeof(err));
    struct sl_conf *d;
    size_t i;

    ck_assert_msg(s != NULL, "sample refused: %s", err);
    d = load_ok("");
    ck_assert_uint_eq(cache_refresh_count(s->cache.refresh),
                      cache_refresh_count(d->cache.refresh));
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *u = cases[i].url;
        const struct cache_heuristic *hs, *hd, *w = &want[cases[i].want];

        hs = cache_refresh_match(s->cache.refresh, u, strlen(u));
        hd = cache_refresh_match(d->cache.refresh, u, strlen(u));
        ck_assert_msg(hs != NULL && hd != NULL, "%s: no pattern matched", u);
        ck_assert_msg(hs->min == w->min && hs->percent == w->percent &&
                      hs->max == w->max, "%s: sample gives %lld %d%% %lld, "
                      "want %lld %d%% %lld", u, (long long)hs->min, hs->percent,
                      (long long)hs->max, (long long)w->min, w->percent,
                      (long long)w->max);
        ck_assert_msg(hs->range_fetch == w->range_fetch, "%s: range_fetch %llu, "
                      "want %llu", u, (unsigned long long)hs->range_fetch,
                      (unsigned long long)w->range_fetch);
        ck_assert_msg(hs->min == hd->min && hs->percent == hd->percent &&
                      hs->max == hd->max && hs->range_fetch == hd->range_fetch,
                      "%s: the defaults differ from the sample", u);
    }
    sl_conf_unref(s);
    sl_conf_unref(d);
}
END_TEST

/* Every setting with a distinct non-default value lands in its own field. */
START_TEST(test_every_setting_stored)
{
    const struct sockaddr_in6 *v6;
    struct sl_conf *c = load_ok(
        "listen = [ \"10.1.2.3:8080\", \"[::1]:8081\", \"8082\" ];\n"
        "visible_hostname = \"proxy-1.example.net\";\n"
        "pid_file = \"none\";\n"
        "access_log = \"none\";\n"
        "error_log = \"stderr\";\n"
        "log_level = \"debug\";\n"
        "http: { via = false; forwarded_for = \"truncate\";\n"
        "  max_request_line = \"4k\"; max_request_head = \"100K\";\n"
        "  max_response_head = 200000; max_headers = 99; };\n"
        "timeouts: { client_idle = 1; request_head = \"2s\";\n"
        "  connect = \"3000ms\"; origin_first_byte = \"4m\";\n"
        "  origin_idle = \"5h\"; pool_idle = 6; tunnel_idle = \"7S\";\n"
        "  shutdown = \"8M\"; };\n"
        "pool: { max_idle = 0; max_idle_per_host = 100000; };\n"
        "dns: { nameservers = [ \"192.0.2.1\", \"192.0.2.2:5353\",\n"
        "  \"[2001:db8::1]:53\", \"2001:db8::2\" ];\n"
        "  timeout = \"9s\"; cache_size = 0; max_ttl = \"10m\";\n"
        "  negative_ttl = \"11s\"; ipv6 = false; };\n"
        "access: { allow_sources = ( \"0.0.0.0/0\", \"::/0\" );\n"
        "  connect_ports = [ 443, 563, 65535 ]; to_localhost = \"deny\"; };\n"
        "limits: { max_connections = 1; buffer_size = \"1M\"; };\n");

    ck_assert_uint_eq(c->n_listen, 3);
    ck_assert_str_eq(c->listen[1].text, "[::1]:8081");
    v6 = (const struct sockaddr_in6 *)&c->listen[1].addr;
    ck_assert_int_eq(v6->sin6_family, AF_INET6);
    ck_assert_int_eq(IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr), 1);
    ck_assert_uint_eq(ntohs(v6->sin6_port), 8081);
    v6 = (const struct sockaddr_in6 *)&c->listen[2].addr;
    ck_assert_int_eq(v6->sin6_family, AF_INET6);
    ck_assert_int_eq(IN6_IS_ADDR_UNSPECIFIED(&v6->sin6_addr), 1);
    ck_assert_uint_eq(ntohs(v6->sin6_port), 8082);
    ck_assert_str_eq(c->visible_hostname, "proxy-1.example.net");
    ck_assert_ptr_null(c->pid_file);
    ck_assert_ptr_null(c->access_log);
    ck_assert_ptr_null(c->error_log);
    ck_assert_int_eq(c->log_level, SL_LOG_DEBUG);

    ck_assert_int_eq(c->http.via, 0);
    ck_assert_int_eq(c->http.forwarded_for, FLT_XFF_TRUNCATE);
    ck_assert_uint_eq(c->http.max_request_line, 4096);
    ck_assert_uint_eq(c->http.max_request_head, 102400);
    ck_assert_uint_eq(c->http.max_response_head, 200000);
    ck_assert_uint_eq(c->http.max_headers, 99);

    ck_assert_int_eq(c->timeouts.client_idle, 1000);
    ck_assert_int_eq(c->timeouts.request_head, 2000);
    ck_assert_int_eq(c->timeouts.connect, 3000);
    ck_assert_int_eq(c->timeouts.origin_first_byte, 240000);
    ck_assert_int_eq(c->timeouts.origin_idle, 5 * 3600000);
    ck_assert_int_eq(c->timeouts.pool_idle, 6000);
    ck_assert_int_eq(c->timeouts.tunnel_idle, 7000);
    ck_assert_int_eq(c->timeouts.shutdown, 480000);

    ck_assert_uint_eq(c->pool.max_idle, 0);
    ck_assert_uint_eq(c->pool.max_idle_per_host, 100000);

    ck_assert_uint_eq(c->dns.n_nameservers, 4);
    ck_assert_str_eq(c->dns.nameservers[0], "192.0.2.1");
    ck_assert_str_eq(c->dns.nameservers[1], "192.0.2.2:5353");
    ck_assert_str_eq(c->dns.nameservers[2], "[2001:db8::1]:53");
    ck_assert_str_eq(c->dns.nameservers[3], "2001:db8::2");
    ck_assert_int_eq(c->dns.timeout, 9000);
    ck_assert_uint_eq(c->dns.cache_size, 0);
    ck_assert_int_eq(c->dns.max_ttl, 600000);
    ck_assert_int_eq(c->dns.negative_ttl, 11000);
    ck_assert_int_eq(c->dns.ipv6, 0);

    ck_assert_uint_eq(c->access.n_allow_sources, 2);
    ck_assert(net_eq(&c->access.allow_sources[0], "0.0.0.0/0"));
    ck_assert(net_eq(&c->access.allow_sources[1], "::/0"));
    ck_assert_uint_eq(c->access.n_connect_ports, 3);
    ck_assert_uint_eq(c->access.connect_ports[1], 563);
    ck_assert_uint_eq(c->access.connect_ports[2], 65535);
    ck_assert_int_eq(c->access.to_localhost, ACL_TOLOCAL_DENY);

    ck_assert_uint_eq(c->limits.max_connections, 1);
    ck_assert_uint_eq(c->limits.buffer_size, 1048576);
    sl_conf_unref(c);
}
END_TEST

/* Enum names map to the right values; empty lists are allowed where they
 * make sense. */
START_TEST(test_names_and_empty_lists)
{
    static const char *const levels[] = { "error", "warn", "info", "debug" };
    static const char *const tol[] = { "local-clients", "deny", "allow" };
    static const char *const xff[] = { "delete", "on", "off", "transparent",
                                       "truncate" };
    static const struct { const char *name; enum sl_log_format f; } fmts[] = {
        { "squid", SL_LOG_FMT_SQUID }, { "common", SL_LOG_FMT_COMMON },
        { "combined", SL_LOG_FMT_COMBINED }, { "json", SL_LOG_FMT_JSON } };
    char text[256];
    struct sl_conf *c;
    int i;

    for (i = 0; i < 4; i++) {
        snprintf(text, sizeof(text), "log_level = \"%s\";\n", levels[i]);
        c = load_ok(text);
        ck_assert_int_eq(c->log_level, i);
        sl_conf_unref(c);
    }
    for (i = 0; i < 3; i++) {
        snprintf(text, sizeof(text), "access: { to_localhost = \"%s\"; };\n",
                 tol[i]);
        c = load_ok(text);
        ck_assert_int_eq(c->access.to_localhost, i);
        sl_conf_unref(c);
    }
    for (i = 0; i < 5; i++) {
        snprintf(text, sizeof(text), "http: { forwarded_for = \"%s\"; };\n",
                 xff[i]);
        c = load_ok(text);
        ck_assert_int_eq(c->http.forwarded_for, i);
        sl_conf_unref(c);
    }
    for (i = 0; i < 4; i++) {
        snprintf(text, sizeof(text), "access_log_format = \"%s\";\n",
                 fmts[i].name);
        c = load_ok(text);
        ck_assert_int_eq(c->access_log_format, fmts[i].f);
        sl_conf_unref(c);
    }
    c = load_ok("access: { allow_sources = []; connect_ports = []; };\n"
                "dns: { nameservers = (); };\n");
    ck_assert_uint_eq(c->access.n_allow_sources, 0);
    ck_assert_uint_eq(c->access.n_connect_ports, 0);
    ck_assert_int_eq(sl_conf_connect_port_ok(c, 443), 0);
    sl_conf_unref(c);
}
END_TEST

START_TEST(test_visible_hostname_length)
{
    char text[600];
    struct sl_conf *c;

    snprintf(text, sizeof(text), "visible_hostname = \"%0255d\";\n", 7);
    c = load_ok(text);
    ck_assert_uint_eq(strlen(c->visible_hostname), 255);
    ck_assert_int_eq(c->visible_hostname[254], '7');
    sl_conf_unref(c);
    snprintf(text, sizeof(text), "\nvisible_hostname = \"%0256d\";\n", 7);
    expect_error(text, 2, "bad 'visible_hostname'");
}
END_TEST

/* ------------------------------------------------------- bad files */

struct bad {
    const char *text;
    int line;
    const char *phrase;
};

#define BAD_TEST(name, table)                                          \
    START_TEST(name)                                                   \
    {                                                                  \
        expect_error(table[_i].text, table[_i].line, table[_i].phrase); \
    }                                                                  \
    END_TEST

static const struct bad syntax_cases[] = {
    { "# c\nlog_level = \"info\";\nvia = = true;\n", 3, "syntax error" },
    { "http: {\n  via = true;\n", 3, "syntax error" },
    { "log_level = \"info\";\n\nlog_level = \"warn\";\n", 3, "duplicate" },
    { "listen = [ \"127.0.0.1:3128\",\n 3128 ];\n", 2,
      "mismatched element type" },
};
BAD_TEST(test_syntax, syntax_cases)

static const struct bad unknown_cases[] = {
    { "# c\ntimeoutz: { connect = 5; };\n", 2, "unknown setting 'timeoutz'" },
    { "\n\nLog_level = \"info\";\n", 3, "unknown setting 'Log_level'" },
    { "http: {\n  via = true;\n  vai = true;\n};\n", 3,
      "unknown setting 'vai' in group 'http'" },
    { "timeouts: { connect = 5;\n idle = 5; };\n", 2,
      "unknown setting 'idle' in group 'timeouts'" },
    { "pool: { max = 1; };\n", 1, "in group 'pool'" },
    { "dns: { servers = []; };\n", 1, "in group 'dns'" },
    { "access: { allow = []; };\n", 1, "in group 'access'" },
    { "limits: { buffer = 1; };\n", 1, "in group 'limits'" },
    { "http: { listen = [\"1\"]; };\n", 1, "unknown setting 'listen'" },
    { "limits: { http: { via = true; }; };\n", 1, "unknown setting 'http'" },
};
BAD_TEST(test_unknown, unknown_cases)

static const struct bad type_cases[] = {
    { "http: {\n via = \"yes\"; };\n", 2, "'via' must be true or false" },
    { "dns: { ipv6 = 1; };\n", 1, "'ipv6' must be true or false" },
    { "\nhttp = 5;\n", 2, "'http' must be a group" },
    { "limits = [ 1 ];\n", 1, "'limits' must be a group" },
    { "http: { max_headers = \"128\"; };\n", 1, "'max_headers' must be an integer" },
    { "pool: { max_idle = 1.5; };\n", 1, "'max_idle' must be an integer" },
    { "listen = \"127.0.0.1:3128\";\n", 1, "'listen' must be a list" },
    { "listen = ( \"127.0.0.1:3128\",\n 3128 );\n", 2, "must be a string" },
    { "visible_hostname = 5;\n", 1, "'visible_hostname' must be a string" },
    { "log_level = true;\n", 1, "'log_level' must be a string" },
    { "access: { connect_ports = 443; };\n", 1, "'connect_ports' must be a list" },
    { "access: { connect_ports = ( 443,\n \"80\" ); };\n", 2, "bad port" },
    { "http: { max_request_line = true; };\n", 1, "must be a size" },
    { "timeouts: { connect = 1.5; };\n", 1, "must be a duration" },
    { "pid_file = 1;\n", 1, "'pid_file' must be a string" },
    { "access_log = \"\";\n", 1, "'access_log' is empty" },
    { "error_log = [];\n", 1, "'error_log' must be a string" },
    { "\naccess_log_format = 2;\n", 2,
      "'access_log_format' must be a string" },
};
BAD_TEST(test_wrong_type, type_cases)

static const struct bad size_cases[] = {
    { "http: { max_request_line = \"8X\"; };\n", 1,
      "'max_request_line' must be a size" },
    { "http: { max_request_line = \"0\"; };\n", 1, "must be a size" },
    { "http: { max_request_line = 0; };\n", 1, "must be a size" },
    { "http: { max_request_line = -1024; };\n", 1, "must be a size" },
    { "http: { max_request_line = \"-1K\"; };\n", 1, "must be a size" },
    { "http: { max_request_line = \"\"; };\n", 1, "must be a size" },
    { "http: { max_request_line = \" 8K\"; };\n", 1, "must be a size" },
    { "http: { max_request_line = \"8KB\"; };\n", 1, "must be a size" },
    { "http: { max_request_line = \"1.5K\"; };\n", 1, "must be a size" },
    { "limits: { buffer_size = \"99999999999999999999\"; };\n", 1,
      "'buffer_size' must be a size" },
    { "limits: { buffer_size = \"17179869184G\"; };\n", 1, "must be a size" },
    { "\nlimits: {\n buffer_size = \"1K\"; };\n", 3,
      "'buffer_size' is out of range: 1K (expected 4K to 16M)" },
    { "limits: { buffer_size = 3000000000L; };\n", 1, "out of range" },
    { "limits: { buffer_size = \"17M\"; };\n", 1, "out of range" },
    { "http: { max_request_line = 255; };\n", 1,
      "out of range: 255 (expected 256 to 1M)" },
    { "http: { max_request_line = \"2M\"; };\n", 1, "out of range" },
    { "http: { max_request_head = 1023; };\n", 1, "out of range" },
    { "http: { max_response_head = \"16385K\"; };\n", 1, "out of range" },
    { "http: {\n max_request_line = \"128K\";\n};\n", 2,
      "'max_request_head' (65536) is smaller than 'max_request_line'" },
    { "http: {\n max_request_line = \"8K\";\n max_response_head = \"4K\";\n};\n",
      3, "'max_response_head' (4096) is smaller" },
};
BAD_TEST(test_bad_size, size_cases)

static const struct bad duration_cases[] = {
    { "timeouts: { connect = \"5x\"; };\n", 1, "'connect' must be a duration" },
    { "timeouts: { connect = \"0\"; };\n", 1, "must be a duration" },
    { "timeouts: { connect = \"0ms\"; };\n", 1, "must be a duration" },
    { "timeouts: { connect = 0; };\n", 1, "must be a duration" },
    { "timeouts: { connect = -5; };\n", 1, "must be a duration" },
    { "timeouts: { connect = \"-5s\"; };\n", 1, "must be a duration" },
    { "timeouts: { connect = \"\"; };\n", 1, "must be a duration" },
    { "timeouts: { connect = \"5 s\"; };\n", 1, "must be a duration" },
    { "timeouts: { connect = \"1.5s\"; };\n", 1, "must be a duration" },
    { "timeouts: { connect = \"1w\"; };\n", 1, "must be a duration" },
    { "timeouts: { connect = \"99999999999999999999s\"; };\n", 1,
      "must be a duration" },
    { "timeouts: { connect = \"9223372036854776s\"; };\n", 1,
      "must be a duration" },
    { "\ndns: {\n negative_ttl = \"169h\"; };\n", 3,
      "'negative_ttl' is out of range: 169h (expected 1ms to 7d)" },
    { "dns: { timeout = 604801; };\n", 1, "out of range" },
};
BAD_TEST(test_bad_duration, duration_cases)

static const struct bad range_cases[] = {
    { "http: { max_headers = 7; };\n", 1,
      "'max_headers' is out of range: 7 (expected 8 to 10000)" },
    { "http: { max_headers = 10001; };\n", 1, "out of range" },
    { "limits: { max_connections = 0; };\n", 1, "out of range" },
    { "limits: { max_connections = 1000001; };\n", 1, "out of range" },
    { "pool: { max_idle = -1; };\n", 1, "out of range" },
    { "pool: { max_idle_per_host = 100001; };\n", 1, "out of range" },
    { "dns: { cache_size = 10000001; };\n", 1, "out of range" },
    { "access: { connect_ports = [ 443,\n 0 ]; };\n", 2,
      "bad port 0 in 'connect_ports'" },
    { "access: { connect_ports = [ 65536 ]; };\n", 1, "bad port 65536" },
    { "visible_hostname = \"\";\n", 1, "'visible_hostname' is empty" },
    { "visible_hostname = \"my proxy\";\n", 1, "bad 'visible_hostname'" },
    { "visible_hostname = \"a_b\";\n", 1, "bad 'visible_hostname'" },
    { "auth: { realm = \"a\\\"b\"; };\n", 1, "'realm' must be at most 200" },
    { "auth: {\n realm = \"line\\nbreak\"; };\n", 2, "'realm' must be" },
};
BAD_TEST(test_out_of_range, range_cases)

static const struct bad cidr_cases[] = {
    { "access: {\n allow_sources = [ \"10.0.0.0/8\",\n \"10.0.0.1/8\" ];\n};\n",
      3, "bad network \"10.0.0.1/8\" in 'allow_sources': address has bits set" },
    { "access: { allow_sources = [ \"10.0.0.0/33\" ]; };\n", 1,
      "bad prefix length" },
    { "access: { allow_sources = [ \"fc00::/129\" ]; };\n", 1,
      "bad prefix length" },
    { "access: { allow_sources = [ \"localhost\" ]; };\n", 1,
      "not an IP address" },
    { "access: { allow_sources = [ \"\" ]; };\n", 1, "is empty" },
};
BAD_TEST(test_bad_cidr, cidr_cases)

static const struct bad listen_cases[] = {
    { "listen = [];\n", 1, "'listen' is empty" },
    { "listen = [ \"127.0.0.1:3128\",\n \"127.0.0.1\" ];\n", 2,
      "bad address \"127.0.0.1\" in 'listen'" },
    { "listen = [ \"::1:3128\" ];\n", 1, "bad address" },
    { "listen = [ \"localhost:3128\" ];\n", 1, "bad address" },
    { "listen = [ \"127.0.0.1:0\" ];\n", 1, "bad port" },
    { "listen = [ \"65536\" ];\n", 1, "bad port" },
    { "listen = [ \"[::1]\" ];\n", 1, "bad address" },
};
BAD_TEST(test_bad_listen, listen_cases)

static const struct bad ns_cases[] = {
    { "dns: {\n nameservers = [ \"192.0.2.1\",\n \"dns.google\" ]; };\n", 3,
      "bad nameserver \"dns.google\" in 'nameservers'" },
    { "dns: { nameservers = [ \"192.0.2.1:0\" ]; };\n", 1, "bad nameserver" },
    { "dns: { nameservers = [ \"192.0.2.1:65536\" ]; };\n", 1, "bad nameserver" },
    { "dns: { nameservers = [ \"[::1]\" ]; };\n", 1, "bad nameserver" },
    { "dns: { nameservers = [ \"[::1]53\" ]; };\n", 1, "bad nameserver" },
    { "dns: { nameservers = [ \"192.0.2.1:53:1\" ]; };\n", 1, "bad nameserver" },
    { "dns: { nameservers = [ \"192.0.2.256\" ]; };\n", 1, "bad nameserver" },
};
BAD_TEST(test_bad_nameserver, ns_cases)

static const struct bad enum_cases[] = {
    { "\nlog_level = \"verbose\";\n", 2,
      "bad 'log_level' \"verbose\" (expected error, warn, info or debug)" },
    { "log_level = \"INFO\";\n", 1, "bad 'log_level'" },
    { "access: { to_localhost = \"yes\"; };\n", 1,
      "bad 'to_localhost' \"yes\" (expected local-clients, deny or allow)" },
    { "http: { forwarded_for = \"maybe\"; };\n", 1,
      "bad 'forwarded_for' \"maybe\"" },
    { "# c\n\naccess_log_format = \"apache\";\n", 3,
      "bad 'access_log_format' \"apache\" (expected squid, common, combined "
      "or json)" },
    { "access_log_format = \"JSON\";\n", 1, "bad 'access_log_format'" },
    { "access_log_format = \"\";\n", 1, "access_log_format" },
};
BAD_TEST(test_bad_enum, enum_cases)

static const struct bad cache_cases[] = {
    { "cache: {\n size = \"100K\"; };\n", 2, "'size' is out of range" },
    { "cache: { dir = \"\"; };\n", 1, "'dir' is empty" },
    { "cache: { enabled = \"yes\"; };\n", 1, "'enabled' must be true or false" },
    { "cache: { purge_from = [ \"10.0.0.1/8\" ]; };\n", 1, "bad network" },
    { "cache: { refresh_patterns = (\n { regex = \"(\"; } ); };\n", 2,
      "bad regex \"(\"" },
    { "cache: { refresh_patterns = ( { min = 0; } ); };\n", 1, "without 'regex'" },
    { "cache: { refresh_patterns = ( { regex = \".\"; pct = 1; } ); };\n", 1,
      "unknown setting 'pct' in a refresh_patterns entry" },
    { "cache: { refresh_patterns = ( { regex = \".\"; min = \"2d\"; max = \"1d\"; } ); };\n",
      1, "max below min" },
    { "cache: { refresh_patterns = ( { regex = \".\"; percent = -1; } ); };\n", 1,
      "'percent' must be an integer" },
    { "cache: { refresh_patterns = [ \".\" ]; };\n", 1, "must be a group" },
    { "cache: { sise = \"1G\"; };\n", 1, "unknown setting 'sise' in group 'cache'" },
};
BAD_TEST(test_bad_cache, cache_cases)

START_TEST(test_cache_settings)
{
    struct sl_conf *c = load_ok("cache: { enabled = false; dir = \"/tmp/x\"; size = \"2G\";\n"
        " max_object = \"1M\"; purge_from = [ \"10.0.0.0/8\" ];\n"
        " refresh_patterns = ( { regex = \"\\\\.jpg$\"; icase = true; min = \"1h\";"
        " percent = 50; max = \"2d\"; } ); };\n");
    const struct cache_heuristic *h;

    ck_assert_int_eq(c->cache.enabled, 0);
    ck_assert_str_eq(c->cache.dir, "/tmp/x");
    ck_assert_uint_eq(c->cache.size, 2ull << 30);
    ck_assert_uint_eq(c->cache.max_object, 1u << 20);
    ck_assert_uint_eq(c->cache.n_purge_from, 1);
    ck_assert_uint_eq(cache_refresh_count(c->cache.refresh), 1);
    h = cache_refresh_match(c->cache.refresh, "http://a/B.JPG", 14);
    ck_assert_ptr_nonnull(h);
    ck_assert_int_eq(h->min, 3600);
    ck_assert_int_eq(h->percent, 50);
    ck_assert_int_eq(h->max, 2 * 86400);
    ck_assert_ptr_null(cache_refresh_match(c->cache.refresh, "http://a/b.png", 14));
    sl_conf_unref(c);
    /* The defaults (test_package_patterns has the package lines): a
     * query string is never fresh by heuristic, anything else gets 20%
     * up to 3 days. */
    c = load_ok("");
    ck_assert_int_eq(c->cache.enabled, 1);
    ck_assert_str_eq(c->cache.dir, "var/cache");
    h = cache_refresh_match(c->cache.refresh, "http://a/x?y", 12);
    ck_assert_ptr_nonnull(h);
    ck_assert_int_eq(h->max, 0);
    h = cache_refresh_match(c->cache.refresh, "http://a/x", 10);
    ck_assert_ptr_nonnull(h);
    ck_assert_int_eq(h->percent, 20);
    sl_conf_unref(c);
}
END_TEST

/* N copies of item in a list named key inside group (NULL: top level). */
static void too_many(const char *group, const char *key, const char *item,
                     int n)
{
    static char text[65536];
    size_t len;
    int i;

    len = (size_t)snprintf(text, sizeof(text), "%s%s%s = [\n",
                           group ? group : "", group ? ": {\n" : "\n", key);
    for (i = 0; i < n; i++)
        len += (size_t)snprintf(text + len, sizeof(text) - len, "%s%s",
                                i ? ", " : "", item);
    snprintf(text + len, sizeof(text) - len, " ];\n%s", group ? "};\n" : "");
    expect_error(text, 2, "too many entries");
}

START_TEST(test_too_many)
{
    struct sl_conf *c;

    too_many(NULL, "listen", "\"3128\"", SL_CONF_MAX_LISTEN + 1);
    too_many("dns", "nameservers", "\"192.0.2.1\"", SL_CONF_MAX_NS + 1);
    too_many("access", "connect_ports", "443", SL_CONF_MAX_PORTS + 1);
    too_many("access", "allow_sources", "\"10.0.0.0/8\"",
             SL_CONF_MAX_NETS + 1);
    ck_assert_ptr_nonnull(strstr(err, "(expected at most 256)"));
    /* Exactly the maximum is fine. */
    c = load_ok("dns: { nameservers = [ \"1.1.1.1\", \"1.1.1.2\", \"1.1.1.3\","
                " \"1.1.1.4\", \"1.1.1.5\", \"1.1.1.6\", \"1.1.1.7\","
                " \"1.1.1.8\" ]; };\n");
    ck_assert_uint_eq(c->dns.n_nameservers, SL_CONF_MAX_NS);
    ck_assert_str_eq(c->dns.nameservers[7], "1.1.1.8");
    sl_conf_unref(c);
}
END_TEST

START_TEST(test_missing_file)
{
    char path[256], want[512];

    snprintf(path, sizeof(path), "%s/nope.conf", tmpdir);
    ck_assert_ptr_null(sl_conf_load(path, err, sizeof(err)));
    snprintf(want, sizeof(want), "%s: No such file or directory", path);
    ck_assert_str_eq(err, want);

    ck_assert_ptr_null(sl_conf_load(tmpdir, err, sizeof(err)));
    snprintf(want, sizeof(want), "%s: Is a directory", tmpdir);
    ck_assert_str_eq(err, want);
}
END_TEST

/* Errors in an @include'd file name that file and its line. */
START_TEST(test_include_names_file)
{
    const char *inc = write_file("inc.conf", "\n\nhttp: { via = 1; };\n");
    char text[512], prefix[256];

    snprintf(text, sizeof(text), "log_level = \"warn\";\n@include \"%s\"\n",
             inc);
    ck_assert_ptr_null(load_text(text));
    snprintf(prefix, sizeof(prefix), "%s:3: 'via' must be true or false", inc);
    ck_assert_msg(strncmp(err, prefix, strlen(prefix)) == 0, "got '%s'", err);

    inc = write_file("inc.conf", "\nhttp: { via = ; };\n");
    ck_assert_ptr_null(load_text(text));
    snprintf(prefix, sizeof(prefix), "%s:2: syntax error", inc);
    ck_assert_msg(strncmp(err, prefix, strlen(prefix)) == 0, "got '%s'", err);
}
END_TEST

/* A short or absent error buffer is never overrun. */
START_TEST(test_small_err_buffer)
{
    char small[12];
    const char *path = write_file("t.conf", "timeoutz = 1;\n");

    memset(small, 'x', sizeof(small));
    ck_assert_ptr_null(sl_conf_load(path, small, 8));
    ck_assert_int_eq(small[7], '\0');
    ck_assert_int_eq(small[8], 'x');
    ck_assert_ptr_null(sl_conf_load(path, NULL, 0));
    ck_assert_ptr_null(sl_conf_load("/nonexistent/x", small, 1));
    ck_assert_int_eq(small[0], '\0');
}
END_TEST

/* ------------------------------------------------------- access policy */

/* A proxy_auth ACL with no user list would 407 every request it reaches
 * with no way to answer: refused, naming the ACL (as Squid does). */
START_TEST(test_proxy_auth_needs_auth)
{
    char text[512];
    struct sl_conf *c;

    expect_error("acls = (\n"
                 "  { name = \"all2\"; type = \"all\"; },\n"
                 "  { name = \"staff\"; type = \"proxy_auth\";\n"
                 "    values = [ \"REQUIRED\" ]; }\n"
                 ");\n"
                 "http_access = [ \"allow staff\", \"deny all\" ];\n",
                 3, "acl 'staff' of type proxy_auth needs an 'auth' group");
    /* Unused in any rule, still refused. */
    expect_error("acls = ( { name = \"u\"; type = \"proxy_auth\"; "
                 "values = [ \"alice\" ]; } );\n",
                 1, "acl 'u' of type proxy_auth needs an 'auth' group");
    snprintf(text, sizeof(text),
             "auth: { file = \"%s\"; };\n"
             "acls = ( { name = \"staff\"; type = \"proxy_auth\"; "
             "values = [ \"REQUIRED\" ]; } );\n"
             "http_access = [ \"allow staff\", \"deny all\" ];\n",
             write_file("users", ""));
    c = load_ok(text);
    ck_assert_ptr_nonnull(c->policy.auth);
    sl_conf_unref(c);
}
END_TEST

/* More distinct categories than the filter has ids: refused, not dropped
 * (an id of -1 would have been shifted into the wanted set). The names
 * exist as (empty) category directories, so only the count is wrong. */
START_TEST(test_too_many_categories)
{
    static char text[16384];
    char dir[128], cat[160];
    size_t len;
    int i;

    snprintf(dir, sizeof(dir), "%s/bl", tmpdir);
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    for (i = 0; i <= FLT_BL_MAX_CATEGORIES; i++) {
        snprintf(cat, sizeof(cat), "%s/c%d", dir, i);
        ck_assert_int_eq(mkdir(cat, 0755), 0);
    }
    /* "a" names c0..c199, "b" c100..c256: 257 in all. */
    len = (size_t)snprintf(text, sizeof(text),
                           "blocklists: { dir = \"%s\"; };\nacls = (\n"
                           "  { name = \"a\"; type = \"category\"; values = [ ",
                           dir);
    for (i = 0; i < 200; i++)
        len += (size_t)snprintf(text + len, sizeof(text) - len, "%s\"c%d\"",
                                i ? ", " : "", i);
    len += (size_t)snprintf(text + len, sizeof(text) - len, " ]; },\n"
                            "  { name = \"b\"; type = \"category\"; values = [ ");
    for (i = 100; i <= FLT_BL_MAX_CATEGORIES; i++)
        len += (size_t)snprintf(text + len, sizeof(text) - len, "%s\"c%d\"",
                                i > 100 ? ", " : "", i);
    snprintf(text + len, sizeof(text) - len, " ]; }\n);\n"
             "http_access = [ \"deny a\", \"deny b\", \"allow all\" ];\n");
    ck_assert_uint_lt(strlen(text), sizeof(text) - 1);
    expect_error(text, 4, "category ACL 'b': more than 256 categories");
    ck_assert_ptr_nonnull(strstr(err, "(at 'c256')"));
    /* 256 is fine. */
    snprintf(strstr(text, ", \"c256\""), sizeof(text) / 2,
             " ]; }\n);\nhttp_access = [ \"deny a\", \"deny b\", \"allow all\" ];\n");
    sl_conf_unref(load_ok(text));
}
END_TEST

/*
 * Live heap blocks, counted by standing in for the allocator (glibc lets a
 * program replace malloc, and calls the replacement from inside too:
 * strdup, fopen, libconfig), for telling whether a failed load gave back
 * every block it took. Elsewhere nothing is counted and the check passes.
 * (glibc's mallinfo2 is no help: blocks in its per-thread cache count as
 * in use.) Under AddressSanitizer, LeakSanitizer checks instead.
 */
static long live_blocks;
/* Under AddressSanitizer its own allocator stands in, and its leak check
 * at the end of each (forked) test does this job. */
#if defined(__SANITIZE_ADDRESS__)
#define SL_NO_MALLOC_COUNT 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SL_NO_MALLOC_COUNT 1
#endif
#endif
#if defined(__GLIBC__) && !defined(SL_NO_MALLOC_COUNT)
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);

void *malloc(size_t n)
{
    void *p = __libc_malloc(n);

    live_blocks += p != NULL;
    return p;
}

void *calloc(size_t n, size_t size)
{
    void *p = __libc_calloc(n, size);

    live_blocks += p != NULL;
    return p;
}

void *realloc(void *old, size_t n)
{
    void *p = __libc_realloc(old, n);

    if (old == NULL)
        live_blocks += p != NULL;
    else if (n == 0)
        live_blocks--;          /* glibc frees it */
    return p;
}

void free(void *p)
{
    live_blocks -= p != NULL;
    __libc_free(p);
}
#endif

/* text is refused at line with phrase, and the refusal leaks nothing: the
 * first load takes the one-time allocations, the second must end with as
 * many blocks in use as it found. */
static void expect_error_no_leak(const char *text, int line, const char *phrase)
{
    long before;

    expect_error(text, line, phrase);
    before = live_blocks;
    expect_error(text, line, phrase);
    ck_assert_msg(live_blocks == before, "%ld blocks more in use after "
                  "refusing: %s", live_blocks - before, text);
}

/* A deny_info entry refused at a later key frees what its earlier keys
 * set (they used to be left out of the count and leaked). */
START_TEST(test_deny_info_failure_leaks_nothing)
{
    char text[512];

    expect_error_no_leak("deny_info = (\n"
                         "  { acl = \"all\"; redirect = \"http://x/\";\n"
                         "    colour = \"red\"; }\n"
                         ");\n",
                         3, "unknown setting 'colour' in a deny_info entry");
    snprintf(text, sizeof(text),
             "deny_info = (\n  { acl = \"all\";\n    page = \"%s/nope.html\"; }\n);\n",
             tmpdir);
    expect_error_no_leak(text, 3, "cannot read");
    expect_error_no_leak("deny_info = (\n"
                         "  { redirect = \"http://x/\"; acl = 7; }\n"
                         ");\n",
                         2, "'acl' must be");
    /* And the good ones still load. */
    sl_conf_unref(load_ok("deny_info = ( { acl = \"all\"; redirect = \"http://x/\"; } );\n"));
}
END_TEST

/* ------------------------------------------------------- helpers */

START_TEST(test_parse_size)
{
    size_t v;

    ck_assert_int_eq(sl_conf_parse_size("1", &v), 0);
    ck_assert_uint_eq(v, 1);
    ck_assert_int_eq(sl_conf_parse_size("64K", &v), 0);
    ck_assert_uint_eq(v, 65536);
    ck_assert_int_eq(sl_conf_parse_size("64k", &v), 0);
    ck_assert_uint_eq(v, 65536);
    ck_assert_int_eq(sl_conf_parse_size("2m", &v), 0);
    ck_assert_uint_eq(v, 2097152);
    ck_assert_int_eq(sl_conf_parse_size("1G", &v), 0);
    ck_assert_uint_eq(v, 1073741824);
    ck_assert_int_eq(sl_conf_parse_size("007", &v), 0);
    ck_assert_uint_eq(v, 7);
    v = 42;
    ck_assert_int_eq(sl_conf_parse_size("0", &v), -1);
    ck_assert_int_eq(sl_conf_parse_size("0K", &v), -1);
    ck_assert_int_eq(sl_conf_parse_size("", &v), -1);
    ck_assert_int_eq(sl_conf_parse_size("K", &v), -1);
    ck_assert_int_eq(sl_conf_parse_size("-1", &v), -1);
    ck_assert_int_eq(sl_conf_parse_size("+1", &v), -1);
    ck_assert_int_eq(sl_conf_parse_size(" 1", &v), -1);
    ck_assert_int_eq(sl_conf_parse_size("1 ", &v), -1);
    ck_assert_int_eq(sl_conf_parse_size("1KK", &v), -1);
    ck_assert_int_eq(sl_conf_parse_size("1T", &v), -1);
    ck_assert_int_eq(sl_conf_parse_size("1x", &v), -1);
    ck_assert_int_eq(sl_conf_parse_size("0x10", &v), -1);
    ck_assert_uint_eq(v, 42);           /* untouched on failure */
    if (sizeof(size_t) == 8) {
        ck_assert_int_eq(sl_conf_parse_size("18446744073709551615", &v), 0);
        ck_assert_uint_eq(v, SIZE_MAX);
        ck_assert_int_eq(sl_conf_parse_size("18446744073709551616", &v), -1);
        ck_assert_int_eq(sl_conf_parse_size("17179869183G", &v), 0);
        ck_assert_uint_eq(v, (size_t)17179869183ULL << 30);
        ck_assert_int_eq(sl_conf_parse_size("17179869184G", &v), -1);
        ck_assert_int_eq(sl_conf_parse_size("18014398509481984K", &v), -1);
    }
}
END_TEST

START_TEST(test_parse_duration)
{
    int64_t v;

    ck_assert_int_eq(sl_conf_parse_duration("1", &v), 0);
    ck_assert_int_eq(v, 1000);
    ck_assert_int_eq(sl_conf_parse_duration("30s", &v), 0);
    ck_assert_int_eq(v, 30000);
    ck_assert_int_eq(sl_conf_parse_duration("2m", &v), 0);
    ck_assert_int_eq(v, 120000);
    ck_assert_int_eq(sl_conf_parse_duration("6h", &v), 0);
    ck_assert_int_eq(v, 21600000);
    ck_assert_int_eq(sl_conf_parse_duration("250ms", &v), 0);
    ck_assert_int_eq(v, 250);
    ck_assert_int_eq(sl_conf_parse_duration("1MS", &v), 0);
    ck_assert_int_eq(v, 1);
    ck_assert_int_eq(sl_conf_parse_duration("9223372036854775807ms", &v), 0);
    ck_assert_int_eq(v, INT64_MAX);
    ck_assert_int_eq(sl_conf_parse_duration("9223372036854775s", &v), 0);
    ck_assert_int_eq(v, 9223372036854775000LL);
    v = 42;
    ck_assert_int_eq(sl_conf_parse_duration("9223372036854775808ms", &v), -1);
    ck_assert_int_eq(sl_conf_parse_duration("9223372036854776s", &v), -1);
    ck_assert_int_eq(sl_conf_parse_duration("2562047788015216h", &v), -1);
    ck_assert_int_eq(sl_conf_parse_duration("0", &v), -1);
    ck_assert_int_eq(sl_conf_parse_duration("0ms", &v), -1);
    ck_assert_int_eq(sl_conf_parse_duration("", &v), -1);
    ck_assert_int_eq(sl_conf_parse_duration("s", &v), -1);
    ck_assert_int_eq(sl_conf_parse_duration("-1", &v), -1);
    ck_assert_int_eq(sl_conf_parse_duration("1.5s", &v), -1);
    ck_assert_int_eq(sl_conf_parse_duration("1w", &v), -1);
    ck_assert_int_eq(sl_conf_parse_duration("1sec", &v), -1);
    ck_assert_int_eq(sl_conf_parse_duration("1 s", &v), -1);
    ck_assert_int_eq(v, 42);
    ck_assert_int_eq(sl_conf_parse_duration("2d", &v), 0);
    ck_assert_int_eq(v, 2 * 86400000LL);
}
END_TEST

static void listen_ok(const char *s, int fam, const char *addr, unsigned port)
{
    struct sl_conf_listen l;
    const char *why = NULL;
    char text[INET6_ADDRSTRLEN];
    const void *a;
    unsigned p;

    ck_assert_msg(sl_conf_parse_listen(s, &l, &why) == 0, "%s: %s", s, why);
    ck_assert_int_eq(l.addr.ss_family, fam);
    ck_assert_str_eq(l.text, s);
    if (fam == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&l.addr;
        a = &in->sin_addr;
        p = ntohs(in->sin_port);
        ck_assert_uint_eq(l.addrlen, sizeof(*in));
    } else {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&l.addr;
        a = &in6->sin6_addr;
        p = ntohs(in6->sin6_port);
        ck_assert_uint_eq(l.addrlen, sizeof(*in6));
    }
    ck_assert_ptr_nonnull(inet_ntop(fam, a, text, sizeof(text)));
    ck_assert_str_eq(text, addr);
    ck_assert_uint_eq(p, port);
}

START_TEST(test_parse_listen)
{
    static const char *const bad[] = {
        "", "0", "65536", "99999999999", "+80", "-1", "127.0.0.1",
        "127.0.0.1:", ":80", "127.0.0.1:0", "127.0.0.1:80x", "::1:3128",
        "[::1]", "[::1]3128", "[::1]:", "[::1:3128", "[1.2.3.4]:80",
        "localhost:3128", "*:3128", "1.2.3.4:80:80", "fe80::1%eth0",
        "[fe80::1%eth0]:80",
        "[0000:0000:0000:0000:0000:0000:0000:0001]:3128000000000000000000000000",
    };
    struct sl_conf_listen l;
    const char *why;
    size_t i;

    listen_ok("127.0.0.1:3128", AF_INET, "127.0.0.1", 3128);
    listen_ok("0.0.0.0:1", AF_INET, "0.0.0.0", 1);
    listen_ok("[::1]:8080", AF_INET6, "::1", 8080);
    listen_ok("[::ffff:10.0.0.1]:80", AF_INET6, "::ffff:10.0.0.1", 80);
    listen_ok("3128", AF_INET6, "::", 3128);
    listen_ok("65535", AF_INET6, "::", 65535);
    listen_ok("00080", AF_INET6, "::", 80);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why = NULL;
        ck_assert_msg(sl_conf_parse_listen(bad[i], &l, &why) == -1,
                      "accepted '%s'", bad[i]);
        ck_assert_msg(why != NULL && *why != '\0', "no reason for '%s'",
                      bad[i]);
    }
}
END_TEST

/* ------------------------------------------------------- lifetime */

START_TEST(test_refcount)
{
    struct sl_conf *c = load_ok("");

    ck_assert_int_eq(c->refs, 1);
    ck_assert_ptr_eq(sl_conf_ref(c), c);
    ck_assert_int_eq(c->refs, 2);
    sl_conf_unref(c);
    ck_assert_int_eq(c->refs, 1);
    ck_assert_str_eq(c->visible_hostname, "squidlike");     /* still alive */
    sl_conf_unref(c);                   /* freed: ASan/valgrind see misuse */
    sl_conf_unref(NULL);
    ck_assert_ptr_null(sl_conf_ref(NULL));

    /* Refused loads leave nothing behind (leak checkers watch this). */
    ck_assert_ptr_null(load_text("visible_hostname = \"x\";\npid_file = \"p\";\n"
                                 "access_log = \"a\";\nerror_log = \"e\";\n"
                                 "log_level = \"nope\";\n"));
    ck_assert_ptr_nonnull(strstr(err, ":5: bad 'log_level'"));
}
END_TEST

/* The manager group: networks and listeners, both empty by default. */
static const struct bad manager_cases[] = {
    { "manager: {\n allow_sources = [ \"10.0.0.0/33\" ]; };\n", 2,
      "bad network \"10.0.0.0/33\" in 'allow_sources': bad prefix" },
    { "manager: { listen = [\n \"nope\" ]; };\n", 2,
      "bad address \"nope\" in 'listen'" },
    { "manager: { allow = [ ]; };\n", 1, "unknown setting 'allow' in group 'manager'" },
    { "manager: { listen = \"127.0.0.1:1\"; };\n", 1, "listen" },
};
BAD_TEST(test_manager_bad, manager_cases)

START_TEST(test_manager)
{
    struct sl_conf *c = load_ok("");

    ck_assert_uint_eq(c->manager.n_allow_sources, 0);
    ck_assert_uint_eq(c->manager.n_listen, 0);
    sl_conf_unref(c);
    c = load_ok("manager: { allow_sources = [ \"10.1.0.0/16\", \"::1\" ];\n"
                "  listen = [ \"127.0.0.1:3129\", \"[::1]:3130\" ]; };\n");
    ck_assert_uint_eq(c->manager.n_allow_sources, 2);
    ck_assert_uint_eq(c->manager.n_listen, 2);
    ck_assert_str_eq(c->manager.listen[1].text, "[::1]:3130");
    /* The top-level listen list is not touched by manager.listen. */
    ck_assert_uint_eq(c->n_listen, 1);
    ck_assert_str_eq(c->listen[0].text, "127.0.0.1:3128");
    sl_conf_unref(c);
}
END_TEST

START_TEST(test_connect_port_ok)
{
    struct sl_conf *c = load_ok("access: { connect_ports = [ 443, 8443 ]; };");

    ck_assert_int_eq(sl_conf_connect_port_ok(c, 443), 1);
    ck_assert_int_eq(sl_conf_connect_port_ok(c, 8443), 1);
    ck_assert_int_eq(sl_conf_connect_port_ok(c, 80), 0);
    ck_assert_int_eq(sl_conf_connect_port_ok(c, 0), 0);
    ck_assert_int_eq(sl_conf_connect_port_ok(c, 443 + 65536), 0);
    sl_conf_unref(c);
}
END_TEST

/*
 * An @include of what libconfig cannot scan is refused with its file and
 * line (libconfig 1.5's scanner calls exit() on a directory: a reload
 * would end the daemon); includes inside includes are checked too.
 */
START_TEST(test_include_checked)
{
    char text[512], inner[256], dir[128];
    const char *mid;
    struct sl_conf *c;

    snprintf(dir, sizeof(dir), "%s/d", tmpdir);
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    write_file("good.conf", "visible_hostname = \"inc\";\n");
    snprintf(text, sizeof(text), "# a directory\n@include \"%s\"\n", dir);
    expect_error(text, 2, "not a regular file");
    snprintf(text, sizeof(text), "\n\n@include \"%s/missing.conf\"\n", tmpdir);
    expect_error(text, 3, "No such file or directory");
    snprintf(inner, sizeof(inner), "\n@include \"%s\"\n", dir);
    mid = write_file("mid.conf", inner);
    snprintf(text, sizeof(text), "@include \"%s\"\n", mid);
    ck_assert_ptr_null(load_text(text));
    ck_assert_msg(strstr(err, "mid.conf:2: @include") != NULL &&
                  strstr(err, "not a regular file") != NULL, "%s", err);
    snprintf(text, sizeof(text), "@include \"%s/good.conf\"\n", tmpdir);
    c = load_ok(text);
    ck_assert_str_eq(c->visible_hostname, "inc");
    sl_conf_unref(c);
}
END_TEST

static TCase *tc(const char *name)
{
    TCase *t = tcase_create(name);

    tcase_add_checked_fixture(t, setup, teardown);
    return t;
}

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *conf_suite(void)
{
    Suite *s = suite_create("conf");
    TCase *t;

    t = tc("good");
    tcase_add_test(t, test_sample_loads);
    tcase_add_test(t, test_empty_gives_defaults);
    tcase_add_test(t, test_defaults_equal_sample);
    tcase_add_test(t, test_package_patterns);
    tcase_add_test(t, test_include_checked);
    tcase_add_test(t, test_every_setting_stored);
    tcase_add_test(t, test_names_and_empty_lists);
    tcase_add_test(t, test_visible_hostname_length);
    suite_add_tcase(s, t);

    t = tc("bad");
    tcase_add_loop_test(t, test_syntax, 0, N(syntax_cases));
    tcase_add_loop_test(t, test_unknown, 0, N(unknown_cases));
    tcase_add_loop_test(t, test_wrong_type, 0, N(type_cases));
    tcase_add_loop_test(t, test_bad_size, 0, N(size_cases));
    tcase_add_loop_test(t, test_bad_duration, 0, N(duration_cases));
    tcase_add_loop_test(t, test_out_of_range, 0, N(range_cases));
    tcase_add_loop_test(t, test_bad_cidr, 0, N(cidr_cases));
    tcase_add_loop_test(t, test_bad_listen, 0, N(listen_cases));
    tcase_add_loop_test(t, test_bad_nameserver, 0, N(ns_cases));
    tcase_add_loop_test(t, test_bad_enum, 0, N(enum_cases));
    tcase_add_loop_test(t, test_bad_cache, 0, N(cache_cases));
    tcase_add_test(t, test_cache_settings);
    tcase_add_test(t, test_too_many);
    tcase_add_test(t, test_missing_file);
    tcase_add_test(t, test_include_names_file);
    tcase_add_test(t, test_small_err_buffer);
    suite_add_tcase(s, t);

    t = tc("policy");
    tcase_add_test(t, test_proxy_auth_needs_auth);
    tcase_add_test(t, test_too_many_categories);
    tcase_add_test(t, test_deny_info_failure_leaks_nothing);
    suite_add_tcase(s, t);

    t = tc("helpers");
    tcase_add_test(t, test_parse_size);
    tcase_add_test(t, test_parse_duration);
    tcase_add_test(t, test_parse_listen);
    tcase_add_test(t, test_refcount);
    tcase_add_test(t, test_connect_port_ok);
    tcase_add_test(t, test_manager);
    tcase_add_loop_test(t, test_manager_bad, 0,
                        sizeof(manager_cases) / sizeof(manager_cases[0]));
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(conf_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
