/*
 * conf.h - the configuration snapshot.
 *
 * Only conf.c touches libconfig. Loading builds one immutable, reference-
 * counted struct sl_conf; reload builds a new one and swaps it in, and every
 * connection keeps a reference to the snapshot its current request started
 * with, so nothing in use is ever freed under it (tinyproxy's reload bug).
 *
 * Each module reads its own sub-struct. Durations are milliseconds (at
 * most 7 days in the file), sizes bytes. libconfig 1.5 truncates integer
 * literals past 32 bits unless they end in L: big sizes are best written as
 * strings ("3G"). "none" (pid_file, access_log) and "stderr" (error_log)
 * are special words of one setting each. Relative paths stay relative: they resolve against the working
 * directory, as the sample config promises.
 */
#ifndef SL_CONF_H
#define SL_CONF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "acl/acl.h"
#include "acl/auth.h"
#include "acl/negotiate.h"
#include "acl/quota.h"
#include "acl/ratelimit.h"
#include "acl/route.h"
#include "acl/rules.h"
#include "cache/refresh.h"
#include "filters/blocklist.h"
#include "filters/hdr.h"
#include "filters/pac.h"
#include "squidlike/backend_pick.h"

#define SL_CONF_MAX_LISTEN 16
#define SL_CONF_MAX_NETS 256
#define SL_CONF_MAX_PORTS 64
#define SL_CONF_MAX_NS 8
#define SL_CONF_ERR_MAX 512

enum sl_log_level {
    SL_LOG_ERROR = 0,
    SL_LOG_WARN,
    SL_LOG_INFO,
    SL_LOG_DEBUG
};

/* access_log_format: how each access.log line is written (logfmt.c). */
enum sl_log_format {
    SL_LOG_FMT_SQUID = 0,       /* Squid's native format (the default) */
    SL_LOG_FMT_COMMON,          /* Squid's "common" (Apache CLF + %Ss:%Sh) */
    SL_LOG_FMT_COMBINED,        /* Squid's "combined" (+ Referer, User-Agent) */
    SL_LOG_FMT_JSON             /* one JSON object per line */
};

struct sl_conf_listen {
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char text[64];              /* as written, for messages */
};

struct sl_conf_http {
    int via;
    int allow_trace;            /* forward / answer TRACE (else 403) */
    enum flt_xff forwarded_for;
    size_t max_request_line;
    size_t max_request_head;
    size_t max_response_head;
    size_t max_headers;
};

struct sl_conf_timeouts {       /* milliseconds */
    int64_t client_idle;
    int64_t request_head;
    int64_t connect;
    int64_t origin_first_byte;
    int64_t origin_idle;
    int64_t pool_idle;
    int64_t tunnel_idle;
    int64_t shutdown;
};

struct sl_conf_pool {
    size_t max_idle;
    size_t max_idle_per_host;
};

struct sl_conf_dns {
    char nameservers[SL_CONF_MAX_NS][64];   /* "addr" or "addr:port" */
    size_t n_nameservers;
    int64_t timeout;            /* ms */
    size_t cache_size;
    int64_t max_ttl;            /* ms */
    int64_t negative_ttl;       /* ms */
    int ipv6;
};

struct sl_conf_access {
    struct acl_net allow_sources[SL_CONF_MAX_NETS];
    size_t n_allow_sources;
    uint16_t connect_ports[SL_CONF_MAX_PORTS];
    size_t n_connect_ports;
    enum acl_to_localhost to_localhost;
};

#define SL_CONF_MAX_PURGE 16

struct sl_conf_cache {
    int enabled;
    char *dir;                  /* LMDB environment directory */
    size_t size;                /* cap on stored bytes */
    size_t max_object;          /* bigger responses are served, not stored */
    /* Squid's quick_abort: whether a fetch being stored goes on when its
     * client leaves (cache_quick_abort_finish) */
    size_t quick_abort_min, quick_abort_max, quick_abort_pct;
    struct acl_net purge_from[SL_CONF_MAX_PURGE];   /* who may PURGE */
    size_t n_purge_from;
    struct cache_refresh *refresh;  /* refresh_patterns, compiled */
    struct cache_heuristic fallback;    /* when no pattern matches */
};

