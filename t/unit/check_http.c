/*
 * check_http.c - unit tests for squidlike/http.c: request and response
 * heads (every rejection in http.h with its status), limits at their
 * boundaries, incremental feeding and target parsing. The chunked codec
 * (chunk.c) is check_chunk.c's.
 *
 * Every input is copied into a buffer of exactly its length, so a parser
 * that reads one byte too far trips AddressSanitizer.
 */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "squidlike/http.h"

#define NHDRS 64

static struct sl_http_hdr hdrs[NHDRS];
static struct sl_http_msg msg;
static const struct sl_http_limits lim_std = { 8192, 65536 };
static char *copy;          /* the parsed bytes; views point in here */

static void teardown(void)
{
    free(copy);
    copy = NULL;
}

static const char *dup_exact(const char *s, size_t n)
{
    free(copy);
    copy = malloc(n ? n : 1);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, s, n);
    return copy;
}

static ssize_t req_n(const char *s, size_t n, const struct sl_http_limits *lim,
                     size_t max_hdrs)
{
    const char *p = dup_exact(s, n);

    memset(&msg, 0x5a, sizeof(msg));    /* the parser must set every field */
    msg.hdrs = hdrs;
    msg.max_hdrs = max_hdrs;
    return sl_http_parse_request(p, n, lim, &msg);
}

static ssize_t resp_n(const char *s, size_t n, const struct sl_http_limits *lim,
                      size_t max_hdrs)
{
    const char *p = dup_exact(s, n);

    memset(&msg, 0x5a, sizeof(msg));
    msg.hdrs = hdrs;
    msg.max_hdrs = max_hdrs;
    return sl_http_parse_response(p, n, lim, &msg);
}

static ssize_t req(const char *s)
{
    return req_n(s, strlen(s), &lim_std, NHDRS);
}

static ssize_t resp(const char *s)
{
    return resp_n(s, strlen(s), &lim_std, NHDRS);
}

#define ck_assert_view_eq(v, s) do { \
        struct sl_view v_ = (v); const char *s_ = (s); \
        ck_assert_msg(v_.len == strlen(s_) && memcmp(v_.base, s_, v_.len) == 0, \
                      "view \"%.*s\" != \"%s\"", (int)v_.len, v_.base, s_); \
    } while (0)

/* Parse s as a request/response and expect an error with that status. */
#define REJECT_REQ(s, status) do { \
        ssize_t r_ = req(s); \
        ck_assert_msg(r_ == SL_HTTP_ERROR, "accepted (%zd): %s", r_, (s)); \
        ck_assert_int_eq(msg.err_status, (status)); \
        ck_assert_ptr_nonnull(msg.err); \
    } while (0)

#define REJECT_RESP(s) do { \
        ssize_t r_ = resp(s); \
        ck_assert_msg(r_ == SL_HTTP_ERROR, "accepted (%zd): %s", r_, (s)); \
        ck_assert_int_eq(msg.err_status, 502); \
        ck_assert_ptr_nonnull(msg.err); \
    } while (0)

#define ACCEPT_REQ(s) do { \
        const char *s_ = (s); ssize_t r_ = req(s_); \
        ck_assert_msg(r_ == (ssize_t)strlen(s_), "got %zd (%s): %s", r_, \
                      r_ == SL_HTTP_ERROR ? msg.err : "", s_); \
    } while (0)

#define ACCEPT_RESP(s) do { \
        const char *s_ = (s); ssize_t r_ = resp(s_); \
        ck_assert_msg(r_ == (ssize_t)strlen(s_), "got %zd (%s): %s", r_, \
                      r_ == SL_HTTP_ERROR ? msg.err : "", s_); \
    } while (0)

/* --- valid requests ----------------------------------------------------- */

START_TEST(t_req_origin_form)
{
    const char *s = "GET /index.html?x=1 HTTP/1.1\r\nHost: example.com\r\n"
                    "Accept: */*\r\n\r\n";

    ck_assert_int_eq(req(s), (ssize_t)strlen(s));
    ck_assert_view_eq(msg.method, "GET");
    ck_assert_view_eq(msg.target, "/index.html?x=1");
    ck_assert_int_eq(msg.minor, 1);
    ck_assert_uint_eq(msg.nhdrs, 2);
    ck_assert_view_eq(hdrs[0].name, "Host");
    ck_assert_view_eq(hdrs[0].value, "example.com");
    ck_assert_view_eq(hdrs[1].name, "Accept");
    ck_assert_view_eq(hdrs[1].value, "*/*");
    ck_assert_uint_eq(msg.host_count, 1);
    ck_assert_view_eq(msg.host, "example.com");
    ck_assert(msg.content_length == -1);
    ck_assert_uint_eq(msg.has_te, 0);
    ck_assert_uint_eq(msg.chunked, 0);
    ck_assert_uint_eq(msg.conn_close, 0);
    ck_assert_uint_eq(msg.conn_keepalive, 0);
    ck_assert_uint_eq(msg.expect_continue, 0);
    ck_assert_ptr_null(msg.err);
}
END_TEST

START_TEST(t_req_absolute_form_stops_at_head_end)
{
    const char *s = "POST http://example.com/form HTTP/1.1\r\nHost: example.com\r\n"
                    "Content-Length: 4\r\n\r\nBODYGET / HTTP/1.1\r\n\r\n";
    size_t head = (size_t)(strstr(s, "BODY") - s);

    ck_assert_int_eq(req(s), (ssize_t)head);
    ck_assert_view_eq(msg.method, "POST");
    ck_assert_view_eq(msg.target, "http://example.com/form");
    ck_assert(msg.content_length == 4);
    ck_assert_int_eq(sl_http_request_body(&msg), SL_HTTP_BODY_LENGTH);
}
END_TEST

