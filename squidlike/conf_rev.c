/*
 * conf_rev.c - the reverse group (conf.h: struct sl_conf_reverse):
 *
 *   reverse: {
 *     listen = [ "0.0.0.0:80" ];
 *     pools = ( { name = "app"; balance = "round-robin";
 *                 backends = [ "10.0.0.1:8080", "10.0.0.2:8080 weight=2" ]; } );
 *     vhosts = ( { names = [ "www.example.com", "*.example.com" ];
 *                  default = true;
 *                  routes = ( { prefix = "/api/v1/"; rewrite = "/"; pool = "api"; },
 *                             { prefix = "/"; pool = "app"; } ); } );
 *     http_access = [ "allow all" ];
 *   };
 *
 * Routes name their pool; the names are resolved once the whole group is
 * read (pools may come after vhosts in the file), and so are the reverse
 * http_access rules, which use the ACLs of the acls list (built by
 * conf_acl.c after the walk). Every error names file:line.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "squidlike/backend.h"
#include "squidlike/chars.h"
#include "squidlike/conf_int.h"
#include "squidlike/tls.h"

#define MAX_RULES 1024

/* What is resolved after the walk, with the settings to blame. */
struct rev_stash {
    struct {
        const config_setting_t *s;  /* the route's pool setting */
        char name[64];
        struct sl_conf_rroute *route;
    } *refs;
    size_t nrefs, caprefs;
    struct {
        const config_setting_t *s;
        char *text;
    } rules[MAX_RULES];
    size_t nrules;
    int have_rules;
};

static struct rev_stash *stash(struct ctx *x)
{
    if (x->rev_stash == NULL)
        x->rev_stash = calloc(1, sizeof(struct rev_stash));
    return x->rev_stash;
}

/* --- simple lists ------------------------------------------------------- */

static const char *e_listen(struct ctx *x, const char *v, size_t i)
{
    const char *why;

    return sl_conf_parse_listen(v, &x->c->reverse.listen[i], &why) < 0 ? why : NULL;
}

int cf_k_reverse_listen(struct ctx *x, const config_setting_t *s)
{
    int n = cf_each_string(x, s, SL_CONF_MAX_LISTEN, "address", e_listen);

    x->c->reverse.n_listen = n < 0 ? 0 : (size_t)n;
    return n < 0 ? -1 : 0;
}

static const char *e_trusted(struct ctx *x, const char *v, size_t i)
{
    const char *why;

    return acl_net_parse(v, &x->c->reverse.trusted_proxies[i], &why) < 0 ? why : NULL;
}

int cf_k_reverse_trusted_proxies(struct ctx *x, const config_setting_t *s)
{
    int n = cf_each_string(x, s, SL_CONF_MAX_NETS, "network", e_trusted);

    x->c->reverse.n_trusted_proxies = n < 0 ? 0 : (size_t)n;
    return n < 0 ? -1 : 0;
}

/* "Name: value": a field name, a colon, a value of visible characters,
 * spaces and tabs; both short enough for the header lists. NULL or why
 * not; *colon points at the colon. */
static const char *field_line_why(const char *v, const char **colon)
{
    const char *c = strchr(v, ':'), *p;
    size_t i;

    if (c == NULL || c == v || (size_t)(c - v) >= FLT_HDR_NAME_MAX)
        return "expected \"Name: value\" (a field name of 1 to 63 characters)";
    for (i = 0; v + i < c; i++)
        if (!sl_is_tchar(v[i]))
            return "the field name is not a token";
    for (p = c + 1; *p; p++)
        if (!(sl_char_class[(unsigned char)*p] & SL_C_VCHAR))
            return "the value has a character that is not allowed";
    if (strlen(c + 1) >= FLT_HDR_VALUE_MAX)
        return "the value is too long (at most 255 characters)";
    *colon = c;
    return NULL;
}

/* A field name: a token (RFC 9110), short enough for the header lists. */
static const char *field_name_why(const char *v)
{
    size_t i, n = strlen(v);

    if (n == 0 || n >= FLT_HDR_NAME_MAX)
        return "not a header field name of 1 to 63 characters";
    for (i = 0; i < n; i++)
        if (!sl_is_tchar(v[i]))
            return "not a header field name (a token)";
    return NULL;
}

static const char *e_hide(struct ctx *x, const char *v, size_t i)
{
    char line[FLT_HDR_NAME_MAX + 8];
    const char *why = field_name_why(v);

    (void)i;
    if (why != NULL)
        return why;
    snprintf(line, sizeof(line), "deny %s", v);
    return flt_hdr_access_rule(x->c->reverse.hide, line, &why) < 0 ? why : NULL;
}

int cf_k_reverse_hide_response_headers(struct ctx *x, const config_setting_t *s)
{
    struct sl_conf_reverse *r = &x->c->reverse;

    if (r->hide == NULL && (r->hide = calloc(1, sizeof(*r->hide))) == NULL)
        return cf_fail(x, s, "out of memory");
    r->hide->nrules = 0;
    return cf_each_string(x, s, FLT_HDR_ACCESS_MAX, "field name", e_hide) < 0 ? -1 : 0;
}

