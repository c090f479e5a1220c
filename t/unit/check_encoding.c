/*
 * check_encoding.c - content codings (filters/encoding.h): Accept-Encoding
 * weights, the coding chosen, the cache-key form of a request's codings,
 * which responses may be compressed; and cache_vary_key keying
 * Accept-Encoding by that form.
 *
 * Messages go through the real parser (sl_http_parse_*), each from its own
 * heap copy of exactly its length, so that a read past a view shows up
 * under ASan.
 */
#include "config.h"

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/policy.h"
#include "filters/encoding.h"
#include "squidlike/http.h"

#define NSLOT 64
#define NHDRS 32

struct slot {
    char *copy;
    struct sl_http_hdr hdrs[NHDRS];
    struct sl_http_msg m;
};
static struct slot slots[NSLOT];
static int nslot;
static const struct sl_http_limits lim = { 8192, 8192 };

static void teardown(void)
{
    int i;

    for (i = 0; i < nslot; i++)
        free(slots[i].copy);
    nslot = 0;
}

static struct sl_http_msg *parse(int is_req, const char *head)
{
    size_t n = strlen(head);
    struct slot *s;
    ssize_t r;

    ck_assert_int_lt(nslot, NSLOT);
    s = &slots[nslot++];
    s->copy = malloc(n);
    ck_assert_ptr_nonnull(s->copy);
    memcpy(s->copy, head, n);
    memset(&s->m, 0, sizeof(s->m));
    s->m.hdrs = s->hdrs;
    s->m.max_hdrs = NHDRS;
    r = is_req ? sl_http_parse_request(s->copy, n, &lim, &s->m)
               : sl_http_parse_response(s->copy, n, &lim, &s->m);
    ck_assert_msg(r == (ssize_t)n, "parse failed: %s", head);
    return &s->m;
}

#define REQ(h) parse(1, "GET /x HTTP/1.1\r\nHost: h\r\n" h "\r\n")
#define RESP(st, h) parse(0, "HTTP/1.1 " st "\r\n" h "\r\n")

static const unsigned br_gzip[] = { FLT_ENC_BR, FLT_ENC_GZIP };
static const unsigned gzip_br[] = { FLT_ENC_GZIP, FLT_ENC_BR };

/* The coding chosen for a request with these Accept-Encoding lines. */
static unsigned choose(const char *lines, const unsigned *offer)
{
    struct flt_ae ae;
    char head[1024];

    snprintf(head, sizeof(head), "GET /x HTTP/1.1\r\nHost: h\r\n%s\r\n", lines);
    flt_ae_parse(parse(1, head), &ae);
    return flt_ae_choose(&ae, offer, 2);
}

static const char *key_of(const char *lines)
{
    static char out[64];
    struct flt_ae ae;
    char head[1024];

    snprintf(head, sizeof(head), "GET /x HTTP/1.1\r\nHost: h\r\n%s\r\n", lines);
    flt_ae_parse(parse(1, head), &ae);
    ck_assert_int_ge(flt_ae_key(&ae, out, sizeof(out)), 0);
    return out;
}

