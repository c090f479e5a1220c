/*
 * loop.c - epoll event loop with a timer heap and deferred calls
 * (see loop.h for the model).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "squidlike/loop.h"

#define SL_LOOP_EVENTS 256

struct sl_loop {
    int epfd;
    int stop;
    int64_t now;
    int64_t now_us;             /* the same instant, in microseconds */
    struct sl_timer **heap;     /* heap[0] is the earliest */
    size_t nheap, cap;
    struct sl_post *posts, **posts_tail;
    void (*idle_fn)(void *);
    void *idle_data;
    int64_t busy_us;            /* busy-poll window; 0: off */
    int credit;                 /* > 0: recent idle gaps fit the window */
    struct sl_loop_stats stats;
    struct epoll_event events[SL_LOOP_EVENTS];
};

int64_t sl_mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void tick(struct sl_loop *loop)
{
    loop->now_us = sl_mono_us();
    loop->now = loop->now_us / 1000;
}

struct sl_loop *sl_loop_new(void)
{
    struct sl_loop *loop = calloc(1, sizeof(*loop));

    if (loop == NULL)
        return NULL;
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0) {
        free(loop);
        return NULL;
    }
    loop->posts_tail = &loop->posts;
    tick(loop);
    return loop;
}

void sl_loop_free(struct sl_loop *loop)
{
    if (loop == NULL)
        return;
    close(loop->epfd);
    free(loop->heap);
    free(loop);
}

int sl_loop_add_et(struct sl_loop *loop, struct sl_io *io)
{
    struct epoll_event ev;

    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = io;
    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, io->fd, &ev) < 0)
        return -errno;
    return 0;
}

int sl_loop_set_lt(struct sl_loop *loop, struct sl_io *io, unsigned mask,
                   int added)
{
    struct epoll_event ev;
    int op;

    ev.events = ((mask & SL_IO_READ) ? EPOLLIN : 0) |
                ((mask & SL_IO_WRITE) ? EPOLLOUT : 0);
    ev.data.ptr = io;
    op = added ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(loop->epfd, op, io->fd, &ev) < 0)
        return -errno;
    return 0;
}

int sl_loop_set_exclusive(struct sl_loop *loop, struct sl_io *io, int on)
{
    struct epoll_event ev;

    if (!on) {
        if (epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, NULL) < 0 && errno != ENOENT)
            return -errno;
        return 0;
    }
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    ev.data.ptr = io;
    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, io->fd, &ev) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

int sl_loop_del(struct sl_loop *loop, struct sl_io *io)
{
    int fd = io->fd;

    if (fd >= 0)
        epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
    io->fd = -1;
    return fd;
}

/* --- timer heap ------------------------------------------------------- */

static void heap_place(struct sl_loop *loop, size_t i, struct sl_timer *t)
{
    loop->heap[i] = t;
    t->idx = i + 1;
}

static void heap_up(struct sl_loop *loop, size_t i)
{
    struct sl_timer *t = loop->heap[i];

    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (loop->heap[parent]->when <= t->when)
            break;
        heap_place(loop, i, loop->heap[parent]);
        i = parent;
    }
    heap_place(loop, i, t);
}

static void heap_down(struct sl_loop *loop, size_t i)
{
    struct sl_timer *t = loop->heap[i];

    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = l;
        if (l >= loop->nheap)
            break;
        if (r < loop->nheap && loop->heap[r]->when < loop->heap[l]->when)
            m = r;
        if (loop->heap[m]->when >= t->when)
            break;
        heap_place(loop, i, loop->heap[m]);
        i = m;
    }
    heap_place(loop, i, t);
}

void sl_timer_stop(struct sl_loop *loop, struct sl_timer *t)
{
    size_t i;
    struct sl_timer *last;

    if (t->idx == 0)
        return;
    i = t->idx - 1;
    t->idx = 0;
    last = loop->heap[--loop->nheap];
    if (i == loop->nheap)
        return;
    loop->heap[i] = last;
    last->idx = i + 1;
    if (i > 0 && loop->heap[(i - 1) / 2]->when > last->when)
        heap_up(loop, i);
    else
        heap_down(loop, i);
}

void sl_timer_at(struct sl_loop *loop, struct sl_timer *t, int64_t when)
{
    if (t->idx) {
        int64_t old = t->when;
        t->when = when;
        if (when < old)
            heap_up(loop, t->idx - 1);
        else
            heap_down(loop, t->idx - 1);
        return;
    }
    if (loop->nheap == loop->cap) {
        size_t ncap = loop->cap ? loop->cap * 2 : 64;
        struct sl_timer **h = realloc(loop->heap, ncap * sizeof(*h));
        if (h == NULL)
            abort();            /* cannot keep a promise to time out */
        loop->heap = h;
        loop->cap = ncap;
    }
    t->when = when;
    loop->heap[loop->nheap] = t;
    t->idx = ++loop->nheap;
    heap_up(loop, loop->nheap - 1);
}

void sl_timer_set(struct sl_loop *loop, struct sl_timer *t, int64_t ms)
{
    sl_timer_at(loop, t, loop->now + ms);
}

static void run_timers(struct sl_loop *loop)
{
    /* Bounded by the timers armed when the pass began, so a callback that
     * re-arms for "now" cannot keep the loop here forever. */
    size_t budget = loop->nheap;

    while (loop->nheap > 0 && budget-- > 0) {
        struct sl_timer *t = loop->heap[0];
        if (t->when > loop->now)
            break;
        sl_timer_stop(loop, t);
        t->cb(t);
    }
}

