/*
 * check_metrics.c - the counters behind /metrics and the status page:
 * the latency histogram (squidlike/hist.c: buckets, subtraction,
 * quantiles), the weighted Space-Saving top-k (squidlike/top.c: exact
 * while the table has room, merging, cutting, listing, and its error
 * bounds on a long stream) and the per-transaction tables
 * (squidlike/metrics.c: sl_metrics_observe, sl_metrics_kind_of), and
 * reverse mode's families (sl_metrics_reverse, over the live state of a
 * configuration built by hand: rev_fixture.h): exact values, the format's
 * grouping and escaping, the room it announces. The rest of
 * sl_metrics_write needs a whole server and is left to the e2e tests.
 */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "squidlike/hist.h"
#include "squidlike/metrics.h"
#include "squidlike/top.h"
#include "rev_fixture.h"

/* --- hist ---------------------------------------------------------------- */

static struct sl_hist h;

static void hist_setup(void)
{
    memset(&h, 0, sizeof(h));
}

START_TEST(hist_bounds_and_labels_agree)
{
    size_t i;

    for (i = 0; i < SL_HIST_N; i++) {
        char *end;
        double v = strtod(sl_hist_le[i], &end);

        ck_assert_msg(*end == '\0', "le[%zu] \"%s\" is not a number", i, sl_hist_le[i]);
        ck_assert_msg(v == (double)sl_hist_bound_us[i] / 1e6,
                      "le[%zu] \"%s\" != %u us", i, sl_hist_le[i],
                      (unsigned)sl_hist_bound_us[i]);
        if (i > 0)
            ck_assert_uint_gt(sl_hist_bound_us[i], sl_hist_bound_us[i - 1]);
    }
    ck_assert_uint_eq(sl_hist_bound_us[0], 25);
    ck_assert_uint_eq(sl_hist_bound_us[SL_HIST_N - 1], 10000000);
}
END_TEST

START_TEST(hist_add_buckets_by_upper_bound)
{
    sl_hist_add(&h, 0);
    sl_hist_add(&h, 25);                /* a bound is inside its bucket */
    sl_hist_add(&h, 26);
    sl_hist_add(&h, -7);                /* negative counts as 0 */
    sl_hist_add(&h, 1000);
    sl_hist_add(&h, 1001);
    sl_hist_add(&h, 10000000);          /* the last bound */
    sl_hist_add(&h, 10000001);          /* past it: +Inf */
    sl_hist_add(&h, INT64_MAX);
    ck_assert_uint_eq(h.b[0], 3);
    ck_assert_uint_eq(h.b[1], 1);
    ck_assert_uint_eq(h.b[5], 1);       /* (500, 1000] */
    ck_assert_uint_eq(h.b[6], 1);       /* (1000, 2500] */
    ck_assert_uint_eq(h.b[SL_HIST_N - 1], 1);
    ck_assert_uint_eq(h.b[SL_HIST_N], 2);
    ck_assert_uint_eq(h.b[2] + h.b[3] + h.b[4] + h.b[7] + h.b[8] + h.b[9] +
                      h.b[10] + h.b[11] + h.b[12] + h.b[13] + h.b[14] +
                      h.b[15] + h.b[16], 0);
    ck_assert_uint_eq(h.count, 9);
    ck_assert_uint_eq(h.sum_us, 0ULL + 25 + 26 + 0 + 1000 + 1001 + 10000000 +
                      10000001 + (unsigned long long)INT64_MAX);
}
END_TEST

START_TEST(hist_sub_is_the_time_between)
{
    struct sl_hist before, d;
    size_t i;

    sl_hist_add(&h, 10);
    sl_hist_add(&h, 300);
    sl_hist_add(&h, 20000000);
    before = h;
    sl_hist_add(&h, 10);
    sl_hist_add(&h, 10);
    sl_hist_add(&h, 3000);
    sl_hist_add(&h, 20000000);
    memset(&d, 0xff, sizeof(d));
    sl_hist_sub(&d, &h, &before);
    ck_assert_uint_eq(d.count, 4);
    ck_assert_uint_eq(d.sum_us, 10 + 10 + 3000 + 20000000);
    for (i = 0; i <= SL_HIST_N; i++) {
        unsigned long long want = i == 0 ? 2 : i == 7 ? 1 : i == SL_HIST_N ? 1 : 0;

        ck_assert_msg(d.b[i] == want, "b[%zu] = %llu, want %llu", i, d.b[i], want);
    }
    sl_hist_sub(&d, &h, &h);
    ck_assert_uint_eq(d.count, 0);
    ck_assert_double_eq(sl_hist_quantile(&d, 0.5), -1);
}
END_TEST

START_TEST(hist_quantile_empty)
{
    ck_assert_double_eq(sl_hist_quantile(&h, 0.5), -1);
    ck_assert_double_eq(sl_hist_quantile(&h, 0.99), -1);
}
END_TEST

START_TEST(hist_quantile_interpolates)
{
    /* one value in (1000, 2500]: the median is the middle of the bucket */
    sl_hist_add(&h, 2000);
    ck_assert_double_eq_tol(sl_hist_quantile(&h, 0.5), 1750, 1e-9);
    ck_assert_double_eq_tol(sl_hist_quantile(&h, 0.9), 2350, 1e-9);
    ck_assert_double_eq_tol(sl_hist_quantile(&h, 1.0), 2500, 1e-9);

    /* the first bucket starts at 0 */
    hist_setup();
    sl_hist_add(&h, 5);
    ck_assert_double_eq_tol(sl_hist_quantile(&h, 0.5), 12.5, 1e-9);

    /* two in [0, 25], two in (100, 250], with empty buckets between */
    hist_setup();
    sl_hist_add(&h, 10);
    sl_hist_add(&h, 20);
    sl_hist_add(&h, 200);
    sl_hist_add(&h, 200);
    ck_assert_double_eq_tol(sl_hist_quantile(&h, 0.25), 12.5, 1e-9);
    ck_assert_double_eq_tol(sl_hist_quantile(&h, 0.5), 25, 1e-9);
    ck_assert_double_eq_tol(sl_hist_quantile(&h, 0.75), 175, 1e-9);
    ck_assert_double_eq_tol(sl_hist_quantile(&h, 1.0), 250, 1e-9);
    /* a rank just past the first two lands at the start of (100, 250] */
    ck_assert_double_eq_tol(sl_hist_quantile(&h, 0.5 + 1e-9), 100 + 150 * 2e-9, 1e-6);

    /* 100 values spread over three buckets: 10 / 80 / 10 */
    hist_setup();
    {
        int i;

        for (i = 0; i < 10; i++)
            sl_hist_add(&h, 40);        /* (25, 50] */
        for (i = 0; i < 80; i++)
            sl_hist_add(&h, 5000);      /* (2500, 5000] */
        for (i = 0; i < 10; i++)
            sl_hist_add(&h, 400000);    /* (250000, 500000] */
    }
    ck_assert_double_eq_tol(sl_hist_quantile(&h, 0.05), 37.5, 1e-6);
    ck_assert_double_eq_tol(sl_hist_quantile(&h, 0.5), 2500 + 2500 * (40.0 / 80), 1e-6);
    ck_assert_double_eq_tol(sl_hist_quantile(&h, 0.95), 250000 + 250000 * 0.5, 1e-6);
}
END_TEST

