/*
 * client_collapse.c - collapsed forwarding: concurrent misses for one URL make one
 * origin request. The first miss leads (it forwards and stores); later ones
 * wait on the leader's entry and, once the leader's response turns out
 * storable with a known length, are served from it as it streams in
 * (read-while-writer) - from the writer's memory for what is not committed
 * yet, from the store for what is. An uncacheable answer, or one without a
 * Content-Length, releases the waiters to go forward on their own.
 *
 * A miss that arrives while the body streams in (a late joiner) starts
 * reading at once from what is there: a popular large object is fetched
 * once however the requests are spread in time. The entry stays findable
 * until the object is committed (then the store answers) or the fetch
 * fails. Readers never hold more than a view into the writer's current
 * chunk or the map: memory does not grow with their number or lag.
 *
 * A response with Vary is served only to requests that select the same
 * variant; the others fetch their own.
 *
 * Entries live in this process; with several workers, a leader also
 * claims its key in the table all workers share, and reports its fetch's
 * states there, so that misses in the other workers wait for it rather
 * than fetch too (client_xcf.c). Requests with conditionals never wait:
 * they are answered differently from the plain GET being fetched. Nor do ranges, but for
 * those of a URL with range_fetch (CFWD_RANGE): theirs is cut from the whole
 * object, which client_hit.c has fetched for them if nobody was.
 *
 *   leader: cfwd_lead -> cfwd_head (stored or not) -> cfwd_body ... -> cfwd_end
 *   waiter: cfwd_join -> [CL_WAIT] -> started (CL_HIT, reading via cfwd_read)
 *                               \-> released (forwards itself)
 *   late:   cfwd_join while STREAMING/ENDED -> CL_HIT at once, via cfwd_read
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "squidlike/client_int.h"
#include "squidlike/hash.h"
#include "squidlike/client_collapse.h"
#include "squidlike/log.h"

#define CFWD_BUCKETS 1024

enum cfwd_state {
    CFWD_PENDING,                 /* waiting for the leader's response head */
    CFWD_STREAMING,               /* stored response, body coming in */
    CFWD_ENDED,                   /* body complete; committed at the next flush */
    CFWD_COMMITTED,               /* all in the store */
    CFWD_FAILED                   /* gone: waiters still reading are cut */
};

struct cfwd_entry {
    struct cfwd_entry *hnext, *hprev;
    struct cfwd_table *tab;
    struct sl_client *waiters;  /* linked by c->cfwd_next */
    struct sl_client *leader;   /* NULL once it is done or gone */
    int refs;                   /* leader + waiters + the ended list */
    int state;
    uint32_t hash;
    struct cache_writer *w;     /* while CFWD_STREAMING */
    uint64_t id;
    int64_t avail, total;
    struct cache_fresh fresh;
    char *head;                 /* stored head + CRLF */
    size_t head_len;
    char *vkey;                 /* key the object is stored under */
    size_t vklen;
    char *vary;                 /* the response's Vary value, or NULL */
    size_t vary_len;
    struct cfwd_entry *ended_next;    /* on tab->ended until flushed */
    struct cache_infl *xt;      /* the workers' table, when claimed there */
    struct cache_infl_ticket xtk;   /* the claim (seq 0: none, or ended) */
    size_t klen;
    char key[];
};

/*
 * URLs whose last fetch could not be shared (not storable, or no length to
 * read along): for CFWD_PASS_MS their misses neither lead nor wait, they go
 * forward at once, side by side (Varnish's hit-for-miss). Without this,
 * concurrent requests for an uncacheable URL (an API, a no-store page)
 * would queue behind one another: each wave waits for a leader's answer
 * only to be released and fetch anyway, doubling their latency. One slot
 * per hash bucket, direct-mapped: a collision only costs a collapse.
 */
#define CFWD_PASS_SLOTS 1024
#define CFWD_PASS_MS 60000

