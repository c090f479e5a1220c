/*
 * check_chunk.c - unit tests for squidlike/chunk.c: the chunked decoder
 * fed whole, byte by byte and split anywhere, in each mode; the encoder
 * with writes that stop at every byte, data arriving between writes, and
 * its output read back by the strict decoder.
 *
 * Inputs are copied into buffers of exactly their length, so a codec that
 * reads one byte too far trips AddressSanitizer.
 */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "squidlike/http.h"

/* --- decoding ------------------------------------------------------------ */

struct ck_result {
    ssize_t consumed;       /* total, or SL_HTTP_ERROR */
    size_t out;             /* total output */
    size_t tr;              /* of which trailer bytes (SL_CHUNK_DATA_TRAILERS) */
    char data[65536];       /* decoded output (decoding modes) */
    int done;
    const char *err;
};

/*
 * Feed body[0..n) in pieces of at most step bytes (0: one piece), the way
 * a caller would: each call gets the next unconsumed bytes. Decoded output
 * is collected. Stops at done or at an error. decode is the mode.
 */
static void ck_run(const char *body, size_t n, size_t step, int decode,
                   struct ck_result *res)
{
    struct sl_chunk c;
    size_t pos = 0;
    char *buf = malloc(n ? n : 1);

    ck_assert_ptr_nonnull(buf);
    memcpy(buf, body, n);
    memset(res, 0, sizeof(*res));
    sl_chunk_init(&c);
    while (pos < n && !c.done) {
        size_t len = step && n - pos > step ? step : n - pos, out = 99999;
        char *piece = malloc(len);  /* exact size: over-reads are caught */
        ssize_t r;

        memcpy(piece, buf + pos, len);
        r = sl_chunk_feed(&c, piece, len, decode, &out);
        if (r < 0) {
            free(piece);
            res->consumed = SL_HTTP_ERROR;
            res->err = c.err;
            ck_assert_ptr_nonnull(c.err);
            free(buf);
            return;
        }
        ck_assert_int_le(r, (ssize_t)len);
        if (!c.done)
            ck_assert_int_eq(r, (ssize_t)len);
        /* Trailer bytes are the last of a call's output, and once they
         * have begun nothing else follows; only the trailer mode has any. */
        ck_assert_uint_le(c.tr_out, out);
        if (decode != SL_CHUNK_DATA_TRAILERS)
            ck_assert_uint_eq(c.tr_out, 0);
        if (res->tr > 0)
            ck_assert_uint_eq(c.tr_out, out);
        res->tr += c.tr_out;
        if (decode) {
            ck_assert_uint_le(out, (size_t)r);
            ck_assert_uint_le(res->out + out, sizeof(res->data));
            memcpy(res->data + res->out, piece, out);
        } else {
            ck_assert_uint_eq(out, (size_t)r);
            ck_assert_int_eq(memcmp(piece, buf + pos, len), 0);
        }
        res->out += out;
        pos += (size_t)r;
        free(piece);
    }
    res->consumed = (ssize_t)pos;
    res->done = c.done;
    free(buf);
}

/*
 * Decode body whole, byte by byte and in 7-byte pieces, in every mode; all
 * must agree: data alone, or data then the trailer field lines trailers.
 */
static void ck_expect_tr(const char *body, size_t n, size_t body_len,
                         const char *data, const char *trailers)
{
    static struct ck_result r;
    size_t steps[] = { 0, 1, 7 }, i, dn = strlen(data), tn = strlen(trailers);
    int decode;

    for (decode = SL_CHUNK_CHECK; decode <= SL_CHUNK_DATA_TRAILERS; decode++) {
        for (i = 0; i < 3; i++) {
            ck_run(body, n, steps[i], decode, &r);
            ck_assert_msg(r.consumed == (ssize_t)body_len,
                          "step %zu decode %d: consumed %zd (%s), want %zu",
                          steps[i], decode, r.consumed, r.err ? r.err : "",
                          body_len);
            ck_assert_int_eq(r.done, 1);
            if (decode == SL_CHUNK_DATA) {
                ck_assert_uint_eq(r.out, dn);
                ck_assert_int_eq(memcmp(r.data, data, r.out), 0);
            } else if (decode == SL_CHUNK_DATA_TRAILERS) {
                ck_assert_uint_eq(r.out, dn + tn);
                ck_assert_uint_eq(r.tr, tn);
                ck_assert_int_eq(memcmp(r.data, data, dn), 0);
                ck_assert_int_eq(memcmp(r.data + dn, trailers, tn), 0);
            } else {
                ck_assert_uint_eq(r.out, body_len);
            }
        }
    }
}

