/*
 * conf_gw_route.c - what the API gateway adds to a vhost or route: query
 * edits (reverse.vhosts.routes.query), CORS (reverse.vhosts[.routes]
 * .cors) and JSON body edits (reverse.vhosts.routes.response_json).
 * Checked here so the request step only compares and copies.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "filters/jsonedit.h"
#include "filters/query.h"
#include "squidlike/chars.h"
#include "squidlike/conf_int.h"

/* conf-entries: query */
int cf_gw_route_query(struct ctx *x, const config_setting_t *g, struct sl_conf_rquery *q)
{
    const config_setting_t *s;
    const char *k, *v;
    size_t used = 0, addlen = 0;
    int i, n, j, m;

    if (!config_setting_is_group(g))
        return cf_fail(x, g, "'query' must be a group ({ add = [ \"version=2\" ]; "
                       "remove = [ \"debug\" ]; })");
    n = config_setting_length(g);
    for (i = 0; i < n; i++) {
        s = config_setting_get_elem(g, (unsigned)i);
        k = config_setting_name(s);
        if (strcmp(k, "remove") == 0) {
            if ((m = cf_get_list(x, s, SL_GW_QUERY_EDITS, "strings")) < 0)
                return -1;
            free(q->names);
            if ((q->names = calloc((size_t)m + 1, SL_GW_NAME_MAX)) == NULL)
                return cf_fail(x, s, "out of memory");
            for (j = 0; j < m; j++) {
                const config_setting_t *e = config_setting_get_elem(s, (unsigned)j);
                if ((v = cf_get_string(x, e)) == NULL)
                    return -1;
                if (v[0] == '\0' || strlen(v) >= SL_GW_NAME_MAX || strchr(v, '&') ||
                    strchr(v, '='))
                    return cf_fail(x, e, "bad parameter name %s in 'query.remove' "
                                   "(1 to %d bytes, no '&' or '=': the name decoded)",
                                   cf_describe(x, e), SL_GW_NAME_MAX - 1);
                memcpy(q->names + used, v, strlen(v) + 1);
                q->remove[j] = q->names + used;
                used += SL_GW_NAME_MAX;
            }
            q->n_remove = (size_t)m;
        } else if (strcmp(k, "add") == 0) {
            if ((m = cf_get_list(x, s, SL_GW_QUERY_EDITS, "strings")) < 0)
                return -1;
            for (j = 0; j < m; j++) {
                const config_setting_t *e = config_setting_get_elem(s, (unsigned)j);
                char *nb;
                if ((v = cf_get_string(x, e)) == NULL)
                    return -1;
                if (!flt_query_param_ok(v) || strlen(v) > 1024)
                    return cf_fail(x, e, "bad parameter %s in 'query.add' (\"name=value\", "
                                   "percent-encoded, no '&', '#' or space)",
                                   cf_describe(x, e));
                if ((nb = realloc(q->add, addlen + strlen(v) + 2)) == NULL)
                    return cf_fail(x, e, "out of memory");
                q->add = nb;
                if (addlen > 0)
                    nb[addlen++] = '&';
                memcpy(nb + addlen, v, strlen(v) + 1);
                addlen += strlen(v);
            }
        } else {
            return cf_fail(x, s, "unknown setting '%s' in 'query' (expected one of: "
                           "add, remove)", k);
        }
    }
    return 0;
}

void cf_gw_route_query_free(struct sl_conf_rquery *q)
{
    free(q->names);
    free(q->add);
    memset(q, 0, sizeof(*q));
}

/* A list of tokens joined with ", " into out (SL_GW_CORS_LIST). */
static int join_tokens(struct ctx *x, const config_setting_t *s, char *out, int upper)
{
    int j, m = cf_get_list(x, s, 64, "strings");
    size_t len = 0, i, n;
    const char *v;

    if (m < 0)
        return -1;
    out[0] = '\0';
    for (j = 0; j < m; j++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)j);
        if ((v = cf_get_string(x, e)) == NULL)
            return -1;
        n = strlen(v);
        for (i = 0; i < n; i++)
            if (!sl_is_tchar(v[i]))
                break;
        if (n == 0 || i < n)
            return cf_fail(x, e, "bad %s %s in 'cors.%s' (a token)", upper ? "method" :
                           "field name", cf_describe(x, e), cf_sname(s));
        if (len + n + 3 >= SL_GW_CORS_LIST)
            return cf_fail(x, e, "'cors.%s' is too long", cf_sname(s));
        if (len > 0) {
            memcpy(out + len, ", ", 2);
            len += 2;
        }
        memcpy(out + len, v, n + 1);
        len += n;
    }
    return 0;
}

/* An origin as browsers send it: scheme "://" host [":" port], no path. */
static int origin_ok(const char *v)
{
    const char *h = strstr(v, "://");
    size_t i;

    if (h == NULL || h == v || strlen(v) >= 256)
        return 0;
    for (i = 0; v + i < h; i++)
        if (!sl_is_scheme_char(v[i], i == 0))
            return 0;
    for (h += 3; *h; h++)
        if (!sl_is_host_char(*h) && *h != ':' && *h != '[' && *h != ']')
            return 0;
    return h[-1] != '/' && strstr(v, "://")[3] != '\0';
}