int cf_k_reverse_unknown_host(struct ctx *x, const config_setting_t *s)
{
    long long v = cf_is_int(s) ? config_setting_get_int64(s) : 0;

    if (v != 421 && v != 404)
        return cf_fail(x, s, "'unknown_host' must be 421 (Misdirected Request) or "
                       "404 (Not Found), not %s", cf_describe(x, s));
    x->c->reverse.unknown_host = (int)v;
    return 0;
}

int cf_k_reverse_http_access(struct ctx *x, const config_setting_t *s)
{
    struct rev_stash *st = stash(x);
    int i, n = cf_get_list(x, s, MAX_RULES, "rules");

    if (n < 0 || st == NULL)
        return -1;
    st->have_rules = 1;
    for (i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        const char *t = cf_get_string(x, e);
        if (t == NULL || (st->rules[st->nrules].text = strdup(t)) == NULL)
            return -1;
        st->rules[st->nrules++].s = e;
    }
    return 0;
}

/* --- pools -------------------------------------------------------------- */

/* "ADDR:PORT" or "ADDR:PORT weight=N" (an address: names come later). */
static const char *backend_parse(const char *v, struct sl_conf_rbackend *b)
{
    const char *sp = strchr(v, ' '), *why;
    struct sl_conf_listen l;
    char addr[80];
    size_t n = sp ? (size_t)(sp - v) : strlen(v);
    char *end;
    long w = 1;

    if (n == 0 || n >= sizeof(addr))
        return "expected \"ADDRESS:PORT\" or \"ADDRESS:PORT weight=N\"";
    memcpy(addr, v, n);
    addr[n] = '\0';
    if (sp != NULL) {
        while (*sp == ' ')
            sp++;
        if (strncmp(sp, "weight=", 7) != 0)
            return "expected \"ADDRESS:PORT weight=N\" after the address";
        errno = 0;
        w = strtol(sp + 7, &end, 10);
        if (errno || end == sp + 7 || *end != '\0' || w < 1 || w > SL_PICK_MAX_WEIGHT)
            return "the weight must be a number from 1 to 256";
    }
    if (sl_conf_parse_listen(addr, &l, &why) < 0) {
        /* "name:port": a host name, resolved when used */
        const char *colon = strrchr(addr, ':');
        size_t hl = colon ? (size_t)(colon - addr) : 0, i;
        long port;

        if (colon == NULL || hl == 0 || hl >= sizeof(b->host) || addr[0] == '[')
            return why;
        for (i = 0; i < hl; i++)
            if (!((addr[i] >= 'a' && addr[i] <= 'z') || (addr[i] >= 'A' && addr[i] <= 'Z') ||
                  (addr[i] >= '0' && addr[i] <= '9') || addr[i] == '-' ||
                  (addr[i] == '.' && i > 0 && addr[i - 1] != '.')))
                return "not an address, nor a host name (letters, digits, '-', dots)";
        errno = 0;
        port = strtol(colon + 1, &end, 10);
        if (errno || end == colon + 1 || *end != '\0' || port < 1 || port > 65535)
            return "bad port (expected 1 to 65535)";
        memcpy(b->host, addr, hl);
        b->host[hl] = '\0';
        b->port = (unsigned)port;
        b->by_name = 1;
    } else if (strchr(addr, ':') == NULL || strncmp(addr, "[::]", 4) == 0 ||
               strncmp(addr, "0.0.0.0:", 8) == 0) {
        return "a backend needs its address and port (\"10.0.0.1:8080\")";
    } else {
        memcpy(&b->addr, &l.addr, sizeof(b->addr));
        b->addrlen = l.addrlen;
    }
    snprintf(b->name, sizeof(b->name), "%s", addr);
    b->weight = (unsigned)w;
    return NULL;
}

static int pool_algo(struct ctx *x, const config_setting_t *s, struct sl_conf_rpool *p)
{
    static const struct { const char *name; enum sl_pick_algo a; } algos[] = {
        { "round-robin", SL_PICK_WRR }, { "least-conn", SL_PICK_LEASTCONN },
        { "hash", SL_PICK_HASH }, { "random-two", SL_PICK_P2C } };
    const char *v = cf_get_string(x, s);
    size_t i;

    if (v == NULL)
        return -1;
    for (i = 0; i < sizeof(algos) / sizeof(algos[0]); i++)
        if (strcmp(v, algos[i].name) == 0) {
            p->algo = algos[i].a;
            return 0;
        }
    return cf_fail(x, s, "'balance' must be one of round-robin, least-conn, hash, "
                   "random-two, not %s", cf_describe(x, s));
}

static int pool_hash(struct ctx *x, const config_setting_t *s, struct sl_conf_rpool *p)
{
    const char *v = cf_get_string(x, s), *why;

    if (v == NULL)
        return -1;
    if (strcmp(v, "client") == 0) {
        p->hash_by = SL_REV_HASH_CLIENT;
    } else if (strcmp(v, "uri") == 0) {
        p->hash_by = SL_REV_HASH_URI;
    } else if (strncmp(v, "header ", 7) == 0) {
        if ((why = field_name_why(v + 7)) != NULL)
            return cf_fail(x, s, "'hash': %s", why);
        p->hash_by = SL_REV_HASH_HEADER;
        snprintf(p->hash_header, sizeof(p->hash_header), "%s", v + 7);
    } else {
        return cf_fail(x, s, "'hash' must be \"client\", \"uri\" or \"header NAME\", "
                       "not %s", cf_describe(x, s));
    }
    return 0;
}

