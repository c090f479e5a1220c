/*
 * check_loop.c - the event loop: timer order, re-arming, stopping, posts,
 * edge-triggered readiness on a socket pair, and busy polling (its credit
 * rule, that it polls while events keep coming and stops when they do not).
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "squidlike/loop.h"

static struct sl_loop *L;
static int order[64], norder;

static void on_timer(struct sl_timer *t)
{
    order[norder++] = (int)(intptr_t)t->data;
}

static void on_last(struct sl_timer *t)
{
    (void)t;
    sl_loop_stop(L);
}

START_TEST(timers_fire_in_order)
{
    struct sl_timer t[40], stop;
    int i;

    L = sl_loop_new();
    ck_assert_ptr_nonnull(L);
    norder = 0;
    memset(t, 0, sizeof(t));
    /* deadlines 0..39 ms inserted in a scrambled order */
    for (i = 0; i < 40; i++) {
        int k = (i * 17) % 40;
        t[k].cb = on_timer;
        t[k].data = (void *)(intptr_t)k;
        sl_timer_set(L, &t[k], k);
    }
    memset(&stop, 0, sizeof(stop));
    stop.cb = on_last;
    sl_timer_set(L, &stop, 100);
    ck_assert_int_eq(sl_loop_run(L), 0);
    ck_assert_int_eq(norder, 40);
    for (i = 1; i < 40; i++)
        ck_assert_int_le(order[i - 1], order[i]);
    sl_loop_free(L);
}
END_TEST

START_TEST(timer_stop_and_rearm)
{
    struct sl_timer a, b, c, stop;

    L = sl_loop_new();
    norder = 0;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    memset(&c, 0, sizeof(c));
    memset(&stop, 0, sizeof(stop));
    a.cb = b.cb = c.cb = on_timer;
    a.data = (void *)1;
    b.data = (void *)2;
    c.data = (void *)3;
    sl_timer_set(L, &a, 5);
    sl_timer_set(L, &b, 10);
    sl_timer_set(L, &c, 15);
    sl_timer_stop(L, &b);
    ck_assert(!sl_timer_armed(&b));
    sl_timer_stop(L, &b);               /* stopping twice is harmless */
    sl_timer_set(L, &a, 30);            /* re-arm later: now after c */
    stop.cb = on_last;
    sl_timer_set(L, &stop, 60);
    ck_assert_int_eq(sl_loop_run(L), 0);
    ck_assert_int_eq(norder, 2);
    ck_assert_int_eq(order[0], 3);
    ck_assert_int_eq(order[1], 1);
    sl_loop_free(L);
}
END_TEST

static int posted;

static void on_post(struct sl_post *p)
{
    posted += (int)(intptr_t)p->data;
}

START_TEST(posts_run_once_and_unpost)
{
    struct sl_post p, q;
    struct sl_timer stop;

    L = sl_loop_new();
    posted = 0;
    memset(&p, 0, sizeof(p));
    memset(&q, 0, sizeof(q));
    memset(&stop, 0, sizeof(stop));
    p.cb = q.cb = on_post;
    p.data = (void *)1;
    q.data = (void *)10;
    sl_loop_post(L, &p);
    sl_loop_post(L, &p);                /* queued once */
    sl_loop_post(L, &q);
    sl_loop_unpost(L, &q);
    stop.cb = on_last;
    sl_timer_set(L, &stop, 5);
    ck_assert_int_eq(sl_loop_run(L), 0);
    ck_assert_int_eq(posted, 1);
    sl_loop_free(L);
}
END_TEST

static unsigned seen_ev;
static int nwake;

static void on_io(struct sl_io *io, unsigned ev)
{
    (void)io;
    seen_ev |= ev;
    nwake++;
}

START_TEST(edge_triggered_io)
{
    int sv[2];
    struct sl_io io;
    struct sl_timer stop;

    L = sl_loop_new();
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    memset(&io, 0, sizeof(io));
    memset(&stop, 0, sizeof(stop));
    io.fd = sv[0];
    io.cb = on_io;
    ck_assert_int_eq(sl_loop_add_et(L, &io), 0);
    ck_assert_int_eq(write(sv[1], "x", 1), 1);
    seen_ev = 0;
    nwake = 0;
    stop.cb = on_last;
    sl_timer_set(L, &stop, 30);
    ck_assert_int_eq(sl_loop_run(L), 0);
    ck_assert(seen_ev & SL_IO_READ);
    ck_assert(seen_ev & SL_IO_WRITE);
    /* Edge-triggered: unread data does not wake us again and again. */
    ck_assert_int_le(nwake, 2);
    ck_assert_int_eq(sl_loop_del(L, &io), sv[0]);
    ck_assert_int_eq(io.fd, -1);
    close(sv[0]);
    close(sv[1]);
    sl_loop_free(L);
}
END_TEST