static void ck_expect(const char *body, size_t n, size_t body_len,
                      const char *data)
{
    ck_expect_tr(body, n, body_len, data, "");
}

/* The body must fail however it is fed, in every mode; why: c->err. */
static void ck_expect_error_why(const char *body, const char *why)
{
    static struct ck_result r;
    size_t steps[] = { 0, 1, 3 }, i;
    int decode;

    for (decode = SL_CHUNK_CHECK; decode <= SL_CHUNK_DATA_TRAILERS; decode++)
        for (i = 0; i < 3; i++) {
            ck_run(body, strlen(body), steps[i], decode, &r);
            ck_assert_msg(r.consumed == SL_HTTP_ERROR,
                          "accepted (step %zu): %s", steps[i], body);
            if (why)
                ck_assert_str_eq(r.err, why);
        }
}

static void ck_expect_error(const char *body)
{
    ck_expect_error_why(body, NULL);
}

#define CK_OK(body, data) ck_expect((body), strlen(body), strlen(body), (data))
#define CK_OK_TR(body, data, tr) \
    ck_expect_tr((body), strlen(body), strlen(body), (data), (tr))

START_TEST(t_chunk_simple)
{
    CK_OK("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world");
    CK_OK("0\r\n\r\n", "");
    CK_OK("1\r\nx\r\n0\r\n\r\n", "x");
}
END_TEST

START_TEST(t_chunk_in_place)
{
    char b[] = "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\nNEXT";
    struct sl_chunk c;
    size_t out;

    sl_chunk_init(&c);
    ck_assert_int_eq(sl_chunk_feed(&c, b, sizeof(b) - 1, 1, &out), 20);
    ck_assert_uint_eq(out, 5);
    ck_assert_int_eq(memcmp(b, "abcde", 5), 0);
    ck_assert_int_eq(memcmp(b + 20, "NEXT", 4), 0);   /* untouched */
    ck_assert_uint_eq(c.done, 1);
    /* Fed again after the end: nothing more is consumed. */
    ck_assert_int_eq(sl_chunk_feed(&c, b + 20, 4, 1, &out), 0);
    ck_assert_uint_eq(out, 0);
}
END_TEST

/* Data then trailer lines, in place; the final empty line and what
 * follows the body are not output. */
START_TEST(t_chunk_trailers_in_place)
{
    char b[] = "3\r\nabc\r\n2;x\r\nde\r\n0\r\nA: 1\r\nB:\t x \r\n\r\nNEXT";
    struct sl_chunk c;
    size_t out, body = sizeof(b) - 1 - 4;

    sl_chunk_init(&c);
    ck_assert_int_eq(sl_chunk_feed(&c, b, sizeof(b) - 1, SL_CHUNK_DATA_TRAILERS, &out),
                     (ssize_t)body);
    ck_assert_uint_eq(out, 5 + 14);
    ck_assert_uint_eq(c.tr_out, 14);
    ck_assert_int_eq(memcmp(b, "abcdeA: 1\r\nB:\t x \r\n", 19), 0);
    ck_assert_int_eq(memcmp(b + body, "NEXT", 4), 0);
    ck_assert_uint_eq(c.last, 1);
    ck_assert_uint_eq(c.done, 1);
    /* c->last is set at the last chunk, before the trailers have come. */
    sl_chunk_init(&c);
    {
        char d[] = "1\r\nz\r\n0\r\nA";
        ck_assert_int_eq(sl_chunk_feed(&c, d, 8, SL_CHUNK_DATA_TRAILERS, &out), 8);
        ck_assert_uint_eq(c.last, 0);
        ck_assert_int_eq(sl_chunk_feed(&c, d + 8, 1, SL_CHUNK_DATA_TRAILERS, &out), 1);
        ck_assert_uint_eq(c.last, 1);
        ck_assert_uint_eq(out, 0);
        ck_assert_int_eq(sl_chunk_feed(&c, d + 9, 1, SL_CHUNK_DATA_TRAILERS, &out), 1);
        ck_assert_uint_eq(out, 1);
        ck_assert_uint_eq(c.tr_out, 1);
        ck_assert_uint_eq(c.done, 0);
    }
}
END_TEST