static int one_pool(struct ctx *x, const config_setting_t *g, struct sl_conf_rpool *p)
{
    const config_setting_t *s, *hash = NULL;
    const char *name = NULL, *why;
    int i, n, j, m;

    if (!config_setting_is_group(g))
        return cf_fail(x, g, "each pools entry must be a group ({ name = \"app\"; "
                       "backends = [ \"10.0.0.1:8080\" ]; })");
    p->health_interval_ms = 5000;
    p->health_timeout_ms = 2000;
    p->health_rise = 2;
    p->health_fall = 3;
    p->eject_after = 3;
    p->eject_ms = 1000;
    p->eject_max_ms = 60000;
    p->pending_timeout_ms = 2000;
    p->tls_verify = 1;
    n = config_setting_length(g);
    for (i = 0; i < n; i++) {
        s = config_setting_get_elem(g, (unsigned)i);
        const char *k = config_setting_name(s);
        if (strcmp(k, "name") == 0) {
            if ((name = cf_get_string(x, s)) == NULL)
                return -1;
            if (strlen(name) >= sizeof(p->name))
                return cf_fail(x, s, "pool name too long (at most %zu characters)",
                               sizeof(p->name) - 1);
            /* it is the backends' Host when preserve_host is off */
            if (name[0] == '\0' || strspn(name, "abcdefghijklmnopqrstuvwxyz"
                                          "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_")
                                    != strlen(name))
                return cf_fail(x, s, "pool name %s: letters, digits, '.', '-' and "
                               "'_' only (it is the backends' Host when "
                               "preserve_host is off)", cf_describe(x, s));
            snprintf(p->name, sizeof(p->name), "%s", name);
        } else if (strcmp(k, "balance") == 0) {
            if (pool_algo(x, s, p) < 0)
                return -1;
        } else if (strcmp(k, "hash") == 0) {
            if (pool_hash(x, s, p) < 0)
                return -1;
            hash = s;
        } else if (strcmp(k, "health_path") == 0) {
            const char *v = cf_get_string(x, s);
            if (v == NULL)
                return -1;
            if (v[0] != '/' || strlen(v) >= sizeof(p->health_path) ||
                strcspn(v, " \t\r\n#\x7f") != strlen(v))
                return cf_fail(x, s, "'health_path' must be a path (\"/health\"), "
                               "without spaces, at most %zu characters",
                               sizeof(p->health_path) - 1);
            for (j = 0; v[j]; j++)
                if ((unsigned char)v[j] < 0x21 || (unsigned char)v[j] > 0x7e)
                    return cf_fail(x, s, "'health_path' has a byte a request "
                                   "target may not");
            snprintf(p->health_path, sizeof(p->health_path), "%s", v);
        } else if (strcmp(k, "health_interval") == 0 ||
                   strcmp(k, "health_timeout") == 0 || strcmp(k, "eject_time") == 0 ||
                   strcmp(k, "eject_max") == 0 || strcmp(k, "pending_timeout") == 0) {
            long long ms;
            if (cf_get_scaled(x, s, cf_ms_units, 1000, DURATION_MSG, &ms) < 0)
                return -1;
            if (ms < 10 || ms > 3600 * 1000LL)
                return cf_fail(x, s, "'%s' must be from 10ms to 1h", k);
            if (strcmp(k, "health_interval") == 0)
                p->health_interval_ms = ms;
            else if (strcmp(k, "health_timeout") == 0)
                p->health_timeout_ms = ms;
            else if (strcmp(k, "eject_time") == 0)
                p->eject_ms = ms;
            else if (strcmp(k, "pending_timeout") == 0)
                p->pending_timeout_ms = ms;
            else
                p->eject_max_ms = ms;
        } else if (strcmp(k, "health_rise") == 0 || strcmp(k, "health_fall") == 0 ||
                   strcmp(k, "health_status") == 0 || strcmp(k, "eject_after") == 0 ||
                   strcmp(k, "max_connections") == 0 || strcmp(k, "max_pending") == 0) {
            long long v, lo = strcmp(k, "health_status") == 0 ? 100
                            : strncmp(k, "health_", 7) == 0 ? 1 : 0;
            long long hi = strcmp(k, "health_status") == 0 ? 599
                         : strcmp(k, "max_connections") == 0 ? 1000000
                         : strcmp(k, "max_pending") == 0 ? 100000 : 100;
            if (!cf_is_int(s) || (v = config_setting_get_int64(s)) < lo || v > hi)
                return cf_fail(x, s, "'%s' must be a number from %lld to %lld", k, lo, hi);
            if (strcmp(k, "health_rise") == 0)
                p->health_rise = (unsigned)v;
            else if (strcmp(k, "health_fall") == 0)
                p->health_fall = (unsigned)v;
            else if (strcmp(k, "health_status") == 0)
                p->health_status = (int)v;
            else if (strcmp(k, "eject_after") == 0)
                p->eject_after = (unsigned)v;
            else if (strcmp(k, "max_pending") == 0)
                p->max_pending = (unsigned)v;
            else
                p->max_connections = (unsigned)v;
        } else if (strcmp(k, "backends") == 0) {
            if ((m = cf_get_list(x, s, SL_CONF_MAX_RBACKENDS, "backends")) < 0)
                return -1;
            for (j = 0; j < m; j++) {
                const config_setting_t *e = config_setting_get_elem(s, (unsigned)j);
                const char *v = cf_get_string(x, e);
                if (v == NULL)
                    return -1;
                if ((why = backend_parse(v, &p->backend[j])) != NULL)
                    return cf_fail(x, e, "bad backend %s: %s", cf_describe(x, e), why);
            }
            p->n_backends = (size_t)m;
        } else if (strcmp(k, "tls") == 0 || strcmp(k, "tls_verify") == 0) {
            if (config_setting_type(s) != CONFIG_TYPE_BOOL)
                return cf_fail(x, s, "'%s' must be true or false", k);
            *(k[3] ? &p->tls_verify : &p->tls) = config_setting_get_bool(s);
        } else if (strcmp(k, "tls_ca") == 0 || strcmp(k, "tls_cert") == 0 ||
                   strcmp(k, "tls_key") == 0) {
            char **f = strcmp(k, "tls_ca") == 0 ? &p->tls_ca :
                       strcmp(k, "tls_cert") == 0 ? &p->tls_cert : &p->tls_key;
            if (cf_set_string(x, s, f, NULL) < 0)
                return -1;
        } else if (strcmp(k, "tls_name") == 0) {
            const char *v = cf_get_string(x, s);
            if (v == NULL)
                return -1;
            if (v[0] == '\0' || strlen(v) >= sizeof(p->tls_name) ||
                strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                          "0123456789.-:") != strlen(v))
                return cf_fail(x, s, "'tls_name' must be a host name or an address");
            snprintf(p->tls_name, sizeof(p->tls_name), "%s", v);
        } else {
            return cf_fail(x, s, "unknown setting '%s' in a pools entry (expected one "
                           "of: name, balance, hash, backends, health_path, "
                           "health_interval, health_timeout, health_rise, health_fall, "
                           "health_status, eject_after, eject_time, eject_max, "
                           "max_connections, max_pending, pending_timeout, tls, "
                           "tls_verify, tls_ca, tls_cert, tls_key, tls_name)", k);
        }
    }
    if (name == NULL)
        return cf_fail(x, g, "pools entry without 'name'");
    if (p->n_backends == 0)
        return cf_fail(x, g, "pool '%s' has no backends", p->name);
    if (p->health_timeout_ms > p->health_interval_ms)
        return cf_fail(x, g, "pool '%s': health_timeout is longer than "
                       "health_interval", p->name);
    if (p->max_pending > 0 && p->max_connections == 0)
        return cf_fail(x, g, "pool '%s': max_pending needs max_connections (a "
                       "queue for backends that are never full)", p->name);
    if (p->eject_max_ms < p->eject_ms)
        return cf_fail(x, g, "pool '%s': eject_max is shorter than eject_time",
                       p->name);
    if (hash != NULL && p->algo != SL_PICK_HASH)
        return cf_fail(x, hash, "pool '%s': 'hash' is for balance = \"hash\"", p->name);
    if ((p->tls_ca || p->tls_cert || p->tls_key || p->tls_name[0]) && !p->tls)
        return cf_fail(x, g, "pool '%s': tls_* settings without tls = true", p->name);
    if (!p->tls_cert != !p->tls_key)
        return cf_fail(x, g, "pool '%s': tls_cert and tls_key go together", p->name);
    if (p->tls) {
        char err[512];
        p->tls_ctx = sl_tls_client_ctx(p->tls_ca, p->tls_verify, p->tls_cert,
                                       p->tls_key, err, sizeof(err));
        if (p->tls_ctx == NULL)
            return cf_fail(x, g, "pool '%s': %s", p->name, err);
    }
    for (i = 0; (size_t)i < p->n_backends; i++)
        for (j = 0; j < i; j++)
            if (strcmp(p->backend[i].name, p->backend[j].name) == 0)
                return cf_fail(x, g, "pool '%s' names backend %s twice", p->name,
                               p->backend[i].name);
    return 0;
}

