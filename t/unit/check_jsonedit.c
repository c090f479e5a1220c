/*
 * check_jsonedit.c - filters/jsonedit.c: members removed (first, middle,
 * last, all, every duplicate) with commas and blanks left valid, nested
 * paths, renames (escaped keys, escaped new names, longer names), what is
 * not edited (not JSON, not an object, nothing matched), the rules
 * refused. Every edited document is parsed again: the output is strict
 * JSON.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filters/jsonedit.h"

/* Rules: "-path" removes, "old: new" renames; NULL ends the list. */
static struct flt_jsonedit *rules(const char *const *spec)
{
    struct flt_jsonedit *e = flt_jsonedit_new();
    const char *why;

    ck_assert_ptr_nonnull(e);
    for (; *spec; spec++) {
        why = (*spec)[0] == '-' ? flt_jsonedit_remove(e, *spec + 1)
                                : flt_jsonedit_rename(e, *spec);
        ck_assert_msg(why == NULL, "rule %s: %s", *spec, why);
    }
    return e;
}

/* The document edited (NUL-terminated, static), or NULL when run returned
 * rc < 0 (*rc says which). An edited one must parse. */
static const char *edit_rc(const char *const *spec, const char *doc, long *rc)
{
    static char out[4096];
    static struct flt_json_tok t[2048], t2[2048];
    struct flt_jsonedit *e = rules(spec);
    size_t len = strlen(doc);
    long n;

    ck_assert_uint_le(FLT_JSONEDIT_TOKENS(len), 2048);
    ck_assert_uint_le(flt_jsonedit_tokens(doc, len), FLT_JSONEDIT_TOKENS(len));
    n = flt_jsonedit_run(e, doc, len, t, flt_jsonedit_tokens(doc, len), out, sizeof(out) - 1);
    flt_jsonedit_free(e);
    *rc = n;
    if (n < 0)
        return NULL;
    ck_assert_int_lt(n, (long)sizeof(out));
    out[n] = '\0';
    ck_assert_msg(flt_json_parse(out, (size_t)n, t2, 2048) > 0, "not JSON: %s", out);
    return out;
}

static const char *edit(const char *const *spec, const char *doc)
{
    long rc;
    const char *r = edit_rc(spec, doc, &rc);

    ck_assert_msg(r != NULL, "%s: rc %ld", doc, rc);
    return r;
}

#define R(...) ((const char *const[]){ __VA_ARGS__, NULL })

START_TEST(remove_first_middle_last)
{
    const char *doc = "{\"a\":1,\"b\":2,\"c\":3}";

    ck_assert_str_eq(edit(R("-a"), doc), "{\"b\":2,\"c\":3}");
    ck_assert_str_eq(edit(R("-b"), doc), "{\"a\":1,\"c\":3}");
    ck_assert_str_eq(edit(R("-c"), doc), "{\"a\":1,\"b\":2}");
    ck_assert_str_eq(edit(R("-a", "-c"), doc), "{\"b\":2}");
    ck_assert_str_eq(edit(R("-a", "-b"), doc), "{\"c\":3}");
    ck_assert_str_eq(edit(R("-b", "-c"), doc), "{\"a\":1}");
    ck_assert_str_eq(edit(R("-a", "-b", "-c"), doc), "{}");
    ck_assert_str_eq(edit(R("-a"), "{\"a\":[1,{\"x\":2}]}"), "{}");
}
END_TEST

