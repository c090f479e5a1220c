/*
 * check_apistats.c - the analytics per route and per consumer
 * (squidlike/apistats.c, apistats_out.c): recording into a worker's
 * table, the sum over several workers' tables, consumers past the top-N
 * and names past a full table counted as "other", a writer killed between
 * its two stores, the histogram's percentiles, and the three pages' output
 * (exact values, escaping, the room announced).
 */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "squidlike/apistats.h"

static struct sl_api_table *tabs;   /* 3 workers' */
static struct sl_api_sum *sum;

static void setup(void)
{
    tabs = sl_api_shm_new(3);
    sum = calloc(1, sizeof(*sum));
    ck_assert_ptr_nonnull(tabs);
    ck_assert_ptr_nonnull(sum);
}

static void teardown(void)
{
    sl_api_shm_free(tabs, 3);
    free(sum);
}

static struct sl_api_txn txn(int status, int64_t us)
{
    struct sl_api_txn x = { .status = status, .bytes_in = 10, .bytes_out = 100,
                            .elapsed_us = us };

    return x;
}

/* The row (kind, name) of the sum, or NULL. */
static const struct sl_api_row *find(enum sl_api_kind k, const char *name)
{
    size_t i;

    for (i = 0; i < sum->n; i++)
        if (sum->r[i].kind == k && strcmp(sum->r[i].name, name) == 0)
            return &sum->r[i];
    return NULL;
}

static void sum_all(size_t n)
{
    size_t i;

    sl_api_sum_clear(sum);
    for (i = 0; i < n; i++)
        sl_api_sum_add(sum, &tabs[i]);
}

START_TEST(classes)
{
    ck_assert_int_eq(sl_api_class_of(0), SL_API_NONE);
    ck_assert_int_eq(sl_api_class_of(101), SL_API_2XX);
    ck_assert_int_eq(sl_api_class_of(200), SL_API_2XX);
    ck_assert_int_eq(sl_api_class_of(299), SL_API_2XX);
    ck_assert_int_eq(sl_api_class_of(304), SL_API_3XX);
    ck_assert_int_eq(sl_api_class_of(401), SL_API_4XX);
    ck_assert_int_eq(sl_api_class_of(429), SL_API_4XX);
    ck_assert_int_eq(sl_api_class_of(503), SL_API_5XX);
    ck_assert_int_eq(sl_api_class_of(999), SL_API_5XX);
}
END_TEST

START_TEST(record_route_and_consumer)
{
    struct sl_api_txn x = txn(200, 300);
    const struct sl_api_row *r, *c;

    sl_api_record(&tabs[0], "users-api", "alice", &x);
    x = txn(404, 300);
    sl_api_record(&tabs[0], "users-api", NULL, &x);
    x = txn(429, 30);
    x.limited = 1;
    sl_api_record(&tabs[0], "users-api", "alice", &x);
    x = txn(401, 30);
    x.auth_refused = 1;
    sl_api_record(&tabs[0], "users-api", "anonymous", &x);
    x = txn(0, 30);
    sl_api_record(&tabs[0], "orders", NULL, &x);
    sl_api_record(NULL, "orders", NULL, &x);     /* no table: nothing, no crash */
    ck_assert_uint_eq(tabs[0].n, 4);     /* users-api, alice, anonymous, orders */
    sum_all(1);
    r = find(SL_API_ROUTE, "users-api");
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(r->c.requests, 4);
    ck_assert_uint_eq(r->c.cls[SL_API_2XX], 1);
    ck_assert_uint_eq(r->c.cls[SL_API_4XX], 3);
    ck_assert_uint_eq(r->c.limited, 1);
    ck_assert_uint_eq(r->c.auth_refused, 1);
    ck_assert_uint_eq(r->c.bytes_in, 40);
    ck_assert_uint_eq(r->c.bytes_out, 400);
    ck_assert_uint_eq(r->c.lat.count, 4);
    ck_assert_uint_eq(r->c.lat.sum_us, 660);
    c = find(SL_API_CONSUMER, "alice");
    ck_assert_ptr_nonnull(c);
    ck_assert_uint_eq(c->c.requests, 2);
    ck_assert_uint_eq(c->c.limited, 1);
    ck_assert_uint_eq(c->c.auth_refused, 0);
    /* a consumer and a route of one name are two rows */
    ck_assert_ptr_null(find(SL_API_CONSUMER, "users-api"));
    ck_assert_ptr_null(find(SL_API_ROUTE, "alice"));
    r = find(SL_API_ROUTE, "orders");
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(r->c.requests, 1);
    ck_assert_uint_eq(r->c.cls[SL_API_NONE], 1);
}
END_TEST

