/*
 * check_policy.c - cache/policy.c, rule by rule from RFC 9111 (caching),
 * RFC 9110 (dates, conditionals, ranges, status codes) and RFC 5861
 * (stale-while-revalidate, stale-if-error). Each test names the section it
 * takes its cases from.
 *
 * Messages are built from literal text with the real parser, each copied
 * into a buffer of exactly its length so that an overread trips ASan.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/policy.h"
#include "squidlike/buf.h"
#include "squidlike/http.h"

#define T0 INT64_C(784111777)   /* Sun, 06 Nov 1994 08:49:37 GMT */
#define NSLOT 256
#define NHDRS 32

struct slot {
    struct sl_http_hdr hdrs[NHDRS];
    struct sl_http_msg m;
    char *copy;
};

static struct slot slots[NSLOT];
static int nslot;
static const struct sl_http_limits lim = { 8192, 65536 };

/*
 * Free the bytes of every message parsed so far. Slots are not reused until
 * the test ends, so a message used after release() reads freed memory and
 * AddressSanitizer says so, instead of silently seeing a newer message.
 */
static void release(void)
{
    int i;

    for (i = 0; i < nslot; i++) {
        free(slots[i].copy);
        slots[i].copy = NULL;
    }
}

static void teardown(void)
{
    release();
    nslot = 0;
}

