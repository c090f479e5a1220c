/*
 * statuspage.c - /squidlike/status, the dashboard for people: one HTML
 * page built here from the numbers status.json shows (sl_status_collect).
 * It loads nothing (no script, font, stylesheet or image from anywhere:
 * corporate networks are often closed, and a page with nothing to fetch
 * has nothing to break; the CSP header says so to the browser too),
 * refreshes itself with a meta refresh, and draws the last hour from the
 * sampler's ring as inline SVG.
 *
 * Every number sits in an element with an id and its raw value in
 * data-value ("" when there is none), so that a test can read back
 * exactly what the JSON says. Host names come from requests and category
 * names from the config: both are HTML-escaped.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "squidlike/apistats.h"
#include "squidlike/backend.h"
#include "squidlike/peer.h"
#include "squidlike/server.h"
#include "squidlike/status.h"
#include "squidlike/tls.h"

#define REFRESH_S 10
#define TOP_SHOWN 10
#define GRAPH_W 600
#define GRAPH_H 120
#define HOUR_MS (3600 * 1000)

/* --- numbers in elements ------------------------------------------------ */

/* A ratio as a percentage; r < 0: none. */
static void pct(struct sl_bufw *w, const char *id, double r)
{
    if (r < 0)
        sl_bufw_printf(w, "<b id=\"%s\" data-value=\"\">&ndash;</b>", id);
    else
        sl_bufw_printf(w, "<b id=\"%s\" data-value=\"%.6f\">%.1f%%</b>", id, r, 100 * r);
}

/* v bytes (>= 0) as "12.3&nbsp;MiB". */
static void human(struct sl_bufw *w, double v)
{
    static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
    size_t u = 0;

    while (v >= 1024 && u + 1 < sizeof(unit) / sizeof(unit[0])) {
        v /= 1024;
        u++;
    }
    sl_bufw_printf(w, "%.*f&nbsp;%s", u ? 1 : 0, v, unit[u]);
}

static void bytes(struct sl_bufw *w, const char *id, long long n)
{
    sl_bufw_printf(w, "<b id=\"%s\" data-value=\"%lld\">%s", id, n, n < 0 ? "&minus;" : "");
    human(w, (double)(n < 0 ? -n : n));
    sl_bufw_printf(w, "</b>");
}

static void count(struct sl_bufw *w, const char *id, unsigned long long n)
{
    sl_bufw_printf(w, "<b id=\"%s\" data-value=\"%llu\">%llu</b>", id, n, n);
}

static void rate(struct sl_bufw *w, const char *id, double r)
{
    if (r < 0)
        sl_bufw_printf(w, "<b id=\"%s\" data-value=\"\">&ndash;</b>", id);
    else
        sl_bufw_printf(w, "<b id=\"%s\" data-value=\"%.6f\">%.1f</b>", id, r, r);
}

/* Microseconds shown as milliseconds; us < 0: none. */
static void ms(struct sl_bufw *w, const char *id, double us)
{
    if (us < 0)
        sl_bufw_printf(w, "<td id=\"%s\" data-value=\"\">&ndash;</td>", id);
    else
        sl_bufw_printf(w, "<td id=\"%s\" data-value=\"%.3f\">%.*f</td>", id, us / 1000,
                       us < 10000 ? 2 : 0, us / 1000);
}

/* --- tiles -------------------------------------------------------------- */

static const char *const win_label[SL_STATUS_NWIN] = {
    "since start", "last 5 min", "last 60 min"
};

static void tile_begin(struct sl_bufw *w, const char *title)
{
    sl_bufw_printf(w, "<section><h2>%s</h2>\n", title);
}

static void tile_end(struct sl_bufw *w)
{
    sl_bufw_printf(w, "</section>\n");
}

/* A table with a column per window; row() writes one cell per window. */
typedef void row_fn(struct sl_bufw *w, const char *id, const struct sl_status_sample *d);

static void by_window(struct sl_bufw *w, const struct sl_status_view *v,
                      const char *const *labels, const char *const *ids,
                      row_fn *const *rows, size_t nrows)
{
    char id[64];
    size_t r, i;

    sl_bufw_printf(w, "<table><tr><th></th>");
    for (i = 0; i < SL_STATUS_NWIN; i++)
        sl_bufw_printf(w, "<th>%s</th>", win_label[i]);
    sl_bufw_printf(w, "</tr>\n");
    for (r = 0; r < nrows; r++) {
        sl_bufw_printf(w, "<tr><th>%s</th>", labels[r]);
        for (i = 0; i < SL_STATUS_NWIN; i++) {
            snprintf(id, sizeof(id), "%s_%s", ids[r], sl_status_win_name[i]);
            sl_bufw_printf(w, "<td>");
            rows[r](w, id, &v->win[i]);
            sl_bufw_printf(w, "</td>");
        }
        sl_bufw_printf(w, "</tr>\n");
    }
    sl_bufw_printf(w, "</table>\n");
}

static void r_hit(struct sl_bufw *w, const char *id, const struct sl_status_sample *d)
{
    pct(w, id, sl_status_ratio((double)d->hits, (double)(d->hits + d->misses)));
}

