/*
 * conf_zip.c - reverse mode's compression (conf.h: struct sl_conf_zip):
 *
 *   reverse: {
 *     compression: { codings = [ "br", "gzip" ]; types = [ "text/html" ];
 *                    min_length = 256; gzip_level = 6; brotli_level = 5;
 *                    max_streams = 64; };
 *     vhosts = ( { ...; compress = false;
 *                  routes = ( { ...; compress = true; } ); } );
 *   };
 *
 * The group turns compression on for every route; a vhost's or a route's
 * compress = false turns it off there (a route's own setting wins).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "filters/encoding.h"
#include "squidlike/chars.h"
#include "squidlike/conf_int.h"

/* Text that compresses well (nginx's gzip_types would be text/html only;
 * these are what sites serve as text). */
static const char *const default_types[] = {
    "text/html", "text/plain", "text/css", "text/javascript", "text/xml",
    "text/csv", "application/javascript", "application/json",
    "application/xml", "application/ld+json", "application/manifest+json",
    "image/svg+xml", NULL
};

static int level(struct ctx *x, const config_setting_t *s, int hi, int *out)
{
    if (!cf_is_int(s) || config_setting_get_int64(s) < (hi == 9 ? 1 : 0) ||
        config_setting_get_int64(s) > hi)
        return cf_fail(x, s, "'%s' must be an integer, %d to %d", cf_sname(s),
                       hi == 9 ? 1 : 0, hi);
    *out = (int)config_setting_get_int64(s);
    return 0;
}

static const char *e_coding(struct ctx *x, const char *v, size_t i)
{
    struct sl_conf_zip *z = &x->c->reverse.zip;
    unsigned bit = strcmp(v, "gzip") == 0 ? FLT_ENC_GZIP :
                   strcmp(v, "br") == 0 ? FLT_ENC_BR : 0;
    size_t j;

    if (bit == 0)
        return "\"br\" or \"gzip\"";
    for (j = 0; j < i; j++)
        if (z->codings[j] == bit)
            return "each coding once";
    z->codings[i] = bit;
    z->n_codings = i + 1;
    return NULL;
}

/* A media type, "type/subtype", or "type/" then "*": tokens, no parameters. */
static const char *e_type(struct ctx *x, const char *v, size_t i)
{
    struct sl_conf_zip *z = &x->c->reverse.zip;
    const char *slash = strchr(v, '/'), *p;

    if (slash == NULL || slash == v || slash[1] == '\0' || strlen(v) > 127)
        return "a media type, \"type/subtype\" or \"type/*\" (at most 127 bytes)";
    for (p = v; *p; p++)
        if (p != slash && !sl_is_tchar(*p))
            return "a media type of token characters, without parameters";
    if (strchr(v, '*') && strcmp(slash + 1, "*") != 0)
        return "\"type/*\" (a '*' stands for the whole subtype only)";
    if ((z->types[i] = strdup(v)) == NULL)
        return "out of memory";
    z->n_types = i + 1;
    return NULL;
}

static void free_types(struct sl_conf_zip *z)
{
    size_t i;

    for (i = 0; i < z->n_types; i++)
        free(z->types[i]);
    z->n_types = 0;
}

int cf_k_reverse_compression(struct ctx *x, const config_setting_t *g)
{
    struct sl_conf_zip *z = &x->c->reverse.zip;
    const config_setting_t *s;
    const char *k;
    int i, n;
    long long v;

    if (!config_setting_is_group(g))
        return cf_fail(x, g, "'compression' must be a group (compression: "
                       "{ codings = [ \"br\", \"gzip\" ]; };)");
    z->on = 1;
    n = config_setting_length(g);
    for (i = 0; i < n; i++) {
        s = config_setting_get_elem(g, (unsigned)i);
        k = config_setting_name(s);
        if (strcmp(k, "codings") == 0) {
            z->n_codings = 0;
            if ((v = cf_each_string(x, s, 2, "coding", e_coding)) < 0)
                return -1;
            if (v == 0)
                return cf_fail(x, s, "'codings' is empty (leave out the "
                               "compression group to compress nothing)");
        } else if (strcmp(k, "types") == 0) {
            free_types(z);
            if ((v = cf_each_string(x, s, SL_CONF_MAX_ZIP_TYPES, "type", e_type)) < 0)
                return -1;
            if (v == 0)
                return cf_fail(x, s, "'types' is empty (leave out the "
                               "compression group to compress nothing)");
        } else if (strcmp(k, "min_length") == 0) {
            if (cf_get_scaled(x, s, cf_size_units, 1, SIZE_MSG, &v) < 0)
                return -1;
            if (v > (1LL << 30))
                return cf_fail(x, s, "'min_length' must be at most 1G");
            z->min_length = v;
        } else if (strcmp(k, "gzip_level") == 0) {
            if (level(x, s, 9, &z->gzip_level) < 0)
                return -1;
        } else if (strcmp(k, "brotli_level") == 0) {
            if (level(x, s, 11, &z->brotli_level) < 0)
                return -1;
        } else if (strcmp(k, "max_streams") == 0) {
            if (!cf_is_int(s) || config_setting_get_int64(s) < 1 ||
                config_setting_get_int64(s) > 100000)
                return cf_fail(x, s, "'max_streams' must be an integer, 1 to 100000");
            z->max_streams = (size_t)config_setting_get_int64(s);
        } else {
            return cf_fail(x, s, "unknown setting '%s' in group 'reverse.compression' "
                           "(expected one of: codings, types, min_length, gzip_level, "
                           "brotli_level, max_streams)", k);
        }
    }
    return 0;
}

int cf_zip_defaults(struct sl_conf_zip *z)
{
    size_t i;

    z->codings[0] = FLT_ENC_BR;
    z->codings[1] = FLT_ENC_GZIP;
    z->n_codings = 2;
    z->min_length = 256;
    z->gzip_level = 6;
    z->brotli_level = 5;
    z->max_streams = 64;
    for (i = 0; default_types[i]; i++) {
        if ((z->types[i] = strdup(default_types[i])) == NULL)
            return -1;
        z->n_types = i + 1;
    }
    return 0;
}

void cf_zip_free(struct sl_conf_zip *z)
{
    free_types(z);
}

int cf_zip_flag(struct ctx *x, const config_setting_t *s, int *out)
{
    if (config_setting_type(s) != CONFIG_TYPE_BOOL)
        return cf_fail(x, s, "'compress' must be true or false");
    *out = config_setting_get_bool(s);
    return 0;
}