int cf_k_reverse_pools(struct ctx *x, const config_setting_t *s)
{
    struct sl_conf_reverse *r = &x->c->reverse;
    int i, j, n = cf_get_list(x, s, SL_CONF_MAX_RPOOLS, "groups");

    if (n < 0)
        return -1;
    if (r->n_pools > 0)
        return cf_fail(x, s, "a second 'pools' list");
    if (n > 0 && (r->pools = calloc((size_t)n, sizeof(*r->pools))) == NULL)
        return cf_fail(x, s, "out of memory");
    for (i = 0; i < n; i++) {
        const config_setting_t *g = config_setting_get_elem(s, (unsigned)i);
        r->n_pools = (size_t)i + 1;     /* freed with what it holds so far */
        if (one_pool(x, g, &r->pools[i]) < 0)
            return -1;
        for (j = 0; j < i; j++)
            if (strcmp(r->pools[i].name, r->pools[j].name) == 0)
                return cf_fail(x, g, "a second pool named '%s'", r->pools[i].name);
    }
    return 0;
}

/* --- vhosts and routes --------------------------------------------------- */

/* request_headers / response_headers = { add = [..]; remove = [..];
 * replace = [..]; } */
/* conf-entries: request_headers response_headers */
static int edits(struct ctx *x, const config_setting_t *g, struct sl_conf_redit *ed)
{
    const config_setting_t *s;
    const char *why, *v;
    char line[FLT_HDR_NAME_MAX + 8];
    size_t addlen = 0;
    int i, n, j, m;

    if (!config_setting_is_group(g))
        return cf_fail(x, g, "'%s' must be a group ({ add = [ \"Name: value\" ]; "
                       "remove = [ \"Name\" ]; replace = [ \"Name: value\" ]; })",
                       cf_sname(g));
    n = config_setting_length(g);
    for (i = 0; i < n; i++) {
        s = config_setting_get_elem(g, (unsigned)i);
        const char *k = config_setting_name(s);
        int add = strcmp(k, "add") == 0, rm = strcmp(k, "remove") == 0,
            repl = strcmp(k, "replace") == 0, ren = strcmp(k, "rename") == 0;
        if (!add && !rm && !repl && !ren)
            return cf_fail(x, s, "unknown setting '%s' in '%s' (expected one of: add, "
                           "remove, replace, rename)", k, cf_sname(g));
        if ((m = cf_get_list(x, s, add ? SL_CONF_MAX_RADD : ren ? FLT_HDR_RENAME_MAX
                             : FLT_HDR_ACCESS_MAX, "strings")) < 0)
            return -1;
        if (!add && ed->access == NULL &&
            (ed->access = calloc(1, sizeof(*ed->access))) == NULL)
            return cf_fail(x, s, "out of memory");
        for (j = 0; j < m; j++) {
            const config_setting_t *e = config_setting_get_elem(s, (unsigned)j);
            if ((v = cf_get_string(x, e)) == NULL)
                return -1;
            why = NULL;
            if (ren) {
                if (flt_hdr_access_rename(ed->access, v, &why) < 0 && why == NULL)
                    why = "too many fields";
            } else if (rm) {
                if ((why = field_name_why(v)) == NULL) {
                    snprintf(line, sizeof(line), "deny %s", v);
                    if (flt_hdr_access_rule(ed->access, line, &why) < 0 && why == NULL)
                        why = "too many fields";
                }
            } else {
                const char *colon = NULL;
                if ((why = field_line_why(v, &colon)) == NULL) {
                    if (repl) {
                        char name[FLT_HDR_NAME_MAX];
                        snprintf(name, sizeof(name), "%.*s", (int)(colon - v), v);
                        snprintf(line, sizeof(line), "deny %s", name);
                        if (flt_hdr_access_rule(ed->access, line, &why) < 0 ||
                            flt_hdr_access_replace(ed->access, v, &why) < 0)
                            why = why ? why : "too many fields";
                    } else {
                        size_t len = strlen(v);
                        char *nb = realloc(ed->add, addlen + len + 3);
                        if (nb == NULL)
                            return cf_fail(x, e, "out of memory");
                        ed->add = nb;
                        memcpy(nb + addlen, v, len);
                        memcpy(nb + addlen + len, "\r\n", 3);
                        addlen += len + 2;
                    }
                }
            }
            if (why != NULL)
                return cf_fail(x, e, "bad %s %s in '%s': %s", rm ? "field name" :
                               ren ? "rename" : "header line", cf_describe(x, e),
                               cf_sname(g), why);
        }
    }
    return 0;
}

