/*
 * check_workq.c - the pool of threads for blocking calls: jobs run off the
 * loop's thread and complete on it, the queue bound answers at once,
 * cancelled jobs (queued, running, finished) get exactly one done() with
 * -ECANCELED and nothing else, freeing the pool under running and queued
 * jobs delivers every one of them, the threads block every signal, and
 * tuning adds threads.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "squidlike/loop.h"
#include "squidlike/workq.h"

static struct sl_loop *L;
static pthread_t loop_thread;

/* A gate the test opens to let blocked jobs finish. */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static int gate_open, gate_waiting;

struct job {
    struct sl_work w;
    int block;                  /* wait at the gate */
    int ran;                    /* run() was called (set by the thread) */
    int off_loop;               /* ... not on the loop's thread */
    int sigs_blocked;           /* ... with SIGTERM and SIGINT blocked */
    int done_calls, status, on_loop;
    int canary;
};

static int ndone, want_done;

static void job_run(struct sl_work *w)
{
    struct job *j = w->data;
    sigset_t cur;

    j->ran = 1;
    j->off_loop = !pthread_equal(pthread_self(), loop_thread);
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    j->sigs_blocked = sigismember(&cur, SIGTERM) == 1 && sigismember(&cur, SIGINT) == 1
                      && sigismember(&cur, SIGHUP) == 1;
    if (j->block) {
        pthread_mutex_lock(&gate_lock);
        gate_waiting++;
        pthread_cond_broadcast(&gate_cond);
        while (!gate_open)
            pthread_cond_wait(&gate_cond, &gate_lock);
        pthread_mutex_unlock(&gate_lock);
    }
}

static void job_done(struct sl_work *w, int status)
{
    struct job *j = w->data;

    j->done_calls++;
    j->status = status;
    j->on_loop = pthread_equal(pthread_self(), loop_thread);
    ck_assert_int_eq(j->canary, 0x5a5a);
    if (++ndone >= want_done && L)
        sl_loop_stop(L);
}

static void on_deadline(struct sl_timer *t)
{
    (void)t;
    ck_abort_msg("jobs did not complete within 10 s (%d of %d)", ndone, want_done);
}

static void job_init(struct job *j, int block)
{
    memset(j, 0, sizeof(*j));
    j->w.run = job_run;
    j->w.done = job_done;
    j->w.data = j;
    j->block = block;
    j->canary = 0x5a5a;
}

/* Run the loop until want jobs were delivered (a 10 s deadline fails). */
static void run_until(int want)
{
    struct sl_timer deadline;

    memset(&deadline, 0, sizeof(deadline));
    deadline.cb = on_deadline;
    want_done = want;
    if (ndone < want) {
        sl_timer_set(L, &deadline, 10000);
        ck_assert_int_eq(sl_loop_run(L), 0);
        sl_timer_stop(L, &deadline);
    }
    ck_assert_int_ge(ndone, want);
}

static void wait_gate_waiting(int n)
{
    pthread_mutex_lock(&gate_lock);
    while (gate_waiting < n)
        pthread_cond_wait(&gate_cond, &gate_lock);
    pthread_mutex_unlock(&gate_lock);
}

static void open_gate(void)
{
    pthread_mutex_lock(&gate_lock);
    gate_open = 1;
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&gate_lock);
}

static void setup(void)
{
    L = sl_loop_new();
    ck_assert_ptr_nonnull(L);
    loop_thread = pthread_self();
    ndone = want_done = 0;
    gate_open = gate_waiting = 0;
}

static void teardown(void)
{
    sl_loop_free(L);
    L = NULL;
}

