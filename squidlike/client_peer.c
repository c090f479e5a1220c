/*
 * client_peer.c - parent proxies on the forward path: which next hops a
 * request may take (peer_access, never_direct, always_direct; the allowed
 * parents in their hashing order, conf.h and peer.h), and what changes
 * when the next hop is a parent rather than the origin:
 *
 *   - the request goes in absolute form ("GET http://host/path"), with
 *     the parent's own Proxy-Authorization (login), never the client's
 *     (a hop-by-hop field, filters/hdr.c drops it); the client-IP
 *     stripping is the same as toward an origin (forwarded_for);
 *   - connections to a parent are pooled under its own key
 *     ("parent/NAME"), apart from direct ones;
 *   - CONNECT is chained: "CONNECT host:port" to the parent, its 2xx
 *     awaited, then the tunnel (the client sees our one 200);
 *   - a parent's 407 is our failure, not the client's: a 502 that names
 *     the parent, never its realm;
 *   - a parent that cannot be reached (lookup, connect, TLS) is ejected
 *     for a while (peer.h) and the next hop is tried: the next parent,
 *     then the origin unless never_direct; with none left, a 503.
 *
 * The hops are chosen once per request (peer_select, a step of cl_begin;
 * peer_start for fetches of our own) and tried in order (peer_next).
 *
 *   select --> hop[0] --fail--> hop[1] --fail--> ... --> 503 (no direct)
 *                |                 |                     or the direct
 *                +--ok-------------+--> forward / chain     hop's error
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "acl/rules.h"
#include "squidlike/client_int.h"
#include "squidlike/log.h"
#include "squidlike/peer.h"

#define HOP_DIRECT (-1)

_Static_assert(sizeof(((struct sl_conf_peer *)0)->key) ==
               sizeof(((struct cl_txn *)0)->key), "a peer's key is a pool key");

static const struct sl_conf_peers *peers_of(const struct sl_client *c)
{
    return &c->conf->peers;
}

int peer_cur(const struct sl_client *c)
{
    const struct cl_hop *h = &c->txn.hop;

    if (!h->selected || h->cur >= h->n)
        return HOP_DIRECT;
    return h->list[h->cur];
}

const struct sl_conf_peer *peer_conf(const struct sl_client *c)
{
    int i = peer_cur(c);

    return i < 0 ? NULL : &peers_of(c)->peer[i];
}

/* What the rules see: the request as the access step saw it (the head's
 * fields when m is there; a fetch of our own has none). A proxy_auth ACL
 * without a user is a "no" here, not a 407: the access step asked. */
static void peer_request(struct sl_client *c, const struct sl_http_msg *m,
                         struct acl_request *r)
{
    access_request(c, m, r);
    r->auth_tried = c->txn.acl.auth_done;
}

/* Does a list allow r? A rule that needs a fact not known here (the
 * destination's address, the server name) does not match: the origin is
 * not looked up for a request that goes to a parent. */
static int list_allows(const struct sl_client *c, enum acl_list list,
                       const struct acl_request *r)
{
    return acl_check_in(c->conf->policy.acls, list, r, NULL) == ACL_ALLOW;
}

/* Choose the hops of the request: the parents its rules allow, in their
 * hashing order (the ones not ejected first), then the origin unless
 * never_direct; only the origin when always_direct (or no parents). */