START_TEST(t_chunk_passthrough_unmodified)
{
    char b[] = "4\r\nwiki\r\n0\r\nX: y\r\n\r\n";
    char orig[sizeof(b)];
    struct sl_chunk c;
    size_t out;

    memcpy(orig, b, sizeof(b));
    sl_chunk_init(&c);
    ck_assert_int_eq(sl_chunk_feed(&c, b, sizeof(b) - 1, 0, &out),
                     (ssize_t)sizeof(b) - 1);
    ck_assert_uint_eq(out, sizeof(b) - 1);
    ck_assert_int_eq(memcmp(b, orig, sizeof(b)), 0);
    ck_assert_uint_eq(c.done, 1);
}
END_TEST

START_TEST(t_chunk_hex_sizes)
{
    char body[400], data[300];
    size_t n;

    memset(data, 'z', 0x1a);
    data[0x1a] = '\0';
    n = (size_t)sprintf(body, "1A\r\n%s\r\n0\r\n\r\n", data);
    ck_expect(body, n, n, data);
    n = (size_t)sprintf(body, "001a\r\n%s\r\n0\r\n\r\n", data);
    ck_expect(body, n, n, data);
    n = (size_t)sprintf(body, "00000000000001a\r\n%s\r\n000\r\n\r\n", data);
    ck_expect(body, n, n, data);
}
END_TEST

START_TEST(t_chunk_large_size_no_overflow)
{
    char b[] = "FFFFFFFFFFFFFFF\r\nabc";
    struct sl_chunk c;
    size_t out;

    sl_chunk_init(&c);
    ck_assert_int_eq(sl_chunk_feed(&c, b, sizeof(b) - 1, 1, &out),
                     (ssize_t)sizeof(b) - 1);
    ck_assert_uint_eq(out, 3);
    ck_assert(c.left == UINT64_C(0xFFFFFFFFFFFFFFF) - 3);
    ck_assert_uint_eq(c.done, 0);
    ck_expect_error("1000000000000000\r\n");
    ck_expect_error("0000000000000000\r\n\r\n");
    ck_expect_error("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF1\r\nx\r\n0\r\n\r\n");
}
END_TEST

START_TEST(t_chunk_extensions)
{
    CK_OK("5;name=value\r\nhello\r\n0\r\n\r\n", "hello");
    CK_OK("5;a;b=\"q s;x\"\r\nhello\r\n0;last\r\n\r\n", "hello");
    CK_OK("5 ;a\r\nhello\r\n0\t; b = c\r\n\r\n", "hello");
    CK_OK("5;\xff\r\nhello\r\n0\r\n\r\n", "hello");
    ck_expect_error("5;a\x01\r\nhello\r\n0\r\n\r\n");
    ck_expect_error("5;a\x7f\r\nhello\r\n0\r\n\r\n");
    ck_expect_error("5;a\rb\r\nhello\r\n0\r\n\r\n");
    ck_expect_error("5 \r\nhello\r\n0\r\n\r\n");
    ck_expect_error("5 5\r\nhello\r\n0\r\n\r\n");
}
END_TEST

START_TEST(t_chunk_ext_line_limit)
{
    static char body[8192];
    size_t n;

    /* "5;" + ext: the line holds 4096 bytes exactly */
    memcpy(body, "5;", 2);
    memset(body + 2, 'e', 4094);
    n = 4096 + (size_t)sprintf(body + 4096, "\r\nhello\r\n0\r\n\r\n");
    ck_expect(body, n, n, "hello");
    memset(body + 2, 'e', 4095);
    n = 4097 + (size_t)sprintf(body + 4097, "\r\nhello\r\n0\r\n\r\n");
    ck_expect_error(body);
    (void)n;
}
END_TEST

