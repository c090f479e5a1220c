/*
 * check_pick.c - the balancing algorithms of reverse mode
 * (squidlike/backend_pick.c), with plain inputs and a fixed-seed generator:
 *  - smooth WRR: nginx's interleaving, exact counts in every window of
 *    sum(weights) picks, down backends skipped, no burst after the pool
 *    changes (a stale current cannot take a run of picks);
 *  - least connections: per unit of weight, exactly, ties from start;
 *  - P2C: two distinct up backends, each pair as likely (counted over
 *    100,000 picks), the heavier of the two never taken;
 *  - the consistent-hash ring: the share of each of 3, 5, 10 equal
 *    backends over 100,000 keys, only the keys of a backend that goes down
 *    move (each to where a ring without it sends it), all come back, the
 *    weights' ratios, the same owners whatever the pool's order, the
 *    bound on its points;
 *  - sl_pick_key64: pinned values, and its top bits well mixed.
 * The measured figures (deviations, ns per pick, the ring's bytes) are
 * printed to the test's log.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "squidlike/backend_pick.h"

#define NKEYS 20000

/* splitmix64: the tests' generator, seeded per test so each is fixed. */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static unsigned rng_below(uint64_t *s, unsigned m)
{
    return (unsigned)(rng_next(s) % m);
}

/* n backends up, idle, current 0, weights w[] (all 1 when w is NULL). */
static void pool_init(struct sl_pick_backend *b, size_t n, const unsigned *w)
{
    size_t i;

    for (i = 0; i < n; i++) {
        b[i].weight = w ? w[i] : 1;
        b[i].active = 0;
        b[i].up = 1;
        b[i].current = 0;
    }
}

/* Whether |count - expected| <= 5 standard deviations of a binomial of
 * trials draws with probability p (a fixed seed: it passes or not, but a
 * correct algorithm passes with any seed). */
static int within_5sigma(long count, long trials, double p)
{
    double sd = sqrt((double)trials * p * (1 - p));

    return fabs((double)count - (double)trials * p) <= 5 * sd;
}

/* ------------------------------------------------------------------ WRR */

START_TEST(wrr_interleaves)
{
    static const unsigned w[3] = { 5, 1, 1 };
    struct sl_pick_backend b[3];
    char got[8];
    int round, k;
    size_t i;

    pool_init(b, 3, w);
    for (round = 0; round < 3; round++) {
        for (k = 0; k < 7; k++)
            got[k] = (char)('a' + sl_pick_wrr(b, 3));
        got[7] = '\0';
        ck_assert_str_eq(got, "aabacaa");
        for (i = 0; i < 3; i++)
            ck_assert_int_eq(b[i].current, 0);
    }
}
END_TEST

/*
 * From a clean start, T = sum(weights) picks take each backend exactly
 * weight times and bring every current back to 0: the state repeats, so
 * the sequence has period T and every run of T picks (not only the ones
 * starting at 0) holds the exact counts. Over fixed pools (64 x 256,
 * 64 x 1, one heavy among light ones) and 200 drawn ones.
 */
static void wrr_check_period(const unsigned *w, size_t n)
{
    struct sl_pick_backend b[64];
    long cnt[64] = { 0 }, t = 0, k;
    size_t i;

    pool_init(b, n, w);
    for (i = 0; i < n; i++)
        t += w[i];
    for (k = 0; k < t; k++) {
        int x = sl_pick_wrr(b, n);

        ck_assert(x >= 0 && (size_t)x < n);
        cnt[x]++;
    }
    for (i = 0; i < n; i++) {
        ck_assert_int_eq(cnt[i], w[i]);
        ck_assert_int_eq(b[i].current, 0);
    }
}

START_TEST(wrr_exact_windows)
{
    unsigned w[64];
    uint64_t seed = 11;
    size_t i, n;
    int pool;

    for (i = 0; i < 64; i++)
        w[i] = 256;
    wrr_check_period(w, 64);
    for (i = 0; i < 64; i++)
        w[i] = 1;
    wrr_check_period(w, 64);
    w[0] = 256;
    wrr_check_period(w, 64);
    wrr_check_period(w, 1);
    for (pool = 0; pool < 200; pool++) {
        n = 1 + rng_below(&seed, 64);
        for (i = 0; i < n; i++) {
            switch (pool % 4) {
            case 0: w[i] = 1 + rng_below(&seed, 256); break;
            case 1: w[i] = 1 + rng_below(&seed, 4); break;
            case 2: w[i] = i ? w[0] : 1 + rng_below(&seed, 256); break;
            default: w[i] = i ? 1 + rng_below(&seed, 3) : 256; break;
            }
        }
        wrr_check_period(w, n);
    }
}
END_TEST

START_TEST(wrr_down_skipped)
{
    static const unsigned w[3] = { 5, 1, 1 };
    struct sl_pick_backend b[3];
    long cnt[3] = { 0 };
    int k;

    pool_init(b, 3, w);
    b[1].up = 0;
    b[1].current = 17;          /* whatever it had: reset, not used */
    for (k = 0; k < 60; k++)
        cnt[sl_pick_wrr(b, 3)]++;
    ck_assert_int_eq(cnt[0], 50);
    ck_assert_int_eq(cnt[1], 0);
    ck_assert_int_eq(cnt[2], 10);
    ck_assert_int_eq(b[1].current, 0);
}
END_TEST

