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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cache/store.h"
#include "squidlike/client_int.h"
#include "squidlike/dns.h"
#include "squidlike/status.h"
#include "squidlike/server.h"

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
    D(hit_bytes); D(miss_bytes); D(bytes_out); D(bytes_in);
#undef D
    sl_hist_sub(&delta->svc_hit, &cur->svc_hit, &base->svc_hit);
    sl_hist_sub(&delta->svc_miss, &cur->svc_miss, &base->svc_miss);
    sl_hist_sub(&delta->dns, &cur->dns, &base->dns);
    delta->t_ms = cur->t_ms - base->t_ms;
    return 0;
}

/* --- the sampler -------------------------------------------------------- */

void sl_status_snapshot(struct sl_server *srv, struct sl_status_sample *s)
{
    const struct sl_metrics *m = &srv->metrics;
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
    s->bytes_in = srv->stats.bytes_from_origins;
    s->hit_bytes = m->bytes[SL_METRICS_HIT];
    s->miss_bytes = m->bytes[SL_METRICS_MISS];
    s->errors = srv->stats.errors;
    s->blocked = srv->stats.denied;
    s->bytes_out = srv->stats.bytes_to_clients;
}

void sl_status_gauges(struct sl_server *srv, struct sl_status_gauges *g)
{
    const struct sl_client *c;

    memset(g, 0, sizeof(*g));
    g->clients = srv->nclients;
    for (c = srv->clients; c != NULL; c = sl_client_next((struct sl_client *)c)) {
        if (c->state == CL_TUNNEL)
            g->tunnels++;
        if (c->txn.origin != NULL)
            g->origins_busy++;
    }
    g->origins_idle = sl_pool_idle_count(srv->pool);
}

static void on_sample(struct sl_timer *t)
{
    struct sl_server *srv = t->data;
    struct sl_status_sample s;

    sl_status_snapshot(srv, &s);
    sl_status_ring_push(&srv->status.ring, &s);
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
    sl_status_snapshot(srv, &s);
    sl_status_ring_push(&st->ring, &s);
    st->timer.cb = on_sample;
    st->timer.data = srv;
    sl_timer_set(srv->loop, &st->timer, st->interval_ms);
}

void sl_status_stop(struct sl_server *srv)
{
    sl_timer_stop(srv->loop, &srv->status.timer);
}

/* --- the page ----------------------------------------------------------- */

/* "key": "s" with s escaped as JSON wants (control bytes as \u00XX). */
static void put_str(struct sl_bufw *w, const char *key, const char *s)
{
    sl_bufw_printf(w, "\"%s\": \"", key);
    for (; s && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            sl_bufw_printf(w, "\\%c", ch);
        else if (ch < 0x20 || ch == 0x7f)
            sl_bufw_printf(w, "\\u%04x", ch);
        else
            sl_bufw_printf(w, "%c", ch);
    }
    sl_bufw_printf(w, "\"");
}

/* A ratio or rate, or null when there is nothing to divide by. */
static void put_ratio(struct sl_bufw *w, const char *key, double num, double den)
{
    if (den > 0)
        sl_bufw_printf(w, "\"%s\": %.6f", key, num / den);
    else
        sl_bufw_printf(w, "\"%s\": null", key);
}

static long rss_kib(void)
{
    char line[256];
    long kib = -1;
    FILE *f = fopen("/proc/self/status", "re");

    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kib = strtol(line + 6, NULL, 10);
            break;
        }
    fclose(f);
    return kib;
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

/* One window's object: "w5m": { ... } */
static void window(struct sl_bufw *w, const char *key, const struct sl_status_sample *d)
{
    sl_bufw_printf(w, "    \"%s\": { \"seconds\": %.3f, \"requests\": %llu, \"hits\": %llu, "
        "\"misses\": %llu, \"errors\": %llu, ", key, (double)d->t_ms / 1000.0,
        d->requests, d->hits, d->misses, d->errors);
    put_ratio(w, "hit_ratio", (double)d->hits, (double)(d->hits + d->misses));
    sl_bufw_printf(w, ", ");
    put_ratio(w, "byte_hit_ratio", (double)d->hit_bytes,
              (double)(d->hit_bytes + d->miss_bytes));
    sl_bufw_printf(w, ", ");
    put_ratio(w, "requests_per_second", (double)d->requests * 1000.0, (double)d->t_ms);
    sl_bufw_printf(w, ", ");
    put_ratio(w, "error_rate", (double)d->errors, (double)d->requests);
    sl_bufw_printf(w, " }");
}

