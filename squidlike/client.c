/*
 * client.c - client connections and the request pipeline.
 *
 * Reading top to bottom: accept, the readiness loop (cl_run), the request
 * head (cl_head) and what is decided from it (cl_begin: access, target,
 * filters - then client_fwd.c or client_tunnel.c take over), our own
 * replies, the end of a transaction (log, keep-alive or close), timeouts.
 * The state diagram is in client_int.h.
 */
#include "config.h"

#include <errno.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "acl/acl.h"
#include "squidlike/chars.h"
#include "squidlike/client_int.h"
#include "squidlike/log.h"
#include "squidlike/metrics.h"

#define RUN_BUDGET 32           /* steps per wake-up before yielding */

static void cl_step_post(struct sl_post *p);

/* --- lifecycle -------------------------------------------------------- */

static void cl_on_io(struct sl_io *io, unsigned ev)
{
    struct sl_client *c = io->data;

    if (ev & SL_IO_READ)
        c->rd = 1;
    if (ev & SL_IO_WRITE)
        c->wr = 1;
    if (ev & (SL_IO_HUP | SL_IO_ERR))
        c->hup = 1;
    cl_run(c);
}

void cl_destroy(struct sl_client *c)
{
    SSL_free(c->ssl);
    cl_free_bufs(c);
    sl_conf_unref(c->conf);
    free(c);
}

static void cl_free(struct sl_post *p)
{
    cl_destroy(p->data);
}

struct sl_client *cl_new(struct sl_server *srv, int fd)
{
    struct sl_client *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    c->srv = srv;
    c->conf = sl_conf_ref(srv->conf);
    c->io.fd = fd;
    c->io.cb = cl_on_io;
    c->io.data = c;
    c->id = ++srv->next_id;
    c->timer.cb = cl_on_timer;
    c->timer.data = c;
    c->free_post.cb = cl_free;
    c->free_post.data = c;
    c->run_post.cb = cl_step_post;
    c->run_post.data = c;
    c->state = CL_HEAD;
    c->t_state = c->t_progress = c->t_head = sl_loop_now(srv->loop);
    return c;
}

void cl_link(struct sl_client *c)
{
    struct sl_server *srv = c->srv;

    c->next = srv->clients;
    if (c->next)
        c->next->prev = c;
    srv->clients = c;
    if (c->headless)
        srv->nheadless++;       /* no connection: not in max_connections */
    else
        srv->nclients++;
    srv->slot->g.clients = srv->nclients;
}

int sl_client_accept(struct sl_server *srv, int fd,
                     const struct sockaddr *peer, socklen_t peerlen, int kind)
{
    struct sl_client *c = cl_new(srv, fd);
    int one = 1, rc = -ENOMEM;

    if (c == NULL)
        goto fail;
    c->mgr_only = kind == SL_LISTEN_MANAGER;
    c->reverse = kind == SL_LISTEN_REVERSE || kind == SL_LISTEN_REVERSE_TLS;
    if (kind == SL_LISTEN_REVERSE_TLS) {
        if ((c->ssl = sl_tls_accept(c->conf->reverse.tls.rt, fd)) == NULL)
            goto fail;
        c->state = CL_TLS;
        c->https = 1;
    }
    if ((rc = sl_loop_add_et(srv->loop, &c->io)) < 0)
        goto fail;
    /* Heads and bodies go out in whole writes; Nagle would only add delay. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    memcpy(&c->peer, peer, peerlen < sizeof(c->peer) ? peerlen : sizeof(c->peer));
    sl_net_ntop(&c->peer.sa, c->peer_str, sizeof(c->peer_str));
    cl_link(c);
    c->ipc = sl_ipcounts_add(srv->ipcounts, &c->peer.sa);
    srv->stats->accepted++;
    /* Listeners defer accept until data arrives (TCP_DEFER_ACCEPT), so the
     * request is usually here already: read it now rather than one loop
     * iteration later. */
    c->rd = c->wr = 1;
    cl_run(c);
    return 0;
fail:
    close(fd);
    if (c)
        cl_destroy(c);
    return rc;
}

struct sl_client *sl_client_next(struct sl_client *c) { return c->next; }