/* The longest run of one backend, and the worst prefix excess in picks
 * (|count_i - k * w_i / T|, times T to stay in integers), over k picks of
 * the up backends of b. */
static void wrr_run(struct sl_pick_backend *b, size_t n, long k,
                    long *longest, long *excess_t)
{
    long cnt[64] = { 0 }, t = 0, run = 0, j;
    int last = -1;
    size_t i;

    for (i = 0; i < n; i++)
        if (b[i].up)
            t += b[i].weight;
    *longest = 0;
    *excess_t = 0;
    for (j = 1; j <= k; j++) {
        int x = sl_pick_wrr(b, n);

        ck_assert(x >= 0 && b[x].up);
        cnt[x]++;
        run = x == last ? run + 1 : 1;
        last = x;
        if (run > *longest)
            *longest = run;
        for (i = 0; i < n; i++) {
            long e;

            if (!b[i].up)
                continue;
            e = labs(cnt[i] * t - j * (long)b[i].weight);
            if (e > *excess_t)
                *excess_t = e;
        }
    }
}

/* Run a clean {1, 256, 1} pool to the pick where b[0]'s current peaks
 * (the light ones swing by about T/3), and return that current. */
static int64_t wrr_to_peak(struct sl_pick_backend *b)
{
    static const unsigned w[3] = { 1, 256, 1 };
    int64_t peak = INT64_MIN;
    long k, at = 0;

    pool_init(b, 3, w);
    for (k = 0; k < 258; k++) {
        if (b[0].current > peak) {
            peak = b[0].current;
            at = k;
        }
        sl_pick_wrr(b, 3);
    }
    pool_init(b, 3, w);
    for (k = 0; k < at; k++)
        sl_pick_wrr(b, 3);
    ck_assert_int_eq(b[0].current, peak);
    return peak;
}

START_TEST(wrr_no_burst)
{
    struct sl_pick_backend b[3];
    long longest, excess_t;
    int64_t peak;

    /* The heavy one goes down while a light one is owed half its total:
     * T falls from 258 to 2, and the two light ones must alternate, not
     * one take ~64 picks in a row. */
    peak = wrr_to_peak(b);
    printf("wrr {1,256,1}: b0's current peaks at %lld\n", (long long)peak);
    ck_assert_int_ge(peak, 64);
    b[1].up = 0;
    wrr_run(b, 3, 40, &longest, &excess_t);
    printf("wrr: the heavy one down: longest run %ld, excess %.1f picks\n",
           longest, excess_t / 2.0);
    ck_assert_int_le(longest, 3);
    ck_assert_int_le(excess_t, 3 * 2);

    /* The light one goes down at its peak, the heavy one too while it is
     * away; when the light one comes back (T = 2 again) it is neutral. */
    wrr_to_peak(b);
    b[0].up = 0;
    wrr_run(b, 3, 1000, &longest, &excess_t);
    ck_assert_int_eq(b[0].current, 0);
    b[1].up = 0;
    wrr_run(b, 3, 10, &longest, &excess_t);
    b[0].up = 1;
    wrr_run(b, 3, 40, &longest, &excess_t);
    printf("wrr: the light one back: longest run %ld, excess %.1f picks\n",
           longest, excess_t / 2.0);
    ck_assert_int_le(longest, 3);
    ck_assert_int_le(excess_t, 3 * 2);

    /* Everyone back: the full pool is fair again within its first T. */
    b[1].up = 1;
    wrr_run(b, 3, 258 * 3, &longest, &excess_t);
    ck_assert_int_le(excess_t, 3 * 258);
}
END_TEST

/*
 * Random pools whose members go down and come back between runs: after
 * every change, over the next 2T picks, no backend is more than 3 picks
 * away from its share at any point (measured: 2.5 at worst; without the
 * clamp 12), and a down backend is never chosen.
 */
START_TEST(wrr_flapping)
{
    struct sl_pick_backend b[64];
    uint64_t seed = 23;
    long worst = 0, longest, excess_t;
    int pool, phase;
    size_t i, n;

    for (pool = 0; pool < 60; pool++) {
        n = 2 + rng_below(&seed, pool % 3 ? 6 : 30);
        pool_init(b, n, NULL);
        for (i = 0; i < n; i++)
            b[i].weight = 1 + rng_below(&seed, pool % 2 ? 256 : 6);
        for (phase = 0; phase < 30; phase++) {
            long t = 0, k = rng_below(&seed, 300);
            int flips = 1 + (int)rng_below(&seed, 3), any = 0;

            while (k--)
                sl_pick_wrr(b, n);
            while (flips--) {
                i = rng_below(&seed, (unsigned)n);
                b[i].up = !b[i].up;
            }
            for (i = 0; i < n; i++) {
                any |= b[i].up;
                t += b[i].up ? b[i].weight : 0;
            }
            if (!any) {
                ck_assert_int_eq(sl_pick_wrr(b, n), -1);
                b[0].up = 1;
                t = b[0].weight;
            }
            wrr_run(b, n, 2 * t, &longest, &excess_t);
            ck_assert_msg(excess_t <= 3 * t, "pool %d phase %d: %.2f picks off",
                          pool, phase, (double)excess_t / t);
            if (excess_t * 100 / t > worst)
                worst = excess_t * 100 / t;
        }
    }
    printf("wrr flapping: worst excess after a change %.2f picks\n",
           worst / 100.0);
}
END_TEST