START_TEST(spin_credit_rule)
{
    /* An event within the window earns one, up to the cap. */
    ck_assert_int_eq(sl_loop_spin_credit(0, 10, 50, 1), 1);
    ck_assert_int_eq(sl_loop_spin_credit(3, 50, 50, 1), 4);
    ck_assert_int_eq(sl_loop_spin_credit(SL_LOOP_CREDIT_MAX, 1, 50, 1),
                     SL_LOOP_CREDIT_MAX);
    /* Too late, or no event (a timer's turn): one less, never below 0. */
    ck_assert_int_eq(sl_loop_spin_credit(3, 51, 50, 1), 2);
    ck_assert_int_eq(sl_loop_spin_credit(3, 10, 50, 0), 2);
    ck_assert_int_eq(sl_loop_spin_credit(0, 5000, 50, 1), 0);
}
END_TEST

/* Busy phase: each read sends itself one more byte, so an event is always
 * ready when the loop waits. Idle phase: only a timer, every 2 ms. */
static int ping_left, idle_left, sv_bp[2];
static struct sl_loop_stats after_busy, after_credit;
static struct sl_timer idle_t;

static void on_idle(struct sl_timer *t)
{
    if (--idle_left == 12)
        sl_loop_get_stats(L, &after_credit);
    if (idle_left == 0) {
        sl_loop_stop(L);
        return;
    }
    sl_timer_set(L, t, 2);
}

static void on_ping(struct sl_io *io, unsigned ev)
{
    char b[16];

    if (!(ev & SL_IO_READ) || ping_left == 0)
        return;
    while (read(io->fd, b, sizeof(b)) > 0)
        ;
    if (--ping_left > 0) {
        ck_assert_int_eq(write(sv_bp[1], "p", 1), 1);
        return;
    }
    sl_loop_get_stats(L, &after_busy);
    idle_t.cb = on_idle;
    sl_timer_set(L, &idle_t, 2);
}

static void run_busy_poll(unsigned us)
{
    struct sl_io io;

    L = sl_loop_new();
    if (us)
        sl_loop_set_busy_poll(L, us);   /* 0: the default, untouched */
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv_bp), 0);
    memset(&io, 0, sizeof(io));
    memset(&idle_t, 0, sizeof(idle_t));
    io.fd = sv_bp[0];
    io.cb = on_ping;
    ck_assert_int_eq(sl_loop_add_et(L, &io), 0);
    ping_left = 40;
    idle_left = 24;
    ck_assert_int_eq(write(sv_bp[1], "p", 1), 1);
    ck_assert_int_eq(sl_loop_run(L), 0);
    ck_assert_int_eq(ping_left, 0);
    ck_assert_int_eq(idle_left, 0);
    sl_loop_del(L, &io);
    close(sv_bp[0]);
    close(sv_bp[1]);
}

START_TEST(busy_poll_follows_the_load)
{
    struct sl_loop_stats end;

    run_busy_poll(1000);
    sl_loop_get_stats(L, &end);
    /* Events kept coming: it polled, and polling found them (a wait can
     * miss its window only when this process was not scheduled). */
    ck_assert_uint_gt(after_busy.spins_caught, 0);
    ck_assert_uint_le(after_busy.spins_caught, after_busy.spins);
    ck_assert_uint_le(after_busy.spins, 40);
    /* Idle: only timers. Each poll that finds nothing costs one credit,
     * so it stops after at most SL_LOOP_CREDIT_MAX of them... */
    ck_assert_uint_le(after_credit.spins - after_busy.spins, SL_LOOP_CREDIT_MAX);
    ck_assert_uint_eq(after_credit.spins_caught, after_busy.spins_caught);
    /* ... and sleeps from then on. */
    ck_assert_uint_eq(end.spins, after_credit.spins);
    ck_assert_uint_le(end.spin_us, (uint64_t)end.spins * 1000);
    sl_loop_free(L);
}
END_TEST

START_TEST(busy_poll_off_by_default)
{
    struct sl_loop_stats end;

    run_busy_poll(0);
    sl_loop_get_stats(L, &end);
    ck_assert_uint_eq(end.spins, 0);
    ck_assert_uint_eq(end.spin_us, 0);
    sl_loop_free(L);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("loop");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, timers_fire_in_order);
    tcase_add_test(tc, timer_stop_and_rearm);
    tcase_add_test(tc, posts_run_once_and_unpost);
    tcase_add_test(tc, edge_triggered_io);
    tcase_add_test(tc, spin_credit_rule);
    tcase_add_test(tc, busy_poll_follows_the_load);
    tcase_add_test(tc, busy_poll_off_by_default);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
