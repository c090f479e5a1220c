/*
 * store.h - the LMDB object store of the HTTP cache.
 *
 * One LMDB environment in a directory, shareable by several processes of one
 * machine (LMDB's model: many readers, one writer at a time). Objects are
 * addressed by a key string (method + URI [+ Vary values], built by the
 * caller) and hold: an opaque "extra" blob (the caller's freshness data), a
 * response head, and a body - inline for small bodies, else in fixed-size
 * chunks under a random 64-bit object id, so that a hit streams chunk by
 * chunk and never holds a read transaction across slow-client waits.
 *
 * Reads hand out pointers into LMDB's memory map: the body goes from the
 * map to the socket with one copy (the kernel's). They are valid until
 * cache_store_release().
 *
 * Writes are batched: cache_store_write*() only fill memory; one write
 * transaction per event-loop iteration (cache_store_flush) commits every
 * pending chunk and finished object. The environment runs with MDB_NOSYNC,
 * so the loop never waits on an fsync; a background thread syncs every few
 * seconds. A process crash (kill -9) loses nothing committed (it is in the
 * page cache); an object appears only when its last chunk and its record
 * commit together, and chunks of objects whose writer died are removed at
 * the next open. A store that does not open is moved aside and recreated:
 * it is a cache.
 *
 * Eviction keeps the store under its size cap: least recently used first
 * (a hit refreshes an object's place at most once per ten minutes, so hits
 * do not turn into writes: LRU at that granularity).
 *
 * A commit that fails (the disk is full, an I/O error) drops its batch
 * whole - nothing of it is visible, no chunk of it stays - and pauses the
 * store: new writers are refused while stored objects are still read. It
 * probes again after a back-off (2 s, doubling up to 60 s while probes
 * fail) by committing a chunk of its own, and resumes when that goes in.
 * The filesystem's size and free space are sampled by the sync thread.
 */
#ifndef CACHE_STORE_H
#define CACHE_STORE_H

#include <stddef.h>
#include <stdint.h>

struct cache_store;
struct cache_writer;

struct cache_store_conf {
    const char *dir;            /* created when missing */
    uint64_t max_size;          /* bytes of objects kept */
    uint64_t max_object;        /* bigger bodies are not stored */
    unsigned sync_interval;     /* seconds between background syncs (and
                                   samples of the filesystem's free space) */
    unsigned pause_min_ms;      /* back-off after a failed commit: 0 = 2 s */
    unsigned pause_max_ms;      /* its bound: 0 = 60 s */
    int shared;                 /* other processes have it open (workers): one
                                   that will not open is an error, never moved
                                   aside (the master opened it first) */
};

/* Returns NULL with err filled when the directory is unusable. */
struct cache_store *cache_store_open(const struct cache_store_conf *conf,
                                     char *err, size_t errlen);
/* Commits what is pending, stops the sync thread, closes. NULL: no-op. */
void cache_store_close(struct cache_store *st);

/* After a process that had the store open died (a worker): free the
 * reader slots it held (mdb_reader_check) in the store at dir, opened
 * for that and closed again. Returns how many were freed, or -errno /
 * an LMDB code negated. Not while this process has the store open. */
int cache_store_reader_check(const char *dir, uint64_t max_size);

/* A stored object as found by a lookup. Pointers are into the map. */
struct cache_obj {
    uint64_t id;
    int64_t body_size;
    uint32_t chunk_size;
    uint32_t flags;             /* CACHE_OBJ_* */
    uint64_t stamp;             /* its LRU place (wall-clock microseconds) */
    const void *extra;
    size_t extra_len;
    const char *head;           /* response head as stored */
    size_t head_len;
    const char *body;           /* inline body, or NULL when chunked */
};

#define CACHE_OBJ_INLINE 0x1u   /* body follows the head in the record */
#define CACHE_OBJ_MARKER 0x2u   /* a Vary marker: head holds the Vary value */

/*
 * Find key. Returns 0 with *obj filled (valid until cache_store_release),
 * -ENOENT, or another -errno. Opens a read transaction when none is open.
 */
int cache_store_lookup(struct cache_store *st, const char *key, size_t klen,
                       struct cache_obj *obj);
/* Chunk idx of object id: 0 with *p and *len into the map, -ENOENT (evicted or
 * replaced meanwhile), or -errno. */
int cache_store_chunk(struct cache_store *st, uint64_t id, uint32_t idx,
                      const void **p, size_t *len);
/* End the read transaction; every pointer handed out dies. */
void cache_store_release(struct cache_store *st);

/* Note a hit on obj (found under key): its LRU place is refreshed when it
 * is older than the touch interval, at the next flush. */