START_TEST(wrr_edges)
{
    static const unsigned odd[2] = { 0, 1 }, big[2] = { 1000, 256 };
    struct sl_pick_backend b[2];
    int k;

    ck_assert_int_eq(sl_pick_wrr(NULL, 0), -1);
    pool_init(b, 1, NULL);
    b[0].weight = 7;
    for (k = 0; k < 5; k++)
        ck_assert_int_eq(sl_pick_wrr(b, 1), 0);
    ck_assert_int_eq(b[0].current, 0);
    b[0].up = 0;
    ck_assert_int_eq(sl_pick_wrr(b, 1), -1);
    pool_init(b, 2, NULL);
    b[0].up = b[1].up = 0;
    ck_assert_int_eq(sl_pick_wrr(b, 2), -1);
    /* Weights out of range count as 1 and 256. */
    pool_init(b, 2, odd);
    for (k = 0; k < 6; k++)
        ck_assert_int_eq(sl_pick_wrr(b, 2), k % 2);
    pool_init(b, 2, big);
    for (k = 0; k < 6; k++)
        ck_assert_int_eq(sl_pick_wrr(b, 2), k % 2);
}
END_TEST

/* ------------------------------------------------------- least connections */

START_TEST(leastconn_per_weight)
{
    struct sl_pick_backend b[3];

    pool_init(b, 3, NULL);
    b[0].active = 10;
    b[1].active = 10;
    b[1].weight = 2;
    b[2].active = 10;
    ck_assert_int_eq(sl_pick_leastconn(b, 3, 0), 1);
    /* 1/1 < 3/2; then 2/1 > 3/2. */
    b[0].active = 1;
    b[1].active = 3;
    b[2].active = 9;
    ck_assert_int_eq(sl_pick_leastconn(b, 3, 1), 0);
    b[0].active = 2;
    ck_assert_int_eq(sl_pick_leastconn(b, 3, 0), 1);
    /* Exact at the top of the range: (2^32 - 1) / 256 is 16777215.996,
     * just above 16777215 / 1 (a float would call these equal). */
    b[0].active = 4294967295u;
    b[0].weight = 256;
    b[1].active = 16777215u;
    b[1].weight = 1;
    b[2].up = 0;
    ck_assert_int_eq(sl_pick_leastconn(b, 3, 0), 1);
    b[1].active = 16777216u;
    ck_assert_int_eq(sl_pick_leastconn(b, 3, 1), 0);
    /* The lightest is down: the next lightest. */
    b[2].up = 1;
    b[2].active = 0;
    ck_assert_int_eq(sl_pick_leastconn(b, 3, 0), 2);
    b[2].up = 0;
    ck_assert_int_eq(sl_pick_leastconn(b, 3, 2), 0);
}
END_TEST

START_TEST(leastconn_ties_from_start)
{
    struct sl_pick_backend b[5];
    size_t s;

    pool_init(b, 5, NULL);
    for (s = 0; s < 12; s++)
        ck_assert_int_eq(sl_pick_leastconn(b, 5, s), (int)(s % 5));
    /* Equal per weight: 2/2 and 1/1. */
    b[1].weight = 2;
    b[1].active = 2;
    b[2].active = 1;
    b[3].active = 1;
    b[4].active = 1;
    b[0].active = 1;
    for (s = 0; s < 10; s++)
        ck_assert_int_eq(sl_pick_leastconn(b, 5, s), (int)(s % 5));
    /* A down one at start: the next up after it; a wrap past the end. */
    b[3].up = 0;
    ck_assert_int_eq(sl_pick_leastconn(b, 5, 3), 4);
    b[4].up = 0;
    ck_assert_int_eq(sl_pick_leastconn(b, 5, 3), 0);
    /* A lighter one wins wherever start is. */
    b[2].active = 0;
    for (s = 0; s < 5; s++)
        ck_assert_int_eq(sl_pick_leastconn(b, 5, s), 2);
}
END_TEST

START_TEST(leastconn_edges)
{
    struct sl_pick_backend b[2];

    ck_assert_int_eq(sl_pick_leastconn(NULL, 0, 0), -1);
    ck_assert_int_eq(sl_pick_leastconn(NULL, 0, 7), -1);
    pool_init(b, 2, NULL);
    ck_assert_int_eq(sl_pick_leastconn(b, 1, (size_t)-1), 0);
    b[0].up = 0;
    ck_assert_int_eq(sl_pick_leastconn(b, 1, 0), -1);
    b[1].up = 0;
    ck_assert_int_eq(sl_pick_leastconn(b, 2, 1), -1);
}
END_TEST