START_TEST(blanks_are_kept)
{
    const char *doc = " {\n  \"a\": 1,\n  \"password\" : \"x\",\n  \"c\": [ 1, 2 ]\n}\n";

    ck_assert_str_eq(edit(R("-password"), doc),
                     " {\n  \"a\": 1,\n  \"c\": [ 1, 2 ]\n}\n");
    ck_assert_str_eq(edit(R("-a"), doc),
                     " {\n  \"password\" : \"x\",\n  \"c\": [ 1, 2 ]\n}\n");
    ck_assert_str_eq(edit(R("-c"), doc),
                     " {\n  \"a\": 1,\n  \"password\" : \"x\"\n}\n");
    ck_assert_str_eq(edit(R("-a", "-password", "-c"), doc), " {\n  \n}\n");
    /* what is not touched is copied as written: escapes, numbers */
    ck_assert_str_eq(edit(R("-x"), "{\"x\":0,\"s\":\"\\u00e9\\/\",\"n\":1.50e+3}"),
                     "{\"s\":\"\\u00e9\\/\",\"n\":1.50e+3}");
}
END_TEST

START_TEST(nested_paths)
{
    const char *doc = "{\"id\":1,\"internal\":{\"id\":7,\"keep\":true},\"x\":{\"id\":2}}";

    ck_assert_str_eq(edit(R("-internal.id"), doc),
                     "{\"id\":1,\"internal\":{\"keep\":true},\"x\":{\"id\":2}}");
    ck_assert_str_eq(edit(R("-internal.keep", "-internal.id"), doc),
                     "{\"id\":1,\"internal\":{},\"x\":{\"id\":2}}");
    ck_assert_str_eq(edit(R("internal.id: ref"), doc),
                     "{\"id\":1,\"internal\":{\"ref\":7,\"keep\":true},\"x\":{\"id\":2}}");
    /* three levels; a path through a value that is not an object: nothing */
    ck_assert_str_eq(edit(R("-a.b.c"), "{\"a\":{\"b\":{\"c\":1,\"d\":2}}}"),
                     "{\"a\":{\"b\":{\"d\":2}}}");
    {
        long rc;
        ck_assert_ptr_null(edit_rc(R("-a.b"), "{\"a\":[{\"b\":1}],\"b\":2}", &rc));
        ck_assert_int_eq(rc, -ENOENT);
    }
    /* a rename of the object and an edit inside it both apply */
    ck_assert_str_eq(edit(R("internal: meta", "-internal.id"), doc),
                     "{\"id\":1,\"meta\":{\"keep\":true},\"x\":{\"id\":2}}");
    /* removal of the object wins over an edit inside it */
    ck_assert_str_eq(edit(R("-internal", "-internal.id"), doc),
                     "{\"id\":1,\"x\":{\"id\":2}}");
}
END_TEST

START_TEST(renames)
{
    /* the key matched unescaped; the new one written escaped */
    ck_assert_str_eq(edit(R("usr: user"), "{\"u\\u0073r\":\"bob\",\"n\":1}"),
                     "{\"user\":\"bob\",\"n\":1}");
    ck_assert_str_eq(edit(R("usr: a\"b\\c"), "{\"usr\":1}"), "{\"a\\\"b\\\\c\":1}");
    ck_assert_str_eq(edit(R("caf\xc3\xa9 : tea"), "{\"caf\\u00e9\":1}"), "{\"tea\":1}");
    ck_assert_str_eq(edit(R("a: a_much_longer_name"), "{\"a\":1,\"b\":{\"a\":2}}"),
                     "{\"a_much_longer_name\":1,\"b\":{\"a\":2}}");
    /* removal wins over a rename of the same member */
    ck_assert_str_eq(edit(R("a: z", "-a"), "{\"a\":1,\"b\":2}"), "{\"b\":2}");
}
END_TEST

START_TEST(duplicates_all_edited)
{
    ck_assert_str_eq(edit(R("-a"), "{\"a\":1,\"b\":2,\"a\":3}"), "{\"b\":2}");
    ck_assert_str_eq(edit(R("a: z"), "{\"a\":1,\"b\":2,\"a\":3}"),
                     "{\"z\":1,\"b\":2,\"z\":3}");
    ck_assert_str_eq(edit(R("-o.p"), "{\"o\":{\"p\":1},\"o\":{\"q\":2,\"p\":3}}"),
                     "{\"o\":{},\"o\":{\"q\":2}}");
}
END_TEST

