/*
 * backend.h - reverse mode's backend pools at run time: for each pool of
 * a configuration snapshot its backends' live state (requests in flight,
 * up or not), its consistent-hash ring, and the choice of a backend for a
 * request (the arithmetic is backend_pick.h's).
 *
 * One struct sl_backends per configuration snapshot, built with it by the
 * loader (a consistent-hash ring of a big pool takes a while: that is done
 * on the reload thread, not on the loop) and freed with it. A request
 * holds its snapshot until it ends, so a reload never moves it to a pool
 * it did not start on, and its in-flight count goes back where it was
 * taken. The live state is the loop's alone: one thread touches it.
 */
#ifndef SL_BACKEND_H
#define SL_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "squidlike/conf.h"

struct sl_backends;

/* The runtime state of rev's pools (rev must outlive it: it is the
 * snapshot's own). NULL with errno when out of memory (or E2BIG: a
 * hashing pool too heavy for its ring, which the config refuses first). */
struct sl_backends *sl_backends_new(const struct sl_conf_reverse *rev);
/* NULL: no-op. */
void sl_backends_free(struct sl_backends *b);

/*
 * Choose a backend of pool for a request and count it in flight there
 * (give it back with sl_backends_done). key / keylen: what a hashing pool
 * hashes (the caller picks it per the pool's hash_by); rnd: random bits
 * for random-two. Returns the backend's index in the pool, or -1 when
 * none is up.
 */
int sl_backends_pick(struct sl_backends *b, int pool, const void *key,
                     size_t keylen, uint64_t rnd);
/* The request on backend idx of pool is over. */
void sl_backends_done(struct sl_backends *b, int pool, int idx);

/* The configuration of backend idx of pool (valid while b is held). */
const struct sl_conf_rbackend *sl_backends_conf(const struct sl_backends *b,
                                                int pool, int idx);
/* Requests in flight on backend idx of pool. */
unsigned sl_backends_active(const struct sl_backends *b, int pool, int idx);

#endif
