/*
 * conf_int.h - what the files of the configuration loader share (conf.c:
 * the generic machinery and most settings; conf_acl.c: access rules,
 * blocklists, authentication, block pages, header lists; conf_pac.c: the
 * pac group; conf_rev.c: the reverse group; conf_tls.c: its TLS). Only these
 * files touch libconfig.
 */
#ifndef SL_CONF_INT_H
#define SL_CONF_INT_H

#include <libconfig.h>
#include <stddef.h>

#include "squidlike/conf.h"

#define KIB 1024LL
#define MIB (1024LL * 1024)
#define GIB (1024LL * 1024 * 1024)
#define MS_S 1000LL
#define MS_M (60 * MS_S)
#define MS_H (60 * MS_M)
#define MS_D (24 * MS_H)
/* Longest duration accepted: a week. Keeps every timeout inside an int of
 * milliseconds for whoever hands it to a timer or epoll_wait. */
#define DURATION_MAX_MS (7 * 24 * MS_H)
#define HOSTNAME_MAX 255

#define SIZE_MSG "a size (a number of bytes > 0, or a string like \"64K\" " \
                 "with an optional K, M or G suffix)"
#define DURATION_MSG "a duration (seconds > 0, or a string like \"30s\", " \
                     "\"2m\", \"1h\" or \"500ms\")"

/* One load in progress. */
struct ctx {
    struct sl_conf *c;
    const char *path;
    char *err;
    size_t errlen;
    char what[128];             /* scratch for describe() */
    char why[128];              /* scratch for list element reasons */
    void *stash;                /* conf_acl.c's, until the policy is built */
    const config_setting_t *empty_listen;   /* listen = [ ] (conf_rev.c) */
    void *rev_stash;            /* conf_rev.c's, until the routes are resolved */
    void *limit_stash;          /* conf_limit.c's, until limit names are resolved */
    void *gw_stash;             /* conf_gw.c's, until consumer names are resolved */
    const config_setting_t *tls_listen;     /* its line, for cf_tls_finish */
    const config_setting_t *ldap_setting;   /* the ldap group, when there is one */
    /* conf_peer.c: rule lists added after the walk (cf_peer_finish) */
    const config_setting_t *peer_access, *never_direct, *always_direct;
};

enum kind { K_GROUP, K_SIZE, K_COUNT, K_DURATION, K_BOOL, K_STR, K_FUNC };

typedef int (*key_cb)(struct ctx *x, const config_setting_t *s);

/* A known setting: where it goes and what it may hold. */
struct key {
    const char *name;
    enum kind kind;
    size_t off;                 /* into struct sl_conf (not K_GROUP/K_FUNC) */
    long long min, max;         /* K_SIZE, K_COUNT, K_DURATION (ms) */
    const char *word;           /* K_STR: this value means NULL */
    key_cb fn;                  /* K_FUNC */
    const struct key *sub;      /* K_GROUP */
};

/* Suffixes, largest first; the last entry (mul 1) ends a table. */
struct unit {
    const char *suffix;
    long long mul;
};

extern const struct unit cf_size_units[];
extern const struct unit cf_ms_units[];

