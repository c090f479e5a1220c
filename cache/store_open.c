/*
 * store_open.c - opening the LMDB store: directories, the environment and
 * its databases, recovery of chunks left by writers that died, moving a
 * damaged store aside, the background syncer thread (it also samples the
 * filesystem's free space), and closing.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "cache/store_int.h"

/* --- opening, recovery, syncing --------------------------------------- */

/* The filesystem of the store's directory, for the status pages: a
 * statvfs may wait on the disk, so the syncer thread takes it. */
static void sample_fs(struct cache_store *st)
{
    struct statvfs sv;
    int64_t size = -1, avail = -1;

    if (statvfs(st->dir, &sv) == 0) {
        size = (int64_t)sv.f_blocks * (int64_t)sv.f_frsize;
        avail = (int64_t)sv.f_bavail * (int64_t)sv.f_frsize;
    }
    pthread_mutex_lock(&st->lock);
    st->fs_size = size;
    st->fs_avail = avail;
    pthread_mutex_unlock(&st->lock);
}

/* Every sync_interval, or at once when signalled (a commit failed). */
static void *syncer_main(void *arg)
{
    struct cache_store *st = arg;
    struct timespec ts;

    pthread_mutex_lock(&st->lock);
    while (!st->stopping) {
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += st->conf.sync_interval;
        pthread_cond_timedwait(&st->cond, &st->lock, &ts);
        if (st->stopping)
            break;
        pthread_mutex_unlock(&st->lock);
        /* The fsync happens here, never in the event loop. */
        mdb_env_sync(st->env, 1);
        sample_fs(st);
        pthread_mutex_lock(&st->lock);
    }
    pthread_mutex_unlock(&st->lock);
    return NULL;
}

/*
 * Remove chunks of objects whose writer died (its pid is gone). At open
 * (late = 0) an entry with our own pid is a former process's - pids come
 * back, in a container the daemon may always be pid 1; later (late = 1:
 * the recovery was put off, the disk was full at open) it is one of our
 * writers at work. Writes only when there is something to remove, so that
 * a clean store opens on a full disk. Returns 0 or an LMDB code.
 */
int store_recover(struct cache_store *st, int late)
{
    struct wtx x;
    MDB_cursor *cur;
    MDB_val k, v;
    int rc, op = MDB_FIRST, changed = 0;

    if ((rc = mdb_txn_begin(st->env, NULL, 0, &x.txn)) != 0)
        return rc;
    x.bytes = store_info_get(st, x.txn, "bytes");
    x.objects = store_info_get(st, x.txn, "objects");
    st->stats.bytes = x.bytes;
    st->stats.objects = x.objects;
    if ((rc = mdb_cursor_open(x.txn, st->inflight, &cur)) != 0)
        goto fail;
    while ((rc = mdb_cursor_get(cur, &k, &v, op)) == 0) {
        uint64_t id, pid;
        op = MDB_NEXT;
        changed = 1;
        if (k.mv_size != 8 || v.mv_size < 8) {
            if ((rc = mdb_cursor_del(cur, 0)) != 0)
                break;
            continue;
        }
        id = store_rd_be64(k.mv_data);
        pid = store_rd_be64(v.mv_data);
        if ((pid != (uint64_t)getpid() || late) && kill((pid_t)pid, 0) == 0)
            continue;           /* a live process is still writing it */
        /* At most max_object / CHUNK_SIZE chunks, plus one. */
        if ((rc = store_chunks_del(st, x.txn, &x, id,
                             st->conf.max_object / CHUNK_SIZE + 2)) != 0 ||
            (rc = mdb_cursor_del(cur, 0)) != 0)
            break;
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND)
        goto fail;
    if (!changed) {
        mdb_txn_abort(x.txn);
        return 0;
    }
    if ((rc = store_info_put(st, x.txn, "bytes", x.bytes)) != 0 ||
        (rc = mdb_txn_commit(x.txn)) != 0)
        return rc;
    st->stats.bytes = x.bytes;
    return 0;
fail:
    mdb_txn_abort(x.txn);
    return rc;
}

