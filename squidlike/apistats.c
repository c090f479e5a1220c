/*
 * apistats.c - the analytics tables per route and per consumer (see
 * apistats.h): a worker's table in shared memory and the readers' sum.
 *
 * A worker finds a name through the hash index kept in its own table
 * (linear probing, SL_API_INDEX slots for SL_API_TABLE names: at most
 * half full). Entries are only ever appended, and published by n once
 * written, so that a reader walking e[0 .. n-1] never sees half a name.
 * An index slot that points at or past n belongs to a writer killed
 * between the two stores: it is free again for the worker that takes the
 * slot next (a name twice in one table would only add up in the sum).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "squidlike/apistats.h"

_Static_assert((SL_API_INDEX & (SL_API_INDEX - 1)) == 0, "SL_API_INDEX: a power of 2");
_Static_assert(SL_API_INDEX >= 2 * SL_API_TABLE && SL_API_TABLE < 65535,
               "the index is at most half full and holds 1 + an entry in 16 bits");
_Static_assert(((2 * SL_API_SUM_MAX) & (2 * SL_API_SUM_MAX - 1)) == 0,
               "the sum's index: a power of 2");

/* FNV-1a of the kind and the name's len bytes. */
static uint32_t name_hash(enum sl_api_kind k, const char *name, size_t len)
{
    uint32_t h = 2166136261u;
    size_t i;

    h = (h ^ (uint32_t)k) * 16777619u;
    for (i = 0; i < len; i++)
        h = (h ^ (unsigned char)name[i]) * 16777619u;
    return h;
}

static int same(const char *stored, const char *name, size_t len)
{
    return memcmp(stored, name, len) == 0 && stored[len] == '\0';
}

enum sl_api_class sl_api_class_of(int status)
{
    if (status <= 0)
        return SL_API_NONE;
    if (status < 300)
        return SL_API_2XX;
    if (status < 400)
        return SL_API_3XX;
    if (status < 500)
        return SL_API_4XX;
    return SL_API_5XX;
}

/* The counters of (k, name) in t: its entry, made when new, or the kind's
 * "other" when the table is full. */
static struct sl_api_counts *entry_of(struct sl_api_table *t, enum sl_api_kind k,
                                      const char *name)
{
    size_t len = strnlen(name, SL_API_NAME - 1), i, p = 0;
    uint32_t h = name_hash(k, name, len), n = t->n;
    struct sl_api_entry *e;

    for (i = 0; i < SL_API_INDEX; i++) {
        uint16_t x;

        p = (h + i) & (SL_API_INDEX - 1);
        x = t->index[p];
        if (x == 0 || x > n)
            break;              /* free (or a dead writer's: free again) */
        e = &t->e[x - 1];
        if (e->hash == h && e->kind == (uint32_t)k && same(e->name, name, len))
            return &e->c;
    }
    if (i == SL_API_INDEX || n >= SL_API_TABLE)
        return &t->other[k];
    e = &t->e[n];
    memset(e, 0, sizeof(*e));
    memcpy(e->name, name, len);
    e->kind = (uint32_t)k;
    e->hash = h;
    t->index[p] = (uint16_t)(n + 1);
    /* The entry is whole before a reader may look at it. */
    __atomic_store_n(&t->n, n + 1, __ATOMIC_RELEASE);
    return &e->c;
}

static void count(struct sl_api_counts *c, const struct sl_api_txn *x)
{
    c->requests++;
    c->cls[sl_api_class_of(x->status)]++;
    if (x->limited)
        c->limited++;
    if (x->auth_refused)
        c->auth_refused++;
    c->bytes_in += x->bytes_in;
    c->bytes_out += x->bytes_out;
    sl_hist_add(&c->lat, x->elapsed_us);
}

void sl_api_record(struct sl_api_table *t, const char *route, const char *consumer,
                   const struct sl_api_txn *x)
{
    if (t == NULL)
        return;
    if (route != NULL)
        count(entry_of(t, SL_API_ROUTE, route), x);
    if (consumer != NULL)
        count(entry_of(t, SL_API_CONSUMER, consumer), x);
}

