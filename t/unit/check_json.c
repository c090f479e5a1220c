/*
 * check_json.c - the strict JSON parser (filters/json.h): documents that
 * RFC 8259 accepts and refuses, the token tree (offsets, sizes, next),
 * depth and token limits, member lookup after unescaping, string
 * unescaping (UTF-8, surrogate pairs), the integer floor, booleans.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filters/json.h"

#define NT 64

static int parse(const char *s, struct flt_json_tok *t, size_t max)
{
    return flt_json_parse(s, strlen(s), t, max);
}

static const char *const valid[] = {
    "0", "-0", "1", "-1", "12.5", "0.5e-3", "1E+2", "1e2", "-0.0e0",
    "\"\"", "\"a\"", "true", "false", "null", "  null \t\r\n",
    "[]", "{}", "[ ]", "{ }", "[1,2,3]", "{\"a\":1}", "{\"a\":{\"b\":[true,false,null]}}",
    "\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u0041 \\u00e9 \\u20ac\"",
    "\"\\ud83d\\ude00\"",                       /* a surrogate pair */
    "\"\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf\"",  /* UTF-8 up to U+10FFFF */
    "\"\\u0000\"", "{\"\":\"\"}", "[[[[[]]]]]",
};

static const char *const invalid[] = {
    "", " ", "[", "]", "{", "}", "[1,]", "[,1]", "{\"a\":1,}", "{,}", "{\"a\"}",
    "{\"a\" 1}", "{a:1}", "{'a':1}", "[1 2]", "01", "-", "-01", "+1", ".5", "1.",
    "1.e3", "1e", "1e+", "0x10", "NaN", "Infinity", "-Infinity", "tru", "truee",
    "nul", "True", "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\u12g4\"", "\"\\ud83d\"",
    "\"\\ude00\"", "\"\\ud83d\\u0041\"", "\"\\ud83dx\"", "\"a\tb\"", "\"a\nb\"",
    "\"\x01\"", "\"\x80\"", "\"\xc0\xaf\"", "\"\xc1\xbf\"", "\"\xe0\x80\xaf\"",
    "\"\xed\xa0\x80\"", "\"\xf0\x80\x80\xaf\"", "\"\xf4\x90\x80\x80\"",
    "\"\xf5\x80\x80\x80\"", "\"\xff\"", "\"\xc3\"", "\"\xe2\x82\"", "1 2",
    "{} {}", "[] x", "null,", "\"a\" \"b\"", "[1]]", "{\"a\":1}}", "\xef\xbb\xbf{}",
    "/* c */ 1", "[1,\n]",
};

START_TEST(valid_documents)
{
    struct flt_json_tok t[NT];
    int rc = parse(valid[_i], t, NT);

    ck_assert_msg(rc >= 1, "valid[%d] %s: %d", _i, valid[_i], rc);
    ck_assert_uint_eq(t[0].next, (unsigned)rc);
}
END_TEST

START_TEST(invalid_documents)
{
    struct flt_json_tok t[NT];
    int rc = parse(invalid[_i], t, NT);

    ck_assert_msg(rc == -EINVAL, "invalid[%d] %s: %d", _i, invalid[_i], rc);
}
END_TEST

START_TEST(nul_inside_is_refused)
{
    struct flt_json_tok t[NT];

    ck_assert_int_eq(flt_json_parse("\"a\0b\"", 5, t, NT), -EINVAL);
    ck_assert_int_eq(flt_json_parse("{}\0", 3, t, NT), -EINVAL);
    ck_assert_int_eq(flt_json_parse("[1]", 2, t, NT), -EINVAL);   /* cut */
}
END_TEST

