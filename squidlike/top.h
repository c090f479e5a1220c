/*
 * top.h - the heaviest names of a stream in fixed memory: the Space-Saving
 * algorithm (Metwally, Agrawal and El Abbadi, "Efficient computation of
 * frequent and top-k elements in data streams", 2005), weighted.
 *
 * The table holds SL_TOP_N names. A name not in a full table takes the
 * place of the lightest one and inherits its weight as an over-count
 * (err). So a name's count is never low, and never high by more than its
 * err; any name heavier than total/SL_TOP_N is in the table. The page
 * shows both, so nobody mistakes a guess for a measurement.
 *
 * Pure (no server, no clock); tested in t/unit/check_metrics.c.
 */
#ifndef SL_TOP_H
#define SL_TOP_H

#include <stddef.h>
#include <stdint.h>

#define SL_TOP_N 64
#define SL_TOP_NAME 256         /* a host name is at most 255 bytes */

struct sl_top_entry {
    uint64_t hash;
    unsigned long long count;   /* weight counted, err included */
    unsigned long long err;     /* at most this much of count is a guess */
    char name[SL_TOP_NAME];
};

struct sl_top {
    struct sl_top_entry e[SL_TOP_N];
    size_t n;
    unsigned long long total;   /* all weight seen */
};

/* Count w more for name (compared without case; longer names are cut;
 * a weight of 0 is not counted). */
void sl_top_add(struct sl_top *t, const char *name, unsigned long long w);

/* The same for a name already hashed by sl_top_hash (which gives len, the
 * part of name that counts): one hash for several tables. */
uint64_t sl_top_hash(const char *name, size_t *len);
void sl_top_add_hashed(struct sl_top *t, const char *name, size_t len, uint64_t h,
                       unsigned long long w);

/* Add src's counts to dst (the tables of several workers): a name in
 * both adds up, a new one takes a free entry or the lightest one's place
 * with that weight as its error, as sl_top_add does. src may be written
 * by another process as we read: its names are read within bounds. */
void sl_top_merge(struct sl_top *dst, const struct sl_top *src);

/* Up to k entries, heaviest first, into out (pointers into t). Returns
 * how many. */
size_t sl_top_list(const struct sl_top *t, const struct sl_top_entry **out, size_t k);

#endif