/* Parse a head built with printf; the final CRLF is added here. */
static struct sl_http_msg *parse(int is_req, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static struct sl_http_msg *parse(int is_req, const char *fmt, ...)
{
    char tmp[4096];
    struct slot *s;
    va_list ap;
    ssize_t r;
    size_t n;

    va_start(ap, fmt);
    vsnprintf(tmp, sizeof(tmp) - 2, fmt, ap);
    va_end(ap);
    strcat(tmp, "\r\n");
    n = strlen(tmp);
    ck_assert_int_lt(nslot, NSLOT);
    s = &slots[nslot++];
    s->copy = malloc(n);
    ck_assert_ptr_nonnull(s->copy);
    memcpy(s->copy, tmp, n);
    s->m.hdrs = s->hdrs;
    s->m.max_hdrs = NHDRS;
    r = is_req ? sl_http_parse_request(s->copy, n, &lim, &s->m)
               : sl_http_parse_response(s->copy, n, &lim, &s->m);
    ck_assert_msg(r == (ssize_t)n, "parse failed (%s): %s",
                  s->m.err ? s->m.err : "incomplete", tmp);
    return &s->m;
}

/* A GET with extra header lines h ("Name: v\r\n" each), and a 200 likewise. */
#define REQ(...) parse(1, "GET /x HTTP/1.1\r\nHost: h\r\n" __VA_ARGS__)
#define RESP(...) parse(0, "HTTP/1.1 200 OK\r\n" __VA_ARGS__)

/* An IMF-fixdate from a small ring of buffers (format is tested apart). */
static const char *D(int64_t t)
{
    static char ring[8][32];
    static int i;
    char *b = ring[i++ % 8];

    cache_date_format(t, b);
    return b;
}

static struct cache_cc cc_of(const struct sl_http_msg *m, int is_req)
{
    struct cache_cc cc;

    memset(&cc, 0x5a, sizeof(cc));  /* the parser must set every field */
    cache_cc_parse(m, is_req, &cc);
    return cc;
}

static struct cache_fresh fresh_of(const struct sl_http_msg *resp,
                                   const struct cache_heuristic *h,
                                   int64_t req_t, int64_t resp_t)
{
    struct cache_cc cc = cc_of(resp, 0);
    struct cache_fresh f;

    memset(&f, 0x5a, sizeof(f));
    cache_fresh_compute(resp, &cc, h, req_t, resp_t, &f);
    return f;
}

static int64_t date_of(const char *s)
{
    struct sl_view v = { s, strlen(s) };
    return cache_date_parse(v);
}

static void buf_is(const struct sl_buf *b, const char *exp)
{
    size_t n = sl_buf_len(b);

    ck_assert_msg(n == strlen(exp) && memcmp(b->pos, exp, n) == 0,
                  "got '%.*s', want '%s'", (int)n, b->pos, exp);
}

/* --- Cache-Control parsing (RFC 9111 5.2) -------------------------------- */

START_TEST(cc_all_directives)
{
    struct cache_cc cc;

    cc = cc_of(RESP("Cache-Control: public, max-age=60, s-maxage=120, "
                    "must-revalidate, proxy-revalidate, no-transform, immutable, "
                    "stale-while-revalidate=30, stale-if-error=300, private, "
                    "no-cache\r\n"), 0);
    ck_assert_int_eq(cc.max_age, 60);
    ck_assert_int_eq(cc.s_maxage, 120);
    ck_assert_int_eq(cc.stale_while_revalidate, 30);
    ck_assert_int_eq(cc.stale_if_error, 300);
    ck_assert(cc.public_ && cc.private_ && cc.no_cache && cc.must_revalidate);
    ck_assert(cc.proxy_revalidate && cc.no_transform && cc.immutable);
    ck_assert(!cc.no_store && !cc.only_if_cached && !cc.pragma_no_cache);
    ck_assert_int_eq(cc.max_stale, -1);
    ck_assert_int_eq(cc.min_fresh, -1);

    cc = cc_of(REQ("Cache-Control: max-stale=10, min-fresh=5, only-if-cached, "
                   "no-store, stale-if-error=7\r\n"), 1);
    ck_assert_int_eq(cc.max_stale, 10);
    ck_assert_int_eq(cc.min_fresh, 5);
    ck_assert_int_eq(cc.stale_if_error, 7);
    ck_assert(cc.only_if_cached && cc.no_store && !cc.no_cache);
    ck_assert_int_eq(cc.max_age, -1);

    cc = cc_of(REQ(""), 1);             /* nothing: all absent */
    ck_assert_int_eq(cc.max_age, -1);
    ck_assert_int_eq(cc.s_maxage, -1);
    ck_assert_int_eq(cc.max_stale, -1);
    ck_assert_int_eq(cc.min_fresh, -1);
    ck_assert_int_eq(cc.stale_while_revalidate, -1);
    ck_assert_int_eq(cc.stale_if_error, -1);
    ck_assert(!cc.no_store && !cc.no_cache && !cc.private_ && !cc.public_);
    ck_assert(!cc.must_revalidate && !cc.immutable && !cc.pragma_no_cache);

    /* 5.2: directive names are case-insensitive; unknown ones ignored;
     * empty list elements are fine (RFC 9110 5.6.1). */
    cc = cc_of(RESP("Cache-Control: , foo=bar, MAX-AGE=5,, No-Store, baz\r\n"), 0);
    ck_assert_int_eq(cc.max_age, 5);
    ck_assert(cc.no_store);
}
END_TEST

START_TEST(cc_quoted)
{
    struct cache_cc cc;

    /* 5.2: "60" and 60 are the same argument. */
    cc = cc_of(RESP("Cache-Control: max-age=\"60\"\r\n"), 0);
    ck_assert_int_eq(cc.max_age, 60);
    /* A comma inside a quoted argument does not split the list. */
    cc = cc_of(RESP("Cache-Control: private=\"max-age=1, no-store\", max-age=7\r\n"), 0);
    ck_assert(cc.private_);
    ck_assert(!cc.no_store);
    ck_assert_int_eq(cc.max_age, 7);
    /* no-cache with field names still means the whole response here. */
    cc = cc_of(RESP("Cache-Control: no-cache=\"Set-Cookie, X-Foo\", s-maxage=9\r\n"), 0);
    ck_assert(cc.no_cache);
    ck_assert_int_eq(cc.s_maxage, 9);
    /* quoted-pair: \" does not end the string. */
    cc = cc_of(RESP("Cache-Control: no-cache=\"a\\\", max-age=1\", s-maxage=9\r\n"), 0);
    ck_assert_int_eq(cc.max_age, -1);
    ck_assert_int_eq(cc.s_maxage, 9);
}
END_TEST

START_TEST(cc_bad_args)
{
    static const char *bad_maxage[] = {
        "max-age=abc", "max-age=", "max-age", "max-age=-1", "max-age=1.5",
        "max-age=\"60", "max-age=60 junk", "max-age=+5", "max-age=\"\"",
    };
    struct cache_cc cc;
    size_t i;

    /* policy.h: a bad max-age / s-maxage reads as 0 (stale), 4.2.1. */
    for (i = 0; i < sizeof(bad_maxage) / sizeof(bad_maxage[0]); i++) {
        cc = cc_of(RESP("Cache-Control: %s\r\n", bad_maxage[i]), 0);
        ck_assert_msg(cc.max_age == 0, "%s -> %lld", bad_maxage[i],
                      (long long)cc.max_age);
        release();
    }
    cc = cc_of(RESP("Cache-Control: s-maxage=x\r\n"), 0);
    ck_assert_int_eq(cc.s_maxage, 0);
    /* ... and a bad max-stale / min-fresh / stale-* is absent. */
    cc = cc_of(REQ("Cache-Control: max-stale=abc, min-fresh=x, "
                   "stale-while-revalidate=, stale-if-error=\"\"\r\n"), 1);
    ck_assert_int_eq(cc.max_stale, -1);
    ck_assert_int_eq(cc.min_fresh, -1);
    ck_assert_int_eq(cc.stale_while_revalidate, -1);
    ck_assert_int_eq(cc.stale_if_error, -1);
    cc = cc_of(REQ("Cache-Control: min-fresh, stale-if-error\r\n"), 1);
    ck_assert_int_eq(cc.min_fresh, -1);
    ck_assert_int_eq(cc.stale_if_error, -1);
    /* 5.2.1.2: a bare max-stale accepts any staleness. */
    cc = cc_of(REQ("Cache-Control: max-stale\r\n"), 1);
    ck_assert(cc.max_stale == INT64_MAX);
    /* 1.2.2: saturate at 2^31. */
    cc = cc_of(RESP("Cache-Control: max-age=99999999999999999999999, "
                    "s-maxage=2147483647, stale-if-error=2147483648\r\n"), 0);
    ck_assert(cc.max_age == (INT64_C(1) << 31));
    ck_assert(cc.s_maxage == 2147483647);
    ck_assert(cc.stale_if_error == (INT64_C(1) << 31));
    cc = cc_of(RESP("Cache-Control: max-age=007\r\n"), 0);
    ck_assert_int_eq(cc.max_age, 7);
}
END_TEST

START_TEST(cc_duplicates_and_lines)
{
    struct cache_cc cc;

    /* 4.2.1: the first occurrence wins, within a line and across lines. */
    cc = cc_of(RESP("Cache-Control: max-age=10, max-age=20\r\n"), 0);
    ck_assert_int_eq(cc.max_age, 10);
    cc = cc_of(RESP("Cache-Control: s-maxage=5\r\nCache-Control: s-maxage=1\r\n"), 0);
    ck_assert_int_eq(cc.s_maxage, 5);
    cc = cc_of(RESP("Cache-Control: max-age=abc\r\nCache-Control: max-age=20\r\n"), 0);
    ck_assert_int_eq(cc.max_age, 0);
    cc = cc_of(REQ("Cache-Control: min-fresh=3, min-fresh=9\r\n"), 1);
    ck_assert_int_eq(cc.min_fresh, 3);
    /* Several lines are one list. */
    cc = cc_of(RESP("Cache-Control: no-store\r\nX: y\r\ncache-control: max-age=5\r\n"), 0);
    ck_assert(cc.no_store);
    ck_assert_int_eq(cc.max_age, 5);
    cc = cc_of(RESP("Cache-Control:\r\nCache-Control: public\r\n"), 0);
    ck_assert(cc.public_);
}
END_TEST

START_TEST(cc_pragma)
{
    struct cache_cc cc;

    /* 5.4: Pragma: no-cache in a request without Cache-Control. */
    cc = cc_of(REQ("Pragma: no-cache\r\n"), 1);
    ck_assert(cc.pragma_no_cache);
    ck_assert(!cc.no_cache);
    cc = cc_of(REQ("Pragma: foo, No-Cache\r\n"), 1);
    ck_assert(cc.pragma_no_cache);
    cc = cc_of(REQ("Pragma: no-cache-please\r\n"), 1);
    ck_assert(!cc.pragma_no_cache);
    /* ... ignored when Cache-Control is present, */
    cc = cc_of(REQ("Pragma: no-cache\r\nCache-Control: max-age=5\r\n"), 1);
    ck_assert(!cc.pragma_no_cache);
    ck_assert_int_eq(cc.max_age, 5);
    /* ... and in responses. */
    cc = cc_of(RESP("Pragma: no-cache\r\n"), 0);
    ck_assert(!cc.pragma_no_cache);
    ck_assert(!cc.no_cache);
}
END_TEST

/* --- HTTP-date (RFC 9110 5.6.7) ------------------------------------------ */

START_TEST(date_formats)
{
    /* The three examples of 5.6.7, the same instant. */
    ck_assert(date_of("Sun, 06 Nov 1994 08:49:37 GMT") == T0);
    ck_assert(date_of("Sunday, 06-Nov-94 08:49:37 GMT") == T0);
    ck_assert(date_of("Sun Nov  6 08:49:37 1994") == T0);
    ck_assert(date_of("Sun Nov 06 08:49:37 1994") == T0);     /* 2DIGIT day */
    ck_assert(date_of("Wed Nov 16 08:49:37 1994") == 784975777);
    /* The weekday is only spelled, not checked against the date. */
    ck_assert(date_of("Mon, 06 Nov 1994 08:49:37 GMT") == T0);
    /* Leap years, the leap second, the ends of the range. */
    ck_assert(date_of("Tue, 29 Feb 2000 00:00:00 GMT") == 951782400);
    ck_assert(date_of("Sat, 31 Dec 2016 23:59:60 GMT") == 1483228799 + 1);
    ck_assert(date_of("Thu, 01 Jan 1970 00:00:00 GMT") == 0);
    ck_assert(date_of("Fri, 31 Dec 9999 23:59:59 GMT") == INT64_C(253402300799));
    ck_assert(date_of("Mon, 01 Jan 1900 00:00:00 GMT") == 0);  /* pre-epoch */
    /* rfc850 two-digit years: pivot 70. */
    ck_assert(date_of("Thursday, 01-Jan-70 00:00:00 GMT") == 0);
    ck_assert(date_of("Sunday, 01-Jan-68 00:00:00 GMT") == INT64_C(3092601600));
    ck_assert(date_of("Tuesday, 31-Dec-69 00:00:00 GMT") == INT64_C(3155673600));
    /* Field values arrive trimmed, but a view with OWS is fine too. */
    ck_assert(date_of(" Sun, 06 Nov 1994 08:49:37 GMT ") == T0);
}
END_TEST

START_TEST(date_invalid)
{
    static const char *bad[] = {
        "", "0", "-1", "yesterday",
        "Sun, 06 Nov 1994 08:49:37 PST",
        "Sun, 06 nov 1994 08:49:37 GMT",        /* names are case-sensitive */
        "sun, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 gmt",
        "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 94 08:49:37 GMT",
        "Sun, 31 Feb 1994 08:49:37 GMT",
        "Thu, 29 Feb 1900 00:00:00 GMT",        /* 1900 is not a leap year */
        "Sun, 31 Apr 1994 08:49:37 GMT",
        "Sun, 00 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 06 Nov 1994 08:60:00 GMT",
        "Sun, 06 Nov 1994 08:49:61 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMTX",
        "Sun, 06 Nov 1994 08:49 GMT",
        "Sun, 06 Nov 1994 08-49-37 GMT",
        "Sun, 06 Xyz 1994 08:49:37 GMT",
        "Sun  06 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMT, Mon, 07 Nov 1994 08:49:37 GMT",
        "Sunday, 06-Nov-1994 08:49:37 GMT",
        "Sun, 06-Nov-94 08:49:37 GMT",
        "Sonday, 06-Nov-94 08:49:37 GMT",
        "Sunday, 06 Nov 94 08:49:37 GMT",
        "Sunday, 06-Nov-94 08:49:37 UTC",
        "Sun Nov  6 08:49:37 94",
        "Sun Nov 6 08:49:37 1994",
        "Sun Nov  6 08:49:37 1994 GMT",
        "Sun Nov  x 08:49:37 1994",
        "Sun, 06 Nov 1994 08:49:37 GMT\r",
    };
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(date_of(bad[i]) == -1, "accepted '%s'", bad[i]);
}
END_TEST

START_TEST(date_format)
{
    char buf[31];
    int64_t t;

    memset(buf, 'X', sizeof(buf));
    cache_date_format(T0, buf);
    ck_assert_str_eq(buf, "Sun, 06 Nov 1994 08:49:37 GMT");
    ck_assert_int_eq(buf[30], 'X');     /* 30 bytes, NUL included */
    cache_date_format(0, buf);
    ck_assert_str_eq(buf, "Thu, 01 Jan 1970 00:00:00 GMT");
    cache_date_format(951782400, buf);
    ck_assert_str_eq(buf, "Tue, 29 Feb 2000 00:00:00 GMT");
    cache_date_format(-5, buf);
    ck_assert_str_eq(buf, "Thu, 01 Jan 1970 00:00:00 GMT");
    cache_date_format(INT64_MAX, buf);
    ck_assert_str_eq(buf, "Fri, 31 Dec 9999 23:59:59 GMT");
    /* Round trip across centuries, leap days and weekdays. */
    for (t = 0; t < INT64_C(253402300799); t += INT64_C(86400) * 97 + 3607) {
        cache_date_format(t, buf);
        ck_assert_msg(date_of(buf) == t, "%lld -> %s", (long long)t, buf);
    }
}
END_TEST

/* --- storing (RFC 9111 3) ------------------------------------------------ */

static const char *storable(const char *method, const struct sl_http_msg *req,
                            const struct sl_http_msg *resp)
{
    struct cache_cc qc = cc_of(req, 1), rc = cc_of(resp, 0);
    const char *why = cache_storable(method, req, &qc, resp, &rc);

    return why ? why : "ok";
}

#define STORE(want, method, req, resp) \
    ck_assert_str_eq(storable(method, req, resp), want)

START_TEST(store_reasons)
{
    struct sl_http_msg *plain = REQ(""), *auth;

    STORE("ok", "GET", plain, RESP(""));
    /* Only GET. */
    STORE("method", "HEAD", plain, RESP(""));
    STORE("method", "POST", plain, RESP(""));
    STORE("method", "get", plain, RESP(""));
    /* Final statuses, whole objects. */
    STORE("status", "GET", plain, parse(0, "HTTP/1.1 100 Continue\r\n"));
    STORE("status", "GET", plain, parse(0, "HTTP/1.1 206 Partial\r\n"
                                        "Cache-Control: max-age=60\r\n"));
    STORE("status", "GET", plain, parse(0, "HTTP/1.1 304 Not Modified\r\n"
                                        "Cache-Control: max-age=60\r\n"));
    release();
    /* no-store, either side (5.2.1.5, 5.2.2.5). */
    plain = REQ("");
    STORE("no-store", "GET", REQ("Cache-Control: no-store\r\n"), RESP(""));
    STORE("no-store", "GET", plain, RESP("Cache-Control: max-age=9, no-store\r\n"));
    /* private, with or without field names (5.2.2.7). */
    STORE("private", "GET", plain, RESP("Cache-Control: private\r\n"));
    STORE("private", "GET", plain, RESP("Cache-Control: private=\"X\"\r\n"));
    release();
    /* 3.5: Authorization needs public, s-maxage or must-revalidate. */
    auth = REQ("Authorization: Basic eDp5\r\n");
    STORE("authorization", "GET", auth, RESP("Cache-Control: max-age=60\r\n"));
    STORE("ok", "GET", auth, RESP("Cache-Control: public\r\n"));
    STORE("ok", "GET", auth, RESP("Cache-Control: s-maxage=5\r\n"));
    STORE("ok", "GET", auth, RESP("Cache-Control: must-revalidate\r\n"));
    release();
    /* 4.1: Vary: * never matches. */
    plain = REQ("");
    STORE("vary *", "GET", plain, RESP("Vary: *\r\n"));
    STORE("vary *", "GET", plain, RESP("Vary: Accept\r\nVary: Accept-Language, *\r\n"));
    STORE("ok", "GET", plain, RESP("Vary: Accept\r\n"));
    /* Set-Cookie only with public or s-maxage. */
    STORE("set-cookie", "GET", plain,
          RESP("Set-Cookie: a=b\r\nCache-Control: max-age=60\r\n"));
    STORE("ok", "GET", plain, RESP("Set-Cookie: a=b\r\nCache-Control: public\r\n"));
    STORE("ok", "GET", plain, RESP("Set-Cookie: a=b\r\nCache-Control: s-maxage=1\r\n"));
}
END_TEST

START_TEST(store_status_freshness)
{
    /* RFC 9110 15.1: heuristically cacheable (206 aside). */
    static const int heur[] = { 200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501 };
    static const int other[] = { 201, 202, 302, 303, 307, 400, 403, 500, 502, 503 };
    struct sl_http_msg *plain;
    size_t i;

    for (i = 0; i < sizeof(heur) / sizeof(heur[0]); i++) {
        plain = REQ("");
        ck_assert_msg(strcmp(storable("GET", plain, parse(0, "HTTP/1.1 %d X\r\n", heur[i])),
                             "ok") == 0, "%d", heur[i]);
        release();
    }
    for (i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
        plain = REQ("");
        ck_assert_msg(strcmp(storable("GET", plain, parse(0, "HTTP/1.1 %d X\r\n", other[i])),
                             "no freshness") == 0, "%d", other[i]);
        /* ... unless something explicit makes it cacheable (3). */
        ck_assert_str_eq(storable("GET", plain, parse(0, "HTTP/1.1 %d X\r\n"
                                  "Cache-Control: max-age=5\r\n", other[i])), "ok");
        ck_assert_str_eq(storable("GET", plain, parse(0, "HTTP/1.1 %d X\r\n"
                                  "Cache-Control: s-maxage=5\r\n", other[i])), "ok");
        ck_assert_str_eq(storable("GET", plain, parse(0, "HTTP/1.1 %d X\r\n"
                                  "Cache-Control: public\r\n", other[i])), "ok");
        ck_assert_str_eq(storable("GET", plain, parse(0, "HTTP/1.1 %d X\r\n"
                                  "Expires: %s\r\n", other[i], D(T0))), "ok");
        release();
    }
}
END_TEST

/* --- freshness lifetime (RFC 9111 4.2.1, 4.2.2) -------------------------- */

START_TEST(lifetime_precedence)
{
    struct cache_fresh f;

    /* s-maxage > max-age > Expires > heuristic */
    f = fresh_of(RESP("Date: %s\r\nCache-Control: max-age=50, s-maxage=100\r\n"
                      "Expires: %s\r\nLast-Modified: %s\r\n",
                      D(T0), D(T0 + 30), D(T0 - 10000)), NULL, T0, T0);
    ck_assert_int_eq(f.lifetime, 100);
    ck_assert(!f.heuristic);
    f = fresh_of(RESP("Date: %s\r\nCache-Control: max-age=50\r\n"
                      "Expires: %s\r\nLast-Modified: %s\r\n",
                      D(T0), D(T0 + 30), D(T0 - 10000)), NULL, T0, T0);
    ck_assert_int_eq(f.lifetime, 50);
    ck_assert(!f.heuristic);
    f = fresh_of(RESP("Date: %s\r\nExpires: %s\r\nLast-Modified: %s\r\n",
                      D(T0), D(T0 + 30), D(T0 - 10000)), NULL, T0, T0);
    ck_assert_int_eq(f.lifetime, 30);
    ck_assert(!f.heuristic);
    f = fresh_of(RESP("Date: %s\r\nLast-Modified: %s\r\n",
                      D(T0), D(T0 - 10000)), NULL, T0, T0);
    ck_assert_int_eq(f.lifetime, 1000);
    ck_assert(f.heuristic);
    /* Expires - Date uses the origin's Date, not our clock (4.2.1). */
    f = fresh_of(RESP("Date: %s\r\nExpires: %s\r\n", D(T0 - 500), D(T0 - 400)),
                 NULL, T0, T0);
    ck_assert_int_eq(f.lifetime, 100);
    /* 5.3: an invalid Expires ("0") or one in the past: already expired,
     * and no heuristic on top. */
    f = fresh_of(RESP("Date: %s\r\nExpires: 0\r\nLast-Modified: %s\r\n",
                      D(T0), D(T0 - 10000)), NULL, T0, T0);
    ck_assert_int_eq(f.lifetime, 0);
    ck_assert(!f.heuristic);
    f = fresh_of(RESP("Date: %s\r\nExpires: %s\r\n", D(T0), D(T0 - 60)), NULL, T0, T0);
    ck_assert_int_eq(f.lifetime, 0);
    /* Without Date, the receipt time stands in (RFC 9110 6.6.1). */
    f = fresh_of(RESP("Expires: %s\r\n", D(T0 + 70)), NULL, T0, T0 + 10);
    ck_assert_int_eq(f.lifetime, 60);
    ck_assert(f.date == T0 + 10);
    /* max-age=0 is explicit: no heuristic. */
    f = fresh_of(RESP("Cache-Control: max-age=0\r\nLast-Modified: %s\r\n", D(T0 - 10000)),
                 NULL, T0, T0);
    ck_assert_int_eq(f.lifetime, 0);
    ck_assert(!f.heuristic);
}
END_TEST

START_TEST(lifetime_heuristic)
{
    const struct cache_heuristic h = { .min = 60, .percent = 10, .max = 3600 },
        h50 = { .min = 0, .percent = 50, .max = 100000 };
    struct cache_fresh f;

    /* percent of (Date - Last-Modified), clamped to [min, max] */
    f = fresh_of(RESP("Date: %s\r\nLast-Modified: %s\r\n", D(T0), D(T0 - 10000)), &h, T0, T0);
    ck_assert_int_eq(f.lifetime, 1000);
    f = fresh_of(RESP("Date: %s\r\nLast-Modified: %s\r\n", D(T0), D(T0 - 100)), &h, T0, T0);
    ck_assert_int_eq(f.lifetime, 60);
    f = fresh_of(RESP("Date: %s\r\nLast-Modified: %s\r\n", D(T0), D(T0 - 1000000)),
                 &h, T0, T0);
    ck_assert_int_eq(f.lifetime, 3600);
    f = fresh_of(RESP("Date: %s\r\nLast-Modified: %s\r\n", D(T0), D(T0 - 10000)),
                 &h50, T0, T0);
    ck_assert_int_eq(f.lifetime, 5000);
    ck_assert(f.heuristic);
    release();
    /* No Last-Modified: the minimum applies (Squid's refresh_pattern). */
    f = fresh_of(RESP("Date: %s\r\n", D(T0)), &h, T0, T0);
    ck_assert_int_eq(f.lifetime, 60);
    ck_assert(f.heuristic);
    /* Last-Modified after Date, or invalid: the minimum. */
    f = fresh_of(RESP("Date: %s\r\nLast-Modified: %s\r\n", D(T0), D(T0 + 5000)), &h, T0, T0);
    ck_assert_int_eq(f.lifetime, 60);
    f = fresh_of(RESP("Date: %s\r\nLast-Modified: never\r\n", D(T0)), &h, T0, T0);
    ck_assert_int_eq(f.lifetime, 60);
    /* NULL: min 0, 10%, max one day. */
    f = fresh_of(RESP("Date: %s\r\nLast-Modified: %s\r\n", D(T0), D(T0 - 1000)), NULL, T0, T0);
    ck_assert_int_eq(f.lifetime, 100);
    f = fresh_of(RESP("Date: %s\r\nLast-Modified: %s\r\n", D(T0), D(T0 - 100 * 86400)),
                 NULL, T0, T0);
    ck_assert_int_eq(f.lifetime, 86400);
    f = fresh_of(RESP("Date: %s\r\n", D(T0)), NULL, T0, T0);
    ck_assert_int_eq(f.lifetime, 0);
    release();
    /* 4.2.2: heuristics for heuristically cacheable statuses or public. */
    f = fresh_of(parse(0, "HTTP/1.1 302 Found\r\nDate: %s\r\nLast-Modified: %s\r\n",
                       D(T0), D(T0 - 10000)), &h, T0, T0);
    ck_assert_int_eq(f.lifetime, 0);
    ck_assert(!f.heuristic);
    f = fresh_of(parse(0, "HTTP/1.1 302 Found\r\nDate: %s\r\nLast-Modified: %s\r\n"
                       "Cache-Control: public\r\n", D(T0), D(T0 - 10000)), &h, T0, T0);
    ck_assert_int_eq(f.lifetime, 1000);
    ck_assert(f.heuristic);
    f = fresh_of(parse(0, "HTTP/1.1 410 Gone\r\nDate: %s\r\nLast-Modified: %s\r\n",
                       D(T0), D(T0 - 10000)), &h, T0, T0);
    ck_assert_int_eq(f.lifetime, 1000);
    ck_assert(f.heuristic);
}
END_TEST

/*
 * An error (4xx, 5xx; 410 Gone aside) gets no heuristic lifetime, as in
 * Squid (negative_ttl 0, no refresh_pattern): a package pattern's min must
 * not keep a 404 for a package the mirror has not synced yet. An explicit
 * lifetime is the origin's word and still counts.
 */
START_TEST(lifetime_heuristic_not_for_errors)
{
    const struct cache_heuristic pkg = { .min = 90 * 86400, .percent = 100,
                                         .max = 90 * 86400 };
    static const int errors[] = { 404, 405, 414, 501 };
    struct cache_fresh f;
    size_t i;

    for (i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
        f = fresh_of(parse(0, "HTTP/1.1 %d X\r\nDate: %s\r\n", errors[i], D(T0)),
                     &pkg, T0, T0);
        ck_assert_msg(f.lifetime == 0 && !f.heuristic, "%d: lifetime %lld",
                      errors[i], (long long)f.lifetime);
        f = fresh_of(parse(0, "HTTP/1.1 %d X\r\nDate: %s\r\nLast-Modified: %s\r\n",
                           errors[i], D(T0), D(T0 - 10000)), &pkg, T0, T0);
        ck_assert_int_eq(f.lifetime, 0);
        release();
    }
    /* public does not turn an error's heuristic back on */
    f = fresh_of(parse(0, "HTTP/1.1 404 Not Found\r\nDate: %s\r\n"
                       "Cache-Control: public\r\n", D(T0)), &pkg, T0, T0);
    ck_assert_int_eq(f.lifetime, 0);
    /* explicit freshness does */
    f = fresh_of(parse(0, "HTTP/1.1 404 Not Found\r\nDate: %s\r\n"
                       "Cache-Control: max-age=600\r\n", D(T0)), &pkg, T0, T0);
    ck_assert_int_eq(f.lifetime, 600);
    f = fresh_of(parse(0, "HTTP/1.1 503 X\r\nDate: %s\r\nExpires: %s\r\n",
                       D(T0), D(T0 + 30)), &pkg, T0, T0);
    ck_assert_int_eq(f.lifetime, 30);
    release();
    /* Without Last-Modified, min is the lifetime of what is not an error
     * (Squid's refresh_pattern min), an explicit one still wins. */
    f = fresh_of(RESP("Date: %s\r\n", D(T0)), &pkg, T0, T0);
    ck_assert_int_eq(f.lifetime, 90 * 86400);
    ck_assert_int_eq(cache_decide(&f, NULL, T0 + 89 * 86400, NULL), CACHE_FRESH);
    ck_assert_int_eq(cache_decide(&f, NULL, T0 + 90 * 86400, NULL), CACHE_REFETCH);
    f = fresh_of(parse(0, "HTTP/1.1 301 Moved\r\nDate: %s\r\nLocation: /x\r\n", D(T0)),
                 &pkg, T0, T0);
    ck_assert_int_eq(f.lifetime, 90 * 86400);
    f = fresh_of(RESP("Date: %s\r\nCache-Control: max-age=60\r\n", D(T0)), &pkg, T0, T0);
    ck_assert_int_eq(f.lifetime, 60);
    ck_assert(!f.heuristic);
}
END_TEST

START_TEST(fresh_flags)
{
    struct cache_fresh f;

    f = fresh_of(RESP("Cache-Control: max-age=5\r\n"), NULL, T0, T0);
    ck_assert(!f.must_revalidate && !f.no_cache && !f.has_validator && !f.immutable);
    ck_assert_int_eq(f.swr, -1);
    ck_assert_int_eq(f.sie, -1);
    ck_assert(f.request_time == T0 && f.response_time == T0);
    f = fresh_of(RESP("Cache-Control: must-revalidate\r\n"), NULL, T0, T0);
    ck_assert(f.must_revalidate);
    f = fresh_of(RESP("Cache-Control: proxy-revalidate\r\n"), NULL, T0, T0);
    ck_assert(f.must_revalidate);
    f = fresh_of(RESP("Cache-Control: s-maxage=5\r\n"), NULL, T0, T0);  /* 5.2.2.10 */
    ck_assert(f.must_revalidate);
    f = fresh_of(RESP("Cache-Control: no-cache, immutable, stale-while-revalidate=7, "
                      "stale-if-error=9\r\n"), NULL, T0, T0);
    ck_assert(f.no_cache && f.immutable);
    ck_assert_int_eq(f.swr, 7);
    ck_assert_int_eq(f.sie, 9);
    release();
    f = fresh_of(RESP("ETag: \"a\"\r\n"), NULL, T0, T0);
    ck_assert(f.has_validator);
    f = fresh_of(RESP("Last-Modified: %s\r\n", D(T0)), NULL, T0, T0);
    ck_assert(f.has_validator);
    f = fresh_of(RESP("Last-Modified: yesterday\r\n"), NULL, T0, T0);
    ck_assert(!f.has_validator);
    f = fresh_of(RESP("ETag:\r\n"), NULL, T0, T0);
    ck_assert(!f.has_validator);
}
END_TEST

/* --- age (RFC 9111 4.2.3) ------------------------------------------------ */

START_TEST(age_formulas)
{
    struct cache_fresh f;

    /* request sent at T0, response at T0+2, Date T0, Age 10:
     * apparent_age = 2, response_delay = 2, corrected_age_value = 12,
     * corrected_initial_age = max(2, 12) = 12. */
    f = fresh_of(RESP("Date: %s\r\nAge: 10\r\n", D(T0)), NULL, T0, T0 + 2);
    ck_assert_int_eq(f.corrected_initial_age, 12);
    ck_assert(f.date == T0);
    ck_assert_int_eq(cache_age(&f, T0 + 2), 12);
    ck_assert_int_eq(cache_age(&f, T0 + 102), 112);   /* + resident_time */
    /* Origin clock behind (Date in the past): apparent_age wins. */
    f = fresh_of(RESP("Date: %s\r\nAge: 10\r\n", D(T0 - 50)), NULL, T0, T0 + 2);
    ck_assert_int_eq(f.corrected_initial_age, 52);
    /* Origin clock ahead (Date in the future): apparent_age is 0, the
     * response delay still counts. */
    f = fresh_of(RESP("Date: %s\r\n", D(T0 + 100)), NULL, T0, T0 + 2);
    ck_assert_int_eq(f.corrected_initial_age, 2);
    f = fresh_of(RESP("Date: %s\r\nAge: 30\r\n", D(T0 + 100)), NULL, T0, T0 + 2);
    ck_assert_int_eq(f.corrected_initial_age, 32);
    release();
    /* Age (5.1): first member of a list; anything invalid is ignored. */
    f = fresh_of(RESP("Date: %s\r\nAge: 7, 9\r\n", D(T0)), NULL, T0, T0);
    ck_assert_int_eq(f.corrected_initial_age, 7);
    f = fresh_of(RESP("Date: %s\r\nAge: abc\r\n", D(T0)), NULL, T0, T0);
    ck_assert_int_eq(f.corrected_initial_age, 0);
    f = fresh_of(RESP("Date: %s\r\nAge: -5\r\n", D(T0)), NULL, T0, T0);
    ck_assert_int_eq(f.corrected_initial_age, 0);
    f = fresh_of(RESP("Date: %s\r\nAge: 99999999999999999999\r\n", D(T0)), NULL, T0, T0);
    ck_assert(f.corrected_initial_age == (INT64_C(1) << 31));
    release();
    /* No Date / bad Date: response_time stands in, apparent_age 0. */
    f = fresh_of(RESP("Age: 4\r\n"), NULL, T0, T0 + 1);
    ck_assert(f.date == T0 + 1);
    ck_assert_int_eq(f.corrected_initial_age, 5);
    f = fresh_of(RESP("Date: garbage\r\n"), NULL, T0, T0 + 1);
    ck_assert(f.date == T0 + 1);
    ck_assert_int_eq(f.corrected_initial_age, 1);
    /* Never negative, even with a clock stepping back. */
    ck_assert_int_eq(cache_age(&f, T0 - 1000), 1);
    /* ... or stepping back between send and receipt (negative delay) with
     * an origin clock ahead: apparent_age = max(0, ...) keeps it at 0. */
    f = fresh_of(RESP("Date: %s\r\n", D(T0 + 100)), NULL, T0 + 5, T0);
    ck_assert_int_eq(f.corrected_initial_age, 0);
    ck_assert_int_eq(cache_age(&f, T0 + 10), 10);
}
END_TEST

/* --- using a stored response (RFC 9111 4.2, 5.2.1; RFC 5861) -------------- */

/* A response stored at T0 with Date T0 and the given Cache-Control. */
static struct cache_fresh stored_at_t0(const char *cc, int validator)
{
    return fresh_of(RESP("Date: %s\r\nCache-Control: %s\r\n%s", D(T0), cc,
                         validator ? "ETag: \"v\"\r\n" : ""), NULL, T0, T0);
}

static enum cache_verdict decide(const struct cache_fresh *f, const char *reqcc,
                                 int64_t age, int *swr)
{
    struct cache_cc qc = cc_of(reqcc ? REQ("%s\r\n", reqcc) : REQ(""), 1);

    return cache_decide(f, &qc, T0 + age, swr);
}

START_TEST(decide_fresh_and_stale)
{
    struct cache_fresh f = stored_at_t0("max-age=100", 1), g;
    int swr = 7;

    ck_assert_int_eq(decide(&f, NULL, 50, &swr), CACHE_FRESH);
    ck_assert_int_eq(swr, 0);
    ck_assert_int_eq(decide(&f, NULL, 99, &swr), CACHE_FRESH);
    /* 4.2: fresh while lifetime > age, so age == lifetime is stale. */
    ck_assert_int_eq(decide(&f, NULL, 100, &swr), CACHE_REVALIDATE);
    g = stored_at_t0("max-age=100", 0);
    ck_assert_int_eq(decide(&g, NULL, 100, &swr), CACHE_REFETCH);
    ck_assert_int_eq(decide(&g, NULL, 10, &swr), CACHE_FRESH);
    /* NULL request directives and NULL swr_out are fine. */
    ck_assert_int_eq(cache_decide(&f, NULL, T0 + 10, NULL), CACHE_FRESH);
    ck_assert_int_eq(cache_decide(&f, NULL, T0 + 200, NULL), CACHE_REVALIDATE);
}
END_TEST

START_TEST(decide_request_directives)
{
    struct cache_fresh f = stored_at_t0("max-age=100", 1);
    struct cache_fresh g = stored_at_t0("max-age=100", 0);
    int swr;

    /* 5.2.1.1 max-age */
    ck_assert_int_eq(decide(&f, "Cache-Control: max-age=0", 50, &swr), CACHE_REVALIDATE);
    ck_assert_int_eq(decide(&g, "Cache-Control: max-age=0", 50, &swr), CACHE_REFETCH);
    ck_assert_int_eq(decide(&f, "Cache-Control: max-age=60", 50, &swr), CACHE_FRESH);
    ck_assert_int_eq(decide(&f, "Cache-Control: max-age=60", 60, &swr), CACHE_FRESH);
    ck_assert_int_eq(decide(&f, "Cache-Control: max-age=60", 61, &swr), CACHE_REVALIDATE);
    /* 5.2.1.3 min-fresh: lifetime - age >= min-fresh */
    ck_assert_int_eq(decide(&f, "Cache-Control: min-fresh=50", 50, &swr), CACHE_FRESH);
    ck_assert_int_eq(decide(&f, "Cache-Control: min-fresh=51", 50, &swr), CACHE_REVALIDATE);
    /* 5.2.1.2 max-stale, bare and with a value */
    ck_assert_int_eq(decide(&f, "Cache-Control: max-stale", 100000, &swr), CACHE_STALE_SERVE);
    ck_assert_int_eq(swr, 0);
    ck_assert_int_eq(decide(&f, "Cache-Control: max-stale=20", 120, &swr), CACHE_STALE_SERVE);
    ck_assert_int_eq(decide(&f, "Cache-Control: max-stale=20", 121, &swr), CACHE_REVALIDATE);
    ck_assert_int_eq(decide(&g, "Cache-Control: max-stale=20", 121, &swr), CACHE_REFETCH);
    /* max-stale does not lift a request max-age the copy exceeds. */
    ck_assert_int_eq(decide(&f, "Cache-Control: max-age=110, max-stale=50", 120, &swr),
                     CACHE_REVALIDATE);
    ck_assert_int_eq(decide(&f, "Cache-Control: max-age=130, max-stale=50", 120, &swr),
                     CACHE_STALE_SERVE);
    /* 5.2.1.4 no-cache, 5.4 Pragma: validate even when fresh. */
    ck_assert_int_eq(decide(&f, "Cache-Control: no-cache", 1, &swr), CACHE_REVALIDATE);
    ck_assert_int_eq(decide(&g, "Cache-Control: no-cache", 1, &swr), CACHE_REFETCH);
    ck_assert_int_eq(decide(&f, "Pragma: no-cache", 1, &swr), CACHE_REVALIDATE);
    ck_assert_int_eq(decide(&f, "Cache-Control: no-cache, max-stale", 500, &swr),
                     CACHE_REVALIDATE);
}
END_TEST

START_TEST(decide_response_directives)
{
    struct cache_fresh f;
    int swr;

    /* 5.2.2.2 must-revalidate (and proxy-revalidate, s-maxage) block
     * max-stale, but not freshness. */
    f = stored_at_t0("max-age=100, must-revalidate", 1);
    ck_assert_int_eq(decide(&f, "Cache-Control: max-stale", 150, &swr), CACHE_REVALIDATE);
    ck_assert_int_eq(decide(&f, "Cache-Control: max-stale", 50, &swr), CACHE_FRESH);
    f = stored_at_t0("max-age=100, must-revalidate", 0);
    ck_assert_int_eq(decide(&f, "Cache-Control: max-stale", 150, &swr), CACHE_REFETCH);
    f = stored_at_t0("s-maxage=100", 1);
    ck_assert_int_eq(decide(&f, "Cache-Control: max-stale", 150, &swr), CACHE_REVALIDATE);
    f = stored_at_t0("max-age=100, proxy-revalidate", 1);
    ck_assert_int_eq(decide(&f, "Cache-Control: max-stale", 150, &swr), CACHE_REVALIDATE);
    /* 5.2.2.4 no-cache: validate before every use, even fresh. */
    f = stored_at_t0("max-age=100, no-cache", 1);
    ck_assert_int_eq(decide(&f, NULL, 1, &swr), CACHE_REVALIDATE);
    ck_assert_int_eq(decide(&f, "Cache-Control: max-stale", 150, &swr), CACHE_REVALIDATE);
    f = stored_at_t0("max-age=100, no-cache", 0);
    ck_assert_int_eq(decide(&f, NULL, 1, &swr), CACHE_REFETCH);
}
END_TEST

START_TEST(decide_swr_immutable)
{
    struct cache_fresh f = stored_at_t0("max-age=100, stale-while-revalidate=30", 1);
    int swr;

    /* RFC 5861 3: stale by at most 30 s: serve, revalidate behind. */
    swr = 0;
    ck_assert_int_eq(decide(&f, NULL, 120, &swr), CACHE_STALE_SERVE);
    ck_assert_int_eq(swr, 1);
    ck_assert_int_eq(decide(&f, NULL, 130, &swr), CACHE_STALE_SERVE);
    ck_assert_int_eq(swr, 1);
    ck_assert_int_eq(decide(&f, NULL, 131, &swr), CACHE_REVALIDATE);
    ck_assert_int_eq(swr, 0);
    ck_assert_int_eq(decide(&f, NULL, 50, &swr), CACHE_FRESH);
    ck_assert_int_eq(swr, 0);
    /* A request max-stale inside its own window wins, without swr. */
    ck_assert_int_eq(decide(&f, "Cache-Control: max-stale=25", 120, &swr), CACHE_STALE_SERVE);
    ck_assert_int_eq(swr, 0);
    /* Not for a client that wants fresh, nor past must-revalidate. */
    ck_assert_int_eq(decide(&f, "Cache-Control: min-fresh=1", 120, &swr), CACHE_REVALIDATE);
    ck_assert_int_eq(decide(&f, "Cache-Control: no-cache", 120, &swr), CACHE_REVALIDATE);
    f = stored_at_t0("max-age=100, stale-while-revalidate=30, must-revalidate", 1);
    ck_assert_int_eq(decide(&f, NULL, 120, &swr), CACHE_REVALIDATE);
    ck_assert_int_eq(swr, 0);
    f = stored_at_t0("max-age=100, stale-while-revalidate=30", 0);
    ck_assert_int_eq(decide(&f, NULL, 131, &swr), CACHE_REFETCH);

    /* RFC 8246: a fresh immutable response survives a reload (max-age=0)
     * but not a forced reload (no-cache), and not staleness. */
    f = stored_at_t0("max-age=100, immutable", 1);
    ck_assert_int_eq(decide(&f, "Cache-Control: max-age=0", 50, &swr), CACHE_FRESH);
    ck_assert_int_eq(decide(&f, "Cache-Control: no-cache", 50, &swr), CACHE_REVALIDATE);
    ck_assert_int_eq(decide(&f, "Cache-Control: max-age=0", 150, &swr), CACHE_REVALIDATE);
}
END_TEST

START_TEST(stale_if_error)
{
    struct cache_fresh f = stored_at_t0("max-age=100, stale-if-error=60", 1), g;
    struct cache_cc none = cc_of(REQ(""), 1);
    struct cache_cc q60 = cc_of(REQ("Cache-Control: stale-if-error=60\r\n"), 1);
    struct cache_cc q5 = cc_of(REQ("Cache-Control: stale-if-error=5\r\n"), 1);

    /* RFC 5861 4, from the response: stale by at most 60 s. */
    ck_assert(cache_stale_if_error_ok(&f, &none, T0 + 150));
    ck_assert(cache_stale_if_error_ok(&f, &none, T0 + 160));
    ck_assert(!cache_stale_if_error_ok(&f, &none, T0 + 161));
    ck_assert(cache_stale_if_error_ok(&f, NULL, T0 + 160));
    ck_assert(cache_stale_if_error_ok(&f, &q5, T0 + 160));  /* either allows */
    /* ... from the request. */
    g = stored_at_t0("max-age=100", 1);
    ck_assert(!cache_stale_if_error_ok(&g, &none, T0 + 150));
    ck_assert(cache_stale_if_error_ok(&g, &q60, T0 + 150));
    ck_assert(!cache_stale_if_error_ok(&g, &q60, T0 + 161));
    ck_assert(!cache_stale_if_error_ok(&g, &q5, T0 + 106));
    /* RFC 9111 5.2.2.2 / 5.2.2.4 win over it. */
    g = stored_at_t0("max-age=100, stale-if-error=60, must-revalidate", 1);
    ck_assert(!cache_stale_if_error_ok(&g, &q60, T0 + 150));
    g = stored_at_t0("max-age=100, stale-if-error=60, no-cache", 1);
    ck_assert(!cache_stale_if_error_ok(&g, &q60, T0 + 150));
}
END_TEST

/* --- validation (RFC 9111 4.3) ------------------------------------------- */

START_TEST(conditional_request)
{
    struct sl_buf b;

    ck_assert_int_eq(sl_buf_init(&b, 512), 0);
    ck_assert_int_eq(cache_conditional(RESP("ETag: W/\"abc\"\r\nLast-Modified: %s\r\n",
                                            D(T0)), &b), 2);
    buf_is(&b, "If-None-Match: W/\"abc\"\r\n"
               "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n");
    sl_buf_reset(&b);
    /* Verbatim, even in an obsolete format. */
    ck_assert_int_eq(cache_conditional(
        RESP("Last-Modified: Sunday, 06-Nov-94 08:49:37 GMT\r\n"), &b), 1);
    buf_is(&b, "If-Modified-Since: Sunday, 06-Nov-94 08:49:37 GMT\r\n");
    sl_buf_reset(&b);
    ck_assert_int_eq(cache_conditional(RESP("ETag: \"x\"\r\nLast-Modified: soon\r\n"), &b), 1);
    buf_is(&b, "If-None-Match: \"x\"\r\n");
    sl_buf_reset(&b);
    ck_assert_int_eq(cache_conditional(RESP("Last-Modified: soon\r\n"), &b), 0);
    ck_assert_int_eq(cache_conditional(RESP(""), &b), 0);
    buf_is(&b, "");
    sl_buf_free(&b);

    /* -ENOSPC leaves the buffer as it was. */
    ck_assert_int_eq(sl_buf_init(&b, 40), 0);
    ck_assert_int_eq(sl_buf_append(&b, "X", 1), 0);
    ck_assert_int_eq(cache_conditional(RESP("ETag: \"abc\"\r\nLast-Modified: %s\r\n", D(T0)),
                                       &b), -ENOSPC);
    buf_is(&b, "X");
    sl_buf_free(&b);
}
END_TEST

START_TEST(merge_304)
{
    struct sl_buf b;
    struct sl_http_msg *stored, *upd;

    ck_assert_int_eq(sl_buf_init(&b, 1024), 0);
    stored = RESP("Date: A\r\nCache-Control: max-age=10\r\nContent-Type: text/html\r\n"
                  "Cache-Control: public\r\nETag: \"1\"\r\nContent-Length: 5\r\n"
                  "Age: 3\r\nX-Old: o\r\n");
    upd = parse(0, "HTTP/1.1 304 Not Modified\r\nDate: B\r\nCache-Control: max-age=60\r\n"
                "cache-control: must-revalidate\r\nContent-Length: 0\r\nAge: 9\r\n"
                "Connection: X-Hop\r\nX-Hop: h\r\nKeep-Alive: timeout=5\r\n"
                "X-New: n\r\nX-New: m\r\n");
    /* 3.2: replaced in place of the first stored line, all lines of the
     * name; new names appended; excluded ones keep the stored value. */
    ck_assert_int_eq(cache_merge_headers(stored, upd, &b), 0);
    buf_is(&b, "Date: B\r\nCache-Control: max-age=60\r\ncache-control: must-revalidate\r\n"
               "Content-Type: text/html\r\nETag: \"1\"\r\nContent-Length: 5\r\n"
               "Age: 3\r\nX-Old: o\r\nX-New: n\r\nX-New: m\r\n");
    sl_buf_reset(&b);
    release();

    /* The other hop-by-hop fields (3.1). */
    stored = RESP("ETag: \"1\"\r\nX: y\r\n");
    upd = parse(0, "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n"
                "TE: trailers\r\n"
                "Upgrade: h2c\r\nTrailer: X-T\r\nProxy-Connection: keep-alive\r\n"
                "ETag: \"2\"\r\nConnection: close\r\n");
    ck_assert_int_eq(cache_merge_headers(stored, upd, &b), 0);
    buf_is(&b, "ETag: \"2\"\r\nX: y\r\n");
    sl_buf_reset(&b);
    /* An empty 304 changes nothing. */
    ck_assert_int_eq(cache_merge_headers(stored, parse(0, "HTTP/1.1 304 NM\r\n"), &b), 0);
    buf_is(&b, "ETag: \"1\"\r\nX: y\r\n");
    sl_buf_free(&b);

    /* -ENOSPC leaves the buffer as it was. */
    ck_assert_int_eq(sl_buf_init(&b, 16), 0);
    ck_assert_int_eq(cache_merge_headers(stored, upd, &b), -ENOSPC);
    buf_is(&b, "");
    sl_buf_free(&b);
}
END_TEST

/* --- client conditionals (RFC 9110 13) ----------------------------------- */

static int cond(const char *method, struct sl_http_msg *req, struct sl_http_msg *stored)
{
    return cache_client_conditional(method, req, stored);
}

START_TEST(client_inm)
{
    struct sl_http_msg *s = RESP("Date: %s\r\nETag: \"v1\"\r\nLast-Modified: %s\r\n",
                                 D(T0 + 10), D(T0));
    struct sl_http_msg *w = RESP("ETag: W/\"v1\"\r\n");

    /* 13.1.2, weak comparison (8.8.3.2) */
    ck_assert_int_eq(cond("GET", REQ("If-None-Match: \"v1\"\r\n"), s), 304);
    ck_assert_int_eq(cond("GET", REQ("If-None-Match: W/\"v1\"\r\n"), s), 304);
    ck_assert_int_eq(cond("GET", REQ("If-None-Match: \"v1\"\r\n"), w), 304);
    ck_assert_int_eq(cond("GET", REQ("If-None-Match: \"v2\"\r\n"), s), 0);
    ck_assert_int_eq(cond("GET", REQ("If-None-Match: \"V1\"\r\n"), s), 0);
    release();
    s = RESP("Date: %s\r\nETag: \"v1\"\r\nLast-Modified: %s\r\n", D(T0 + 10), D(T0));
    ck_assert_int_eq(cond("GET", REQ("If-None-Match: \"a\", W/\"b\",\"v1\"\r\n"), s), 304);
    ck_assert_int_eq(cond("GET", REQ("If-None-Match: \"a\",\"b\"\r\n"), s), 0);
    ck_assert_int_eq(cond("GET", REQ("If-None-Match: \"a\"\r\n"
                                     "If-None-Match: \"v1\"\r\n"), s), 304);
    ck_assert_int_eq(cond("GET", REQ("If-None-Match: *\r\n"), s), 304);
    ck_assert_int_eq(cond("HEAD", REQ("If-None-Match: \"v1\"\r\n"), s), 304);
    /* Other methods: 412. */
    ck_assert_int_eq(cond("POST", REQ("If-None-Match: \"v1\"\r\n"), s), 412);
    ck_assert_int_eq(cond("POST", REQ("If-None-Match: \"x\"\r\n"), s), 0);
    /* A malformed list matches nothing: the full response (or 412). */
    ck_assert_int_eq(cond("GET", REQ("If-None-Match: v1\r\n"), s), 0);
    ck_assert_int_eq(cond("GET", REQ("If-None-Match: junk, \"v1\"\r\n"), s), 0);
    ck_assert_int_eq(cond("GET", REQ("If-Match: junk, \"v1\"\r\n"), s), 412);
    release();
    /* Commas inside an entity-tag are part of it. */
    s = RESP("ETag: \"a,b\"\r\n");
    ck_assert_int_eq(cond("GET", REQ("If-None-Match: \"a,b\"\r\n"), s), 304);
    ck_assert_int_eq(cond("GET", REQ("If-None-Match: \"a\"\r\n"), s), 0);
    /* No stored ETag: only "*" matches. */
    s = RESP("Last-Modified: %s\r\n", D(T0));
    ck_assert_int_eq(cond("GET", REQ("If-None-Match: \"a\"\r\n"), s), 0);
    ck_assert_int_eq(cond("GET", REQ("If-None-Match: *\r\n"), s), 304);
    /* 13.2.1: only where the answer would be 2xx. */
    s = parse(0, "HTTP/1.1 404 Not Found\r\nETag: \"v1\"\r\n");
    ck_assert_int_eq(cond("GET", REQ("If-None-Match: \"v1\"\r\n"), s), 0);
}
END_TEST

START_TEST(client_ims)
{
    struct sl_http_msg *s = RESP("Date: %s\r\nETag: \"v1\"\r\nLast-Modified: %s\r\n",
                                 D(T0 + 10), D(T0));

    /* 13.1.3: 304 when Last-Modified is not later than the date. */
    ck_assert_int_eq(cond("GET", REQ("If-Modified-Since: %s\r\n", D(T0)), s), 304);
    ck_assert_int_eq(cond("GET", REQ("If-Modified-Since: %s\r\n", D(T0 + 5)), s), 304);
    ck_assert_int_eq(cond("GET", REQ("If-Modified-Since: %s\r\n", D(T0 - 1)), s), 0);
    ck_assert_int_eq(cond("GET", REQ("If-Modified-Since: "
                                     "Sunday, 06-Nov-94 08:49:37 GMT\r\n"), s), 304);
    ck_assert_int_eq(cond("GET", REQ("If-Modified-Since: yesterday\r\n"), s), 0);
    ck_assert_int_eq(cond("HEAD", REQ("If-Modified-Since: %s\r\n", D(T0)), s), 304);
    release();
    s = RESP("Date: %s\r\nETag: \"v1\"\r\nLast-Modified: %s\r\n", D(T0 + 10), D(T0));
    /* Only GET and HEAD; ignored when If-None-Match is there. */
    ck_assert_int_eq(cond("POST", REQ("If-Modified-Since: %s\r\n", D(T0)), s), 0);
    ck_assert_int_eq(cond("GET", REQ("If-None-Match: \"zz\"\r\nIf-Modified-Since: %s\r\n",
                                     D(T0 + 5)), s), 0);
    /* RFC 9111 4.3.2: without Last-Modified, the stored Date. */
    s = RESP("Date: %s\r\n", D(T0 + 10));
    ck_assert_int_eq(cond("GET", REQ("If-Modified-Since: %s\r\n", D(T0 + 10)), s), 304);
    ck_assert_int_eq(cond("GET", REQ("If-Modified-Since: %s\r\n", D(T0 + 9)), s), 0);
    s = RESP("");
    ck_assert_int_eq(cond("GET", REQ("If-Modified-Since: %s\r\n", D(T0)), s), 0);
}
END_TEST

START_TEST(client_412)
{
    struct sl_http_msg *s = RESP("Date: %s\r\nETag: \"v1\"\r\nLast-Modified: %s\r\n",
                                 D(T0 + 10), D(T0));
    struct sl_http_msg *w = RESP("ETag: W/\"v1\"\r\n");

    /* 13.1.1 If-Match, strong comparison */
    ck_assert_int_eq(cond("GET", REQ("If-Match: \"v1\"\r\n"), s), 0);
    ck_assert_int_eq(cond("GET", REQ("If-Match: \"a\", \"v1\"\r\n"), s), 0);
    ck_assert_int_eq(cond("GET", REQ("If-Match: *\r\n"), s), 0);
    ck_assert_int_eq(cond("GET", REQ("If-Match: \"v2\"\r\n"), s), 412);
    ck_assert_int_eq(cond("GET", REQ("If-Match: W/\"v1\"\r\n"), s), 412);
    ck_assert_int_eq(cond("GET", REQ("If-Match: \"v1\"\r\n"), w), 412);
    release();
    s = RESP("Date: %s\r\nETag: \"v1\"\r\nLast-Modified: %s\r\n", D(T0 + 10), D(T0));
    ck_assert_int_eq(cond("GET", REQ("If-Match: \"v1\"\r\n"), RESP("")), 412);
    /* If-Match passes, If-None-Match still applies after it. */
    ck_assert_int_eq(cond("GET", REQ("If-Match: \"v1\"\r\n"
                                     "If-None-Match: \"v1\"\r\n"), s), 304);
    /* 13.1.4 If-Unmodified-Since */
    ck_assert_int_eq(cond("GET", REQ("If-Unmodified-Since: %s\r\n", D(T0)), s), 0);
    ck_assert_int_eq(cond("GET", REQ("If-Unmodified-Since: %s\r\n", D(T0 - 1)), s), 412);
    ck_assert_int_eq(cond("GET", REQ("If-Unmodified-Since: whenever\r\n"), s), 0);
    release();
    s = RESP("Date: %s\r\nETag: \"v1\"\r\nLast-Modified: %s\r\n", D(T0 + 10), D(T0));
    /* ... ignored with If-Match, or without Last-Modified. */
    ck_assert_int_eq(cond("GET", REQ("If-Match: \"v1\"\r\nIf-Unmodified-Since: %s\r\n",
                                     D(T0 - 1)), s), 0);
    ck_assert_int_eq(cond("GET", REQ("If-Unmodified-Since: %s\r\n", D(T0 - 1)),
                          RESP("ETag: \"v1\"\r\n")), 0);
    ck_assert_int_eq(cond("GET", REQ(""), s), 0);
}
END_TEST

/* --- ranges (RFC 9110 14) ------------------------------------------------ */

static int64_t rfirst, rlast;

static int range(const char *hdrs, struct sl_http_msg *stored, int64_t total)
{
    rfirst = rlast = -42;
    return cache_range(REQ("%s", hdrs), stored, total, &rfirst, &rlast);
}

START_TEST(range_forms)
{
    struct sl_http_msg *s = RESP("Date: %s\r\nETag: \"s\"\r\nLast-Modified: %s\r\n",
                                 D(T0 + 10), D(T0));

    ck_assert_int_eq(range("Range: bytes=0-499\r\n", s, 1000), 206);
    ck_assert(rfirst == 0 && rlast == 499);
    ck_assert_int_eq(range("Range: bytes=500-\r\n", s, 1000), 206);
    ck_assert(rfirst == 500 && rlast == 999);
    ck_assert_int_eq(range("Range: bytes=-100\r\n", s, 1000), 206);
    ck_assert(rfirst == 900 && rlast == 999);
    ck_assert_int_eq(range("Range: bytes=-2000\r\n", s, 1000), 206);
    ck_assert(rfirst == 0 && rlast == 999);
    ck_assert_int_eq(range("Range: bytes=900-5000\r\n", s, 1000), 206);
    ck_assert(rfirst == 900 && rlast == 999);
    release();
    s = RESP("");
    ck_assert_int_eq(range("Range: bytes=999-999\r\n", s, 1000), 206);
    ck_assert(rfirst == 999 && rlast == 999);
    ck_assert_int_eq(range("Range: Bytes=0-0\r\n", s, 1000), 206);  /* 14.1 */
    ck_assert(rfirst == 0 && rlast == 0);
    ck_assert_int_eq(range("Range: bytes= 2-3 ,\r\n", s, 1000), 206);
    ck_assert(rfirst == 2 && rlast == 3);
    ck_assert_int_eq(range("Range: bytes=0-0\r\n", NULL, 1), 206);
    release();
    /* 14.1.1 unsatisfiable: 416 */
    s = RESP("");
    ck_assert_int_eq(range("Range: bytes=1000-\r\n", s, 1000), 416);
    ck_assert_int_eq(range("Range: bytes=1000-1001\r\n", s, 1000), 416);
    ck_assert_int_eq(range("Range: bytes=-0\r\n", s, 1000), 416);
    ck_assert_int_eq(range("Range: bytes=99999999999999999999999-\r\n", s, 1000), 416);
    ck_assert_int_eq(range("Range: bytes=0-\r\n", s, 0), 416);
    ck_assert_int_eq(range("Range: bytes=-5\r\n", s, 0), 0);    /* empty 200 */
}
END_TEST

START_TEST(range_ignored)
{
    static const char *ignored[] = {
        "", "Range: bytes=0-1,5-6\r\n", "Range: bytes=0-1, -5\r\n",
        "Range: items=0-1\r\n", "Range: bytes=5-1\r\n", "Range: bytes=abc\r\n",
        "Range: bytes=-\r\n", "Range: bytes=\r\n", "Range: bytes=1-2-3\r\n",
        "Range: bytes 0-1\r\n", "Range: bytes=1\r\n", "Range: bytes=1-x\r\n",
        "Range: bytes=0-1\r\nRange: bytes=2-3\r\n",
    };
    struct sl_http_msg *s;
    size_t i;

    for (i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++) {
        s = RESP("");
        ck_assert_msg(range(ignored[i], s, 1000) == 0, "'%s'", ignored[i]);
        release();
    }
    /* Ranges of a 200 only. */
    ck_assert_int_eq(range("Range: bytes=0-1\r\n",
                           parse(0, "HTTP/1.1 404 Not Found\r\n"), 1000), 0);
}
END_TEST

START_TEST(range_if_range)
{
    struct sl_http_msg *s = RESP("Date: %s\r\nETag: \"s\"\r\nLast-Modified: %s\r\n",
                                 D(T0 + 10), D(T0));

    /* 13.1.5: strong ETag match, or the Last-Modified date */
    ck_assert_int_eq(range("Range: bytes=0-9\r\nIf-Range: \"s\"\r\n", s, 100), 206);
    ck_assert(rfirst == 0 && rlast == 9);
    ck_assert_int_eq(range("Range: bytes=0-9\r\nIf-Range: \"t\"\r\n", s, 100), 0);
    ck_assert_int_eq(range("Range: bytes=0-9\r\nIf-Range: W/\"s\"\r\n", s, 100), 0);
    ck_assert_int_eq(range("Range: bytes=0-9\r\nIf-Range: \"s\", \"t\"\r\n", s, 100), 0);
    release();
    s = RESP("Date: %s\r\nETag: \"s\"\r\nLast-Modified: %s\r\n", D(T0 + 10), D(T0));
    ck_assert_int_eq(range("Range: bytes=0-9\r\nIf-Range: Sun, 06 Nov 1994 08:49:37 GMT\r\n",
                           s, 100), 206);
    ck_assert_int_eq(range("Range: bytes=0-9\r\nIf-Range: Sun, 06 Nov 1994 08:49:38 GMT\r\n",
                           s, 100), 0);
    ck_assert_int_eq(range("Range: bytes=0-9\r\nIf-Range: not a date\r\n", s, 100), 0);
    /* If-Range false also hides a 416. */
    ck_assert_int_eq(range("Range: bytes=500-\r\nIf-Range: \"t\"\r\n", s, 100), 0);
    ck_assert_int_eq(range("Range: bytes=500-\r\nIf-Range: \"s\"\r\n", s, 100), 416);
    release();
    /* A weak stored ETag never matches. */
    s = RESP("ETag: W/\"s\"\r\n");
    ck_assert_int_eq(range("Range: bytes=0-9\r\nIf-Range: \"s\"\r\n", s, 100), 0);
    ck_assert_int_eq(range("Range: bytes=0-9\r\nIf-Range: W/\"s\"\r\n", s, 100), 0);
    /* 8.8.2.2: Last-Modified equal to Date is weak. */
    release();
    s = RESP("Date: %s\r\nLast-Modified: %s\r\n", D(T0), D(T0));
    ck_assert_int_eq(cache_range(REQ("Range: bytes=0-9\r\nIf-Range: %s\r\n", D(T0)),
                                 s, 100, &rfirst, &rlast), 0);
    s = RESP("Date: %s\r\nLast-Modified: %s\r\n", D(T0 + 1), D(T0));
    ck_assert_int_eq(cache_range(REQ("Range: bytes=0-9\r\nIf-Range: %s\r\n", D(T0)),
                                 s, 100, &rfirst, &rlast), 206);
    ck_assert_int_eq(cache_range(REQ("Range: bytes=0-9\r\nIf-Range: \"s\"\r\n"),
                                 s, 100, &rfirst, &rlast), 0);
}
END_TEST

/* --- Vary (RFC 9111 4.1) ------------------------------------------------- */

static const char *key(const char *vary, struct sl_http_msg *req, int *rc)
{
    static char out[2][512];
    static int i;
    struct sl_buf b;
    struct sl_view v = { vary, strlen(vary) };
    char *o = out[i++ % 2];

    ck_assert_int_eq(sl_buf_init(&b, 256), 0);
    *rc = cache_vary_key(v, req, &b, 0);
    memcpy(o, b.pos, sl_buf_len(&b));
    o[sl_buf_len(&b)] = '\0';
    sl_buf_free(&b);
    return o;
}

START_TEST(vary_keys)
{
    int rc;

    ck_assert_str_eq(key("Accept-Encoding", REQ("Accept-Encoding: gzip\r\n"), &rc),
                     "accept-encoding: gzip\n");
    ck_assert_int_eq(rc, 0);
    ck_assert_str_ne(key("Accept-Encoding", REQ("Accept-Encoding: gzip\r\n"), &rc),
                     key("Accept-Encoding", REQ("Accept-Encoding: br\r\n"), &rc));
    /* Values keep their case (they may be case-sensitive). */
    ck_assert_str_ne(key("Accept-Encoding", REQ("Accept-Encoding: gzip\r\n"), &rc),
                     key("Accept-Encoding", REQ("Accept-Encoding: GZIP\r\n"), &rc));
    release();
    /* Name case and whitespace do not matter. */
    ck_assert_str_eq(key("accept-encoding", REQ("ACCEPT-ENCODING: gzip,  deflate\r\n"), &rc),
                     "accept-encoding: gzip,deflate\n");
    ck_assert_str_eq(key(" Accept-Encoding ", REQ("Accept-Encoding: gzip , deflate\r\n"), &rc),
                     "accept-encoding: gzip,deflate\n");
    ck_assert_str_eq(key("Accept-Encoding", REQ("Accept-Encoding: gzip\r\n"
                                                "Accept-Encoding: deflate\r\n"), &rc),
                     "accept-encoding: gzip,deflate\n");
    ck_assert_str_eq(key("User-Agent", REQ("User-Agent: a \t b\r\n"), &rc),
                     "user-agent: a b\n");
    release();
    /* Several names, in Vary's order; absent differs from empty. */
    ck_assert_str_eq(key("Accept-Encoding, User-Agent,", REQ("User-Agent: u\r\n"
                                                             "Accept-Encoding: br\r\n"), &rc),
                     "accept-encoding: br\nuser-agent: u\n");
    ck_assert_str_eq(key("Accept-Language", REQ(""), &rc), "accept-language:\n");
    ck_assert_str_eq(key("Accept-Language", REQ("Accept-Language:\r\n"), &rc),
                     "accept-language: \n");
    ck_assert_str_eq(key("", REQ(""), &rc), "");
    ck_assert_int_eq(rc, 0);
    release();
    /* Vary: * never matches. */
    ck_assert_str_eq(key("*", REQ("Accept: x\r\n"), &rc), "");
    ck_assert_int_eq(rc, 1);
    ck_assert_str_eq(key("Accept, *", REQ("Accept: x\r\n"), &rc), "");
    ck_assert_int_eq(rc, 1);
}
END_TEST

START_TEST(vary_nospace)
{
    struct sl_buf b;
    struct sl_view v = SL_VIEW_LIT("Accept-Encoding, User-Agent");

    ck_assert_int_eq(sl_buf_init(&b, 30), 0);
    ck_assert_int_eq(sl_buf_append(&b, "K", 1), 0);
    ck_assert_int_eq(cache_vary_key(v, REQ("Accept-Encoding: gzip\r\nUser-Agent: u\r\n"), &b, 0),
                     -ENOSPC);
    buf_is(&b, "K");
    sl_buf_free(&b);
}
END_TEST

/* --- invalidation (RFC 9111 4.4) ----------------------------------------- */

START_TEST(invalidation)
{
    ck_assert(cache_invalidates("POST", 200));
    ck_assert(cache_invalidates("POST", 303));
    ck_assert(!cache_invalidates("POST", 500));
    ck_assert(!cache_invalidates("POST", 404));
    ck_assert(!cache_invalidates("POST", 100));
    ck_assert(cache_invalidates("DELETE", 204));
    ck_assert(cache_invalidates("PUT", 201));
    ck_assert(cache_invalidates("PATCH", 200));
    ck_assert(cache_invalidates("PURGE", 200));     /* safety unknown */
    ck_assert(!cache_invalidates("GET", 200));
    ck_assert(!cache_invalidates("HEAD", 200));
    ck_assert(!cache_invalidates("OPTIONS", 200));
    ck_assert(!cache_invalidates("TRACE", 200));
    ck_assert(!cache_invalidates(NULL, 200));
}
END_TEST

/* --- same-origin URLs (RFC 3986 5.2, RFC 9111 4.4) ----------------------- */

static const char *resolve(const char *base, const char *ref, int *rc)
{
    static char out[512];
    struct sl_buf b;
    struct sl_view v = { ref, strlen(ref) };

    ck_assert_int_eq(sl_buf_init(&b, 256), 0);
    *rc = cache_same_origin_url(base, v, &b);
    memcpy(out, b.pos, sl_buf_len(&b));
    out[sl_buf_len(&b)] = '\0';
    sl_buf_free(&b);
    return out;
}

START_TEST(same_origin)
{
    static const struct { const char *base, *ref, *want; } ok[] = {
        { "http://example.com/a/b/c?x=1", "/d", "http://example.com/d" },
        { "http://example.com/a/b/c?x=1", "d", "http://example.com/a/b/d" },
        { "http://example.com/a/b/c?x=1", "../d", "http://example.com/a/d" },
        { "http://example.com/a/b/c?x=1", "./d?q=2", "http://example.com/a/b/d?q=2" },
        { "http://example.com/a/b/c?x=1", "?y", "http://example.com/a/b/c?y" },
        { "http://example.com/a/b/c?x=1", "/a/../../x", "http://example.com/x" },
        { "http://example.com/a/b/c?x=1", "/a/./b/.", "http://example.com/a/b/" },
        { "http://example.com/a/b/c?x=1", "..", "http://example.com/a/" },
        { "http://example.com/a/b/c?x=1", "d#frag", "http://example.com/a/b/d" },
        { "http://example.com/a/b/c", "http://EXAMPLE.com:80/e", "http://example.com/e" },
        { "http://example.com/a/b/c", "HTTP://example.com/e#f", "http://example.com/e" },
        { "http://example.com/a/b/c", "http://example.com", "http://example.com/" },
        { "http://example.com/a/b/c", "//example.com/f?g", "http://example.com/f?g" },
        { "http://example.com/a/b/c", "//Example.Com", "http://example.com/" },
        { "http://example.com", "d", "http://example.com/d" },
        { "http://example.com", "?q", "http://example.com/?q" },
        { "http://Example.com:8080/a", "/b", "http://Example.com:8080/b" },
        { "http://Example.com:8080/a", "http://example.com:8080/c",
          "http://Example.com:8080/c" },
        { "http://[::1]:81/a/b", "c", "http://[::1]:81/a/c" },
    };
    static const struct { const char *base, *ref; } other[] = {
        { "http://example.com/a", "http://other.com/e" },
        { "http://example.com/a", "http://example.com:8080/e" },
        { "http://example.com:8080/a", "http://example.com/e" },
        { "http://example.com/a", "https://example.com/e" },
        { "http://example.com/a", "//other.com/x" },
        { "http://example.com/a", "mailto:a@example.com" },
        { "http://example.com/a", "" },
        { "http://example.com/a", "#top" },
        { "http://example.com/a", "/a b" },
        { "http://example.com/a", "http://user@example.com/" },
        { "not a url", "/x" },
        { "", "/x" },
    };
    size_t i;
    int rc;

    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        const char *got = resolve(ok[i].base, ok[i].ref, &rc);
        ck_assert_msg(rc == 1 && strcmp(got, ok[i].want) == 0,
                      "%s + %s -> %d '%s', want '%s'", ok[i].base, ok[i].ref, rc,
                      got, ok[i].want);
    }
    for (i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
        const char *got = resolve(other[i].base, other[i].ref, &rc);
        ck_assert_msg(rc == 0 && got[0] == '\0', "%s + %s -> %d '%s'",
                      other[i].base, other[i].ref, rc, got);
    }
}
END_TEST