static int env_open(struct cache_store *st)
{
    uint64_t map = st->conf.max_size + st->conf.max_size / 2 + (64u << 20);
    MDB_txn *txn;
    int rc;

    if ((rc = mdb_env_create(&st->env)) != 0)
        return rc;
    if ((rc = mdb_env_set_maxdbs(st->env, 8)) != 0 ||
        (rc = mdb_env_set_mapsize(st->env, (size_t)map)) != 0 ||
        (rc = mdb_env_set_maxreaders(st->env, 512)) != 0)
        goto fail;
    /* NOSYNC: commits reach the page cache, not the disk, so the event
     * loop never waits on an fsync; the syncer thread flushes. NOTLS: the
     * read transaction is not tied to thread-local storage. NORDAHEAD:
     * random access to a store bigger than RAM. */
    rc = mdb_env_open(st->env, st->dir, MDB_NOSYNC | MDB_NOTLS | MDB_NORDAHEAD, 0644);
    if (rc != 0)
        goto fail;
    if ((rc = mdb_txn_begin(st->env, NULL, 0, &txn)) != 0)
        goto fail;
    if ((rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &st->meta)) != 0 ||
        (rc = mdb_dbi_open(txn, "chunks", MDB_CREATE, &st->chunks)) != 0 ||
        (rc = mdb_dbi_open(txn, "lru", MDB_CREATE, &st->lru)) != 0 ||
        (rc = mdb_dbi_open(txn, "inflight", MDB_CREATE, &st->inflight)) != 0 ||
        (rc = mdb_dbi_open(txn, "info", MDB_CREATE, &st->info)) != 0 ||
        (rc = mdb_dbi_open(txn, "graves", MDB_CREATE, &st->graves)) != 0) {
        mdb_txn_abort(txn);
        goto fail;
    }
    if (store_info_get(st, txn, "version") == 0)
        rc = store_info_put(st, txn, "version", STORE_VERSION);
    else if (store_info_get(st, txn, "version") != STORE_VERSION)
        rc = MDB_VERSION_MISMATCH;
    if (rc != 0) {
        mdb_txn_abort(txn);
        goto fail;
    }
    if ((rc = mdb_txn_commit(txn)) != 0)
        goto fail;
    rc = store_recover(st, 0);
    if (rc != 0 && rc != MDB_MAP_FULL &&
        store_fail_reason(store_map_err(rc), 0) == CACHE_FAIL_OTHER)
        goto fail;
    if (rc != 0) {
        /* The disk is full (or failing): the store opens all the same,
         * paused, for its hits; the recovery waits for a commit to go in. */
        int err;
        if (rc == EIO)
            sample_fs(st);
        err = store_write_err(rc, st->fs_avail);
        st->recover_pending = 1;
        store_pause_failed(st, err, store_fail_reason(err, rc == MDB_MAP_FULL));
    }
    return 0;
fail:
    mdb_env_close(st->env);
    st->env = NULL;
    return rc;
}

int cache_store_reader_check(const char *dir, uint64_t max_size)
{
    MDB_env *env;
    int rc, dead = 0;

    if ((rc = mdb_env_create(&env)) != 0)
        return -rc;
    /* The settings env_open uses: a process that opens the environment
     * must agree with the others on the reader table's size. */
    if ((rc = mdb_env_set_maxdbs(env, 8)) != 0 ||
        (rc = mdb_env_set_mapsize(env, (size_t)(max_size + max_size / 2 + (64u << 20)))) != 0 ||
        (rc = mdb_env_set_maxreaders(env, 512)) != 0 ||
        (rc = mdb_env_open(env, dir, MDB_NOSYNC | MDB_NOTLS | MDB_NORDAHEAD, 0644)) != 0 ||
        (rc = mdb_reader_check(env, &dead)) != 0) {
        mdb_env_close(env);
        return rc > 0 ? -rc : rc;
    }
    mdb_env_close(env);
    return dead;
}

/* A store that will not open is moved aside (kept for a post-mortem). */
static int move_aside(const char *dir, char *err, size_t errlen)
{
    char aside[4096];

    snprintf(aside, sizeof(aside), "%s.broken-%ld", dir, (long)time(NULL));
    if (rename(dir, aside) < 0 || mkdir(dir, 0755) < 0) {
        snprintf(err, errlen, "%s: cannot move a broken store aside: %s", dir,
                 strerror(errno));
        return -1;
    }
    return 0;
}

