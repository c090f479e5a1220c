/*
 * ipcount.h - open connections per client address, for the maxconn ACL:
 * a small hash table of addresses with a count each. IPv4-mapped IPv6
 * addresses count as their IPv4 form. One table per server; the client
 * side adds a connection when it accepts one and drops it when the
 * connection closes (or its client leaves a fetch that goes on).
 */
#ifndef SL_IPCOUNT_H
#define SL_IPCOUNT_H

#include <sys/socket.h>

struct sl_ipcounts;
struct sl_ipcount;

/* NULL when out of memory. */
struct sl_ipcounts *sl_ipcounts_new(void);
/* Frees the table and every entry left. NULL: no-op. */
void sl_ipcounts_free(struct sl_ipcounts *t);

/* One more connection from sa: its entry (NULL when sa is not IP or
 * memory ran out: then it is not counted). */
struct sl_ipcount *sl_ipcounts_add(struct sl_ipcounts *t, const struct sockaddr *sa);
/* One connection of e's address fewer (the entry goes at zero). NULL:
 * no-op. */
void sl_ipcounts_drop(struct sl_ipcounts *t, struct sl_ipcount *e);
/* Open connections from e's address. */
unsigned sl_ipcount_n(const struct sl_ipcount *e);

#endif
