/*
 * store_int.h - what store.c and store_open.c share; not for use outside
 * cache/. The record layout and the databases are described in store.c.
 */
#ifndef CACHE_STORE_INT_H
#define CACHE_STORE_INT_H

#include <lmdb.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdint.h>

#include "cache/store.h"

#define REC_MAGIC 0x31434c53u   /* "SLC1" */
#define STORE_VERSION 1
#define CHUNK_SIZE CACHE_STORE_CHUNK
#define INLINE_MAX CACHE_STORE_INLINE_MAX
#define TOUCH_USEC (600ull * 1000000)   /* hits move an object at most this often */
#define CHUNK_OVERHEAD 64       /* accounted per chunk besides its bytes */
#define STORE_GRAVE_USEC (60ull * 1000000)     /* a replaced body's grace */
#define QUEUE_MAX 1024          /* pending touches / deletes per flush */

struct rec_hdr {
    uint32_t magic, flags;
    uint64_t id;
    int64_t body_size;
    uint64_t stamp;             /* LRU place: wall-clock microseconds */
    uint32_t chunk_size;
    uint32_t key_len, extra_len, head_len;
};

struct pchunk {
    struct pchunk *next;
    uint32_t idx;
    size_t len;
    char data[];
};

enum { W_OPEN, W_ENDED, W_ABORTED };

struct cache_writer {
    struct cache_writer *next;
    struct cache_store *st;
    unsigned char kh[SHA256_DIGEST_LENGTH];
    struct rec_hdr hdr;
    char *prefix;               /* key, extra, head */
    size_t prefix_len;
    struct pchunk *cur;         /* chunk being filled */
    struct pchunk *full, **full_tail;
    uint32_t next_idx;          /* index the next filled chunk gets */
    uint32_t committed;         /* chunks committed so far */
    uint32_t saved;             /* committed before the current flush */
    int state;
    int released;               /* the owner is done with it (end/abort) */
};

struct touch {
    unsigned char kh[SHA256_DIGEST_LENGTH];
    uint64_t id;
};

/* A pending head update: the record is rebuilt around the same body. */
struct update {
    struct update *next;
    unsigned char kh[SHA256_DIGEST_LENGTH];
    uint64_t id;
    size_t extra_len, head_len;
    char data[];                /* extra, then head */
};

/* The pause after a failed commit (store_pause.c). */
struct store_pause {
    int err;                    /* -errno of the failure; 0: not paused */
    int why;                    /* CACHE_FAIL_* */
    int64_t delay_ms;           /* the current back-off */
    int64_t retry_at;           /* monotonic ms: when the next probe goes */
    int64_t resumed_at;         /* monotonic ms of the last resume, 0: none */
    struct cache_writer *probe; /* the store's own writer, while probing */
};

struct cache_store {
    MDB_env *env;
    MDB_dbi meta, chunks, lru, inflight, info, graves;
    uint64_t grave_usec;        /* how long a replaced body stays (store.c) */
    MDB_txn *rtxn;
    int rtxn_live;
    struct cache_store_conf conf;
    char *dir;
    struct cache_writer *writers;
    struct touch touches[QUEUE_MAX];
    size_t ntouches;
    unsigned char deletes[QUEUE_MAX][SHA256_DIGEST_LENGTH];
    size_t ndeletes;
    struct update *updates, **updates_tail;    /* in arrival order */
    size_t nupdates;
    struct cache_store_stats stats;
    struct store_pause pause;
    int recover_pending;        /* recovery could not commit at open */
    int closing;
    pthread_t syncer;
    pthread_mutex_t lock;       /* guards what the syncer shares: */
    pthread_cond_t cond;
    int stopping, syncer_running;
    int64_t fs_size, fs_avail;  /* its samples of the filesystem */
};

/* Running totals of one write transaction. */
struct wtx {
    MDB_txn *txn;
    uint64_t bytes, objects;
};


int store_map_err(int rc);
int64_t store_mono_ms(void);
/* The key under which a URL's record is stored: sha256(key). */
void store_key_hash(const char *key, size_t klen, unsigned char *kh);
struct cache_writer *store_writer_new(struct cache_store *st, const char *key,
                                      size_t klen, const void *extra,
                                      size_t extra_len, const char *head,
                                      size_t head_len, uint32_t flags);
int store_recover(struct cache_store *st, int late);

/* store_pause.c */
int store_write_err(int rc, int64_t fs_avail);
int store_fail_reason(int err, int map_full);
void store_pause_failed(struct cache_store *st, int err, int why);
void store_pause_resumed(struct cache_store *st);
void store_pause_tick(struct cache_store *st);
void store_pause_stats(const struct cache_store *st, struct cache_store_stats *s);
uint64_t store_rd_be64(const unsigned char *p);
uint64_t store_info_get(struct cache_store *st, MDB_txn *txn, const char *name);
int store_info_put(struct cache_store *st, MDB_txn *txn, const char *name,
                   uint64_t x);
int store_chunks_del(struct cache_store *st, MDB_txn *txn, struct wtx *x,
                     uint64_t id, uint64_t n);
void store_writer_free(struct cache_writer *w);

#endif
