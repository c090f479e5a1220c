/*
 * health.c - active health checks of reverse mode's backends (health.h).
 *
 * Each backend has one probe: a timer that starts a check, a non-blocking
 * connect, one request written whole (it is small), and a read of the
 * status line, all bounded by health_timeout. A probe never holds more
 * than its 512-byte buffer, and a check in progress is never started
 * twice: the next one is timed from when this one ends. A TLS pool's
 * checks go over TLS, its certificate verified as a request's would be.
 *
 * With several workers one of them checks (the checker: worker 0 of the
 * newest generation, or the single process) and publishes each verdict
 * in the shared table (health_shm.h); the others follow it, reading the
 * table every half interval, and log nothing of their own. Every worker
 * starts from the table, so a worker that takes the checks over (worker
 * 0 restarted) goes on where the last one stopped.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "squidlike/backend.h"
#include "squidlike/dns.h"
#include "squidlike/health.h"
#include "squidlike/health_shm.h"
#include "squidlike/log.h"
#include "squidlike/loop.h"
#include "squidlike/net.h"
#include "squidlike/server.h"
#include "squidlike/shared.h"
#include "squidlike/tls.h"

#define HC_BUF 512

enum hc_state { HC_IDLE = 0, HC_CONNECT, HC_TLS, HC_READ };

struct hc_probe {
    struct sl_health *h;
    int pool, idx;
    enum hc_state state;
    struct sl_dns_waiter dnsw;  /* a backend given by name */
    struct sl_dns_result res;
    struct sl_io io;
    SSL *ssl;                   /* a TLS pool's */
    unsigned char rd, wr;       /* edges, for the TLS handshake */
    struct sl_timer timer;
    size_t len, sent, reqlen;
    int slot;                   /* its entry in the shared table; -1: none */
    uint64_t seq;               /* of the entry, when last read */
    int own;                    /* checked here (else the checker's verdicts) */
    char req[HC_BUF];
    char buf[HC_BUF];
};

struct sl_health {
    struct sl_server *srv;
    struct sl_backends *rt;
    struct hc_probe *probes;
    size_t n;
    struct sl_hshm *shm;        /* the workers' table (NULL: none) */
    int checker;                /* this worker runs the checks */
    struct sl_timer follow;     /* the others read the table */
    int64_t follow_ms;
    struct sl_post free_post;   /* freed after the batch: an event of this
                                   batch may still name a probe's sl_io */
};

static void hc_close(struct hc_probe *p)
{
    int fd;

    SSL_free(p->ssl);
    p->ssl = NULL;
    if (p->io.fd >= 0) {
        fd = sl_loop_del(p->h->srv->loop, &p->io);
        if (fd >= 0)
            close(fd);
        p->io.fd = -1;
    }
}

/* The check is over: its verdict, then the next one in an interval. */
static void hc_done(struct hc_probe *p, int ok, const char *why)
{
    struct sl_health *h = p->h;
    const struct sl_conf_rpool *c = &sl_backends_rev(h->rt)->pools[p->pool];
    const char *name = c->backend[p->idx].name;
    int64_t now = sl_loop_now(h->srv->loop);

    hc_close(p);
    sl_dns_cancel(&p->dnsw);
    p->state = HC_IDLE;
    if (sl_backends_health(h->rt, p->pool, p->idx, ok, why, now)) {
        if (ok)
            SL_LOG(SL_LOG_WARN, 0, 0, "backend %s of pool %s is up (health "
                   "checks passed)", name, c->name);
        else
            SL_LOG(SL_LOG_WARN, 0, 0, "backend %s of pool %s is down: %s", name,
                   c->name, why);
    }
    if (p->slot >= 0 && h->checker) {
        struct sl_backend_health st;

        sl_backends_health_get(h->rt, p->pool, p->idx, &st);
        sl_hshm_put(h->shm, p->slot, &st, now);
    }
    sl_timer_set(h->srv->loop, &p->timer, c->health_interval_ms);
}

/* A follower: take the checker's verdicts that are new. */
static void hc_on_follow(struct sl_timer *t)
{
    struct sl_health *h = t->data;
    struct sl_backend_health st;
    size_t i;

    for (i = 0; i < h->n; i++) {
        struct hc_probe *p = &h->probes[i];

        if (!p->own && sl_hshm_get(h->shm, p->slot, &p->seq, &st) &&
            sl_backends_health_set(h->rt, p->pool, p->idx, &st))
            SL_LOG(SL_LOG_DEBUG, 0, 0, "backend %s of pool %s: %s, as worker 0's "
                   "checks say", sl_backends_conf(h->rt, p->pool, p->idx)->name,
                   sl_backends_rev(h->rt)->pools[p->pool].name, st.healthy ? "up" : "down");
    }
    sl_timer_set(h->srv->loop, &h->follow, h->follow_ms);
}