START_TEST(hist_quantile_inf_bucket_is_last_bound)
{
    sl_hist_add(&h, 30000000);
    ck_assert_double_eq(sl_hist_quantile(&h, 0.5), 10000000);
    ck_assert_double_eq(sl_hist_quantile(&h, 0.01), 10000000);
    sl_hist_add(&h, 10);
    /* half in [0, 25], half in +Inf */
    ck_assert_double_eq_tol(sl_hist_quantile(&h, 0.25), 12.5, 1e-9);
    ck_assert_double_eq_tol(sl_hist_quantile(&h, 0.5), 25, 1e-9);
    ck_assert_double_eq(sl_hist_quantile(&h, 0.99), 10000000);
}
END_TEST

/* --- top ----------------------------------------------------------------- */

static struct sl_top *top;

static void top_setup(void)
{
    top = calloc(1, sizeof(*top));
    ck_assert_ptr_nonnull(top);
}

static void top_teardown(void)
{
    free(top);
    top = NULL;
}

/* The entry for name (exactly as stored, case-insensitively), or NULL. */
static const struct sl_top_entry *find(const struct sl_top *t, const char *name)
{
    size_t i;

    for (i = 0; i < t->n; i++)
        if (strcasecmp(t->e[i].name, name) == 0)
            return &t->e[i];
    return NULL;
}

START_TEST(top_exact_while_room)
{
    char name[32];
    unsigned long long sum = 0;
    int i, round;

    for (round = 0; round < 3; round++)
        for (i = 0; i < SL_TOP_N; i++) {
            snprintf(name, sizeof(name), "host%d.example", i);
            sl_top_add(top, name, (unsigned long long)i + 1);
            sum += (unsigned long long)i + 1;
        }
    ck_assert_uint_eq(top->n, SL_TOP_N);
    ck_assert_uint_eq(top->total, sum);
    for (i = 0; i < SL_TOP_N; i++) {
        const struct sl_top_entry *e;

        snprintf(name, sizeof(name), "host%d.example", i);
        e = find(top, name);
        ck_assert_ptr_nonnull(e);
        ck_assert_str_eq(e->name, name);
        ck_assert_uint_eq(e->count, 3ULL * ((unsigned long long)i + 1));
        ck_assert_uint_eq(e->err, 0);
    }
}
END_TEST

START_TEST(top_merges_without_case)
{
    sl_top_add(top, "Example.COM", 3);
    sl_top_add(top, "example.com", 4);
    sl_top_add(top, "EXAMPLE.COM", 1);
    sl_top_add(top, "example.co", 10);  /* a prefix is another name */
    sl_top_add(top, "example.comm", 20);
    ck_assert_uint_eq(top->n, 3);
    ck_assert_uint_eq(top->total, 38);
    ck_assert_str_eq(top->e[0].name, "Example.COM");   /* as first seen */
    ck_assert_uint_eq(top->e[0].count, 8);
    ck_assert_uint_eq(top->e[0].err, 0);
    ck_assert_str_eq(top->e[1].name, "example.co");
    ck_assert_uint_eq(top->e[1].count, 10);
    ck_assert_str_eq(top->e[2].name, "example.comm");
    ck_assert_uint_eq(top->e[2].count, 20);
}
END_TEST

START_TEST(top_ignores_empty_and_null)
{
    sl_top_add(top, NULL, 5);
    sl_top_add(top, "", 7);
    ck_assert_uint_eq(top->n, 0);
    ck_assert_uint_eq(top->total, 0);
    sl_top_add(top, "a", 1);
    sl_top_add(top, "", 7);
    ck_assert_uint_eq(top->n, 1);
    ck_assert_uint_eq(top->total, 1);
    ck_assert_uint_eq(top->e[0].count, 1);
    /* No weight, no entry: a full table must not lose a name to it. */
    sl_top_add(top, "zero.example", 0);
    ck_assert_uint_eq(top->n, 1);
    ck_assert_str_eq(top->e[0].name, "a");
}
END_TEST

START_TEST(top_cuts_long_names)
{
    char a[400], b[400], c[SL_TOP_NAME], d[SL_TOP_NAME];

    memset(a, 'a', sizeof(a) - 1);
    a[sizeof(a) - 1] = '\0';
    memcpy(b, a, sizeof(b));
    b[300] = 'B';                        /* differs only past the cut */
    memset(c, 'A', SL_TOP_NAME - 1);     /* exactly the kept length */
    c[SL_TOP_NAME - 1] = '\0';
    memset(d, 'a', SL_TOP_NAME - 2);     /* one shorter: another name */
    d[SL_TOP_NAME - 2] = '\0';

    sl_top_add(top, a, 1);
    ck_assert_uint_eq(top->n, 1);
    ck_assert_uint_eq(strlen(top->e[0].name), SL_TOP_NAME - 1);
    ck_assert_int_eq(strncmp(top->e[0].name, a, SL_TOP_NAME - 1), 0);
    sl_top_add(top, b, 2);
    sl_top_add(top, c, 4);
    ck_assert_uint_eq(top->n, 1);
    ck_assert_uint_eq(top->e[0].count, 7);
    sl_top_add(top, d, 8);
    ck_assert_uint_eq(top->n, 2);
    ck_assert_uint_eq(strlen(top->e[1].name), SL_TOP_NAME - 2);
    ck_assert_uint_eq(top->e[1].count, 8);
    ck_assert_uint_eq(top->e[0].count, 7);
    ck_assert_uint_eq(top->total, 15);
}
END_TEST