/* -------------------------------------------------------------------- P2C */

/* Equal loads: the first drawn wins, so each backend is taken 1/n of the
 * time. */
START_TEST(p2c_uniform)
{
    static const size_t ns[] = { 3, 10, 64 };
    struct sl_pick_backend b[64];
    uint64_t seed = 5;
    size_t t, i;

    for (t = 0; t < sizeof(ns) / sizeof(ns[0]); t++) {
        long cnt[64] = { 0 }, k;
        double worst = 0;

        pool_init(b, ns[t], NULL);
        for (k = 0; k < NKEYS; k++)
            cnt[sl_pick_p2c(b, ns[t], rng_next(&seed))]++;
        for (i = 0; i < ns[t]; i++) {
            double d = fabs(cnt[i] * (double)ns[t] / NKEYS - 1);

            ck_assert_msg(within_5sigma(cnt[i], NKEYS, 1.0 / ns[t]),
                          "n %zu: backend %zu taken %ld times", ns[t], i, cnt[i]);
            worst = d > worst ? d : worst;
        }
        printf("p2c equal loads, n %zu: worst share %.2f%% off 1/n\n",
               ns[t], 100 * worst);
    }
}
END_TEST

/*
 * Loads rising with the index: the lighter of the two drawn is the lower
 * index, so i is taken when it is drawn with one above it: probability
 * 2 (u - 1 - r) / (u (u - 1)) for the r-th of the u up backends, if every
 * pair of distinct backends is as likely. The heaviest is never taken.
 */
START_TEST(p2c_pairs)
{
    struct sl_pick_backend b[12];
    uint64_t seed = 77;
    long cnt[12] = { 0 }, k;
    size_t i, r, u = 0;

    pool_init(b, 12, NULL);
    for (i = 0; i < 12; i++)
        b[i].active = (unsigned)i;
    b[2].up = 0;
    b[7].up = 0;
    for (k = 0; k < NKEYS; k++) {
        int x = sl_pick_p2c(b, 12, rng_next(&seed));

        ck_assert(x >= 0 && b[x].up);
        cnt[x]++;
    }
    for (i = 0; i < 12; i++)
        u += b[i].up != 0;
    for (i = 0, r = 0; i < 12; i++) {
        double p;

        if (!b[i].up)
            continue;
        p = 2.0 * (double)(u - 1 - r) / (double)(u * (u - 1));
        ck_assert_msg(within_5sigma(cnt[i], NKEYS, p),
                      "rank %zu: %ld, expected %.0f", r, cnt[i], p * NKEYS);
        r++;
    }
    ck_assert_int_eq(cnt[11], 0);
}
END_TEST

START_TEST(p2c_loaded)
{
    struct sl_pick_backend b[10];
    uint64_t seed = 99;
    long cnt[10] = { 0 }, k;
    size_t i;

    /* Two up: both are drawn every time, so the lighter always wins (a
     * draw of the same one twice would sometimes give the heavier). */
    pool_init(b, 5, NULL);
    b[0].up = b[2].up = b[4].up = 0;
    b[1].active = 9;
    b[3].active = 2;
    for (k = 0; k < 10000; k++)
        ck_assert_int_eq(sl_pick_p2c(b, 5, rng_next(&seed)), 3);
    /* One of three much more loaded: never taken; the others half each. */
    pool_init(b, 3, NULL);
    b[0].active = 50;
    b[1].active = b[2].active = 1;
    for (k = 0; k < NKEYS; k++)
        cnt[sl_pick_p2c(b, 3, rng_next(&seed))]++;
    ck_assert_int_eq(cnt[0], 0);
    ck_assert(within_5sigma(cnt[1], NKEYS, 0.5));
    /* Loads per weight: 8/4 is 2/1, so all equal, uniform again. */
    pool_init(b, 10, NULL);
    for (i = 0; i < 10; i++)
        b[i].active = 2;
    b[4].weight = 4;
    b[4].active = 8;
    memset(cnt, 0, sizeof(cnt));
    for (k = 0; k < NKEYS; k++)
        cnt[sl_pick_p2c(b, 10, rng_next(&seed))]++;
    for (i = 0; i < 10; i++)
        ck_assert(within_5sigma(cnt[i], NKEYS, 0.1));
    /* One of ten loaded at 5 while the rest carry 2: taken only when it is
     * drawn twice, which cannot happen. */
    b[4].active = 20;
    memset(cnt, 0, sizeof(cnt));
    for (k = 0; k < NKEYS; k++)
        cnt[sl_pick_p2c(b, 10, rng_next(&seed))]++;
    ck_assert_int_eq(cnt[4], 0);
}
END_TEST

