/*
 * backend.c - reverse mode's backend pools at run time (see backend.h).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "squidlike/backend.h"

struct pool_rt {
    struct sl_pick_backend *pick;   /* one per backend, pool order */
    struct sl_chash *ring;          /* balance = "hash" */
    size_t n;
    size_t next;                    /* rotates least-conn's ties */
};

struct sl_backends {
    const struct sl_conf_reverse *rev;
    struct pool_rt *pools;
    size_t n;
};

void sl_backends_free(struct sl_backends *b)
{
    size_t i;

    if (b == NULL)
        return;
    for (i = 0; b->pools != NULL && i < b->n; i++) {
        free(b->pools[i].pick);
        sl_chash_free(b->pools[i].ring);
    }
    free(b->pools);
    free(b);
}

static int pool_init(struct pool_rt *p, const struct sl_conf_rpool *c)
{
    const char *ids[SL_CONF_MAX_RBACKENDS];
    size_t i;

    p->n = c->n_backends;
    if ((p->pick = calloc(p->n, sizeof(*p->pick))) == NULL)
        return -1;
    for (i = 0; i < p->n; i++) {
        p->pick[i].weight = c->backend[i].weight;
        p->pick[i].up = 1;
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
    return b;
fail:
    sl_backends_free(b);
    return NULL;
}

int sl_backends_pick(struct sl_backends *b, int pool, const void *key,
                     size_t keylen, uint64_t rnd)
{
    struct pool_rt *p;
    int i;

    if (pool < 0 || (size_t)pool >= b->n)
        return -1;
    p = &b->pools[pool];
    switch (b->rev->pools[pool].algo) {
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
    if (i >= 0)
        p->pick[i].active++;
    return i;
}

void sl_backends_done(struct sl_backends *b, int pool, int idx)
{
    struct sl_pick_backend *k;

    if (pool < 0 || (size_t)pool >= b->n || idx < 0 || (size_t)idx >= b->pools[pool].n)
        return;
    k = &b->pools[pool].pick[idx];
    if (k->active > 0)
        k->active--;
}

const struct sl_conf_rbackend *sl_backends_conf(const struct sl_backends *b,
                                                int pool, int idx)
{
    return &b->rev->pools[pool].backend[idx];
}

unsigned sl_backends_active(const struct sl_backends *b, int pool, int idx)
{
    return b->pools[pool].pick[idx].active;
}
