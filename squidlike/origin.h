/*
 * origin.h - connections to origin servers and the idle keep-alive pool.
 *
 * An origin connection has one owner at a time: a client transaction (which
 * gets every socket event through owner_cb) or the pool. Idle connections
 * are kept per "host:port" key, most recently used first, bounded in total
 * and per key, and closed after pool_idle or as soon as the origin closes
 * them or sends anything unasked.
 */
#ifndef SL_ORIGIN_H
#define SL_ORIGIN_H

#include <stddef.h>
#include <stdint.h>

#include "squidlike/buf.h"
#include "squidlike/dns.h"
#include "squidlike/http.h"
#include "squidlike/loop.h"
#include "squidlike/net.h"

struct sl_pool;
struct sl_origin;

typedef void (*sl_origin_cb)(struct sl_origin *o);

#define SL_ORIGIN_KEY_MAX (SL_HTTP_HOST_MAX + 8)

struct sl_origin {
    struct sl_io io;
    struct sl_pool *pool;
    sl_origin_cb owner_cb;      /* NULL while idle in the pool */
    void *owner;
    struct sl_buf in;           /* bytes from the origin */
    union sl_sockaddr peer;
    char peer_str[SL_NET_ADDRSTR];
    char key[SL_ORIGIN_KEY_MAX];
    uint32_t hash;
    uint64_t id;
    unsigned nreq;              /* requests sent on this connection */
    unsigned char rd, wr, hup;  /* edge-triggered readiness */
    unsigned char tls_ready;    /* ssl's handshake is done */
    struct ssl_st *ssl;         /* TLS to a backend (tls.h), or NULL */
    struct sl_timer timer;      /* idle timeout while pooled */
    struct sl_post free_post;
    struct sl_origin *hnext, *hprev;    /* pool bucket, idle only */
    struct sl_origin *lnext, *lprev;    /* pool LRU, idle only */
    int idle;
};

struct sl_pool *sl_pool_new(struct sl_loop *loop);
/* Closes every idle connection; connections with owners must be gone. */
void sl_pool_free(struct sl_pool *pool);
/* Close every idle connection (shutdown). */
void sl_pool_close_idle(struct sl_pool *pool);
size_t sl_pool_idle_count(const struct sl_pool *pool);

/*
 * Start connecting to addr for key. The new connection belongs to the
 * owner (cb gets every event). Returns NULL with *err = -errno.
 */
struct sl_origin *sl_origin_connect(struct sl_pool *pool,
                                    const union sl_sockaddr *addr,
                                    const char *key, size_t bufsize,
                                    sl_origin_cb cb, void *owner, int *err);

/* Take the most recently pooled idle connection for key, or NULL. */
struct sl_origin *sl_origin_take(struct sl_pool *pool, const char *key,
                                 sl_origin_cb cb, void *owner);

/*
 * Give a connection back: to the pool when reusable and within the limits
 * (max_idle total, max_per_host for its key), else it is closed. The caller
 * must not touch o afterwards.
 */
void sl_origin_release(struct sl_origin *o, int reusable, int64_t idle_ms,
                       size_t max_idle, size_t max_per_host);

/* Close now (memory goes after the current event batch). */
void sl_origin_close(struct sl_origin *o);

#endif
