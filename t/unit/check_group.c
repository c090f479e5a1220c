/*
 * check_group.c - the ldap_group ACL's pure half (acl/group.h): RFC 4515
 * escaping (a hostile user name cannot widen a filter), filter templates
 * (checking, %u / %g / %u_dn expansion), and the answer cache (TTLs per
 * kind of answer, the LRU bound).
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl/group.h"

static const char *esc(const char *s)
{
    static char out[512];

    ck_assert_int_ge(acl_ldap_escape(s, strlen(s), out, sizeof(out)), 0);
    return out;
}

START_TEST(escape_rfc4515)
{
    char out[16];

    /* RFC 4515 section 4's examples */
    ck_assert_str_eq(esc("Parens R Us (for all your parenthetical needs)"),
                     "Parens\\20R\\20Us\\20\\28for\\20all\\20your\\20"
                     "parenthetical\\20needs\\29");
    ck_assert_str_eq(esc("*"), "\\2a");
    ck_assert_str_eq(esc("C:\\MyFile"), "C:\\5cMyFile");
    ck_assert_str_eq(esc("alice"), "alice");
    /* the attack: it stays one literal value */
    ck_assert_str_eq(esc("*)(uid=*"), "\\2a\\29\\28uid=\\2a");
    ck_assert_str_eq(esc("a\x01" "b"), "a\\01b");
    /* UTF-8 bytes are escaped too (valid either way, safer this way) */
    ck_assert_str_eq(esc("jos\xc3\xa9"), "jos\\c3\\a9");
    /* a NUL inside the value */
    ck_assert_int_eq(acl_ldap_escape("a\0b", 3, out, sizeof(out)), 5);
    ck_assert_str_eq(out, "a\\00b");
    /* no room: -ENOSPC, never a value cut inside an escape */
    ck_assert_int_eq(acl_ldap_escape("abc", 3, out, 3), -ENOSPC);
    ck_assert_str_eq(out, "");
    ck_assert_int_eq(acl_ldap_escape("(", 1, out, 3), -ENOSPC);
    ck_assert_int_eq(acl_ldap_escape("(", 1, out, 4), 3);
    ck_assert_int_eq(acl_ldap_escape("ab", 2, out, 3), 2);
}
END_TEST

