/*
 * check_hdr.c - header rewriting: what crosses the proxy, byte for byte.
 *
 * Messages are built by hand (no parser): load() splits "Name: value\r\n"
 * text into views into that text, trimming OWS around the value as the
 * parser does. The views stop before CR LF, so a rewrite reading past a
 * view's length shows up as a wrong byte in the output.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filters/hdr.h"

#define MAXH 128
#define ADDR "192.0.2.7"
#define VIA "1.1 squidlike (squidlike/0.1.0)"

static struct sl_http_hdr hdrs[MAXH];
static struct sl_http_msg msg;
static char got[16384];

static void msg_reset(void)
{
    memset(&msg, 0, sizeof(msg));
    msg.hdrs = hdrs;
    msg.max_hdrs = MAXH;
    msg.content_length = -1;
}

static void load(const char *text)
{
    const char *p = text;

    msg_reset();
    while (*p) {
        const char *eol = strstr(p, "\r\n"), *colon, *v, *ve;

        ck_assert_ptr_nonnull(eol);
        colon = memchr(p, ':', (size_t)(eol - p));
        ck_assert_ptr_nonnull(colon);
        ck_assert_uint_lt(msg.nhdrs, MAXH);
        for (v = colon + 1; v < eol && (*v == ' ' || *v == '\t'); v++)
            ;
        for (ve = eol; ve > v && (ve[-1] == ' ' || ve[-1] == '\t'); ve--)
            ;
        hdrs[msg.nhdrs].name = (struct sl_view){ p, (size_t)(colon - p) };
        hdrs[msg.nhdrs].value = (struct sl_view){ v, (size_t)(ve - v) };
        msg.nhdrs++;
        p = eol + 2;
    }
}

/* Rewrite msg into a buffer of exactly size bytes (ASan sees any byte
 * written past it); the output lands in got. */
static int run_size(const struct flt_hdr_opts *o, size_t size)
{
    struct sl_buf b;
    size_t len;
    int rc;

    ck_assert_int_eq(sl_buf_init(&b, size), 0);
    rc = flt_hdr_rewrite(&msg, o, &b);
    ck_assert(b.pos == b.start);
    ck_assert(b.last <= b.end);
    len = sl_buf_len(&b);
    ck_assert_uint_lt(len, sizeof(got));
    memcpy(got, b.pos, len);
    got[len] = '\0';
    sl_buf_free(&b);
    return rc;
}

static const char *rewrite(const char *text, const struct flt_hdr_opts *o)
{
    load(text);
    ck_assert_int_eq(run_size(o, sizeof(got) - 1), 0);
    return got;
}

static struct flt_hdr_opts req_opts(enum flt_xff mode)
{
    struct flt_hdr_opts o;

    memset(&o, 0, sizeof(o));
    o.xff = mode;
    o.client_addr = ADDR;
    o.request = 1;
    return o;
}

static struct flt_hdr_opts resp_opts(void)
{
    struct flt_hdr_opts o;

    memset(&o, 0, sizeof(o));
    o.xff = FLT_XFF_DELETE;
    return o;
}

static struct sl_view v(const char *s)
{
    return (struct sl_view){ s, strlen(s) };
}

/* --- forwarded_for ----------------------------------------------------- */

START_TEST(xff_parse)
{
    enum flt_xff m = FLT_XFF_ON;

    ck_assert_int_eq(flt_xff_parse("delete", &m), 0);
    ck_assert_int_eq(m, FLT_XFF_DELETE);
    ck_assert_int_eq(flt_xff_parse("on", &m), 0);
    ck_assert_int_eq(m, FLT_XFF_ON);
    ck_assert_int_eq(flt_xff_parse("off", &m), 0);
    ck_assert_int_eq(m, FLT_XFF_OFF);
    ck_assert_int_eq(flt_xff_parse("transparent", &m), 0);
    ck_assert_int_eq(m, FLT_XFF_TRANSPARENT);
    ck_assert_int_eq(flt_xff_parse("truncate", &m), 0);
    ck_assert_int_eq(m, FLT_XFF_TRUNCATE);

    ck_assert_int_eq(flt_xff_parse("ON", &m), -1);
    ck_assert_int_eq(flt_xff_parse("Delete", &m), -1);
    ck_assert_int_eq(flt_xff_parse("on ", &m), -1);
    ck_assert_int_eq(flt_xff_parse("of", &m), -1);
    ck_assert_int_eq(flt_xff_parse("", &m), -1);
    ck_assert_int_eq(flt_xff_parse(NULL, &m), -1);
    ck_assert_int_eq(m, FLT_XFF_TRUNCATE);       /* untouched on failure */
}
END_TEST

START_TEST(is_client_addr)
{
    static const char *const yes[] = {
        "X-Forwarded-For", "Forwarded", "X-Real-IP", "Client-IP",
        "True-Client-IP", "X-Client-IP", "X-Originating-IP",
        "CF-Connecting-IP", "X-Cluster-Client-IP", "Fastly-Client-IP",
        "X-Forwarded", "Forwarded-For", "X-ProxyUser-IP",
        "WL-Proxy-Client-IP", "Proxy-Client-IP",
        "x-forwarded-for", "FORWARDED", "x-real-ip", "cf-connecting-ip",
    };
    static const char *const no[] = {
        "", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Real-IPs",
        "X-Real-I", "Forwarded-Fo", "Via", "Host", "Client", "IP",
    };
    size_t i;

    for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        ck_assert_msg(flt_hdr_is_client_addr(v(yes[i])), "%s", yes[i]);
    for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        ck_assert_msg(!flt_hdr_is_client_addr(v(no[i])), "%s", no[i]);
    /* A view is its length, not a C string. */
    ck_assert(flt_hdr_is_client_addr((struct sl_view){ "X-Real-IP: 1", 9 }));
    ck_assert(!flt_hdr_is_client_addr((struct sl_view){ "X-Real-IP", 8 }));
}
END_TEST

