/*
 * check_ldapq.c - the ldap_group lookups' bookkeeping (squidlike/ldapq.h),
 * against a directory that refuses connections (127.0.0.1 port 1): the
 * lookups fail fast and for real through libldap. Waiters for one user
 * and ACL share one lookup; each gets its callback once, on the loop; a
 * cancelled waiter gets none while the lookup still fills the cache; the
 * snapshot is referenced while a lookup runs; what cannot be looked up is
 * refused at once without a callback.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acl/group.h"
#include "squidlike/conf.h"
#include "squidlike/ldapq.h"
#include "squidlike/loop.h"

static struct sl_loop *L;
static struct sl_ldap *Q;
static struct sl_conf *C;
static char dir[64];

struct waiter {
    struct sl_ldap_waiter w;
    int calls;
};

static void on_answer(struct sl_ldap_waiter *w)
{
    struct waiter *x = (struct waiter *)w;

    ck_assert_ptr_null(w->job);         /* no longer waiting when called */
    x->calls++;
}

static void waiter_init(struct waiter *x)
{
    memset(x, 0, sizeof(*x));
    x->w.cb = on_answer;
    x->w.data = x;
}

static void on_poll(struct sl_timer *t)
{
    struct sl_ldap_stats st;

    sl_ldap_get_stats(Q, &st);
    if (st.in_flight == 0)
        sl_loop_stop(L);
    else
        sl_timer_set(L, t, 5);
}

static void on_deadline(struct sl_timer *t)
{
    (void)t;
    ck_abort_msg("the lookups did not end within 20 s");
}

/* Run the loop until no lookup is in flight. */
static void run_until_idle(void)
{
    struct sl_timer poll, deadline;

    memset(&poll, 0, sizeof(poll));
    memset(&deadline, 0, sizeof(deadline));
    poll.cb = on_poll;
    deadline.cb = on_deadline;
    sl_timer_set(L, &poll, 5);
    sl_timer_set(L, &deadline, 20000);
    ck_assert_int_eq(sl_loop_run(L), 0);
    sl_timer_stop(L, &poll);
    sl_timer_stop(L, &deadline);
}

