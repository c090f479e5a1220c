/*
 * peer.c - parent proxies at run time (see peer.h).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "squidlike/backend_pick.h"
#include "squidlike/peer.h"

struct peer_rt {
    unsigned ejected_in_row;    /* ejections since the last success */
    int64_t ejected_until;      /* loop ms; 0: not ejected */
    unsigned long long requests, failures, ejections;
};

struct sl_peers {
    const struct sl_conf_peers *conf;
    struct sl_pick_backend pick[SL_CONF_MAX_PEERS];    /* weights, up flags */
    struct peer_rt rt[SL_CONF_MAX_PEERS];
    struct sl_chash *ring;
};

struct sl_peers *sl_peers_new(const struct sl_conf_peers *ps)
{
    struct sl_peers *p = calloc(1, sizeof(*p));
    const char *ids[SL_CONF_MAX_PEERS];
    size_t i;

    if (p == NULL)
        return NULL;
    p->conf = ps;
    for (i = 0; i < ps->n; i++) {
        p->pick[i].weight = ps->peer[i].weight;
        ids[i] = ps->peer[i].name;
    }
    /* placed by name: a reload that adds or reorders peers moves only
     * the keys the new ones take */
    if (ps->n > 0 && (p->ring = sl_chash_new(p->pick, ps->n, ids)) == NULL) {
        free(p);
        return NULL;
    }
    return p;
}

void sl_peers_free(struct sl_peers *p)
{
    if (p == NULL)
        return;
    sl_chash_free(p->ring);
    free(p);
}

void sl_peers_adopt(struct sl_peers *p, const struct sl_peers *old)
{
    size_t i, j;

    if (p == NULL || old == NULL)
        return;
    for (i = 0; i < p->conf->n; i++)
        for (j = 0; j < old->conf->n; j++)
            if (strcmp(p->conf->peer[i].name, old->conf->peer[j].name) == 0)
                p->rt[i] = old->rt[j];
}

static int ejected(const struct peer_rt *r, int64_t now)
{
    return r->ejected_until != 0 && now < r->ejected_until;
}

/* Append the peers marked up in p->pick in the ring's order from key,
 * each taken off as it is listed. */
static size_t ring_walk(struct sl_peers *p, uint64_t key, int *out, size_t n)
{
    int i;

    while (n < SL_CONF_MAX_PEERS && (i = sl_chash_pick(p->ring, p->pick, key)) >= 0) {
        out[n++] = i;
        p->pick[i].up = 0;
    }
    return n;
}

size_t sl_peers_order(struct sl_peers *p, const unsigned char *allowed,
                      const void *key, size_t keylen, int64_t now_ms,
                      int *out, size_t *nup)
{
    uint64_t k = sl_pick_key64(key, keylen);
    size_t i, n;

    for (i = 0; i < p->conf->n; i++)
        p->pick[i].up = allowed[i] && !ejected(&p->rt[i], now_ms);
    n = ring_walk(p, k, out, 0);
    *nup = n;
    for (i = 0; i < p->conf->n; i++)
        p->pick[i].up = allowed[i] && ejected(&p->rt[i], now_ms);
    return ring_walk(p, k, out, n);
}

void sl_peers_sent(struct sl_peers *p, int idx)
{
    if (p != NULL && idx >= 0 && (size_t)idx < p->conf->n)
        p->rt[idx].requests++;
}

int sl_peers_result(struct sl_peers *p, int idx, int ok, int64_t now_ms)
{
    const struct sl_conf_peer *c;
    struct peer_rt *r;
    if (p == NULL || idx < 0 || (size_t)idx >= p->conf->n)
        return 0;
    r = &p->rt[idx];
    c = &p->conf->peer[idx];
    if (ok) {
        r->ejected_in_row = 0;
        return 0;
    }
    r->failures++;
    if (ejected(r, now_ms))
        return 0;               /* tried anyway (nothing else left) */
    r->ejected_until = now_ms + sl_pick_backoff_ms(c->eject_ms, c->eject_max_ms,
                                                   r->ejected_in_row);
    r->ejected_in_row++;
    r->ejections++;
    return 1;
}

void sl_peers_info(const struct sl_peers *p, int idx, int64_t now_ms,
                   struct sl_peer_info *out)
{
    const struct peer_rt *r = &p->rt[idx];

    memset(out, 0, sizeof(*out));
    out->ejected = ejected(r, now_ms);
    out->ejected_until_ms = out->ejected ? r->ejected_until : 0;
    out->requests = r->requests;
    out->failures = r->failures;
    out->ejections = r->ejections;
}

const struct sl_conf_peers *sl_peers_conf(const struct sl_peers *p)
{
    return p->conf;
}