/* Does this worker run the checks? The single process does; of several
 * workers, worker 0 of the newest generation (a draining one stops its
 * checks: sl_server_drain). */
static int hc_is_checker(const struct sl_server *srv)
{
    const struct sl_shared *sh = srv->shared;

    return sh == NULL || sh->health == NULL || sh->nworkers <= 1 ||
           (srv->slot->index == 0 && srv->slot->generation == sh->generation);
}

/* "HTTP/1.x NNN" at the start of buf: the status, or -1. */
static int status_of(const char *b, size_t n)
{
    if (n < 12 || memcmp(b, "HTTP/1.", 7) != 0 || (b[7] != '0' && b[7] != '1') ||
        b[8] != ' ' || b[9] < '1' || b[9] > '5' || b[10] < '0' || b[10] > '9' ||
        b[11] < '0' || b[11] > '9')
        return -1;
    return (b[9] - '0') * 100 + (b[10] - '0') * 10 + (b[11] - '0');
}

static void hc_read(struct hc_probe *p)
{
    const struct sl_conf_rpool *c = &sl_backends_rev(p->h->rt)->pools[p->pool];
    char why[96];
    ssize_t n;
    int st;

    for (;;) {
        if (p->ssl) {
            struct sl_buf b = { p->buf, p->buf + sizeof(p->buf) - 1, p->buf,
                                p->buf + p->len };
            n = sl_tls_read(p->ssl, &b, &p->rd);
            if (n == -EAGAIN)
                return;
            if (n < 0) {
                errno = (int)-n;
                break;
            }
        } else {
            n = read(p->io.fd, p->buf + p->len, sizeof(p->buf) - 1 - p->len);
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0)
            break;
        p->len += (size_t)n;
        if (memchr(p->buf, '\n', p->len) != NULL || p->len == sizeof(p->buf) - 1)
            break;
    }
    if (n < 0) {
        snprintf(why, sizeof(why), "read: %s", strerror(errno));
        hc_done(p, 0, why);
        return;
    }
    if ((st = status_of(p->buf, p->len)) < 0) {
        hc_done(p, 0, p->len ? "not an HTTP response" : "closed without answering");
        return;
    }
    if (c->health_status ? st != c->health_status : (st < 200 || st > 399)) {
        snprintf(why, sizeof(why), "status %d", st);
        hc_done(p, 0, why);
        return;
    }
    hc_done(p, 1, "");
}

/* What the backend's certificate must name: tls_name, else its host
 * name, else its address. */
static const char *hc_tls_name(struct hc_probe *p)
{
    const struct sl_conf_rpool *c = &sl_backends_rev(p->h->rt)->pools[p->pool];
    const struct sl_conf_rbackend *b = &c->backend[p->idx];
    union sl_sockaddr a;

    if (c->tls_name[0])
        return c->tls_name;
    if (b->by_name)
        return b->host;
    memcpy(&a, &b->addr, sizeof(a) < sizeof(b->addr) ? sizeof(a) : sizeof(b->addr));
    return sl_net_ntop(&a.sa, p->buf, sizeof(p->buf));
}

/* HC_TLS: the handshake, then the request in one record. */
static void hc_tls(struct hc_probe *p, unsigned ev)
{
    const char *why = NULL;
    char msg[128];
    struct iovec iov;
    ssize_t n;
    int r;

    if (ev & (SL_IO_READ | SL_IO_HUP | SL_IO_ERR))
        p->rd = 1;
    if (ev & (SL_IO_WRITE | SL_IO_HUP | SL_IO_ERR))
        p->wr = 1;
    if (!SSL_is_init_finished(p->ssl)) {
        r = sl_tls_handshake(p->ssl, &p->rd, &p->wr, &why);
        if (r == 0)
            return;
        if (r < 0) {
            snprintf(msg, sizeof(msg), "TLS: %s",
                     sl_tls_verify_why(p->ssl) ? sl_tls_verify_why(p->ssl) : why);
            hc_done(p, 0, msg);
            return;
        }
    }
    iov.iov_base = p->req + p->sent;
    iov.iov_len = p->reqlen - p->sent;
    n = sl_tls_writev(p->ssl, &iov, 1, &p->wr);
    if (n == -EAGAIN)
        return;
    if (n < 0) {
        snprintf(msg, sizeof(msg), "TLS write: %s", strerror((int)-n));
        hc_done(p, 0, msg);
        return;
    }
    p->sent += (size_t)n;
    if (p->sent < p->reqlen)
        return;
    p->len = 0;
    p->state = HC_READ;
    hc_read(p);
}

