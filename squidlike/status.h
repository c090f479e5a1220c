/*
 * status.h - the numbers behind /squidlike/status.json: a sampler that
 * keeps the last hour of cumulative counters in a fixed ring (one sample
 * every SL_STATUS_INTERVAL_MS, SL_STATUS_RING of them), so that rates and
 * ratios over the last 5 and 60 minutes are differences of two samples;
 * and the writer of the JSON page served by client_mgr.c.
 *
 * The ring and its window arithmetic are pure (no server, no clock) and
 * tested alone (t/unit/check_status.c). The struct is public because
 * struct sl_server embeds it.
 */
#ifndef SL_STATUS_H
#define SL_STATUS_H

#include <stddef.h>
#include <stdint.h>

#include "cache/store.h"
#include "squidlike/buf.h"
#include "squidlike/dns.h"
#include "squidlike/hist.h"
#include "squidlike/loop.h"

struct sl_server;
struct sl_backends;
struct sl_conf_reverse;

#define SL_STATUS_RING 360              /* one hour of samples */
#define SL_STATUS_INTERVAL_MS 10000

/* Cumulative counters at loop time t_ms. */
struct sl_status_sample {
    int64_t t_ms;
    unsigned long long requests, hits, misses, errors, blocked;
    unsigned long long hit_bytes, miss_bytes;   /* to clients, by kind */
    unsigned long long bytes_out, bytes_in;     /* to clients, from origins */
    unsigned long long http_in; /* from origins, by ended HTTP transactions */
    struct sl_hist svc_hit, svc_miss, dns;  /* service and DNS times */
};

struct sl_status_ring {
    struct sl_status_sample s[SL_STATUS_RING];
    size_t head;                /* next slot to write */
    size_t n;                   /* samples held, up to SL_STATUS_RING */
};

struct sl_status {
    /* The history: one for all workers (in shared memory: shared.h),
     * written by the sampling worker only (sl_status_sampler). */
    struct sl_status_ring *ring;
    struct sl_timer timer;
    int64_t interval_ms;
};

/*
 * The last span_ms as points, oldest first: for each pair of consecutive
 * samples (the newest paired with cur, the counters now), what changed
 * between them and when the pair ended. The graphs of the status page and
 * the history of status.json. Returns how many, at most max (the ring
 * gives at most SL_STATUS_RING).
 */
struct sl_status_point {
    int64_t end_ms, span_ms;
    unsigned long long requests, hits, misses, bytes_out, bytes_in;
};
size_t sl_status_history(const struct sl_status_ring *r, const struct sl_status_sample *cur,
                         int64_t span_ms, struct sl_status_point *p, size_t max);

/* The i-th oldest sample held (0: the oldest); i < r->n. */
const struct sl_status_sample *sl_status_ring_at(const struct sl_status_ring *r, size_t i);

/* Append s, overwriting the oldest sample when the ring is full. */
void sl_status_ring_push(struct sl_status_ring *r, const struct sl_status_sample *s);

/*
 * The change from the newest sample at least window_ms older than cur to
 * cur, into *delta (delta->t_ms: the milliseconds it covers). With no
 * sample that old, the oldest one is the base (the window is what we
 * have). Returns 0, or -ENOENT when the ring holds no sample at or before
 * cur->t_ms.
 */
int sl_status_window(const struct sl_status_ring *r, const struct sl_status_sample *cur,
                     int64_t window_ms, struct sl_status_sample *delta);

/* What is open now, counted on the client list (only when a page asks:
 * nothing to keep in step on the hot path). Background revalidations'
 * origin connections are not counted. */
struct sl_status_gauges {
    size_t clients, tunnels, origins_busy, origins_idle;
};
void sl_status_gauges(struct sl_server *srv, struct sl_status_gauges *g);

/* The counters of srv now. */
void sl_status_snapshot(struct sl_server *srv, struct sl_status_sample *s);

/* Take the first sample and arm the sampler (the interval can be set by
 * SQUIDLIKE_TEST_STATUS_INTERVAL_MS, for tests); stop disarms it. */
void sl_status_start(struct sl_server *srv);
void sl_status_stop(struct sl_server *srv);

/* Everything the status pages show, gathered once per page (the JSON
 * and the HTML page print the same numbers). */
enum { SL_STATUS_SINCE_START, SL_STATUS_LAST_5M, SL_STATUS_LAST_60M, SL_STATUS_NWIN };
extern const char *const sl_status_win_name[SL_STATUS_NWIN];