START_TEST(filter_templates)
{
    static const char ad[] = "(&(objectClass=group)(cn=%g)(member=%u_dn))";
    static const char posix[] = "(&(objectClass=posixGroup)(cn=%g)(memberUid=%u))";
    char out[512], why[256];

    ck_assert_int_eq(acl_ldap_filter_check(ad, "g", why, sizeof(why)), 0);
    ck_assert_int_eq(acl_ldap_filter_check(posix, "g", why, sizeof(why)), 0);
    ck_assert_int_eq(acl_ldap_filter_check("(uid=%u)", "u", why, sizeof(why)), 0);
    ck_assert_int_eq(acl_ldap_filter_check("(cn=100\\25%%)", "", why, sizeof(why)), 0);
    ck_assert_int_eq(acl_ldap_filter_check("uid=%u", "u", why, sizeof(why)), -1);
    ck_assert_int_eq(acl_ldap_filter_check("(&(uid=%u)", "u", why, sizeof(why)), -1);
    ck_assert_ptr_nonnull(strstr(why, "unbalanced"));
    ck_assert_int_eq(acl_ldap_filter_check("(uid=%u))", "u", why, sizeof(why)), -1);
    ck_assert_int_eq(acl_ldap_filter_check("(uid=%u)(x=y)", "u", why, sizeof(why)), -1);
    ck_assert_int_eq(acl_ldap_filter_check("(uid=%s)", "", why, sizeof(why)), -1);
    ck_assert_ptr_nonnull(strstr(why, "placeholder"));
    ck_assert_int_eq(acl_ldap_filter_check("(uid=%)", "", why, sizeof(why)), -1);
    ck_assert_int_eq(acl_ldap_filter_check("(uid=a\\2)", "", why, sizeof(why)), -1);
    ck_assert_int_eq(acl_ldap_filter_check("(uid=a\\", "", why, sizeof(why)), -1);
    ck_assert_int_eq(acl_ldap_filter_check("(cn=x)", "g", why, sizeof(why)), -1);
    ck_assert_int_eq(acl_ldap_filter_check("(cn=%g)", "u", why, sizeof(why)), -1);
    ck_assert_int_eq(acl_ldap_filter_check("(cn=%u_dn)", "u", why, sizeof(why)), 0);

    ck_assert(acl_ldap_filter_wants_dn(ad));
    ck_assert(!acl_ldap_filter_wants_dn(posix));
    ck_assert(!acl_ldap_filter_wants_dn("(cn=%"));

    ck_assert_int_gt(acl_ldap_filter(posix, "alice", "staff", NULL, out, sizeof(out)), 0);
    ck_assert_str_eq(out, "(&(objectClass=posixGroup)(cn=staff)(memberUid=alice))");
    ck_assert_int_gt(acl_ldap_filter(ad, "alice", "Web Users",
                                     "cn=Alice (Sales),dc=corp", out, sizeof(out)), 0);
    ck_assert_str_eq(out, "(&(objectClass=group)(cn=Web\\20Users)"
                          "(member=cn=Alice\\20\\28Sales\\29,dc=corp))");
    /* the hostile user name stays inside its assertion */
    ck_assert_int_gt(acl_ldap_filter(posix, "*)(memberUid=*", "staff", NULL, out,
                                     sizeof(out)), 0);
    ck_assert_str_eq(out, "(&(objectClass=posixGroup)(cn=staff)"
                          "(memberUid=\\2a\\29\\28memberUid=\\2a))");
    ck_assert_int_eq(acl_ldap_filter("(cn=100%%)", "u", "g", NULL, out, sizeof(out)), 9);
    ck_assert_str_eq(out, "(cn=100%)");
    ck_assert_int_eq(acl_ldap_filter(ad, "alice", "staff", NULL, out, sizeof(out)),
                     -EINVAL);
    ck_assert_int_eq(acl_ldap_filter(posix, "alice", "staff", NULL, out, 20), -ENOSPC);
}
END_TEST

START_TEST(cache_ttls)
{
    struct acl_gcache *gc = acl_gcache_new(100, 300, 60, 10);
    struct acl_gcache_stats st;

    ck_assert_ptr_nonnull(gc);
    ck_assert_int_eq(acl_gcache_get(gc, "alice", "staff", 1000), ACL_GANS_NONE);
    ck_assert_int_eq(acl_gcache_put(gc, "alice", "staff", ACL_GANS_MEMBER, 1000), 0);
    ck_assert_int_eq(acl_gcache_put(gc, "alice", "interns", ACL_GANS_NOT, 1000), 0);
    ck_assert_int_eq(acl_gcache_put(gc, "bob", "staff", ACL_GANS_ERROR, 1000), 0);
    ck_assert_int_eq(acl_gcache_get(gc, "alice", "staff", 1009), ACL_GANS_MEMBER);
    ck_assert_int_eq(acl_gcache_get(gc, "alice", "interns", 1009), ACL_GANS_NOT);
    ck_assert_int_eq(acl_gcache_get(gc, "bob", "staff", 1009), ACL_GANS_ERROR);
    /* the user and the group are one key, not a concatenation */
    ck_assert_int_eq(acl_gcache_get(gc, "alices", "taff", 1009), ACL_GANS_NONE);
    ck_assert_int_eq(acl_gcache_get(gc, "Alice", "staff", 1009), ACL_GANS_NONE);
    /* each kind of answer its own TTL */
    ck_assert_int_eq(acl_gcache_get(gc, "bob", "staff", 1010), ACL_GANS_NONE);
    ck_assert_int_eq(acl_gcache_get(gc, "alice", "interns", 1059), ACL_GANS_NOT);
    ck_assert_int_eq(acl_gcache_get(gc, "alice", "interns", 1060), ACL_GANS_NONE);
    ck_assert_int_eq(acl_gcache_get(gc, "alice", "staff", 1299), ACL_GANS_MEMBER);
    ck_assert_int_eq(acl_gcache_get(gc, "alice", "staff", 1300), ACL_GANS_NONE);
    acl_gcache_stats(gc, &st);
    ck_assert_uint_eq(st.n, 0);
    ck_assert_uint_eq(st.hits, 5);
    /* a new answer replaces the old one (and its expiry) */
    ck_assert_int_eq(acl_gcache_put(gc, "bob", "staff", ACL_GANS_ERROR, 2000), 0);
    ck_assert_int_eq(acl_gcache_put(gc, "bob", "staff", ACL_GANS_MEMBER, 2005), 0);
    ck_assert_int_eq(acl_gcache_get(gc, "bob", "staff", 2100), ACL_GANS_MEMBER);
    acl_gcache_stats(gc, &st);
    ck_assert_uint_eq(st.n, 1);
    /* bad input */
    ck_assert_int_eq(acl_gcache_put(gc, "bob", "staff", ACL_GANS_NONE, 0), -EINVAL);
    {
        char longname[ACL_GROUP_USER_MAX + 2];

        memset(longname, 'x', sizeof(longname) - 1);
        longname[sizeof(longname) - 1] = '\0';
        ck_assert_int_eq(acl_gcache_put(gc, longname, "staff", ACL_GANS_MEMBER, 0),
                         -EINVAL);
        ck_assert_int_eq(acl_gcache_get(gc, longname, "staff", 0), ACL_GANS_NONE);
    }
    acl_gcache_free(gc);
    acl_gcache_free(NULL);
    ck_assert_ptr_null(acl_gcache_new(0, 1, 1, 1));
}
END_TEST