/* Every member of the set, names in any case, several XFF lines. */
static const char all_client_fields[] =
    "Accept: a\r\n"
    "X-Forwarded-For: 1.1.1.1\r\n"
    "forwarded: for=1.1.1.1\r\n"
    "X-REAL-IP: 1.1.1.1\r\n"
    "client-ip: 1.1.1.1\r\n"
    "True-Client-IP: 1.1.1.1\r\n"
    "x-client-ip: 1.1.1.1\r\n"
    "X-Originating-IP: [1.1.1.1]\r\n"
    "cf-connecting-ip: 1.1.1.1\r\n"
    "X-Cluster-Client-IP: 1.1.1.1\r\n"
    "Fastly-Client-IP: 1.1.1.1\r\n"
    "X-Forwarded: for=1.1.1.1\r\n"
    "Forwarded-For: 1.1.1.1\r\n"
    "x-proxyuser-ip: 1.1.1.1\r\n"
    "WL-Proxy-Client-IP: 1.1.1.1\r\n"
    "PROXY-CLIENT-IP: 1.1.1.1\r\n"
    "x-forwarded-for: 2.2.2.2\r\n"
    "X-Forwarded-Host: example.com\r\n"
    "X-Forwarded-Proto: https\r\n"
    "B: b\r\n";

START_TEST(xff_delete)
{
    struct flt_hdr_opts o = req_opts(FLT_XFF_DELETE);

    ck_assert_str_eq(rewrite(all_client_fields, &o),
                     "Accept: a\r\n"
                     "X-Forwarded-Host: example.com\r\n"
                     "X-Forwarded-Proto: https\r\n"
                     "B: b\r\n");
    /* Nothing is added either. */
    ck_assert_str_eq(rewrite("A: 1\r\n", &o), "A: 1\r\n");
}
END_TEST

START_TEST(xff_unknown_mode_deletes)
{
    struct flt_hdr_opts o = req_opts((enum flt_xff)42);

    ck_assert_str_eq(rewrite(all_client_fields, &o),
                     "Accept: a\r\n"
                     "X-Forwarded-Host: example.com\r\n"
                     "X-Forwarded-Proto: https\r\n"
                     "B: b\r\n");
}
END_TEST

static const char several_xff[] =
    "A: 1\r\n"
    "X-Forwarded-For: 10.0.0.1, 10.0.0.2\r\n"
    "B: 2\r\n"
    "x-forwarded-for: 10.0.0.3\r\n"
    "Forwarded: for=10.0.0.1\r\n"
    "X-FORWARDED-FOR: 10.0.0.4\r\n"
    "X-Real-IP: 10.0.0.1\r\n"
    "C: 3\r\n";

START_TEST(xff_on)
{
    struct flt_hdr_opts o = req_opts(FLT_XFF_ON);

    ck_assert_str_eq(rewrite(several_xff, &o),
                     "A: 1\r\n"
                     "X-Forwarded-For: 10.0.0.1, 10.0.0.2, 10.0.0.3, "
                     "10.0.0.4, " ADDR "\r\n"
                     "B: 2\r\n"
                     "Forwarded: for=10.0.0.1\r\n"
                     "X-Real-IP: 10.0.0.1\r\n"
                     "C: 3\r\n");
    ck_assert_str_eq(rewrite("A: 1\r\nX-Real-IP: 9.9.9.9\r\nB: 2\r\n", &o),
                     "A: 1\r\nX-Real-IP: 9.9.9.9\r\nB: 2\r\n"
                     "X-Forwarded-For: " ADDR "\r\n");
    /* A single XFF first in the head, written under its canonical name. */
    ck_assert_str_eq(rewrite("x-forwarded-for: 10.0.0.9\r\nA: 1\r\n", &o),
                     "X-Forwarded-For: 10.0.0.9, " ADDR "\r\nA: 1\r\n");
}
END_TEST

START_TEST(xff_on_empty_values)
{
    struct flt_hdr_opts o = req_opts(FLT_XFF_ON);

    ck_assert_str_eq(rewrite("X-Forwarded-For:\r\nA: 1\r\n"
                             "X-Forwarded-For: 10.0.0.1\r\n"
                             "X-Forwarded-For:   \r\n", &o),
                     "X-Forwarded-For: 10.0.0.1, " ADDR "\r\nA: 1\r\n");
    ck_assert_str_eq(rewrite("A: 1\r\nX-Forwarded-For: \r\n", &o),
                     "A: 1\r\nX-Forwarded-For: " ADDR "\r\n");
}
END_TEST

START_TEST(xff_on_bad_addr)
{
    struct flt_hdr_opts o = req_opts(FLT_XFF_ON);

    o.client_addr = NULL;
    ck_assert_str_eq(rewrite("X-Forwarded-For: 10.0.0.1\r\n", &o),
                     "X-Forwarded-For: 10.0.0.1, unknown\r\n");
    o.client_addr = "";
    ck_assert_str_eq(rewrite("A: 1\r\n", &o),
                     "A: 1\r\nX-Forwarded-For: unknown\r\n");
    o.client_addr = "10.0.0.2\r\nX-Injected: 1";
    ck_assert_str_eq(rewrite("A: 1\r\n", &o),
                     "A: 1\r\nX-Forwarded-For: unknown\r\n");
    o.xff = FLT_XFF_TRUNCATE;
    ck_assert_str_eq(rewrite("X-Forwarded-For: 10.0.0.1\r\n", &o),
                     "X-Forwarded-For: unknown\r\n");
}
END_TEST

START_TEST(xff_off)
{
    struct flt_hdr_opts o = req_opts(FLT_XFF_OFF);

    ck_assert_str_eq(rewrite(several_xff, &o),
                     "A: 1\r\n"
                     "X-Forwarded-For: 10.0.0.1, 10.0.0.2, 10.0.0.3, "
                     "10.0.0.4, unknown\r\n"
                     "B: 2\r\n"
                     "Forwarded: for=10.0.0.1\r\n"
                     "X-Real-IP: 10.0.0.1\r\n"
                     "C: 3\r\n");
    ck_assert_str_eq(rewrite("A: 1\r\nForwarded: for=1.2.3.4\r\n", &o),
                     "A: 1\r\nForwarded: for=1.2.3.4\r\n"
                     "X-Forwarded-For: unknown\r\n");
}
END_TEST