struct cfwd_table {
    struct cfwd_entry *buckets[CFWD_BUCKETS];
    struct cfwd_entry *ended;
    struct sl_loop *loop;
    struct xcf_local x;         /* waiting on other workers' fetches */
    struct {
        uint32_t hash;
        int64_t until;          /* loop ms; 0: free */
    } pass[CFWD_PASS_SLOTS];
};

static int pass_recent(const struct cfwd_table *tab, uint32_t h)
{
    const int64_t until = tab->pass[h % CFWD_PASS_SLOTS].until;

    return until != 0 && tab->pass[h % CFWD_PASS_SLOTS].hash == h &&
           sl_loop_now(tab->loop) < until;
}

struct cfwd_table *cfwd_table_new(struct sl_loop *loop)
{
    struct cfwd_table *t = calloc(1, sizeof(*t));

    if (t) {
        t->loop = loop;
        xcf_local_init(&t->x, loop);
    }
    return t;
}

void cfwd_table_free(struct cfwd_table *t)
{
    if (t)
        xcf_local_stop(&t->x);
    free(t);                    /* entries die with their clients */
}

struct xcf_local *cfwd_xcf(struct cfwd_table *t)
{
    return &t->x;
}

/* Tell the other workers how the fetch goes (when it claimed the key). */
static void entry_xset(struct cfwd_entry *e, int state, int64_t after_ms)
{
    xcf_set(e->xt, &e->xtk, state, after_ms ? sl_loop_now(e->tab->loop) + after_ms : 0);
}

static void entry_unlink(struct cfwd_entry *e)
{
    if (e->hprev)
        e->hprev->hnext = e->hnext;
    else if (e->tab->buckets[e->hash % CFWD_BUCKETS] == e)
        e->tab->buckets[e->hash % CFWD_BUCKETS] = e->hnext;
    if (e->hnext)
        e->hnext->hprev = e->hprev;
    e->hnext = e->hprev = NULL;
}

static void entry_unref(struct cfwd_entry *e)
{
    struct cfwd_entry **pp;

    if (--e->refs > 0)
        return;
    entry_unlink(e);
    for (pp = &e->tab->ended; *pp; pp = &(*pp)->ended_next)
        if (*pp == e) {
            *pp = e->ended_next;
            break;
        }
    entry_xset(e, CACHE_INFL_ABORTED, 0);   /* when it did not say yet */
    free(e->head);
    free(e->vkey);
    free(e->vary);
    free(e);
}

static void wake(struct cfwd_entry *e)
{
    struct sl_client *c;

    for (c = e->waiters; c; c = c->cfwd_next)
        sl_loop_post(e->tab->loop, &c->run_post);
}

int cfwd_may_wait(const struct sl_http_msg *m, int flags)
{
    static const char *const no[] = { "If-None-Match", "If-Modified-Since",
        "If-Match", "If-Unmodified-Since", "Authorization", "Range",
        "If-Range", NULL };
    const char *const *n;

    for (n = no; *n; n++) {
        if ((flags & CFWD_RANGE) && (strcmp(*n, "Range") == 0 ||
                                   strcmp(*n, "If-Range") == 0))
            continue;
        if (sl_http_find(m, *n))
            return 0;
    }
    return 1;
}

/*
 * Does req select the variant the entry stores? Without Vary, always; with
 * it, the request's values of the Vary fields must make the same secondary
 * key (the part of e->vkey after the primary key and the marker id).
 */
#define CFWD_MARKER_LEN 18        /* "\n%016llx\n" between the key parts */

static int variant_matches(const struct cfwd_entry *e, const struct sl_http_msg *req,
                           unsigned flags)
{
    char buf[2048];
    struct sl_buf out = { buf, buf + sizeof(buf), buf, buf };
    size_t skip = e->klen + CFWD_MARKER_LEN;

    if (e->vary == NULL)
        return 1;
    if (e->vklen < skip ||
        cache_vary_key((struct sl_view){ e->vary, e->vary_len }, req, &out, flags) != 0)
        return 0;
    return sl_buf_len(&out) == e->vklen - skip &&
           memcmp(out.pos, e->vkey + skip, e->vklen - skip) == 0;
}

