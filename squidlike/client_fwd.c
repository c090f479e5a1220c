/*
 * client_fwd.c - forwarding: from a parsed request to an origin connection (pool,
 * DNS, connect, each address in turn), the request head and body out, the
 * response head and body back, with backpressure through bounded buffers.
 *
 * Bodies are streamed, never held whole: the request body moves from
 * client->in to the origin socket, the response body from origin->in to the
 * client socket. A cl_flow scans each body as it passes so we know where it
 * ends (Content-Length, chunked, close). A chunked body is never relayed as
 * it came: it is decoded in place as it is scanned and framed again by us
 * on the way out (our sizes and CRLFs, no extensions), or sent bare to an
 * HTTP/1.0 client. So whatever framing a peer sent, the next hop reads the
 * message boundaries we read - the gap request smuggling lives in is closed
 * here even if the codec one day accepts something it should not.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "acl/acl.h"
#include "filters/hdr.h"
#include "squidlike/client_int.h"
#include "squidlike/log.h"

/* --- finding an origin connection ------------------------------------- */

static void fwd_on_origin(struct sl_origin *o)
{
    cl_run(o->owner);
}

static void fwd_connect_next(struct sl_client *c);
static void fwd_find_origin(struct sl_client *c);

/* The name to look up: the URL's host, or a backend's given by name. */
static const char *fwd_host(const struct sl_client *c)
{
    const struct cl_txn *t = &c->txn;
    const struct sl_conf_peer *p = c->reverse ? NULL : peer_conf(c);

    if (p != NULL)
        return p->host;
    return c->reverse && t->rev.dns_host ? t->rev.dns_host : t->url_parts.host;
}

/* Where the addresses of the next hop go: a parent's apart from the
 * origin's (which a dst rule may have fixed, and a failover to the
 * origin needs as they were). */
static struct sl_dns_result *fwd_addrs(struct sl_client *c)
{
    return !c->reverse && peer_cur(c) >= 0 ? &c->txn.hop.addrs : &c->txn.addrs;
}

/* Are the origin's addresses fixed by the dst rules for this hop? */
static int fwd_dst_known(const struct sl_client *c)
{
    return c->txn.acl.dst_known && (c->reverse || peer_cur(c) < 0);
}

/* A parent that cannot be reached: the next hop, if any (1: under way or
 * answered); 0: answer the failure as usual. */
static int fwd_peer_failed(struct sl_client *c, const char *why)
{
    int r;

    if (c->reverse || peer_cur(c) < 0)
        return 0;
    r = peer_next(c, why);
    if (r > 0)
        fwd_find_origin(c);
    return 1;
}

static void fwd_on_dns(struct sl_dns_waiter *w, const struct sl_dns_result *res)
{
    struct sl_client *c = w->data;
    struct cl_txn *t = &c->txn;

    struct sl_dns_result *to = fwd_addrs(c);

    if (res != to)
        *to = *res;
    if ((res->status != SL_DNS_OK || res->n == 0) &&
        fwd_peer_failed(c, res->status == SL_DNS_TIMEOUT ? "lookup timed out"
                                                         : "no address")) {
        cl_run(c);
        return;
    }
    if (res->status != SL_DNS_OK || res->n == 0) {
        t->code = CL_CODE_TCP_MISS;
        if (c->reverse) {
            SL_LOG(SL_LOG_WARN, c->id, 0, "backend %s: no address for %s", t->key,
                   fwd_host(c));
            if (rev_retry(c, 0)) {
                cl_run(c);
                return;
            }
            rev_outcome(c, 0, 0);
        }
        cl_reply_error(c, res->status == SL_DNS_TIMEOUT ? SL_ERR_DNS_TIMEOUT
                                                        : SL_ERR_DNS_FAIL,
                       0, fwd_host(c));
    } else if (c->reverse && t->rev.dns_host && !t->acl.dst_known) {
        /* a named backend's addresses now: a pooled connection to one */
        t->acl.dst_known = 1;
        fwd_find_origin(c);
    } else {
        t->addr_next = 0;
        fwd_connect_next(c);
    }
    cl_run(c);
}

/* Is sa (port aside) one of the addresses? */
static int addr_listed(const struct sl_dns_result *d, const struct sockaddr *sa)
{
    size_t i;

    for (i = 0; d->status == SL_DNS_OK && i < d->n; i++) {
        const union sl_sockaddr *a = &d->addr[i];

        if (a->sa.sa_family != sa->sa_family)
            continue;
        if (sa->sa_family == AF_INET
            && a->in.sin_addr.s_addr == ((const struct sockaddr_in *)sa)->sin_addr.s_addr)
            return 1;
        if (sa->sa_family == AF_INET6
            && memcmp(&a->in6.sin6_addr, &((const struct sockaddr_in6 *)sa)->sin6_addr,
                      sizeof(a->in6.sin6_addr)) == 0)
            return 1;
    }
    return 0;
}

