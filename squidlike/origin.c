/*
 * origin.c - origin connections and the idle pool (see origin.h).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "squidlike/hash.h"
#include "squidlike/log.h"
#include "squidlike/origin.h"
#include "squidlike/tls.h"

#define POOL_BUCKETS 1024       /* power of two */

struct sl_pool {
    struct sl_loop *loop;
    struct sl_origin *buckets[POOL_BUCKETS];
    struct sl_origin lru;       /* sentinel: lru.lnext = most recent */
    size_t nidle;
    uint64_t next_id;
};

struct sl_pool *sl_pool_new(struct sl_loop *loop)
{
    struct sl_pool *pool = calloc(1, sizeof(*pool));

    if (pool == NULL)
        return NULL;
    pool->loop = loop;
    pool->lru.lnext = pool->lru.lprev = &pool->lru;
    return pool;
}

static void idle_unlink(struct sl_origin *o)
{
    struct sl_pool *pool = o->pool;

    if (!o->idle)
        return;
    if (o->hprev)
        o->hprev->hnext = o->hnext;
    else
        pool->buckets[o->hash & (POOL_BUCKETS - 1)] = o->hnext;
    if (o->hnext)
        o->hnext->hprev = o->hprev;
    o->lprev->lnext = o->lnext;
    o->lnext->lprev = o->lprev;
    o->hnext = o->hprev = o->lnext = o->lprev = NULL;
    o->idle = 0;
    pool->nidle--;
    sl_timer_stop(pool->loop, &o->timer);
}

static void origin_free(struct sl_post *p)
{
    struct sl_origin *o = p->data;

    sl_buf_free(&o->in);
    free(o);
}

void sl_origin_close(struct sl_origin *o)
{
    int fd;

    idle_unlink(o);
    sl_timer_stop(o->pool->loop, &o->timer);
    if (o->ssl != NULL) {
        if (o->tls_ready)
            sl_tls_shutdown(o->ssl);    /* close_notify, best effort */
        SSL_free(o->ssl);
        o->ssl = NULL;
    }
    fd = sl_loop_del(o->pool->loop, &o->io);
    if (fd >= 0)
        close(fd);
    o->owner_cb = NULL;
    o->owner = NULL;
    sl_loop_post(o->pool->loop, &o->free_post);
}

static void origin_on_io(struct sl_io *io, unsigned ev)
{
    struct sl_origin *o = io->data;

    if (ev & SL_IO_READ)
        o->rd = 1;
    if (ev & SL_IO_WRITE)
        o->wr = 1;
    if (ev & (SL_IO_HUP | SL_IO_ERR))
        o->hup = 1;
    if (o->owner_cb) {
        o->owner_cb(o);
        return;
    }
    /* Idle: the origin closed it or sent something nobody asked for.
     * Either way it cannot carry another request. */
    if (o->rd || o->hup)
        sl_origin_close(o);
}

static void origin_on_idle_timeout(struct sl_timer *t)
{
    sl_origin_close(t->data);
}

struct sl_origin *sl_origin_connect(struct sl_pool *pool,
                                    const union sl_sockaddr *addr,
                                    const char *key, size_t bufsize,
                                    sl_origin_cb cb, void *owner, int *err)
{
    struct sl_origin *o = calloc(1, sizeof(*o));
    int fd, rc;

    if (o == NULL || sl_buf_init(&o->in, bufsize) < 0) {
        free(o);
        *err = -ENOMEM;
        return NULL;
    }
    fd = sl_net_connect(&addr->sa, sl_net_salen(&addr->sa));
    if (fd < 0) {
        *err = fd;
        goto fail;
    }
    o->io.fd = fd;
    o->io.cb = origin_on_io;
    o->io.data = o;
    if ((rc = sl_loop_add_et(pool->loop, &o->io)) < 0) {
        close(fd);
        *err = rc;
        goto fail;
    }
    o->pool = pool;
    o->owner_cb = cb;
    o->owner = owner;
    o->peer = *addr;
    sl_net_ntop(&addr->sa, o->peer_str, sizeof(o->peer_str));
    snprintf(o->key, sizeof(o->key), "%s", key);
    o->hash = sl_fnv32_str(o->key);
    o->id = ++pool->next_id;
    o->timer.cb = origin_on_idle_timeout;
    o->timer.data = o;
    o->free_post.cb = origin_free;
    o->free_post.data = o;
    return o;
fail:
    sl_buf_free(&o->in);
    free(o);
    return NULL;
}

struct sl_origin *sl_origin_take(struct sl_pool *pool, const char *key,
                                 sl_origin_cb cb, void *owner)
{
    uint32_t h = sl_fnv32_str(key);
    struct sl_origin *o;

    for (o = pool->buckets[h & (POOL_BUCKETS - 1)]; o; o = o->hnext) {
        if (o->hash == h && strcmp(o->key, key) == 0) {
            idle_unlink(o);
            o->owner_cb = cb;
            o->owner = owner;
            return o;
        }
    }
    return NULL;
}

static size_t key_count(struct sl_pool *pool, const struct sl_origin *o)
{
    struct sl_origin *p = pool->buckets[o->hash & (POOL_BUCKETS - 1)];
    size_t n = 0;

    for (; p; p = p->hnext)
        if (p->hash == o->hash && strcmp(p->key, o->key) == 0)
            n++;
    return n;
}

void sl_origin_release(struct sl_origin *o, int reusable, int64_t idle_ms,
                       size_t max_idle, size_t max_per_host)
{
    struct sl_pool *pool = o->pool;
    size_t b = o->hash & (POOL_BUCKETS - 1);

    o->owner_cb = NULL;
    o->owner = NULL;
    if (reusable && !o->hup && o->rd) {
        /* Not known to be drained: something (EOF, junk) may wait. */
        char c;
        ssize_t n = recv(o->io.fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
        if (!(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)))
            reusable = 0;
    }
    if (!reusable || o->hup || o->io.fd < 0 || max_idle == 0 ||
        key_count(pool, o) >= max_per_host) {
        sl_origin_close(o);
        return;
    }
    /* Over the total: the least recently used idle connection goes. */
    while (pool->nidle >= max_idle && pool->lru.lprev != &pool->lru)
        sl_origin_close(pool->lru.lprev);
    sl_buf_reset(&o->in);
    o->rd = 0;                  /* a later event says if anything arrives */
    o->hnext = pool->buckets[b];
    o->hprev = NULL;
    if (o->hnext)
        o->hnext->hprev = o;
    pool->buckets[b] = o;
    o->lnext = pool->lru.lnext;
    o->lprev = &pool->lru;
    pool->lru.lnext->lprev = o;
    pool->lru.lnext = o;
    o->idle = 1;
    pool->nidle++;
    sl_timer_set(pool->loop, &o->timer, idle_ms);
}

void sl_pool_close_idle(struct sl_pool *pool)
{
    while (pool->lru.lprev != &pool->lru)
        sl_origin_close(pool->lru.lprev);
}

size_t sl_pool_idle_count(const struct sl_pool *pool)
{
    return pool->nidle;
}

void sl_pool_free(struct sl_pool *pool)
{
    if (pool == NULL)
        return;
    sl_pool_close_idle(pool);
    free(pool);
}
