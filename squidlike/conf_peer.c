/*
 * conf_peer.c - parent proxies (conf.h: struct sl_conf_peers):
 *
 *   peers = (
 *     { name = "eu"; address = "proxy-eu.corp.example:3128";
 *       login = "squidlike:secret"; weight = 2; },
 *     { name = "gw"; address = "10.1.2.3:8443"; tls = true;
 *       tls_ca = "/etc/ssl/gw-ca.pem"; tls_name = "gw.partner.example"; }
 *   );
 *   peer_access = [ "eu allow video", "eu deny all", "gw allow finance" ];
 *   never_direct = [ "allow finance" ];
 *   always_direct = [ "allow intranet" ];
 *
 * peer_access is Squid's cache_peer_access, one rule per line: the peer's
 * name, then an http_access-style rule over the acls. A peer's rules are
 * its own list (first match wins, no match: the opposite of its last
 * rule); a peer without rules takes any request. never_direct and
 * always_direct are Squid's: lists of "allow|deny ACL..." rules; when
 * always_direct allows, the request goes to its origin and no peer; when
 * never_direct allows, it goes only to peers. The rules are added after
 * the walk (cf_peer_finish), when every ACL is known. Every error names
 * file:line.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "squidlike/conf_int.h"
#include "squidlike/peer.h"
#include "squidlike/tls.h"

#define MAX_PEER_RULES 1024
#define LOGIN_MAX 255
/* "parent/NAME@HOST:PORT" is the origin pool's key (SL_ORIGIN_KEY_MAX) */
#define PEER_HOST_MAX 180

_Static_assert(SL_CONF_MAX_PEERS <= ACL_PEER_LISTS, "a list of rules per peer");

static const char name_chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                 "0123456789.-_";

/* "host:port" or "[v6]:port" into p. NULL, or why not. */
static const char *peer_address(const char *v, struct sl_conf_peer *p)
{
    const char *colon, *h = v;
    size_t hl;
    char *end;
    long port;

    if (v[0] == '[') {
        const char *rb = strchr(v, ']');
        if (rb == NULL || rb[1] != ':')
            return "expected \"HOST:PORT\" or \"[IPV6]:PORT\"";
        h = v + 1;
        hl = (size_t)(rb - h);
        colon = rb + 1;
        if (hl == 0 || strspn(h, "0123456789abcdefABCDEF:.") < hl)
            return "bad IPv6 address in brackets";
    } else {
        colon = strrchr(v, ':');
        if (colon == NULL || colon == v)
            return "expected \"HOST:PORT\" (the port is required)";
        hl = (size_t)(colon - v);
        if (strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                      "0123456789.-") < hl)
            return "the host must be a name or an IPv4 address (an IPv6 one "
                   "goes in brackets)";
    }
    if (hl > PEER_HOST_MAX)
        return "host name too long (at most 180 characters)";
    errno = 0;
    port = strtol(colon + 1, &end, 10);
    if (errno || end == colon + 1 || *end != '\0' || port < 1 || port > 65535)
        return "the port must be a number from 1 to 65535";
    memcpy(p->host, h, hl);
    p->host[hl] = '\0';
    for (end = p->host; *end; end++)    /* names compare lowercase */
        if (*end >= 'A' && *end <= 'Z')
            *end = (char)(*end - 'A' + 'a');
    p->port = (unsigned)port;
    return NULL;
}

/* "user:password" into "Basic BASE64". NULL, or why not. */
static const char *peer_login(const char *v, struct sl_conf_peer *p)
{
    size_t n = strlen(v), i;
    char *out;

    if (n > LOGIN_MAX || strchr(v, ':') == NULL || v[0] == ':')
        return "expected \"user:password\" (at most 255 characters)";
    for (i = 0; i < n; i++)
        if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
            return "a control character in it";
    if ((out = malloc(6 + 4 * ((n + 2) / 3) + 1)) == NULL)
        return "out of memory";
    memcpy(out, "Basic ", 6);
    EVP_EncodeBlock((unsigned char *)out + 6, (const unsigned char *)v, (int)n);
    free(p->auth);
    p->auth = out;
    return NULL;
}