static int to_local_ok(const struct sl_client *c, const struct sockaddr *dst)
{
    const struct sl_server *srv = c->srv;

    if (c->reverse || peer_cur(c) >= 0)
        return 1;               /* backends, parents: the admin's own choice */
    return acl_to_localhost_ok(c->conf->access.to_localhost, &c->peer.sa, dst,
                               srv->self, srv->nself);
}

/* An IP literal needs no lookup. 1 if host was one (in t->addrs). */
static int literal_into(const char *host, struct sl_dns_result *d)
{
    union sl_sockaddr *a = &d->addr[0];

    memset(d, 0, sizeof(*d));
    if (inet_pton(AF_INET, host, &a->in.sin_addr) == 1)
        a->sa.sa_family = AF_INET;
    else if (inet_pton(AF_INET6, host, &a->in6.sin6_addr) == 1)
        a->sa.sa_family = AF_INET6;
    else
        return 0;
    d->n = 1;
    d->status = SL_DNS_OK;
    return 1;
}

int fwd_literal(struct cl_txn *t)
{
    return literal_into(t->url_parts.host, &t->addrs);
}

static int fwd_scan_request(struct sl_client *c);

void fwd_start(struct sl_client *c)
{
    struct cl_txn *t = &c->txn;

    /* What has come of the body is judged before any origin is asked:
     * a malformed one is refused with nothing sent, not even the head. */
    if (fwd_scan_request(c) < 0)
        return;
    if (c->reverse && !t->is_connect && rev_pick(c) != 0)
        return;                 /* queued for a slot, or answered */
    if (!c->reverse && peer_start(c) < 0)
        return;                 /* never_direct and no parent: answered */
    t->hier = "HIER_NONE";
    fwd_find_origin(c);
}

/*
 * A pooled TLS connection is reused only under the TLS settings it was
 * made with: after a reload that turned verification on, changed the CA,
 * the name or the client certificate, it would carry requests to a peer
 * the new settings refuse. Each snapshot builds its own context, and a
 * pooled SSL holds a reference to the one that made it, so a stale
 * connection's context is never at the address of the current one.
 */
static int fwd_tls_current(struct sl_client *c, const struct sl_origin *o)
{
    const struct sl_conf_peer *p = c->reverse ? NULL : peer_conf(c);

    if (o->ssl == NULL)
        return 1;
    if (p != NULL)
        return SSL_get_SSL_CTX(o->ssl) == p->tls_ctx;
    return c->reverse && c->txn.rev.routed &&
           SSL_get_SSL_CTX(o->ssl) == c->conf->reverse.pools[rev_route(c)->pool].tls_ctx;
}

/*
 * An idle pooled connection to t->key, or its addresses (known, an IP
 * literal, or a lookup) and a new connection. A backend given by name is
 * looked up first, and only then may the pool serve it, from a connection
 * to one of the addresses it has now (its name may point elsewhere since).
 */
static void fwd_find_origin(struct sl_client *c)
{
    struct cl_txn *t = &c->txn;
    struct sl_server *srv = c->srv;
    int64_t now = sl_loop_now(srv->loop);
    int named = c->reverse && t->rev.dns_host != NULL;
    struct sl_origin *o;

    if (!t->is_connect && !t->no_pool && !(named && !t->acl.dst_known)) {
        o = sl_origin_take(srv->pool, t->key, fwd_on_origin, c);
        if (o && ((fwd_dst_known(c) && !addr_listed(&t->addrs, &o->peer.sa))
                  || !to_local_ok(c, &o->peer.sa) || !fwd_tls_current(c, o))) {
            sl_origin_close(o);     /* refused by the lookup path, or made anew */
            o = NULL;
        }
        if (o) {
            t->origin = o;
            t->reused = 1;
            peer_connected(c, o);
            c->state = CL_FORWARD;
            c->t_state = c->t_progress = now;
            return;
        }
    }
    if (!fwd_dst_known(c) && !named && literal_into(fwd_host(c), fwd_addrs(c))) {
        t->addr_next = 0;
        fwd_connect_next(c);
        return;
    }
    t->dnsw.cb = fwd_on_dns;
    t->dnsw.data = c;
    c->state = CL_RESOLVE;
    c->t_state = now;
    if (fwd_dst_known(c)) {
        /* the addresses the dst rules saw, and no others */
        fwd_on_dns(&t->dnsw, &t->addrs);
        return;
    }
    if (sl_dns_resolve(srv->dns, fwd_host(c), &t->dnsw, fwd_addrs(c)) == 0)
        fwd_on_dns(&t->dnsw, fwd_addrs(c));
}

