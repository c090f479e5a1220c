/*
 * store.c - the LMDB object store (see store.h for the model).
 *
 * Databases in the environment:
 *   meta      sha256(key)          -> record: rec_hdr, key, extra, head [, body]
 *   chunks    be64 id, be32 index  -> body bytes (chunk_size each, last shorter)
 *   lru       be64 stamp, be64 id  -> sha256(key)   (eviction order)
 *   inflight  be64 id              -> pid, sha256(key)  (chunks of unfinished
 *                                     objects: removed at open if pid is dead)
 *   info      name                 -> u64 ("version", "bytes", "objects")
 *   graves    be64 stamp, be64 id  -> be64 chunks   (bodies of replaced or
 *                                     purged objects, kept grave_usec for
 *                                     the readers still streaming them)
 * LMDB status codes are mapped to -errno here and go no further. Opening,
 * recovery and the syncer thread are in store_open.c; what a failed commit
 * leads to (the pause, its probe) in store_pause.c.
 */
#include "config.h"

#include <errno.h>
#include <lmdb.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "cache/store_int.h"

int store_map_err(int rc)
{
    switch (rc) {
    case MDB_SUCCESS: return 0;
    case MDB_NOTFOUND: return -ENOENT;
    case MDB_MAP_FULL: return -ENOSPC;
    case ENOMEM: return -ENOMEM;
    default: return rc > 0 ? -rc : -EIO;
    }
}

/*
 * SHA-256 of a key. OpenSSL 3's one-shot SHA256() fetches the algorithm
 * and allocates a context on every call (it was most of libcrypto's 2% of
 * a pass-through request): the algorithm is fetched once, and each thread
 * keeps one context. The one-shot call remains the fallback.
 */
static EVP_MD *key_md;
static pthread_once_t key_md_once = PTHREAD_ONCE_INIT;

