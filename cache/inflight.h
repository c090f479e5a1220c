/*
 * inflight.h - the fetches in flight of every worker process: a table in
 * shared memory, keyed like the cache, that lets a miss in one worker
 * wait for the fetch another worker already makes of the same object
 * (collapsed forwarding across workers), and keeps a background
 * revalidation from starting in two workers at once.
 *
 * Fixed slots, open addressing with a bounded probe (CACHE_INFL_PROBE):
 * memory and the cost of a claim do not grow with the load; when the
 * window of a key is full of live fetches the claim says FULL (fetch
 * without collapsing), which is what a single process did before.
 *
 * A key is two independent 64-bit hashes of the cache key (and a kind):
 * two different URLs share a slot only if both collide, and a false join
 * would cost a wait and a look in the store, never a wrong answer (the
 * waiter serves only what the store holds under its own key).
 *
 * Ownership changes (claim, take over, state changes) run under one
 * process-shared robust mutex: a worker killed -9 while it holds it
 * leaves EOWNERDEAD to the next one, which goes on (every change writes
 * its fields before the state word that publishes them, so a half-done
 * claim is a slot nobody waits on). Why a lock and not CAS on slots: a
 * claim must find the key in its window or take a free slot *atomically*,
 * else two workers that miss at once both insert (in two slots) and both
 * fetch; a lock-free insert that prevents it needs a two-word CAS or an
 * intermediate state that a dead claimer leaves behind. The critical
 * sections are a scan of CACHE_INFL_PROBE slots, once per miss (hits never
 * touch the table). Waiters read without the lock: the state word holds
 * the claim's sequence number with its state, one atomic load.
 *
 * An owner that dies leaves a slot whose pid is gone: the caller's alive()
 * says so, and the next claim of the key takes the fetch over.
 *
 * Pure: no event loop, no sockets; the caller maps the memory and gives
 * the time and a liveness check.
 */
#ifndef CACHE_INFLIGHT_H
#define CACHE_INFLIGHT_H

#include <stddef.h>
#include <stdint.h>

#define CACHE_INFL_SLOTS 4096   /* fetches in flight on the machine */
#define CACHE_INFL_PROBE 32     /* slots looked at per claim */

enum cache_infl_kind {
    CACHE_INFL_MISS = 1,        /* a miss being fetched and stored */
    CACHE_INFL_REVAL = 2        /* a background revalidation */
};

enum cache_infl_state {
    CACHE_INFL_FREE = 0,
    CACHE_INFL_PENDING,         /* claimed: no response yet */
    CACHE_INFL_STREAMING,       /* being stored: progress says how far */
    CACHE_INFL_ENDED,           /* body complete: the commit is next */
    CACHE_INFL_DONE,            /* in the store (a hint until until_ms) */
    CACHE_INFL_PASS,            /* not storable: do not wait (until until_ms) */
    CACHE_INFL_ABORTED,         /* gone without storing: the next takes over */
    CACHE_INFL_GONE             /* (cache_infl_poll) the slot is another claim now */
};

/* What a claim tells the caller to do. */
enum cache_infl_verdict {
    CACHE_INFL_LEAD,            /* claimed: fetch it, report its states */
    CACHE_INFL_JOIN,            /* another live process fetches: wait on tk */
    CACHE_INFL_GO,              /* fetch without collapsing: not storable */
    CACHE_INFL_STORED,          /* committed just now: look in the store */
    CACHE_INFL_FULL             /* no slot (or no lock): fetch without */
};

/* cache_infl_claim flags */
#define CACHE_INFL_AGAIN 0x1    /* the store did not have it after a DONE:
                                   take the slot over rather than STORED */
#define CACHE_INFL_PEEK 0x2     /* join or look in the store, never lead:
                                   GO where it would have (a range, which
                                   starts its whole fetch apart) */

struct cache_infl_key {
    uint64_t h1, h2;            /* two hashes of the cache key */
    uint32_t kind;              /* enum cache_infl_kind */
};

/* A claim: the slot and the claim's sequence number there (never 0). */
struct cache_infl_ticket {
    uint32_t slot, seq;
};

/* What a waiter sees of a claim. */
struct cache_infl_view {
    int state;                  /* enum cache_infl_state */
    int64_t pid;                /* the owner */
    int64_t started_ms;
    int64_t progress;           /* body bytes the owner has stored */
};

struct cache_infl;

/* Bytes for a table of nslots (a power of two, at least 2). */
size_t cache_infl_size(uint32_t nslots);
/* Make a table in mem (cache_infl_size bytes, zeroed, shared with the
 * processes that will use it). NULL when the lock cannot be made. */
struct cache_infl *cache_infl_init(void *mem, uint32_t nslots);

/* Is pid alive? (kill(pid, 0) in the daemon; a stub in tests.) */
typedef int (*cache_infl_alive_fn)(int64_t pid);

/*
 * Look key up for process pid at now_ms (monotonic, the same clock in
 * every process). LEAD and JOIN fill *tk. flags: CACHE_INFL_AGAIN.
 */
enum cache_infl_verdict cache_infl_claim(struct cache_infl *t,
                                         const struct cache_infl_key *key,
                                         int64_t pid, int64_t now_ms,
                                         cache_infl_alive_fn alive, int flags,
                                         struct cache_infl_ticket *tk);
/*
 * The owner of tk moves its claim on: STREAMING, ENDED, DONE, PASS (the
 * hint lasts until until_ms), ABORTED or FREE. A ticket that is no longer
 * the slot's claim changes nothing. 0, or -1 when it was not.
 */
int cache_infl_set(struct cache_infl *t, const struct cache_infl_ticket *tk,
                   int state, int64_t until_ms);
/* The owner's body bytes stored so far (lock-free: only the owner writes). */
void cache_infl_progress(struct cache_infl *t, const struct cache_infl_ticket *tk,
                         int64_t bytes);
/* A waiter's look at its ticket, lock-free; state GONE when the slot holds
 * another claim now (taken over: claim again to find out). */
void cache_infl_poll(const struct cache_infl *t, const struct cache_infl_ticket *tk,
                     struct cache_infl_view *v);

/* Times the lock was found held by a dead process (and recovered). */
uint64_t cache_infl_recovered(const struct cache_infl *t);

#endif