/* Try the next resolved address; answer an error when none is left. */
static void fwd_connect_next(struct sl_client *c)
{
    struct cl_txn *t = &c->txn;
    struct sl_server *srv = c->srv;
    const struct sl_dns_result *d = fwd_addrs(c);
    const struct sl_conf_peer *p = c->reverse ? NULL : peer_conf(c);
    char where[SL_ORIGIN_KEY_MAX + 80];
    int err;

    while (t->addr_next < d->n) {
        union sl_sockaddr a = d->addr[t->addr_next++];
        if (p != NULL)
            sl_net_set_port(&a.sa, p->port);
        else if (!c->reverse)   /* a backend's address has its port */
            sl_net_set_port(&a.sa, t->url_parts.port);
        else if (t->rev.dns_host)
            sl_net_set_port(&a.sa, t->rev.dns_port);
        if (!to_local_ok(c, &a.sa)) {
            t->denied_local = 1;
            continue;
        }
        t->origin = sl_origin_connect(srv->pool, &a, t->key,
                                      c->conf->limits.buffer_size,
                                      fwd_on_origin, c, &err);
        if (t->origin == NULL) {
            t->connect_err = err;
            continue;
        }
        c->state = CL_CONNECT;
        c->t_state = sl_loop_now(srv->loop);
        return;
    }
    if (t->denied_local && t->connect_err == 0) {
        t->code = CL_CODE_TCP_DENIED;
        cl_reply_error(c, SL_ERR_TO_LOCALHOST, 0, t->key);
        return;
    }
    /* a parent: nothing was sent, the next hop may take it */
    if (t->connect_err == -EPROTO && t->tls_why != NULL)
        snprintf(where, sizeof(where), "TLS: %s", t->tls_why);
    else
        snprintf(where, sizeof(where), "%s", strerror(t->connect_err ? -t->connect_err
                                                                     : EHOSTUNREACH));
    if (fwd_peer_failed(c, where))
        return;
    /* reverse mode: nothing was sent, another backend may take it */
    if (rev_retry(c, 0))
        return;
    if (c->reverse)
        rev_outcome(c, 0, 0);
    if (t->connect_err == -EPROTO && t->tls_why != NULL)
        snprintf(where, sizeof(where), "%s: TLS: %s", t->key, t->tls_why);
    else
        snprintf(where, sizeof(where), "%s: %s", t->key,
                 strerror(t->connect_err ? -t->connect_err : EHOSTUNREACH));
    cl_reply_error(c, t->connect_err == -ETIMEDOUT ? SL_ERR_CONNECT_TIMEOUT
                                                   : SL_ERR_CONNECT_FAIL,
                   0, where);
}

/* A TLS pool: the handshake on the new connection, the backend's
 * certificate verified. 1 done, 0 again at the next edge, -1 failed (the
 * next address or backend is tried). */
static int fwd_tls(struct sl_client *c)
{
    struct cl_txn *t = &c->txn;
    struct sl_origin *o = t->origin;
    const struct sl_conf_peer *pp = c->reverse ? NULL : peer_conf(c);
    const char *why = NULL;
    int r;

    if (o->ssl == NULL) {
        const struct sl_conf_rpool *p = pp ? NULL :
            &c->conf->reverse.pools[rev_route(c)->pool];
        /* a parent's name: its tls_name, or the host of its address */
        const char *name = pp ? (pp->tls_name[0] ? pp->tls_name : pp->host) :
                           p->tls_name[0] ? p->tls_name :
                           t->rev.dns_host ? t->rev.dns_host : o->peer_str;
        if ((o->ssl = sl_tls_connect(pp ? pp->tls_ctx : p->tls_ctx, o->io.fd,
                                     name)) == NULL) {
            t->tls_why = "out of memory";
            return -1;
        }
    }
    r = sl_tls_handshake(o->ssl, &o->rd, &o->wr, &why);
    if (r == 0)
        return 0;
    if (r < 0) {
        t->tls_why = sl_tls_verify_why(o->ssl);
        if (t->tls_why == NULL)
            t->tls_why = why;
        SL_LOG(SL_LOG_INFO, c->id, 0, "TLS to %s %s (%s) failed: %s",
               pp ? "parent" : "backend", t->key,
               o->peer_str, t->tls_why);
        return -1;
    }
    o->tls_ready = 1;
    return 1;
}