/* Three workers' tables add up by name, whatever order each met the
 * names in; a table's "other" adds to the sum's. */
START_TEST(sum_over_slots)
{
    static const char *const names[] = { "a", "b", "c", "d" };
    struct sl_api_txn x = txn(200, 1000);
    const struct sl_api_row *r;
    size_t w, i, j;

    for (w = 0; w < 3; w++)
        for (i = 0; i < 4; i++)
            for (j = 0; j <= w; j++)            /* worker w: w + 1 of each */
                sl_api_record(&tabs[w], names[(i + w) % 4], names[i], &x);
    tabs[2].other[SL_API_ROUTE].requests = 7;
    sum_all(3);
    ck_assert_uint_eq(sum->n, 8);
    for (i = 0; i < 4; i++) {
        r = find(SL_API_ROUTE, names[i]);
        ck_assert_ptr_nonnull(r);
        ck_assert_uint_eq(r->c.requests, 6);
        ck_assert_uint_eq(r->c.lat.count, 6);
        ck_assert_uint_eq(r->c.lat.sum_us, 6000);
        ck_assert_uint_eq(r->c.bytes_out, 600);
        r = find(SL_API_CONSUMER, names[i]);
        ck_assert_ptr_nonnull(r);
        ck_assert_uint_eq(r->c.requests, 6);
    }
    ck_assert_uint_eq(sum->other[SL_API_ROUTE].requests, 7);
    /* summing again starts from zero */
    sum_all(1);
    ck_assert_uint_eq(find(SL_API_ROUTE, "a")->c.requests, 1);
    ck_assert_uint_eq(sum->other[SL_API_ROUTE].requests, 0);
}
END_TEST

/* A full table counts new names under their kind's "other", and still
 * the names it holds under their own. */
START_TEST(table_full_is_other)
{
    struct sl_api_txn x = txn(500, 10);
    char name[32];
    size_t i;

    for (i = 0; i < SL_API_TABLE + 5; i++) {
        snprintf(name, sizeof(name), "c%zu", i);
        sl_api_record(&tabs[0], NULL, name, &x);
    }
    sl_api_record(&tabs[0], "r-late", NULL, &x);
    sl_api_record(&tabs[0], NULL, "c0", &x);
    ck_assert_uint_eq(tabs[0].n, SL_API_TABLE);
    ck_assert_uint_eq(tabs[0].other[SL_API_CONSUMER].requests, 5);
    ck_assert_uint_eq(tabs[0].other[SL_API_CONSUMER].cls[SL_API_5XX], 5);
    ck_assert_uint_eq(tabs[0].other[SL_API_ROUTE].requests, 1);
    sum_all(1);
    ck_assert_uint_eq(find(SL_API_CONSUMER, "c0")->c.requests, 2);
    ck_assert_ptr_nonnull(find(SL_API_CONSUMER, "c511"));
    ck_assert_ptr_null(find(SL_API_CONSUMER, "c512"));
    ck_assert_ptr_null(find(SL_API_ROUTE, "r-late"));
    ck_assert_uint_eq(sum->other[SL_API_CONSUMER].requests, 5);
    ck_assert_uint_eq(sum->other[SL_API_ROUTE].requests, 1);
}
END_TEST

/* A sum of more names than it holds counts the rest as "other". */
START_TEST(sum_full_is_other)
{
    struct sl_api_txn x = txn(200, 10);
    struct sl_api_table *many = sl_api_shm_new(SL_API_SUM_MAX / SL_API_TABLE + 1);
    size_t w, i, k = 0;
    char name[32];

    ck_assert_ptr_nonnull(many);
    for (w = 0; w <= SL_API_SUM_MAX / SL_API_TABLE; w++)
        for (i = 0; i < SL_API_TABLE; i++, k++) {
            snprintf(name, sizeof(name), "n%zu", k);
            sl_api_record(&many[w], NULL, name, &x);
        }
    sl_api_sum_clear(sum);
    for (w = 0; w <= SL_API_SUM_MAX / SL_API_TABLE; w++)
        sl_api_sum_add(sum, &many[w]);
    ck_assert_uint_eq(sum->n, SL_API_SUM_MAX);
    ck_assert_uint_eq(sum->other[SL_API_CONSUMER].requests, k - SL_API_SUM_MAX);
    sl_api_shm_free(many, SL_API_SUM_MAX / SL_API_TABLE + 1);
}
END_TEST