static int stash_pool_ref(struct ctx *x, const config_setting_t *s,
                          struct sl_conf_rroute *route)
{
    struct rev_stash *st = stash(x);
    const char *v = cf_get_string(x, s);

    if (v == NULL || st == NULL)
        return -1;
    if (st->nrefs == st->caprefs) {
        size_t cap = st->caprefs ? 2 * st->caprefs : 64;
        void *nr = realloc(st->refs, cap * sizeof(*st->refs));
        if (nr == NULL)
            return cf_fail(x, s, "out of memory");
        st->refs = nr;
        st->caprefs = cap;
    }
    st->refs[st->nrefs].s = s;
    snprintf(st->refs[st->nrefs].name, sizeof(st->refs[0].name), "%s", v);
    st->refs[st->nrefs++].route = route;
    return 0;
}

/* conf-entries: routes */
static int one_route(struct ctx *x, const config_setting_t *g, int v,
                     struct sl_conf_rroute *route)
{
    const config_setting_t *s, *pattern = NULL, *pool = NULL;
    const char *rewrite = NULL, *k;
    enum acl_route_kind kind = ACL_ROUTE_PREFIX;
    char err[256];
    long long ttl;
    int i, n, icase = 0;

    if (!config_setting_is_group(g))
        return cf_fail(x, g, "each routes entry must be a group ({ prefix = \"/\"; "
                       "pool = \"app\"; })");
    route->cache = 1;
    route->cache_key_query = 1;
    n = config_setting_length(g);
    for (i = 0; i < n; i++) {
        s = config_setting_get_elem(g, (unsigned)i);
        k = config_setting_name(s);
        if (strcmp(k, "prefix") == 0 || strcmp(k, "regex") == 0) {
            if (pattern != NULL)
                return cf_fail(x, s, "a route has one 'prefix' or one 'regex'");
            if (cf_get_string(x, s) == NULL)
                return -1;
            pattern = s;
            kind = k[0] == 'p' ? ACL_ROUTE_PREFIX : ACL_ROUTE_REGEX;
        } else if (strcmp(k, "icase") == 0) {
            if (config_setting_type(s) != CONFIG_TYPE_BOOL)
                return cf_fail(x, s, "'icase' must be true or false");
            icase = config_setting_get_bool(s);
        } else if (strcmp(k, "name") == 0) {
            if (cf_gw_name(x, s, route->name, "route name") < 0)
                return -1;
        } else if (strcmp(k, "auth") == 0) {
            if (cf_gw_route_auth(x, s, &route->auth) < 0)
                return -1;
        } else if (strcmp(k, "query") == 0) {
            if (cf_gw_route_query(x, s, &route->query) < 0)
                return -1;
        } else if (strcmp(k, "cors") == 0) {
            route->own_cors = 1;
            if (cf_gw_cors(x, s, &route->cors) < 0)
                return -1;
        } else if (strcmp(k, "response_json") == 0) {
            if (cf_gw_route_json(x, s, route) < 0)
                return -1;
        } else if (strcmp(k, "rewrite") == 0) {
            if ((rewrite = cf_get_string(x, s)) == NULL)
                return -1;
        } else if (strcmp(k, "pool") == 0) {
            pool = s;
            if (stash_pool_ref(x, s, route) < 0)
                return -1;
        } else if (strcmp(k, "request_headers") == 0) {
            if (edits(x, s, &route->req) < 0)
                return -1;
        } else if (strcmp(k, "response_headers") == 0) {
            if (edits(x, s, &route->resp) < 0)
                return -1;
        } else if (strcmp(k, "cache") == 0) {
            if (config_setting_type(s) != CONFIG_TYPE_BOOL)
                return cf_fail(x, s, "'cache' must be true or false");
            route->cache = config_setting_get_bool(s);
        } else if (strcmp(k, "cache_key_query") == 0) {
            if (config_setting_type(s) != CONFIG_TYPE_BOOL)
                return cf_fail(x, s, "'cache_key_query' must be true or false");
            route->cache_key_query = config_setting_get_bool(s);
        } else if (strcmp(k, "connect_timeout") == 0 ||
                   strcmp(k, "response_timeout") == 0 || strcmp(k, "idle_timeout") == 0) {
            if (cf_get_scaled(x, s, cf_ms_units, 1000, DURATION_MSG, &ttl) < 0)
                return -1;
            if (ttl < 10 || ttl > 24 * 3600 * 1000LL)
                return cf_fail(x, s, "'%s' is out of range (expected 10ms to 24h)", k);
            if (k[0] == 'c')
                route->connect_timeout_ms = ttl;
            else if (k[0] == 'r')
                route->response_timeout_ms = ttl;
            else
                route->idle_timeout_ms = ttl;
        } else if (strcmp(k, "cache_ttl") == 0) {
            if (cf_get_scaled(x, s, cf_ms_units, 1000, DURATION_MSG, &ttl) < 0)
                return -1;
            if (ttl < 1000 || ttl > 365LL * MS_D)
                return cf_fail(x, s, "'cache_ttl' is out of range (expected 1s to 365d)");
            route->cache_ttl = ttl / 1000;
        } else if (strcmp(k, "rate_limits") == 0) {
            if (cf_limit_refs(x, s, route->limits, &route->n_limits) < 0)
                return -1;
        } else if (strcmp(k, "compress") == 0) {
            if (cf_zip_flag(x, s, &route->compress) < 0)
                return -1;
        } else {
            return cf_fail(x, s, "unknown setting '%s' in a routes entry (expected one "
                           "of: prefix, regex, icase, name, auth, query, cors, response_json, rewrite, "
                           "pool, request_headers, "
                           "response_headers, cache, cache_ttl, cache_key_query, "
                           "connect_timeout, response_timeout, idle_timeout, "
                           "rate_limits, compress)", k);
        }
    }
    if (pattern == NULL)
        return cf_fail(x, g, "routes entry without 'prefix' or 'regex'");
    if (pool == NULL)
        return cf_fail(x, g, "routes entry without 'pool'");
    if (acl_routes_add_route(x->c->reverse.routes, v, kind,
                             config_setting_get_string(pattern), icase, rewrite,
                             err, sizeof(err)) < 0)
        return cf_fail(x, pattern, "%s", err);
    return 0;
}