static int fwd_connected(struct sl_client *c)
{
    struct cl_txn *t = &c->txn;
    struct sl_origin *o = t->origin;
    int rc;

    if (o->ssl == NULL) {       /* TCP first */
        if (!o->wr && !o->hup)
            return 0;
        rc = sl_net_connect_result(o->io.fd);
        if (rc < 0) {
            SL_LOG(SL_LOG_DEBUG, c->id, rc, "connect to %s failed", o->peer_str);
            t->connect_err = rc;
            sl_origin_close(o);
            t->origin = NULL;
            fwd_connect_next(c);
            return 1;
        }
        if (!(c->reverse && t->rev.routed &&
              c->conf->reverse.pools[rev_route(c)->pool].tls) &&
            !(!c->reverse && peer_conf(c) && peer_conf(c)->tls))
            goto connected;
    }
    if ((rc = fwd_tls(c)) == 0)
        return 0;
    if (rc < 0) {
        t->connect_err = -EPROTO;
        sl_origin_close(o);
        t->origin = NULL;
        fwd_connect_next(c);
        return 1;
    }
connected:
    peer_connected(c, o);
    if (t->is_connect) {
        if (!c->reverse && peer_cur(c) >= 0)
            peer_chain_start(c);    /* CONNECT to the parent first */
        else
            tunnel_start(c);
        return 1;
    }
    c->state = CL_FORWARD;
    c->t_state = c->t_progress = sl_loop_now(c->srv->loop);
    return 1;
}

void fwd_release_origin(struct sl_client *c, int reusable)
{
    const struct sl_conf *conf = c->conf;
    struct sl_origin *o = c->txn.origin;

    c->txn.origin = NULL;
    sl_origin_release(o, reusable && !c->srv->draining,
                      conf->timeouts.pool_idle, conf->pool.max_idle,
                      conf->pool.max_idle_per_host);
}

/* --- failures --------------------------------------------------------- */

/*
 * The origin connection failed (write error, or EOF/reset before a whole
 * response head). A pooled connection the origin had already closed is
 * the usual cause: an idempotent request without a body is retried once on
 * a fresh connection (RFC 9110 section 9.2.2). Otherwise answer 502 if
 * nothing has been sent to the client yet, or cut the client off.
 */
static void fwd_origin_failed(struct sl_client *c, int err)
{
    struct cl_txn *t = &c->txn;

    if (t->origin) {
        sl_origin_close(t->origin);
        t->origin = NULL;
    }
    if (t->reused && !t->resp_started && t->idempotent &&
        t->req.kind == SL_HTTP_BODY_NONE && !t->retried) {
        SL_LOG(SL_LOG_DEBUG, c->id, err, "reused connection to %s failed, retrying",
               t->key);
        t->retried = 1;
        t->reused = 0;
        t->no_pool = 1;
        t->oreq_sent = 0;
        fwd_start(c);
        return;
    }
    /* A parent that closed before answering: the next hop (the next
     * parent, then direct), when the request can safely go again. */
    if (!c->reverse && peer_cur(c) >= 0 && !t->resp_started && t->idempotent &&
        t->req.kind == SL_HTTP_BODY_NONE) {
        t->oreq_sent = 0;
        t->reused = 0;
        if (fwd_peer_failed(c, "closed before answering"))
            return;
    }
    /* reverse mode: a backend that failed on a fresh connection; the
     * request goes to another when it safely can (client_rev.c) */
    if (!t->reused && rev_retry(c, t->oreq_sent > 0))
        return;
    if (c->reverse && !t->reused)
        rev_outcome(c, 0, 0);
    if (t->bytes_out > 0 || t->head_done) {
        cl_close(c);
        return;
    }
    sl_buf_reset(&c->out);      /* drop any interim 1xx not yet sent */
    if (!t->resp_started && (err == 0 || err == -ECONNRESET))
        cl_reply_error(c, SL_ERR_ZERO_SIZE_OBJECT, 0, t->key);
    else if (!t->resp_started)
        cl_reply_error(c, SL_ERR_CONNECT_FAIL, 0, t->key);
    else
        cl_reply_error(c, SL_ERR_INVALID_RESP, 0, "incomplete response head");
}

static void fwd_bad_response(struct sl_client *c, const char *why)
{
    struct cl_txn *t = &c->txn;

    SL_LOG(SL_LOG_INFO, c->id, 0, "bad response from %s: %s", t->key, why);
    t->origin_keep = 0;
    if (c->reverse)
        rev_outcome(c, 0, 0);
    if (t->bytes_out > 0) {
        cl_close(c);
        return;
    }
    sl_buf_reset(&c->out);
    cl_reply_error(c, SL_ERR_INVALID_RESP, 0, why);
}

