/*
 * shared.c - memory the workers share, and the sums of their counters
 * (see shared.h).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>

#include "squidlike/apistats.h"
#include "squidlike/client.h"
#include "squidlike/conf.h"
#include "squidlike/health_shm.h"
#include "squidlike/quota_store.h"
#include "squidlike/shared.h"
#include "squidlike/client_xcf.h"
#include "squidlike/status.h"

/* sl_shared_sum adds struct sl_stats up as an array: counters only. */
_Static_assert(sizeof(struct sl_stats) % sizeof(unsigned long long) == 0,
               "struct sl_stats holds unsigned long long counters only");

void *sl_shm_map(size_t n)
{
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    return p == MAP_FAILED ? NULL : p;
}

void sl_shm_unmap(void *p, size_t n)
{
    if (p != NULL)
        munmap(p, n);
}

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct sl_shared *sl_shared_new(void)
{
    struct sl_shared *sh;

    /* The structure itself is shared too: nused and generation are read
     * by workers forked before a later reload raised them. */
    sh = sl_shm_map(sizeof(*sh));
    if (sh == NULL)
        return NULL;
    /* Untouched pages of a shared anonymous mapping take no memory: the
     * slots cost what the workers that ran have written. */
    sh->slots = sl_shm_map(SL_SHARED_SLOTS * sizeof(struct sl_wslot));
    sh->ring = sl_shm_map(sizeof(*sh->ring));
    sh->api = sl_api_shm_new(SL_SHARED_SLOTS);
    if (sh->slots == NULL || sh->ring == NULL || sh->api == NULL) {
        sl_shm_unmap(sh->slots, SL_SHARED_SLOTS * sizeof(struct sl_wslot));
        sl_shm_unmap(sh->ring, sizeof(*sh->ring));
        sl_api_shm_free(sh->api, SL_SHARED_SLOTS);
        sl_shm_unmap(sh, sizeof(*sh));
        return NULL;
    }
    if (getrandom(sh->ticket_secret, sizeof(sh->ticket_secret), 0) !=
        (ssize_t)sizeof(sh->ticket_secret)) {
        sl_shared_free(sh);
        return NULL;
    }
    sh->start_ms = mono_ms();
    sh->nworkers = 1;
    return sh;
}

void sl_shared_free(struct sl_shared *sh)
{
    if (sh == NULL)
        return;
    rl_shm_free(sh->ratelimit);
    sl_qstore_close(sh->quota, 1);  /* a clean stop: on the disk */
    if (sh->health != NULL)
        sl_hshm_free(sh->health);
    sl_shm_unmap(sh->slots, SL_SHARED_SLOTS * sizeof(struct sl_wslot));
    sl_shm_unmap(sh->ring, sizeof(*sh->ring));
    sl_api_shm_free(sh->api, SL_SHARED_SLOTS);
    sl_shm_unmap(sh, sizeof(*sh));
}

int sl_shared_prepare(struct sl_shared *sh, const struct sl_conf *conf,
                      char *err, size_t errlen)
{
    if (rl_shm_prepare(&sh->ratelimit, conf, err, errlen) < 0)
        return -1;
    if (sl_qstore_prepare(&sh->quota, conf, err, errlen) < 0)
        return -1;
    if (sh->health == NULL && (sh->health = sl_hshm_new()) == NULL) {
        snprintf(err, errlen, "cannot map shared memory for the health checks: %s",
                 strerror(errno));
        return -1;
    }
    if (xcf_prepare(sh, err, errlen) < 0)
        return -1;
    return 0;
}

int sl_shared_take(struct sl_shared *sh, unsigned index, unsigned gen)
{
    struct sl_wslot *s;
    size_t i;

    /* The slot this worker index had before, when free: its counters go
     * on where they were, and its row keeps its place. */
    for (i = 0; i < sh->nused; i++) {
        s = &sh->slots[i];
        if (s->state == SL_WSLOT_FREE && s->index == index)
            goto take;
    }
    for (i = 0; i < SL_SHARED_SLOTS; i++) {
        s = &sh->slots[i];
        if (s->state == SL_WSLOT_FREE && (i >= sh->nused || s->started == 0))
            goto take;
    }
    for (i = 0; i < sh->nused; i++) {
        s = &sh->slots[i];
        if (s->state == SL_WSLOT_FREE)
            goto take;
    }
    return -1;
take:
    if (i >= sh->nused)
        sh->nused = i + 1;
    s->state = SL_WSLOT_RUNNING;
    s->pid = 0;
    s->index = index;
    s->generation = gen;
    s->started = (int64_t)time(NULL);
    s->ready = 0;
    memset(&s->g, 0, sizeof(s->g));
    return (int)i;
}