void cache_store_touch(struct cache_store *st, const char *key, size_t klen,
                       const struct cache_obj *obj);
/*
 * Replace the extra blob and head of the object stored under key, keeping
 * its body, at the next flush - if it is still object id then (a 304 that
 * refreshed a stored response, RFC 9111 4.3.4). Copies what it is given.
 */
void cache_store_update(struct cache_store *st, const char *key, size_t klen,
                        uint64_t id, const void *extra, size_t extra_len,
                        const char *head, size_t head_len);
/* Remove key (and its body) now: commits at once (and releases the read
 * transaction). */
void cache_store_delete(struct cache_store *st, const char *key, size_t klen);

/*
 * Start storing an object under key. expected is the body size when known
 * (-1 when not): a known size over max_object refuses at once (NULL), so
 * does a paused store (counted in stats.skipped).
 * head/extra are copied. flags: CACHE_OBJ_MARKER for a Vary marker.
 * Returns NULL when the object will not be stored.
 */
struct cache_writer *cache_store_write_begin(struct cache_store *st,
                                             const char *key, size_t klen,
                                             const void *extra, size_t extra_len,
                                             const char *head, size_t head_len,
                                             int64_t expected, uint32_t flags);
/* Append body bytes. -EFBIG past max_object (the writer is aborted and must
 * not be used again), -ENOMEM. */
int cache_store_write(struct cache_writer *w, const void *p, size_t n);
/* The body is complete: the object becomes visible at the next flush. The
 * store owns w from here on. */
void cache_store_write_end(struct cache_writer *w);
/* Give up: nothing of this object will be visible. The store owns w. */
void cache_store_write_abort(struct cache_writer *w);
/* Object id of a writer (for readers that follow it while it is written). */
uint64_t cache_writer_id(const struct cache_writer *w);
/*
 * For readers that follow an object while it is written (collapsed
 * forwarding): the body bytes at off that w still holds in memory.
 * 0 with *p and *len (valid until the next write or flush), -ENOENT when that
 * part is committed already (read it with cache_store_chunk), -EAGAIN when
 * it has not been written yet. Only for a writer that is still open.
 */
int cache_writer_peek(const struct cache_writer *w, int64_t off,
                      const void **p, size_t *len);

/* Bodies up to this size are kept inline in the record; bigger ones in
 * chunks of CACHE_STORE_CHUNK bytes. */
#define CACHE_STORE_CHUNK (128u * 1024)
#define CACHE_STORE_INLINE_MAX (32u * 1024)

/* Commit pending writes, touches, deletes, evictions: one transaction.
 * Called once per event-loop iteration. Returns 0 or -errno: the errno of
 * the failed write (-ENOSPC when the filesystem is full, also when LMDB
 * only saw a short write); the store is paused then (see above). */
int cache_store_flush(struct cache_store *st);

/* Why a commit failed, as counted. */
enum cache_store_fail {
    CACHE_FAIL_NO_SPACE,        /* ENOSPC, EDQUOT: the filesystem is full */
    CACHE_FAIL_MAP_FULL,        /* LMDB's map is full, even after eviction */
    CACHE_FAIL_IO,              /* EIO, EROFS: the disk fails */
    CACHE_FAIL_OTHER,
    CACHE_FAIL_N
};
/* "no_space", "map_full", "io", "other" (metric labels, JSON keys). */
extern const char *const cache_store_fail_name[CACHE_FAIL_N];

/* 0 while the store takes new objects; while it is paused, the -errno of
 * the failed commit that paused it, its CACHE_FAIL_* in *why (may be
 * NULL). */
int cache_store_paused(const struct cache_store *st, int *why);
/* The store's directory (as given to cache_store_open). */
const char *cache_store_dir(const struct cache_store *st);

struct cache_store_stats {
    uint64_t bytes;             /* accounted size of stored objects */
    uint64_t objects;
    uint64_t max_size;
    uint64_t evicted;
    uint64_t stored;            /* objects committed (not Vary markers) */
    uint64_t write_errors;      /* failed commits */
    uint64_t write_errors_by[CACHE_FAIL_N];
    uint64_t dropped;           /* objects being stored when a commit failed */
    uint64_t skipped;           /* writers refused while paused */
    int paused;                 /* cache_store_paused() */
    int paused_why;
    int64_t retry_ms;           /* while paused: milliseconds to the probe */
    int64_t fs_size, fs_avail;  /* bytes of the filesystem holding the dir
                                   (avail: to unprivileged users, as df
                                   shows it); -1: not known */
};
void cache_store_get_stats(struct cache_store *st, struct cache_store_stats *s);

#endif