START_TEST(xff_transparent)
{
    struct flt_hdr_opts o = req_opts(FLT_XFF_TRANSPARENT);

    ck_assert_str_eq(rewrite(several_xff, &o), several_xff);
    ck_assert_str_eq(rewrite("A: 1\r\nX-Real-IP: 1.2.3.4\r\n", &o),
                     "A: 1\r\nX-Real-IP: 1.2.3.4\r\n");
    ck_assert_str_eq(rewrite("X-Forwarded-For:\r\n", &o),
                     "X-Forwarded-For: \r\n");
}
END_TEST

START_TEST(xff_truncate)
{
    struct flt_hdr_opts o = req_opts(FLT_XFF_TRUNCATE);

    ck_assert_str_eq(rewrite(several_xff, &o),
                     "A: 1\r\n"
                     "X-Forwarded-For: " ADDR "\r\n"
                     "B: 2\r\n"
                     "Forwarded: for=10.0.0.1\r\n"
                     "X-Real-IP: 10.0.0.1\r\n"
                     "C: 3\r\n");
    ck_assert_str_eq(rewrite("A: 1\r\nX-Real-IP: 1.2.3.4\r\n", &o),
                     "A: 1\r\nX-Real-IP: 1.2.3.4\r\n"
                     "X-Forwarded-For: " ADDR "\r\n");
}
END_TEST

/* --- hop-by-hop -------------------------------------------------------- */

START_TEST(connection_named)
{
    struct flt_hdr_opts o = req_opts(FLT_XFF_TRANSPARENT);

    ck_assert_str_eq(rewrite("Foo: 1\r\n"
                             "Connection:  foo ,\tBAR,, \r\n"
                             "Bar: 2\r\n"
                             "Close: 3\r\n"
                             "connection: close, Keep-Alive ,baz\r\n"
                             "BAZ: 4\r\n"
                             "Keep-Alive: timeout=5\r\n"
                             "FooBar: 5\r\n"
                             "Fo: 5\r\n"
                             "foo: 6\r\n"
                             "CONNECTION:\t,\t\r\n"
                             "A: 7\r\n", &o),
                     "Close: 3\r\nFooBar: 5\r\nFo: 5\r\nA: 7\r\n");
}
END_TEST

START_TEST(connection_named_response)
{
    struct flt_hdr_opts o = resp_opts();

    ck_assert_str_eq(rewrite("Content-Type: text/plain\r\n"
                             "Set-Cookie: a=1\r\n"
                             "Connection: set-cookie, X-Hop\r\n"
                             "x-hop: 1\r\n"
                             "X-Hopper: 2\r\n", &o),
                     "Content-Type: text/plain\r\nX-Hopper: 2\r\n");
}
END_TEST

/* More distinct names than the table holds: all are still dropped. */
START_TEST(connection_many_names)
{
    static char text[8192];
    struct flt_hdr_opts o = req_opts(FLT_XFF_DELETE);
    size_t n = 0;
    int i;

    for (i = 0; i < 20; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "X-H%d: a\r\n", i);
    n += (size_t)snprintf(text + n, sizeof(text) - n, "Connection: ");
    for (i = 0; i < 25; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "x-h%d, ", i);
    n += (size_t)snprintf(text + n, sizeof(text) - n, "x-h0\r\nA: 1\r\n"
                          "Connection: ");
    for (i = 25; i < 50; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "X-H%d,", i);
    n += (size_t)snprintf(text + n, sizeof(text) - n, "\r\n");
    for (i = 20; i < 50; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "X-h%d: b\r\n", i);
    n += (size_t)snprintf(text + n, sizeof(text) - n, "X-H50: c\r\n");
    ck_assert_uint_lt(n, sizeof(text) - 1);
    ck_assert_str_eq(rewrite(text, &o), "A: 1\r\nX-H50: c\r\n");

    /* One name many times is one entry, not an overflow. */
    n = (size_t)snprintf(text, sizeof(text), "Connection: ");
    for (i = 0; i < 60; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "X-D, ");
    snprintf(text + n, sizeof(text) - n, "x-d\r\nx-d: 1\r\nX-E: 2\r\n");
    ck_assert_str_eq(rewrite(text, &o), "X-E: 2\r\n");
}
END_TEST

/* Framing fields and Host are the caller's to decide, whatever Connection
 * says: dropping a Content-Length the body is sent by would desync. */
START_TEST(connection_cannot_drop_framing)
{
    struct flt_hdr_opts o = req_opts(FLT_XFF_DELETE);

    o.keep_te = o.keep_cl = o.keep_host = 1;
    ck_assert_str_eq(rewrite("Connection: Content-Length, Transfer-Encoding,"
                             " Host, X-A\r\n"
                             "Host: h\r\n"
                             "Content-Length: 5\r\n"
                             "Transfer-Encoding: chunked\r\n"
                             "X-A: 1\r\n", &o),
                     "Host: h\r\n"
                     "Content-Length: 5\r\n"
                     "Transfer-Encoding: chunked\r\n");
}
END_TEST

/* Connection naming Via or XFF drops the incoming ones; ours still go. */
START_TEST(connection_names_via_xff)
{
    struct flt_hdr_opts o = req_opts(FLT_XFF_ON);

    o.via = VIA;
    ck_assert_str_eq(rewrite("Connection: X-Forwarded-For, Via\r\n"
                             "X-Forwarded-For: 1.1.1.1\r\n"
                             "Via: 1.0 evil\r\n"
                             "A: 1\r\n", &o),
                     "A: 1\r\n"
                     "Via: " VIA "\r\n"
                     "X-Forwarded-For: " ADDR "\r\n");
}
END_TEST