#define SL_CONF_MAX_DENY_INFO 256

/* A custom answer for requests denied by a rule ending in this ACL. */
struct sl_conf_deny_info {
    char *acl;
    char *page;                 /* template text, or NULL */
    char *redirect;             /* 302 to this URL (template), or NULL */
};

/*
 * Access policy: named ACLs and http_access (acl/rules.h), blocklist
 * categories, proxy authentication, block pages, header lists. Without an
 * http_access list the rules are Squid's classic ones over built-in ACLs:
 * "deny !Safe_ports", "deny CONNECT !SSL_ports", "allow localnet",
 * "deny all", where localnet is access.allow_sources and SSL_ports is
 * access.connect_ports.
 */
struct sl_conf_policy {
    struct acl_set *acls;
    struct flt_bl *bl;          /* NULL: no blocklists */
    struct acl_auth *auth;      /* NULL: no Basic proxy authentication */
    char *realm;
    /* Negotiate (Kerberos), NULL: none. Its checks run on the server's
     * worker pool (workq.h) of negotiate_threads threads and a queue of
     * negotiate_queue jobs. */
    struct acl_negotiate *negotiate;
    unsigned negotiate_threads;
    size_t negotiate_queue;
    long long negotiate_timeout_ms; /* a check longer than this: 503 */
    struct sl_conf_deny_info deny_info[SL_CONF_MAX_DENY_INFO];
    size_t n_deny_info;
    char *block_page;           /* default block page template, NULL: built-in */
    struct flt_hdr_access *req_headers;     /* NULL: everything passes */
    struct flt_hdr_access *resp_headers;
};

/*
 * The directory the ldap_group ACLs ask (conf_ldap.c reads it, ldap.c
 * asks it, off the event loop). Filters are templates of acl/group.h.
 * The answer cache is built with the snapshot and freed with it (a reload
 * starts empty); only the loop's thread touches it.
 */
#define SL_CONF_MAX_LDAP_URIS 8
struct acl_gcache;
struct sl_conf_ldap {
    char *uris[SL_CONF_MAX_LDAP_URIS];  /* tried in order (failover) */
    size_t n_uris;                      /* 0: no ldap group */
    char *bind_dn, *bind_password;      /* NULL: an anonymous bind */
    char *base_dn;
    char *user_filter, *group_filter;
    char *nested_filter;                /* the groups %u_dn is a direct member
                                           of; NULL: no nesting */
    int wants_dn;                       /* group_filter uses %u_dn */
    int start_tls;
    char *ca_file;                      /* NULL: the system's */
    int64_t timeout;                    /* ms: connect, and each operation */
    int64_t ttl, negative_ttl, error_ttl;   /* ms: member, not, failed */
    int64_t warn_interval;              /* ms between two "directory down" lines */
    size_t cache_size, threads;
    struct acl_gcache *cache;
};

#define SL_CONF_MAX_PAC 64

/*
 * The PAC file served at /proxy.pac and /wpad.dat (filters/pac.h says what
 * it decides). n_proxies 0 (the default): the one proxy is where the client
 * fetched the file from (its Host header, else the address it connected
 * to). Strings are checked for JavaScript at load (flt_pac_check_*).
 */
struct sl_conf_pac {
    const char *proxies[SL_CONF_MAX_PAC];       /* owned */
    size_t n_proxies;
    int direct_plain_hostnames;
    const char *direct_domains[SL_CONF_MAX_PAC];    /* owned */
    size_t n_direct_domains;
    struct flt_pac_net direct_networks[SL_CONF_MAX_PAC];
    size_t n_direct_networks;
    int direct_fallback;
    int spread;
    int64_t max_age;            /* ms; Cache-Control: max-age in seconds */
};

/*
 * The pages the proxy serves about itself (client_mgr.c): who may read the status
 * pages and /metrics besides the proxy host itself (always admitted), and
 * listeners that serve only those pages and the PAC file.
 */
