/*
 * client_leave.c - clients that leave while their request waits.
 *
 * A client that hangs up while its request waits (on DNS, on the connect,
 * on a slow origin, on another client's fetch) must not hold its
 * descriptor, an origin connection and a place in max_connections until
 * a timeout says so; nor should a request whose client is gone still be
 * sent on. Every waiting state watches for the client's FIN or reset
 * (EPOLLRDHUP, then a peek that reads 0) and acts at once:
 *
 *   - nothing of value in flight: the transaction is closed, the origin
 *     request with it, and logged as <code>_ABORTED;
 *   - a fetch other clients are waiting on or reading along (collapsed
 *     forwarding), or one being stored that is worth finishing (Squid's
 *     quick_abort: cache_quick_abort_finish): the client's side is logged
 *     and closed, and the fetch goes on headless - the same transaction,
 *     without a socket, its response bytes going only to the store.
 *
 * The peek is what tells a client gone from one that pipelined its next
 * request before a FIN: bytes still to read mean it waits for answers.
 * Like Squid (half_closed_clients off) and nginx, a client that shuts its
 * sending side while it waits counts as gone.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "squidlike/client_int.h"
#include "squidlike/log.h"

static const char *state_name(enum cl_state s)
{
    switch (s) {
    case CL_RESOLVE: return "resolving";
    case CL_CONNECT: return "connecting";
    case CL_FORWARD: return "waiting on the origin";
    case CL_WAIT: return "waiting on a collapsed fetch";
    case CL_QUEUE: return "waiting for a backend";
    case CL_ACL_WAIT: return "waiting on an ACL lookup";
    case CL_AUTH_WAIT: return "waiting on a Kerberos check";
    case CL_HIT: return "being served";
    default: return "waiting";
    }
}

/* Is c in a state where it only waits for us? */
static int waiting(const struct sl_client *c)
{
    switch (c->state) {
    case CL_RESOLVE: case CL_CONNECT: case CL_WAIT: case CL_ACL_WAIT:
    case CL_AUTH_WAIT: case CL_HIT:
        return 1;
    case CL_QUEUE:
        return c->txn.req.done;     /* as CL_FORWARD: a body still coming */
    case CL_FORWARD:
        /* While the body comes in, its read sees the EOF. */
        return c->txn.req.done;
    default:
        return 0;
    }
}

/* Does the fetch c leads deserve to go on without c? */
static int worth_finishing(const struct sl_client *c)
{
    const struct cl_txn *t = &c->txn;
    const struct cl_cache *cc = &t->cache;
    const struct sl_conf_cache *q = &c->conf->cache;

    if (c->state != CL_RESOLVE && c->state != CL_CONNECT && c->state != CL_FORWARD)
        return 0;
    if (!t->req.done)
        return 0;               /* the rest of its body left with it */
    if (c->range_fetch)         /* the cache is its client, until not stored */
        return !t->head_done || cc->w != NULL;
    if (cc->cfwd && !cc->cfwd_waiter && cfwd_readers(c))
        return 1;               /* others wait on it or read along */
    if (cc->w == NULL || !t->head_done)
        return 0;
    return cache_quick_abort_finish(cc->stored_bytes,
                                    t->resp.kind == SL_HTTP_BODY_LENGTH
                                    ? cc->stored_bytes + t->resp.left : -1,
                                    q->quick_abort_min, q->quick_abort_max,
                                    (unsigned)q->quick_abort_pct);
}

/* The client's side ends here; the fetch goes on. */
static void go_headless(struct sl_client *c)
{
    struct sl_server *srv = c->srv;
    struct cl_txn *t = &c->txn;
    int fd;

    txnlog_aborted(c);
    cl_tls_end(c);
    fd = sl_loop_del(srv->loop, &c->io);
    if (fd >= 0)
        close(fd);
    sl_ipcounts_drop(srv->ipcounts, c->ipc);
    c->ipc = NULL;
    c->headless = 1;
    c->rd = 0;
    c->wr = 1;                  /* writes go nowhere, at once */
    t->keep = 0;
    /* Its place in max_connections is free now: the fetch is counted
     * apart (bounded by SL_HEADLESS_MAX). */
    srv->nclients--;
    srv->slot->g.clients = srv->nclients;
    srv->nheadless++;
    sl_server_client_gone(srv);
}

void leave_now(struct sl_client *c, int err)
{
    struct sl_server *srv = c->srv;

    if (c->headless || c->state == CL_CLOSED)
        return;
    srv->stats->client_aborts++;
    if (srv->nheadless < SL_HEADLESS_MAX && !srv->draining && worth_finishing(c)) {
        SL_LOG(SL_LOG_INFO, c->id, err, "%s left while %s; the fetch of %s goes on",
               c->peer_str, state_name(c->state), c->txn.url ? c->txn.url : "-");
        go_headless(c);
        return;
    }
    SL_LOG(SL_LOG_INFO, c->id, err, "%s left while %s", c->peer_str,
           state_name(c->state));
    cl_close(c);
}

/* Has the peer on fd sent its FIN (or a reset) with nothing left to read?
 * 1 (and *err: 0 or the reset's -errno) when it has; 0 when bytes wait to
 * be read; -1 when there is nothing to tell. */
static int peer_gone(int fd, int *err)
{
    char b;
    ssize_t n;

    do
        n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n > 0)
        return 0;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return -1;
    *err = n < 0 ? -errno : 0;
    return 1;
}

int leave_check(struct sl_client *c)
{
    int err;

    if (!c->hup || c->headless || c->io.fd < 0 || c->txn.peer_waits || !waiting(c))
        return 0;
    if (sl_buf_len(&c->in) > (c->state == CL_ACL_WAIT || c->state == CL_AUTH_WAIT
                              ? c->txn.acl.headlen : 0))
        return 0;               /* it sent more (pipelined): it waits for answers */
    switch (peer_gone(c->io.fd, &err)) {
    case 0:
        /* Bytes wait behind its FIN (a pipelined request): it waits for
         * answers, and nothing read changes that in this transaction -
         * no peek again at every step. */
        c->txn.peer_waits = 1;
        return 0;
    case -1:
        return 0;
    }
    leave_now(c, err);
    return 1;
}

int leave_before_forward(struct sl_client *c)
{
    int err;

    /* A connection's first request only: a later one's FIN comes as an
     * edge (c->hup), but a request and its FIN that waited together in
     * the accept queue (the proxy out of descriptors, the client long
     * gone) arrive with no edge of their own. */
    if (c->nreq != 1 || c->internal || c->io.fd < 0 || sl_buf_len(&c->in) > 0 ||
        !c->txn.req.done || peer_gone(c->io.fd, &err) != 1)
        return 0;
    c->srv->stats->client_aborts++;
    SL_LOG(SL_LOG_INFO, c->id, err, "%s left before its request was sent on",
           c->peer_str);
    cl_close(c);
    return 1;
}

int leave_recheck(struct sl_client *c)
{
    if (!c->headless || worth_finishing(c))
        return 0;
    SL_LOG(SL_LOG_INFO, c->id, 0, "nobody wants %s any more: fetch stopped",
           c->txn.url ? c->txn.url : "-");
    cl_close(c);
    return 1;
}