struct sl_api_table *sl_api_shm_new(size_t n)
{
    /* Untouched pages of a shared anonymous mapping take no memory: a
     * slot costs what its workers wrote. */
    void *p = mmap(NULL, n * sizeof(struct sl_api_table), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    return p == MAP_FAILED ? NULL : p;
}

void sl_api_shm_free(struct sl_api_table *t, size_t n)
{
    if (t != NULL)
        munmap(t, n * sizeof(*t));
}

/* --- the sum ------------------------------------------------------------- */

static void counts_add(struct sl_api_counts *d, const struct sl_api_counts *s)
{
    size_t i;

    d->requests += s->requests;
    for (i = 0; i < SL_API_NCLASSES; i++)
        d->cls[i] += s->cls[i];
    d->limited += s->limited;
    d->auth_refused += s->auth_refused;
    d->bytes_in += s->bytes_in;
    d->bytes_out += s->bytes_out;
    for (i = 0; i <= SL_HIST_N; i++)
        d->lat.b[i] += s->lat.b[i];
    d->lat.count += s->lat.count;
    d->lat.sum_us += s->lat.sum_us;
}

void sl_api_sum_clear(struct sl_api_sum *s)
{
    s->n = 0;
    memset(s->other, 0, sizeof(s->other));
    memset(s->index, 0, sizeof(s->index));
}

/* The row of (k, name) in s, made when new; NULL when s is full. */
static struct sl_api_row *row_of(struct sl_api_sum *s, enum sl_api_kind k, const char *name)
{
    const size_t mask = 2 * SL_API_SUM_MAX - 1;
    size_t len = strlen(name), i, p;
    uint32_t h = name_hash(k, name, len);
    struct sl_api_row *r;

    for (i = 0; i <= mask; i++) {
        p = (h + i) & mask;
        if (s->index[p] == 0)
            break;
        r = &s->r[s->index[p] - 1];
        if (r->kind == k && same(r->name, name, len))
            return r;
    }
    if (i > mask || s->n == SL_API_SUM_MAX)
        return NULL;
    r = &s->r[s->n];
    memset(r, 0, sizeof(*r));
    memcpy(r->name, name, len + 1);
    r->kind = k;
    s->index[p] = (uint32_t)++s->n;
    return r;
}

void sl_api_sum_add(struct sl_api_sum *s, const struct sl_api_table *t)
{
    uint32_t n = __atomic_load_n(&t->n, __ATOMIC_ACQUIRE), i;
    char name[SL_API_NAME];
    size_t k;

    for (k = 0; k < SL_API_NKINDS; k++)
        counts_add(&s->other[k], &t->other[k]);
    if (n > SL_API_TABLE)
        n = SL_API_TABLE;       /* never, but the memory is another's */
    for (i = 0; i < n; i++) {
        const struct sl_api_entry *e = &t->e[i];
        enum sl_api_kind kind = e->kind == SL_API_CONSUMER ? SL_API_CONSUMER : SL_API_ROUTE;
        struct sl_api_row *r;

        memcpy(name, e->name, sizeof(name));
        name[sizeof(name) - 1] = '\0';
        r = row_of(s, kind, name);
        counts_add(r != NULL ? &r->c : &s->other[kind], &e->c);
    }
}

static int by_name(const void *a, const void *b)
{
    const struct sl_api_row *x = *(const struct sl_api_row *const *)a;
    const struct sl_api_row *y = *(const struct sl_api_row *const *)b;

    return strcmp(x->name, y->name);
}

static int by_requests(const void *a, const void *b)
{
    const struct sl_api_row *x = *(const struct sl_api_row *const *)a;
    const struct sl_api_row *y = *(const struct sl_api_row *const *)b;

    if (x->c.requests != y->c.requests)
        return x->c.requests > y->c.requests ? -1 : 1;
    return strcmp(x->name, y->name);
}

size_t sl_api_rows(const struct sl_api_sum *s, enum sl_api_kind kind, size_t top,
                   const struct sl_api_row **out, size_t max, struct sl_api_counts *other)
{
    size_t i, n = 0;

    *other = s->other[kind];
    for (i = 0; i < s->n && n < max; i++)
        if (s->r[i].kind == kind)
            out[n++] = &s->r[i];
    qsort(out, n, sizeof(*out), kind == SL_API_ROUTE ? by_name : by_requests);
    if (kind == SL_API_ROUTE || n <= top)
        return n;
    for (i = top; i < n; i++)
        counts_add(other, &out[i]->c);
    return top;
}