START_TEST(t_chunk_bad_sizes)
{
    ck_expect_error("\r\nhello\r\n0\r\n\r\n");
    ck_expect_error("\r\n\r\n");
    ck_expect_error(";x\r\n\r\n");
    ck_expect_error(";x\r\nhello\r\n0\r\n\r\n");
    ck_expect_error("-5\r\nhello\r\n0\r\n\r\n");
    ck_expect_error("+5\r\nhello\r\n0\r\n\r\n");
    ck_expect_error("0x5\r\nhello\r\n0\r\n\r\n");
    ck_expect_error("5g\r\nhello\r\n0\r\n\r\n");
    ck_expect_error(" 5\r\nhello\r\n0\r\n\r\n");
    ck_expect_error("5\rhello\r\n0\r\n\r\n");
    ck_expect_error("5\r\r\nhello\r\n0\r\n\r\n");
}
END_TEST

START_TEST(t_chunk_missing_crlf_after_data)
{
    ck_expect_error("5\r\nhelloX\r\n0\r\n\r\n");
    ck_expect_error("5\r\nhello\rX\n0\r\n\r\n");
    ck_expect_error("5\r\nhello\r\r\n0\r\n\r\n");
    ck_expect_error("3\r\nhello\r\n0\r\n\r\n");
    ck_expect_error("5\r\nhello0\r\n\r\n");
}
END_TEST

/* RFC 9112 7.1: CRLF, and nothing else, ends every line of the coding. */
START_TEST(t_chunk_bare_lf)
{
    ck_expect_error_why("5\nhello\r\n0\r\n\r\n", "bare LF in chunk size line");
    ck_expect_error_why("2;\nxx\r\n0\r\n\r\n", "bare LF in chunk extension");
    ck_expect_error_why("5;a=b\nhello\r\n0\r\n\r\n", "bare LF in chunk extension");
    ck_expect_error_why("5\r\nhello\n0\r\n\r\n", "bare LF after chunk data");
    ck_expect_error_why("5\r\nhello\r\n0\n\r\n", "bare LF in chunk size line");
    ck_expect_error_why("5\r\nhello\r\n0\r\nA: b\n\r\n", "bare LF in trailer section");
    ck_expect_error_why("5\r\nhello\r\n0\r\nA: b\r\n\n", "bare LF ending the chunked body");
    ck_expect_error_why("5\r\nhello\r\n0\r\n\n", "bare LF ending the chunked body");
    ck_expect_error("5\nhello\n0\n\n");
    ck_expect_error("5\r\nhello\n\r\n0\r\n\r\n");
    ck_expect_error("0\n\r\n");
}
END_TEST

START_TEST(t_chunk_trailers)
{
    CK_OK_TR("5\r\nhello\r\n0\r\nExpires: never\r\nX-Sum:  abc \t\r\n\r\n", "hello",
             "Expires: never\r\nX-Sum:  abc \t\r\n");
    CK_OK_TR("0\r\nA:\r\n\r\n", "", "A:\r\n");
    CK_OK_TR("0\r\nA: \xe9\t\r\n\r\n", "", "A: \xe9\t\r\n");
    CK_OK_TR("3;e\r\nabc\r\n0;last\r\nT: 1\r\n\r\n", "abc", "T: 1\r\n");
    ck_expect_error("0\r\n: x\r\n\r\n");
    ck_expect_error("0\r\nA : x\r\n\r\n");
    ck_expect_error("0\r\nA: x\r\n folded\r\n\r\n");
    ck_expect_error("0\r\nA: x\r\n\tfolded\r\n\r\n");
    ck_expect_error("0\r\nA: b\r\n \r\n");
    ck_expect_error("0\r\nNoColon\r\n\r\n");
    ck_expect_error("0\r\nA: a\x01\r\n\r\n");
    ck_expect_error("0\r\nA: a\rb\r\n\r\n");
    ck_expect_error("0\r\nA: a\r\n\rX");
    ck_expect_error("0\r\n\rX");
}
END_TEST

