/*
 * check_pac.c - the PAC writer (filters/pac.c): what it writes, what it
 * refuses to write into a JavaScript string, the spread hash, the pac
 * config group (squidlike/conf_pac.c).
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "filters/pac.h"
#include "squidlike/conf.h"

static char buf[16384];

/* Write p into buf (NUL-terminated); returns flt_pac_write's result. */
static int write_pac(const struct flt_pac *p, size_t room)
{
    struct sl_buf out = { buf, buf + room, buf, buf };
    int rc = flt_pac_write(&out, p);

    *out.last = '\0';
    return rc;
}

static int has(const char *needle)
{
    return strstr(buf, needle) != NULL;
}

START_TEST(basic_output)
{
    static const char *const proxies[] = { "Proxy-A.example:3128", "10.0.0.2:8080" };
    static const char *const domains[] = { ".Corp.example", "intranet.example" };
    struct flt_pac_net nets[2];
    const char *why;
    struct flt_pac p = { proxies, 2, domains, 2, nets, 2, 1, 1, 0 };

    ck_assert_int_eq(flt_pac_net_parse("10.1.2.3/8", &nets[0], &why), 0);
    ck_assert_int_eq(flt_pac_net_parse("192.168.1.7", &nets[1], &why), 0);
    ck_assert_int_eq(write_pac(&p, sizeof(buf) - 1), 0);
    ck_assert(has("function FindProxyForURL(url, host) {"));
    ck_assert(has("if (isPlainHostName(h)) return \"DIRECT\";"));
    ck_assert(has("if (h == \"proxy-a.example\") return \"DIRECT\";"));
    ck_assert(has("if (h == \"10.0.0.2\") return \"DIRECT\";"));
    ck_assert(has("if (h == \"corp.example\" || dnsDomainIs(h, \".corp.example\")) "
                  "return \"DIRECT\";"));
    ck_assert(has("if (h == \"intranet.example\") return \"DIRECT\";"));
    ck_assert(has("isInNet(ip, \"10.0.0.0\", \"255.0.0.0\")"));
    ck_assert(has("isInNet(ip, \"192.168.1.7\", \"255.255.255.255\")"));
    ck_assert(has("return \"PROXY Proxy-A.example:3128; PROXY 10.0.0.2:8080; DIRECT\";"));
    ck_assert(!has("slHash"));

    /* No plain-name rule, no fallback, no networks: no dnsResolve either. */
    p.direct_plain = 0;
    p.direct_fallback = 0;
    p.n_nets = 0;
    ck_assert_int_eq(write_pac(&p, sizeof(buf) - 1), 0);
    ck_assert(!has("isPlainHostName"));
    ck_assert(!has("dnsResolve"));
    ck_assert(has("return \"PROXY Proxy-A.example:3128; PROXY 10.0.0.2:8080\";"));
}
END_TEST

START_TEST(spread_output)
{
    static const char *const proxies[] = { "a:3128", "[fd00::1]:3128" };
    struct flt_pac p = { proxies, 2, NULL, 0, NULL, 0, 1, 1, 1 };

    ck_assert_int_eq(write_pac(&p, sizeof(buf) - 1), 0);
    ck_assert(has("function slHash(s)"));
    ck_assert(has("0x811c9dc5"));
    ck_assert(has("0x01000193"));
    ck_assert(has("var p = [\"PROXY a:3128\", \"PROXY [fd00::1]:3128\"];"));
    ck_assert(has("if (h == \"fd00::1\") return \"DIRECT\";"));
    ck_assert(has("+ \"; DIRECT\""));
    /* One proxy: nothing to spread over. */
    p.n_proxies = 1;
    ck_assert_int_eq(write_pac(&p, sizeof(buf) - 1), 0);
    ck_assert(!has("slHash"));
    ck_assert(has("return \"PROXY a:3128; DIRECT\";"));
}
END_TEST

