/*
 * conf_ldap.c - the ldap group: the directory the ldap_group ACLs ask
 * (struct sl_conf_ldap in conf.h). The lookups run in squidlike/ldap.c;
 * here the settings are read and checked, the bind password is read from
 * its file, and the snapshot's answer cache is made (acl/group.h).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acl/group.h"
#include "squidlike/conf_int.h"

#define PASSWORD_MAX 1024

int cf_ldap_defaults(struct sl_conf_ldap *l)
{
    memset(l, 0, sizeof(*l));
    l->timeout = 5 * MS_S;
    l->ttl = 5 * MS_M;
    l->negative_ttl = MS_M;
    l->error_ttl = 10 * MS_S;
    l->warn_interval = MS_M;
    l->cache_size = 10000;
    l->threads = 4;
    l->user_filter = strdup("(&(objectClass=user)(sAMAccountName=%u))");
    l->group_filter = strdup("(&(objectClass=group)(cn=%g)(member=%u_dn))");
    return l->user_filter && l->group_filter ? 0 : -1;
}

void cf_ldap_free(struct sl_conf_ldap *l)
{
    size_t i;

    for (i = 0; i < l->n_uris; i++)
        free(l->uris[i]);
    free(l->bind_dn);
    if (l->bind_password) {
        explicit_bzero(l->bind_password, strlen(l->bind_password));
        free(l->bind_password);
    }
    free(l->base_dn);
    free(l->user_filter);
    free(l->group_filter);
    free(l->nested_filter);
    free(l->ca_file);
    acl_gcache_free(l->cache);
    memset(l, 0, sizeof(*l));
}

static const char *uri_check(struct ctx *x, const char *v, size_t i)
{
    struct sl_conf_ldap *l = &x->c->ldap;
    const char *p;

    if (strncmp(v, "ldap://", 7) != 0 && strncmp(v, "ldaps://", 8) != 0)
        return "expected ldap://HOST[:PORT] or ldaps://HOST[:PORT]";
    for (p = v; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return "blanks or control characters in the URI";
    if (strlen(v) > 512)
        return "longer than 512 bytes";
    if ((l->uris[i] = strdup(v)) == NULL)
        return "out of memory";
    l->n_uris = i + 1;
    return NULL;
}

static int k_uri(struct ctx *x, const config_setting_t *e)
{
    const char *v, *why;

    if (config_setting_type(e) == CONFIG_TYPE_STRING) {
        if ((v = cf_get_string(x, e)) == NULL)
            return -1;
        if ((why = uri_check(x, v, 0)) != NULL)
            return cf_fail(x, e, "bad 'uri' \"%s\": %s", v, why);
        return 0;
    }
    return cf_each_string(x, e, SL_CONF_MAX_LDAP_URIS, "uri", uri_check) < 0 ? -1 : 0;
}

/* The first line of path, without its line end; NULL with the error set. */
static char *read_password(struct ctx *x, const config_setting_t *e,
                           const char *path)
{
    char buf[PASSWORD_MAX + 2], *copy;
    FILE *f = fopen(path, "r");
    size_t n;

    if (f == NULL) {
        cf_fail(x, e, "cannot read '%s': %s", path, strerror(errno));
        return NULL;
    }
    if (fgets(buf, sizeof(buf), f) == NULL)
        buf[0] = '\0';
    fclose(f);
    n = strcspn(buf, "\r\n");
    if (n > PASSWORD_MAX) {
        cf_fail(x, e, "'%s': the password is longer than %d bytes", path, PASSWORD_MAX);
        return NULL;
    }
    buf[n] = '\0';
    if (n == 0) {
        cf_fail(x, e, "'%s' holds no password (its first line is empty)", path);
        return NULL;
    }
    copy = strdup(buf);
    explicit_bzero(buf, sizeof(buf));
    if (copy == NULL)
        cf_fail(x, e, "out of memory");
    return copy;
}

static int k_filter(struct ctx *x, const config_setting_t *e, char **field,
                    const char *need)
{
    char why[256];

    if (cf_set_string(x, e, field, NULL) < 0)
        return -1;
    if (acl_ldap_filter_check(*field, need, why, sizeof(why)) < 0)
        return cf_fail(x, e, "bad '%s': %s", cf_sname(e), why);
    return 0;
}

static int k_duration(struct ctx *x, const config_setting_t *e, int64_t *out)
{
    long long v;

    if (cf_get_scaled(x, e, cf_ms_units, 1000, DURATION_MSG, &v) < 0)
        return -1;
    if (v < 1 || v > DURATION_MAX_MS)
        return cf_fail(x, e, "'%s' must be between 1ms and 7 days", cf_sname(e));
    *out = v;
    return 0;
}

static int k_count(struct ctx *x, const config_setting_t *e, size_t *out,
                   long long lo, long long hi)
{
    long long v;

    if (!cf_is_int(e) || (v = config_setting_get_int64(e)) < lo || v > hi)
        return cf_fail(x, e, "'%s' must be an integer from %lld to %lld",
                       cf_sname(e), lo, hi);
    *out = (size_t)v;
    return 0;
}