int sl_status_write(struct sl_buf *out, struct sl_server *srv)
{
    struct sl_bufw w = { out, 0 };
    struct sl_status_sample now, d5, d60, zero = { 0 };
    struct sl_dns_stats ds;
    struct cache_store_stats cs = { 0 };
    struct rusage ru;
    double cpu = 0;
    int64_t up;

    sl_status_snapshot(srv, &now);
    up = now.t_ms - srv->metrics.start_ms;
    if (up < 0)
        up = 0;
    if (sl_status_window(&srv->status.ring, &now, 5 * 60000, &d5) < 0)
        d5 = zero;
    if (sl_status_window(&srv->status.ring, &now, 60 * 60000, &d60) < 0)
        d60 = zero;
    sl_dns_get_stats(srv->dns, &ds);
    if (srv->store != NULL)
        cache_store_get_stats(srv->store, &cs);
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
              ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;

    sl_bufw_printf(&w, "{\n  ");
    put_str(&w, "version", PACKAGE_VERSION);
    sl_bufw_printf(&w, ",\n  \"pid\": %ld,\n  \"uptime_seconds\": %lld.%03lld,\n",
        (long)getpid(), (long long)(up / 1000), (long long)(up % 1000));
    sl_bufw_printf(&w, "  \"config\": { \"generation\": %u, ", srv->conf_generation);
    if (srv->reload_time != 0) {
        sl_bufw_printf(&w, "\"last_reload_time\": %lld, ", (long long)srv->reload_time);
        put_str(&w, "last_reload_result", srv->reload_result);
    } else {
        sl_bufw_printf(&w, "\"last_reload_time\": null, \"last_reload_result\": null");
    }
    sl_bufw_printf(&w, " },\n  \"process\": { \"rss_bytes\": %lld, \"cpu_seconds\": %.3f, "
        "\"open_fds\": %ld },\n", rss_kib() < 0 ? -1LL : (long long)rss_kib() * 1024,
        cpu, open_fds());
    sl_bufw_printf(&w, "  \"connections\": { \"clients\": %zu, \"accepted\": %llu, "
        "\"tunnels\": %llu },\n", srv->nclients, srv->stats.accepted, srv->stats.tunnels);
    sl_bufw_printf(&w, "  \"dns\": { \"entries\": %zu, \"lookups\": %llu, \"hits\": %llu, "
        "\"negative_hits\": %llu, \"queries\": %llu, ", ds.entries, ds.lookups,
        ds.hits, ds.negative_hits, ds.queries);
    put_ratio(&w, "hit_ratio", (double)(ds.hits + ds.negative_hits), (double)ds.lookups);
    sl_bufw_printf(&w, " },\n  \"cache\": { \"enabled\": %s, \"bytes\": %llu, \"max_bytes\": %llu, "
        "\"objects\": %llu, \"evictions\": %llu, ", srv->store ? "true" : "false",
        (unsigned long long)cs.bytes, (unsigned long long)cs.max_size,
        (unsigned long long)cs.objects, (unsigned long long)cs.evicted);
    put_ratio(&w, "fill_percent", 100.0 * (double)cs.bytes, (double)cs.max_size);
    sl_bufw_printf(&w, " },\n  \"requests\": { \"total\": %llu, \"hits\": %llu, \"misses\": %llu, "
        "\"errors\": %llu, \"blocked\": %llu, \"bytes_to_clients\": %llu, "
        "\"hit_bytes\": %llu, \"miss_bytes\": %llu, \"bytes_from_origins\": null },\n",
        now.requests, now.hits, now.misses, now.errors, now.blocked, now.bytes_out,
        now.hit_bytes, now.miss_bytes);
    zero = now;
    zero.t_ms = up;
    sl_bufw_printf(&w, "  \"windows\": {\n");
    window(&w, "since_start", &zero);
    sl_bufw_printf(&w, ",\n");
    window(&w, "last_5m", &d5);
    sl_bufw_printf(&w, ",\n");
    window(&w, "last_60m", &d60);
    sl_bufw_printf(&w, "\n  },\n  \"sample_interval_seconds\": %.3f,\n  \"samples\": %zu\n}\n",
        (double)srv->status.interval_ms / 1000.0, srv->status.ring.n);
    return w.rc;
}