START_TEST(jobs_run_off_the_loop_and_complete_on_it)
{
    char err[128];
    struct sl_workq *q = sl_workq_new(L, 3, 64, err, sizeof(err));
    struct sl_workq_stats st;
    struct job j[40];
    int i;

    ck_assert_msg(q != NULL, "%s", err);
    for (i = 0; i < 40; i++) {
        job_init(&j[i], 0);
        ck_assert_int_eq(sl_workq_submit(q, &j[i].w), 0);
    }
    /* none delivered inside submit */
    ck_assert_int_eq(ndone, 0);
    run_until(40);
    for (i = 0; i < 40; i++) {
        ck_assert_int_eq(j[i].done_calls, 1);
        ck_assert_int_eq(j[i].status, 0);
        ck_assert(j[i].ran && j[i].off_loop && j[i].on_loop);
        ck_assert_msg(j[i].sigs_blocked, "a worker thread takes signals");
    }
    sl_workq_get_stats(q, &st);
    ck_assert_uint_eq(st.threads, 3);
    ck_assert_uint_eq(st.submitted, 40);
    ck_assert_uint_eq(st.completed, 40);
    ck_assert_uint_eq(st.cancelled, 0);
    ck_assert_uint_eq(st.queued + st.running, 0);
    /* a delivered job may be submitted again */
    ck_assert_int_eq(sl_workq_submit(q, &j[0].w), 0);
    ck_assert_int_eq(sl_workq_submit(q, &j[0].w), -EINVAL);    /* in the pool */
    run_until(41);
    ck_assert_int_eq(j[0].done_calls, 2);
    sl_workq_free(q);
}
END_TEST

START_TEST(full_queue_answers_at_once)
{
    char err[128];
    struct sl_workq *q = sl_workq_new(L, 1, 2, err, sizeof(err));
    struct sl_workq_stats st;
    struct job blocker, a, b, c;

    ck_assert_msg(q != NULL, "%s", err);
    job_init(&blocker, 1);
    job_init(&a, 0);
    job_init(&b, 0);
    job_init(&c, 0);
    ck_assert_int_eq(sl_workq_submit(q, &blocker.w), 0);
    wait_gate_waiting(1);       /* the only thread is busy */
    ck_assert_int_eq(sl_workq_submit(q, &a.w), 0);
    ck_assert_int_eq(sl_workq_submit(q, &b.w), 0);
    ck_assert_int_eq(sl_workq_submit(q, &c.w), -EAGAIN);
    sl_workq_get_stats(q, &st);
    ck_assert_uint_eq(st.queued, 2);
    ck_assert_uint_eq(st.running, 1);
    ck_assert_uint_eq(st.rejected, 1);
    open_gate();
    run_until(3);
    ck_assert_int_eq(c.done_calls, 0);  /* a refused job never hears back */
    ck_assert(!c.ran);
    ck_assert_int_eq(a.status, 0);
    ck_assert_int_eq(b.status, 0);
    /* room again */
    ck_assert_int_eq(sl_workq_submit(q, &c.w), 0);
    run_until(4);
    ck_assert_int_eq(c.done_calls, 1);
    sl_workq_free(q);
}
END_TEST

START_TEST(cancel_queued_running_and_finished)
{
    char err[128];
    struct sl_workq *q = sl_workq_new(L, 1, 8, err, sizeof(err));
    struct sl_workq_stats st;
    struct job running, queued, kept;

    ck_assert_msg(q != NULL, "%s", err);
    job_init(&running, 1);
    job_init(&queued, 0);
    job_init(&kept, 0);
    ck_assert_int_eq(sl_workq_submit(q, &running.w), 0);
    wait_gate_waiting(1);
    ck_assert_int_eq(sl_workq_submit(q, &queued.w), 0);
    ck_assert_int_eq(sl_workq_submit(q, &kept.w), 0);
    sl_workq_cancel(q, &queued.w);
    sl_workq_cancel(q, &running.w);
    sl_workq_cancel(q, &running.w);    /* twice: no second done() */
    ck_assert_int_eq(ndone, 0);         /* never inside cancel */
    /* the queued one is delivered without the gate opening */
    run_until(1);
    ck_assert_int_eq(queued.done_calls, 1);
    ck_assert_int_eq(queued.status, -ECANCELED);
    ck_assert(!queued.ran);
    ck_assert_int_eq(running.done_calls, 0);    /* still running */
    open_gate();
    run_until(3);
    ck_assert_int_eq(running.done_calls, 1);
    ck_assert_int_eq(running.status, -ECANCELED);
    ck_assert(running.ran);
    ck_assert_int_eq(kept.status, 0);
    ck_assert_int_eq(kept.done_calls, 1);
    sl_workq_get_stats(q, &st);
    ck_assert_uint_eq(st.completed, 1);
    ck_assert_uint_eq(st.cancelled, 2);
    sl_workq_cancel(q, &kept.w);        /* delivered already: left alone */
    ck_assert_int_eq(kept.done_calls, 1);
    sl_workq_free(q);
    ck_assert_int_eq(kept.done_calls, 1);
}
END_TEST

