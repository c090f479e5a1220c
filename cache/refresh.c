/*
 * refresh.c - refresh_pattern rules (see refresh.h).
 */
#include "config.h"

#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>

#include "cache/refresh.h"

struct rule {
    pcre2_code *re;
    struct cache_heuristic h;
};

struct cache_refresh {
    struct rule rules[CACHE_REFRESH_MAX];
    size_t n;
    pcre2_match_data *md;       /* one is enough: matching is single-threaded */
};

struct cache_refresh *cache_refresh_new(void)
{
    struct cache_refresh *r = calloc(1, sizeof(*r));

    if (r == NULL)
        return NULL;
    r->md = pcre2_match_data_create(1, NULL);
    if (r->md == NULL) {
        free(r);
        return NULL;
    }
    return r;
}

void cache_refresh_free(struct cache_refresh *r)
{
    size_t i;

    if (r == NULL)
        return;
    for (i = 0; i < r->n; i++)
        pcre2_code_free(r->rules[i].re);
    pcre2_match_data_free(r->md);
    free(r);
}

int cache_refresh_add(struct cache_refresh *r, const char *regex, int icase,
                      const struct cache_heuristic *h, char *err, size_t errlen)
{
    PCRE2_UCHAR msg[128];
    PCRE2_SIZE off;
    pcre2_code *re;
    int code;

    if (r->n == CACHE_REFRESH_MAX)
        return -2;
    re = pcre2_compile((PCRE2_SPTR)regex, PCRE2_ZERO_TERMINATED,
                       icase ? PCRE2_CASELESS : 0, &code, &off, NULL);
    if (re == NULL) {
        pcre2_get_error_message(code, msg, sizeof(msg));
        snprintf(err, errlen, "%s at offset %zu", (const char *)msg, (size_t)off);
        return -1;
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);   /* interpreter if no JIT */
    r->rules[r->n].re = re;
    r->rules[r->n].h = *h;
    r->n++;
    return 0;
}

const struct cache_heuristic *cache_refresh_match(const struct cache_refresh *r,
                                                  const char *url, size_t len)
{
    size_t i;

    if (r == NULL)
        return NULL;
    for (i = 0; i < r->n; i++)
        if (pcre2_match(r->rules[i].re, (PCRE2_SPTR)url, len, 0, 0, r->md,
                        NULL) >= 0)
            return &r->rules[i].h;
    return NULL;
}

size_t cache_refresh_count(const struct cache_refresh *r)
{
    return r ? r->n : 0;
}
