/*
 * check_inflight.c - the shared table of fetches in flight: claim, join,
 * the states a waiter sees, complete (a hint of the store), pass, abort,
 * an owner that died, a full window, the window wrapping at the end of
 * the table, a second hash that keeps two keys apart, and a process killed
 * while it holds the lock (the next one goes on).
 */
#include "config.h"

#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cache/inflight.h"

static void *mem;
static size_t memlen;
static struct cache_infl *t;
static int64_t dead_pid;        /* the one pid alive() says is gone */

static int alive(int64_t pid)
{
    return pid != dead_pid;
}

static void make(uint32_t nslots)
{
    memlen = cache_infl_size(nslots);
    mem = mmap(NULL, memlen, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(mem, MAP_FAILED);
    t = cache_infl_init(mem, nslots);
    ck_assert_ptr_nonnull(t);
    dead_pid = -1;
}

static void teardown(void)
{
    if (mem != NULL)
        munmap(mem, memlen);
    mem = NULL;
}

static struct cache_infl_key key(uint64_t h1, uint64_t h2)
{
    struct cache_infl_key k = { h1, h2, CACHE_INFL_MISS };

    return k;
}

static int state_of(const struct cache_infl_ticket *tk)
{
    struct cache_infl_view v;

    cache_infl_poll(t, tk, &v);
    return v.state;
}

START_TEST(claim_then_join)
{
    struct cache_infl_key k = key(42, 7);
    struct cache_infl_ticket a, b;
    struct cache_infl_view v;

    make(CACHE_INFL_SLOTS);
    ck_assert_int_eq(cache_infl_claim(t, &k, 100, 1000, alive, 0, &a), CACHE_INFL_LEAD);
    ck_assert_uint_ne(a.seq, 0);
    ck_assert_int_eq(cache_infl_claim(t, &k, 200, 1001, alive, 0, &b), CACHE_INFL_JOIN);
    ck_assert_uint_eq(b.slot, a.slot);
    ck_assert_uint_eq(b.seq, a.seq);
    cache_infl_poll(t, &b, &v);
    ck_assert_int_eq(v.state, CACHE_INFL_PENDING);
    ck_assert_int_eq(v.pid, 100);
    ck_assert_int_eq(v.started_ms, 1000);
    /* the owner stores: the waiter sees it go */
    ck_assert_int_eq(cache_infl_set(t, &a, CACHE_INFL_STREAMING, 0), 0);
    cache_infl_progress(t, &a, 65536);
    cache_infl_poll(t, &b, &v);
    ck_assert_int_eq(v.state, CACHE_INFL_STREAMING);
    ck_assert_int_eq(v.progress, 65536);
    ck_assert_int_eq(cache_infl_set(t, &a, CACHE_INFL_ENDED, 0), 0);
    ck_assert_int_eq(state_of(&b), CACHE_INFL_ENDED);
    /* a third one still joins while it is being committed */
    ck_assert_int_eq(cache_infl_claim(t, &k, 300, 1002, alive, 0, &b), CACHE_INFL_JOIN);
}
END_TEST

START_TEST(second_hash_keeps_keys_apart)
{
    struct cache_infl_key k1 = key(42, 7), k2 = key(42, 8), k3 = k1;
    struct cache_infl_ticket a, b, c;

    make(CACHE_INFL_SLOTS);
    k3.kind = CACHE_INFL_REVAL;
    ck_assert_int_eq(cache_infl_claim(t, &k1, 100, 1000, alive, 0, &a), CACHE_INFL_LEAD);
    ck_assert_int_eq(cache_infl_claim(t, &k2, 100, 1000, alive, 0, &b), CACHE_INFL_LEAD);
    ck_assert_uint_ne(a.slot, b.slot);
    /* a revalidation of the URL is not its miss */
    ck_assert_int_eq(cache_infl_claim(t, &k3, 100, 1000, alive, 0, &c), CACHE_INFL_LEAD);
    ck_assert_uint_ne(c.slot, a.slot);
    ck_assert_uint_ne(c.slot, b.slot);
}
END_TEST

START_TEST(done_is_a_hint_of_the_store)
{
    struct cache_infl_key k = key(5, 5);
    struct cache_infl_ticket a, b, w;

    make(CACHE_INFL_SLOTS);
    ck_assert_int_eq(cache_infl_claim(t, &k, 100, 1000, alive, 0, &a), CACHE_INFL_LEAD);
    ck_assert_int_eq(cache_infl_claim(t, &k, 200, 1000, alive, 0, &w), CACHE_INFL_JOIN);
    ck_assert_int_eq(cache_infl_set(t, &a, CACHE_INFL_DONE, 3000), 0);
    ck_assert_int_eq(state_of(&w), CACHE_INFL_DONE);
    /* a miss that looked before the commit: look again */
    ck_assert_int_eq(cache_infl_claim(t, &k, 300, 2000, alive, 0, &b), CACHE_INFL_STORED);
    /* ... and when the store had not got it (another variant): fetch */
    ck_assert_int_eq(cache_infl_claim(t, &k, 300, 2000, alive, CACHE_INFL_AGAIN, &b),
                     CACHE_INFL_LEAD);
    ck_assert_uint_eq(b.slot, a.slot);
    ck_assert_uint_ne(b.seq, a.seq);
    /* the old claim's waiter sees its slot taken; its owner changes nothing */
    ck_assert_int_eq(state_of(&w), CACHE_INFL_GONE);
    ck_assert_int_eq(cache_infl_set(t, &a, CACHE_INFL_ABORTED, 0), -1);
    ck_assert_int_eq(state_of(&b), CACHE_INFL_PENDING);
    /* an expired hint is taken over without AGAIN */
    ck_assert_int_eq(cache_infl_set(t, &b, CACHE_INFL_DONE, 3000), 0);
    ck_assert_int_eq(cache_infl_claim(t, &k, 400, 3000, alive, 0, &a), CACHE_INFL_LEAD);
}
END_TEST

START_TEST(peek_joins_but_never_leads)
{
    struct cache_infl_key k = key(21, 22);
    struct cache_infl_ticket a, b;

    make(CACHE_INFL_SLOTS);
    ck_assert_int_eq(cache_infl_claim(t, &k, 200, 1000, alive, CACHE_INFL_PEEK, &b),
                     CACHE_INFL_GO);
    /* it took nothing: the next claim leads */
    ck_assert_int_eq(cache_infl_claim(t, &k, 100, 1000, alive, 0, &a), CACHE_INFL_LEAD);
    ck_assert_int_eq(cache_infl_claim(t, &k, 200, 1000, alive, CACHE_INFL_PEEK, &b),
                     CACHE_INFL_JOIN);
    ck_assert_uint_eq(b.seq, a.seq);
    ck_assert_int_eq(cache_infl_set(t, &a, CACHE_INFL_DONE, 3000), 0);
    ck_assert_int_eq(cache_infl_claim(t, &k, 200, 1000, alive, CACHE_INFL_PEEK, &b),
                     CACHE_INFL_STORED);
    /* not in the store after all: a peek does not take it over */
    ck_assert_int_eq(cache_infl_claim(t, &k, 200, 1000, alive,
                                      CACHE_INFL_PEEK | CACHE_INFL_AGAIN, &b), CACHE_INFL_GO);
    ck_assert_int_eq(state_of(&a), CACHE_INFL_DONE);
    /* a dead owner is not taken over by a peek either */
    ck_assert_int_eq(cache_infl_claim(t, &k, 100, 1000, alive, CACHE_INFL_AGAIN, &a),
                     CACHE_INFL_LEAD);
    dead_pid = 100;
    ck_assert_int_eq(cache_infl_claim(t, &k, 200, 1000, alive, CACHE_INFL_PEEK, &b),
                     CACHE_INFL_GO);
    ck_assert_int_eq(state_of(&a), CACHE_INFL_PENDING);
}
END_TEST

START_TEST(pass_lets_everyone_go)
{
    struct cache_infl_key k = key(9, 1);
    struct cache_infl_ticket a, b;

    make(CACHE_INFL_SLOTS);
    ck_assert_int_eq(cache_infl_claim(t, &k, 100, 1000, alive, 0, &a), CACHE_INFL_LEAD);
    ck_assert_int_eq(cache_infl_set(t, &a, CACHE_INFL_PASS, 61000), 0);
    ck_assert_int_eq(cache_infl_claim(t, &k, 200, 1000, alive, 0, &b), CACHE_INFL_GO);
    ck_assert_int_eq(cache_infl_claim(t, &k, 200, 60999, alive, 0, &b), CACHE_INFL_GO);
    ck_assert_int_eq(cache_infl_claim(t, &k, 200, 61000, alive, 0, &b), CACHE_INFL_LEAD);
}
END_TEST

START_TEST(aborted_is_taken_over_by_one)
{
    struct cache_infl_key k = key(77, 3);
    struct cache_infl_ticket a, w1, w2, n1, n2;

    make(CACHE_INFL_SLOTS);
    ck_assert_int_eq(cache_infl_claim(t, &k, 100, 1000, alive, 0, &a), CACHE_INFL_LEAD);
    ck_assert_int_eq(cache_infl_claim(t, &k, 200, 1000, alive, 0, &w1), CACHE_INFL_JOIN);
    ck_assert_int_eq(cache_infl_claim(t, &k, 300, 1000, alive, 0, &w2), CACHE_INFL_JOIN);
    ck_assert_int_eq(cache_infl_set(t, &a, CACHE_INFL_ABORTED, 0), 0);
    ck_assert_int_eq(state_of(&w1), CACHE_INFL_ABORTED);
    /* the first waiter to claim again leads, the next waits on it */
    ck_assert_int_eq(cache_infl_claim(t, &k, 200, 1010, alive, 0, &n1), CACHE_INFL_LEAD);
    ck_assert_int_eq(cache_infl_claim(t, &k, 300, 1010, alive, 0, &n2), CACHE_INFL_JOIN);
    ck_assert_uint_eq(n2.seq, n1.seq);
    ck_assert_int_eq(state_of(&w2), CACHE_INFL_GONE);
}
END_TEST

START_TEST(dead_owner_is_stale)
{
    struct cache_infl_key k = key(1234, 99);
    struct cache_infl_ticket a, w, n;
    struct cache_infl_view v;

    make(CACHE_INFL_SLOTS);
    ck_assert_int_eq(cache_infl_claim(t, &k, 100, 1000, alive, 0, &a), CACHE_INFL_LEAD);
    ck_assert_int_eq(cache_infl_set(t, &a, CACHE_INFL_STREAMING, 0), 0);
    ck_assert_int_eq(cache_infl_claim(t, &k, 200, 1000, alive, 0, &w), CACHE_INFL_JOIN);
    dead_pid = 100;             /* killed -9 mid-fetch */
    cache_infl_poll(t, &w, &v);
    ck_assert_int_eq(v.state, CACHE_INFL_STREAMING);   /* its last word ... */
    ck_assert_int_eq(v.pid, 100);                      /* ... and whose it was */
    ck_assert_int_eq(cache_infl_claim(t, &k, 200, 1500, alive, 0, &n), CACHE_INFL_LEAD);
    ck_assert_uint_eq(n.slot, a.slot);
    cache_infl_poll(t, &n, &v);
    ck_assert_int_eq(v.pid, 200);
    ck_assert_int_eq(v.started_ms, 1500);
    ck_assert_int_eq(v.progress, 0);
}
END_TEST

START_TEST(full_window_goes_without)
{
    struct cache_infl_key k;
    struct cache_infl_ticket tk[8], x;
    uint64_t i;

    make(8);                    /* the window is the whole table */
    for (i = 0; i < 8; i++) {
        k = key(i, i + 1000);
        ck_assert_int_eq(cache_infl_claim(t, &k, 100 + (int64_t)i, 1000, alive, 0, &tk[i]),
                         CACHE_INFL_LEAD);
    }
    k = key(3, 5000);
    ck_assert_int_eq(cache_infl_claim(t, &k, 900, 1000, alive, 0, &x), CACHE_INFL_FULL);
    /* a hint of another key gives way when nothing else is free */
    ck_assert_int_eq(cache_infl_set(t, &tk[6], CACHE_INFL_DONE, 99999), 0);
    ck_assert_int_eq(cache_infl_claim(t, &k, 900, 1000, alive, 0, &x), CACHE_INFL_LEAD);
    ck_assert_uint_eq(x.slot, tk[6].slot);
    /* so does the claim of a process that died */
    k = key(3, 6000);
    ck_assert_int_eq(cache_infl_claim(t, &k, 900, 1000, alive, 0, &x), CACHE_INFL_FULL);
    dead_pid = 102;
    ck_assert_int_eq(cache_infl_claim(t, &k, 900, 1000, alive, 0, &x), CACHE_INFL_LEAD);
    ck_assert_uint_eq(x.slot, tk[2].slot);
    ck_assert_int_eq(state_of(&tk[2]), CACHE_INFL_GONE);
}
END_TEST

START_TEST(window_wraps_at_the_end)
{
    struct cache_infl_key k1 = key(7, 1), k2 = key(7, 2), k3 = key(15, 3);
    struct cache_infl_ticket a, b, c, j;

    make(8);
    ck_assert_int_eq(cache_infl_claim(t, &k1, 100, 1000, alive, 0, &a), CACHE_INFL_LEAD);
    ck_assert_uint_eq(a.slot, 7);
    ck_assert_int_eq(cache_infl_claim(t, &k2, 100, 1000, alive, 0, &b), CACHE_INFL_LEAD);
    ck_assert_uint_eq(b.slot, 0);
    ck_assert_int_eq(cache_infl_claim(t, &k3, 100, 1000, alive, 0, &c), CACHE_INFL_LEAD);
    ck_assert_uint_eq(c.slot, 1);
    /* found past the end, even after the slot before it is freed */
    ck_assert_int_eq(cache_infl_set(t, &a, CACHE_INFL_FREE, 0), 0);
    ck_assert_int_eq(cache_infl_claim(t, &k3, 200, 1000, alive, 0, &j), CACHE_INFL_JOIN);
    ck_assert_uint_eq(j.slot, 1);
    ck_assert_int_eq(cache_infl_claim(t, &k2, 200, 1000, alive, 0, &j), CACHE_INFL_JOIN);
    ck_assert_uint_eq(j.slot, 0);
}
END_TEST

START_TEST(bad_tickets_and_sizes)
{
    struct cache_infl_ticket none = { 0, 0 }, far = { 1u << 30, 1 };
    struct cache_infl_view v;
    char small[4096];

    ck_assert_ptr_null(cache_infl_init(small, 3));  /* not a power of two */
    make(8);
    cache_infl_poll(t, &none, &v);
    ck_assert_int_eq(v.state, CACHE_INFL_GONE);
    cache_infl_poll(t, &far, &v);
    ck_assert_int_eq(v.state, CACHE_INFL_GONE);
    ck_assert_int_eq(cache_infl_set(t, &far, CACHE_INFL_DONE, 0), -1);
    cache_infl_progress(t, &far, 1);  /* nothing to see, nothing broken */
}
END_TEST

START_TEST(holder_killed_in_the_lock)
{
    struct cache_infl_key k = key(11, 12);
    struct cache_infl_ticket a;
    int status;
    pid_t pid;

    make(CACHE_INFL_SLOTS);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        /* The lock is the table's first member: hold it and die. */
        pthread_mutex_lock((pthread_mutex_t *)mem);
        kill(getpid(), SIGKILL);
        _exit(1);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFSIGNALED(status));
    ck_assert_int_eq(cache_infl_claim(t, &k, 100, 1000, alive, 0, &a), CACHE_INFL_LEAD);
    ck_assert_uint_eq(cache_infl_recovered(t), 1);
    ck_assert_int_eq(cache_infl_set(t, &a, CACHE_INFL_DONE, 2000), 0);
    ck_assert_int_eq(cache_infl_claim(t, &k, 100, 1000, alive, 0, &a), CACHE_INFL_STORED);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("inflight");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, claim_then_join);
    tcase_add_test(tc, second_hash_keeps_keys_apart);
    tcase_add_test(tc, done_is_a_hint_of_the_store);
    tcase_add_test(tc, peek_joins_but_never_leads);
    tcase_add_test(tc, pass_lets_everyone_go);
    tcase_add_test(tc, aborted_is_taken_over_by_one);
    tcase_add_test(tc, dead_owner_is_stale);
    tcase_add_test(tc, full_window_goes_without);
    tcase_add_test(tc, window_wraps_at_the_end);
    tcase_add_test(tc, bad_tickets_and_sizes);
    tcase_add_test(tc, holder_killed_in_the_lock);
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
