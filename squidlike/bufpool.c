/*
 * bufpool.c - free lists of connection buffers (see bufpool.h).
 *
 * Under AddressSanitizer a kept block is poisoned while it sits in its
 * list, so a connection that still wrote into a buffer it gave back is
 * reported as a use after free, as it would be without the pool.
 */
#include "config.h"

#include <stdlib.h>

#include "squidlike/bufpool.h"

#if defined(__SANITIZE_ADDRESS__)
#define BP_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BP_ASAN 1
#endif
#endif

#ifdef BP_ASAN
#include <sanitizer/asan_interface.h>
#define BP_POISON(b, n) ASAN_POISON_MEMORY_REGION(b, n)
#define BP_UNPOISON(b, n) ASAN_UNPOISON_MEMORY_REGION(b, n)
#else
#define BP_POISON(b, n) ((void)(b), (void)(n))
#define BP_UNPOISON(b, n) ((void)(b), (void)(n))
#endif

/* Take the first kept block off l (it must hold one). */
static inline void *bp_pop(struct sl_bufpool_list *l)
{
    void *b = l->head;

    BP_UNPOISON(b, l->size);
    l->head = *(void **)b;
    l->n--;
    return b;
}

/* Free every kept block of l beyond keep; returns the bytes freed. */
static size_t bp_drop(struct sl_bufpool_list *l, size_t keep)
{
    size_t freed = 0;

    while (l->n > keep) {
        free(bp_pop(l));
        freed += l->size;
    }
    return freed;
}

void *sl_bufpool_get(struct sl_bufpool *p, enum sl_bufpool_kind k, size_t size)
{
    struct sl_bufpool_list *l = &p->l[k];

    if (l->n > 0 && l->size == size)
        return bp_pop(l);       /* the hot path: the block just given back */
    if (size < sizeof(void *))
        return malloc(size);    /* no room for the link: never kept */
    if (size != l->size) {
        /* The first block of this kind, or its size changed with a
         * reload: blocks of the old size would never be asked for. */
        bp_drop(l, 0);
        l->size = size;
    }
    return malloc(size);
}

void sl_bufpool_put(struct sl_bufpool *p, enum sl_bufpool_kind k, void *b, size_t size)
{
    struct sl_bufpool_list *l = &p->l[k];

    if (b == NULL)
        return;
    /* A block that grew past the size asked for (a big head), one made
     * elsewhere at another size, or one too many: not kept. */
    if (size != l->size || l->n >= SL_BUFPOOL_KEEP) {
        free(b);
        return;
    }
    *(void **)b = l->head;
    l->head = b;
    l->n++;
    BP_POISON(b, size);
}

size_t sl_bufpool_trim(struct sl_bufpool *p, size_t keep)
{
    size_t i, freed = 0;

    for (i = 0; i < SL_BUFPOOL_NKINDS; i++)
        freed += bp_drop(&p->l[i], keep);
    return freed;
}

size_t sl_bufpool_bytes(const struct sl_bufpool *p)
{
    size_t i, n = 0;

    for (i = 0; i < SL_BUFPOOL_NKINDS; i++)
        n += p->l[i].n * p->l[i].size;
    return n;
}
