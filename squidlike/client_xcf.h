/*
 * client_xcf.h - collapsed forwarding across worker processes (see
 * client_xcf.c). Used by the client side (client_collapse.c, the
 * background fetches) and by shared.c, which makes the table.
 */
#ifndef SL_CLIENT_XCF_H
#define SL_CLIENT_XCF_H

#include <stddef.h>
#include <stdint.h>

#include "cache/inflight.h"
#include "squidlike/loop.h"

struct sl_client;
struct sl_server;
struct sl_shared;

#define XCF_POLL_MS 5           /* how often a waiter looks at the table */
#define XCF_ALIVE_EVERY 20      /* polls between looks at the owner's pid */
#define XCF_HINT_MS 2000        /* "it is in the store now" lasts this long */
#define XCF_TRIES 4             /* claims per request; then it goes alone */

/* A process's waiters on other workers' fetches (in its cfwd table). */
struct xcf_local {
    struct sl_loop *loop;
    struct sl_client *waiters;  /* linked by xcf_next / xcf_prev */
    struct sl_timer poll;       /* armed while there are waiters */
    unsigned ticks;
};

/* Make the shared table (before fork; kept across reloads). 0 or -1. */
int xcf_prepare(struct sl_shared *sh, char *err, size_t errlen);

void xcf_local_init(struct xcf_local *x, struct sl_loop *loop);
void xcf_local_stop(struct xcf_local *x);

/* The shared table when this process is one of several workers, else
 * NULL (a single process collapses on its own, as before). */
struct cache_infl *xcf_table(const struct sl_client *c);

/*
 * A miss for c on primary key key[0..klen) that no local entry fetches:
 * 1 when c now waits on another worker's fetch (CL_WAIT) or was served
 * from the store that fetch just filled; 0 when c fetches it, with *tk
 * its claim (seq 0: none, collapsing locally only). flags: XCF_AGAIN
 * after a wait whose object the store did not have, XCF_RESUMED after
 * any wait, XCF_PEEK to wait on a fetch but never claim one (0 then
 * means: nobody fetches it).
 */
#define XCF_AGAIN 0x1
#define XCF_RESUMED 0x2
#define XCF_PEEK 0x4            /* join only (a range): never lead */
int xcf_begin(struct sl_client *c, struct xcf_local *x, const char *key, size_t klen,
              int flags, struct cache_infl_ticket *tk);
/* c leaves the waiters (no-op when it is not one). */
void xcf_unwait(struct sl_client *c);
/* The owner moves its claim on (cache_infl_set); a final state (DONE,
 * PASS, ABORTED, FREE) ends the claim: tk->seq becomes 0. */
void xcf_set(struct cache_infl *t, struct cache_infl_ticket *tk, int state,
             int64_t until_ms);

/* A background revalidation of key: 1 to start it (*tk its claim, or seq
 * 0), 0 when another worker runs one. xcf_reval_done when it ends. */
int xcf_reval_claim(struct sl_server *srv, const char *key, size_t klen,
                    struct cache_infl_ticket *tk);
void xcf_reval_done(struct sl_server *srv, struct cache_infl_ticket *tk);

#endif