/* A writer killed after it indexed a new entry but before it published
 * it (n): the next worker in the slot takes the index slot again, and the
 * name is counted once. */
START_TEST(dead_writer_index)
{
    struct sl_api_txn x = txn(200, 10);

    sl_api_record(&tabs[0], "a", NULL, &x);
    ck_assert_uint_eq(tabs[0].n, 1);
    /* "b"'s entry half made: written and indexed, not published */
    sl_api_record(&tabs[0], "b", NULL, &x);
    tabs[0].n = 1;
    sl_api_record(&tabs[0], "b", NULL, &x);
    sl_api_record(&tabs[0], "b", NULL, &x);
    ck_assert_uint_eq(tabs[0].n, 2);
    sum_all(1);
    ck_assert_uint_eq(sum->n, 2);
    ck_assert_uint_eq(find(SL_API_ROUTE, "b")->c.requests, 2);
    ck_assert_uint_eq(find(SL_API_ROUTE, "a")->c.requests, 1);
}
END_TEST

/* Routes: every one, in name order. Consumers: the top by requests (ties
 * by name), the rest and the names past the tables as "other". */
START_TEST(rows_top_and_other)
{
    static const char *const who[] = { "carol", "alice", "bob", "dave", "eve" };
    static const unsigned per[] = { 5, 9, 5, 1, 2 };
    const struct sl_api_row *out[16];
    struct sl_api_counts other;
    struct sl_api_txn x = txn(200, 10);
    size_t i, j, n;

    for (i = 0; i < 5; i++)
        for (j = 0; j < per[i]; j++)
            sl_api_record(&tabs[i % 2], who[4 - i], who[i], &x);
    tabs[1].other[SL_API_CONSUMER].requests = 3;
    sum_all(2);
    n = sl_api_rows(sum, SL_API_CONSUMER, 3, out, 16, &other);
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(out[0]->name, "alice");
    ck_assert_str_eq(out[1]->name, "bob");      /* 5 each: by name */
    ck_assert_str_eq(out[2]->name, "carol");
    ck_assert_uint_eq(other.requests, 3 + 2 + 1);   /* the table's, eve, dave */
    n = sl_api_rows(sum, SL_API_CONSUMER, 0, out, 16, &other);
    ck_assert_uint_eq(n, 0);
    ck_assert_uint_eq(other.requests, 3 + 22);
    n = sl_api_rows(sum, SL_API_CONSUMER, 100, out, 16, &other);
    ck_assert_uint_eq(n, 5);
    ck_assert_uint_eq(other.requests, 3);
    /* routes: no top; by name */
    n = sl_api_rows(sum, SL_API_ROUTE, 1, out, 16, &other);
    ck_assert_uint_eq(n, 5);
    for (i = 1; i < n; i++)
        ck_assert_int_lt(strcmp(out[i - 1]->name, out[i]->name), 0);
    ck_assert_uint_eq(other.requests, 0);
}
END_TEST

/* The latency histogram's percentiles, through the table and the sum:
 * 90 requests at 2 ms and 10 at 80 ms over two workers. */
START_TEST(percentiles)
{
    struct sl_api_txn x = txn(200, 2000);
    const struct sl_api_row *r;
    double p50, p90, p99;
    size_t i;

    for (i = 0; i < 90; i++)
        sl_api_record(&tabs[i % 2], "r", NULL, &x);
    x.elapsed_us = 80000;
    for (i = 0; i < 10; i++)
        sl_api_record(&tabs[i % 2], "r", NULL, &x);
    sum_all(2);
    r = find(SL_API_ROUTE, "r");
    ck_assert_ptr_nonnull(r);
    p50 = sl_hist_quantile(&r->c.lat, 0.50);
    p90 = sl_hist_quantile(&r->c.lat, 0.90);
    p99 = sl_hist_quantile(&r->c.lat, 0.99);
    /* 2 ms falls in (1 ms, 2.5 ms]; 80 ms in (50 ms, 100 ms] */
    ck_assert(p50 > 1000 && p50 <= 2500);
    ck_assert(p90 > 1000 && p90 <= 2500);
    ck_assert(p99 > 50000 && p99 <= 100000);
    ck_assert_uint_eq(r->c.lat.count, 100);
    ck_assert_uint_eq(r->c.lat.sum_us, 90 * 2000 + 10 * 80000);
}
END_TEST

