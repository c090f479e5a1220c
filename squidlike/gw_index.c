/*
 * gw_index.c - consumers by API key digest, by JWT subject, by name
 * (gw_index.h). Three arrays of pointers into the snapshot's consumers,
 * each sorted once; a duplicate shows as two equal neighbours.
 */
#include "config.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "squidlike/gw_index.h"

struct key_ent {
    const unsigned char *digest;
    const struct sl_conf_consumer *cs;
};

struct sl_gw_index {
    struct key_ent *keys;
    size_t n_keys;
    const struct sl_conf_consumer **subs;   /* by subject */
    const struct sl_conf_consumer **names;  /* by name */
    size_t n;
};

static const char *subject(const struct sl_conf_consumer *cs)
{
    return cs->jwt_subject ? cs->jwt_subject : cs->name;
}

static int cmp_key(const void *a, const void *b)
{
    return memcmp(((const struct key_ent *)a)->digest,
                  ((const struct key_ent *)b)->digest, 32);
}

static int cmp_sub(const void *a, const void *b)
{
    return strcmp(subject(*(const struct sl_conf_consumer *const *)a),
                  subject(*(const struct sl_conf_consumer *const *)b));
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp((*(const struct sl_conf_consumer *const *)a)->name,
                  (*(const struct sl_conf_consumer *const *)b)->name);
}

/* The later of two consumers in gw's order. */
static long later(const struct sl_conf_gateway *gw, const struct sl_conf_consumer *a,
                  const struct sl_conf_consumer *b)
{
    return (long)((a > b ? a : b) - gw->consumers);
}

int sl_gw_index_build(struct sl_conf_gateway *gw, char *err, size_t errlen, long *bad)
{
    struct sl_gw_index *ix = calloc(1, sizeof(*ix));
    size_t i, j, nk = 0;

    *bad = -1;
    if (ix == NULL)
        goto nomem;
    for (i = 0; i < gw->n_consumers; i++)
        nk += gw->consumers[i].n_keys;
    ix->n = gw->n_consumers;
    ix->subs = calloc(ix->n ? ix->n : 1, sizeof(*ix->subs));
    ix->names = calloc(ix->n ? ix->n : 1, sizeof(*ix->names));
    ix->keys = calloc(nk ? nk : 1, sizeof(*ix->keys));
    if (ix->subs == NULL || ix->names == NULL || ix->keys == NULL)
        goto nomem;
    for (i = 0; i < gw->n_consumers; i++) {
        const struct sl_conf_consumer *cs = &gw->consumers[i];
        ix->subs[i] = ix->names[i] = cs;
        for (j = 0; j < cs->n_keys; j++) {
            ix->keys[ix->n_keys].digest = cs->keys[j];
            ix->keys[ix->n_keys++].cs = cs;
        }
    }
    qsort(ix->names, ix->n, sizeof(*ix->names), cmp_name);
    qsort(ix->subs, ix->n, sizeof(*ix->subs), cmp_sub);
    qsort(ix->keys, ix->n_keys, sizeof(*ix->keys), cmp_key);
    for (i = 1; i < ix->n; i++) {
        if (cmp_name(&ix->names[i - 1], &ix->names[i]) == 0) {
            snprintf(err, errlen, "a second consumer named '%s'", ix->names[i]->name);
            *bad = later(gw, ix->names[i - 1], ix->names[i]);
            goto fail;
        }
        if (cmp_sub(&ix->subs[i - 1], &ix->subs[i]) == 0) {
            snprintf(err, errlen, "consumers '%s' and '%s' have one JWT subject \"%s\"",
                     ix->subs[i - 1]->name, ix->subs[i]->name, subject(ix->subs[i]));
            *bad = later(gw, ix->subs[i - 1], ix->subs[i]);
            goto fail;
        }
    }
    for (i = 1; i < ix->n_keys; i++)
        if (cmp_key(&ix->keys[i - 1], &ix->keys[i]) == 0) {
            snprintf(err, errlen, "consumers '%s' and '%s' have one API key",
                     ix->keys[i - 1].cs->name, ix->keys[i].cs->name);
            *bad = later(gw, ix->keys[i - 1].cs, ix->keys[i].cs);
            goto fail;
        }
    gw->index = ix;
    return 0;
nomem:
    snprintf(err, errlen, "out of memory");
fail:
    sl_gw_index_free(ix);
    return -1;
}

void sl_gw_index_free(struct sl_gw_index *ix)
{
    if (ix == NULL)
        return;
    free(ix->keys);
    free(ix->subs);
    free(ix->names);
    free(ix);
}

const struct sl_conf_consumer *sl_gw_by_key(const struct sl_gw_index *ix,
                                            const unsigned char digest[32])
{
    size_t lo = 0, hi;

    if (ix == NULL)
        return NULL;
    hi = ix->n_keys;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int d = memcmp(ix->keys[mid].digest, digest, 32);
        if (d == 0)
            return CRYPTO_memcmp(ix->keys[mid].digest, digest, 32) == 0
                   ? ix->keys[mid].cs : NULL;
        if (d < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* A binary search of arr (sorted by what field gives) for s[0, len). */
static const struct sl_conf_consumer *
find(const struct sl_conf_consumer *const *arr, size_t n, const char *s, size_t len,
     const char *(*field)(const struct sl_conf_consumer *))
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *v = field(arr[mid]);
        size_t vl = strlen(v);
        int d = memcmp(v, s, vl < len ? vl : len);
        if (d == 0)
            d = vl < len ? -1 : vl > len ? 1 : 0;
        if (d == 0)
            return arr[mid];
        if (d < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static const char *name_of(const struct sl_conf_consumer *cs)
{
    return cs->name;
}

const struct sl_conf_consumer *sl_gw_by_subject(const struct sl_gw_index *ix,
                                                const char *sub, size_t len)
{
    return ix != NULL ? find(ix->subs, ix->n, sub, len, subject) : NULL;
}

const struct sl_conf_consumer *sl_gw_by_name(const struct sl_gw_index *ix,
                                             const char *name)
{
    return ix != NULL ? find(ix->names, ix->n, name, strlen(name), name_of) : NULL;
}
