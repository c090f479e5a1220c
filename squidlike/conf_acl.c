/*
 * conf_acl.c - the access policy part of the configuration: acls,
 * http_access, blocklists, auth, deny_info, block_page, header_access
 * (see struct sl_conf_policy in conf.h).
 *
 * Settings are collected while the file is walked; the policy is built at
 * the end (cf_policy_finish), when every ACL, the access group and the
 * blocklist categories are known: rules may name ACLs defined later in the
 * file, or built in. Errors still name the file and line of the setting.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "squidlike/conf_int.h"
#include "squidlike/workq.h"

#define MAX_RULES 4096
#define MAX_CAT_ACLS 256
#define TEMPLATE_MAX (64 * 1024)

static void (*warn_fn)(const char *msg);

void sl_conf_set_warn(void (*fn)(const char *msg))
{
    warn_fn = fn;
}

/* A list of a million lines may hold thousands of bad ones: report the
 * first WARN_PER_FILE of each file, then how many more were skipped. */
#define WARN_PER_FILE 20

struct warn_cap {
    char file[512];
    unsigned shown, hidden;
};

static void warn_emit(const char *msg)
{
    if (warn_fn)
        warn_fn(msg);
    else
        fprintf(stderr, "squidlike: %s\n", msg);
}

static void warn_flush(struct warn_cap *w)
{
    char msg[640];

    if (w->hidden > 0) {
        snprintf(msg, sizeof(msg), "%s: %u more bad lines skipped (the first %u "
                 "are reported above)", w->file, w->hidden, WARN_PER_FILE);
        warn_emit(msg);
    }
    w->file[0] = '\0';
    w->shown = w->hidden = 0;
}

static void warn_line(void *data, const char *file, unsigned line,
                      const char *why)
{
    struct warn_cap *w = data;
    char msg[640];

    if (w != NULL) {
        if (strncmp(w->file, file, sizeof(w->file) - 1) != 0) {
            warn_flush(w);
            snprintf(w->file, sizeof(w->file), "%s", file);
        }
        if (w->shown >= WARN_PER_FILE) {
            w->hidden++;
            return;
        }
        w->shown++;
    }
    snprintf(msg, sizeof(msg), "%s:%u: %s (line skipped)", file, line, why);
    warn_emit(msg);
}

/* What is collected during the walk, used by cf_policy_finish. */
struct stash_rule {
    char *text;
    const config_setting_t *s;
};

struct stash_cat {
    char *name;
    char **cats;
    size_t n;
    const config_setting_t *s;
};

struct policy_stash {
    struct stash_rule rules[MAX_RULES];
    size_t nrules;
    int have_rules;
    struct stash_cat cats[MAX_CAT_ACLS];
    size_t ncats;
    char *bl_dir;
    const config_setting_t *bl_setting;
    char *auth_file;
    size_t auth_cache;
    long long auth_ttl_ms;
    const config_setting_t *auth_setting;
    const config_setting_t *neg_setting;    /* auth.negotiate; NULL: none */
    char *neg_keytab, *neg_principal;
    int neg_strip;
    const config_setting_t *deny_setting[SL_CONF_MAX_DENY_INFO];
    /* The first proxy_auth ACL, named when there is no 'auth' group. */
    const config_setting_t *user_acl;
    const char *user_acl_name;  /* the config's string */
    /* The first ldap_group ACL: it needs the ldap group and a user. */
    const config_setting_t *group_acl;
    const char *group_acl_name;
};

static struct policy_stash *stash_of(struct ctx *x)
{
    if (x->stash == NULL)
        x->stash = calloc(1, sizeof(struct policy_stash));
    return x->stash;
}

void cf_policy_stash_free(struct ctx *x)
{
    struct policy_stash *ps = x->stash;
    size_t i, j;

    if (ps == NULL)
        return;
    for (i = 0; i < ps->nrules; i++)
        free(ps->rules[i].text);
    for (i = 0; i < ps->ncats; i++) {
        free(ps->cats[i].name);
        for (j = 0; j < ps->cats[i].n; j++)
            free(ps->cats[i].cats[j]);
        free(ps->cats[i].cats);
    }
    free(ps->bl_dir);
    free(ps->auth_file);
    free(ps->neg_keytab);
    free(ps->neg_principal);
    free(ps);
    x->stash = NULL;
}