struct sl_conf_manager {
    struct acl_net allow_sources[SL_CONF_MAX_NETS];
    size_t n_allow_sources;
    struct sl_conf_listen listen[SL_CONF_MAX_LISTEN];
    size_t n_listen;
};

/*
 * The reverse group: listeners that put the proxy in front of a company's
 * own servers, their virtual hosts and routes (acl/route.h), the backend
 * pools, and what the backends and the clients learn of each other.
 * Loaded by conf_rev.c; read by the client side's route step and the
 * backend pools.
 */
struct sl_backends;
struct sl_tls;
#define SL_CONF_LIMITS_PER 4    /* rate limits per vhost, per route */
#define SL_CONF_MAX_LIMITS 64

#define SL_CONF_MAX_RPOOLS 64
#define SL_CONF_MAX_RBACKENDS 64        /* per pool */
#define SL_CONF_MAX_RADD 32             /* header lines a route adds */

/* What a hashing pool hashes (balance = "hash"). */
enum sl_rev_hash {
    SL_REV_HASH_CLIENT = 0,     /* the client's address */
    SL_REV_HASH_URI,            /* the path and query */
    SL_REV_HASH_HEADER          /* a request header's value */
};

/*
 * reverse.gateway (conf_gw.c; the request step is client_gw.c): the API
 * consumers, how they prove who they are (API keys, JWT), their own rate
 * limits and quotas, and the analytics kept per route and consumer.
 */
#define SL_GW_NAME_MAX 64
#define SL_GW_MAX_GROUPS 8          /* per consumer */
#define SL_GW_MAX_KEYS 8            /* API keys per consumer */
#define SL_GW_MAX_CONSUMERS 65536
#define SL_GW_MAX_QUOTAS 64
#define SL_GW_QUOTAS_PER 4          /* quotas per consumer */

/* One of gateway.quotas: requests per window (acl/quota.h), a UTC
 * calendar day or month, or a fixed window aligned to the epoch. */
struct sl_conf_quota {
    char name[SL_GW_NAME_MAX];
    struct acl_quota_policy policy;     /* id: a hash of the name */
};

struct sl_conf_consumer {
    char name[SL_GW_NAME_MAX];
    char groups[SL_GW_MAX_GROUPS][SL_GW_NAME_MAX];
    size_t n_groups;
    unsigned char keys[SL_GW_MAX_KEYS][32];     /* SHA-256 of each API key */
    size_t n_keys;
    char *jwt_subject;          /* the consumer claim's value; NULL: the name */
    int limits[SL_CONF_LIMITS_PER];     /* indices in reverse.limits */
    size_t n_limits;
    int quotas[SL_GW_QUOTAS_PER];       /* indices in gateway.quotas */
    size_t n_quotas;
};

struct acl_jwt_keys;
struct acl_jwt_cache;
struct sl_gw_index;

struct sl_conf_gateway {
    int on;                     /* the group is there */
    struct sl_conf_consumer *consumers;
    size_t n_consumers;
    char *consumers_file;       /* NULL: none */
    struct sl_gw_index *index;  /* consumers by key digest, by JWT subject
                                   (client_gw.c), built with the snapshot */
    struct sl_conf_quota quotas[SL_GW_MAX_QUOTAS];
    size_t n_quotas;
    char *quota_file;           /* the counts' file; NULL: no quota in use */
    size_t quota_table;         /* counters kept, all quotas together */
    char api_key_header[SL_GW_NAME_MAX];    /* "": keys not read from a field */
    char api_key_query[SL_GW_NAME_MAX];     /* "": not from the query */
    char consumer_header[SL_GW_NAME_MAX];
    unsigned analytics_top;     /* consumers with their own /metrics label */
    /* JWT (acl/jwt.h) */
    struct acl_jwt_keys *jwt_keys;  /* NULL: no JWT keys */
    char *jwks_file;
    unsigned jwt_algs;          /* ACL_JWT_* accepted */
    char *jwt_issuer, *jwt_audience;    /* NULL: not checked */
    int64_t jwt_skew_s;
    char **jwt_require;         /* claims that must be there */
    size_t n_jwt_require;
    char jwt_consumer_claim[SL_GW_NAME_MAX];
    size_t jwt_cache_size;      /* verified tokens kept per worker */
    struct acl_jwt_cache *jwt_cache;    /* made before the fork: each
                                           worker writes its own copy */
};

