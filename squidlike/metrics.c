/*
 * metrics.c - the /metrics page's numbers (see metrics.h): the per-request
 * table filled where a transaction is logged, and the writer of the
 * Prometheus text exposition (format 0.0.4) served by client_mgr.c.
 *
 * Service times are microseconds, from the loop's time at the wakeup
 * that read the request to a fresh clock read when it is logged (hist.h
 * has the buckets, 25 us to 10 s).
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cache/store.h"
#include "squidlike/dns.h"
#include "squidlike/metrics.h"
#include "squidlike/server.h"

struct code_row {
    const char *name;
    size_t len;
    enum sl_metrics_kind kind;
};

#define ROW(s, k) { s, sizeof(s) - 1, k }

/* Every code client.c can log (the last row takes anything else). Hits are
 * answers from the store, revalidated or not; misses went to the origin
 * for the body. The order is the order on the page. */
static const struct code_row codes[SL_METRICS_NCODES] = {
    ROW("TCP_HIT", SL_METRICS_HIT),
    ROW("TCP_IMS_HIT", SL_METRICS_HIT),
    ROW("TCP_NEGATIVE_HIT", SL_METRICS_HIT),
    ROW("TCP_REFRESH_UNMODIFIED", SL_METRICS_HIT),
    ROW("TCP_REFRESH_FAIL_OLD", SL_METRICS_HIT),
    ROW("TCP_MISS", SL_METRICS_MISS),
    ROW("TCP_CLIENT_REFRESH_MISS", SL_METRICS_MISS),
    ROW("TCP_REFRESH_MODIFIED", SL_METRICS_MISS),
    ROW("TCP_TUNNEL", SL_METRICS_OTHER),
    ROW("TCP_DENIED", SL_METRICS_OTHER),
    ROW("NONE", SL_METRICS_OTHER),
    ROW("NONE_NONE", SL_METRICS_OTHER),
    ROW("other", SL_METRICS_OTHER),
};

#define DENIED_ROW 9

static const char *const methods[SL_METRICS_NMETHODS] = {
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "PATCH",
    "TRACE", "other"
};

static const char *const kinds[SL_METRICS_NKINDS] = { "hit", "miss", "other" };

#define ABORTED "_ABORTED"

/* The row of code ("TCP_MISS_ABORTED" is TCP_MISS's), and whether it was
 * aborted; the last row takes codes we do not know. */
static size_t code_row(const char *code, int *aborted)
{
    size_t len = strlen(code), ci;

    *aborted = 0;
    if (len > sizeof(ABORTED) - 1 &&
        memcmp(code + len - (sizeof(ABORTED) - 1), ABORTED, sizeof(ABORTED) - 1) == 0) {
        *aborted = 1;
        len -= sizeof(ABORTED) - 1;
    }
    for (ci = 0; ci < SL_METRICS_NCODES - 1; ci++)
        if (codes[ci].len == len && memcmp(codes[ci].name, code, len) == 0)
            break;
    return ci;
}

enum sl_metrics_kind sl_metrics_kind_of(const char *code)
{
    int aborted;

    return codes[code_row(code, &aborted)].kind;
}

static void count_blocked(struct sl_metrics *m, const char *cat)
{
    size_t i;

    if (cat == NULL)
        cat = "";
    for (i = 0; i < m->ncats; i++)
        if (strcmp(m->cats[i].name, cat) == 0) {
            m->cats[i].n++;
            return;
        }
    if (m->ncats == SL_METRICS_NCATS || strlen(cat) >= SL_METRICS_CAT_LEN) {
        m->cat_other++;
        return;
    }
    strcpy(m->cats[m->ncats].name, cat);
    m->cats[m->ncats++].n = 1;
}

void sl_metrics_observe(struct sl_metrics *m, const struct sl_metrics_txn *x)
{
    int aborted;
    size_t ci = code_row(x->code, &aborted), mi;
    enum sl_metrics_kind kind = codes[ci].kind;

    for (mi = 0; mi < SL_METRICS_NMETHODS - 1; mi++)
        if (strcmp(methods[mi], x->method) == 0)
            break;
    m->requests[ci][aborted][mi]++;
    sl_hist_add(&m->svc[kind], x->elapsed_us);
    m->bytes[kind] += x->bytes;
    if (x->blocked)
        count_blocked(m, x->category);
    if (x->host != NULL && x->host[0] != '\0') {
        size_t len;
        uint64_t h = sl_top_hash(x->host, &len);

        sl_top_add_hashed(&m->top_requests, x->host, len, h, 1);
        sl_top_add_hashed(&m->top_bytes, x->host, len, h, x->bytes);
    }
}

