/*
 * http_int.h - what the message parser (http.c) shares with the chunked
 * body codec (chunk.c): the character classes, one table lookup per byte.
 * Not for use outside those two files.
 */
#ifndef SL_HTTP_INT_H
#define SL_HTTP_INT_H

#define C_TCHAR  0x01   /* token (RFC 9110 5.6.2) */
#define C_VCHAR  0x02   /* field value: HTAB, SP, VCHAR, obs-text */
#define C_TARGET 0x04   /* request-target: > 0x20 except DEL (obs-text ok) */
#define C_HOST   0x08   /* reg-name: unreserved, sub-delims, '%' (RFC 3986) */
#define C_HEX    0x10   /* HEXDIG */

extern const unsigned char sl_http_cls[256];

#endif
