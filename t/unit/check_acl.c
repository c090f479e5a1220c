/*
 * check_acl.c - network lists and the to_localhost guard.
 */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "acl/acl.h"

static struct sockaddr_storage addr(const char *s)
{
    struct sockaddr_storage ss;

    memset(&ss, 0, sizeof(ss));
    if (strchr(s, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        ck_assert_int_eq(inet_pton(AF_INET6, s, &a->sin6_addr), 1);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        ck_assert_int_eq(inet_pton(AF_INET, s, &a->sin_addr), 1);
    }
    return ss;
}

static int match(const char *net, const char *a)
{
    struct acl_net n;
    const char *err = NULL;
    struct sockaddr_storage ss = addr(a);

    ck_assert_msg(acl_net_parse(net, &n, &err) == 0, "%s: %s", net, err);
    return acl_net_match(&n, (struct sockaddr *)&ss);
}

START_TEST(parse_good)
{
    struct acl_net n;
    const char *err;

    ck_assert_int_eq(acl_net_parse("10.0.0.0/8", &n, &err), 0);
    ck_assert_int_eq(n.family, AF_INET);
    ck_assert_uint_eq(n.prefix, 8);
    ck_assert_int_eq(acl_net_parse("192.168.1.7", &n, &err), 0);
    ck_assert_uint_eq(n.prefix, 32);
    ck_assert_int_eq(acl_net_parse("fc00::/7", &n, &err), 0);
    ck_assert_int_eq(n.family, AF_INET6);
    ck_assert_uint_eq(n.prefix, 7);
    ck_assert_int_eq(acl_net_parse("::1", &n, &err), 0);
    ck_assert_uint_eq(n.prefix, 128);
    ck_assert_int_eq(acl_net_parse("0.0.0.0/0", &n, &err), 0);
    ck_assert_uint_eq(n.prefix, 0);
}
END_TEST

START_TEST(parse_bad)
{
    static const char *bad[] = {
        "", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/8x",
        "10.0.0.1/8",           /* host bits set: probably a typo */
        "example.com", "10.0.0", "::1/129", "/8", "10.0.0.0/ 8",
        "fc00::1/7",
    };
    struct acl_net n;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *err = NULL;
        ck_assert_msg(acl_net_parse(bad[i], &n, &err) == -1, "accepted '%s'", bad[i]);
        ck_assert_ptr_nonnull(err);
    }
}
END_TEST

START_TEST(match_v4)
{
    ck_assert(match("10.0.0.0/8", "10.255.1.2"));
    ck_assert(!match("10.0.0.0/8", "11.0.0.1"));
    ck_assert(match("172.16.0.0/12", "172.31.255.255"));
    ck_assert(!match("172.16.0.0/12", "172.32.0.0"));
    ck_assert(match("192.168.1.7", "192.168.1.7"));
    ck_assert(!match("192.168.1.7", "192.168.1.8"));
    ck_assert(match("0.0.0.0/0", "8.8.8.8"));
    /* families do not mix, except IPv4-mapped IPv6 */
    ck_assert(!match("10.0.0.0/8", "::1"));
    ck_assert(match("10.0.0.0/8", "::ffff:10.1.2.3"));
    ck_assert(!match("10.0.0.0/8", "::ffff:11.1.2.3"));
}
END_TEST

START_TEST(match_v6)
{
    ck_assert(match("fc00::/7", "fd12:3456::1"));
    ck_assert(!match("fc00::/7", "fe80::1"));
    ck_assert(match("::1", "::1"));
    ck_assert(!match("::1", "::2"));
    ck_assert(!match("fc00::/7", "10.0.0.1"));
}
END_TEST

