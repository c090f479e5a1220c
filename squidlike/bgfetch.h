/*
 * bgfetch.h - background revalidation (RFC 5861 stale-while-revalidate):
 * while a client is served a stale response, the proxy asks itself for the
 * URL again with "Cache-Control: no-cache" over a socket pair, through the
 * normal pipeline, and throws the answer away: the revalidation refreshes
 * or replaces what is stored.
 */
#ifndef SL_BGFETCH_H
#define SL_BGFETCH_H

#include "squidlike/http.h"

struct sl_server;

#define SL_BGFETCH_MAX 64       /* concurrent background revalidations */

/*
 * Revalidate url in the background with the fields of req that select its
 * variant (everything but conditionals, ranges, cache and hop-by-hop
 * fields). At most one per key at a time; silently skipped when too many
 * run. Returns 1 when started.
 */
int sl_bgfetch_start(struct sl_server *srv, const char *url, const char *key,
                     size_t klen, const struct sl_http_msg *req);
/* Stop every background fetch (shutdown). */
void sl_bgfetch_stop_all(struct sl_server *srv);

#endif