static int one_peer(struct ctx *x, const config_setting_t *g, struct sl_conf_peer *p)
{
    const config_setting_t *s, *addr = NULL;
    const char *v, *why;
    int i, n;

    if (!config_setting_is_group(g))
        return cf_fail(x, g, "each peers entry must be a group ({ name = \"parent\"; "
                       "address = \"proxy.example:3128\"; })");
    p->weight = 1;
    p->tls_verify = 1;
    p->eject_ms = 1000;
    p->eject_max_ms = 60000;
    n = config_setting_length(g);
    for (i = 0; i < n; i++) {
        s = config_setting_get_elem(g, (unsigned)i);
        const char *k = config_setting_name(s);
        if (strcmp(k, "name") == 0) {
            if ((v = cf_get_string(x, s)) == NULL)
                return -1;
            if (strlen(v) >= sizeof(p->name) || strspn(v, name_chars) != strlen(v))
                return cf_fail(x, s, "peer name %s: letters, digits, '.', '-' and '_' "
                               "only, at most %zu", cf_describe(x, s),
                               sizeof(p->name) - 1);
            snprintf(p->name, sizeof(p->name), "%s", v);
        } else if (strcmp(k, "address") == 0) {
            if ((v = cf_get_string(x, s)) == NULL)
                return -1;
            if ((why = peer_address(v, p)) != NULL)
                return cf_fail(x, s, "bad peer address %s: %s", cf_describe(x, s), why);
            addr = s;
        } else if (strcmp(k, "login") == 0) {
            if ((v = cf_get_string(x, s)) == NULL)
                return -1;
            if ((why = peer_login(v, p)) != NULL)
                return cf_fail(x, s, "bad peer login: %s", why);
        } else if (strcmp(k, "weight") == 0) {
            long long w;
            if (!cf_is_int(s) || (w = config_setting_get_int64(s)) < 1 ||
                w > SL_PICK_MAX_WEIGHT)
                return cf_fail(x, s, "'weight' must be a number from 1 to %d",
                               SL_PICK_MAX_WEIGHT);
            p->weight = (unsigned)w;
        } else if (strcmp(k, "eject_time") == 0 || strcmp(k, "eject_max") == 0) {
            long long ms;
            if (cf_get_scaled(x, s, cf_ms_units, 1000, DURATION_MSG, &ms) < 0)
                return -1;
            if (ms < 10 || ms > 3600 * 1000LL)
                return cf_fail(x, s, "'%s' must be from 10ms to 1h", k);
            *(k[6] == 't' ? &p->eject_ms : &p->eject_max_ms) = ms;
        } else if (strcmp(k, "tls") == 0 || strcmp(k, "tls_verify") == 0) {
            if (config_setting_type(s) != CONFIG_TYPE_BOOL)
                return cf_fail(x, s, "'%s' must be true or false", k);
            *(k[3] ? &p->tls_verify : &p->tls) = config_setting_get_bool(s);
        } else if (strcmp(k, "tls_ca") == 0) {
            if (cf_set_string(x, s, &p->tls_ca, NULL) < 0)
                return -1;
        } else if (strcmp(k, "tls_name") == 0) {
            if ((v = cf_get_string(x, s)) == NULL)
                return -1;
            if (strlen(v) >= sizeof(p->tls_name) ||
                strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                          "0123456789.-:") != strlen(v))
                return cf_fail(x, s, "'tls_name' must be a host name or an address");
            snprintf(p->tls_name, sizeof(p->tls_name), "%s", v);
        } else {
            return cf_fail(x, s, "unknown setting '%s' in a peers entry (expected one "
                           "of: name, address, login, weight, eject_time, eject_max, "
                           "tls, tls_verify, tls_ca, tls_name)", k);
        }
    }
    if (p->name[0] == '\0')
        return cf_fail(x, g, "peers entry without 'name'");
    if (addr == NULL)
        return cf_fail(x, g, "peer '%s' has no 'address'", p->name);
    if (p->eject_max_ms < p->eject_ms)
        return cf_fail(x, g, "peer '%s': eject_max is shorter than eject_time", p->name);
    if ((p->tls_ca || p->tls_name[0]) && !p->tls)
        return cf_fail(x, g, "peer '%s': tls_* settings without tls = true", p->name);
    if (p->tls) {
        char err[512];
        /* the same client context as a reverse pool's (tls.h) */
        p->tls_ctx = sl_tls_client_ctx(p->tls_ca, p->tls_verify, NULL, NULL,
                                       err, sizeof(err));
        if (p->tls_ctx == NULL)
            return cf_fail(x, g, "peer '%s': %s", p->name, err);
    }
    /* '/' is never in a host: no pool key of an origin looks like it; the
     * address is in it so that a reload that moves the peer does not hand
     * its requests to pooled connections to the old one */
    n = snprintf(p->key, sizeof(p->key), strchr(p->host, ':') ? "parent/%s@[%s]:%u"
                 : "parent/%s@%s:%u", p->name, p->host, p->port);
    if (n < 0 || (size_t)n >= sizeof(p->key))   /* PEER_HOST_MAX keeps it in */
        return cf_fail(x, g, "peer '%s': address too long", p->name);
    return 0;
}