/* The value of Strict-Transport-Security: "max-age=N" and the optional
 * directives, no bytes a field value may not hold. */
static int vhost_hsts(struct ctx *x, const config_setting_t *s, struct sl_conf_rvhost *vh)
{
    const char *v = cf_get_string(x, s);
    size_t i;

    if (v == NULL)
        return -1;
    if (strncasecmp(v, "max-age=", 8) != 0 || strlen(v) > 200)
        return cf_fail(x, s, "'hsts' must be a Strict-Transport-Security value, "
                       "\"max-age=SECONDS\" then optional \"; includeSubDomains\" "
                       "or \"; preload\" (at most 200 bytes)");
    for (i = 0; v[i]; i++)
        if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] == 0x7f)
            return cf_fail(x, s, "'hsts' has a control byte");
    free(vh->hsts);
    if ((vh->hsts = strdup(v)) == NULL)
        return cf_fail(x, s, "out of memory");
    return 0;
}

static int one_vhost(struct ctx *x, const config_setting_t *g, struct sl_conf_rvhost *vh)
{
    const config_setting_t *s, *names = NULL, *routes = NULL;
    const char *list[ACL_ROUTES_MAX_NAMES], *k;
    char err[256];
    int i, n, m = 0, is_default = 0, v;

    if (!config_setting_is_group(g))
        return cf_fail(x, g, "each vhosts entry must be a group ({ names = [ "
                       "\"www.example.com\" ]; routes = ( ... ); })");
    vh->https_port = 443;
    vh->compress = 1;
    n = config_setting_length(g);
    for (i = 0; i < n; i++) {
        s = config_setting_get_elem(g, (unsigned)i);
        k = config_setting_name(s);
        if (strcmp(k, "names") == 0) {
            names = s;
            if ((m = cf_get_list(x, s, ACL_ROUTES_MAX_NAMES, "host names")) < 0)
                return -1;
        } else if (strcmp(k, "default") == 0) {
            if (config_setting_type(s) != CONFIG_TYPE_BOOL)
                return cf_fail(x, s, "'default' must be true or false");
            is_default = config_setting_get_bool(s);
        } else if (strcmp(k, "routes") == 0) {
            routes = s;
        } else if (strcmp(k, "https_redirect") == 0) {
            if (config_setting_type(s) != CONFIG_TYPE_BOOL)
                return cf_fail(x, s, "'https_redirect' must be true or false");
            vh->https_redirect = config_setting_get_bool(s);
        } else if (strcmp(k, "https_port") == 0) {
            if (!cf_is_int(s) || config_setting_get_int64(s) < 1 ||
                config_setting_get_int64(s) > 65535)
                return cf_fail(x, s, "'https_port' must be a port, 1 to 65535");
            vh->https_port = (unsigned)config_setting_get_int64(s);
        } else if (strcmp(k, "hsts") == 0) {
            if (vhost_hsts(x, s, vh) < 0)
                return -1;
        } else if (strcmp(k, "rate_limits") == 0) {
            if (cf_limit_refs(x, s, vh->limits, &vh->n_limits) < 0)
                return -1;
        } else if (strcmp(k, "compress") == 0) {
            if (cf_zip_flag(x, s, &vh->compress) < 0)
                return -1;
        } else if (strcmp(k, "cors") == 0) {
            if (cf_gw_cors(x, s, &vh->cors) < 0)
                return -1;
        } else {
            return cf_fail(x, s, "unknown setting '%s' in a vhosts entry (expected one "
                           "of: names, default, routes, https_redirect, https_port, "
                           "hsts, rate_limits, compress, cors)", k);
        }
    }
    if (m == 0 && !is_default)
        return cf_fail(x, g, "vhosts entry without 'names' (or default = true)");
    for (i = 0; i < m; i++)
        if ((list[i] = cf_get_string(x, config_setting_get_elem(names, (unsigned)i))) == NULL)
            return -1;
    v = acl_routes_add_vhost(x->c->reverse.routes, list, (size_t)m, is_default,
                             err, sizeof(err));
    if (v < 0)
        return cf_fail(x, names ? names : g, "%s", err);
    snprintf(vh->name, sizeof(vh->name), "%s", m ? list[0] : "default");
    if (routes == NULL)
        return cf_fail(x, g, "vhost %s has no 'routes'", vh->name);
    if ((n = cf_get_list(x, routes, ACL_ROUTES_MAX_ROUTES, "groups")) < 0)
        return -1;
    if (n == 0)
        return cf_fail(x, routes, "vhost %s has no routes", vh->name);
    if ((vh->routes = calloc((size_t)n, sizeof(*vh->routes))) == NULL)
        return cf_fail(x, routes, "out of memory");
    for (i = 0; i < n; i++) {
        vh->n_routes = (size_t)i + 1;
        vh->routes[i].compress = -1;    /* unset: the vhost's */
        if (one_route(x, config_setting_get_elem(routes, (unsigned)i), v,
                      &vh->routes[i]) < 0)
            return -1;
        if (vh->routes[i].compress < 0)
            vh->routes[i].compress = vh->compress;
        if (!vh->routes[i].own_cors)
            vh->routes[i].cors = vh->cors;
        if (vh->routes[i].name[0] == '\0')
            snprintf(vh->routes[i].name, sizeof(vh->routes[i].name), "%.*s%s",
                     (int)(sizeof(vh->routes[i].name) / 2), vh->name,
                     acl_routes_pattern(x->c->reverse.routes, v, i, NULL, NULL));
    }
    return 0;
}

