/*
 * client_gw.c - reverse mode's API gateway step, after the route and
 * access, before the rate limits (client.c step 2a):
 *
 *   CORS preflight  an OPTIONS with Origin and Access-Control-Request-
 *                   Method on a route with cors is answered here (204, or
 *                   403 for an origin, method or field not allowed): no
 *                   credentials are asked, no backend sees it
 *   who calls       an API key (a field, then a query parameter) or a JWT
 *                   (Authorization: Bearer), as the route's auth accepts;
 *                   credentials sent and bad are a 401 even where anonymous
 *                   calls pass, so a client never mistakes a typo for access
 *   may they        the route's consumers and groups: 403 for another one
 *
 * Then what the backend and the client learn (gw_req_fields, gw_query,
 * gw_resp_fields): the consumer's name and groups (never what the client
 * wrote in those fields), the route's query edits, CORS fields and the
 * request's id on the response.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/sha.h>

#include "filters/query.h"
#include "squidlike/chars.h"
#include "squidlike/client_int.h"
#include "squidlike/errpage.h"
#include "squidlike/gw_index.h"
#include "squidlike/log.h"

#define GW_KEY_MAX 512          /* an API key longer than this is refused */

static void note_origin(struct sl_client *c, const struct sl_http_msg *m);

/* (appends, not printf: this runs for every identified request, and the
 * request id on every reverse response) */
static int put(struct sl_buf *out, const char *s)
{
    return sl_buf_append(out, s, strlen(s));
}

const char *gw_route_name(const struct sl_client *c)
{
    const struct sl_conf_rroute *r = rev_route(c);

    return r != NULL ? r->name : NULL;
}

const char *gw_consumer_name(const struct sl_client *c)
{
    const struct sl_conf_rroute *r = rev_route(c);

    if (c->txn.rev.consumer != NULL)
        return c->txn.rev.consumer->name;
    return r != NULL && r->auth.methods != 0 ? "anonymous" : NULL;
}

/* Our own short answer: status, extra fields ("Name: v\r\n"...), a
 * text/plain body (none for 204). */
static enum cl_verdict reply(struct sl_client *c, int status, const char *fields,
                             const char *body)
{
    struct cl_txn *t = &c->txn;
    size_t blen = body ? strlen(body) : 0;
    int rc;

    t->keep = t->keep && t->req.kind == SL_HTTP_BODY_NONE;
    t->status = status;
    t->code = CL_CODE_TCP_DENIED;
    snprintf(t->ctype, sizeof(t->ctype), body ? "text/plain" : "-");
    if (cl_lend_out(c) < 0 || sl_buf_reserve(&c->out, 2048, 8192) < 0)
        return cl_refuse(t, CL_CODE_UNSET, SL_ERR_NO_MEMORY, 0, NULL);
    sl_buf_reset(&c->out);
    rc = sl_page_head(&c->out, status, body ? "text/plain; charset=utf-8" : NULL, blen,
                      "no-store", t->keep, t->minor, fields);
    if (rc == 0 && t->rev.reqid[0] != '\0')
        rc = sl_buf_printf(&c->out, "X-Request-Id: %s\r\n", t->rev.reqid);
    if (rc == 0)
        rc = sl_buf_append(&c->out, "\r\n", 2);
    if (rc == 0 && !t->is_head && blen > 0)
        rc = sl_buf_append(&c->out, body, blen);
    if (rc < 0)
        return cl_refuse(t, CL_CODE_UNSET, SL_ERR_NO_MEMORY, 0, NULL);
    c->state = CL_REPLY;
    c->t_state = sl_loop_now(c->srv->loop);
    return CL_DONE;
}

/* ------------------------------------------------------------------ CORS */

static const char *vary_cors = "Vary: Origin, Access-Control-Request-Method, "
                               "Access-Control-Request-Headers\r\n";

/* Which of the allowed origins o is: its index, -2 for "*", or -1. */
static int cors_origin(const struct sl_conf_cors *cors, struct sl_view o)
{
    size_t i;

    for (i = 0; i < cors->n_origins; i++)
        if (strlen(cors->origins[i]) == o.len &&
            strncasecmp(cors->origins[i], o.base, o.len) == 0)
            return (int)i;
    return cors->any ? -2 : -1;
}