/* CORS of a vhost or route (reverse.vhosts[.routes].cors). The lists are
 * kept joined ("GET, POST"), as the answers send them and as
 * sl_http_list_has reads them. */
#define SL_GW_CORS_LIST 1024
struct sl_conf_cors {
    char (*origins)[256];       /* exact "https://app.example.com" */
    size_t n_origins;
    int any;                    /* origins = [ "*" ] */
    char methods[SL_GW_CORS_LIST];
    char headers[SL_GW_CORS_LIST];      /* request fields allowed */
    char expose[SL_GW_CORS_LIST];       /* "": none */
    int credentials;
    int64_t max_age_s;          /* -1: not sent */
};

/* A route's query edits (reverse.vhosts.routes.query): the names removed
 * (NULL-terminated; the gateway's api_key_query among them on a route
 * that reads keys), the parameters added ("a=1&b=2"), or NULL. */
#define SL_GW_QUERY_EDITS 16
struct sl_conf_rquery {
    const char *remove[SL_GW_QUERY_EDITS + 2];
    size_t n_remove;
    char *names;                /* the removed names' storage */
    char *add;
};

/* A route's authentication (reverse.vhosts.routes.auth). */
#define SL_GW_AUTH_KEY 0x1u
#define SL_GW_AUTH_JWT 0x2u
struct sl_conf_rauth {
    unsigned methods;           /* SL_GW_AUTH_*; 0: an open route */
    int anonymous;              /* no credentials at all: let through */
    char (*consumers)[SL_GW_NAME_MAX];  /* who may call it; with groups: */
    size_t n_consumers;
    char (*groups)[SL_GW_NAME_MAX];     /* either list is enough; both */
    size_t n_groups;                    /* empty: any consumer */
};

struct sl_conf_rbackend {
    char name[80];              /* as written ("10.0.0.1:8080"): its id on
                                   the hash ring, in logs and metrics */
    struct sockaddr_storage addr;   /* given by address */
    socklen_t addrlen;
    int by_name;                /* given by name: resolved for each request
                                   through the DNS cache (so again after
                                   the answer's TTL), every address tried */
    char host[64];              /* by_name: the name */
    unsigned port;
    unsigned weight;            /* 1..SL_PICK_MAX_WEIGHT */
};

struct sl_conf_rpool {
    char name[64];
    enum sl_pick_algo algo;
    enum sl_rev_hash hash_by;
    char hash_header[64];       /* SL_REV_HASH_HEADER */
    /* Active health checks: GET health_path of each backend every
     * interval; health_fall failures in a row take it out, health_rise
     * successes bring it back. health_path "": no checks (always up). */
    char health_path[256];
    int64_t health_interval_ms, health_timeout_ms;
    unsigned health_rise, health_fall;
    int health_status;          /* the status expected; 0: any 2xx or 3xx */
    /* Passive: eject_after failures in a row (connect failure, reset,
     * 5xx) eject a backend for eject_ms, doubled at each ejection in a
     * row up to eject_max_ms; 0: never. */
    unsigned eject_after;
    int64_t eject_ms, eject_max_ms;
    /* Requests in flight per backend; at the limit it is not chosen, and
     * a pool whose backends are all at theirs answers 503 at once (no
     * queue: a circuit breaker, not a waiting room). 0: no limit. */
    unsigned max_connections;
    /* ... unless there is room in the pool's queue: up to max_pending
     * requests wait (first come, first served) for a backend's slot, each
     * at most pending_timeout, then 503. 0: no queue. */
    unsigned max_pending;
    int64_t pending_timeout_ms;
    /* TLS to the backends: verified against tls_ca (NULL: the system's
     * store) for tls_name (empty: each backend's host), with a client
     * certificate when tls_cert is set. */
    int tls, tls_verify;
    char *tls_ca, *tls_cert, *tls_key;
    char tls_name[256];
    struct ssl_ctx_st *tls_ctx; /* built with the snapshot, freed with it */
    struct sl_conf_rbackend backend[SL_CONF_MAX_RBACKENDS];
    size_t n_backends;
};