START_TEST(t_chunk_trailer_limit)
{
    static char body[40000];
    size_t n = 0, i;

    n += (size_t)sprintf(body, "0\r\n");
    /* 16 KiB of trailer section exactly: 255 lines of 64 bytes + 62 + 2 */
    for (i = 0; i < 255; i++) {
        memcpy(body + n, "X: ", 3);
        memset(body + n + 3, 'v', 59);
        memcpy(body + n + 62, "\r\n", 2);
        n += 64;
    }
    memcpy(body + n, "X: ", 3);
    memset(body + n + 3, 'v', 57);
    memcpy(body + n + 60, "\r\n\r\n", 4);
    n += 64;
    body[n] = '\0';
    ck_assert_uint_eq(n - 3, 16384);
    body[n - 2] = '\0';
    {
        static char tr[20000];
        memcpy(tr, body + 3, n - 5);
        tr[n - 5] = '\0';
        body[n - 2] = '\r';
        ck_expect_tr(body, n, n, "", tr);
    }
    /* one byte more */
    memmove(body + n - 4 + 1, body + n - 4, 5);
    body[n - 4] = 'v';
    ck_expect_error(body);
}
END_TEST

START_TEST(t_chunk_stops_at_end)
{
    const char *s = "4\r\nwiki\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n\r\n";
    size_t body = strlen("4\r\nwiki\r\n0\r\n\r\n");

    ck_expect(s, strlen(s), body, "wiki");
}
END_TEST

/* Split once at every position: the codec must not care where. */
START_TEST(t_chunk_split_everywhere)
{
    const char *s = "a;x=1\r\n0123456789\r\n3\r\nabc\r\n0\r\nT: v\r\n\r\nGET";
    size_t n = strlen(s), body = n - 3, k;
    int decode;

    for (decode = SL_CHUNK_CHECK; decode <= SL_CHUNK_DATA_TRAILERS; decode++)
        for (k = 0; k <= n; k++) {
            char buf[128];
            char got[128];
            struct sl_chunk c;
            size_t out, total = 0, outt = 0;
            ssize_t r;

            memcpy(buf, s, n);
            sl_chunk_init(&c);
            r = sl_chunk_feed(&c, buf, k, decode, &out);
            ck_assert_int_eq(r, (ssize_t)(k < body ? k : body));
            memcpy(got, buf, out);
            outt = out;
            total = (size_t)r;
            if (!c.done) {
                r = sl_chunk_feed(&c, buf + k, n - k, decode, &out);
                ck_assert_int_eq(r, (ssize_t)(body - k));
                memcpy(got + outt, buf + k, out);
                outt += out;
                total += (size_t)r;
            }
            ck_assert_uint_eq(c.done, 1);
            ck_assert_uint_eq(total, body);
            if (decode == SL_CHUNK_DATA) {
                ck_assert_uint_eq(outt, 13);
                ck_assert_int_eq(memcmp(got, "0123456789abc", 13), 0);
            } else if (decode == SL_CHUNK_DATA_TRAILERS) {
                ck_assert_uint_eq(outt, 19);
                ck_assert_int_eq(memcmp(got, "0123456789abcT: v\r\n", 19), 0);
            } else {
                ck_assert_uint_eq(outt, body);
            }
        }
}
END_TEST

START_TEST(t_chunk_error_sticks)
{
    char b[] = "5\r\nhelloX";
    char g[] = "\n";
    struct sl_chunk c;
    size_t out = 7;

    sl_chunk_init(&c);
    ck_assert_int_eq(sl_chunk_feed(&c, b, sizeof(b) - 1, 0, &out), SL_HTTP_ERROR);
    ck_assert_ptr_nonnull(c.err);
    ck_assert_int_eq(sl_chunk_feed(&c, g, sizeof(g) - 1, 0, &out), SL_HTTP_ERROR);
    ck_assert_uint_eq(c.done, 0);
}
END_TEST

START_TEST(t_chunk_big_body)
{
    static char body[70000], data[65536];
    size_t n = 0, d = 0, i;

    /* 200 chunks of varying size, decoded in place must equal the data */
    for (i = 1; i <= 200 && d + 300 < sizeof(data); i++) {
        size_t len = (i * 37) % 300 + 1, j;
        n += (size_t)sprintf(body + n, "%zx\r\n", len);
        for (j = 0; j < len; j++)
            body[n + j] = data[d + j] = (char)('a' + (d + j) % 26);
        n += len;
        d += len;
        memcpy(body + n, "\r\n", 2);
        n += 2;
    }
    data[d] = '\0';
    n += (size_t)sprintf(body + n, "0\r\n\r\n");
    ck_expect(body, n, n, data);
}
END_TEST

