/*
 * client_bgfetch.h - fetches of our own in the background, through the normal
 * pipeline: revalidation (RFC 5861 stale-while-revalidate: while a client
 * is served a stale response, the proxy asks itself for the URL again with
 * "Cache-Control: no-cache" over a socket pair and throws the answer away:
 * the revalidation refreshes or replaces what is stored), and the whole
 * object for a Range miss (a client-less fetch that range requests read
 * along).
 */
#ifndef SL_CLIENT_BGFETCH_H
#define SL_CLIENT_BGFETCH_H

#include <stdint.h>

#include "squidlike/http.h"
#include "squidlike/dns.h"

struct sl_server;

#define SL_BGFETCH_MAX 64       /* concurrent background revalidations */

/*
 * Revalidate url in the background with the fields of req that select its
 * variant (everything but conditionals, ranges, cache and hop-by-hop
 * fields). At most one per key at a time; silently skipped when too many
 * run. flags: SL_BG_REVERSE, the fetch goes through reverse mode's
 * pipeline (url's authority names the site), as the request it refreshes
 * did; SL_BG_HTTPS, that request came over TLS. Returns 1 when started.
 */
#define SL_BG_REVERSE 0x1     /* reverse mode's pipeline */
#define SL_BG_HTTPS 0x2       /* ... for a site asked over TLS */
#define SL_BG_IDENTITY 0x4    /* without Accept-Encoding: the identity
                                 variant (a range's whole object) */
int sl_bgfetch_start(struct sl_server *srv, const char *url, const char *key,
                     size_t klen, const struct sl_http_msg *req, int flags);
/*
 * Fetch all of url in the background for a Range miss (Squid's
 * range_offset_limit), with the fields of req that select its variant: a
 * fetch of our own with no client (bg_start_clientless) that leads the
 * collapsed-forwarding entry of the URL, so that range requests can read
 * their part as it arrives. Stored only when the body is at most limit.
 * client: who asked (to_localhost judges the fetch as that client's).
 * flags: as for sl_bgfetch_start. Returns 1 when started.
 */
int sl_bgfetch_whole(struct sl_server *srv, const char *url,
                     const struct sl_http_msg *req, const union sl_sockaddr *client,
                     uint64_t limit, int flags);
/* Stop every background fetch (shutdown). */
void sl_bgfetch_stop_all(struct sl_server *srv);

#endif