/* Two workers' tables add up: shared names sum (count and err), the
 * others keep their weights, the total is both totals; a full table
 * gives the lightest entry's place to a heavier newcomer (as sl_top_add:
 * the error grows by what it inherits), and ignores a lighter one. */
START_TEST(top_merge_adds_workers_up)
{
    struct sl_top *b = calloc(1, sizeof(*b));
    const struct sl_top_entry *e;
    char name[32];
    int i;

    ck_assert_ptr_nonnull(b);
    sl_top_add(top, "a.example", 5);
    sl_top_add(top, "b.example", 2);
    sl_top_add(b, "A.example", 7);
    sl_top_add(b, "c.example", 1);
    sl_top_merge(top, b);
    ck_assert_uint_eq(top->total, 15);
    ck_assert_uint_eq(top->n, 3);
    e = find(top, "a.example");
    ck_assert_ptr_nonnull(e);
    ck_assert_uint_eq(e->count, 12);
    ck_assert_uint_eq(e->err, 0);
    ck_assert_uint_eq(find(top, "b.example")->count, 2);
    ck_assert_uint_eq(find(top, "c.example")->count, 1);

    /* Fill top: the merge of a heavy new name replaces the lightest. */
    memset(top, 0, sizeof(*top));
    for (i = 0; i < SL_TOP_N; i++) {
        snprintf(name, sizeof(name), "n%d.example", i);
        sl_top_add(top, name, (unsigned long long)i + 10);
    }
    memset(b, 0, sizeof(*b));
    sl_top_add(b, "heavy.example", 100);
    sl_top_add(b, "light.example", 3);
    sl_top_merge(top, b);
    ck_assert_uint_eq(top->n, SL_TOP_N);
    ck_assert_ptr_null(find(top, "n0.example"));    /* the lightest, 10 */
    e = find(top, "heavy.example");
    ck_assert_ptr_nonnull(e);
    ck_assert_uint_eq(e->count, 110);
    ck_assert_uint_eq(e->err, 10);
    ck_assert_ptr_null(find(top, "light.example"));
    /* A name written without its terminator (read as another process
     * writes it) is read within bounds. */
    memset(b, 0, sizeof(*b));
    b->n = 1;
    b->total = 1;
    b->e[0].count = 1000;
    memset(b->e[0].name, 'x', sizeof(b->e[0].name));
    sl_top_merge(top, b);
    for (i = 0; i < (int)top->n; i++)
        ck_assert_uint_lt(strlen(top->e[i].name), SL_TOP_NAME);
    free(b);
}
END_TEST

START_TEST(top_list_heaviest_first)
{
    static const struct { const char *name; unsigned long long w; } in[] = {
        { "e.example", 5 }, { "b.example", 1 }, { "i.example", 9 },
        { "c.example", 3 }, { "g.example", 7 }, { "f.example", 6 },
    };
    const struct sl_top_entry *out[SL_TOP_N];
    size_t i, n;

    ck_assert_uint_eq(sl_top_list(top, out, 10), 0);
    for (i = 0; i < sizeof(in) / sizeof(in[0]); i++)
        sl_top_add(top, in[i].name, in[i].w);
    sl_top_add(top, "B.example", 3);    /* b: 1 + 3 = 4 */

    n = sl_top_list(top, out, 3);
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(out[0]->name, "i.example");
    ck_assert_str_eq(out[1]->name, "g.example");
    ck_assert_str_eq(out[2]->name, "f.example");

    n = sl_top_list(top, out, SL_TOP_N);
    ck_assert_uint_eq(n, 6);
    ck_assert_uint_eq(out[0]->count, 9);
    ck_assert_uint_eq(out[1]->count, 7);
    ck_assert_uint_eq(out[2]->count, 6);
    ck_assert_uint_eq(out[3]->count, 5);
    ck_assert_uint_eq(out[4]->count, 4);
    ck_assert_str_eq(out[4]->name, "b.example");
    ck_assert_uint_eq(out[5]->count, 3);

    n = sl_top_list(top, out, 1);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(out[0]->name, "i.example");
}
END_TEST

/* k == 0 asks for nothing: it must not look at out at all. */
START_TEST(top_list_k_zero)
{
    const struct sl_top_entry *out[2] = { NULL, NULL };

    sl_top_add(top, "a.example", 1);
    sl_top_add(top, "b.example", 2);
    ck_assert_uint_eq(sl_top_list(top, out + 1, 0), 0);
    ck_assert_ptr_null(out[0]);
    ck_assert_ptr_null(out[1]);
}
END_TEST

/* A fixed-seed LCG (Knuth's MMIX constants), top 31 bits. */
static uint64_t lcg_state;

static uint32_t lcg(void)
{
    lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(lcg_state >> 33);
}

#define NLIGHT 5000
#define NHEAVY 4
#define NEVENTS 100000

/* The index of name in the stream's true counts: light names "nNNNN.example"
 * (any case) are 0..NLIGHT-1, heavy "heavyK.example" are NLIGHT + K. */
static int stream_index(const char *name)
{
    if (strncasecmp(name, "heavy", 5) == 0)
        return NLIGHT + atoi(name + 5);
    if (name[0] == 'n' || name[0] == 'N')
        return atoi(name + 1);
    return -1;
}