/* conf-entries: cors */
int cf_gw_cors(struct ctx *x, const config_setting_t *g, struct sl_conf_cors **out)
{
    struct sl_conf_cors *c;
    const config_setting_t *s;
    const char *k, *v;
    long long ms;
    int i, n, j, m;

    if (!config_setting_is_group(g))
        return cf_fail(x, g, "'cors' must be a group ({ origins = [ "
                       "\"https://app.example.com\" ]; })");
    if (*out != NULL)
        return cf_fail(x, g, "a second 'cors'");
    if ((c = *out = calloc(1, sizeof(*c))) == NULL)
        return cf_fail(x, g, "out of memory");
    snprintf(c->methods, sizeof(c->methods), "GET, HEAD, POST");
    c->max_age_s = -1;
    n = config_setting_length(g);
    for (i = 0; i < n; i++) {
        s = config_setting_get_elem(g, (unsigned)i);
        k = config_setting_name(s);
        if (strcmp(k, "origins") == 0) {
            if ((m = cf_get_list(x, s, 256, "strings")) < 0)
                return -1;
            free(c->origins);
            c->n_origins = 0;
            if ((c->origins = calloc((size_t)m + 1, sizeof(*c->origins))) == NULL)
                return cf_fail(x, s, "out of memory");
            for (j = 0; j < m; j++) {
                const config_setting_t *e = config_setting_get_elem(s, (unsigned)j);
                if ((v = cf_get_string(x, e)) == NULL)
                    return -1;
                if (strcmp(v, "*") == 0) {
                    c->any = 1;
                    continue;
                }
                if (!origin_ok(v))
                    return cf_fail(x, e, "bad origin %s in 'cors.origins' (scheme://host"
                                   "[:port] as browsers send it, or \"*\")",
                                   cf_describe(x, e));
                snprintf(c->origins[c->n_origins++], sizeof(c->origins[0]), "%s", v);
            }
        } else if (strcmp(k, "methods") == 0) {
            if (join_tokens(x, s, c->methods, 1) < 0)
                return -1;
        } else if (strcmp(k, "headers") == 0) {
            if (join_tokens(x, s, c->headers, 0) < 0)
                return -1;
        } else if (strcmp(k, "expose") == 0) {
            if (join_tokens(x, s, c->expose, 0) < 0)
                return -1;
        } else if (strcmp(k, "credentials") == 0) {
            if (config_setting_type(s) != CONFIG_TYPE_BOOL)
                return cf_fail(x, s, "'credentials' must be true or false");
            c->credentials = config_setting_get_bool(s);
        } else if (strcmp(k, "max_age") == 0) {
            if (cf_gw_duration0(x, s, &ms) < 0)
                return -1;
            if (ms < 0 || ms > MS_D)
                return cf_fail(x, s, "'max_age' is out of range (0s to 1d)");
            c->max_age_s = ms / 1000;
        } else {
            return cf_fail(x, s, "unknown setting '%s' in 'cors' (expected one of: "
                           "origins, methods, headers, expose, credentials, max_age)", k);
        }
    }
    if (c->n_origins == 0 && !c->any)
        return cf_fail(x, g, "'cors' without 'origins'");
    if (c->any && c->credentials)
        return cf_fail(x, g, "'cors': origins \"*\" with credentials = true is refused "
                       "by browsers (list the origins)");
    return 0;
}

void cf_gw_cors_free(struct sl_conf_cors *c)
{
    if (c == NULL)
        return;
    free(c->origins);
    free(c);
}

/* conf-entries: response_json */
int cf_gw_route_json(struct ctx *x, const config_setting_t *g, struct sl_conf_rroute *r)
{
    const config_setting_t *s, *e;
    const char *k, *v, *why;
    long long size;
    int i, n, j, m;

    if (!config_setting_is_group(g))
        return cf_fail(x, g, "'response_json' must be a group ({ remove = [ \"password\" ]; "
                       "rename = [ \"usr: user\" ]; max_size = \"64k\"; })");
    if (r->json != NULL)
        return cf_fail(x, g, "a second 'response_json'");
    if ((r->json = flt_jsonedit_new()) == NULL)
        return cf_fail(x, g, "out of memory");
    r->json_max = 64 * KIB;
    n = config_setting_length(g);
    for (i = 0; i < n; i++) {
        s = config_setting_get_elem(g, (unsigned)i);
        k = config_setting_name(s);
        if (strcmp(k, "remove") == 0 || strcmp(k, "rename") == 0) {
            if ((m = cf_get_list(x, s, FLT_JSONEDIT_MAX, "strings")) < 0)
                return -1;
            for (j = 0; j < m; j++) {
                e = config_setting_get_elem(s, (unsigned)j);
                if ((v = cf_get_string(x, e)) == NULL)
                    return -1;
                why = k[2] == 'm' ? flt_jsonedit_remove(r->json, v)
                                  : flt_jsonedit_rename(r->json, v);
                if (why != NULL)
                    return cf_fail(x, e, "bad %s %s in 'response_json.%s': %s",
                                   k[2] == 'm' ? "path" : "rename", cf_describe(x, e), k,
                                   why);
            }
        } else if (strcmp(k, "max_size") == 0) {
            if (cf_get_scaled(x, s, cf_size_units, 1, SIZE_MSG, &size) < 0)
                return -1;
            if (size < 2 || size > MIB)
                return cf_fail(x, s, "'max_size' is out of range (2 to 1M): a body "
                               "is held whole in memory to be edited");
            r->json_max = (size_t)size;
        } else {
            return cf_fail(x, s, "unknown setting '%s' in 'response_json' (expected one "
                           "of: remove, rename, max_size)", k);
        }
    }
    if (flt_jsonedit_rules(r->json) == 0)
        return cf_fail(x, g, "'response_json' without 'remove' or 'rename'");
    return 0;
}

void cf_gw_route_json_free(struct sl_conf_rroute *r)
{
    flt_jsonedit_free(r->json);
    r->json = NULL;
}