START_TEST(token_tree)
{
    static const char doc[] = " {\"a\": [1, {\"b\": null}], \"c\": \"x\\n\", \"d\": {}} ";
    struct flt_json_tok t[NT];
    int rc = parse(doc, t, NT), a, c, d;

    /* obj, "a", [..], 1, {..}, "b", null, "c", "x\n", "d", {} */
    ck_assert_int_eq(rc, 11);
    ck_assert_uint_eq(t[0].type, FLT_JSON_OBJECT);
    ck_assert_uint_eq(t[0].size, 3);
    ck_assert_uint_eq(t[0].start, 1);
    ck_assert_uint_eq(t[0].end, strlen(doc) - 1);
    a = flt_json_get(doc, t, 0, "a");
    ck_assert_int_eq(a, 2);
    ck_assert_uint_eq(t[a].type, FLT_JSON_ARRAY);
    ck_assert_uint_eq(t[a].size, 2);
    ck_assert_uint_eq(t[a].next, 7);
    ck_assert_int_eq((int)(t[a].end - t[a].start), (int)strlen("[1, {\"b\": null}]"));
    ck_assert(memcmp(doc + t[a].start, "[1, {\"b\": null}]", t[a].end - t[a].start) == 0);
    ck_assert_uint_eq(t[4].type, FLT_JSON_OBJECT);
    ck_assert_uint_eq(t[4].next, 7);
    ck_assert_uint_eq(t[6].type, FLT_JSON_NULL);
    c = flt_json_get(doc, t, 0, "c");
    ck_assert_int_eq(c, 8);
    /* a string's text keeps its quotes and escapes */
    ck_assert(memcmp(doc + t[c].start, "\"x\\n\"", 5) == 0 && t[c].end - t[c].start == 5);
    d = flt_json_get(doc, t, 0, "d");
    ck_assert_int_eq(d, 10);
    ck_assert_uint_eq(t[d].size, 0);
    ck_assert_uint_eq(t[d].next, 11);
    ck_assert_int_eq(flt_json_get(doc, t, 0, "b"), -ENOENT);   /* not at the top */
    ck_assert_int_eq(flt_json_get(doc, t, a, "b"), -ENOENT);   /* not an object */
}
END_TEST

START_TEST(depth_limit)
{
    char doc[2 * (FLT_JSON_MAX_DEPTH + 1) + 1];
    struct flt_json_tok t[NT];
    int d;

    for (d = FLT_JSON_MAX_DEPTH; d <= FLT_JSON_MAX_DEPTH + 1; d++) {
        memset(doc, '[', (size_t)d);
        memset(doc + d, ']', (size_t)d);
        doc[2 * d] = '\0';
        if (d == FLT_JSON_MAX_DEPTH)
            ck_assert_int_eq(parse(doc, t, NT), d);
        else
            ck_assert_int_eq(parse(doc, t, NT), -ELOOP);
    }
    /* objects count as well */
    ck_assert_int_eq(parse("{\"a\":[{\"b\":[]}]}", t, NT), 6);
}
END_TEST

START_TEST(token_limit)
{
    struct flt_json_tok t[4];

    ck_assert_int_eq(parse("[1,2,3]", t, 4), 4);
    ck_assert_int_eq(parse("[1,2,3,4]", t, 4), -ENOSPC);
    ck_assert_int_eq(parse("{\"a\":1,\"b\":2}", t, 4), -ENOSPC); /* 5: keys count */
    ck_assert_int_eq(parse("1", t, 0), -ENOSPC);
}
END_TEST

START_TEST(lookup_unescapes_keys)
{
    static const char doc[] = "{\"a\\u0062\":1,\"\\u00e9t\\u00e9\":2,\"x\\\"y\":3,\"ab\\u0000\":4}";
    struct flt_json_tok t[NT];
    int64_t v;

    ck_assert_int_gt(parse(doc, t, NT), 0);
    ck_assert_int_eq(flt_json_int(doc, t, flt_json_get(doc, t, 0, "ab"), &v), 0);
    ck_assert_int_eq(v, 1);
    ck_assert_int_eq(flt_json_int(doc, t, flt_json_get(doc, t, 0, "\xc3\xa9t\xc3\xa9"), &v), 0);
    ck_assert_int_eq(v, 2);
    ck_assert_int_eq(flt_json_int(doc, t, flt_json_get(doc, t, 0, "x\"y"), &v), 0);
    ck_assert_int_eq(v, 3);
    ck_assert_int_eq(flt_json_get(doc, t, 0, "a"), -ENOENT);
    ck_assert_int_eq(flt_json_get(doc, t, 0, "abc"), -ENOENT);
    ck_assert(flt_json_eq(doc, t, 7, "ab\0", 3));
    ck_assert(!flt_json_eq(doc, t, 7, "ab", 2));
}
END_TEST

START_TEST(duplicate_keys_are_seen)
{
    static const char doc[] = "{\"alg\":\"HS256\",\"kid\":\"a\",\"al\\u0067\":\"none\"}";
    struct flt_json_tok t[NT];

    ck_assert_int_gt(parse(doc, t, NT), 0);
    ck_assert_int_eq(flt_json_get(doc, t, 0, "alg"), -EEXIST);
    ck_assert_int_eq(flt_json_get(doc, t, 0, "kid"), 4);
}
END_TEST

