/*
 * conf_limit.c - rate limits of reverse mode (conf.h: struct
 * sl_conf_rlimit):
 *
 *   reverse: {
 *     rate_limits = ( { name = "per-client"; key = "client"; rate = 20;
 *                       per = "1s"; burst = 40; ipv6_prefix = 64; },
 *                     { name = "per-key"; key = "header X-Api-Key";
 *                       rate = 1000; per = "1h"; },
 *                     { name = "per-consumer"; key = "consumer"; rate = 5;
 *                       per = "1m"; } );
 *     vhosts = ( { ...; rate_limits = [ "per-client" ];
 *                  routes = ( { ...; rate_limits = [ "per-key" ]; } ); } );
 *   };
 *
 * Vhosts and routes name their limits; the names are resolved once the
 * group is read (the limits may come after the vhosts in the file).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "squidlike/chars.h"
#include "squidlike/conf_int.h"
#include "squidlike/hash.h"

#define MAX_REFS 4096

struct limit_ref {
    const config_setting_t *s;
    char name[64];
    int *slot;
};

struct limit_stash {
    struct limit_ref refs[MAX_REFS];
    size_t n;
};

/* "client", "route", "host", "consumer", "header NAME", joined by '+'. */
static int parse_key(struct ctx *x, const config_setting_t *s, struct sl_conf_rlimit *l)
{
    const char *v = cf_get_string(x, s), *p, *e;
    size_t n;

    if (v == NULL)
        return -1;
    for (p = v; *p; p = *e ? e + 1 : e) {
        unsigned bit = 0;

        e = strchr(p, '+');
        if (e == NULL)
            e = p + strlen(p);
        n = (size_t)(e - p);
        if (n == 6 && strncmp(p, "client", 6) == 0)
            bit = SL_RL_KEY_CLIENT;
        else if (n == 5 && strncmp(p, "route", 5) == 0)
            bit = SL_RL_KEY_ROUTE;
        else if (n == 4 && strncmp(p, "host", 4) == 0)
            bit = SL_RL_KEY_HOST;
        else if (n == 8 && strncmp(p, "consumer", 8) == 0)
            bit = SL_RL_KEY_CONSUMER;
        else if (n > 7 && strncmp(p, "header ", 7) == 0 && n - 7 < sizeof(l->header) &&
                 !(l->key & SL_RL_KEY_HEADER)) {
            size_t i;

            for (i = 7; i < n; i++)
                if (!sl_is_tchar(p[i]))
                    break;
            if (i == n) {
                memcpy(l->header, p + 7, n - 7);
                l->header[n - 7] = '\0';
                bit = SL_RL_KEY_HEADER;
            }
        }
        if (bit == 0 || (l->key & bit))
            return cf_fail(x, s, "'key' must be \"client\", \"route\", \"host\", "
                           "\"consumer\" or \"header NAME\", or several joined by '+' "
                           "(\"client+route\"), each once");
        l->key |= bit;
    }
    if (l->key == 0)
        return cf_fail(x, s, "'key' is empty");
    return 0;
}

static int count(struct ctx *x, const config_setting_t *s, long long lo, long long hi,
                 long long *v)
{
    if (!cf_is_int(s) || config_setting_get_int64(s) < lo || config_setting_get_int64(s) > hi)
        return cf_fail(x, s, "'%s' must be an integer, %lld to %lld", cf_sname(s), lo, hi);
    *v = config_setting_get_int64(s);
    return 0;
}

