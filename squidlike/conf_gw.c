/*
 * conf_gw.c - reverse.gateway: the API consumers (inline and from
 * consumers_file), their credentials, limits and quotas, and a route's
 * auth group. The lookups the request step needs (a consumer by the
 * SHA-256 of an API key, by a JWT subject) are sorted arrays built here
 * with the snapshot (gw_index), so a request costs two binary searches.
 *
 * Names given in one place and resolved in another (a consumer's
 * rate_limits and quotas, a route's consumers and groups) are stashed
 * during the walk and resolved in cf_gw_finish, when every list is known;
 * an unknown name is an error naming its file and line, as everywhere.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "squidlike/chars.h"
#include "squidlike/conf_int.h"
#include "squidlike/gw_index.h"
#include "squidlike/hash.h"

/* A name resolved after the walk. */
struct gw_ref {
    const config_setting_t *s;
    char name[SL_GW_NAME_MAX];
    int kind;                   /* REF_* */
    int *slot;                  /* REF_LIMIT, REF_QUOTA: the index goes here */
};

enum { REF_LIMIT, REF_QUOTA, REF_CONSUMER, REF_GROUP };

struct gw_stash {
    struct gw_ref *refs;
    size_t n, cap;
    config_t file;              /* consumers_file: its settings are named in
                                   errors until the end of the load */
    int have_file;
    const config_setting_t *quota_use;  /* the first quota a consumer names */
    const config_setting_t **where;     /* each consumer's entry, for errors */
    const config_setting_t *first_auth; /* a route's auth, for errors */
};

static struct gw_stash *gw_stash_of(struct ctx *x)
{
    if (x->gw_stash == NULL)
        x->gw_stash = calloc(1, sizeof(struct gw_stash));
    return x->gw_stash;
}

static int add_ref(struct ctx *x, const config_setting_t *s, const char *name,
                   int kind, int *slot)
{
    struct gw_stash *st = gw_stash_of(x);

    if (st == NULL)
        return cf_fail(x, s, "out of memory");
    if (st->n == st->cap) {
        size_t cap = st->cap ? 2 * st->cap : 64;
        void *nr = realloc(st->refs, cap * sizeof(*st->refs));
        if (nr == NULL)
            return cf_fail(x, s, "out of memory");
        st->refs = nr;
        st->cap = cap;
    }
    st->refs[st->n].s = s;
    snprintf(st->refs[st->n].name, sizeof(st->refs[0].name), "%s", name);
    st->refs[st->n].kind = kind;
    st->refs[st->n].slot = slot;
    st->n++;
    return 0;
}

/* Consumer, group, quota and route names: letters, digits, '-', '_', '.'
 * (they become metric labels and log fields), 1 to 63 bytes. */
int cf_gw_name(struct ctx *x, const config_setting_t *s, char *out, const char *what)
{
    const char *v = cf_get_string(x, s);
    size_t i, n;

    if (v == NULL)
        return -1;
    n = strlen(v);
    if (n == 0 || n >= SL_GW_NAME_MAX)
        return cf_fail(x, s, "bad %s \"%s\": 1 to %d characters", what, v,
                       SL_GW_NAME_MAX - 1);
    for (i = 0; i < n; i++)
        if (!sl_is_alnum(v[i]) && v[i] != '-' && v[i] != '_' && v[i] != '.' &&
            v[i] != '/')
            return cf_fail(x, s, "bad %s \"%s\": letters, digits, '-', '_', '.' "
                           "and '/' only", what, v);
    memcpy(out, v, n + 1);
    return 0;
}

/* A list of names into a new array (*out, *n), each checked. */
static int gw_names(struct ctx *x, const config_setting_t *s, size_t max,
                     const char *what, char (**out)[SL_GW_NAME_MAX], size_t *n,
                     int kind)
{
    int i, m = cf_get_list(x, s, max, "strings");

    if (m < 0)
        return -1;
    free(*out);
    *out = NULL;
    *n = 0;
    if (m == 0)
        return 0;
    if ((*out = calloc((size_t)m, sizeof(**out))) == NULL)
        return cf_fail(x, s, "out of memory");
    for (i = 0; i < m; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        if (cf_gw_name(x, e, (*out)[i], what) < 0)
            return -1;
        if (kind >= 0 && add_ref(x, e, (*out)[i], kind, NULL) < 0)
            return -1;
        *n = (size_t)i + 1;
    }
    return 0;
}