static void r_bhit(struct sl_bufw *w, const char *id, const struct sl_status_sample *d)
{
    pct(w, id, sl_status_ratio((double)d->hit_bytes, (double)(d->hit_bytes + d->miss_bytes)));
}

static void r_rps(struct sl_bufw *w, const char *id, const struct sl_status_sample *d)
{
    rate(w, id, sl_status_ratio((double)d->requests * 1000, (double)d->t_ms));
}

static void r_err(struct sl_bufw *w, const char *id, const struct sl_status_sample *d)
{
    pct(w, id, sl_status_ratio((double)d->errors, (double)d->requests));
}

static void r_out(struct sl_bufw *w, const char *id, const struct sl_status_sample *d)
{
    bytes(w, id, (long long)d->bytes_out);
}

static void r_in(struct sl_bufw *w, const char *id, const struct sl_status_sample *d)
{
    bytes(w, id, (long long)d->bytes_in);
}

static void r_saved(struct sl_bufw *w, const char *id, const struct sl_status_sample *d)
{
    bytes(w, id, sl_status_saved(d));
}

static void tiles_traffic(struct sl_bufw *w, const struct sl_status_view *v)
{
    static const char *const l1[] = { "requests", "bytes" };
    static const char *const i1[] = { "hit_ratio", "byte_hit_ratio" };
    static row_fn *const f1[] = { r_hit, r_bhit };
    static const char *const l2[] = { "requests/s", "errors" };
    static const char *const i2[] = { "requests_per_second", "error_rate" };
    static row_fn *const f2[] = { r_rps, r_err };
    static const char *const l3[] = { "to clients", "from origins", "saved" };
    static const char *const i3[] = { "bytes_to_clients", "bytes_from_origins",
                                      "bandwidth_saved_bytes" };
    static row_fn *const f3[] = { r_out, r_in, r_saved };

    tile_begin(w, "Hit ratio");
    by_window(w, v, l1, i1, f1, 2);
    tile_end(w);
    tile_begin(w, "Load");
    by_window(w, v, l2, i2, f2, 2);
    tile_end(w);
    tile_begin(w, "Bandwidth");
    by_window(w, v, l3, i3, f3, 3);
    tile_end(w);
}

static void tile_times(struct sl_bufw *w, const struct sl_status_view *v)
{
    static const char *const kname[] = { "hit", "miss", "dns" };
    static const char *const klabel[] = { "hits", "misses", "DNS queries" };
    static const double q[] = { 0.50, 0.95, 0.99 };
    static const char *const qname[] = { "p50", "p95", "p99" };
    size_t wi, k, i;
    char id[64];

    tile_begin(w, "Service time (ms)");
    for (wi = SL_STATUS_LAST_5M; ; wi = SL_STATUS_SINCE_START) {
        const struct sl_status_sample *d = &v->win[wi];
        const struct sl_hist *h[] = { &d->svc_hit, &d->svc_miss, &d->dns };

        sl_bufw_printf(w, "<table><tr><th>%s</th><th>median</th><th>p95</th>"
                       "<th>p99</th><th>count</th></tr>\n", win_label[wi]);
        for (k = 0; k < 3; k++) {
            sl_bufw_printf(w, "<tr><th>%s</th>", klabel[k]);
            for (i = 0; i < 3; i++) {
                snprintf(id, sizeof(id), "svc_%s_%s_%s", kname[k], qname[i],
                         sl_status_win_name[wi]);
                ms(w, id, sl_hist_quantile(h[k], q[i]));
            }
            snprintf(id, sizeof(id), "svc_%s_count_%s", kname[k], sl_status_win_name[wi]);
            sl_bufw_printf(w, "<td>");
            count(w, id, h[k]->count);
            sl_bufw_printf(w, "</td></tr>\n");
        }
        sl_bufw_printf(w, "</table>\n");
        if (wi == SL_STATUS_SINCE_START)
            break;
    }
    tile_end(w);
}

/* A two-column table of name and value. */
static void kv(struct sl_bufw *w, const char *label, const char *id,
               unsigned long long n)
{
    sl_bufw_printf(w, "<tr><th>%s</th><td>", label);
    count(w, id, n);
    sl_bufw_printf(w, "</td></tr>\n");
}

/* Rows of the cache tile: the disk under the store beside its fill, and
 * whether anything is being stored at all (a failed commit pauses it). */
