/*
 * top.c - weighted Space-Saving (see top.h). A lookup compares 64-bit
 * hashes first, so a request costs a scan of SL_TOP_N integers and, on a
 * match, one string compare.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "squidlike/chars.h"
#include "squidlike/hash.h"
#include "squidlike/top.h"

/* FNV-1a over the lower-cased name, up to the length we keep. */
uint64_t sl_top_hash(const char *s, size_t *len)
{
    uint64_t h = SL_FNV64_INIT;
    size_t n = 0;

    for (; s[n] != '\0' && n < SL_TOP_NAME - 1; n++)
        h = sl_fnv64_step(h, (unsigned char)sl_lower(s[n]));
    *len = n;
    return h;
}

void sl_top_add(struct sl_top *t, const char *name, unsigned long long w)
{
    size_t len;
    uint64_t h;

    if (name == NULL || name[0] == '\0' || w == 0)
        return;
    h = sl_top_hash(name, &len);
    sl_top_add_hashed(t, name, len, h, w);
}

void sl_top_add_hashed(struct sl_top *t, const char *name, size_t len, uint64_t h,
                       unsigned long long w)
{
    struct sl_top_entry *e, *min = NULL;
    size_t i;

    /* Nothing to count: a name with no weight would only push a real
     * one out of a full table. */
    if (len == 0 || w == 0)
        return;
    t->total += w;
    for (i = 0; i < t->n; i++) {
        e = &t->e[i];
        if (e->hash == h && strncasecmp(e->name, name, len) == 0 && e->name[len] == '\0') {
            e->count += w;
            return;
        }
        if (min == NULL || e->count < min->count)
            min = e;
    }
    if (t->n < SL_TOP_N) {
        e = &t->e[t->n++];
        e->count = w;
        e->err = 0;
    } else {
        e = min;
        e->err = e->count;
        e->count += w;
    }
    e->hash = h;
    memcpy(e->name, name, len);
    e->name[len] = '\0';
}

void sl_top_merge(struct sl_top *dst, const struct sl_top *src)
{
    char name[SL_TOP_NAME];
    struct sl_top_entry *e, *min;
    size_t i, j, n = src->n < SL_TOP_N ? src->n : SL_TOP_N, len;
    uint64_t h;

    dst->total += src->total;
    for (i = 0; i < n; i++) {
        const struct sl_top_entry *s = &src->e[i];
        unsigned long long count = s->count, err = s->err;

        memcpy(name, s->name, sizeof(name));
        name[sizeof(name) - 1] = '\0';
        h = sl_top_hash(name, &len);
        if (len == 0 || count == 0)
            continue;
        min = NULL;
        for (j = 0; j < dst->n; j++) {
            e = &dst->e[j];
            if (e->hash == h && strcasecmp(e->name, name) == 0)
                break;
            if (min == NULL || e->count < min->count)
                min = e;
        }
        if (j < dst->n) {
            dst->e[j].count += count;
            dst->e[j].err += err;
            continue;
        }
        if (dst->n < SL_TOP_N) {
            e = &dst->e[dst->n++];
            e->count = count;
            e->err = err;
        } else {
            if (min->count >= count)
                continue;       /* lighter than all we keep: part of total only */
            e = min;
            e->err = e->count + err;
            e->count += count;
        }
        e->hash = h;
        memcpy(e->name, name, len);
        e->name[len] = '\0';
    }
}

size_t sl_top_list(const struct sl_top *t, const struct sl_top_entry **out, size_t k)
{
    size_t n = 0, i, j;

    if (k == 0)
        return 0;
    /* Insertion into out, heaviest first: k and SL_TOP_N are small. */
    for (i = 0; i < t->n; i++) {
        const struct sl_top_entry *e = &t->e[i];

        if (n < k)
            n++;
        else if (e->count <= out[n - 1]->count)
            continue;
        for (j = n - 1; j > 0 && out[j - 1]->count < e->count; j--)
            out[j] = out[j - 1];
        out[j] = e;
    }
    return n;
}
