/*
 * check_peer.c - the live state of parent proxies (peer.h): the order the
 * allowed parents are tried in (consistent hashing of the destination:
 * the same host, the same order; only the allowed ones; ejected ones
 * last; a parent that goes away moves only its own hosts; shares follow
 * the weights), ejection and its doubling back-off, what a reload adopts.
 * Plain inputs: peers built by hand, loop time passed in.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "squidlike/peer.h"

static struct sl_conf_peers ps;

static struct sl_peers *make(size_t n, const unsigned *weights)
{
    struct sl_peers *p;
    size_t i;

    memset(&ps, 0, sizeof(ps));
    for (i = 0; i < n; i++) {
        snprintf(ps.peer[i].name, sizeof(ps.peer[i].name), "parent%zu", i);
        ps.peer[i].weight = weights ? weights[i] : 1;
        ps.peer[i].eject_ms = 1000;
        ps.peer[i].eject_max_ms = 4000;
    }
    ps.n = n;
    p = sl_peers_new(&ps);
    ck_assert_ptr_nonnull(p);
    return p;
}

static size_t order(struct sl_peers *p, const unsigned char *allowed, const char *host,
                    int64_t now, int *out, size_t *nup)
{
    return sl_peers_order(p, allowed, host, strlen(host), now, out, nup);
}

START_TEST(same_host_same_order)
{
    static const unsigned char all[4] = { 1, 1, 1, 1 };
    struct sl_peers *p = make(4, NULL);
    int a[SL_CONF_MAX_PEERS], b[SL_CONF_MAX_PEERS];
    size_t n, m, nup, i, j;
    char host[64];

    for (i = 0; i < 200; i++) {
        snprintf(host, sizeof(host), "h%zu.example", i);
        n = order(p, all, host, 0, a, &nup);
        ck_assert_uint_eq(n, 4);
        ck_assert_uint_eq(nup, 4);
        m = order(p, all, host, 0, b, &nup);
        ck_assert_uint_eq(m, 4);
        ck_assert_int_eq(memcmp(a, b, sizeof(int) * 4), 0);
        /* each parent once */
        for (j = 0; j < 4; j++)
            ck_assert(a[j] >= 0 && a[j] < 4 && a[j] != a[(j + 1) % 4] &&
                      a[j] != a[(j + 2) % 4]);
    }
    sl_peers_free(p);
}
END_TEST

START_TEST(only_allowed_and_spread_by_weight)
{
    static const unsigned w[3] = { 1, 1, 2 };
    static const unsigned char some[3] = { 1, 0, 1 };
    struct sl_peers *p = make(3, w);
    int o[SL_CONF_MAX_PEERS];
    unsigned first[3] = { 0, 0, 0 };
    size_t n, nup, i;
    char host[64];

    for (i = 0; i < 4000; i++) {
        snprintf(host, sizeof(host), "site%zu.test", i);
        n = order(p, some, host, 0, o, &nup);
        ck_assert_uint_eq(n, 2);
        ck_assert(o[0] != 1 && o[1] != 1);
        first[o[0]]++;
    }
    /* weights 1 and 2 over the two allowed: about a third and two thirds */
    ck_assert_msg(first[0] > 1000 && first[0] < 1700, "parent0 first for %u", first[0]);
    ck_assert_uint_eq(first[0] + first[2], 4000);
    sl_peers_free(p);
}
END_TEST

START_TEST(a_parent_gone_moves_only_its_hosts)
{
    static const unsigned char all[3] = { 1, 1, 1 };
    static const unsigned char two[3] = { 1, 0, 1 };
    struct sl_peers *p = make(3, NULL);
    int a[SL_CONF_MAX_PEERS], b[SL_CONF_MAX_PEERS];
    size_t nup, i;
    char host[64];

    for (i = 0; i < 1000; i++) {
        snprintf(host, sizeof(host), "x%zu.test", i);
        order(p, all, host, 0, a, &nup);
        order(p, two, host, 0, b, &nup);
        if (a[0] != 1)
            ck_assert_int_eq(a[0], b[0]);       /* not parent1's: stays */
        else
            ck_assert_int_eq(a[1], b[0]);       /* parent1's: to its next */
    }
    sl_peers_free(p);
}
END_TEST