/* --- the page ---------------------------------------------------------- */

static void family(struct sl_bufw *w, const char *name, const char *type,
                   const char *help)
{
    sl_bufw_printf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one(struct sl_bufw *w, const char *name, const char *type,
                const char *help, unsigned long long v)
{
    family(w, name, type, help);
    sl_bufw_printf(w, "%s %llu\n", name, v);
}

static void requests(struct sl_bufw *w, const struct sl_metrics *m)
{
    size_t ci, a, mi;

    family(w, "squidlike_requests_total", "counter",
           "Finished requests by access-log result code and method.");
    for (ci = 0; ci < SL_METRICS_NCODES; ci++)
        for (a = 0; a < 2; a++)
            for (mi = 0; mi < SL_METRICS_NMETHODS; mi++)
                if (m->requests[ci][a][mi] != 0)
                    sl_bufw_printf(w, "squidlike_requests_total{code=\"%s%s\",method=\"%s\"} %llu\n",
                        codes[ci].name, a ? ABORTED : "", methods[mi],
                        m->requests[ci][a][mi]);
}

/* A label value as the text format wants it: \\, \" and \n escaped. */
static void label(struct sl_bufw *w, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            sl_bufw_printf(w, "\\%c", *v);
        else if (*v == '\n')
            sl_bufw_printf(w, "\\n");
        else
            sl_bufw_printf(w, "%c", *v);
    }
}

static void blocked(struct sl_bufw *w, const struct sl_metrics *m)
{
    size_t i;

    family(w, "squidlike_blocked_total", "counter",
           "Requests answered with a block page or redirect, by the blocklist "
           "category that matched (\"\" for a rule without one).");
    for (i = 0; i < m->ncats; i++) {
        sl_bufw_printf(w, "squidlike_blocked_total{category=\"");
        label(w, m->cats[i].name);
        sl_bufw_printf(w, "\"} %llu\n", m->cats[i].n);
    }
    if (m->cat_other != 0)
        sl_bufw_printf(w, "squidlike_blocked_total{category=\"(other)\"} %llu\n",
                       m->cat_other);
}

/* One histogram's series; labels: "kind=\"hit\"," or "". */
static void hist(struct sl_bufw *w, const char *name, const char *labels,
                 const struct sl_hist *h)
{
    unsigned long long sum = 0;
    size_t b;

    for (b = 0; b < SL_HIST_N; b++) {
        sum += h->b[b];
        sl_bufw_printf(w, "%s_bucket{%sle=\"%s\"} %llu\n", name, labels,
                       sl_hist_le[b], sum);
    }
    sl_bufw_printf(w, "%s_bucket{%sle=\"+Inf\"} %llu\n", name, labels, h->count);
    /* The labels without their trailing comma, in braces, or none. */
    if (labels[0] != '\0')
        sl_bufw_printf(w, "%s_sum{%.*s} %llu.%06llu\n%s_count{%.*s} %llu\n",
            name, (int)strlen(labels) - 1, labels, h->sum_us / 1000000,
            h->sum_us % 1000000, name, (int)strlen(labels) - 1, labels, h->count);
    else
        sl_bufw_printf(w, "%s_sum %llu.%06llu\n%s_count %llu\n", name,
            h->sum_us / 1000000, h->sum_us % 1000000, name, h->count);
}

static void service_time(struct sl_bufw *w, const struct sl_metrics *m)
{
    char labels[32];
    size_t k;

    family(w, "squidlike_service_seconds", "histogram",
           "Time from request to logged end, by hit, miss or other.");
    for (k = 0; k < SL_METRICS_NKINDS; k++) {
        snprintf(labels, sizeof(labels), "kind=\"%s\",", kinds[k]);
        hist(w, "squidlike_service_seconds", labels, &m->svc[k]);
    }
}