/* --- encoding ------------------------------------------------------------ */

/* A body on its way out: data then trailer bytes at buf, as a flow holds
 * them, and what the encoder has written so far. */
struct sim {
    char buf[8192];
    size_t data, tr;
    int last, done;
    struct sl_chunk_enc e;
    char out[65536];
    size_t outn;
    unsigned writes;
};

static void sim_init(struct sim *s)
{
    memset(s, 0, sizeof(*s));
}

/* More of the body arrives: data (before any trailer), or trailer bytes. */
static void sim_data(struct sim *s, const char *p, size_t n)
{
    ck_assert_uint_eq(s->tr, 0);
    ck_assert_int_eq(s->last, 0);
    ck_assert_uint_le(s->data + n, sizeof(s->buf));
    memcpy(s->buf + s->data, p, n);
    s->data += n;
}

static void sim_trailer(struct sim *s, const char *p)
{
    size_t n = strlen(p);

    ck_assert_int_eq(s->last, 1);
    ck_assert_uint_le(s->data + s->tr + n, sizeof(s->buf));
    memcpy(s->buf + s->data + s->tr, p, n);
    s->tr += n;
}

/* One offer, of which a writer takes at most max bytes. Returns how many. */
static size_t sim_write(struct sim *s, size_t max)
{
    struct sl_chunk_out o;
    size_t w = 0, k, ds, ts;
    int n, i;

    n = sl_chunk_enc_iov(&s->e, s->buf, s->data, s->tr, s->last, s->done, &o);
    ck_assert_int_ge(n, 0);
    ck_assert_int_le(n, SL_CHUNK_IOV);
    for (i = 0; i < n && w < max; i++) {
        ck_assert_uint_gt(o.iov[i].iov_len, 0);
        k = o.iov[i].iov_len < max - w ? o.iov[i].iov_len : max - w;
        ck_assert_uint_le(s->outn + k, sizeof(s->out));
        memcpy(s->out + s->outn, o.iov[i].iov_base, k);
        s->outn += k;
        w += k;
    }
    sl_chunk_enc_wrote(&s->e, &o, w, &ds, &ts);
    ck_assert_uint_le(ds, s->data);
    ck_assert_uint_le(ts, s->tr);
    ck_assert(ts == 0 || ds == s->data);    /* trailers after all data */
    memmove(s->buf, s->buf + ds + ts, s->data + s->tr - ds - ts);
    s->data -= ds;
    s->tr -= ts;
    s->writes++;
    return w;
}

/* Write until the encoder offers nothing, max bytes a write (bounded). */
static void sim_flush(struct sim *s, size_t max)
{
    unsigned i;

    for (i = 0; i < 100000 && sim_write(s, max) > 0; i++)
        ;
    ck_assert_uint_lt(i, 100000);
}

/*
 * Read out[0..n) back, strictly as we frame: size lines of hex digits and
 * CRLF only, CRLF after each chunk's data, trailer lines, final CRLF, and
 * nothing after. The strict decoder must agree, byte by byte.
 */
static void expect_framed(const char *out, size_t n, const char *data,
                          size_t dn, const char *tr)
{
    static char dec[65536];
    struct sl_chunk c;
    size_t pos = 0, got = 0, size, o, i;
    char *copy = malloc(n ? n : 1);

    while (1) {
        size = 0;
        for (i = pos; i < n && ((out[i] >= '0' && out[i] <= '9') ||
                                (out[i] >= 'a' && out[i] <= 'f')); i++)
            size = size * 16 + (size_t)(out[i] <= '9' ? out[i] - '0' : out[i] - 'a' + 10);
        ck_assert_msg(i > pos && i + 2 <= n && out[i] == '\r' && out[i + 1] == '\n',
                      "not a bare size line at %zu: %.*s", pos,
                      (int)(n - pos < 20 ? n - pos : 20), out + pos);
        pos = i + 2;
        if (size == 0)
            break;
        ck_assert_uint_le(pos + size + 2, n);
        ck_assert_uint_le(got + size, dn);
        ck_assert_int_eq(memcmp(out + pos, data + got, size), 0);
        got += size;
        pos += size;
        ck_assert(out[pos] == '\r' && out[pos + 1] == '\n');
        pos += 2;
    }
    ck_assert_uint_eq(got, dn);
    ck_assert_uint_eq(n - pos, strlen(tr) + 2);
    ck_assert_int_eq(memcmp(out + pos, tr, strlen(tr)), 0);
    ck_assert(out[n - 2] == '\r' && out[n - 1] == '\n');

    ck_assert_ptr_nonnull(copy);
    memcpy(copy, out, n);
    sl_chunk_init(&c);
    ck_assert_int_eq(sl_chunk_feed(&c, copy, n, SL_CHUNK_DATA_TRAILERS, &o),
                     (ssize_t)n);
    ck_assert_uint_eq(c.done, 1);
    ck_assert_uint_eq(o, dn + strlen(tr));
    memcpy(dec, copy, o);
    ck_assert_int_eq(memcmp(dec, data, dn), 0);
    free(copy);
}