/* --- the pages ------------------------------------------------------------ */

static char *page;

/* Write v with fn into a buffer of exactly the room announced. */
static const char *render(void (*fn)(struct sl_bufw *, const struct sl_api_view *),
                          const struct sl_api_view *v, size_t size)
{
    struct sl_buf b;
    struct sl_bufw w;
    size_t n;

    ck_assert_int_eq(sl_buf_init(&b, size), 0);
    w.out = &b;
    w.rc = 0;
    fn(&w, v);
    ck_assert_int_eq(w.rc, 0);
    n = (size_t)(b.last - b.pos);
    free(page);
    page = malloc(n + 1);
    ck_assert_ptr_nonnull(page);
    memcpy(page, b.pos, n);
    page[n] = '\0';
    sl_buf_free(&b);
    return page;
}

static void pages_teardown(void)
{
    free(page);
    page = NULL;
    teardown();
}

START_TEST(pages_show_the_numbers)
{
    struct sl_api_view v;
    struct sl_api_txn x = txn(200, 2000);
    const char *p;

    sl_api_record(&tabs[0], "r\"1\\\n<&>", "alice", &x);
    x = txn(503, 2000);
    x.bytes_in = 5;
    sl_api_record(&tabs[1], "r\"1\\\n<&>", "bob", &x);
    x = txn(429, 10);
    x.limited = 1;
    sl_api_record(&tabs[1], "plain", "bob", &x);
    sum_all(2);
    ck_assert_int_eq(sl_api_view_make(&v, sum, 1), 0);     /* bob, then other */
    ck_assert_uint_eq(v.n[SL_API_ROUTE], 2);
    ck_assert_uint_eq(v.n[SL_API_CONSUMER], 1);

    p = render(sl_api_metrics, &v, sl_api_metrics_size(&v));
    ck_assert_ptr_nonnull(strstr(p, "# TYPE squidlike_api_requests_total counter\n"));
    ck_assert_ptr_nonnull(strstr(p,
        "squidlike_api_requests_total{route=\"r\\\"1\\\\\\n<&>\",class=\"2xx\"} 1\n"
        "squidlike_api_requests_total{route=\"r\\\"1\\\\\\n<&>\",class=\"3xx\"} 0\n"
        "squidlike_api_requests_total{route=\"r\\\"1\\\\\\n<&>\",class=\"4xx\"} 0\n"
        "squidlike_api_requests_total{route=\"r\\\"1\\\\\\n<&>\",class=\"5xx\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(p, "squidlike_api_limited_total{route=\"plain\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(p, "squidlike_api_bytes_total{route=\"plain\",direction=\"in\"} 10\n"));
    ck_assert_ptr_nonnull(strstr(p, "squidlike_api_bytes_total{route=\"r\\\"1\\\\\\n<&>\","
                                    "direction=\"in\"} 15\n"));
    ck_assert_ptr_nonnull(strstr(p, "# TYPE squidlike_api_request_seconds histogram\n"));
    ck_assert_ptr_nonnull(strstr(p, "squidlike_api_request_seconds_bucket{route=\"plain\","
                                    "le=\"0.000025\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(p, "squidlike_api_request_seconds_bucket{route=\"plain\","
                                    "le=\"+Inf\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(p, "squidlike_api_request_seconds_sum{route=\"plain\"} 0.000010\n"));
    ck_assert_ptr_nonnull(strstr(p, "squidlike_api_consumer_requests_total{consumer=\"bob\","
                                    "class=\"4xx\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(p, "squidlike_api_consumer_requests_total{consumer=\"other\","
                                    "class=\"2xx\"} 1\n"));    /* alice, past the top 1 */
    ck_assert_ptr_null(strstr(p, "consumer=\"alice\""));
    ck_assert_ptr_null(strstr(p, "route=\"other\""));          /* none to count */
    ck_assert_ptr_null(strstr(p, "class=\"none\""));

    p = render(sl_api_json, &v, sl_api_json_size(&v));
    ck_assert_ptr_nonnull(strstr(p, ",\n  \"apis\": {\n    \"routes\": ["));
    ck_assert_ptr_nonnull(strstr(p, "{ \"name\": \"plain\", \"requests\": 1, \"2xx\": 0, "
        "\"3xx\": 0, \"4xx\": 1, \"5xx\": 0, \"none\": 0, \"limited\": 1, "
        "\"auth_refused\": 0, \"bytes_in\": 10, \"bytes_out\": 100, \"p50_ms\": 0.01"));
    ck_assert_ptr_nonnull(strstr(p, "{ \"name\": \"r\\\"1\\\\\\u000a<&>\", \"requests\": 2,"));
    ck_assert_ptr_nonnull(strstr(p, "{ \"name\": \"other\", \"requests\": 1, \"2xx\": 1,"));

    p = render(sl_api_html, &v, sl_api_html_size(&v));
    ck_assert_ptr_nonnull(strstr(p, "<h2>APIs</h2>"));
    ck_assert_ptr_nonnull(strstr(p, "<th>r&quot;1\\&lt;&amp;&gt;</th>"));
    ck_assert_ptr_nonnull(strstr(p, "id=\"api_route_1_requests\" data-value=\"2\""));
    ck_assert_ptr_nonnull(strstr(p, "id=\"api_route_1_5xx_rate\" data-value=\"0.500000\""));
    ck_assert_ptr_nonnull(strstr(p, "id=\"api_consumer_1_requests\" data-value=\"1\""));
    ck_assert_ptr_nonnull(strstr(p, "<i>other</i>"));
    sl_api_view_free(&v);
}
END_TEST

/* Every counter of c at its widest (20 digits), the histogram too. */
static void widest(struct sl_api_counts *c)
{
    const unsigned long long big = 18446744073709551615ULL;
    size_t k;

    c->requests = c->limited = c->auth_refused = c->bytes_in = c->bytes_out = big;
    for (k = 0; k < SL_API_NCLASSES; k++)
        c->cls[k] = big;
    for (k = 0; k <= SL_HIST_N; k++)
        c->lat.b[k] = big / (2 * (SL_HIST_N + 1));
    c->lat.count = c->lat.sum_us = big;
}

/* The room announced holds the worst: names of 63 bytes that all need
 * escaping (each way), every counter at 20 digits, every class and an
 * "other" for both kinds. */
START_TEST(pages_fit_their_room)
{
    static const char fill[] = { '"', 0x01, '\\' };
    void (*const fn[])(struct sl_bufw *, const struct sl_api_view *) = {
        sl_api_metrics, sl_api_json, sl_api_html };
    size_t (*const size[])(const struct sl_api_view *) = {
        sl_api_metrics_size, sl_api_json_size, sl_api_html_size };
    struct sl_api_view v;
    struct sl_api_txn x = txn(0, 20000000);
    char name[SL_API_NAME];
    size_t i, k, f;

    for (f = 0; f < sizeof(fill); f++) {
        memset(tabs, 0, sizeof(*tabs));
        for (i = 0; i < 250; i++) {             /* the room per row counts */
            memset(name, fill[f], sizeof(name) - 1);
            name[sizeof(name) - 1] = '\0';
            name[0] = (char)('A' + i % 26);
            name[1] = (char)('A' + i / 26);
            sl_api_record(&tabs[0], name, name, &x);
        }
        for (i = 0; i < tabs[0].n; i++)
            widest(&tabs[0].e[i].c);
        widest(&tabs[0].other[SL_API_ROUTE]);
        widest(&tabs[0].other[SL_API_CONSUMER]);
        sum_all(1);
        ck_assert_int_eq(sl_api_view_make(&v, sum, 240), 0);
        for (k = 0; k < 3; k++)
            render(fn[k], &v, size[k](&v));
        sl_api_view_free(&v);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("apistats");
    TCase *tc = tcase_create("tables");
    TCase *tp = tcase_create("pages");
    SRunner *sr;
    int nf;

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, classes);
    tcase_add_test(tc, record_route_and_consumer);
    tcase_add_test(tc, sum_over_slots);
    tcase_add_test(tc, table_full_is_other);
    tcase_add_test(tc, sum_full_is_other);
    tcase_add_test(tc, dead_writer_index);
    tcase_add_test(tc, rows_top_and_other);
    tcase_add_test(tc, percentiles);
    suite_add_tcase(s, tc);
    tcase_add_checked_fixture(tp, setup, pages_teardown);
    tcase_add_test(tp, pages_show_the_numbers);
    tcase_add_test(tp, pages_fit_their_room);
    suite_add_tcase(s, tp);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    nf = srunner_ntests_failed(sr);
    srunner_free(sr);
    return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