static void add_waiter(struct cfwd_entry *e, struct sl_client *c)
{
    struct cl_cache *cc = &c->txn.cache;

    c->cfwd_next = e->waiters;
    e->waiters = c;
    e->refs++;
    cc->cfwd = e;
    cc->cfwd_waiter = 1;
}

int cfwd_lead_or_join(struct sl_client *c, const struct sl_http_msg *m, int flags)
{
    struct cfwd_table *tab = c->srv->cfwd;
    struct cl_cache *cc = &c->txn.cache;
    const char *key = c->ckey.pos;
    size_t klen = cc->key_plen;
    uint32_t h = sl_fnv32(key, klen);
    struct cfwd_entry *e;
    struct cache_infl_ticket tk;

    if (tab == NULL || !cfwd_may_wait(m, flags))
        return 0;
    for (e = tab->buckets[h % CFWD_BUCKETS]; e; e = e->hnext)
        if (e->hash == h && e->klen == klen && memcmp(e->key, key, klen) == 0)
            break;
    if ((e == NULL || e->state == CFWD_PENDING) && pass_recent(tab, h))
        return 0;               /* its answers are not shared: go ahead */
    if (e && e->state == CFWD_PENDING) {
        /* Somebody fetches it already: wait for the answer. */
        add_waiter(e, c);
        c->state = CL_WAIT;
        c->t_state = c->t_progress = sl_loop_now(c->srv->loop);
        return 1;
    }
    if (e && (e->state == CFWD_STREAMING || e->state == CFWD_ENDED)) {
        /* A late joiner: read along from what is there already. */
        if (!variant_matches(e, m, zip_vary_flags(c)))
            return 0;           /* another variant: fetch it (not stored) */
        add_waiter(e, c);
        if (hit_serve_collapsed(c, e->head, e->head_len, &e->fresh, e->total) < 0) {
            cfwd_detach(c);
            return 0;
        }
        c->srv->stats->late_joins++;
        return 1;
    }
    if (e == NULL && (flags & CFWD_JOIN_ONLY))
        /* a range may wait on another worker's whole fetch, and be cut
         * from the stored object */
        return xcf_begin(c, &tab->x, key, klen, XCF_PEEK, &tk);
    if (e || (flags & CFWD_JOIN_ONLY))
        return 0;
    /* Nobody here fetches it: maybe another worker does. */
    if (xcf_begin(c, &tab->x, key, klen, ((flags & CFWD_XAGAIN) ? XCF_AGAIN : 0) |
                  ((flags & CFWD_XRESUMED) ? XCF_RESUMED : 0), &tk))
        return 1;
    e = calloc(1, sizeof(*e) + klen);
    if (e == NULL) {
        xcf_set(xcf_table(c), &tk, CACHE_INFL_ABORTED, 0);
        return 0;
    }
    e->xt = xcf_table(c);
    e->xtk = tk;
    memcpy(e->key, key, klen);
    e->klen = klen;
    e->hash = h;
    e->tab = tab;
    e->refs = 1;
    e->leader = c;
    e->hnext = tab->buckets[h % CFWD_BUCKETS];
    if (e->hnext)
        e->hnext->hprev = e;
    tab->buckets[h % CFWD_BUCKETS] = e;
    cc->cfwd = e;
    cc->cfwd_waiter = 0;
    return 0;
}

/* Waiters that have not started go forward themselves. */
static void release_waiters(struct cfwd_entry *e)
{
    struct sl_client *c, *next;

    for (c = e->waiters; c; c = next) {
        next = c->cfwd_next;
        if (c->state == CL_WAIT) {
            cfwd_detach(c);
            cl_forward_released(c);
        }
    }
}

void cfwd_head(struct sl_client *c, const char *head, size_t head_len,
             struct sl_view vary, int64_t length)
{
    struct cl_cache *cc = &c->txn.cache;
    struct cfwd_entry *e = cc->cfwd;
    struct sl_client *w, *next;
    struct sl_http_msg req;

