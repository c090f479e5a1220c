/*
 * quota_store.h - the gateway's quota counters (acl/quota.h) in a file
 * that every worker maps (MAP_SHARED), so that a consumer's count is one
 * for the machine, and goes on across a reload, a restart and a kill -9
 * (the page cache holds a shared file mapping's pages whatever becomes
 * of the process; msync pushes them to the disk for a power loss).
 *
 * The file: a header (magic, version, its size, a process-shared robust
 * mutex, the refusals per quota name, when it was last synced), then the
 * table. Made 0600 (the directory must exist); a file that is not a
 * quota table of this build (wrong magic, version, size) is renamed
 * aside ("<path>.bad-<unix time>") and a fresh one made, with a log line.
 * A valid table of another size has its live counters carried into a
 * new one of the wanted size.
 *
 * Like the rate limits' table (client.h rl_shm_prepare): the master (or
 * the single process) maps it before forking the workers
 * (sl_qstore_prepare, from sl_shared_prepare: at start and at each
 * reload); the workers use the mapping they were forked with.
 */
#ifndef SL_QUOTA_STORE_H
#define SL_QUOTA_STORE_H

#include <stddef.h>
#include <stdint.h>

struct acl_quota;
struct sl_conf;
struct sl_shared;
struct sl_qstore;

#define SL_QSTORE_COUNTS 64         /* refusal counts kept, by quota name */

/* Requests refused by the quota named name since the daemon started. */
struct sl_qcount {
    char name[64];
    unsigned long long refused;
};

/* Map the file at path holding at least `entries` counters: the file as
 * it is when it is such a table, else a new one (see above). NULL with
 * err (naming path) when it cannot be opened, made or mapped. */
struct sl_qstore *sl_qstore_open(const char *path, size_t entries, char *err,
                                 size_t errlen);
/* Unmap and close; sync: first write the pages out and wait (MS_SYNC:
 * at a clean shutdown). NULL: no-op. */
void sl_qstore_close(struct sl_qstore *q, int sync);

/* The counters, and their lock (sl_shmlock_lock's returns: 0 held, 1
 * held after its last holder died, -errno not held). */
struct acl_quota *sl_qstore_table(const struct sl_qstore *q);
int sl_qstore_lock(struct sl_qstore *q);
void sl_qstore_unlock(struct sl_qstore *q);
/* Under the lock: one refusal by the quota named name. */
void sl_qstore_refused(struct sl_qstore *q, const char *name);
/* The refusal counts (read without the lock). */
size_t sl_qstore_counts(const struct sl_qstore *q, const struct sl_qcount **out);
/* After counting: schedule the dirty pages' write-out (MS_ASYNC) when no
 * process of the machine did it in the last second (now_ms: monotonic). */
void sl_qstore_sync(struct sl_qstore *q, int64_t now_ms);
const char *sl_qstore_path(const struct sl_qstore *q);

/* The counters the configuration needs: reverse.gateway.quota_table, and
 * at least twice the consumers' quotas (so configured consumers never
 * crowd each other out), a power of two. 0: no quota in use. */
size_t sl_qstore_entries(const struct sl_conf *conf);

/* Before the workers fork (sl_shared_prepare): *cur kept when conf's
 * quota_file and size are its own; else the new one, with the live counts
 * of *cur carried over, and *cur closed. 0, or -1 with err. */
int sl_qstore_prepare(struct sl_qstore **cur, const struct sl_conf *conf, char *err,
                      size_t errlen);
/* A server's view (borrowed from sh; a single process prepares it first:
 * it reloads in place). 0, or -1 (logged; *view unchanged). */
int sl_qstore_apply(struct sl_qstore **view, const struct sl_conf *conf,
                    struct sl_shared *sh);

#endif