START_TEST(t_enc_whole)
{
    struct sim s;

    sim_init(&s);
    sim_data(&s, "hello world", 11);
    s.last = s.done = 1;
    sim_flush(&s, SIZE_MAX);
    ck_assert_uint_eq(s.outn, strlen("b\r\nhello world\r\n0\r\n\r\n"));
    ck_assert_int_eq(memcmp(s.out, "b\r\nhello world\r\n0\r\n\r\n", s.outn), 0);
    ck_assert_uint_eq(s.writes, 2);             /* one write, then nothing */
    ck_assert_int_eq(sl_chunk_enc_done(&s.e), 1);

    sim_init(&s);                               /* empty body */
    s.last = s.done = 1;
    sim_flush(&s, SIZE_MAX);
    ck_assert_uint_eq(s.outn, 5);
    ck_assert_int_eq(memcmp(s.out, "0\r\n\r\n", 5), 0);

    sim_init(&s);                               /* with trailers */
    sim_data(&s, "abc", 3);
    s.last = 1;
    sim_trailer(&s, "A: 1\r\nB:x\r\n");
    s.done = 1;
    sim_flush(&s, SIZE_MAX);
    ck_assert_uint_eq(s.outn, strlen("3\r\nabc\r\n0\r\nA: 1\r\nB:x\r\n\r\n"));
    ck_assert_int_eq(memcmp(s.out, "3\r\nabc\r\n0\r\nA: 1\r\nB:x\r\n\r\n", s.outn), 0);
}
END_TEST

/* A chunk is closed in the write that carries its data: it never waits
 * for more data, and nothing is offered while nothing is ready. */
START_TEST(t_enc_streaming)
{
    struct sim s;
    static const char want[] = "3\r\nabc\r\n1\r\nd\r\n0\r\n\r\n";

    sim_init(&s);
    ck_assert_uint_eq(sim_write(&s, SIZE_MAX), 0);
    sim_data(&s, "abc", 3);
    ck_assert_uint_eq(sim_write(&s, SIZE_MAX), 8);
    ck_assert_int_eq(memcmp(s.out, "3\r\nabc\r\n", 8), 0);
    ck_assert_uint_eq(sim_write(&s, SIZE_MAX), 0);
    sim_data(&s, "d", 1);
    s.last = 1;
    ck_assert_uint_eq(sim_write(&s, SIZE_MAX), 9);     /* "1 d 0" */
    ck_assert_int_eq(sl_chunk_enc_done(&s.e), 0);      /* trailers may come */
    ck_assert_uint_eq(sim_write(&s, SIZE_MAX), 0);
    s.done = 1;
    sim_flush(&s, SIZE_MAX);
    ck_assert_uint_eq(s.outn, sizeof(want) - 1);
    ck_assert_int_eq(memcmp(s.out, want, s.outn), 0);
    ck_assert_int_eq(sl_chunk_enc_done(&s.e), 1);
}
END_TEST

/* The first write stops at every byte of the output: the rest, written
 * afterwards, must complete exactly the same bytes. */
