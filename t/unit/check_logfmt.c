/*
 * check_logfmt.c - tests for squidlike/logfmt.c: each access_log_format
 * writes exactly Squid's fields for a known record; bytes a client chose
 * are escaped for their context (no value ends a line or a field); values
 * are cut at their caps and never inside an escape; a line is always one
 * line, and a JSON line stays an object however long its values are.
 *
 * Times are formatted in TZ=UTC (set before any localtime call).
 */
#include "config.h"

#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "squidlike/logfmt.h"

static char line[SL_LOGFMT_LINE_MAX];
static char big[200000];

/* 2026-11-28 01:49:21.042 UTC */
#define T_MS 1795830561042LL

static struct sl_log_access rec(enum sl_log_format f)
{
    struct sl_log_access a = {
        .format = f, .time_ms = T_MS, .elapsed_ms = 7,
        .client = "192.0.2.10", .code = "TCP_MISS", .status = 200,
        .bytes = 1234, .method = "GET", .url = "http://example.com/a?b=c",
        .version = "1.1", .user = NULL, .hier = "HIER_DIRECT",
        .peer = "198.51.100.7", .type = "text/html", .rule = "allow localnet",
        .category = NULL, .cache_status = "fwd=miss; stored",
        .host = "example.com", .sni = NULL,
        .referer = "http://example.com/", .user_agent = "curl/7.88.1",
    };
    return a;
}

/* The line for a, as a NUL-terminated string; checks it is one line. */
static const char *fmt(const struct sl_log_access *a)
{
    size_t n = sl_logfmt_access(a, line, sizeof(line) - 1);

    ck_assert_uint_gt(n, 0);
    ck_assert_uint_le(n, sizeof(line) - 1);
    ck_assert_int_eq(line[n - 1], '\n');
    ck_assert_ptr_eq(memchr(line, '\n', n), line + n - 1);
    ck_assert_ptr_null(memchr(line, '\0', n));
    line[n] = '\0';
    return line;
}

static void setup(void)
{
    setenv("TZ", "UTC", 1);
    tzset();
}

START_TEST(test_squid)
{
    struct sl_log_access a = rec(SL_LOG_FMT_SQUID);

    ck_assert_str_eq(fmt(&a), "1795830561.042      7 192.0.2.10 TCP_MISS/200 "
                     "1234 GET http://example.com/a?b=c - "
                     "HIER_DIRECT/198.51.100.7 text/html\n");
    a.user = "alice";
    a.peer = NULL;
    a.type = NULL;
    a.status = 0;
    a.code = "TCP_MISS_ABORTED";
    ck_assert_str_eq(fmt(&a), "1795830561.042      7 192.0.2.10 "
                     "TCP_MISS_ABORTED/000 1234 GET http://example.com/a?b=c "
                     "alice HIER_DIRECT/- -\n");
}
END_TEST

START_TEST(test_common)
{
    struct sl_log_access a = rec(SL_LOG_FMT_COMMON);

    ck_assert_str_eq(fmt(&a), "192.0.2.10 - - [28/Nov/2026:01:49:21 +0000] "
                     "\"GET http://example.com/a?b=c HTTP/1.1\" 200 1234 "
                     "TCP_MISS:HIER_DIRECT\n");
    /* A request we could not parse, as Squid logs it. */
    a.method = "NONE";
    a.url = "error:invalid-request";
    a.version = NULL;
    a.code = "NONE_NONE";
    a.hier = "HIER_NONE";
    a.status = 400;
    a.user = "bob";
    ck_assert_str_eq(fmt(&a), "192.0.2.10 - bob [28/Nov/2026:01:49:21 +0000] "
                     "\"NONE error:invalid-request HTTP/0.0\" 400 1234 "
                     "NONE_NONE:HIER_NONE\n");
}
END_TEST

