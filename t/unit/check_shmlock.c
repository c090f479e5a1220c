/*
 * check_shmlock.c - the workers' shared lock (squidlike/shmlock.h): it
 * excludes across processes, and a holder killed inside its section
 * (kill -9) does not wedge the others.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "squidlike/shmlock.h"

struct shm {
    pthread_mutex_t mu;
    volatile uint64_t n;
};

static struct shm *shm_new(void)
{
    struct shm *s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE,
                         MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    ck_assert_ptr_ne(s, MAP_FAILED);
    ck_assert_int_eq(sl_shmlock_init(&s->mu), 0);
    return s;
}

/* A child that takes the lock, says so on fd, and waits to be killed. */
static pid_t holder(struct shm *s)
{
    int p[2];
    char c;
    pid_t pid;

    ck_assert_int_eq(pipe(p), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (sl_shmlock_lock(&s->mu) < 0)
            _exit(2);
        s->n = 1;
        if (write(p[1], "x", 1) != 1)
            _exit(3);
        for (;;)
            pause();
    }
    close(p[1]);
    ck_assert_int_eq(read(p[0], &c, 1), 1);
    close(p[0]);
    return pid;
}

START_TEST(holder_killed_does_not_wedge)
{
    struct shm *s = shm_new();
    pid_t pid = holder(s);
    struct timespec ts;
    int st;

    /* held by the child: a timed try from here fails */
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 50 * 1000 * 1000;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    ck_assert_int_eq(pthread_mutex_timedlock(&s->mu, &ts), ETIMEDOUT);
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    /* the next taker gets it, told that its holder died ... */
    ck_assert_int_eq(sl_shmlock_lock(&s->mu), 1);
    ck_assert_uint_eq(s->n, 1);
    sl_shmlock_unlock(&s->mu);
    /* ... and it is an ordinary lock again */
    ck_assert_int_eq(sl_shmlock_lock(&s->mu), 0);
    sl_shmlock_unlock(&s->mu);
    munmap(s, sizeof(*s));
}
END_TEST

START_TEST(excludes_across_processes)
{
    struct shm *s = shm_new();
    pid_t pid[3];
    int i, j, st;

    for (i = 0; i < 3; i++) {
        pid[i] = fork();
        ck_assert_int_ge(pid[i], 0);
        if (pid[i] == 0) {
            for (j = 0; j < 100000; j++) {
                uint64_t v;

                if (sl_shmlock_lock(&s->mu) != 0)
                    _exit(2);
                v = s->n;       /* a read, then a write: torn without the lock */
                s->n = v + 1;
                sl_shmlock_unlock(&s->mu);
            }
            _exit(0);
        }
    }
    for (i = 0; i < 3; i++) {
        ck_assert_int_eq(waitpid(pid[i], &st, 0), pid[i]);
        ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    ck_assert_uint_eq(s->n, 300000);
    munmap(s, sizeof(*s));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("shmlock");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, holder_killed_does_not_wedge);
    tcase_add_test(tc, excludes_across_processes);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