static const char hop_fields[] =
    "A: 1\r\n"
    "Connection: keep-alive\r\n"
    "proxy-connection: keep-alive\r\n"
    "KEEP-ALIVE: 300\r\n"
    "Te: trailers\r\n"
    "Upgrade: websocket\r\n"
    "Proxy-Authorization: Basic Zm9vOmJhcg==\r\n"
    "Proxy-Authenticate: Basic realm=x\r\n"
    "B: 2\r\n";

START_TEST(always_dropped_request)
{
    struct flt_hdr_opts o = req_opts(FLT_XFF_DELETE);

    o.keep_te = o.keep_cl = o.keep_host = 1;
    ck_assert_str_eq(rewrite(hop_fields, &o),
                     "A: 1\r\nProxy-Authenticate: Basic realm=x\r\nB: 2\r\n");
    ck_assert_str_eq(rewrite("connection: close\r\n", &o), "");
    ck_assert_str_eq(rewrite("PROXY-AUTHORIZATION: x\r\n", &o), "");
}
END_TEST

START_TEST(always_dropped_response)
{
    struct flt_hdr_opts o = resp_opts();

    o.keep_te = o.keep_cl = 1;
    ck_assert_str_eq(rewrite(hop_fields, &o),
                     "A: 1\r\nProxy-Authorization: Basic Zm9vOmJhcg==\r\n"
                     "B: 2\r\n");
    ck_assert_str_eq(rewrite("proxy-authenticate: Digest realm=y\r\n", &o), "");
}
END_TEST

static const char framing[] =
    "Host: example.com\r\n"
    "Transfer-Encoding: chunked\r\n"
    "A: 1\r\n"
    "Content-Length: 10\r\n";

START_TEST(keep_flags)
{
    struct flt_hdr_opts o = req_opts(FLT_XFF_DELETE);

    ck_assert_str_eq(rewrite(framing, &o), "A: 1\r\n");
    o.keep_te = 1;
    ck_assert_str_eq(rewrite(framing, &o),
                     "Transfer-Encoding: chunked\r\nA: 1\r\n");
    o.keep_te = 0;
    o.keep_cl = 1;
    ck_assert_str_eq(rewrite(framing, &o), "A: 1\r\nContent-Length: 10\r\n");
    o.keep_cl = 0;
    o.keep_host = 1;
    ck_assert_str_eq(rewrite(framing, &o), "Host: example.com\r\nA: 1\r\n");
    o.keep_te = o.keep_cl = 1;
    ck_assert_str_eq(rewrite(framing, &o), framing);
    ck_assert_str_eq(rewrite("host: x\r\ntransfer-encoding: gzip, chunked\r\n"
                             "CONTENT-LENGTH: 0\r\n", &o),
                     "host: x\r\ntransfer-encoding: gzip, chunked\r\n"
                     "CONTENT-LENGTH: 0\r\n");
}
END_TEST

START_TEST(drop_list)
{
    static const char *const drop[] = { "If-None-Match", "age", NULL };
    struct flt_hdr_opts o = resp_opts();

    o.drop = drop;
    ck_assert_str_eq(rewrite("A: 1\r\nif-none-match: \"x\"\r\nAGE: 5\r\nB: 2\r\n", &o),
                     "A: 1\r\nB: 2\r\n");
    o.drop = NULL;
    ck_assert_str_eq(rewrite("A: 1\r\nAge: 5\r\n", &o), "A: 1\r\nAge: 5\r\n");
}
END_TEST

START_TEST(access_lists)
{
    struct flt_hdr_access a;
    struct flt_hdr_opts o = req_opts(FLT_XFF_DELETE);
    const char *err = NULL;

    memset(&a, 0, sizeof(a));
    /* An allowlist: only these pass, User-Agent is replaced. */
    ck_assert_int_eq(flt_hdr_access_rule(&a, "allow Accept", &err), 0);
    ck_assert_int_eq(flt_hdr_access_rule(&a, "allow accept-language", &err), 0);
    ck_assert_int_eq(flt_hdr_access_rule(&a, "deny all", &err), 0);
    ck_assert_int_eq(flt_hdr_access_replace(&a, "User-Agent: Generic/1.0", &err), 0);
    o.access = &a;
    o.keep_cl = 1;
    ck_assert_str_eq(rewrite("Accept: */*\r\nCookie: s=1\r\nUser-Agent: Me/9\r\n"
                             "Accept-Language: fr\r\nContent-Length: 3\r\n"
                             "Referer: http://x/\r\n", &o),
                     "Accept: */*\r\nUser-Agent: Generic/1.0\r\n"
                     "Accept-Language: fr\r\nContent-Length: 3\r\n");
    /* A denylist: the first line naming a field decides; others pass. */
    memset(&a, 0, sizeof(a));
    ck_assert_int_eq(flt_hdr_access_rule(&a, "allow Cookie", &err), 0);
    ck_assert_int_eq(flt_hdr_access_rule(&a, "deny Cookie", &err), 0);
    ck_assert_int_eq(flt_hdr_access_rule(&a, "deny Referer", &err), 0);
    ck_assert_str_eq(rewrite("Cookie: s=1\r\nReferer: r\r\nA: 1\r\n", &o),
                     "Cookie: s=1\r\nA: 1\r\n");
    /* Bad lines are refused with a reason. */
    ck_assert_int_eq(flt_hdr_access_rule(&a, "permit Cookie", &err), -1);
    ck_assert_ptr_nonnull(err);
    ck_assert_int_eq(flt_hdr_access_rule(&a, "deny Bad Name", &err), -1);
    ck_assert_int_eq(flt_hdr_access_replace(&a, "NoColon", &err), -1);
    ck_assert_int_eq(flt_hdr_access_replace(&a, "X: a\rb", &err), -1);
}
END_TEST

/* A second list: a field must pass both; the first that denies it gives
 * its replacement (the fields a reverse listener hides, and a route's). */
