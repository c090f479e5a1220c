/*
 * check_query.c - filters/query.c: a parameter read (decoded names and
 * values, bounds, bad escapes) and a query edited (removed by decoded
 * name, kept as sent, added, no '?' when nothing is left).
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "filters/query.h"

static struct sl_view V(const char *s)
{
    return (struct sl_view){ s, strlen(s) };
}

static void wrap(struct sl_buf *b, char *mem, size_t n)
{
    b->start = b->pos = b->last = mem;
    b->end = mem + n;
}

static const char *edit(const char *q, const char *const *rm, size_t n, const char *add)
{
    static char mem[512];
    struct sl_buf b;

    wrap(&b, mem, sizeof(mem) - 1);
    ck_assert_int_eq(flt_query_edit(V(q), rm, n, add, &b), 0);
    mem[sl_buf_len(&b)] = '\0';
    return mem;
}

START_TEST(get_values)
{
    char v[16];

    ck_assert_int_eq(flt_query_get(V("a=1&api_key=s3cr%2Bt+x&b"), "api_key", v, sizeof(v)), 8);
    ck_assert_str_eq(v, "s3cr+t x");
    /* a name is compared decoded: the same parameter however spelt */
    ck_assert_int_eq(flt_query_get(V("api%5Fkey=k1&api_key=k2"), "api_key", v, sizeof(v)), 2);
    ck_assert_str_eq(v, "k1");
    ck_assert_int_eq(flt_query_get(V("b"), "b", v, sizeof(v)), 0);
    ck_assert_str_eq(v, "");
    ck_assert_int_eq(flt_query_get(V("a=1"), "api_key", v, sizeof(v)), -ENOENT);
    ck_assert_int_eq(flt_query_get(V(""), "a", v, sizeof(v)), -ENOENT);
    ck_assert_int_eq(flt_query_get(V("a=%zz"), "a", v, sizeof(v)), -EINVAL);
    ck_assert_int_eq(flt_query_get(V("a=%0"), "a", v, sizeof(v)), -EINVAL);
    ck_assert_int_eq(flt_query_get(V("a=x%00y"), "a", v, sizeof(v)), -EINVAL);
    ck_assert_int_eq(flt_query_get(V("a=0123456789abcdef"), "a", v, sizeof(v)), -ENOSPC);
    ck_assert_int_eq(flt_query_get(V("a=0123456789abcde"), "a", v, sizeof(v)), 15);
}
END_TEST

START_TEST(edits)
{
    static const char *const rm[] = { "api_key", "debug" };

    ck_assert_str_eq(edit("a=1&api_key=k&b=%41", rm, 2, NULL), "?a=1&b=%41");
    ck_assert_str_eq(edit("api%5fkey=k&debug&debug=1", rm, 2, NULL), "");
    ck_assert_str_eq(edit("api_key=k", rm, 2, "version=2"), "?version=2");
    ck_assert_str_eq(edit("", rm, 2, "version=2&x"), "?version=2&x");
    ck_assert_str_eq(edit("a=1&&b=2&", rm, 2, ""), "?a=1&b=2");
    ck_assert_str_eq(edit("a=1", NULL, 0, NULL), "?a=1");
    /* a name that does not decode is kept, as sent */
    ck_assert_str_eq(edit("%zz=1&debug=1", rm, 2, NULL), "?%zz=1");
}
END_TEST

START_TEST(edit_bounded)
{
    char mem[8];
    struct sl_buf b;

    wrap(&b, mem, sizeof(mem));
    ck_assert_int_eq(flt_query_edit(V("aaaa=1&bbbb=2"), NULL, 0, NULL, &b), -ENOSPC);
    wrap(&b, mem, sizeof(mem));
    ck_assert_int_eq(flt_query_edit(V("a=1"), NULL, 0, "zzzzzzz", &b), -ENOSPC);
}
END_TEST

START_TEST(param_ok)
{
    ck_assert_int_eq(flt_query_param_ok("version=2"), 1);
    ck_assert_int_eq(flt_query_param_ok("flag"), 1);
    ck_assert_int_eq(flt_query_param_ok("a=%20"), 1);
    ck_assert_int_eq(flt_query_param_ok(""), 0);
    ck_assert_int_eq(flt_query_param_ok("=x"), 0);
    ck_assert_int_eq(flt_query_param_ok("a=1&b=2"), 0);
    ck_assert_int_eq(flt_query_param_ok("a=b c"), 0);
    ck_assert_int_eq(flt_query_param_ok("a=#"), 0);
    ck_assert_int_eq(flt_query_param_ok("a=\x7f"), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("query");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, get_values);
    tcase_add_test(tc, edits);
    tcase_add_test(tc, edit_bounded);
    tcase_add_test(tc, param_ok);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