START_TEST(weights_decide)
{
    ck_assert_uint_eq(choose("Accept-Encoding: gzip\r\n", br_gzip), FLT_ENC_GZIP);
    ck_assert_uint_eq(choose("Accept-Encoding: br\r\n", br_gzip), FLT_ENC_BR);
    /* both at 1: our order decides */
    ck_assert_uint_eq(choose("Accept-Encoding: gzip, deflate, br, zstd\r\n", br_gzip),
                      FLT_ENC_BR);
    ck_assert_uint_eq(choose("Accept-Encoding: gzip, deflate, br, zstd\r\n", gzip_br),
                      FLT_ENC_GZIP);
    /* the higher weight wins over our order */
    ck_assert_uint_eq(choose("Accept-Encoding: br;q=0.5, gzip;q=0.8\r\n", br_gzip),
                      FLT_ENC_GZIP);
    ck_assert_uint_eq(choose("Accept-Encoding: gzip;q=0.001, br;q=0.002\r\n", gzip_br),
                      FLT_ENC_BR);
    /* q=0 refuses */
    ck_assert_uint_eq(choose("Accept-Encoding: gzip;q=0, br\r\n", br_gzip), FLT_ENC_BR);
    ck_assert_uint_eq(choose("Accept-Encoding: gzip;q=0\r\n", br_gzip), 0);
    ck_assert_uint_eq(choose("Accept-Encoding: gzip;q=0.000\r\n", br_gzip), 0);
    ck_assert_uint_eq(choose("Accept-Encoding: identity\r\n", br_gzip), 0);
    ck_assert_uint_eq(choose("Accept-Encoding:\r\n", br_gzip), 0);
    ck_assert_uint_eq(choose("", br_gzip), 0);
    /* spelling: case, blanks, x-gzip, parameters before q */
    ck_assert_uint_eq(choose("Accept-Encoding: GZIP\r\n", br_gzip), FLT_ENC_GZIP);
    ck_assert_uint_eq(choose("Accept-Encoding: x-gzip\r\n", br_gzip), FLT_ENC_GZIP);
    ck_assert_uint_eq(choose("Accept-Encoding:  br ; Q=1.0 ,gzip;q=0.9\r\n", gzip_br),
                      FLT_ENC_BR);
    /* several field lines count together */
    ck_assert_uint_eq(choose("Accept-Encoding: deflate\r\nAccept-Encoding: gzip\r\n",
                             br_gzip), FLT_ENC_GZIP);
}
END_TEST

START_TEST(star_covers_the_unnamed)
{
    ck_assert_uint_eq(choose("Accept-Encoding: *\r\n", br_gzip), FLT_ENC_BR);
    ck_assert_uint_eq(choose("Accept-Encoding: *\r\n", gzip_br), FLT_ENC_GZIP);
    ck_assert_uint_eq(choose("Accept-Encoding: *;q=0\r\n", br_gzip), 0);
    /* named ones keep their own weight */
    ck_assert_uint_eq(choose("Accept-Encoding: br;q=0, *\r\n", br_gzip), FLT_ENC_GZIP);
    ck_assert_uint_eq(choose("Accept-Encoding: gzip, *;q=0\r\n", br_gzip), FLT_ENC_GZIP);
    ck_assert_uint_eq(choose("Accept-Encoding: *;q=0.5, gzip;q=0.6\r\n", br_gzip),
                      FLT_ENC_GZIP);
}
END_TEST

START_TEST(bad_weights_never_widen)
{
    /* not a qvalue: that element refuses its coding */
    ck_assert_uint_eq(choose("Accept-Encoding: gzip;q=2\r\n", br_gzip), 0);
    ck_assert_uint_eq(choose("Accept-Encoding: gzip;q=1.5\r\n", br_gzip), 0);
    ck_assert_uint_eq(choose("Accept-Encoding: gzip;q=0.1234\r\n", br_gzip), 0);
    ck_assert_uint_eq(choose("Accept-Encoding: gzip;q=-1\r\n", br_gzip), 0);
    ck_assert_uint_eq(choose("Accept-Encoding: gzip;q=\r\n", br_gzip), 0);
    ck_assert_uint_eq(choose("Accept-Encoding: gzip;q=abc, br\r\n", br_gzip), FLT_ENC_BR);
    ck_assert_uint_eq(choose("Accept-Encoding: *;q=x\r\n", br_gzip), 0);
    /* the first element naming a coding counts, a later one cannot undo it */
    ck_assert_uint_eq(choose("Accept-Encoding: gzip;q=0, gzip\r\n", br_gzip), 0);
    /* junk and empty elements are skipped */
    ck_assert_uint_eq(choose("Accept-Encoding: ,,;;, gzip ,\r\n", br_gzip), FLT_ENC_GZIP);
    ck_assert_uint_eq(choose("Accept-Encoding: gzipx, xgzip, gz\r\n", br_gzip), 0);
}
END_TEST

