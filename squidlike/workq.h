/*
 * workq.h - a small pool of threads for the calls that may block (GSS-API
 * ticket checks, later LDAP lookups): the event loop hands a job over,
 * keeps serving, and hears back on the loop when the job is done.
 *
 * A job is a struct sl_work the owner embeds in (or allocates beside) its
 * own state. run() is called on a pool thread and must touch only the
 * job's own memory (never the loop, a client, the configuration snapshot
 * unless the job holds a reference). done() is then called on the loop
 * thread, from the loop's dispatch of the pool's eventfd - never inside
 * sl_workq_submit() or sl_workq_cancel().
 *
 * The rule that keeps a job safe when its owner goes away (a client that
 * closed while its ticket was checked): the owner calls sl_workq_cancel()
 * and forgets the job; the pool still calls done() exactly once, with
 * status -ECANCELED, after run() has returned if it was running - and that
 * done() frees the job without looking at the owner. So every job that was
 * submitted gets exactly one done(), and the owner's memory is never
 * reached from a job it has given up.
 *
 * The queue is bounded: a submit that finds it full fails at once with
 * -EAGAIN (the caller answers "busy" rather than waiting, so a flood of
 * slow checks cannot grow memory or latency without bound). The threads
 * take no signals (the process's signals go to the loop's signalfd).
 *
 *   submit --> QUEUED --(a thread takes it)--> RUNNING --> FINISHED
 *                 |                               |            |
 *              cancel: FINISHED (cancelled)    cancel: flag    +--> done() on the loop
 */
#ifndef SL_WORKQ_H
#define SL_WORKQ_H

#include <stddef.h>

struct sl_loop;
struct sl_workq;
struct sl_work;

typedef void (*sl_work_run_cb)(struct sl_work *w);
/* status: 0 when run() ran for an owner that still wants the result;
 * -ECANCELED when the job was cancelled (run() may or may not have run)
 * or the pool is being freed. */
typedef void (*sl_work_done_cb)(struct sl_work *w, int status);

struct sl_work {
    sl_work_run_cb run;         /* the owner's: set before submitting */
    sl_work_done_cb done;
    void *data;                 /* the owner's; the pool never touches it */
    /* the pool's */
    struct sl_work *next;
    unsigned char state;
    unsigned char cancelled;
};

/*
 * A pool of threads (1..SL_WORKQ_MAX_THREADS) with a queue of at most
 * max_queue waiting jobs (jobs being run do not count), delivering
 * completions on loop. NULL with err on failure.
 */
#define SL_WORKQ_MAX_THREADS 64
#define SL_WORKQ_MAX_QUEUE 65536
struct sl_workq *sl_workq_new(struct sl_loop *loop, unsigned threads,
                              size_t max_queue, char *err, size_t errlen);
/*
 * Stop the pool: no new job starts, the threads finish the job they run
 * and are joined (a job must therefore be bounded in time), and every job
 * not delivered yet gets done(w, -ECANCELED) here, on the caller's
 * thread. NULL is a no-op. The loop must not be running.
 */
void sl_workq_free(struct sl_workq *q);

/*
 * Queue w (run and done set; w not queued already). Returns 0 (done()
 * will come), -EAGAIN when the queue is full, -EINVAL for a job without
 * callbacks or already in the pool. A failed submit never calls done().
 */
int sl_workq_submit(struct sl_workq *q, struct sl_work *w);

/*
 * The owner no longer wants w's result: done(w, -ECANCELED) comes later
 * on the loop (at once for a queued job, after run() returns for a running
 * one). A job already cancelled, or not in the pool, is left alone.
 */
void sl_workq_cancel(struct sl_workq *q, struct sl_work *w);

/* A reload's settings: the queue bound applies to the next submit (jobs
 * queued already stay); more threads start now, fewer take effect at the
 * next start (a thread is not stopped under a running job). Returns 0 or
 * -errno (the pool runs on as it was). */
int sl_workq_tune(struct sl_workq *q, unsigned threads, size_t max_queue);

struct sl_workq_stats {
    unsigned threads;
    size_t max_queue;
    size_t queued;              /* waiting now */
    size_t running;             /* on a thread now */
    unsigned long long submitted, completed, cancelled;
    unsigned long long rejected;    /* submits refused: queue full */
};
void sl_workq_get_stats(struct sl_workq *q, struct sl_workq_stats *st);

#endif