/* --- reading a file into a string (templates) -------------------------- */

static char *read_text(struct ctx *x, const config_setting_t *s, const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf;
    size_t n;

    if (f == NULL) {
        cf_fail(x, s, "cannot read '%s': %s", path, strerror(errno));
        return NULL;
    }
    buf = malloc(TEMPLATE_MAX + 1);
    if (buf == NULL) {
        fclose(f);
        cf_fail(x, s, "out of memory");
        return NULL;
    }
    n = fread(buf, 1, TEMPLATE_MAX + 1, f);
    fclose(f);
    if (n > TEMPLATE_MAX) {
        free(buf);
        cf_fail(x, s, "'%s' is larger than %d bytes", path, TEMPLATE_MAX);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

/* --- acls ---------------------------------------------------------------- */

/* Strings of a list setting, as a NULL-terminated array (caller frees). */
static char **strings_of(struct ctx *x, const config_setting_t *s, size_t *n)
{
    int i, len = cf_get_list(x, s, 1000000, "strings");
    char **v;

    if (len < 0)
        return NULL;
    v = calloc((size_t)len + 1, sizeof(*v));
    if (v == NULL) {
        cf_fail(x, s, "out of memory");
        return NULL;
    }
    for (i = 0; i < len; i++) {
        const char *e = cf_get_string(x, config_setting_get_elem(s, (unsigned)i));
        if (e == NULL || (v[i] = strdup(e)) == NULL) {
            while (i-- > 0)
                free(v[i]);
            free(v);
            return NULL;
        }
    }
    *n = (size_t)len;
    return v;
}

static void strings_free(char **v, size_t n)
{
    size_t i;

    for (i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

static int one_acl(struct ctx *x, const config_setting_t *g)
{
    struct sl_conf_policy *p = &x->c->policy;
    const char *name = NULL, *type = NULL, *file = NULL;
    const config_setting_t *vals = NULL, *e;
    char err[256];
    char **v = NULL;
    size_t n = 0;
    int icase = 0, i, rc;

    if (!config_setting_is_group(g))
        return cf_fail(x, g, "each acls entry must be a group "
                       "({ name = \"...\"; type = \"...\"; values = [...]; })");
    for (i = 0; i < config_setting_length(g); i++) {
        const char *k;
        e = config_setting_get_elem(g, (unsigned)i);
        k = config_setting_name(e);
        if (strcmp(k, "values") == 0) {
            vals = e;
        } else if (strcmp(k, "icase") == 0) {
            if (config_setting_type(e) != CONFIG_TYPE_BOOL)
                return cf_fail(x, e, "'icase' must be true or false");
            icase = config_setting_get_bool(e);
        } else if (strcmp(k, "name") == 0 || strcmp(k, "type") == 0 ||
                   strcmp(k, "file") == 0) {
            const char *v1 = cf_get_string(x, e);
            if (v1 == NULL)
                return -1;
            *(k[0] == 'n' ? &name : k[0] == 't' ? &type : &file) = v1;
        } else {
            return cf_fail(x, e, "unknown setting '%s' in an acls entry "
                           "(expected one of: name, type, values, file, icase)", k);
        }
    }
    if (name == NULL || type == NULL)
        return cf_fail(x, g, "acls entry without 'name' or 'type'");
    if (vals && (v = strings_of(x, vals, &n)) == NULL)
        return -1;
    if (strcmp(type, "category") == 0) {
        struct policy_stash *ps = stash_of(x);
        if (ps == NULL || ps->ncats == MAX_CAT_ACLS || n == 0) {
            strings_free(v, n);
            return cf_fail(x, g, n == 0 ? "category ACL '%s' without values"
                                        : "too many category ACLs (at %s)", name);
        }
        if ((ps->cats[ps->ncats].name = strdup(name)) == NULL) {
            strings_free(v, n);
            return cf_fail(x, g, "out of memory");
        }
        ps->cats[ps->ncats].cats = v;
        ps->cats[ps->ncats].n = n;
        ps->cats[ps->ncats++].s = g;
        return 0;
    }
    if (strcmp(type, "proxy_auth") == 0) {
        struct policy_stash *ps = stash_of(x);

        if (ps == NULL) {
            strings_free(v, n);
            return cf_fail(x, g, "out of memory");
        }
        if (ps->user_acl == NULL) {
            ps->user_acl = g;
            ps->user_acl_name = name;
        }
    }
    if (strcmp(type, "ldap_group") == 0) {
        struct policy_stash *ps = stash_of(x);

        if (ps == NULL) {
            strings_free(v, n);
            return cf_fail(x, g, "out of memory");
        }
        if (ps->group_acl == NULL) {
            ps->group_acl = g;
            ps->group_acl_name = name;
        }
    }
    rc = 0;
    if (n > 0 || file == NULL)
        rc = acl_set_define(p->acls, name, type, icase, (const char *const *)v, n,
                            err, sizeof(err));
    strings_free(v, n);
    if (rc == 0 && file) {
        struct warn_cap w = { .file = "" };

        rc = acl_set_define_file(p->acls, name, type, icase, file, warn_line,
                                 &w, err, sizeof(err));
        warn_flush(&w);
    }
    if (rc < 0)
        return cf_fail(x, g, "acl '%s': %s", name, err);
    return 0;
}

int cf_k_acls(struct ctx *x, const config_setting_t *s)
{
    int i, n = cf_get_list(x, s, 4096, "groups");

    for (i = 0; i < n; i++)
        if (one_acl(x, config_setting_get_elem(s, (unsigned)i)) < 0)
            return -1;
    return n < 0 ? -1 : 0;
}

int cf_k_http_access(struct ctx *x, const config_setting_t *s)
{
    struct policy_stash *ps = stash_of(x);
    int i, n = cf_get_list(x, s, MAX_RULES, "rules");

    if (n < 0 || ps == NULL)
        return -1;
    ps->have_rules = 1;
    for (i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        const char *t = cf_get_string(x, e);
        if (t == NULL || (ps->rules[ps->nrules].text = strdup(t)) == NULL)
            return -1;
        ps->rules[ps->nrules++].s = e;
    }
    return 0;
}

/* --- blocklists, auth ---------------------------------------------------- */

int cf_k_blocklists(struct ctx *x, const config_setting_t *s)
{
    struct policy_stash *ps = stash_of(x);
    const config_setting_t *d;
    const char *dir;

    if (ps == NULL)
        return -1;
    if (!config_setting_is_group(s))
        return cf_fail(x, s, "'blocklists' must be a group (blocklists: { dir = \"...\"; };)");
    if (config_setting_length(s) != 1 || (d = config_setting_get_member(s, "dir")) == NULL)
        return cf_fail(x, s, "'blocklists' takes exactly one setting: dir");
    if ((dir = cf_get_string(x, d)) == NULL || (ps->bl_dir = strdup(dir)) == NULL)
        return -1;
    ps->bl_setting = d;
    return 0;
}

/* Worker pool defaults for the GSS-API checks (workq.h). */
#define NEG_THREADS 2
#define NEG_QUEUE 256
#define NEG_TIMEOUT_MS 30000

/* auth.negotiate: keytab, principal, strip_realm, threads, queue, timeout. The
 * keytab is opened in cf_policy_finish, once the default principal
 * (HTTP/visible_hostname) is known. */
/* conf-entries: negotiate */
static int negotiate_group(struct ctx *x, struct policy_stash *ps,
                           const config_setting_t *g)
{
    struct sl_conf_policy *p = &x->c->policy;
    int i;

    if (!config_setting_is_group(g))
        return cf_fail(x, g, "'negotiate' must be a group (negotiate: { keytab = "
                       "\"...\"; principal = \"HTTP/proxy.example.com\"; };)");
    ps->neg_setting = g;
    for (i = 0; i < config_setting_length(g); i++) {
        const config_setting_t *e = config_setting_get_elem(g, (unsigned)i);
        const char *name = config_setting_name(e), *v;
        long long n;

        if (strcmp(name, "keytab") == 0 || strcmp(name, "principal") == 0) {
            char **field = name[0] == 'k' ? &ps->neg_keytab : &ps->neg_principal;

            if ((v = cf_get_string(x, e)) == NULL)
                return -1;
            if (v[0] == '\0' || strlen(v) > 1024)
                return cf_fail(x, e, "'%s' must be 1 to 1024 characters", name);
            free(*field);
            if ((*field = strdup(v)) == NULL)
                return -1;
        } else if (strcmp(name, "strip_realm") == 0) {
            if (config_setting_type(e) != CONFIG_TYPE_BOOL)
                return cf_fail(x, e, "'strip_realm' must be true or false");
            ps->neg_strip = config_setting_get_bool(e);
        } else if (strcmp(name, "timeout") == 0) {
            if (cf_get_scaled(x, e, cf_ms_units, 1000, DURATION_MSG, &n) < 0)
                return -1;
            if (n < 100 || n > 600000)
                return cf_fail(x, e, "'timeout' must be from 100ms to 10m");
            p->negotiate_timeout_ms = n;
        } else if (strcmp(name, "threads") == 0 || strcmp(name, "queue") == 0) {
            long long max = name[0] == 't' ? SL_WORKQ_MAX_THREADS : SL_WORKQ_MAX_QUEUE;
            long long min = name[0] == 't' ? 1 : 0;

            n = cf_is_int(e) ? config_setting_get_int64(e) : -1;
            if (n < min || n > max)
                return cf_fail(x, e, "'%s' must be an integer from %lld to %lld",
                               name, min, max);
            if (name[0] == 't')
                p->negotiate_threads = (unsigned)n;
            else
                p->negotiate_queue = (size_t)n;
        } else {
            return cf_fail(x, e, "unknown setting '%s' in group 'auth.negotiate' "
                           "(expected one of: keytab, principal, strip_realm, "
                           "threads, queue, timeout)", name);
        }
    }
    return 0;
}

int cf_k_auth(struct ctx *x, const config_setting_t *s)
{
    struct policy_stash *ps = stash_of(x);
    const config_setting_t *e;
    int i;
    long long v;

    if (ps == NULL)
        return -1;
    if (!config_setting_is_group(s))
        return cf_fail(x, s, "'auth' must be a group");
    ps->auth_cache = 10000;
    ps->auth_ttl_ms = 300000;
    x->c->policy.negotiate_threads = NEG_THREADS;
    x->c->policy.negotiate_queue = NEG_QUEUE;
    x->c->policy.negotiate_timeout_ms = NEG_TIMEOUT_MS;
    for (i = 0; i < config_setting_length(s); i++) {
        const char *name;
        e = config_setting_get_elem(s, (unsigned)i);
        name = config_setting_name(e);
        if (strcmp(name, "file") == 0) {
            const char *f = cf_get_string(x, e);
            if (f == NULL || (ps->auth_file = strdup(f)) == NULL)
                return -1;
            ps->auth_setting = e;
        } else if (strcmp(name, "realm") == 0) {
            const char *r;

            if (cf_set_string(x, e, &x->c->policy.realm, NULL) < 0)
                return -1;
            /* It goes into a quoted-string of the 407's header. */
            for (r = x->c->policy.realm; *r; r++)
                if ((unsigned char)*r < 0x20 || *r == 0x7f || *r == '"' || *r == '\\')
                    break;
            if (*r != '\0' || r - x->c->policy.realm > 200)
                return cf_fail(x, e, "'realm' must be at most 200 printable characters "
                               "without '\"' or '\\'");
        } else if (strcmp(name, "cache_size") == 0) {
            if (!cf_is_int(e) || config_setting_get_int64(e) < 0 ||
                config_setting_get_int64(e) > 10000000)
                return cf_fail(x, e, "'cache_size' must be an integer from 0 to 10000000");
            ps->auth_cache = (size_t)config_setting_get_int64(e);
        } else if (strcmp(name, "ttl") == 0) {
            if (cf_get_scaled(x, e, cf_ms_units, 1000, DURATION_MSG, &v) < 0)
                return -1;
            ps->auth_ttl_ms = v;
        } else if (strcmp(name, "negotiate") == 0) {
            if (negotiate_group(x, ps, e) < 0)
                return -1;
        } else {
            return cf_fail(x, e, "unknown setting '%s' in group 'auth' "
                           "(expected one of: file, realm, cache_size, ttl, "
                           "negotiate)", name);
        }
    }
    if (ps->auth_file == NULL && ps->neg_setting == NULL)
        return cf_fail(x, s, "'auth' needs 'file' (Basic), 'negotiate' (Kerberos), "
                       "or both");
    return 0;
}

/* --- deny_info, block_page, header_access, log format ------------------- */

int cf_k_deny_info(struct ctx *x, const config_setting_t *s)
{
    struct sl_conf_policy *p = &x->c->policy;
    struct policy_stash *ps = stash_of(x);
    int i, j, n = cf_get_list(x, s, SL_CONF_MAX_DENY_INFO, "groups");

    if (n < 0 || ps == NULL)
        return -1;
    for (i = 0; i < n; i++) {
        const config_setting_t *g = config_setting_get_elem(s, (unsigned)i), *e;
        struct sl_conf_deny_info *d;
        if (!config_setting_is_group(g))
            return cf_fail(x, g, "each deny_info entry must be a group "
                           "({ acl = \"...\"; page = \"FILE\"; } or redirect = \"URL\")");
        if (p->n_deny_info >= SL_CONF_MAX_DENY_INFO)
            return cf_fail(x, g, "too many deny_info entries (at most %d)",
                           SL_CONF_MAX_DENY_INFO);
        /* Counted before any of its strings is set: what is set is then
         * freed with the configuration (cf_policy_free), also when a later
         * key of this entry is refused. */
        d = &p->deny_info[p->n_deny_info];
        ps->deny_setting[p->n_deny_info++] = g;
        for (j = 0; j < config_setting_length(g); j++) {
            const char *k, *v;
            char **to;
            e = config_setting_get_elem(g, (unsigned)j);
            k = config_setting_name(e);
            if ((v = cf_get_string(x, e)) == NULL)
                return -1;
            if (strcmp(k, "acl") == 0)
                to = &d->acl;
            else if (strcmp(k, "page") == 0)
                to = &d->page;
            else if (strcmp(k, "redirect") == 0)
                to = &d->redirect;
            else
                return cf_fail(x, e, "unknown setting '%s' in a deny_info entry "
                               "(expected one of: acl, page, redirect)", k);
            free(*to);
            *to = to == &d->page ? read_text(x, e, v) : strdup(v);
            if (*to == NULL)
                return to == &d->page ? -1 : cf_fail(x, e, "out of memory");
        }
        if (d->acl == NULL || (d->page == NULL) == (d->redirect == NULL))
            return cf_fail(x, g, "a deny_info entry needs 'acl' and one of "
                           "'page' or 'redirect'");
    }
    return 0;
}

int cf_k_block_page(struct ctx *x, const config_setting_t *s)
{
    const char *path = cf_get_string(x, s);

    if (path == NULL)
        return -1;
    free(x->c->policy.block_page);
    x->c->policy.block_page = read_text(x, s, path);
    return x->c->policy.block_page ? 0 : -1;
}

static int header_list(struct ctx *x, const config_setting_t *s,
                       struct flt_hdr_access **a, int replace)
{
    int i, n = cf_get_list(x, s, FLT_HDR_ACCESS_MAX, "strings");
    const char *why;

    if (n < 0)
        return -1;
    if (*a == NULL && (*a = calloc(1, sizeof(**a))) == NULL)
        return cf_fail(x, s, "out of memory");
    for (i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        const char *v = cf_get_string(x, e);
        if (v == NULL)
            return -1;
        if ((replace ? flt_hdr_access_replace(*a, v, &why)
                     : flt_hdr_access_rule(*a, v, &why)) < 0)
            return cf_fail(x, e, "bad entry %s in '%s': %s", cf_describe(x, e),
                           cf_sname(s), why);
    }
    return 0;
}

int cf_k_header_access(struct ctx *x, const config_setting_t *s)
{
    struct sl_conf_policy *p = &x->c->policy;
    const config_setting_t *e;
    int i;

    if (!config_setting_is_group(s))
        return cf_fail(x, s, "'header_access' must be a group");
    for (i = 0; i < config_setting_length(s); i++) {
        const char *k;
        e = config_setting_get_elem(s, (unsigned)i);
        k = config_setting_name(e);
        if (strcmp(k, "request") == 0) {
            if (header_list(x, e, &p->req_headers, 0) < 0)
                return -1;
        } else if (strcmp(k, "reply") == 0) {
            if (header_list(x, e, &p->resp_headers, 0) < 0)
                return -1;
        } else if (strcmp(k, "request_replace") == 0) {
            if (header_list(x, e, &p->req_headers, 1) < 0)
                return -1;
        } else if (strcmp(k, "reply_replace") == 0) {
            if (header_list(x, e, &p->resp_headers, 1) < 0)
                return -1;
        } else {
            return cf_fail(x, e, "unknown setting '%s' in group 'header_access' "
                           "(expected one of: request, reply, request_replace, "
                           "reply_replace)", k);
        }
    }
    return 0;
}

/* --- building the policy at the end --------------------------------------- */

/* A category ACL: which blocklist categories it stands for. */
struct cat_acl {
    const struct flt_bl *bl;
    struct flt_bl_set want;
};

static int cat_match(void *data, const struct acl_request *r, const char **note)
{
    const struct cat_acl *ca = data;
    /* Blocklist URL entries are "host/path": skip the scheme. */
    const char *url = r->url, *p;
    size_t len = r->url_len;
    int id;

    if (len > 7 && memcmp(url, "http://", 7) == 0) {
        url += 7;
        len -= 7;
    }
    p = r->is_connect ? NULL : url;
    id = flt_bl_match(ca->bl, &ca->want, r->host, r->host_len, p, p ? len : 0);
    if (id < 0)
        return 0;
    *note = flt_bl_category_name(ca->bl, id);
    return 1;
}

static int builtin(struct ctx *x, const char *name, const char *type,
                   const char *const *v, size_t n)
{
    char err[256];

    if (acl_set_has(x->c->policy.acls, name))
        return 0;               /* the file defines it: theirs wins */
    if (acl_set_define(x->c->policy.acls, name, type, 0, v, n, err, sizeof(err)) < 0) {
        cf_seterr(x, "%s: built-in acl '%s': %s", x->path, name, err);
        return -1;
    }
    return 0;
}

/* Squid's defaults, over the access group's lists. */
static int builtins(struct ctx *x)
{
    static const char *const safe[] = { "80", "21", "443", "70", "210",
        "1025-65535", "280", "488", "591", "777" };
    static const char *const connect[] = { "CONNECT" };
    const struct sl_conf_access *a = &x->c->access;
    char nets[SL_CONF_MAX_NETS][80], ports[SL_CONF_MAX_PORTS][8];
    const char *nv[SL_CONF_MAX_NETS], *pv[SL_CONF_MAX_PORTS];
    size_t i;

    for (i = 0; i < a->n_allow_sources; i++) {
        const struct acl_net *net = &a->allow_sources[i];
        char addr[INET6_ADDRSTRLEN];
        inet_ntop(net->family, net->addr, addr, sizeof(addr));
        snprintf(nets[i], sizeof(nets[i]), "%s/%u", addr, net->prefix);
        nv[i] = nets[i];
    }
    for (i = 0; i < a->n_connect_ports; i++) {
        snprintf(ports[i], sizeof(ports[i]), "%u", a->connect_ports[i]);
        pv[i] = ports[i];
    }
    return builtin(x, "all", "all", NULL, 0) < 0 ||
           builtin(x, "localnet", "src", nv, a->n_allow_sources) < 0 ||
           builtin(x, "SSL_ports", "port", pv, a->n_connect_ports) < 0 ||
           builtin(x, "Safe_ports", "port", safe, sizeof(safe) / sizeof(safe[0])) < 0 ||
           builtin(x, "CONNECT", "method", connect, 1) < 0 ? -1 : 0;
}

static int categories(struct ctx *x, struct policy_stash *ps)
{
    struct sl_conf_policy *p = &x->c->policy;
    const char *names[FLT_BL_MAX_CATEGORIES];
    size_t nnames = 0, i, j, k;
    struct warn_cap w = { .file = "" };
    char err[256];
    int rc = -1;

    if (ps->ncats == 0)
        return 0;
    if (ps->bl_dir == NULL)
        return cf_fail(x, ps->cats[0].s, "category ACL '%s' but no 'blocklists' "
                       "group says where the lists are", ps->cats[0].name);
    /* Load only the categories some ACL uses. One more than the filter
     * holds is an error here: it would have no id to be matched by. */
    for (i = 0; i < ps->ncats; i++)
        for (j = 0; j < ps->cats[i].n; j++) {
            for (k = 0; k < nnames && strcmp(names[k], ps->cats[i].cats[j]); k++)
                ;
            if (k < nnames)
                continue;
            if (nnames == FLT_BL_MAX_CATEGORIES)
                return cf_fail(x, ps->cats[i].s, "category ACL '%s': more than %d "
                               "categories in all the category ACLs (at '%s')",
                               ps->cats[i].name, FLT_BL_MAX_CATEGORIES,
                               ps->cats[i].cats[j]);
            names[nnames++] = ps->cats[i].cats[j];
        }
    p->bl = flt_bl_new();
    if (p->bl != NULL) {
        rc = flt_bl_load_dir(p->bl, ps->bl_dir, names, nnames, warn_line, &w,
                             err, sizeof(err));
        warn_flush(&w);
    }
    if (p->bl == NULL || rc < 0)
        return cf_fail(x, ps->bl_setting, "blocklists: %s", p->bl ? err : "out of memory");
    for (i = 0; i < ps->ncats; i++) {
        struct cat_acl *ca = calloc(1, sizeof(*ca));
        if (ca == NULL)
            return cf_fail(x, ps->cats[i].s, "out of memory");
        ca->bl = p->bl;
        for (j = 0; j < ps->cats[i].n; j++) {
            int id = flt_bl_category_id(p->bl, ps->cats[i].cats[j]);

            /* Every name was loaded (or the load failed): cannot happen,
             * but an id of -1 must never reach the shift. */
            if (id < 0 || id >= FLT_BL_MAX_CATEGORIES) {
                free(ca);
                return cf_fail(x, ps->cats[i].s, "category ACL '%s': category "
                               "'%s' was not loaded", ps->cats[i].name,
                               ps->cats[i].cats[j]);
            }
            ca->want.bits[id / 64] |= 1ull << (id % 64);
        }
        if (acl_set_define_external(p->acls, ps->cats[i].name, cat_match, ca, free,
                                    err, sizeof(err)) < 0) {
            free(ca);
            return cf_fail(x, ps->cats[i].s, "acl '%s': %s", ps->cats[i].name, err);
        }
    }
    return 0;
}

int cf_policy_finish(struct ctx *x)
{
    static const char *const classic[] = { "deny !Safe_ports",
        "deny CONNECT !SSL_ports", "allow localnet", "deny all" };
    struct sl_conf_policy *p = &x->c->policy;
    struct policy_stash *ps = stash_of(x);
    char err[256];
    size_t i;

    if (ps == NULL || builtins(x) < 0 || categories(x, ps) < 0)
        return -1;
    for (i = 0; i < ps->nrules; i++)
        if (acl_set_rule(p->acls, ps->rules[i].text, err, sizeof(err)) < 0)
            return cf_fail(x, ps->rules[i].s, "http_access: %s", err);
    if (!ps->have_rules)
        for (i = 0; i < sizeof(classic) / sizeof(classic[0]); i++)
            if (acl_set_rule(p->acls, classic[i], err, sizeof(err)) < 0) {
                cf_seterr(x, "%s: default http_access: %s", x->path, err);
                return -1;
            }
    /* A group ACL asks a directory about a user: it needs both. */
    if (ps->group_acl != NULL && x->c->ldap.n_uris == 0)
        return cf_fail(x, ps->group_acl, "acl '%s' of type ldap_group needs an "
                       "'ldap' group (the directory to ask)", ps->group_acl_name);
    if (ps->group_acl != NULL && ps->auth_file == NULL && ps->neg_setting == NULL)
        return cf_fail(x, ps->group_acl, "acl '%s' of type ldap_group needs an "
                       "'auth' group (users to look up)", ps->group_acl_name);
    for (i = 0; i < p->n_deny_info; i++)
        if (!acl_set_has(p->acls, p->deny_info[i].acl))
            return cf_fail(x, ps->deny_setting[i], "deny_info names unknown acl '%s'",
                           p->deny_info[i].acl);
    /* Without a user list no credentials can ever be checked: every
     * request reaching the ACL would get a 407 no client can answer.
     * Squid refuses such a configuration too. */
    if (ps->auth_file == NULL && ps->neg_setting == NULL &&
        acl_set_has_type(p->acls, "proxy_auth")) {
        if (ps->user_acl == NULL) {
            cf_seterr(x, "%s: a proxy_auth acl needs an 'auth' group with a "
                      "'file' of users or 'negotiate'", x->path);
            return -1;
        }
        return cf_fail(x, ps->user_acl, "acl '%s' of type proxy_auth needs an "
                       "'auth' group with a 'file' of users or 'negotiate'",
                       ps->user_acl_name);
    }
    if (ps->neg_setting) {
        char principal[1100], nerr[1400];

        /* Squid's negotiate_kerberos_auth defaults to HTTP/<this host's
         * name>; ours is the name the proxy goes by, visible_hostname. */
        snprintf(principal, sizeof(principal), "%s", ps->neg_principal
                 ? ps->neg_principal : "");
        if (ps->neg_principal == NULL)
            snprintf(principal, sizeof(principal), "HTTP/%s", x->c->visible_hostname);
        p->negotiate = acl_negotiate_new(ps->neg_keytab, principal, ps->neg_strip,
                                         nerr, sizeof(nerr));
        if (p->negotiate == NULL)
            return cf_fail(x, ps->neg_setting, "auth.negotiate: %s", nerr);
    }
    if (ps->auth_file) {
        struct warn_cap w = { .file = "" };

        p->auth = acl_auth_load(ps->auth_file, ps->auth_cache,
                                (time_t)(ps->auth_ttl_ms / 1000), warn_line, &w,
                                err, sizeof(err));
        warn_flush(&w);
        if (p->auth == NULL)
            return cf_fail(x, ps->auth_setting, "auth: %s", err);
    }
    if (p->realm == NULL && (p->realm = strdup("squidlike")) == NULL)
        return -1;
    return 0;
}

int cf_policy_init(struct sl_conf *c)
{
    c->policy.acls = acl_set_new();
    return c->policy.acls ? 0 : -1;
}

void cf_policy_free(struct sl_conf *c)
{
    struct sl_conf_policy *p = &c->policy;
    size_t i;

    acl_set_free(p->acls);
    flt_bl_free(p->bl);
    acl_auth_free(p->auth);
    acl_negotiate_free(p->negotiate);
    free(p->realm);
    for (i = 0; i < p->n_deny_info; i++) {
        free(p->deny_info[i].acl);
        free(p->deny_info[i].page);
        free(p->deny_info[i].redirect);
    }
    free(p->block_page);
    free(p->req_headers);
    free(p->resp_headers);
}
