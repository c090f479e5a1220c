/*
 * check_status.c - the status sampler's ring (squidlike/status.c): pushes
 * wrap after an hour of samples, and windows are the difference between
 * now and the newest sample at least that old (or the oldest there is);
 * and reverse mode's part of the pages over the live state of a
 * configuration built by hand (rev_fixture.h): status.json's "reverse"
 * member (valid JSON, exact values) and the HTML page's Backends and
 * Routes tiles (ids and values, names escaped), each within the room it
 * announces.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "squidlike/metrics.h"
#include "squidlike/status.h"
#include "rev_fixture.h"

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

/* --- reverse mode ------------------------------------------------------ */

#define WALL 1795800000000LL    /* the wall clock at REV_NOW */

static char flat[1 << 16];

/*
 * A JSON text without its blanks outside strings, into flat, checking it
 * as it goes: strings end, hold no control byte and only valid escapes;
 * brackets and braces pair up. Returns flat.
 */
static const char *squeeze(const char *j)
{
    char stack[64];
    size_t depth = 0, n = 0;
    int in_str = 0;

    for (; *j; j++) {
        unsigned char ch = (unsigned char)*j;

        ck_assert_uint_lt(n + 1, sizeof(flat));
        if (in_str) {
            ck_assert_msg(ch >= 0x20, "control byte in a string");
            if (ch == '\\') {
                ck_assert_msg(strchr("\"\\/bfnrtu", j[1]) != NULL && j[1], "bad escape");
                flat[n++] = *j++;
            } else if (ch == '"') {
                in_str = 0;
            }
            flat[n++] = *j;
            continue;
        }
        if (ch == ' ' || ch == '\n')
            continue;
        if (ch == '"')
            in_str = 1;
        else if (ch == '{' || ch == '[')
            stack[depth++] = (char)(ch == '{' ? '}' : ']');
        else if (ch == '}' || ch == ']')
            ck_assert_msg(depth > 0 && stack[--depth] == ch, "unpaired %c", ch);
        ck_assert_uint_lt(depth, sizeof(stack));
        flat[n++] = *j;
    }
    ck_assert_msg(!in_str && depth == 0, "unterminated JSON");
    flat[n] = '\0';
    return flat;
}

/* The "reverse" member for b, as an object ("{"reverse":...}"), squeezed. */
static const char *rev_json(const struct sl_backends *b, int64_t now, int *rc)
{
    struct sl_bufw w = { &page, 0 };

    sl_buf_reset(&page);
    sl_bufw_printf(&w, "{ \"before\": 1");
    sl_status_reverse_json(&w, b, now, WALL);
    sl_bufw_printf(&w, " }");
    if (w.rc == 0)
        w.rc = sl_buf_append(&page, "", 1);
    *rc = w.rc;
    return w.rc == 0 ? squeeze(page.pos) : "";
}

#define HAS(text, sub) ck_assert_msg(strstr(text, sub) != NULL, "no %s in %s", sub, text)

