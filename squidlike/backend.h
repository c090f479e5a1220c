/*
 * backend.h - reverse mode's backend pools at run time: for each pool of
 * a configuration snapshot its backends' live state (requests in flight,
 * health, ejection, counters), its consistent-hash ring, and the choice
 * of a backend for a request (the arithmetic is backend_pick.h's).
 *
 * One struct sl_backends per configuration snapshot, built with it by the
 * loader (a consistent-hash ring of a big pool takes a while: that is done
 * on the reload thread, not on the loop) and freed with it. A request
 * holds its snapshot until it ends, so a reload never moves it to a pool
 * it did not start on, and its in-flight count goes back where it was
 * taken. The live state is the loop's alone: one thread touches it. At a
 * reload the new snapshot adopts the old one's health, ejections and
 * counters, backend by backend (same pool name, same backend name).
 *
 * A backend may be chosen when it is healthy (active checks, health.c),
 * not ejected (passive: failures of real requests) and below its pool's
 * max_connections.
 */
#ifndef SL_BACKEND_H
#define SL_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "squidlike/conf.h"
#include "squidlike/hist.h"

struct sl_backends;

/* The runtime state of rev's pools (rev must outlive it: it is the
 * snapshot's own). NULL with errno when out of memory (or E2BIG: a
 * hashing pool too heavy for its ring, which the config refuses first). */
struct sl_backends *sl_backends_new(const struct sl_conf_reverse *rev);
/* NULL: no-op. */
void sl_backends_free(struct sl_backends *b);
/* Take over old's health, ejections and counters (a reload). */
void sl_backends_adopt(struct sl_backends *b, const struct sl_backends *old);

/* Why no backend could be chosen. */
enum sl_pick_fail {
    SL_PICK_NONE_UP = 1,        /* all down (health checks) or ejected */
    SL_PICK_ALL_BUSY            /* the ones up are all at max_connections */
};

/*
 * Choose a backend of pool for a request and count it in flight there
 * (give it back with sl_backends_done). key / keylen: what a hashing pool
 * hashes (the caller picks it per the pool's hash_by); rnd: random bits
 * for random-two; now_ms: loop time (ejections end); avoid: a backend
 * not to choose (-1: none) when another may be (a retry). Returns the
 * backend's index in the pool, or -SL_PICK_NONE_UP / -SL_PICK_ALL_BUSY.
 */
int sl_backends_pick(struct sl_backends *b, int pool, const void *key,
                     size_t keylen, uint64_t rnd, int64_t now_ms, int avoid);
/* The request on backend idx of pool is over; a request waiting in the
 * pool's queue is woken (its wake callback: it picks again). */
void sl_backends_done(struct sl_backends *b, int pool, int idx);

/* A request waiting for a slot (max_pending): linked into its pool's
 * queue, first in first woken. wake is called from sl_backends_done, out
 * of the queue already; it must not pick there and then (post a run). */
struct sl_backend_waiter {
    struct sl_backend_waiter *next, *prev;
    void (*wake)(struct sl_backend_waiter *w);
    int queued;                 /* 0 (as zeroed): not in a queue */
    int pool;                   /* the queue's, while queued */
};
/* Queue w on pool: 0, or -1 when the queue is full (or there is none). */
int sl_backends_enqueue(struct sl_backends *b, int pool, struct sl_backend_waiter *w);
/* Out of the queue (a timeout, a client gone); no-op when not queued. */
void sl_backends_dequeue(struct sl_backends *b, struct sl_backend_waiter *w);
unsigned sl_backends_pending(const struct sl_backends *b, int pool);
/* A woken waiter gave up without taking the slot (its time ran out, its
 * client left): wake the next one in its place. */
void sl_backends_wake_next(struct sl_backends *b, int pool);
/*
 * What a request found on backend idx: ok (a response that is not 5xx)
 * or a failure (connect failure, reset, timeout, 5xx), and how long it
 * took (us, to the response head; < 0: not known). Failures in a row
 * eject it (the pool's eject_after), for a time that doubles with each
 * ejection in a row; a success ends the run. Returns 1 when this
 * failure ejected it.
 */
int sl_backends_result(struct sl_backends *b, int pool, int idx, int ok,
                       int64_t now_ms, int64_t latency_us);
/* An active check of backend idx ended: ok, or why not. Returns 1 when
 * the backend went up or down on it (rise / fall reached). */
int sl_backends_health(struct sl_backends *b, int pool, int idx, int ok,
                       const char *why, int64_t now_ms);

/* What the active checks know of a backend: the part of its live state
 * that the worker running the checks publishes for the others (health.c,
 * health_shm.h), and that a worker taking over the checks starts from. */
struct sl_backend_health {
    int healthy;
    unsigned rise, fall;        /* checks in a row that passed / failed */
    unsigned long long checks, check_failures;
    int64_t last_check_ms;      /* loop time (CLOCK_MONOTONIC: every worker's) */
    int last_check_ok;
    char last_check_why[96];
};
void sl_backends_health_get(const struct sl_backends *b, int pool, int idx,
                            struct sl_backend_health *out);
/* Take h as the checks' verdict so far (another worker's checks): a
 * backend going up starts afresh, as on a rise of its own checks. Returns
 * 1 when it went up or down on it. */
int sl_backends_health_set(struct sl_backends *b, int pool, int idx,
                           const struct sl_backend_health *h);

/* The configuration of backend idx of pool (valid while b is held). */
const struct sl_conf_rbackend *sl_backends_conf(const struct sl_backends *b,
                                                int pool, int idx);
const struct sl_conf_reverse *sl_backends_rev(const struct sl_backends *b);

/* A request took route r of vhost v (counted for the status page and
 * /metrics); the requests a route has taken. */
void sl_backends_route_hit(struct sl_backends *b, int v, int r);
unsigned long long sl_backends_route_count(const struct sl_backends *b, int v, int r);

/* A backend as the status page and /metrics show it. */
struct sl_backend_info {
    int healthy;                /* active checks say up (or there are none) */
    int ejected;                /* passively, until ejected_until_ms */
    int64_t ejected_until_ms;
    unsigned active;            /* requests in flight */
    unsigned long long requests, failures, ejections;
    unsigned long long checks, check_failures;
    int64_t last_check_ms;      /* loop time; 0: never */
    int last_check_ok;
    char last_check_why[96];    /* why the last check failed */
    struct sl_hist latency;     /* to the response head */
};
void sl_backends_info(const struct sl_backends *b, int pool, int idx,
                      int64_t now_ms, struct sl_backend_info *out);

#endif
