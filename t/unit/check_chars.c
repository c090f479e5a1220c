/*
 * check_chars.c - unit tests for the small helpers of the base:
 * squidlike/chars.h, the byte classes and text helpers (every byte of
 * every class against its grammar written out here from the RFCs, not from
 * the table; the view helpers on their edges: empty, all OWS, no comma,
 * empty elements), and squidlike/hash.h (FNV-1a's published test vectors).
 */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "squidlike/chars.h"
#include "squidlike/hash.h"

#define ALPHA "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
#define DIGIT "0123456789"

/* Is byte b one of set (NUL never is)? */
static int in(const char *set, int b)
{
    return b != 0 && strchr(set, b) != NULL;
}

/* RFC 9110 5.6.2: tchar = "!" / "#" / ... / "~" / DIGIT / ALPHA */
static int rfc_tchar(int b)
{
    return in("!#$%&'*+-.^_`|~" DIGIT ALPHA, b);
}

/* RFC 9110 5.5: field-vchar = VCHAR / obs-text, plus SP and HTAB inside. */
static int rfc_vchar(int b)
{
    return b == '\t' || (b >= 0x20 && b != 0x7f);
}

/* RFC 9112 3.2 as the parser takes it: any byte above SP but DEL. */
static int rfc_target(int b)
{
    return b > 0x20 && b != 0x7f;
}

/* RFC 3986 3.2.2: reg-name = *( unreserved / pct-encoded / sub-delims ) */
static int rfc_host(int b)
{
    return in(ALPHA DIGIT "-._~" "!$&'()*+,;=" "%", b);
}

START_TEST(t_classes_every_byte)
{
    int b;

    for (b = 0; b < 256; b++) {
        char c = (char)b;

        ck_assert_msg(sl_is_tchar(c) == rfc_tchar(b), "tchar 0x%02x", b);
        ck_assert_msg(!!(sl_cls(c) & SL_C_TCHAR) == rfc_tchar(b), "TCHAR 0x%02x", b);
        ck_assert_msg(!!(sl_cls(c) & SL_C_VCHAR) == rfc_vchar(b), "VCHAR 0x%02x", b);
        ck_assert_msg(!!(sl_cls(c) & SL_C_TARGET) == rfc_target(b), "TARGET 0x%02x", b);
        ck_assert_msg(!!(sl_cls(c) & SL_C_HOST) == rfc_host(b), "HOST 0x%02x", b);
        ck_assert_msg(sl_is_hex(c) == in(DIGIT "ABCDEFabcdef", b), "hex 0x%02x", b);
        ck_assert_msg(sl_is_digit(c) == in(DIGIT, b), "digit 0x%02x", b);
        ck_assert_msg(sl_is_alpha(c) == in(ALPHA, b), "alpha 0x%02x", b);
        ck_assert_msg(sl_is_alnum(c) == in(ALPHA DIGIT, b), "alnum 0x%02x", b);
        ck_assert_msg(sl_is_ows(c) == in(" \t", b), "ows 0x%02x", b);
        ck_assert_msg(sl_is_host_char(c) == in(ALPHA DIGIT "-._", b), "host 0x%02x", b);
        ck_assert_msg(sl_is_scheme_char(c, 1) == in(ALPHA, b), "scheme1 0x%02x", b);
        ck_assert_msg(sl_is_scheme_char(c, 0) == in(ALPHA DIGIT "+-.", b),
                      "scheme 0x%02x", b);
    }
}
END_TEST

START_TEST(t_lower_and_hex_values)
{
    static const char hex[] = "0123456789abcdef", HEX[] = "0123456789ABCDEF";
    int b, i;

    for (b = 0; b < 256; b++) {
        int want = (b >= 'A' && b <= 'Z') ? b + 32 : b;
        ck_assert_int_eq((unsigned char)sl_lower((char)b), want);
    }
    for (i = 0; i < 16; i++) {
        ck_assert_int_eq(sl_hex_val((unsigned char)hex[i]), i);
        ck_assert_int_eq(sl_hex_val((unsigned char)HEX[i]), i);
    }
}
END_TEST

static struct sl_view v_of(const char *s)
{
    struct sl_view v = { s, strlen(s) };

    return v;
}