/* Header edits of one direction of a route. */
struct sl_conf_redit {
    struct flt_hdr_access *access;  /* remove (deny) and replace, or NULL */
    char *add;                  /* "Name: value\r\n" lines added, or NULL */
};

struct sl_conf_rroute {
    char name[SL_GW_NAME_MAX];  /* analytics, logs; default vhost + pattern */
    int pool;                   /* index in reverse.pools */
    struct sl_conf_rauth auth;
    struct sl_conf_rquery query;
    struct sl_conf_cors *cors;  /* its own, else its vhost's; NULL: none */
    const char *drop[5];        /* request fields no backend gets from a
                                   client here (conf_gw.c: the gateway's
                                   own; Range where bodies are edited) */
    int own_cors;               /* cors is the route's (freed with it) */
    struct sl_conf_redit req, resp;
    int cache;                  /* its responses may be stored and served */
    int64_t cache_ttl;          /* seconds a response without an explicit
                                   lifetime is fresh; 0: refresh_patterns */
    int cache_key_query;        /* the query is part of the cache key */
    /* 0: timeouts.connect / origin_first_byte / origin_idle */
    int64_t connect_timeout_ms, response_timeout_ms, idle_timeout_ms;
    int limits[SL_CONF_LIMITS_PER];     /* indices in reverse.limits */
    size_t n_limits;
    int compress;               /* reverse.compression applies (its own
                                   compress, else its vhost's) */
    /* response_json (client_json.c): members of JSON bodies of at most
     * json_max bytes removed or renamed; NULL: none. */
    struct flt_jsonedit *json;
    size_t json_max;
};

struct sl_conf_rvhost {
    char name[256];             /* its first name ("default" when none) */
    struct sl_conf_rroute *routes;
    size_t n_routes;
    int https_redirect;         /* plain HTTP gets 308 to https:// */
    unsigned https_port;        /* ... on this port (443: not written) */
    char *hsts;                 /* Strict-Transport-Security over TLS, or NULL */
    int compress;               /* its routes' default (true) */
    int limits[SL_CONF_LIMITS_PER];     /* on all its routes */
    size_t n_limits;
    struct sl_conf_cors *cors;  /* its routes' default, or NULL */
};

/* One of reverse.rate_limits: a token bucket per key (acl/ratelimit.h). */
#define SL_RL_KEY_CLIENT 0x1u   /* the client's address, masked */
#define SL_RL_KEY_ROUTE 0x2u
#define SL_RL_KEY_HOST 0x4u
#define SL_RL_KEY_HEADER 0x8u   /* a field's value; absent: no limit */
#define SL_RL_KEY_CONSUMER 0x10u    /* the gateway's consumer; none: no limit */
struct sl_conf_rlimit {
    char name[64];
    unsigned key;               /* SL_RL_KEY_* */
    char header[64];
    unsigned v4_prefix, v6_prefix;
    struct acl_rl_policy policy;
};

/* reverse.compression (conf_zip.c, client_zip.c). */
#define SL_CONF_MAX_ZIP_TYPES 64
struct sl_conf_zip {
    int on;                     /* the group is there: compress where routes say */
    unsigned codings[2];        /* FLT_ENC_BR / FLT_ENC_GZIP, preferred first */
    size_t n_codings;
    char *types[SL_CONF_MAX_ZIP_TYPES];     /* "text/html", or a whole type: "text/" "*" */
    size_t n_types;
    int64_t min_length;         /* a smaller Content-Length passes as it is */
    int gzip_level, brotli_level;
    size_t max_streams;         /* compressing at once; past it: identity */
};

#define SL_CONF_MAX_CERTS 64
#define SL_CONF_MAX_TICKET_KEYS 4

