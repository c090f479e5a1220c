/*
 * conf_cache.c - the cache group's refresh_patterns (Squid's refresh_pattern
 * lines as groups, compiled into cache/refresh.h's list) and the group's
 * defaults. The plain keys (enabled, dir, size, max_object, purge_from)
 * are conf.c's table entries.
 */
#include "config.h"

#include <libconfig.h>
#include <stdlib.h>
#include <string.h>

#include "acl/acl.h"
#include "cache/refresh.h"
#include "squidlike/conf_int.h"

/* A refresh_pattern duration: 0 allowed, at most a year; in seconds. */
static int rp_duration(struct ctx *x, const config_setting_t *s, int64_t *out)
{
    long long v = 0;

    if (!(cf_is_int(s) && config_setting_get_int64(s) == 0) &&
        cf_get_scaled(x, s, cf_ms_units, 1000, DURATION_MSG, &v) < 0)
        return -1;
    if (v > 365LL * 24 * MS_H)
        return cf_fail(x, s, "'%s' is out of range (expected 0 to 365 days)",
                    cf_sname(s));
    *out = v / 1000;
    return 0;
}

/* One { regex = "..."; icase = false; min = 0; percent = 20; max = "3d"; } */
static int refresh_rule(struct ctx *x, const config_setting_t *g)
{
    struct cache_heuristic h = { .min = 0, .percent = 20, .max = 3 * 24 * 3600 };
    const config_setting_t *s;
    const char *regex = NULL;
    char why[160];
    int icase = 0, i, n;

    if (!config_setting_is_group(g))
        return cf_fail(x, g, "each refresh_patterns entry must be a group "
                    "({ regex = \"...\"; min = 0; percent = 20; max = \"3d\"; })");
    n = config_setting_length(g);
    for (i = 0; i < n; i++) {
        const char *name;
        s = config_setting_get_elem(g, (unsigned)i);
        name = config_setting_name(s);
        if (strcmp(name, "regex") == 0) {
            if ((regex = cf_get_string(x, s)) == NULL)
                return -1;
        } else if (strcmp(name, "icase") == 0) {
            if (config_setting_type(s) != CONFIG_TYPE_BOOL)
                return cf_fail(x, s, "'icase' must be true or false");
            icase = config_setting_get_bool(s);
        } else if (strcmp(name, "min") == 0) {
            if (rp_duration(x, s, &h.min) < 0)
                return -1;
        } else if (strcmp(name, "max") == 0) {
            if (rp_duration(x, s, &h.max) < 0)
                return -1;
        } else if (strcmp(name, "range_fetch") == 0) {
            long long v = 0;
            if (!(cf_is_int(s) && config_setting_get_int64(s) == 0) &&
                cf_get_scaled(x, s, cf_size_units, 1, SIZE_MSG, &v) < 0)
                return -1;
            if (v < 0 || v > (1LL << 40))
                return cf_fail(x, s, "'range_fetch' is out of range (expected 0 to 1T)");
            h.range_fetch = (uint64_t)v;
        } else if (strcmp(name, "percent") == 0) {
            if (!cf_is_int(s) || config_setting_get_int64(s) < 0 ||
                config_setting_get_int64(s) > 10000)
                return cf_fail(x, s, "'percent' must be an integer from 0 to 10000");
            h.percent = (int)config_setting_get_int64(s);
        } else {
            return cf_fail(x, s, "unknown setting '%s' in a refresh_patterns entry "
                        "(expected one of: regex, icase, min, percent, max, range_fetch)", name);
        }
    }
    if (regex == NULL)
        return cf_fail(x, g, "refresh_patterns entry without 'regex'");
    if (h.max < h.min)
        return cf_fail(x, g, "refresh_patterns entry with max below min");
    if (cache_refresh_add(x->c->cache.refresh, regex, icase, &h, why, sizeof(why)) < 0)
        return cf_fail(x, g, "bad regex \"%s\": %s", regex, why);
    return 0;
}