START_TEST(top_space_saving_bounds)
{
    static unsigned long long truth[NLIGHT + NHEAVY];
    const struct sl_top_entry *out[SL_TOP_N];
    unsigned long long sum = 0, counts = 0;
    char name[64];
    size_t i, n;
    int ev, k;

    memset(truth, 0, sizeof(truth));
    lcg_state = 42;
    for (ev = 0; ev < NEVENTS; ev++) {
        uint32_t r = lcg();
        unsigned long long w = 1 + (r >> 8) % 7;
        int idx;

        if (r % 100 < 30) {
            /* heavy names take 30% of events, shared 4:3:2:1 */
            uint32_t p = (r >> 12) % 10;

            k = p < 4 ? 0 : p < 7 ? 1 : p < 9 ? 2 : 3;
            snprintf(name, sizeof(name), (r >> 20) & 1 ? "HEAVY%d.Example" : "heavy%d.example", k);
            idx = NLIGHT + k;
        } else {
            idx = (int)((r >> 4) % NLIGHT);
            snprintf(name, sizeof(name), (r >> 24) & 1 ? "N%04d.EXAMPLE" : "n%04d.example", idx);
        }
        ck_assert_int_eq(stream_index(name), idx);
        sl_top_add(top, name, w);
        truth[idx] += w;
        sum += w;
    }

    ck_assert_uint_eq(top->total, sum);
    ck_assert_uint_eq(top->n, SL_TOP_N);
    for (i = 0; i < top->n; i++) {
        const struct sl_top_entry *e = &top->e[i];
        int idx = stream_index(e->name);

        ck_assert_msg(idx >= 0 && idx < NLIGHT + NHEAVY, "odd name %s", e->name);
        ck_assert_msg(e->err <= e->count, "%s: err %llu > count %llu", e->name, e->err, e->count);
        ck_assert_msg(e->count - e->err <= truth[idx] && truth[idx] <= e->count,
                      "%s: count %llu err %llu, true %llu", e->name, e->count,
                      e->err, truth[idx]);
        counts += e->count;
    }
    /* every weight went to exactly one entry's count */
    ck_assert_uint_eq(counts, sum);
    for (k = 0; k < NHEAVY; k++) {
        snprintf(name, sizeof(name), "heavy%d.example", k);
        ck_assert_msg(truth[NLIGHT + k] > sum / SL_TOP_N, "stream too light: %s", name);
        ck_assert_msg(find(top, name) != NULL, "%s (%llu of %llu) missing", name,
                      truth[NLIGHT + k], sum);
    }
    n = sl_top_list(top, out, SL_TOP_N);
    ck_assert_uint_eq(n, SL_TOP_N);
    for (i = 1; i < n; i++)
        ck_assert_uint_ge(out[i - 1]->count, out[i]->count);
    /* the four heavy ones lead, in their true order */
    for (k = 0; k < NHEAVY; k++)
        ck_assert_int_eq(stream_index(out[k]->name), NLIGHT + k);
}
END_TEST

/* --- metrics ------------------------------------------------------------- */

/* Rows and columns as metrics.c orders them (the order on the page). */
#define ROW_TCP_HIT 0
#define ROW_TCP_MISS 5
#define ROW_TCP_DENIED 9
#define ROW_OTHER (SL_METRICS_NCODES - 1)
#define COL_GET 0
#define COL_POST 2
#define COL_CONNECT 5
#define COL_OTHER (SL_METRICS_NMETHODS - 1)

static struct sl_metrics *m;

static void metrics_setup(void)
{
    m = calloc(1, sizeof(*m));
    ck_assert_ptr_nonnull(m);
}

static void metrics_teardown(void)
{
    free(m);
    m = NULL;
}

static void observe(const char *code, const char *method, int64_t us,
                    unsigned long long bytes, const char *host, int blocked,
                    const char *category)
{
    struct sl_metrics_txn x = {
        .code = code, .method = method, .elapsed_us = us, .bytes = bytes,
        .host = host, .blocked = blocked, .category = category
    };

    sl_metrics_observe(m, &x);
}

static unsigned long long requests_sum(void)
{
    unsigned long long s = 0;
    size_t ci, a, mi;

    for (ci = 0; ci < SL_METRICS_NCODES; ci++)
        for (a = 0; a < 2; a++)
            for (mi = 0; mi < SL_METRICS_NMETHODS; mi++)
                s += m->requests[ci][a][mi];
    return s;
}

START_TEST(metrics_kind_of_codes)
{
    static const char *const hits[] = {
        "TCP_HIT", "TCP_IMS_HIT", "TCP_NEGATIVE_HIT", "TCP_REFRESH_UNMODIFIED",
        "TCP_REFRESH_FAIL_OLD", "TCP_HIT_ABORTED", "TCP_REFRESH_UNMODIFIED_ABORTED"
    };
    static const char *const misses[] = {
        "TCP_MISS", "TCP_CLIENT_REFRESH_MISS", "TCP_REFRESH_MODIFIED",
        "TCP_MISS_ABORTED", "TCP_REFRESH_MODIFIED_ABORTED"
    };
    static const char *const others[] = {
        "TCP_TUNNEL", "TCP_DENIED", "NONE", "NONE_NONE", "other", "",
        "TCP_HITS", "TCP_HI", "TCP_MISS_", "_ABORTED", "TCP_MISS_ABORTED_ABORTED",
        "TCP_TUNNEL_ABORTED", "bogus"
    };
    size_t i;

    for (i = 0; i < sizeof(hits) / sizeof(hits[0]); i++)
        ck_assert_msg(sl_metrics_kind_of(hits[i]) == SL_METRICS_HIT, "%s", hits[i]);
    for (i = 0; i < sizeof(misses) / sizeof(misses[0]); i++)
        ck_assert_msg(sl_metrics_kind_of(misses[i]) == SL_METRICS_MISS, "%s", misses[i]);
    for (i = 0; i < sizeof(others) / sizeof(others[0]); i++)
        ck_assert_msg(sl_metrics_kind_of(others[i]) == SL_METRICS_OTHER, "%s", others[i]);
}
END_TEST