static void hc_on_io(struct sl_io *io, unsigned ev)
{
    struct hc_probe *p = io->data;
    const struct sl_conf_rpool *c = &sl_backends_rev(p->h->rt)->pools[p->pool];
    char why[96];
    ssize_t n;
    int rc;

    if (p->state == HC_CONNECT && (ev & (SL_IO_WRITE | SL_IO_ERR | SL_IO_HUP))) {
        if ((rc = sl_net_connect_result(io->fd)) < 0) {
            snprintf(why, sizeof(why), "connect: %s", strerror(-rc));
            hc_done(p, 0, why);
            return;
        }
        if (c->tls) {
            if ((p->ssl = sl_tls_connect(c->tls_ctx, io->fd, hc_tls_name(p))) == NULL) {
                hc_done(p, 0, "TLS: out of memory");
                return;
            }
            p->state = HC_TLS;
            p->rd = p->wr = 1;
            hc_tls(p, ev);
            return;
        }
        do
            n = write(io->fd, p->req + p->sent, p->reqlen - p->sent);
        while (n < 0 && errno == EINTR);
        if (n < 0 && errno != EAGAIN) {
            snprintf(why, sizeof(why), "write: %s", strerror(errno));
            hc_done(p, 0, why);
            return;
        }
        if (n > 0)
            p->sent += (size_t)n;
        if (p->sent < p->reqlen)
            return;             /* the rest at the next writable edge */
        p->state = HC_READ;
    }
    if (p->state == HC_TLS) {
        hc_tls(p, ev);
        return;
    }
    if (p->state == HC_READ && (ev & (SL_IO_READ | SL_IO_HUP | SL_IO_ERR)))
        hc_read(p);
}

static void hc_connect(struct hc_probe *p, const struct sockaddr *sa, socklen_t len);

static void hc_on_dns(struct sl_dns_waiter *w, const struct sl_dns_result *res)
{
    struct hc_probe *p = w->data;
    const struct sl_conf_rbackend *b =
        &sl_backends_rev(p->h->rt)->pools[p->pool].backend[p->idx];
    union sl_sockaddr a;

    if (res != &p->res)
        p->res = *res;
    if (res->status != SL_DNS_OK || res->n == 0) {
        hc_done(p, 0, res->status == SL_DNS_TIMEOUT ? "DNS timed out"
                                                    : "DNS: no address");
        return;
    }
    a = res->addr[0];           /* the first, as a request tries first */
    sl_net_set_port(&a.sa, b->port);
    hc_connect(p, &a.sa, sl_net_salen(&a.sa));
}

static void hc_start(struct hc_probe *p)
{
    struct sl_health *h = p->h;
    const struct sl_conf_rpool *c = &sl_backends_rev(h->rt)->pools[p->pool];
    const struct sl_conf_rbackend *b = &c->backend[p->idx];

    p->len = p->sent = 0;
    /* the whole check, lookup included, within the timeout */
    p->state = HC_CONNECT;
    sl_timer_set(h->srv->loop, &p->timer, c->health_timeout_ms);
    if (b->by_name) {
        p->dnsw.cb = hc_on_dns;
        p->dnsw.data = p;
        if (sl_dns_resolve(h->srv->dns, b->host, &p->dnsw, &p->res) == 0)
            hc_on_dns(&p->dnsw, &p->res);
        return;
    }
    hc_connect(p, (const struct sockaddr *)&b->addr, b->addrlen);
}

static void hc_connect(struct hc_probe *p, const struct sockaddr *sa, socklen_t len)
{
    struct sl_health *h = p->h;
    char why[96];
    int fd, rc;

    fd = sl_net_connect(sa, len);
    if (fd < 0) {
        snprintf(why, sizeof(why), "connect: %s", strerror(-fd));
        hc_done(p, 0, why);
        return;
    }
    p->io.fd = fd;
    p->io.cb = hc_on_io;
    p->io.data = p;
    if ((rc = sl_loop_add_et(h->srv->loop, &p->io)) < 0) {
        close(fd);
        p->io.fd = -1;
        snprintf(why, sizeof(why), "epoll: %s", strerror(-rc));
        hc_done(p, 0, why);
        return;
    }
}

