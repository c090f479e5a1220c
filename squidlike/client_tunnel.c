/*
 * client_tunnel.c - CONNECT: after "200 Connection established" the proxy copies
 * bytes both ways until both sides are done. Each direction ends on its own
 * (half-close): when one side sends EOF and everything it sent has been
 * delivered, the other side's write half is shut, and the tunnel lives on
 * for the other direction. An error or the idle timeout ends both.
 *
 * Buffers: client->in carries client-to-origin bytes (it may already hold
 * bytes the client sent right behind the CONNECT head, e.g. a TLS
 * ClientHello); origin->in carries origin-to-client bytes, behind client->out
 * which holds our 200 line.
 *
 * Bulk: once a direction has moved SPLICE_AFTER bytes through the buffers
 * (and neither side speaks TLS through us), its bytes go socket -> pipe ->
 * socket with splice(2) and never enter user space (limits.tunnel_splice).
 * A small, interactive tunnel never pays the pipe's two descriptors.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "squidlike/client_int.h"
#include "squidlike/log.h"

static const char established[] = "HTTP/1.1 200 Connection established\r\n\r\n";

/* Bytes a direction moves by read/write before it takes a pipe: about
 * one buffer's worth, so that a short exchange never pays for one. */
#define SPLICE_AFTER (16 * 1024)
/* The pipe's size: fewer, larger moves (Linux's default is 64 KiB; the
 * kernel may round it up, and may refuse more than pipe-max-size). */
#define PIPE_WANT (256 * 1024)
/* Moves of one direction per run (fairness between connections). */
#define SPLICE_ROUNDS 16

/* One direction's pipe: bytes in it are read from the source and not yet
 * written to the destination. */
struct cl_pipe {
    int fd[2];
    size_t len;
    size_t cap;                 /* what it holds at most */
};

void tunnel_free(struct sl_client *c)
{
    int i;

    for (i = 0; i < 2; i++) {
        struct cl_pipe *p = c->txn.pipe[i];

        if (p == NULL)
            continue;
        close(p->fd[0]);
        close(p->fd[1]);
        free(p);
        c->txn.pipe[i] = NULL;
    }
}

void tunnel_start(struct sl_client *c)
{
    struct cl_txn *t = &c->txn;

    t->code = CL_CODE_TCP_TUNNEL;
    t->status = 200;
    t->keep = 0;
    t->origin_keep = 0;
    c->srv->stats->tunnels++;
    /* After a peek at the ClientHello, our 200 went out already. */
    if (!t->acl.peeked &&
        (cl_lend_out(c) < 0 ||
         (sl_buf_reset(&c->out), sl_buf_append(&c->out, established,
                                                sizeof(established) - 1) < 0))) {
        cl_close(c);
        return;
    }
    c->state = CL_TUNNEL;
    c->t_state = c->t_progress = sl_loop_now(c->srv->loop);
}

/*
 * A protocol switch was granted (101, client_fwd.c): from here on the
 * bytes are the new protocol's (WebSocket frames), relayed as a CONNECT
 * tunnel's are, with its idle timeout and half-close. c->out holds the
 * 101 head; client->in what the client sent after its request, origin->in
 * what the origin sent after its 101.
 */
void tunnel_upgraded(struct sl_client *c)
{
    struct cl_txn *t = &c->txn;

    t->status = 101;
    t->keep = 0;
    t->origin_keep = 0;
    t->head_done = 1;
    c->srv->stats->tunnels++;
    c->state = CL_TUNNEL;
    c->t_state = c->t_progress = sl_loop_now(c->srv->loop);
}

static void tunnel_end(struct sl_client *c, int err)
{
    struct cl_txn *t = &c->txn;

    SL_LOG(SL_LOG_INFO, c->id, err, "%s %s closed: %lld bytes up, %lld down",
           t->upgrade ? "upgraded connection to" : "CONNECT",
           t->key, (long long)t->bytes_up, (long long)t->bytes_out);
    tunnel_free(c);
    cl_txn_done(c);
}