START_TEST(access_two_lists)
{
    static struct flt_hdr_access a, b;
    struct flt_hdr_opts o = req_opts(FLT_XFF_DELETE);
    const char *err = NULL;

    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    o.request = 0;
    ck_assert_int_eq(flt_hdr_access_rule(&a, "deny Server", &err), 0);
    ck_assert_int_eq(flt_hdr_access_rule(&a, "deny X-Powered-By", &err), 0);
    ck_assert_int_eq(flt_hdr_access_rule(&b, "deny Set-Cookie", &err), 0);
    ck_assert_int_eq(flt_hdr_access_rule(&b, "deny X-Frame-Options", &err), 0);
    ck_assert_int_eq(flt_hdr_access_replace(&b, "X-Frame-Options: DENY", &err), 0);
    o.access = &a;
    o.access2 = &b;
    ck_assert_str_eq(rewrite("Server: nginx/1.2\r\nA: 1\r\nSet-Cookie: s=1\r\n"
                             "X-Powered-By: PHP\r\nX-Frame-Options: ALLOW\r\n", &o),
                     "A: 1\r\nX-Frame-Options: DENY\r\n");
    o.access = NULL;
    ck_assert_str_eq(rewrite("Server: nginx\r\nSet-Cookie: s=1\r\n", &o),
                     "Server: nginx\r\n");
}
END_TEST

/* A rename sends every line of the old field under the new name, with
 * its own value; a third drop list (the gateway's) drops fields too; a
 * rename never takes or makes a framing or hop-by-hop field. */
START_TEST(access_rename_drop3)
{
    static struct flt_hdr_access a;
    static const char *const gw[] = { "X-Consumer-Id", NULL };
    struct flt_hdr_opts o = req_opts(FLT_XFF_DELETE);
    const char *err = NULL;

    memset(&a, 0, sizeof(a));
    ck_assert_int_eq(flt_hdr_access_rename(&a, "X-Old: X-New", &err), 0);
    ck_assert_int_eq(flt_hdr_access_rename(&a, "x-two:  X-Deux ", &err), 0);
    o.access = &a;
    o.drop3 = gw;
    ck_assert_str_eq(rewrite("A: 1\r\nX-Old: v1\r\nx-consumer-id: mallory\r\n"
                             "X-TWO: 2\r\nX-Old: v2\r\n", &o),
                     "A: 1\r\nX-New: v1\r\nX-Deux: 2\r\nX-New: v2\r\n");
    o.drop3 = NULL;
    ck_assert_str_eq(rewrite("X-Consumer-Id: c\r\n", &o), "X-Consumer-Id: c\r\n");
    ck_assert_int_eq(flt_hdr_access_rename(&a, "X-A: Content-Length", &err), -1);
    ck_assert_int_eq(flt_hdr_access_rename(&a, "transfer-encoding: X-B", &err), -1);
    ck_assert_int_eq(flt_hdr_access_rename(&a, "X-A: Bad Name", &err), -1);
    ck_assert_int_eq(flt_hdr_access_rename(&a, "X-A", &err), -1);
    ck_assert_ptr_nonnull(err);
}
END_TEST

/* "all" in any case, as Squid reads it: "deny All" is not a field. */
START_TEST(access_all_any_case)
{
    static const char *const alls[] = { "deny All", "deny ALL", "deny aLl" };
    struct flt_hdr_access a;
    struct flt_hdr_opts o = req_opts(FLT_XFF_DELETE);
    const char *err = NULL;
    size_t i;

    o.access = &a;
    for (i = 0; i < sizeof(alls) / sizeof(alls[0]); i++) {
        memset(&a, 0, sizeof(a));
        ck_assert_int_eq(flt_hdr_access_rule(&a, "allow Accept", &err), 0);
        ck_assert_int_eq(flt_hdr_access_rule(&a, alls[i], &err), 0);
        ck_assert_str_eq(rewrite("Accept: */*\r\nCookie: s=1\r\nAll: x\r\n", &o),
                         "Accept: */*\r\n");
    }
}
END_TEST

START_TEST(keep_flags_response)
{
    struct flt_hdr_opts o = resp_opts();

    /* Host is an ordinary field in a response. */
    ck_assert_str_eq(rewrite(framing, &o), "Host: example.com\r\nA: 1\r\n");
    o.keep_te = 1;
    ck_assert_str_eq(rewrite(framing, &o),
                     "Host: example.com\r\nTransfer-Encoding: chunked\r\n"
                     "A: 1\r\n");
    o.keep_te = 0;
    o.keep_cl = 1;
    ck_assert_str_eq(rewrite(framing, &o),
                     "Host: example.com\r\nA: 1\r\nContent-Length: 10\r\n");
}
END_TEST

START_TEST(response_keeps_client_fields)
{
    static const char in[] =
        "X-Forwarded-For: 10.0.0.1\r\n"
        "X-Real-IP: 10.0.0.1\r\n"
        "Forwarded: for=10.0.0.1\r\n"
        "Proxy-Authenticate: Basic realm=x\r\n"
        "x-forwarded-for: 10.0.0.2\r\n";
    static const char want[] =
        "X-Forwarded-For: 10.0.0.1\r\n"
        "X-Real-IP: 10.0.0.1\r\n"
        "Forwarded: for=10.0.0.1\r\n"
        "x-forwarded-for: 10.0.0.2\r\n";
    struct flt_hdr_opts o = resp_opts();
    enum flt_xff m;

    for (m = FLT_XFF_DELETE; m <= FLT_XFF_TRUNCATE; m++) {
        o.xff = m;
        ck_assert_str_eq(rewrite(in, &o), want);
        ck_assert_str_eq(rewrite("A: 1\r\n", &o), "A: 1\r\n");
    }
}
END_TEST

/* --- Via --------------------------------------------------------------- */