START_TEST(ejected_last_and_doubling)
{
    static const unsigned char all[2] = { 1, 1 };
    struct sl_peers *p = make(2, NULL);
    struct sl_peer_info in;
    int o[SL_CONF_MAX_PEERS];
    size_t n, nup;

    order(p, all, "one.test", 0, o, &nup);
    ck_assert_int_eq(sl_peers_result(p, o[0], 0, 100), 1);     /* ejected */
    {
        int first = o[0];
        n = order(p, all, "one.test", 200, o, &nup);
        ck_assert_uint_eq(n, 2);
        ck_assert_uint_eq(nup, 1);
        ck_assert_int_eq(o[1], first);          /* last, still listed */
        ck_assert_int_eq(o[0], 1 - first);
        /* a failure while ejected is counted, and does not eject again */
        ck_assert_int_eq(sl_peers_result(p, first, 0, 300), 0);
        sl_peers_info(p, first, 300, &in);
        ck_assert(in.ejected && in.ejected_until_ms == 1100);
        ck_assert_uint_eq(in.failures, 2);
        ck_assert_uint_eq(in.ejections, 1);
        /* back after eject_time; failing again: twice as long, then capped */
        n = order(p, all, "one.test", 1100, o, &nup);
        ck_assert_uint_eq(nup, 2);
        ck_assert_int_eq(sl_peers_result(p, first, 0, 1100), 1);
        sl_peers_info(p, first, 1100, &in);
        ck_assert_int_eq(in.ejected_until_ms, 3100);
        ck_assert_int_eq(sl_peers_result(p, first, 0, 3100), 1);
        sl_peers_info(p, first, 3100, &in);
        ck_assert_int_eq(in.ejected_until_ms, 7100);
        ck_assert_int_eq(sl_peers_result(p, first, 0, 7100), 1);
        sl_peers_info(p, first, 7100, &in);
        ck_assert_int_eq(in.ejected_until_ms, 11100);    /* eject_max 4 s */
        /* a success ends the run: the next ejection is short again */
        sl_peers_result(p, first, 1, 11100);
        ck_assert_int_eq(sl_peers_result(p, first, 0, 11200), 1);
        sl_peers_info(p, first, 11200, &in);
        ck_assert_int_eq(in.ejected_until_ms, 12200);
    }
    sl_peers_free(p);
}
END_TEST

START_TEST(reload_adopts_by_name)
{
    static struct sl_conf_peers nps;
    struct sl_peers *old = make(2, NULL), *nw;
    struct sl_peer_info in;

    sl_peers_sent(old, 1);
    sl_peers_result(old, 1, 0, 10);
    /* the new config: parent1 first, then a new one */
    nps = ps;
    snprintf(nps.peer[0].name, sizeof(nps.peer[0].name), "parent1");
    snprintf(nps.peer[1].name, sizeof(nps.peer[1].name), "fresh");
    nw = sl_peers_new(&nps);
    ck_assert_ptr_nonnull(nw);
    sl_peers_adopt(nw, old);
    sl_peers_info(nw, 0, 20, &in);
    ck_assert(in.ejected && in.requests == 1 && in.failures == 1);
    sl_peers_info(nw, 1, 20, &in);
    ck_assert(!in.ejected && in.requests == 0 && in.failures == 0);
    sl_peers_free(nw);
    sl_peers_free(old);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("peer");
    TCase *tc = tcase_create("live");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, same_host_same_order);
    tcase_add_test(tc, only_allowed_and_spread_by_weight);
    tcase_add_test(tc, a_parent_gone_moves_only_its_hosts);
    tcase_add_test(tc, ejected_last_and_doubling);
    tcase_add_test(tc, reload_adopts_by_name);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
