/*
 * mgr.h - pages the proxy serves itself, for origin-form requests (a
 * request target starting with "/", sent to the proxy as to a web server).
 * The start of the manager pages of issue 5; today: the proxy auto-config
 * file at /proxy.pac and /wpad.dat (GET and HEAD), for clients in
 * access.allow_sources, generated from the pac group of the config
 * (filters/pac.h); and /metrics (GET and HEAD), the Prometheus text
 * exposition (metrics.h), and /squidlike/status.json, the status numbers
 * (status.h), both for clients on the proxy host only (loopback or
 * one of its interface addresses; a configurable manager ACL is to come). Other origin-form targets are not ours: the caller
 * answers them as before (400, "this is a proxy").
 *
 * Access log: a served page is logged "NONE/200" with HIER_NONE (neither
 * a cache hit nor a miss, like Squid's internal pages, so it never moves
 * the hit ratio); a refused client "TCP_DENIED/403".
 */
#ifndef SL_MGR_H
#define SL_MGR_H

#include "squidlike/http.h"

struct sl_client;

/*
 * If m (whose head is still in c->in) asks for one of our pages, answer it
 * (the reply is queued in c->out and the client is in CL_REPLY) and return
 * 1; the caller then consumes the head. Otherwise return 0, touching
 * nothing.
 */
int mgr_begin(struct sl_client *c, const struct sl_http_msg *m);

#endif
