/*
 * status_workers.c - the workers' rows: status.json, the status page and
 * /metrics. A worker's CPU time and memory come from /proc (any worker
 * can read its siblings'), its counters from its shared slot.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "squidlike/server.h"
#include "squidlike/shared.h"
#include "squidlike/status.h"

/* utime + stime (s) and the resident set (bytes) of pid; -1 unknown. */
static void proc_usage(long pid, double *cpu, long long *rss)
{
    char path[64], buf[1024], *p;
    unsigned long long ut, st;
    long long pages;
    FILE *f;
    size_t n;

    *cpu = -1;
    *rss = -1;
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    if ((f = fopen(path, "re")) != NULL) {
        n = fread(buf, 1, sizeof(buf) - 1, f);
        buf[n] = '\0';
        fclose(f);
        /* After the command's closing parenthesis (it may hold spaces):
         * state is field 3, utime 14 and stime 15. */
        if ((p = strrchr(buf, ')')) != NULL &&
            sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                   &ut, &st) == 2)
            *cpu = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
    }
    snprintf(path, sizeof(path), "/proc/%ld/statm", pid);
    if ((f = fopen(path, "re")) != NULL) {
        if (fscanf(f, "%*d %lld", &pages) == 1)
            *rss = pages * (long long)sysconf(_SC_PAGESIZE);
        fclose(f);
    }
}

size_t sl_workers_rows(const struct sl_shared *sh, struct sl_worker_row *r, size_t max)
{
    size_t i, j, k, n = 0;

    for (i = 0; i < sh->nused && i < SL_SHARED_SLOTS && n < max; i++) {
        const struct sl_wslot *s = &sh->slots[i];
        long pid = (long)s->pid;

        if (pid <= 0 || s->state == SL_WSLOT_FREE)
            continue;
        memset(&r[n], 0, sizeof(r[n]));
        r[n].index = s->index;
        r[n].pid = pid;
        r[n].generation = s->generation;
        r[n].draining = s->state == SL_WSLOT_DRAINING;
        r[n].started = s->started;
        r[n].restarts = s->restarts;
        r[n].clients = s->g.clients;
        r[n].hits = s->stats.hits;
        for (j = 0; j < SL_METRICS_NCODES; j++)
            for (k = 0; k < 2 * SL_METRICS_NMETHODS; k++)
                r[n].requests += s->metrics.requests[j][k / SL_METRICS_NMETHODS]
                                                    [k % SL_METRICS_NMETHODS];
        proc_usage(pid, &r[n].cpu_seconds, &r[n].rss_bytes);
        n++;
    }
    return n;
}

unsigned long long sl_workers_restarts(const struct sl_shared *sh)
{
    unsigned long long n = 0;
    size_t i;

    for (i = 0; i < sh->nused && i < SL_SHARED_SLOTS; i++)
        n += sh->slots[i].restarts;
    return n;
}

unsigned long long sl_workers_clients(const struct sl_shared *sh)
{
    unsigned long long n = 0;
    size_t i;

    for (i = 0; i < sh->nused && i < SL_SHARED_SLOTS; i++)
        if (sh->slots[i].pid > 0)
            n += sh->slots[i].g.clients;
    return n;
}

size_t sl_workers_live(const struct sl_shared *sh)
{
    size_t i, n = 0;

    for (i = 0; i < sh->nused && i < SL_SHARED_SLOTS; i++)
        n += sh->slots[i].pid > 0 && sh->slots[i].state == SL_WSLOT_RUNNING &&
             sh->slots[i].generation == sh->generation;
    return n;
}

void sl_status_workers_json(struct sl_bufw *w, struct sl_server *srv)
{
    struct sl_worker_row r[SL_SHARED_SLOTS];
    size_t n = sl_workers_rows(srv->shared, r, SL_SHARED_SLOTS), i;

    sl_bufw_printf(w, ",\n  \"workers\": { \"count\": %u, \"generation\": %u, "
                   "\"restarts\": %llu, \"list\": [", srv->shared->nworkers,
                   srv->shared->generation, sl_workers_restarts(srv->shared));
    for (i = 0; i < n; i++)
        sl_bufw_printf(w, "%s\n    { \"index\": %u, \"pid\": %ld, \"generation\": %u, "
                       "\"state\": \"%s\", \"started\": %lld, \"requests\": %llu, "
                       "\"hits\": %llu, \"connections\": %llu, \"cpu_seconds\": %.3f, "
                       "\"rss_bytes\": %lld, \"restarts\": %llu }", i ? "," : "",
                       r[i].index, r[i].pid, r[i].generation,
                       r[i].draining ? "draining" : "running", (long long)r[i].started,
                       r[i].requests, r[i].hits, r[i].clients, r[i].cpu_seconds,
                       r[i].rss_bytes, r[i].restarts);
    sl_bufw_printf(w, " ] }");
}

void sl_status_workers_html(struct sl_bufw *w, struct sl_server *srv)
{
    struct sl_worker_row r[SL_SHARED_SLOTS];
    size_t n = sl_workers_rows(srv->shared, r, SL_SHARED_SLOTS), i;
    unsigned long long req = 0, hits = 0, conns = 0;
    double cpu = 0;
    long long rss = 0;

    if (srv->shared->nworkers < 2 && n < 2)
        return;                 /* one process: the Process tile says it all */
    sl_bufw_printf(w, "<section class=\"wide\"><h2>Workers</h2>\n<table id=\"workers\">"
        "<tr><th>worker</th><th>pid</th><th>generation</th><th>state</th><td>requests</td>"
        "<td>hits</td><td>connections</td><td>CPU&nbsp;s</td><td>RSS&nbsp;MiB</td>"
        "<td>restarts</td></tr>\n");
    for (i = 0; i < n; i++) {
        sl_bufw_printf(w, "<tr id=\"worker_%zu\"><th>%u</th><td>%ld</td><td>%u</td>"
                       "<td>%s</td><td>%llu</td><td>%llu</td><td>%llu</td><td>%.2f</td>"
                       "<td>%.1f</td><td>%llu</td></tr>\n", i, r[i].index, r[i].pid,
                       r[i].generation, r[i].draining ? "draining" : "running",
                       r[i].requests, r[i].hits, r[i].clients, r[i].cpu_seconds,
                       (double)r[i].rss_bytes / (1024.0 * 1024.0), r[i].restarts);
        req += r[i].requests;
        hits += r[i].hits;
        conns += r[i].clients;
        cpu += r[i].cpu_seconds > 0 ? r[i].cpu_seconds : 0;
        rss += r[i].rss_bytes > 0 ? r[i].rss_bytes : 0;
    }
    sl_bufw_printf(w, "<tr id=\"workers_total\"><th>all</th><td></td><td></td><td></td>"
                   "<td>%llu</td><td>%llu</td><td>%llu</td><td>%.2f</td><td>%.1f</td>"
                   "<td>%llu</td></tr>\n</table>\n<p>Live workers; requests and hits of "
                   "the ones that exited still count in the totals above.</p>\n</section>\n",
                   req, hits, conns, cpu, (double)rss / (1024.0 * 1024.0),
                   sl_workers_restarts(srv->shared));
}
