/*
 * pac.h - the proxy auto-config file (FindProxyForURL) written from a plain
 * description. Pure: no sockets, no DNS; a struct in, JavaScript into a
 * bounded buffer out.
 *
 * The decision the generated function makes, in order:
 *   1. a plain host name (no dot), when direct_plain is set  -> DIRECT
 *   2. a proxy's own host name                               -> DIRECT
 *   3. a host in domains: ".corp.example" is the domain and everything
 *      under it, "intranet.example" that host only (Squid's dstdomain)
 *                                                            -> DIRECT
 *   4. an IPv4 host, or the address dnsResolve(host) gives, inside one of
 *      nets (asked only when nets is not empty)              -> DIRECT
 *   5. otherwise "PROXY p1; PROXY p2; ..." (+ "; DIRECT" when
 *      direct_fallback is set). With spread, the list starts at proxy
 *      number flt_pac_hash(host) % n_proxies and wraps around, so each host
 *      has one home proxy (which caches it) and the others as failover.
 *
 * The spread hash is 32-bit FNV-1a over the bytes of the lowercased host
 * name (offset basis 0x811c9dc5, prime 0x01000193), computed in the PAC as
 *   h = 0x811c9dc5; for each c: h = Math.imul(h ^ c, 0x01000193) >>> 0;
 * Host names reach a PAC as ASCII (IDNs in punycode), so a JS character
 * code is a byte.
 *
 * Everything written into a JS string literal must first pass
 * flt_pac_check_proxy / flt_pac_check_domain (the config loader does it):
 * no quotes, backslashes, spaces or control characters can get through.
 */
#ifndef FLT_PAC_H
#define FLT_PAC_H

#include <stddef.h>
#include <stdint.h>

#include "squidlike/buf.h"

/* An IPv4 network, host byte order, addr already masked. */
struct flt_pac_net {
    uint32_t addr;
    uint32_t mask;
};

struct flt_pac {
    const char *const *proxies;     /* "host:port", at least one */
    size_t n_proxies;
    const char *const *domains;     /* ".suffix" or "exact.host" */
    size_t n_domains;
    const struct flt_pac_net *nets;
    size_t n_nets;
    int direct_plain;               /* plain host names go DIRECT */
    int direct_fallback;            /* end the proxy list with DIRECT */
    int spread;                     /* order proxies by host hash */
};

/*
 * Append the PAC file for p to out (which does not grow). Returns 0,
 * -ENOSPC (out then holds a prefix) or -EINVAL (no proxies, or an entry that
 * fails the checks below).
 */
int flt_pac_write(struct sl_buf *out, const struct flt_pac *p);

/* "host:port" with a DNS name, IPv4 or [IPv6] host and a port 1-65535.
 * Returns NULL when fine, else why not (a static string). */
const char *flt_pac_check_proxy(const char *s);
/* A domain: letters, digits, '-', '.', optional leading '.' (a suffix),
 * not empty, at most 253 bytes. NULL or why not. */
const char *flt_pac_check_domain(const char *s);
/* "A.B.C.D" or "A.B.C.D/N" (IPv4 only: PAC's isInNet has no IPv6).
 * Returns 0 or -1 with *why. Host bits past the prefix are cleared. */
int flt_pac_net_parse(const char *s, struct flt_pac_net *net, const char **why);

/* The spread hash (see above) of host[0..len), lowercased. */
uint32_t flt_pac_hash(const char *host, size_t len);

#endif
