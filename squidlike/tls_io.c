/*
 * tls_io.c - TLS record I/O on non-blocking, edge-triggered sockets
 * (see tls.h for the rules of the ready flags).
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include <openssl/err.h>

#include "squidlike/tls.h"

/* One TLS record's worth: the most a gathered write takes. */
#define GATHER 16384

/* Map a failed SSL call: -EAGAIN when it waits for an edge, 0 for the
 * peer's orderly end, else an error. */
static ssize_t fail(SSL *ssl, int r, unsigned char *rd, unsigned char *wr)
{
    int e = SSL_get_error(ssl, r);

    switch (e) {
    case SSL_ERROR_WANT_READ:
        /* With read-ahead, whole records may wait in OpenSSL's buffer,
         * the socket's edge long consumed: only an empty buffer waits
         * for the next edge. */
        if (rd && !SSL_has_pending(ssl))
            *rd = 0;
        return -EAGAIN;
    case SSL_ERROR_WANT_WRITE:
        if (wr)
            *wr = 0;
        return -EAGAIN;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    case SSL_ERROR_SYSCALL:
        ERR_clear_error();
        return errno ? -errno : -ECONNRESET;
    default:
        ERR_clear_error();
        return -EPROTO;
    }
}

int sl_tls_handshake(SSL *ssl, unsigned char *rd, unsigned char *wr,
                     const char **why)
{
    int r = SSL_do_handshake(ssl);
    unsigned long e;
    ssize_t n;

    if (r == 1)
        return 1;
    e = ERR_peek_error();
    n = fail(ssl, r, rd, wr);
    if (n == -EAGAIN)
        return 0;
    *why = e ? ERR_reason_error_string(e) : NULL;
    if (*why == NULL)
        *why = n == 0 || n == -ECONNRESET ? "the client closed the connection"
                                           : "handshake failed";
    return -1;
}

ssize_t sl_tls_read(SSL *ssl, struct sl_buf *b, unsigned char *rd)
{
    size_t space = sl_buf_space(b), got = 0;
    int r;

    if (space == 0)
        return -ENOBUFS;
    errno = 0;
    r = SSL_read_ex(ssl, b->last, space, &got);
    if (r == 1) {
        b->last += got;
        return (ssize_t)got;
    }
    /* A read that must write first (a key update's answer) keeps *rd:
     * the write edge that lets it go runs the owner again. */
    return fail(ssl, r, rd, NULL);
}

ssize_t sl_tls_writev(SSL *ssl, const struct iovec *iov, int n,
                      unsigned char *wr)
{
    static unsigned char gather[GATHER];
    const void *p;
    size_t len = 0, k, done = 0;
    int i, r;

    /* One record from up to 16 KiB of the iovecs (a head and the start of
     * a body go out together). A retry after WANT_WRITE offers the same
     * bytes again, gathered the same way, which OpenSSL asks of it. */
    if (n == 1 || iov[0].iov_len >= GATHER) {
        p = iov[0].iov_base;
        len = iov[0].iov_len;
    } else {
        for (i = 0; i < n && len < GATHER; i++) {
            k = iov[i].iov_len < GATHER - len ? iov[i].iov_len : GATHER - len;
            memcpy(gather + len, iov[i].iov_base, k);
            len += k;
        }
        p = gather;
    }
    if (len == 0)
        return 0;
    errno = 0;
    r = SSL_write_ex(ssl, p, len, &done);
    if (r == 1)
        return (ssize_t)done;
    return fail(ssl, r, NULL, wr);
}

void sl_tls_shutdown(SSL *ssl)
{
    /* once: a second call would wait for the peer's close_notify */
    if (SSL_is_init_finished(ssl) && !(SSL_get_shutdown(ssl) & SSL_SENT_SHUTDOWN))
        (void)SSL_shutdown(ssl);
    ERR_clear_error();
}