START_TEST(p2c_edges)
{
    static const uint64_t rnds[] = { 0, 1, 0xffffffffu, 0xffffffff00000000ULL,
                                     UINT64_MAX };
    struct sl_pick_backend b[64];
    size_t k;

    ck_assert_int_eq(sl_pick_p2c(NULL, 0, 42), -1);
    pool_init(b, 64, NULL);
    for (k = 0; k < 64; k++)
        b[k].up = 0;
    ck_assert_int_eq(sl_pick_p2c(b, 64, 42), -1);
    b[37].up = 1;
    for (k = 0; k < sizeof(rnds) / sizeof(rnds[0]); k++)
        ck_assert_int_eq(sl_pick_p2c(b, 64, rnds[k]), 37);
    ck_assert_int_eq(sl_pick_p2c(b, 1, 42), -1);
    pool_init(b, 64, NULL);
    for (k = 0; k < sizeof(rnds) / sizeof(rnds[0]); k++) {
        int x = sl_pick_p2c(b, 64, rnds[k]);

        ck_assert(x >= 0 && x < 64);
        x = sl_pick_p2c(b, 2, rnds[k]);
        ck_assert(x == 0 || x == 1);
    }
}
END_TEST

/* ----------------------------------------------------- consistent hashing */

static uint64_t keys[NKEYS];

static void keys_setup(void)
{
    char s[32];
    int i, len;

    for (i = 0; i < NKEYS; i++) {
        len = snprintf(s, sizeof(s), "/item/%d", i);
        keys[i] = sl_pick_key64(s, (size_t)len);
    }
}

struct ring {
    struct sl_pick_backend b[64];
    char name[64][40];
    const char *ids[64];
    size_t n;
    struct sl_chash *h;
};

/* n backends named "10.0.0.<i+1>:8080" (the id of a backend given by
 * address), weights w[] (all 1 when NULL), skipping the one at skip
 * (none when skip >= n): a ring without it, for comparison. */
static void ring_new(struct ring *r, size_t n, const unsigned *w, size_t skip)
{
    size_t i;

    r->n = 0;
    for (i = 0; i < n; i++) {
        if (i == skip)
            continue;
        snprintf(r->name[r->n], sizeof(r->name[r->n]), "10.0.0.%zu:8080", i + 1);
        r->ids[r->n] = r->name[r->n];
        pool_init(&r->b[r->n], 1, w ? &w[i] : NULL);
        r->n++;
    }
    r->h = sl_chash_new(r->b, r->n, r->ids);
    ck_assert_ptr_nonnull(r->h);
}

/* Each key's owner by name index (the i of "10.0.0.<i+1>"). */
static void ring_owners(const struct ring *r, int *owner)
{
    long k;

    for (k = 0; k < NKEYS; k++) {
        int x = sl_chash_pick(r->h, r->b, keys[k]);

        ck_assert(x >= 0 && (size_t)x < r->n);
        owner[k] = atoi(r->ids[x] + 7) - 1;
    }
}

static int owner0[NKEYS], owner1[NKEYS], owner2[NKEYS];

START_TEST(chash_balance)
{
    static const size_t ns[] = { 3, 5, 10 };
    struct ring r;
    size_t t, i;
    long k;

    for (t = 0; t < 3; t++) {
        long cnt[10] = { 0 };
        double worst = 0;

        ring_new(&r, ns[t], NULL, (size_t)-1);
        ring_owners(&r, owner0);
        for (k = 0; k < NKEYS; k++)
            cnt[owner0[k]]++;
        for (i = 0; i < ns[t]; i++) {
            double d = cnt[i] * (double)ns[t] / NKEYS - 1;

            worst = fabs(d) > fabs(worst) ? d : worst;
        }
        printf("chash %zu equal backends: worst share %+.1f%% of 1/N\n",
               ns[t], 100 * worst);
        ck_assert_msg(fabs(worst) <= 0.15, "n %zu: %.3f", ns[t], worst);
        sl_chash_free(r.h);
    }
}
END_TEST

/*
 * For 3, 5 and 10 equal backends, each in turn goes down: a key whose
 * owner stays up keeps it; a key of the one down goes to the owner a ring
 * built without it gives (the next up backend clockwise, since the other
 * points are the same); the share that moves is 1/N within 3 points; and
 * when it comes back every key is back with its first owner.
 */
START_TEST(chash_remap)
{
    static const size_t ns[] = { 3, 5, 10 };
    struct ring r, without;
    size_t t, d;
    long k;

    for (t = 0; t < 3; t++) {
        double worst = 0;

        ring_new(&r, ns[t], NULL, (size_t)-1);
        ring_owners(&r, owner0);
        for (d = 0; d < ns[t]; d++) {
            long moved = 0;
            double f;

            r.b[d].up = 0;
            ring_owners(&r, owner1);
            ring_new(&without, ns[t], NULL, d);
            ring_owners(&without, owner2);
            for (k = 0; k < NKEYS; k++) {
                ck_assert_int_ne(owner1[k], (int)d);
                ck_assert_int_eq(owner1[k], owner2[k]);
                if (owner0[k] != (int)d)
                    ck_assert_int_eq(owner1[k], owner0[k]);
                else
                    moved++;
            }
            f = (double)moved / NKEYS - 1.0 / (double)ns[t];
            worst = fabs(f) > fabs(worst) ? f : worst;
            ck_assert_msg(fabs(f) <= 0.03, "n %zu, %zu down: %ld moved",
                          ns[t], d, moved);
            sl_chash_free(without.h);
            r.b[d].up = 1;
            ring_owners(&r, owner1);
            ck_assert(memcmp(owner0, owner1, sizeof(owner0)) == 0);
        }
        printf("chash %zu backends, one down: moved share 1/N %+.2f points "
               "at worst\n", ns[t], 100 * worst);
        sl_chash_free(r.h);
    }
}
END_TEST