/* A job freed by its done() (the owner gone): heap jobs, ASan watches. */
static void heap_done(struct sl_work *w, int status)
{
    ck_assert_int_eq(status, -ECANCELED);
    ndone++;
    free(w->data);
}

START_TEST(free_under_running_and_queued_jobs)
{
    char err[128];
    struct sl_workq *q = sl_workq_new(L, 2, 16, err, sizeof(err));
    struct job *j[6];
    int i;

    ck_assert_msg(q != NULL, "%s", err);
    for (i = 0; i < 6; i++) {
        j[i] = malloc(sizeof(*j[i]));
        job_init(j[i], 1);
        j[i]->w.done = heap_done;
        ck_assert_int_eq(sl_workq_submit(q, &j[i]->w), 0);
    }
    wait_gate_waiting(2);       /* two run, four wait */
    /* a thread that finishes while we stop: let them go now */
    open_gate();
    sl_workq_free(q);           /* joins, then every job hears -ECANCELED */
    ck_assert_int_eq(ndone, 6);
}
END_TEST

START_TEST(tune_adds_threads_and_bounds)
{
    char err[128];
    struct sl_workq *q = sl_workq_new(L, 1, 1, err, sizeof(err));
    struct sl_workq_stats st;
    struct job a, b, c, d;

    ck_assert_msg(q != NULL, "%s", err);
    ck_assert_int_eq(sl_workq_tune(q, 0, 4), -EINVAL);
    ck_assert_int_eq(sl_workq_tune(q, 3, 4), 0);
    sl_workq_get_stats(q, &st);
    ck_assert_uint_eq(st.threads, 3);
    ck_assert_uint_eq(st.max_queue, 4);
    job_init(&a, 1);
    job_init(&b, 1);
    job_init(&c, 1);
    job_init(&d, 0);
    ck_assert_int_eq(sl_workq_submit(q, &a.w), 0);
    ck_assert_int_eq(sl_workq_submit(q, &b.w), 0);
    ck_assert_int_eq(sl_workq_submit(q, &c.w), 0);
    wait_gate_waiting(3);       /* three threads run at once */
    ck_assert_int_eq(sl_workq_tune(q, 1, 4), 0);    /* fewer: at restart */
    sl_workq_get_stats(q, &st);
    ck_assert_uint_eq(st.threads, 3);
    ck_assert_int_eq(sl_workq_submit(q, &d.w), 0);
    open_gate();
    run_until(4);
    sl_workq_free(q);
}
END_TEST

START_TEST(bad_arguments)
{
    char err[128];
    struct sl_workq *q;
    struct job j;

    ck_assert_ptr_null(sl_workq_new(L, 0, 4, err, sizeof(err)));
    ck_assert_ptr_null(sl_workq_new(L, SL_WORKQ_MAX_THREADS + 1, 4, err, sizeof(err)));
    q = sl_workq_new(L, 1, 0, err, sizeof(err));    /* no queue: always busy */
    ck_assert_ptr_nonnull(q);
    job_init(&j, 0);
    j.w.run = NULL;
    ck_assert_int_eq(sl_workq_submit(q, &j.w), -EINVAL);
    j.w.run = job_run;
    ck_assert_int_eq(sl_workq_submit(q, &j.w), -EAGAIN);
    sl_workq_cancel(q, &j.w);   /* never submitted: nothing happens */
    sl_workq_free(q);
    ck_assert_int_eq(j.done_calls, 0);
    sl_workq_free(NULL);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("workq");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, jobs_run_off_the_loop_and_complete_on_it);
    tcase_add_test(tc, full_queue_answers_at_once);
    tcase_add_test(tc, cancel_queued_running_and_finished);
    tcase_add_test(tc, free_under_running_and_queued_jobs);
    tcase_add_test(tc, tune_adds_threads_and_bounds);
    tcase_add_test(tc, bad_arguments);
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
