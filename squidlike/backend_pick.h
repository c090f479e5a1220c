/*
 * backend_pick.h - which backend of a pool takes a request: the balancing
 * algorithms of reverse mode, pure (no I/O, no clock; randomness and keys
 * come from the caller), so that each is unit-tested with plain inputs.
 *
 * The pool's live state is the caller's array of struct sl_pick_backend,
 * one per backend in the pool's order. A backend that is not up (health
 * checks, ejection, its connection limit) is never chosen; every function
 * returns the chosen index, or -1 when no backend is up.
 */
#ifndef SL_BACKEND_PICK_H
#define SL_BACKEND_PICK_H

#include <stddef.h>
#include <stdint.h>

enum sl_pick_algo {
    SL_PICK_WRR = 0,            /* smooth weighted round-robin (nginx's) */
    SL_PICK_LEASTCONN,          /* fewest in flight per unit of weight */
    SL_PICK_HASH,               /* consistent hashing of a key */
    SL_PICK_P2C                 /* power of two random choices */
};

#define SL_PICK_MAX_WEIGHT 256

struct sl_pick_backend {
    unsigned weight;            /* 1..SL_PICK_MAX_WEIGHT */
    unsigned active;            /* requests in flight on it */
    int up;                     /* may be chosen */
    int64_t current;            /* smooth WRR's running weight; start at 0 */
};

/*
 * Smooth weighted round-robin over the up backends: each pick adds every
 * up backend's weight to its current, takes the largest (the first on a
 * tie), and subtracts the total from it. Over any run of sum(weight)
 * picks each backend is taken exactly weight times, spread out (5,1,1
 * gives a a b a c a a, not a a a a a b c). Updates b[].current.
 */
int sl_pick_wrr(struct sl_pick_backend *b, size_t n);

/*
 * Least connections: the up backend with the fewest active requests per
 * unit of weight (active / weight compared exactly, by cross
 * multiplication); among equals, the first at or after start (mod n), so
 * that a caller passing a rotating start spreads ties.
 */
int sl_pick_leastconn(const struct sl_pick_backend *b, size_t n, size_t start);

/*
 * Power of two random choices: two different up backends drawn from rnd
 * (the caller's random 64 bits), the one with fewer active per weight
 * (the first drawn on a tie). With one backend up, that one.
 */
int sl_pick_p2c(const struct sl_pick_backend *b, size_t n, uint64_t rnd);

/*
 * Consistent hashing: a ring of points per backend (SL_CHASH_POINTS per
 * unit of weight) placed by hashing the backend's id (its name, stable
 * across reloads and pool order), and a key's owner is the first point
 * clockwise whose backend is up. A backend that goes down moves only its
 * own keys (about 1/N of them), each to the next backend on the ring, and
 * gets them back when it returns.
 */
#define SL_CHASH_POINTS 160

struct sl_chash;

/* Build the ring for n backends (weights from b, ids[i] NUL-terminated).
 * NULL when out of memory. */
struct sl_chash *sl_chash_new(const struct sl_pick_backend *b, size_t n,
                              const char *const *ids);
/* NULL: no-op. */
void sl_chash_free(struct sl_chash *h);
/* The owner of key (a hash of the client address, a header, the URI:
 * sl_pick_key64 below). */
int sl_chash_pick(const struct sl_chash *h, const struct sl_pick_backend *b,
                  uint64_t key);

/* A 64-bit hash of a key's bytes, well mixed for the ring. */
uint64_t sl_pick_key64(const void *p, size_t n);

#endif