static void cache_writes(struct sl_bufw *w, const struct cache_store_stats *c)
{
    sl_bufw_printf(w, "<tr><th>disk free</th><td>");
    if (c->fs_size >= 0) {
        bytes(w, "cache_fs_free", c->fs_avail);
        sl_bufw_printf(w, " of ");
        bytes(w, "cache_fs_size", c->fs_size);
        sl_bufw_printf(w, " (");
        pct(w, "cache_fs_free_ratio", sl_status_ratio((double)c->fs_avail, (double)c->fs_size));
        sl_bufw_printf(w, ")");
    } else {
        sl_bufw_printf(w, "<b id=\"cache_fs_free\" data-value=\"\">&ndash;</b>");
    }
    sl_bufw_printf(w, "</td></tr>\n<tr><th>storing</th><td>");
    if (c->paused == 0)
        sl_bufw_printf(w, "<b id=\"cache_storing\" data-value=\"1\">yes</b>");
    else
        sl_bufw_printf(w, "<b id=\"cache_storing\" data-value=\"0\" style=\"color:#b00020\">"
                       "paused</b>: %s (%s); probing again in %lld&nbsp;s",
                       strerror(-c->paused), cache_store_fail_name[c->paused_why],
                       (long long)(c->retry_ms + 999) / 1000);
    sl_bufw_printf(w, "</td></tr>\n");
    kv(w, "commits failed", "cache_write_errors", c->write_errors);
    kv(w, "objects dropped by them", "cache_stores_dropped", c->dropped);
    kv(w, "not stored while paused", "cache_stores_skipped", c->skipped);
}

/* Whether new clients get in, and why not (data-value: "yes", "paused",
 * "failing"); the failed accepts since start. */
static void accept_rows(struct sl_bufw *w, struct sl_server *srv)
{
    const struct sl_accept_fails *a = &srv->accept_fails;
    unsigned long long all = 0;
    size_t i;

    for (i = 0; i < SL_ACCEPT_NWHY; i++)
        all += a->n[i];
    sl_bufw_printf(w, "<tr><th>accepting</th><td>");
    if (a->failing)
        sl_bufw_printf(w, "<b id=\"accepting\" data-value=\"failing\">no: %s, for %lld s "
            "(%llu failures)</b>", strerror(a->err),
            (long long)((sl_loop_now(srv->loop) - a->since_ms) / 1000), a->run);
    else if (srv->accept_paused)
        sl_bufw_printf(w, "<b id=\"accepting\" data-value=\"paused\">paused: "
            "max_connections</b>");
    else
        sl_bufw_printf(w, "<b id=\"accepting\" data-value=\"yes\">yes</b>");
    sl_bufw_printf(w, "</td></tr>\n");
    kv(w, "failed accepts", "accept_failures", all);
}

static void tiles_state(struct sl_bufw *w, struct sl_server *srv,
                        const struct sl_status_view *v)
{
    tile_begin(w, "Connections");
    sl_bufw_printf(w, "<table>\n");
    kv(w, "clients", "clients", v->g.clients);
    kv(w, "tunnels", "tunnels_open", v->g.tunnels);
    kv(w, "to origins, busy", "origins_busy", v->g.origins_busy);
    kv(w, "to origins, idle", "origins_idle", v->g.origins_idle);
    kv(w, "accepted in all", "accepted", sl_server_sums(srv)->stats.accepted);
    accept_rows(w, srv);
    sl_bufw_printf(w, "</table>\n");
    tile_end(w);

    tile_begin(w, "Cache");
    sl_bufw_printf(w, "<table>\n");
    if (srv->store == NULL)
        sl_bufw_printf(w, "<tr><td colspan=2>off (no cache.dir)</td></tr>\n");
    sl_bufw_printf(w, "<tr><th>stored</th><td>");
    bytes(w, "cache_bytes", (long long)v->cache.bytes);
    sl_bufw_printf(w, " of ");
    bytes(w, "cache_max_bytes", (long long)v->cache.max_size);
    sl_bufw_printf(w, "</td></tr>\n<tr><th>full</th><td>");
    pct(w, "cache_fill", sl_status_ratio((double)v->cache.bytes, (double)v->cache.max_size));
    sl_bufw_printf(w, "</td></tr>\n");
    kv(w, "objects", "cache_objects", v->cache.objects);
    kv(w, "evictions", "cache_evictions", v->cache.evicted);
    if (srv->store != NULL)
        cache_writes(w, &v->cache);
    sl_bufw_printf(w, "</table>\n");
    tile_end(w);

    tile_begin(w, "DNS");
    sl_bufw_printf(w, "<table>\n");
    kv(w, "names cached", "dns_entries", v->dns.entries);
    kv(w, "lookups", "dns_lookups", v->dns.lookups);
    sl_bufw_printf(w, "<tr><th>answered from cache</th><td>");
    pct(w, "dns_hit_ratio", sl_status_ratio((double)(v->dns.hits + v->dns.negative_hits),
                                            (double)v->dns.lookups));
    sl_bufw_printf(w, "</td></tr>\n");
    kv(w, "queries sent", "dns_queries", v->dns.queries);
    sl_bufw_printf(w, "</table>\n");
    tile_end(w);
}