START_TEST(metrics_requests_table)
{
    observe("TCP_HIT", "GET", 100, 10, "", 0, NULL);
    observe("TCP_HIT", "GET", 100, 10, "", 0, NULL);
    observe("TCP_MISS_ABORTED", "POST", 100, 10, "", 0, NULL);
    observe("TCP_MISS", "POST", 100, 10, "", 0, NULL);
    observe("TCP_TUNNEL", "CONNECT", 100, 10, "", 0, NULL);
    observe("TCP_DENIED", "PROPFIND", 100, 10, "", 0, NULL);
    observe("TCP_DENIED", "get", 100, 10, "", 0, NULL);   /* methods are case-sensitive */
    observe("SOMETHING_NEW", "GET", 100, 10, "", 0, NULL);
    observe("SOMETHING_NEW_ABORTED", "HEAD", 100, 10, "", 0, NULL);

    ck_assert_uint_eq(m->requests[ROW_TCP_HIT][0][COL_GET], 2);
    ck_assert_uint_eq(m->requests[ROW_TCP_MISS][1][COL_POST], 1);
    ck_assert_uint_eq(m->requests[ROW_TCP_MISS][0][COL_POST], 1);
    ck_assert_uint_eq(m->requests[8][0][COL_CONNECT], 1);     /* TCP_TUNNEL */
    ck_assert_uint_eq(m->requests[ROW_TCP_DENIED][0][COL_OTHER], 2);
    ck_assert_uint_eq(m->requests[ROW_OTHER][0][COL_GET], 1);
    ck_assert_uint_eq(m->requests[ROW_OTHER][1][1], 1);       /* HEAD, aborted */
    ck_assert_uint_eq(requests_sum(), 9);
}
END_TEST

START_TEST(metrics_svc_and_bytes_by_kind)
{
    observe("TCP_HIT", "GET", 30, 100, "", 0, NULL);
    observe("TCP_IMS_HIT", "GET", 30, 50, "", 0, NULL);
    observe("TCP_REFRESH_FAIL_OLD_ABORTED", "GET", 0, 7, "", 0, NULL);
    observe("TCP_MISS", "GET", 2000000, 1000, "", 0, NULL);
    observe("TCP_CLIENT_REFRESH_MISS", "GET", 20000000, 1, "", 0, NULL);
    observe("TCP_TUNNEL", "CONNECT", -5, 123456, "", 0, NULL);
    observe("NONE_NONE", "GET", 400, 0, "", 0, NULL);

    ck_assert_uint_eq(m->svc[SL_METRICS_HIT].count, 3);
    ck_assert_uint_eq(m->svc[SL_METRICS_HIT].b[0], 1);
    ck_assert_uint_eq(m->svc[SL_METRICS_HIT].b[1], 2);
    ck_assert_uint_eq(m->svc[SL_METRICS_HIT].sum_us, 60);
    ck_assert_uint_eq(m->svc[SL_METRICS_MISS].count, 2);
    ck_assert_uint_eq(m->svc[SL_METRICS_MISS].b[15], 1);     /* (1 s, 2.5 s] */
    ck_assert_uint_eq(m->svc[SL_METRICS_MISS].b[SL_HIST_N], 1);
    ck_assert_uint_eq(m->svc[SL_METRICS_MISS].sum_us, 22000000);
    ck_assert_uint_eq(m->svc[SL_METRICS_OTHER].count, 2);
    ck_assert_uint_eq(m->svc[SL_METRICS_OTHER].b[0], 1);     /* -5 counts as 0 */
    ck_assert_uint_eq(m->svc[SL_METRICS_OTHER].b[4], 1);     /* (250, 500] */
    ck_assert_uint_eq(m->svc[SL_METRICS_OTHER].sum_us, 400);
    ck_assert_uint_eq(m->bytes[SL_METRICS_HIT], 157);
    ck_assert_uint_eq(m->bytes[SL_METRICS_MISS], 1001);
    ck_assert_uint_eq(m->bytes[SL_METRICS_OTHER], 123456);
}
END_TEST

START_TEST(metrics_blocked_by_category)
{
    observe("TCP_DENIED", "GET", 1, 0, "", 0, "ads");          /* not blocked */
    ck_assert_uint_eq(m->ncats, 0);
    observe("TCP_DENIED", "GET", 1, 0, "", 1, "ads");
    observe("TCP_DENIED", "GET", 1, 0, "", 1, NULL);
    observe("TCP_DENIED", "GET", 1, 0, "", 1, "ads");
    observe("TCP_DENIED", "GET", 1, 0, "", 1, "");
    observe("TCP_DENIED", "GET", 1, 0, "", 1, "Ads");          /* another name */
    ck_assert_uint_eq(m->ncats, 3);
    ck_assert_str_eq(m->cats[0].name, "ads");
    ck_assert_uint_eq(m->cats[0].n, 2);
    ck_assert_str_eq(m->cats[1].name, "");
    ck_assert_uint_eq(m->cats[1].n, 2);
    ck_assert_str_eq(m->cats[2].name, "Ads");
    ck_assert_uint_eq(m->cats[2].n, 1);
    ck_assert_uint_eq(m->cat_other, 0);
    ck_assert_uint_eq(m->requests[ROW_TCP_DENIED][0][COL_GET], 6);
}
END_TEST

START_TEST(metrics_blocked_long_and_overflow)
{
    char longest[SL_METRICS_CAT_LEN], toolong[SL_METRICS_CAT_LEN + 1], name[16];
    size_t i;

    memset(longest, 'x', sizeof(longest) - 1);
    longest[sizeof(longest) - 1] = '\0';                     /* 63 bytes: fits */
    memset(toolong, 'x', sizeof(toolong) - 1);
    toolong[sizeof(toolong) - 1] = '\0';                     /* 64 bytes: other */

    observe("TCP_DENIED", "GET", 1, 0, "", 1, longest);
    observe("TCP_DENIED", "GET", 1, 0, "", 1, toolong);
    observe("TCP_DENIED", "GET", 1, 0, "", 1, toolong);
    ck_assert_uint_eq(m->ncats, 1);
    ck_assert_str_eq(m->cats[0].name, longest);
    ck_assert_uint_eq(m->cats[0].n, 1);
    ck_assert_uint_eq(m->cat_other, 2);

    for (i = 1; i < SL_METRICS_NCATS; i++) {
        snprintf(name, sizeof(name), "cat%zu", i);
        observe("TCP_DENIED", "GET", 1, 0, "", 1, name);
    }
    ck_assert_uint_eq(m->ncats, SL_METRICS_NCATS);
    ck_assert_uint_eq(m->cat_other, 2);
    observe("TCP_DENIED", "GET", 1, 0, "", 1, "one-too-many");
    observe("TCP_DENIED", "GET", 1, 0, "", 1, NULL);          /* "" is new too */
    ck_assert_uint_eq(m->ncats, SL_METRICS_NCATS);
    ck_assert_uint_eq(m->cat_other, 4);
    /* names already in the full table still count as themselves */
    observe("TCP_DENIED", "GET", 1, 0, "", 1, "cat31");
    observe("TCP_DENIED", "GET", 1, 0, "", 1, longest);
    ck_assert_str_eq(m->cats[SL_METRICS_NCATS - 1].name, "cat31");
    ck_assert_uint_eq(m->cats[SL_METRICS_NCATS - 1].n, 2);
    ck_assert_uint_eq(m->cats[0].n, 2);
    ck_assert_uint_eq(m->cat_other, 4);
}
END_TEST

