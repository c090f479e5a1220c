/*
 * server.h - the running daemon: listeners, the current configuration
 * snapshot, the shared services (DNS, origin pool), the client list, and
 * the three lifecycle moves: reload, drain, stop.
 *
 * There is one server per process and it is passed around explicitly;
 * nothing reads it through a global.
 */
#ifndef SL_SERVER_H
#define SL_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "cache/store.h"
#include "squidlike/bufpool.h"
#include "squidlike/conf.h"
#include "squidlike/dns.h"
#include "squidlike/loop.h"
#include "squidlike/metrics.h"
#include "squidlike/origin.h"
#include "squidlike/shared.h"
#include "squidlike/status.h"

#define SL_SERVER_MAX_SELF 64

struct sl_client;
struct sl_server;
struct sl_api_table;
struct sl_api_page;
struct cfwd_table;
struct bg;
struct reload_job;
struct sl_health;
struct sl_qstore;

struct sl_ipcounts;
struct access_state;
struct sl_ldap;

/* What a listener's connections are for (client.h). */
enum sl_listen_kind {
    SL_LISTEN_PROXY = 0,        /* listen: the forward proxy */
    SL_LISTEN_MANAGER,          /* manager.listen: the manager pages and the PAC only */
    SL_LISTEN_REVERSE,          /* reverse.listen: in front of the company's servers */
    SL_LISTEN_REVERSE_TLS       /* reverse.tls_listen: the same, over TLS */
};

struct sl_listener {
    struct sl_io io;
    struct sl_server *srv;
    int manager;                /* kind == SL_LISTEN_MANAGER */
    enum sl_listen_kind kind;
    int failing;                /* its last accept failed (sl_accept_fails) */
    int exclusive;              /* one socket all workers wait on (EPOLLEXCLUSIVE) */
    char text[64];
};

/* A socket the master bound for a worker (master.c, sl_server_adopt). */
struct sl_lsock {
    int fd;
    enum sl_listen_kind kind;
    char text[64];
};

/* Why accept(2) failed: the labels of the counters (sl_accept_why_name). */
enum sl_accept_why {
    SL_ACCEPT_PROC_FDS,         /* EMFILE: the process's descriptor limit */
    SL_ACCEPT_SYS_FDS,          /* ENFILE: the system's */
    SL_ACCEPT_MEMORY,           /* ENOBUFS, ENOMEM */
    SL_ACCEPT_OTHER,
    SL_ACCEPT_NWHY
};
extern const char *const sl_accept_why_name[SL_ACCEPT_NWHY];

/*
 * Accept failing (out of descriptors, of memory). The listeners pause and
 * retry every ACCEPT_RETRY_MS while clients wait in the backlog; a run of
 * failures ends when accept empties the backlog. One log line a minute
 * at most, each with the failures since the line before, and one when a
 * run that was logged ends (server.c).
 */
struct sl_accept_fails {
    unsigned long long n[SL_ACCEPT_NWHY];   /* since start */
    int failing;                /* a run goes on now */
    enum sl_accept_why why;     /* of the last failure */
    int err;                    /* its errno */
    int64_t since_ms;           /* loop time the current (or last) run began */
    unsigned long long run;     /* failures in that run */
    int64_t logged_ms;          /* loop time of the last line; 0: none yet */
    unsigned long long unlogged;    /* failures since that line */
    int announced;              /* the current run has had a line */
};

/* Every worker's counters summed (sl_server_sums). */
struct sl_sum {
    struct sl_stats stats;
    struct sl_metrics metrics;
    int valid;                  /* summed at least once */
};

