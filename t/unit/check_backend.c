/*
 * check_backend.c - the live state of reverse mode's pools (backend.h):
 * in-flight counts, passive ejection and its doubling back-off, probation,
 * panic mode, health rise/fall, max_connections and the max_pending
 * queue, and what a reload's new snapshot adopts. Plain inputs: pools
 * built by hand, loop time passed in.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "squidlike/backend.h"

static struct sl_conf_rpool pools[2];
static struct sl_conf_reverse rev;

/* Pool 0 "app": n round-robin backends 10.0.0.<i+1>:80. */
static struct sl_backends *make(size_t n, unsigned eject_after, unsigned max_conn,
                                unsigned max_pending)
{
    struct sl_backends *b;
    size_t i;

    memset(pools, 0, sizeof(pools));
    memset(&rev, 0, sizeof(rev));
    snprintf(pools[0].name, sizeof(pools[0].name), "app");
    pools[0].algo = SL_PICK_WRR;
    for (i = 0; i < n; i++) {
        snprintf(pools[0].backend[i].name, sizeof(pools[0].backend[i].name),
                 "10.0.0.%zu:80", i + 1);
        pools[0].backend[i].weight = 1;
    }
    pools[0].n_backends = n;
    pools[0].health_rise = 2;
    pools[0].health_fall = 2;
    pools[0].eject_after = eject_after;
    pools[0].eject_ms = 1000;
    pools[0].eject_max_ms = 8000;
    pools[0].max_connections = max_conn;
    pools[0].max_pending = max_pending;
    rev.pools = pools;
    rev.n_pools = 1;
    b = sl_backends_new(&rev);
    ck_assert_ptr_nonnull(b);
    return b;
}

static int pick(struct sl_backends *b, int64_t now)
{
    return sl_backends_pick(b, 0, "", 0, 0, now, -1);
}

START_TEST(in_flight_counts)
{
    struct sl_backends *b = make(2, 0, 0, 0);
    struct sl_backend_info in;
    int x = pick(b, 0), y = pick(b, 0);

    ck_assert_int_ne(x, y);
    sl_backends_info(b, 0, x, 0, &in);
    ck_assert_uint_eq(in.active, 1);
    ck_assert_uint_eq(in.requests, 1);
    sl_backends_done(b, 0, x);
    sl_backends_done(b, 0, x);      /* once too often: stays at 0 */
    sl_backends_info(b, 0, x, 0, &in);
    ck_assert_uint_eq(in.active, 0);
    sl_backends_free(b);
}
END_TEST

START_TEST(ejection_doubles_and_probation)
{
    struct sl_backends *b = make(2, 2, 0, 0);
    struct sl_backend_info in;
    int k;

    /* two failures in a row eject backend 0 for 1 s */
    ck_assert_int_eq(sl_backends_result(b, 0, 0, 0, 100, -1), 0);
    ck_assert_int_eq(sl_backends_result(b, 0, 0, 0, 100, -1), 1);
    sl_backends_info(b, 0, 0, 100, &in);
    ck_assert(in.ejected);
    ck_assert_int_eq(in.ejected_until_ms, 1100);
    for (k = 0; k < 6; k++) {       /* only backend 1 meanwhile */
        int i = pick(b, 500);
        ck_assert_int_eq(i, 1);
        sl_backends_done(b, 0, i);
    }
    /* failures reported while ejected (requests already in flight) do
     * not eject it again */
    ck_assert_int_eq(sl_backends_result(b, 0, 0, 0, 600, -1), 0);
    /* back after 1 s, on probation: one failure ejects it for 2 s */
    ck_assert_int_eq(sl_backends_result(b, 0, 0, 0, 1200, -1), 1);
    sl_backends_info(b, 0, 0, 1200, &in);
    ck_assert_int_eq(in.ejected_until_ms, 3200);
    ck_assert_int_eq(sl_backends_result(b, 0, 0, 0, 3300, -1), 1);   /* 4 s */
    ck_assert_int_eq(sl_backends_result(b, 0, 0, 0, 7400, -1), 1);   /* 8 s: the max */
    ck_assert_int_eq(sl_backends_result(b, 0, 0, 0, 15500, -1), 1);  /* still 8 s */
    sl_backends_info(b, 0, 0, 15500, &in);
    ck_assert_int_eq(in.ejected_until_ms, 23500);
    ck_assert_uint_eq(in.ejections, 5);
    /* a success ends the run: two failures needed again */
    ck_assert_int_eq(sl_backends_result(b, 0, 0, 1, 24000, 500), 0);
    ck_assert_int_eq(sl_backends_result(b, 0, 0, 0, 24100, -1), 0);
    ck_assert_int_eq(sl_backends_result(b, 0, 0, 0, 24200, -1), 1);
    sl_backends_info(b, 0, 0, 24200, &in);
    ck_assert_int_eq(in.ejected_until_ms, 25200);
    ck_assert_uint_eq(in.latency.count, 1);
    sl_backends_free(b);
}
END_TEST