START_TEST(test_combined)
{
    struct sl_log_access a = rec(SL_LOG_FMT_COMBINED);

    ck_assert_str_eq(fmt(&a), "192.0.2.10 - - [28/Nov/2026:01:49:21 +0000] "
                     "\"GET http://example.com/a?b=c HTTP/1.1\" 200 1234 "
                     "\"http://example.com/\" \"curl/7.88.1\" "
                     "TCP_MISS:HIER_DIRECT\n");
    a.referer = NULL;
    a.user_agent = "";
    a.method = "CONNECT";
    a.url = "example.com:443";
    a.version = "1.0";
    a.code = "TCP_TUNNEL";
    ck_assert_str_eq(fmt(&a), "192.0.2.10 - - [28/Nov/2026:01:49:21 +0000] "
                     "\"CONNECT example.com:443 HTTP/1.0\" 200 1234 \"-\" \"-\" "
                     "TCP_TUNNEL:HIER_DIRECT\n");
}
END_TEST

START_TEST(test_json)
{
    struct sl_log_access a = rec(SL_LOG_FMT_JSON);

    ck_assert_str_eq(fmt(&a), "{\"time\":1795830561.042,\"elapsed_ms\":7,"
                     "\"status\":200,\"bytes\":1234,\"client\":\"192.0.2.10\","
                     "\"code\":\"TCP_MISS\",\"method\":\"GET\","
                     "\"url\":\"http://example.com/a?b=c\",\"version\":\"1.1\","
                     "\"user\":null,\"hier\":\"HIER_DIRECT\","
                     "\"peer\":\"198.51.100.7\",\"type\":\"text/html\","
                     "\"rule\":\"allow localnet\",\"category\":null,"
                     "\"cache_status\":\"fwd=miss; stored\","
                     "\"host\":\"example.com\",\"sni\":null,"
                     "\"referer\":\"http://example.com/\","
                     "\"user_agent\":\"curl/7.88.1\",\"vhost\":null,"
                     "\"route\":null,\"route_index\":null,\"backend\":null,"
                     "\"request_id\":null,\"consumer\":null}\n");
}
END_TEST

/* A reverse-mode transaction: JSON names its site, route (its name and
 * index), backend, request id and consumer (escaped like any value: a
 * client chose the id, a default route name holds a pattern); the other
 * formats are Squid's and stay as they are, the backend's address in the
 * hierarchy field. */
START_TEST(test_reverse_fields)
{
    static const enum sl_log_format f[] = { SL_LOG_FMT_SQUID,
        SL_LOG_FMT_COMMON, SL_LOG_FMT_COMBINED };
    char plain[SL_LOGFMT_LINE_MAX];
    struct sl_log_access a = rec(SL_LOG_FMT_JSON);
    size_t i;

    a.vhost = "www.example.com";
    a.route = 3;
    a.route_name = "www.example.com~^/\"x\"";
    a.backend = "10.0.0.7:8080";
    a.request_id = "id\"1\n";
    a.consumer = "alice";
    fmt(&a);
    ck_assert_ptr_nonnull(strstr(line, ",\"user_agent\":\"curl/7.88.1\","
        "\"vhost\":\"www.example.com\",\"route\":\"www.example.com~^/\\\"x\\\"\","
        "\"route_index\":3,\"backend\":\"10.0.0.7:8080\","
        "\"request_id\":\"id\\\"1\\n\",\"consumer\":\"alice\"}\n"));
    /* route 0 is a route; a route without auth has no consumer */
    a.route = 0;
    a.consumer = NULL;
    fmt(&a);
    ck_assert_ptr_nonnull(strstr(line, ",\"route_index\":0,"));
    ck_assert_ptr_nonnull(strstr(line, ",\"consumer\":null}"));
    /* without a vhost there is none */
    a.vhost = NULL;
    a.consumer = "alice";
    fmt(&a);
    ck_assert_ptr_nonnull(strstr(line, ",\"vhost\":null,\"route\":null,\"route_index\":null,"));
    ck_assert_ptr_nonnull(strstr(line, ",\"consumer\":null}"));
    for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        a = rec(f[i]);
        fmt(&a);
        strcpy(plain, line);
        a.vhost = "www.example.com";
        a.route = 3;
        a.backend = "10.0.0.7:8080";
        a.request_id = "abc";
        ck_assert_str_eq(fmt(&a), plain);
    }
}
END_TEST