/* Does direction d (0 up, 1 down) move by splice from now on? Its
 * buffered bytes must be gone first (they go out in order). */
static struct cl_pipe *pipe_of(struct sl_client *c, int d, int64_t moved, size_t buffered)
{
    struct cl_txn *t = &c->txn;
    struct cl_pipe *p = t->pipe[d];
    int n;

    if (p != NULL || buffered > 0 || moved < SPLICE_AFTER ||
        !c->conf->limits.tunnel_splice || c->ssl || t->origin->ssl)
        return p;
    if ((p = calloc(1, sizeof(*p))) == NULL)
        return NULL;
    if (pipe2(p->fd, O_NONBLOCK | O_CLOEXEC) < 0) {
        free(p);                /* out of descriptors: read/write goes on */
        return NULL;
    }
    n = fcntl(p->fd[1], F_SETPIPE_SZ, PIPE_WANT);
    p->cap = n > 0 ? (size_t)n : 64 * 1024;
    t->pipe[d] = p;
    return p;
}

/*
 * Move bytes src -> pipe p -> dst with splice(2). Edge-triggered: rd is
 * cleared only when the source had nothing while the pipe was empty (an
 * EAGAIN with bytes in the pipe may mean the pipe is full), wr when the
 * destination took less than offered. Counts as tunnel_push and
 * tunnel_pull do. 1 on progress, 0 none, -1 with *err.
 */