START_TEST(panic_mode_and_health)
{
    struct sl_backends *b = make(2, 1, 0, 0);
    int i;

    sl_backends_result(b, 0, 0, 0, 0, -1);
    sl_backends_result(b, 0, 1, 0, 0, -1);
    /* every healthy backend ejected: ejections are ignored */
    i = pick(b, 10);
    ck_assert(i == 0 || i == 1);
    sl_backends_done(b, 0, i);
    /* a backend the checks take down is never picked, panic or not */
    ck_assert_int_eq(sl_backends_health(b, 0, 0, 0, "refused", 20), 0);
    ck_assert_int_eq(sl_backends_health(b, 0, 0, 0, "refused", 30), 1);     /* fall 2 */
    for (i = 0; i < 4; i++) {
        int k = pick(b, 40);
        ck_assert_int_eq(k, 1);
        sl_backends_done(b, 0, k);
    }
    ck_assert_int_eq(sl_backends_health(b, 1, 0, 0, "x", 50), 0);  /* no pool 1 */
    sl_backends_health(b, 0, 1, 0, "refused", 50);
    sl_backends_health(b, 0, 1, 0, "refused", 60);
    ck_assert_int_eq(pick(b, 70), -SL_PICK_NONE_UP);
    /* rise 2 brings backend 0 back, and its ejection ends with it */
    ck_assert_int_eq(sl_backends_health(b, 0, 0, 1, "", 80), 0);
    ck_assert_int_eq(sl_backends_health(b, 0, 0, 1, "", 90), 1);
    ck_assert_int_eq(pick(b, 100), 0);
    sl_backends_free(b);
}
END_TEST

static int woken;
static void wake(struct sl_backend_waiter *w)
{
    (void)w;
    woken++;
}

/* Another worker's verdicts (health_shm.h) taken as this one's: a
 * backend down is not picked; up again, its ejection is forgotten as on a
 * rise of its own checks; what get gives, set takes back whole. */
START_TEST(health_verdicts_from_another_worker)
{
    struct sl_backends *b = make(2, 1, 0, 0);
    struct sl_backend_health hh, back;
    struct sl_backend_info in;
    int i;

    sl_backends_health_get(b, 0, 0, &hh);
    ck_assert_int_eq(hh.healthy, 1);
    hh.healthy = 0;
    hh.checks = 5;
    hh.check_failures = 2;
    hh.fall = 0;
    hh.rise = 1;
    hh.last_check_ms = 77;
    snprintf(hh.last_check_why, sizeof(hh.last_check_why), "status 503");
    ck_assert_int_eq(sl_backends_health_set(b, 0, 0, &hh), 1);     /* went down */
    ck_assert_int_eq(sl_backends_health_set(b, 0, 0, &hh), 0);     /* no news */
    for (i = 0; i < 10; i++) {
        int x = pick(b, 100);
        ck_assert_int_eq(x, 1);
        sl_backends_done(b, 0, x);
    }
    sl_backends_health_get(b, 0, 0, &back);
    ck_assert_mem_eq(&back, &hh, sizeof(hh));
    sl_backends_info(b, 0, 0, 100, &in);
    ck_assert_int_eq(in.healthy, 0);
    ck_assert_uint_eq(in.checks, 5);
    ck_assert_str_eq(in.last_check_why, "status 503");
    /* backend 1 ejected by a failure here; then the checker says it is up
     * (after being down): a fresh start */
    ck_assert_int_eq(sl_backends_result(b, 0, 1, 0, 100, -1), 1);
    sl_backends_health_get(b, 0, 1, &hh);
    hh.healthy = 0;
    ck_assert_int_eq(sl_backends_health_set(b, 0, 1, &hh), 1);
    hh.healthy = 1;
    ck_assert_int_eq(sl_backends_health_set(b, 0, 1, &hh), 1);
    sl_backends_info(b, 0, 1, 200, &in);
    ck_assert_int_eq(in.ejected, 0);
    ck_assert_int_eq(pick(b, 200), 1);
    /* out of range: nothing */
    ck_assert_int_eq(sl_backends_health_set(b, 0, 9, &hh), 0);
    sl_backends_health_get(b, 3, 0, &back);
    ck_assert_int_eq(back.healthy, 0);
    sl_backends_free(b);
}
END_TEST