void fwd_timeout(struct sl_client *c)
{
    struct cl_txn *t = &c->txn;

    if (c->state == CL_CONNECT) {
        t->connect_err = -ETIMEDOUT;
        sl_origin_close(t->origin);
        t->origin = NULL;
        fwd_connect_next(c);
        return;
    }
    if (c->reverse)
        rev_outcome(c, 0, 0);   /* a no-op when its head came */
    /* (a chained CONNECT after the peek: our 200 went out, TLS follows) */
    /* (a JSON body being held: its head has not gone, an answer can) */
    if ((t->head_done && !json_holds(c)) || t->bytes_out > 0 ||
        (t->hop.chain && t->acl.peeked)) {
        cl_close(c);            /* stalled mid-body: all we can do is cut */
        return;
    }
    sl_buf_reset(&c->out);
    cl_reply_error(c, SL_ERR_READ_TIMEOUT, 0, t->key);
}

/* --- request: client -> origin ---------------------------------------- */

/* Scan the request body that has come; 0, or -1 when it was malformed and
 * the client has been answered (400) or cut off. */
static int fwd_scan_request(struct sl_client *c)
{
    struct cl_txn *t = &c->txn;
    size_t span_n;
    char *span;

    if (flow_scan(&t->req, &c->in, &span, &span_n) == 0) {
        t->body_in += (int64_t)span_n;  /* the analytics' bytes in */
        return 0;
    }
    t->origin_keep = 0;
    t->keep = 0;
    SL_LOG(SL_LOG_INFO, c->id, 0, "%s: bad request body: %s", c->peer_str,
           t->req.ck.err ? t->req.ck.err : "malformed");
    if (t->bytes_out > 0 || t->head_done) {
        cl_close(c);
        return -1;
    }
    t->code = CL_CODE_NONE_NONE;
    sl_buf_reset(&c->out);
    cl_reply_error(c, SL_ERR_INVALID_REQ, 400, t->req.ck.err);
    return -1;
}

static int fwd_send_request(struct sl_client *c)
{
    struct cl_txn *t = &c->txn;
    struct sl_origin *o = t->origin;
    size_t hl = sl_buf_len(&c->oreq) - t->oreq_sent, k;
    int progress = 0;
    ssize_t n;

    if (!t->req.done && c->rd && flow_room(&c->in) > 0) {
        n = cl_read(c->io.fd, c->ssl, &c->in, &c->rd, c->hup);
        if (n == 0 || (n < 0 && n != -EAGAIN)) {
            cl_close(c);        /* client gone mid-body */
            return 1;
        }
        if (n > 0) {
            c->srv->stats->bytes_from_clients += (unsigned long long)n;
            c->t_progress = sl_loop_now(c->srv->loop);
            progress = 1;
        }
    }
    if (fwd_scan_request(c) < 0)
        return 1;
    if (o->wr) {
        n = flow_send(o->io.fd, o->ssl, c->oreq.pos + t->oreq_sent, hl, &c->in,
                      &t->req, &o->wr, &k);
        if (n < 0 && n != -EAGAIN) {
            fwd_origin_failed(c, (int)n);
            return 1;
        }
        if (n > 0) {
            t->oreq_sent += k;
            c->t_progress = sl_loop_now(c->srv->loop);
            progress = 1;
        }
    }
    return progress;
}

static int fwd_request_complete(const struct sl_client *c)
{
    const struct cl_txn *t = &c->txn;

    return t->oreq_sent == sl_buf_len(&c->oreq) && flow_sent(&t->req);
}

/* --- response: origin -> client --------------------------------------- */

/* "HTTP/1.1 NNN reason" CRLF (the parser took a 3-digit status). */
static int status_line(struct sl_buf *out, const struct sl_http_msg *m)
{
    char st[13] = "HTTP/1.1 000 ";
    int v = m->status;

    if (v < 100 || v > 999)
        return sl_buf_printf(out, "HTTP/1.1 %d %.*s\r\n", m->status,
                             (int)m->reason.len, m->reason.base);
    st[9] = (char)('0' + v / 100);
    st[10] = (char)('0' + v / 10 % 10);
    st[11] = (char)('0' + v % 10);
    return sl_buf_append(out, st, sizeof(st)) < 0 ||
           sl_buf_append(out, m->reason.base, m->reason.len) < 0 ||
           sl_buf_append(out, "\r\n", 2) < 0 ? -ENOSPC : 0;
}

