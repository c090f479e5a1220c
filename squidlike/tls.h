/*
 * tls.h - TLS termination for reverse listeners (OpenSSL 3).
 *
 * A configuration snapshot owns one struct sl_tls: an SSL_CTX per group of
 * certificates that share their names (an RSA and an ECDSA certificate for
 * the same site go in one context, and OpenSSL offers the one the client
 * can verify), the table of names for SNI, and the ticket keys read from
 * files. It is built by the loader (a bad key or certificate fails the
 * load, and at a reload the running snapshot keeps serving) and freed with
 * the snapshot; a connection holds its snapshot, so the callbacks' pointers
 * stay valid until its handshake is over.
 *
 * Ticket keys that no file gives are derived here from one secret that
 * all the workers share (sl_tls_set_ticket_secret), one key per period of
 * ticket_key_lifetime: a ticket any worker issued resumes on every other,
 * and across reloads and worker restarts (the secret stays in the shared
 * memory); the two periods before still decrypt (tickets stay valid for
 * two to three lifetimes).
 *
 * The I/O helpers keep the owner's edge-triggered "ready" flags honest:
 * a TLS read clears its flag only on WANT_READ (one record per SSL_read,
 * so a short read says nothing about the socket), and a write that needs
 * to read (or a read that needs to write) leaves the flags alone, so the
 * next edge of either kind retries it.
 */
#ifndef SL_TLS_H
#define SL_TLS_H

#include <openssl/ssl.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "squidlike/buf.h"

struct sl_conf_tls;
struct sl_tls;

#define SL_TLS_TICKET_SECRET_LEN 32
#define SL_TLS_TICKET_KEY_LEN 80    /* name 16, HMAC 32, AES 32 (nginx's file) */

struct sl_shared;
/* A worker's start: the ticket keys come from sh's secret, the handshakes
 * are counted in its slot, and read as the sum of all slots. */
void sl_tls_set_shared(struct sl_shared *sh, int slot);
/* The secret the generated ticket keys come from (32 bytes; it must stay
 * valid: the shared memory's). Unset: one made per process. */
void sl_tls_set_ticket_secret(const unsigned char *secret);
/* The key of period epoch (unix time / lifetime s) for secret: name,
 * HMAC key, AES key, as a key file holds them. 0, or -1 (OpenSSL). */
int sl_tls_ticket_derive(const unsigned char *secret, int64_t lifetime, int64_t epoch,
                         unsigned char out[SL_TLS_TICKET_KEY_LEN]);

/* Build the contexts of c; NULL with err set ("FILE:LINE: ..." naming the
 * certificate entry) when a file cannot be used. */
struct sl_tls *sl_tls_new(const struct sl_conf_tls *c, char *err, size_t errlen);
void sl_tls_free(struct sl_tls *t);

/* A server-side SSL on accepted socket fd (the default certificate until
 * SNI picks another); NULL when out of memory. */
SSL *sl_tls_accept(struct sl_tls *t, int fd);

/* One step of the handshake: 1 done, 0 again on the next edge (the flag it
 * waits for is cleared), -1 failed (why: a short static reason). */
int sl_tls_handshake(SSL *ssl, unsigned char *rd, unsigned char *wr,
                     const char **why);

/* Read into b: > 0 bytes, 0 the peer closed (close_notify or EOF),
 * -EAGAIN, or -EPROTO / -errno. */
ssize_t sl_tls_read(SSL *ssl, struct sl_buf *b, unsigned char *rd);
/* Write the iovecs as TLS records (up to 16 KiB per call, gathered): the
 * bytes taken, -EAGAIN (offer the same bytes again, or more), -errno. */
ssize_t sl_tls_writev(SSL *ssl, const struct iovec *iov, int n,
                      unsigned char *wr);
/* Send close_notify, without waiting for the peer's (best effort). */
void sl_tls_shutdown(SSL *ssl);

/*
 * TLS to backends (a pool's tls settings): a client context that verifies
 * against ca (NULL: the system's store) unless verify is 0, and presents
 * cert/key when given (mTLS). NULL with err set naming the file.
 */
SSL_CTX *sl_tls_client_ctx(const char *ca, int verify, const char *cert,
                           const char *key, char *err, size_t errlen);
/* A client SSL on connected socket fd: SNI name (not for an IP address),
 * and the certificate must name it (a DNS name, or an IP address in its
 * subjectAltName). NULL when out of memory. */
SSL *sl_tls_connect(SSL_CTX *ctx, int fd, const char *name);
/* Why a backend's handshake failed, for the log and the error page. */
const char *sl_tls_verify_why(SSL *ssl);

/* What the status page and /metrics show of each certificate. */
struct sl_tls_cert_info {
    const char *file;
    const char *names;          /* its DNS names, comma-separated */
    int64_t not_after;          /* Unix time */
    const char *key_type;       /* "RSA", "EC", ... */
};
size_t sl_tls_ncerts(const struct sl_tls *t);
void sl_tls_cert(const struct sl_tls *t, size_t i, struct sl_tls_cert_info *out);

/* Handshakes and resumptions (process-wide, since start). */
struct sl_tls_stats {
    unsigned long long handshakes, resumed, failed;
};
/* Handshakes of every worker (sl_tls_set_shared), or of this process. */
void sl_tls_get_stats(struct sl_tls_stats *st);
/* Count a handshake's end (called by the owner when it completes/fails). */
void sl_tls_count(SSL *ssl, int ok);

/* Names of certificates: does the DNS name pattern p (a name or "*.suffix")
 * cover host name h? (Pure, for tests: RFC 6125 6.4.3, one label only.) */
int sl_tls_name_match(const char *p, const char *h);

#endif