void sl_client_count(const struct sl_server *srv, size_t *tunnels,
                     size_t *origins_busy)
{
    const struct sl_client *c;

    *tunnels = *origins_busy = 0;
    for (c = srv->clients; c != NULL; c = c->next) {
        if (c->state == CL_TUNNEL)
            (*tunnels)++;
        if (c->txn.origin != NULL)
            (*origins_busy)++;
    }
}

/* The TLS side of a connection that ends: close_notify (best effort,
 * nginx's way), then the session goes. */
void cl_tls_end(struct sl_client *c)
{
    if (c->ssl == NULL)
        return;
    sl_tls_shutdown(c->ssl);
    SSL_free(c->ssl);
    c->ssl = NULL;
}

void cl_close(struct sl_client *c)
{
    struct sl_server *srv = c->srv;
    struct cl_txn *t = &c->txn;
    int fd;

    if (c->state == CL_CLOSED)
        return;
    txnlog_aborted(c);
    c->state = CL_CLOSED;
    rev_release(c);
    sl_ldap_cancel(&t->ldapw);  /* a group lookup goes on without it */
    fill_abort(c);
    cfwd_detach(c);
    tunnel_free(c);
    if (t->origin) {
        sl_origin_close(t->origin);
        t->origin = NULL;
    }
    sl_dns_cancel(&t->dnsw);
    neg_cancel(c);
    sl_timer_stop(srv->loop, &c->timer);
    cl_tls_end(c);
    fd = sl_loop_del(srv->loop, &c->io);
    if (fd >= 0)
        close(fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->next = c->prev = NULL;
    if (c->headless)
        srv->nheadless--;
    else
        srv->nclients--;
    srv->slot->g.clients = srv->nclients;
    sl_ipcounts_drop(srv->ipcounts, c->ipc);
    c->ipc = NULL;
    sl_loop_unpost(srv->loop, &c->run_post);
    sl_loop_post(srv->loop, &c->free_post);
    sl_server_client_gone(srv);
}

void sl_client_abort(struct sl_client *c)
{
    cl_close(c);
}

void sl_client_mark_draining(struct sl_client *c)
{
    c->draining = 1;
}

void sl_client_drain(struct sl_client *c)
{
    c->draining = 1;
    if (c->headless && !cfwd_readers(c)) {
        cl_close(c);            /* a fetch nobody waits for: not worth a delay */
        return;
    }
    /* Idle, or still in its TLS handshake (no request yet: waiting for
     * it would let a silent client hold the exit for handshake_timeout). */
    if ((c->state == CL_HEAD && sl_buf_len(&c->in) == 0) || c->state == CL_TLS)
        cl_close(c);
}

/* --- the readiness loop ----------------------------------------------- */

static int cl_head(struct sl_client *c);
static int cl_reply_step(struct sl_client *c);

/* CL_TLS: the handshake, then the first request head. */
static int cl_tls_step(struct sl_client *c)
{
    const char *why = NULL;
    int r;

    if (!c->rd && !c->wr)
        return 0;
    r = sl_tls_handshake(c->ssl, &c->rd, &c->wr, &why);
    if (r == 0)
        return 0;
    sl_tls_count(c->ssl, r > 0);
    if (r < 0) {
        SL_LOG(SL_LOG_INFO, c->id, 0, "TLS handshake with %s failed: %s",
               c->peer_str, why);
        cl_close(c);
        return 1;
    }
    c->state = CL_HEAD;
    c->t_state = c->t_head = sl_loop_now(c->srv->loop);
    /* The handshake may have read the first request ahead (read-ahead),
     * on an edge it consumed: look for it now. */
    if (SSL_has_pending(c->ssl))
        c->rd = 1;
    return 1;
}
static int cl_linger_step(struct sl_client *c);

static int cl_step(struct sl_client *c)
{
    switch (c->state) {
    case CL_HEAD:
        return cl_head(c);
    case CL_TLS:
        return cl_tls_step(c);
    case CL_RESOLVE:
        return 0;               /* the DNS callback moves us on */
    case CL_CONNECT:
    case CL_FORWARD:
        return fwd_run(c);
    case CL_REPLY:
        return cl_reply_step(c);
    case CL_HIT:
        return hit_run(c);
    case CL_WAIT:
    case CL_ACL_WAIT:
    case CL_AUTH_WAIT:
        return 0;               /* the leader's progress / DNS / the pool wakes us */
    case CL_QUEUE:
        return rev_queue_step(c);
    case CL_PEEK:
        return access_peek_step(c);
    case CL_TUNNEL:
        return tunnel_run(c);
    case CL_LINGER:
        return cl_linger_step(c);
    case CL_CLOSED:
        break;
    }
    return 0;
}

/*
 * Advance the connection until nothing more can happen without a new event.
 * Edge-triggered readiness makes this mandatory: an edge is reported once,
 * so whoever sees it must move every byte it can. A connection that keeps
 * making progress yields after RUN_BUDGET steps and continues after the
 * current batch, so one busy client cannot starve the others.
 */
void cl_run(struct sl_client *c)
{
    int budget = RUN_BUDGET, progress;

    if (c->in_run) {
        c->run_again = 1;
        return;
    }
    c->in_run = 1;
    do {
        c->run_again = 0;
        /* A hang-up in a waiting state: is the client gone? */
        if (c->hup && leave_check(c)) {
            progress = 1;
            continue;
        }
        progress = cl_step(c);
    } while ((progress || c->run_again) && c->state != CL_CLOSED && --budget > 0);
    c->in_run = 0;
    if (c->state == CL_CLOSED)
        return;
    if (budget == 0)
        sl_loop_post(c->srv->loop, &c->run_post);
    cl_arm_timer(c);
}

static void cl_step_post(struct sl_post *p)
{
    cl_run(p->data);
}

/* --- request head ----------------------------------------------------- */

static void cl_begin(struct sl_client *c, const struct sl_http_msg *m,
                     size_t headlen);
static void cl_bad_request(struct sl_client *c, const struct sl_http_msg *m);

/*
 * limits.client_bandwidth: what one client address may receive per second,
 * shared by its connections. The kernel paces each socket (TCP's own
 * pacing, SO_MAX_PACING_RATE), so hits, misses and tunnels all keep to it
 * with no timer of ours; each connection gets an equal share, set again
 * at each request as the client opens and closes connections.
 */
static void cl_pace(struct sl_client *c)
{
    size_t rate = c->conf->limits.client_bandwidth;
    unsigned long long share;
    unsigned n;

    if (c->io.fd < 0 || c->internal || (rate == 0 && !c->paced))
        return;
    n = c->ipc ? sl_shared_ipconns(c->srv->shared, c->srv->slot, c->ipc) : 1;
    share = rate ? (unsigned long long)rate / (n ? n : 1) : ~0ULL;
    if (rate && share < 1024)
        share = 1024;           /* a floor: a crowd of connections still moves */
    if (share == c->paced)
        return;
    if (setsockopt(c->io.fd, SOL_SOCKET, SO_MAX_PACING_RATE, &share, sizeof(share)) == 0)
        c->paced = rate ? share : 0;
}

/* A connection that waited across a reload takes the newest configuration
 * for its next request, as one that was busy does when its request ends
 * (cl_txn_done): a reload that turns a check on applies to every request
 * that starts after it. */
static const struct sl_conf *cl_newest_conf(struct sl_client *c)
{
    if (c->conf != c->srv->conf && sl_buf_len(&c->in) == 0) {
        sl_conf_unref(c->conf);
        c->conf = sl_conf_ref(c->srv->conf);
    }
    return c->conf;
}

static int cl_head(struct sl_client *c)
{
    const struct sl_conf *conf = cl_newest_conf(c);
    struct sl_http_limits lim = { conf->http.max_request_line,
                                  conf->http.max_request_head };
    size_t limit = conf->limits.buffer_size > lim.head_max + 1
                 ? conf->limits.buffer_size : lim.head_max + 1;
    struct sl_http_msg m;
    ssize_t r;

    for (;;) {
        if (sl_buf_len(&c->in) > 0) {
            if (cl_hdrs_fit(c) < 0) {
                cl_close(c);
                return 1;
            }
            memset(&m, 0, sizeof(m));
            m.hdrs = c->hdrs;
            m.max_hdrs = c->nhdrs_cap;
            r = sl_http_parse_request(c->in.pos, sl_buf_len(&c->in), &lim, &m);
            if (r != SL_HTTP_AGAIN && cl_lend_out(c) < 0) {
                cl_close(c);
                return 1;
            }
            if (r > 0) {
                cl_begin(c, &m, (size_t)r);
                return 1;
            }
            if (r == SL_HTTP_ERROR) {
                cl_bad_request(c, &m);
                return 1;
            }
        }
        if (!c->rd)
            return 0;
        /* Data is (likely) there: now the connection needs its buffer. */
        if (cl_lend_in(c) < 0) {
            cl_close(c);
            return 1;
        }
        if (sl_buf_space(&c->in) == 0 &&
            sl_buf_reserve(&c->in, 4096, limit) < 0) {
            m.err = "request head too large";
            m.err_status = 431;
            cl_bad_request(c, &m);
            return 1;
        }
        {
            int was_empty = sl_buf_len(&c->in) == 0;
            ssize_t n = cl_read(c->io.fd, c->ssl, &c->in, &c->rd, c->hup);
            if (n == -EAGAIN) {
                cl_unlend_in(c);    /* nothing came after all: wait without it */
                return 0;
            }
            if (n <= 0) {
                cl_close(c);    /* gone, or gone mid-head: nothing to answer */
                return 1;
            }
            c->t_progress = sl_loop_now(c->srv->loop);
            if (was_empty)
                c->t_head = c->t_progress;
        }
    }
}

static int64_t wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Keep "METHOD\0URL\0" for the access log: the head itself is reused. */
/*
 * The URL the access rules see, as Squid matches it: scheme and host in
 * lowercase, no ":80" after an http host, the rest as sent. Otherwise
 * "HTTP://Example.COM:80/x" walks past a rule written for
 * "^http://example.com/". At most as long as url.
 */
static size_t cl_acl_url(struct sl_view url, char *out)
{
    size_t i = 0, n = 0, auth_end;

    if (url.len >= 7 && strncasecmp(url.base, "http://", 7) == 0) {
        memcpy(out, "http://", 7);
        i = n = 7;
    } else if (url.len >= 8 && strncasecmp(url.base, "https://", 8) == 0) {
        memcpy(out, "https://", 8);     /* a site asked over TLS */
        i = n = 8;
    }
    for (auth_end = i; auth_end < url.len && url.base[auth_end] != '/'
         && url.base[auth_end] != '?' && url.base[auth_end] != '#'; auth_end++)
        ;
    for (; i < auth_end; i++)
        out[n++] = (char)sl_lower((unsigned char)url.base[i]);
    if (n >= 10 && memcmp(out, "http://", 7) == 0 && memcmp(out + n - 3, ":80", 3) == 0)
        n -= 3;
    else if (n >= 12 && memcmp(out, "https://", 8) == 0 && memcmp(out + n - 4, ":443", 4) == 0)
        n -= 4;
    memcpy(out + n, url.base + auth_end, url.len - auth_end);
    return n + url.len - auth_end;
}

/* m: the request, for the log's other fields (client_txnlog.c); NULL for a
 * placeholder of our own ("NONE error:invalid-request"). */
int cl_keep_meta(struct sl_client *c, struct sl_view method,
                        struct sl_view url, const struct sl_http_msg *m)
{
    struct cl_txn *t = &c->txn;
    size_t need = method.len + 2 * url.len + 3 + TXNLOG_META_ROOM;

    if (cl_lend_meta(c, need) < 0)
        return -ENOMEM;
    sl_buf_reset(&t->meta);
    if (sl_buf_reserve(&t->meta, need, need + 64) < 0)
        return -ENOMEM;
    t->method = t->meta.last;
    sl_buf_append(&t->meta, method.base, method.len);
    sl_buf_append(&t->meta, "", 1);
    t->url = t->meta.last;
    sl_buf_append(&t->meta, url.base, url.len);
    sl_buf_append(&t->meta, "", 1);
    t->acl_url = t->meta.last;
    t->meta.last += cl_acl_url(url, t->meta.last);
    sl_buf_append(&t->meta, "", 1);
    txnlog_keep(t, m);
    return 0;
}

void cl_txn_init(struct sl_client *c)
{
    struct cl_txn *t = &c->txn;

    t->t_start = sl_loop_now(c->srv->loop);
    t->t_start_us = sl_loop_now_us(c->srv->loop);
    t->wall_start = wall_ms();
    t->minor = 1;
    t->keep = 1;
}

static void cl_bad_request(struct sl_client *c, const struct sl_http_msg *m)
{
    struct cl_txn *t = &c->txn;
    enum sl_err e = SL_ERR_INVALID_REQ;

    cl_txn_init(c);
    cl_keep_meta(c, SL_VIEW_LIT("NONE"), SL_VIEW_LIT("error:invalid-request"),
                 NULL);
    switch (m->err_status) {
    case 413: case 414: case 431: e = SL_ERR_TOO_BIG; break;
    case 501: e = SL_ERR_UNSUP_REQ; break;
    case 505: e = SL_ERR_UNSUP_HTTPVERSION; break;
    }
    /* We cannot find where the next request would start: close after. */
    t->keep = 0;
    t->code = CL_CODE_NONE_NONE;
    sl_buf_reset(&c->in);
    SL_LOG(SL_LOG_INFO, c->id, 0, "%s: bad request: %s", c->peer_str,
           m->err ? m->err : "malformed");
    cl_reply_error(c, e, m->err_status ? m->err_status : 400, m->err);
}

static int cl_idempotent(struct sl_view m)
{
    return sl_view_eq(m, "GET") || sl_view_eq(m, "HEAD") || sl_view_eq(m, "PUT") ||
           sl_view_eq(m, "DELETE") || sl_view_eq(m, "OPTIONS") ||
           sl_view_eq(m, "TRACE");
}

/* A protocol switch (RFC 9110 7.8) to WebSocket (RFC 6455 4.1): a GET
 * without a body from an HTTP/1.1 client, "Upgrade: websocket", Upgrade
 * named in Connection. Passed through in both modes; a 101 makes it a
 * tunnel. Nothing else is: "Upgrade: h2c" granted by a backend would open
 * a tunnel that skips routes and access rules (h2c smuggling), so any
 * other Upgrade is dropped as the hop-by-hop field it is. */
static int cl_wants_upgrade(const struct sl_http_msg *m)
{
    const struct sl_http_hdr *up = sl_http_find(m, "Upgrade");
    const struct sl_http_hdr *conn = sl_http_find(m, "Connection");

    return up != NULL && sl_view_ieq(up->value, "websocket") && conn != NULL &&
           m->minor >= 1 &&
           sl_http_list_has(conn->value, "upgrade") && sl_view_eq(m->method, "GET") &&
           sl_http_request_body(m) == SL_HTTP_BODY_NONE;
}

static int cl_wants_keepalive(const struct sl_http_msg *m)
{
    const struct sl_http_hdr *pc;

    if (m->minor >= 1)
        return !m->conn_close;
    if (m->conn_keepalive)
        return 1;
    /* Old HTTP/1.0 clients say it to proxies this way. */
    pc = sl_http_find(m, "Proxy-Connection");
    return pc && sl_http_list_has(pc->value, "keep-alive");
}

/* Did this request already pass through us (a forwarding loop)? */
static int cl_is_loop(const struct sl_client *c, const struct sl_http_msg *m)
{
    const char *name = c->conf->visible_hostname;
    size_t nlen = strlen(name), i, j;

    if (!c->conf->http.via)
        return 0;
    for (i = 0; i < m->nhdrs; i++) {
        struct sl_view v = m->hdrs[i].value;
        if (!sl_view_ieq(m->hdrs[i].name, "Via"))
            continue;
        /* Each hop is "proto name [comment]": look for " name" + end/SP/,. */
        for (j = 0; j + nlen + 1 <= v.len; j++) {
            if (v.base[j] == ' ' && memcmp(v.base + j + 1, name, nlen) == 0 &&
                (j + 1 + nlen == v.len || v.base[j + 1 + nlen] == ' ' ||
                 v.base[j + 1 + nlen] == ','))
                return 1;
        }
    }
    return 0;
}

static void cl_make_key(struct cl_txn *t)
{
    const struct sl_url *u = &t->url_parts;

    snprintf(t->key, sizeof(t->key), u->host_is_ipv6 ? "[%s]:%u" : "%s:%u",
             u->host, u->port);
}

/*
 * Step 1 of cl_begin: the target. Our own pages first (client_mgr.c; on a
 * manager listener, only they are served), then the URL, Host and loops.
 */
static enum cl_verdict cl_target(struct sl_client *c, const struct sl_http_msg *m)
{
    struct cl_txn *t = &c->txn;
    const char *err = NULL;
    enum cl_verdict v;
    int rc;

    if (c->reverse) {
        /* a site's request: its pages are its own (no manager pages) */
        if ((v = rev_target(c, m)) != CL_NEXT)
            return v;
        goto loop;
    }
    if ((c->mgr_only || (!t->is_connect && m->target.len > 0 && m->target.base[0] == '/'))
        && (v = mgr_begin(c, m)) != CL_NEXT)
        return v;
    if (t->is_connect) {
        rc = sl_http_parse_authority(m->target, &t->url_parts, &err);
    } else if (m->target.len > 0 && (m->target.base[0] == '/' ||
                                     m->target.base[0] == '*')) {
        rc = -1;
        err = "this is a proxy: requests must name a full URL";
    } else {
        rc = sl_http_parse_url(m->target, &t->url_parts, &err);
    }
    if (rc < 0)
        return cl_refuse(t, CL_CODE_NONE_NONE, SL_ERR_INVALID_URL, 0, err);
    if (t->minor == 1 && m->host_count == 0)
        return cl_refuse(t, CL_CODE_NONE_NONE, SL_ERR_INVALID_REQ, 0,
                         "HTTP/1.1 request without Host");
loop:
    if (cl_is_loop(c, m))
        return cl_refuse(t, CL_CODE_TCP_DENIED, SL_ERR_FORWARD_LOOP, 0, t->url);
    cl_make_key(t);
    return CL_NEXT;
}

/*
 * A whole request head is in c->in: decide what becomes of it. Each step
 * gives a verdict (client_int.h); the first that is not CL_NEXT decides,
 * and every refusal is answered in one place below. The head's views die
 * when the head is consumed at the end, so everything needed later is
 * copied out (meta for the log, url_parts, the origin request in c->oreq).
 */
static void cl_begin(struct sl_client *c, const struct sl_http_msg *m,
                     size_t headlen)
{
    struct cl_txn *t = &c->txn;
    enum cl_verdict v = CL_NEXT;

    if (!t->acl.rerun) {
        cl_txn_init(c);
        c->nreq++;
        cl_pace(c);
    }
    t->minor = m->minor;
    t->is_head = sl_view_eq(m->method, "HEAD");
    t->is_connect = sl_view_eq(m->method, "CONNECT");
    t->idempotent = (unsigned char)cl_idempotent(m->method);
    t->upgrade = (unsigned char)(!t->is_connect && cl_wants_upgrade(m));
    t->keep = (unsigned char)(cl_wants_keepalive(m) && !c->draining &&
                              !c->srv->draining);
    t->code = CL_CODE_TCP_MISS;
    t->req.kind = t->is_connect ? SL_HTTP_BODY_NONE : sl_http_request_body(m);
    t->req.left = m->content_length;
    sl_chunk_init(&t->req.ck);
    /* (a reverse listener's request is known by the URL rev_target makes) */
    if (!c->reverse && cl_keep_meta(c, m->method, m->target, m) < 0)
        v = cl_refuse(t, CL_CODE_UNSET, SL_ERR_NO_MEMORY, 0, NULL);

    /* 1. the target: our own pages, the URL, Host, forwarding loops */
    if (v == CL_NEXT)
        v = cl_target(c, m);
    /* 2. access: authentication, http_access (ACLs, blocklist categories),
     * and to_localhost before the cache can hand anything out */
    if (v == CL_NEXT)
        v = access_begin(c, m, headlen);
    if (v == CL_NEXT)
        v = access_to_localhost(c, headlen);
    /* 2a. reverse mode: the API gateway (CORS preflight, who calls) */
    if (v == CL_NEXT && c->reverse)
        v = gw_begin(c, m);
    /* 2b. reverse mode: the rate limits of the site and the route */
    if (v == CL_NEXT && c->reverse)
        v = rev_limit(c, m);
    /* 3. OPTIONS and TRACE with Max-Forwards; then the cache: PURGE, or a
     * lookup that may answer at once (client_maxfwd.c, client_hit.c) */
    if (v == CL_NEXT && !t->is_connect)
        v = maxfwd_begin(c, m, headlen);
    if (v == CL_NEXT && !t->is_connect)
        v = hit_begin(c, m, headlen);
    /* 4. the request as the origin will see it */
    if (v == CL_NEXT && !t->is_connect && fwd_build_request(c, m) < 0)
        v = cl_refuse(t, CL_CODE_NONE_NONE, SL_ERR_TOO_BIG, 431,
                      "request head too large");
    /* 5a. the next hops: parent proxies, the origin (client_peer.c) */
    if (v == CL_NEXT && !c->reverse)
        v = peer_select(c, m);

    if (v == CL_AGAIN || c->state == CL_CLOSED)
        return;                 /* the head waits in c->in, or c is gone */
    sl_buf_consume(&c->in, headlen);
    switch (v) {
    case CL_REFUSE:
        /* The connection stays only when the step said the request is
         * done (client_mgr.c does for a request without a body). */
        cl_reply_error(c, t->refusal.err, t->refusal.status, t->refusal.detail);
        return;
    case CL_ERROR:
        cl_close(c);
        return;
    default:
        break;
    }
    if (t->req.kind == SL_HTTP_BODY_NONE)
        t->req.done = 1;
    if (v == CL_DONE)
        return;                 /* answered by the step */
    /* 5b. forward it (or tunnel) */
    if (leave_before_forward(c))
        return;
    fwd_start(c);
}

/*
 * Decide the request again from the start: its head is still in c->in,
 * and t->acl now knows a fact it lacked (dst address, server name).
 */
void cl_rerun(struct sl_client *c)
{
    const struct sl_conf *conf = c->conf;
    struct sl_http_limits lim = { conf->http.max_request_line,
                                  conf->http.max_request_head };
    struct sl_http_msg m;
    ssize_t r;

    memset(&m, 0, sizeof(m));
    m.hdrs = c->hdrs;
    m.max_hdrs = c->nhdrs_cap;
    r = sl_http_parse_request(c->in.pos, sl_buf_len(&c->in), &lim, &m);
    if (r <= 0) {
        cl_close(c);            /* it parsed before: cannot happen */
        return;
    }
    c->txn.acl.rerun = 1;
    cl_begin(c, &m, (size_t)r);
    cl_run(c);
}

/*
 * A collapsed waiter released by its leader (uncacheable answer, leader
 * gone, or too slow): forward the request it kept in c->creq.
 */
void cl_forward_released(struct sl_client *c)
{
    struct cl_txn *t = &c->txn;
    struct sl_http_msg m;

    hit_status(t, "fwd=uri-miss");
    if (hit_request_again(c, c->hdrs, &m) < 0 ||
        fwd_build_request(c, &m) < 0) {
        cl_reply_error(c, SL_ERR_NO_MEMORY, 0, NULL);
        sl_loop_post(c->srv->loop, &c->run_post);
        return;
    }
    fwd_start(c);
    sl_loop_post(c->srv->loop, &c->run_post);
}

void cl_abort_waiter(struct sl_client *c)
{
    cl_close(c);
}

/* --- our own replies -------------------------------------------------- */

static int cl_out_room(struct sl_client *c, size_t want)
{
    size_t limit = c->conf->http.max_response_head + 8192;

    if (cl_lend_out(c) < 0)
        return -ENOMEM;
    return sl_buf_reserve(&c->out, want, limit);
}

/*
 * Answer with an error page. Only valid before anything of a response has
 * been sent; after that the caller closes instead.
 */
void cl_reply_error(struct sl_client *c, enum sl_err e, int status,
                    const char *detail)
{
    struct cl_txn *t = &c->txn;

    if (!t->req.done)
        t->keep = 0;            /* an unread body stands between requests */
    if (c->draining || c->srv->draining)
        t->keep = 0;
    if (t->origin) {
        sl_origin_close(t->origin);
        t->origin = NULL;
    }
    sl_dns_cancel(&t->dnsw);
    fill_abort(c);
    t->status = status ? status : sl_errpage_status(e);
    /* RFC 5861: a stale copy beats an error, where the response allows. */
    if (t->cache.mode == CC_REVALIDATE && t->status >= 500 && t->bytes_out == 0 &&
        cache_stale_if_error_ok(&t->cache.fresh, &t->cache.reqcc, time(NULL))) {
        t->code = CL_CODE_TCP_REFRESH_FAIL_OLD;
        hit_status(t, "hit; fwd=stale; detail=%s", sl_errpage_name(e));
        if (hit_serve_refreshed(c) == 0)
            return;
        cl_close(c);
        return;
    }
    t->err = e;
    t->has_err = 1;
    c->srv->stats->errors++;
    if (t->acl.peeked) {
        access_tls_refuse(c, t->status);    /* inside the tunnel: TLS only */
        return;
    }
    snprintf(t->ctype, sizeof(t->ctype), "text/html");
    /* In front of a company's servers the page never names a backend
     * (nor its address in a connect error): the client sees the site. */
    if (c->reverse && e >= SL_ERR_DNS_FAIL && e <= SL_ERR_ZERO_SIZE_OBJECT)
        detail = NULL;
    if (cl_out_room(c, 4096) < 0) {
        cl_close(c);
        return;
    }
    sl_buf_reset(&c->out);
    if (sl_errpage_build(&c->out, e, t->status, detail,
                         c->conf->visible_hostname, t->minor, t->keep,
                         t->is_head, t->acl.extra[0] ? t->acl.extra : NULL) < 0) {
        cl_close(c);
        return;
    }
    c->state = CL_REPLY;
    c->t_state = sl_loop_now(c->srv->loop);
}

static int cl_reply_step(struct sl_client *c)
{
    ssize_t n;

    if (c->headless) {
        cl_close(c);            /* an answer for nobody */
        return 1;
    }
    if (sl_buf_len(&c->out) == 0) {
        cl_txn_done(c);
        return 1;
    }
    if (!c->wr)
        return 0;
    n = cl_send2(c->io.fd, c->ssl, c->out.pos, sl_buf_len(&c->out), NULL, 0, &c->wr);
    if (n == -EAGAIN)
        return 0;
    if (n < 0) {
        cl_close(c);
        return 1;
    }
    sl_buf_consume(&c->out, (size_t)n);
    cl_sent(c, n);
    c->t_progress = sl_loop_now(c->srv->loop);
    return 1;
}

/* --- end of a transaction --------------------------------------------- */

static void cl_linger(struct sl_client *c)
{
    /* Closing with unread input makes the kernel send RST, which can
     * destroy the response still in flight: shut our side, read and
     * discard what the client still sends, close on its EOF (or after
     * CL_LINGER_MS). nginx's lingering close. */
    if (c->ssl)
        sl_tls_shutdown(c->ssl);    /* close_notify, then the FIN */
    shutdown(c->io.fd, SHUT_WR);
    sl_buf_reset(&c->in);
    cl_release_bufs(c);         /* what comes now is read into the stack */
    c->state = CL_LINGER;
    c->t_state = sl_loop_now(c->srv->loop);
}

static int cl_linger_step(struct sl_client *c)
{
    char junk[4096];
    struct sl_buf b = { junk, junk + sizeof(junk), junk, junk };
    ssize_t n;

    if (!c->rd)
        return 0;
    n = cl_read(c->io.fd, NULL, &b, &c->rd, c->hup);   /* raw: discarded */
    if (n == -EAGAIN)
        return 0;
    if (n <= 0) {
        cl_close(c);
        return 1;
    }
    return 1;
}

/* Reset the transaction for the next request; an idle connection holds
 * no buffer but a pipelined request's input. */
static void cl_txn_reset(struct sl_client *c)
{
    cl_release_bufs(c);
    cl_free_txn_bufs(c);
    memset(&c->txn, 0, sizeof(c->txn));
}

void cl_txn_done(struct sl_client *c)
{
    struct sl_server *srv = c->srv;
    struct cl_txn *t = &c->txn;

    rev_release(c);             /* before c->conf may change below */
    txnlog_end(c);
    fill_abort(c);              /* a no-op when the store has it */
    cfwd_detach(c);
    if (t->origin)
        fwd_release_origin(c, t->origin_keep);
    sl_dns_cancel(&t->dnsw);
    if (c->headless) {
        cl_close(c);            /* the fetch its client left is done */
        return;
    }
    /* A response that went out without Connection: close promised the
     * client another request: a soft drain (the worker is replaced) keeps
     * that promise, the next answer says close (t->keep). Closing here
     * would race the request the client may be sending right now. */
    if (!t->keep || ((c->draining || srv->draining) && !srv->drain_soft)) {
        t->method = NULL;       /* logged: not an abort */
        cl_linger(c);
        return;
    }
    cl_txn_reset(c);
    /* A new request takes the newest configuration (cl_head fits the
     * header arrays to it). */
    if (c->conf != srv->conf) {
        sl_conf_unref(c->conf);
        c->conf = sl_conf_ref(srv->conf);
    }
    c->state = CL_HEAD;
    c->t_state = c->t_head = sl_loop_now(srv->loop);
}
