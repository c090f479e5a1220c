/*
 * backend_pick.c - the balancing algorithms of reverse mode (backend_pick.h):
 * smooth weighted round-robin, least connections, power of two random
 * choices and a consistent-hash ring. Pure: no I/O, no clock, no global
 * state; the caller owns the backends' array and the randomness.
 *
 * Every loop is bounded by n (or, for the ring, by its points), every
 * product fits in 64 bits (active < 2^32, weight <= SL_PICK_MAX_WEIGHT),
 * and a weight outside 1..SL_PICK_MAX_WEIGHT counts as the nearest bound,
 * so that a caller's mistake cannot overflow or divide by zero.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "squidlike/backend_pick.h"
#include "squidlike/hash.h"

static unsigned pick_weight(const struct sl_pick_backend *b)
{
    if (b->weight < 1)
        return 1;
    if (b->weight > SL_PICK_MAX_WEIGHT)
        return SL_PICK_MAX_WEIGHT;
    return b->weight;
}

/* Whether a carries fewer active requests per unit of weight than c:
 * a.active / a.weight < c.active / c.weight, by cross multiplication
 * (exact: both products are below 2^32 * 2^9). */
static int pick_lighter(const struct sl_pick_backend *a,
                        const struct sl_pick_backend *c)
{
    return (uint64_t)a->active * pick_weight(c)
           < (uint64_t)c->active * pick_weight(a);
}

/*
 * Smooth WRR. Two choices beyond nginx's loop, both about the pool's
 * membership changing (a backend going down or coming back):
 *
 *  - A backend that is down gets no weight and its current is reset to 0,
 *    so that it comes back neutral: it neither owes nor is owed picks from
 *    before, however long it was away (nginx leaves it frozen).
 *
 *  - An up backend's current is clamped into [-T, 2T], T the total weight
 *    of the backends up now. From a clean start current always stays in
 *    (-T, 1.14T] (measured over all weight vectors up to 4 backends of
 *    weight <= 60/30/14 and 200,000 random pools of up to 64 backends; the
 *    lower bound is exact: the winner had at least T/n before losing T),
 *    so the clamp never changes the steady sequence. What it bounds is a
 *    current left from a larger total: with weights 1,256,1 the small ones
 *    swing by about +-128; when the 256 goes down, T becomes 2 and the
 *    one at +128 would take the next ~64 picks in a row. Clamped, no
 *    backend gets more than about 3 picks beyond its share after any
 *    change (check_pick's flapping test).
 *
 * Within a stable pool the sequence is nginx's: periodic with period T,
 * so every run of T picks takes each backend exactly weight times.
 */
int sl_pick_wrr(struct sl_pick_backend *b, size_t n)
{
    int64_t total = 0;
    size_t i;
    int best = -1;

    for (i = 0; i < n; i++)
        if (b[i].up)
            total += pick_weight(&b[i]);
    for (i = 0; i < n; i++) {
        if (!b[i].up) {
            b[i].current = 0;
            continue;
        }
        if (b[i].current > 2 * total)
            b[i].current = 2 * total;
        else if (b[i].current < -total)
            b[i].current = -total;
        b[i].current += pick_weight(&b[i]);
        if (best < 0 || b[i].current > b[best].current)
            best = (int)i;
    }
    if (best >= 0)
        b[best].current -= total;
    return best;
}

int sl_pick_leastconn(const struct sl_pick_backend *b, size_t n, size_t start)
{
    size_t k, i;
    int best = -1;

    if (n == 0)
        return -1;
    i = start % n;
    for (k = 0; k < n; k++, i = i + 1 == n ? 0 : i + 1) {
        if (!b[i].up)
            continue;
        if (best < 0 || pick_lighter(&b[i], &b[best]))
            best = (int)i;
    }
    return best;
}

/* The index of the r-th up backend (r < the number up). */
static int pick_nth_up(const struct sl_pick_backend *b, size_t n, uint64_t r)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (b[i].up && r-- == 0)
            return (int)i;
    return -1;
}

/*
 * P2C: the low half of rnd draws the first among the u up backends, the
 * high half the second among the other u - 1, each by Lemire's
 * multiply-shift ((r * u) >> 32: no division, no rejection loop; an
 * outcome's probability is off by at most 2^-32, far below what any load
 * can show). The second draw skips the first's rank, so the two are
 * distinct without retrying.
 */
int sl_pick_p2c(const struct sl_pick_backend *b, size_t n, uint64_t rnd)
{
    uint64_t u = 0, r1, r2;
    size_t i;
    int x, y;

    for (i = 0; i < n; i++)
        u += b[i].up != 0;
    if (u == 0)
        return -1;
    if (u == 1)
        return pick_nth_up(b, n, 0);
    r1 = ((rnd & 0xffffffffu) * u) >> 32;
    r2 = ((rnd >> 32) * (u - 1)) >> 32;
    if (r2 >= r1)
        r2++;
    x = pick_nth_up(b, n, r1);
    y = pick_nth_up(b, n, r2);
    if (x < 0 || y < 0)         /* cannot happen: r1, r2 < u */
        return x;
    return pick_lighter(&b[y], &b[x]) ? y : x;
}

/*
 * The ring. Each backend has points_per_unit * weight points, the k-th
 * at the 64-bit hash of "id#k" (FNV-1a, then splitmix64's finalizer: FNV
 * alone leaves short strings that differ in their last byte close
 * together). Points are sorted by their full hash, which depends only on
 * the id, so the ring is the same whatever the pool's order; only the
 * top 32 bits are kept for the search (the key's top 32 bits against
 * them), with the owner's index beside each, 6 bytes a point.
 *
 * The ring is bounded: SL_CHASH_MAX_POINTS in all. A pool whose total
 * weight would pass it at SL_CHASH_POINTS per unit gets fewer points per
 * unit, the same for every backend so the shares keep their ratios; and
 * since a backend's points are a prefix of its sequence, the keys that
 * move are only those of the points dropped.
 */