static void hc_on_timer(struct sl_timer *t)
{
    struct hc_probe *p = t->data;

    if (p->state == HC_IDLE)
        hc_start(p);
    else
        hc_done(p, 0, "timed out");
}

struct sl_health *sl_health_start(struct sl_server *srv, struct sl_backends *rt)
{
    const struct sl_conf_reverse *rev;
    struct sl_health *h;
    size_t i, j, n = 0, k = 0;
    int len;

    if (rt == NULL)
        return NULL;
    rev = sl_backends_rev(rt);
    for (i = 0; i < rev->n_pools; i++)
        if (rev->pools[i].health_path[0] != '\0')
            n += rev->pools[i].n_backends;
    if (n == 0)
        return NULL;
    if ((h = calloc(1, sizeof(*h))) == NULL ||
        (h->probes = calloc(n, sizeof(*h->probes))) == NULL) {
        free(h);
        SL_LOG(SL_LOG_ERROR, 0, -ENOMEM, "health checks not started: out of memory");
        return NULL;
    }
    h->srv = srv;
    h->rt = rt;
    h->n = n;
    h->shm = srv->shared ? srv->shared->health : NULL;
    h->checker = hc_is_checker(srv);
    h->follow_ms = 1000;
    for (i = 0; i < rev->n_pools; i++) {
        const struct sl_conf_rpool *c = &rev->pools[i];
        if (c->health_path[0] == '\0')
            continue;
        for (j = 0; j < c->n_backends; j++, k++) {
            struct hc_probe *p = &h->probes[k];
            p->h = h;
            p->pool = (int)i;
            p->idx = (int)j;
            p->io.fd = -1;
            p->timer.cb = hc_on_timer;
            p->timer.data = p;
            /* path and pool name were checked by the loader: no CR/LF */
            len = snprintf(p->req, sizeof(p->req), "GET %s HTTP/1.1\r\nHost: %s\r\n"
                           "User-Agent: squidlike-health/%s\r\nConnection: close\r\n\r\n",
                           c->health_path, c->name, PACKAGE_VERSION);
            p->reqlen = len > 0 && (size_t)len < sizeof(p->req) ? (size_t)len : 0;
            p->slot = h->shm ? sl_hshm_find(h->shm, sl_hshm_key(c->name, c->backend[j].name),
                                            sl_loop_now(srv->loop)) : -1;
            if (p->slot >= 0) {
                struct sl_backend_health st;

                /* What is known already (checked before a restart of this
                 * worker, or by the checker) */
                if (sl_hshm_get(h->shm, p->slot, &p->seq, &st))
                    sl_backends_health_set(rt, p->pool, p->idx, &st);
            }
            p->own = h->checker || p->slot < 0;
            if (!p->own) {
                /* Half an interval late at most after the checker. */
                if (c->health_interval_ms / 2 < h->follow_ms)
                    h->follow_ms = c->health_interval_ms / 2 > 50
                                 ? c->health_interval_ms / 2 : 50;
                continue;
            }
            /* The first checks go out at once, spread over a few ms, so
             * that a backend already down is known within one timeout. */
            sl_timer_set(srv->loop, &p->timer, (int64_t)(k % 50));
        }
    }
    h->follow.cb = hc_on_follow;
    h->follow.data = h;
    if (!h->checker)
        sl_timer_set(srv->loop, &h->follow, 0);
    return h;
}

static void hc_free(struct sl_post *p)
{
    struct sl_health *h = p->data;

    free(h->probes);
    free(h);
}

void sl_health_stop(struct sl_health *h)
{
    size_t i;

    if (h == NULL)
        return;
    for (i = 0; i < h->n; i++) {
        hc_close(&h->probes[i]);   /* io.fd -1: the loop skips its events */
        sl_dns_cancel(&h->probes[i].dnsw);
        sl_timer_stop(h->srv->loop, &h->probes[i].timer);
    }
    sl_timer_stop(h->srv->loop, &h->follow);
    h->free_post.cb = hc_free;
    h->free_post.data = h;
    sl_loop_post(h->srv->loop, &h->free_post);
}