/* Every element of list v (a field's comma list) in allowed (joined)? */
static int all_in(struct sl_view v, const char *allowed)
{
    struct sl_view a = { allowed, strlen(allowed) };
    const char *p = v.base, *end = v.base + v.len;
    char tok[FLT_HDR_NAME_MAX];

    while (p < end) {
        const char *s, *e;
        while (p < end && (sl_is_ows(*p) || *p == ','))
            p++;
        s = p;
        while (p < end && *p != ',')
            p++;
        e = p;
        while (e > s && sl_is_ows(e[-1]))
            e--;
        if (e == s)
            continue;
        if ((size_t)(e - s) >= sizeof(tok))
            return 0;
        memcpy(tok, s, (size_t)(e - s));
        tok[e - s] = '\0';
        if (!sl_http_list_has(a, tok))
            return 0;
    }
    return 1;
}

static enum cl_verdict preflight(struct sl_client *c, const struct sl_conf_cors *cors,
                                 const struct sl_http_msg *m,
                                 const struct sl_http_hdr *origin,
                                 const struct sl_http_hdr *method)
{
    const struct sl_http_hdr *hdrs = sl_http_find(m, "Access-Control-Request-Headers");
    char fields[4096];
    int i = cors_origin(cors, origin->value), n;

    if (i == -1 || !all_in(method->value, cors->methods) ||
        (hdrs != NULL && !all_in(hdrs->value, cors->headers)))
        return reply(c, 403, vary_cors, "403 Forbidden: CORS preflight not allowed "
                     "(origin, method or header)\n");
    n = snprintf(fields, sizeof(fields), "Access-Control-Allow-Origin: %.*s\r\n"
                 "Access-Control-Allow-Methods: %s\r\n%s%s%s%s%s",
                 i == -2 ? 1 : (int)origin->value.len, i == -2 ? "*" : origin->value.base,
                 cors->methods,
                 cors->headers[0] ? "Access-Control-Allow-Headers: " : "",
                 cors->headers, cors->headers[0] ? "\r\n" : "",
                 cors->credentials ? "Access-Control-Allow-Credentials: true\r\n" : "",
                 vary_cors);
    if (n > 0 && (size_t)n < sizeof(fields) && cors->max_age_s >= 0)
        snprintf(fields + n, sizeof(fields) - (size_t)n,
                 "Access-Control-Max-Age: %lld\r\n", (long long)cors->max_age_s);
    return reply(c, 204, fields, NULL);
}

/* ------------------------------------------------------------ credentials */

static enum cl_verdict unauthorized(struct sl_client *c, const struct sl_conf_rroute *route,
                                    const char *why, int token_sent)
{
    char fields[512], body[256];
    size_t n = 0;

    c->txn.rev.auth_refused = 1;
    fields[0] = '\0';
    if (route->auth.methods & SL_GW_AUTH_JWT)
        n += (size_t)snprintf(fields + n, sizeof(fields) - n,
                              token_sent ? "WWW-Authenticate: Bearer realm=\"squidlike\", "
                              "error=\"invalid_token\", error_description=\"%s\"\r\n"
                              : "WWW-Authenticate: Bearer realm=\"squidlike\"%s\r\n",
                              token_sent ? why : "");
    if ((route->auth.methods & SL_GW_AUTH_KEY) && n < sizeof(fields))
        snprintf(fields + n, sizeof(fields) - n, "WWW-Authenticate: ApiKey realm=\"squidlike\"\r\n");
    snprintf(body, sizeof(body), "401 Unauthorized: %s\n", why);
    SL_LOG(SL_LOG_DEBUG, c->id, 0, "gateway: %s: 401 %s", route->name, why);
    return reply(c, 401, fields, body);
}

/* The route's consumers and groups: may cs call it? */
static int allowed(const struct sl_conf_rauth *a, const struct sl_conf_consumer *cs)
{
    size_t i, j;

    if (a->n_consumers == 0 && a->n_groups == 0)
        return 1;
    for (i = 0; i < a->n_consumers; i++)
        if (strcmp(a->consumers[i], cs->name) == 0)
            return 1;
    for (i = 0; i < a->n_groups; i++)
        for (j = 0; j < cs->n_groups; j++)
            if (strcmp(a->groups[i], cs->groups[j]) == 0)
                return 1;
    return 0;
}

