/*
 * bufpool.h - the blocks a connection borrows only while data moves
 * through it (its input buffer, its output buffer, its header arrays),
 * and a short free list of each so that lending them per request costs
 * two pointer moves instead of a trip through malloc.
 *
 * A connection that waits (a new one that has sent nothing yet, a
 * keep-alive one between requests) holds none of them: 10,000 idle
 * clients cost their struct each, not 16 KiB of empty buffer each.
 * The lists are short (SL_BUFPOOL_KEEP blocks of each kind), so what a
 * spike of connections leaves here is bounded; sl_bufpool_trim empties
 * them when the server gives memory back.
 *
 * One pool per server (per process: there is no lock). The struct is
 * public because struct sl_server embeds it.
 */
#ifndef SL_BUFPOOL_H
#define SL_BUFPOOL_H

#include <errno.h>
#include <stddef.h>

#include "squidlike/buf.h"

enum sl_bufpool_kind {
    SL_BUFPOOL_IN,      /* a client's input: limits.buffer_size */
    SL_BUFPOOL_OUT,     /* a client's output: heads, our own pages */
    SL_BUFPOOL_HDRS,    /* the header arrays of a request and a stored head */
    SL_BUFPOOL_META,    /* a transaction's fields for the log (client.c) */
    SL_BUFPOOL_NKINDS
};

/* Free blocks kept per kind, at most. */
#define SL_BUFPOOL_KEEP 32

struct sl_bufpool_list {
    void *head;         /* free blocks, each linked through its first bytes */
    size_t size;        /* of every block in the list; 0: none yet */
    size_t n;
};

struct sl_bufpool {
    struct sl_bufpool_list l[SL_BUFPOOL_NKINDS];
};

/* A block of size bytes: a kept one, or a new one. Asking for another
 * size than last time (a reload changed it) forgets the kept blocks of
 * the old size. NULL when out of memory. */
void *sl_bufpool_get(struct sl_bufpool *p, enum sl_bufpool_kind k, size_t size);
/* Give back a block of size bytes got from sl_bufpool_get or malloc:
 * kept when it has the size last asked for and the list has room,
 * freed otherwise. NULL is a no-op. */
void sl_bufpool_put(struct sl_bufpool *p, enum sl_bufpool_kind k, void *b, size_t size);

/* An empty b of size bytes from the pool. 0 or -ENOMEM. */
static inline int sl_bufpool_buf(struct sl_bufpool *p, enum sl_bufpool_kind k,
                                 struct sl_buf *b, size_t size)
{
    char *m = (char *)sl_bufpool_get(p, k, size);

    if (m == NULL)
        return -ENOMEM;
    b->start = b->pos = b->last = m;
    b->end = m + size;
    return 0;
}

/* Give b's memory back (whatever it holds) and leave b empty (start NULL). */
static inline void sl_bufpool_unbuf(struct sl_bufpool *p, enum sl_bufpool_kind k,
                                    struct sl_buf *b)
{
    if (b->start == NULL)
        return;
    sl_bufpool_put(p, k, b->start, sl_buf_size(b));
    b->start = b->end = b->pos = b->last = NULL;
}

/* Free the kept blocks beyond keep per kind. Returns the bytes freed. */
size_t sl_bufpool_trim(struct sl_bufpool *p, size_t keep);

/* Blocks and bytes kept now (for the status page). */
size_t sl_bufpool_bytes(const struct sl_bufpool *p);

#endif