struct sl_chash {
    size_t n;                   /* backends */
    size_t npoints;
    unsigned per_unit;          /* points per unit of weight */
    uint32_t *pos;              /* the points' top 32 bits, ascending */
    uint16_t *who;              /* the backend of each point */
};

struct chash_point {
    uint64_t h;
    uint32_t who;
};

static uint64_t pick_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t sl_pick_key64(const void *p, size_t n)
{
    return pick_mix64(sl_fnv64(p, n));
}

/* The hash of "id#k", from h, the FNV state after "id#". */
static uint64_t chash_point_hash(uint64_t h, unsigned k)
{
    char d[12];
    int nd = 0;

    do {
        d[nd++] = (char)('0' + k % 10);
        k /= 10;
    } while (k);
    while (nd)
        h = sl_fnv64_step(h, (unsigned char)d[--nd]);
    return pick_mix64(h);
}

static int chash_cmp(const void *a, const void *c)
{
    const struct chash_point *x = a, *y = c;

    if (x->h != y->h)
        return x->h < y->h ? -1 : 1;
    /* The same hash: the same id twice (the config refuses that). */
    return x->who < y->who ? -1 : x->who > y->who;
}

struct sl_chash *sl_chash_new(const struct sl_pick_backend *b, size_t n,
                              const char *const *ids)
{
    struct sl_chash *h = NULL;
    struct chash_point *pt = NULL;
    uint64_t total = 0;
    size_t i, k, np = 0;

    if (n > (size_t)UINT16_MAX + 1 || (n && (b == NULL || ids == NULL))) {
        errno = EINVAL;
        return NULL;
    }
    for (i = 0; i < n; i++) {
        if (ids[i] == NULL) {
            errno = EINVAL;
            return NULL;
        }
        total += pick_weight(&b[i]);
    }
    if (total > SL_CHASH_MAX_POINTS) {
        errno = E2BIG;
        return NULL;
    }
    h = calloc(1, sizeof(*h));
    if (h == NULL)
        goto fail;
    h->n = n;
    h->per_unit = SL_CHASH_POINTS;
    if (total && total * SL_CHASH_POINTS > SL_CHASH_MAX_POINTS)
        h->per_unit = (unsigned)(SL_CHASH_MAX_POINTS / total);
    h->npoints = (size_t)(total * h->per_unit);
    if (h->npoints == 0)
        return h;
    pt = malloc(h->npoints * sizeof(*pt));
    h->pos = malloc(h->npoints * sizeof(*h->pos));
    h->who = malloc(h->npoints * sizeof(*h->who));
    if (pt == NULL || h->pos == NULL || h->who == NULL)
        goto fail;
    for (i = 0; i < n; i++) {
        unsigned m = pick_weight(&b[i]) * h->per_unit;
        uint64_t seed = SL_FNV64_INIT;
        const char *s;

        for (s = ids[i]; *s; s++)
            seed = sl_fnv64_step(seed, (unsigned char)*s);
        seed = sl_fnv64_step(seed, '#');
        for (k = 0; k < m; k++) {
            pt[np].h = chash_point_hash(seed, (unsigned)k);
            pt[np].who = (uint32_t)i;
            np++;
        }
    }
    qsort(pt, np, sizeof(*pt), chash_cmp);
    for (k = 0; k < np; k++) {
        h->pos[k] = (uint32_t)(pt[k].h >> 32);
        h->who[k] = (uint16_t)pt[k].who;
    }
    free(pt);
    return h;

fail:
    free(pt);
    sl_chash_free(h);
    errno = ENOMEM;
    return NULL;
}

void sl_chash_free(struct sl_chash *h)
{
    if (h == NULL)
        return;
    free(h->pos);
    free(h->who);
    free(h);
}

size_t sl_chash_bytes(const struct sl_chash *h)
{
    if (h == NULL)
        return 0;
    return sizeof(*h) + h->npoints * (sizeof(*h->pos) + sizeof(*h->who));
}

/*
 * The first point at or after the key's position (wrapping past the top),
 * then clockwise to the first point whose backend is up. Whether any is up
 * is known first (n steps), so the walk always ends, within one turn; on
 * average it takes (total weight / weight up) steps.
 */
int sl_chash_pick(const struct sl_chash *h, const struct sl_pick_backend *b,
                  uint64_t key)
{
    uint32_t k32 = (uint32_t)(key >> 32);
    size_t lo = 0, hi, i, steps;

    if (h == NULL || h->npoints == 0)
        return -1;
    for (i = 0; i < h->n; i++)
        if (b[i].up)
            break;
    if (i == h->n)
        return -1;
    hi = h->npoints;
    while (lo < hi) {           /* the first pos >= k32 */
        size_t mid = lo + (hi - lo) / 2;

        if (h->pos[mid] < k32)
            lo = mid + 1;
        else
            hi = mid;
    }
    i = lo == h->npoints ? 0 : lo;
    for (steps = 0; steps < h->npoints; steps++) {
        if (b[h->who[i]].up)
            return h->who[i];
        i = i + 1 == h->npoints ? 0 : i + 1;
    }
    return -1;
}

int64_t sl_pick_backoff_ms(int64_t base, int64_t max, unsigned n)
{
    int64_t t = base;
    unsigned k;

    for (k = 0; k < n && t < max; k++)
        t *= 2;
    return t > max ? max : t;
}