static int mkdirs(const char *path)
{
    char tmp[4096];
    size_t n = strlen(path), i;

    if (n == 0 || n >= sizeof(tmp))
        return -ENAMETOOLONG;
    memcpy(tmp, path, n + 1);
    for (i = 1; i <= n; i++) {
        if (tmp[i] != '/' && tmp[i] != '\0')
            continue;
        tmp[i] = '\0';
        if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
            return -errno;
        tmp[i] = i < n ? '/' : '\0';
    }
    return 0;
}

struct cache_store *cache_store_open(const struct cache_store_conf *conf,
                                     char *err, size_t errlen)
{
    struct cache_store *st = calloc(1, sizeof(*st));
    int rc;

    if (st == NULL || (st->dir = strdup(conf->dir)) == NULL) {
        snprintf(err, errlen, "out of memory");
        free(st);
        return NULL;
    }
    st->conf = *conf;
    st->conf.dir = st->dir;
    st->grave_usec = STORE_GRAVE_USEC;
    if (st->conf.sync_interval == 0)
        st->conf.sync_interval = 5;
    if (st->conf.pause_min_ms == 0)
        st->conf.pause_min_ms = 2000;
    if (st->conf.pause_max_ms < st->conf.pause_min_ms)
        st->conf.pause_max_ms = st->conf.pause_min_ms > 60000 ? st->conf.pause_min_ms : 60000;
    pthread_mutex_init(&st->lock, NULL);
    pthread_cond_init(&st->cond, NULL);
    if ((rc = mkdirs(st->dir)) < 0) {
        snprintf(err, errlen, "%s: %s", st->dir, strerror(-rc));
        goto fail;
    }
    sample_fs(st);
    rc = env_open(st);
    if (rc == EIO) {
        sample_fs(st);          /* a short write on a full disk: not damage */
        if (store_write_err(rc, st->fs_avail) == -ENOSPC)
            rc = ENOSPC;
    }
    if (rc != 0 && rc != ENOENT && rc != EACCES && rc != ENOMEM && rc != ENOSPC &&
        !conf->shared) {
        /* Damaged or foreign: a cache can start empty. */
        if (move_aside(st->dir, err, errlen) < 0)
            goto fail;
        rc = env_open(st);
    }
    if (rc != 0) {
        snprintf(err, errlen, "%s: %s", st->dir, mdb_strerror(rc));
        goto fail;
    }
    {
        /* The thread must never take the process's signals: start it with
         * all of them blocked. */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        if (pthread_create(&st->syncer, NULL, syncer_main, st) == 0)
            st->syncer_running = 1;
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    return st;
fail:
    pthread_mutex_destroy(&st->lock);
    pthread_cond_destroy(&st->cond);
    free(st->dir);
    free(st);
    return NULL;
}

void cache_store_close(struct cache_store *st)
{
    struct cache_writer *w;

    if (st == NULL)
        return;
    st->closing = 1;            /* no probe now */
    /* Whatever is unfinished is dropped; its chunks are removed now. */
    for (w = st->writers; w; w = w->next)
        if (w->state == W_OPEN) {
            w->state = W_ABORTED;
            w->released = 1;
        }
    cache_store_flush(st);
    while ((w = st->writers) != NULL) {
        st->writers = w->next;
        store_writer_free(w);
    }
    if (st->syncer_running) {
        pthread_mutex_lock(&st->lock);
        st->stopping = 1;
        pthread_cond_signal(&st->cond);
        pthread_mutex_unlock(&st->lock);
        pthread_join(st->syncer, NULL);
    }
    pthread_mutex_destroy(&st->lock);
    pthread_cond_destroy(&st->cond);
    cache_store_release(st);
    if (st->rtxn)
        mdb_txn_abort(st->rtxn);
    mdb_env_sync(st->env, 1);
    mdb_env_close(st->env);
    free(st->dir);
    free(st);
}