START_TEST(chash_weights)
{
    static const unsigned w1[3] = { 1, 1, 2 }, w2[2] = { 1, 3 };
    static const double s1[3] = { 0.25, 0.25, 0.5 }, s2[2] = { 0.25, 0.75 };
    struct ring r;
    long cnt[3] = { 0 }, k;
    size_t i;

    ring_new(&r, 3, w1, (size_t)-1);
    ring_owners(&r, owner0);
    for (k = 0; k < NKEYS; k++)
        cnt[owner0[k]]++;
    printf("chash weights 1,1,2: shares %.3f %.3f %.3f\n",
           (double)cnt[0] / NKEYS, (double)cnt[1] / NKEYS,
           (double)cnt[2] / NKEYS);
    for (i = 0; i < 3; i++)
        ck_assert(fabs((double)cnt[i] / NKEYS / s1[i] - 1) <= 0.15);
    sl_chash_free(r.h);
    memset(cnt, 0, sizeof(cnt));
    ring_new(&r, 2, w2, (size_t)-1);
    ring_owners(&r, owner0);
    for (k = 0; k < NKEYS; k++)
        cnt[owner0[k]]++;
    for (i = 0; i < 2; i++)
        ck_assert(fabs((double)cnt[i] / NKEYS / s2[i] - 1) <= 0.15);
    sl_chash_free(r.h);
}
END_TEST

/* The same backends in another order (with their weights) give every key
 * the same owner by name. */
START_TEST(chash_order)
{
    static const unsigned w[5] = { 1, 2, 1, 3, 1 };
    static const size_t perm[5] = { 3, 0, 4, 2, 1 };
    struct ring r, p;
    size_t i;

    ring_new(&r, 5, w, (size_t)-1);
    ring_owners(&r, owner0);
    p.n = 5;
    for (i = 0; i < 5; i++) {
        p.b[i] = r.b[perm[i]];
        p.ids[i] = r.ids[perm[i]];
    }
    p.h = sl_chash_new(p.b, p.n, p.ids);
    ck_assert_ptr_nonnull(p.h);
    ring_owners(&p, owner1);
    ck_assert(memcmp(owner0, owner1, sizeof(owner0)) == 0);
    /* And with one down in both orders. */
    r.b[3].up = 0;
    p.b[0].up = 0;
    ring_owners(&r, owner0);
    ring_owners(&p, owner1);
    ck_assert(memcmp(owner0, owner1, sizeof(owner0)) == 0);
    sl_chash_free(p.h);
    sl_chash_free(r.h);
}
END_TEST

START_TEST(chash_edges)
{
    struct sl_pick_backend b[2];
    const char *ids[2] = { "a", NULL };
    struct sl_chash *h;
    int k;

    pool_init(b, 2, NULL);
    ck_assert_int_eq(sl_chash_pick(NULL, b, 1), -1);
    ck_assert_uint_eq(sl_chash_bytes(NULL), 0);
    sl_chash_free(NULL);
    h = sl_chash_new(NULL, 0, NULL);
    ck_assert_ptr_nonnull(h);
    ck_assert_int_eq(sl_chash_pick(h, NULL, 1), -1);
    sl_chash_free(h);
    pool_init(b, 2, NULL);
    h = sl_chash_new(b, 1, ids);
    ck_assert_ptr_nonnull(h);
    ck_assert_uint_ge(sl_chash_bytes(h), 6u * SL_CHASH_POINTS);
    for (k = 0; k < 1000; k++)
        ck_assert_int_eq(sl_chash_pick(h, b, keys[k]), 0);
    ck_assert_int_eq(sl_chash_pick(h, b, 0), 0);
    ck_assert_int_eq(sl_chash_pick(h, b, UINT64_MAX), 0);
    b[0].up = 0;
    ck_assert_int_eq(sl_chash_pick(h, b, keys[0]), -1);
    sl_chash_free(h);
    errno = 0;
    ck_assert_ptr_null(sl_chash_new(b, 2, ids));
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_ptr_null(sl_chash_new(b, 2, NULL));
    ck_assert_int_eq(errno, EINVAL);
}
END_TEST

/*
 * The bound: 64 backends of weight 256 fit (32 points per unit, 2^19
 * points, 3 MiB) and still share evenly and remap exactly; 2048 of them
 * fill the ring at 1 point per unit; one more unit is refused.
 */
