/*
 * client_flow.c - bytes on their way through: the socket reads and writes
 * of the client side (plain or TLS, keeping the edge-triggered ready
 * flags honest), and message bodies (struct cl_flow, client_int.h):
 * scanning where a body ends as its bytes arrive, and writing a head and
 * what a flow has ready in one writev, framed by us when chunked. Split
 * from client.c and client_fwd.c.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "squidlike/client_int.h"

/* --- socket I/O -------------------------------------------------------- */

ssize_t cl_read(int fd, SSL *ssl, struct sl_buf *b, unsigned char *ready,
                unsigned char hup)
{
    size_t space = sl_buf_space(b);
    ssize_t n;

    if (ssl)
        return sl_tls_read(ssl, b, ready);
    do
        n = read(fd, b->last, space);
    while (n < 0 && errno == EINTR);
    if (n > 0) {
        b->last += n;
        /* A short read drained the socket: the next edge tells us more -
         * unless the peer's FIN came with the same edge (EPOLLRDHUP), in
         * which case no edge will follow and the EOF is still to be read. */
        if ((size_t)n < space && !hup)
            *ready = 0;
        return n;
    }
    if (n == 0)
        return 0;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        *ready = 0;
        return -EAGAIN;
    }
    return -errno;
}

ssize_t cl_send2(int fd, SSL *ssl, const char *h, size_t hl, const char *b,
                 size_t bl, unsigned char *ready)
{
    struct iovec iov[2];
    int n = 0;
    ssize_t w;

    if (hl) {
        iov[n].iov_base = (void *)h;
        iov[n++].iov_len = hl;
    }
    if (bl) {
        iov[n].iov_base = (void *)b;
        iov[n++].iov_len = bl;
    }
    if (ssl)
        return n ? sl_tls_writev(ssl, iov, n, ready) : 0;
    do
        w = n == 1 ? write(fd, iov[0].iov_base, iov[0].iov_len)
                   : writev(fd, iov, n);
    while (w < 0 && errno == EINTR);
    if (w >= 0) {
        if ((size_t)w < hl + bl)
            *ready = 0;
        return w;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        *ready = 0;
        return -EAGAIN;
    }
    return -errno;
}

/* --- body flows ------------------------------------------------------- */

/*
 * Scan bytes that arrived after the ready ones. 0, or -1 if malformed.
 * *span / *span_n: the body data that became ready (a chunked body's
 * decoded data, without its trailer lines): what the cache stores.
 */
int flow_scan(struct cl_flow *f, struct sl_buf *b, char **span, size_t *span_n)
{
    char *p = b->pos + f->ready;
    size_t avail = (size_t)(b->last - p), out;
    ssize_t r;

    *span = p;
    *span_n = 0;
    if (f->done || avail == 0)
        return 0;
    switch (f->kind) {
    case SL_HTTP_BODY_NONE:
        f->done = 1;
        break;
    case SL_HTTP_BODY_LENGTH:
        if ((int64_t)avail >= f->left) {
            avail = (size_t)f->left;
            f->done = 1;
        }
        f->left -= (int64_t)avail;
        f->ready += avail;
        *span_n = avail;
        break;
    case SL_HTTP_BODY_CLOSE:
        f->ready += avail;
        *span_n = avail;
        break;
    case SL_HTTP_BODY_CHUNKED:
        r = sl_chunk_feed(&f->ck, p, avail, f->reframe ? SL_CHUNK_DATA_TRAILERS
                                                       : SL_CHUNK_DATA, &out);
        if (r < 0)
            return -1;
        /* The output was compacted to p; close the gap the framing left
         * before what follows the body (a pipelined request). */
        if ((size_t)r < avail && out < (size_t)r)
            memmove(p + out, p + r, avail - (size_t)r);
        b->last = p + out + (avail - (size_t)r);
        f->ready += out;
        f->tr_ready += f->ck.tr_out;
        *span_n = out - f->ck.tr_out;
        if (f->ck.done)
            f->done = 1;
        break;
    }
    return 0;
}

/* Free space at the end of b, compacting first when there is none. */
size_t flow_room(struct sl_buf *b)
{
    if (sl_buf_space(b) == 0 && b->pos > b->start)
        sl_buf_reserve(b, (size_t)(b->pos - b->start), sl_buf_size(b));
    return sl_buf_space(b);
}

/* Has all of the body gone out, our framing included? */
int flow_sent(const struct cl_flow *f)
{
    return f->done && f->ready == 0 &&
           (!f->reframe || sl_chunk_enc_done(&f->enc));
}

/*
 * Write hl bytes of head h, then what flow f (NULL: none) has ready at
 * b->pos - framed by us when f->reframe (chunk.h) - in one writev; consume
 * from b and f what was written. *hsent: how much of the head went.
 * Returns the bytes written, framing included; 0 when there was nothing to
 * write; -EAGAIN or -errno. The write may stop anywhere: the encoder keeps
 * the framing it cut for next time.
 */
ssize_t flow_send(int fd, SSL *ssl, const char *h, size_t hl, struct sl_buf *b,
                  struct cl_flow *f, unsigned char *wready, size_t *hsent)
{
    struct iovec iov[1 + SL_CHUNK_IOV];
    struct sl_chunk_out co;
    size_t want = hl, dsent, tsent, k;
    int n = 0, i;
    ssize_t r;

    *hsent = 0;
    if (hl) {
        iov[n].iov_base = (void *)h;
        iov[n++].iov_len = hl;
    }
    if (f && f->reframe) {
        sl_chunk_enc_iov(&f->enc, b->pos, f->ready - f->tr_ready, f->tr_ready,
                         f->ck.last, f->done, &co);
        for (i = 0; i < co.n; i++) {
            iov[n++] = co.iov[i];
            want += co.iov[i].iov_len;
        }
    } else if (f && f->ready) {
        iov[n].iov_base = b->pos;
        iov[n++].iov_len = f->ready;
        want += f->ready;
    }
    if (n == 0)
        return 0;
    if (ssl) {
        /* TLS takes a record at a time: only WANT_WRITE says the socket
         * is full (tls.h). */
        if ((r = sl_tls_writev(ssl, iov, n, wready)) < 0)
            return r;
    } else {
        do
            r = n == 1 ? write(fd, iov[0].iov_base, iov[0].iov_len)
                       : writev(fd, iov, n);
        while (r < 0 && errno == EINTR);
        if (r < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                *wready = 0;
                return -EAGAIN;
            }
            return -errno;
        }
        if ((size_t)r < want)
            *wready = 0;
    }
    *hsent = k = (size_t)r < hl ? (size_t)r : hl;
    k = (size_t)r - k;          /* what went of the body and its framing */
    if (f && f->reframe) {
        sl_chunk_enc_wrote(&f->enc, &co, k, &dsent, &tsent);
        sl_buf_consume(b, dsent + tsent);
        f->ready -= dsent + tsent;
        f->tr_ready -= tsent;
    } else if (f && k) {
        sl_buf_consume(b, k);
        f->ready -= k;
    }
    return r;
}