static void write_file(const char *name, const char *text)
{
    char path[128];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static void setup(void)
{
    char path[128], err[SL_CONF_ERR_MAX], conf[1024];

    snprintf(dir, sizeof(dir), "/tmp/check_ldapq.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    write_file("passwd", "alice:$6$x$y\n");
    snprintf(conf, sizeof(conf),
             "auth: { file = \"%s/passwd\"; };\n"
             "ldap: { uri = \"ldap://127.0.0.1:1/\"; base_dn = \"dc=x\"; "
             "timeout = \"2s\"; threads = 2; };\n"
             "acls = ( { name = \"staff\"; type = \"ldap_group\"; "
             "values = [ \"Staff\", \"Admins\" ]; },\n"
             "         { name = \"other\"; type = \"ldap_group\"; "
             "values = [ \"Other\" ]; } );\n"
             "http_access = [ \"allow staff\", \"allow other\" ];\n", dir);
    write_file("squidlike.conf", conf);
    snprintf(path, sizeof(path), "%s/squidlike.conf", dir);
    C = sl_conf_load(path, err, sizeof(err));
    ck_assert_msg(C != NULL, "%s", err);
    L = sl_loop_new();
    ck_assert_ptr_nonnull(L);
    Q = sl_ldap_new(L);
    ck_assert_ptr_nonnull(Q);
}

static void teardown(void)
{
    char path[128];

    sl_ldap_free(Q);
    sl_loop_free(L);
    ck_assert_int_eq(C->refs, 1);       /* every lookup let go of it */
    sl_conf_unref(C);
    snprintf(path, sizeof(path), "%s/passwd", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/squidlike.conf", dir);
    unlink(path);
    rmdir(dir);
}

static void groups_of(const char *acl, const char *const **v, size_t *n)
{
    ck_assert_int_eq(acl_set_groups(C->policy.acls, acl, v, n), 0);
}

START_TEST(waiters_share_one_lookup)
{
    struct waiter a, b, c;
    struct sl_ldap_stats st;
    const char *const *v, *const *o;
    size_t n, no;

    groups_of("staff", &v, &n);
    groups_of("other", &o, &no);
    waiter_init(&a);
    waiter_init(&b);
    waiter_init(&c);
    ck_assert_int_eq(sl_ldap_lookup(Q, C, "alice", v, n, 1000, &a.w), 0);
    ck_assert_int_eq(sl_ldap_lookup(Q, C, "alice", v, n, 1000, &b.w), 0);
    ck_assert_ptr_eq(a.w.job, b.w.job);
    /* another ACL: another lookup */
    ck_assert_int_eq(sl_ldap_lookup(Q, C, "alice", o, no, 1000, &c.w), 0);
    ck_assert_ptr_ne(a.w.job, c.w.job);
    ck_assert_int_eq(a.calls + b.calls + c.calls, 0);  /* never from inside */
    ck_assert_int_eq(C->refs, 3);
    run_until_idle();
    ck_assert_int_eq(a.calls, 1);
    ck_assert_int_eq(b.calls, 1);
    ck_assert_int_eq(c.calls, 1);
    sl_ldap_get_stats(Q, &st);
    ck_assert_uint_eq(st.lookups, 2);
    ck_assert_uint_eq(st.shared, 1);
    ck_assert_uint_eq(st.errors, 2);            /* nobody listens on port 1 */
    ck_assert_uint_eq(st.searches, 0);
    ck_assert_uint_eq(st.warnings_suppressed, 1);   /* one line for both */
    /* the failure is remembered for every group of both ACLs */
    ck_assert_int_eq(acl_gcache_get(C->ldap.cache, "alice", "Staff", 1001), ACL_GANS_ERROR);
    ck_assert_int_eq(acl_gcache_get(C->ldap.cache, "alice", "Admins", 1001), ACL_GANS_ERROR);
    ck_assert_int_eq(acl_gcache_get(C->ldap.cache, "alice", "Other", 1001), ACL_GANS_ERROR);
    /* known now (as errors): nothing to look up, no callback */
    ck_assert_int_eq(sl_ldap_lookup(Q, C, "alice", v, n, 1001, &a.w), -EINVAL);
    ck_assert_ptr_null(a.w.job);
    /* error_ttl (10 s) later they are asked again */
    ck_assert_int_eq(sl_ldap_lookup(Q, C, "alice", v, n, 1011, &a.w), 0);
    run_until_idle();
    ck_assert_int_eq(a.calls, 2);
}
END_TEST

START_TEST(cancelled_waiters_hear_nothing)
{
    struct waiter a, b, c;
    struct sl_ldap_stats st;
    const char *const *v;
    size_t n;

    groups_of("staff", &v, &n);
    waiter_init(&a);
    waiter_init(&b);
    waiter_init(&c);
    ck_assert_int_eq(sl_ldap_lookup(Q, C, "alice", v, n, 1000, &a.w), 0);
    ck_assert_int_eq(sl_ldap_lookup(Q, C, "alice", v, n, 1000, &b.w), 0);
    ck_assert_int_eq(sl_ldap_lookup(Q, C, "bob", v, n, 1000, &c.w), 0);
    sl_ldap_cancel(&a.w);               /* one of two: b still hears */
    sl_ldap_cancel(&c.w);               /* the only one: the lookup goes on */
    sl_ldap_cancel(&c.w);               /* twice: nothing */
    ck_assert_ptr_null(a.w.job);
    ck_assert_ptr_null(c.w.job);
    run_until_idle();
    ck_assert_int_eq(a.calls, 0);
    ck_assert_int_eq(b.calls, 1);
    ck_assert_int_eq(c.calls, 0);
    ck_assert_int_eq(acl_gcache_get(C->ldap.cache, "bob", "Staff", 1001), ACL_GANS_ERROR);
    sl_ldap_get_stats(Q, &st);
    ck_assert_uint_eq(st.in_flight, 0);
}
END_TEST

/* The pool freed (the server going away) under lookups in flight: their
 * waiters hear nothing, the snapshot is let go (teardown checks). */
START_TEST(freed_under_lookups)
{
    struct waiter a;
    const char *const *v;
    size_t n;

    groups_of("staff", &v, &n);
    waiter_init(&a);
    ck_assert_int_eq(sl_ldap_lookup(Q, C, "alice", v, n, 1000, &a.w), 0);
    sl_ldap_cancel(&a.w);
    sl_ldap_free(Q);
    Q = NULL;
    ck_assert_int_eq(a.calls, 0);
}
END_TEST

START_TEST(refused_at_once)
{
    char longname[ACL_GROUP_USER_MAX + 2];
    struct sl_conf_ldap saved;
    struct waiter a;
    const char *const *v;
    size_t n;

    groups_of("staff", &v, &n);
    waiter_init(&a);
    memset(longname, 'x', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    ck_assert_int_eq(sl_ldap_lookup(Q, C, longname, v, n, 1000, &a.w), -EINVAL);
    saved = C->ldap;
    C->ldap.n_uris = 0;                 /* no ldap group */
    ck_assert_int_eq(sl_ldap_lookup(Q, C, "alice", v, n, 1000, &a.w), -EINVAL);
    C->ldap = saved;
    ck_assert_ptr_null(a.w.job);
    ck_assert_int_eq(a.calls, 0);
    ck_assert_int_eq(C->refs, 1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ldapq");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, waiters_share_one_lookup);
    tcase_add_test(tc, cancelled_waiters_hear_nothing);
    tcase_add_test(tc, freed_under_lookups);
    tcase_add_test(tc, refused_at_once);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