int cf_k_refresh_patterns(struct ctx *x, const config_setting_t *s)
{
    int i, n = cf_get_list(x, s, CACHE_REFRESH_MAX, "groups");
    struct cache_refresh *r;

    if (n < 0)
        return -1;
    /* The file's list replaces the default one. */
    r = cache_refresh_new();
    if (r == NULL)
        return cf_fail(x, s, "out of memory");
    cache_refresh_free(x->c->cache.refresh);
    x->c->cache.refresh = r;
    for (i = 0; i < n; i++)
        if (refresh_rule(x, config_setting_get_elem(s, (unsigned)i)) < 0)
            return -1;
    return 0;
}

/*
 * The default refresh_patterns: etc/squidlike.conf's list, which says why
 * each entry is there (check_conf holds the two equal). Squid's stock
 * lines minus ftp, with package archives between them: indexes never
 * fresh by heuristic, package files (named by version or by hash) 90 days.
 */
#define RP_NEVER        { .min = 0 }
/* Package files: clients resume them with ranges (range_fetch). */
#define RP_PACKAGE      { .min = 90 * 24 * 3600, .percent = 100, \
                          .max = 90 * 24 * 3600, .range_fetch = 1ull << 30 }
#define RP_USUAL        { .min = 0, .percent = 20, .max = 3 * 24 * 3600 }
static const struct {
    const char *regex;
    int icase;
    struct cache_heuristic h;
} default_patterns[] = {
    { "/cgi-bin/|\\?", 1, RP_NEVER },
    { "/by-hash/[A-Za-z0-9]+/[0-9a-f]+$", 0, RP_PACKAGE },
    { "/dists/|/(InRelease|Release(\\.gpg)?|(Packages|Sources)"
      "(\\.(gz|bz2|xz|lzma|zst))?)$", 0, RP_NEVER },
    { "\\.(deb|udeb|ddeb)$", 1, RP_PACKAGE },
    { "/repodata/[0-9a-f]{32,}-[^/]+$", 0, RP_PACKAGE },
    { "/repodata/", 0, RP_NEVER },
    { "\\.(rpm|drpm)$", 1, RP_PACKAGE },
    { "/APKINDEX\\.tar\\.gz$", 0, RP_NEVER },
    { "-r[0-9]+\\.apk$", 0, RP_PACKAGE },
    { "/os/[^/]+/[^/]+\\.(db|files)(\\.tar(\\.(gz|bz2|xz|zst))?)?(\\.sig)?$", 0,
      RP_NEVER },
    { "\\.pkg\\.tar(\\.(gz|bz2|xz|zst|lz4|lzo|lrz|Z))?(\\.sig)?$", 0, RP_PACKAGE },
    { ".", 0, RP_USUAL },
};

int cf_cache_defaults(struct sl_conf_cache *cc)
{
    static const struct cache_heuristic usual = RP_USUAL;
    const char *why;
    char err[64];
    size_t i;

    cc->enabled = 1;
    cc->dir = strdup("var/cache");
    cc->size = 1024 * MIB;
    cc->max_object = 256 * MIB;
    cc->quick_abort_min = 16 * KIB;     /* Squid's defaults */
    cc->quick_abort_max = 16 * KIB;
    cc->quick_abort_pct = 95;
    if (acl_net_parse("127.0.0.0/8", &cc->purge_from[0], &why) < 0 ||
        acl_net_parse("::1/128", &cc->purge_from[1], &why) < 0)
        return -1;
    cc->n_purge_from = 2;
    cc->fallback = usual;
    cc->refresh = cache_refresh_new();
    if (cc->dir == NULL || cc->refresh == NULL)
        return -1;
    for (i = 0; i < sizeof(default_patterns) / sizeof(default_patterns[0]); i++)
        if (cache_refresh_add(cc->refresh, default_patterns[i].regex,
                              default_patterns[i].icase, &default_patterns[i].h,
                              err, sizeof(err)) < 0)
            return -1;
    return 0;
}