START_TEST(metrics_top_by_host)
{
    observe("TCP_MISS", "GET", 1, 100, "a.example", 0, NULL);
    observe("TCP_HIT", "GET", 1, 50, "A.EXAMPLE", 0, NULL);
    observe("TCP_MISS", "GET", 1, 1000, "", 0, NULL);          /* no host */
    observe("TCP_MISS", "GET", 1, 1000, NULL, 0, NULL);
    observe("TCP_TUNNEL", "CONNECT", 1, 7, "b.example", 0, NULL);

    ck_assert_uint_eq(m->top_requests.n, 2);
    ck_assert_uint_eq(m->top_requests.total, 3);
    ck_assert_str_eq(m->top_requests.e[0].name, "a.example");
    ck_assert_uint_eq(m->top_requests.e[0].count, 2);
    ck_assert_str_eq(m->top_requests.e[1].name, "b.example");
    ck_assert_uint_eq(m->top_requests.e[1].count, 1);

    ck_assert_uint_eq(m->top_bytes.n, 2);
    ck_assert_uint_eq(m->top_bytes.total, 157);
    ck_assert_uint_eq(m->top_bytes.e[0].count, 150);
    ck_assert_uint_eq(m->top_bytes.e[1].count, 7);
    /* the hostless ones were still counted elsewhere */
    ck_assert_uint_eq(requests_sum(), 5);
    ck_assert_uint_eq(m->bytes[SL_METRICS_MISS], 2100);
}
END_TEST

/* --- reverse mode ------------------------------------------------------ */


/* What sl_metrics_reverse writes for b at now, as a string; its rc. */
static const char *rev_metrics(const struct sl_backends *b, int64_t now, int *rc)
{
    struct sl_bufw w = { &page, 0 };

    sl_buf_reset(&page);
    sl_metrics_reverse(&w, b, now);
    if (w.rc == 0)
        w.rc = sl_buf_append(&page, "", 1);
    *rc = w.rc;
    return page.pos;
}

/* text holds line as a whole line. */
static int has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    const char *p;

    for (p = text; (p = strstr(p, line)) != NULL; p++)
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            return 1;
    return 0;
}

#define LINE(text, ...) do {                                                \
        char l_[512];                                                       \
        snprintf(l_, sizeof(l_), __VA_ARGS__);                              \
        if (!has_line(text, l_))                                            \
            fprintf(stderr, "%s", text);                                    \
        ck_assert_msg(has_line(text, l_), "no line \"%s\" (page on stderr)", l_); \
    } while (0)

#define APP0 "pool=\"app\",backend=\"10.0.0.1:8080\""
#define APP1 "pool=\"app\",backend=\"10.0.0.2:8080\""
#define API0 "pool=\"api\",backend=\"[::1]:9000\""

START_TEST(rev_metrics_values)
{
    int rc;
    const char *t = rev_metrics(fx.rc.rt, REV_NOW, &rc);

    ck_assert_int_eq(rc, 0);
    /* 0 down, 1 ejected, the api backend up with a request in flight */
    LINE(t, "squidlike_backend_up{" APP0 "} 0");
    LINE(t, "squidlike_backend_up{" APP1 "} 0");
    LINE(t, "squidlike_backend_up{" API0 "} 1");
    LINE(t, "squidlike_backend_healthy{" APP0 "} 0");
    LINE(t, "squidlike_backend_healthy{" APP1 "} 1");
    LINE(t, "squidlike_backend_healthy{" API0 "} 1");
    LINE(t, "squidlike_backend_ejected{" APP0 "} 0");
    LINE(t, "squidlike_backend_ejected{" APP1 "} 1");
    LINE(t, "squidlike_backend_active{" API0 "} 1");
    LINE(t, "squidlike_backend_active{" APP1 "} 0");
    LINE(t, "squidlike_backend_requests_total{" APP0 "} 1");
    LINE(t, "squidlike_backend_requests_total{" APP1 "} 2");
    LINE(t, "squidlike_backend_requests_total{" API0 "} 1");
    LINE(t, "squidlike_backend_failures_total{" APP0 "} 0");
    LINE(t, "squidlike_backend_failures_total{" APP1 "} 1");
    LINE(t, "squidlike_backend_ejections_total{" APP1 "} 1");
    LINE(t, "squidlike_backend_checks_total{" APP0 "} 3");
    LINE(t, "squidlike_backend_checks_total{" APP1 "} 3");
    LINE(t, "squidlike_backend_checks_total{" API0 "} 0");
    LINE(t, "squidlike_backend_check_failures_total{" APP0 "} 1");
    LINE(t, "squidlike_backend_check_failures_total{" APP1 "} 0");
    /* latency: 800 us on 0, 3 ms on 1 (its failure has none), nothing yet
     * on the api backend; buckets are cumulative */
    LINE(t, "squidlike_backend_latency_seconds_bucket{" APP0 ",le=\"0.0005\"} 0");
    LINE(t, "squidlike_backend_latency_seconds_bucket{" APP0 ",le=\"0.001\"} 1");
    LINE(t, "squidlike_backend_latency_seconds_bucket{" APP0 ",le=\"+Inf\"} 1");
    LINE(t, "squidlike_backend_latency_seconds_sum{" APP0 "} 0.000800");
    LINE(t, "squidlike_backend_latency_seconds_count{" APP0 "} 1");
    LINE(t, "squidlike_backend_latency_seconds_bucket{" APP1 ",le=\"0.0025\"} 0");
    LINE(t, "squidlike_backend_latency_seconds_bucket{" APP1 ",le=\"0.005\"} 1");
    LINE(t, "squidlike_backend_latency_seconds_sum{" APP1 "} 0.003000");
    LINE(t, "squidlike_backend_latency_seconds_count{" APP1 "} 1");
    LINE(t, "squidlike_backend_latency_seconds_bucket{" API0 ",le=\"+Inf\"} 0");
    LINE(t, "squidlike_backend_latency_seconds_count{" API0 "} 0");
    /* routes, by index; the regex's pattern escaped as a label value */
    LINE(t, "squidlike_route_requests_total{vhost=\"www.example.com\",route=\"0\","
            "pattern=\"/api/\",pool=\"api\"} 1");
    LINE(t, "squidlike_route_requests_total{vhost=\"www.example.com\",route=\"1\","
            "pattern=\"~*^/q/\\\"<x>&\\\\\\\\\",pool=\"app\"} 0");
    LINE(t, "squidlike_route_requests_total{vhost=\"www.example.com\",route=\"2\","
            "pattern=\"/\",pool=\"app\"} 3");
    LINE(t, "squidlike_route_requests_total{vhost=\"default\",route=\"0\","
            "pattern=\"/\",pool=\"app\"} 2");
}
END_TEST