static void peer_choose(struct sl_client *c, const struct sl_http_msg *m)
{
    const struct sl_conf_peers *ps = peers_of(c);
    struct cl_txn *t = &c->txn;
    struct cl_hop *h = &t->hop;
    unsigned char allowed[SL_CONF_MAX_PEERS];
    int order[SL_CONF_MAX_PEERS];
    struct acl_request r;
    size_t i, n = 0, nup = 0, nallowed = 0;
    int direct = 1;

    memset(h, 0, sizeof(*h));
    h->selected = 1;
    if (ps->n > 0 || ps->has_never_direct) {
        peer_request(c, m, &r);
        if (ps->has_always_direct && list_allows(c, ACL_LIST_ALWAYS_DIRECT, &r)) {
            h->list[h->n++] = HOP_DIRECT;
            return;
        }
        direct = !(ps->has_never_direct && list_allows(c, ACL_LIST_NEVER_DIRECT, &r));
        for (i = 0; i < ps->n; i++) {
            allowed[i] = !ps->peer[i].has_access ||
                list_allows(c, (enum acl_list)(ACL_LIST_PEER0 + i), &r);
            nallowed += allowed[i];
        }
        if (nallowed > 0)
            n = sl_peers_order(ps->rt, allowed, t->url_parts.host,
                               strlen(t->url_parts.host),
                               sl_loop_now(c->srv->loop), order, &nup);
        /* The ejected ones only when the origin may not be tried: an
         * ejection is there to spare requests a parent that is down. */
        if (direct)
            n = nup;
        for (i = 0; i < n; i++)
            h->list[h->n++] = (signed char)order[i];
        h->carp = nallowed > 1;
    }
    if (direct)
        h->list[h->n++] = HOP_DIRECT;
}

enum cl_verdict peer_select(struct sl_client *c, const struct sl_http_msg *m)
{
    struct cl_txn *t = &c->txn;

    peer_choose(c, m);
    if (t->hop.n == 0)
        return cl_refuse(t, CL_CODE_UNSET, SL_ERR_CANNOT_FORWARD, 0,
                         "never_direct: no parent proxy may take this request");
    return CL_NEXT;
}

/* Insert n bytes at offset off of b's data. 0 or -ENOSPC. */
static int buf_insert(struct sl_buf *b, size_t off, const char *p, size_t n,
                      size_t limit)
{
    size_t len = sl_buf_len(b);

    if (sl_buf_space(b) < n && sl_buf_reserve(b, n, limit) < 0)
        return -ENOSPC;
    memmove(b->pos + off + n, b->pos + off, len - off);
    memcpy(b->pos + off, p, n);
    b->last += n;
    return 0;
}

static void buf_remove(struct sl_buf *b, size_t off, size_t n)
{
    memmove(b->pos + off, b->pos + off + n, sl_buf_len(b) - off - n);
    b->last -= n;
}

/*
 * The request head in c->oreq for the hop: the origin form that
 * fwd_build_request made ("GET /path HTTP/1.1"), or, for a parent, the
 * absolute form and the parent's credentials before the blank line. The
 * head is changed in place both ways (a failover goes from a parent to
 * the origin after the head was made). 0 or -ENOSPC.
 */
static int peer_form(struct sl_client *c, const struct sl_conf_peer *p)
{
    struct cl_txn *t = &c->txn;
    struct cl_hop *h = &t->hop;
    const struct sl_url *u = &t->url_parts;
    size_t limit = c->conf->http.max_request_head + 2048, sp, len;
    char pre[SL_HTTP_HOST_MAX + 32];
    char auth[320];
    int n;

    if (t->is_connect || c->oreq.pos == NULL)
        return 0;
    len = sl_buf_len(&c->oreq);
    if (h->form_pre > 0 || h->form_auth > 0) {      /* back to the origin form */
        const char *s = memchr(c->oreq.pos, ' ', len);
        if (s == NULL || len < 4 + h->form_pre + h->form_auth)
            return -ENOSPC;
        buf_remove(&c->oreq, len - 2 - h->form_auth, h->form_auth);
        buf_remove(&c->oreq, (size_t)(s - c->oreq.pos) + 1, h->form_pre);
        h->form_pre = h->form_auth = 0;
    }
    if (p == NULL)
        return 0;
    len = sl_buf_len(&c->oreq);
    {
        const char *s = memchr(c->oreq.pos, ' ', len);
        if (s == NULL || len < 4)
            return -ENOSPC;
        sp = (size_t)(s - c->oreq.pos) + 1;
    }
    n = u->port != 80
      ? snprintf(pre, sizeof(pre), u->host_is_ipv6 ? "http://[%s]:%u" : "http://%s:%u",
                 u->host, u->port)
      : snprintf(pre, sizeof(pre), u->host_is_ipv6 ? "http://[%s]" : "http://%s", u->host);
    if (n < 0 || (size_t)n >= sizeof(pre) ||
        buf_insert(&c->oreq, sp, pre, (size_t)n, limit) < 0)
        return -ENOSPC;
    h->form_pre = (size_t)n;
    if (p->auth != NULL) {
        n = snprintf(auth, sizeof(auth), "Proxy-Authorization: %s\r\n", p->auth);
        if (n < 0 || (size_t)n >= sizeof(auth) ||
            buf_insert(&c->oreq, sl_buf_len(&c->oreq) - 2, auth, (size_t)n, limit) < 0)
            return -ENOSPC;
        h->form_auth = (size_t)n;
    }
    return 0;
}

