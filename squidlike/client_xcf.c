/*
 * client_xcf.c - collapsed forwarding across worker processes.
 *
 * client_collapse.c makes one origin fetch of the misses of one process;
 * with several workers sharing one store, this file makes it one for the
 * machine: a miss that no local entry fetches claims its key in the
 * shared table of fetches in flight (cache/inflight.h). The first claim
 * leads: its local entry reports the fetch's states there (stored or not,
 * bytes stored, ended, committed, aborted). A miss in another worker that
 * finds a live claim waits (CL_WAIT), polling the claim every XCF_POLL_MS
 * from one timer per process, and when the object is committed it is
 * served from the store as a hit.
 *
 * Why wait for the commit rather than stream along: a waiter in another
 * process could read the chunks already committed (cache_store_chunk by
 * the object's id), but the head, the freshness data and the last chunk
 * reach the store only with the object's record at the end, and the
 * bytes between two commits are in the owner's memory only. Streaming
 * would need the head in shared memory and a commit per chunk; waiting
 * costs a late first byte for big objects, never a second origin fetch.
 * The wait is bounded as a local waiter's is (timeouts.connect +
 * origin_first_byte), counted again from each sign of progress, so a
 * long download keeps its waiters while it moves.
 *
 * When the owner's fetch turns out not storable (PASS), its waiters go
 * to the origin at once, and so do later misses for a while. When it
 * aborts, or its process dies (its pid is gone: looked at every
 * XCF_ALIVE_EVERY polls), each waiter claims again: the first takes the
 * fetch over, the others wait on it. A request claims at most XCF_TRIES
 * times, then goes alone.
 *
 * Background revalidations (stale-while-revalidate) claim their key too,
 * of another kind: one per machine at a time.
 *
 * A single process (workers = 1) never touches the table.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "squidlike/client_int.h"
#include "squidlike/client_xcf.h"
#include "squidlike/hash.h"
#include "squidlike/log.h"
#include "squidlike/shared.h"

int xcf_prepare(struct sl_shared *sh, char *err, size_t errlen)
{
    const size_t n = cache_infl_size(CACHE_INFL_SLOTS);
    void *mem;

    if (sh->infl != NULL)
        return 0;               /* a reload: the fetches in flight go on */
    /* 256 KiB, untouched pages cost nothing: made for one process too,
     * in case a reload brings workers. */
    if ((mem = sl_shm_map(n)) == NULL) {
        snprintf(err, errlen, "cannot map the table of fetches in flight: %s",
                 strerror(errno));
        return -1;
    }
    if ((sh->infl = cache_infl_init(mem, CACHE_INFL_SLOTS)) == NULL) {
        sl_shm_unmap(mem, n);
        snprintf(err, errlen, "cannot make the lock of the table of fetches in flight");
        return -1;
    }
    return 0;
}

struct cache_infl *xcf_table(const struct sl_client *c)
{
    const struct sl_shared *sh = c->srv->shared;

    return sh != NULL && sh->nworkers > 1 ? sh->infl : NULL;
}

