/*
 * client_txnlog.c - what the access log keeps of a transaction, and its end: the
 * record handed to sl_log_access, and its share of the counters behind
 * /metrics and the status pages (metrics.h).
 *
 * The request head is gone by the time a transaction ends, so the few
 * request fields a log format wants beyond method and URL (Referer,
 * User-Agent, the HTTP version) are copied out when the head is decided,
 * beside them in t->meta. A client picks their length: each is cut at
 * SL_LOGFMT_HDR_KEEP bytes, so meta stays bounded by the request line.
 * They are kept raw; the log writer escapes them (logfmt.c).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "squidlike/apistats.h"
#include "squidlike/chars.h"
#include "squidlike/client_int.h"

/* A copy of header name's first value, cut at SL_LOGFMT_HDR_KEEP, in meta;
 * NULL when absent (or, which cannot happen after the reserve, no room). */
static const char *keep_hdr(struct sl_buf *meta, const struct sl_http_msg *m,
                            const char *name)
{
    const struct sl_http_hdr *h = sl_http_find(m, name);
    const char *v = meta->last;
    size_t n;

    if (h == NULL)
        return NULL;
    n = h->value.len < SL_LOGFMT_HDR_KEEP ? h->value.len : SL_LOGFMT_HDR_KEEP;
    if (sl_buf_space(meta) < n + 1)
        return NULL;
    sl_buf_append(meta, h->value.base, n);
    sl_buf_append(meta, "", 1);
    return v;
}

void txnlog_keep(struct cl_txn *t, const struct sl_http_msg *m)
{
    t->referer = t->user_agent = t->version = NULL;
    if (m == NULL)
        return;                 /* our own placeholder (bad request, ...) */
    t->version = m->minor ? "1.1" : "1.0";
    t->referer = keep_hdr(&t->meta, m, "Referer");
    t->user_agent = keep_hdr(&t->meta, m, "User-Agent");
}

static const char *const code_names[CL_CODE_N] = {
    [CL_CODE_UNSET] = "NONE_NONE",
    [CL_CODE_NONE_NONE] = "NONE_NONE",
    [CL_CODE_NONE] = "NONE",
    [CL_CODE_TCP_MISS] = "TCP_MISS",
    [CL_CODE_TCP_HIT] = "TCP_HIT",
    [CL_CODE_TCP_IMS_HIT] = "TCP_IMS_HIT",
    [CL_CODE_TCP_NEGATIVE_HIT] = "TCP_NEGATIVE_HIT",
    [CL_CODE_TCP_DENIED] = "TCP_DENIED",
    [CL_CODE_TCP_TUNNEL] = "TCP_TUNNEL",
    [CL_CODE_TCP_CLIENT_REFRESH_MISS] = "TCP_CLIENT_REFRESH_MISS",
    [CL_CODE_TCP_REFRESH_UNMODIFIED] = "TCP_REFRESH_UNMODIFIED",
    [CL_CODE_TCP_REFRESH_MODIFIED] = "TCP_REFRESH_MODIFIED",
    [CL_CODE_TCP_REFRESH_FAIL_OLD] = "TCP_REFRESH_FAIL_OLD",
};

/* code (+ "_ABORTED") as the log writes it, into buf. */
static const char *code_text(const struct cl_txn *t, char *buf, size_t size)
{
    const char *name = t->code < CL_CODE_N ? code_names[t->code] : "NONE_NONE";

    if (!t->aborted)
        return name;
    snprintf(buf, size, "%s_ABORTED", name);
    return buf;
}

/* Reverse mode's fields: the site and route once routed; the backend
 * once one was chosen (t->rev.chosen; t->key holds its name: a retry's
 * second backend replaces the first); the request id once
 * the backend's request was built. Nothing of a request the router
 * refused (its vhost is not known for sure) or a hit (no backend). */
static void txnlog_fill_rev(const struct sl_client *c, struct sl_log_access *a)
{
    const struct cl_txn *t = &c->txn;
    const struct sl_conf_reverse *rc = &c->conf->reverse;

    if (!t->rev.routed || t->rev.vhost < 0 || (size_t)t->rev.vhost >= rc->n_vhosts)
        return;
    a->vhost = rc->vhosts[t->rev.vhost].name;
    a->route = t->rev.route;
    a->route_name = gw_route_name(c);
    /* The log names who called, or nobody (null); the analytics count
     * nobody on a route with auth as "anonymous" (count_api). */
    a->consumer = t->rev.consumer != NULL ? t->rev.consumer->name : NULL;
    a->backend = t->rev.chosen && t->key[0] ? t->key : NULL;
    a->request_id = t->rev.reqid[0] ? t->rev.reqid : NULL;
}