START_TEST(key_is_the_accepted_set)
{
    ck_assert_str_eq(key_of(""), "-");
    ck_assert_str_eq(key_of("Accept-Encoding:\r\n"), "");
    ck_assert_str_eq(key_of("Accept-Encoding: identity\r\n"), "");
    ck_assert_str_eq(key_of("Accept-Encoding: gzip\r\n"), "gzip");
    ck_assert_str_eq(key_of("Accept-Encoding: gzip, br\r\n"), "br,gzip");
    ck_assert_str_eq(key_of("Accept-Encoding: br,gzip;q=1\r\n"), "br,gzip");
    ck_assert_str_eq(key_of("Accept-Encoding: x-gzip;q=0.3, BR\r\n"), "br,gzip");
    ck_assert_str_eq(key_of("Accept-Encoding: gzip, deflate, br, zstd\r\n"),
                     "br,deflate,gzip,zstd");
    ck_assert_str_eq(key_of("Accept-Encoding: gzip;q=0, br\r\n"), "br");
    ck_assert_str_eq(key_of("Accept-Encoding: *\r\n"), "br,compress,deflate,gzip,zstd,*");
    ck_assert_str_eq(key_of("Accept-Encoding: *, gzip;q=0\r\n"), "br,compress,deflate,zstd,*");
    /* unknown codings do not split variants */
    ck_assert_str_eq(key_of("Accept-Encoding: gzip, foo\r\n"), "gzip");
}
END_TEST

START_TEST(key_needs_room)
{
    struct flt_ae ae;
    char out[64];

    flt_ae_parse(REQ("Accept-Encoding: *\r\n"), &ae);
    /* "br,compress,deflate,gzip,zstd,*": the longest there is */
    ck_assert_int_eq(flt_ae_key(&ae, out, sizeof(out)), 31);
    ck_assert_int_eq(flt_ae_key(&ae, out, 31), -1);     /* no room for the NUL */
    ck_assert_int_eq(flt_ae_key(&ae, out, 32), 31);
    ck_assert_int_eq(flt_ae_key(&ae, out, 3), -1);
    flt_ae_parse(REQ(""), &ae);
    ck_assert_int_eq(flt_ae_key(&ae, out, 1), -1);
}
END_TEST

static char t_html[] = "text/html", t_json[] = "application/json", t_text[] = "text/*";
static char *types[] = { t_html, t_json, t_text };

START_TEST(what_may_be_compressed)
{
    /* listed types, any case, parameters ignored; a whole top-level type */
    ck_assert(flt_zip_compressible(RESP("200 OK", "Content-Type: application/json\r\n"),
                                   types, 3, 256));
    ck_assert(flt_zip_compressible(RESP("200 OK", "Content-Type: Text/HTML; charset=utf-8\r\n"),
                                   types, 3, 256));
    ck_assert(flt_zip_compressible(RESP("404 Not Found", "Content-Type: text/css\r\n"),
                                   types, 3, 256));
    ck_assert(flt_zip_compressible(RESP("403 Forbidden", "Content-Type: text/html\r\n"),
                                   types, 3, 256));
    ck_assert(!flt_zip_compressible(RESP("200 OK", "Content-Type: image/png\r\n"),
                                    types, 3, 256));
    ck_assert(!flt_zip_compressible(RESP("200 OK", "Content-Type: text\r\n"), types, 3, 256));
    ck_assert(!flt_zip_compressible(RESP("200 OK", "Content-Type: texts/x\r\n"), types, 3, 256));
    ck_assert(!flt_zip_compressible(RESP("200 OK", "Content-Type: application/jsonx\r\n"),
                                    types, 3, 256));
    ck_assert(!flt_zip_compressible(RESP("200 OK", ""), types, 3, 256));
    /* other statuses pass as they are */
    ck_assert(!flt_zip_compressible(RESP("206 Partial Content", "Content-Type: text/html\r\n"),
                                    types, 3, 256));
    ck_assert(!flt_zip_compressible(RESP("500 Oops", "Content-Type: text/html\r\n"),
                                    types, 3, 256));
    ck_assert(!flt_zip_compressible(RESP("304 Not Modified", "Content-Type: text/html\r\n"),
                                    types, 3, 256));
    /* encoded already (identity is no coding) */
    ck_assert(!flt_zip_compressible(RESP("200 OK", "Content-Type: text/html\r\n"
                                         "Content-Encoding: gzip\r\n"), types, 3, 256));
    ck_assert(!flt_zip_compressible(RESP("200 OK", "Content-Type: text/html\r\n"
                                         "Content-Encoding: identity\r\n"
                                         "Content-Encoding: br\r\n"), types, 3, 256));
    ck_assert(flt_zip_compressible(RESP("200 OK", "Content-Type: text/html\r\n"
                                        "Content-Encoding: identity\r\n"), types, 3, 256));
    /* small by its length; no length: not known to be small */
    ck_assert(!flt_zip_compressible(RESP("200 OK", "Content-Type: text/html\r\n"
                                         "Content-Length: 255\r\n"), types, 3, 256));
    ck_assert(flt_zip_compressible(RESP("200 OK", "Content-Type: text/html\r\n"
                                        "Content-Length: 256\r\n"), types, 3, 256));
    ck_assert(flt_zip_compressible(RESP("200 OK", "Content-Type: text/html\r\n"
                                        "Transfer-Encoding: chunked\r\n"), types, 3, 256));
}
END_TEST