START_TEST(chash_bounded)
{
    static struct sl_pick_backend b[2049];
    static char names[2049][16];
    static const char *ids[2049];
    long cnt[64] = { 0 }, k;
    struct sl_chash *h;
    size_t i, bytes;
    double worst = 0;

    for (i = 0; i < 2049; i++) {
        snprintf(names[i], sizeof(names[i]), "b%zu", i);
        ids[i] = names[i];
    }
    pool_init(b, 2049, NULL);
    for (i = 0; i < 2049; i++)
        b[i].weight = 256;
    h = sl_chash_new(b, 64, ids);
    ck_assert_ptr_nonnull(h);
    bytes = sl_chash_bytes(h);
    printf("chash 64 x 256: %zu bytes\n", bytes);
    ck_assert_uint_le(bytes, 6u * SL_CHASH_MAX_POINTS + 64);
    ck_assert_uint_ge(bytes, 6u * SL_CHASH_MAX_POINTS);
    for (k = 0; k < NKEYS; k++) {
        owner0[k] = sl_chash_pick(h, b, keys[k]);
        cnt[owner0[k]]++;
    }
    for (i = 0; i < 64; i++) {
        double d = fabs(cnt[i] * 64.0 / NKEYS - 1);

        worst = d > worst ? d : worst;
    }
    printf("chash 64 x 256: worst share %.1f%% off 1/64\n", 100 * worst);
    ck_assert(worst <= 0.15);
    b[9].up = 0;
    for (k = 0; k < NKEYS; k++) {
        int x = sl_chash_pick(h, b, keys[k]);

        ck_assert_int_ne(x, 9);
        if (owner0[k] != 9)
            ck_assert_int_eq(x, owner0[k]);
    }
    b[9].up = 1;
    sl_chash_free(h);
    h = sl_chash_new(b, 2048, ids);
    ck_assert_ptr_nonnull(h);
    ck_assert_uint_le(sl_chash_bytes(h), 6u * SL_CHASH_MAX_POINTS + 64);
    sl_chash_free(h);
    errno = 0;
    ck_assert_ptr_null(sl_chash_new(b, 2049, ids));
    ck_assert_int_eq(errno, E2BIG);
}
END_TEST

/* ------------------------------------------------------------- the key */

START_TEST(key64_pinned)
{
    /* FNV-1a 64 then splitmix64's finalizer, computed apart (Python):
     * a change here remaps every key of every pool after an upgrade. */
    ck_assert_uint_eq(sl_pick_key64("", 0), 0xf52a15e9a9b5e89bULL);
    ck_assert_uint_eq(sl_pick_key64("a", 1), 0x02c0bdbf481420f8ULL);
    ck_assert_uint_eq(sl_pick_key64("10.0.0.1", 8), 0x7fb1b600f0f5c6d3ULL);
    ck_assert_uint_eq(sl_pick_key64("/index.html", 11), 0xf6ad651c57d64427ULL);
}
END_TEST

/*
 * The ring reads a key's top 32 bits: keys that differ in their last byte
 * only (addresses, numbered paths) must spread there. The top 6 bits of
 * 100,000 numbered paths fill 64 buckets evenly, and flipping any one bit
 * of an input flips each of the top 32 bits half the time.
 */
START_TEST(key64_mixed)
{
    long bucket[64] = { 0 }, flips[32] = { 0 };
    uint64_t seed = 3;
    unsigned char in[16];
    int i, j, bit, trials = 0;

    for (i = 0; i < NKEYS; i++)
        bucket[keys[i] >> 58]++;
    for (i = 0; i < 64; i++)
        ck_assert_msg(within_5sigma(bucket[i], NKEYS, 1.0 / 64),
                      "bucket %d: %ld", i, bucket[i]);
    for (i = 0; i < 200; i++) {
        uint64_t a, x;

        for (j = 0; j < 16; j++)
            in[j] = (unsigned char)rng_next(&seed);
        a = sl_pick_key64(in, sizeof(in));
        for (bit = 0; bit < 128; bit++) {
            in[bit / 8] ^= (unsigned char)(1u << (bit % 8));
            x = (sl_pick_key64(in, sizeof(in)) ^ a) >> 32;
            in[bit / 8] ^= (unsigned char)(1u << (bit % 8));
            for (j = 0; j < 32; j++)
                flips[j] += (long)((x >> j) & 1);
            trials++;
        }
    }
    for (j = 0; j < 32; j++)
        ck_assert_msg(within_5sigma(flips[j], trials, 0.5),
                      "top bit %d flipped %ld of %d", j, flips[j], trials);
}
END_TEST

/* ------------------------------------------------------------ the figures */

static double now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/*
 * ns per pick of each algorithm for 3 and 64 backends, and the ring's
 * build time and bytes: printed only (timing is the benchmark's business,
 * not a test's); the asserts are that every pick was in range.
 */