int cf_k_reverse_vhosts(struct ctx *x, const config_setting_t *s)
{
    struct sl_conf_reverse *r = &x->c->reverse;
    int i, n = cf_get_list(x, s, ACL_ROUTES_MAX_VHOSTS, "groups");

    if (n < 0)
        return -1;
    if (r->n_vhosts > 0)
        return cf_fail(x, s, "a second 'vhosts' list");
    if (n > 0 && (r->vhosts = calloc((size_t)n, sizeof(*r->vhosts))) == NULL)
        return cf_fail(x, s, "out of memory");
    for (i = 0; i < n; i++) {
        r->n_vhosts = (size_t)i + 1;
        if (one_vhost(x, config_setting_get_elem(s, (unsigned)i), &r->vhosts[i]) < 0)
            return -1;
    }
    return 0;
}

/* --- after the walk ------------------------------------------------------ */

int cf_reverse_finish(struct ctx *x)
{
    struct sl_conf_reverse *r = &x->c->reverse;
    struct rev_stash *st = x->rev_stash;
    char err[256];
    size_t i, j;

    for (i = 0; st != NULL && i < st->nrefs; i++) {
        for (j = 0; j < r->n_pools; j++)
            if (strcmp(r->pools[j].name, st->refs[i].name) == 0)
                break;
        if (j == r->n_pools)
            return cf_fail(x, st->refs[i].s, "route names unknown pool '%s'",
                           st->refs[i].name);
        st->refs[i].route->pool = (int)j;
    }
    if (r->n_pools > 0 && (r->rt = sl_backends_new(r)) == NULL) {
        cf_seterr(x, "%s: reverse.pools: %s", x->path, strerror(errno));
        return -1;
    }
    if (r->n_listen == 0 && r->n_tls_listen == 0 && x->empty_listen != NULL)
        return cf_fail(x, x->empty_listen, "'listen' is empty (expected at least one "
                       "\"ADDR:PORT\", \"[V6]:PORT\" or \"PORT\", unless "
                       "reverse.listen or reverse.tls_listen is set)");
    if (r->n_listen == 0 && r->n_tls_listen == 0)
        return 0;               /* reverse mode off: nothing else matters */
    if (r->n_vhosts == 0) {
        cf_seterr(x, "%s: reverse.%s is set but there are no reverse.vhosts",
                  x->path, r->n_listen ? "listen" : "tls_listen");
        return -1;
    }
    for (i = 0; st != NULL && i < st->nrules; i++)
        if (acl_set_rule_in(x->c->policy.acls, ACL_LIST_REVERSE, st->rules[i].text,
                            err, sizeof(err)) < 0)
            return cf_fail(x, st->rules[i].s, "reverse.http_access: %s", err);
    /* A server in front of web servers serves everybody unless told. */
    if ((st == NULL || !st->have_rules) &&
        acl_set_rule_in(x->c->policy.acls, ACL_LIST_REVERSE, "allow all",
                        err, sizeof(err)) < 0) {
        cf_seterr(x, "%s: default reverse.http_access: %s", x->path, err);
        return -1;
    }
    return 0;
}