START_TEST(via_combine)
{
    struct flt_hdr_opts o = req_opts(FLT_XFF_DELETE);

    o.via = VIA;
    ck_assert_str_eq(rewrite("A: 1\r\n"
                             "Via: 1.0 fred, 1.1 p.example.net\r\n"
                             "B: 2\r\n"
                             "via: 1.1 other\r\n"
                             "C: 3\r\n", &o),
                     "A: 1\r\n"
                     "Via: 1.0 fred, 1.1 p.example.net, 1.1 other, " VIA "\r\n"
                     "B: 2\r\n"
                     "C: 3\r\n");
    ck_assert_str_eq(rewrite("A: 1\r\nB: 2\r\n", &o),
                     "A: 1\r\nB: 2\r\nVia: " VIA "\r\n");
    ck_assert_str_eq(rewrite("Via:\r\nA: 1\r\n", &o),
                     "Via: " VIA "\r\nA: 1\r\n");
    /* Responses get the same treatment. */
    o = resp_opts();
    o.via = VIA;
    ck_assert_str_eq(rewrite("VIA: 1.1 origin-cdn\r\nA: 1\r\n"
                             "Via: 1.1 edge\r\n", &o),
                     "Via: 1.1 origin-cdn, 1.1 edge, " VIA "\r\nA: 1\r\n");
    ck_assert_str_eq(rewrite("A: 1\r\n", &o), "A: 1\r\nVia: " VIA "\r\n");
}
END_TEST

START_TEST(via_null_untouched)
{
    static const char in[] =
        "Via: 1.0 fred\r\nA: 1\r\nvia: 1.1 other\r\nVia:\r\n";
    struct flt_hdr_opts o = req_opts(FLT_XFF_DELETE);

    ck_assert_str_eq(rewrite(in, &o),
                     "Via: 1.0 fred\r\nA: 1\r\nvia: 1.1 other\r\nVia: \r\n");
    ck_assert_str_eq(rewrite("A: 1\r\n", &o), "A: 1\r\n");
    /* A Via that would not be one line is not written: as if NULL. */
    o.via = "1.1 x\r\nX-Injected: 1";
    ck_assert_str_eq(rewrite(in, &o),
                     "Via: 1.0 fred\r\nA: 1\r\nvia: 1.1 other\r\nVia: \r\n");
    o.via = "";
    ck_assert_str_eq(rewrite("A: 1\r\n", &o), "A: 1\r\n");
}
END_TEST

/* Via and XFF both appended, both combined, and in a request. */
START_TEST(via_and_xff)
{
    struct flt_hdr_opts o = req_opts(FLT_XFF_ON);

    o.via = VIA;
    ck_assert_str_eq(rewrite("X-Forwarded-For: 10.0.0.1\r\nVia: 1.1 a\r\n"
                             "A: 1\r\nX-Forwarded-For: 10.0.0.2\r\n"
                             "Via: 1.1 b\r\n", &o),
                     "X-Forwarded-For: 10.0.0.1, 10.0.0.2, " ADDR "\r\n"
                     "Via: 1.1 a, 1.1 b, " VIA "\r\n"
                     "A: 1\r\n");
    ck_assert_str_eq(rewrite("A: 1\r\n", &o),
                     "A: 1\r\nVia: " VIA "\r\nX-Forwarded-For: " ADDR "\r\n");
}
END_TEST

/* --- output ------------------------------------------------------------ */

START_TEST(order_preserved)
{
    static const char in[] =
        "Accept: */*\r\n"
        "X-Custom:   spaced  value \t\r\n"
        "Cookie: a=1\r\n"
        "cookie: b=2\r\n"
        "X-Empty:\r\n"
        "User-Agent: t/1.0\r\n"
        "X-Forwarded-Proto: http\r\n"
        "Accept: text/html\r\n";
    struct flt_hdr_opts o = req_opts(FLT_XFF_DELETE);

    ck_assert_str_eq(rewrite(in, &o),
                     "Accept: */*\r\n"
                     "X-Custom: spaced  value\r\n"
                     "Cookie: a=1\r\n"
                     "cookie: b=2\r\n"
                     "X-Empty: \r\n"
                     "User-Agent: t/1.0\r\n"
                     "X-Forwarded-Proto: http\r\n"
                     "Accept: text/html\r\n");
}
END_TEST

START_TEST(empty_message)
{
    struct flt_hdr_opts o = req_opts(FLT_XFF_DELETE);

    msg_reset();
    msg.hdrs = NULL;
    ck_assert_int_eq(run_size(&o, 64), 0);
    ck_assert_str_eq(got, "");
    o.xff = FLT_XFF_ON;
    o.via = VIA;
    ck_assert_int_eq(run_size(&o, 128), 0);
    ck_assert_str_eq(got, "Via: " VIA "\r\nX-Forwarded-For: " ADDR "\r\n");
}
END_TEST

/* The block is appended after what the caller already wrote. */
START_TEST(appends_to_out)
{
    struct flt_hdr_opts o = req_opts(FLT_XFF_TRUNCATE);
    struct sl_buf b;

    load("A: 1\r\nX-Forwarded-For: 1.1.1.1\r\n");
    ck_assert_int_eq(sl_buf_init(&b, 256), 0);
    ck_assert_int_eq(sl_buf_append(&b, "XXGET / HTTP/1.1\r\n", 18), 0);
    sl_buf_consume(&b, 2);
    ck_assert_int_eq(flt_hdr_rewrite(&msg, &o, &b), 0);
    ck_assert_uint_eq(sl_buf_len(&b), 16 + 6 + 28);
    ck_assert_int_eq(memcmp(b.pos, "GET / HTTP/1.1\r\nA: 1\r\n"
                            "X-Forwarded-For: " ADDR "\r\n", 50), 0);
    sl_buf_free(&b);
}
END_TEST