/* One certificate of reverse.tls.certificates. */
struct sl_conf_cert {
    char *cert;                 /* PEM: the certificate, then its chain */
    char *key;                  /* PEM private key */
    char *ocsp;                 /* DER OCSP response to staple, or NULL */
    char where[160];            /* "FILE:LINE" of the entry, for errors */
};

struct sl_conf_tls {
    struct sl_conf_cert certs[SL_CONF_MAX_CERTS];   /* [0]: the default */
    size_t n_certs;
    int min_version;            /* TLS1_2_VERSION or TLS1_3_VERSION */
    char *ciphers;              /* TLS 1.2 cipher list (OpenSSL syntax) */
    char *ciphersuites;         /* TLS 1.3 */
    int session_tickets;
    char *ticket_key_files[SL_CONF_MAX_TICKET_KEYS];  /* [0] encrypts */
    size_t n_ticket_key_files;
    char ticket_where[160];
    int64_t ticket_key_lifetime;    /* ms: rotation of generated keys */
    size_t session_cache;       /* TLS 1.2 session IDs kept; 0: none */
    int64_t session_timeout;    /* ms: how long a session may be resumed */
    int64_t handshake_timeout;  /* ms */
    struct sl_tls *rt;          /* the contexts (tls.h), built with the
                                   snapshot and freed with it */
};

struct sl_conf_reverse {
    struct sl_conf_listen listen[SL_CONF_MAX_LISTEN];
    size_t n_listen;
    struct sl_conf_listen tls_listen[SL_CONF_MAX_LISTEN];  /* HTTPS */
    size_t n_tls_listen;
    struct sl_conf_tls tls;
    struct sl_conf_zip zip;
    struct sl_conf_rlimit *limits;
    size_t n_limits;
    size_t limit_table;         /* buckets kept (all limits together) */
    int rate_limit_headers;     /* RateLimit / RateLimit-Policy fields */
    int unknown_host;           /* status for a Host no vhost takes: 421/404 */
    int preserve_host;          /* the backend gets the client's Host */
    struct acl_routes *routes;  /* vhost names and route patterns */
    struct sl_conf_rvhost *vhosts;      /* in acl_routes' vhost order */
    size_t n_vhosts;
    struct sl_conf_rpool *pools;
    size_t n_pools;
    /* The client, for the backends. An incoming X-Forwarded-For or
     * Forwarded is kept (and added to) only from trusted_proxies; from
     * anybody else it is replaced by what the proxy saw. */
    int forwarded_for;          /* X-Forwarded-For */
    int forwarded;              /* Forwarded (RFC 7239) */
    int x_forwarded_proto;
    int x_forwarded_host;
    int request_id;             /* X-Request-Id when the request has none */
    struct acl_net trusted_proxies[SL_CONF_MAX_NETS];
    size_t n_trusted_proxies;
    /* The backends, hidden from the clients. */
    struct flt_hdr_access *hide;    /* response fields not passed on */
    int via;                    /* Via on responses */
    struct sl_backends *rt;     /* the pools' live state (backend.h), built
                                   with the snapshot and freed with it */
    struct sl_conf_gateway gw;
};

struct sl_conf_limits {
    size_t max_connections;
    size_t buffer_size;
    size_t busy_poll_us;        /* loop.h sl_loop_set_busy_poll; 0: off */
    size_t client_bandwidth;    /* bytes/s to one client address; 0: any */
    int tunnel_splice;          /* bulk tunnel bytes move by splice(2) */
};

/*
 * Parent proxies (cache peers, conf_peer.c; Squid's cache_peer): where a
 * forward request may go instead of its origin. Which of them may take a
 * request is each peer's access list (peer_access rules, acl/rules.h
 * list ACL_LIST_PEER0 + its index); the ones allowed are ordered by
 * consistent hashing of the destination host (peer.h); never_direct and
 * always_direct (ACL_LIST_NEVER_DIRECT / _ALWAYS_DIRECT) say whether the
 * origin itself may be (or must be) the next hop.
 */
#define SL_CONF_MAX_PEERS 32