START_TEST(figures)
{
    static const size_t ns[] = { 3, 64 };
    static char names[64][16];
    static const char *ids[64];
    struct sl_pick_backend b[64];
    uint64_t seed = 1;
    long k, iters = 1000000, bad = 0;
    size_t t, i;

    for (i = 0; i < 64; i++) {
        snprintf(names[i], sizeof(names[i]), "b%zu", i);
        ids[i] = names[i];
    }
    for (t = 0; t < 2; t++) {
        size_t n = ns[t];
        struct sl_chash *h;
        double t0;

        pool_init(b, n, NULL);
        for (i = 0; i < n; i++) {
            b[i].weight = 1 + (unsigned)(i % 4);
            b[i].active = (unsigned)(i * 7 % 5);
        }
        t0 = now_ns();
        for (k = 0; k < iters; k++)
            bad += (size_t)sl_pick_wrr(b, n) >= n;
        printf("n %2zu: wrr %.1f ns", n, (now_ns() - t0) / iters);
        t0 = now_ns();
        for (k = 0; k < iters; k++)
            bad += (size_t)sl_pick_leastconn(b, n, (size_t)k) >= n;
        printf(", leastconn %.1f ns", (now_ns() - t0) / iters);
        t0 = now_ns();
        for (k = 0; k < iters; k++)
            bad += (size_t)sl_pick_p2c(b, n, rng_next(&seed)) >= n;
        printf(", p2c %.1f ns", (now_ns() - t0) / iters);
        t0 = now_ns();
        h = sl_chash_new(b, n, ids);
        ck_assert_ptr_nonnull(h);
        printf(", ring built in %.2f ms (%zu bytes)", (now_ns() - t0) / 1e6,
               sl_chash_bytes(h));
        t0 = now_ns();
        for (k = 0; k < iters; k++)
            bad += (size_t)sl_chash_pick(h, b, keys[k % NKEYS]) >= n;
        printf(", chash %.1f ns", (now_ns() - t0) / iters);
        t0 = now_ns();
        for (k = 0; k < iters; k++)
            bad += (size_t)sl_chash_pick(h, b, sl_pick_key64(&k, sizeof(k))) >= n;
        printf(", key64 + chash %.1f ns\n", (now_ns() - t0) / iters);
        sl_chash_free(h);
    }
    for (i = 0; i < 64; i++)
        b[i].weight = 256;
    {
        double t0 = now_ns();
        struct sl_chash *h = sl_chash_new(b, 64, ids);

        ck_assert_ptr_nonnull(h);
        printf("64 x 256: ring built in %.1f ms, %zu bytes\n",
               (now_ns() - t0) / 1e6, sl_chash_bytes(h));
        for (i = 0; i < 63; i++)
            b[i].up = 0;        /* the worst walk: 1 of 64 up */
        t0 = now_ns();
        for (k = 0; k < iters / 10; k++)
            bad += sl_chash_pick(h, b, keys[k % NKEYS]) != 63;
        printf("64 x 256, 63 down: chash %.1f ns\n",
               (now_ns() - t0) / (iters / 10));
        sl_chash_free(h);
    }
    fflush(stdout);
    ck_assert_int_eq(bad, 0);
}
END_TEST

START_TEST(backoff_doubles_up_to_its_bound)
{
    ck_assert_int_eq(sl_pick_backoff_ms(1000, 30000, 0), 1000);
    ck_assert_int_eq(sl_pick_backoff_ms(1000, 30000, 1), 2000);
    ck_assert_int_eq(sl_pick_backoff_ms(1000, 30000, 4), 16000);
    ck_assert_int_eq(sl_pick_backoff_ms(1000, 30000, 5), 30000);
    ck_assert_int_eq(sl_pick_backoff_ms(1000, 30000, 4000000000u), 30000);
    ck_assert_int_eq(sl_pick_backoff_ms(50000, 30000, 0), 30000);  /* a base above the bound */
    ck_assert_int_eq(sl_pick_backoff_ms(0, 30000, 3), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pick");
    TCase *wrr = tcase_create("wrr"), *lc = tcase_create("leastconn");
    TCase *p2c = tcase_create("p2c"), *ch = tcase_create("chash");
    SRunner *sr;
    int failed;

    tcase_add_test(wrr, wrr_interleaves);
    tcase_add_test(wrr, wrr_exact_windows);
    tcase_add_test(wrr, wrr_down_skipped);
    tcase_add_test(wrr, wrr_no_burst);
    tcase_add_test(wrr, wrr_flapping);
    tcase_add_test(wrr, wrr_edges);
    suite_add_tcase(s, wrr);
    tcase_add_test(lc, leastconn_per_weight);
    tcase_add_test(lc, leastconn_ties_from_start);
    tcase_add_test(lc, leastconn_edges);
    suite_add_tcase(s, lc);
    tcase_add_test(p2c, p2c_uniform);
    tcase_add_test(p2c, p2c_pairs);
    tcase_add_test(p2c, p2c_loaded);
    tcase_add_test(p2c, p2c_edges);
    suite_add_tcase(s, p2c);
    tcase_add_unchecked_fixture(ch, keys_setup, NULL);
    tcase_add_test(ch, chash_balance);
    tcase_add_test(ch, chash_remap);
    tcase_add_test(ch, chash_weights);
    tcase_add_test(ch, chash_order);
    tcase_add_test(ch, chash_edges);
    tcase_add_test(ch, chash_bounded);
    tcase_add_test(ch, key64_pinned);
    tcase_add_test(ch, key64_mixed);
    tcase_add_test(ch, figures);
    tcase_add_test(ch, backoff_doubles_up_to_its_bound);
    tcase_set_timeout(ch, 120);
    suite_add_tcase(s, ch);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
