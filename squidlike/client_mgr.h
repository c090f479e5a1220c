/*
 * client_mgr.h - pages the proxy serves itself, for origin-form requests (a
 * request target starting with "/", sent to the proxy as to a web server),
 * GET and HEAD:
 *   /proxy.pac, /wpad.dat      the proxy auto-config file, generated from
 *                              the pac group (filters/pac.h), for clients
 *                              in access.allow_sources;
 *   /squidlike/status          the HTML dashboard (statuspage.c),
 *   /squidlike/status.json     the same numbers as JSON (status.h),
 *   /metrics                   the Prometheus exposition (metrics.h),
 *                              these three for the proxy host (loopback or
 *                              one of its interface addresses) and the
 *                              networks in manager.allow_sources.
 * Other origin-form targets are not ours: the caller answers them as
 * before (400, "this is a proxy") - except on a manager.listen port,
 * where anything else is refused with a 403.
 *
 * Access log: a served page is logged "NONE/200" with HIER_NONE (neither
 * a cache hit nor a miss, like Squid's internal pages, so it never moves
 * the hit ratio); a refused client "TCP_DENIED/403".
 */
#ifndef SL_CLIENT_MGR_H
#define SL_CLIENT_MGR_H

#include "squidlike/http.h"

struct sl_client;

/*
 * If m (whose head is still in c->in) asks for one of our pages, answer it
 * (the reply is queued in c->out and the client is in CL_REPLY) and return
 * 1; the caller then consumes the head. Otherwise return 0, touching
 * nothing (never on a manager-only connection: it is answered, if only
 * with a 403).
 */
int mgr_begin(struct sl_client *c, const struct sl_http_msg *m);

#endif