static void tile_blocked(struct sl_bufw *w, const struct sl_metrics *m)
{
    char id[32];
    size_t i;

    tile_begin(w, "Blocked, by category");
    sl_bufw_printf(w, "<table id=\"blocked\">\n");
    if (m->ncats == 0 && m->cat_other == 0)
        sl_bufw_printf(w, "<tr><td>none yet</td></tr>\n");
    for (i = 0; i < m->ncats; i++) {
        sl_bufw_printf(w, "<tr><th>");
        if (m->cats[i].name[0] != '\0')
            sl_bufw_html(w, m->cats[i].name);
        else
            sl_bufw_printf(w, "<i>(a rule, no category)</i>");
        snprintf(id, sizeof(id), "blocked_%zu", i);
        sl_bufw_printf(w, "</th><td>");
        count(w, id, m->cats[i].n);
        sl_bufw_printf(w, "</td></tr>\n");
    }
    if (m->cat_other != 0)
        kv(w, "<i>(other)</i>", "blocked_other", m->cat_other);
    sl_bufw_printf(w, "</table>\n");
    tile_end(w);
}

/* reverse.compression: what was coded, and how much smaller. */
static void tile_zip(struct sl_bufw *w, struct sl_server *srv)
{
    const struct sl_stats *s = &sl_server_sums(srv)->stats;

    tile_begin(w, "Compression");
    sl_bufw_printf(w, "<table id=\"compression\">\n");
    kv(w, "gzip responses", "zip_gzip", s->zip_responses[0]);
    kv(w, "br responses", "zip_br", s->zip_responses[1]);
    sl_bufw_printf(w, "<tr><th>bytes in</th><td>");
    bytes(w, "zip_in", (long long)s->zip_in);
    sl_bufw_printf(w, "</td></tr>\n<tr><th>bytes out</th><td>");
    bytes(w, "zip_out", (long long)s->zip_out);
    sl_bufw_printf(w, "</td></tr>\n<tr><th>out / in, %%</th><td>");
    rate(w, "zip_ratio", s->zip_in ? 100.0 * (double)s->zip_out / (double)s->zip_in : -1);
    sl_bufw_printf(w, "</td></tr>\n");
    kv(w, "sent uncompressed (busy)", "zip_busy", s->zip_busy);
    kv(w, "compressing now", "zip_streams", srv->zip_streams);
    sl_bufw_printf(w, "</table>\n<p><small>Hits of a stored compressed variant are "
                   "sent as stored: they are not counted here.</small></p>\n");
    tile_end(w);
}

static void tile_top(struct sl_bufw *w, const char *title, const char *id,
                     const struct sl_top *t, int in_bytes)
{
    const struct sl_top_entry *e[TOP_SHOWN];
    size_t n = sl_top_list(t, e, TOP_SHOWN), i;
    char cid[48];

    tile_begin(w, title);
    sl_bufw_printf(w, "<table id=\"%s\">\n", id);
    if (n == 0)
        sl_bufw_printf(w, "<tr><td>none yet</td></tr>\n");
    for (i = 0; i < n; i++) {
        snprintf(cid, sizeof(cid), "%s_%zu", id, i);
        sl_bufw_printf(w, "<tr><th>");
        sl_bufw_html(w, e[i]->name);
        sl_bufw_printf(w, "</th><td>");
        if (in_bytes)
            bytes(w, cid, (long long)e[i]->count);
        else
            count(w, cid, e[i]->count);
        /* Space-Saving may count high by up to err: say so. */
        if (e[i]->err)
            sl_bufw_printf(w, " <small>(at most %llu too high)</small>", e[i]->err);
        sl_bufw_printf(w, "</td></tr>\n");
    }
    sl_bufw_printf(w, "</table>\n");
    tile_end(w);
}

static void tile_process(struct sl_bufw *w, struct sl_server *srv,
                         const struct sl_status_view *v)
{
    char when[64];
    struct tm tm;

    tile_begin(w, "Process");
    sl_bufw_printf(w, "<table>\n<tr><th>uptime</th><td><b id=\"uptime\" data-value=\"%lld\">"
        "%lldd %02lld:%02lld:%02lld</b></td></tr>\n", (long long)(v->up_ms / 1000),
        (long long)(v->up_ms / 86400000), (long long)(v->up_ms / 3600000 % 24),
        (long long)(v->up_ms / 60000 % 60), (long long)(v->up_ms / 1000 % 60));
    sl_bufw_printf(w, "<tr><th>memory (RSS)</th><td>");
    bytes(w, "rss_bytes", v->rss_bytes);
    sl_bufw_printf(w, "</td></tr>\n<tr><th>CPU time</th><td><b id=\"cpu_seconds\" "
        "data-value=\"%.3f\">%.1f&nbsp;s</b></td></tr>\n", v->cpu_seconds, v->cpu_seconds);
    kv(w, "open files", "open_fds", (unsigned long long)(v->open_fds < 0 ? 0 : v->open_fds));
    kv(w, "config generation", "config_generation", srv->conf_generation);
    sl_bufw_printf(w, "<tr><th>last reload</th><td id=\"last_reload\">");
    if (srv->reload_time != 0 && gmtime_r(&srv->reload_time, &tm) != NULL &&
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm) > 0) {
        sl_bufw_printf(w, "%s: ", when);
        sl_bufw_html(w, srv->reload_result);
    } else {
        sl_bufw_printf(w, "none since start");
    }
    sl_bufw_printf(w, "</td></tr>\n</table>\n");
    tile_end(w);
}

/* --- reverse mode ------------------------------------------------------- */