unsigned sl_shared_ipconns(const struct sl_shared *sh, const struct sl_wslot *self,
                           const struct sl_ipcount *e)
{
    const struct sl_ipcounts *others[SL_SHARED_SLOTS];
    size_t i, n = 0;

    for (i = 0; i < sh->nused && i < SL_SHARED_SLOTS; i++) {
        const struct sl_wslot *s = &sh->slots[i];

        if (s != self && s->pid > 0 && s->state != SL_WSLOT_FREE)
            others[n++] = &s->ipc;
    }
    return sl_ipcount_total(e, others, n);
}

static void cats_merge(struct sl_metrics *m, const struct sl_metrics *s)
{
    char name[SL_METRICS_CAT_LEN];
    size_t i, j, n = s->ncats < SL_METRICS_NCATS ? s->ncats : SL_METRICS_NCATS;

    m->cat_other += s->cat_other;
    for (i = 0; i < n; i++) {
        memcpy(name, s->cats[i].name, sizeof(name));
        name[sizeof(name) - 1] = '\0';
        for (j = 0; j < m->ncats; j++)
            if (strcmp(m->cats[j].name, name) == 0)
                break;
        if (j == m->ncats) {
            if (m->ncats == SL_METRICS_NCATS) {
                m->cat_other += s->cats[i].n;
                continue;
            }
            memcpy(m->cats[j].name, name, sizeof(name));
            m->cats[j].n = 0;
            m->ncats++;
        }
        m->cats[j].n += s->cats[i].n;
    }
}

static void hist_add(struct sl_hist *d, const struct sl_hist *s)
{
    size_t i;

    for (i = 0; i < sizeof(d->b) / sizeof(d->b[0]); i++)
        d->b[i] += s->b[i];
    d->count += s->count;
    d->sum_us += s->sum_us;
}

void sl_shared_sum(const struct sl_shared *sh, struct sl_stats *st, struct sl_metrics *m)
{
    size_t i, j, k, n = sh->nused;

    memset(st, 0, sizeof(*st));
    memset(m, 0, sizeof(*m));
    m->start_ms = sh->start_ms;
    for (i = 0; i < n && i < SL_SHARED_SLOTS; i++) {
        const struct sl_wslot *s = &sh->slots[i];
        const unsigned long long *a = (const unsigned long long *)&s->stats;
        unsigned long long *d = (unsigned long long *)st;

        if (s->started == 0)
            continue;           /* never used */
        for (j = 0; j < sizeof(*st) / sizeof(*d); j++)
            d[j] += a[j];
        for (j = 0; j < SL_METRICS_NCODES; j++)
            for (k = 0; k < 2 * SL_METRICS_NMETHODS; k++)
                m->requests[j][k / SL_METRICS_NMETHODS][k % SL_METRICS_NMETHODS] +=
                    s->metrics.requests[j][k / SL_METRICS_NMETHODS][k % SL_METRICS_NMETHODS];
        for (j = 0; j < SL_METRICS_NKINDS; j++) {
            hist_add(&m->svc[j], &s->metrics.svc[j]);
            m->bytes[j] += s->metrics.bytes[j];
        }
        cats_merge(m, &s->metrics);
        sl_top_merge(&m->top_requests, &s->metrics.top_requests);
        sl_top_merge(&m->top_bytes, &s->metrics.top_bytes);
        sl_top_merge(&m->top_users, &s->metrics.top_users);
        sl_top_merge(&m->top_user_bytes, &s->metrics.top_user_bytes);
    }
}

void sl_shared_api_sum(const struct sl_shared *sh, struct sl_api_sum *s)
{
    size_t i;

    sl_api_sum_clear(s);
    for (i = 0; i < sh->nused && i < SL_SHARED_SLOTS; i++)
        if (sh->slots[i].started != 0)
            sl_api_sum_add(s, &sh->api[i]);
}
