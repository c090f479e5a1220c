/*
 * quota.c - request quotas per consumer and window (see quota.h).
 *
 * Windows are computed from Unix time in UTC with integer arithmetic
 * only: days since the epoch to a civil date and back (Howard Hinnant's
 * algorithms, exact for the proleptic Gregorian calendar: leap years every
 * 4 years but not every 100 unless every 400), so no time zone, locale or
 * libc time call is involved.
 *
 * A slot is four 64-bit words: the key, the window's start and end, and
 * the count. A writer killed between two of them (a worker dying while it
 * holds the caller's lock) leaves a count that belongs to no window of
 * its key, which the next request reads as zero: at worst one consumer's
 * count starts again, never a crash and never an unbounded probe (every
 * index is masked).
 */
#include "config.h"

#include <string.h>

#include "acl/quota.h"
#include "squidlike/hash.h"

#define QUOTA_MAGIC 0x3141544f55514c53ULL   /* "SLQUOTA1" in little-endian bytes */
#define QUOTA_VERSION 1u
#define DAY_S 86400

struct slot {
    uint64_t k;                 /* 0: never used */
    int64_t start, end;         /* the window counted: [start, end) */
    uint64_t count;
};

/* One block, no pointer inside (quota.h). */
struct acl_quota {
    uint64_t magic;
    uint32_t version;
    uint32_t slot_size;         /* sizeof(struct slot): a layout check */
    uint64_t nslots;            /* a power of two */
    uint64_t seed;
    uint64_t used;              /* slots with k != 0 */
    uint64_t full;
    uint64_t spare[2];
    struct slot s[];
};

static size_t slots_for(size_t entries)
{
    size_t n = ACL_QUOTA_MIN_ENTRIES;

    while (n < entries && n < ACL_QUOTA_MAX_ENTRIES)
        n <<= 1;
    return n;
}