static void txnlog_fill(const struct sl_client *c, struct sl_log_access *a,
                        char *code, size_t code_size)
{
    const struct cl_txn *t = &c->txn;
    struct timespec now;

    clock_gettime(CLOCK_REALTIME, &now);
    memset(a, 0, sizeof(*a));
    a->format = c->conf->access_log_format;
    a->time_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    a->elapsed_ms = sl_loop_now(c->srv->loop) - t->t_start;
    a->client = c->peer_str;
    a->code = code_text(t, code, code_size);
    a->status = t->status;
    a->bytes = t->bytes_out;
    a->method = t->method;
    a->url = t->url;
    a->version = t->version;
    a->user = t->acl.user[0] ? t->acl.user : NULL;
    a->hier = t->hier ? t->hier : "HIER_NONE";
    a->peer = t->peer[0] ? t->peer : NULL;
    a->type = t->ctype[0] ? t->ctype : NULL;
    a->rule = t->acl.rule;
    a->category = t->acl.category;
    a->cache_status = t->cache.status;
    a->host = t->url_parts.host[0] ? t->url_parts.host : NULL;
    a->sni = t->acl.sni[0] ? t->acl.sni : NULL;
    a->referer = t->referer;
    a->user_agent = t->user_agent;
    if (c->reverse)
        txnlog_fill_rev(c, a);
}

/* Reverse mode's analytics (apistats.h): a request that took a route
 * counts under the route's name, and under its consumer's when the route
 * has auth ("anonymous" when it let nobody in). A request no route took
 * (an unknown Host, a bad request) has no API to count under. Limited:
 * what client_limit.c refused (a rate limit or a quota). */
static void count_api(struct sl_client *c, int64_t elapsed_us, unsigned long long bytes)
{
    const struct cl_txn *t = &c->txn;
    const char *route = gw_route_name(c);
    struct sl_api_txn x = {
        .status = t->status,
        .limited = t->rev.limited,
        .auth_refused = t->rev.auth_refused,
        .bytes_in = t->body_in > 0 ? (unsigned long long)t->body_in : 0,
        .bytes_out = bytes, .elapsed_us = elapsed_us
    };

    if (route != NULL)
        sl_api_record(c->srv->api, route, gw_consumer_name(c), &x);
}

/* Its end is now, read afresh: a page built in this wakeup may have
 * taken a while. */
static void count(struct sl_client *c, const char *code, unsigned long long bytes)
{
    struct cl_txn *t = &c->txn;
    struct sl_metrics_txn x = {
        .code = code, .method = t->method,
        .elapsed_us = sl_mono_us() - t->t_start_us, .bytes = bytes,
        .host = t->url_parts.host, .blocked = t->acl.blocked,
        .category = t->acl.category, .user = t->acl.user
    };

    sl_metrics_observe(c->srv->metrics, &x);
    if (c->reverse)
        count_api(c, x.elapsed_us, bytes);
}

void txnlog_keep_ctype(struct cl_txn *t, const struct sl_http_msg *m)
{
    const struct sl_http_hdr *h = sl_http_find(m, "Content-Type");
    size_t n, i;

    t->ctype[0] = '\0';
    if (h == NULL)
        return;
    n = h->value.len < sizeof(t->ctype) - 1 ? h->value.len : sizeof(t->ctype) - 1;
    /* The log is space-separated: stop at the first blank. */
    for (i = 0; i < n && !sl_is_ows(h->value.base[i]); i++)
        t->ctype[i] = h->value.base[i];
    t->ctype[i] = '\0';
}

void txnlog_aborted(struct sl_client *c)
{
    struct cl_txn *t = &c->txn;

    if (t->method == NULL || t->code == CL_CODE_UNSET || t->logged)
        return;
    t->aborted = 1;
    txnlog_end(c);
}

void txnlog_end(struct sl_client *c)
{
    struct cl_txn *t = &c->txn;
    struct sl_log_access a;
    char code[48];

    if (t->logged || t->method == NULL)
        return;
    t->logged = 1;
    c->srv->stats->http_bytes_from_origins += (unsigned long long)t->bytes_in;
    txnlog_fill(c, &a, code, sizeof(code));
    sl_log_access(&a);
    /* A background revalidation is logged (from "internal"), but it is
     * not a client's request: the pages count what clients asked. */
    if (!c->internal)
        count(c, a.code, (unsigned long long)a.bytes);
}