static int one_limit(struct ctx *x, const config_setting_t *g, struct sl_conf_rlimit *l)
{
    const config_setting_t *s, *key = NULL;
    const char *k, *name;
    long long v;
    int i, n;

    if (!config_setting_is_group(g))
        return cf_fail(x, g, "each rate_limits entry must be a group ({ name = \"per-client\"; "
                       "key = \"client\"; rate = 10; per = \"1s\"; })");
    l->policy.period_ms = 1000;
    l->v4_prefix = 32;
    l->v6_prefix = 64;
    n = config_setting_length(g);
    for (i = 0; i < n; i++) {
        s = config_setting_get_elem(g, (unsigned)i);
        k = config_setting_name(s);
        if (strcmp(k, "name") == 0) {
            if ((name = cf_get_string(x, s)) == NULL)
                return -1;
            if (name[0] == '\0' || strlen(name) >= sizeof(l->name) ||
                strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                             "0123456789-_.") != strlen(name))
                return cf_fail(x, s, "rate limit name %s: letters, digits, '-', '_' and "
                               "'.', at most %zu", cf_describe(x, s), sizeof(l->name) - 1);
            snprintf(l->name, sizeof(l->name), "%s", name);
        } else if (strcmp(k, "key") == 0) {
            key = s;
            if (parse_key(x, s, l) < 0)
                return -1;
        } else if (strcmp(k, "rate") == 0) {
            if (count(x, s, 1, 1000000, &v) < 0)
                return -1;
            l->policy.rate = (uint64_t)v;
        } else if (strcmp(k, "per") == 0) {
            if (cf_get_scaled(x, s, cf_ms_units, 1000, DURATION_MSG, &v) < 0)
                return -1;
            if (v < 1000 || v > MS_D)
                return cf_fail(x, s, "'per' must be 1s to 1d");
            l->policy.period_ms = v;
        } else if (strcmp(k, "burst") == 0) {
            if (count(x, s, 1, 1000000, &v) < 0)
                return -1;
            l->policy.burst = (uint64_t)v;
        } else if (strcmp(k, "ipv4_prefix") == 0) {
            if (count(x, s, 1, 32, &v) < 0)
                return -1;
            l->v4_prefix = (unsigned)v;
        } else if (strcmp(k, "ipv6_prefix") == 0) {
            if (count(x, s, 1, 128, &v) < 0)
                return -1;
            l->v6_prefix = (unsigned)v;
        } else {
            return cf_fail(x, s, "unknown setting '%s' in a rate_limits entry (expected "
                           "one of: name, key, rate, per, burst, ipv4_prefix, "
                           "ipv6_prefix)", k);
        }
    }
    if (l->name[0] == '\0')
        return cf_fail(x, g, "rate_limits entry without 'name'");
    if (key == NULL)
        return cf_fail(x, g, "rate limit %s has no 'key'", l->name);
    if (l->policy.rate == 0)
        return cf_fail(x, g, "rate limit %s has no 'rate'", l->name);
    if (l->policy.burst == 0)
        l->policy.burst = l->policy.rate;
    /* acl/ratelimit.c keeps a bucket as nanoseconds in an int64_t: the
     * time an empty one takes to fill (burst * per / rate) must fit with
     * room to spare. 100 years does (2^63 ns is 292); 1000000 at 1 a day
     * (2,700) would not. Both products stay below 2^63. */
    if (l->policy.burst * (uint64_t)l->policy.period_ms >
        l->policy.rate * (uint64_t)(100 * 365 * MS_D))
        return cf_fail(x, g, "rate limit %s: a bucket must fill within 100 years "
                       "(burst * per / rate)", l->name);
    /* Its buckets outlive a reload when its name stays. */
    l->policy.id = sl_fnv32(l->name, strlen(l->name));
    return 0;
}

int cf_k_reverse_rate_limits(struct ctx *x, const config_setting_t *s)
{
    struct sl_conf_reverse *r = &x->c->reverse;
    int i, j, n = cf_get_list(x, s, SL_CONF_MAX_LIMITS, "groups");

    if (n < 0)
        return -1;
    if (r->n_limits > 0)
        return cf_fail(x, s, "a second 'rate_limits' list");
    if (n > 0 && (r->limits = calloc((size_t)n, sizeof(*r->limits))) == NULL)
        return cf_fail(x, s, "out of memory");
    for (i = 0; i < n; i++) {
        r->n_limits = (size_t)i + 1;
        if (one_limit(x, config_setting_get_elem(s, (unsigned)i), &r->limits[i]) < 0)
            return -1;
        for (j = 0; j < i; j++)
            if (strcmp(r->limits[j].name, r->limits[i].name) == 0)
                return cf_fail(x, config_setting_get_elem(s, (unsigned)i),
                               "a second rate limit named %s", r->limits[i].name);
    }
    return 0;
}

int cf_k_reverse_rate_limit_table(struct ctx *x, const config_setting_t *s)
{
    long long v;

    if (count(x, s, ACL_RL_MIN_ENTRIES, ACL_RL_MAX_ENTRIES, &v) < 0)
        return -1;
    x->c->reverse.limit_table = (size_t)v;
    return 0;
}

int cf_limit_refs(struct ctx *x, const config_setting_t *s, int *out, size_t *n)
{
    struct limit_stash *st = x->limit_stash;
    int i, m = cf_get_list(x, s, SL_CONF_LIMITS_PER, "rate limit names");
    const char *name;

    if (m < 0)
        return -1;
    if (st == NULL && (st = x->limit_stash = calloc(1, sizeof(*st))) == NULL)
        return cf_fail(x, s, "out of memory");
    for (i = 0; i < m; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);

        if ((name = cf_get_string(x, e)) == NULL)
            return -1;
        if (st->n == MAX_REFS)
            return cf_fail(x, e, "more than %d rate limit names in vhosts and routes",
                           MAX_REFS);
        st->refs[st->n].s = e;
        snprintf(st->refs[st->n].name, sizeof(st->refs[st->n].name), "%s", name);
        st->refs[st->n].slot = &out[i];
        st->n++;
    }
    *n = (size_t)m;
    return 0;
}

int cf_limit_finish(struct ctx *x)
{
    const struct sl_conf_reverse *r = &x->c->reverse;
    struct limit_stash *st = x->limit_stash;
    size_t i, j;

    for (i = 0; st != NULL && i < st->n; i++) {
        for (j = 0; j < r->n_limits; j++)
            if (strcmp(r->limits[j].name, st->refs[i].name) == 0)
                break;
        if (j == r->n_limits)
            return cf_fail(x, st->refs[i].s, "unknown rate limit '%s' (not in "
                           "reverse.rate_limits)", st->refs[i].name);
        *st->refs[i].slot = (int)j;
    }
    return 0;
}

void cf_limit_stash_free(struct ctx *x)
{
    free(x->limit_stash);
    x->limit_stash = NULL;
}
