/*
 * refresh.h - Squid-style refresh_pattern rules: the first URL regex that
 * matches gives the heuristic freshness parameters (min, percent, max) for
 * responses without explicit freshness. Pure: PCRE2 (JIT when available),
 * no I/O. Built by the configuration loader, read-only afterwards.
 */
#ifndef CACHE_REFRESH_H
#define CACHE_REFRESH_H

#include <stddef.h>

#include "cache/policy.h"

struct cache_refresh;

struct cache_refresh *cache_refresh_new(void);
void cache_refresh_free(struct cache_refresh *r);

/*
 * Append a rule. Returns 0, -1 with err filled ("missing ) at offset 3"),
 * or -2 when the list is full (at most CACHE_REFRESH_MAX rules).
 */
#define CACHE_REFRESH_MAX 128
int cache_refresh_add(struct cache_refresh *r, const char *regex, int icase,
                      const struct cache_heuristic *h, char *err, size_t errlen);

/* Parameters of the first rule matching url, or NULL when none does. */
const struct cache_heuristic *cache_refresh_match(const struct cache_refresh *r,
                                                  const char *url, size_t len);

size_t cache_refresh_count(const struct cache_refresh *r);

#endif