START_TEST(refuses_hostile_strings)
{
    static const char *const bad_proxies[] = {
        "a\":3128", "a\\b:3128", "a b:3128", "a\n:3128", "a:3128\"", "a",
        ":3128", "a:0", "a:65536", "a:12x", "a:", "[::1]", "[::1\"]:3128",
        "[]:80", "a';x:1", "a</script>:1"
    };
    static const char *const bad_domains[] = {
        "", ".", "a\"b", "a\\b", ".x\n", "a..b", "a b", "x'y", "a/b"
    };
    static const char *const good_proxies[] = { "a:1", "proxy.example:3128",
        "10.0.0.1:65535", "[::1]:3128", "under_score.example:80" };
    static const char *const good_domains[] = { ".a", "corp.example",
        ".Corp.Example", "x-y.z" };
    const char *one[1];
    struct flt_pac p = { one, 1, NULL, 0, NULL, 0, 1, 1, 0 };
    size_t i;

    for (i = 0; i < sizeof(bad_proxies) / sizeof(bad_proxies[0]); i++) {
        ck_assert_msg(flt_pac_check_proxy(bad_proxies[i]) != NULL,
                      "proxy %zu accepted", i);
        one[0] = bad_proxies[i];
        ck_assert_int_eq(write_pac(&p, sizeof(buf) - 1), -EINVAL);
    }
    for (i = 0; i < sizeof(good_proxies) / sizeof(good_proxies[0]); i++)
        ck_assert_msg(flt_pac_check_proxy(good_proxies[i]) == NULL,
                      "proxy %s refused", good_proxies[i]);
    one[0] = "a:1";
    p.domains = one + 0;
    for (i = 0; i < sizeof(bad_domains) / sizeof(bad_domains[0]); i++) {
        const char *d[1] = { bad_domains[i] };
        ck_assert_msg(flt_pac_check_domain(bad_domains[i]) != NULL,
                      "domain %zu accepted", i);
        p.domains = d;
        p.n_domains = 1;
        ck_assert_int_eq(write_pac(&p, sizeof(buf) - 1), -EINVAL);
    }
    for (i = 0; i < sizeof(good_domains) / sizeof(good_domains[0]); i++)
        ck_assert_msg(flt_pac_check_domain(good_domains[i]) == NULL,
                      "domain %s refused", good_domains[i]);
    p.n_domains = 0;
    p.n_proxies = 0;
    ck_assert_int_eq(write_pac(&p, sizeof(buf) - 1), -EINVAL);
}
END_TEST

START_TEST(nets)
{
    struct flt_pac_net n;
    const char *why;

    ck_assert_int_eq(flt_pac_net_parse("172.16.5.4/12", &n, &why), 0);
    ck_assert_uint_eq(n.addr, 0xac100000u);
    ck_assert_uint_eq(n.mask, 0xfff00000u);
    ck_assert_int_eq(flt_pac_net_parse("0.0.0.0/0", &n, &why), 0);
    ck_assert_uint_eq(n.mask, 0);
    ck_assert_int_eq(flt_pac_net_parse("::1/128", &n, &why), -1);
    ck_assert_int_eq(flt_pac_net_parse("10.0.0.0/33", &n, &why), -1);
    ck_assert_int_eq(flt_pac_net_parse("10.0.0.0/", &n, &why), -1);
    ck_assert_int_eq(flt_pac_net_parse("10.0.0.0/8x", &n, &why), -1);
    ck_assert_int_eq(flt_pac_net_parse("10.0.0\"/8", &n, &why), -1);
    ck_assert_int_eq(flt_pac_net_parse("", &n, &why), -1);
}
END_TEST

/* FNV-1a 32 reference values; lowercase first. */
START_TEST(hash)
{
    ck_assert_uint_eq(flt_pac_hash("", 0), 0x811c9dc5u);
    ck_assert_uint_eq(flt_pac_hash("a", 1), 0xe40c292cu);
    ck_assert_uint_eq(flt_pac_hash("foobar", 6), 0xbf9cf968u);
    ck_assert_uint_eq(flt_pac_hash("FooBar", 6), 0xbf9cf968u);
}
END_TEST

START_TEST(too_small)
{
    static const char *const proxies[] = { "a:3128" };
    struct flt_pac p = { proxies, 1, NULL, 0, NULL, 0, 1, 1, 0 };

    ck_assert_int_eq(write_pac(&p, 100), -ENOSPC);
}
END_TEST

/* --- the pac config group ------------------------------------------- */

static char err[512];

