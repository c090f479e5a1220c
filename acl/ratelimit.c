/*
 * ratelimit.c - token buckets as GCRA (see ratelimit.h).
 *
 * A bucket is one number, its theoretical arrival time (TAT, ns): the
 * time at which it would be full again. With T = period / rate, a request
 * at t is allowed when max(TAT, t) + T - t <= burst * T, and then moves
 * TAT to max(TAT, t) + T. Tokens left = (burst * T - (TAT - t)) / T. This
 * is the token bucket without floating point or a refill step (the
 * generic cell rate algorithm of ATM, as redis-cell and Envoy use it).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "acl/ratelimit.h"
#include "squidlike/hash.h"

#define NS_MS 1000000LL

struct slot {
    uint64_t h;                 /* 0: free */
    int64_t tat;                /* ns; <= now: full */
};

/* One block, no pointer inside: it may live in memory that several
 * processes map (acl_rl_init). */
struct acl_rl {
    size_t mask, used;
    uint64_t seed;
    unsigned long long evicted;
    struct slot s[];
};

static size_t slots_for(size_t entries)
{
    size_t n = ACL_RL_MIN_ENTRIES;

    while (n < entries && n < ACL_RL_MAX_ENTRIES)
        n <<= 1;
    return n;
}

size_t acl_rl_size(size_t entries)
{
    return sizeof(struct acl_rl) + slots_for(entries) * sizeof(struct slot);
}

struct acl_rl *acl_rl_init(void *mem, size_t size, size_t entries, uint64_t seed)
{
    struct acl_rl *t = mem;
    size_t n = slots_for(entries);

    if (mem == NULL || size < acl_rl_size(entries))
        return NULL;
    memset(t, 0, acl_rl_size(entries));
    t->mask = n - 1;
    t->seed = seed;
    return t;
}

struct acl_rl *acl_rl_new(size_t entries, uint64_t seed)
{
    size_t size = acl_rl_size(entries);

    return acl_rl_init(malloc(size), size, entries, seed);
}

void acl_rl_free(struct acl_rl *t)
{
    free(t);
}

static uint64_t key_hash(const struct acl_rl *t, uint32_t id, const void *key, size_t n)
{
    const unsigned char *k = key;
    uint64_t h = SL_FNV64_INIT;
    size_t i;

    for (i = 0; i < 8; i++)
        h = sl_fnv64_step(h, (unsigned char)(t->seed >> (8 * i)));
    for (i = 0; i < 4; i++)
        h = sl_fnv64_step(h, (unsigned char)(id >> (8 * i)));
    while (n--)
        h = sl_fnv64_step(h, *k++);
    /* FNV's low bits mix poorly: fold the high half in (the slot index
     * comes from the low bits). */
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 32;
    return h | 1;               /* never 0, the free mark */
}

/* The slot of h: its own, else a free one, else a full bucket's, else
 * the one nearest to full (evicted). Probes ACL_RL_PROBES slots. */
static struct slot *find(struct acl_rl *t, uint64_t h, int64_t now)
{
    struct slot *free_s = NULL, *full_s = NULL, *near = NULL, *s;
    size_t i, at = (size_t)h & t->mask;

    for (i = 0; i < ACL_RL_PROBES; i++) {
        s = &t->s[(at + i) & t->mask];
        if (s->h == h)
            return s;
        if (s->h == 0) {
            if (free_s == NULL)
                free_s = s;
        } else if (s->tat <= now) {
            if (full_s == NULL)
                full_s = s;
        } else if (near == NULL || s->tat < near->tat) {
            near = s;
        }
    }
    if (free_s != NULL) {
        t->used++;
        s = free_s;
    } else if (full_s != NULL) {
        s = full_s;
    } else {
        t->evicted++;
        s = near;
    }
    s->h = h;
    s->tat = now;
    return s;
}

void acl_rl_take(struct acl_rl *t, const struct acl_rl_policy *p,
                 const void *key, size_t keylen, int64_t now_ms, int commit,
                 struct acl_rl_verdict *v)
{
    int64_t now = now_ms * NS_MS, T, cap, tat, debt;
    uint64_t burst = p->burst ? p->burst : 1;
    struct slot *s;

    /* The interval between two tokens, at least 1 ns; the config bounds
     * burst * period / rate to 100 years, so burst * T (and now + it)
     * fits easily. */
    T = p->rate ? (int64_t)((p->period_ms * NS_MS) / (int64_t)p->rate) : p->period_ms * NS_MS;
    if (T < 1)
        T = 1;
    cap = (int64_t)burst * T;
    s = find(t, key_hash(t, p->id, key, keylen), now);
    tat = s->tat > now ? s->tat : now;
    debt = tat + T - now;
    if (debt <= cap) {
        if (commit)
            s->tat = tat + T;
        v->allowed = 1;
        v->remaining = (uint64_t)((cap - debt) / T);
        v->retry_after_ms = 0;
        v->full_in_ms = (debt + NS_MS - 1) / NS_MS;
        return;
    }
    v->allowed = 0;
    v->remaining = 0;
    v->retry_after_ms = (debt - cap + NS_MS - 1) / NS_MS;
    v->full_in_ms = (tat - now + NS_MS - 1) / NS_MS;
}

void acl_rl_get_stats(const struct acl_rl *t, struct acl_rl_stats *st)
{
    st->entries = t->used;
    st->capacity = t->mask + 1;
    st->evicted = t->evicted;
}