/* conf-entries: auth */
int cf_gw_route_auth(struct ctx *x, const config_setting_t *g, struct sl_conf_rauth *a)
{
    const config_setting_t *s;
    const char *k, *v;
    int i, n, j, m;

    if (!config_setting_is_group(g))
        return cf_fail(x, g, "'auth' must be a group ({ methods = [ \"api_key\", "
                       "\"jwt\" ]; consumers = [ ]; groups = [ ]; anonymous = false; })");
    n = config_setting_length(g);
    for (i = 0; i < n; i++) {
        s = config_setting_get_elem(g, (unsigned)i);
        k = config_setting_name(s);
        if (strcmp(k, "methods") == 0) {
            if ((m = cf_get_list(x, s, 2, "strings")) < 0)
                return -1;
            a->methods = 0;
            for (j = 0; j < m; j++) {
                const config_setting_t *e = config_setting_get_elem(s, (unsigned)j);
                if ((v = cf_get_string(x, e)) == NULL)
                    return -1;
                if (strcmp(v, "api_key") == 0)
                    a->methods |= SL_GW_AUTH_KEY;
                else if (strcmp(v, "jwt") == 0)
                    a->methods |= SL_GW_AUTH_JWT;
                else
                    return cf_fail(x, e, "unknown auth method \"%s\" (expected "
                                   "\"api_key\" or \"jwt\")", v);
            }
            if (a->methods == 0)
                return cf_fail(x, s, "'methods' is empty (leave 'auth' out for an "
                               "open route)");
        } else if (strcmp(k, "consumers") == 0) {
            if (gw_names(x, s, SL_GW_MAX_CONSUMERS, "consumer name",
                          &a->consumers, &a->n_consumers, REF_CONSUMER) < 0)
                return -1;
        } else if (strcmp(k, "groups") == 0) {
            if (gw_names(x, s, 64, "group name", &a->groups, &a->n_groups,
                          REF_GROUP) < 0)
                return -1;
        } else if (strcmp(k, "anonymous") == 0) {
            if (config_setting_type(s) != CONFIG_TYPE_BOOL)
                return cf_fail(x, s, "'anonymous' must be true or false");
            a->anonymous = config_setting_get_bool(s);
        } else {
            return cf_fail(x, s, "unknown setting '%s' in 'auth' (expected one of: "
                           "methods, consumers, groups, anonymous)", k);
        }
    }
    if (a->methods == 0)
        return cf_fail(x, g, "'auth' without 'methods'");
    if (gw_stash_of(x) == NULL)
        return cf_fail(x, g, "out of memory");
    if (gw_stash_of(x)->first_auth == NULL)
        gw_stash_of(x)->first_auth = g;
    return 0;
}

void cf_gw_route_free(struct sl_conf_rauth *a)
{
    free(a->consumers);
    free(a->groups);
    memset(a, 0, sizeof(*a));
}