int cf_k_peers(struct ctx *x, const config_setting_t *s)
{
    struct sl_conf_peers *ps = &x->c->peers;
    int i, n = cf_get_list(x, s, SL_CONF_MAX_PEERS, "groups");
    size_t j;

    if (n < 0)
        return -1;
    for (i = 0; i < n; i++) {
        const config_setting_t *g = config_setting_get_elem(s, (unsigned)i);
        if (one_peer(x, g, &ps->peer[i]) < 0) {
            ps->n = (size_t)i + 1;      /* what it holds is freed */
            return -1;
        }
        ps->n = (size_t)i + 1;
        for (j = 0; j < (size_t)i; j++)
            if (strcmp(ps->peer[j].name, ps->peer[i].name) == 0)
                return cf_fail(x, g, "two peers named '%s'", ps->peer[i].name);
    }
    return 0;
}

int cf_k_peer_access(struct ctx *x, const config_setting_t *s)
{
    if (cf_get_list(x, s, MAX_PEER_RULES, "rules") < 0)
        return -1;
    x->peer_access = s;
    return 0;
}

int cf_k_never_direct(struct ctx *x, const config_setting_t *s)
{
    if (cf_get_list(x, s, MAX_PEER_RULES, "rules") < 0)
        return -1;
    x->never_direct = s;
    return 0;
}

int cf_k_always_direct(struct ctx *x, const config_setting_t *s)
{
    if (cf_get_list(x, s, MAX_PEER_RULES, "rules") < 0)
        return -1;
    x->always_direct = s;
    return 0;
}

/* A rule list's strings into list of the ACL set. */
static int add_rules(struct ctx *x, const config_setting_t *s, enum acl_list list,
                     const char *what)
{
    int i, n = s ? config_setting_length(s) : 0;
    char err[256];

    for (i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        const char *t = cf_get_string(x, e);
        if (t == NULL)
            return -1;
        if (acl_set_rule_in(x->c->policy.acls, list, t, err, sizeof(err)) < 0)
            return cf_fail(x, e, "%s: %s", what, err);
    }
    return 0;
}

/* "NAME allow|deny ACL..." lines into their peers' lists. */
static int add_peer_rules(struct ctx *x)
{
    struct sl_conf_peers *ps = &x->c->peers;
    const config_setting_t *s = x->peer_access;
    int i, n = s ? config_setting_length(s) : 0;
    char err[256], name[64];
    size_t j, len;

    for (i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        const char *t = cf_get_string(x, e), *rest;
        if (t == NULL)
            return -1;
        len = strcspn(t, " \t");
        rest = t + len + strspn(t + len, " \t");
        if (len == 0 || len >= sizeof(name) || *rest == '\0')
            return cf_fail(x, e, "peer_access rule %s: expected \"PEER allow|deny "
                           "ACL...\"", cf_describe(x, e));
        memcpy(name, t, len);
        name[len] = '\0';
        for (j = 0; j < ps->n; j++)
            if (strcmp(ps->peer[j].name, name) == 0)
                break;
        if (j == ps->n)
            return cf_fail(x, e, "peer_access names unknown peer '%s'", name);
        if (acl_set_rule_in(x->c->policy.acls, (enum acl_list)(ACL_LIST_PEER0 + j),
                            rest, err, sizeof(err)) < 0)
            return cf_fail(x, e, "peer_access: %s", err);
        ps->peer[j].has_access = 1;
    }
    return 0;
}

int cf_peer_finish(struct ctx *x)
{
    struct sl_conf_peers *ps = &x->c->peers;

    if (add_peer_rules(x) < 0 ||
        add_rules(x, x->never_direct, ACL_LIST_NEVER_DIRECT, "never_direct") < 0 ||
        add_rules(x, x->always_direct, ACL_LIST_ALWAYS_DIRECT, "always_direct") < 0)
        return -1;
    ps->has_never_direct = x->never_direct && config_setting_length(x->never_direct) > 0;
    ps->has_always_direct = x->always_direct && config_setting_length(x->always_direct) > 0;
    if (ps->n > 0 && (ps->rt = sl_peers_new(ps)) == NULL) {
        cf_seterr(x, "%s: peers: %s", x->path, strerror(errno));
        return -1;
    }
    return 0;
}

void cf_peer_free(struct sl_conf_peers *ps)
{
    size_t i;

    sl_peers_free(ps->rt);
    for (i = 0; i < ps->n; i++) {
        free(ps->peer[i].auth);
        free(ps->peer[i].tls_ca);
        SSL_CTX_free(ps->peer[i].tls_ctx);
    }
}