void cf_seterr(struct ctx *x, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int cf_fail(struct ctx *x, const config_setting_t *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const char *cf_sname(const config_setting_t *s);
const char *cf_describe(struct ctx *x, const config_setting_t *s);
int cf_is_int(const config_setting_t *s);
int cf_get_scaled(struct ctx *x, const config_setting_t *s,
                  const struct unit *units, long long int_mul,
                  const char *expect, long long *v);
const char *cf_get_string(struct ctx *x, const config_setting_t *s);
int cf_get_list(struct ctx *x, const config_setting_t *s, size_t max,
                const char *of);
/* Store string v as entry i of a list; returns NULL or why v is bad
 * (x->why is scratch for building the reason). */
typedef const char *(*cf_elem_cb)(struct ctx *x, const char *v, size_t i);
/* Apply cb to each string of list s (at most max); returns the length or
 * -1 with the error naming the element, its line and what it should be. */
int cf_each_string(struct ctx *x, const config_setting_t *s, size_t max,
                   const char *what, cf_elem_cb cb);
int cf_set_string(struct ctx *x, const config_setting_t *s, char **field,
                  const char *off_word);

/* conf_workers.c */
unsigned cf_workers_auto(void);
int cf_k_workers(struct ctx *x, const config_setting_t *s);
int cf_k_worker_sockets(struct ctx *x, const config_setting_t *s);
int cf_k_worker_sched_batch(struct ctx *x, const config_setting_t *s);

/* conf_acl.c: keys, and the policy built after the walk. */
int cf_k_acls(struct ctx *x, const config_setting_t *s);
int cf_k_http_access(struct ctx *x, const config_setting_t *s);
int cf_k_blocklists(struct ctx *x, const config_setting_t *s);
int cf_k_auth(struct ctx *x, const config_setting_t *s);
int cf_k_deny_info(struct ctx *x, const config_setting_t *s);
int cf_k_block_page(struct ctx *x, const config_setting_t *s);
int cf_k_header_access(struct ctx *x, const config_setting_t *s);
int cf_policy_init(struct sl_conf *c);
int cf_policy_finish(struct ctx *x);
void cf_policy_stash_free(struct ctx *x);
void cf_policy_free(struct sl_conf *c);

/* conf_ldap.c: the ldap group (the ldap_group ACLs' directory). */
int cf_k_ldap(struct ctx *x, const config_setting_t *s);
int cf_ldap_defaults(struct sl_conf_ldap *l);
void cf_ldap_free(struct sl_conf_ldap *l);
/* conf_peer.c: peers, peer_access, never_direct, always_direct; the
 * rules go into the ACL set after the policy is built. */
int cf_k_peers(struct ctx *x, const config_setting_t *s);
int cf_k_peer_access(struct ctx *x, const config_setting_t *s);
int cf_k_never_direct(struct ctx *x, const config_setting_t *s);
int cf_k_always_direct(struct ctx *x, const config_setting_t *s);
int cf_peer_finish(struct ctx *x);
void cf_peer_free(struct sl_conf_peers *ps);

/* conf_cache.c: refresh_patterns and the cache group's defaults. */
int cf_k_refresh_patterns(struct ctx *x, const config_setting_t *s);
int cf_cache_defaults(struct sl_conf_cache *cc);

/* conf_pac.c: the list keys of the pac group, its defaults, its strings. */
int cf_k_proxies(struct ctx *x, const config_setting_t *s);
int cf_k_direct_domains(struct ctx *x, const config_setting_t *s);
int cf_k_direct_networks(struct ctx *x, const config_setting_t *s);
int cf_pac_defaults(struct sl_conf_pac *p);
void cf_pac_free(struct sl_conf_pac *p);
/* ... and the manager group's lists. */
int cf_k_manager_allow_sources(struct ctx *x, const config_setting_t *s);
int cf_k_manager_listen(struct ctx *x, const config_setting_t *s);

/* conf_rev.c: the reverse group. */
int cf_k_reverse_listen(struct ctx *x, const config_setting_t *s);
int cf_k_reverse_unknown_host(struct ctx *x, const config_setting_t *s);
int cf_k_reverse_http_access(struct ctx *x, const config_setting_t *s);
int cf_k_reverse_trusted_proxies(struct ctx *x, const config_setting_t *s);
int cf_k_reverse_hide_response_headers(struct ctx *x, const config_setting_t *s);
int cf_k_reverse_pools(struct ctx *x, const config_setting_t *s);
int cf_k_reverse_vhosts(struct ctx *x, const config_setting_t *s);
/* After the walk and the policy: pool names, reverse.http_access. */
int cf_reverse_finish(struct ctx *x);
void cf_reverse_stash_free(struct ctx *x);
int cf_reverse_defaults(struct sl_conf_reverse *r);
void cf_reverse_free(struct sl_conf_reverse *r);

/* conf_gw.c: reverse.gateway, a route's auth; conf_gw_jwt.c: its jwt. */
int cf_k_reverse_gateway(struct ctx *x, const config_setting_t *s);
int cf_gw_name(struct ctx *x, const config_setting_t *s, char *out, const char *what);
int cf_gw_duration0(struct ctx *x, const config_setting_t *s, long long *ms);
int cf_gw_route_auth(struct ctx *x, const config_setting_t *s, struct sl_conf_rauth *a);
void cf_gw_route_free(struct sl_conf_rauth *a);
int cf_gw_finish(struct ctx *x);
void cf_gw_stash_free(struct ctx *x);
int cf_gw_defaults(struct sl_conf_gateway *gw);
void cf_gw_free(struct sl_conf_gateway *gw);
int cf_gw_route_query(struct ctx *x, const config_setting_t *s, struct sl_conf_rquery *q);
void cf_gw_route_query_free(struct sl_conf_rquery *q);
int cf_gw_cors(struct ctx *x, const config_setting_t *s, struct sl_conf_cors **out);
void cf_gw_cors_free(struct sl_conf_cors *c);
int cf_gw_route_json(struct ctx *x, const config_setting_t *s, struct sl_conf_rroute *r);
void cf_gw_route_json_free(struct sl_conf_rroute *r);
int cf_gw_jwt(struct ctx *x, const config_setting_t *s);
int cf_gw_jwt_defaults(struct sl_conf_gateway *gw);
void cf_gw_jwt_free(struct sl_conf_gateway *gw);

/* conf_limit.c: reverse.rate_limits; vhosts and routes name them
 * (cf_limit_refs), resolved after the walk. */
int cf_k_reverse_rate_limits(struct ctx *x, const config_setting_t *s);
int cf_k_reverse_rate_limit_table(struct ctx *x, const config_setting_t *s);
int cf_limit_refs(struct ctx *x, const config_setting_t *s, int *out, size_t *n);
int cf_limit_finish(struct ctx *x);
void cf_limit_stash_free(struct ctx *x);

/* conf_tls.c: reverse.tls_listen and reverse.tls; the contexts are built
 * after the walk (the files are read then). */
/* conf_zip.c: reverse.compression; a vhost's or route's compress flag. */
int cf_k_reverse_compression(struct ctx *x, const config_setting_t *s);
int cf_zip_defaults(struct sl_conf_zip *z);
void cf_zip_free(struct sl_conf_zip *z);
int cf_zip_flag(struct ctx *x, const config_setting_t *s, int *out);

int cf_k_reverse_tls_listen(struct ctx *x, const config_setting_t *s);
int cf_k_reverse_tls(struct ctx *x, const config_setting_t *s);
int cf_tls_finish(struct ctx *x);
int cf_tls_defaults(struct sl_conf_tls *t);
void cf_tls_free(struct sl_conf_tls *t);

#endif