/* The API key of the request: from the field, else the query parameter.
 * Its length, 0 when there is none, -1 when it is unreadable. */
static ssize_t find_key(const struct sl_conf_gateway *gw, const struct sl_http_msg *m,
                        char *key, size_t cap)
{
    const struct sl_http_hdr *h = NULL;
    const char *q;
    ssize_t n;

    if (gw->api_key_header[0] != '\0' && (h = sl_http_find(m, gw->api_key_header)) != NULL) {
        struct sl_view v = sl_view_trim(h->value);
        if (v.len == 0 || v.len >= cap)
            return -1;
        memcpy(key, v.base, v.len);
        key[v.len] = '\0';
        return (ssize_t)v.len;
    }
    if (gw->api_key_query[0] == '\0' ||
        (q = memchr(m->target.base, '?', m->target.len)) == NULL)
        return 0;
    q++;
    n = flt_query_get((struct sl_view){ q, (size_t)(m->target.base + m->target.len - q) },
                      gw->api_key_query, key, cap);
    if (n == -ENOENT)
        return 0;
    return n > 0 ? n : -1;
}

/* A bearer token in Authorization: its view (len 0: none; Basic and
 * kin are the backend's business, not credentials of ours). */
static struct sl_view find_bearer(const struct sl_http_msg *m)
{
    const struct sl_http_hdr *h = sl_http_find(m, "Authorization");
    struct sl_view v;

    if (h == NULL)
        return (struct sl_view){ NULL, 0 };
    v = sl_view_trim(h->value);
    if (v.len < 7 || strncasecmp(v.base, "Bearer ", 7) != 0)
        return (struct sl_view){ NULL, 0 };
    v.base += 7;
    v.len -= 7;
    return sl_view_trim(v);
}

enum cl_verdict gw_begin(struct sl_client *c, const struct sl_http_msg *m)
{
    const struct sl_conf_rroute *route = rev_route(c);
    const struct sl_conf_gateway *gw = &c->conf->reverse.gw;
    const struct sl_conf_consumer *cs = NULL;
    const struct sl_http_hdr *origin, *acrm;
    char key[GW_KEY_MAX + 1], body[256];
    struct sl_view tok = { NULL, 0 };
    ssize_t klen = 0;

    if (route == NULL || c->internal)
        return CL_NEXT;
    rev_request_id(c, m);       /* our own answers carry it too */
    if (route->cors != NULL && sl_view_eq(m->method, "OPTIONS") &&
        (origin = sl_http_find(m, "Origin")) != NULL &&
        (acrm = sl_http_find(m, "Access-Control-Request-Method")) != NULL)
        return preflight(c, route->cors, m, origin, acrm);
    note_origin(c, m);
    if (route->auth.methods == 0)
        return CL_NEXT;
    if (route->auth.methods & SL_GW_AUTH_KEY)
        klen = find_key(gw, m, key, sizeof(key));
    if (klen < 0)
        return unauthorized(c, route, "unknown API key", 0);
    if (klen > 0) {
        unsigned char d[SHA256_DIGEST_LENGTH];
        SHA256((const unsigned char *)key, (size_t)klen, d);
        OPENSSL_cleanse(key, sizeof(key));
        if ((cs = sl_gw_by_key(gw->index, d)) == NULL)
            return unauthorized(c, route, "unknown API key", 0);
    } else if (route->auth.methods & SL_GW_AUTH_JWT) {
        tok = find_bearer(m);
        if (tok.len > 0) {
            const char *why = NULL;
            if (gw_jwt_consumer(c, tok, &cs, &why) < 0)
                return unauthorized(c, route, why, 1);
        }
    }
    if (cs == NULL) {
        if (route->auth.anonymous)
            return CL_NEXT;
        return unauthorized(c, route, "no credentials", 0);
    }
    if (!allowed(&route->auth, cs)) {
        c->txn.rev.auth_refused = 1;
        snprintf(body, sizeof(body), "403 Forbidden: consumer %s may not call %s\n",
                 cs->name, route->name);
        return reply(c, 403, NULL, body);
    }
    c->txn.rev.consumer = cs;
    return CL_NEXT;
}

/* ------------------------------------------------ what the backend learns */

/* Fields no client may write: they would pass for what the gateway says,
 * on an open route too (a backend behind both must not be fooled). */
