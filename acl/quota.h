/*
 * quota.h - request quotas per consumer and window (pure: no clock, no
 * I/O; the caller gives the Unix time and the consumer's name).
 *
 * A policy lets `requests` requests through per window: a UTC calendar
 * day, a UTC calendar month, or a fixed length aligned to multiples of
 * it since the Unix epoch ("10s" windows start at :00, :10, ...). Each
 * (policy, consumer) pair has one counter for the current window; the
 * first request of a later window finds its counter's window passed and
 * starts again from zero.
 *
 * The counters live in one open-addressed table of a size fixed at
 * creation, in memory the caller gives (a file mapping that several
 * processes share: the table holds no pointer, and carries a magic and
 * its geometry so that a mapping of a stale file can be recognised). A
 * lookup probes at most ACL_QUOTA_PROBES slots. A counter whose window
 * has passed is free for anyone. When every probed slot holds a live
 * counter of another key, the request is let through uncounted and the
 * table counts it (`full`): the operator's table is too small, which the
 * caller's sizing (twice the configured counters, at least) makes a
 * matter of bad luck, and refusing a paying consumer for our want of room
 * would be the worse failure.
 *
 * A counter's key is a 64-bit hash of the policy id and the consumer
 * name, the same in every table (so that counts carry over into a table
 * of another size); the table's seed only decides where keys land.
 * Consumer names come from the configuration, never from a client, so
 * nobody can aim keys at a neighbourhood.
 */
#ifndef ACL_QUOTA_H
#define ACL_QUOTA_H

#include <stddef.h>
#include <stdint.h>

#define ACL_QUOTA_PROBES 32
#define ACL_QUOTA_MIN_ENTRIES 64
#define ACL_QUOTA_MAX_ENTRIES (16u * 1024 * 1024)

struct acl_quota;

enum acl_quota_period {
    ACL_QUOTA_FIXED = 0,        /* period_s long, aligned to the epoch */
    ACL_QUOTA_DAY,              /* a UTC calendar day */
    ACL_QUOTA_MONTH             /* a UTC calendar month */
};

struct acl_quota_policy {
    uint32_t id;                /* stable across reloads (a hash of its name) */
    uint64_t requests;          /* per window, >= 1 */
    enum acl_quota_period period;
    int64_t period_s;           /* ACL_QUOTA_FIXED: >= 1 */
};

struct acl_quota_verdict {
    int allowed;
    int uncounted;              /* allowed only because the table had no room */
    uint64_t used;              /* counted in this window, this request included
                                   when it was committed */
    uint64_t remaining;         /* requests left in this window */
    int64_t window_start, window_end;  /* Unix seconds: [start, end) */
};

struct acl_quota_stats {
    size_t entries;             /* slots holding a counter (live or passed) */
    size_t capacity;
    unsigned long long full;    /* requests let through uncounted: no room */
};

/* The window of p holding Unix time now: [*start, *end). */
void acl_quota_window(const struct acl_quota_policy *p, int64_t now,
                      int64_t *start, int64_t *end);

/* The bytes a table of at least `entries` counters needs (rounded up to a
 * power of two within ACL_QUOTA_MIN_ENTRIES..ACL_QUOTA_MAX_ENTRIES). */
size_t acl_quota_size(size_t entries);
/* A new, empty table in mem (size bytes, zeroed here); NULL when size is
 * short. The caller owns mem. The table has no lock: callers that share
 * it serialise acl_quota_take and acl_quota_carry themselves. */
struct acl_quota *acl_quota_init(void *mem, size_t size, size_t entries, uint64_t seed);
/* The table already in mem (a file mapped again, after a restart); NULL
 * when mem is not a whole table of this version fitting in size bytes. */
struct acl_quota *acl_quota_attach(void *mem, size_t size);

/* Judge one request of consumer (n bytes) under p at Unix time now; with
 * commit 1 count it when allowed, with 0 only say what counting would do
 * (a request that several quotas judge counts in each only when all let
 * it through). */
void acl_quota_take(struct acl_quota *t, const struct acl_quota_policy *p,
                    const char *consumer, size_t n, int64_t now, int commit,
                    struct acl_quota_verdict *v);

/* Copy the counters of src whose window has not passed at now into dst
 * (where dst has one for the same key and window, the larger count
 * stays). Returns how many found no room in dst. */
size_t acl_quota_carry(struct acl_quota *dst, const struct acl_quota *src, int64_t now);

void acl_quota_get_stats(const struct acl_quota *t, struct acl_quota_stats *st);

#endif
