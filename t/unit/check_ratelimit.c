/*
 * check_ratelimit.c - token buckets (acl/ratelimit.h): bursts, the
 * sustained rate, Retry-After, independence of keys and policies, slow
 * rates, and the fixed table when there are more keys than slots.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "acl/ratelimit.h"

static const struct acl_rl_policy ten_per_s = { 1, 10, 1000, 5 };

static int take(struct acl_rl *t, const struct acl_rl_policy *p, const char *key,
                int64_t now, struct acl_rl_verdict *v)
{
    acl_rl_take(t, p, key, strlen(key), now, 1, v);
    return v->allowed;
}

START_TEST(burst_then_refuse_then_refill)
{
    struct acl_rl *t = acl_rl_new(1024, 42);
    struct acl_rl_verdict v;
    int i;

    for (i = 0; i < 5; i++) {
        ck_assert_msg(take(t, &ten_per_s, "10.0.0.1", 1000, &v), "request %d refused", i);
        ck_assert_uint_eq(v.remaining, (uint64_t)(4 - i));
    }
    ck_assert(!take(t, &ten_per_s, "10.0.0.1", 1000, &v));
    ck_assert_int_eq(v.retry_after_ms, 100);    /* one token per 100 ms */
    ck_assert_int_eq(v.full_in_ms, 500);
    ck_assert(!take(t, &ten_per_s, "10.0.0.1", 1099, &v));
    ck_assert_int_eq(v.retry_after_ms, 1);
    ck_assert(take(t, &ten_per_s, "10.0.0.1", 1100, &v));
    ck_assert_uint_eq(v.remaining, 0);
    /* A refused request takes nothing: after 500 ms the bucket is full. */
    for (i = 0; i < 5; i++)
        ck_assert(take(t, &ten_per_s, "10.0.0.1", 1600, &v));
    ck_assert(!take(t, &ten_per_s, "10.0.0.1", 1600, &v));
    acl_rl_free(t);
}
END_TEST

START_TEST(sustained_rate)
{
    struct acl_rl *t = acl_rl_new(1024, 7);
    struct acl_rl_verdict v;
    int64_t now;
    int allowed = 0;

    /* 100 requests per second offered for 10 s, 10 per second let through
     * after the burst of 5. */
    for (now = 0; now < 10000; now += 10)
        allowed += take(t, &ten_per_s, "k", now, &v);
    ck_assert_int_ge(allowed, 5 + 99);
    ck_assert_int_le(allowed, 5 + 100);
    acl_rl_free(t);
}
END_TEST

START_TEST(keys_and_policies_apart)
{
    struct acl_rl *t = acl_rl_new(1024, 1);
    struct acl_rl_policy other = ten_per_s;
    struct acl_rl_verdict v;
    int i;

    other.id = 2;
    for (i = 0; i < 5; i++)
        ck_assert(take(t, &ten_per_s, "a", 0, &v));
    ck_assert(!take(t, &ten_per_s, "a", 0, &v));
    ck_assert(take(t, &ten_per_s, "b", 0, &v));     /* another client */
    ck_assert(take(t, &other, "a", 0, &v));         /* another policy */
    ck_assert_uint_eq(v.remaining, 4);
    acl_rl_free(t);
}
END_TEST

START_TEST(slow_rate_keeps_its_precision)
{
    struct acl_rl *t = acl_rl_new(64, 3);
    const struct acl_rl_policy hourly = { 9, 1, 3600 * 1000LL, 1 };
    struct acl_rl_verdict v;

    ck_assert(take(t, &hourly, "k", 0, &v));
    ck_assert(!take(t, &hourly, "k", 1, &v));
    ck_assert_int_eq(v.retry_after_ms, 3600 * 1000LL - 1);
    ck_assert(take(t, &hourly, "k", 3600 * 1000LL, &v));
    /* and a fast one: a million per second, burst 1000 */
    {
        const struct acl_rl_policy fast = { 10, 1000000, 1000, 1000 };
        int i, ok = 0;

        for (i = 0; i < 2000; i++)
            ok += take(t, &fast, "f", 5000000, &v);
        ck_assert_int_eq(ok, 1000);
        ck_assert(take(t, &fast, "f", 5000001, &v));    /* 1000 more per ms */
    }
    acl_rl_free(t);
}
END_TEST

