/*
 * ipcount.h - open connections per client address, for the maxconn ACL
 * and limits.client_bandwidth: a fixed table of addresses with a count
 * each. IPv4-mapped IPv6 addresses count as their IPv4 form. The client
 * side adds a connection when it accepts one and drops it when the
 * connection closes (or its client leaves a fetch that goes on).
 *
 * Each worker has its own table, in its slot of shared memory (shared.h),
 * written by that worker only; a client's count across the machine is
 * the sum over the live workers' tables (sl_ipcount_total), read without
 * a lock: a count another worker is changing is off by one for an
 * instant. A dead worker's table is ignored, and cleared for the worker
 * that takes its slot. The table is fixed: an address looks at
 * SL_IPC_PROBE entries, and one that finds no room is not counted (as
 * when memory ran out before).
 */
#ifndef SL_IPCOUNT_H
#define SL_IPCOUNT_H

#include <stdint.h>
#include <sys/socket.h>

#define SL_IPC_N 8192           /* addresses a worker tracks at once */
#define SL_IPC_PROBE 32

struct sl_ipcount {
    volatile uint32_t count;    /* 0: a free entry */
    int32_t family;
    unsigned char addr[16];
};

struct sl_ipcounts {
    struct sl_ipcount e[SL_IPC_N];
};

/* Empty t (a new worker in the slot). */
void sl_ipcounts_clear(struct sl_ipcounts *t);

/* One more connection from sa: its entry (NULL when sa is not IP or no
 * entry is free within reach: then it is not counted). An entry stays
 * where it is while its count is above zero. */
struct sl_ipcount *sl_ipcounts_add(struct sl_ipcounts *t, const struct sockaddr *sa);
/* One connection of e's address fewer. NULL: no-op. */
void sl_ipcounts_drop(struct sl_ipcounts *t, struct sl_ipcount *e);
/* Open connections from e's address in this table. */
unsigned sl_ipcount_n(const struct sl_ipcount *e);
/* ... and in the n other tables too (the other live workers'). */
unsigned sl_ipcount_total(const struct sl_ipcount *e,
                          const struct sl_ipcounts *const *others, size_t n);

#endif