/* CR, LF or NUL in a name or value: the field is left out, never split. */
START_TEST(crlf_skipped)
{
    static const struct sl_http_hdr in[] = {
        { { "A", 1 }, { "1", 1 } },
        { { "X-Bad", 5 }, { "x\r\nX-Injected: 1", 17 } },
        { { "X-Bad\n2", 7 }, { "v", 1 } },
        { { "X-Cr\r", 5 }, { "v", 1 } },
        { { "X-Nul", 5 }, { "a\0b", 3 } },
        { { "X-Lf", 4 }, { "a\nb", 3 } },
        { { "X-Forwarded-For", 15 }, { "1.1.1.1\r\nEvil: 1", 16 } },
        { { "Via", 3 }, { "1.0 a\nEvil: 1", 13 } },
        { { "", 0 }, { "no name", 7 } },
        { { "X-Forwarded-For", 15 }, { "10.0.0.1", 8 } },
        { { "Via", 3 }, { "1.1 b", 5 } },
        { { "B", 1 }, { "2", 1 } },
    };
    struct flt_hdr_opts o = req_opts(FLT_XFF_ON);
    size_t n = sizeof(in) / sizeof(in[0]);

    msg_reset();
    memcpy(hdrs, in, sizeof(in));
    msg.nhdrs = n;
    ck_assert_int_eq(run_size(&o, 1024), 0);
    ck_assert_str_eq(got, "A: 1\r\n"
                     "X-Forwarded-For: 10.0.0.1, " ADDR "\r\n"
                     "Via: 1.1 b\r\n"
                     "B: 2\r\n");
    o.via = VIA;
    o.xff = FLT_XFF_TRANSPARENT;
    ck_assert_int_eq(run_size(&o, 1024), 0);
    ck_assert_str_eq(got, "A: 1\r\n"
                     "X-Forwarded-For: 10.0.0.1\r\n"
                     "Via: 1.1 b, " VIA "\r\n"
                     "B: 2\r\n");
}
END_TEST

/*
 * Every buffer size below the output's length fails with -ENOSPC without
 * writing past the end (ASan watches the exact-size allocation); the exact
 * size succeeds. The cases end in a plain field, a combined line, and the
 * lines appended at the end.
 */
static void boundary(const char *text, const struct flt_hdr_opts *o,
                     const char *want)
{
    size_t len = strlen(want), size;

    load(text);
    ck_assert_int_eq(run_size(o, len), 0);
    ck_assert_str_eq(got, want);
    for (size = 0; size < len; size++) {
        ck_assert_int_eq(run_size(o, size), -ENOSPC);
        ck_assert_uint_le(strlen(got), size);
        ck_assert_int_eq(strncmp(got, want, strlen(got)), 0);
    }
}

START_TEST(enospc_boundary)
{
    struct flt_hdr_opts o = req_opts(FLT_XFF_ON);

    boundary("A: 1\r\nConnection: x\r\nX: 1\r\nLonger-Name: some value\r\n", &o,
             "A: 1\r\nLonger-Name: some value\r\nX-Forwarded-For: " ADDR "\r\n");
    o.via = VIA;
    boundary("A: 1\r\nVia: 1.0 a\r\nX-Forwarded-For: 10.0.0.1\r\n"
             "Via: 1.1 b\r\nX-Forwarded-For: 10.0.0.2\r\nB: 2\r\n", &o,
             "A: 1\r\nVia: 1.0 a, 1.1 b, " VIA "\r\n"
             "X-Forwarded-For: 10.0.0.1, 10.0.0.2, " ADDR "\r\nB: 2\r\n");
    boundary("A: 1\r\n", &o,
             "A: 1\r\nVia: " VIA "\r\nX-Forwarded-For: " ADDR "\r\n");
    o = req_opts(FLT_XFF_DELETE);
    boundary("A: 1\r\nX-Real-IP: 1\r\nBb: 22\r\n", &o, "A: 1\r\nBb: 22\r\n");
}
END_TEST

/* --- Max-Forwards and TRACE ------------------------------------------- */

static int mf(const char *text, int64_t *val)
{
    load(text);
    *val = -7;
    return flt_hdr_max_forwards(&msg, val);
}

START_TEST(max_forwards_read)
{
    int64_t n;

    ck_assert_int_eq(mf("A: 1\r\n", &n), 0);
    ck_assert(n == -7);                         /* untouched when absent */
    ck_assert_int_eq(mf("Max-Forwards: 0\r\n", &n), 1);
    ck_assert(n == 0);
    ck_assert_int_eq(mf("max-forwards:  5 \r\n", &n), 1);
    ck_assert(n == 5);
    ck_assert_int_eq(mf("MAX-FORWARDS: 0010\r\n", &n), 1);
    ck_assert(n == 10);
    ck_assert_int_eq(mf("Max-Forwards: 2147483647\r\n", &n), 1);
    ck_assert(n == 2147483647);
    ck_assert_int_eq(mf("Max-Forwards: 2147483648\r\n", &n), 1);
    ck_assert(n == 2147483647);
    ck_assert_int_eq(mf("Max-Forwards: 99999999999999999999999999999999999\r\n", &n), 1);
    ck_assert(n == 2147483647);
    /* Not 1*DIGIT on one line. */
    ck_assert_int_eq(mf("Max-Forwards:\r\n", &n), -1);
    ck_assert_int_eq(mf("Max-Forwards: -1\r\n", &n), -1);
    ck_assert_int_eq(mf("Max-Forwards: +1\r\n", &n), -1);
    ck_assert_int_eq(mf("Max-Forwards: 1, 2\r\n", &n), -1);
    ck_assert_int_eq(mf("Max-Forwards: 1 2\r\n", &n), -1);
    ck_assert_int_eq(mf("Max-Forwards: 0x1\r\n", &n), -1);
    ck_assert_int_eq(mf("Max-Forwards: 1.0\r\n", &n), -1);
    ck_assert_int_eq(mf("Max-Forwards: 3\r\nA: b\r\nmax-forwards: 3\r\n", &n), -1);
    ck_assert(n == -7);
}
END_TEST