struct sl_server {
    struct sl_loop *loop;
    struct sl_conf *conf;       /* current snapshot; we hold a reference */
    struct sl_dns *dns;
    struct sl_pool *pool;
    struct cache_store *store;  /* NULL when the cache is off */
    struct cfwd_table *cfwd;    /* collapsed forwarding of misses */
    struct bg *bg;              /* background revalidations (client_bgfetch.c) */
    size_t nbg;
    /* State the client side keeps (the server holds it, the modules own
     * its layout): connections per address (ipcount.h), the password-hash
     * limiter and the test clock of the access step (client.h). */
    struct sl_ipcounts *ipcounts;   /* in this worker's slot */
    struct access_state *access;
    struct sl_ldap *ldap;       /* ldap_group lookups (ldapq.h) */
    struct rl_state *ratelimit; /* reverse.rate_limits' buckets (client_limit.c) */
    struct sl_qstore *quota;    /* the gateway's quota counters (quota_store.h),
                                   borrowed from shared; NULL: none in use */
    struct reload_job *reload;  /* a reload loading on its thread, or NULL */
    struct sl_health *health;   /* reverse mode's active checks, or NULL */
    /* Threads for the calls that may block (GSS-API), made when the
     * configuration first asks for them (srv_workq); NULL: none yet. */
    struct sl_workq *workq;
    unsigned test_gss_delay_ms; /* SQUIDLIKE_TEST_GSS_DELAY_MS: each ticket
                                   check first sleeps this long (tests only) */
    struct sl_listener listeners[4 * SL_CONF_MAX_LISTEN];   /* proxy, manager,
                                                               reverse, reverse TLS */
    size_t nlisteners;
    struct sl_client *clients;  /* all open client connections */
    size_t nclients;
    size_t nheadless;           /* of which fetches whose client left */
    size_t zip_streams;         /* responses being compressed (client_zip.c) */
    size_t clients_peak;        /* most open at once since the last trim */
    uint64_t next_id;
    struct sockaddr_storage self[SL_SERVER_MAX_SELF];
    size_t nself;               /* this host's interface addresses */
    char hostname[256];         /* gethostname() at start, "" if none */
    int listen_from_cli;        /* -a given: reloads keep it */
    int draining;
    int drain_soft;             /* sl_server_drain_soft: keep-alive promised is kept */
    int accept_paused;
    struct sl_accept_fails accept_fails;
    int64_t full_logged_ms;     /* last "max_connections reached" line */
    unsigned long long full_unlogged;   /* times reached since */
    struct sl_timer drain_timer;
    struct sl_timer linger_timer;   /* sl_server_drain_soft */
    struct sl_timer accept_timer;
    struct sl_timer mem_timer;  /* gives memory back after a spike */
    struct sl_shared *shared;   /* what the workers share (shared.h) */
    struct sl_wslot *slot;      /* this worker's place in it */
    struct sl_stats *stats;     /* this worker's counters: slot->stats */
    struct sl_sum *sum;         /* all workers' (sl_server_sums), or NULL */
    struct sl_api_table *api;   /* this worker's analytics (apistats.h) */
    struct sl_api_page *apis;   /* all workers' for a page (status_apis.c) */
    int store_paused;           /* the store's state as last logged */
    struct sl_timer store_timer;    /* wakes the loop for its probe */
    int64_t store_paused_ms;    /* loop time it paused */
    struct cache_store_stats store_mark;    /* its counters then */
    struct sl_bufpool bufpool;  /* buffers lent to moving requests */
    struct sl_metrics *metrics; /* slot->metrics */
    struct sl_status status;    /* the sampler for status.json */
    unsigned conf_generation;   /* 1 at start, +1 per applied reload */
    time_t reload_time;         /* wall clock of the last reload; 0: none */
    char reload_result[256];    /* "ok" or why it failed */
};

/*
 * Set up everything but the listeners from conf (takes a reference), as
 * the worker in slot `slot` of sh (shared.h; the server does not own it).
 * Returns NULL with err filled.
 */
struct sl_server *sl_server_new(struct sl_loop *loop, struct sl_conf *conf,
                                struct sl_shared *sh, int slot,
                                char *err, size_t errlen);
/* Bind conf's listen addresses. Returns 0 or -1 with err. */
int sl_server_listen(struct sl_server *srv, char *err, size_t errlen);
/* Take sockets the master bound (a worker): n of them, each shared with
 * the other workers when exclusive. Returns 0 or -1 with err. */
int sl_server_adopt(struct sl_server *srv, const struct sl_lsock *ls, size_t n,
                    int exclusive, char *err, size_t errlen);
/* Load path on a thread and swap it in when loaded; on failure the old
 * snapshot stays (logged). */
int sl_server_reload(struct sl_server *srv, const char *path);
/* A reload from old to nc: warn of what changes at restart only (the
 * cache store settings, pid_file), reopen the logs the file moved.
 * Returns 1 when the cache store settings differ. The single process's
 * reload and the master's share it. */
int sl_server_conf_follow(const struct sl_conf *old, const struct sl_conf *nc);
/* SIGTERM: stop accepting, finish in-flight requests, then stop the loop
 * (or force it after timeouts.shutdown). */
void sl_server_drain(struct sl_server *srv);
/* A worker replaced by a reload (SIGQUIT from the master): as drain, but
 * idle keep-alive connections get SL_DRAIN_LINGER_MS to send one more
 * request (answered with Connection: close) before they are closed, so
 * that a client reusing one as we close it does not see it fail. */
#define SL_DRAIN_LINGER_MS 1000
void sl_server_drain_soft(struct sl_server *srv);
/* Close every connection now and stop the loop (SIGINT). */
void sl_server_stop(struct sl_server *srv);
/* Free it all; the loop must not be running. */
void sl_server_free(struct sl_server *srv);

/* The counters of all workers: sl_server_sum_now adds them up (a page
 * does, when it starts to render), sl_server_sums gives that sum again
 * (the parts of the page read it many times). */
const struct sl_sum *sl_server_sum_now(struct sl_server *srv);
const struct sl_sum *sl_server_sums(struct sl_server *srv);

/* End of every loop iteration: commit cache writes, flush logs. */
void sl_server_idle(void *srv);


/* Called by client.c when a client connection goes away. */
void sl_server_client_gone(struct sl_server *srv);

#endif
