/*
 * backend.c - reverse mode's backend pools at run time (see backend.h).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "squidlike/backend.h"

struct be_rt {
    int healthy;                /* active checks (1 when there are none) */
    unsigned rise, fall;        /* checks in a row that passed / failed */
    unsigned fails;             /* request failures in a row */
    unsigned ejected_in_row;    /* ejections since the last success */
    int64_t ejected_until;      /* loop ms; 0: not ejected */
    unsigned long long requests, failures, ejections;
    unsigned long long checks, check_failures;
    int64_t last_check_ms;
    int last_check_ok;
    char last_check_why[96];
    struct sl_hist latency;
};

struct pool_rt {
    struct sl_backend_waiter *qhead, *qtail;    /* max_pending's queue */
    unsigned pending;
    struct sl_pick_backend *pick;   /* one per backend, pool order */
    struct be_rt *rt;
    struct sl_chash *ring;          /* balance = "hash" */
    size_t n;
    size_t next;                    /* rotates least-conn's ties */
};

struct sl_backends {
    const struct sl_conf_reverse *rev;
    struct pool_rt *pools;
    size_t n;
    unsigned long long **routes;    /* [vhost][route] requests */
};

void sl_backends_free(struct sl_backends *b)
{
    size_t i;

    if (b == NULL)
        return;
    for (i = 0; b->pools != NULL && i < b->n; i++) {
        free(b->pools[i].pick);
        free(b->pools[i].rt);
        sl_chash_free(b->pools[i].ring);
    }
    free(b->pools);
    for (i = 0; b->routes != NULL && i < b->rev->n_vhosts; i++)
        free(b->routes[i]);
    free(b->routes);
    free(b);
}

static int pool_init(struct pool_rt *p, const struct sl_conf_rpool *c)
{
    const char *ids[SL_CONF_MAX_RBACKENDS];
    size_t i;

    p->n = c->n_backends;
    if ((p->pick = calloc(p->n, sizeof(*p->pick))) == NULL ||
        (p->rt = calloc(p->n, sizeof(*p->rt))) == NULL)
        return -1;
    for (i = 0; i < p->n; i++) {
        p->pick[i].weight = c->backend[i].weight;
        p->pick[i].up = 1;
        /* Up until a check says otherwise: a reload or a start must not
         * take a whole site down while the first checks run. */
        p->rt[i].healthy = 1;
        ids[i] = c->backend[i].name;
    }
    if (c->algo == SL_PICK_HASH && (p->ring = sl_chash_new(p->pick, p->n, ids)) == NULL)
        return -1;
    return 0;
}

struct sl_backends *sl_backends_new(const struct sl_conf_reverse *rev)
{
    struct sl_backends *b = calloc(1, sizeof(*b));
    size_t i;

    if (b == NULL)
        return NULL;
    b->rev = rev;
    b->n = rev->n_pools;
    if (b->n > 0 && (b->pools = calloc(b->n, sizeof(*b->pools))) == NULL)
        goto fail;
    for (i = 0; i < b->n; i++)
        if (pool_init(&b->pools[i], &b->rev->pools[i]) < 0)
            goto fail;
    if (rev->n_vhosts > 0 &&
        (b->routes = calloc(rev->n_vhosts, sizeof(*b->routes))) == NULL)
        goto fail;
    for (i = 0; i < rev->n_vhosts; i++)
        if (rev->vhosts[i].n_routes > 0 &&
            (b->routes[i] = calloc(rev->vhosts[i].n_routes, sizeof(**b->routes))) == NULL)
            goto fail;
    return b;
fail:
    sl_backends_free(b);
    return NULL;
}

void sl_backends_adopt(struct sl_backends *b, const struct sl_backends *old)
{
    size_t i, j, k, l;

    if (b == NULL || old == NULL)
        return;
    /* Route counters go on for a vhost of the same first name, route by
     * route in order (routes have no names), as far as both have routes. */
    for (i = 0; b->routes != NULL && old->routes != NULL && i < b->rev->n_vhosts; i++)
        for (j = 0; j < old->rev->n_vhosts; j++)
            if (strcmp(b->rev->vhosts[i].name, old->rev->vhosts[j].name) == 0) {
                for (k = 0; k < b->rev->vhosts[i].n_routes &&
                            k < old->rev->vhosts[j].n_routes; k++)
                    b->routes[i][k] = old->routes[j][k];
                break;
            }
    for (i = 0; i < b->n; i++) {
        const struct sl_conf_rpool *np = &b->rev->pools[i];
        for (j = 0; j < old->n; j++) {
            const struct sl_conf_rpool *op = &old->rev->pools[j];
            if (strcmp(np->name, op->name) != 0)
                continue;
            for (k = 0; k < np->n_backends; k++)
                for (l = 0; l < op->n_backends; l++)
                    if (strcmp(np->backend[k].name, op->backend[l].name) == 0) {
                        b->pools[i].rt[k] = old->pools[j].rt[l];
                        /* checks that are not configured any more pass */
                        if (np->health_path[0] == '\0')
                            b->pools[i].rt[k].healthy = 1;
                    }
        }
    }
}