/* --- deferred calls --------------------------------------------------- */

void sl_loop_post(struct sl_loop *loop, struct sl_post *p)
{
    if (p->queued)
        return;
    p->queued = 1;
    p->next = NULL;
    *loop->posts_tail = p;
    loop->posts_tail = &p->next;
}

void sl_loop_unpost(struct sl_loop *loop, struct sl_post *p)
{
    struct sl_post **pp;

    if (!p->queued)
        return;
    for (pp = &loop->posts; *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            if (loop->posts_tail == &p->next)
                loop->posts_tail = pp;
            break;
        }
    }
    p->queued = 0;
}

static void run_posts(struct sl_loop *loop)
{
    /* Posts added while running wait for the next batch: detach first. */
    struct sl_post *p = loop->posts;

    loop->posts = NULL;
    loop->posts_tail = &loop->posts;
    while (p) {
        struct sl_post *next = p->next;
        p->queued = 0;
        p->cb(p);
        p = next;
    }
}

void sl_loop_run_posts(struct sl_loop *loop)
{
    int rounds = 16;            /* posts may post more; bounded anyway */

    while (loop->posts && rounds-- > 0)
        run_posts(loop);
}

void sl_loop_set_idle_hook(struct sl_loop *loop, void (*fn)(void *), void *data)
{
    loop->idle_fn = fn;
    loop->idle_data = data;
}

void sl_loop_set_busy_poll(struct sl_loop *loop, unsigned us)
{
    loop->busy_us = us;
    if (us == 0)
        loop->credit = 0;
}

void sl_loop_get_stats(const struct sl_loop *loop, struct sl_loop_stats *st)
{
    *st = loop->stats;
}

int sl_loop_spin_credit(int credit, int64_t gap_us, int64_t busy_us, int caught)
{
    if (caught && gap_us <= busy_us)
        return credit < SL_LOOP_CREDIT_MAX ? credit + 1 : credit;
    return credit > 0 ? credit - 1 : 0;
}

/*
 * Wait for events. With busy polling on (sl_loop_set_busy_poll), poll
 * without blocking for up to the window first, but only while the recent
 * idle gaps were that short: the credit rises when a wait ended within the
 * window, falls when it did not, so a quiet proxy sleeps at once and one
 * under load keeps its CPU awake between events. Timers may fire up to the
 * window late (at most 1 ms, their own granularity).
 */
static int loop_wait(struct sl_loop *loop, int timeout)
{
    int64_t start, spent, until;
    int n = 0, spun = 0;

    if (loop->busy_us == 0 || timeout == 0)
        return epoll_wait(loop->epfd, loop->events, SL_LOOP_EVENTS, timeout);
    start = sl_mono_us();
    if (loop->credit > 0) {
        spun = 1;
        until = start + loop->busy_us;
        do
            n = epoll_wait(loop->epfd, loop->events, SL_LOOP_EVENTS, 0);
        while (n == 0 && sl_mono_us() < until);
    }
    if (n == 0)
        n = epoll_wait(loop->epfd, loop->events, SL_LOOP_EVENTS, timeout);
    if (n < 0)
        return n;
    spent = sl_mono_us() - start;
    if (spun) {
        loop->stats.spins++;
        if (n > 0 && spent <= loop->busy_us)
            loop->stats.spins_caught++;
        loop->stats.spin_us += (uint64_t)(spent < loop->busy_us ? spent
                                                                 : loop->busy_us);
    }
    loop->credit = sl_loop_spin_credit(loop->credit, spent, loop->busy_us, n > 0);
    return n;
}

int64_t sl_loop_now(const struct sl_loop *loop) { return loop->now; }
int64_t sl_loop_now_us(const struct sl_loop *loop) { return loop->now_us; }
void sl_loop_update_time(struct sl_loop *loop) { tick(loop); }
void sl_loop_stop(struct sl_loop *loop) { loop->stop = 1; }

int sl_loop_run(struct sl_loop *loop)
{
    while (!loop->stop) {
        int timeout = -1, n, i;

        if (loop->posts)
            timeout = 0;
        else if (loop->nheap > 0) {
            int64_t d = loop->heap[0]->when - loop->now;
            timeout = d <= 0 ? 0 : (d > 60000 ? 60000 : (int)d);
        }
        n = loop_wait(loop, timeout);
        if (n < 0 && errno != EINTR)
            return -errno;
        tick(loop);
        for (i = 0; i < n; i++) {
            struct sl_io *io = loop->events[i].data.ptr;
            uint32_t e = loop->events[i].events;
            unsigned ev = 0;

            if (io->fd < 0)
                continue;       /* removed earlier in this batch */
            if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                ev |= SL_IO_READ;
            if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR))
                ev |= SL_IO_WRITE;
            if (e & (EPOLLRDHUP | EPOLLHUP))
                ev |= SL_IO_HUP;
            if (e & EPOLLERR)
                ev |= SL_IO_ERR;
            io->cb(io, ev);
        }
        run_timers(loop);
        run_posts(loop);
        if (loop->idle_fn)
            loop->idle_fn(loop->idle_data);
    }
    loop->stop = 0;             /* a later run runs (tests drive it in rounds) */
    return 0;
}
