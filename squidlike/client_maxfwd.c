/*
 * client_maxfwd.c - the pipeline step for the two methods that are about the
 * chain of proxies rather than about a resource: OPTIONS and TRACE
 * (RFC 9110 sections 9.3.7, 9.3.8), and their Max-Forwards (7.6.2).
 *
 *   TRACE, http.allow_trace off -> 403 (the default; see below)
 *   Max-Forwards not 1*DIGIT    -> 400
 *   Max-Forwards: 0             -> we are the final recipient: we answer
 *                                  (OPTIONS: 200 with Allow; TRACE: 200
 *                                  message/http echoing the request)
 *   otherwise                   -> forwarded, Max-Forwards one less
 *                                  (fwd_build_request, filters/hdr.c)
 *
 * TRACE reflects the request's header fields back to the client: whatever
 * a hop before us added (credentials among them) and a browser's cookies,
 * readable by a script that could not read them otherwise (cross-site
 * tracing). It is refused unless an admin turns it on. The refusal is 403,
 * not 405: this hop's policy forbids the method; 405 would claim the
 * target resource does not support it, and its Allow would have to list
 * the resource's methods, which a proxy does not know. When it is on, the
 * echo still leaves out Authorization, Proxy-Authorization and Cookie.
 *
 * The step runs after the access rules - a client they refuse learns
 * nothing, not even which methods we forward - and before the cache.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "filters/hdr.h"
#include "squidlike/client_int.h"
#include "squidlike/log.h"

/* What we forward, for the Allow of our own OPTIONS answer. */
#define ALLOW_BASE "GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS"

static int answer_trace(struct sl_client *c, const struct sl_http_msg *m,
                        size_t headlen)
{
    struct sl_buf echo = { 0 };
    /* The echo is the head again, ": " for ":" at most on each line. */
    size_t size = headlen + 2 * m->nhdrs + 64;
    int rc;

    if (sl_buf_init(&echo, size) < 0)
        return -ENOMEM;
    rc = flt_hdr_trace_echo(m, &echo);
    if (rc == 0)
        rc = mgr_send_page(c, "message/http", "no-store", &echo, "message/http", NULL);
    sl_buf_free(&echo);
    return rc;
}

enum cl_verdict maxfwd_begin(struct sl_client *c, const struct sl_http_msg *m,
                             size_t headlen)
{
    struct cl_txn *t = &c->txn;
    int trace = sl_view_eq(m->method, "TRACE"), rc;
    int64_t left = 0;

    if (!trace && !sl_view_eq(m->method, "OPTIONS"))
        return CL_NEXT;
    if (trace && !c->conf->http.allow_trace)
        return cl_refuse(t, CL_CODE_TCP_DENIED, SL_ERR_ACCESS_DENIED, 403,
                         "TRACE is disabled on this proxy (http.allow_trace): it "
                         "would reflect the request's header fields");
    rc = flt_hdr_max_forwards(m, &left);
    if (rc < 0)
        return cl_refuse(t, CL_CODE_NONE_NONE, SL_ERR_INVALID_REQ, 400,
                         "bad Max-Forwards (one field line of digits)");
    if (rc == 0 || left > 0)
        return CL_NEXT;         /* forwarded, one less */

    /* Max-Forwards: 0 - the request ends here. */
    t->code = CL_CODE_NONE;
    t->hier = "HIER_NONE";
    if (t->req.kind != SL_HTTP_BODY_NONE)
        t->keep = 0;            /* a body we do not read */
    else
        t->req.done = 1;
    if (c->draining || c->srv->draining)
        t->keep = 0;
    if (trace)
        rc = answer_trace(c, m, headlen);
    else
        rc = mgr_send_page(c, NULL, "no-store", NULL, NULL, c->conf->http.allow_trace
                   ? "Allow: " ALLOW_BASE ", TRACE\r\n" : "Allow: " ALLOW_BASE "\r\n");
    if (rc < 0)
        return cl_refuse(t, CL_CODE_NONE_NONE, SL_ERR_NO_MEMORY, 0, NULL);
    return CL_DONE;
}