/* An ejection ends with its time: the backend is up again by itself. */
START_TEST(rev_metrics_ejection_ends)
{
    int rc;
    const char *t = rev_metrics(fx.rc.rt, 11000, &rc);

    ck_assert_int_eq(rc, 0);
    LINE(t, "squidlike_backend_ejected{" APP1 "} 0");
    LINE(t, "squidlike_backend_up{" APP1 "} 1");
    LINE(t, "squidlike_backend_ejections_total{" APP1 "} 1");
    t = rev_metrics(fx.rc.rt, 10999, &rc);
    LINE(t, "squidlike_backend_up{" APP1 "} 0");
}
END_TEST

/* Every family once, HELP before TYPE, its samples together after them
 * and named after it; the samples' count: 9 families of 3 backends, a
 * histogram of 21 lines each, 4 routes. */
START_TEST(rev_metrics_format)
{
    static const char *const fams[] = {
        "squidlike_backend_up gauge", "squidlike_backend_healthy gauge",
        "squidlike_backend_ejected gauge", "squidlike_backend_active gauge",
        "squidlike_backend_requests_total counter",
        "squidlike_backend_failures_total counter",
        "squidlike_backend_ejections_total counter",
        "squidlike_backend_checks_total counter",
        "squidlike_backend_check_failures_total counter",
        "squidlike_backend_latency_seconds histogram",
        "squidlike_route_requests_total counter",
    };
    char fam[128] = "";
    const char *t, *p, *e;
    size_t i, nfam = 0, nsamples = 0;
    int rc;

    t = rev_metrics(fx.rc.rt, REV_NOW, &rc);
    ck_assert_int_eq(rc, 0);
    for (p = t; *p; p = e + 1) {
        e = strchr(p, '\n');
        ck_assert_ptr_nonnull(e);
        ck_assert_int_gt(e - p, 0);
        if (strncmp(p, "# HELP ", 7) == 0) {
            const char *sp = strchr(p + 7, ' ');
            ck_assert_ptr_nonnull(sp);
            ck_assert_uint_lt(nfam, sizeof(fams) / sizeof(fams[0]));
            snprintf(fam, sizeof(fam), "%.*s", (int)(sp - p - 7), p + 7);
            ck_assert_int_eq(strncmp(fams[nfam], fam, strlen(fam)), 0);
            ck_assert_int_eq(fams[nfam][strlen(fam)], ' ');
            e = strchr(e + 1, '\n');    /* its TYPE line */
            ck_assert_int_eq(strncmp(strchr(p, '\n') + 1, "# TYPE ", 7), 0);
            ck_assert_int_eq(strncmp(strchr(p, '\n') + 8, fams[nfam], strlen(fams[nfam])), 0);
            nfam++;
            continue;
        }
        ck_assert_msg(fam[0] && strncmp(p, fam, strlen(fam)) == 0 &&
                      (p[strlen(fam)] == '{' || p[strlen(fam)] == '_'),
                      "%.*s outside its family %s", (int)(e - p), p, fam);
        nsamples++;
    }
    ck_assert_uint_eq(nfam, sizeof(fams) / sizeof(fams[0]));
    ck_assert_uint_eq(nsamples, 9 * 3 + 3 * (SL_HIST_N + 3) + 4);
    for (i = 0; i < sizeof(fams) / sizeof(fams[0]); i++) {
        char type[128];
        snprintf(type, sizeof(type), "# TYPE %s", fams[i]);
        ck_assert_msg(has_line(t, type), "no %s", type);
    }
    /* no live state, no rows */
    t = rev_metrics(NULL, REV_NOW, &rc);
    ck_assert_int_eq(rc, 0);
    ck_assert_str_eq(t, "");
}
END_TEST

START_TEST(rev_states)
{
    struct sl_backend_info i;

    sl_backends_info(fx.rc.rt, 0, 0, REV_NOW, &i);
    ck_assert_str_eq(sl_metrics_backend_state(&i), "down");
    sl_backends_info(fx.rc.rt, 0, 1, REV_NOW, &i);
    ck_assert_str_eq(sl_metrics_backend_state(&i), "ejected");
    sl_backends_info(fx.rc.rt, 1, 0, REV_NOW, &i);
    ck_assert_str_eq(sl_metrics_backend_state(&i), "up");
}
END_TEST

