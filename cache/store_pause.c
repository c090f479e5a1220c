/*
 * store_pause.c - what the store does when the disk fails it: the errno a
 * failed commit really had, the reason it is counted under, and the pause
 * that follows (see store.h).
 *
 *   storing --a commit fails--> paused: new writers refused, delay d
 *   paused --d elapsed: the probe, a chunk of the store's own, commits--> storing
 *   paused --the probe fails too--> paused, d doubled (up to pause_max_ms)
 *
 * The probe is a writer like any other (registered in "inflight", so a
 * crash cannot leak it; removed at the flush after it went in): whether a
 * chunk's worth of pages can be written is what a paused store needs to
 * know, and no client's response is risked to learn it. A failure soon
 * after a resume doubles the last delay instead of starting again at the
 * minimum, so that a disk that is just barely not full cannot make the
 * store flap every 2 s.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cache/store_int.h"

/* A short write with less than this available on the filesystem: full. */
#define FULL_AVAIL (1 << 20)

const char *const cache_store_fail_name[CACHE_FAIL_N] = {
    "no_space", "map_full", "io", "other"
};

/*
 * The -errno of a failed write transaction whose LMDB code is rc, with
 * fs_avail bytes available on the filesystem (-1: not known). A pwrite
 * that writes nothing gives its own errno (ENOSPC), which LMDB passes on;
 * but a short one - part of a run of pages written, then the filesystem
 * was full - LMDB reports as a bare EIO (mdb_page_flush: "short write,
 * filesystem full?"). On a local filesystem a regular file's write is
 * short for no other reason, so an EIO with the filesystem (next to) full
 * is ENOSPC; with room left it stays EIO.
 */
int store_write_err(int rc, int64_t fs_avail)
{
    if (rc == EIO && fs_avail >= 0 && fs_avail < FULL_AVAIL)
        return -ENOSPC;
    return store_map_err(rc);
}

/* The CACHE_FAIL_* of a failed commit's -errno; map_full: LMDB said so. */
int store_fail_reason(int err, int map_full)
{
    if (map_full)
        return CACHE_FAIL_MAP_FULL;
    switch (-err) {
    case ENOSPC:
    case EDQUOT:
        return CACHE_FAIL_NO_SPACE;
    case EIO:
    case EROFS:
        return CACHE_FAIL_IO;
    default:
        return CACHE_FAIL_OTHER;
    }
}

/* A commit failed with err (its batch is dropped already): pause, or
 * pause longer when it was the probe that failed. */
void store_pause_failed(struct cache_store *st, int err, int why)
{
    struct store_pause *p = &st->pause;
    int64_t now = store_mono_ms(), max = st->conf.pause_max_ms;

    st->stats.write_errors++;
    st->stats.write_errors_by[why]++;
    if (p->err == 0 || p->probe != NULL) {
        if (p->err != 0)
            p->delay_ms *= 2;   /* the probe failed */
        else if (p->resumed_at != 0 && p->delay_ms != 0 && now - p->resumed_at < max)
            p->delay_ms *= 2;   /* paused again soon after resuming */
        else
            p->delay_ms = st->conf.pause_min_ms;
        if (p->delay_ms > max)
            p->delay_ms = max;
        p->retry_at = now + p->delay_ms;
    }
    /* Else a delete or an update failed while paused: the probe keeps its
     * time (steady 304s must not put it off for ever). */
    p->err = err;
    p->why = why;
    p->probe = NULL;            /* dropped with the batch */
    /* A fresh sample of the free space for the status pages, now. */
    if (st->syncer_running) {
        pthread_mutex_lock(&st->lock);
        pthread_cond_signal(&st->cond);
        pthread_mutex_unlock(&st->lock);
    }
}

/* The probe's chunk went in: storing resumes. */
void store_pause_resumed(struct cache_store *st)
{
    struct store_pause *p = &st->pause;

    /* Its chunk goes at the next flush, as an aborted writer's do. */
    p->probe->state = W_ABORTED;
    p->probe = NULL;
    p->err = 0;
    p->resumed_at = store_mono_ms();
}

/* At each flush: when paused and the delay is over, add the probe to the
 * batch (one chunk of zeros, built here: max_object may be smaller). */
void store_pause_tick(struct cache_store *st)
{
    static const char key[] = "\nprobe of a paused store";
    struct store_pause *p = &st->pause;
    struct cache_writer *w;
    struct pchunk *c;

    if (p->err == 0 || p->probe != NULL || st->closing || store_mono_ms() < p->retry_at)
        return;
    w = store_writer_new(st, key, sizeof(key) - 1, NULL, 0, NULL, 0, 0);
    if (w == NULL)
        return;                 /* out of memory: the next flush tries */
    w->released = 1;            /* the store's own */
    c = malloc(sizeof(*c) + CHUNK_SIZE);
    if (c == NULL) {
        w->state = W_ABORTED;
        return;
    }
    memset(c->data, 0, CHUNK_SIZE);
    c->next = NULL;
    c->idx = 0;
    c->len = CHUNK_SIZE;
    *w->full_tail = c;
    w->full_tail = &c->next;
    w->next_idx = 1;
    w->hdr.body_size = CHUNK_SIZE;
    p->probe = w;
}

int cache_store_paused(const struct cache_store *st, int *why)
{
    if (why)
        *why = st->pause.why;
    return st->pause.err;
}

void store_pause_stats(const struct cache_store *st, struct cache_store_stats *s)
{
    int64_t left = st->pause.retry_at - store_mono_ms();

    s->paused = st->pause.err;
    s->paused_why = st->pause.err ? st->pause.why : 0;
    s->retry_ms = st->pause.err == 0 ? 0 : left > 0 ? left : 0;
}