void sl_backends_route_hit(struct sl_backends *b, int v, int r)
{
    if (b != NULL && b->routes != NULL && v >= 0 && (size_t)v < b->rev->n_vhosts &&
        r >= 0 && (size_t)r < b->rev->vhosts[v].n_routes)
        b->routes[v][r]++;
}

unsigned long long sl_backends_route_count(const struct sl_backends *b, int v, int r)
{
    if (b != NULL && b->routes != NULL && v >= 0 && (size_t)v < b->rev->n_vhosts &&
        r >= 0 && (size_t)r < b->rev->vhosts[v].n_routes)
        return b->routes[v][r];
    return 0;
}

/* May backend i be chosen now? */
static int eligible(const struct sl_conf_rpool *c, const struct pool_rt *p,
                    size_t i, int64_t now, int *busy)
{
    const struct be_rt *r = &p->rt[i];

    if (!r->healthy || (r->ejected_until != 0 && now < r->ejected_until))
        return 0;
    if (c->max_connections != 0 && p->pick[i].active >= c->max_connections) {
        *busy = 1;
        return 0;
    }
    return 1;
}

int sl_backends_pick(struct sl_backends *b, int pool, const void *key,
                     size_t keylen, uint64_t rnd, int64_t now_ms, int avoid)
{
    const struct sl_conf_rpool *c;
    struct pool_rt *p;
    size_t j, nup = 0;
    int i, busy = 0;

    if (pool < 0 || (size_t)pool >= b->n)
        return -SL_PICK_NONE_UP;
    p = &b->pools[pool];
    c = &b->rev->pools[pool];
    for (j = 0; j < p->n; j++) {
        p->pick[j].up = eligible(c, p, j, now_ms, &busy);
        nup += (size_t)p->pick[j].up;
    }
    /* Every backend the checks call healthy is ejected: ejections were
     * made to spread load away from a failing one, not to take the whole
     * site down (panic mode, as Envoy's): they are ignored until one ends. */
    if (nup == 0 && !busy)
        for (j = 0; j < p->n; j++)
            if (p->rt[j].healthy) {
                p->pick[j].up = 1;
                nup++;
            }
    /* A retry goes elsewhere when there is an elsewhere. */
    if (avoid >= 0 && (size_t)avoid < p->n && p->pick[avoid].up && nup > 1)
        p->pick[avoid].up = 0;
    switch (c->algo) {
    case SL_PICK_LEASTCONN:
        i = sl_pick_leastconn(p->pick, p->n, p->next++ % (p->n ? p->n : 1));
        break;
    case SL_PICK_HASH:
        i = sl_chash_pick(p->ring, p->pick, sl_pick_key64(key, keylen));
        break;
    case SL_PICK_P2C:
        i = sl_pick_p2c(p->pick, p->n, rnd);
        break;
    default:
        i = sl_pick_wrr(p->pick, p->n);
        break;
    }
    if (i < 0)
        return busy ? -SL_PICK_ALL_BUSY : -SL_PICK_NONE_UP;
    p->pick[i].active++;
    p->rt[i].requests++;
    return i;
}

static struct be_rt *rt_of(struct sl_backends *b, int pool, int idx)
{
    if (b == NULL || pool < 0 || (size_t)pool >= b->n || idx < 0 ||
        (size_t)idx >= b->pools[pool].n)
        return NULL;
    return &b->pools[pool].rt[idx];
}

void sl_backends_done(struct sl_backends *b, int pool, int idx)
{
    struct sl_pick_backend *k;

    if (rt_of(b, pool, idx) == NULL)
        return;
    k = &b->pools[pool].pick[idx];
    if (k->active > 0)
        k->active--;
    sl_backends_wake_next(b, pool);
}

void sl_backends_wake_next(struct sl_backends *b, int pool)
{
    struct sl_backend_waiter *w;

    if (b == NULL || pool < 0 || (size_t)pool >= b->n)
        return;
    if ((w = b->pools[pool].qhead) != NULL) {
        sl_backends_dequeue(b, w);
        w->wake(w);
    }
}

int sl_backends_enqueue(struct sl_backends *b, int pool, struct sl_backend_waiter *w)
{
    struct pool_rt *p;

    if (b == NULL || pool < 0 || (size_t)pool >= b->n || w->queued)
        return -1;
    p = &b->pools[pool];
    if (p->pending >= b->rev->pools[pool].max_pending)
        return -1;
    w->queued = 1;
    w->pool = pool;
    w->next = NULL;
    w->prev = p->qtail;
    if (p->qtail)
        p->qtail->next = w;
    else
        p->qhead = w;
    p->qtail = w;
    p->pending++;
    return 0;
}

void sl_backends_dequeue(struct sl_backends *b, struct sl_backend_waiter *w)
{
    struct pool_rt *p;

    if (b == NULL || !w->queued || w->pool < 0 || (size_t)w->pool >= b->n)
        return;
    p = &b->pools[w->pool];
    if (w->prev)
        w->prev->next = w->next;
    else
        p->qhead = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        p->qtail = w->prev;
    w->next = w->prev = NULL;
    w->queued = 0;
    p->pending--;
}