static int fwd_client_head(struct sl_client *c, const struct sl_http_msg *m,
                           int final)
{
    struct cl_txn *t = &c->txn;
    const struct sl_conf *conf = c->conf;
    size_t limit = conf->http.max_response_head + 8192;
    struct flt_hdr_opts opts;
    const char *add = NULL;
    char via[160];
    size_t mark;

    if (cl_lend_out(c) < 0)
        return -ENOMEM;
    memset(&opts, 0, sizeof(opts));
    if (conf->http.via) {
        fwd_via_text(via, sizeof(via), m->minor, conf);
        opts.via = via;
    }
    opts.keep_cl = 1;
    /* chunked stays chunked (framed by us), except to an HTTP/1.0 client */
    opts.keep_te = !(t->resp.kind == SL_HTTP_BODY_CHUNKED && !t->resp.reframe);
    opts.access = conf->policy.resp_headers;
    if (c->reverse)
        rev_resp_opts(c, &opts, &add);
    if (final) {
        zip_opts(c, m, NULL, 1, &opts);     /* our coding's (client_zip.c) */
        json_opts(c, m, 1, &opts);          /* the JSON edit's (client_json.c) */
    }
    for (;;) {
        mark = sl_buf_len(&c->out);
        if (status_line(&c->out, m) == 0 &&
            flt_hdr_rewrite(m, &opts, &c->out) == 0 &&
            (add == NULL || sl_buf_append(&c->out, add, strlen(add)) == 0) &&
            (!final || zip_lines(c, m, NULL, 1, &c->out) == 0) &&
            (!final || hit_status_field(c, &c->out) == 0) &&
            (!final || rev_resp_fields(c, &c->out) == 0) &&
            (!final || t->keep || sl_buf_append(&c->out, "Connection: close\r\n", 19) == 0) &&
            (!final || !t->keep || t->minor ||
             sl_buf_append(&c->out, "Connection: keep-alive\r\n", 24) == 0) &&
            sl_buf_append(&c->out, "\r\n", 2) == 0)
            return 0;
        c->out.last = c->out.pos + mark;
        if (sl_buf_size(&c->out) >= limit ||
            sl_buf_reserve(&c->out, sl_buf_size(&c->out), limit) < 0)
            return -ENOSPC;
    }
}

/* A response head was parsed from origin->in: 1 if it was the final one. */
static int fwd_on_head(struct sl_client *c, const struct sl_http_msg *m,
                       size_t headlen)
{
    struct cl_txn *t = &c->txn;
    struct sl_origin *o = t->origin;
    enum cl_verdict v;

    if (m->status < 200) {
        if (m->status == 101) {
            /* Only to a request that asked for it, with what it asked. */
            if (!t->upgrade || sl_http_find(m, "Upgrade") == NULL) {
                fwd_bad_response(c, "protocol switch not asked for");
                return -1;
            }
            if (c->reverse)
                rev_outcome(c, 1, 1);
            txnlog_keep_ctype(t, m);
            if (fwd_client_head(c, m, 0) < 0) {
                fwd_bad_response(c, "response head too large");
                return -1;
            }
            /* fwd_client_head ended the head: put our two fields in
             * before its blank line */
            c->out.last -= 2;
            if (fwd_upgrade_fields(m, &c->out) < 0 ||
                sl_buf_append(&c->out, "\r\n", 2) < 0) {
                fwd_bad_response(c, "response head too large");
                return -1;
            }
            sl_buf_consume(&o->in, headlen);
            tunnel_upgraded(c);
            return 1;
        }
        /* Interim (100 Continue, 103 Early Hints): HTTP/1.1 clients get it. */
        if (t->minor >= 1 && fwd_client_head(c, m, 0) < 0) {
            fwd_bad_response(c, "response head too large");
            return -1;
        }
        sl_buf_consume(&o->in, headlen);
        return 0;
    }
    /* A backend fails by what says it is down or overloaded, not by an
     * application's own 500 or a 501 any client can provoke (else a
     * client could eject every backend with a few odd requests). */
    if (c->reverse)
        rev_outcome(c, m->status != 502 && m->status != 503 && m->status != 504, 1);
    else if (peer_on_head(c, m))
        return -1;              /* a parent's 407: our 502 is under way */
    t->resp.kind = sl_http_response_body(m, t->is_head);
    t->resp.left = m->content_length;
    if (json_on_head(c, m) < 0) {
        fwd_bad_response(c, "no memory to edit the JSON body");
        return -1;
    }
    zip_on_head(c, m);          /* before the store sees the head */
    v = fill_on_head(c, m);
    if (v != CL_NEXT) {
        /* Answered from the store (a 304 refreshed it, or stale-if-error),
         * or failed: the origin's response ends here; keep its connection
         * only when nothing of a body can follow. */
        t->origin_keep = t->resp.kind == SL_HTTP_BODY_NONE &&
            (m->minor >= 1 ? !m->conn_close : m->conn_keepalive) &&
            sl_buf_len(&o->in) == headlen;
        if (t->origin)
            fwd_release_origin(c, t->origin_keep);
        if (v == CL_ERROR)
            cl_close(c);
        return 1;
    }
    t->status = m->status;
    t->resp.left = m->content_length;
    sl_chunk_init(&t->resp.ck);
    t->resp.reframe = t->resp.kind == SL_HTTP_BODY_CHUNKED && t->minor >= 1;
    t->origin_keep = (m->minor >= 1 ? !m->conn_close : m->conn_keepalive) &&
                     t->resp.kind != SL_HTTP_BODY_CLOSE;
    if (t->zip || t->json)
        t->resp.reframe = 0;    /* decoded into the coder; framed after it */
    /* Without a length the client can only learn the end from the close
     * (an edited body gets one, but a chunked one past max_size not). */
    if (t->json ? t->minor == 0 && t->resp.kind != SL_HTTP_BODY_LENGTH :
        t->zip ? !t->zip->flow.reframe :
        t->resp.kind == SL_HTTP_BODY_CLOSE ||
        (t->resp.kind == SL_HTTP_BODY_CHUNKED && !t->resp.reframe))
        t->keep = 0;
    txnlog_keep_ctype(t, m);
    if (fwd_client_head(c, m, 1) < 0) {
        fwd_bad_response(c, "response head too large");
        return -1;
    }
    sl_buf_consume(&o->in, headlen);
    t->head_done = 1;
    if (t->resp.kind == SL_HTTP_BODY_NONE)
        t->resp.done = 1;
    return 1;
}