START_TEST(max_connections_and_queue)
{
    struct sl_backends *b = make(1, 0, 2, 2);
    struct sl_backend_waiter w[3];
    int x, y;

    memset(w, 0, sizeof(w));
    w[0].wake = w[1].wake = w[2].wake = wake;
    x = pick(b, 0);
    y = pick(b, 0);
    ck_assert_int_eq(x, 0);
    ck_assert_int_eq(y, 0);
    ck_assert_int_eq(pick(b, 0), -SL_PICK_ALL_BUSY);
    ck_assert_int_eq(sl_backends_enqueue(b, 0, &w[0]), 0);
    ck_assert_int_eq(sl_backends_enqueue(b, 0, &w[0]), -1);    /* once */
    ck_assert_int_eq(sl_backends_enqueue(b, 0, &w[1]), 0);
    ck_assert_int_eq(sl_backends_enqueue(b, 0, &w[2]), -1);    /* full */
    ck_assert_uint_eq(sl_backends_pending(b, 0), 2);
    /* a slot frees: the first waiter is woken, out of the queue */
    woken = 0;
    sl_backends_done(b, 0, x);
    ck_assert_int_eq(woken, 1);
    ck_assert_int_eq(w[0].queued, 0);
    ck_assert_uint_eq(sl_backends_pending(b, 0), 1);
    /* it gives up: the next one is woken in its place */
    sl_backends_wake_next(b, 0);
    ck_assert_int_eq(woken, 2);
    ck_assert_int_eq(w[1].queued, 0);
    ck_assert_uint_eq(sl_backends_pending(b, 0), 0);
    sl_backends_dequeue(b, &w[1]);  /* not queued: no-op */
    ck_assert_uint_eq(sl_backends_pending(b, 0), 0);
    ck_assert_int_eq(sl_backends_enqueue(b, 0, &w[2]), 0);
    sl_backends_dequeue(b, &w[2]);  /* a timeout */
    ck_assert_uint_eq(sl_backends_pending(b, 0), 0);
    sl_backends_free(b);
}
END_TEST

START_TEST(reload_adopts_by_name)
{
    struct sl_backends *old = make(2, 1, 0, 0), *nb;
    static struct sl_conf_rpool npools[1];
    static struct sl_conf_reverse nrev;
    struct sl_backend_info in;

    sl_backends_result(old, 0, 1, 0, 0, -1);        /* 10.0.0.2 ejected */
    sl_backends_health(old, 0, 0, 0, "x", 0);
    memset(npools, 0, sizeof(npools));
    memset(&nrev, 0, sizeof(nrev));
    npools[0] = pools[0];
    /* the new pool: 10.0.0.2 first, then a new 10.0.0.3 */
    snprintf(npools[0].backend[0].name, sizeof(npools[0].backend[0].name), "10.0.0.2:80");
    snprintf(npools[0].backend[1].name, sizeof(npools[0].backend[1].name), "10.0.0.3:80");
    nrev.pools = npools;
    nrev.n_pools = 1;
    nb = sl_backends_new(&nrev);
    ck_assert_ptr_nonnull(nb);
    sl_backends_adopt(nb, old);
    sl_backends_info(nb, 0, 0, 10, &in);
    ck_assert(in.ejected);
    ck_assert_uint_eq(in.failures, 1);
    sl_backends_info(nb, 0, 1, 10, &in);
    ck_assert(!in.ejected && in.healthy && in.requests == 0);
    sl_backends_free(nb);
    sl_backends_free(old);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("backend");
    TCase *tc = tcase_create("live");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, in_flight_counts);
    tcase_add_test(tc, ejection_doubles_and_probation);
    tcase_add_test(tc, panic_mode_and_health);
    tcase_add_test(tc, max_connections_and_queue);
    tcase_add_test(tc, health_verdicts_from_another_worker);
    tcase_add_test(tc, reload_adopts_by_name);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