START_TEST(t_req_authority_form)
{
    ACCEPT_REQ("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
    ck_assert_view_eq(msg.method, "CONNECT");
    ck_assert_view_eq(msg.target, "example.com:443");
}
END_TEST

START_TEST(t_req_asterisk_form)
{
    ACCEPT_REQ("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n");
    ck_assert_view_eq(msg.target, "*");
}
END_TEST

START_TEST(t_req_http10_no_headers)
{
    ACCEPT_REQ("GET http://a/ HTTP/1.0\r\n\r\n");
    ck_assert_int_eq(msg.minor, 0);
    ck_assert_uint_eq(msg.nhdrs, 0);
    ck_assert_uint_eq(msg.host_count, 0);
    ck_assert_uint_eq(msg.host.len, 0);
}
END_TEST

START_TEST(t_req_many_headers)
{
    char buf[4096], *p = buf;
    size_t i;

    p += sprintf(p, "GET / HTTP/1.1\r\n");
    for (i = 0; i < NHDRS; i++)
        p += sprintf(p, "X-H%zu: value %zu\r\n", i, i);
    p += sprintf(p, "\r\n");
    ck_assert_int_eq(req(buf), p - buf);
    ck_assert_uint_eq(msg.nhdrs, NHDRS);
    for (i = 0; i < NHDRS; i++) {
        char n[32], v[32];
        snprintf(n, sizeof(n), "X-H%zu", i);
        snprintf(v, sizeof(v), "value %zu", i);
        ck_assert_view_eq(hdrs[i].name, n);
        ck_assert_view_eq(hdrs[i].value, v);
    }
}
END_TEST

START_TEST(t_req_ows_trimmed)
{
    ACCEPT_REQ("GET / HTTP/1.1\r\nA:  \t a  b \t \r\nB:\r\nC: \t \r\nD:x\r\n\r\n");
    ck_assert_view_eq(hdrs[0].value, "a  b");
    ck_assert_view_eq(hdrs[1].value, "");
    ck_assert_view_eq(hdrs[2].value, "");
    ck_assert_view_eq(hdrs[3].value, "x");
}
END_TEST

START_TEST(t_req_bare_lf)
{
    ACCEPT_REQ("GET / HTTP/1.1\nHost: h\nX: y\r\n\n");
    ck_assert_uint_eq(msg.nhdrs, 2);
    ck_assert_view_eq(hdrs[1].value, "y");
    ACCEPT_REQ("GET / HTTP/1.0\n\n");
    ck_assert_int_eq(msg.minor, 0);
}
END_TEST

START_TEST(t_req_leading_empty_lines)
{
    ACCEPT_REQ("\r\nGET / HTTP/1.1\r\n\r\n");
    ck_assert_view_eq(msg.method, "GET");
    ACCEPT_REQ("\r\n\n\r\n\nGET / HTTP/1.1\r\n\r\n");
    ck_assert_view_eq(msg.method, "GET");
    /* Only a few are ignored: the fifth is taken as the request line. */
    REJECT_REQ("\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n\r\n", 400);
    /* A lone CR before the request line is not an empty line. */
    REJECT_REQ("\rGET / HTTP/1.1\r\n\r\n", 400);
}
END_TEST

START_TEST(t_req_obs_text)
{
    ACCEPT_REQ("GET /caf\xc3\xa9 HTTP/1.1\r\nX: caf\xc3\xa9\xff\r\n\r\n");
    ck_assert_view_eq(msg.target, "/caf\xc3\xa9");
    ck_assert_view_eq(hdrs[0].value, "caf\xc3\xa9\xff");
}
END_TEST

/* Every byte in a method: accepted exactly when it is an RFC 9110 tchar. */
START_TEST(t_req_method_bytes)
{
    static const char tchar[] = "!#$%&'*+-.^_`|~0123456789"
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    char buf[64];
    int b;

    for (b = 0; b < 256; b++) {
        int ok = b != 0 && strchr(tchar, b) != NULL;
        size_t n = (size_t)snprintf(buf, sizeof(buf), "GxT / HTTP/1.1\r\n\r\n");
        ssize_t r;

        buf[1] = (char)b;
        r = req_n(buf, n, &lim_std, NHDRS);
        ck_assert_msg(ok ? r == (ssize_t)n : r == SL_HTTP_ERROR,
                      "byte 0x%02x: %zd", b, r);
        if (!ok)
            ck_assert_int_eq(msg.err_status, 400);
    }
}
END_TEST

/* Every byte in a target: > 0x20 except DEL. */
START_TEST(t_req_target_bytes)
{
    char buf[64];
    int b;

    for (b = 0; b < 256; b++) {
        int ok = b > 0x20 && b != 0x7f;
        size_t n = (size_t)snprintf(buf, sizeof(buf), "GET /x HTTP/1.1\r\n\r\n");
        ssize_t r;

        buf[5] = (char)b;
        r = req_n(buf, n, &lim_std, NHDRS);
        ck_assert_msg(ok ? r == (ssize_t)n : r == SL_HTTP_ERROR,
                      "byte 0x%02x: %zd", b, r);
    }
}
END_TEST

/* Every byte inside a field value: HTAB, SP, VCHAR, obs-text. */
START_TEST(t_req_value_bytes)
{
    char buf[64];
    int b;

    for (b = 0; b < 256; b++) {
        int ok = b == '\t' || (b >= 0x20 && b != 0x7f);
        size_t n = (size_t)snprintf(buf, sizeof(buf),
                                    "GET / HTTP/1.1\r\nX: axb\r\n\r\n");
        ssize_t r;

        buf[20] = (char)b;
        r = req_n(buf, n, &lim_std, NHDRS);
        ck_assert_msg(ok ? r == (ssize_t)n : r == SL_HTTP_ERROR,
                      "byte 0x%02x: %zd", b, r);
        if (ok)
            ck_assert_uint_eq((unsigned char)hdrs[0].value.base[1], b);
        else
            ck_assert_int_eq(msg.err_status, 400);
    }
}
END_TEST

/* Every byte in a field name: tchar only. */
START_TEST(t_req_name_bytes)
{
    static const char tchar[] = "!#$%&'*+-.^_`|~0123456789"
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    char buf[64];
    int b;

    for (b = 0; b < 256; b++) {
        /* "A:B: 1" is the field A with the value "B: 1" */
        int ok = b != 0 && (strchr(tchar, b) != NULL || b == ':');
        size_t n = (size_t)snprintf(buf, sizeof(buf),
                                    "GET / HTTP/1.1\r\nAxB: 1\r\n\r\n");
        ssize_t r;

        buf[17] = (char)b;
        r = req_n(buf, n, &lim_std, NHDRS);
        ck_assert_msg(ok ? r == (ssize_t)n : r == SL_HTTP_ERROR,
                      "byte 0x%02x: %zd", b, r);
    }
}
END_TEST

/* --- request rejections ------------------------------------------------- */

START_TEST(t_req_bad_request_line)
{
    REJECT_REQ("G@T / HTTP/1.1\r\n\r\n", 400);
    REJECT_REQ(" / HTTP/1.1\r\n\r\n", 400);
    REJECT_REQ("GET  / HTTP/1.1\r\n\r\n", 400);
    REJECT_REQ("GET /  HTTP/1.1\r\n\r\n", 400);
    REJECT_REQ("GET\t/ HTTP/1.1\r\n\r\n", 400);
    REJECT_REQ("GET /\tHTTP/1.1\r\n\r\n", 400);
    REJECT_REQ("GET /\r\n\r\n", 400);
    REJECT_REQ("GET / \r\n\r\n", 400);
    REJECT_REQ("GET\r\n\r\n", 400);
    REJECT_REQ("/ HTTP/1.1\r\n\r\n", 400);
    REJECT_REQ("GET /a\x7f HTTP/1.1\r\n\r\n", 400);
    REJECT_REQ("GET /a\x01 HTTP/1.1\r\n\r\n", 400);
    REJECT_REQ("GET / HTTP/1.1\r\r\n\r\n", 400);
    REJECT_REQ("GET / HTTP/1.1 \r\n\r\n", 400);
    ck_assert_str_eq(msg.err, "bad HTTP version");
}
END_TEST

START_TEST(t_req_bad_version)
{
    REJECT_REQ("GET / HTTP/1.2\r\n\r\n", 400);
    REJECT_REQ("GET / HTTP/0.9\r\n\r\n", 400);
    REJECT_REQ("GET / HTTP/1\r\n\r\n", 400);
    REJECT_REQ("GET / HTTP/1.\r\n\r\n", 400);
    REJECT_REQ("GET / http/1.1\r\n\r\n", 400);
    REJECT_REQ("GET / HTTP/1.10\r\n\r\n", 400);
    REJECT_REQ("GET / HTTP/11.1\r\n\r\n", 400);
    REJECT_REQ("GET / HTTPS/1.1\r\n\r\n", 400);
    REJECT_REQ("GET / HTTP/2.0x\r\n\r\n", 400);
    REJECT_REQ("GET / HTTP\r\n\r\n", 400);
}
END_TEST

START_TEST(t_req_version_505)
{
    REJECT_REQ("GET / HTTP/2.0\r\n\r\n", 505);
    REJECT_REQ("GET / HTTP/2\r\n\r\n", 505);
    REJECT_REQ("GET / HTTP/3\r\n\r\n", 505);
    REJECT_REQ("GET / HTTP/3.0\r\nHost: x\r\n\r\n", 505);
    REJECT_REQ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505);
}
END_TEST

