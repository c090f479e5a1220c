/*
 * inflight.c - the shared table of fetches in flight (see inflight.h).
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "cache/inflight.h"

/* One slot: a cache line. Fields other than tick are written by the one
 * who claims (under the lock) before tick publishes them; progress by the
 * owner alone. */
struct infl_slot {
    uint64_t tick;              /* seq << 32 | state: one atomic word */
    uint64_t h1, h2;
    uint32_t kind, pad;
    int64_t pid;
    int64_t started_ms;
    int64_t progress;
    int64_t until_ms;           /* DONE, PASS: how long the hint lasts */
};

struct cache_infl {
    pthread_mutex_t lock;       /* process-shared, robust */
    uint32_t nslots;            /* a power of two */
    uint32_t seq;               /* the last claim's number */
    uint64_t recovered;
    struct infl_slot slots[];
};

#define TICK(seq, st) (((uint64_t)(seq) << 32) | (uint32_t)(st))
#define TICK_SEQ(t) ((uint32_t)((t) >> 32))
#define TICK_STATE(t) ((int)((t) & 0xffffffffu))

static uint64_t load(const uint64_t *p)
{
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static void store(uint64_t *p, uint64_t v)
{
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}

size_t cache_infl_size(uint32_t nslots)
{
    return sizeof(struct cache_infl) + (size_t)nslots * sizeof(struct infl_slot);
}

struct cache_infl *cache_infl_init(void *mem, uint32_t nslots)
{
    struct cache_infl *t = mem;
    pthread_mutexattr_t a;
    int rc;

    if (nslots < 2 || (nslots & (nslots - 1)) != 0)
        return NULL;
    if (pthread_mutexattr_init(&a) != 0)
        return NULL;
    rc = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    if (rc == 0)
        rc = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    if (rc == 0)
        rc = pthread_mutex_init(&t->lock, &a);
    pthread_mutexattr_destroy(&a);
    if (rc != 0)
        return NULL;
    t->nslots = nslots;
    return t;
}

/* 0, or -1 when the lock is lost for good (ENOTRECOVERABLE: a previous
 * holder died and its successor did not make it consistent). */
static int lock(struct cache_infl *t)
{
    int rc = pthread_mutex_lock(&t->lock);

    if (rc == EOWNERDEAD) {
        /* Its holder died inside a critical section: every change
         * publishes with its tick last, so what it left is whole or
         * invisible. */
        __atomic_add_fetch(&t->recovered, 1, __ATOMIC_RELAXED);
        rc = pthread_mutex_consistent(&t->lock);
    }
    return rc == 0 ? 0 : -1;
}

static void unlock(struct cache_infl *t)
{
    pthread_mutex_unlock(&t->lock);
}

static int same_key(const struct infl_slot *s, const struct cache_infl_key *k)
{
    return s->h1 == k->h1 && s->h2 == k->h2 && s->kind == k->kind;
}

/* A claim whose owner is at work (or would be, if alive). */
static int in_flight(int st)
{
    return st == CACHE_INFL_PENDING || st == CACHE_INFL_STREAMING ||
           st == CACHE_INFL_ENDED;
}

/* How much a slot of another key may be taken: 2 free (or dead), 1 an
 * unexpired hint (taken when nothing better is there), 0 not at all. */
static int reusable(const struct infl_slot *s, int64_t now_ms, cache_infl_alive_fn alive)
{
    int st = TICK_STATE(s->tick);

    if (st == CACHE_INFL_FREE || st == CACHE_INFL_ABORTED)
        return 2;
    if (st == CACHE_INFL_DONE || st == CACHE_INFL_PASS)
        return s->until_ms <= now_ms ? 2 : 1;
    return alive(s->pid) ? 0 : 2;
}

static void take(struct cache_infl *t, struct infl_slot *s, const struct cache_infl_key *k,
                 int64_t pid, int64_t now_ms, struct cache_infl_ticket *tk)
{
    if (++t->seq == 0)
        t->seq = 1;             /* 0 is no ticket */
    /* Unpublish first: a waiter of the old claim sees GONE, not the old
     * state with the new owner's fields. */
    store(&s->tick, TICK(t->seq, CACHE_INFL_FREE));
    s->h1 = k->h1;
    s->h2 = k->h2;
    s->kind = k->kind;
    s->pid = pid;
    s->started_ms = now_ms;
    __atomic_store_n(&s->progress, 0, __ATOMIC_RELAXED);
    s->until_ms = 0;
    store(&s->tick, TICK(t->seq, CACHE_INFL_PENDING));
    tk->slot = (uint32_t)(s - t->slots);
    tk->seq = t->seq;
}

enum cache_infl_verdict cache_infl_claim(struct cache_infl *t,
                                         const struct cache_infl_key *key,
                                         int64_t pid, int64_t now_ms,
                                         cache_infl_alive_fn alive, int flags,
                                         struct cache_infl_ticket *tk)
{
    const uint32_t mask = t->nslots - 1;
    const uint32_t probe = t->nslots < CACHE_INFL_PROBE ? t->nslots : CACHE_INFL_PROBE;
    struct infl_slot *s, *found = NULL, *best = NULL;
    enum cache_infl_verdict v = CACHE_INFL_LEAD;
    int best_score = 0, score, st;
    uint32_t i;

    if (lock(t) < 0)
        return CACHE_INFL_FULL;
    /* The whole window: a key may sit past a slot freed after it came. */
    for (i = 0; i < probe; i++) {
        s = &t->slots[(uint32_t)(key->h1 + i) & mask];
        st = TICK_STATE(s->tick);
        if (st != CACHE_INFL_FREE && same_key(s, key)) {
            found = s;
            break;
        }
        if (best_score < 2 && (score = reusable(s, now_ms, alive)) > best_score) {
            best = s;
            best_score = score;
        }
    }
    if (found != NULL) {
        st = TICK_STATE(found->tick);
        if (in_flight(st) && alive(found->pid)) {
            v = CACHE_INFL_JOIN;
            tk->slot = (uint32_t)(found - t->slots);
            tk->seq = TICK_SEQ(found->tick);
        } else if (st == CACHE_INFL_DONE && found->until_ms > now_ms &&
                   !(flags & CACHE_INFL_AGAIN)) {
            v = CACHE_INFL_STORED;
        } else if ((st == CACHE_INFL_PASS && found->until_ms > now_ms) ||
                   (flags & CACHE_INFL_PEEK)) {
            v = CACHE_INFL_GO;
        } else {
            /* aborted, its owner dead, or an old hint: take it over */
            take(t, found, key, pid, now_ms, tk);
        }
    } else if (flags & CACHE_INFL_PEEK) {
        v = CACHE_INFL_GO;
    } else if (best != NULL) {
        take(t, best, key, pid, now_ms, tk);
    } else {
        v = CACHE_INFL_FULL;    /* a window of live fetches: do without */
    }
    unlock(t);
    return v;
}

int cache_infl_set(struct cache_infl *t, const struct cache_infl_ticket *tk,
                   int state, int64_t until_ms)
{
    struct infl_slot *s;
    int rc = -1;

    if (tk->seq == 0 || tk->slot >= t->nslots || lock(t) < 0)
        return -1;
    s = &t->slots[tk->slot];
    if (TICK_SEQ(s->tick) == tk->seq) {
        s->until_ms = until_ms;
        store(&s->tick, TICK(tk->seq, state));
        rc = 0;
    }
    unlock(t);
    return rc;
}

void cache_infl_progress(struct cache_infl *t, const struct cache_infl_ticket *tk,
                         int64_t bytes)
{
    struct infl_slot *s;

    if (tk->seq == 0 || tk->slot >= t->nslots)
        return;
    s = &t->slots[tk->slot];
    if (TICK_SEQ(load(&s->tick)) == tk->seq)
        __atomic_store_n(&s->progress, bytes, __ATOMIC_RELAXED);
}

void cache_infl_poll(const struct cache_infl *t, const struct cache_infl_ticket *tk,
                     struct cache_infl_view *v)
{
    const struct infl_slot *s;
    uint64_t tick;

    memset(v, 0, sizeof(*v));
    v->state = CACHE_INFL_GONE;
    if (tk->seq == 0 || tk->slot >= t->nslots)
        return;
    s = &t->slots[tk->slot];
    tick = load(&s->tick);
    if (TICK_SEQ(tick) != tk->seq)
        return;
    v->pid = __atomic_load_n(&s->pid, __ATOMIC_RELAXED);
    v->started_ms = __atomic_load_n(&s->started_ms, __ATOMIC_RELAXED);
    v->progress = __atomic_load_n(&s->progress, __ATOMIC_RELAXED);
    /* The fields were the ticket's if the claim is still the same. */
    if (TICK_SEQ(load(&s->tick)) != tk->seq)
        return;
    v->state = TICK_STATE(tick);
}

uint64_t cache_infl_recovered(const struct cache_infl *t)
{
    return __atomic_load_n(&t->recovered, __ATOMIC_RELAXED);
}