/* A route shown: nginx's notation, cut at its cap, only printable bytes. */
START_TEST(rev_route_text)
{
    char buf[SL_METRICS_ROUTE_TEXT_MAX], want[SL_METRICS_ROUTE_TEXT_MAX];
    char err[256], long_re[300];
    struct acl_routes *save = fx.rc.routes;
    struct acl_routes *r = acl_routes_new();
    static const char *const names[] = { "t.test" };

    ck_assert_str_eq(sl_metrics_route_text(&fx.rc, 0, 0, buf, sizeof(buf)), "/api/");
    ck_assert_str_eq(sl_metrics_route_text(&fx.rc, 0, 1, buf, sizeof(buf)),
                     "~*" REV_REGEX);
    ck_assert_str_eq(sl_metrics_route_text(&fx.rc, 1, 0, buf, sizeof(buf)), "/");
    ck_assert_str_eq(sl_metrics_route_text(&fx.rc, 0, 3, buf, sizeof(buf)), "");
    ck_assert_str_eq(sl_metrics_route_text(&fx.rc, 2, 0, buf, sizeof(buf)), "");

    ck_assert_int_eq(acl_routes_add_vhost(r, names, 1, 0, err, sizeof(err)), 0);
    memset(long_re, 'a', sizeof(long_re) - 1);
    long_re[sizeof(long_re) - 1] = '\0';
    ck_assert_int_eq(acl_routes_add_route(r, 0, ACL_ROUTE_REGEX, long_re, 0, NULL,
                                          err, sizeof(err)), 0);
    /* a control byte, a byte that is not UTF-8, an e acute, a euro sign
     * cut by the cap */
    memset(long_re, 'b', sizeof(long_re) - 1);
    memcpy(long_re, "\001\377\xc3\xa9", 4);
    memcpy(long_re + SL_METRICS_ROUTE_SHOWN - 1, "\xe2\x82\xac", 3);
    ck_assert_int_eq(acl_routes_add_route(r, 0, ACL_ROUTE_REGEX, long_re, 0, NULL,
                                          err, sizeof(err)), 1);
    fx.rc.routes = r;
    memset(want, 'a', SL_METRICS_ROUTE_SHOWN);
    snprintf(want + SL_METRICS_ROUTE_SHOWN, 4, "...");
    sl_metrics_route_text(&fx.rc, 0, 0, buf, sizeof(buf));
    ck_assert_str_eq(buf + 1, want);
    ck_assert_int_eq(buf[0], '~');
    sl_metrics_route_text(&fx.rc, 0, 1, buf, sizeof(buf));
    ck_assert_int_eq(strncmp(buf, "~??\xc3\xa9" "bbb", 8), 0);
    ck_assert_uint_eq(strlen(buf), 1 + SL_METRICS_ROUTE_SHOWN - 1 + 3);
    ck_assert_str_eq(buf + strlen(buf) - 4, "b...");
    /* a small buffer: cut, still a string */
    sl_metrics_route_text(&fx.rc, 0, 0, buf, 12);
    ck_assert_uint_lt(strlen(buf), 12);
    fx.rc.routes = save;
    acl_routes_free(r);
}
END_TEST

/* The exposition fits the room it announces, for the fixture and for
 * the longest names, every byte escaped. */
START_TEST(rev_metrics_room)
{
    struct rev_worst worst;
    struct sl_buf exact;
    struct sl_bufw w = { &exact, 0 };
    size_t room;

    ck_assert_uint_eq(sl_metrics_reverse_room(NULL, 1, 1, 1, 1), 0);
    room = sl_metrics_reverse_size(&fx.rc);
    ck_assert_int_eq(sl_buf_init(&exact, room), 0);
    sl_metrics_reverse(&w, fx.rc.rt, REV_NOW);
    ck_assert_int_eq(w.rc, 0);
    sl_buf_free(&exact);

    rev_fixture_worst(&worst);
    room = sl_metrics_reverse_size(&worst.f.rc);
    ck_assert_int_eq(sl_buf_init(&exact, room), 0);
    w.rc = 0;
    sl_metrics_reverse(&w, worst.f.rc.rt, 10);
    ck_assert_int_eq(w.rc, 0);
    fprintf(stderr, "metrics, the longest names: %zu bytes of %zu\n", sl_buf_len(&exact), room);
    /* ... and the room is not wasted */
    ck_assert_uint_gt(sl_buf_len(&exact), room / 2);
    sl_buf_free(&exact);
    /* without live state there is no room to take */
    sl_backends_free(worst.f.rc.rt);
    worst.f.rc.rt = NULL;
    ck_assert_uint_eq(sl_metrics_reverse_size(&worst.f.rc), 0);
    rev_fixture_free(&worst.f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("metrics");
    TCase *th = tcase_create("hist"), *tt = tcase_create("top"),
          *tm = tcase_create("metrics"), *tr = tcase_create("reverse");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(th, hist_setup, NULL);
    tcase_add_test(th, hist_bounds_and_labels_agree);
    tcase_add_test(th, hist_add_buckets_by_upper_bound);
    tcase_add_test(th, hist_sub_is_the_time_between);
    tcase_add_test(th, hist_quantile_empty);
    tcase_add_test(th, hist_quantile_interpolates);
    tcase_add_test(th, hist_quantile_inf_bucket_is_last_bound);
    suite_add_tcase(s, th);

    tcase_add_checked_fixture(tt, top_setup, top_teardown);
    tcase_add_test(tt, top_exact_while_room);
    tcase_add_test(tt, top_merges_without_case);
    tcase_add_test(tt, top_ignores_empty_and_null);
    tcase_add_test(tt, top_cuts_long_names);
    tcase_add_test(tt, top_list_heaviest_first);
    tcase_add_test(tt, top_merge_adds_workers_up);
    tcase_add_test(tt, top_list_k_zero);
    tcase_add_test(tt, top_space_saving_bounds);
    suite_add_tcase(s, tt);

    tcase_add_checked_fixture(tm, metrics_setup, metrics_teardown);
    tcase_add_test(tm, metrics_kind_of_codes);
    tcase_add_test(tm, metrics_requests_table);
    tcase_add_test(tm, metrics_svc_and_bytes_by_kind);
    tcase_add_test(tm, metrics_blocked_by_category);
    tcase_add_test(tm, metrics_blocked_long_and_overflow);
    tcase_add_test(tm, metrics_top_by_host);
    suite_add_tcase(s, tm);

    tcase_add_checked_fixture(tr, rev_setup, rev_teardown);
    tcase_add_test(tr, rev_metrics_values);
    tcase_add_test(tr, rev_metrics_ejection_ends);
    tcase_add_test(tr, rev_metrics_format);
    tcase_add_test(tr, rev_states);
    tcase_add_test(tr, rev_route_text);
    tcase_add_test(tr, rev_metrics_room);
    suite_add_tcase(s, tr);

    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
