/*
 * status.c - the sampler and the JSON page /squidlike/status.json (see
 * status.h). Every interval the loop timer copies the cumulative counters
 * (struct sl_stats, struct sl_metrics) into the ring: a few dozen bytes,
 * no allocation. Windows are differences between the counters now and a
 * sample from about that long ago, so the page costs nothing per request.
 *
 * The process numbers (RSS, open fds) come from /proc, read when the page
 * is asked for: small in-memory files, bounded work.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "acl/quota.h"
#include "cache/store.h"
#include "squidlike/apistats.h"
#include "squidlike/backend.h"
#include "squidlike/client.h"
#include "squidlike/dns.h"
#include "squidlike/peer.h"
#include "squidlike/quota_store.h"
#include "squidlike/status.h"
#include "squidlike/server.h"
#include "squidlike/tls.h"
#include "squidlike/workq.h"

#define FD_COUNT_MAX 1000000    /* stop counting open fds there */

/* --- the ring (pure) ---------------------------------------------------- */

void sl_status_ring_push(struct sl_status_ring *r, const struct sl_status_sample *s)
{
    r->s[r->head] = *s;
    r->head = (r->head + 1) % SL_STATUS_RING;
    if (r->n < SL_STATUS_RING)
        r->n++;
}

/* The i-th newest sample (0: the newest); i < r->n. */
static const struct sl_status_sample *nth_newest(const struct sl_status_ring *r, size_t i)
{
    return &r->s[(r->head + SL_STATUS_RING - 1 - i) % SL_STATUS_RING];
}

int sl_status_window(const struct sl_status_ring *r, const struct sl_status_sample *cur,
                     int64_t window_ms, struct sl_status_sample *delta)
{
    const struct sl_status_sample *base = NULL, *s;
    size_t i;

    for (i = 0; i < r->n; i++) {
        s = nth_newest(r, i);
        if (s->t_ms > cur->t_ms)
            continue;           /* not before now: no use as a base */
        base = s;
        if (cur->t_ms - s->t_ms >= window_ms)
            break;
    }
    if (base == NULL)
        return -ENOENT;
#define D(f) delta->f = cur->f >= base->f ? cur->f - base->f : 0
    D(requests); D(hits); D(misses); D(errors); D(blocked);
    D(hit_bytes); D(miss_bytes); D(bytes_out); D(bytes_in); D(http_in);
#undef D
    sl_hist_sub(&delta->svc_hit, &cur->svc_hit, &base->svc_hit);
    sl_hist_sub(&delta->svc_miss, &cur->svc_miss, &base->svc_miss);
    sl_hist_sub(&delta->dns, &cur->dns, &base->dns);
    delta->t_ms = cur->t_ms - base->t_ms;
    return 0;
}

const struct sl_status_sample *sl_status_ring_at(const struct sl_status_ring *r, size_t i)
{
    return nth_newest(r, r->n - 1 - i);
}

size_t sl_status_history(const struct sl_status_ring *r, const struct sl_status_sample *cur,
                         int64_t span_ms, struct sl_status_point *p, size_t max)
{
    const struct sl_status_sample *a, *b;
    size_t i, n = 0;

    for (i = 0; i < r->n && n < max; i++) {
        a = sl_status_ring_at(r, i);
        b = i + 1 < r->n ? sl_status_ring_at(r, i + 1) : cur;
        /* Skip a pair with no time between them only if nothing moved
         * either (a sample taken in the millisecond of a page can differ
         * from it), so that the points always add up to the window. */
        if (b->t_ms < a->t_ms || cur->t_ms - b->t_ms >= span_ms ||
            (b->t_ms == a->t_ms && b->requests == a->requests &&
             b->bytes_out == a->bytes_out && b->bytes_in == a->bytes_in))
            continue;
#define D(f) (b->f >= a->f ? b->f - a->f : 0)
        p[n].end_ms = b->t_ms;
        p[n].span_ms = b->t_ms - a->t_ms;
        p[n].requests = D(requests);
        p[n].hits = D(hits);
        p[n].misses = D(misses);
        p[n].bytes_out = D(bytes_out);
        p[n].bytes_in = D(bytes_in);
#undef D
        n++;
    }
    return n;
}

/* --- the sampler -------------------------------------------------------- */

void sl_status_snapshot(struct sl_server *srv, struct sl_status_sample *s)
{
    const struct sl_metrics *m = &sl_server_sum_now(srv)->metrics;
    struct sl_dns_stats ds;
    size_t k;

    memset(s, 0, sizeof(*s));
    s->t_ms = sl_loop_now(srv->loop);
    for (k = 0; k < SL_METRICS_NKINDS; k++)
        s->requests += m->svc[k].count;
    s->hits = m->svc[SL_METRICS_HIT].count;
    s->misses = m->svc[SL_METRICS_MISS].count;
    s->svc_hit = m->svc[SL_METRICS_HIT];
    s->svc_miss = m->svc[SL_METRICS_MISS];
    sl_dns_get_stats(srv->dns, &ds);
    s->dns = ds.time;
    s->bytes_in = sl_server_sums(srv)->stats.bytes_from_origins;
    s->http_in = sl_server_sums(srv)->stats.http_bytes_from_origins;
    s->hit_bytes = m->bytes[SL_METRICS_HIT];
    s->miss_bytes = m->bytes[SL_METRICS_MISS];
    s->errors = sl_server_sums(srv)->stats.errors;
    for (k = 0; k < m->ncats; k++)
        s->blocked += m->cats[k].n;
    s->blocked += m->cat_other;
    s->bytes_out = sl_server_sums(srv)->stats.bytes_to_clients;
}

