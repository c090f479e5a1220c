/*
 * dns.h - asynchronous name resolution with a bounded, TTL-respecting cache.
 *
 * c-ares does the talking (A and AAAA, /etc/hosts first); its sockets and
 * timeouts are driven by our loop. In front of it sits a cache of at most
 * cache_size names: positive answers live for their TTL (capped by
 * max_ttl), "no such name" and "no address" answers for negative_ttl;
 * timeouts and server failures are not cached. Concurrent lookups of one
 * name share one query.
 */
#ifndef SL_DNS_H
#define SL_DNS_H

#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>

#include "squidlike/conf.h"
#include "squidlike/hist.h"
#include "squidlike/loop.h"

#define SL_DNS_MAX_ADDRS 8

enum sl_dns_status {
    SL_DNS_OK = 0,
    SL_DNS_NXDOMAIN,            /* no such name, or no address for it */
    SL_DNS_TIMEOUT,
    SL_DNS_FAIL                 /* server failure, refused, bad answer */
};

union sl_sockaddr {
    struct sockaddr sa;
    struct sockaddr_in in;
    struct sockaddr_in6 in6;
};

struct sl_dns_result {
    enum sl_dns_status status;
    size_t n;
    union sl_sockaddr addr[SL_DNS_MAX_ADDRS];   /* port 0 */
};

struct sl_dns;
struct sl_dns_waiter;
struct sl_dns_entry;

typedef void (*sl_dns_cb)(struct sl_dns_waiter *w,
                          const struct sl_dns_result *res);

/* Embedded in the caller's object; the cache links it while it waits. */
struct sl_dns_waiter {
    struct sl_dns_waiter *next, *prev;
    struct sl_dns_entry *entry; /* NULL when not waiting */
    sl_dns_cb cb;
    void *data;
};

/* Returns NULL with err filled on failure. */
struct sl_dns *sl_dns_new(struct sl_loop *loop, const struct sl_conf_dns *conf,
                          char *err, size_t errlen);
/*
 * Apply new settings (reload). Queries in flight finish on the old c-ares
 * channel; new ones go to a new channel. The cache is kept unless the
 * nameservers changed. Returns 0 or -1 with err.
 */
int sl_dns_configure(struct sl_dns *dns, const struct sl_conf_dns *conf,
                     char *err, size_t errlen);
/* Frees everything; waiters must have been cancelled. */
void sl_dns_free(struct sl_dns *dns);

/*
 * Resolve name (a hostname, not an IP literal; one trailing dot, as in
 * "localhost.", is ignored). Returns 0 with *res filled
 * when the answer is known now (cache), 1 when w->cb will be called later
 * with the answer (exactly once, unless sl_dns_cancel is called first).
 */
int sl_dns_resolve(struct sl_dns *dns, const char *name,
                   struct sl_dns_waiter *w, struct sl_dns_result *res);
/* Stop waiting; w->cb will not be called. No-op when not waiting. */
void sl_dns_cancel(struct sl_dns_waiter *w);

struct sl_dns_stats {
    unsigned long long lookups, hits, misses, negative_hits, queries;
    size_t entries;
    struct sl_hist time;        /* queries: sent to answered (or failed) */
};
void sl_dns_get_stats(const struct sl_dns *dns, struct sl_dns_stats *st);

#endif
