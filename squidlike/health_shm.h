/*
 * health_shm.h - the active checks' verdicts, shared by the workers.
 *
 * One worker runs the checks (health.c: worker 0 of the newest
 * generation, or the single process) and writes what it learns of each
 * backend here; the others read it and take it as their own, so a
 * backend is checked once per machine, not once per worker, and every
 * worker sees it go down and up at the same checks. A worker that takes
 * the checks over (worker 0 restarted after a crash, the first worker of
 * a new generation) starts from what is here: a backend down stays down,
 * its rise and fall counts go on.
 *
 * Entries are keyed by pool name and backend name (the backend as
 * written: its address or host name, and port), never by index, so a
 * reload that adds, removes or reorders backends finds each one's state.
 * The table is fixed (SL_HSHM_ENTRIES, enough for every backend of the
 * largest configuration), made once before the workers fork and kept for
 * the master's life; an entry no check has written for an hour may be
 * taken by another backend. A backend that finds no entry is checked by
 * every worker on its own, as before workers shared anything.
 *
 * A process-shared robust lock (shmlock.h) guards the table: a writer
 * killed inside leaves one entry with a mix of two verdicts of the same
 * backend, which the next check overwrites.
 */
#ifndef SL_HEALTH_SHM_H
#define SL_HEALTH_SHM_H

#include <stdint.h>

#include "squidlike/backend.h"

#define SL_HSHM_ENTRIES (SL_CONF_MAX_RPOOLS * SL_CONF_MAX_RBACKENDS)
#define SL_HSHM_PROBES 64               /* slots a lookup looks at */
#define SL_HSHM_STALE_MS (3600 * 1000)  /* an entry unwritten this long may go */

struct sl_hshm;

/* In shared memory (before fork). NULL: no memory. */
struct sl_hshm *sl_hshm_new(void);
void sl_hshm_free(struct sl_hshm *t);

/* The key of backend `backend` of pool `pool` (never 0). */
uint64_t sl_hshm_key(const char *pool, const char *backend);
/* The entry of key: found, or a new one (free, or stale at now_ms; its
 * seq starts at 0: never written). -1: none to be had. */
int sl_hshm_find(struct sl_hshm *t, uint64_t key, int64_t now_ms);
/* Write the entry's verdict (it bumps the entry's seq). */
void sl_hshm_put(struct sl_hshm *t, int e, const struct sl_backend_health *h,
                 int64_t now_ms);
/* Read entry e into *h when its seq is not *seq (then *seq is updated):
 * 1 read, 0 nothing new (*h untouched). */
int sl_hshm_get(struct sl_hshm *t, int e, uint64_t *seq, struct sl_backend_health *h);

#endif
