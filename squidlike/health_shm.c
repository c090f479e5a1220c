/*
 * health_shm.c - the checks' verdicts shared by the workers (see
 * health_shm.h).
 */
#include "config.h"

#include <string.h>

#include "squidlike/hash.h"
#include "squidlike/health_shm.h"
#include "squidlike/log.h"
#include "squidlike/shared.h"
#include "squidlike/shmlock.h"

/* No pointer inside: shared memory (shared.h). */
struct hshm_entry {
    uint64_t key;               /* 0: free */
    uint64_t seq;               /* writes so far: readers copy when it moved */
    int64_t written_ms;         /* loop time of the last write (or the take) */
    struct sl_backend_health h;
};

struct sl_hshm {
    pthread_mutex_t mu;
    struct hshm_entry e[SL_HSHM_ENTRIES];
};

struct sl_hshm *sl_hshm_new(void)
{
    struct sl_hshm *t = sl_shm_map(sizeof(*t));

    if (t == NULL)
        return NULL;
    if (sl_shmlock_init(&t->mu) < 0) {
        sl_shm_unmap(t, sizeof(*t));
        return NULL;
    }
    return t;
}

void sl_hshm_free(struct sl_hshm *t)
{
    sl_shm_unmap(t, sizeof(*t));
}

uint64_t sl_hshm_key(const char *pool, const char *backend)
{
    uint64_t h = SL_FNV64_INIT;

    for (; *pool; pool++)
        h = sl_fnv64_step(h, (unsigned char)*pool);
    h = sl_fnv64_step(h, 0);
    for (; *backend; backend++)
        h = sl_fnv64_step(h, (unsigned char)*backend);
    h ^= h >> 29;               /* the slot comes from the low bits */
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 32;
    return h | 1;
}

static int lock(struct sl_hshm *t)
{
    int rc = sl_shmlock_lock(&t->mu);

    if (rc == 1)
        SL_LOG(SL_LOG_WARN, 0, 0, "health checks: a worker died holding the shared "
               "table's lock: recovered");
    return rc < 0 ? -1 : 0;
}

int sl_hshm_find(struct sl_hshm *t, uint64_t key, int64_t now_ms)
{
    struct hshm_entry *free_e = NULL, *stale = NULL, *e;
    size_t i, at = (size_t)key % SL_HSHM_ENTRIES;
    int r = -1;

    if (lock(t) < 0)
        return -1;
    for (i = 0; i < SL_HSHM_PROBES; i++) {
        e = &t->e[(at + i) % SL_HSHM_ENTRIES];
        if (e->key == key) {
            r = (int)(e - t->e);
            goto out;
        }
        if (e->key == 0) {
            if (free_e == NULL)
                free_e = e;
        } else if (now_ms - e->written_ms > SL_HSHM_STALE_MS &&
                   (stale == NULL || e->written_ms < stale->written_ms)) {
            stale = e;
        }
    }
    if ((e = free_e ? free_e : stale) != NULL) {
        memset(e, 0, sizeof(*e));
        e->key = key;
        e->written_ms = now_ms;
        r = (int)(e - t->e);
    }
out:
    sl_shmlock_unlock(&t->mu);
    return r;
}

void sl_hshm_put(struct sl_hshm *t, int i, const struct sl_backend_health *h,
                 int64_t now_ms)
{
    struct hshm_entry *e;

    if (i < 0 || i >= SL_HSHM_ENTRIES || lock(t) < 0)
        return;
    e = &t->e[i];
    e->h = *h;
    e->written_ms = now_ms;
    __atomic_store_n(&e->seq, e->seq + 1, __ATOMIC_RELEASE);
    sl_shmlock_unlock(&t->mu);
}

int sl_hshm_get(struct sl_hshm *t, int i, uint64_t *seq, struct sl_backend_health *h)
{
    struct hshm_entry *e;
    int r = 0;

    if (i < 0 || i >= SL_HSHM_ENTRIES)
        return 0;
    e = &t->e[i];
    /* A glance without the lock first: most polls find nothing new. */
    if (__atomic_load_n(&e->seq, __ATOMIC_ACQUIRE) == *seq || lock(t) < 0)
        return 0;
    if (e->seq != *seq) {
        *h = e->h;
        *seq = e->seq;
        r = 1;
    }
    sl_shmlock_unlock(&t->mu);
    return r;
}