START_TEST(same_origin_nospace)
{
    struct sl_buf b;
    struct sl_view v = SL_VIEW_LIT("/a/long/path/that/does/not/fit");

    ck_assert_int_eq(sl_buf_init(&b, 24), 0);
    ck_assert_int_eq(sl_buf_append(&b, "Z", 1), 0);
    ck_assert_int_eq(cache_same_origin_url("http://example.com/", v, &b), -ENOSPC);
    buf_is(&b, "Z");
    sl_buf_free(&b);
}
END_TEST

/* Squid's quick_abort rules, with its defaults (16 KB, 16 KB, 95%). */
START_TEST(quick_abort)
{
    const uint64_t K = 1024;

    ck_assert_int_eq(cache_quick_abort_finish(0, -1, 16 * K, 16 * K, 95), 0);
    ck_assert_int_eq(cache_quick_abort_finish(5000, -1, 1ull << 40, 1ull << 40, 0), 0);
    ck_assert_int_eq(cache_quick_abort_finish(10, 5, 16 * K, 16 * K, 95), 0);
    /* less than min left: finish */
    ck_assert_int_eq(cache_quick_abort_finish(1000000, 1000000 + 16 * K - 1, 16 * K, 16 * K, 95), 1);
    ck_assert_int_eq(cache_quick_abort_finish(100, 100, 16 * K, 16 * K, 95), 1);
    /* exactly min left, max equal: not over max, then the percentage */
    ck_assert_int_eq(cache_quick_abort_finish(0, 16 * K, 16 * K, 16 * K, 95), 0);
    ck_assert_int_eq(cache_quick_abort_finish(960 * K, 976 * K, 16 * K, 16 * K, 95), 1);
    /* more than max left: abort, whatever the percentage */
    ck_assert_int_eq(cache_quick_abort_finish(99 * 1000 * K, 100 * 1000 * K, 16 * K, 16 * K, 0), 0);
    /* between min and max: the percentage decides (strictly more) */
    ck_assert_int_eq(cache_quick_abort_finish(96, 100, 0, 1000, 95), 1);
    ck_assert_int_eq(cache_quick_abort_finish(950, 1000, 0, 1000, 95), 0);
    ck_assert_int_eq(cache_quick_abort_finish(951, 1000, 0, 1000, 95), 0);
    ck_assert_int_eq(cache_quick_abort_finish(960, 1000, 0, 1000, 95), 1);
    /* min = max = 0: never go on (Squid's way to turn it off) */
    ck_assert_int_eq(cache_quick_abort_finish(999, 1000, 0, 0, 0), 0);
    /* a min as big as anything stored: always go on */
    ck_assert_int_eq(cache_quick_abort_finish(0, 256 * K * K, 257 * K * K, 257 * K * K, 95), 1);
}
END_TEST