/* a / b rounded towards minus infinity (b > 0): times before 1970 too. */
static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;

    return (a % b != 0 && a < 0) ? q - 1 : q;
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    int64_t era;
    unsigned yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned)(y - era * 400);
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m)
{
    int64_t era;
    unsigned doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = (unsigned)(z - era * 146097);
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

void acl_quota_window(const struct acl_quota_policy *p, int64_t now,
                      int64_t *start, int64_t *end)
{
    int64_t days, y, len;
    unsigned m;

    switch (p->period) {
    case ACL_QUOTA_DAY:
        *start = floor_div(now, DAY_S) * DAY_S;
        *end = *start + DAY_S;
        return;
    case ACL_QUOTA_MONTH:
        days = floor_div(now, DAY_S);
        civil_from_days(days, &y, &m);
        *start = days_from_civil(y, m, 1) * DAY_S;
        *end = (m == 12 ? days_from_civil(y + 1, 1, 1) : days_from_civil(y, m + 1, 1)) * DAY_S;
        return;
    case ACL_QUOTA_FIXED:
    default:
        len = p->period_s > 0 ? p->period_s : 1;
        *start = floor_div(now, len) * len;
        *end = *start + len;
        return;
    }
}

size_t acl_quota_size(size_t entries)
{
    return sizeof(struct acl_quota) + slots_for(entries) * sizeof(struct slot);
}

struct acl_quota *acl_quota_init(void *mem, size_t size, size_t entries, uint64_t seed)
{
    struct acl_quota *t = mem;

    if (mem == NULL || size < acl_quota_size(entries))
        return NULL;
    memset(t, 0, acl_quota_size(entries));
    t->magic = QUOTA_MAGIC;
    t->version = QUOTA_VERSION;
    t->slot_size = sizeof(struct slot);
    t->nslots = slots_for(entries);
    t->seed = seed;
    return t;
}

struct acl_quota *acl_quota_attach(void *mem, size_t size)
{
    struct acl_quota *t = mem;

    if (mem == NULL || size < sizeof(*t) || t->magic != QUOTA_MAGIC ||
        t->version != QUOTA_VERSION || t->slot_size != sizeof(struct slot) ||
        t->nslots < ACL_QUOTA_MIN_ENTRIES || t->nslots > ACL_QUOTA_MAX_ENTRIES ||
        (t->nslots & (t->nslots - 1)) != 0 ||
        size < sizeof(*t) + t->nslots * sizeof(struct slot))
        return NULL;
    if (t->used > t->nslots)
        t->used = t->nslots;    /* a torn count: only a statistic */
    return t;
}

/* The key of (policy, consumer): the same in every table. */
static uint64_t key_of(uint32_t id, const char *name, size_t n)
{
    uint64_t h = SL_FNV64_INIT;
    size_t i;

    for (i = 0; i < 4; i++)
        h = sl_fnv64_step(h, (unsigned char)(id >> (8 * i)));
    for (i = 0; i < n; i++)
        h = sl_fnv64_step(h, (unsigned char)name[i]);
    h = sl_fnv64_step(h, 0);    /* "a"+"bc" apart from "ab"+"c" (fixed id) */
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 32;
    return h | 1;               /* never 0, the never-used mark */
}

/* Where k starts probing in t (splitmix64 of the key and the seed). */
static size_t home(const struct acl_quota *t, uint64_t k)
{
    uint64_t z = k ^ t->seed;

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (size_t)(z & (t->nslots - 1));
}

/*
 * The slot of k; when there is none and insert is set, a free one (never
 * used, or its window passed at now) taken for k with a zero count; NULL
 * when there is none and no room (or no insert).
 *
 * Every slot between k's home and k's slot was in use when k was put
 * there, and a slot never goes back to unused: so a never-used slot ends
 * the search.
 */
static struct slot *find(struct acl_quota *t, uint64_t k, int64_t now, int insert)
{
    size_t at = home(t, k), mask = (size_t)t->nslots - 1, i;
    struct slot *s, *fr = NULL;

    for (i = 0; i < ACL_QUOTA_PROBES; i++) {
        s = &t->s[(at + i) & mask];
        if (s->k == k)
            return s;
        if (s->k == 0) {
            if (fr == NULL)
                fr = s;
            break;
        }
        if (s->end <= now && fr == NULL)
            fr = s;
    }
    if (!insert || fr == NULL)
        return NULL;
    if (fr->k == 0)
        t->used++;
    /* The window (0, 0) holds no time: the count reads as zero until
     * the caller sets one. The key last: a slot with k is whole. */
    fr->start = 0;
    fr->end = 0;
    fr->count = 0;
    fr->k = k;
    return fr;
}

void acl_quota_take(struct acl_quota *t, const struct acl_quota_policy *p,
                    const char *consumer, size_t n, int64_t now, int commit,
                    struct acl_quota_verdict *v)
{
    uint64_t k = key_of(p->id, consumer, n), count = 0;
    int64_t ws, we;
    struct slot *s;

    acl_quota_window(p, now, &ws, &we);
    memset(v, 0, sizeof(*v));
    v->window_start = ws;
    v->window_end = we;
    s = find(t, k, now, 0);
    /* Another window's count (passed, or of a period since changed, or
     * torn) is this window's zero. */
    if (s != NULL && s->start == ws && s->end == we)
        count = s->count;
    if (count >= p->requests) {
        v->used = count;
        return;                 /* refused */
    }
    v->allowed = 1;
    if (commit) {
        if (s == NULL)
            s = find(t, k, now, 1);
        if (s == NULL) {
            t->full++;
            v->uncounted = 1;
        } else {
            if (s->start != ws || s->end != we) {
                s->count = 0;
                s->start = ws;
                s->end = we;
            }
            s->count = ++count;
        }
    }
    v->used = count;
    v->remaining = p->requests - count;
}

size_t acl_quota_carry(struct acl_quota *dst, const struct acl_quota *src, int64_t now)
{
    size_t i, lost = 0;

    for (i = 0; i < src->nslots; i++) {
        const struct slot *s = &src->s[i];
        struct slot *d;

        if (s->k == 0 || s->end <= now)
            continue;
        if ((d = find(dst, s->k, now, 1)) == NULL) {
            lost++;
            continue;
        }
        if (d->start == s->start && d->end == s->end) {
            if (s->count > d->count)
                d->count = s->count;
        } else if (d->end <= now) {
            d->start = s->start;
            d->end = s->end;
            d->count = s->count;
        }                       /* else dst's own live window stays */
    }
    return lost;
}

void acl_quota_get_stats(const struct acl_quota *t, struct acl_quota_stats *st)
{
    st->entries = (size_t)t->used;
    st->capacity = (size_t)t->nslots;
    st->full = t->full;
}
