/*
 * peer.h - parent proxies at run time: each peer's live state (requests,
 * connect failures, ejection) and the order in which the peers allowed
 * for a request are tried (consistent hashing, backend_pick.h's ring: each
 * destination host has its own parent, so each parent caches its share,
 * as Squid's CARP does).
 *
 * One struct sl_peers per configuration snapshot (built with it, freed
 * with it); a reload adopts the old one's state peer by peer (same name).
 * The live state is the loop's alone: one thread touches it.
 */
#ifndef SL_PEER_H
#define SL_PEER_H

#include <stddef.h>
#include <stdint.h>

#include "squidlike/conf.h"

/* NULL with errno when out of memory. ps must outlive it (the snapshot's). */
struct sl_peers *sl_peers_new(const struct sl_conf_peers *ps);
/* NULL: no-op. */
void sl_peers_free(struct sl_peers *p);
/* Take over old's ejections and counters (a reload), by peer name. */
void sl_peers_adopt(struct sl_peers *p, const struct sl_peers *old);

/*
 * The peers allowed[i] != 0 in the order to try them for key (the
 * destination host): the ones not ejected first, in the ring's order from
 * key (the first is the key's owner among them; the next ones are where
 * its keys go when it is down), then the ejected ones in the same way.
 * out gets up to SL_CONF_MAX_PEERS indices; returns how many, and *nup
 * how many of them come before the ejected ones.
 */
size_t sl_peers_order(struct sl_peers *p, const unsigned char *allowed,
                      const void *key, size_t keylen, int64_t now_ms,
                      int *out, size_t *nup);
/* A request goes to peer idx (counted). */
void sl_peers_sent(struct sl_peers *p, int idx);
/* What connecting to peer idx gave: ok, or a failure, which ejects it
 * for its eject_time, doubled with each ejection in a row up to
 * eject_max (a success ends the run). 1 when this failure ejected it. */
int sl_peers_result(struct sl_peers *p, int idx, int ok, int64_t now_ms);

/* A peer as the status page and /metrics show it. */
struct sl_peer_info {
    int ejected;
    int64_t ejected_until_ms;
    unsigned long long requests, failures, ejections;
};
void sl_peers_info(const struct sl_peers *p, int idx, int64_t now_ms,
                   struct sl_peer_info *out);
const struct sl_conf_peers *sl_peers_conf(const struct sl_peers *p);

#endif