/* What a client can put in a URL or a header field, in each context. */
#define HOSTILE "a\"b\\c\td\re\nf\001g\177h\377i j"

START_TEST(test_hostile_values)
{
    struct sl_log_access a = rec(SL_LOG_FMT_SQUID);

    a.url = HOSTILE;
    a.user = HOSTILE;
    a.type = HOSTILE;
    ck_assert_str_eq(fmt(&a), "1795830561.042      7 192.0.2.10 TCP_MISS/200 "
                     "1234 GET a%22b%5Cc%09d%0De%0Af%01g%7Fh%FFi%20j "
                     "a%22b%5Cc%09d%0De%0Af%01g%7Fh%FFi%20j "
                     "HIER_DIRECT/198.51.100.7 "
                     "a%22b%5Cc%09d%0De%0Af%01g%7Fh%FFi%20j\n");
    a = rec(SL_LOG_FMT_COMBINED);
    a.url = HOSTILE;
    a.referer = HOSTILE;
    a.user_agent = "\" 200 1 \"-\" \"x\" TCP_HIT:HIER_NONE\n1.2.3.4 - -";
    ck_assert_str_eq(fmt(&a), "192.0.2.10 - - [28/Nov/2026:01:49:21 +0000] "
                     "\"GET a\\\"b\\\\c\\td\\re\\nf\\x01g\\x7fh\\xffi j HTTP/1.1\" "
                     "200 1234 \"a\\\"b\\\\c\\td\\re\\nf\\x01g\\x7fh\\xffi j\" "
                     "\"\\\" 200 1 \\\"-\\\" \\\"x\\\" TCP_HIT:HIER_NONE\\n"
                     "1.2.3.4 - -\" TCP_MISS:HIER_DIRECT\n");
    a = rec(SL_LOG_FMT_JSON);
    a.user_agent = HOSTILE;
    fmt(&a);
    ck_assert_ptr_nonnull(strstr(line, ",\"user_agent\":\"a\\\"b\\\\c\\td\\re\\nf"
                                 "\\u0001g\\u007fh\\u00ffi j\",\"vhost\":null,"));
}
END_TEST

/* Valid UTF-8 stays as it is in JSON; any other byte is \u00XX. */
START_TEST(test_json_utf8)
{
    struct sl_log_access a = rec(SL_LOG_FMT_JSON);

    a.user_agent = "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"      /* é € 😀 */
                   "|\xc0\x80|\xed\xa0\x80|\xf5\x80\x80\x80|\xe2\x82";
    fmt(&a);
    ck_assert_ptr_nonnull(strstr(line, ",\"user_agent\":\"\xc3\xa9\xe2\x82\xac"
        "\xf0\x9f\x98\x80|\\u00c0\\u0080|\\u00ed\\u00a0\\u0080|"
        "\\u00f5\\u0080\\u0080\\u0080|\\u00e2\\u0082\",\"vhost\":null,"));
    a = rec(SL_LOG_FMT_COMBINED);           /* quoted: all \xhh */
    a.user_agent = "\xc3\xa9";
    fmt(&a);
    ck_assert_ptr_nonnull(strstr(line, "\"\\xc3\\xa9\" TCP_MISS"));
}
END_TEST