/* Set up the current hop: the pool key, the request's form. 0, or -1
 * when its head does not fit (answered). */
static int peer_apply(struct sl_client *c)
{
    struct cl_txn *t = &c->txn;
    const struct sl_conf_peer *p = peer_conf(c);
    const struct sl_url *u = &t->url_parts;

    if (p != NULL)
        memcpy(t->key, p->key, sizeof(t->key));
    else
        snprintf(t->key, sizeof(t->key), u->host_is_ipv6 ? "[%s]:%u" : "%s:%u",
                 u->host, u->port);
    if (peer_form(c, p) < 0) {
        cl_reply_error(c, SL_ERR_TOO_BIG, 431, "request head too large");
        return -1;
    }
    if (p != NULL)
        sl_peers_sent(peers_of(c)->rt, peer_cur(c));
    return 0;
}

int peer_start(struct sl_client *c)
{
    struct cl_txn *t = &c->txn;

    if (!t->hop.selected)
        peer_choose(c, NULL);       /* a fetch of our own */
    if (t->hop.n == 0) {
        cl_reply_error(c, SL_ERR_CANNOT_FORWARD, 0,
                       "never_direct: no parent proxy may take this request");
        return -1;
    }
    if (t->hop.applied)
        return 0;                   /* a retry on a fresh connection */
    t->hop.applied = 1;
    return peer_apply(c);
}

int peer_next(struct sl_client *c, const char *why)
{
    struct cl_txn *t = &c->txn;
    struct cl_hop *h = &t->hop;
    const struct sl_conf_peer *p = peer_conf(c);
    int64_t now = sl_loop_now(c->srv->loop);

    if (!h->selected || h->cur >= h->n)
        return 0;
    if (p != NULL) {
        int ej = sl_peers_result(peers_of(c)->rt, peer_cur(c), 0, now);
        /* loud once per ejection; a parent tried while ejected (nothing
         * else was left) fails quietly */
        SL_LOG(ej ? SL_LOG_WARN : SL_LOG_INFO, c->id, t->connect_err,
               "parent %s (%s:%u) failed: %s%s", p->name, p->host, p->port, why,
               ej ? "; ejected for a while" : "");
        {
            size_t used = strlen(h->failed), k = strlen(p->name);
            if (used + k + 3 < sizeof(h->failed)) {     /* else: enough said */
                if (used > 0)
                    memcpy(h->failed + used, ", ", 2), used += 2;
                memcpy(h->failed + used, p->name, k + 1);
            }
        }
    }
    if (p == NULL || h->cur + 1 >= h->n) {
        if (p == NULL)
            return 0;               /* the origin failed: its own error */
        /* The last hop was a parent: never_direct (or no parent left
         * with the origin not allowed) */
        char detail[sizeof(h->failed) + 64];
        snprintf(detail, sizeof(detail), "never_direct: no parent proxy could "
                 "take the request (tried: %s)", h->failed);
        t->code = CL_CODE_TCP_MISS;
        cl_reply_error(c, SL_ERR_CANNOT_FORWARD, 0, detail);
        return -1;
    }
    h->cur++;
    t->connect_err = 0;
    t->tls_why = NULL;
    t->denied_local = 0;
    if (peer_apply(c) < 0)
        return -1;
    return 1;
}

