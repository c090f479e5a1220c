/*
 * metrics.h - the counters behind /metrics (Prometheus text format 0.0.4)
 * and the status page that no other module keeps: requests by result code
 * and method, service-time histograms, blocked requests by category and
 * the busiest destinations. All are filled once per transaction, where
 * client.c logs it (sl_metrics_observe): plain integer increments in fixed
 * tables, no lock, no allocation. The other numbers on the pages come from
 * struct sl_stats, the DNS cache and the store, read when a page is asked
 * for (sl_metrics_write).
 *
 * The structs are public because struct sl_server embeds them. Each
 * worker process would keep its own; summing them is addition (the top
 * tables merge as their algorithm allows: see top.h).
 */
#ifndef SL_METRICS_H
#define SL_METRICS_H

#include <stdint.h>

#include "squidlike/buf.h"
#include "squidlike/hist.h"
#include "squidlike/top.h"

struct sl_server;

#define SL_METRICS_NCODES 13    /* the Squid codes we log, and "other" */
#define SL_METRICS_NMETHODS 10  /* the common methods, and "other" */

enum sl_metrics_kind { SL_METRICS_HIT, SL_METRICS_MISS, SL_METRICS_OTHER,
                       SL_METRICS_NKINDS };

/* Blocked requests by the blocklist category that matched ("" when a
 * rule without one blocked). Names past the table count as "other". */
#define SL_METRICS_NCATS 32
#define SL_METRICS_CAT_LEN 64
struct sl_metrics_cat {
    char name[SL_METRICS_CAT_LEN];
    unsigned long long n;
};

/* Counters for /metrics (metrics.c) and the status page (status.c).
 * Each worker has its own in shared memory, and the pages add them up as
 * an array (shared.c): unsigned long long counters only, no gauges. */
struct sl_stats {
    unsigned long long accepted, tunnels, errors;
    unsigned long long bytes_to_clients, bytes_from_clients;
    unsigned long long bytes_from_origins;  /* heads and bodies, tunnels too,
                                               as they arrive */
    /* What HTTP transactions took from origins, counted when each ends:
     * the time base of the hit and miss bytes, for "bandwidth saved". */
    unsigned long long http_bytes_from_origins;
    unsigned long long hits, misses, refreshes;
    unsigned long long late_joins;  /* misses that read along a fetch */
    unsigned long long range_fetches;   /* whole objects fetched for ranges */
    /* Collapsed forwarding across workers (client_xcf.c): misses that
     * waited on another worker's fetch, those of them served from the
     * store, those that went to the origin after all; claims that found
     * the shared table full; revalidations left to another worker. */
    unsigned long long xcf_joins, xcf_served, xcf_forwarded, xcf_full;
    unsigned long long xcf_reval_skipped;
    unsigned long long auth_failures;
    /* Negotiate (client_negotiate.c): tickets accepted, rejected (also in
     * auth_failures), refused for a full queue; GSS-API checks run (one per
     * connection that authenticates: the user stays with the connection). */
    unsigned long long negotiate_ok, negotiate_failed, negotiate_busy, gss_checks;
    unsigned long long client_aborts;   /* clients that left mid-request */
    /* reverse.compression (client_zip.c): responses compressed, per
     * coding (gzip, br); identity bytes in and compressed bytes out;
     * responses sent identity because max_streams were running. */
    unsigned long long zip_responses[2], zip_in, zip_out, zip_busy;
    /* tunnel bytes moved by splice(2) (client_tunnel.c) */
    unsigned long long spliced;
};

/* One worker's (shared.h); sl_shared_sum adds every field up. */
struct sl_metrics {
    int64_t start_ms;           /* in a sum: monotonic time the master started */
    /* [code][aborted][method]: "TCP_MISS_ABORTED" is TCP_MISS, aborted */
    unsigned long long requests[SL_METRICS_NCODES][2][SL_METRICS_NMETHODS];
    struct sl_hist svc[SL_METRICS_NKINDS];
    unsigned long long bytes[SL_METRICS_NKINDS];  /* sent to clients */
    struct sl_metrics_cat cats[SL_METRICS_NCATS];
    size_t ncats;
    unsigned long long cat_other;
    struct sl_top top_requests; /* destinations by requests ... */
    struct sl_top top_bytes;    /* ... and by bytes sent to clients */
    struct sl_top top_users;    /* authenticated users by requests (Basic,
                                   Negotiate) ... */
    struct sl_top top_user_bytes;   /* ... and by bytes sent to them */
};

