/*
 * apistats_out.c - the analytics per route and per consumer on the pages
 * (see apistats.h): the squidlike_api_* families of /metrics, the "apis"
 * member of status.json and the APIs section of the status page, each
 * from one view of the workers' sum, so that they show the same numbers.
 *
 * Route names are the configuration's (a default name holds the route's
 * pattern: any byte but NUL), consumer names [A-Za-z0-9._-]: both are
 * escaped for each page all the same. Pure: no server, no clock.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "squidlike/apistats.h"

int sl_api_view_make(struct sl_api_view *v, const struct sl_api_sum *s, size_t top)
{
    size_t k;

    memset(v, 0, sizeof(*v));
    for (k = 0; k < SL_API_NKINDS; k++) {
        if ((v->rows[k] = calloc(s->n + 1, sizeof(*v->rows[k]))) == NULL) {
            sl_api_view_free(v);
            return -ENOMEM;
        }
        v->n[k] = sl_api_rows(s, (enum sl_api_kind)k,
                              k == SL_API_CONSUMER ? top : SIZE_MAX,
                              v->rows[k], s->n, &v->other[k]);
    }
    return 0;
}

void sl_api_view_free(struct sl_api_view *v)
{
    size_t k;

    for (k = 0; k < SL_API_NKINDS; k++) {
        free(v->rows[k]);
        v->rows[k] = NULL;
        v->n[k] = 0;
    }
}

/* The rows a page writes: each kind's, and its "other" (at most). */
static size_t nrows(const struct sl_api_view *v)
{
    return v->n[SL_API_ROUTE] + v->n[SL_API_CONSUMER] + SL_API_NKINDS;
}

/* Per row, beyond its name, with every counter at 20 digits: /metrics
 * writes 33 lines of at most 100 bytes and the name (escaped: at most
 * twice as long) on each; the JSON object 700 bytes and the name
 * (\u00XX: six times); the HTML row 2500 and the name (&quot;: six
 * times). ONCE: titles, HELP lines. check_apistats fills them all. */
#define ONCE 8192
size_t sl_api_metrics_size(const struct sl_api_view *v)
{
    return ONCE + nrows(v) * 33 * (100 + 2 * SL_API_NAME);
}

size_t sl_api_json_size(const struct sl_api_view *v)
{
    return ONCE + nrows(v) * (700 + 6 * SL_API_NAME);
}

size_t sl_api_html_size(const struct sl_api_view *v)
{
    return ONCE + nrows(v) * (2500 + 6 * SL_API_NAME);
}

/* --- /metrics ------------------------------------------------------------ */

static const char *const class_name[SL_API_NCLASSES] = {
    "2xx", "3xx", "4xx", "5xx", "none"
};

/* The label of a kind in each family, and the families' names. */
static const struct {
    const char *label, *prefix, *who;
} kinds[SL_API_NKINDS] = {
    [SL_API_ROUTE] = { "route", "squidlike_api_", "route (its name)" },
    [SL_API_CONSUMER] = { "consumer", "squidlike_api_consumer_",
                          "consumer (\"anonymous\" for none on a route with auth)" },
};

/* name escaped as the text format wants a label value (\\, \", \n). */
static void label(struct sl_bufw *w, const char *name)
{
    for (; *name; name++) {
        if (*name == '\\' || *name == '"')
            sl_bufw_printf(w, "\\%c", *name);
        else if (*name == '\n')
            sl_bufw_printf(w, "\\n");
        else
            sl_bufw_printf(w, "%c", *name);
    }
}

/* The row i of kind k (i == v->n[k]: its "other"): its name and counts;
 * NULL when there is no such row to show (an "other" that counted
 * nothing). */
static const struct sl_api_counts *row(const struct sl_api_view *v, size_t k, size_t i,
                                       const char **name)
{
    if (i < v->n[k]) {
        *name = v->rows[k][i]->name;
        return &v->rows[k][i]->c;
    }
    *name = "other";
    return v->other[k].requests > 0 ? &v->other[k] : NULL;
}

/* "{route=\"NAME\"" for a series: the caller closes it. */
static void series(struct sl_bufw *w, size_t k, const char *fam, const char *name)
{
    sl_bufw_printf(w, "%s%s{%s=\"", kinds[k].prefix, fam, kinds[k].label);
    label(w, name);
    sl_bufw_printf(w, "\"");
}

static void family(struct sl_bufw *w, size_t k, const char *fam, const char *type,
                   const char *help)
{
    sl_bufw_printf(w, "# HELP %s%s %s, by %s; names past the workers' tables%s are "
                   "summed as \"other\".\n# TYPE %s%s %s\n", kinds[k].prefix, fam, help,
                   kinds[k].who, k == SL_API_CONSUMER ?
                   " or past reverse.gateway.analytics_top (by requests)" : "",
                   kinds[k].prefix, fam, type);
}

