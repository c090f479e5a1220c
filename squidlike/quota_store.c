/*
 * quota_store.c - the quota counters' file mapping (see quota_store.h).
 *
 * Who may reset the mutex. The mutex lives in the file, so after a
 * restart (or a kill -9 of every process) its bytes are whatever the last
 * run left: possibly "held" by a thread that no longer exists, or a
 * pthread internal state of another libc build. Re-initialising it is
 * right only when no other process has the file mapped; doing it under a
 * live user (a binary upgrade's new master maps the file while the old
 * master's workers still count in it: master.c SQUIDLIKE_UPGRADE_FROM;
 * or a second daemon pointed at the same file) would corrupt a held lock.
 * So every process that maps the file holds a shared flock(2) on it for
 * as long as it does (the workers through the descriptor they inherit),
 * and the opener re-initialises the header only when it can take the
 * lock exclusive: then it knows it is alone, whatever the environment
 * says. It then drops to shared, and later openers see it.
 *
 * A new file (none yet, a bad one set aside, or another size) is made
 * whole under a temporary name and renamed into place, so that a crash
 * while making it never leaves a half-made file at the path.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "acl/quota.h"
#include "squidlike/conf.h"
#include "squidlike/log.h"
#include "squidlike/quota_store.h"
#include "squidlike/shared.h"
#include "squidlike/shmlock.h"

#define QS_MAGIC "SLQSTORE"
#define QS_VERSION 1u
#define SYNC_EVERY_MS 1000

/* The file's first bytes; no pointer inside (other processes, other runs). */
struct qs_head {
    char magic[8];
    uint32_t version;
    uint32_t head_size;         /* sizeof(struct qs_head): a layout check */
    uint64_t bytes;             /* the whole file */
    int64_t synced_ms;          /* monotonic time of the last msync */
    pthread_mutex_t mu;         /* the table and the counts */
    uint64_t ncounts;
    struct sl_qcount counts[SL_QSTORE_COUNTS];
    _Alignas(64) unsigned char table[];     /* struct acl_quota */
};

struct sl_qstore {
    struct qs_head *h;          /* the mapping */
    size_t bytes;
    struct acl_quota *t;
    int fd;                     /* holds our shared flock */
    pid_t owner;                /* the opener: syncs at close */
    char *path;
};

static size_t file_bytes(size_t entries)
{
    return sizeof(struct qs_head) + acl_quota_size(entries);
}

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t unix_now(void)
{
    return (int64_t)time(NULL);
}

/* Fresh header state for a process that knows it is alone. */
static int reset_head(struct qs_head *h)
{
    h->synced_ms = 0;
    h->ncounts = 0;
    memset(h->counts, 0, sizeof(h->counts));
    return sl_shmlock_init(&h->mu);
}

static struct sl_qstore *qs_new(const char *path, int fd, struct qs_head *h, size_t bytes)
{
    struct sl_qstore *q = calloc(1, sizeof(*q));

    if (q == NULL || (q->path = strdup(path)) == NULL) {
        free(q);
        return NULL;
    }
    q->h = h;
    q->bytes = bytes;
    q->t = acl_quota_attach(h->table, bytes - sizeof(*h));
    q->fd = fd;
    q->owner = getpid();
    return q;
}

/*
 * A new file at path for `entries` counters, made under a temporary name
 * and renamed over path; the live counters of from (NULL: none) carried
 * in. Returns the store, or NULL with err.
 */