START_TEST(vary_names)
{
    ck_assert(flt_vary_has_ae(RESP("200 OK", "Vary: accept-encoding\r\n")));
    ck_assert(flt_vary_has_ae(RESP("200 OK", "Vary: Origin\r\nVary: Cookie, Accept-Encoding\r\n")));
    ck_assert(flt_vary_has_ae(RESP("200 OK", "Vary: *\r\n")));
    ck_assert(!flt_vary_has_ae(RESP("200 OK", "Vary: Accept-Encodings, Accept\r\n")));
    ck_assert(!flt_vary_has_ae(RESP("200 OK", "")));
}
END_TEST

/* cache_vary_key's secondary key for one request. */
static const char *vkey(const char *vary, struct sl_http_msg *req, unsigned flags)
{
    static char buf[512];
    struct sl_buf b = { buf, buf + sizeof(buf) - 1, buf, buf };

    ck_assert_int_eq(cache_vary_key((struct sl_view){ vary, strlen(vary) }, req, &b,
                                    flags), 0);
    *b.last = '\0';
    return buf;
}

START_TEST(vary_key_by_accepted_set)
{
    const char *v = "Accept-Encoding, User-Agent";
    char a[512];

    snprintf(a, sizeof(a), "%s", vkey(v, REQ("Accept-Encoding: gzip, br\r\nUser-Agent: u\r\n"), 0));
    ck_assert_str_eq(a, "accept-encoding:br,gzip\nuser-agent: u\n");
    ck_assert_str_eq(vkey(v, REQ("User-Agent: u\r\nAccept-Encoding: br;q=0.9,x-gzip\r\n"), 0), a);
    ck_assert_str_ne(vkey(v, REQ("Accept-Encoding: gzip\r\nUser-Agent: u\r\n"), 0), a);
    /* absent and identity-only are apart: an origin may treat them apart */
    snprintf(a, sizeof(a), "%s", vkey(v, REQ("User-Agent: u\r\n"), 0));
    ck_assert_str_ne(vkey(v, REQ("Accept-Encoding: identity\r\nUser-Agent: u\r\n"), 0), a);
    /* a range, where we compress, is keyed as a request without the field */
    ck_assert_str_eq(vkey(v, REQ("Accept-Encoding: gzip\r\nRange: bytes=0-1\r\n"
                                 "User-Agent: u\r\n"), CACHE_VARY_RANGE_IDENTITY), a);
    ck_assert_str_ne(vkey(v, REQ("Accept-Encoding: gzip\r\nRange: bytes=0-1\r\n"
                                 "User-Agent: u\r\n"), 0), a);
    ck_assert_str_ne(vkey(v, REQ("Accept-Encoding: gzip\r\nUser-Agent: u\r\n"),
                          CACHE_VARY_RANGE_IDENTITY), a);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("encoding");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, weights_decide);
    tcase_add_test(tc, star_covers_the_unnamed);
    tcase_add_test(tc, bad_weights_never_widen);
    tcase_add_test(tc, key_is_the_accepted_set);
    tcase_add_test(tc, key_needs_room);
    tcase_add_test(tc, what_may_be_compressed);
    tcase_add_test(tc, vary_names);
    tcase_add_test(tc, vary_key_by_accepted_set);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