void cf_reverse_stash_free(struct ctx *x)
{
    struct rev_stash *st = x->rev_stash;
    size_t i;

    if (st == NULL)
        return;
    for (i = 0; i < st->nrules; i++)
        free(st->rules[i].text);
    free(st->refs);
    free(st);
    x->rev_stash = NULL;
}

/* --- defaults and memory ------------------------------------------------- */

int cf_reverse_defaults(struct sl_conf_reverse *r)
{
    static const char *const hide[] = { "Server", "X-Powered-By",
        "X-AspNet-Version", "X-AspNetMvc-Version" };
    const char *why;
    char line[FLT_HDR_NAME_MAX + 8];
    size_t i;

    r->unknown_host = 421;
    r->preserve_host = 1;
    r->forwarded_for = 1;
    r->forwarded = 1;
    r->x_forwarded_proto = 1;
    r->x_forwarded_host = 1;
    r->request_id = 1;
    r->limit_table = 65536;
    r->routes = acl_routes_new();
    r->hide = calloc(1, sizeof(*r->hide));
    if (r->routes == NULL || r->hide == NULL || cf_tls_defaults(&r->tls) < 0 ||
        cf_zip_defaults(&r->zip) < 0 || cf_gw_defaults(&r->gw) < 0)
        return -1;
    for (i = 0; i < sizeof(hide) / sizeof(hide[0]); i++) {
        snprintf(line, sizeof(line), "deny %s", hide[i]);
        if (flt_hdr_access_rule(r->hide, line, &why) < 0)
            return -1;
    }
    return 0;
}

static void edit_free(struct sl_conf_redit *e)
{
    free(e->access);
    free(e->add);
}

void cf_reverse_free(struct sl_conf_reverse *r)
{
    size_t i, j;

    for (i = 0; i < r->n_vhosts; i++) {
        for (j = 0; j < r->vhosts[i].n_routes; j++) {
            edit_free(&r->vhosts[i].routes[j].req);
            edit_free(&r->vhosts[i].routes[j].resp);
            cf_gw_route_free(&r->vhosts[i].routes[j].auth);
            cf_gw_route_query_free(&r->vhosts[i].routes[j].query);
            cf_gw_route_json_free(&r->vhosts[i].routes[j]);
            if (r->vhosts[i].routes[j].own_cors)
                cf_gw_cors_free(r->vhosts[i].routes[j].cors);
        }
        cf_gw_cors_free(r->vhosts[i].cors);
        free(r->vhosts[i].routes);
        free(r->vhosts[i].hsts);
    }
    for (i = 0; i < r->n_pools; i++) {
        SSL_CTX_free(r->pools[i].tls_ctx);
        free(r->pools[i].tls_ca);
        free(r->pools[i].tls_cert);
        free(r->pools[i].tls_key);
    }
    sl_backends_free(r->rt);
    cf_tls_free(&r->tls);
    cf_zip_free(&r->zip);
    free(r->limits);
    free(r->vhosts);
    free(r->pools);
    free(r->hide);
    acl_routes_free(r->routes);
    cf_gw_free(&r->gw);
    memset(r, 0, sizeof(*r));
}