static struct sl_qstore *qs_create(const char *path, size_t entries,
                                   const struct acl_quota *from, char *err, size_t errlen)
{
    size_t bytes = file_bytes(entries), lost;
    char tmp[4200];
    struct qs_head *h = MAP_FAILED;
    struct sl_qstore *q;
    uint64_t seed;
    int fd = -1, rc;

    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.new-%ld", path, (long)getpid()) >= sizeof(tmp)) {
        snprintf(err, errlen, "quota_file %s: path too long", path);
        return NULL;
    }
    unlink(tmp);                /* a crashed run's, of our pid */
    fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "quota_file %s: cannot create %s: %s%s", path, tmp,
                 strerror(errno), errno == ENOENT ? " (its directory must exist)" : "");
        return NULL;
    }
    /* Nobody else knows this inode yet: shared is enough, and tells
     * later openers that we use it. */
    if (flock(fd, LOCK_SH) < 0 || ftruncate(fd, (off_t)bytes) < 0) {
        snprintf(err, errlen, "quota_file %s: %s: %s", path, tmp, strerror(errno));
        goto fail;
    }
    h = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (h == MAP_FAILED) {
        snprintf(err, errlen, "quota_file %s: cannot map %zu bytes: %s", path, bytes,
                 strerror(errno));
        goto fail;
    }
    memcpy(h->magic, QS_MAGIC, sizeof(h->magic));
    h->version = QS_VERSION;
    h->head_size = sizeof(*h);
    h->bytes = bytes;
    if ((rc = reset_head(h)) < 0) {
        snprintf(err, errlen, "quota_file %s: lock: %s", path, strerror(-rc));
        goto fail;
    }
    if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
        seed = (uint64_t)mono_ms() * 0x9e3779b97f4a7c15ULL;
    acl_quota_init(h->table, bytes - sizeof(*h), entries, seed);
    if (from != NULL && (lost = acl_quota_carry(acl_quota_attach(h->table, bytes - sizeof(*h)),
                                                from, unix_now())) > 0)
        SL_LOG(SL_LOG_WARN, 0, 0, "quota_file %s: %zu counters found no room in the new "
               "table (their consumers start again from zero)", path, lost);
    if (rename(tmp, path) < 0) {
        snprintf(err, errlen, "quota_file %s: cannot rename %s into place: %s", path, tmp,
                 strerror(errno));
        goto fail;
    }
    if ((q = qs_new(path, fd, h, bytes)) == NULL) {
        snprintf(err, errlen, "quota_file %s: out of memory", path);
        munmap(h, bytes);
        close(fd);
        return NULL;
    }
    return q;
fail:
    if (h != MAP_FAILED)
        munmap(h, bytes);
    close(fd);
    unlink(tmp);
    return NULL;
}

/* A file that is no quota table of ours: out of the way, kept for a look. */
static void set_aside(const char *path, const char *why)
{
    char bad[4200];

    snprintf(bad, sizeof(bad), "%s.bad-%lld", path, (long long)unix_now());
    if (rename(path, bad) == 0)
        SL_LOG(SL_LOG_WARN, 0, 0, "quota_file %s: %s: renamed to %s, counting starts "
               "again in a new file", path, why, bad);
    else
        SL_LOG(SL_LOG_WARN, 0, errno, "quota_file %s: %s, and it cannot be renamed "
               "aside: replaced", path, why);
}

/* The header and table of a mapped file of size bytes: NULL when valid,
 * else what is wrong. */
static const char *check(const struct qs_head *h, size_t bytes)
{
    if (bytes < sizeof(*h) || memcmp(h->magic, QS_MAGIC, sizeof(h->magic)) != 0)
        return "not a quota file";
    if (h->version != QS_VERSION || h->head_size != sizeof(*h))
        return "a quota file of another version";
    if (h->bytes != bytes)
        return "a quota file of the wrong size";
    if (acl_quota_attach((void *)h->table, bytes - sizeof(*h)) == NULL)
        return "a damaged quota table";
    return NULL;
}

struct sl_qstore *sl_qstore_open(const char *path, size_t entries, char *err, size_t errlen)
{
    size_t bytes, max = file_bytes(ACL_QUOTA_MAX_ENTRIES);
    struct acl_quota_stats st;
    struct sl_qstore *q;
    struct qs_head *h;
    const char *why;
    struct stat sb;
    int fd, alone, rc;

    fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && errno == ENOENT)
        return qs_create(path, entries, NULL, err, errlen);
    if (fd < 0) {
        snprintf(err, errlen, "quota_file %s: %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        snprintf(err, errlen, "quota_file %s: %s", path,
                 S_ISREG(sb.st_mode) ? strerror(errno) : "not a regular file");
        close(fd);
        return NULL;
    }
    /* Alone: see the file header. */
    alone = flock(fd, LOCK_EX | LOCK_NB) == 0;
    if (!alone && flock(fd, LOCK_SH) < 0) {
        snprintf(err, errlen, "quota_file %s: flock: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    bytes = (size_t)sb.st_size;
    if (sb.st_size < (off_t)sizeof(*h) || (uint64_t)sb.st_size > max) {
        close(fd);
        set_aside(path, sb.st_size == 0 ? "an empty file" : "a file of the wrong size");
        return qs_create(path, entries, NULL, err, errlen);
    }
    h = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (h == MAP_FAILED) {
        snprintf(err, errlen, "quota_file %s: cannot map %zu bytes: %s", path, bytes,
                 strerror(errno));
        close(fd);
        return NULL;
    }
    if ((why = check(h, bytes)) != NULL) {
        munmap(h, bytes);
        close(fd);
        set_aside(path, why);
        return qs_create(path, entries, NULL, err, errlen);
    }
    if (alone && (rc = reset_head(h)) < 0) {
        snprintf(err, errlen, "quota_file %s: lock: %s", path, strerror(-rc));
        munmap(h, bytes);
        close(fd);
        return NULL;
    }
    if (alone)
        flock(fd, LOCK_SH);     /* a conversion: never refused */
    if ((q = qs_new(path, fd, h, bytes)) == NULL) {
        snprintf(err, errlen, "quota_file %s: out of memory", path);
        munmap(h, bytes);
        close(fd);
        return NULL;
    }
    if (bytes != file_bytes(entries)) {
        /* Another size (quota_table or the consumers changed): a new file
         * with the live counters, under this one's lock (it may be in
         * use: an upgrade). */
        struct sl_qstore *n;

        rc = sl_qstore_lock(q);
        n = rc >= 0 ? qs_create(path, entries, q->t, err, errlen) : NULL;
        if (rc >= 0)
            sl_qstore_unlock(q);
        else
            snprintf(err, errlen, "quota_file %s: lock: %s", path, strerror(-rc));
        sl_qstore_close(q, 0);
        return n;
    }
    acl_quota_get_stats(q->t, &st);
    SL_LOG(SL_LOG_INFO, 0, 0, "quota_file %s: %zu counters kept%s", path, st.entries,
           alone ? "" : " (shared with a running process)");
    return q;
}

void sl_qstore_close(struct sl_qstore *q, int sync)
{
    if (q == NULL)
        return;
    /* The workers never close (they exit): the opener writes out. */
    if (q->owner == getpid())
        msync(q->h, q->bytes, sync ? MS_SYNC : MS_ASYNC);
    munmap(q->h, q->bytes);
    close(q->fd);
    free(q->path);
    free(q);
}

struct acl_quota *sl_qstore_table(const struct sl_qstore *q)
{
    return q->t;
}

int sl_qstore_lock(struct sl_qstore *q)
{
    return sl_shmlock_lock(&q->h->mu);
}

void sl_qstore_unlock(struct sl_qstore *q)
{
    sl_shmlock_unlock(&q->h->mu);
}

/* The count of name, made (zero) when new; NULL when the table is full
 * (as many names as quotas may be configured). Under the lock. */
static struct sl_qcount *count_of(struct qs_head *h, const char *name)
{
    size_t i, n = h->ncounts < SL_QSTORE_COUNTS ? (size_t)h->ncounts : SL_QSTORE_COUNTS;

    for (i = 0; i < n; i++)
        if (strncmp(h->counts[i].name, name, sizeof(h->counts[i].name)) == 0)
            return &h->counts[i];
    if (n == SL_QSTORE_COUNTS)
        return NULL;
    snprintf(h->counts[n].name, sizeof(h->counts[n].name), "%s", name);
    h->counts[n].refused = 0;
    /* readers go without the lock: the name is whole before they see it */
    __atomic_store_n(&h->ncounts, n + 1, __ATOMIC_RELEASE);
    return &h->counts[n];
}

void sl_qstore_refused(struct sl_qstore *q, const char *name)
{
    struct sl_qcount *c = count_of(q->h, name);

    if (c != NULL)
        c->refused++;
}

size_t sl_qstore_counts(const struct sl_qstore *q, const struct sl_qcount **out)
{
    uint64_t n;

    if (q == NULL) {
        *out = NULL;
        return 0;
    }
    *out = q->h->counts;
    /* read without the lock: a name is whole before ncounts shows it */
    n = __atomic_load_n(&q->h->ncounts, __ATOMIC_ACQUIRE);
    return n < SL_QSTORE_COUNTS ? (size_t)n : SL_QSTORE_COUNTS;
}

void sl_qstore_sync(struct sl_qstore *q, int64_t now_ms)
{
    int64_t last = __atomic_load_n(&q->h->synced_ms, __ATOMIC_RELAXED);

    /* (now < last: the file outlived a reboot of the monotonic clock) */
    if (now_ms >= last && now_ms - last < SYNC_EVERY_MS)
        return;
    /* One process of the machine wins each second. */
    if (!__atomic_compare_exchange_n(&q->h->synced_ms, &last, now_ms, 0, __ATOMIC_RELAXED,
                                     __ATOMIC_RELAXED))
        return;
    msync(q->h, q->bytes, MS_ASYNC);
}

const char *sl_qstore_path(const struct sl_qstore *q)
{
    return q->path;
}

size_t sl_qstore_entries(const struct sl_conf *conf)
{
    const struct sl_conf_gateway *gw = &conf->reverse.gw;
    size_t i, need = 0, n = ACL_QUOTA_MIN_ENTRIES;

    if (gw->quota_file == NULL)
        return 0;
    for (i = 0; i < gw->n_consumers; i++)
        need += gw->consumers[i].n_quotas;
    need *= 2;
    if (need < gw->quota_table)
        need = gw->quota_table;
    while (n < need && n < ACL_QUOTA_MAX_ENTRIES)
        n <<= 1;
    return n;
}

/* The refusal counts of from into q (under both locks): they are
 * Prometheus counters, which must not go back at a reload. The larger
 * of the two stays (q may be a file that already counted them). */
static void carry_counts(struct sl_qstore *q, const struct sl_qstore *from)
{
    const struct sl_qcount *fc;
    size_t n = sl_qstore_counts(from, &fc), i;
    struct sl_qcount *c;

    for (i = 0; i < n; i++)
        if ((c = count_of(q->h, fc[i].name)) != NULL && fc[i].refused > c->refused)
            c->refused = fc[i].refused;
}

int sl_qstore_prepare(struct sl_qstore **cur, const struct sl_conf *conf, char *err,
                      size_t errlen)
{
    struct sl_qstore *old = *cur, *q;
    size_t entries = sl_qstore_entries(conf), lost = 0;
    int rc_old, rc_new;

    if (entries == 0)
        return 0;               /* kept as it is: a later reload may want it */
    if (old != NULL && strcmp(old->path, conf->reverse.gw.quota_file) == 0 &&
        old->bytes == file_bytes(entries))
        return 0;               /* the counts go on */
    if ((q = sl_qstore_open(conf->reverse.gw.quota_file, entries, err, errlen)) == NULL)
        return -1;
    if (old != NULL) {
        /* The counts of this run go on in the new file: while the old
         * workers drain they still count in the old one (a few requests
         * not seen by the new ones). */
        rc_old = sl_qstore_lock(old);
        rc_new = sl_qstore_lock(q);
        if (rc_old >= 0 && rc_new >= 0) {
            lost = acl_quota_carry(q->t, old->t, unix_now());
            carry_counts(q, old);
        }
        if (rc_new >= 0)
            sl_qstore_unlock(q);
        if (rc_old >= 0)
            sl_qstore_unlock(old);
        SL_LOG(SL_LOG_INFO, 0, 0, "quotas: now in %s (%zu counters), the live counts of %s "
               "carried over%s", q->path, entries, old->path, lost > 0 ? ", some without room" : "");
        /* Closed here only: the workers forked with it keep their mapping. */
        sl_qstore_close(old, 0);
    }
    *cur = q;
    return 0;
}

int sl_qstore_apply(struct sl_qstore **view, const struct sl_conf *conf, struct sl_shared *sh)
{
    char err[512];

    if (sl_qstore_entries(conf) == 0)
        return 0;
    /* A single process reloads in place (as rl_state_apply). */
    if (sh->nworkers <= 1 && sl_qstore_prepare(&sh->quota, conf, err, sizeof(err)) < 0) {
        SL_LOG(SL_LOG_ERROR, 0, 0, "%s", err);
        return -1;
    }
    if (sh->quota == NULL)
        return -1;              /* the master could not make it */
    *view = sh->quota;
    return 0;
}
