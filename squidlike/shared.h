/*
 * shared.h - what the worker processes share: memory mapped before the
 * master forks them (MAP_SHARED | MAP_ANONYMOUS), so that every worker
 * sees the same pages at the same address, and its children after a
 * restart too.
 *
 * The per-worker slots hold each worker's counters (struct sl_stats and
 * struct sl_metrics): a worker writes only its own slot, with plain
 * stores (one writer: aligned 64-bit stores are whole on the platforms
 * we build for), and whoever renders /metrics or the status page sums
 * every slot (sl_shared_sum). A slot outlives its worker: a new worker
 * that takes it counts on from where the last one stopped, so the sums
 * never go back (Prometheus counters), and only the gauges restart.
 *
 * A single process (workers = 1) uses the same structure with one slot,
 * so that nothing downstream knows the difference.
 *
 * Other modules keep their shared state here too, each with its own
 * pointer below, made by sl_shared_prepare (before fork; at a reload,
 * again with the new configuration: keep what is compatible).
 */
#ifndef SL_SHARED_H
#define SL_SHARED_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "squidlike/ipcount.h"
#include "squidlike/metrics.h"

struct sl_conf;
struct sl_api_table;
struct cache_infl;
struct rl_shm;
struct sl_qstore;
struct sl_hshm;
struct sl_status_ring;

#define SL_WORKERS_MAX 64
/* Old workers drain while new ones start (a reload), and a reload may
 * come while the last one's old workers still drain: room for 4
 * generations of the largest count. */
#define SL_SHARED_SLOTS (4 * SL_WORKERS_MAX)

/* A worker's live numbers that are not counters (reset when a new
 * worker takes the slot). */
struct sl_wgauges {
    uint64_t clients;           /* open client connections (kept live) */
    /* Published each status interval (status.c on_sample): */
    uint64_t tunnels, origins_busy, origins_idle;
};

enum sl_wslot_state { SL_WSLOT_FREE = 0, SL_WSLOT_RUNNING, SL_WSLOT_DRAINING };

/* A worker's TLS handshakes (tls.c counts them; its sl_tls_get_stats
 * adds every slot's up). */
struct sl_wtls {
    unsigned long long handshakes, resumed, failed;
};

struct sl_wslot {
    /* Written by the master. */
    volatile int64_t pid;       /* the worker in the slot; 0: none */
    volatile int state;         /* enum sl_wslot_state */
    unsigned index;             /* which worker (0 .. workers-1) */
    unsigned generation;        /* the configuration it runs (1, +1 a reload) */
    int64_t started;            /* unix time it was forked */
    uint64_t restarts;          /* of the workers that had the slot */
    /* Written by the worker. */
    volatile int ready;         /* its listeners are in its loop */
    struct sl_wgauges g;
    struct sl_stats stats;
    struct sl_metrics metrics;
    struct sl_ipcounts ipc;     /* its clients' connections per address
                                   (cleared by the master before a fork) */
    struct sl_wtls tls;
};

struct sl_shared {
    struct sl_wslot *slots;     /* SL_SHARED_SLOTS of them */
    size_t nused;               /* slots ever taken: the sums stop there */
    int64_t start_ms;           /* monotonic time the master started */
    unsigned generation;        /* the newest */
    unsigned nworkers;          /* of the newest generation; 1: single */
    struct sl_status_ring *ring;    /* the status history (status.h) */
    /* Modules' shared state (each owns its layout). */
    /* TLS session ticket keys (tls.c sl_tls_set_ticket_secret): every
     * worker derives the key of each period from this, so a ticket one
     * worker issued resumes on any other. Made once by sl_shared_new:
     * kept across reloads and worker restarts (not across a restart or
     * a binary upgrade: new memory). */
    unsigned char ticket_secret[32];   /* SL_TLS_TICKET_SECRET_LEN */
    /* Rate-limit buckets (client_limit.c rl_shm_prepare): its own
     * mapping, replaced by a reload that changes its size. The pointer is
     * the master's, valid in the workers it forks after setting it (a
     * worker reads it once, at start). */
    struct rl_shm *ratelimit;
    /* The gateway's quota counters (quota_store.h sl_qstore_prepare): a
     * file mapping, replaced by a reload that changes its file or size;
     * the same shape as ratelimit. */
    struct sl_qstore *quota;
    /* The active health checks' verdicts (health_shm.h): one table for
     * the master's life, keyed by pool and backend names. */
    struct sl_hshm *health;
    /* The fetches in flight of every worker (client_xcf.c): one table
     * for the master's life, kept across reloads. */
    struct cache_infl *infl;
    /* The analytics per route and consumer (apistats.h): one table per
     * slot (api[i] is slots[i]'s), written by its worker only, kept like
     * the slot's counters when a new worker takes it. Made once by
     * sl_shared_new, for the master's life. */
    struct sl_api_table *api;
};

/* Map n bytes shared with future children, zeroed. NULL on failure. */
void *sl_shm_map(size_t n);
void sl_shm_unmap(void *p, size_t n);

/* Make the structure (the master, or the single process). NULL: no memory. */
struct sl_shared *sl_shared_new(void);
void sl_shared_free(struct sl_shared *sh);

/* Before forking workers for conf (at start, and at each reload with the
 * new snapshot). Returns 0 or -1 with err. */
int sl_shared_prepare(struct sl_shared *sh, const struct sl_conf *conf,
                      char *err, size_t errlen);

/* A free slot for worker index of generation gen, marked running for
 * pid 0 (the master writes the pid after fork). -1: none free. */
int sl_shared_take(struct sl_shared *sh, unsigned index, unsigned gen);

/* Connections from e's address (an entry of self's table) in every live
 * worker (ipcount.h). */
unsigned sl_shared_ipconns(const struct sl_shared *sh, const struct sl_wslot *self,
                           const struct sl_ipcount *e);

/* Sum the counters of every slot (live or not) into *st and *m. The top
 * tables are merged (sl_top_merge); the categories by name. */
void sl_shared_sum(const struct sl_shared *sh, struct sl_stats *st,
                   struct sl_metrics *m);

/* Sum every slot's analytics table (live or not) into *s (apistats.h). */
struct sl_api_sum;
void sl_shared_api_sum(const struct sl_shared *sh, struct sl_api_sum *s);

#endif