START_TEST(t_view_helpers)
{
    static const char s[] = " \t a b\t ";
    struct sl_view v = v_of(s), t;

    t = sl_view_trim(v);
    ck_assert_uint_eq(t.len, 3);
    ck_assert(memcmp(t.base, "a b", 3) == 0);
    ck_assert_uint_eq(sl_view_trim(v_of(" \t ")).len, 0);
    ck_assert_uint_eq(sl_view_trim(v_of("")).len, 0);
    t = sl_view_trim(v_of("x"));
    ck_assert(t.len == 1 && t.base[0] == 'x');
    /* CR and LF are not OWS */
    ck_assert_uint_eq(sl_view_trim(v_of("\rx\n")).len, 3);

    t = sl_view_from(s + 3, s + 6);
    ck_assert(t.base == s + 3 && t.len == 3);
    ck_assert(sl_view_end(t) == s + 6);

    ck_assert(sl_view_ieq_view(v_of("Content-Length"), v_of("content-LENGTH")));
    ck_assert(!sl_view_ieq_view(v_of("Content-Length"), v_of("Content-Lengt")));
    ck_assert(!sl_view_ieq_view(v_of("a"), v_of("b")));
    ck_assert(sl_view_ieq_view(v_of(""), v_of("")));
    /* only ASCII letters fold: '@' is not '`', 0xC0 not 0xE0 */
    ck_assert(!sl_view_ieq_view(v_of("@"), v_of("`")));
    ck_assert(!sl_view_ieq_view(v_of("\xc0"), v_of("\xe0")));
    ck_assert(sl_view_ieq(v_of("Vary"), "vARY"));
    ck_assert(!sl_view_ieq(v_of("Vary"), "Var"));
    ck_assert(!sl_view_ieq(v_of("Var"), "Vary"));
}
END_TEST

/* Collect the elements of list as "[e]" strings. */
static void elems(const char *list, char *out, size_t outlen, int *n)
{
    const char *p = list, *end = list + strlen(list);
    struct sl_view e;
    size_t o = 0;

    *n = 0;
    out[0] = '\0';
    while (sl_list_next(&p, end, &e)) {
        ck_assert(o + e.len + 3 <= outlen);
        out[o++] = '[';
        memcpy(out + o, e.base, e.len);
        o += e.len;
        out[o++] = ']';
        out[o] = '\0';
        ck_assert_int_lt(++*n, 64);
    }
    ck_assert_msg(p == NULL, "the walk ends with *pp NULL");
}

START_TEST(t_list_next)
{
    char out[256];
    int n;

    elems("gzip, chunked", out, sizeof(out), &n);
    ck_assert_str_eq(out, "[gzip][chunked]");
    elems(" a ,\tb\t,, c ", out, sizeof(out), &n);
    ck_assert_str_eq(out, "[a][b][][c]");
    ck_assert_int_eq(n, 4);
    elems("", out, sizeof(out), &n);
    ck_assert_int_eq(n, 1);             /* one empty element */
    ck_assert_str_eq(out, "[]");
    elems(",", out, sizeof(out), &n);
    ck_assert_str_eq(out, "[][]");
    elems("close", out, sizeof(out), &n);
    ck_assert_str_eq(out, "[close]");
    elems("a b , c", out, sizeof(out), &n);
    ck_assert_str_eq(out, "[a b][c]");  /* inner blanks stay */
}
END_TEST

/* Test vectors of the FNV reference (isthe.com/chongo/tech/comp/fnv). */
START_TEST(t_fnv1a)
{
    uint32_t h32 = SL_FNV32_INIT;
    uint64_t h64 = SL_FNV64_INIT;
    const char *s = "foobar";

    ck_assert_uint_eq(sl_fnv32("", 0), 0x811c9dc5u);
    ck_assert_uint_eq(sl_fnv32("a", 1), 0xe40c292cu);
    ck_assert_uint_eq(sl_fnv32("foobar", 6), 0xbf9cf968u);
    ck_assert_uint_eq(sl_fnv32_str("foobar"), 0xbf9cf968u);
    ck_assert_uint_eq(sl_fnv32_str(""), 0x811c9dc5u);
    ck_assert(sl_fnv64("", 0) == 0xcbf29ce484222325ULL);
    ck_assert(sl_fnv64("a", 1) == 0xaf63dc4c8601ec8cULL);
    ck_assert(sl_fnv64("foobar", 6) == 0x85944171f73967e8ULL);
    while (*s) {
        h32 = sl_fnv32_step(h32, (unsigned char)*s);
        h64 = sl_fnv64_step(h64, (unsigned char)*s++);
    }
    ck_assert_uint_eq(h32, 0xbf9cf968u);
    ck_assert(h64 == 0x85944171f73967e8ULL);
}
END_TEST

static Suite *chars_suite(void)
{
    Suite *s = suite_create("chars");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, t_classes_every_byte);
    tcase_add_test(tc, t_lower_and_hex_values);
    tcase_add_test(tc, t_view_helpers);
    tcase_add_test(tc, t_list_next);
    tcase_add_test(tc, t_fnv1a);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(chars_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