START_TEST(max_forwards_decrement)
{
    struct flt_hdr_opts o = req_opts(FLT_XFF_TRANSPARENT);

    o.dec_max_forwards = 1;
    ck_assert_str_eq(rewrite("A: 1\r\nMax-Forwards: 5\r\nB: 2\r\n", &o),
                     "A: 1\r\nMax-Forwards: 4\r\nB: 2\r\n");
    ck_assert_str_eq(rewrite("max-forwards: 1\r\n", &o), "max-forwards: 0\r\n");
    ck_assert_str_eq(rewrite("Max-Forwards: 0010\r\n", &o), "Max-Forwards: 9\r\n");
    ck_assert_str_eq(rewrite("Max-Forwards: 99999999999999999999\r\n", &o),
                     "Max-Forwards: 2147483646\r\n");
    /* None is not made up; 0 and invalid ones are the caller's to refuse. */
    ck_assert_str_eq(rewrite("A: 1\r\n", &o), "A: 1\r\n");
    ck_assert_str_eq(rewrite("Max-Forwards: 0\r\nA: 1\r\n", &o), "A: 1\r\n");
    ck_assert_str_eq(rewrite("Max-Forwards: x\r\nA: 1\r\n", &o), "A: 1\r\n");
    ck_assert_str_eq(rewrite("Max-Forwards: 2\r\nMax-Forwards: 2\r\n", &o), "");
    /* This hop's field: Connection and the access lists cannot drop it. */
    ck_assert_str_eq(rewrite("Connection: Max-Forwards\r\nMax-Forwards: 3\r\n", &o),
                     "Max-Forwards: 2\r\n");
    {
        struct flt_hdr_access acc;
        const char *err;

        memset(&acc, 0, sizeof(acc));
        ck_assert_int_eq(flt_hdr_access_rule(&acc, "deny all", &err), 0);
        o.access = &acc;
        ck_assert_str_eq(rewrite("A: 1\r\nMax-Forwards: 3\r\n", &o), "Max-Forwards: 2\r\n");
        /* Without the option it is a field like any other. */
        o.dec_max_forwards = 0;
        ck_assert_str_eq(rewrite("A: 1\r\nMax-Forwards: 3\r\n", &o), "");
        o.access = NULL;
    }
    ck_assert_str_eq(rewrite("Max-Forwards: 3\r\n", &o), "Max-Forwards: 3\r\n");
    ck_assert_str_eq(rewrite("Connection: max-forwards\r\nMax-Forwards: 3\r\n", &o), "");
    /* Responses have no Max-Forwards to decrement. */
    {
        struct flt_hdr_opts r = resp_opts();

        r.dec_max_forwards = 1;
        ck_assert_str_eq(rewrite("Max-Forwards: 3\r\n", &r), "Max-Forwards: 3\r\n");
    }
}
END_TEST

START_TEST(trace_echo)
{
    struct sl_buf b;
    static const char head[] =
        "Host: h.test\r\nAuthorization: Basic c2VjcmV0\r\nX-A:  1 \r\n"
        "Cookie: s=secret\r\nproxy-authorization: Basic cHc=\r\nMax-Forwards: 0\r\n"
        "COOKIE: t=2\r\n";
    static const char want[] =
        "TRACE http://h.test/x?y HTTP/1.1\r\nHost: h.test\r\nX-A: 1\r\n"
        "Max-Forwards: 0\r\n\r\n";
    size_t n;

    load(head);
    msg.method = v("TRACE");
    msg.target = v("http://h.test/x?y");
    msg.minor = 1;
    ck_assert_int_eq(sl_buf_init(&b, 1024), 0);
    ck_assert_int_eq(flt_hdr_trace_echo(&msg, &b), 0);
    ck_assert_uint_eq(sl_buf_len(&b), sizeof(want) - 1);
    ck_assert_int_eq(memcmp(b.pos, want, sizeof(want) - 1), 0);
    sl_buf_free(&b);
    /* Every size short of the whole: -ENOSPC, never past the buffer. */
    for (n = 1; n < sizeof(want) - 1; n++) {
        ck_assert_int_eq(sl_buf_init(&b, n), 0);
        ck_assert_int_eq(flt_hdr_trace_echo(&msg, &b), -ENOSPC);
        ck_assert(b.last <= b.end);
        sl_buf_free(&b);
    }
    ck_assert_int_eq(sl_buf_init(&b, 64), 0);
    msg.nhdrs = 0;
    msg.minor = 0;
    ck_assert_int_eq(flt_hdr_trace_echo(&msg, &b), 0);
    ck_assert_uint_eq(sl_buf_len(&b), strlen("TRACE http://h.test/x?y HTTP/1.0\r\n\r\n"));
    sl_buf_free(&b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("hdr");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, xff_parse);
    tcase_add_test(tc, is_client_addr);
    tcase_add_test(tc, xff_delete);
    tcase_add_test(tc, xff_unknown_mode_deletes);
    tcase_add_test(tc, xff_on);
    tcase_add_test(tc, xff_on_empty_values);
    tcase_add_test(tc, xff_on_bad_addr);
    tcase_add_test(tc, xff_off);
    tcase_add_test(tc, xff_transparent);
    tcase_add_test(tc, xff_truncate);
    tcase_add_test(tc, connection_named);
    tcase_add_test(tc, connection_named_response);
    tcase_add_test(tc, connection_many_names);
    tcase_add_test(tc, connection_cannot_drop_framing);
    tcase_add_test(tc, connection_names_via_xff);
    tcase_add_test(tc, always_dropped_request);
    tcase_add_test(tc, always_dropped_response);
    tcase_add_test(tc, keep_flags);
    tcase_add_test(tc, drop_list);
    tcase_add_test(tc, access_lists);
    tcase_add_test(tc, access_two_lists);
    tcase_add_test(tc, access_all_any_case);
    tcase_add_test(tc, keep_flags_response);
    tcase_add_test(tc, response_keeps_client_fields);
    tcase_add_test(tc, via_combine);
    tcase_add_test(tc, via_null_untouched);
    tcase_add_test(tc, via_and_xff);
    tcase_add_test(tc, order_preserved);
    tcase_add_test(tc, empty_message);
    tcase_add_test(tc, appends_to_out);
    tcase_add_test(tc, crlf_skipped);
    tcase_add_test(tc, enospc_boundary);
    tcase_add_test(tc, max_forwards_read);
    tcase_add_test(tc, max_forwards_decrement);
    tcase_add_test(tc, trace_echo);
    tcase_add_test(tc, access_rename_drop3);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