struct sl_status_view {
    struct sl_status_sample now;
    struct sl_status_sample win[SL_STATUS_NWIN];    /* deltas; t_ms: span */
    int64_t up_ms;
    struct sl_dns_stats dns;
    struct cache_store_stats cache;
    struct sl_status_gauges g;
    double cpu_seconds;
    long long rss_bytes;        /* -1: unknown */
    long long heap_used, heap_free; /* malloc's, bytes (mallinfo2); -1: unknown */
    size_t spare_buffers;       /* bytes kept by the buffer pool (bufpool.h) */
    long open_fds;              /* -1: unknown */
};

void sl_status_collect(struct sl_server *srv, struct sl_status_view *v);

/* Bandwidth the cache saved over d: what hits and misses sent clients,
 * less what their HTTP transactions (and background revalidations) took
 * from origins, both counted as transactions end so that a long download
 * does not land on one side of a window and not the other. Our own pages
 * and tunnels do not count: they cost the same with or without a cache. */
long long sl_status_saved(const struct sl_status_sample *d);

/* num / den, or a negative number when den is 0 (the pages say "null"
 * or a dash). */
double sl_status_ratio(double num, double den);

/*
 * Append the JSON document for srv to out (sized by the caller: at least
 * sl_status_size(srv) bytes of space). Returns 0, or -ENOSPC.
 */
#define SL_STATUS_MAX (128 * 1024)
int sl_status_write(struct sl_buf *out, struct sl_server *srv);
/* SL_STATUS_MAX and the room of srv's reverse mode rows and of its
 * analytics per API (summed now, for sl_status_write: status_apis.c). */
size_t sl_status_size(struct sl_server *srv);

/* The HTML dashboard (statuspage.c), same contract, sl_status_html_size. */
#define SL_STATUS_HTML_MAX (192 * 1024)
int sl_status_html(struct sl_buf *out, struct sl_server *srv);
size_t sl_status_html_size(struct sl_server *srv);

/*
 * Reverse mode's part of the pages (metrics.h says what the rows are):
 * status.json's "reverse" member (its pools with their backends, its
 * routes; ",\n" first, the caller's object goes on after it), and the
 * HTML page's Backends and Routes tiles. b: the live state of a
 * configuration (nothing is written when NULL); now_ms its loop time;
 * wall_ms the wall clock at the same instant (check and ejection times
 * are shown as wall-clock times and ages). Pure: no server, no clock.
 */
void sl_status_reverse_json(struct sl_bufw *w, const struct sl_backends *b,
                            int64_t now_ms, int64_t wall_ms);
void sl_status_reverse_html(struct sl_bufw *w, const struct sl_backends *b,
                            int64_t now_ms);
/* The most bytes each of them writes for the live state of rc. */
size_t sl_status_reverse_json_size(const struct sl_conf_reverse *rc);
size_t sl_status_reverse_html_size(const struct sl_conf_reverse *rc);

/*
 * status_apis.c: the analytics per route and consumer of every worker
 * (apistats.h), summed for a page. sl_status_apis_now sums them (a page
 * does when it reckons its size), sl_status_apis gives that sum again (the
 * page's writer). NULL: none to show (a forward-only proxy; no memory).
 */
struct sl_api_view;
const struct sl_api_view *sl_status_apis_now(struct sl_server *srv);
const struct sl_api_view *sl_status_apis(struct sl_server *srv);
void sl_status_apis_free(struct sl_server *srv);

/* Security headers of the HTML page: nothing may load from anywhere. */
#define SL_STATUS_HTML_HEADERS \
    "Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'\r\n" \
    "X-Content-Type-Options: nosniff\r\n" \
    "Referrer-Policy: no-referrer\r\n"

/* status_workers.c: the live workers (shared.h), a row each. */
struct sl_shared;
struct sl_worker_row {
    unsigned index, generation;
    long pid;
    int draining;
    int64_t started;            /* unix time */
    unsigned long long requests, hits, clients, restarts;
    double cpu_seconds;         /* -1: unknown */
    long long rss_bytes;        /* -1: unknown */
};
size_t sl_workers_rows(const struct sl_shared *sh, struct sl_worker_row *r, size_t max);
unsigned long long sl_workers_restarts(const struct sl_shared *sh);
unsigned long long sl_workers_clients(const struct sl_shared *sh);
size_t sl_workers_live(const struct sl_shared *sh);
void sl_status_workers_json(struct sl_bufw *w, struct sl_server *srv);
void sl_status_workers_html(struct sl_bufw *w, struct sl_server *srv);

#endif