void peer_connected(struct sl_client *c, const struct sl_origin *o)
{
    struct cl_txn *t = &c->txn;
    const struct sl_conf_peer *p = peer_conf(c);

    if (p == NULL) {
        t->hier = "HIER_DIRECT";
        snprintf(t->peer, sizeof(t->peer), "%s", o->peer_str);
        return;
    }
    sl_peers_result(peers_of(c)->rt, peer_cur(c), 1, sl_loop_now(c->srv->loop));
    /* Squid's words: the hashing chose it (CARP), or it was the first
     * parent up of the ones that may take it */
    t->hier = t->hop.carp && t->hop.cur == 0 ? "CARP" : "FIRSTUP_PARENT";
    snprintf(t->peer, sizeof(t->peer), "%s", p->name);
}

int peer_on_head(struct sl_client *c, const struct sl_http_msg *m)
{
    struct cl_txn *t = &c->txn;
    const struct sl_conf_peer *p = peer_conf(c);
    char detail[160];

    if (p == NULL || m->status != 407)
        return 0;
    /* Our credentials (or their absence): the client can do nothing about
     * it, and the parent's realm and challenge are none of its business. */
    SL_LOG(SL_LOG_WARN, c->id, 0, "parent %s refused our credentials (407%s)",
           p->name, p->auth ? "" : ", no login configured");
    snprintf(detail, sizeof(detail), "the parent proxy %s refused this proxy's "
             "credentials", p->name);
    t->origin_keep = 0;
    if (t->origin) {
        sl_origin_close(t->origin);
        t->origin = NULL;
    }
    t->status = 502;
    if (t->bytes_out > 0 || t->acl.peeked) {
        cl_close(c);
        return 1;
    }
    sl_buf_reset(&c->out);
    cl_reply_error(c, SL_ERR_PEER_AUTH, 0, detail);
    return 1;
}

/* --- CONNECT through a parent -------------------------------------- */

void peer_chain_start(struct sl_client *c)
{
    struct cl_txn *t = &c->txn;
    const struct sl_conf_peer *p = peer_conf(c);
    const struct sl_url *u = &t->url_parts;
    const char *fmt = u->host_is_ipv6 ? "[%s]:%u" : "%s:%u";
    char hp[SL_HTTP_HOST_MAX + 16];

    snprintf(hp, sizeof(hp), fmt, u->host, u->port);
    if (c->oreq.start == NULL && sl_buf_init(&c->oreq, 1024) < 0) {
        cl_reply_error(c, SL_ERR_NO_MEMORY, 0, NULL);
        return;
    }
    sl_buf_reset(&c->oreq);
    if (sl_buf_reserve(&c->oreq, 1024, 2048) < 0 ||
        sl_buf_printf(&c->oreq, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n%s%s%s\r\n", hp, hp,
                      p->auth ? "Proxy-Authorization: " : "", p->auth ? p->auth : "",
                      p->auth ? "\r\n" : "") < 0) {
        cl_reply_error(c, SL_ERR_NO_MEMORY, 0, NULL);
        return;
    }
    t->oreq_sent = 0;
    t->hop.chain = 1;
    c->state = CL_FORWARD;
    c->t_state = c->t_progress = sl_loop_now(c->srv->loop);
}

/* The chained CONNECT failed: a 502 naming the parent, or a cut when our
 * 200 went out already (a peeked tunnel). */