/* What the admin of a full (or failing) cache disk needs to see. */
static void store_writes(struct sl_bufw *w, const struct cache_store_stats *cs)
{
    size_t i;

    family(w, "squidlike_cache_write_errors_total", "counter",
           "Cache commits that failed, by cause (each drops the objects it held).");
    for (i = 0; i < CACHE_FAIL_N; i++)
        sl_bufw_printf(w, "squidlike_cache_write_errors_total{reason=\"%s\"} %llu\n",
                       cache_store_fail_name[i], (unsigned long long)cs->write_errors_by[i]);
    one(w, "squidlike_cache_stores_dropped_total", "counter",
        "Objects being stored that a failed commit dropped.",
        (unsigned long long)cs->dropped);
    one(w, "squidlike_cache_stores_skipped_total", "counter",
        "Storable responses not stored because the store was paused.",
        (unsigned long long)cs->skipped);
    one(w, "squidlike_cache_paused", "gauge",
        "1 while the store takes no new objects after a failed commit (it probes "
        "and resumes by itself).", cs->paused != 0);
    if (cs->fs_size < 0)
        return;                 /* not sampled (statvfs failed) */
    one(w, "squidlike_cache_fs_size_bytes", "gauge",
        "Size of the filesystem holding cache.dir (sampled every few seconds).",
        (unsigned long long)cs->fs_size);
    one(w, "squidlike_cache_fs_free_bytes", "gauge",
        "Space available on the filesystem holding cache.dir, as df shows it "
        "(sampled every few seconds).", (unsigned long long)cs->fs_avail);
}

/* Accept failing: every failed call by reason (each retry counts), and
 * whether new clients are kept waiting now. */
static void accept_failures(struct sl_bufw *w, const struct sl_server *srv)
{
    const struct sl_accept_fails *a = &srv->accept_fails;
    size_t i;

    family(w, "squidlike_accept_failures_total", "counter",
           "Failed accepts of client connections, by reason (every retry counts).");
    for (i = 0; i < SL_ACCEPT_NWHY; i++)
        sl_bufw_printf(w, "squidlike_accept_failures_total{reason=\"%s\"} %llu\n",
                       sl_accept_why_name[i], a->n[i]);
    one(w, "squidlike_accept_paused", "gauge",
        "1 while new client connections wait: max_connections reached, or accept failing.",
        srv->accept_paused || a->failing ? 1 : 0);
    one(w, "squidlike_descriptors_exhausted", "gauge",
        "1 while accept fails for want of file descriptors (process or system limit).",
        a->failing && (a->why == SL_ACCEPT_PROC_FDS || a->why == SL_ACCEPT_SYS_FDS));
}