/* This worker's gauges now, into its slot for the others to add up. */
static void gauges_publish(struct sl_server *srv, size_t *tunnels, size_t *busy,
                           size_t *idle)
{
    sl_client_count(srv, tunnels, busy);
    *idle = sl_pool_idle_count(srv->pool);
    srv->slot->g.tunnels = *tunnels;
    srv->slot->g.origins_busy = *busy;
    srv->slot->g.origins_idle = *idle;
}

/* All workers': this one's now, the others' as they last published
 * them (at most one status interval old). */
void sl_status_gauges(struct sl_server *srv, struct sl_status_gauges *g)
{
    const struct sl_shared *sh = srv->shared;
    size_t i;

    memset(g, 0, sizeof(*g));
    g->clients = (size_t)sl_workers_clients(sh);
    gauges_publish(srv, &g->tunnels, &g->origins_busy, &g->origins_idle);
    for (i = 0; i < sh->nused && i < SL_SHARED_SLOTS; i++) {
        const struct sl_wslot *s = &sh->slots[i];

        if (s == srv->slot || s->pid <= 0)
            continue;
        g->tunnels += (size_t)s->g.tunnels;
        g->origins_busy += (size_t)s->g.origins_busy;
        g->origins_idle += (size_t)s->g.origins_idle;
    }
}

/* One worker samples for all: the first of the newest generation (the
 * one process, when there is one). A reader racing its push may see one
 * sample half written: the deltas clamp at 0, and the next render is
 * right. */
static int sampler(const struct sl_server *srv)
{
    return srv->slot->index == 0 && srv->slot->generation == srv->shared->generation;
}

static void on_sample(struct sl_timer *t)
{
    struct sl_server *srv = t->data;
    struct sl_status_sample s;
    size_t tunnels, busy, idle;

    gauges_publish(srv, &tunnels, &busy, &idle);
    if (sampler(srv)) {
        sl_status_snapshot(srv, &s);
        sl_status_ring_push(srv->status.ring, &s);
    }
    sl_timer_set(srv->loop, t, srv->status.interval_ms);
}

void sl_status_start(struct sl_server *srv)
{
    struct sl_status *st = &srv->status;
    const char *env = getenv("SQUIDLIKE_TEST_STATUS_INTERVAL_MS");
    struct sl_status_sample s;

    st->interval_ms = SL_STATUS_INTERVAL_MS;
    if (env != NULL && strtoll(env, NULL, 10) > 0)
        st->interval_ms = strtoll(env, NULL, 10);
    st->ring = srv->shared->ring;
    if (sampler(srv)) {
        sl_status_snapshot(srv, &s);
        sl_status_ring_push(st->ring, &s);
    }
    st->timer.cb = on_sample;
    st->timer.data = srv;
    sl_timer_set(srv->loop, &st->timer, st->interval_ms);
}

void sl_status_stop(struct sl_server *srv)
{
    sl_timer_stop(srv->loop, &srv->status.timer);
}

/* --- the numbers ------------------------------------------------------- */

const char *const sl_status_win_name[SL_STATUS_NWIN] = {
    "since_start", "last_5m", "last_60m"
};

long long sl_status_saved(const struct sl_status_sample *d)
{
    return (long long)(d->hit_bytes + d->miss_bytes) - (long long)d->http_in;
}

double sl_status_ratio(double num, double den)
{
    return den > 0 ? num / den : -1;
}

static long long rss_bytes(void)
{
    char line[256];
    long long kib = -1;
    FILE *f = fopen("/proc/self/status", "re");

    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kib = strtoll(line + 6, NULL, 10);
            break;
        }
    fclose(f);
    return kib < 0 ? -1 : kib * 1024;
}