static void chain_fail(struct sl_client *c, enum sl_err e, const char *why)
{
    struct cl_txn *t = &c->txn;
    const struct sl_conf_peer *p = peer_conf(c);
    char detail[200];

    SL_LOG(SL_LOG_INFO, c->id, 0, "CONNECT %s through parent %s: %s",
           t->url_parts.host, p->name, why);
    if (t->origin) {
        sl_origin_close(t->origin);
        t->origin = NULL;
    }
    t->hop.chain = 0;
    if (t->acl.peeked || t->bytes_out > 0) {
        cl_close(c);
        return;
    }
    snprintf(detail, sizeof(detail), "parent proxy %s: %s", p->name, why);
    cl_reply_error(c, e, 0, detail);
}

int peer_chain_run(struct sl_client *c)
{
    struct cl_txn *t = &c->txn;
    struct sl_origin *o = t->origin;
    struct sl_http_limits lim = { c->conf->http.max_response_head,
                                  c->conf->http.max_response_head };
    struct sl_http_msg m;
    char why[80];
    int progress = 0;
    ssize_t n, r;

    if (t->oreq_sent < sl_buf_len(&c->oreq) && o->wr) {
        n = cl_send2(o->io.fd, o->ssl, c->oreq.pos + t->oreq_sent,
                     sl_buf_len(&c->oreq) - t->oreq_sent, NULL, 0, &o->wr);
        if (n < 0 && n != -EAGAIN) {
            chain_fail(c, SL_ERR_CONNECT_FAIL, "the connection failed");
            return 1;
        }
        if (n > 0) {
            t->oreq_sent += (size_t)n;
            progress = 1;
        }
    }
    for (;;) {
        if (sl_buf_len(&o->in) > 0) {
            memset(&m, 0, sizeof(m));
            m.hdrs = c->hdrs;
            m.max_hdrs = c->nhdrs_cap;
            r = sl_http_parse_response(o->in.pos, sl_buf_len(&o->in), &lim, &m);
            if (r == SL_HTTP_ERROR) {
                chain_fail(c, SL_ERR_INVALID_RESP, "malformed answer to CONNECT");
                return 1;
            }
            if (r > 0 && m.status < 200) {
                sl_buf_consume(&o->in, (size_t)r);     /* interim: skip */
                continue;
            }
            if (r > 0) {
                if (m.status == 407) {
                    SL_LOG(SL_LOG_WARN, c->id, 0, "parent %s refused our credentials "
                           "(407) for CONNECT", peer_conf(c)->name);
                    chain_fail(c, SL_ERR_PEER_AUTH, "it refused this proxy's credentials");
                    return 1;
                }
                if (m.status > 299) {
                    snprintf(why, sizeof(why), "it answered %d to CONNECT", m.status);
                    chain_fail(c, SL_ERR_CONNECT_FAIL, why);
                    return 1;
                }
                /* what follows the head is the tunnel's (the origin's first
                 * bytes): tunnel_run sends it after our 200 */
                sl_buf_consume(&o->in, (size_t)r);
                t->hop.chain = 0;
                tunnel_start(c);
                return 1;
            }
        }
        if (!o->rd)
            return progress;
        if (sl_buf_space(&o->in) == 0 &&
            sl_buf_reserve(&o->in, 4096, lim.head_max + 1) < 0) {
            chain_fail(c, SL_ERR_INVALID_RESP, "answer to CONNECT too large");
            return 1;
        }
        n = cl_read(o->io.fd, o->ssl, &o->in, &o->rd, o->hup);
        if (n == -EAGAIN)
            return progress;
        if (n <= 0) {
            chain_fail(c, SL_ERR_CONNECT_FAIL, "it closed the connection before "
                       "answering CONNECT");
            return 1;
        }
        c->srv->stats->bytes_from_origins += (unsigned long long)n;
        c->t_progress = sl_loop_now(c->srv->loop);
        progress = 1;
    }
}