static int pid_alive(int64_t pid)
{
    return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

/* Two hashes of the key: FNV-1a, and a multiply-xorshift of its own
 * (independent of FNV's: both must collide for a false join). */
static void xcf_key(const char *key, size_t klen, int kind, struct cache_infl_key *k)
{
    const unsigned char *p = (const unsigned char *)key;
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ klen;
    size_t i;

    for (i = 0; i < klen; i++) {
        h = (h ^ p[i]) * 0xff51afd7ed558ccdULL;
        h ^= h >> 32;
    }
    h ^= h >> 29;
    k->h1 = sl_fnv64(key, klen);
    k->h2 = h * 0xc4ceb9fe1a85ec53ULL;
    k->kind = (uint32_t)kind;
}

static enum cache_infl_verdict claim(struct cache_infl *t, int64_t now, const char *key,
                                     size_t klen, int kind, int flags,
                                     struct cache_infl_ticket *tk)
{
    struct cache_infl_key k;

    xcf_key(key, klen, kind, &k);
    return cache_infl_claim(t, &k, (int64_t)getpid(), now, pid_alive, flags, tk);
}

void xcf_set(struct cache_infl *t, struct cache_infl_ticket *tk, int state,
             int64_t until_ms)
{
    if (t == NULL || tk->seq == 0)
        return;
    cache_infl_set(t, tk, state, until_ms);
    if (state != CACHE_INFL_STREAMING && state != CACHE_INFL_ENDED &&
        state != CACHE_INFL_PENDING)
        tk->seq = 0;
}

/* --- waiters ----------------------------------------------------------- */

static void on_poll(struct sl_timer *tm);

void xcf_local_init(struct xcf_local *x, struct sl_loop *loop)
{
    memset(x, 0, sizeof(*x));
    x->loop = loop;
    x->poll.cb = on_poll;
    x->poll.data = x;
}

void xcf_local_stop(struct xcf_local *x)
{
    if (x->loop != NULL)
        sl_timer_stop(x->loop, &x->poll);
}

static void add(struct xcf_local *x, struct sl_client *c, const struct cache_infl_ticket *tk)
{
    struct cl_cache *cc = &c->txn.cache;

    cc->xtk = *tk;
    cc->xcf_seen = -1;
    cc->xcf_waiter = 1;
    c->xcf_prev = NULL;
    c->xcf_next = x->waiters;
    if (x->waiters)
        x->waiters->xcf_prev = c;
    x->waiters = c;
    c->state = CL_WAIT;
    c->t_state = c->t_progress = sl_loop_now(x->loop);
    if (!sl_timer_armed(&x->poll))
        sl_timer_set(x->loop, &x->poll, XCF_POLL_MS);
}

void xcf_unwait(struct sl_client *c)
{
    struct cl_cache *cc = &c->txn.cache;
    struct xcf_local *x;

    if (!cc->xcf_waiter)
        return;
    x = cfwd_xcf(c->srv->cfwd);
    if (c->xcf_prev)
        c->xcf_prev->xcf_next = c->xcf_next;
    else
        x->waiters = c->xcf_next;
    if (c->xcf_next)
        c->xcf_next->xcf_prev = c->xcf_prev;
    c->xcf_next = c->xcf_prev = NULL;
    cc->xcf_waiter = 0;
    cc->xtk.seq = 0;
}

static void joined(struct sl_client *c)
{
    if (!c->txn.cache.xcf_joined) {
        c->txn.cache.xcf_joined = 1;
        c->srv->stats->xcf_joins++;
    }
}

static int serve_stored(struct sl_client *c)
{
    if (!hit_serve_stored(c))
        return 0;
    c->srv->stats->xcf_served++;
    SL_DEBUG(c->id, "collapsed: served from the store another worker filled");
    return 1;
}

int xcf_begin(struct sl_client *c, struct xcf_local *x, const char *key, size_t klen,
              int flags, struct cache_infl_ticket *tk)
{
    struct cache_infl *t = xcf_table(c);
    int cflags = ((flags & XCF_AGAIN) ? CACHE_INFL_AGAIN : 0) |
                 ((flags & XCF_PEEK) ? CACHE_INFL_PEEK : 0), i;

    tk->seq = 0;
    if (t == NULL)
        return 0;
    for (i = 0; i < 2; i++) {
        switch (claim(t, sl_loop_now(x->loop), key, klen, CACHE_INFL_MISS, cflags, tk)) {
        case CACHE_INFL_LEAD:
            if (c->txn.cache.xcf_joined && !(flags & XCF_RESUMED))
                c->srv->stats->xcf_forwarded++;
            return 0;
        case CACHE_INFL_JOIN:
            joined(c);
            add(x, c, tk);
            return 1;
        case CACHE_INFL_STORED:
            /* Committed since our lookup: a hit after all. */
            joined(c);
            if (serve_stored(c))
                return 1;
            if (flags & XCF_PEEK)
                break;
            cflags = CACHE_INFL_AGAIN;      /* another variant: fetch it */
            continue;
        case CACHE_INFL_FULL:
            c->srv->stats->xcf_full++;
            break;
        default:
            break;
        }
        break;
    }
    tk->seq = 0;
    if (c->txn.cache.xcf_joined && !(flags & (XCF_RESUMED | XCF_PEEK)))
        c->srv->stats->xcf_forwarded++;
    return 0;
}

/* The claim c waited on moved to state: serve it, wait on, or fetch. */
static void resolve(struct sl_client *c, int state)
{
    struct cl_cache *cc = &c->txn.cache;
    struct sl_http_msg m;
    int flags = XCF_RESUMED;

    if (state == CACHE_INFL_DONE) {
        if (serve_stored(c))
            return;
        flags |= XCF_AGAIN;
    }
    if (state != CACHE_INFL_PASS && ++cc->xcf_tries <= XCF_TRIES &&
        hit_request_again(c, c->hdrs, &m) == 0 &&
        cfwd_lead_or_join(c, &m, (flags & XCF_AGAIN) ? CFWD_XAGAIN | CFWD_XRESUMED
                                                      : CFWD_XRESUMED))
        return;                 /* waits again (here or there), or served */
    /* Leads the fetch now (it took it over), or goes alone. */
    c->srv->stats->xcf_forwarded++;
    cl_forward_released(c);
}

static int in_flight(int state)
{
    return state == CACHE_INFL_PENDING || state == CACHE_INFL_STREAMING ||
           state == CACHE_INFL_ENDED;
}

static void on_poll(struct sl_timer *tm)
{
    struct xcf_local *x = tm->data;
    struct sl_client *c, *next;
    struct cache_infl_view v;
    struct cache_infl *t;
    int look = ++x->ticks % XCF_ALIVE_EVERY == 0;
    int64_t live = 0;           /* an owner seen alive this tick: many
                                   waiters of one fetch ask the kernel once */

    for (c = x->waiters; c; c = next) {
        struct cl_cache *cc = &c->txn.cache;

        next = c->xcf_next;
        if ((t = xcf_table(c)) == NULL)
            v.state = CACHE_INFL_GONE;
        else
            cache_infl_poll(t, &cc->xtk, &v);
        if (in_flight(v.state)) {
            if (v.progress != cc->xcf_seen) {
                /* Bytes are coming in: the wait's bound starts again. */
                cc->xcf_seen = v.progress;
                c->t_state = sl_loop_now(x->loop);
            }
            if (!look || v.pid == live)
                continue;
            if (pid_alive(v.pid)) {
                live = v.pid;
                continue;
            }
            SL_LOG(SL_LOG_INFO, c->id, 0, "collapsed: the worker fetching for us "
                   "(pid %lld) is gone", (long long)v.pid);
        }
        xcf_unwait(c);
        resolve(c, v.state);
    }
    if (x->waiters != NULL)
        sl_timer_set(x->loop, &x->poll, XCF_POLL_MS);
}

/* --- revalidations ------------------------------------------------------ */

int xcf_reval_claim(struct sl_server *srv, const char *key, size_t klen,
                    struct cache_infl_ticket *tk)
{
    const struct sl_shared *sh = srv->shared;

    tk->seq = 0;
    if (sh == NULL || sh->nworkers <= 1 || sh->infl == NULL)
        return 1;
    switch (claim(sh->infl, sl_loop_now(srv->loop), key, klen, CACHE_INFL_REVAL, 0, tk)) {
    case CACHE_INFL_JOIN:
    case CACHE_INFL_STORED:     /* one ended a moment ago */
        tk->seq = 0;
        srv->stats->xcf_reval_skipped++;
        return 0;
    case CACHE_INFL_FULL:
        srv->stats->xcf_full++;
        return 1;
    default:
        return 1;
    }
}

void xcf_reval_done(struct sl_server *srv, struct cache_infl_ticket *tk)
{
    if (srv->shared != NULL)
        xcf_set(srv->shared->infl, tk, CACHE_INFL_DONE, sl_loop_now(srv->loop) + XCF_HINT_MS);
}