static void metrics_kind(struct sl_bufw *w, const struct sl_api_view *v, size_t k)
{
    const struct sl_api_counts *c;
    const char *name;
    unsigned long long cum;
    size_t i, j;

    family(w, k, "requests_total", "counter",
           "API requests by the class of their response (none: the client left first)");
    for (i = 0; i <= v->n[k]; i++)
        if ((c = row(v, k, i, &name)) != NULL)
            for (j = 0; j < SL_API_NCLASSES; j++)
                if (j != SL_API_NONE || c->cls[j] != 0) {
                    series(w, k, "requests_total", name);
                    sl_bufw_printf(w, ",class=\"%s\"} %llu\n", class_name[j], c->cls[j]);
                }
    family(w, k, "limited_total", "counter",
           "API requests refused with 429 by a rate limit or a quota");
    for (i = 0; i <= v->n[k]; i++)
        if ((c = row(v, k, i, &name)) != NULL) {
            series(w, k, "limited_total", name);
            sl_bufw_printf(w, "} %llu\n", c->limited);
        }
    family(w, k, "auth_refused_total", "counter",
           "API requests refused with 401 or 403 by the gateway's authentication");
    for (i = 0; i <= v->n[k]; i++)
        if ((c = row(v, k, i, &name)) != NULL) {
            series(w, k, "auth_refused_total", name);
            sl_bufw_printf(w, "} %llu\n", c->auth_refused);
        }
    family(w, k, "bytes_total", "counter",
           "API bytes: request bodies in, everything sent to the client out");
    for (i = 0; i <= v->n[k]; i++)
        if ((c = row(v, k, i, &name)) != NULL) {
            series(w, k, "bytes_total", name);
            sl_bufw_printf(w, ",direction=\"in\"} %llu\n", c->bytes_in);
            series(w, k, "bytes_total", name);
            sl_bufw_printf(w, ",direction=\"out\"} %llu\n", c->bytes_out);
        }
    family(w, k, "request_seconds", "histogram",
           "API service time, from the request to its logged end");
    for (i = 0; i <= v->n[k]; i++) {
        if ((c = row(v, k, i, &name)) == NULL)
            continue;
        for (cum = 0, j = 0; j < SL_HIST_N; j++) {
            cum += c->lat.b[j];
            series(w, k, "request_seconds_bucket", name);
            sl_bufw_printf(w, ",le=\"%s\"} %llu\n", sl_hist_le[j], cum);
        }
        series(w, k, "request_seconds_bucket", name);
        sl_bufw_printf(w, ",le=\"+Inf\"} %llu\n", c->lat.count);
        series(w, k, "request_seconds_sum", name);
        sl_bufw_printf(w, "} %llu.%06llu\n", c->lat.sum_us / 1000000, c->lat.sum_us % 1000000);
        series(w, k, "request_seconds_count", name);
        sl_bufw_printf(w, "} %llu\n", c->lat.count);
    }
}

void sl_api_metrics(struct sl_bufw *w, const struct sl_api_view *v)
{
    metrics_kind(w, v, SL_API_ROUTE);
    metrics_kind(w, v, SL_API_CONSUMER);
}

/* --- status.json --------------------------------------------------------- */

/* A quantile of h in ms, or null. */
static void json_ms(struct sl_bufw *w, const char *key, const struct sl_hist *h, double q)
{
    double us = sl_hist_quantile(h, q);

    if (us < 0)
        sl_bufw_printf(w, "\"%s\": null", key);
    else
        sl_bufw_printf(w, "\"%s\": %.3f", key, us / 1000.0);
}

static void json_kind(struct sl_bufw *w, const struct sl_api_view *v, size_t k)
{
    const struct sl_api_counts *c;
    const char *name;
    size_t i, n = 0;

    for (i = 0; i <= v->n[k]; i++) {
        if ((c = row(v, k, i, &name)) == NULL)
            continue;
        sl_bufw_printf(w, "%s\n      { \"name\": ", n++ ? "," : "");
        sl_bufw_json(w, name);
        sl_bufw_printf(w, ", \"requests\": %llu, \"2xx\": %llu, \"3xx\": %llu, "
                       "\"4xx\": %llu, \"5xx\": %llu, \"none\": %llu, \"limited\": %llu, "
                       "\"auth_refused\": %llu, \"bytes_in\": %llu, \"bytes_out\": %llu, ",
                       c->requests, c->cls[SL_API_2XX], c->cls[SL_API_3XX],
                       c->cls[SL_API_4XX], c->cls[SL_API_5XX], c->cls[SL_API_NONE],
                       c->limited, c->auth_refused, c->bytes_in, c->bytes_out);
        json_ms(w, "p50_ms", &c->lat, 0.50);
        sl_bufw_printf(w, ", ");
        json_ms(w, "p90_ms", &c->lat, 0.90);
        sl_bufw_printf(w, ", ");
        json_ms(w, "p99_ms", &c->lat, 0.99);
        sl_bufw_printf(w, " }");
    }
    sl_bufw_printf(w, "%s]", n ? "\n    " : " ");
}

void sl_api_json(struct sl_bufw *w, const struct sl_api_view *v)
{
    sl_bufw_printf(w, ",\n  \"apis\": {\n    \"routes\": [");
    json_kind(w, v, SL_API_ROUTE);
    sl_bufw_printf(w, ",\n    \"consumers\": [");
    json_kind(w, v, SL_API_CONSUMER);
    sl_bufw_printf(w, "\n  }");
}