/* Read and parse until the final response head is in. */
static int fwd_read_head(struct sl_client *c)
{
    struct cl_txn *t = &c->txn;
    struct sl_origin *o = t->origin;
    const struct sl_conf *conf = c->conf;
    struct sl_http_limits lim = { conf->http.max_response_head,
                                  conf->http.max_response_head };
    size_t limit = conf->limits.buffer_size > lim.head_max + 1
                 ? conf->limits.buffer_size : lim.head_max + 1;
    struct sl_http_msg m;
    int progress = 0, rc;
    ssize_t r, n;

    for (;;) {
        if (sl_buf_len(&o->in) > 0) {
            memset(&m, 0, sizeof(m));
            m.hdrs = c->hdrs;
            m.max_hdrs = c->nhdrs_cap;
            r = sl_http_parse_response(o->in.pos, sl_buf_len(&o->in), &lim, &m);
            if (r == SL_HTTP_ERROR) {
                fwd_bad_response(c, m.err ? m.err : "malformed response head");
                return 1;
            }
            if (r > 0) {
                rc = fwd_on_head(c, &m, (size_t)r);
                if (rc != 0)
                    return 1;   /* final head, or failed */
                progress = 1;
                continue;       /* an interim head: the next one follows */
            }
        }
        if (!o->rd)
            return progress;
        if (sl_buf_space(&o->in) == 0 && sl_buf_reserve(&o->in, 4096, limit) < 0) {
            fwd_bad_response(c, "response head too large");
            return 1;
        }
        n = cl_read(o->io.fd, o->ssl, &o->in, &o->rd, o->hup);
        if (n == -EAGAIN)
            return progress;
        if (n <= 0) {
            fwd_origin_failed(c, (int)n);
            return 1;
        }
        c->srv->stats->bytes_from_origins += (unsigned long long)n;
        t->bytes_in += n;
        t->resp_started = 1;
        c->t_progress = sl_loop_now(c->srv->loop);
        progress = 1;
    }
}