START_TEST(rev_json_values)
{
    int rc;
    const char *j = rev_json(fx.rc.rt, REV_NOW, &rc);

    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(strncmp(j, "{\"before\":1,\"reverse\":{\"pools\":[{\"name\":\"app\","
        "\"balance\":\"round-robin\",\"health_checks\":true,\"max_connections\":0,"
        "\"max_pending\":0,\"pending\":0,"
        "\"backends\":[{\"name\":\"10.0.0.1:8080\",", 160), 0);
    HAS(j, "{\"name\":\"10.0.0.1:8080\",\"weight\":1,\"state\":\"down\",\"healthy\":false,"
        "\"ejected\":false,\"ejected_until\":null,\"ejected_seconds_left\":null,"
        "\"active\":0,\"requests\":1,\"failures\":0,\"ejections\":0,\"checks\":3,"
        "\"check_failures\":1,\"last_check\":{\"time\":1795799998.500,"
        "\"seconds_ago\":1.500,\"ok\":false,\"error\":\"status 503 <b>&\\\"x\\\"\"},"
        "\"latency_ms\":{\"count\":1,\"p50\":0.750,\"p90\":0.950,\"p99\":0.995}}");
    HAS(j, "{\"name\":\"10.0.0.2:8080\",\"weight\":1,\"state\":\"ejected\",\"healthy\":true,"
        "\"ejected\":true,\"ejected_until\":1795800000.500,\"ejected_seconds_left\":0.500,"
        "\"active\":0,\"requests\":2,\"failures\":1,\"ejections\":1,\"checks\":3,"
        "\"check_failures\":0,\"last_check\":{\"time\":1795799999.000,"
        "\"seconds_ago\":1.000,\"ok\":true,\"error\":null},"
        "\"latency_ms\":{\"count\":1,\"p50\":3.750,\"p90\":4.750,\"p99\":4.975}}");
    HAS(j, "{\"name\":\"api\",\"balance\":\"least-conn\",\"health_checks\":false,"
        "\"max_connections\":0,\"max_pending\":0,\"pending\":0,"
        "\"backends\":[{\"name\":\"[::1]:9000\",\"weight\":1,"
        "\"state\":\"up\",\"healthy\":true,\"ejected\":false,\"ejected_until\":null,"
        "\"ejected_seconds_left\":null,\"active\":1,\"requests\":1,\"failures\":0,"
        "\"ejections\":0,\"checks\":0,\"check_failures\":0,\"last_check\":null,"
        "\"latency_ms\":{\"count\":0,\"p50\":null,\"p90\":null,\"p99\":null}}]}]");
    HAS(j, "\"routes\":[{\"vhost\":\"www.example.com\",\"route\":0,\"pattern\":\"/api/\","
        "\"pool\":\"api\",\"requests\":1},{\"vhost\":\"www.example.com\",\"route\":1,"
        "\"pattern\":\"~*^/q/\\\"<x>&\\\\\\\\\",\"pool\":\"app\",\"requests\":0},"
        "{\"vhost\":\"www.example.com\",\"route\":2,\"pattern\":\"/\",\"pool\":\"app\","
        "\"requests\":3},{\"vhost\":\"default\",\"route\":0,\"pattern\":\"/\","
        "\"pool\":\"app\",\"requests\":2}]}}");
    /* after the ejection's end */
    j = rev_json(fx.rc.rt, 11000, &rc);
    HAS(j, "\"state\":\"up\",\"healthy\":true,\"ejected\":false,\"ejected_until\":null");
    /* no live state: nothing */
    j = rev_json(NULL, REV_NOW, &rc);
    ck_assert_int_eq(rc, 0);
    ck_assert_str_eq(j, "{\"before\":1}");
}
END_TEST

/* A configuration with no route and a pool: empty lists, still JSON. */
START_TEST(rev_json_empty_lists)
{
    struct sl_conf_rvhost *v = fx.rc.vhosts;
    int rc;
    const char *j;

    fx.rc.n_vhosts = 0;
    j = rev_json(fx.rc.rt, REV_NOW, &rc);
    ck_assert_int_eq(rc, 0);
    HAS(j, "\"routes\":[]}}");
    fx.rc.n_vhosts = 2;
    fx.rc.vhosts = v;
}
END_TEST

static const char *rev_html(const struct sl_backends *b, int64_t now, int *rc)
{
    struct sl_bufw w = { &page, 0 };

    sl_buf_reset(&page);
    sl_status_reverse_html(&w, b, now);
    if (w.rc == 0)
        w.rc = sl_buf_append(&page, "", 1);
    *rc = w.rc;
    return page.pos;
}

