/*
 * client_bgfetch.c - fetches of our own through our own pipeline (see
 * client_bgfetch.h).
 * A revalidation: one end of a socket pair becomes an internal client of
 * the proxy; this file owns the other end: it writes the request, reads
 * and drops the response, and closes on EOF or after a bounded time. A
 * whole object for a range: an internal client with no socket at all,
 * headless from the start (its bytes go only to the store), which client_leave.c
 * stops when it is no longer worth going on.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "squidlike/client_bgfetch.h"
#include "squidlike/client_int.h"
#include "squidlike/hash.h"
#include "squidlike/log.h"
#include "squidlike/server.h"

#define BG_TIMEOUT_MS 120000
#define BG_REQ_MAX 16384

struct bg {
    struct sl_io io;
    struct sl_server *srv;
    struct sl_timer timer;
    struct sl_post free_post;
    struct bg *next;
    uint32_t hash;
    struct cache_infl_ticket xtk;   /* its claim among the workers */
    size_t len, sent;
    char req[BG_REQ_MAX];
};

static const char *const skip[] = { "Host", "Cache-Control", "Pragma",
    "Connection", "Proxy-Connection", "Keep-Alive", "TE", "Upgrade",
    "Range", "If-Range", "If-None-Match", "If-Modified-Since", "If-Match",
    "If-Unmodified-Since", "Content-Length", "Transfer-Encoding", "Expect",
    "Proxy-Authorization", NULL };

static void bg_free(struct sl_post *p)
{
    free(p->data);
}

static void bg_close(struct bg *b)
{
    struct sl_server *srv = b->srv;
    struct bg **pp;
    int fd = sl_loop_del(srv->loop, &b->io);

    if (fd >= 0)
        close(fd);
    sl_timer_stop(srv->loop, &b->timer);
    for (pp = &srv->bg; *pp; pp = &(*pp)->next)
        if (*pp == b) {
            *pp = b->next;
            break;
        }
    srv->nbg--;
    xcf_reval_done(srv, &b->xtk);
    sl_loop_post(srv->loop, &b->free_post);
}

static void bg_on_io(struct sl_io *io, unsigned ev)
{
    struct bg *b = io->data;
    char sink[16384];
    ssize_t n;

    if ((ev & SL_IO_WRITE) && b->sent < b->len) {
        n = write(io->fd, b->req + b->sent, b->len - b->sent);
        if (n > 0)
            b->sent += (size_t)n;
        else if (n < 0 && errno != EAGAIN) {
            bg_close(b);
            return;
        }
    }
    if (ev & SL_IO_READ) {
        /* Edge-triggered: read until there is nothing more. */
        while ((n = read(io->fd, sink, sizeof(sink))) > 0)
            ;
        if (n == 0 || (n < 0 && errno != EAGAIN))
            bg_close(b);
    }
}

static void bg_on_timer(struct sl_timer *t)
{
    bg_close(t->data);
}

/* The request: our URL, the variant-selecting fields; a revalidation
 * adds no-cache. Returns its length or -ENOSPC. */
static ssize_t bg_request(char *buf, size_t size, const char *url,
                          const struct sl_http_msg *req, int revalidate, int flags)
{
    struct sl_buf out = { buf, buf + size, buf, buf };
    const struct sl_http_hdr *host = sl_http_find(req, "Host");
    size_t i;
    const char *const *s;

    /* The internal client parses http:// URLs: it knows a site asked
     * over TLS by its flag (SL_BG_HTTPS), and writes https:// again. */
    if (strncmp(url, "https://", 8) == 0 &&
        sl_buf_printf(&out, "GET http://%s HTTP/1.1\r\n", url + 8) < 0)
        return -ENOSPC;
    if (strncmp(url, "https://", 8) != 0 &&
        sl_buf_printf(&out, "GET %s HTTP/1.1\r\n", url) < 0)
        return -ENOSPC;
    if (host && sl_buf_printf(&out, "Host: %.*s\r\n", (int)host->value.len,
                              host->value.base) < 0)
        return -ENOSPC;
    for (i = 0; i < req->nhdrs; i++) {
        const struct sl_http_hdr *h = &req->hdrs[i];
        for (s = skip; *s && !sl_view_ieq(h->name, *s); s++)
            ;
        if ((flags & SL_BG_IDENTITY) && sl_view_ieq(h->name, "Accept-Encoding"))
            continue;
        if (*s == NULL &&
            sl_buf_printf(&out, "%.*s: %.*s\r\n", (int)h->name.len, h->name.base,
                          (int)h->value.len, h->value.base) < 0)
            return -ENOSPC;
    }
    if (sl_buf_printf(&out, "%sConnection: close\r\n\r\n",
                      revalidate ? "Cache-Control: no-cache\r\n" : "") < 0)
        return -ENOSPC;
    return (ssize_t)sl_buf_len(&out);
}

/* An internal client on one end of a socket pair: it passes the source
 * check and logs as "internal". 0 or -errno. */
