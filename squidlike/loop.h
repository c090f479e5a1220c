/*
 * loop.h - the event loop: epoll, timers, deferred calls.
 *
 * One loop per process. Nothing in it blocks. Sockets the daemon owns are
 * registered once, edge-triggered for read and write (nginx's way: no
 * epoll_ctl per request); the owner keeps its own "ready" flags and treats
 * EAGAIN or a short transfer as "not ready until the next edge". Sockets
 * owned by libraries that expect level-triggered readiness (c-ares) are
 * registered level-triggered with an explicit mask.
 *
 * Timers live in a binary min-heap; a timer is embedded in its owner. Owners
 * with idle timeouts do not re-arm on every byte: they record the time of
 * progress and let the timer re-arm itself when it fires early.
 *
 * Objects that must go away during event dispatch are released through
 * sl_loop_post(): the callback runs after the current batch of events, so an
 * event later in the same batch never touches freed memory.
 */
#ifndef SL_LOOP_H
#define SL_LOOP_H

#include <stddef.h>
#include <stdint.h>

struct sl_loop;
struct sl_io;
struct sl_timer;
struct sl_post;

#define SL_IO_READ  0x01u       /* readable, or peer closed / error pending */
#define SL_IO_WRITE 0x02u
#define SL_IO_HUP   0x04u       /* EPOLLHUP / EPOLLRDHUP */
#define SL_IO_ERR   0x08u

typedef void (*sl_io_cb)(struct sl_io *io, unsigned events);
typedef void (*sl_timer_cb)(struct sl_timer *t);
typedef void (*sl_post_cb)(struct sl_post *p);

struct sl_io {
    int fd;                     /* -1 once removed */
    sl_io_cb cb;
    void *data;                 /* the owner's; the loop never touches it */
};

struct sl_timer {
    int64_t when;               /* loop time, ms */
    size_t idx;                 /* heap slot + 1; 0 when not armed */
    sl_timer_cb cb;
    void *data;
};

struct sl_post {
    struct sl_post *next;
    sl_post_cb cb;
    void *data;
    int queued;
};

/* Create a loop; NULL when the epoll instance cannot be made. */
struct sl_loop *sl_loop_new(void);
void sl_loop_free(struct sl_loop *loop);

/* Register io->fd edge-triggered for read and write. Returns 0 or -errno. */
int sl_loop_add_et(struct sl_loop *loop, struct sl_io *io);
/* Register or change a level-triggered registration (mask of READ|WRITE;
 * 0 removes it from the wait set but keeps the fd open). */
int sl_loop_set_lt(struct sl_loop *loop, struct sl_io *io, unsigned mask,
                   int added);
/* A listening socket several processes wait on: on, registered for
 * reading with EPOLLEXCLUSIVE (a connection wakes one of them, not all);
 * off, removed (EPOLLEXCLUSIVE cannot be modified, only added). */
int sl_loop_set_exclusive(struct sl_loop *loop, struct sl_io *io, int on);
/* Unregister (the caller closes the fd). Sets io->fd to -1 and returns the
 * old fd, so events already fetched for it are ignored. */
int sl_loop_del(struct sl_loop *loop, struct sl_io *io);

/* Arm t to fire after ms milliseconds (re-arms when already armed). */
void sl_timer_set(struct sl_loop *loop, struct sl_timer *t, int64_t ms);
/* Arm at an absolute loop time. */
void sl_timer_at(struct sl_loop *loop, struct sl_timer *t, int64_t when);
void sl_timer_stop(struct sl_loop *loop, struct sl_timer *t);
static inline int sl_timer_armed(const struct sl_timer *t) { return t->idx != 0; }

/* Run p->cb after the current batch (once, however often posted). */
void sl_loop_post(struct sl_loop *loop, struct sl_post *p);
/* Run queued posts until none is left (at exit, so memory is freed). */
void sl_loop_run_posts(struct sl_loop *loop);
/* Withdraw a post that has not run yet. */
void sl_loop_unpost(struct sl_loop *loop, struct sl_post *p);

/*
 * Busy polling: before sleeping, poll without blocking for up to us
 * microseconds (0: off, the default), while recent idle gaps were that
 * short. Waking an idle CPU costs the waker an interrupt to this CPU (in a
 * virtual machine, an exit to the hypervisor), paid on the CPU of the
 * client or origin that sent the bytes: under load, spinning trades this
 * CPU's idle time for theirs. HAProxy's "busy-polling" is the same idea.
 */
void sl_loop_set_busy_poll(struct sl_loop *loop, unsigned us);

struct sl_loop_stats {
    uint64_t spins;             /* waits that polled before sleeping */
    uint64_t spins_caught;      /* ... and found an event in the window */
    uint64_t spin_us;           /* time spent polling */
};
void sl_loop_get_stats(const struct sl_loop *loop, struct sl_loop_stats *st);

/* The credit rule (pure, for tests): a wait that ended with an event
 * within the window adds one (up to SL_LOOP_CREDIT_MAX), any other takes
 * one away (down to 0). The loop polls while the credit is above 0. */
#define SL_LOOP_CREDIT_MAX 8
int sl_loop_spin_credit(int credit, int64_t gap_us, int64_t busy_us, int caught);

/* Called at the end of every iteration (log flushing). One hook. */
void sl_loop_set_idle_hook(struct sl_loop *loop, void (*fn)(void *), void *data);

/* Monotonic milliseconds, cached per iteration. */
int64_t sl_loop_now(const struct sl_loop *loop);
/* The same instant in microseconds (service times), and the clock read
 * afresh (vDSO, no system call). */
int64_t sl_loop_now_us(const struct sl_loop *loop);
int64_t sl_mono_us(void);
/* Refresh the cached time (after something slow such as a reload). */
void sl_loop_update_time(struct sl_loop *loop);

/* Run until sl_loop_stop() (which then holds for this run only). Returns
 * 0, or -errno if epoll fails. */
int sl_loop_run(struct sl_loop *loop);
void sl_loop_stop(struct sl_loop *loop);

#endif
