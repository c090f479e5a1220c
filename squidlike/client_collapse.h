/*
 * client_collapse.h - collapsed forwarding of concurrent misses (see
 * client_collapse.c).
 * Used by the client side only.
 */
#ifndef SL_CLIENT_COLLAPSE_H
#define SL_CLIENT_COLLAPSE_H

#include <stddef.h>
#include <stdint.h>

#include "squidlike/http.h"
#include "squidlike/loop.h"

struct sl_client;
struct cfwd_table;
struct cfwd_entry;

struct cfwd_table *cfwd_table_new(struct sl_loop *loop);
void cfwd_table_free(struct cfwd_table *t);
/* The process's waiters on other workers' fetches (client_xcf.c). */
struct xcf_local *cfwd_xcf(struct cfwd_table *t);

/*
 * A miss for c (key in c->ckey): returns 1 when c now waits on another
 * client's fetch (state CL_WAIT) or reads along it (CL_HIT), 0 when c
 * forwards (leading the entry for its key when it could create one).
 * flags: CFWD_RANGE lets a range request join (never lead); CFWD_JOIN_ONLY
 * creates no entry.
 */
#define CFWD_RANGE 0x1
#define CFWD_JOIN_ONLY 0x2
/* After a wait on another worker's fetch (client_xcf.c): XAGAIN, the store
 * did not have its object for c. */
#define CFWD_XAGAIN 0x4
#define CFWD_XRESUMED 0x8
/* Would this request wait on somebody else's fetch? Plain GETs only (no
 * conditionals, no Authorization); with CFWD_RANGE, ranges of one too (the
 * answer is cut from the whole object). */
int cfwd_may_wait(const struct sl_http_msg *m, int flags);
int cfwd_lead_or_join(struct sl_client *c, const struct sl_http_msg *m, int flags);
/* The leader's response head: head is the stored head (no final CRLF)
 * when the response is being stored, else NULL; vary its Vary value
 * (empty: none); length its body size (-1 when unknown: waiters are
 * released). */
void cfwd_head(struct sl_client *c, const char *head, size_t head_len,
             struct sl_view vary, int64_t length);
/* The leader stored body bytes up to written. */
void cfwd_body(struct sl_client *c, int64_t written);
/* The leader is done (complete: the whole body went to the store). */
void cfwd_end(struct sl_client *c, int complete);
/* After the store's flush: entries that ended are readable whole - or,
 * when the commit failed (ok 0), gone: their readers are cut. */
void cfwd_flushed(struct cfwd_table *t, int ok);
/* c leaves its entry (leader or waiter); no-op when it has none. */
void cfwd_detach(struct sl_client *c);
/* Does the fetch c leads have waiters or readers? */
int cfwd_readers(const struct sl_client *c);
/* A waiter reads body bytes at off: 0, -EAGAIN (not there yet), -errno. */
int cfwd_read(struct sl_client *c, int64_t off, const void **p, size_t *len);

#endif
