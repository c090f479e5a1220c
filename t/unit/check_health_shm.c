/*
 * check_health_shm.c - the health checks' shared verdicts
 * (squidlike/health_shm.h): keyed by names (a reordered backend list finds
 * each one's entry), a verdict written in one process is read in another
 * once, a full neighbourhood says so (-1) and a stale entry is taken.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "squidlike/health_shm.h"

START_TEST(keyed_by_names)
{
    struct sl_hshm *t = sl_hshm_new();
    int a, b, c;

    ck_assert_ptr_nonnull(t);
    a = sl_hshm_find(t, sl_hshm_key("app", "10.0.0.1:80"), 1000);
    b = sl_hshm_find(t, sl_hshm_key("app", "10.0.0.2:80"), 1000);
    c = sl_hshm_find(t, sl_hshm_key("api", "10.0.0.1:80"), 1000);
    ck_assert_int_ge(a, 0);
    ck_assert_int_ge(b, 0);
    ck_assert_int_ge(c, 0);
    ck_assert_int_ne(a, b);
    ck_assert_int_ne(a, c);
    /* asked again (another worker, another order): the same entries */
    ck_assert_int_eq(sl_hshm_find(t, sl_hshm_key("api", "10.0.0.1:80"), 2000), c);
    ck_assert_int_eq(sl_hshm_find(t, sl_hshm_key("app", "10.0.0.1:80"), 2000), a);
    /* names apart however they are cut */
    ck_assert_uint_ne(sl_hshm_key("ap", "p10.0.0.1:80"), sl_hshm_key("app", "10.0.0.1:80"));
    sl_hshm_free(t);
}
END_TEST

START_TEST(written_in_one_process_read_in_another)
{
    struct sl_hshm *t = sl_hshm_new();
    struct sl_backend_health w, r;
    uint64_t seq = 0;
    int e = sl_hshm_find(t, sl_hshm_key("app", "b1"), 1000), st;
    pid_t pid;

    ck_assert_int_ge(e, 0);
    /* never written: nothing to read */
    ck_assert_int_eq(sl_hshm_get(t, e, &seq, &r), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        memset(&w, 0, sizeof(w));
        w.healthy = 0;
        w.fall = 0;
        w.checks = 7;
        w.check_failures = 3;
        w.last_check_ms = 1234;
        snprintf(w.last_check_why, sizeof(w.last_check_why), "status 503");
        sl_hshm_put(t, e, &w, 1234);
        _exit(0);
    }
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    memset(&r, 0xff, sizeof(r));
    ck_assert_int_eq(sl_hshm_get(t, e, &seq, &r), 1);
    ck_assert_int_eq(r.healthy, 0);
    ck_assert_uint_eq(r.checks, 7);
    ck_assert_uint_eq(r.check_failures, 3);
    ck_assert_int_eq(r.last_check_ms, 1234);
    ck_assert_str_eq(r.last_check_why, "status 503");
    /* read once: nothing new until the next write */
    ck_assert_int_eq(sl_hshm_get(t, e, &seq, &r), 0);
    r.healthy = 1;
    sl_hshm_put(t, e, &r, 2000);
    memset(&w, 0, sizeof(w));
    ck_assert_int_eq(sl_hshm_get(t, e, &seq, &w), 1);
    ck_assert_int_eq(w.healthy, 1);
    /* out of range: nothing */
    ck_assert_int_eq(sl_hshm_get(t, -1, &seq, &w), 0);
    ck_assert_int_eq(sl_hshm_get(t, SL_HSHM_ENTRIES, &seq, &w), 0);
    sl_hshm_free(t);
}
END_TEST

/* Keys that all land on one slot fill its neighbourhood: then -1 (the
 * backend is checked per worker), until an entry goes stale. */
START_TEST(full_then_stale_taken)
{
    struct sl_hshm *t = sl_hshm_new();
    struct sl_backend_health hh;
    uint64_t k, keys[SL_HSHM_PROBES + 1];
    char name[32];
    int n = 0, i, e0 = -1;

    memset(&hh, 0, sizeof(hh));
    for (i = 0; n <= SL_HSHM_PROBES && i < 10000000; i++) {
        snprintf(name, sizeof(name), "b%d", i);
        k = sl_hshm_key("p", name);
        if (k % SL_HSHM_ENTRIES == 17)
            keys[n++] = k;
    }
    ck_assert_int_eq(n, SL_HSHM_PROBES + 1);
    for (i = 0; i < SL_HSHM_PROBES; i++) {
        int e = sl_hshm_find(t, keys[i], 1000 + i);
        ck_assert_int_ge(e, 0);
        if (i == 0)
            e0 = e;
        else
            sl_hshm_put(t, e, &hh, 1000 + i);
    }
    ck_assert_int_eq(sl_hshm_find(t, keys[SL_HSHM_PROBES], 5000), -1);
    /* an hour later the oldest entry (written at 1000) goes to the new key */
    ck_assert_int_eq(sl_hshm_find(t, keys[SL_HSHM_PROBES], 1000 + SL_HSHM_STALE_MS + 1), e0);
    sl_hshm_free(t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("health_shm");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, keyed_by_names);
    tcase_add_test(tc, written_in_one_process_read_in_another);
    tcase_add_test(tc, full_then_stale_taken);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
