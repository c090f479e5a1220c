/*
 * sni.h - read the server name a TLS client asks for (the SNI extension of
 * its ClientHello, RFC 8446 4.1.2 and RFC 6066 3) from the first bytes of
 * a CONNECT tunnel, without decrypting or changing anything. Pure.
 */
#ifndef FLT_SNI_H
#define FLT_SNI_H

#include <stddef.h>

#define FLT_SNI_FOUND 1         /* name copied (lowercase, NUL-terminated) */
#define FLT_SNI_NONE 0          /* a complete ClientHello without SNI */
#define FLT_SNI_AGAIN (-2)      /* need more bytes */
#define FLT_SNI_NOT_TLS (-1)    /* not a TLS ClientHello, or malformed */

/*
 * Parse p[0..len): the client's first bytes. The ClientHello may span
 * several TLS records; at most FLT_SNI_MAX_HELLO bytes are looked at
 * (beyond that: NOT_TLS). name must hold at least 256 bytes. A host name
 * with bytes outside [A-Za-z0-9.-_] is NOT_TLS (malformed).
 */
#define FLT_SNI_MAX_HELLO 16384
int flt_sni_parse(const unsigned char *p, size_t len, char *name,
                  size_t namelen);

#endif