void gw_req_drop(const struct sl_client *c, struct flt_hdr_opts *opts)
{
    const struct sl_conf_rroute *route = rev_route(c);

    if (route != NULL && route->drop[0] != NULL)
        opts->drop3 = route->drop;
}

int gw_req_fields(const struct sl_client *c, struct sl_buf *out)
{
    const struct sl_conf_consumer *cs = c->txn.rev.consumer;
    size_t i;

    if (cs == NULL)
        return 0;
    if (put(out, c->conf->reverse.gw.consumer_header) < 0 || put(out, ": ") < 0 ||
        put(out, cs->name) < 0 || put(out, "\r\n") < 0)
        return -ENOSPC;
    for (i = 0; i < cs->n_groups; i++)
        if (put(out, i ? "," : "X-Consumer-Groups: ") < 0 || put(out, cs->groups[i]) < 0)
            return -ENOSPC;
    if (cs->n_groups > 0 && put(out, "\r\n") < 0)
        return -ENOSPC;
    return 0;
}

int gw_query(const struct sl_client *c, struct sl_buf *out, size_t from)
{
    const struct sl_conf_rroute *route = rev_route(c);
    char *q, *end, tmp[8192];
    size_t qlen;

    if (route == NULL || (route->query.n_remove == 0 && route->query.add == NULL))
        return 0;
    end = out->last;
    q = memchr(out->pos + from, '?', (size_t)(end - (out->pos + from)));
    qlen = q ? (size_t)(end - q - 1) : 0;
    if (qlen > sizeof(tmp))
        return -ENOSPC;
    if (q != NULL) {
        memcpy(tmp, q + 1, qlen);
        out->last = q;
    }
    return flt_query_edit((struct sl_view){ tmp, qlen }, route->query.remove,
                          route->query.n_remove, route->query.add, out);
}

/* ------------------------------------------------- what the client learns */

int gw_resp_fields(const struct sl_client *c, struct sl_buf *out)
{
    const struct cl_txn *t = &c->txn;
    const struct sl_conf_rroute *route = rev_route(c);
    const struct sl_conf_cors *cors = route ? route->cors : NULL;

    if (t->rev.reqid[0] != '\0' && c->conf->reverse.request_id &&
        (put(out, "X-Request-Id: ") < 0 || put(out, t->rev.reqid) < 0 ||
         put(out, "\r\n") < 0))
        return -ENOSPC;
    if (cors == NULL)
        return 0;
    /* The answer depends on Origin whatever it was: say so to caches
     * (unless every origin gets the same "*"). */
    if (!cors->any || cors->credentials || cors->n_origins > 0)
        if (sl_buf_append(out, "Vary: Origin\r\n", 14) < 0)
            return -ENOSPC;
    if (t->rev.cors_origin == 0)
        return 0;
    if (t->rev.cors_origin == -2 && !cors->credentials)
        return sl_buf_printf(out, "Access-Control-Allow-Origin: *\r\n%s%s%s",
                             cors->expose[0] ? "Access-Control-Expose-Headers: " : "",
                             cors->expose, cors->expose[0] ? "\r\n" : "") < 0 ? -ENOSPC : 0;
    if (t->rev.cors_origin < 1)
        return 0;
    return sl_buf_printf(out, "Access-Control-Allow-Origin: %s\r\n%s%s%s%s",
                         cors->origins[t->rev.cors_origin - 1],
                         cors->expose[0] ? "Access-Control-Expose-Headers: " : "",
                         cors->expose, cors->expose[0] ? "\r\n" : "",
                         cors->credentials ? "Access-Control-Allow-Credentials: true\r\n"
                                           : "") < 0 ? -ENOSPC : 0;
}

/* At the request: which allowed origin asks (for gw_resp_fields). */
static void note_origin(struct sl_client *c, const struct sl_http_msg *m)
{
    const struct sl_conf_rroute *route = rev_route(c);
    const struct sl_http_hdr *o;
    int i;

    c->txn.rev.cors_origin = 0;
    if (route == NULL || route->cors == NULL || (o = sl_http_find(m, "Origin")) == NULL)
        return;
    i = cors_origin(route->cors, o->value);
    c->txn.rev.cors_origin = (short)(i >= 0 ? i + 1 : i == -2 ? -2 : 0);
}