struct sl_conf_peer {
    char name[64];              /* for rules, logs, metrics; unique */
    char host[256];             /* a name (looked up) or an IP literal */
    unsigned port;
    unsigned weight;            /* 1..SL_PICK_MAX_WEIGHT: its share */
    char *auth;                 /* "Basic BASE64" from login, or NULL */
    char key[SL_HTTP_HOST_MAX + 8];     /* the origin pool's key, as long as
                                           one ("parent/NAME@HOST:PORT") */
    /* TLS to the parent itself (the requests inside are as over TCP) */
    int tls, tls_verify;
    char *tls_ca;
    char tls_name[256];
    struct ssl_ctx_st *tls_ctx; /* built with the snapshot, freed with it */
    int has_access;             /* has peer_access rules (else: any request) */
    /* Passive health: a connect failure ejects it for eject_ms, doubled
     * at each ejection in a row, up to eject_max_ms. */
    int64_t eject_ms, eject_max_ms;
};

struct sl_peers;

struct sl_conf_peers {
    struct sl_conf_peer peer[SL_CONF_MAX_PEERS];
    size_t n;
    int has_never_direct, has_always_direct;
    struct sl_peers *rt;        /* live state (peer.h), built with the
                                   snapshot; a reload adopts the old one's */
};

struct sl_conf {
    int refs;
    char *path;                 /* the file it came from */

    struct sl_conf_listen listen[SL_CONF_MAX_LISTEN];
    size_t n_listen;
    char *visible_hostname;
    char *pid_file;             /* NULL: none */
    char *access_log;           /* NULL: "none" */
    enum sl_log_format access_log_format;
    char *error_log;            /* NULL: "stderr" */
    enum sl_log_level log_level;
    /* Worker processes (master.c): 1 runs one process and no master. */
    unsigned workers;
    enum { SL_WSOCK_REUSEPORT, SL_WSOCK_SHARED } worker_sockets;
    int worker_sched_batch;     /* SCHED_BATCH: 1 on, 0 off, -1 (default)
                                   the workers of a master, not one process */

    struct sl_conf_http http;
    struct sl_conf_timeouts timeouts;
    struct sl_conf_pool pool;
    struct sl_conf_dns dns;
    struct sl_conf_access access;
    struct sl_conf_cache cache;
    struct sl_conf_policy policy;
    struct sl_conf_limits limits;
    struct sl_conf_pac pac;
    struct sl_conf_manager manager;
    struct sl_conf_reverse reverse;
    struct sl_conf_ldap ldap;
    struct sl_conf_peers peers;
};

/* Where the loader reports what it skipped (bad list lines): set once by
 * the daemon (to its log); default stderr. */
void sl_conf_set_warn(void (*fn)(const char *msg));

/*
 * Load and validate path. Returns a snapshot holding one reference, or NULL
 * with err filled as "FILE:LINE: what was wrong" (FILE alone when the file
 * cannot be read). Unknown settings are errors: a typo must not silently
 * fall back to a default.
 */
struct sl_conf *sl_conf_load(const char *path, char *err, size_t errlen);

/* Take / drop a reference. sl_conf_unref(NULL) is a no-op. */
struct sl_conf *sl_conf_ref(struct sl_conf *c);
void sl_conf_unref(struct sl_conf *c);

/*
 * Parse a listen address "ADDR:PORT", "[V6]:PORT" or "PORT" (all IPv4 and
 * IPv6 addresses: stored as [::], so the listener turns IPV6_V6ONLY off). Used for the file and for -a. Returns 0 or -1 with *err.
 */
int sl_conf_parse_listen(const char *s, struct sl_conf_listen *l,
                         const char **err);

/* Helpers shared with tests: "64K" -> 65536; "2m" -> 120000 (ms). */
int sl_conf_parse_size(const char *s, size_t *out);
int sl_conf_parse_duration(const char *s, int64_t *out_ms);

/* Does the snapshot allow CONNECT to port? */
int sl_conf_connect_port_ok(const struct sl_conf *c, unsigned port);

#endif