START_TEST(string_values)
{
    static const char doc[] = "[\"a\\tb\\u00e9\\ud83d\\ude00\\/\", \"\", \"12345\", 5]";
    struct flt_json_tok t[NT];
    char out[32];

    ck_assert_int_eq(parse(doc, t, NT), 5);
    ck_assert_int_eq(flt_json_string(doc, t, 1, out, sizeof(out)), 10);
    ck_assert_str_eq(out, "a\tb\xc3\xa9\xf0\x9f\x98\x80/");
    ck_assert_int_eq(flt_json_string(doc, t, 2, out, sizeof(out)), 0);
    ck_assert_str_eq(out, "");
    ck_assert_int_eq(flt_json_string(doc, t, 3, out, 6), 5);
    ck_assert_str_eq(out, "12345");
    ck_assert_int_eq(flt_json_string(doc, t, 3, out, 5), -ENOSPC);   /* no room for NUL */
    ck_assert_int_eq(flt_json_string(doc, t, 3, out, 0), -ENOSPC);
    ck_assert_int_eq(flt_json_string(doc, t, 4, out, sizeof(out)), -EINVAL);
}
END_TEST

static const struct {
    const char *num;
    int rc;
    int64_t v;
} ints[] = {
    { "0", 0, 0 }, { "-0", 0, 0 }, { "42", 0, 42 }, { "-42", 0, -42 },
    { "1.9", 0, 1 }, { "-1.5", 0, -2 }, { "-1.0", 0, -1 }, { "0.999", 0, 0 },
    { "-0.001", 0, -1 }, { "1e3", 0, 1000 }, { "1.5e1", 0, 15 }, { "15e-1", 0, 1 },
    { "1516239022", 0, 1516239022 }, { "1516239022.75", 0, 1516239022 },
    { "0.0000e999999999999", 0, 0 }, { "1e-99999999999999", 0, 0 },
    { "-1e-99999999999999", 0, -1 },
    { "9223372036854775807", 0, INT64_MAX }, { "-9223372036854775808", 0, INT64_MIN },
    { "9223372036854775808", -ERANGE, 0 }, { "-9223372036854775809", -ERANGE, 0 },
    { "-9223372036854775808.5", -ERANGE, 0 }, { "9223372036854775807.5", 0, INT64_MAX },
    { "1e19", -ERANGE, 0 }, { "1e18", 0, 1000000000000000000LL },
    { "1e999999999999999999", -ERANGE, 0 }, { "00000", -EINVAL, 0 },
    { "000000000000000000000000001", -EINVAL, 0 },
};

START_TEST(integer_floor)
{
    struct flt_json_tok t[NT];
    int64_t v = 12345;
    int rc;

    if (parse(ints[_i].num, t, NT) != 1) {
        ck_assert_msg(ints[_i].rc == -EINVAL, "%s does not parse", ints[_i].num);
        return;
    }
    rc = flt_json_int(ints[_i].num, t, 0, &v);
    ck_assert_msg(rc == ints[_i].rc, "%s: rc %d", ints[_i].num, rc);
    if (rc == 0)
        ck_assert_msg(v == ints[_i].v, "%s: %lld", ints[_i].num, (long long)v);
}
END_TEST

START_TEST(booleans_and_types)
{
    static const char doc[] = "[true,false,null,\"1\",1]";
    struct flt_json_tok t[NT];
    int b = 7;
    int64_t v;

    ck_assert_int_eq(parse(doc, t, NT), 6);
    ck_assert_int_eq(flt_json_bool(t, 1, &b), 0);
    ck_assert_int_eq(b, 1);
    ck_assert_int_eq(flt_json_bool(t, 2, &b), 0);
    ck_assert_int_eq(b, 0);
    ck_assert_int_eq(flt_json_bool(t, 3, &b), -EINVAL);
    ck_assert_int_eq(flt_json_int(doc, t, 4, &v), -EINVAL);
    ck_assert_int_eq(flt_json_int(doc, t, 5, &v), 0);
    ck_assert(!flt_json_eq(doc, t, 5, "1", 1));
    ck_assert(flt_json_eq(doc, t, 4, "1", 1));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("json");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_loop_test(tc, valid_documents, 0, (int)(sizeof(valid) / sizeof(valid[0])));
    tcase_add_loop_test(tc, invalid_documents, 0, (int)(sizeof(invalid) / sizeof(invalid[0])));
    tcase_add_test(tc, nul_inside_is_refused);
    tcase_add_test(tc, token_tree);
    tcase_add_test(tc, depth_limit);
    tcase_add_test(tc, token_limit);
    tcase_add_test(tc, lookup_unescapes_keys);
    tcase_add_test(tc, duplicate_keys_are_seen);
    tcase_add_test(tc, string_values);
    tcase_add_loop_test(tc, integer_floor, 0, (int)(sizeof(ints) / sizeof(ints[0])));
    tcase_add_test(tc, booleans_and_types);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