static int fwd_move_body(struct sl_client *c)
{
    struct cl_txn *t = &c->txn;
    struct sl_origin *o = t->origin;
    size_t hl, span_n, k;
    int progress = 0;
    char *span;
    ssize_t n;

    if (t->head_done && flow_scan(&t->resp, &o->in, &span, &span_n) < 0) {
        fwd_bad_response(c, t->resp.ck.err ? t->resp.ck.err : "bad chunked body");
        return 1;
    }
    if (t->head_done && t->zip == NULL && t->json == NULL)
        fill_body(c, span, span_n);    /* data only: stored de-chunked */
    if (t->head_done && ((t->zip && (progress = zip_pump(c)) < 0) ||
                         (t->json && (progress = json_pump(c)) < 0))) {
        t->origin_keep = 0;
        if (json_holds(c))      /* nothing went yet: say why */
            fwd_bad_response(c, "the JSON body could not be edited");
        else
            cl_close(c);        /* cut short: the client must see it */
        return 1;
    }
    /* a JSON body being held holds the head (client_json.c) */
    hl = json_holds(c) ? 0 : sl_buf_len(&c->out);
    if (t->resp.done && sl_buf_len(&o->in) > t->resp.ready) {
        /* Bytes after the end of the response: a confused origin. */
        t->origin_keep = 0;
        o->in.last = o->in.pos + t->resp.ready;
    }
    if (c->headless) {
        /* Its client left: the bytes only go to the store (no framing
         * of ours to finish either). */
        size_t bl = t->head_done && !t->zip && !t->json ? t->resp.ready : 0;
        t->resp.reframe = 0;
        if (t->zip) {           /* coded and stored: nobody to send to */
            sl_buf_consume(&t->zip->out, t->zip->flow.ready);
            progress |= t->zip->flow.ready > 0;
            t->zip->flow.ready = 0;
            t->zip->flow.reframe = 0;
        }
        if (t->json) {          /* edited (or passed) and stored */
            sl_buf_consume(&t->json->buf, t->json->flow.ready);
            progress |= t->json->flow.ready > 0;
            t->json->flow.ready = 0;
            t->json->flow.reframe = 0;
        }
        sl_buf_consume(&c->out, hl);
        sl_buf_consume(&o->in, bl);
        t->resp.ready -= bl;
        t->resp.tr_ready = 0;
        progress |= hl || bl;
    } else if (c->wr) {
        n = t->head_done && t->zip
          ? flow_send(c->io.fd, c->ssl, c->out.pos, hl, &t->zip->out,
                      &t->zip->flow, &c->wr, &k)
          : t->head_done && t->json
          ? flow_send(c->io.fd, c->ssl, c->out.pos, hl, &t->json->buf,
                      &t->json->flow, &c->wr, &k)
          : flow_send(c->io.fd, c->ssl, c->out.pos, hl, &o->in,
                      t->head_done ? &t->resp : NULL, &c->wr, &k);
        if (n < 0 && n != -EAGAIN) {
            leave_now(c, (int)n);   /* the client went away */
            return 1;
        }
        if (n > 0) {
            sl_buf_consume(&c->out, k);
            cl_sent(c, n);
            c->t_progress = sl_loop_now(c->srv->loop);
            progress = 1;
        }
    }
    if (t->head_done && !t->resp.done && o->rd && flow_room(&o->in) > 0) {
        n = cl_read(o->io.fd, o->ssl, &o->in, &o->rd, o->hup);
        if (n == 0 && t->resp.kind == SL_HTTP_BODY_CLOSE) {
            t->resp.done = 1;
            t->origin_keep = 0;
            return 1;
        }
        if (n == 0 || (n < 0 && n != -EAGAIN)) {
            SL_LOG(SL_LOG_INFO, c->id, (int)n, "%s closed mid-body", t->key);
            t->origin_keep = 0;
            if (json_holds(c))  /* its head is held: a 502 can still go */
                fwd_bad_response(c, "closed mid-body");
            else
                cl_close(c);    /* truncated: the client must see it */
            return 1;
        }
        if (n > 0) {
            c->srv->stats->bytes_from_origins += (unsigned long long)n;
            t->bytes_in += n;
            c->t_progress = sl_loop_now(c->srv->loop);
            progress = 1;
        }
    }
    return progress;
}

/* The response is fully delivered: close the books on this request. */
static void fwd_finish(struct sl_client *c)
{
    struct cl_txn *t = &c->txn;

    fill_finish(c, 1);
    if (!fwd_request_complete(c)) {
        /* The origin answered before taking the whole body (an early 4xx,
         * or no 100 Continue): neither connection is in a known state. */
        t->keep = 0;
        t->origin_keep = 0;
    }
    cl_txn_done(c);
}

int fwd_run(struct sl_client *c)
{
    struct cl_txn *t = &c->txn;
    int progress;

    if (c->headless && leave_recheck(c))
        return 1;
    if (c->state == CL_CONNECT)
        return fwd_connected(c);
    if (t->hop.chain)
        return peer_chain_run(c);
    progress = fwd_send_request(c);
    if (c->state != CL_FORWARD)
        return 1;
    if (!t->head_done)
        progress |= fwd_read_head(c);
    if (c->state != CL_FORWARD)
        return 1;
    progress |= fwd_move_body(c);
    if (c->state != CL_FORWARD)
        return 1;
    if (t->head_done && flow_sent(&t->resp) && (t->zip == NULL || zip_sent(c)) &&
        (t->json == NULL || json_sent(c)) && sl_buf_len(&c->out) == 0) {
        fwd_finish(c);
        return 1;
    }
    return progress;
}
