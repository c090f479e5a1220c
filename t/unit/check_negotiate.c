/*
 * check_negotiate.c - the Negotiate module's parts that need no realm: the
 * credential's parsing (scheme, blanks, base64, size limits) and the
 * keytab errors at load (missing file, no keytab at all, KRB5_KTNAME), each
 * naming the file. Tickets themselves are
 * checked end to end (t/e2e/test_auth_negotiate.py, a real KDC).
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl/negotiate.h"

static int parse(const char *v, unsigned char *tok, size_t cap, size_t *len)
{
    struct sl_view view = { v, strlen(v) };

    return acl_negotiate_token(view, tok, cap, len);
}

START_TEST(token_parsing)
{
    static unsigned char tok[ACL_NEGOTIATE_TOKEN_MAX];
    size_t len = 0;
    char *big;
    size_t n;

    ck_assert_int_eq(parse("Negotiate YWJj", tok, sizeof(tok), &len), 1);
    ck_assert_uint_eq(len, 3);
    ck_assert(memcmp(tok, "abc", 3) == 0);
    ck_assert_int_eq(parse("negotiate \t YWJjZA==", tok, sizeof(tok), &len), 1);
    ck_assert_uint_eq(len, 4);
    /* other schemes are not ours */
    ck_assert_int_eq(parse("Basic YWJj", tok, sizeof(tok), &len), 0);
    ck_assert_int_eq(parse("NegotiateX YWJj", tok, sizeof(tok), &len), 0);
    ck_assert_int_eq(parse("NTLM TlRMTVNTUAAB", tok, sizeof(tok), &len), 0);
    /* ours, malformed */
    ck_assert_int_eq(parse("Negotiate", tok, sizeof(tok), &len), -1);
    ck_assert_int_eq(parse("Negotiate ", tok, sizeof(tok), &len), -1);
    ck_assert_int_eq(parse("Negotiate YWJ", tok, sizeof(tok), &len), -1);
    ck_assert_int_eq(parse("Negotiate YW!j", tok, sizeof(tok), &len), -1);
    ck_assert_int_eq(parse("Negotiate YWJj YWJj", tok, sizeof(tok), &len), -1);
    ck_assert_int_eq(parse("Negotiate YWJjZA", tok, sizeof(tok), &len), -1);
    /* the caller's room, and the module's limit */
    ck_assert_int_eq(parse("Negotiate YWJjZA==", tok, 3, &len), -1);
    n = ((ACL_NEGOTIATE_TOKEN_MAX + 3) / 3) * 4;
    big = malloc(10 + n + 1);
    ck_assert_ptr_nonnull(big);
    memcpy(big, "Negotiate ", 10);
    memset(big + 10, 'A', n);
    big[10 + n] = '\0';
    ck_assert_int_eq(parse(big, tok, sizeof(tok), &len), -1);
    /* just at the limit: accepted */
    big[10 + ACL_NEGOTIATE_TOKEN_MAX / 3 * 4] = '\0';
    ck_assert_int_eq(parse(big, tok, sizeof(tok), &len), 1);
    ck_assert_uint_eq(len, ACL_NEGOTIATE_TOKEN_MAX / 3 * 3);
    free(big);
}
END_TEST

START_TEST(keytab_errors_name_the_file)
{
    char err[1024];
    struct acl_negotiate *n;

    unsetenv("KRB5_KTNAME");
    n = acl_negotiate_new("/nonexistent/dir/HTTP.keytab", "HTTP/proxy.test@T.TEST", 0,
                          err, sizeof(err));
    ck_assert_ptr_null(n);
    ck_assert_msg(strstr(err, "/nonexistent/dir/HTTP.keytab") != NULL &&
                  strstr(err, "No such file") != NULL, "%s", err);
    n = acl_negotiate_new("FILE:/nonexistent/x.keytab", "*", 0, err, sizeof(err));
    ck_assert_ptr_null(n);
    ck_assert_msg(strstr(err, "keytab /nonexistent/x.keytab: No such file") != NULL,
                  "%s", err);
    /* no keytab at all */
    n = acl_negotiate_new(NULL, "HTTP/proxy.test@T.TEST", 0, err, sizeof(err));
    ck_assert_ptr_null(n);
    ck_assert_msg(strstr(err, "KRB5_KTNAME") != NULL, "%s", err);
    /* ... then from the environment */
    setenv("KRB5_KTNAME", "FILE:/nonexistent/env.keytab", 1);
    n = acl_negotiate_new(NULL, "HTTP/proxy.test@T.TEST", 0, err, sizeof(err));
    ck_assert_ptr_null(n);
    ck_assert_msg(strstr(err, "/nonexistent/env.keytab") != NULL, "%s", err);
    unsetenv("KRB5_KTNAME");
    /* (A file that is not a keytab goes to the library, whose failed
     * acquisition leaks a little in MIT krb5 1.20: checked end to end, in
     * t/e2e/test_auth_negotiate.py, where LeakSanitizer does not fail a
     * refused configuration.) */
    acl_negotiate_free(NULL);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("negotiate");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, token_parsing);
    tcase_add_test(tc, keytab_errors_name_the_file);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