    if (e == NULL || cc->cfwd_waiter)
        return;
    if (cc->w == NULL || length < 0 || (e->head = malloc(head_len + 2)) == NULL ||
        (e->vkey = malloc(sl_buf_len(&c->ckey))) == NULL ||
        (vary.len && (e->vary = malloc(vary.len)) == NULL)) {
        /* No new waiters from now on: later misses forward (or hit),
         * and for a while they do not wait on each other either. */
        e->tab->pass[e->hash % CFWD_PASS_SLOTS].hash = e->hash;
        e->tab->pass[e->hash % CFWD_PASS_SLOTS].until =
            sl_loop_now(e->tab->loop) + CFWD_PASS_MS;
        entry_xset(e, CACHE_INFL_PASS, CFWD_PASS_MS);
        entry_unlink(e);
        e->state = CFWD_FAILED;
        release_waiters(e);
        cfwd_detach(c);
        return;
    }
    memcpy(e->head, head, head_len);
    memcpy(e->head + head_len, "\r\n", 2);
    e->head_len = head_len + 2;
    e->vklen = sl_buf_len(&c->ckey);
    memcpy(e->vkey, c->ckey.pos, e->vklen);
    if (vary.len) {
        memcpy(e->vary, vary.base, vary.len);
        e->vary_len = vary.len;
    }
    e->fresh = cc->fresh;
    e->w = cc->w;
    e->id = cache_writer_id(cc->w);
    e->total = length;
    e->state = CFWD_STREAMING;
    entry_xset(e, CACHE_INFL_STREAMING, 0);
    /* The entry stays in the table: misses that come while the body
     * streams in join it (cfwd_lead_or_join). */
    for (w = e->waiters; w; w = next) {
        next = w->cfwd_next;
        if (w->state != CL_WAIT)
            continue;
        if (hit_request_again(w, w->hdrs, &req) < 0 || !variant_matches(e, &req, zip_vary_flags(w))) {
            cfwd_detach(w);       /* another variant: it fetches its own */
            cl_forward_released(w);
            continue;
        }
        if (hit_serve_collapsed(w, e->head, e->head_len, &e->fresh, e->total) < 0)
            cl_abort_waiter(w);
    }
}

void cfwd_body(struct sl_client *c, int64_t written)
{
    struct cfwd_entry *e = c->txn.cache.cfwd;

    if (e == NULL || c->txn.cache.cfwd_waiter || e->state != CFWD_STREAMING)
        return;
    e->avail = written;
    if (e->xtk.seq != 0)
        cache_infl_progress(e->xt, &e->xtk, written);
    wake(e);
}

void cfwd_end(struct sl_client *c, int complete)
{
    struct cl_cache *cc = &c->txn.cache;
    struct cfwd_entry *e = cc->cfwd;

    if (e == NULL || cc->cfwd_waiter)
        return;
    if (e->state == CFWD_STREAMING && complete && e->avail == e->total) {
        /* The tail is in the writer until the next flush commits it. */
        e->state = CFWD_ENDED;
        entry_xset(e, CACHE_INFL_ENDED, 0);
        e->w = NULL;
        e->ended_next = e->tab->ended;
        e->tab->ended = e;
        e->refs++;              /* the ended list holds it until the flush */
    } else if (e->state != CFWD_FAILED) {
        entry_unlink(e);
        e->state = CFWD_FAILED;
        entry_xset(e, CACHE_INFL_ABORTED, 0);
        e->w = NULL;
        release_waiters(e);
        wake(e);                /* those reading see the failure and stop */
    }
    cfwd_detach(c);
}

/*
 * A failed commit drops every writer's batch (store.h): the entries still
 * streaming follow writers that are gone. Their readers stop (those that
 * sent nothing yet fetch for themselves, client_hit.c), new misses no longer
 * find them, and their leaders go on serving their own clients.
 */
static void fail_streaming(struct cfwd_table *tab)
{
    struct cfwd_entry *e, *next;
    size_t i;

    for (i = 0; i < CFWD_BUCKETS; i++)
        for (e = tab->buckets[i]; e; e = next) {
            next = e->hnext;
            if (e->state != CFWD_STREAMING)
                continue;
            entry_unlink(e);
            e->state = CFWD_FAILED;
            entry_xset(e, CACHE_INFL_ABORTED, 0);
            e->w = NULL;
            wake(e);
        }
}