START_TEST(cache_lru_bound)
{
    struct acl_gcache *gc = acl_gcache_new(3, 300, 300, 300);
    struct acl_gcache_stats st;
    char user[16];
    int i;

    ck_assert_int_eq(acl_gcache_put(gc, "u0", "g", ACL_GANS_MEMBER, 0), 0);
    ck_assert_int_eq(acl_gcache_put(gc, "u1", "g", ACL_GANS_MEMBER, 0), 0);
    ck_assert_int_eq(acl_gcache_put(gc, "u2", "g", ACL_GANS_MEMBER, 0), 0);
    /* u0 used: u1 is now the least recently used */
    ck_assert_int_eq(acl_gcache_get(gc, "u0", "g", 1), ACL_GANS_MEMBER);
    ck_assert_int_eq(acl_gcache_put(gc, "u3", "g", ACL_GANS_NOT, 1), 0);
    ck_assert_int_eq(acl_gcache_get(gc, "u1", "g", 1), ACL_GANS_NONE);
    ck_assert_int_eq(acl_gcache_get(gc, "u0", "g", 1), ACL_GANS_MEMBER);
    ck_assert_int_eq(acl_gcache_get(gc, "u2", "g", 1), ACL_GANS_MEMBER);
    ck_assert_int_eq(acl_gcache_get(gc, "u3", "g", 1), ACL_GANS_NOT);
    /* many more keys than room: never more than max */
    for (i = 0; i < 1000; i++) {
        snprintf(user, sizeof(user), "x%d", i);
        ck_assert_int_eq(acl_gcache_put(gc, user, "g", ACL_GANS_MEMBER, 2), 0);
    }
    acl_gcache_stats(gc, &st);
    ck_assert_uint_eq(st.n, 3);
    ck_assert_uint_eq(st.max, 3);
    ck_assert_uint_eq(st.evictions, 1001);
    ck_assert_int_eq(acl_gcache_get(gc, "x999", "g", 2), ACL_GANS_MEMBER);
    ck_assert_int_eq(acl_gcache_get(gc, "x997", "g", 2), ACL_GANS_MEMBER);
    ck_assert_int_eq(acl_gcache_get(gc, "x996", "g", 2), ACL_GANS_NONE);
    acl_gcache_free(gc);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("group");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, escape_rfc4515);
    tcase_add_test(tc, filter_templates);
    tcase_add_test(tc, cache_ttls);
    tcase_add_test(tc, cache_lru_bound);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
