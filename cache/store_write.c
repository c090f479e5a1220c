/*
 * store_write.c - the writer API of the store: a writer takes a body in
 * pieces, into chunks that the next commit (cache_store_flush, store.c)
 * puts in; readers collapsed on it peek at what is not committed yet.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "cache/store_int.h"

/* --- writer API --------------------------------------------------------- */

/* A writer for key, on the store's list; no questions asked. */
struct cache_writer *store_writer_new(struct cache_store *st, const char *key,
                                      size_t klen, const void *extra,
                                      size_t extra_len, const char *head,
                                      size_t head_len, uint32_t flags)
{
    struct cache_writer *w;

    if (klen > UINT32_MAX || extra_len > UINT32_MAX || head_len > UINT32_MAX)
        return NULL;
    w = calloc(1, sizeof(*w));
    if (w == NULL)
        return NULL;
    w->prefix_len = klen + extra_len + head_len;
    w->prefix = malloc(w->prefix_len ? w->prefix_len : 1);
    if (w->prefix == NULL || getrandom(&w->hdr.id, sizeof(w->hdr.id), 0) !=
                                 (ssize_t)sizeof(w->hdr.id)) {
        free(w->prefix);
        free(w);
        return NULL;
    }
    memcpy(w->prefix, key, klen);
    if (extra_len)              /* a marker has no extra: NULL, 0 */
        memcpy(w->prefix + klen, extra, extra_len);
    if (head_len)
        memcpy(w->prefix + klen + extra_len, head, head_len);
    w->st = st;
    store_key_hash(key, klen, w->kh);
    w->hdr.magic = REC_MAGIC;
    w->hdr.flags = flags & CACHE_OBJ_MARKER;
    w->hdr.key_len = (uint32_t)klen;
    w->hdr.extra_len = (uint32_t)extra_len;
    w->hdr.head_len = (uint32_t)head_len;
    w->full_tail = &w->full;
    w->state = W_OPEN;
    w->next = st->writers;
    st->writers = w;
    return w;
}

struct cache_writer *cache_store_write_begin(struct cache_store *st,
                                             const char *key, size_t klen,
                                             const void *extra, size_t extra_len,
                                             const char *head, size_t head_len,
                                             int64_t expected, uint32_t flags)
{
    if (expected > 0 && (uint64_t)expected > st->conf.max_object)
        return NULL;
    if (st->pause.err != 0) {
        st->stats.skipped++;
        return NULL;
    }
    return store_writer_new(st, key, klen, extra, extra_len, head, head_len, flags);
}

int cache_store_write(struct cache_writer *w, const void *p, size_t n)
{
    const char *s = p;

    if (w->state != W_OPEN)
        return -EIO;
    if ((uint64_t)w->hdr.body_size + n > w->st->conf.max_object) {
        w->state = W_ABORTED;
        return -EFBIG;
    }
    while (n > 0) {
        size_t k;
        if (w->cur == NULL) {
            w->cur = malloc(sizeof(*w->cur) + CHUNK_SIZE);
            if (w->cur == NULL) {
                w->state = W_ABORTED;
                return -ENOMEM;
            }
            w->cur->next = NULL;
            w->cur->idx = w->next_idx;
            w->cur->len = 0;
        }
        k = CHUNK_SIZE - w->cur->len;
        if (k > n)
            k = n;
        memcpy(w->cur->data + w->cur->len, s, k);
        w->cur->len += k;
        w->hdr.body_size += (int64_t)k;
        s += k;
        n -= k;
        if (w->cur->len == CHUNK_SIZE) {
            *w->full_tail = w->cur;
            w->full_tail = &w->cur->next;
            w->cur = NULL;
            w->next_idx++;
        }
    }
    return 0;
}

void cache_store_write_end(struct cache_writer *w)
{
    if (w->state == W_OPEN)
        w->state = W_ENDED;
    w->released = 1;
}

void cache_store_write_abort(struct cache_writer *w)
{
    w->state = W_ABORTED;
    w->released = 1;
}

uint64_t cache_writer_id(const struct cache_writer *w)
{
    return w->hdr.id;
}

int cache_writer_peek(const struct cache_writer *w, int64_t off,
                      const void **p, size_t *len)
{
    uint32_t idx = (uint32_t)(off / CHUNK_SIZE);
    size_t in = (size_t)(off % CHUNK_SIZE);
    const struct pchunk *c;

    if (off >= w->hdr.body_size)
        return -EAGAIN;
    if (idx < w->committed)
        return -ENOENT;
    for (c = w->full; c && c->idx != idx; c = c->next)
        ;
    if (c == NULL && w->cur && w->cur->idx == idx)
        c = w->cur;
    if (c == NULL || in >= c->len)
        return -ENOENT;
    *p = c->data + in;
    *len = c->len - in;
    return 0;
}