static int one_key(struct ctx *x, const config_setting_t *e)
{
    struct sl_conf_ldap *l = &x->c->ldap;
    const char *name = config_setting_name(e), *v;

    if (strcmp(name, "uri") == 0)
        return k_uri(x, e);
    if (strcmp(name, "bind_dn") == 0)
        return cf_set_string(x, e, &l->bind_dn, NULL);
    if (strcmp(name, "bind_password_file") == 0) {
        if ((v = cf_get_string(x, e)) == NULL)
            return -1;
        free(l->bind_password);
        l->bind_password = read_password(x, e, v);
        return l->bind_password ? 0 : -1;
    }
    if (strcmp(name, "base_dn") == 0)
        return cf_set_string(x, e, &l->base_dn, NULL);
    if (strcmp(name, "user_filter") == 0) {
        if (k_filter(x, e, &l->user_filter, "u") < 0)
            return -1;
        if (acl_ldap_filter_wants_dn(l->user_filter))
            return cf_fail(x, e, "'user_filter' finds the user's DN: it cannot "
                           "use %%u_dn");
        return 0;
    }
    if (strcmp(name, "group_filter") == 0)
        return k_filter(x, e, &l->group_filter, "g");
    if (strcmp(name, "nested_filter") == 0) {
        if (k_filter(x, e, &l->nested_filter, "") < 0)
            return -1;
        if (!acl_ldap_filter_wants_dn(l->nested_filter))
            return cf_fail(x, e, "'nested_filter' must use %%u_dn (the member "
                           "whose groups it finds)");
        return 0;
    }
    if (strcmp(name, "start_tls") == 0) {
        if (config_setting_type(e) != CONFIG_TYPE_BOOL)
            return cf_fail(x, e, "'start_tls' must be true or false");
        l->start_tls = config_setting_get_bool(e);
        return 0;
    }
    if (strcmp(name, "ca_file") == 0) {
        if (cf_set_string(x, e, &l->ca_file, NULL) < 0)
            return -1;
        if (access(l->ca_file, R_OK) != 0)
            return cf_fail(x, e, "cannot read '%s': %s", l->ca_file, strerror(errno));
        return 0;
    }
    if (strcmp(name, "timeout") == 0)
        return k_duration(x, e, &l->timeout);
    if (strcmp(name, "ttl") == 0)
        return k_duration(x, e, &l->ttl);
    if (strcmp(name, "negative_ttl") == 0)
        return k_duration(x, e, &l->negative_ttl);
    if (strcmp(name, "error_ttl") == 0)
        return k_duration(x, e, &l->error_ttl);
    if (strcmp(name, "warn_interval") == 0)
        return k_duration(x, e, &l->warn_interval);
    if (strcmp(name, "cache_size") == 0)
        return k_count(x, e, &l->cache_size, 128, 10000000);
    if (strcmp(name, "threads") == 0)
        return k_count(x, e, &l->threads, 1, 64);
    return cf_fail(x, e, "unknown setting '%s' in group 'ldap' (expected one of: "
                   "uri, bind_dn, bind_password_file, base_dn, user_filter, "
                   "group_filter, nested_filter, start_tls, ca_file, timeout, ttl, "
                   "negative_ttl, "
                   "error_ttl, warn_interval, cache_size, threads)", name);
}

int cf_k_ldap(struct ctx *x, const config_setting_t *s)
{
    struct sl_conf_ldap *l = &x->c->ldap;
    size_t i;
    int k;

    if (!config_setting_is_group(s))
        return cf_fail(x, s, "'ldap' must be a group (ldap: { uri = \"ldap://...\"; "
                       "base_dn = \"...\"; };)");
    for (k = 0; k < config_setting_length(s); k++)
        if (one_key(x, config_setting_get_elem(s, (unsigned)k)) < 0)
            return -1;
    if (l->n_uris == 0)
        return cf_fail(x, s, "'ldap' without 'uri'");
    if (l->base_dn == NULL)
        return cf_fail(x, s, "'ldap' without 'base_dn'");
    if ((l->bind_dn == NULL) != (l->bind_password == NULL))
        return cf_fail(x, s, "'ldap': 'bind_dn' and 'bind_password_file' go "
                       "together (neither: an anonymous bind)");
    for (i = 0; l->start_tls && i < l->n_uris; i++)
        if (strncmp(l->uris[i], "ldaps://", 8) == 0)
            return cf_fail(x, s, "'ldap': start_tls with an ldaps:// URI (%s): "
                           "that connection is TLS already", l->uris[i]);
    l->wants_dn = acl_ldap_filter_wants_dn(l->group_filter);
    if (l->nested_filter && !l->wants_dn)
        return cf_fail(x, s, "'ldap': nested_filter needs a group_filter with "
                       "%%u_dn (groups are members by their DN)");
    /* The answers are remembered in whole seconds (the ACLs' clock). */
    l->cache = acl_gcache_new(l->cache_size, (time_t)((l->ttl + 999) / 1000),
                              (time_t)((l->negative_ttl + 999) / 1000),
                              (time_t)((l->error_ttl + 999) / 1000));
    if (l->cache == NULL)
        return cf_fail(x, s, "out of memory");
    x->ldap_setting = s;
    return 0;
}