static struct sl_conf *load(const char *text)
{
    char path[] = "/tmp/check_pac_XXXXXX";
    int fd = mkstemp(path);
    struct sl_conf *c;

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    c = sl_conf_load(path, err, sizeof(err));
    unlink(path);
    return c;
}

START_TEST(conf_defaults)
{
    struct sl_conf *c = load("");

    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_uint_eq(c->pac.n_proxies, 0);
    ck_assert_int_eq(c->pac.direct_plain_hostnames, 1);
    ck_assert_uint_eq(c->pac.n_direct_domains, 0);
    ck_assert_uint_eq(c->pac.n_direct_networks, 5);
    ck_assert_uint_eq(c->pac.direct_networks[4].addr, 0xa9fe0000u);
    ck_assert_int_eq(c->pac.direct_fallback, 1);
    ck_assert_int_eq(c->pac.spread, 0);
    ck_assert_int_eq(c->pac.max_age, 3600000);
    sl_conf_unref(c);
}
END_TEST

/* etc/squidlike.conf states the defaults (no strings in either). */
START_TEST(conf_sample_is_default)
{
    const char *top = getenv("top_srcdir");
    char path[4096];
    struct sl_conf *s, *d = load("");

    snprintf(path, sizeof(path), "%s/etc/squidlike.conf", top && *top ? top : ".");
    s = sl_conf_load(path, err, sizeof(err));
    ck_assert_msg(s != NULL && d != NULL, "%s", err);
    ck_assert_mem_eq(&s->pac, &d->pac, sizeof(s->pac));
    sl_conf_unref(s);
    sl_conf_unref(d);
}
END_TEST

START_TEST(conf_values)
{
    struct sl_conf *c = load(
        "pac: { proxies = [ \"a:3128\", \"b:3129\" ]; direct_domains = [ \".corp.example\" ];\n"
        "  direct_networks = [ \"10.0.0.0/8\" ]; direct_plain_hostnames = false;\n"
        "  direct_fallback = false; spread = true; max_age = \"10m\"; };\n");

    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_uint_eq(c->pac.n_proxies, 2);
    ck_assert_str_eq(c->pac.proxies[1], "b:3129");
    ck_assert_uint_eq(c->pac.n_direct_domains, 1);
    ck_assert_str_eq(c->pac.direct_domains[0], ".corp.example");
    ck_assert_uint_eq(c->pac.n_direct_networks, 1);
    ck_assert_int_eq(c->pac.direct_plain_hostnames, 0);
    ck_assert_int_eq(c->pac.direct_fallback, 0);
    ck_assert_int_eq(c->pac.spread, 1);
    ck_assert_int_eq(c->pac.max_age, 600000);
    sl_conf_unref(c);
}
END_TEST

START_TEST(conf_errors)
{
    static const struct { const char *text, *msg; } bad[] = {
        { "pac: { proxies = [ \"a\\\":1\" ]; };", ":1: bad proxy" },
        { "pac: { proxies = [ \"a:1\",\n \"b\" ]; };", ":2: bad proxy" },
        { "pac: { direct_domains = [ \"x\\\\y\" ]; };", ":1: bad domain" },
        { "pac: {\n direct_networks = [ \"fc00::/7\" ]; };", ":2: bad network" },
        { "pac: { spread = 1; };", "'spread' must be true or false" },
        { "pac: { max_age = \"0s\"; };", "max_age" },
        { "pac: {\n\n colour = 1; };", ":3: unknown setting 'colour' in group 'pac'" },
        { "pac = 1;", "must be a group" },
    };
    struct sl_conf *c;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        c = load(bad[i].text);
        ck_assert_msg(c == NULL, "accepted: %s", bad[i].text);
        ck_assert_msg(strstr(err, bad[i].msg) != NULL, "%s: got \"%s\"",
                      bad[i].text, err);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pac");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, basic_output);
    tcase_add_test(tc, spread_output);
    tcase_add_test(tc, refuses_hostile_strings);
    tcase_add_test(tc, nets);
    tcase_add_test(tc, hash);
    tcase_add_test(tc, too_small);
    tcase_add_test(tc, conf_defaults);
    tcase_add_test(tc, conf_sample_is_default);
    tcase_add_test(tc, conf_values);
    tcase_add_test(tc, conf_errors);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