/* --- the status page ----------------------------------------------------- */

static void cell_count(struct sl_bufw *w, const char *id, size_t i, const char *what,
                       unsigned long long n)
{
    sl_bufw_printf(w, "<td id=\"%s_%zu_%s\" data-value=\"%llu\">%llu</td>", id, i, what, n, n);
}

/* A share of requests as a percentage; none without requests. */
static void cell_pct(struct sl_bufw *w, const char *id, size_t i, const char *what,
                     unsigned long long n, unsigned long long of)
{
    if (of == 0)
        sl_bufw_printf(w, "<td id=\"%s_%zu_%s\" data-value=\"\">&ndash;</td>", id, i, what);
    else
        sl_bufw_printf(w, "<td id=\"%s_%zu_%s\" data-value=\"%.6f\"%s>%.1f%%</td>", id, i,
                       what, (double)n / (double)of,
                       what[0] == '5' && n > 0 ? " style=\"color:#b00020\"" : "",
                       100.0 * (double)n / (double)of);
}

static void cell_ms(struct sl_bufw *w, const char *id, size_t i, const char *what,
                    const struct sl_hist *h, double q)
{
    double us = sl_hist_quantile(h, q);

    if (us < 0)
        sl_bufw_printf(w, "<td id=\"%s_%zu_%s\" data-value=\"\">&ndash;</td>", id, i, what);
    else
        sl_bufw_printf(w, "<td id=\"%s_%zu_%s\" data-value=\"%.3f\">%.*f</td>", id, i, what,
                       us / 1000, us < 10000 ? 2 : 0, us / 1000);
}

/* n bytes as "12.3&nbsp;MiB", the exact number in data-value. */
static void cell_bytes(struct sl_bufw *w, const char *id, size_t i, const char *what,
                       unsigned long long n)
{
    static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
    double x = (double)n;
    size_t u = 0;

    while (x >= 1024 && u + 1 < sizeof(unit) / sizeof(unit[0])) {
        x /= 1024;
        u++;
    }
    sl_bufw_printf(w, "<td id=\"%s_%zu_%s\" data-value=\"%llu\">%.*f&nbsp;%s</td>", id, i,
                   what, n, u ? 1 : 0, x, unit[u]);
}

static void html_kind(struct sl_bufw *w, const struct sl_api_view *v, size_t k)
{
    const char *id = k == SL_API_ROUTE ? "api_route" : "api_consumer";
    const struct sl_api_counts *c;
    const char *name;
    size_t i;

    sl_bufw_printf(w, "<table id=\"%ss\"><tr><th>%s</th><td>requests</td><td>2xx</td>"
        "<td>3xx</td><td>4xx</td><td>5xx</td><td>4xx&nbsp;%%</td><td>5xx&nbsp;%%</td>"
        "<td>p50&nbsp;ms</td><td>p99&nbsp;ms</td><td>limited</td><td>auth refused</td>"
        "<td>bytes in</td><td>bytes out</td></tr>\n", id, kinds[k].label);
    for (i = 0; i <= v->n[k]; i++) {
        if ((c = row(v, k, i, &name)) == NULL)
            continue;
        sl_bufw_printf(w, "<tr id=\"%s_%zu\"><th>", id, i);
        if (i == v->n[k])
            sl_bufw_printf(w, "<i>other</i>");
        else
            sl_bufw_html(w, name);
        sl_bufw_printf(w, "</th>");
        cell_count(w, id, i, "requests", c->requests);
        cell_count(w, id, i, "2xx", c->cls[SL_API_2XX]);
        cell_count(w, id, i, "3xx", c->cls[SL_API_3XX]);
        cell_count(w, id, i, "4xx", c->cls[SL_API_4XX]);
        cell_count(w, id, i, "5xx", c->cls[SL_API_5XX]);
        cell_pct(w, id, i, "4xx_rate", c->cls[SL_API_4XX], c->requests);
        cell_pct(w, id, i, "5xx_rate", c->cls[SL_API_5XX], c->requests);
        cell_ms(w, id, i, "p50", &c->lat, 0.50);
        cell_ms(w, id, i, "p99", &c->lat, 0.99);
        cell_count(w, id, i, "limited", c->limited);
        cell_count(w, id, i, "auth_refused", c->auth_refused);
        cell_bytes(w, id, i, "bytes_in", c->bytes_in);
        cell_bytes(w, id, i, "bytes_out", c->bytes_out);
        sl_bufw_printf(w, "</tr>\n");
    }
    sl_bufw_printf(w, "</table>\n");
}

void sl_api_html(struct sl_bufw *w, const struct sl_api_view *v)
{
    sl_bufw_printf(w, "<section class=\"wide\"><h2>APIs</h2>\n");
    html_kind(w, v, SL_API_ROUTE);
    if (v->n[SL_API_CONSUMER] > 0 || v->other[SL_API_CONSUMER].requests > 0) {
        sl_bufw_printf(w, "<h2>API consumers</h2>\n");
        html_kind(w, v, SL_API_CONSUMER);
    }
    sl_bufw_printf(w, "</section>\n");
}