START_TEST(not_edited)
{
    static const char *const docs[] = {
        "[{\"a\":1}]", "\"a\"", "1", "null",                /* not an object */
        "{\"a\":1,}", "{\"a\":1", "{\"a\":01}", "{a:1}",    /* not strict JSON */
        "{\"a\":1} x", "", "{\"a\":\"\xff\"}",
    };
    size_t i;
    long rc;

    for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        ck_assert_ptr_null(edit_rc(R("-a"), docs[i], &rc));
        ck_assert_msg(rc == -EINVAL, "%s: %ld", docs[i], rc);
    }
    ck_assert_ptr_null(edit_rc(R("-x"), "{\"a\":1}", &rc));
    ck_assert_int_eq(rc, -ENOENT);
    ck_assert_ptr_null(edit_rc(R("-a"), "{}", &rc));
    ck_assert_int_eq(rc, -ENOENT);
}
END_TEST

START_TEST(output_too_small_says_how_much)
{
    struct flt_jsonedit *e = rules(R("a: abcdefgh"));
    struct flt_json_tok t[16];
    const char *doc = "{\"a\":1}";
    char out[32];
    long n;

    n = flt_jsonedit_run(e, doc, strlen(doc), t, 16, out, 8);
    ck_assert_int_eq(n, (long)strlen("{\"abcdefgh\":1}"));
    n = flt_jsonedit_run(e, doc, strlen(doc), t, 16, out, (size_t)n);
    ck_assert_int_eq(n, 14);
    ck_assert_int_eq(memcmp(out, "{\"abcdefgh\":1}", 14), 0);
    ck_assert_int_eq(flt_jsonedit_run(e, doc, strlen(doc), t, 2, out, 32), -ENOSPC);
    flt_jsonedit_free(e);
}
END_TEST

/* The token bound holds for the densest documents: one-digit elements. */
START_TEST(token_bound)
{
    static char doc[1001];
    static struct flt_json_tok t[FLT_JSONEDIT_TOKENS(1000)];
    struct flt_jsonedit *e = rules(R("-a"));
    size_t n = 0;
    char out[1024];

    memcpy(doc, "{\"a\":[", 6);
    n = 6;
    while (n < 996) {
        doc[n++] = '0';
        doc[n++] = ',';
    }
    doc[n++] = '0';
    doc[n++] = ']';
    doc[n++] = '}';
    ck_assert_int_eq(flt_jsonedit_run(e, doc, n, t, FLT_JSONEDIT_TOKENS(n), out,
                                      sizeof(out)), 2);
    ck_assert_int_eq(memcmp(out, "{}", 2), 0);
    /* the count from the bytes is enough here too, and exact for it */
    ck_assert_uint_eq(flt_jsonedit_tokens(doc, n), (size_t)flt_json_parse(doc, n, t, 1000));
    ck_assert_int_eq(flt_jsonedit_run(e, doc, n, t, flt_jsonedit_tokens(doc, n), out,
                                      sizeof(out)), 2);
    flt_jsonedit_free(e);
}
END_TEST

