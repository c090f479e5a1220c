/*
 * workq.c - the pool of threads for blocking calls (see workq.h).
 *
 * One mutex guards everything the threads share: the waiting queue (FIFO),
 * the finished list and the counters. The loop learns of finished jobs
 * through an eventfd, written only when the finished list goes from empty
 * to non-empty (one wake-up per batch, not per job). The same shape as
 * the log writer and the reload thread (log.c, server.c).
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "squidlike/loop.h"
#include "squidlike/workq.h"

enum { W_IDLE = 0, W_QUEUED, W_RUNNING, W_FINISHED };

struct sl_workq {
    struct sl_loop *loop;
    struct sl_io io;            /* eventfd: finished jobs wait */
    pthread_mutex_t lock;
    pthread_cond_t cond;        /* a job was queued, or stop */
    pthread_t th[SL_WORKQ_MAX_THREADS];
    unsigned nth;
    int stop;
    struct sl_work *qhead, *qtail;  /* waiting */
    struct sl_work *fhead, *ftail;  /* finished, not delivered */
    size_t queued, running, max_queue;
    unsigned long long submitted, completed, cancelled, rejected;
};

static void fin_push(struct sl_workq *q, struct sl_work *w)
{
    uint64_t one = 1;
    int wake = q->fhead == NULL;

    w->state = W_FINISHED;
    w->next = NULL;
    if (q->ftail)
        q->ftail->next = w;
    else
        q->fhead = w;
    q->ftail = w;
    if (wake && write(q->io.fd, &one, sizeof(one)) < 0) {
        /* EAGAIN: the counter is full, so a wake-up is pending anyway */
    }
}

static void *worker_main(void *arg)
{
    struct sl_workq *q = arg;
    struct sl_work *w;

    pthread_mutex_lock(&q->lock);
    for (;;) {
        while (!q->stop && q->qhead == NULL)
            pthread_cond_wait(&q->cond, &q->lock);
        if (q->stop)
            break;
        w = q->qhead;
        q->qhead = w->next;
        if (q->qhead == NULL)
            q->qtail = NULL;
        q->queued--;
        q->running++;
        w->state = W_RUNNING;
        pthread_mutex_unlock(&q->lock);
        w->run(w);              /* cancelled meanwhile or not: it runs to
                                   its end, only done() learns of it */
        pthread_mutex_lock(&q->lock);
        q->running--;
        fin_push(q, w);
    }
    pthread_mutex_unlock(&q->lock);
    return NULL;
}

/* Start threads up to n. Called with the lock not held. */
static int start_threads(struct sl_workq *q, unsigned n, char *err, size_t errlen)
{
    sigset_t all, old;
    int rc = 0;

    if (n > SL_WORKQ_MAX_THREADS)
        n = SL_WORKQ_MAX_THREADS;
    sigfillset(&all);           /* the threads take no signals */
    pthread_sigmask(SIG_BLOCK, &all, &old);
    while (q->nth < n) {
        pthread_mutex_lock(&q->lock);
        rc = pthread_create(&q->th[q->nth], NULL, worker_main, q);
        if (rc == 0)
            q->nth++;
        pthread_mutex_unlock(&q->lock);
        if (rc != 0)
            break;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0 && err)
        snprintf(err, errlen, "cannot start a worker thread: %s", strerror(rc));
    return -rc;
}

/* Deliver what finished: on the loop (or from sl_workq_free). */
static void deliver(struct sl_workq *q, int all_cancelled)
{
    struct sl_work *w, *next;

    pthread_mutex_lock(&q->lock);
    w = q->fhead;
    q->fhead = q->ftail = NULL;
    pthread_mutex_unlock(&q->lock);
    for (; w; w = next) {
        int status = w->cancelled || all_cancelled ? -ECANCELED : 0;

        next = w->next;         /* done() may free w */
        w->next = NULL;
        w->state = W_IDLE;
        if (status == 0)
            q->completed++;
        else
            q->cancelled++;
        w->done(w, status);
    }
}

static void on_finished(struct sl_io *io, unsigned ev)
{
    struct sl_workq *q = io->data;
    uint64_t v;

    (void)ev;
    if (read(io->fd, &v, sizeof(v)) < 0) {
        /* EAGAIN: another batch took the count; the list says what is left */
    }
    deliver(q, 0);
}