/* The state cell of a backend, coloured when it is not up. */
static void be_state(struct sl_bufw *w, const char *id, const struct sl_backend_info *i,
                     int64_t now_ms)
{
    const char *st = sl_metrics_backend_state(i);

    sl_bufw_printf(w, "<td id=\"%s\" data-value=\"%s\"%s>%s", id, st,
                   !i->healthy ? " style=\"color:#b00020\"" :
                   i->ejected ? " style=\"color:#d9822b\"" : "", st);
    if (i->healthy && i->ejected)
        sl_bufw_printf(w, " <small>(%lld&nbsp;s left)</small>",
                       (long long)(i->ejected_until_ms - now_ms + 999) / 1000);
    sl_bufw_printf(w, "</td>");
}

/* The last check cell: data-value "off" (no checks), "never", "ok" or
 * "failed" (with why, escaped: a backend's answer can be in it). */
static void be_check(struct sl_bufw *w, const char *id, const struct sl_conf_rpool *p,
                     const struct sl_backend_info *i, int64_t now_ms)
{
    if (p->health_path[0] == '\0') {
        sl_bufw_printf(w, "<td id=\"%s\" data-value=\"off\">no checks</td>", id);
        return;
    }
    if (i->last_check_ms == 0) {
        sl_bufw_printf(w, "<td id=\"%s\" data-value=\"never\">not yet</td>", id);
        return;
    }
    if (i->last_check_ok) {
        sl_bufw_printf(w, "<td id=\"%s\" data-value=\"ok\">ok", id);
    } else {
        sl_bufw_printf(w, "<td id=\"%s\" data-value=\"failed\">", id);
        sl_bufw_html(w, i->last_check_why);
    }
    sl_bufw_printf(w, ", %.1f&nbsp;s ago</td>", (double)(now_ms - i->last_check_ms) / 1000.0);
}

/* "be_<pool>_<backend>_<what>": the id of a backend's cell. */
#define BE_ID_MAX 80
static const char *be_id(char *id, size_t p, size_t j, const char *what)
{
    snprintf(id, BE_ID_MAX, "be_%zu_%zu_%s", p, j, what);
    return id;
}

static void tile_backends(struct sl_bufw *w, const struct sl_backends *b, int64_t now_ms)
{
    const struct sl_conf_reverse *rc = sl_backends_rev(b);
    struct sl_backend_info info;
    char id[BE_ID_MAX];
    size_t p, j;

    sl_bufw_printf(w, "<section class=\"wide\"><h2>Backends</h2>\n<table id=\"backends\">"
        "<tr><th>pool</th><th>backend</th><th>state</th><td>active</td><td>requests</td>"
        "<td>failures</td><td>ejections</td><td>p50&nbsp;ms</td><td>p99&nbsp;ms</td>"
        "<td>last check</td></tr>\n");
    for (p = 0; p < rc->n_pools; p++)
        for (j = 0; j < rc->pools[p].n_backends; j++) {
            sl_backends_info(b, (int)p, (int)j, now_ms, &info);
            sl_bufw_printf(w, "<tr id=\"be_%zu_%zu\"><th>", p, j);
            sl_bufw_html(w, rc->pools[p].name);
            sl_bufw_printf(w, "</th><th>");
            sl_bufw_html(w, rc->pools[p].backend[j].name);
            sl_bufw_printf(w, "</th>");
            be_state(w, be_id(id, p, j, "state"), &info, now_ms);
            sl_bufw_printf(w, "<td>");
            count(w, be_id(id, p, j, "active"), info.active);
            sl_bufw_printf(w, "</td><td>");
            count(w, be_id(id, p, j, "requests"), info.requests);
            sl_bufw_printf(w, "</td><td>");
            count(w, be_id(id, p, j, "failures"), info.failures);
            sl_bufw_printf(w, "</td><td>");
            count(w, be_id(id, p, j, "ejections"), info.ejections);
            sl_bufw_printf(w, "</td>");
            ms(w, be_id(id, p, j, "p50"), sl_hist_quantile(&info.latency, 0.50));
            ms(w, be_id(id, p, j, "p99"), sl_hist_quantile(&info.latency, 0.99));
            be_check(w, be_id(id, p, j, "check"), &rc->pools[p], &info, now_ms);
            sl_bufw_printf(w, "</tr>\n");
        }
    sl_bufw_printf(w, "</table>\n");
    tile_end(w);
}