/* A URL far past its cap: cut at 8 KiB, the line goes on whole. */
START_TEST(test_long_url_cut)
{
    static const enum sl_log_format f[] = { SL_LOG_FMT_SQUID,
        SL_LOG_FMT_COMMON, SL_LOG_FMT_COMBINED, SL_LOG_FMT_JSON };
    const char *u;
    size_t i;

    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    for (i = 0; i < 4; i++) {
        struct sl_log_access a = rec(f[i]);

        a.url = big;
        a.referer = a.user_agent = big;     /* far past the kept 512 too */
        fmt(&a);
        u = strstr(line, "xxx");
        ck_assert_ptr_nonnull(u);
        ck_assert_uint_eq(strspn(u, "x"), f[i] == SL_LOG_FMT_JSON ? 8190 : 8192);
        switch (f[i]) {
        case SL_LOG_FMT_SQUID:
            ck_assert_ptr_nonnull(strstr(line, "x - HIER_DIRECT/198.51.100.7 text/html\n"));
            break;
        case SL_LOG_FMT_COMMON:
            ck_assert_ptr_nonnull(strstr(line, "x HTTP/1.1\" 200 1234 TCP_MISS:HIER_DIRECT\n"));
            break;
        case SL_LOG_FMT_COMBINED:
            ck_assert_ptr_nonnull(strstr(line, "x HTTP/1.1\" 200 1234 \"xxx"));
            ck_assert_ptr_nonnull(strstr(line, "x\" TCP_MISS:HIER_DIRECT\n"));
            break;
        case SL_LOG_FMT_JSON:
            ck_assert_ptr_nonnull(strstr(line, "x\",\"version\":\"1.1\""));
            ck_assert_ptr_nonnull(strstr(line, "x\",\"vhost\":null,"));
            break;
        }
    }
}
END_TEST

/* Every value at its worst (each byte a 6-byte escape): still one whole
 * JSON object, every key there, no escape cut in two. */
START_TEST(test_worst_case_fits)
{
    struct sl_log_access a;
    const char *p;
    size_t n;

    memset(big, '\001', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    a = (struct sl_log_access){ .format = SL_LOG_FMT_JSON, .client = big,
        .code = big, .method = big, .url = big, .version = big, .user = big,
        .hier = big, .peer = big, .type = big, .rule = big, .category = big,
        .cache_status = big, .host = big, .sni = big, .referer = big,
        .user_agent = big, .vhost = big, .route = INT_MIN, .route_name = big,
        .backend = big, .request_id = big, .consumer = big };
    fmt(&a);
    n = strlen(line);
    ck_assert_str_eq(line + n - 3, "\"}\n");
    ck_assert_ptr_nonnull(strstr(line, "\",\"route_index\":-2147483648,\"backend\":\"\\u0001"));
    ck_assert_ptr_nonnull(strstr(line, "\",\"consumer\":\"\\u0001"));
    ck_assert_ptr_nonnull(strstr(line, "\",\"request_id\":\"\\u0001"));
    p = strstr(line, ",\"url\":\"");
    ck_assert_ptr_nonnull(p);
    for (p += 8, n = 0; strncmp(p, "\\u0001", 6) == 0; p += 6)
        n++;
    ck_assert_uint_eq(n, 8190 / 6);
    ck_assert_int_eq(strncmp(p, "\",\"version\":\"\\u0001", 19), 0);
    ck_assert_ptr_nonnull(strstr(line, "\",\"sni\":\"\\u0001"));
    ck_assert_ptr_nonnull(strstr(line, "\",\"user_agent\":\"\\u0001"));
}
END_TEST

/* A buffer smaller than the line: cut, but still one line that fits. */
START_TEST(test_small_buffer)
{
    struct sl_log_access a = rec(SL_LOG_FMT_COMBINED);
    char small[24];
    size_t n = sl_logfmt_access(&a, small, sizeof(small));

    ck_assert_uint_eq(n, sizeof(small));
    ck_assert_int_eq(small[n - 1], '\n');
    ck_assert_ptr_eq(memchr(small, '\n', n), small + n - 1);
    n = sl_logfmt_access(&a, small, 2);
    ck_assert_uint_le(n, 2);
    ck_assert_int_eq(small[n - 1], '\n');
}
END_TEST

static Suite *logfmt_suite(void)
{
    Suite *s = suite_create("logfmt");
    TCase *t = tcase_create("formats");

    tcase_add_checked_fixture(t, setup, NULL);
    tcase_add_test(t, test_squid);
    tcase_add_test(t, test_common);
    tcase_add_test(t, test_combined);
    tcase_add_test(t, test_json);
    tcase_add_test(t, test_reverse_fields);
    tcase_add_test(t, test_hostile_values);
    tcase_add_test(t, test_json_utf8);
    tcase_add_test(t, test_long_url_cut);
    tcase_add_test(t, test_worst_case_fits);
    tcase_add_test(t, test_small_buffer);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(logfmt_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
