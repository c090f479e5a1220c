/*
 * check_zip.c - one compressed stream (squidlike/zip.h): what goes in
 * comes out of zlib's inflate and Brotli's decoder byte for byte, however
 * the input is cut and however little room each call has; the stream ends
 * once and only once.
 */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <brotli/decode.h>
#include <zlib.h>

#include "filters/encoding.h"
#include "squidlike/zip.h"

#define BODY (1u << 20)

static char *body, *coded, *plain;

static void setup(void)
{
    uint32_t x = 12345;
    size_t i;

    body = malloc(BODY);
    coded = malloc(2 * BODY);
    plain = malloc(BODY + 1);
    ck_assert(body && coded && plain);
    /* text-like: words from a small set, numbers that vary */
    for (i = 0; i < BODY; i++) {
        x = x * 1103515245u + 12345u;
        body[i] = "{}\":, abcdefghijklmnop0123456789"[(x >> 16) % 32];
    }
}

static void teardown(void)
{
    free(body);
    free(coded);
    free(plain);
}

/* Code n bytes of body in input pieces of step, into output room of at most
 * room per call; returns the coded length. */
static size_t code(unsigned coding, int level, size_t n, int64_t hint, size_t step,
                   size_t room)
{
    struct sl_zip *z = sl_zip_new(coding, level, hint);
    size_t off = 0, out = 0, used, made, calls = 0;
    int rc = 0;

    ck_assert_ptr_nonnull(z);
    while (rc == 0) {
        size_t give = n - off < step ? n - off : step;
        size_t r = 2 * BODY - out < room ? 2 * BODY - out : room;
        int last = off + give == n;

        rc = sl_zip_run(z, body + off, give, &used, coded + out, r, &made, last);
        ck_assert_int_ge(rc, 0);
        ck_assert_uint_le(used, give);
        ck_assert_uint_le(made, r);
        off += used;
        out += made;
        ck_assert_uint_lt(++calls, 10 * 1000 * 1000);
    }
    ck_assert_uint_eq(off, n);  /* all of it taken before the end */
    /* once complete it stays complete and writes nothing more */
    ck_assert_int_eq(sl_zip_run(z, body, 0, &used, coded + out, 16, &made, 1), 1);
    ck_assert_uint_eq(made, 0);
    sl_zip_free(z);
    return out;
}

static void gunzip_check(size_t clen, size_t n)
{
    z_stream s;

    memset(&s, 0, sizeof(s));
    ck_assert_int_eq(inflateInit2(&s, 16 + MAX_WBITS), Z_OK);
    s.next_in = (Bytef *)coded;
    s.avail_in = (uInt)clen;
    s.next_out = (Bytef *)plain;
    s.avail_out = BODY + 1;
    ck_assert_int_eq(inflate(&s, Z_FINISH), Z_STREAM_END);
    ck_assert_uint_eq(s.avail_in, 0);   /* nothing after the gzip trailer */
    ck_assert_uint_eq(s.total_out, n);
    ck_assert(memcmp(plain, body, n) == 0);
    inflateEnd(&s);
}

static void unbrotli_check(size_t clen, size_t n)
{
    size_t out = BODY + 1;

    ck_assert_int_eq(BrotliDecoderDecompress(clen, (const uint8_t *)coded, &out,
                                             (uint8_t *)plain), BROTLI_DECODER_RESULT_SUCCESS);
    ck_assert_uint_eq(out, n);
    ck_assert(memcmp(plain, body, n) == 0);
}

START_TEST(gzip_round_trip)
{
    size_t c = code(FLT_ENC_GZIP, 6, BODY, BODY, BODY, 2 * BODY);

    ck_assert_uint_lt(c, BODY * 3 / 4);     /* it did compress (5 bits a byte) */
    gunzip_check(c, BODY);
    /* pieces of a chunk, output through a keyhole */
    c = code(FLT_ENC_GZIP, 1, BODY, -1, 16384, 7);
    gunzip_check(c, BODY);
    c = code(FLT_ENC_GZIP, 9, 100000, 100000, 1, 4096);
    gunzip_check(c, 100000);
}
END_TEST

START_TEST(brotli_round_trip)
{
    size_t c = code(FLT_ENC_BR, 4, BODY, BODY, BODY, 2 * BODY);

    ck_assert_uint_lt(c, BODY * 3 / 4);
    unbrotli_check(c, BODY);
    c = code(FLT_ENC_BR, 5, BODY, -1, 16384, 7);
    unbrotli_check(c, BODY);
    c = code(FLT_ENC_BR, 0, 100000, 100000, 1, 4096);
    unbrotli_check(c, 100000);
    c = code(FLT_ENC_BR, 11, 20000, 20000, 3000, 100);
    unbrotli_check(c, 20000);
}
END_TEST

START_TEST(empty_and_tiny_bodies)
{
    size_t c;

    c = code(FLT_ENC_GZIP, 6, 0, 0, 1, 1);
    ck_assert_uint_gt(c, 0);            /* a gzip header and trailer */
    gunzip_check(c, 0);
    c = code(FLT_ENC_BR, 4, 0, -1, 1, 1);
    unbrotli_check(c, 0);
    c = code(FLT_ENC_GZIP, 6, 1, 1, 1, 1);
    gunzip_check(c, 1);
    c = code(FLT_ENC_BR, 4, 1, 1, 1, 1);
    unbrotli_check(c, 1);
    /* a hint far below the real size still codes it all (windows shrink
     * to the hint; the body is what it is) */
    c = code(FLT_ENC_GZIP, 6, BODY, 10, 65536, 65536);
    gunzip_check(c, BODY);
    c = code(FLT_ENC_BR, 4, BODY, 10, 65536, 65536);
    unbrotli_check(c, BODY);
}
END_TEST

START_TEST(unknown_coding_refused)
{
    ck_assert_ptr_null(sl_zip_new(FLT_ENC_ZSTD, 3, -1));
    ck_assert_ptr_null(sl_zip_new(0, 3, -1));
    sl_zip_free(NULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("zip");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, gzip_round_trip);
    tcase_add_test(tc, brotli_round_trip);
    tcase_add_test(tc, empty_and_tiny_bodies);
    tcase_add_test(tc, unknown_coding_refused);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