static int accept_internal(struct sl_server *srv, int fd, int flags)
{
    struct sockaddr_in lo;
    struct sl_client *c;
    int rc;

    memset(&lo, 0, sizeof(lo));
    lo.sin_family = AF_INET;
    lo.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    rc = sl_client_accept(srv, fd, (struct sockaddr *)&lo, sizeof(lo),
                         (flags & SL_BG_REVERSE) ? SL_LISTEN_REVERSE : SL_LISTEN_PROXY);
    if (rc < 0)
        return rc;
    c = srv->clients;           /* just linked first */
    if (c && c->io.fd == fd) {
        c->internal = 1;
        c->https = (flags & SL_BG_HTTPS) != 0;  /* its request comes later */
        snprintf(c->peer_str, sizeof(c->peer_str), "internal");
    }
    return 0;
}

int sl_bgfetch_start(struct sl_server *srv, const char *url, const char *key,
                     size_t klen, const struct sl_http_msg *req, int flags)
{
    uint32_t h = sl_fnv32(key, klen) | 1;   /* 0 marks a free slot */
    struct bg *b;
    ssize_t n;
    int sv[2];

    if (srv->nbg >= SL_BGFETCH_MAX || srv->draining)
        return 0;
    for (b = srv->bg; b; b = b->next)
        if (b->hash == h)
            return 0;           /* one at a time per URL */
    b = calloc(1, sizeof(*b));
    if (b == NULL)
        return 0;
    /* ... and per machine: not when another worker revalidates it */
    if (!xcf_reval_claim(srv, key, klen, &b->xtk)) {
        free(b);
        return 0;
    }
    if ((n = bg_request(b->req, sizeof(b->req), url, req, 1, flags)) < 0 ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) {
        xcf_reval_done(srv, &b->xtk);
        free(b);
        return 0;
    }
    b->len = (size_t)n;
    b->srv = srv;
    b->hash = h;
    b->io.fd = sv[0];
    b->io.cb = bg_on_io;
    b->io.data = b;
    b->timer.cb = bg_on_timer;
    b->timer.data = b;
    b->free_post.cb = bg_free;
    b->free_post.data = b;
    if (sl_loop_add_et(srv->loop, &b->io) < 0) {
        close(sv[0]);
        close(sv[1]);
        xcf_reval_done(srv, &b->xtk);
        free(b);
        return 0;
    }
    b->next = srv->bg;
    srv->bg = b;
    srv->nbg++;
    sl_timer_set(srv->loop, &b->timer, BG_TIMEOUT_MS);
    if (accept_internal(srv, sv[1], flags) < 0) {
        bg_close(b);
        return 0;
    }
    SL_DEBUG(0, "background revalidation of %s", url);
    return 1;
}

void sl_bgfetch_stop_all(struct sl_server *srv)
{
    while (srv->bg)
        bg_close(srv->bg);
}

/*
 * A fetch of our own with no client socket, headless from the start: the
 * request head req[0..len) goes through the pipeline as if sent from this
 * host (as client's fetch for to_localhost), and its response only fills
 * the cache (client_leave.c decides, as for a client that left, how long it is
 * worth going on). range_fetch: stored
 * only when the body is at most that big. 0 or -errno (-EAGAIN: too many
 * fetches without a client already).
 */
static int bg_start_clientless(struct sl_server *srv, const char *req, size_t len,
                               const union sl_sockaddr *client, uint64_t range_fetch,
                               int flags)
{
    struct sl_client *c;

    if (srv->nheadless >= SL_HEADLESS_MAX || srv->draining)
        return -EAGAIN;
    if ((c = cl_new(srv, -1)) == NULL)
        return -ENOMEM;
    if (cl_lend_in(c) < 0 ||
        sl_buf_reserve(&c->in, len, len + c->conf->limits.buffer_size) < 0) {
        cl_destroy(c);
        return -ENOMEM;
    }
    sl_buf_append(&c->in, req, len);
    /* It connects for client: to_localhost judges client's address, so
     * the fetch reaches no address the client itself may not. */
    c->peer = *client;
    snprintf(c->peer_str, sizeof(c->peer_str), "internal");
    c->internal = 1;
    c->headless = 1;            /* nobody to answer: it fills the cache */
    c->range_fetch = range_fetch;
    c->reverse = (flags & SL_BG_REVERSE) != 0;
    c->https = (flags & SL_BG_HTTPS) != 0;
    cl_link(c);
    c->wr = 1;
    cl_run(c);
    return 0;
}

int sl_bgfetch_whole(struct sl_server *srv, const char *url,
                     const struct sl_http_msg *req, const union sl_sockaddr *client,
                     uint64_t limit, int flags)
{
    char buf[BG_REQ_MAX];
    ssize_t n = bg_request(buf, sizeof(buf), url, req, 0, flags);

    if (n < 0 || bg_start_clientless(srv, buf, (size_t)n, client, limit, flags) < 0)
        return 0;
    srv->stats->range_fetches++;
    SL_DEBUG(0, "fetching all of %s for a range", url);
    return 1;
}