static void key_md_fetch(void)
{
    key_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

void store_key_hash(const char *key, size_t klen, unsigned char *kh)
{
    static __thread EVP_MD_CTX *ctx;
    unsigned int n = 0;

    pthread_once(&key_md_once, key_md_fetch);
    if (ctx == NULL && key_md != NULL)
        ctx = EVP_MD_CTX_new();
    if (ctx == NULL || EVP_DigestInit_ex2(ctx, key_md, NULL) != 1 ||
        EVP_DigestUpdate(ctx, key, klen) != 1 || EVP_DigestFinal_ex(ctx, kh, &n) != 1 ||
        n != SHA256_DIGEST_LENGTH)
        SHA256((const unsigned char *)key, klen, kh);
}

int64_t store_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t now_stamp(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static void be64(unsigned char *p, uint64_t v)
{
    be32(p, (uint32_t)(v >> 32));
    be32(p + 4, (uint32_t)v);
}

uint64_t store_rd_be64(const unsigned char *p)
{
    uint64_t v = 0;
    int i;

    for (i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

/* --- records ---------------------------------------------------------- */

/* Validate a meta value and fill obj; -EIO when it is not ours. */
static int rec_parse(const MDB_val *v, struct rec_hdr *h, struct cache_obj *obj,
                     const char **key)
{
    const char *p = v->mv_data;
    size_t need;

    if (v->mv_size < sizeof(*h))
        return -EIO;
    memcpy(h, p, sizeof(*h));
    if (h->magic != REC_MAGIC || h->body_size < 0)
        return -EIO;
    need = sizeof(*h) + (size_t)h->key_len + h->extra_len + h->head_len +
           ((h->flags & CACHE_OBJ_INLINE) ? (size_t)h->body_size : 0);
    if (need != v->mv_size)
        return -EIO;
    if (key)
        *key = p + sizeof(*h);
    if (obj) {
        obj->id = h->id;
        obj->body_size = h->body_size;
        obj->chunk_size = h->chunk_size;
        obj->flags = h->flags;
        obj->stamp = h->stamp;
        obj->extra = p + sizeof(*h) + h->key_len;
        obj->extra_len = h->extra_len;
        obj->head = p + sizeof(*h) + h->key_len + h->extra_len;
        obj->head_len = h->head_len;
        obj->body = (h->flags & CACHE_OBJ_INLINE) ? obj->head + h->head_len : NULL;
    }
    return 0;
}

static uint64_t rec_chunks(const struct rec_hdr *h)
{
    if ((h->flags & CACHE_OBJ_INLINE) || h->body_size == 0 || h->chunk_size == 0)
        return 0;
    return ((uint64_t)h->body_size + h->chunk_size - 1) / h->chunk_size;
}

static uint64_t rec_cost(const struct rec_hdr *h, size_t rec_len)
{
    uint64_t n = rec_chunks(h);

    return rec_len + 64 + n * CHUNK_OVERHEAD +
           ((h->flags & CACHE_OBJ_INLINE) ? 0 : (uint64_t)h->body_size);
}

/* --- info counters ---------------------------------------------------- */

uint64_t store_info_get(struct cache_store *st, MDB_txn *txn, const char *name)
{
    MDB_val k = { strlen(name), (void *)name }, v;
    uint64_t x = 0;

    if (mdb_get(txn, st->info, &k, &v) == 0 && v.mv_size == sizeof(x))
        memcpy(&x, v.mv_data, sizeof(x));
    return x;
}

int store_info_put(struct cache_store *st, MDB_txn *txn, const char *name,
                    uint64_t x)
{
    MDB_val k = { strlen(name), (void *)name }, v = { sizeof(x), &x };

    return mdb_put(txn, st->info, &k, &v, 0);
}

/* --- deleting --------------------------------------------------------- */

static uint64_t sub_sat(uint64_t a, uint64_t b)
{
    return a > b ? a - b : 0;
}

/*
 * Delete chunks [0, n) of object id. With x, their size comes off the
 * running total (chunks of unfinished objects; a finished object's cost is
 * taken off as a whole by obj_del).
 */
int store_chunks_del(struct cache_store *st, MDB_txn *txn, struct wtx *x,
                      uint64_t id, uint64_t n)
{
    unsigned char kb[12];
    MDB_val k = { sizeof(kb), kb }, v;
    uint64_t i;
    int rc;

    for (i = 0; i < n; i++) {
        be64(kb, id);
        be32(kb + 8, (uint32_t)i);
        if (x && mdb_get(txn, st->chunks, &k, &v) == 0)
            x->bytes = sub_sat(x->bytes, v.mv_size + CHUNK_OVERHEAD);
        rc = mdb_del(txn, st->chunks, &k, NULL);
        if (rc != 0 && rc != MDB_NOTFOUND)
            return rc;
    }
    return 0;
}

/*
 * A body whose record is gone stays st->grave_usec (STORE_GRAVE_USEC)
 * before its chunks go: a
 * client streaming it (a hit, or readers collapsed on its fetch, which
 * read chunks by id) finishes, even when another writer - another worker
 * fetching the same URL, a PURGE - replaced the record under it. Its
 * bytes stay accounted until then (store_chunks_del takes them off).
 */
#define GRAVES_PER_FLUSH 4      /* bodies removed per commit, at most */

static int grave_put(struct cache_store *st, MDB_txn *txn, uint64_t id, uint64_t n)
{
    unsigned char kb[16], vb[8];
    MDB_val k = { sizeof(kb), kb }, v = { sizeof(vb), vb };

    be64(kb, now_stamp());
    be64(kb + 8, id);
    be64(vb, n);
    return mdb_put(txn, st->graves, &k, &v, 0);
}

/* Remove the bodies buried long enough (all of them, oldest first, with
 * force: the store needs the room), at most max. */
static int graves_reap(struct cache_store *st, struct wtx *x, int force, size_t max)
{
    uint64_t now = now_stamp();
    MDB_cursor *cur;
    MDB_val k, v;
    size_t done = 0;
    int rc;

    if ((rc = mdb_cursor_open(x->txn, st->graves, &cur)) != 0)
        return rc;
    while (done < max && (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST)) == 0) {
        if (k.mv_size != 16 || v.mv_size != 8) {
            rc = mdb_cursor_del(cur, 0);        /* not ours */
        } else {
            if (!force && store_rd_be64(k.mv_data) + st->grave_usec > now)
                break;
            rc = store_chunks_del(st, x->txn, x, store_rd_be64((unsigned char *)k.mv_data + 8),
                                  store_rd_be64(v.mv_data));
            if (rc == 0)
                rc = mdb_cursor_del(cur, 0);
            done++;
        }
        if (rc != 0)
            break;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Remove the object stored under kh, if any; with bury, its body waits
 * in the graves (above) instead of going at once. */
static int obj_del(struct cache_store *st, struct wtx *w,
                   const unsigned char *kh, int bury)
{
    MDB_val k = { SHA256_DIGEST_LENGTH, (void *)kh }, v;
    unsigned char lk[16];
    MDB_val lkey = { sizeof(lk), lk };
    struct rec_hdr h;
    uint64_t cost;
    int rc;

    rc = mdb_get(w->txn, st->meta, &k, &v);
    if (rc != 0)
        return rc == MDB_NOTFOUND ? 0 : rc;
    if (rec_parse(&v, &h, NULL, NULL) < 0)
        return mdb_del(w->txn, st->meta, &k, NULL);     /* not ours: drop */
    cost = rec_cost(&h, v.mv_size);
    if (bury && rec_chunks(&h) > 0) {
        if ((rc = grave_put(st, w->txn, h.id, rec_chunks(&h))) != 0)
            return rc;
        /* The chunks' part of the cost goes when they do. */
        cost -= rec_chunks(&h) * CHUNK_OVERHEAD + (uint64_t)h.body_size;
    } else if ((rc = store_chunks_del(st, w->txn, NULL, h.id, rec_chunks(&h))) != 0) {
        return rc;
    }
    be64(lk, h.stamp);
    be64(lk + 8, h.id);
    rc = mdb_del(w->txn, st->lru, &lkey, NULL);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    if ((rc = mdb_del(w->txn, st->meta, &k, NULL)) != 0)
        return rc;
    w->bytes = sub_sat(w->bytes, cost);
    w->objects = sub_sat(w->objects, 1);
    return 0;
}

/* Is the object under kh the one with this id? */
static int meta_has_id(struct cache_store *st, MDB_txn *txn,
                       const unsigned char *kh, uint64_t id)
{
    MDB_val k = { SHA256_DIGEST_LENGTH, (void *)kh }, v;
    struct rec_hdr h;

    return mdb_get(txn, st->meta, &k, &v) == 0 &&
           rec_parse(&v, &h, NULL, NULL) == 0 && h.id == id;
}

/* Evict least recently used objects until the store is under target. */
static int evict(struct cache_store *st, struct wtx *w, uint64_t target)
{
    unsigned char kh[SHA256_DIGEST_LENGTH];
    MDB_cursor *cur;
    MDB_val k, v;
    int rc, ours;

    /* Buried bodies go first, before their grace if need be: a live
     * object is worth more than the end of a replaced one's stream. */
    if (w->bytes > target && (rc = graves_reap(st, w, 1, (size_t)-1)) != 0)
        return rc;
    while (w->bytes > target) {
        if ((rc = mdb_cursor_open(w->txn, st->lru, &cur)) != 0)
            return rc;
        rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
        if (rc != 0) {
            mdb_cursor_close(cur);
            if (rc != MDB_NOTFOUND)
                return rc;
            w->bytes = 0;       /* nothing left: the counter had drifted */
            return 0;
        }
        ours = k.mv_size == 16 && v.mv_size == sizeof(kh);
        if (ours) {
            memcpy(kh, v.mv_data, sizeof(kh));
            ours = meta_has_id(st, w->txn, kh,
                               store_rd_be64((const unsigned char *)k.mv_data + 8));
        }
        if (!ours) {
            /* An LRU entry whose object is gone or was replaced. */
            rc = mdb_cursor_del(cur, 0);
            mdb_cursor_close(cur);
            if (rc != 0)
                return rc;
            continue;
        }
        mdb_cursor_close(cur);
        if ((rc = obj_del(st, w, kh, 0)) != 0)
            return rc;
        st->stats.evicted++;
    }
    return 0;
}

/* --- writing ---------------------------------------------------------- */

static int chunk_put(struct cache_store *st, MDB_txn *txn, uint64_t id,
                     const struct pchunk *c)
{
    unsigned char kb[12];
    MDB_val k = { sizeof(kb), kb }, v = { c->len, (void *)c->data };

    be64(kb, id);
    be32(kb + 8, c->idx);
    return mdb_put(txn, st->chunks, &k, &v, 0);
}

static int inflight_put(struct cache_store *st, MDB_txn *txn,
                        const struct cache_writer *w)
{
    unsigned char kb[8], vb[8 + SHA256_DIGEST_LENGTH];
    MDB_val k = { sizeof(kb), kb }, v = { sizeof(vb), vb };

    be64(kb, w->hdr.id);
    be64(vb, (uint64_t)getpid());
    memcpy(vb + 8, w->kh, SHA256_DIGEST_LENGTH);
    return mdb_put(txn, st->inflight, &k, &v, 0);
}

static int inflight_del(struct cache_store *st, MDB_txn *txn, uint64_t id)
{
    unsigned char kb[8];
    MDB_val k = { sizeof(kb), kb };
    int rc;

    be64(kb, id);
    rc = mdb_del(txn, st->inflight, &k, NULL);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Commit the filled chunks of w. */
static int writer_put_chunks(struct cache_store *st, struct wtx *x,
                             struct cache_writer *w)
{
    struct pchunk *c;
    int rc;

    if (w->full && w->committed == 0 && (rc = inflight_put(st, x->txn, w)) != 0)
        return rc;
    for (c = w->full; c; c = c->next) {
        if ((rc = chunk_put(st, x->txn, w->hdr.id, c)) != 0)
            return rc;
        w->committed = c->idx + 1;
        x->bytes += c->len + CHUNK_OVERHEAD;
    }
    return 0;
}

/* The object is whole: its record goes in, replacing any older one. */
static int writer_finish(struct cache_store *st, struct wtx *x,
                         struct cache_writer *w)
{
    int inl = w->committed == 0 && w->next_idx == 0 &&
              (uint64_t)w->hdr.body_size <= INLINE_MAX;
    size_t body = inl ? (size_t)w->hdr.body_size : 0;
    MDB_val k = { SHA256_DIGEST_LENGTH, w->kh }, v;
    unsigned char lk[16];
    MDB_val lkey = { sizeof(lk), lk }, lval = { SHA256_DIGEST_LENGTH, w->kh };
    uint64_t cost;
    int rc;

    if (!inl && w->cur && w->cur->len > 0) {
        if ((rc = chunk_put(st, x->txn, w->hdr.id, w->cur)) != 0)
            return rc;
        if (w->committed == 0 && (rc = inflight_put(st, x->txn, w)) != 0)
            return rc;
        w->committed = w->cur->idx + 1;
        x->bytes += w->cur->len + CHUNK_OVERHEAD;
    }
    /* What the chunks already added is part of the record's cost below. */
    x->bytes = sub_sat(x->bytes, (uint64_t)w->committed * CHUNK_OVERHEAD +
                                 (inl ? 0 : (uint64_t)w->hdr.body_size));
    if ((rc = obj_del(st, x, w->kh, 1)) != 0)
        return rc;
    w->hdr.flags |= inl ? CACHE_OBJ_INLINE : 0;
    w->hdr.chunk_size = inl ? 0 : CHUNK_SIZE;
    w->hdr.stamp = now_stamp();
    v.mv_size = sizeof(w->hdr) + w->prefix_len + body;
    if ((rc = mdb_put(x->txn, st->meta, &k, &v, MDB_RESERVE)) != 0)
        return rc;
    memcpy(v.mv_data, &w->hdr, sizeof(w->hdr));
    memcpy((char *)v.mv_data + sizeof(w->hdr), w->prefix, w->prefix_len);
    if (body)
        memcpy((char *)v.mv_data + sizeof(w->hdr) + w->prefix_len,
               w->cur->data, body);
    be64(lk, w->hdr.stamp);
    be64(lk + 8, w->hdr.id);
    if ((rc = mdb_put(x->txn, st->lru, &lkey, &lval, 0)) != 0)
        return rc;
    if ((rc = inflight_del(st, x->txn, w->hdr.id)) != 0)
        return rc;
    cost = rec_cost(&w->hdr, v.mv_size);
    x->bytes += cost;
    x->objects++;
    return 0;
}

static void pchunks_free(struct pchunk *c)
{
    while (c) {
        struct pchunk *next = c->next;
        free(c);
        c = next;
    }
}

void store_writer_free(struct cache_writer *w)
{
    pchunks_free(w->full);
    free(w->cur);
    free(w->prefix);
    free(w);
}

/* After a successful commit: drop what went in; 1 when w can go. */
static int writer_committed(struct cache_writer *w)
{
    pchunks_free(w->full);
    w->full = NULL;
    w->full_tail = &w->full;
    return w->released && w->state != W_OPEN;
}

static int writer_flush(struct cache_store *st, struct wtx *x,
                        struct cache_writer *w)
{
    int rc;

    if (w->state == W_ABORTED) {
        if (w->committed == 0)
            return 0;
        if ((rc = store_chunks_del(st, x->txn, x, w->hdr.id, w->committed)) != 0)
            return rc;
        w->committed = 0;
        return inflight_del(st, x->txn, w->hdr.id);
    }
    if ((rc = writer_put_chunks(st, x, w)) != 0)
        return rc;
    if (w->state == W_ENDED)
        return writer_finish(st, x, w);
    return 0;
}

/* --- the per-iteration commit ----------------------------------------- */

static int touch_one(struct cache_store *st, struct wtx *x, const struct touch *t)
{
    MDB_val k = { SHA256_DIGEST_LENGTH, (void *)t->kh }, v;
    unsigned char lk[16];
    MDB_val lkey = { sizeof(lk), lk }, lval = { SHA256_DIGEST_LENGTH, (void *)t->kh };
    struct rec_hdr h;
    char *copy;
    int rc;

    if (mdb_get(x->txn, st->meta, &k, &v) != 0 || rec_parse(&v, &h, NULL, NULL) < 0 ||
        h.id != t->id)
        return 0;               /* gone or replaced since the hit */
    be64(lk, h.stamp);
    be64(lk + 8, h.id);
    rc = mdb_del(x->txn, st->lru, &lkey, NULL);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    h.stamp = now_stamp();
    be64(lk, h.stamp);
    if ((rc = mdb_put(x->txn, st->lru, &lkey, &lval, 0)) != 0)
        return rc;
    /* The map is read-only to us: write the record anew with its stamp. */
    copy = malloc(v.mv_size);
    if (copy == NULL)
        return ENOMEM;
    memcpy(copy, v.mv_data, v.mv_size);
    memcpy(copy, &h, sizeof(h));
    v.mv_data = copy;
    rc = mdb_put(x->txn, st->meta, &k, &v, 0);
    free(copy);
    return rc;
}

static int update_one(struct cache_store *st, struct wtx *x,
                      const struct update *u)
{
    MDB_val k = { SHA256_DIGEST_LENGTH, (void *)u->kh }, v;
    struct rec_hdr h;
    const char *key;
    char *old = NULL;
    size_t body, old_len;
    int rc;

    if (mdb_get(x->txn, st->meta, &k, &v) != 0 ||
        rec_parse(&v, &h, NULL, &key) < 0 || h.id != u->id)
        return 0;               /* gone or replaced meanwhile */
    old_len = v.mv_size;
    old = malloc(old_len);
    if (old == NULL)
        return ENOMEM;
    memcpy(old, v.mv_data, old_len);
    key = old + sizeof(h);
    body = (h.flags & CACHE_OBJ_INLINE) ? (size_t)h.body_size : 0;
    h.extra_len = (uint32_t)u->extra_len;
    h.head_len = (uint32_t)u->head_len;
    v.mv_size = sizeof(h) + h.key_len + u->extra_len + u->head_len + body;
    if ((rc = mdb_put(x->txn, st->meta, &k, &v, MDB_RESERVE)) == 0) {
        char *p = v.mv_data;
        memcpy(p, &h, sizeof(h));
        memcpy(p += sizeof(h), key, h.key_len);
        memcpy(p += h.key_len, u->data, u->extra_len + u->head_len);
        memcpy(p + u->extra_len + u->head_len, old + old_len - body, body);
        x->bytes = sub_sat(x->bytes, old_len) + v.mv_size;
    }
    free(old);
    return rc;
}

static int flush_txn(struct cache_store *st, uint64_t target)
{
    struct wtx x;
    struct cache_writer *w;
    struct update *u;
    size_t i;
    int rc;

    if ((rc = mdb_txn_begin(st->env, NULL, 0, &x.txn)) != 0)
        return rc;
    x.bytes = store_info_get(st, x.txn, "bytes");
    x.objects = store_info_get(st, x.txn, "objects");
    for (w = st->writers; w; w = w->next)
        if ((rc = writer_flush(st, &x, w)) != 0)
            goto fail;
    for (i = 0; i < st->ndeletes; i++)
        if ((rc = obj_del(st, &x, st->deletes[i], 1)) != 0)
            goto fail;
    for (i = 0; i < st->ntouches; i++)
        if ((rc = touch_one(st, &x, &st->touches[i])) != 0)
            goto fail;
    for (u = st->updates; u; u = u->next)
        if ((rc = update_one(st, &x, u)) != 0)
            goto fail;
    if ((rc = graves_reap(st, &x, 0, GRAVES_PER_FLUSH)) != 0 ||
        (rc = evict(st, &x, target)) != 0 ||
        (rc = store_info_put(st, x.txn, "bytes", x.bytes)) != 0 ||
        (rc = store_info_put(st, x.txn, "objects", x.objects)) != 0)
        goto fail;
    if ((rc = mdb_txn_commit(x.txn)) != 0)
        return rc;
    st->stats.bytes = x.bytes;
    st->stats.objects = x.objects;
    return 0;
fail:
    mdb_txn_abort(x.txn);
    return rc;
}

static void updates_free(struct cache_store *st)
{
    struct update *u;

    while ((u = st->updates) != NULL) {
        st->updates = u->next;
        free(u);
    }
    st->nupdates = 0;
}

/*
 * Is there anything to commit? The chunks of aborted writers wait while
 * the store is paused: removing them is a write like any other, and a
 * failing one would be retried every iteration. They go with the probe's
 * batch (or at the next open, if the process ends first: "inflight").
 */
static int flush_pending(const struct cache_store *st)
{
    const struct cache_writer *w;

    if (st->ndeletes || st->ntouches || st->updates)
        return 1;
    for (w = st->writers; w; w = w->next)
        if (w->full || w->state == W_ENDED ||
            (w->state == W_ABORTED && w->committed > 0 && st->pause.err == 0))
            return 1;
    return 0;
}

/* Free the writers that are done and left nothing in the store: aborted
 * before a chunk went in (or after theirs were removed). */
static void writers_reap(struct cache_store *st)
{
    struct cache_writer **wp, *w;

    for (wp = &st->writers; (w = *wp) != NULL;) {
        if (w->released && w->state == W_ABORTED && w->committed == 0) {
            *wp = w->next;
            store_writer_free(w);
        } else {
            wp = &w->next;
        }
    }
}

/* The error of a failed flush_txn, and its consequences: the batch is
 * dropped (nothing of it went in: the store stays sane), the store pauses. */
static int flush_failed(struct cache_store *st, int rc, int map_full)
{
    struct cache_writer *w;
    int64_t avail = -1;
    int err, fd;

    if (rc == EIO && mdb_env_get_fd(st->env, &fd) == 0) {
        /* One fstatvfs, on a failure only (then the store pauses). */
        struct statvfs sv;
        if (fstatvfs(fd, &sv) == 0)
            avail = (int64_t)sv.f_bavail * (int64_t)sv.f_frsize;
    }
    err = store_write_err(rc, avail);
    for (w = st->writers; w; w = w->next) {
        if (w != st->pause.probe && !(w->hdr.flags & CACHE_OBJ_MARKER) &&
            w->state != W_ABORTED)
            st->stats.dropped++;
        w->committed = w->saved;
        w->state = W_ABORTED;
        pchunks_free(w->full);
        w->full = NULL;
        w->full_tail = &w->full;
    }
    st->ndeletes = st->ntouches = 0;
    updates_free(st);
    store_pause_failed(st, err, store_fail_reason(err, map_full));
    return err;
}

int cache_store_flush(struct cache_store *st)
{
    struct cache_writer **wp, *w;
    uint64_t max = st->conf.max_size;
    int rc, map_full = 0;

    writers_reap(st);
    /* What each writer has in, should this flush fail (flush_failed winds
     * them back to it): set before the recovery too, which can fail. */
    for (w = st->writers; w; w = w->next)
        w->saved = w->committed;
    if (st->recover_pending && st->pause.err == 0) {
        /* Recovery could not commit at open: now that commits go in. */
        cache_store_release(st);
        if ((rc = store_recover(st, 1)) != 0)
            return flush_failed(st, rc, rc == MDB_MAP_FULL);
        st->recover_pending = 0;
    }
    store_pause_tick(st);
    if (!flush_pending(st))
        return 0;
    cache_store_release(st);
    /* Keep 5% headroom below the cap so that eviction runs in batches. */
    rc = flush_txn(st, max - max / 20);
    if (rc == MDB_MAP_FULL) {
        /* The map is full (fragmentation): make room harder, retry once.
         * Only then: on a full disk the eviction's own pages would need
         * room too, and half the cache would be thrown away for nothing. */
        map_full = 1;
        for (w = st->writers; w; w = w->next)
            w->committed = w->saved;
        rc = flush_txn(st, max / 2);
    }
    if (rc != 0)
        return flush_failed(st, rc, map_full && rc == MDB_MAP_FULL);
    st->ndeletes = st->ntouches = 0;
    updates_free(st);
    if (st->pause.probe != NULL && st->pause.probe->committed > 0)
        store_pause_resumed(st);
    for (wp = &st->writers; (w = *wp) != NULL;) {
        /* Gone when whole and in, or aborted and cleaned up. */
        if (writer_committed(w) && (w->state == W_ENDED || w->committed == 0)) {
            if (w->state == W_ENDED && !(w->hdr.flags & CACHE_OBJ_MARKER))
                st->stats.stored++;
            *wp = w->next;
            store_writer_free(w);
        } else {
            wp = &w->next;
        }
    }
    return 0;
}

/* --- reading ---------------------------------------------------------- */

static int rtxn_open(struct cache_store *st)
{
    int rc;

    if (st->rtxn_live)
        return 0;
    rc = st->rtxn ? mdb_txn_renew(st->rtxn)
                  : mdb_txn_begin(st->env, NULL, MDB_RDONLY, &st->rtxn);
    if (rc != 0)
        return store_map_err(rc);
    st->rtxn_live = 1;
    return 0;
}

void cache_store_release(struct cache_store *st)
{
    if (st->rtxn_live) {
        mdb_txn_reset(st->rtxn);
        st->rtxn_live = 0;
    }
}

int cache_store_lookup(struct cache_store *st, const char *key, size_t klen,
                       struct cache_obj *obj)
{
    unsigned char kh[SHA256_DIGEST_LENGTH];
    MDB_val k = { sizeof(kh), kh }, v;
    struct rec_hdr h;
    const char *skey;
    int rc;

    store_key_hash(key, klen, kh);
    if ((rc = rtxn_open(st)) < 0)
        return rc;
    if ((rc = mdb_get(st->rtxn, st->meta, &k, &v)) != 0)
        return store_map_err(rc);
    if (rec_parse(&v, &h, obj, &skey) < 0 || h.key_len != klen ||
        memcmp(skey, key, klen) != 0)
        return -ENOENT;         /* damaged, or a hash collision: a miss */
    return 0;
}

int cache_store_chunk(struct cache_store *st, uint64_t id, uint32_t idx,
                      const void **p, size_t *len)
{
    unsigned char kb[12];
    MDB_val k = { sizeof(kb), kb }, v;
    int rc;

    if ((rc = rtxn_open(st)) < 0)
        return rc;
    be64(kb, id);
    be32(kb + 8, idx);
    if ((rc = mdb_get(st->rtxn, st->chunks, &k, &v)) != 0)
        return store_map_err(rc);
    *p = v.mv_data;
    *len = v.mv_size;
    return 0;
}

void cache_store_touch(struct cache_store *st, const char *key, size_t klen,
                       const struct cache_obj *obj)
{
    struct touch *t;

    /* Paused: a full disk has better things to do than LRU order. */
    if (now_stamp() - obj->stamp < TOUCH_USEC || st->ntouches == QUEUE_MAX ||
        st->pause.err != 0)
        return;
    t = &st->touches[st->ntouches++];
    store_key_hash(key, klen, t->kh);
    t->id = obj->id;
}

void cache_store_update(struct cache_store *st, const char *key, size_t klen,
                        uint64_t id, const void *extra, size_t extra_len,
                        const char *head, size_t head_len)
{
    struct update *u;

    if (st->nupdates >= QUEUE_MAX)
        return;                 /* the refreshed headers are an optimisation */
    u = malloc(sizeof(*u) + extra_len + head_len);
    if (u == NULL)
        return;
    store_key_hash(key, klen, u->kh);
    u->id = id;
    u->extra_len = extra_len;
    u->head_len = head_len;
    memcpy(u->data, extra, extra_len);
    memcpy(u->data + extra_len, head, head_len);
    u->next = NULL;
    if (st->updates == NULL)
        st->updates_tail = &st->updates;
    *st->updates_tail = u;
    st->updates_tail = &u->next;
    st->nupdates++;
}

void cache_store_delete(struct cache_store *st, const char *key, size_t klen)
{
    if (st->ndeletes == QUEUE_MAX)
        cache_store_flush(st);
    if (st->ndeletes < QUEUE_MAX)
        store_key_hash(key, klen, st->deletes[st->ndeletes++]);
    /* Now, not at the end of the iteration: a request pipelined right
     * behind a PURGE or a DELETE must not be served what they removed.
     * Deletes are rare; the commit does not sync. */
    cache_store_flush(st);
}

void cache_store_get_stats(struct cache_store *st, struct cache_store_stats *s)
{
    *s = st->stats;
    s->max_size = st->conf.max_size;
    store_pause_stats(st, s);
    pthread_mutex_lock(&st->lock);
    s->fs_size = st->fs_size;
    s->fs_avail = st->fs_avail;
    pthread_mutex_unlock(&st->lock);
}

const char *cache_store_dir(const struct cache_store *st)
{
    return st->dir;
}