START_TEST(more_keys_than_slots)
{
    struct acl_rl *t = acl_rl_new(1, 5);            /* 64 slots */
    struct acl_rl_verdict v;
    struct acl_rl_stats st;
    char key[32];
    int i, refused = 0;

    acl_rl_get_stats(t, &st);
    ck_assert_uint_eq(st.capacity, ACL_RL_MIN_ENTRIES);
    /* 1000 clients, each a burst of 6: the table holds 64; evicted
     * buckets loosen the limit for their key only, and are counted. */
    for (i = 0; i < 1000; i++) {
        int k;
        snprintf(key, sizeof(key), "client-%d", i);
        for (k = 0; k < 6; k++)
            refused += !take(t, &ten_per_s, key, 0, &v);
    }
    acl_rl_get_stats(t, &st);
    ck_assert_uint_le(st.entries, st.capacity);
    ck_assert_uint_gt(st.evicted, 0);
    ck_assert_int_gt(refused, 0);
    /* When every bucket is full again (each request 100 ms after the
     * last, one token's time), new keys take those slots: nothing more is
     * evicted, however many keys come. */
    {
        unsigned long long before = st.evicted;
        for (i = 0; i < 1000; i++) {
            snprintf(key, sizeof(key), "late-%d", i);
            ck_assert(take(t, &ten_per_s, key, 60000 + 100 * (int64_t)i, &v));
        }
        acl_rl_get_stats(t, &st);
        ck_assert_uint_eq(st.evicted, before);
    }
    acl_rl_free(t);
}
END_TEST

START_TEST(a_dry_run_takes_nothing)
{
    struct acl_rl *t = acl_rl_new(64, 11);
    struct acl_rl_verdict v;
    int i;

    for (i = 0; i < 20; i++) {
        acl_rl_take(t, &ten_per_s, "k", 1, 0, 0, &v);
        ck_assert(v.allowed);
        ck_assert_uint_eq(v.remaining, 4);
    }
    for (i = 0; i < 5; i++)
        ck_assert(take(t, &ten_per_s, "k", 0, &v));
    acl_rl_take(t, &ten_per_s, "k", 1, 0, 0, &v);
    ck_assert(!v.allowed);
    ck_assert_int_eq(v.retry_after_ms, 100);
    acl_rl_free(t);
}
END_TEST

/* A table in memory that processes share (the workers', made before they
 * fork): what one process takes, another sees. */
START_TEST(a_table_in_shared_memory)
{
    size_t size = acl_rl_size(1000);
    void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    struct acl_rl *t;
    struct acl_rl_verdict v;
    struct acl_rl_stats st;
    pid_t pid;
    int s;

    ck_assert_ptr_ne(mem, MAP_FAILED);
    ck_assert_uint_eq(size, acl_rl_size(1024));     /* rounded up as acl_rl_new */
    ck_assert_ptr_null(acl_rl_init(mem, size - 1, 1000, 9));
    t = acl_rl_init(mem, size, 1000, 9);
    ck_assert_ptr_eq(t, mem);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int i, ok = 1;

        for (i = 0; i < 3; i++)
            ok &= take(t, &ten_per_s, "10.0.0.1", 1000, &v);
        _exit(ok ? 0 : 1);
    }
    ck_assert_int_eq(waitpid(pid, &s, 0), pid);
    ck_assert(WIFEXITED(s) && WEXITSTATUS(s) == 0);
    /* the child took 3 of the burst of 5 */
    ck_assert(take(t, &ten_per_s, "10.0.0.1", 1000, &v));
    ck_assert_uint_eq(v.remaining, 1);
    ck_assert(take(t, &ten_per_s, "10.0.0.1", 1000, &v));
    ck_assert(!take(t, &ten_per_s, "10.0.0.1", 1000, &v));
    acl_rl_get_stats(t, &st);
    ck_assert_uint_eq(st.entries, 1);
    ck_assert_uint_eq(st.capacity, 1024);
    munmap(mem, size);
}
END_TEST

START_TEST(seed_changes_placement)
{
    /* Same keys, two seeds: the refusals follow the key, not the slot. */
    struct acl_rl *a = acl_rl_new(64, 1), *b = acl_rl_new(64, 2);
    struct acl_rl_verdict va, vb;
    int i;

    for (i = 0; i < 5; i++) {
        ck_assert(take(a, &ten_per_s, "x", 0, &va));
        ck_assert(take(b, &ten_per_s, "x", 0, &vb));
    }
    ck_assert(!take(a, &ten_per_s, "x", 0, &va));
    ck_assert(!take(b, &ten_per_s, "x", 0, &vb));
    acl_rl_free(a);
    acl_rl_free(b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ratelimit");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, burst_then_refuse_then_refill);
    tcase_add_test(tc, sustained_rate);
    tcase_add_test(tc, keys_and_policies_apart);
    tcase_add_test(tc, slow_rate_keeps_its_precision);
    tcase_add_test(tc, more_keys_than_slots);
    tcase_add_test(tc, a_dry_run_takes_nothing);
    tcase_add_test(tc, seed_changes_placement);
    tcase_add_test(tc, a_table_in_shared_memory);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
