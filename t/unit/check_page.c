/*
 * check_page.c - block page and redirect templates.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "filters/page.h"
#include "squidlike/buf.h"

static char buf[4096];

static const char *expand(const char *tpl, enum flt_page_escape esc)
{
    static const struct flt_page_tags tags = {
        "http://a.example/x?q=<b>&c", "a.example", "ads", "deny ads", "ads",
        "10.0.0.7", "Sun, 06 Nov 1994 08:49:37 GMT", "proxy1"
    };
    struct sl_buf out = { buf, buf + sizeof(buf) - 1, buf, buf };

    ck_assert_int_eq(flt_page_expand(tpl, &tags, esc, &out), 0);
    *out.last = '\0';
    return buf;
}

START_TEST(html_tags)
{
    ck_assert_str_eq(expand("%U|%H|%c|%r|%a|%i|%T|%s", FLT_PAGE_HTML),
                     "http://a.example/x?q=&lt;b&gt;&amp;c|a.example|ads|deny ads|ads|"
                     "10.0.0.7|Sun, 06 Nov 1994 08:49:37 GMT|proxy1");
    ck_assert_str_eq(expand("100%% %q %", FLT_PAGE_HTML), "100% %q %");
    ck_assert_str_eq(expand("", FLT_PAGE_HTML), "");
}
END_TEST

START_TEST(url_tags)
{
    ck_assert_str_eq(expand("http://i/b?u=%U&c=%c", FLT_PAGE_URL),
                     "http://i/b?u=http%3A%2F%2Fa.example%2Fx%3Fq%3D%3Cb%3E%26c&c=ads");
}
END_TEST

START_TEST(missing_values_and_space)
{
    struct flt_page_tags none;
    char small[8];
    struct sl_buf out = { small, small + sizeof(small), small, small };

    memset(&none, 0, sizeof(none));
    ck_assert_int_eq(flt_page_expand("%c", &none, FLT_PAGE_HTML, &out), 0);
    ck_assert_int_eq((int)(out.last - out.pos), 1);
    ck_assert_int_eq(small[0], '-');
    out.last = out.pos;
    ck_assert_int_eq(flt_page_expand("0123456789", &none, FLT_PAGE_HTML, &out), -ENOSPC);
}
END_TEST

/* The one HTML escaper (squidlike/buf.c): entities whole, control bytes
 * dropped, a cut value when the rest does not fit. */
START_TEST(html_escaper)
{
    char mem[10];
    struct sl_buf b = { mem, mem + sizeof(mem), mem, mem };

    ck_assert_int_eq(sl_buf_append_html(&b, "a<b\x01" ">"), 0);
    ck_assert_int_eq((int)sl_buf_len(&b), 10);
    ck_assert_int_eq(memcmp(mem, "a&lt;b&gt;", 10), 0);
    sl_buf_reset(&b);
    ck_assert_int_eq(sl_buf_append_html(&b, "a<b'"), -ENOSPC);
    ck_assert_int_eq((int)sl_buf_len(&b), 6);       /* "&#39;" did not fit */
    sl_buf_reset(&b);
    ck_assert_int_eq(sl_buf_append_html(&b, "a\x01" "b\x7f" "&c"), 0);
    ck_assert_int_eq((int)sl_buf_len(&b), 8);
    ck_assert_int_eq(memcmp(mem, "ab&amp;c", 8), 0);
    sl_buf_reset(&b);
    ck_assert_int_eq(sl_buf_append_html(&b, "abcdefgh&x"), -ENOSPC);
    ck_assert_int_eq((int)sl_buf_len(&b), 8);      /* no half entity */
    sl_buf_reset(&b);
    ck_assert_int_eq(sl_buf_append_html(&b, "0123456789abc"), -ENOSPC);
    ck_assert_int_eq((int)sl_buf_len(&b), 10);
    ck_assert_int_eq(sl_buf_append_html(&b, NULL), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("page");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, html_tags);
    tcase_add_test(tc, html_escaper);
    tcase_add_test(tc, url_tags);
    tcase_add_test(tc, missing_values_and_space);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
