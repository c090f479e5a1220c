/*
 * check_status.c - the status sampler's ring (squidlike/status.c): pushes
 * wrap after an hour of samples, and windows are the difference between
 * now and the newest sample at least that old (or the oldest there is).
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "squidlike/status.h"

static struct sl_status_ring ring;

/* A sample at t seconds with every counter at t * k. */
static struct sl_status_sample at(int64_t t, unsigned long long k)
{
    struct sl_status_sample s;

    memset(&s, 0, sizeof(s));
    s.t_ms = t * 1000;
    s.requests = (unsigned long long)t * k;
    s.hits = (unsigned long long)t * k / 2;
    s.misses = (unsigned long long)t * k / 4;
    s.hit_bytes = (unsigned long long)t * k * 100;
    return s;
}

static void setup(void)
{
    memset(&ring, 0, sizeof(ring));
}

START_TEST(empty_ring)
{
    struct sl_status_sample cur = at(10, 1), d;

    ck_assert_int_eq(sl_status_window(&ring, &cur, 300000, &d), -ENOENT);
}
END_TEST

START_TEST(short_history_uses_oldest)
{
    struct sl_status_sample s, cur, d;
    int64_t t;

    for (t = 0; t <= 60; t += 10) {
        s = at(t, 2);
        sl_status_ring_push(&ring, &s);
    }
    cur = at(65, 2);
    ck_assert_int_eq(sl_status_window(&ring, &cur, 300000, &d), 0);
    ck_assert_int_eq(d.t_ms, 65000);
    ck_assert_uint_eq(d.requests, 130);
    ck_assert_uint_eq(d.hits, 65);
}
END_TEST

START_TEST(window_picks_newest_old_enough)
{
    struct sl_status_sample s, cur, d;
    int64_t t;

    for (t = 0; t <= 1000; t += 10) {
        s = at(t, 4);
        sl_status_ring_push(&ring, &s);
    }
    cur = at(1005, 4);
    /* 300 s back from 1005 is 705: the newest sample at or before is 700 */
    ck_assert_int_eq(sl_status_window(&ring, &cur, 300000, &d), 0);
    ck_assert_int_eq(d.t_ms, 305000);
    ck_assert_uint_eq(d.requests, 4 * 305);
    ck_assert_uint_eq(d.hit_bytes, 400 * 305);
    /* a sample exactly window_ms old is the base */
    cur = at(1000, 4);
    ck_assert_int_eq(sl_status_window(&ring, &cur, 300000, &d), 0);
    ck_assert_int_eq(d.t_ms, 300000);
}
END_TEST

START_TEST(wraps_after_an_hour)
{
    struct sl_status_sample s, cur, d;
    int64_t t;

    for (t = 0; t < 10 * SL_STATUS_RING; t += 10) {
        s = at(t, 1);
        sl_status_ring_push(&ring, &s);
    }
    ck_assert_uint_eq(ring.n, SL_STATUS_RING);
    for (; t < 10 * SL_STATUS_RING + 500; t += 10) {
        s = at(t, 1);
        sl_status_ring_push(&ring, &s);
    }
    ck_assert_uint_eq(ring.n, SL_STATUS_RING);
    cur = at(t, 1);
    /* 3600 s back is no longer held: the oldest (t - 3600) is the base */
    ck_assert_int_eq(sl_status_window(&ring, &cur, 3600000, &d), 0);
    ck_assert_int_eq(d.t_ms, 3600000);
    ck_assert_uint_eq(d.requests, 3600);
    ck_assert_int_eq(sl_status_window(&ring, &cur, 7200000, &d), 0);
    ck_assert_int_eq(d.t_ms, 3600000);
}
END_TEST