static int dir_splice(struct sl_server *srv, int src, int dst, struct cl_pipe *p,
                      unsigned char *rd, unsigned char *eof, unsigned char *wr,
                      int64_t *count, unsigned long long *in_total,
                      unsigned long long *out_total, int *err)
{
    int progress = 0, i;
    ssize_t n;

    for (i = 0; i < SPLICE_ROUNDS; i++) {
        int moved = 0;

        if (p->len > 0 && *wr) {
            n = splice(p->fd[0], NULL, dst, NULL, p->len, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
            if (n < 0 && errno != EAGAIN && errno != EINTR) {
                *err = -errno;
                return -1;
            }
            if (n < 0 && errno == EAGAIN)
                *wr = 0;
            if (n > 0) {
                if ((size_t)n < p->len)
                    *wr = 0;    /* the socket's buffer is full */
                p->len -= (size_t)n;
                *count += n;
                *out_total += (unsigned long long)n;
                srv->stats->spliced += (unsigned long long)n;
                moved = 1;
            }
        }
        if (!*eof && *rd && p->len < p->cap) {
            n = splice(src, NULL, p->fd[1], NULL, p->cap - p->len,
                       SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
            if (n == 0) {
                *eof = 1;
                moved = 1;
            } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
                *err = -errno;
                return -1;
            } else if (n < 0 && errno == EAGAIN && p->len == 0) {
                *rd = 0;        /* nothing to read: the next edge says more */
            } else if (n > 0) {
                p->len += (size_t)n;
                if (in_total != NULL)
                    *in_total += (unsigned long long)n;
                moved = 1;
            }
        }
        if (!moved)
            break;
        progress = 1;
    }
    return progress;
}

/* Move bytes from one socket's buffer to the other socket; count them in
 * the transaction (count) and, as they move, in the server's total (so a
 * tunnel that ends by a timeout or a reset is counted too). */
static int tunnel_push(int fd, SSL *ssl, struct sl_buf *pre, struct sl_buf *b,
                       unsigned char *wr, int64_t *count,
                       unsigned long long *total, int *err)
{
    size_t hl = pre ? sl_buf_len(pre) : 0, bl = sl_buf_len(b), k;
    ssize_t n;

    if (!(hl || bl) || !*wr)
        return 0;
    n = cl_send2(fd, ssl, pre ? pre->pos : NULL, hl, b->pos, bl, wr);
    if (n == -EAGAIN)
        return 0;
    if (n < 0) {
        *err = (int)n;
        return -1;
    }
    k = (size_t)n < hl ? (size_t)n : hl;
    if (pre)
        sl_buf_consume(pre, k);
    sl_buf_consume(b, (size_t)n - k);
    *count += n;
    *total += (unsigned long long)n;
    return 1;
}

/* Read into b; what came is added to *total (bytes from origins, or
 * NULL). */
static int tunnel_pull(int fd, SSL *ssl, struct sl_buf *b, unsigned char *rd,
                       unsigned char hup, unsigned char *eof,
                       unsigned long long *total, int *err)
{
    ssize_t n;

    if (*eof || !*rd)
        return 0;
    if (sl_buf_space(b) == 0 && b->pos > b->start)
        sl_buf_reserve(b, (size_t)(b->pos - b->start), sl_buf_size(b));
    if (sl_buf_space(b) == 0)
        return 0;               /* full: the other side must drain first */
    n = cl_read(fd, ssl, b, rd, hup);
    if (n == -EAGAIN)
        return 0;
    if (n == 0) {
        *eof = 1;
        return 1;
    }
    if (n < 0) {
        *err = (int)n;
        return -1;
    }
    if (total != NULL)
        *total += (unsigned long long)n;
    return 1;
}

int tunnel_run(struct sl_client *c)
{
    struct cl_txn *t = &c->txn;
    struct sl_origin *o = t->origin;
    struct sl_stats *st = c->srv->stats;
    struct cl_pipe *up, *down;
    int p = 0, r, err = 0;

    /* up: client -> origin */
    if ((r = tunnel_push(o->io.fd, o->ssl, NULL, &c->in, &o->wr, &t->bytes_up,
                         &st->bytes_from_clients, &err)) < 0)
        goto fail;
    p |= r;
    up = pipe_of(c, 0, t->bytes_up, sl_buf_len(&c->in));
    if (up != NULL)
        r = dir_splice(c->srv, c->io.fd, o->io.fd, up, &c->rd, &t->c_eof, &o->wr,
                       &t->bytes_up, NULL, &st->bytes_from_clients, &err);
    else
        r = tunnel_pull(c->io.fd, c->ssl, &c->in, &c->rd, c->hup, &t->c_eof, NULL, &err);
    if (r < 0)
        goto fail;
    p |= r;
    if (t->c_eof && !t->up_shut && sl_buf_len(&c->in) == 0 && (up == NULL || up->len == 0)) {
        if (o->ssl)
            sl_tls_shutdown(o->ssl);
        shutdown(o->io.fd, SHUT_WR);
        t->up_shut = 1;
        p = 1;
    }
    /* down: origin -> client, our 200 line first */
    if ((r = tunnel_push(c->io.fd, c->ssl, &c->out, &o->in, &c->wr, &t->bytes_out,
                         &st->bytes_to_clients, &err)) < 0)
        goto fail;
    p |= r;
    down = pipe_of(c, 1, t->bytes_out, sl_buf_len(&c->out) + sl_buf_len(&o->in));
    if (down != NULL)
        r = dir_splice(c->srv, o->io.fd, c->io.fd, down, &o->rd, &t->o_eof, &c->wr,
                       &t->bytes_out, &st->bytes_from_origins, &st->bytes_to_clients, &err);
    else
        r = tunnel_pull(o->io.fd, o->ssl, &o->in, &o->rd, o->hup, &t->o_eof,
                        &st->bytes_from_origins, &err);
    if (r < 0)
        goto fail;
    p |= r;
    if (t->o_eof && !t->down_shut && sl_buf_len(&o->in) == 0 &&
        sl_buf_len(&c->out) == 0 && (down == NULL || down->len == 0)) {
        if (c->ssl)
            sl_tls_shutdown(c->ssl);
        shutdown(c->io.fd, SHUT_WR);
        t->down_shut = 1;
        p = 1;
    }
    if (p)
        c->t_progress = sl_loop_now(c->srv->loop);
    if (t->up_shut && t->down_shut) {
        tunnel_end(c, 0);
        return 1;
    }
    return p;
fail:
    tunnel_end(c, err);
    return 1;
}