START_TEST(list_match)
{
    struct acl_net nets[2];
    const char *err;
    struct sockaddr_storage a = addr("192.168.0.9"), b = addr("8.8.8.8");

    ck_assert_int_eq(acl_net_parse("127.0.0.0/8", &nets[0], &err), 0);
    ck_assert_int_eq(acl_net_parse("192.168.0.0/16", &nets[1], &err), 0);
    ck_assert(acl_nets_match(nets, 2, (struct sockaddr *)&a));
    ck_assert(!acl_nets_match(nets, 2, (struct sockaddr *)&b));
    ck_assert(!acl_nets_match(nets, 0, (struct sockaddr *)&a));
}
END_TEST

START_TEST(loopback)
{
    struct sockaddr_storage a;

    a = addr("127.0.0.1");
    ck_assert(acl_addr_is_loopback((struct sockaddr *)&a));
    a = addr("127.5.6.7");
    ck_assert(acl_addr_is_loopback((struct sockaddr *)&a));
    a = addr("0.0.0.0");
    ck_assert(acl_addr_is_loopback((struct sockaddr *)&a));
    a = addr("::1");
    ck_assert(acl_addr_is_loopback((struct sockaddr *)&a));
    a = addr("::");
    ck_assert(acl_addr_is_loopback((struct sockaddr *)&a));
    a = addr("::ffff:127.0.0.1");
    ck_assert(acl_addr_is_loopback((struct sockaddr *)&a));
    a = addr("10.0.0.1");
    ck_assert(!acl_addr_is_loopback((struct sockaddr *)&a));
    a = addr("::2");
    ck_assert(!acl_addr_is_loopback((struct sockaddr *)&a));
}
END_TEST

START_TEST(to_localhost)
{
    struct sockaddr_storage self[1] = { addr("198.51.100.1") };
    struct sockaddr_storage lo = addr("127.0.0.1"), me = addr("198.51.100.1"),
        me6 = addr("::ffff:198.51.100.1"), out = addr("198.51.100.2"),
        web = addr("93.184.216.34");
    const struct sockaddr *LO = (void *)&lo, *ME = (void *)&me,
        *ME6 = (void *)&me6, *OUT = (void *)&out, *WEB = (void *)&web;

    /* outsiders never reach this host's addresses by default */
    ck_assert(!acl_to_localhost_ok(ACL_TOLOCAL_LOCAL_CLIENTS, OUT, LO, self, 1));
    ck_assert(!acl_to_localhost_ok(ACL_TOLOCAL_LOCAL_CLIENTS, OUT, ME, self, 1));
    ck_assert(!acl_to_localhost_ok(ACL_TOLOCAL_LOCAL_CLIENTS, OUT, ME6, self, 1));
    ck_assert(acl_to_localhost_ok(ACL_TOLOCAL_LOCAL_CLIENTS, OUT, WEB, self, 1));
    /* clients on this host may */
    ck_assert(acl_to_localhost_ok(ACL_TOLOCAL_LOCAL_CLIENTS, LO, LO, self, 1));
    ck_assert(acl_to_localhost_ok(ACL_TOLOCAL_LOCAL_CLIENTS, ME, LO, self, 1));
    /* deny: nobody; allow: everybody */
    ck_assert(!acl_to_localhost_ok(ACL_TOLOCAL_DENY, LO, LO, self, 1));
    ck_assert(acl_to_localhost_ok(ACL_TOLOCAL_DENY, LO, WEB, self, 1));
    ck_assert(acl_to_localhost_ok(ACL_TOLOCAL_ALLOW, OUT, LO, self, 1));
}
END_TEST

START_TEST(addr_eq)
{
    struct sockaddr_storage a = addr("10.1.2.3"), b = addr("::ffff:10.1.2.3"),
        c = addr("10.1.2.4");

    ck_assert(acl_addr_eq((void *)&a, (void *)&b));
    ck_assert(!acl_addr_eq((void *)&a, (void *)&c));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("acl");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, parse_good);
    tcase_add_test(tc, parse_bad);
    tcase_add_test(tc, match_v4);
    tcase_add_test(tc, match_v6);
    tcase_add_test(tc, list_match);
    tcase_add_test(tc, loopback);
    tcase_add_test(tc, to_localhost);
    tcase_add_test(tc, addr_eq);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