START_TEST(future_samples_ignored_and_no_underflow)
{
    struct sl_status_sample s, cur, d;

    s = at(100, 1);
    sl_status_ring_push(&ring, &s);
    cur = at(50, 1);
    ck_assert_int_eq(sl_status_window(&ring, &cur, 1000, &d), -ENOENT);
    s = at(10, 1);
    sl_status_ring_push(&ring, &s);
    cur = at(20, 1);
    cur.errors = 0;
    s.errors = 5;               /* a counter lower now than then: 0, not 2^64 - 5 */
    sl_status_ring_push(&ring, &s);
    ck_assert_int_eq(sl_status_window(&ring, &cur, 1000, &d), 0);
    ck_assert_uint_eq(d.errors, 0);
    ck_assert_uint_eq(d.requests, 10);
}
END_TEST

/* The history: a point per pair of consecutive samples, the newest paired
 * with now, oldest first, cut to the span asked for; and it adds up to
 * the window over the same span. */
START_TEST(history_points)
{
    static struct sl_status_point p[SL_STATUS_RING + 1];
    struct sl_status_sample cur = at(125, 2), d;
    size_t n, i;
    unsigned long long sum = 0;
    int64_t t;

    ck_assert_uint_eq(sl_status_history(&ring, &cur, 3600000, p, SL_STATUS_RING + 1), 0);
    for (t = 0; t <= 120; t += 10) {
        struct sl_status_sample s = at(t, 2);
        sl_status_ring_push(&ring, &s);
    }
    n = sl_status_history(&ring, &cur, 3600000, p, SL_STATUS_RING + 1);
    ck_assert_uint_eq(n, 13);               /* 12 pairs, and 120 s -> now */
    for (i = 0; i < 12; i++) {
        ck_assert_int_eq(p[i].end_ms, (int64_t)(i + 1) * 10000);
        ck_assert_int_eq(p[i].span_ms, 10000);
        ck_assert_uint_eq(p[i].requests, 20);
        ck_assert_uint_eq(p[i].hits, 10);
        ck_assert_uint_eq(p[i].misses, 5);
    }
    ck_assert_int_eq(p[12].end_ms, 125000);
    ck_assert_int_eq(p[12].span_ms, 5000);
    ck_assert_uint_eq(p[12].requests, 10);
    for (i = 0; i < n; i++)
        sum += p[i].requests;
    ck_assert_int_eq(sl_status_window(&ring, &cur, 3600000, &d), 0);
    ck_assert_uint_eq(sum, d.requests);

    /* Only the pairs that end within the last 30 s: at 100, 110, 120, 125. */
    n = sl_status_history(&ring, &cur, 30000, p, SL_STATUS_RING + 1);
    ck_assert_uint_eq(n, 4);
    ck_assert_int_eq(p[0].end_ms, 100000);
    /* And never more than max. */
    ck_assert_uint_eq(sl_status_history(&ring, &cur, 3600000, p, 4), 4);
    ck_assert_int_eq(p[3].end_ms, 40000);

    /* A sample in now's millisecond with less counted than now: the pair
     * is kept (span 0), else the points would not add up. */
    {
        struct sl_status_sample s = at(125, 2);

        s.requests -= 3;
        sl_status_ring_push(&ring, &s);
        n = sl_status_history(&ring, &cur, 3600000, p, SL_STATUS_RING + 1);
        ck_assert_uint_eq(n, 14);
        ck_assert_int_eq(p[13].span_ms, 0);
        ck_assert_uint_eq(p[13].requests, 3);
        /* ... and one with nothing moved is not. */
        sl_status_ring_push(&ring, &cur);
        ck_assert_uint_eq(sl_status_history(&ring, &cur, 3600000, p, SL_STATUS_RING + 1), 14);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("status");
    TCase *tc = tcase_create("ring");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, empty_ring);
    tcase_add_test(tc, history_points);
    tcase_add_test(tc, short_history_uses_oldest);
    tcase_add_test(tc, window_picks_newest_old_enough);
    tcase_add_test(tc, wraps_after_an_hour);
    tcase_add_test(tc, future_samples_ignored_and_no_underflow);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