START_TEST(t_req_bad_fields)
{
    REJECT_REQ("GET / HTTP/1.1\r\nX: a\r\n folded\r\n\r\n", 400);
    ck_assert_ptr_nonnull(strstr(msg.err, "obs-fold"));
    REJECT_REQ("GET / HTTP/1.1\r\nX: a\r\n\tfolded\r\n\r\n", 400);
    REJECT_REQ("GET / HTTP/1.1\r\n X: a\r\n\r\n", 400);
    REJECT_REQ("GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400);
    ck_assert_ptr_nonnull(strstr(msg.err, "colon"));
    REJECT_REQ("GET / HTTP/1.1\r\nHost\t: x\r\n\r\n", 400);
    REJECT_REQ("GET / HTTP/1.1\r\n: x\r\n\r\n", 400);
    REJECT_REQ("GET / HTTP/1.1\r\nX@Y: x\r\n\r\n", 400);
    REJECT_REQ("GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400);
    REJECT_REQ("GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", 400);
    ck_assert_ptr_nonnull(strstr(msg.err, "CR"));
    REJECT_REQ("GET / HTTP/1.1\r\nX: a\r\r\n\r\n", 400);
    REJECT_REQ("GET / HTTP/1.1\r\nX: a\x01z\r\n\r\n", 400);
    REJECT_REQ("GET / HTTP/1.1\r\nX: a\x7fz\r\n\r\n", 400);
    REJECT_REQ("GET / HTTP/1.1\r\nX: a\r\n\r\r\n\r\n", 400);
    REJECT_REQ("GET / HTTP/1.1\r\n\rX: a\r\n\r\n", 400);
}
END_TEST

START_TEST(t_req_nul_in_value)
{
    static const char s[] = "GET / HTTP/1.1\r\nX: a\0b\r\n\r\n";

    ck_assert_int_eq(req_n(s, sizeof(s) - 1, &lim_std, NHDRS), SL_HTTP_ERROR);
    ck_assert_int_eq(msg.err_status, 400);
}
END_TEST

START_TEST(t_req_content_length)
{
    ACCEPT_REQ("POST / HTTP/1.1\r\nContent-Length: 42\r\n\r\n");
    ck_assert(msg.content_length == 42);
    ACCEPT_REQ("POST / HTTP/1.1\r\ncontent-length:  7 \r\n\r\n");
    ck_assert(msg.content_length == 7);
    ACCEPT_REQ("POST / HTTP/1.1\r\nContent-Length: 999999999999999\r\n\r\n");
    ck_assert(msg.content_length == INT64_C(999999999999999));
    ACCEPT_REQ("POST / HTTP/1.1\r\nContent-Length: 000000000000001\r\n\r\n");
    ck_assert(msg.content_length == 1);
    ACCEPT_REQ("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    ck_assert(msg.content_length == 0);
    ck_assert_int_eq(sl_http_request_body(&msg), SL_HTTP_BODY_NONE);
}
END_TEST

START_TEST(t_req_bad_content_length)
{
    REJECT_REQ("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", 400);
    ck_assert_ptr_nonnull(strstr(msg.err, "duplicate"));
    REJECT_REQ("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400);
    REJECT_REQ("POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n", 400);
    REJECT_REQ("POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n", 400);
    REJECT_REQ("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400);
    REJECT_REQ("POST / HTTP/1.1\r\nContent-Length: 5a\r\n\r\n", 400);
    REJECT_REQ("POST / HTTP/1.1\r\nContent-Length: 0x5\r\n\r\n", 400);
    REJECT_REQ("POST / HTTP/1.1\r\nContent-Length: 5 5\r\n\r\n", 400);
    REJECT_REQ("POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", 400);
    REJECT_REQ("POST / HTTP/1.1\r\nContent-Length: 1000000000000000\r\n\r\n", 400);
    REJECT_REQ("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400);
}
END_TEST

START_TEST(t_req_transfer_encoding)
{
    ACCEPT_REQ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
    ck_assert_uint_eq(msg.has_te, 1);
    ck_assert_uint_eq(msg.chunked, 1);
    ck_assert_int_eq(sl_http_request_body(&msg), SL_HTTP_BODY_CHUNKED);
    ACCEPT_REQ("POST / HTTP/1.1\r\ntransfer-encoding: CHUNKED\r\n\r\n");
    ck_assert_uint_eq(msg.chunked, 1);
    /* empty list elements are ignored, lines are joined */
    ACCEPT_REQ("POST / HTTP/1.1\r\nTransfer-Encoding: ,\r\n"
               "Transfer-Encoding: , chunked ,\r\n\r\n");
    ck_assert_uint_eq(msg.chunked, 1);
}
END_TEST

START_TEST(t_req_bad_transfer_encoding)
{
    REJECT_REQ("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501);
    ck_assert_str_eq(msg.err, "unsupported transfer coding");
    REJECT_REQ("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501);
    REJECT_REQ("POST / HTTP/1.1\r\nTransfer-Encoding: identity\r\n\r\n", 501);
    REJECT_REQ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400);
    REJECT_REQ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400);
    REJECT_REQ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
               "Transfer-Encoding: chunked\r\n\r\n", 400);
    REJECT_REQ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
               "Transfer-Encoding: gzip\r\n\r\n", 400);
    REJECT_REQ("POST / HTTP/1.1\r\nTransfer-Encoding:\r\n\r\n", 400);
    REJECT_REQ("POST / HTTP/1.1\r\nTransfer-Encoding: ,\r\n\r\n", 400);
    REJECT_REQ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked;x=1\r\n\r\n", 400);
    REJECT_REQ("POST / HTTP/1.1\r\nTransfer-Encoding: chunk\r\n\r\n", 501);
    REJECT_REQ("POST / HTTP/1.1\r\nTransfer-Encoding: \"chunked\"\r\n\r\n", 400);
    REJECT_REQ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
               "Content-Length: 5\r\n\r\n", 400);
    REJECT_REQ("POST / HTTP/1.1\r\nContent-Length: 5\r\n"
               "Transfer-Encoding: chunked\r\n\r\n", 400);
    /* RFC 9112 6.1: Transfer-Encoding in HTTP/1.0 is faulty framing. */
    REJECT_REQ("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400);
}
END_TEST

START_TEST(t_req_host)
{
    ACCEPT_REQ("GET / HTTP/1.1\r\nhOST:  a.example:81 \r\n\r\n");
    ck_assert_uint_eq(msg.host_count, 1);
    ck_assert_view_eq(msg.host, "a.example:81");
    REJECT_REQ("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400);
    REJECT_REQ("GET / HTTP/1.1\r\nHost: a\r\nX: y\r\nhost: b\r\n\r\n", 400);
}
END_TEST

START_TEST(t_req_connection)
{
    ACCEPT_REQ("GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
    ck_assert_uint_eq(msg.conn_close, 1);
    ck_assert_uint_eq(msg.conn_keepalive, 0);
    ACCEPT_REQ("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
    ck_assert_uint_eq(msg.conn_close, 0);
    ck_assert_uint_eq(msg.conn_keepalive, 1);
    ACCEPT_REQ("GET / HTTP/1.1\r\nConnection: te, upgrade\r\n"
               "connection: foo ,CLOSE\r\n\r\n");
    ck_assert_uint_eq(msg.conn_close, 1);
    ACCEPT_REQ("GET / HTTP/1.1\r\nConnection: closed, keep-alived\r\n\r\n");
    ck_assert_uint_eq(msg.conn_close, 0);
    ck_assert_uint_eq(msg.conn_keepalive, 0);
}
END_TEST

START_TEST(t_req_expect)
{
    ACCEPT_REQ("PUT / HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n");
    ck_assert_uint_eq(msg.expect_continue, 1);
    ACCEPT_REQ("PUT / HTTP/1.1\r\nExpect: 100-continues\r\n\r\n");
    ck_assert_uint_eq(msg.expect_continue, 0);
    ACCEPT_REQ("PUT / HTTP/1.1\r\nExpectation: 100-continue\r\n\r\n");
    ck_assert_uint_eq(msg.expect_continue, 0);
}
END_TEST

/* --- limits ------------------------------------------------------------- */

/* A request line of exactly n bytes ("GET /aaa... HTTP/1.1"). */
static size_t make_line(char *buf, size_t n, const char *tail)
{
    size_t fixed = strlen("GET / HTTP/1.1");

    memcpy(buf, "GET /", 5);
    memset(buf + 5, 'a', n - fixed);
    memcpy(buf + 5 + n - fixed, " HTTP/1.1", 9);
    strcpy(buf + n, tail);
    return n + strlen(tail);
}

START_TEST(t_limit_line_max)
{
    struct sl_http_limits lim = { 100, 4096 };
    char buf[512];
    size_t n;

    n = make_line(buf, 100, "\r\n\r\n");
    ck_assert_int_eq(req_n(buf, n, &lim, NHDRS), (ssize_t)n);
    n = make_line(buf, 100, "\n\n");
    ck_assert_int_eq(req_n(buf, n, &lim, NHDRS), (ssize_t)n);
    n = make_line(buf, 101, "\r\n\r\n");
    ck_assert_int_eq(req_n(buf, n, &lim, NHDRS), SL_HTTP_ERROR);
    ck_assert_int_eq(msg.err_status, 414);
    n = make_line(buf, 101, "\n\n");
    ck_assert_int_eq(req_n(buf, n, &lim, NHDRS), SL_HTTP_ERROR);
    ck_assert_int_eq(msg.err_status, 414);
    /* Incomplete: 100 bytes + CR may still be a legal line. */
    n = make_line(buf, 100, "\r");
    ck_assert_int_eq(req_n(buf, n, &lim, NHDRS), SL_HTTP_AGAIN);
    /* ... but 102 bytes without LF cannot. */
    n = make_line(buf, 102, "");
    ck_assert_int_eq(req_n(buf, n, &lim, NHDRS), SL_HTTP_ERROR);
    ck_assert_int_eq(msg.err_status, 414);
    /* Leading empty lines are not part of the request line. */
    memcpy(buf, "\r\n", 2);
    n = make_line(buf + 2, 100, "\r\n\r\n") + 2;
    ck_assert_int_eq(req_n(buf, n, &lim, NHDRS), (ssize_t)n);
}
END_TEST

START_TEST(t_limit_head_max)
{
    struct sl_http_limits lim = { 100, 64 };
    /* 16 + 46 + 2 = 64 bytes */
    const char *s = "GET / HTTP/1.1\r\nX: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    const char *t = "GET / HTTP/1.1\r\nX: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";

    ck_assert_uint_eq(strlen(s), 64);
    ck_assert_int_eq(req_n(s, 64, &lim, NHDRS), 64);
    ck_assert_int_eq(req_n(t, 65, &lim, NHDRS), SL_HTTP_ERROR);
    ck_assert_int_eq(msg.err_status, 431);
    /* Incomplete and already at the limit: no point waiting. */
    ck_assert_int_eq(req_n(t, 64, &lim, NHDRS), SL_HTTP_ERROR);
    ck_assert_int_eq(msg.err_status, 431);
    ck_assert_int_eq(req_n(t, 63, &lim, NHDRS), SL_HTTP_AGAIN);
    /* With bare LF the same head fits. */
    ck_assert_int_eq(req_n("GET / HTTP/1.1\nX: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n\n",
                           64, &lim, NHDRS), 64);
    ck_assert_uint_eq(strlen("GET / HTTP/1.1\nX: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n\n"), 64);
    /* head_max below line_max: a long first line hits 431 first */
    {
        struct sl_http_limits odd = { 300, 100 };
        char line[120];

        memset(line, 'a', sizeof(line));
        ck_assert_int_eq(req_n(line, 99, &odd, NHDRS), SL_HTTP_AGAIN);
        ck_assert_int_eq(req_n(line, 100, &odd, NHDRS), SL_HTTP_ERROR);
        ck_assert_int_eq(msg.err_status, 431);
    }
}
END_TEST

START_TEST(t_limit_max_hdrs)
{
    const char *s = "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";

    ck_assert_int_eq(req_n(s, strlen(s), &lim_std, 3), (ssize_t)strlen(s));
    ck_assert_uint_eq(msg.nhdrs, 3);
    ck_assert_int_eq(req_n(s, strlen(s), &lim_std, 2), SL_HTTP_ERROR);
    ck_assert_int_eq(msg.err_status, 431);
    ck_assert_int_eq(resp_n("HTTP/1.1 200 OK\r\nA: 1\r\n\r\n", 25, &lim_std, 0),
                     SL_HTTP_ERROR);
    ck_assert_int_eq(msg.err_status, 502);
}
END_TEST

/* --- incremental feeding ------------------------------------------------ */

static void every_prefix_again(const char *s, int response)
{
    size_t n = strlen(s), i;

    for (i = 0; i < n; i++) {
        ssize_t r = response ? resp_n(s, i, &lim_std, NHDRS)
                             : req_n(s, i, &lim_std, NHDRS);
        ck_assert_msg(r == SL_HTTP_AGAIN, "prefix %zu: %zd", i, r);
    }
    ck_assert_int_eq(response ? resp_n(s, n, &lim_std, NHDRS)
                              : req_n(s, n, &lim_std, NHDRS), (ssize_t)n);
}

START_TEST(t_incremental_request)
{
    every_prefix_again("GET http://example.com/a?b HTTP/1.1\r\nHost: example.com\r\n"
                       "User-Agent: test\r\nContent-Length: 3\r\n\r\n", 0);
    ck_assert(msg.content_length == 3);
    every_prefix_again("\r\n\nGET / HTTP/1.0\nA: b\n\n", 0);
    every_prefix_again("GET / HTTP/1.1\r\n\r\n", 0);
}
END_TEST

START_TEST(t_incremental_response)
{
    every_prefix_again("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                       "Transfer-Encoding: chunked\r\n\r\n", 1);
    ck_assert_uint_eq(msg.chunked, 1);
    every_prefix_again("HTTP/1.0 304\n\n", 1);
}
END_TEST

/* A bad request line is refused as soon as the line is complete; a bad
 * field waits for the end of the head (found first). */
START_TEST(t_incremental_errors)
{
    ck_assert_int_eq(req("G@T / HTTP/1.1"), SL_HTTP_AGAIN);
    ck_assert_int_eq(req("G@T / HTTP/1.1\r"), SL_HTTP_AGAIN);
    REJECT_REQ("G@T / HTTP/1.1\r\n", 400);
    ck_assert_str_eq(msg.err, "bad method");
    REJECT_REQ("G@T / HTTP/1.1\r\nHost: x\r\n", 400);
    REJECT_REQ("GET / HTTP/1.2\nHost: x\n", 400);
    REJECT_REQ("GET / HTTP/2\r\nHost: x\r\n", 505);
    ck_assert_int_eq(req("GET / HTTP/1.1\r\nHo st: x\r\n"), SL_HTTP_AGAIN);
    REJECT_REQ("GET / HTTP/1.1\r\nHo st: x\r\n\r\n", 400);
}
END_TEST

/* HTTP/0.9 ("GET /x" CRLF): answered at the end of the line, since no
 * head will follow; every shorter prefix is still incomplete. */
START_TEST(t_req_http09)
{
    static const char *const lines[] = {
        "GET /x\r\n", "GET http://example.com/x\r\n", "GET /x\n",
        "\r\nGET /x\r\n", "\nGET http://h/\n", "POST http://h/x?a=b\r\n",
    };
    size_t i, k;

    for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        const char *s = lines[i];
        size_t n = strlen(s), lf = (size_t)(strrchr(s, '\n') - s);

        ck_assert_int_eq(req_n(s, n, &lim_std, NHDRS), SL_HTTP_ERROR);
        ck_assert_int_eq(msg.err_status, 400);
        ck_assert_str_eq(msg.err, "HTTP/0.9 request (no HTTP version)");
        for (k = 0; k < lf; k++) {
            ssize_t r = req_n(s, k, &lim_std, NHDRS);
            /* a prefix ending in a leading empty line is all blank */
            ck_assert_msg(r == SL_HTTP_AGAIN, "%zu of \"%s\": %zd", k, s, r);
        }
    }
}
END_TEST

/* --- responses ---------------------------------------------------------- */

START_TEST(t_resp_basic)
{
    const char *s = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer: x\r\n\r\nhello";

    ck_assert_int_eq(resp(s), (ssize_t)strlen(s) - 5);
    ck_assert_int_eq(msg.status, 200);
    ck_assert_int_eq(msg.minor, 1);
    ck_assert_view_eq(msg.reason, "OK");
    ck_assert(msg.content_length == 5);
    ck_assert_uint_eq(msg.nhdrs, 2);
    ck_assert_int_eq(sl_http_response_body(&msg, 0), SL_HTTP_BODY_LENGTH);
    ck_assert_int_eq(sl_http_response_body(&msg, 1), SL_HTTP_BODY_NONE);
}
END_TEST

START_TEST(t_resp_reason_forms)
{
    ACCEPT_RESP("HTTP/1.0 404 Not  Found\t\xe9\r\n\r\n");
    ck_assert_int_eq(msg.minor, 0);
    ck_assert_int_eq(msg.status, 404);
    ck_assert_view_eq(msg.reason, "Not  Found\t\xe9");
    ACCEPT_RESP("HTTP/1.1 200 \r\n\r\n");
    ck_assert_uint_eq(msg.reason.len, 0);
    ACCEPT_RESP("HTTP/1.1 200\r\n\r\n");
    ck_assert_uint_eq(msg.reason.len, 0);
    ck_assert_int_eq(msg.status, 200);
    ACCEPT_RESP("HTTP/1.1 100 Continue\n\n");
    ck_assert_int_eq(msg.status, 100);
    ACCEPT_RESP("HTTP/1.1 999 Odd\r\n\r\n");
    ck_assert_int_eq(msg.status, 999);
}
END_TEST

START_TEST(t_resp_bad_status_line)
{
    REJECT_RESP("HTTP/1.1 99 X\r\n\r\n");
    REJECT_RESP("HTTP/1.1 099 X\r\n\r\n");
    REJECT_RESP("HTTP/1.1 2000 X\r\n\r\n");
    REJECT_RESP("HTTP/1.1 20 X\r\n\r\n");
    REJECT_RESP("HTTP/1.1 2x0 X\r\n\r\n");
    REJECT_RESP("HTTP/1.1  200 OK\r\n\r\n");
    REJECT_RESP("HTTP/1.1 200OK\r\n\r\n");
    REJECT_RESP("HTTP/1.1\t200 OK\r\n\r\n");
    REJECT_RESP("HTTP/1.1 200 O\rK\r\n\r\n");
    REJECT_RESP("HTTP/1.1 200 O\x01K\r\n\r\n");
    REJECT_RESP("HTTP/2 200 OK\r\n\r\n");
    REJECT_RESP("HTTP/1.2 200 OK\r\n\r\n");
    REJECT_RESP("HTTP/1.1\r\n\r\n");
    REJECT_RESP("ICY 200 OK\r\n\r\n");
    REJECT_RESP("\r\nHTTP/1.1 200 OK\r\n\r\n");
}
END_TEST

START_TEST(t_resp_bad_fields_502)
{
    REJECT_RESP("HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n");
    REJECT_RESP("HTTP/1.1 200 OK\r\nX : a\r\n\r\n");
    REJECT_RESP("HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n");
    REJECT_RESP("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n");
    REJECT_RESP("HTTP/1.1 200 OK\r\nContent-Length: 1,1\r\n\r\n");
    REJECT_RESP("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n");
    REJECT_RESP("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n");
    REJECT_RESP("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                "Content-Length: 3\r\n\r\n");
    REJECT_RESP("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
                "Transfer-Encoding: chunked\r\n\r\n");
    REJECT_RESP("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                "Transfer-Encoding: chunked\r\n\r\n");
    REJECT_RESP("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
}
END_TEST

START_TEST(t_resp_limits_502)
{
    struct sl_http_limits lim = { 23, 40 };

    ck_assert_int_eq(resp_n("HTTP/1.1 200 0123456789\r\n\r\n", 27, &lim, NHDRS), 27);
    ck_assert_int_eq(resp_n("HTTP/1.1 200 01234567890\r\n\r\n", 28, &lim, NHDRS),
                     SL_HTTP_ERROR);
    ck_assert_int_eq(msg.err_status, 502);
    ck_assert_int_eq(resp_n("HTTP/1.1 200 OK\r\nX: 0123456789012345678901\r\n\r\n",
                            45, &lim, NHDRS), SL_HTTP_ERROR);
    ck_assert_int_eq(msg.err_status, 502);
}
END_TEST

START_TEST(t_resp_transfer_encoding)
{
    ACCEPT_RESP("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
    ck_assert_uint_eq(msg.chunked, 1);
    ck_assert_uint_eq(msg.has_te, 1);
    ACCEPT_RESP("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip;q=1\r\n"
                "Transfer-Encoding: Chunked\r\n\r\n");
    ck_assert_uint_eq(msg.chunked, 1);
    ck_assert_int_eq(sl_http_response_body(&msg, 0), SL_HTTP_BODY_CHUNKED);
    /* Host is a request field: repeated in a response it is just counted. */
    ACCEPT_RESP("HTTP/1.1 200 OK\r\nHost: a\r\nHost: b\r\n\r\n");
    ck_assert_uint_eq(msg.host_count, 2);
    ck_assert_view_eq(msg.host, "a");
}
END_TEST

START_TEST(t_resp_body_framing)
{
    ACCEPT_RESP("HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n");
    ck_assert_int_eq(sl_http_response_body(&msg, 0), SL_HTTP_BODY_NONE);
    ACCEPT_RESP("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n");
    ck_assert_int_eq(sl_http_response_body(&msg, 0), SL_HTTP_BODY_NONE);
    ACCEPT_RESP("HTTP/1.1 101 Switching\r\nTransfer-Encoding: chunked\r\n\r\n");
    ck_assert_int_eq(sl_http_response_body(&msg, 0), SL_HTTP_BODY_NONE);
    ACCEPT_RESP("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    ck_assert_int_eq(sl_http_response_body(&msg, 0), SL_HTTP_BODY_NONE);
    ACCEPT_RESP("HTTP/1.1 200 OK\r\n\r\n");
    ck_assert_int_eq(sl_http_response_body(&msg, 0), SL_HTTP_BODY_CLOSE);
    ck_assert_int_eq(sl_http_response_body(&msg, 1), SL_HTTP_BODY_NONE);
    ACCEPT_RESP("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    ck_assert_int_eq(sl_http_response_body(&msg, 1), SL_HTTP_BODY_NONE);
    ACCEPT_RESP("HTTP/1.1 205 Reset\r\nContent-Length: 3\r\n\r\n");
    ck_assert_int_eq(sl_http_response_body(&msg, 0), SL_HTTP_BODY_LENGTH);
}
END_TEST

/* --- lookups ------------------------------------------------------------ */

START_TEST(t_find)
{
    const struct sl_http_hdr *h;

    ACCEPT_REQ("GET / HTTP/1.1\r\nX-A: 1\r\nx-b: 2\r\nX-B: 3\r\n\r\n");
    h = sl_http_find(&msg, "X-B");
    ck_assert_ptr_eq(h, &hdrs[1]);
    ck_assert_view_eq(h->value, "2");
    ck_assert_ptr_eq(sl_http_find(&msg, "x-a"), &hdrs[0]);
    ck_assert_ptr_null(sl_http_find(&msg, "X"));
    ck_assert_ptr_null(sl_http_find(&msg, "X-A1"));
}
END_TEST

START_TEST(t_list_has)
{
    ck_assert_int_eq(sl_http_list_has(SL_VIEW_LIT("close"), "close"), 1);
    ck_assert_int_eq(sl_http_list_has(SL_VIEW_LIT("Keep-Alive"), "keep-alive"), 1);
    ck_assert_int_eq(sl_http_list_has(SL_VIEW_LIT(" a ,\tb\t, c "), "b"), 1);
    ck_assert_int_eq(sl_http_list_has(SL_VIEW_LIT("a,,c"), "c"), 1);
    ck_assert_int_eq(sl_http_list_has(SL_VIEW_LIT("a, b"), "a"), 1);
    ck_assert_int_eq(sl_http_list_has(SL_VIEW_LIT("closed"), "close"), 0);
    ck_assert_int_eq(sl_http_list_has(SL_VIEW_LIT("clos"), "close"), 0);
    ck_assert_int_eq(sl_http_list_has(SL_VIEW_LIT("a b"), "a"), 0);
    ck_assert_int_eq(sl_http_list_has(SL_VIEW_LIT(""), "a"), 0);
    ck_assert_int_eq(sl_http_list_has(SL_VIEW_LIT(","), "a"), 0);
    ck_assert_int_eq(sl_http_list_has((struct sl_view){ NULL, 0 }, "a"), 0);
    /* the view's length is honoured: no reading past it */
    ck_assert_int_eq(sl_http_list_has((struct sl_view){ "closex", 5 }, "close"), 1);
    ck_assert_int_eq(sl_http_list_has((struct sl_view){ "close", 4 }, "close"), 0);
}
END_TEST

/* --- URLs --------------------------------------------------------------- */

static struct sl_url url;
static const char *url_err;

static int parse_url_s(const char *s)
{
    url_err = NULL;
    memset(&url, 0x5a, sizeof(url));
    return sl_http_parse_url((struct sl_view){ dup_exact(s, strlen(s)), strlen(s) },
                             &url, &url_err);
}

static int parse_auth_s(const char *s)
{
    url_err = NULL;
    memset(&url, 0x5a, sizeof(url));
    return sl_http_parse_authority((struct sl_view){ dup_exact(s, strlen(s)), strlen(s) },
                                   &url, &url_err);
}

#define URL_REJECT(s) do { \
        ck_assert_msg(parse_url_s(s) == -1, "accepted: %s", (s)); \
        ck_assert_ptr_nonnull(url_err); \
    } while (0)

#define AUTH_REJECT(s) do { \
        ck_assert_msg(parse_auth_s(s) == -1, "accepted: %s", (s)); \
        ck_assert_ptr_nonnull(url_err); \
    } while (0)

START_TEST(t_url_basic)
{
    ck_assert_int_eq(parse_url_s("http://example.com"), 0);
    ck_assert_str_eq(url.host, "example.com");
    ck_assert_uint_eq(url.port, 80);
    ck_assert_uint_eq(url.host_is_ipv6, 0);
    ck_assert_view_eq(url.path, "/");

    ck_assert_int_eq(parse_url_s("HTTP://Example.COM:8080/a/B?c=D&e"), 0);
    ck_assert_str_eq(url.host, "example.com");
    ck_assert_uint_eq(url.port, 8080);
    ck_assert_view_eq(url.path, "/a/B?c=D&e");

    ck_assert_int_eq(parse_url_s("http://h:/x"), 0);
    ck_assert_uint_eq(url.port, 80);
    ck_assert_view_eq(url.path, "/x");

    ck_assert_int_eq(parse_url_s("http://h:65535/"), 0);
    ck_assert_uint_eq(url.port, 65535);
    ck_assert_int_eq(parse_url_s("http://h:00001"), 0);
    ck_assert_uint_eq(url.port, 1);
    ck_assert_int_eq(parse_url_s("http://a-b.c_d~e!$&'()*+,;=%41/"), 0);
    ck_assert_str_eq(url.host, "a-b.c_d~e!$&'()*+,;=%41");
    ck_assert_int_eq(parse_url_s("http://10.0.0.1:3128/p/q/?x"), 0);
    ck_assert_str_eq(url.host, "10.0.0.1");
    ck_assert_view_eq(url.path, "/p/q/?x");
}
END_TEST

START_TEST(t_url_ipv6)
{
    ck_assert_int_eq(parse_url_s("http://[::1]:3128/x"), 0);
    ck_assert_str_eq(url.host, "::1");
    ck_assert_uint_eq(url.host_is_ipv6, 1);
    ck_assert_uint_eq(url.port, 3128);
    ck_assert_view_eq(url.path, "/x");
    ck_assert_int_eq(parse_url_s("http://[2001:DB8::A]"), 0);
    ck_assert_str_eq(url.host, "2001:db8::a");
    ck_assert_uint_eq(url.port, 80);
    ck_assert_int_eq(parse_url_s("http://[::ffff:192.0.2.1]/"), 0);
    ck_assert_str_eq(url.host, "::ffff:192.0.2.1");
    URL_REJECT("http://[::1/");
    URL_REJECT("http://[::g]/");
    URL_REJECT("http://[]/");
    URL_REJECT("http://[1.2.3.4]/");
    URL_REJECT("http://[v1.fe]/");
    URL_REJECT("http://[fe80::1%25eth0]/");
    URL_REJECT("http://[::1]x/");
    URL_REJECT("http://[::1]:x/");
    URL_REJECT("http://x[::1]/");
    URL_REJECT("http://[0000:0000:0000:0000:0000:0000:0000:0000:0000]/");
}
END_TEST

START_TEST(t_url_reject)
{
    URL_REJECT("https://example.com/");
    ck_assert_str_eq(url_err, "unsupported scheme");
    URL_REJECT("ftp://example.com/");
    ck_assert_str_eq(url_err, "unsupported scheme");
    URL_REJECT("httpx://example.com/");
    URL_REJECT("/just/a/path");
    URL_REJECT("*");
    URL_REJECT("");
    URL_REJECT("example.com:80");
    URL_REJECT("http:/example.com/");
    URL_REJECT("http:example.com");
    URL_REJECT("http:");
    URL_REJECT("http://");
    URL_REJECT("http:///path");
    URL_REJECT("http://:80/");
    URL_REJECT("http://user@example.com/");
    ck_assert_ptr_nonnull(strstr(url_err, "userinfo"));
    URL_REJECT("http://user:pw@example.com/");
    ck_assert_ptr_nonnull(strstr(url_err, "userinfo"));
    URL_REJECT("http://example.com/#frag");
    URL_REJECT("http://example.com#frag");
    URL_REJECT("http://example.com:0/");
    URL_REJECT("http://example.com:65536/");
    URL_REJECT("http://example.com:99999999999999999999/");
    URL_REJECT("http://example.com:8a/");
    URL_REJECT("http://example.com:-1/");
    URL_REJECT("http://example.com?q=1");
    URL_REJECT("http://exa mple.com/");
    URL_REJECT("http://exa\"mple.com/");
    URL_REJECT("http://example.com/a b");
    URL_REJECT("http://example.com/a\x01");
    URL_REJECT("http://example.com/a\x7f");
}
END_TEST

START_TEST(t_url_host_length)
{
    char buf[300];

    memcpy(buf, "http://", 7);
    memset(buf + 7, 'a', 255);
    strcpy(buf + 7 + 255, "/");
    ck_assert_int_eq(parse_url_s(buf), 0);
    ck_assert_uint_eq(strlen(url.host), 255);
    memset(buf + 7, 'a', 256);
    strcpy(buf + 7 + 256, "/");
    URL_REJECT(buf);
}
END_TEST

/* Every byte in a host: reg-name characters (a '/' starts the path). */
START_TEST(t_url_host_bytes)
{
    static const char host[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                               "0123456789-._~!$&'()*+,;=%";
    char buf[32];
    int b;

    for (b = 0; b < 256; b++) {
        int ok = b != 0 && (strchr(host, b) != NULL || b == '/');
        int r;

        strcpy(buf, "http://axb/");
        buf[8] = (char)b;
        url_err = NULL;
        r = sl_http_parse_url((struct sl_view){ dup_exact(buf, 11), 11 }, &url,
                              &url_err);
        ck_assert_msg(ok ? r == 0 : r == -1, "byte 0x%02x: %d", b, r);
        if (ok && b != '/')
            ck_assert_int_eq((unsigned char)url.host[1],
                             b >= 'A' && b <= 'Z' ? b + 32 : b);
    }
}
END_TEST

START_TEST(t_authority)
{
    ck_assert_int_eq(parse_auth_s("Example.COM:443"), 0);
    ck_assert_str_eq(url.host, "example.com");
    ck_assert_uint_eq(url.port, 443);
    ck_assert_uint_eq(url.host_is_ipv6, 0);
    ck_assert_int_eq(parse_auth_s("[2001:db8::1]:8443"), 0);
    ck_assert_str_eq(url.host, "2001:db8::1");
    ck_assert_uint_eq(url.host_is_ipv6, 1);
    ck_assert_uint_eq(url.port, 8443);
    ck_assert_int_eq(parse_auth_s("1.2.3.4:1"), 0);
    ck_assert_uint_eq(url.port, 1);
    AUTH_REJECT("example.com");
    ck_assert_str_eq(url_err, "port required");
    AUTH_REJECT("example.com:");
    AUTH_REJECT(":443");
    AUTH_REJECT("");
    AUTH_REJECT("[::1]");
    AUTH_REJECT("[::1]:");
    AUTH_REJECT("::1:443");
    AUTH_REJECT("user@example.com:443");
    AUTH_REJECT("example.com:0");
    AUTH_REJECT("example.com:65536");
    AUTH_REJECT("example.com:44a");
    AUTH_REJECT("example.com:443/");
    AUTH_REJECT("http://example.com:443");
    AUTH_REJECT("exa mple.com:443");
}
END_TEST

static Suite *http_suite(void)
{
    Suite *s = suite_create("http");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, t_req_origin_form);
    tcase_add_test(tc, t_req_absolute_form_stops_at_head_end);
    tcase_add_test(tc, t_req_authority_form);
    tcase_add_test(tc, t_req_asterisk_form);
    tcase_add_test(tc, t_req_http10_no_headers);
    tcase_add_test(tc, t_req_many_headers);
    tcase_add_test(tc, t_req_ows_trimmed);
    tcase_add_test(tc, t_req_bare_lf);
    tcase_add_test(tc, t_req_leading_empty_lines);
    tcase_add_test(tc, t_req_obs_text);
    tcase_add_test(tc, t_req_method_bytes);
    tcase_add_test(tc, t_req_target_bytes);
    tcase_add_test(tc, t_req_value_bytes);
    tcase_add_test(tc, t_req_name_bytes);
    tcase_add_test(tc, t_req_bad_request_line);
    tcase_add_test(tc, t_req_bad_version);
    tcase_add_test(tc, t_req_version_505);
    tcase_add_test(tc, t_req_bad_fields);
    tcase_add_test(tc, t_req_nul_in_value);
    tcase_add_test(tc, t_req_content_length);
    tcase_add_test(tc, t_req_bad_content_length);
    tcase_add_test(tc, t_req_transfer_encoding);
    tcase_add_test(tc, t_req_bad_transfer_encoding);
    tcase_add_test(tc, t_req_host);
    tcase_add_test(tc, t_req_connection);
    tcase_add_test(tc, t_req_expect);
    tcase_add_test(tc, t_limit_line_max);
    tcase_add_test(tc, t_limit_head_max);
    tcase_add_test(tc, t_limit_max_hdrs);
    tcase_add_test(tc, t_incremental_request);
    tcase_add_test(tc, t_incremental_response);
    tcase_add_test(tc, t_incremental_errors);
    tcase_add_test(tc, t_req_http09);
    tcase_add_test(tc, t_resp_basic);
    tcase_add_test(tc, t_resp_reason_forms);
    tcase_add_test(tc, t_resp_bad_status_line);
    tcase_add_test(tc, t_resp_bad_fields_502);
    tcase_add_test(tc, t_resp_limits_502);
    tcase_add_test(tc, t_resp_transfer_encoding);
    tcase_add_test(tc, t_resp_body_framing);
    tcase_add_test(tc, t_find);
    tcase_add_test(tc, t_list_has);
    tcase_add_test(tc, t_url_basic);
    tcase_add_test(tc, t_url_ipv6);
    tcase_add_test(tc, t_url_reject);
    tcase_add_test(tc, t_url_host_length);
    tcase_add_test(tc, t_url_host_bytes);
    tcase_add_test(tc, t_authority);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(http_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