START_TEST(t_enc_cut_everywhere)
{
    static const struct {
        const char *data, *tr;
    } cases[] = {
        { "hello world", "" }, { "", "" }, { "x", "T: v\r\n" },
        { "0123456789abcdefXYZ", "A: 1\r\nB: 2\r\n" },
    };
    struct sim ref, s;
    size_t i, cut;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t dn = strlen(cases[i].data);

        sim_init(&ref);
        sim_data(&ref, cases[i].data, dn);
        ref.last = 1;
        sim_trailer(&ref, cases[i].tr);
        ref.done = 1;
        sim_flush(&ref, SIZE_MAX);
        expect_framed(ref.out, ref.outn, cases[i].data, dn, cases[i].tr);
        for (cut = 0; cut <= ref.outn; cut++) {
            sim_init(&s);
            sim_data(&s, cases[i].data, dn);
            s.last = 1;
            sim_trailer(&s, cases[i].tr);
            s.done = 1;
            ck_assert_uint_eq(sim_write(&s, cut), cut);
            sim_flush(&s, SIZE_MAX);
            ck_assert_msg(s.outn == ref.outn && memcmp(s.out, ref.out, s.outn) == 0,
                          "case %zu cut at %zu: %.*s", i, cut, (int)s.outn, s.out);
            ck_assert_int_eq(sl_chunk_enc_done(&s.e), 1);
        }
    }
}
END_TEST

/* Data and trailers arriving between writes of every size from 1 to 40
 * bytes: what comes out reads back as the same data and trailers, in
 * strict framing. */
START_TEST(t_enc_arrivals_and_short_writes)
{
    static char data[3000];
    static struct sim s;
    static const size_t pieces[] = { 1, 2, 300, 15, 16, 17, 0, 1000, 255, 1 };
    static const char tr[] = "X-Sum: abc\r\nY:\r\n";
    size_t max, i, dn, k;

    for (i = 0; i < sizeof(data); i++)
        data[i] = (char)('a' + i % 26);
    for (max = 1; max <= 40; max++) {
        sim_init(&s);
        dn = 0;
        for (i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
            sim_data(&s, data + dn, pieces[i]);
            dn += pieces[i];
            /* a write or two of max bytes, not necessarily draining it */
            sim_write(&s, max);
            if (i % 2)
                sim_write(&s, max);
        }
        s.last = 1;
        sim_write(&s, max);
        for (k = 0; k < strlen(tr); k += 5) {
            char part[8];

            snprintf(part, sizeof(part), "%.5s", tr + k);
            sim_trailer(&s, part);
            sim_write(&s, max);
        }
        ck_assert_int_eq(sl_chunk_enc_done(&s.e), 0);
        s.done = 1;
        sim_flush(&s, max);
        ck_assert_int_eq(sl_chunk_enc_done(&s.e), 1);
        ck_assert_uint_eq(s.data + s.tr, 0);
        expect_framed(s.out, s.outn, data, dn, tr);
    }
}
END_TEST

static Suite *chunk_suite(void)
{
    Suite *s = suite_create("chunk");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, t_chunk_simple);
    tcase_add_test(tc, t_chunk_in_place);
    tcase_add_test(tc, t_chunk_trailers_in_place);
    tcase_add_test(tc, t_chunk_passthrough_unmodified);
    tcase_add_test(tc, t_chunk_hex_sizes);
    tcase_add_test(tc, t_chunk_large_size_no_overflow);
    tcase_add_test(tc, t_chunk_extensions);
    tcase_add_test(tc, t_chunk_ext_line_limit);
    tcase_add_test(tc, t_chunk_bad_sizes);
    tcase_add_test(tc, t_chunk_missing_crlf_after_data);
    tcase_add_test(tc, t_chunk_bare_lf);
    tcase_add_test(tc, t_chunk_trailers);
    tcase_add_test(tc, t_chunk_trailer_limit);
    tcase_add_test(tc, t_chunk_stops_at_end);
    tcase_add_test(tc, t_chunk_split_everywhere);
    tcase_add_test(tc, t_chunk_error_sticks);
    tcase_add_test(tc, t_chunk_big_body);
    tcase_add_test(tc, t_enc_whole);
    tcase_add_test(tc, t_enc_streaming);
    tcase_add_test(tc, t_enc_cut_everywhere);
    tcase_add_test(tc, t_enc_arrivals_and_short_writes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(chunk_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