START_TEST(rev_html_tiles)
{
    int rc;
    const char *h = rev_html(fx.rc.rt, REV_NOW, &rc);

    ck_assert_int_eq(rc, 0);
    HAS(h, "<h2>Backends</h2>");
    HAS(h, "<h2>Routes</h2>");
    HAS(h, "<tr id=\"be_0_0\"><th>app</th><th>10.0.0.1:8080</th>"
           "<td id=\"be_0_0_state\" data-value=\"down\" style=\"color:#b00020\">down</td>");
    HAS(h, "<td id=\"be_0_1_state\" data-value=\"ejected\" style=\"color:#d9822b\">"
           "ejected <small>(1&nbsp;s left)</small></td>");
    HAS(h, "<tr id=\"be_1_0\"><th>api</th><th>[::1]:9000</th>"
           "<td id=\"be_1_0_state\" data-value=\"up\">up</td>");
    HAS(h, "<b id=\"be_1_0_active\" data-value=\"1\">1</b>");
    HAS(h, "<b id=\"be_0_1_requests\" data-value=\"2\">2</b>");
    HAS(h, "<b id=\"be_0_1_failures\" data-value=\"1\">1</b>");
    HAS(h, "<b id=\"be_0_1_ejections\" data-value=\"1\">1</b>");
    HAS(h, "<td id=\"be_0_0_p50\" data-value=\"0.750\">0.75</td>");
    HAS(h, "<td id=\"be_0_1_p99\" data-value=\"4.975\">4.97</td>");
    HAS(h, "<td id=\"be_1_0_p50\" data-value=\"\">&ndash;</td>");
    /* what a backend answered a check is escaped */
    HAS(h, "<td id=\"be_0_0_check\" data-value=\"failed\">status 503 &lt;b&gt;&amp;"
           "&quot;x&quot;, 1.5&nbsp;s ago</td>");
    ck_assert_ptr_null(strstr(h, "<b>&"));
    HAS(h, "<td id=\"be_0_1_check\" data-value=\"ok\">ok, 1.0&nbsp;s ago</td>");
    HAS(h, "<td id=\"be_1_0_check\" data-value=\"off\">no checks</td>");
    /* routes, the regex escaped */
    HAS(h, "<tr><th>www.example.com</th><td>1</td><th><code>~*^/q/&quot;&lt;x&gt;"
           "&amp;\\\\</code></th><th>app</th><td><b id=\"route_0_1\" data-value=\"0\">"
           "0</b></td></tr>");
    HAS(h, "<b id=\"route_0_2\" data-value=\"3\">3</b>");
    HAS(h, "<tr><th>default</th><td>0</td><th><code>/</code></th><th>app</th>"
           "<td><b id=\"route_1_0\" data-value=\"2\">2</b></td></tr>");
    h = rev_html(NULL, REV_NOW, &rc);
    ck_assert_str_eq(h, "");
}
END_TEST

/* Both fit the room they announce, for the fixture and the longest
 * names with every byte escaped. */
START_TEST(rev_pages_room)
{
    struct rev_worst worst;
    struct sl_buf exact;
    struct sl_bufw w = { &exact, 0 };
    size_t room;
    int i;

    for (i = 0; i < 2; i++) {
        struct rev_fixture *f = i ? &worst.f : &fx;

        if (i)
            rev_fixture_worst(&worst);
        room = sl_status_reverse_json_size(&f->rc);
        ck_assert_int_eq(sl_buf_init(&exact, room), 0);
        w.rc = 0;
        sl_status_reverse_json(&w, f->rc.rt, REV_NOW, WALL);
        ck_assert_int_eq(w.rc, 0);
        fprintf(stderr, "json%s: %zu bytes of %zu\n", i ? ", the longest names" : "",
                sl_buf_len(&exact), room);
        if (i)                  /* ... and the room is not wasted */
            ck_assert_uint_gt(sl_buf_len(&exact), room / 4);
        sl_buf_free(&exact);
        room = sl_status_reverse_html_size(&f->rc);
        ck_assert_int_eq(sl_buf_init(&exact, room), 0);
        w.rc = 0;
        sl_status_reverse_html(&w, f->rc.rt, REV_NOW);
        ck_assert_int_eq(w.rc, 0);
        fprintf(stderr, "html%s: %zu bytes of %zu\n", i ? ", the longest names" : "",
                sl_buf_len(&exact), room);
        if (i)
            ck_assert_uint_gt(sl_buf_len(&exact), room / 4);
        sl_buf_free(&exact);
    }
    rev_fixture_free(&worst.f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("status");
    TCase *tc = tcase_create("ring"), *tr = tcase_create("reverse");
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
    tcase_add_checked_fixture(tr, rev_setup, rev_teardown);
    tcase_add_test(tr, rev_json_values);
    tcase_add_test(tr, rev_json_empty_lists);
    tcase_add_test(tr, rev_html_tiles);
    tcase_add_test(tr, rev_pages_room);
    suite_add_tcase(s, tr);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