/* Parent proxies: a row each (state, requests, failures, ejections). */
static void tile_peers(struct sl_bufw *w, const struct sl_peers *p, int64_t now_ms)
{
    const struct sl_conf_peers *ps;
    struct sl_peer_info info;
    char id[BE_ID_MAX];
    size_t i;

    if (p == NULL)
        return;
    ps = sl_peers_conf(p);
    sl_bufw_printf(w, "<section class=\"wide\"><h2>Parent proxies</h2>\n<table id=\"peers\">"
        "<tr><th>peer</th><th>address</th><th>state</th><td>requests</td>"
        "<td>failures</td><td>ejections</td></tr>\n");
    for (i = 0; i < ps->n; i++) {
        sl_peers_info(p, (int)i, now_ms, &info);
        sl_bufw_printf(w, "<tr id=\"peer_%zu\"><th>", i);
        sl_bufw_html(w, ps->peer[i].name);
        sl_bufw_printf(w, "</th><th>");
        sl_bufw_html(w, ps->peer[i].host);
        sl_bufw_printf(w, ":%u</th><td id=\"peer_%zu_state\" data-value=\"%s\"%s>%s",
                       ps->peer[i].port, i, info.ejected ? "ejected" : "up",
                       info.ejected ? " style=\"color:#d9822b\"" : "",
                       info.ejected ? "ejected" : "up");
        if (info.ejected)
            sl_bufw_printf(w, " <small>(%lld&nbsp;s left)</small>",
                           (long long)(info.ejected_until_ms - now_ms + 999) / 1000);
        sl_bufw_printf(w, "</td><td>");
        snprintf(id, sizeof(id), "peer_%zu_requests", i);
        count(w, id, info.requests);
        sl_bufw_printf(w, "</td><td>");
        snprintf(id, sizeof(id), "peer_%zu_failures", i);
        count(w, id, info.failures);
        sl_bufw_printf(w, "</td><td>");
        snprintf(id, sizeof(id), "peer_%zu_ejections", i);
        count(w, id, info.ejections);
        sl_bufw_printf(w, "</td></tr>\n");
    }
    sl_bufw_printf(w, "</table>\n");
    tile_end(w);
}

static void tile_routes(struct sl_bufw *w, const struct sl_backends *b)
{
    const struct sl_conf_reverse *rc = sl_backends_rev(b);
    char id[48], text[SL_METRICS_ROUTE_TEXT_MAX];
    size_t v, r;

    sl_bufw_printf(w, "<section class=\"wide\"><h2>Routes</h2>\n<table id=\"routes\">"
        "<tr><th>site</th><td>#</td><th>pattern</th><th>pool</th><td>requests</td></tr>\n");
    for (v = 0; v < rc->n_vhosts; v++)
        for (r = 0; r < rc->vhosts[v].n_routes; r++) {
            sl_bufw_printf(w, "<tr><th>");
            sl_bufw_html(w, rc->vhosts[v].name);
            sl_bufw_printf(w, "</th><td>%zu</td><th><code>", r);
            sl_bufw_html(w, sl_metrics_route_text(rc, (int)v, (int)r, text, sizeof(text)));
            sl_bufw_printf(w, "</code></th><th>");
            sl_bufw_html(w, rc->pools[rc->vhosts[v].routes[r].pool].name);
            sl_bufw_printf(w, "</th><td>");
            snprintf(id, sizeof(id), "route_%zu_%zu", v, r);
            count(w, id, sl_backends_route_count(b, (int)v, (int)r));
            sl_bufw_printf(w, "</td></tr>\n");
        }
    sl_bufw_printf(w, "</table>\n");
    tile_end(w);
}

/* HTTPS listeners: each certificate and when it expires. */
static void tile_tls(struct sl_bufw *w, const struct sl_tls *t)
{
    struct sl_tls_cert_info ci;
    struct sl_tls_stats st;
    char when[32], id[32];
    int64_t now = (int64_t)time(NULL);
    struct tm tm;
    time_t na;
    size_t i;

    sl_tls_get_stats(&st);
    sl_bufw_printf(w, "<section class=\"wide\"><h2>Certificates</h2>\n<table id=\"tls\">"
        "<tr><th>names</th><th>key</th><th>file</th><th>expires (UTC)</th><td>days left</td></tr>\n");
    for (i = 0; i < sl_tls_ncerts(t); i++) {
        sl_tls_cert(t, i, &ci);
        na = (time_t)ci.not_after;
        if (gmtime_r(&na, &tm) == NULL || strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm) == 0)
            snprintf(when, sizeof(when), "?");
        sl_bufw_printf(w, "<tr><th>");
        sl_bufw_html(w, ci.names);
        sl_bufw_printf(w, "</th><th>%s</th><th><code>", ci.key_type);
        sl_bufw_html(w, ci.file);
        snprintf(id, sizeof(id), "cert_%zu_days", i);
        sl_bufw_printf(w, "</code></th><th>%s</th><td id=\"%s\"%s>%.1f</td></tr>\n", when, id,
                       ci.not_after - now < 14 * 86400 ? " class=\"bad\"" : "",
                       (double)(ci.not_after - now) / 86400.0);
    }
    sl_bufw_printf(w, "</table>\n<p>TLS handshakes: <span id=\"tls_full\">%llu</span> full, "
        "<span id=\"tls_resumed\">%llu</span> resumed, <span id=\"tls_failed\">%llu</span> "
        "failed</p>\n", st.handshakes - st.resumed, st.resumed, st.failed);
    tile_end(w);
}

static void status_tls_html(struct sl_bufw *w, const struct sl_tls *t)
{
    if (t != NULL)
        tile_tls(w, t);
}