START_TEST(rules_refused)
{
    struct flt_jsonedit *e = flt_jsonedit_new();
    char big[300];
    int i;

    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ck_assert_ptr_nonnull(flt_jsonedit_remove(e, ""));
    ck_assert_ptr_nonnull(flt_jsonedit_remove(e, "a..b"));
    ck_assert_ptr_nonnull(flt_jsonedit_remove(e, ".a"));
    ck_assert_ptr_nonnull(flt_jsonedit_remove(e, "a."));
    ck_assert_ptr_nonnull(flt_jsonedit_remove(e, "a.b.c.d.e.f.g.h.i"));
    ck_assert_ptr_nonnull(flt_jsonedit_remove(e, "a\tb"));
    ck_assert_ptr_nonnull(flt_jsonedit_remove(e, "\xc3("));
    ck_assert_ptr_nonnull(flt_jsonedit_remove(e, big));
    ck_assert_ptr_nonnull(flt_jsonedit_rename(e, "a"));
    ck_assert_ptr_nonnull(flt_jsonedit_rename(e, "a:"));
    ck_assert_ptr_nonnull(flt_jsonedit_rename(e, ": b"));
    ck_assert_ptr_nonnull(flt_jsonedit_rename(e, "a: b.c"));
    ck_assert_ptr_nonnull(flt_jsonedit_rename(e, "a: \x01"));
    ck_assert_uint_eq(flt_jsonedit_rules(e), 0);
    ck_assert_ptr_null(flt_jsonedit_remove(e, "a.b.c.d.e.f.g.h"));
    for (i = 1; i < FLT_JSONEDIT_MAX; i++)
        ck_assert_ptr_null(flt_jsonedit_remove(e, "x"));
    ck_assert_ptr_nonnull(flt_jsonedit_remove(e, "x"));
    for (i = 0; i < FLT_JSONEDIT_MAX; i++)
        ck_assert_ptr_null(flt_jsonedit_rename(e, "y: z"));
    ck_assert_ptr_nonnull(flt_jsonedit_rename(e, "y: z"));
    ck_assert_uint_eq(flt_jsonedit_rules(e), 2 * FLT_JSONEDIT_MAX);
    flt_jsonedit_free(e);
    flt_jsonedit_free(NULL);
}
END_TEST

/* All 32 rules at once: the bit set of the last one is right. */
START_TEST(all_rules_apply)
{
    struct flt_jsonedit *e = flt_jsonedit_new();
    struct flt_json_tok t[64];
    const char *doc = "{\"r0\":0,\"last\":1,\"k\":2}";
    char name[16], out[64];
    long n;
    int i;

    for (i = 0; i < FLT_JSONEDIT_MAX; i++) {
        snprintf(name, sizeof(name), "r%d", i);
        ck_assert_ptr_null(flt_jsonedit_remove(e, name));
    }
    for (i = 0; i < FLT_JSONEDIT_MAX - 1; i++) {
        snprintf(name, sizeof(name), "n%d: m", i);
        ck_assert_ptr_null(flt_jsonedit_rename(e, name));
    }
    ck_assert_ptr_null(flt_jsonedit_rename(e, "last: end"));
    n = flt_jsonedit_run(e, doc, strlen(doc), t, 64, out, sizeof(out));
    ck_assert_int_eq(n, (long)strlen("{\"end\":1,\"k\":2}"));
    ck_assert_int_eq(memcmp(out, "{\"end\":1,\"k\":2}", (size_t)n), 0);
    flt_jsonedit_free(e);
}
END_TEST

START_TEST(media_types)
{
    static const char *const yes[] = { "application/json", "Application/JSON",
        "application/json; charset=utf-8", " application/json ;charset=utf-8",
        "application/problem+json", "application/vnd.api+JSON; ext=x", "text/x+json" };
    static const char *const no[] = { "", "application/jsonp", "text/json5",
        "application/json x", "application/+json", "/json", "json", "text/plain",
        "application/x-json-stream", "application/json-patch" };
    size_t i;

    for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        ck_assert_msg(flt_jsonedit_type(yes[i], strlen(yes[i])), "%s", yes[i]);
    for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        ck_assert_msg(!flt_jsonedit_type(no[i], strlen(no[i])), "%s", no[i]);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("jsonedit");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, remove_first_middle_last);
    tcase_add_test(tc, blanks_are_kept);
    tcase_add_test(tc, nested_paths);
    tcase_add_test(tc, renames);
    tcase_add_test(tc, duplicates_all_edited);
    tcase_add_test(tc, not_edited);
    tcase_add_test(tc, output_too_small_says_how_much);
    tcase_add_test(tc, token_bound);
    tcase_add_test(tc, rules_refused);
    tcase_add_test(tc, all_rules_apply);
    tcase_add_test(tc, media_types);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