/* "sha256:" and 64 hex digits. */
static int api_key(struct ctx *x, const config_setting_t *e, unsigned char *out)
{
    const char *v = cf_get_string(x, e);
    size_t i;

    if (v == NULL)
        return -1;
    if (strncmp(v, "sha256:", 7) != 0 || strlen(v) != 7 + 64)
        return cf_fail(x, e, "an api_keys entry is \"sha256:\" and the key's SHA-256 "
                       "in 64 hex digits (store the key's SHA-256, never the key: "
                       "printf %%s KEY | sha256sum)");
    for (i = 0; i < 32; i++) {
        int hi = sl_is_hex(v[7 + 2 * i]) ? sl_hex_val((unsigned char)v[7 + 2 * i]) : -1;
        int lo = sl_is_hex(v[8 + 2 * i]) ? sl_hex_val((unsigned char)v[8 + 2 * i]) : -1;
        if (hi < 0 || lo < 0)
            return cf_fail(x, e, "bad hex digit in api key \"%s\"", v);
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

/* conf-entries: consumers */
static int one_consumer(struct ctx *x, const config_setting_t *g, struct sl_conf_consumer *cs)
{
    const config_setting_t *s, *name = NULL;
    const char *k, *v;
    int i, n, j, m;

    if (!config_setting_is_group(g))
        return cf_fail(x, g, "each consumers entry must be a group ({ name = \"alice\"; "
                       "api_keys = [ \"sha256:...\" ]; })");
    n = config_setting_length(g);
    for (i = 0; i < n; i++) {
        s = config_setting_get_elem(g, (unsigned)i);
        k = config_setting_name(s);
        if (strcmp(k, "name") == 0) {
            if (cf_gw_name(x, s, cs->name, "consumer name") < 0)
                return -1;
            name = s;
        } else if (strcmp(k, "groups") == 0) {
            if ((m = cf_get_list(x, s, SL_GW_MAX_GROUPS, "strings")) < 0)
                return -1;
            for (j = 0; j < m; j++)
                if (cf_gw_name(x, config_setting_get_elem(s, (unsigned)j),
                               cs->groups[j], "group name") < 0)
                    return -1;
            cs->n_groups = (size_t)m;
        } else if (strcmp(k, "api_keys") == 0) {
            if ((m = cf_get_list(x, s, SL_GW_MAX_KEYS, "strings")) < 0)
                return -1;
            for (j = 0; j < m; j++)
                if (api_key(x, config_setting_get_elem(s, (unsigned)j), cs->keys[j]) < 0)
                    return -1;
            cs->n_keys = (size_t)m;
        } else if (strcmp(k, "jwt_subject") == 0) {
            if ((v = cf_get_string(x, s)) == NULL)
                return -1;
            if (v[0] == '\0' || strlen(v) >= 256)
                return cf_fail(x, s, "'jwt_subject' must be 1 to 255 bytes");
            free(cs->jwt_subject);
            if ((cs->jwt_subject = strdup(v)) == NULL)
                return cf_fail(x, s, "out of memory");
        } else if (strcmp(k, "rate_limits") == 0 || strcmp(k, "quotas") == 0) {
            int q = k[0] == 'q';
            size_t max = q ? SL_GW_QUOTAS_PER : SL_CONF_LIMITS_PER;
            if ((m = cf_get_list(x, s, max, "strings")) < 0)
                return -1;
            for (j = 0; j < m; j++) {
                const config_setting_t *e = config_setting_get_elem(s, (unsigned)j);
                char nm[SL_GW_NAME_MAX];
                if (cf_gw_name(x, e, nm, q ? "quota name" : "rate limit name") < 0 ||
                    add_ref(x, e, nm, q ? REF_QUOTA : REF_LIMIT,
                            q ? &cs->quotas[j] : &cs->limits[j]) < 0)
                    return -1;
            }
            if (q) {
                cs->n_quotas = (size_t)m;
                if (m > 0 && gw_stash_of(x) != NULL && gw_stash_of(x)->quota_use == NULL)
                    gw_stash_of(x)->quota_use = s;
            } else {
                cs->n_limits = (size_t)m;
            }
        } else {
            return cf_fail(x, s, "unknown setting '%s' in a consumers entry (expected "
                           "one of: name, groups, api_keys, jwt_subject, rate_limits, "
                           "quotas)", k);
        }
    }
    if (name == NULL)
        return cf_fail(x, g, "consumers entry without 'name'");
    return 0;
}

static int consumers_from(struct ctx *x, const config_setting_t *list, size_t *at)
{
    struct sl_conf_gateway *gw = &x->c->reverse.gw;
    struct gw_stash *st = x->gw_stash;
    int i, n = config_setting_length(list);

    for (i = 0; i < n; i++) {
        struct sl_conf_consumer *cs = &gw->consumers[*at];
        st->where[*at] = config_setting_get_elem(list, (unsigned)i);
        gw->n_consumers = ++*at;
        if (one_consumer(x, config_setting_get_elem(list, (unsigned)i), cs) < 0)
            return -1;
    }
    return 0;
}

/* The consumers of the group and of consumers_file, in one array sized
 * once (the stashed limit and quota slots point into it). */
static int consumers(struct ctx *x, const config_setting_t *inline_list,
                     const config_setting_t *file)
{
    struct sl_conf_gateway *gw = &x->c->reverse.gw;
    struct gw_stash *st = gw_stash_of(x);
    const config_setting_t *flist = NULL;
    size_t total = 0, at = 0;
    const char *path;

    if (st == NULL)
        return cf_fail(x, inline_list ? inline_list : file, "out of memory");
    if (inline_list != NULL && cf_get_list(x, inline_list, SL_GW_MAX_CONSUMERS,
                                           "groups") < 0)
        return -1;
    if (file != NULL) {
        if ((path = cf_get_string(x, file)) == NULL)
            return -1;
        if ((gw->consumers_file = strdup(path)) == NULL)
            return cf_fail(x, file, "out of memory");
        config_init(&st->file);
        st->have_file = 1;
        if (!config_read_file(&st->file, path)) {
            if (config_error_type(&st->file) == CONFIG_ERR_FILE_IO)
                return cf_fail(x, file, "consumers_file \"%s\": %s", path,
                               strerror(errno ? errno : ENOENT));
            cf_seterr(x, "%s:%d: %s", config_error_file(&st->file) ?
                      config_error_file(&st->file) : path,
                      config_error_line(&st->file), config_error_text(&st->file));
            return -1;
        }
        flist = config_lookup(&st->file, "consumers");
        if (flist == NULL)
            return cf_fail(x, file, "consumers_file \"%s\" has no 'consumers' list",
                           path);
        if (cf_get_list(x, flist, SL_GW_MAX_CONSUMERS, "groups") < 0)
            return -1;
    }
    total = (inline_list ? (size_t)config_setting_length(inline_list) : 0) +
            (flist ? (size_t)config_setting_length(flist) : 0);
    if (total > SL_GW_MAX_CONSUMERS)
        return cf_fail(x, flist ? flist : inline_list, "more than %d consumers",
                       SL_GW_MAX_CONSUMERS);
    if (total == 0)
        return 0;
    if ((gw->consumers = calloc(total, sizeof(*gw->consumers))) == NULL ||
        (st->where = calloc(total, sizeof(*st->where))) == NULL)
        return cf_fail(x, inline_list ? inline_list : file, "out of memory");
    if (inline_list != NULL && consumers_from(x, inline_list, &at) < 0)
        return -1;
    if (flist != NULL && consumers_from(x, flist, &at) < 0)
        return -1;
    return 0;
}

/* conf-entries: quotas */
static int one_quota(struct ctx *x, const config_setting_t *g, struct sl_conf_quota *q)
{
    const config_setting_t *s, *name = NULL, *req = NULL;
    const char *k, *v;
    long long ms;
    int i, n;

    if (!config_setting_is_group(g))
        return cf_fail(x, g, "each quotas entry must be a group ({ name = \"daily\"; "
                       "requests = 1000; period = \"day\"; })");
    q->policy.period = ACL_QUOTA_DAY;
    n = config_setting_length(g);
    for (i = 0; i < n; i++) {
        s = config_setting_get_elem(g, (unsigned)i);
        k = config_setting_name(s);
        if (strcmp(k, "name") == 0) {
            if (cf_gw_name(x, s, q->name, "quota name") < 0)
                return -1;
            name = s;
        } else if (strcmp(k, "requests") == 0) {
            if (!cf_is_int(s) || config_setting_get_int64(s) < 1 ||
                config_setting_get_int64(s) > 1000000000000LL)
                return cf_fail(x, s, "'requests' must be 1 to 1000000000000");
            q->policy.requests = (uint64_t)config_setting_get_int64(s);
            req = s;
        } else if (strcmp(k, "period") == 0) {
            if ((v = cf_get_string(x, s)) == NULL)
                return -1;
            if (strcmp(v, "day") == 0) {
                q->policy.period = ACL_QUOTA_DAY;
            } else if (strcmp(v, "month") == 0) {
                q->policy.period = ACL_QUOTA_MONTH;
            } else {
                if (cf_get_scaled(x, s, cf_ms_units, 1000, "\"day\", \"month\" or "
                                  DURATION_MSG, &ms) < 0)
                    return -1;
                if (ms < 1000 || ms > 31 * MS_D || ms % 1000 != 0)
                    return cf_fail(x, s, "'period' must be \"day\", \"month\" or whole "
                                   "seconds from 1s to 31d");
                q->policy.period = ACL_QUOTA_FIXED;
                q->policy.period_s = ms / 1000;
            }
        } else {
            return cf_fail(x, s, "unknown setting '%s' in a quotas entry (expected one "
                           "of: name, requests, period)", k);
        }
    }
    if (name == NULL || req == NULL)
        return cf_fail(x, g, "quotas entry without '%s'", name ? "requests" : "name");
    q->policy.id = sl_fnv32_str(q->name);
    return 0;
}

/* A duration that may be 0 (cf_get_scaled takes only > 0): 0, "0", "0s"
 * or what cf_get_scaled takes, in ms. */
int cf_gw_duration0(struct ctx *x, const config_setting_t *s, long long *ms)
{
    const char *v = config_setting_type(s) == CONFIG_TYPE_STRING
                    ? config_setting_get_string(s) : NULL;

    if ((cf_is_int(s) && config_setting_get_int64(s) == 0) ||
        (v != NULL && (strcmp(v, "0") == 0 || strcmp(v, "0s") == 0 ||
                       strcmp(v, "0ms") == 0))) {
        *ms = 0;
        return 0;
    }
    return cf_get_scaled(x, s, cf_ms_units, 1000, DURATION_MSG " or 0", ms);
}

/* A string that may be "" (a source of keys turned off). */
static const char *string_or_empty(struct ctx *x, const config_setting_t *s)
{
    if (config_setting_type(s) != CONFIG_TYPE_STRING) {
        cf_fail(x, s, "'%s' must be a string, not %s", cf_sname(s), cf_describe(x, s));
        return NULL;
    }
    return config_setting_get_string(s);
}

static int field_name(struct ctx *x, const config_setting_t *s, char *out, int may_be_empty)
{
    const char *v = string_or_empty(x, s);
    size_t i, n;

    if (v == NULL)
        return -1;
    n = strlen(v);
    if ((n == 0 && !may_be_empty) || n >= SL_GW_NAME_MAX)
        return cf_fail(x, s, "'%s' must be a field name of 1 to %d characters%s",
                       cf_sname(s), SL_GW_NAME_MAX - 1, may_be_empty ? " or \"\"" : "");
    for (i = 0; i < n; i++)
        if (!sl_is_tchar(v[i]))
            return cf_fail(x, s, "'%s': \"%s\" is not a field name (a token)",
                           cf_sname(s), v);
    memcpy(out, v, n + 1);
    return 0;
}

/* conf-entries: gateway */
int cf_k_reverse_gateway(struct ctx *x, const config_setting_t *g)
{
    struct sl_conf_gateway *gw = &x->c->reverse.gw;
    const config_setting_t *s, *list = NULL, *file = NULL;
    const char *k, *v;
    int i, n, j, m;

    if (!config_setting_is_group(g))
        return cf_fail(x, g, "'gateway' must be a group");
    gw->on = 1;
    n = config_setting_length(g);
    for (i = 0; i < n; i++) {
        s = config_setting_get_elem(g, (unsigned)i);
        k = config_setting_name(s);
        if (strcmp(k, "consumers") == 0) {
            list = s;
        } else if (strcmp(k, "consumers_file") == 0) {
            file = s;
        } else if (strcmp(k, "quotas") == 0) {
            if ((m = cf_get_list(x, s, SL_GW_MAX_QUOTAS, "groups")) < 0)
                return -1;
            for (j = 0; j < m; j++) {
                gw->n_quotas = (size_t)j + 1;
                if (one_quota(x, config_setting_get_elem(s, (unsigned)j),
                              &gw->quotas[j]) < 0)
                    return -1;
                for (int o = 0; o < j; o++)
                    if (strcmp(gw->quotas[o].name, gw->quotas[j].name) == 0)
                        return cf_fail(x, config_setting_get_elem(s, (unsigned)j),
                                       "a second quota named '%s'", gw->quotas[j].name);
            }
        } else if (strcmp(k, "quota_file") == 0) {
            if ((v = cf_get_string(x, s)) == NULL)
                return -1;
            if (v[0] == '\0')
                return cf_fail(x, s, "'quota_file' is empty");
            free(gw->quota_file);
            if ((gw->quota_file = strdup(v)) == NULL)
                return cf_fail(x, s, "out of memory");
        } else if (strcmp(k, "quota_table") == 0) {
            if (!cf_is_int(s) || config_setting_get_int64(s) < 64 ||
                config_setting_get_int64(s) > 16 * 1024 * 1024)
                return cf_fail(x, s, "'quota_table' must be 64 to 16777216");
            gw->quota_table = (size_t)config_setting_get_int64(s);
        } else if (strcmp(k, "api_key_header") == 0) {
            if (field_name(x, s, gw->api_key_header, 1) < 0)
                return -1;
        } else if (strcmp(k, "api_key_query") == 0) {
            if ((v = string_or_empty(x, s)) == NULL)
                return -1;
            if (strlen(v) >= SL_GW_NAME_MAX || strpbrk(v, "&=#%+ ") != NULL)
                return cf_fail(x, s, "'api_key_query' must be a query parameter name "
                               "(no & = # %% + or space), or \"\"");
            snprintf(gw->api_key_query, sizeof(gw->api_key_query), "%s", v);
        } else if (strcmp(k, "consumer_header") == 0) {
            if (field_name(x, s, gw->consumer_header, 0) < 0)
                return -1;
        } else if (strcmp(k, "analytics_top") == 0) {
            if (!cf_is_int(s) || config_setting_get_int64(s) < 0 ||
                config_setting_get_int64(s) > 1000)
                return cf_fail(x, s, "'analytics_top' must be 0 to 1000");
            gw->analytics_top = (unsigned)config_setting_get_int64(s);
        } else if (strcmp(k, "jwt") == 0) {
            if (cf_gw_jwt(x, s) < 0)
                return -1;
        } else {
            return cf_fail(x, s, "unknown setting '%s' in 'gateway' (expected one of: "
                           "consumers, consumers_file, quotas, quota_file, quota_table, "
                           "api_key_header, api_key_query, consumer_header, "
                           "analytics_top, jwt)", k);
        }
    }
    return consumers(x, list, file);
}

static int has_group(const struct sl_conf_gateway *gw, const char *group)
{
    size_t i, j;

    for (i = 0; i < gw->n_consumers; i++)
        for (j = 0; j < gw->consumers[i].n_groups; j++)
            if (strcmp(gw->consumers[i].groups[j], group) == 0)
                return 1;
    return 0;
}

/* After the walk: names resolved, duplicates refused, the index built. */
int cf_gw_finish(struct ctx *x)
{
    struct sl_conf_reverse *r = &x->c->reverse;
    struct sl_conf_gateway *gw = &r->gw;
    struct gw_stash *st = x->gw_stash;
    char err[256];
    size_t i, j;
    long bad;

    if (st != NULL && st->first_auth != NULL && !gw->on)
        return cf_fail(x, st->first_auth, "a route with 'auth' needs a reverse.gateway "
                       "group (its consumers)");
    for (i = 0; st != NULL && i < st->n; i++) {
        struct gw_ref *ref = &st->refs[i];
        switch (ref->kind) {
        case REF_LIMIT:
            for (j = 0; j < r->n_limits; j++)
                if (strcmp(r->limits[j].name, ref->name) == 0)
                    break;
            if (j == r->n_limits)
                return cf_fail(x, ref->s, "unknown rate limit '%s' (not in "
                               "reverse.rate_limits)", ref->name);
            *ref->slot = (int)j;
            break;
        case REF_QUOTA:
            for (j = 0; j < gw->n_quotas; j++)
                if (strcmp(gw->quotas[j].name, ref->name) == 0)
                    break;
            if (j == gw->n_quotas)
                return cf_fail(x, ref->s, "unknown quota '%s' (not in "
                               "reverse.gateway.quotas)", ref->name);
            *ref->slot = (int)j;
            break;
        case REF_CONSUMER:
            for (j = 0; j < gw->n_consumers; j++)
                if (strcmp(gw->consumers[j].name, ref->name) == 0)
                    break;
            if (j == gw->n_consumers)
                return cf_fail(x, ref->s, "unknown consumer '%s' (not in "
                               "reverse.gateway.consumers%s)", ref->name,
                               gw->consumers_file ? " nor consumers_file" : "");
            break;
        case REF_GROUP:
            if (!has_group(gw, ref->name))
                return cf_fail(x, ref->s, "no consumer is in group '%s'", ref->name);
            break;
        }
    }
    if (st != NULL && st->quota_use != NULL && gw->quota_file == NULL) {
        if (x->c->cache.dir == NULL)
            return cf_fail(x, st->quota_use, "quotas are in use but there is no "
                           "reverse.gateway.quota_file (nor cache.dir to keep it in)");
        size_t len = strlen(x->c->cache.dir) + sizeof("/quota");
        if ((gw->quota_file = malloc(len)) == NULL)
            return cf_fail(x, st->quota_use, "out of memory");
        snprintf(gw->quota_file, len, "%s/quota", x->c->cache.dir);
    }
    for (i = 0; i < r->n_vhosts; i++)
        for (j = 0; j < r->vhosts[i].n_routes; j++) {
            struct sl_conf_rroute *rt = &r->vhosts[i].routes[j];
            size_t d = 0;
            /* A route that reads API keys from the query never passes
             * them on. */
            if ((rt->auth.methods & SL_GW_AUTH_KEY) && gw->api_key_query[0] != '\0')
                rt->query.remove[rt->query.n_remove++] = gw->api_key_query;
            /* What only the gateway may say, on every route while it is
             * on: a backend behind open and API routes alike must not be
             * fooled. */
            if (gw->on) {
                rt->drop[d++] = gw->consumer_header;
                rt->drop[d++] = "X-Consumer-Groups";
            }
            /* Where members are removed from bodies, a range of the raw
             * document (a 206 is not edited) would show them: the
             * backend is asked for whole documents. */
            if (rt->json != NULL) {
                rt->drop[d++] = "Range";
                rt->drop[d++] = "If-Range";
            }
            rt->drop[d] = NULL;
        }
    if (gw->n_consumers == 0)
        return 0;
    if (sl_gw_index_build(gw, err, sizeof(err), &bad) < 0) {
        if (bad >= 0 && st != NULL && st->where != NULL)
            return cf_fail(x, st->where[bad], "%s", err);
        cf_seterr(x, "%s: reverse.gateway: %s", x->path, err);
        return -1;
    }
    return 0;
}

void cf_gw_stash_free(struct ctx *x)
{
    struct gw_stash *st = x->gw_stash;

    if (st == NULL)
        return;
    if (st->have_file)
        config_destroy(&st->file);
    free(st->refs);
    free(st->where);
    free(st);
    x->gw_stash = NULL;
}

int cf_gw_defaults(struct sl_conf_gateway *gw)
{
    snprintf(gw->api_key_header, sizeof(gw->api_key_header), "X-Api-Key");
    snprintf(gw->api_key_query, sizeof(gw->api_key_query), "api_key");
    snprintf(gw->consumer_header, sizeof(gw->consumer_header), "X-Consumer-Id");
    snprintf(gw->jwt_consumer_claim, sizeof(gw->jwt_consumer_claim), "sub");
    gw->quota_table = 65536;
    gw->analytics_top = 20;
    gw->jwt_skew_s = 30;
    gw->jwt_cache_size = 10000;
    return cf_gw_jwt_defaults(gw);
}

void cf_gw_free(struct sl_conf_gateway *gw)
{
    size_t i;

    for (i = 0; i < gw->n_consumers; i++)
        free(gw->consumers[i].jwt_subject);
    free(gw->consumers);
    free(gw->consumers_file);
    free(gw->quota_file);
    sl_gw_index_free(gw->index);
    cf_gw_jwt_free(gw);
    memset(gw, 0, sizeof(*gw));
}