static long open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    long n = 0;

    if (d == NULL)
        return -1;
    while (n < FD_COUNT_MAX && (e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1;               /* the directory's own fd */
}

/* What malloc holds: in use, and free but not given back (what a spike
 * of connections leaves until the server trims: server.c). Walks the
 * free lists: a page's worth of work, not a request's. */
static void heap(long long *used, long long *free_bytes)
{
#if defined(__GLIBC__) && __GLIBC_PREREQ(2, 33)
    struct mallinfo2 mi = mallinfo2();

    *used = (long long)(mi.uordblks + mi.hblkhd);
    *free_bytes = (long long)mi.fordblks;
    if (*used == 0)             /* another allocator took over (ASan, a
                                   preloaded one): glibc's heap is not ours */
        *used = *free_bytes = -1;
#else
    *used = *free_bytes = -1;
#endif
}

void sl_status_collect(struct sl_server *srv, struct sl_status_view *v)
{
    static const int64_t span[SL_STATUS_NWIN] = { 0, 5 * 60000, 60 * 60000 };
    struct rusage ru;
    size_t i;

    memset(v, 0, sizeof(*v));
    sl_status_snapshot(srv, &v->now);
    v->up_ms = v->now.t_ms - sl_server_sums(srv)->metrics.start_ms;
    if (v->up_ms < 0)
        v->up_ms = 0;
    v->win[SL_STATUS_SINCE_START] = v->now;
    v->win[SL_STATUS_SINCE_START].t_ms = v->up_ms;
    for (i = 1; i < SL_STATUS_NWIN; i++)
        if (sl_status_window(srv->status.ring, &v->now, span[i], &v->win[i]) < 0)
            memset(&v->win[i], 0, sizeof(v->win[i]));
    sl_dns_get_stats(srv->dns, &v->dns);
    if (srv->store != NULL)
        cache_store_get_stats(srv->store, &v->cache);
    sl_status_gauges(srv, &v->g);
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        v->cpu_seconds = (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
            ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
    v->rss_bytes = rss_bytes();
    heap(&v->heap_used, &v->heap_free);
    v->spare_buffers = sl_bufpool_bytes(&srv->bufpool);
    v->open_fds = open_fds();
}

/* --- the JSON page ------------------------------------------------------ */

/* (a path in a reload error can hold any byte: sl_bufw_json) */
static void put_str(struct sl_bufw *w, const char *key, const char *s)
{
    sl_bufw_printf(w, "\"%s\": ", key);
    sl_bufw_json(w, s);
}

/* A ratio or rate, or null when there is nothing to divide by. */
static void put_ratio(struct sl_bufw *w, const char *key, double num, double den)
{
    if (den > 0)
        sl_bufw_printf(w, "\"%s\": %.6f", key, num / den);
    else
        sl_bufw_printf(w, "\"%s\": null", key);
}

/* A time in milliseconds from microseconds, or null (-1: no data). */
static void put_ms(struct sl_bufw *w, const char *key, double us)
{
    if (us < 0)
        sl_bufw_printf(w, "\"%s\": null", key);
    else
        sl_bufw_printf(w, "\"%s\": %.3f", key, us / 1000.0);
}

static void put_times(struct sl_bufw *w, const char *key, const struct sl_hist *h)
{
    sl_bufw_printf(w, "\"%s\": { \"count\": %llu, ", key, h->count);
    put_ms(w, "p50", sl_hist_quantile(h, 0.50));
    sl_bufw_printf(w, ", ");
    put_ms(w, "p95", sl_hist_quantile(h, 0.95));
    sl_bufw_printf(w, ", ");
    put_ms(w, "p99", sl_hist_quantile(h, 0.99));
    sl_bufw_printf(w, " }");
}

/* One window's object: "last_5m": { ... } */
static void window(struct sl_bufw *w, const char *key, const struct sl_status_sample *d)
{
    sl_bufw_printf(w, "    \"%s\": { \"seconds\": %.3f, \"requests\": %llu, \"hits\": %llu, "
        "\"misses\": %llu, \"errors\": %llu, \"blocked\": %llu, ", key,
        (double)d->t_ms / 1000.0, d->requests, d->hits, d->misses, d->errors, d->blocked);
    put_ratio(w, "hit_ratio", (double)d->hits, (double)(d->hits + d->misses));
    sl_bufw_printf(w, ", ");
    put_ratio(w, "byte_hit_ratio", (double)d->hit_bytes,
              (double)(d->hit_bytes + d->miss_bytes));
    sl_bufw_printf(w, ", ");
    put_ratio(w, "requests_per_second", (double)d->requests * 1000.0, (double)d->t_ms);
    sl_bufw_printf(w, ", ");
    put_ratio(w, "error_rate", (double)d->errors, (double)d->requests);
    sl_bufw_printf(w, ",\n      \"bytes_to_clients\": %llu, \"bytes_from_origins\": %llu, "
        "\"bandwidth_saved_bytes\": %lld, ", d->bytes_out, d->bytes_in, sl_status_saved(d));
    put_ratio(w, "bandwidth_saved_ratio", (double)sl_status_saved(d),
              (double)(d->hit_bytes + d->miss_bytes));
    sl_bufw_printf(w, ",\n      \"service_ms\": { ");
    put_times(w, "hit", &d->svc_hit);
    sl_bufw_printf(w, ", ");
    put_times(w, "miss", &d->svc_miss);
    sl_bufw_printf(w, ", ");
    put_times(w, "dns", &d->dns);
    sl_bufw_printf(w, " } }");
}

#define TOP_SHOWN 10

static void top(struct sl_bufw *w, const char *key, const char *who,
                const char *what, const struct sl_top *t)
{
    const struct sl_top_entry *e[TOP_SHOWN];
    size_t n = sl_top_list(t, e, TOP_SHOWN), i;

    sl_bufw_printf(w, "    \"%s\": [", key);
    for (i = 0; i < n; i++) {
        sl_bufw_printf(w, "%s\n      { ", i ? "," : "");
        put_str(w, who, e[i]->name);
        sl_bufw_printf(w, ", \"%s\": %llu, \"overcount_max\": %llu }", what,
                       e[i]->count, e[i]->err);
    }
    sl_bufw_printf(w, "%s]", n ? "\n    " : "");
}

/* The last hour, a row per sample interval (what the page's graphs draw). */
static void history(struct sl_bufw *w, const struct sl_status_ring *r,
                    const struct sl_status_sample *now)
{
    struct sl_status_point p[SL_STATUS_RING + 1];
    size_t n = sl_status_history(r, now, 3600 * 1000, p, SL_STATUS_RING + 1), i;

    sl_bufw_printf(w, "  \"history\": {\n    \"columns\": [ \"seconds_ago\", \"seconds\", "
        "\"requests\", \"hits\", \"misses\", \"bytes_to_clients\", \"bytes_from_origins\" ],\n"
        "    \"rows\": [");
    for (i = 0; i < n; i++)
        sl_bufw_printf(w, "%s\n      [ %.3f, %.3f, %llu, %llu, %llu, %llu, %llu ]", i ? "," : "",
            (double)(now->t_ms - p[i].end_ms) / 1000.0, (double)p[i].span_ms / 1000.0,
            p[i].requests, p[i].hits, p[i].misses, p[i].bytes_out, p[i].bytes_in);
    sl_bufw_printf(w, "%s]\n  }", n ? "\n    " : " ");
}

/* The store's writes and its filesystem, beside the fill: a store 12% full
 * on a disk 100% full stores nothing, and this says so. */
static void store_json(struct sl_bufw *w, const struct sl_server *srv,
                       const struct cache_store_stats *c)
{
    size_t i;

    sl_bufw_printf(w, ",\n    \"stores\": %llu, \"storing\": %s, ",
        (unsigned long long)c->stored, srv->store && c->paused == 0 ? "true" : "false");
    if (c->paused != 0) {
        put_str(w, "paused_error", strerror(-c->paused));
        sl_bufw_printf(w, ", \"paused_reason\": \"%s\", \"retry_seconds\": %.3f",
            cache_store_fail_name[c->paused_why], (double)c->retry_ms / 1000.0);
    } else {
        sl_bufw_printf(w, "\"paused_error\": null, \"paused_reason\": null, "
                       "\"retry_seconds\": null");
    }
    sl_bufw_printf(w, ",\n    \"write_errors\": %llu, \"write_errors_by_reason\": {",
                   (unsigned long long)c->write_errors);
    for (i = 0; i < CACHE_FAIL_N; i++)
        sl_bufw_printf(w, "%s \"%s\": %llu", i ? "," : "", cache_store_fail_name[i],
                       (unsigned long long)c->write_errors_by[i]);
    sl_bufw_printf(w, " }, \"stores_dropped\": %llu, \"stores_skipped\": %llu,\n    ",
        (unsigned long long)c->dropped, (unsigned long long)c->skipped);
    if (srv->store != NULL && c->fs_size >= 0) {
        sl_bufw_printf(w, "\"fs_bytes\": %lld, \"fs_free_bytes\": %lld, ",
                       (long long)c->fs_size, (long long)c->fs_avail);
        put_ratio(w, "fs_free_percent", 100.0 * (double)c->fs_avail, (double)c->fs_size);
    } else {
        sl_bufw_printf(w, "\"fs_bytes\": null, \"fs_free_bytes\": null, "
                       "\"fs_free_percent\": null");
    }
}

/* Whether new clients get in: paused (max_connections, or failing), the
 * failures by reason, and the run of failures going on now, or null. */
static void accept_state(struct sl_bufw *w, struct sl_server *srv)
{
    const struct sl_accept_fails *a = &srv->accept_fails;
    size_t i;

    sl_bufw_printf(w, "    \"accept_paused\": %s, \"accept_failures\": {",
                   srv->accept_paused || a->failing ? "true" : "false");
    for (i = 0; i < SL_ACCEPT_NWHY; i++)
        sl_bufw_printf(w, "%s \"%s\": %llu", i ? "," : "", sl_accept_why_name[i], a->n[i]);
    sl_bufw_printf(w, " },\n    \"accept_failing\": ");
    if (!a->failing) {
        sl_bufw_printf(w, "null");
        return;
    }
    sl_bufw_printf(w, "{ \"reason\": \"%s\", ", sl_accept_why_name[a->why]);
    put_str(w, "error", strerror(a->err));
    sl_bufw_printf(w, ", \"seconds\": %.3f, \"failures\": %llu }",
                   (double)(sl_loop_now(srv->loop) - a->since_ms) / 1000.0, a->run);
}

/* --- reverse mode ------------------------------------------------------ */

/* A pool's balance as the configuration spells it (conf_rev.c). */
static const char *balance_name(enum sl_pick_algo a)
{
    switch (a) {
    case SL_PICK_WRR:       return "round-robin";
    case SL_PICK_LEASTCONN: return "least-conn";
    case SL_PICK_HASH:      return "hash";
    case SL_PICK_P2C:       return "random-two";
    default:                return "?";
    }
}

/* Loop time t_ms as wall-clock seconds, by the two clocks read at one
 * instant (now_ms, wall_ms). */
static double wall_of(int64_t t_ms, int64_t now_ms, int64_t wall_ms)
{
    return (double)(wall_ms - (now_ms - t_ms)) / 1000.0;
}

/* One backend's object. */
static void backend_json(struct sl_bufw *w, const struct sl_conf_rpool *p, size_t j,
                         const struct sl_backend_info *i, int64_t now_ms, int64_t wall_ms)
{
    sl_bufw_printf(w, "\n          { ");
    put_str(w, "name", p->backend[j].name);
    sl_bufw_printf(w, ", \"weight\": %u, \"state\": \"%s\", \"healthy\": %s, \"ejected\": %s, ",
        p->backend[j].weight, sl_metrics_backend_state(i), i->healthy ? "true" : "false",
        i->ejected ? "true" : "false");
    if (i->ejected)
        sl_bufw_printf(w, "\"ejected_until\": %.3f, \"ejected_seconds_left\": %.3f,\n",
            wall_of(i->ejected_until_ms, now_ms, wall_ms),
            (double)(i->ejected_until_ms - now_ms) / 1000.0);
    else
        sl_bufw_printf(w, "\"ejected_until\": null, \"ejected_seconds_left\": null,\n");
    sl_bufw_printf(w, "            \"active\": %u, \"requests\": %llu, \"failures\": %llu, "
        "\"ejections\": %llu, \"checks\": %llu, \"check_failures\": %llu,\n"
        "            \"last_check\": ", i->active, i->requests, i->failures,
        i->ejections, i->checks, i->check_failures);
    if (i->last_check_ms == 0) {
        sl_bufw_printf(w, "null");
    } else {
        sl_bufw_printf(w, "{ \"time\": %.3f, \"seconds_ago\": %.3f, \"ok\": %s, ",
            wall_of(i->last_check_ms, now_ms, wall_ms),
            (double)(now_ms - i->last_check_ms) / 1000.0, i->last_check_ok ? "true" : "false");
        if (i->last_check_ok)
            sl_bufw_printf(w, "\"error\": null }");
        else {
            put_str(w, "error", i->last_check_why);
            sl_bufw_printf(w, " }");
        }
    }
    sl_bufw_printf(w, ",\n            \"latency_ms\": { \"count\": %llu, ", i->latency.count);
    put_ms(w, "p50", sl_hist_quantile(&i->latency, 0.50));
    sl_bufw_printf(w, ", ");
    put_ms(w, "p90", sl_hist_quantile(&i->latency, 0.90));
    sl_bufw_printf(w, ", ");
    put_ms(w, "p99", sl_hist_quantile(&i->latency, 0.99));
    sl_bufw_printf(w, " } }");
}

void sl_status_reverse_json(struct sl_bufw *w, const struct sl_backends *b,
                            int64_t now_ms, int64_t wall_ms)
{
    const struct sl_conf_reverse *rc;
    struct sl_backend_info info;
    char text[SL_METRICS_ROUTE_TEXT_MAX];
    size_t p, j, n = 0;

    if (b == NULL)
        return;
    rc = sl_backends_rev(b);
    sl_bufw_printf(w, ",\n  \"reverse\": {\n    \"pools\": [");
    for (p = 0; p < rc->n_pools; p++) {
        const struct sl_conf_rpool *pool = &rc->pools[p];

        sl_bufw_printf(w, "%s\n      { ", p ? "," : "");
        put_str(w, "name", pool->name);
        sl_bufw_printf(w, ", \"balance\": \"%s\", \"health_checks\": %s, "
            "\"max_connections\": %u, \"max_pending\": %u, \"pending\": %u,"
            "\n        \"backends\": [",
            balance_name(pool->algo),
            pool->health_path[0] ? "true" : "false", pool->max_connections,
            pool->max_pending, sl_backends_pending(b, (int)p));
        for (j = 0; j < pool->n_backends; j++) {
            sl_backends_info(b, (int)p, (int)j, now_ms, &info);
            if (j)
                sl_bufw_printf(w, ",");
            backend_json(w, pool, j, &info, now_ms, wall_ms);
        }
        sl_bufw_printf(w, "%s] }", j ? "\n        " : " ");
    }
    sl_bufw_printf(w, "%s],\n    \"routes\": [", p ? "\n    " : " ");
    for (p = 0; p < rc->n_vhosts; p++)
        for (j = 0; j < rc->vhosts[p].n_routes; j++, n++) {
            sl_bufw_printf(w, "%s\n      { ", n ? "," : "");
            put_str(w, "vhost", rc->vhosts[p].name);
            sl_bufw_printf(w, ", \"route\": %zu, ", j);
            put_str(w, "pattern", sl_metrics_route_text(rc, (int)p, (int)j, text, sizeof(text)));
            sl_bufw_printf(w, ", ");
            put_str(w, "pool", rc->pools[rc->vhosts[p].routes[j].pool].name);
            sl_bufw_printf(w, ", \"requests\": %llu }",
                           sl_backends_route_count(b, (int)p, (int)j));
        }
    sl_bufw_printf(w, "%s]\n  }", n ? "\n    " : " ");
}

/* Bytes of a backend's object (and its pool's, first) beyond its names
 * and its check's error, and of a route's; the worst growth of a string
 * escaped (\u00XX). */
#define REV_JSON_BACKEND 1024
#define REV_JSON_ROUTE 256
#define REV_JSON_MULT 6

size_t sl_status_reverse_json_size(const struct sl_conf_reverse *rc)
{
    return sl_metrics_reverse_room(rc, REV_JSON_BACKEND + REV_JSON_MULT *
                                   sizeof(((struct sl_backend_info *)0)->last_check_why),
                                   REV_JSON_MULT, REV_JSON_ROUTE, REV_JSON_MULT);
}

size_t sl_status_size(struct sl_server *srv)
{
    const struct sl_tls *t = srv->conf->reverse.tls.rt;
    const struct sl_api_view *apis = sl_status_apis_now(srv);

    /* a certificate's object: names and file, JSON-escaped (tls_json) */
    return SL_STATUS_MAX + sl_status_reverse_json_size(&srv->conf->reverse) +
           (t ? 1024 + sl_tls_ncerts(t) * 6144 : 0) + 128 * 256 +
           64 + srv->conf->peers.n * 768 + (apis != NULL ? sl_api_json_size(apis) : 0);
}

static int64_t wall_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Parent proxies: a row each (names are [A-Za-z0-9._-], hosts a name or
 * an address: nothing to escape). */
static void peers_json(struct sl_bufw *w, const struct sl_peers *p, int64_t now_ms)
{
    const struct sl_conf_peers *ps;
    struct sl_peer_info info;
    size_t i;

    if (p == NULL)
        return;
    ps = sl_peers_conf(p);
    sl_bufw_printf(w, ",\n  \"peers\": [");
    for (i = 0; i < ps->n; i++) {
        const struct sl_conf_peer *c = &ps->peer[i];
        sl_peers_info(p, (int)i, now_ms, &info);
        sl_bufw_printf(w, "%s\n    { \"name\": \"%s\", \"address\": \"%s%s%s:%u\", "
            "\"weight\": %u, \"tls\": %s, \"state\": \"%s\", \"ejected_ms\": %lld, "
            "\"requests\": %llu, \"failures\": %llu, \"ejections\": %llu }",
            i ? "," : "", c->name, strchr(c->host, ':') ? "[" : "", c->host,
            strchr(c->host, ':') ? "]" : "", c->port, c->weight,
            c->tls ? "true" : "false", info.ejected ? "ejected" : "up",
            (long long)(info.ejected ? info.ejected_until_ms - now_ms : 0),
            info.requests, info.failures, info.ejections);
    }
    sl_bufw_printf(w, " ]");
}

/* HTTPS listeners: handshakes, and each certificate's expiry. */
static void tls_json(struct sl_bufw *w, const struct sl_tls *t)
{
    struct sl_tls_cert_info ci;
    struct sl_tls_stats st;
    int64_t now = (int64_t)time(NULL);
    size_t i;

    if (t == NULL)
        return;
    sl_tls_get_stats(&st);
    sl_bufw_printf(w, ",\n  \"tls\": { \"handshakes\": { \"full\": %llu, \"resumed\": %llu, "
        "\"failed\": %llu },\n    \"certificates\": [", st.handshakes - st.resumed,
        st.resumed, st.failed);
    for (i = 0; i < sl_tls_ncerts(t); i++) {
        sl_tls_cert(t, i, &ci);
        sl_bufw_printf(w, "%s\n      { ", i ? "," : "");
        put_str(w, "file", ci.file);
        sl_bufw_printf(w, ", ");
        put_str(w, "names", ci.names);
        sl_bufw_printf(w, ", ");
        put_str(w, "key", ci.key_type);
        sl_bufw_printf(w, ", \"not_after\": %lld, \"expires_in_seconds\": %lld }",
                       (long long)ci.not_after, (long long)(ci.not_after - now));
    }
    sl_bufw_printf(w, " ] }");
}

/* Rate limits: refusals per limit, the bucket table. */
static void limits_json(struct sl_bufw *w, const struct sl_server *srv)
{
    const struct rl_count *rc;
    size_t n = rl_state_counts(srv->ratelimit, &rc), i, used, cap;
    unsigned long long evicted;

    if (srv->ratelimit == NULL)
        return;
    rl_state_table(srv->ratelimit, &used, &cap, &evicted);
    sl_bufw_printf(w, ",\n  \"rate_limits\": { \"buckets\": %zu, \"capacity\": %zu, "
                   "\"evictions\": %llu, \"refused\": {", used, cap, evicted);
    for (i = 0; i < n; i++) {
        sl_bufw_printf(w, "%s ", i ? "," : "");
        sl_bufw_json(w, rc[i].name);
        sl_bufw_printf(w, ": %llu", rc[i].limited);
    }
    sl_bufw_printf(w, " } }");
}

/* The gateway's quotas: refusals per quota, the counters' table. */
static void quotas_json(struct sl_bufw *w, const struct sl_server *srv)
{
    const struct sl_qcount *qc;
    size_t n = sl_qstore_counts(srv->quota, &qc), i;
    struct acl_quota_stats st;

    if (srv->quota == NULL)
        return;
    acl_quota_get_stats(sl_qstore_table(srv->quota), &st);
    sl_bufw_printf(w, ",\n  \"quotas\": { \"counters\": %zu, \"capacity\": %zu, "
                   "\"uncounted\": %llu, \"refused\": {", st.entries, st.capacity, st.full);
    for (i = 0; i < n; i++) {
        sl_bufw_printf(w, "%s ", i ? "," : "");
        sl_bufw_json(w, qc[i].name);
        sl_bufw_printf(w, ": %llu", qc[i].refused);
    }
    sl_bufw_printf(w, " } }");
}

/* reverse.compression: responses coded per coding, bytes, busy skips. */
static void zip_json(struct sl_bufw *w, struct sl_server *srv)
{
    const struct sl_stats *s = &sl_server_sums(srv)->stats;

    if (!srv->conf->reverse.zip.on)
        return;
    sl_bufw_printf(w, ",\n  \"compression\": { \"gzip\": %llu, \"br\": %llu, "
                   "\"bytes_in\": %llu, \"bytes_out\": %llu, \"skipped_busy\": %llu, "
                   "\"streams\": %zu }", s->zip_responses[0], s->zip_responses[1],
                   s->zip_in, s->zip_out, s->zip_busy, srv->zip_streams);
}

/* Proxy authentication, when configured: failures of either scheme, and
 * Negotiate's sign-ins and worker pool. */
static void auth_json(struct sl_bufw *w, struct sl_server *srv)
{
    const struct sl_conf_policy *p = &srv->conf->policy;
    const struct sl_stats *s = &sl_server_sums(srv)->stats;
    struct sl_workq_stats ws;

    if (p->auth == NULL && p->negotiate == NULL)
        return;
    sl_bufw_printf(w, ",\n  \"auth\": { \"failures\": %llu", s->auth_failures);
    if (p->negotiate != NULL) {
        memset(&ws, 0, sizeof(ws));
        if (srv->workq != NULL)
            sl_workq_get_stats(srv->workq, &ws);
        sl_bufw_printf(w, ", \"negotiate\": { \"ok\": %llu, \"failed\": %llu, "
                       "\"busy\": %llu, \"gss_checks\": %llu, \"threads\": %u, "
                       "\"queued\": %zu, \"running\": %zu }", s->negotiate_ok,
                       s->negotiate_failed, s->negotiate_busy, s->gss_checks,
                       ws.threads, ws.queued, ws.running);
    }
    sl_bufw_printf(w, " }");
}

int sl_status_write(struct sl_buf *out, struct sl_server *srv)
{
    struct sl_bufw w = { out, 0 };
    struct sl_status_view v;
    const struct sl_metrics *m = &sl_server_sums(srv)->metrics;
    const struct sl_api_view *apis;
    size_t i;

    sl_status_collect(srv, &v);
    sl_bufw_printf(&w, "{\n  ");
    put_str(&w, "version", PACKAGE_VERSION);
    sl_bufw_printf(&w, ",\n  \"pid\": %ld,\n  \"uptime_seconds\": %lld.%03lld,\n",
        (long)getpid(), (long long)(v.up_ms / 1000), (long long)(v.up_ms % 1000));
    sl_bufw_printf(&w, "  \"config\": { \"generation\": %u, ", srv->conf_generation);
    if (srv->reload_time != 0) {
        sl_bufw_printf(&w, "\"last_reload_time\": %lld, ", (long long)srv->reload_time);
        put_str(&w, "last_reload_result", srv->reload_result);
    } else {
        sl_bufw_printf(&w, "\"last_reload_time\": null, \"last_reload_result\": null");
    }
    sl_bufw_printf(&w, " },\n  \"process\": { \"rss_bytes\": %lld, \"cpu_seconds\": %.3f, "
        "\"open_fds\": %ld, ", v.rss_bytes, v.cpu_seconds, v.open_fds);
    if (v.heap_used >= 0)
        sl_bufw_printf(&w, "\"heap_used_bytes\": %lld, \"heap_free_bytes\": %lld, ",
                       v.heap_used, v.heap_free);
    else
        sl_bufw_printf(&w, "\"heap_used_bytes\": null, \"heap_free_bytes\": null, ");
    sl_bufw_printf(&w, "\"spare_buffer_bytes\": %zu },\n", v.spare_buffers);
    sl_bufw_printf(&w, "  \"connections\": { \"clients\": %zu, \"accepted\": %llu, "
        "\"tunnels\": %llu, \"tunnels_open\": %zu, \"origins_busy\": %zu, "
        "\"origins_idle\": %zu,\n", v.g.clients, sl_server_sums(srv)->stats.accepted,
        sl_server_sums(srv)->stats.tunnels, v.g.tunnels, v.g.origins_busy, v.g.origins_idle);
    sl_bufw_printf(&w, "    \"client_aborts\": %llu, \"fetches_without_client\": %zu,\n",
        sl_server_sums(srv)->stats.client_aborts, srv->nheadless);
    accept_state(&w, srv);
    sl_bufw_printf(&w, " },\n");
    sl_bufw_printf(&w, "  \"dns\": { \"entries\": %zu, \"lookups\": %llu, \"hits\": %llu, "
        "\"negative_hits\": %llu, \"queries\": %llu, ", v.dns.entries, v.dns.lookups,
        v.dns.hits, v.dns.negative_hits, v.dns.queries);
    put_ratio(&w, "hit_ratio", (double)(v.dns.hits + v.dns.negative_hits),
              (double)v.dns.lookups);
    sl_bufw_printf(&w, " },\n  \"cache\": { \"enabled\": %s, \"bytes\": %llu, \"max_bytes\": %llu, "
        "\"objects\": %llu, \"evictions\": %llu, ", srv->store ? "true" : "false",
        (unsigned long long)v.cache.bytes, (unsigned long long)v.cache.max_size,
        (unsigned long long)v.cache.objects, (unsigned long long)v.cache.evicted);
    put_ratio(&w, "fill_percent", 100.0 * (double)v.cache.bytes, (double)v.cache.max_size);
    sl_bufw_printf(&w, ", \"late_joins\": %llu, \"range_fetches\": %llu",
        sl_server_sums(srv)->stats.late_joins, sl_server_sums(srv)->stats.range_fetches);
    sl_bufw_printf(&w, ", \"cross_worker\": { \"joins\": %llu, \"served\": %llu, \"forwarded\": %llu, "
        "\"table_full\": %llu, \"revalidations_skipped\": %llu }",
        sl_server_sums(srv)->stats.xcf_joins, sl_server_sums(srv)->stats.xcf_served,
        sl_server_sums(srv)->stats.xcf_forwarded, sl_server_sums(srv)->stats.xcf_full,
        sl_server_sums(srv)->stats.xcf_reval_skipped);
    store_json(&w, srv, &v.cache);
    sl_bufw_printf(&w, " },\n  \"requests\": { \"total\": %llu, \"hits\": %llu, \"misses\": %llu, "
        "\"errors\": %llu, \"blocked\": %llu, \"bytes_to_clients\": %llu, "
        "\"hit_bytes\": %llu, \"miss_bytes\": %llu, \"bytes_from_origins\": %llu },\n",
        v.now.requests, v.now.hits, v.now.misses, v.now.errors, v.now.blocked,
        v.now.bytes_out, v.now.hit_bytes, v.now.miss_bytes, v.now.bytes_in);
    sl_bufw_printf(&w, "  \"blocked_by_category\": {");
    for (i = 0; i < m->ncats; i++) {
        sl_bufw_printf(&w, "%s ", i ? "," : "");
        sl_bufw_json(&w, m->cats[i].name);
        sl_bufw_printf(&w, ": %llu", m->cats[i].n);
    }
    if (m->cat_other)
        sl_bufw_printf(&w, "%s \"(other)\": %llu", m->ncats ? "," : "", m->cat_other);
    sl_bufw_printf(&w, " },\n  \"top_domains\": {\n");
    top(&w, "by_requests", "host", "requests", &m->top_requests);
    sl_bufw_printf(&w, ",\n");
    top(&w, "by_bytes", "host", "bytes", &m->top_bytes);
    sl_bufw_printf(&w, "\n  },\n  \"top_users\": {\n");
    top(&w, "by_requests", "user", "requests", &m->top_users);
    sl_bufw_printf(&w, ",\n");
    top(&w, "by_bytes", "user", "bytes", &m->top_user_bytes);
    sl_bufw_printf(&w, "\n  }");
    sl_status_reverse_json(&w, srv->conf->reverse.rt, sl_loop_now(srv->loop), wall_now_ms());
    if ((apis = sl_status_apis(srv)) != NULL)
        sl_api_json(&w, apis);
    peers_json(&w, srv->conf->peers.rt, sl_loop_now(srv->loop));
    tls_json(&w, srv->conf->reverse.tls.rt);
    limits_json(&w, srv);
    quotas_json(&w, srv);
    zip_json(&w, srv);
    auth_json(&w, srv);
    sl_status_workers_json(&w, srv);
    sl_bufw_printf(&w, ",\n  \"windows\": {\n");
    for (i = 0; i < SL_STATUS_NWIN; i++) {
        window(&w, sl_status_win_name[i], &v.win[i]);
        sl_bufw_printf(&w, i + 1 < SL_STATUS_NWIN ? ",\n" : "\n");
    }
    sl_bufw_printf(&w, "  },\n");
    history(&w, srv->status.ring, &v.now);
    sl_bufw_printf(&w, ",\n  \"sample_interval_seconds\": %.3f,\n  \"samples\": %zu\n}\n",
        (double)srv->status.interval_ms / 1000.0, srv->status.ring->n);
    return w.rc;
}