unsigned sl_backends_pending(const struct sl_backends *b, int pool)
{
    if (b == NULL || pool < 0 || (size_t)pool >= b->n)
        return 0;
    return b->pools[pool].pending;
}

int sl_backends_result(struct sl_backends *b, int pool, int idx, int ok,
                       int64_t now_ms, int64_t latency_us)
{
    struct be_rt *r = rt_of(b, pool, idx);
    const struct sl_conf_rpool *c;
    if (r == NULL)
        return 0;
    c = &b->rev->pools[pool];
    if (latency_us >= 0)
        sl_hist_add(&r->latency, latency_us);
    if (ok) {
        r->fails = 0;
        r->ejected_in_row = 0;
        return 0;
    }
    r->failures++;
    r->fails++;
    /* Back from an ejection (on probation): one failure sends it back.
     * Else eject_after failures in a row. */
    if (c->eject_after == 0 ||
        (r->ejected_in_row == 0 && r->fails < c->eject_after) ||
        (r->ejected_until != 0 && now_ms < r->ejected_until))
        return 0;
    r->ejected_until = now_ms + sl_pick_backoff_ms(c->eject_ms, c->eject_max_ms,
                                                   r->ejected_in_row);
    r->ejected_in_row++;
    r->ejections++;
    r->fails = 0;
    return 1;
}

int sl_backends_health(struct sl_backends *b, int pool, int idx, int ok,
                       const char *why, int64_t now_ms)
{
    struct be_rt *r = rt_of(b, pool, idx);
    const struct sl_conf_rpool *c;

    if (r == NULL)
        return 0;
    c = &b->rev->pools[pool];
    r->checks++;
    r->last_check_ms = now_ms;
    r->last_check_ok = ok;
    snprintf(r->last_check_why, sizeof(r->last_check_why), "%s", ok ? "" : why);
    if (ok) {
        r->fall = 0;
        if (r->healthy || ++r->rise < c->health_rise)
            return 0;
        r->healthy = 1;
        r->rise = 0;
        /* a backend the checks vouch for starts afresh */
        r->ejected_until = 0;
        r->ejected_in_row = 0;
        r->fails = 0;
        return 1;
    }
    r->check_failures++;
    r->rise = 0;
    if (!r->healthy || ++r->fall < c->health_fall)
        return 0;
    r->healthy = 0;
    r->fall = 0;
    return 1;
}

void sl_backends_health_get(const struct sl_backends *b, int pool, int idx,
                            struct sl_backend_health *out)
{
    const struct be_rt *r = rt_of((struct sl_backends *)b, pool, idx);

    memset(out, 0, sizeof(*out));
    if (r == NULL)
        return;
    out->healthy = r->healthy;
    out->rise = r->rise;
    out->fall = r->fall;
    out->checks = r->checks;
    out->check_failures = r->check_failures;
    out->last_check_ms = r->last_check_ms;
    out->last_check_ok = r->last_check_ok;
    memcpy(out->last_check_why, r->last_check_why, sizeof(out->last_check_why));
}

int sl_backends_health_set(struct sl_backends *b, int pool, int idx,
                           const struct sl_backend_health *h)
{
    struct be_rt *r = rt_of(b, pool, idx);
    int moved;

    if (r == NULL)
        return 0;
    moved = !r->healthy != !h->healthy;
    if (moved && h->healthy) {
        /* a backend the checks vouch for starts afresh */
        r->ejected_until = 0;
        r->ejected_in_row = 0;
        r->fails = 0;
    }
    r->healthy = h->healthy != 0;
    r->rise = h->rise;
    r->fall = h->fall;
    r->checks = h->checks;
    r->check_failures = h->check_failures;
    r->last_check_ms = h->last_check_ms;
    r->last_check_ok = h->last_check_ok;
    memcpy(r->last_check_why, h->last_check_why, sizeof(r->last_check_why));
    r->last_check_why[sizeof(r->last_check_why) - 1] = '\0';
    return moved;
}

const struct sl_conf_rbackend *sl_backends_conf(const struct sl_backends *b,
                                                int pool, int idx)
{
    return &b->rev->pools[pool].backend[idx];
}

const struct sl_conf_reverse *sl_backends_rev(const struct sl_backends *b)
{
    return b->rev;
}

void sl_backends_info(const struct sl_backends *b, int pool, int idx,
                      int64_t now_ms, struct sl_backend_info *out)
{
    const struct be_rt *r = &b->pools[pool].rt[idx];

    memset(out, 0, sizeof(*out));
    out->healthy = r->healthy;
    out->ejected = r->ejected_until != 0 && now_ms < r->ejected_until;
    out->ejected_until_ms = out->ejected ? r->ejected_until : 0;
    out->active = b->pools[pool].pick[idx].active;
    out->requests = r->requests;
    out->failures = r->failures;
    out->ejections = r->ejections;
    out->checks = r->checks;
    out->check_failures = r->check_failures;
    out->last_check_ms = r->last_check_ms;
    out->last_check_ok = r->last_check_ok;
    snprintf(out->last_check_why, sizeof(out->last_check_why), "%s", r->last_check_why);
    out->latency = r->latency;
}
