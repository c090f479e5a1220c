/*
 * conf_pac.c - the list settings of the pac group (the proxy auto-config
 * file the daemon serves, client_mgr.c), their defaults and their memory, and
 * the lists of the manager group (who may read the status pages, and
 * their own listeners). The booleans and max_age are plain keys in
 * conf.c's table.
 *
 * The config is the one input the PAC writer trusts, so every string that
 * ends up inside a JavaScript literal is checked here (filters/pac.h):
 * a quote, backslash, space or control character is a load error naming
 * file:line, never something escaped at serving time.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl/acl.h"
#include "squidlike/conf_int.h"

/* Loopback, RFC 1918 and link-local: what the shipped config sends DIRECT. */
static const char *const default_nets[] = {
    "127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
    "169.254.0.0/16"
};

static void free_strings(const char **v, size_t *n)
{
    size_t i;

    for (i = 0; i < *n; i++)
        free((char *)v[i]);
    *n = 0;
}

/* Entry i of a string list, checked (why: NULL or what is wrong) and
 * copied; *n counts the copies so that a failure later frees them. */
static const char *keep(const char *v, const char **slot, size_t *n, size_t i,
                        const char *why)
{
    if (why != NULL)
        return why;
    if ((*slot = strdup(v)) == NULL)
        return "out of memory";
    *n = i + 1;
    return NULL;
}

static const char *e_proxy(struct ctx *x, const char *v, size_t i)
{
    struct sl_conf_pac *p = &x->c->pac;

    return keep(v, &p->proxies[i], &p->n_proxies, i, flt_pac_check_proxy(v));
}

static const char *e_domain(struct ctx *x, const char *v, size_t i)
{
    struct sl_conf_pac *p = &x->c->pac;

    return keep(v, &p->direct_domains[i], &p->n_direct_domains, i,
                flt_pac_check_domain(v));
}

static const char *e_pac_net(struct ctx *x, const char *v, size_t i)
{
    const char *why;

    return flt_pac_net_parse(v, &x->c->pac.direct_networks[i], &why) < 0 ? why : NULL;
}

/* The file's lists replace the defaults (cf_each_string walks them). */
int cf_k_proxies(struct ctx *x, const config_setting_t *s)
{
    free_strings(x->c->pac.proxies, &x->c->pac.n_proxies);
    return cf_each_string(x, s, SL_CONF_MAX_PAC, "proxy (expected \"HOST:PORT\")",
                          e_proxy) < 0 ? -1 : 0;
}

int cf_k_direct_domains(struct ctx *x, const config_setting_t *s)
{
    free_strings(x->c->pac.direct_domains, &x->c->pac.n_direct_domains);
    return cf_each_string(x, s, SL_CONF_MAX_PAC,
                          "domain (expected \".suffix\" or \"host.name\")",
                          e_domain) < 0 ? -1 : 0;
}

int cf_k_direct_networks(struct ctx *x, const config_setting_t *s)
{
    int n = cf_each_string(x, s, SL_CONF_MAX_PAC, "network", e_pac_net);

    if (n < 0)
        return -1;
    x->c->pac.n_direct_networks = (size_t)n;
    return 0;
}

int cf_pac_defaults(struct sl_conf_pac *p)
{
    const char *why;
    size_t i;

    p->n_proxies = 0;
    p->direct_plain_hostnames = 1;
    p->n_direct_domains = 0;
    for (i = 0; i < sizeof(default_nets) / sizeof(default_nets[0]); i++)
        if (flt_pac_net_parse(default_nets[i], &p->direct_networks[i], &why) < 0)
            return -1;
    p->n_direct_networks = i;
    p->direct_fallback = 1;
    p->spread = 0;
    p->max_age = MS_H;
    return 0;
}

void cf_pac_free(struct sl_conf_pac *p)
{
    free_strings(p->proxies, &p->n_proxies);
    free_strings(p->direct_domains, &p->n_direct_domains);
}

/* --- manager ------------------------------------------------------------ */

static const char *e_manager_net(struct ctx *x, const char *v, size_t i)
{
    const char *why;

    if (acl_net_parse(v, &x->c->manager.allow_sources[i], &why) == 0)
        return NULL;
    snprintf(x->why, sizeof(x->why), "%s (expected ADDR or ADDR/PREFIX)", why);
    return x->why;
}

static const char *e_manager_listen(struct ctx *x, const char *v, size_t i)
{
    const char *why;

    return sl_conf_parse_listen(v, &x->c->manager.listen[i], &why) < 0 ? why : NULL;
}

int cf_k_manager_allow_sources(struct ctx *x, const config_setting_t *s)
{
    int n = cf_each_string(x, s, SL_CONF_MAX_NETS, "network", e_manager_net);

    x->c->manager.n_allow_sources = n < 0 ? 0 : (size_t)n;
    return n < 0 ? -1 : 0;
}

int cf_k_manager_listen(struct ctx *x, const config_setting_t *s)
{
    int n = cf_each_string(x, s, SL_CONF_MAX_LISTEN, "address", e_manager_listen);

    x->c->manager.n_listen = n < 0 ? 0 : (size_t)n;
    return n < 0 ? -1 : 0;
}