void cfwd_flushed(struct cfwd_table *tab, int ok)
{
    struct cfwd_entry *e;

    if (tab == NULL)
        return;
    while ((e = tab->ended) != NULL) {
        tab->ended = e->ended_next;
        e->ended_next = NULL;
        e->state = ok ? CFWD_COMMITTED : CFWD_FAILED;
        /* other workers' waiters look in the store */
        entry_xset(e, ok ? CACHE_INFL_DONE : CACHE_INFL_ABORTED, ok ? XCF_HINT_MS : 0);
        entry_unlink(e);        /* the store answers new misses now */
        wake(e);
        entry_unref(e);
    }
    if (!ok)
        fail_streaming(tab);
}

void cfwd_detach(struct sl_client *c)
{
    struct cl_cache *cc = &c->txn.cache;
    struct cfwd_entry *e = cc->cfwd;
    struct sl_client **pp;

    xcf_unwait(c);
    if (e == NULL)
        return;
    if (cc->cfwd_waiter) {
        for (pp = &e->waiters; *pp; pp = &(*pp)->cfwd_next)
            if (*pp == c) {
                *pp = c->cfwd_next;
                break;
            }
        /* A leader whose client left goes on for its readers only: let it
         * see that the last one is gone (client_leave.c). */
        if (e->waiters == NULL && e->leader && e->leader->headless)
            sl_loop_post(e->tab->loop, &e->leader->run_post);
    } else if (e->state == CFWD_PENDING) {
        /* The leader goes before any answer: the waiters fend for
         * themselves (those of other workers: one takes it over). */
        entry_unlink(e);
        e->state = CFWD_FAILED;
        entry_xset(e, CACHE_INFL_ABORTED, 0);
        release_waiters(e);
    }
    if (e->leader == c)
        e->leader = NULL;
    c->cfwd_next = NULL;
    cc->cfwd = NULL;
    cc->cfwd_waiter = 0;
    entry_unref(e);
}

int cfwd_readers(const struct sl_client *c)
{
    const struct cfwd_entry *e = c->txn.cache.cfwd;

    return e && !c->txn.cache.cfwd_waiter && e->waiters != NULL;
}

int cfwd_read(struct sl_client *c, int64_t off, const void **p, size_t *len)
{
    struct cfwd_entry *e = c->txn.cache.cfwd;
    struct cache_store *st = c->srv->store;
    struct cache_obj obj;
    int rc;

    if (e->state == CFWD_FAILED)
        return -EIO;
    if (e->state == CFWD_STREAMING) {
        if (off >= e->avail)
            return -EAGAIN;
        rc = cache_writer_peek(e->w, off, p, len);
        if (rc != -ENOENT)
            return rc;
    } else if (e->state == CFWD_ENDED) {
        if ((uint64_t)e->total <= CACHE_STORE_INLINE_MAX)
            return -EAGAIN;     /* inline: all of it comes with the flush */
    } else if ((uint64_t)e->total <= CACHE_STORE_INLINE_MAX) {
        rc = cache_store_lookup(st, e->vkey, e->vklen, &obj);
        if (rc < 0 || obj.id != e->id || obj.body == NULL)
            return rc < 0 ? rc : -ENOENT;
        *p = obj.body + off;
        *len = (size_t)(e->total - off);
        return 0;
    }
    rc = cache_store_chunk(st, e->id, (uint32_t)(off / CACHE_STORE_CHUNK), p, len);
    if (rc == -ENOENT && e->state == CFWD_ENDED)
        return -EAGAIN;         /* the last chunk waits for the flush */
    if (rc < 0 || (size_t)(off % CACHE_STORE_CHUNK) >= *len)
        return rc < 0 ? rc : -EIO;
    *p = (const char *)*p + off % CACHE_STORE_CHUNK;
    *len -= (size_t)(off % CACHE_STORE_CHUNK);
    return 0;
}
