/*
 * ratelimit.h - token buckets in a fixed table (pure: no clock, no
 * sockets; the caller gives the time and the key).
 *
 * A policy lets `rate` requests per `period_ms` through, with bursts of up
 * to `burst`. Each (policy, key) pair has a bucket: it holds up to burst
 * tokens, refills continuously, and a request takes one. The buckets live
 * in one open-addressed table of a size fixed at creation: a lookup probes
 * at most ACL_RL_PROBES slots, so a request costs the same however many
 * clients there are. A new key takes a free slot, else the slot of a
 * bucket that has refilled to full (forgetting it loses nothing: a new
 * bucket starts full), else the bucket nearest to full among the probed
 * ones - which loosens the limit for that one key, and is counted
 * (`evicted`) so an operator can size the table.
 *
 * Keys are hashed with a seed the caller picks at random (FNV-1a over the
 * seed, the policy id and the key): only the 64-bit hash is kept, and a
 * client cannot aim its keys at another client's slots without the seed.
 */
#ifndef ACL_RATELIMIT_H
#define ACL_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#define ACL_RL_PROBES 8
#define ACL_RL_MIN_ENTRIES 64
#define ACL_RL_MAX_ENTRIES (16u * 1024 * 1024)

struct acl_rl;

struct acl_rl_policy {
    uint32_t id;                /* stable across reloads (a hash of its name) */
    uint64_t rate;              /* requests ... */
    int64_t period_ms;          /* ... per this long */
    uint64_t burst;             /* bucket size, >= 1 */
};

struct acl_rl_verdict {
    int allowed;
    uint64_t remaining;         /* whole tokens left after this request */
    int64_t retry_after_ms;     /* refused: when one token is back */
    int64_t full_in_ms;         /* when the bucket is full again */
};

struct acl_rl_stats {
    size_t entries, capacity;
    unsigned long long evicted; /* buckets dropped before they were full */
};

/* A table of at least `entries` slots (rounded up to a power of two,
 * within ACL_RL_MIN_ENTRIES..ACL_RL_MAX_ENTRIES); NULL when out of memory. */
struct acl_rl *acl_rl_new(size_t entries, uint64_t seed);
/* Only a table of acl_rl_new. NULL: no-op. */
void acl_rl_free(struct acl_rl *t);

/* The same table in the caller's memory (memory that several processes
 * share, made before they fork: the table holds no pointer). The bytes a
 * table of `entries` needs; then the table in mem (size bytes, zeroed
 * here), NULL when size is short. Not freed with acl_rl_free. The table
 * has no lock: callers that share it serialise acl_rl_take themselves. */
size_t acl_rl_size(size_t entries);
struct acl_rl *acl_rl_init(void *mem, size_t size, size_t entries, uint64_t seed);

/* Take one token for key under p at time now_ms (monotonic). With
 * commit 0, only say what taking would do (nothing is taken): a request
 * that several limits judge takes from each only when all let it pass. */
void acl_rl_take(struct acl_rl *t, const struct acl_rl_policy *p,
                 const void *key, size_t keylen, int64_t now_ms, int commit,
                 struct acl_rl_verdict *v);

void acl_rl_get_stats(const struct acl_rl *t, struct acl_rl_stats *st);

#endif