void sl_status_reverse_html(struct sl_bufw *w, const struct sl_backends *b, int64_t now_ms)
{
    if (b == NULL)
        return;
    tile_backends(w, b, now_ms);
    tile_routes(w, b);
}

/* Bytes of a backend's row beyond its names and its check's error (a
 * dozen cells with ids), and of a route's; the worst growth of a name
 * escaped (&quot;). */
#define REV_HTML_BACKEND 1536
#define REV_HTML_ROUTE 256
#define REV_HTML_MULT 6

size_t sl_status_reverse_html_size(const struct sl_conf_reverse *rc)
{
    return sl_metrics_reverse_room(rc, REV_HTML_BACKEND + REV_HTML_MULT *
                                   sizeof(((struct sl_backend_info *)0)->last_check_why),
                                   REV_HTML_MULT, REV_HTML_ROUTE, REV_HTML_MULT);
}

size_t sl_status_html_size(struct sl_server *srv)
{
    const struct sl_tls *t = srv->conf->reverse.tls.rt;
    const struct sl_api_view *apis = sl_status_apis_now(srv);

    /* a certificate's row: names and file, HTML-escaped (tile_tls) */
    return SL_STATUS_HTML_MAX + sl_status_reverse_html_size(&srv->conf->reverse) +
           (t ? 1024 + sl_tls_ncerts(t) * 6144 : 0) + 512 + srv->conf->peers.n * 2048 +
           (apis != NULL ? sl_api_html_size(apis) : 0);
}

/* --- graphs ------------------------------------------------------------- */

/* What one graph plots of a point; < 0: nothing to plot. */
typedef double series_fn(const struct sl_status_point *p);

static double s_hit(const struct sl_status_point *p)
{
    return sl_status_ratio((double)p->hits, (double)(p->hits + p->misses));
}

static double s_rps(const struct sl_status_point *p)
{
    return sl_status_ratio((double)p->requests * 1000, (double)p->span_ms);
}

static double s_out(const struct sl_status_point *p)
{
    return sl_status_ratio((double)p->bytes_out * 1000, (double)p->span_ms);
}

static double s_in(const struct sl_status_point *p)
{
    return sl_status_ratio((double)p->bytes_in * 1000, (double)p->span_ms);
}

#define MAXPTS (SL_STATUS_RING + 1)

/* One polyline per run of points (a point < 0 breaks the line). */
static void polyline(struct sl_bufw *w, const char *cls, const double *y,
                     const int64_t *t, size_t n, int64_t now, double top)
{
    size_t i;
    int open = 0;

    for (i = 0; i < n; i++) {
        if (y[i] < 0) {
            if (open)
                sl_bufw_printf(w, "\"/>\n");
            open = 0;
            continue;
        }
        if (!open)
            sl_bufw_printf(w, "<polyline class=\"%s\" points=\"", cls);
        sl_bufw_printf(w, "%s%.1f,%.1f", open ? " " : "",
            (double)GRAPH_W * (double)(HOUR_MS - (now - t[i])) / HOUR_MS,
            GRAPH_H - (double)GRAPH_H * (y[i] > top ? 1 : y[i] / top));
        open = 1;
    }
    if (open)
        sl_bufw_printf(w, "\"/>\n");
}

static double peak(const double *y, size_t n)
{
    double m = 0;
    size_t i;

    for (i = 0; i < n; i++)
        if (y[i] > m)
            m = y[i];
    return m;
}

/* fn of each point into y, its end time into t. */
static void series(const struct sl_status_point *p, size_t n, series_fn *fn,
                   double *y, int64_t *t)
{
    size_t i;

    for (i = 0; i < n; i++) {
        y[i] = fn(&p[i]);
        t[i] = p[i].end_ms;
    }
}

/* A graph of one or two series over the last hour; ratio: 0..100 %. */
static void graph(struct sl_bufw *w, const struct sl_status_view *v,
                  const struct sl_status_point *p, size_t n,
                  const char *id, const char *title, series_fn *f1, series_fn *f2,
                  const char *unit, int ratio)
{
    double y1[MAXPTS], y2[MAXPTS];
    int64_t t[MAXPTS];
    double top;

    series(p, n, f1, y1, t);
    if (f2 != NULL)
        series(p, n, f2, y2, t);
    top = ratio ? 1 : peak(y1, n);
    if (f2 != NULL && !ratio && peak(y2, n) > top)
        top = peak(y2, n);
    if (top <= 0)
        top = 1;
    sl_bufw_printf(w, "<figure><figcaption>%s</figcaption>\n<svg id=\"%s\" viewBox=\"0 0 %d %d\" "
        "role=\"img\" preserveAspectRatio=\"none\" data-points=\"%zu\">\n"
        "<line class=\"axis\" x1=\"0\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n",
        title, id, GRAPH_W, GRAPH_H, n, GRAPH_H, GRAPH_W, GRAPH_H);
    polyline(w, "a", y1, t, n, v->now.t_ms, top);
    if (f2 != NULL)
        polyline(w, "b", y2, t, n, v->now.t_ms, top);
    sl_bufw_printf(w, "</svg>\n<div class=\"scale\"><span>&minus;60 min</span><span>top: ");
    if (ratio) {
        sl_bufw_printf(w, "100%%");
    } else if (strcmp(unit, "B/s") == 0) {
        human(w, top);
        sl_bufw_printf(w, "/s");
    } else {
        sl_bufw_printf(w, "%.3g&nbsp;%s", top, unit);
    }
    sl_bufw_printf(w, "</span><span>now</span></div></figure>\n");
}