/* One finished transaction, as cl_log sees it. */
struct sl_metrics_txn {
    const char *code;           /* access-log code: TCP_HIT, TCP_MISS_ABORTED */
    const char *method;
    int64_t elapsed_us;
    unsigned long long bytes;   /* sent to the client */
    const char *host;           /* destination host, "" when none */
    int blocked;                /* answered with a block page or redirect */
    const char *category;       /* ... for this category, or NULL */
    const char *user;           /* authenticated user, NULL or "" when none */
};

void sl_metrics_observe(struct sl_metrics *m, const struct sl_metrics_txn *x);

/* The kind an access-log code counts as (hit, miss, other). */
enum sl_metrics_kind sl_metrics_kind_of(const char *code);

/*
 * Append the whole exposition for srv to out (which has room or fails:
 * out is sized by the caller, at least sl_metrics_size(srv) bytes of
 * space). Returns 0, or -ENOSPC.
 */
#define SL_METRICS_MAX (128 * 1024)
int sl_metrics_write(struct sl_buf *out, struct sl_server *srv);
/* The room the exposition of srv needs: SL_METRICS_MAX, the reverse
 * mode rows of its configuration and the analytics per API (summed now,
 * for sl_metrics_write: status_apis.c). */
size_t sl_metrics_size(struct sl_server *srv);

/*
 * Reverse mode on the pages (/metrics here; status.json and the HTML
 * page in status.c, statuspage.c): a row per backend of each pool of b
 * (its live state at loop time now_ms, backend.h) and per route of each
 * vhost. Pure: the unit tests build b from a configuration of their own.
 *
 * sl_metrics_reverse appends the squidlike_backend_* and
 * squidlike_route_* families to w (nothing when b is NULL).
 */
struct sl_backends;
struct sl_backend_info;
struct sl_conf_reverse;
void sl_metrics_reverse(struct sl_bufw *w, const struct sl_backends *b, int64_t now_ms);
/* The most bytes sl_metrics_reverse writes for the live state of rc. */
size_t sl_metrics_reverse_size(const struct sl_conf_reverse *rc);

/* A backend's state in one word: "down" (the health checks say so),
 * "ejected" (passively, for a while) or "up" (it may be chosen). */
const char *sl_metrics_backend_state(const struct sl_backend_info *i);

/* Route r of vhost v as the pages show it, into buf (n > 0): a prefix as
 * it is ("/api/"), a regex after "~" ("~^/u/([0-9]+)$"; "~*" without
 * case), nginx's notation. At most SL_METRICS_ROUTE_SHOWN bytes of the
 * pattern, then "..."; bytes that are not printable ASCII or UTF-8 are
 * '?', so that every page may show it as it is once escaped. */
#define SL_METRICS_ROUTE_SHOWN 128
#define SL_METRICS_ROUTE_TEXT_MAX (SL_METRICS_ROUTE_SHOWN + 16)     /* n enough */
const char *sl_metrics_route_text(const struct sl_conf_reverse *rc, int v, int r,
                                  char *buf, size_t n);

/* The bytes the rows of rc may take on a page: per backend be_fixed
 * bytes and be_mult per byte of its pool's and its own name, per route
 * rt_fixed and rt_mult per byte of its vhost's name, its shown pattern
 * and its pool's name (a mult: how often a page shows them, times the
 * worst growth of its escaping); and SL_METRICS_REVERSE_ONCE for what a
 * page writes once (titles, HELP lines). 0 when rc has no live state. */
#define SL_METRICS_REVERSE_ONCE 4096
size_t sl_metrics_reverse_room(const struct sl_conf_reverse *rc, size_t be_fixed,
                               size_t be_mult, size_t rt_fixed, size_t rt_mult);

#endif