int sl_metrics_write(struct sl_buf *out, struct sl_server *srv)
{
    const struct sl_metrics *m = &srv->metrics;
    const struct sl_stats *s = &srv->stats;
    struct sl_bufw w = { out, 0 };
    struct sl_dns_stats ds;
    struct cache_store_stats cs = { 0 };
    struct sl_status_gauges g;
    unsigned long long denied = 0;
    int64_t up = sl_loop_now(srv->loop) - m->start_ms;
    size_t mi;

    sl_dns_get_stats(srv->dns, &ds);
    sl_status_gauges(srv, &g);
    if (srv->store != NULL)
        cache_store_get_stats(srv->store, &cs);
    for (mi = 0; mi < SL_METRICS_NMETHODS; mi++)
        denied += m->requests[DENIED_ROW][0][mi] + m->requests[DENIED_ROW][1][mi];
    if (up < 0)
        up = 0;

    requests(&w, m);
    family(&w, "squidlike_client_bytes_total", "counter",
           "Bytes received from clients (request bodies, tunnels) and sent to them.");
    sl_bufw_printf(&w, "squidlike_client_bytes_total{direction=\"in\"} %llu\n", s->bytes_from_clients);
    sl_bufw_printf(&w, "squidlike_client_bytes_total{direction=\"out\"} %llu\n", s->bytes_to_clients);
    one(&w, "squidlike_origin_bytes_received_total", "counter",
        "Bytes received from origin servers (heads, bodies, tunnels).",
        s->bytes_from_origins);
    one(&w, "squidlike_cache_hits_total", "counter",
        "Requests answered from the cache (fresh or revalidated).", s->hits);
    one(&w, "squidlike_cache_misses_total", "counter",
        "Cacheable lookups not found in the cache.", s->misses);
    one(&w, "squidlike_cache_refreshes_total", "counter",
        "Stored responses revalidated with the origin.", s->refreshes);
    one(&w, "squidlike_cache_stores_total", "counter",
        "Objects committed to the cache (not those a failed commit dropped).",
        (unsigned long long)cs.stored);
    one(&w, "squidlike_denied_total", "counter",
        "Requests refused (logged TCP_DENIED, any reason).", denied);
    blocked(&w, m);
    one(&w, "squidlike_auth_failures_total", "counter",
        "Proxy-Authorization credentials rejected.", s->auth_failures);
    one(&w, "squidlike_tunnels_total", "counter", "CONNECT tunnels opened.", s->tunnels);
    one(&w, "squidlike_client_connections_accepted_total", "counter",
        "Client connections accepted.", s->accepted);
    accept_failures(&w, srv);
    one(&w, "squidlike_client_aborts_total", "counter",
        "Clients that left before their response was complete (a hang-up "
        "while waiting, or a failed write); logged ..._ABORTED.", s->client_aborts);
    one(&w, "squidlike_fetches_without_client", "gauge",
        "Origin fetches going on without a client: its client left but others "
        "read along or the object is worth storing, or a whole object for ranges.",
        (unsigned long long)srv->nheadless);
    one(&w, "squidlike_cache_late_joins_total", "counter",
        "Misses served by reading along a fetch already streaming in "
        "(collapsed forwarding).", s->late_joins);
    one(&w, "squidlike_cache_range_fetches_total", "counter",
        "Whole objects fetched in the background for a range miss (range_fetch).",
        s->range_fetches);
    one(&w, "squidlike_errors_total", "counter",
        "Requests answered with an error page.", s->errors);
    one(&w, "squidlike_dns_lookups_total", "counter",
        "Host name lookups asked of the DNS cache.", ds.lookups);
    family(&w, "squidlike_dns_cache_hits_total", "counter",
           "Lookups answered by the DNS cache, with addresses or negatively.");
    sl_bufw_printf(&w, "squidlike_dns_cache_hits_total{answer=\"positive\"} %llu\n", ds.hits);
    sl_bufw_printf(&w, "squidlike_dns_cache_hits_total{answer=\"negative\"} %llu\n", ds.negative_hits);
    one(&w, "squidlike_dns_queries_total", "counter",
        "Queries sent to the name servers.", ds.queries);
    one(&w, "squidlike_dns_cache_entries", "gauge", "Names in the DNS cache.",
        (unsigned long long)ds.entries);
    one(&w, "squidlike_client_connections", "gauge", "Open client connections.",
        (unsigned long long)g.clients);
    one(&w, "squidlike_tunnels", "gauge", "CONNECT tunnels relaying now.",
        (unsigned long long)g.tunnels);
    family(&w, "squidlike_origin_connections", "gauge",
           "Connections to origins: serving a client, or idle in the keep-alive pool.");
    sl_bufw_printf(&w, "squidlike_origin_connections{state=\"busy\"} %zu\n", g.origins_busy);
    sl_bufw_printf(&w, "squidlike_origin_connections{state=\"idle\"} %zu\n", g.origins_idle);
    one(&w, "squidlike_cache_bytes", "gauge",
        "Accounted size of the stored objects (0 with the cache off).",
        (unsigned long long)cs.bytes);
    one(&w, "squidlike_cache_max_bytes", "gauge", "The cache size limit.",
        (unsigned long long)cs.max_size);
    one(&w, "squidlike_cache_objects", "gauge", "Objects in the cache.",
        (unsigned long long)cs.objects);
    one(&w, "squidlike_cache_evictions_total", "counter",
        "Objects evicted to make room.", (unsigned long long)cs.evicted);
    if (srv->store != NULL)
        store_writes(&w, &cs);
    family(&w, "squidlike_uptime_seconds", "gauge", "Seconds since the daemon started.");
    sl_bufw_printf(&w, "squidlike_uptime_seconds %lld.%03lld\n",
        (long long)(up / 1000), (long long)(up % 1000));
    service_time(&w, m);
    family(&w, "squidlike_dns_query_seconds", "histogram",
           "Time from a query to the name servers to its answer or failure.");
    hist(&w, "squidlike_dns_query_seconds", "", &ds.time);
    return w.rc;
}