struct sl_workq *sl_workq_new(struct sl_loop *loop, unsigned threads,
                              size_t max_queue, char *err, size_t errlen)
{
    struct sl_workq *q;
    int rc;

    if (threads < 1 || threads > SL_WORKQ_MAX_THREADS || max_queue > SL_WORKQ_MAX_QUEUE) {
        snprintf(err, errlen, "worker pool: 1 to %d threads and a queue of at "
                 "most %d", SL_WORKQ_MAX_THREADS, SL_WORKQ_MAX_QUEUE);
        return NULL;
    }
    q = calloc(1, sizeof(*q));
    if (q == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    q->loop = loop;
    q->max_queue = max_queue;
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->cond, NULL);
    q->io.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    q->io.cb = on_finished;
    q->io.data = q;
    if (q->io.fd < 0) {
        snprintf(err, errlen, "eventfd: %s", strerror(errno));
        goto fail;
    }
    if ((rc = sl_loop_set_lt(loop, &q->io, SL_IO_READ, 0)) < 0) {
        snprintf(err, errlen, "epoll: %s", strerror(-rc));
        goto fail;
    }
    if (start_threads(q, threads, err, errlen) < 0)
        goto fail;
    return q;
fail:
    sl_workq_free(q);
    return NULL;
}

void sl_workq_free(struct sl_workq *q)
{
    struct sl_work *w;
    unsigned i;
    int fd;

    if (q == NULL)
        return;
    pthread_mutex_lock(&q->lock);
    q->stop = 1;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
    for (i = 0; i < q->nth; i++)
        pthread_join(q->th[i], NULL);
    /* No thread left: the waiting jobs join the finished ones, and every
     * one of them hears -ECANCELED. */
    while ((w = q->qhead) != NULL) {
        q->qhead = w->next;
        q->queued--;
        fin_push(q, w);
    }
    q->qtail = NULL;
    if (q->io.fd >= 0)
        deliver(q, 1);
    fd = sl_loop_del(q->loop, &q->io);
    if (fd >= 0)
        close(fd);
    pthread_cond_destroy(&q->cond);
    pthread_mutex_destroy(&q->lock);
    free(q);
}

int sl_workq_submit(struct sl_workq *q, struct sl_work *w)
{
    int rc = 0;

    if (w->run == NULL || w->done == NULL || w->state != W_IDLE)
        return -EINVAL;
    pthread_mutex_lock(&q->lock);
    if (q->stop) {
        rc = -ESHUTDOWN;
    } else if (q->queued >= q->max_queue) {
        q->rejected++;
        rc = -EAGAIN;
    } else {
        w->cancelled = 0;
        w->next = NULL;
        w->state = W_QUEUED;
        if (q->qtail)
            q->qtail->next = w;
        else
            q->qhead = w;
        q->qtail = w;
        q->queued++;
        q->submitted++;
        pthread_cond_signal(&q->cond);
    }
    pthread_mutex_unlock(&q->lock);
    return rc;
}

void sl_workq_cancel(struct sl_workq *q, struct sl_work *w)
{
    struct sl_work **pp;

    pthread_mutex_lock(&q->lock);
    if (w->state == W_IDLE || w->cancelled) {
        pthread_mutex_unlock(&q->lock);
        return;
    }
    w->cancelled = 1;
    if (w->state == W_QUEUED) {
        /* Never run: straight to the finished list (done() comes from the
         * loop's dispatch of the eventfd, not from inside this call). */
        struct sl_work *prev = NULL;

        for (pp = &q->qhead; *pp != w; pp = &(*pp)->next)
            prev = *pp;
        *pp = w->next;
        if (q->qtail == w)
            q->qtail = prev;
        q->queued--;
        fin_push(q, w);
    }
    pthread_mutex_unlock(&q->lock);
}

int sl_workq_tune(struct sl_workq *q, unsigned threads, size_t max_queue)
{
    if (threads < 1 || threads > SL_WORKQ_MAX_THREADS || max_queue > SL_WORKQ_MAX_QUEUE)
        return -EINVAL;
    pthread_mutex_lock(&q->lock);
    q->max_queue = max_queue;
    pthread_mutex_unlock(&q->lock);
    return threads > q->nth ? start_threads(q, threads, NULL, 0) : 0;
}

void sl_workq_get_stats(struct sl_workq *q, struct sl_workq_stats *st)
{
    pthread_mutex_lock(&q->lock);
    st->threads = q->nth;
    st->max_queue = q->max_queue;
    st->queued = q->queued;
    st->running = q->running;
    st->submitted = q->submitted;
    st->rejected = q->rejected;
    pthread_mutex_unlock(&q->lock);
    /* delivered on the loop thread, the caller's */
    st->completed = q->completed;
    st->cancelled = q->cancelled;
}