int main(void)
{
    Suite *s = suite_create("policy");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, cc_all_directives);
    tcase_add_test(tc, cc_quoted);
    tcase_add_test(tc, cc_bad_args);
    tcase_add_test(tc, cc_duplicates_and_lines);
    tcase_add_test(tc, cc_pragma);
    tcase_add_test(tc, date_formats);
    tcase_add_test(tc, date_invalid);
    tcase_add_test(tc, date_format);
    tcase_add_test(tc, store_reasons);
    tcase_add_test(tc, store_status_freshness);
    tcase_add_test(tc, lifetime_precedence);
    tcase_add_test(tc, lifetime_heuristic);
    tcase_add_test(tc, lifetime_heuristic_not_for_errors);
    tcase_add_test(tc, fresh_flags);
    tcase_add_test(tc, age_formulas);
    tcase_add_test(tc, decide_fresh_and_stale);
    tcase_add_test(tc, decide_request_directives);
    tcase_add_test(tc, decide_response_directives);
    tcase_add_test(tc, decide_swr_immutable);
    tcase_add_test(tc, stale_if_error);
    tcase_add_test(tc, conditional_request);
    tcase_add_test(tc, merge_304);
    tcase_add_test(tc, client_inm);
    tcase_add_test(tc, client_ims);
    tcase_add_test(tc, client_412);
    tcase_add_test(tc, range_forms);
    tcase_add_test(tc, range_ignored);
    tcase_add_test(tc, range_if_range);
    tcase_add_test(tc, vary_keys);
    tcase_add_test(tc, vary_nospace);
    tcase_add_test(tc, invalidation);
    tcase_add_test(tc, same_origin);
    tcase_add_test(tc, same_origin_nospace);
    tcase_add_test(tc, quick_abort);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