/* --- the page ------------------------------------------------------------ */

static const char style[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:1em;background:#f6f7f9;color:#222}"
    "h1{font-size:1.3em;margin:0 0 .6em}h2{font-size:1em;margin:0 0 .4em;color:#345}"
    "main{display:grid;grid-template-columns:repeat(auto-fill,minmax(330px,1fr));gap:12px}"
    "section,figure{background:#fff;border:1px solid #dde;border-radius:6px;padding:10px;margin:0}"
    "table{border-collapse:collapse;width:100%}th{text-align:left;font-weight:normal;color:#555}"
    "td,th{padding:2px 6px}td{text-align:right}b{font-weight:600}"
    "figcaption{color:#345;margin-bottom:4px}svg{width:100%;height:120px;background:#fbfbfd}"
    "polyline{fill:none;stroke-width:1.5;vector-effect:non-scaling-stroke}"
    ".a{stroke:#2a6fdb}.b{stroke:#d9822b}.axis{stroke:#bbb}"
    ".scale{display:flex;justify-content:space-between;color:#777;font-size:12px}"
    "small{color:#777}footer{margin-top:1em;color:#777;font-size:12px}"
    ".wide{grid-column:1/-1}";

int sl_status_html(struct sl_buf *out, struct sl_server *srv)
{
    struct sl_bufw w = { out, 0 };
    struct sl_status_view v;
    struct sl_status_point pts[MAXPTS];
    size_t np;
    const char *name = srv->conf->visible_hostname;
    const struct sl_sum *sum;
    const struct sl_api_view *apis;

    sl_status_collect(srv, &v);
    sum = sl_server_sums(srv);
    sl_bufw_printf(&w, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta http-equiv=\"refresh\" content=\"%d\">"
        "<meta name=\"viewport\" content=\"width=device-width\">"
        "<title>squidlike status", REFRESH_S);
    if (name != NULL) {
        sl_bufw_printf(&w, ": ");
        sl_bufw_html(&w, name);
    }
    sl_bufw_printf(&w, "</title><style>%s</style></head>\n<body>\n<h1>squidlike %s",
                   style, PACKAGE_VERSION);
    if (name != NULL) {
        sl_bufw_printf(&w, " on ");
        sl_bufw_html(&w, name);
    }
    sl_bufw_printf(&w, "</h1>\n<main>\n");
    tiles_traffic(&w, &v);
    np = sl_status_history(srv->status.ring, &v.now, HOUR_MS, pts, MAXPTS);
    graph(&w, &v, pts, np, "graph_hit_ratio", "Hit ratio, last hour", s_hit, NULL, "", 1);
    graph(&w, &v, pts, np, "graph_requests", "Requests per second, last hour", s_rps, NULL,
          "req/s", 0);
    graph(&w, &v, pts, np, "graph_bandwidth", "Bandwidth, last hour: <span style=\"color:#2a6fdb\">"
          "to clients</span>, <span style=\"color:#d9822b\">from origins</span>",
          s_out, s_in, "B/s", 0);
    tile_times(&w, &v);
    tiles_state(&w, srv, &v);
    sl_status_reverse_html(&w, srv->conf->reverse.rt, v.now.t_ms);
    if ((apis = sl_status_apis(srv)) != NULL)
        sl_api_html(&w, apis);
    tile_peers(&w, srv->conf->peers.rt, v.now.t_ms);
    status_tls_html(&w, srv->conf->reverse.tls.rt);
    if (srv->conf->reverse.zip.on)
        tile_zip(&w, srv);
    tile_blocked(&w, &sum->metrics);
    tile_top(&w, "Top destinations, by requests", "top_requests",
             &sum->metrics.top_requests, 0);
    tile_top(&w, "Top destinations, by bytes", "top_bytes", &sum->metrics.top_bytes, 1);
    if (sum->metrics.top_users.total > 0) {     /* someone signed in */
        tile_top(&w, "Top users, by requests", "top_users", &sum->metrics.top_users, 0);
        tile_top(&w, "Top users, by bytes", "top_user_bytes",
                 &sum->metrics.top_user_bytes, 1);
    }
    tile_process(&w, srv, &v);
    sl_status_workers_html(&w, srv);
    sl_bufw_printf(&w, "</main>\n<footer>pid %ld &middot; sampled every %g s, %zu samples "
        "&middot; refreshes every %d s &middot; the same numbers: "
        "<a href=\"/squidlike/status.json\">status.json</a>, <a href=\"/metrics\">metrics</a>"
        "</footer>\n</body></html>\n", (long)getpid(),
        (double)srv->status.interval_ms / 1000.0, srv->status.ring->n, REFRESH_S);
    return w.rc;
}
