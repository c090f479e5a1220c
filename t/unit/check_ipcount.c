/*
 * check_ipcount.c - connections per client address (squidlike/ipcount.h):
 * counts per address with IPv4-mapped IPv6 as IPv4, entries that stay
 * put while counted (clients hold pointers to them), a full reach that
 * counts nothing rather than another address, and the sum over other
 * workers' tables.
 */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "squidlike/ipcount.h"

static struct sockaddr_storage v4(const char *ip)
{
    struct sockaddr_storage ss;
    struct sockaddr_in *s = (struct sockaddr_in *)&ss;

    memset(&ss, 0, sizeof(ss));
    s->sin_family = AF_INET;
    ck_assert_int_eq(inet_pton(AF_INET, ip, &s->sin_addr), 1);
    return ss;
}

static struct sockaddr_storage v6(const char *ip)
{
    struct sockaddr_storage ss;
    struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;

    memset(&ss, 0, sizeof(ss));
    s->sin6_family = AF_INET6;
    ck_assert_int_eq(inet_pton(AF_INET6, ip, &s->sin6_addr), 1);
    return ss;
}

#define SA(x) ((const struct sockaddr *)&(x))

START_TEST(counts_per_address)
{
    struct sl_ipcounts *t = calloc(1, sizeof(*t));
    struct sockaddr_storage a = v4("192.0.2.1"), b = v4("192.0.2.2"),
                            m = v6("::ffff:192.0.2.1"), c = v6("2001:db8::1");
    struct sl_ipcount *ea, *ea2, *em, *eb, *ec;

    ck_assert_ptr_nonnull(t);
    ea = sl_ipcounts_add(t, SA(a));
    ea2 = sl_ipcounts_add(t, SA(a));
    em = sl_ipcounts_add(t, SA(m));     /* the same client */
    eb = sl_ipcounts_add(t, SA(b));
    ec = sl_ipcounts_add(t, SA(c));
    ck_assert_ptr_eq(ea, ea2);
    ck_assert_ptr_eq(ea, em);
    ck_assert_ptr_ne(ea, eb);
    ck_assert_uint_eq(sl_ipcount_n(ea), 3);
    ck_assert_uint_eq(sl_ipcount_n(eb), 1);
    ck_assert_uint_eq(sl_ipcount_n(ec), 1);
    sl_ipcounts_drop(t, eb);            /* b's entry is free now ... */
    sl_ipcounts_drop(t, ea);
    ck_assert_uint_eq(sl_ipcount_n(ea), 2);
    /* ... and a's is found past it, where it was */
    ck_assert_ptr_eq(sl_ipcounts_add(t, SA(a)), ea);
    ck_assert_uint_eq(sl_ipcount_n(ea), 3);
    sl_ipcounts_drop(t, NULL);          /* a no-op */
    free(t);
}
END_TEST

/* Addresses that all hash near each other fill the reach: the next one
 * is not counted (NULL), and never shares another address's entry. */
START_TEST(full_reach_counts_nothing)
{
    struct sl_ipcounts *t = calloc(1, sizeof(*t));
    struct sl_ipcount *e[SL_IPC_N + 1];
    struct sockaddr_storage a;
    char ip[32];
    size_t i, n = 0, nulls = 0;

    ck_assert_ptr_nonnull(t);
    for (i = 0; i < SL_IPC_N + 1; i++) {
        snprintf(ip, sizeof(ip), "10.%zu.%zu.%zu", (i >> 16) & 255, (i >> 8) & 255, i & 255);
        a = v4(ip);
        e[n] = sl_ipcounts_add(t, SA(a));
        if (e[n] == NULL)
            nulls++;
        else
            ck_assert_uint_eq(sl_ipcount_n(e[n++]), 1);
    }
    ck_assert_uint_gt(nulls, 0);        /* more addresses than entries */
    ck_assert_uint_le(n, SL_IPC_N);
    free(t);
}
END_TEST

START_TEST(sum_over_workers)
{
    struct sl_ipcounts *w[3];
    const struct sl_ipcounts *others[2];
    struct sockaddr_storage a = v4("198.51.100.7"), b = v4("198.51.100.8");
    struct sl_ipcount *mine;
    size_t i;

    for (i = 0; i < 3; i++) {
        w[i] = calloc(1, sizeof(*w[i]));
        ck_assert_ptr_nonnull(w[i]);
    }
    mine = sl_ipcounts_add(w[0], SA(a));
    sl_ipcounts_add(w[1], SA(a));
    sl_ipcounts_add(w[1], SA(a));
    sl_ipcounts_add(w[2], SA(b));       /* another client */
    others[0] = w[1];
    others[1] = w[2];
    ck_assert_uint_eq(sl_ipcount_total(mine, others, 2), 3);
    ck_assert_uint_eq(sl_ipcount_total(mine, others, 0), 1);
    sl_ipcounts_clear(w[1]);            /* that worker died */
    ck_assert_uint_eq(sl_ipcount_total(mine, others, 2), 1);
    for (i = 0; i < 3; i++)
        free(w[i]);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ipcount");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, counts_per_address);
    tcase_add_test(tc, full_reach_counts_nothing);
    tcase_add_test(tc, sum_over_workers);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
