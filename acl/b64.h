/*
 * b64.h - strict base64 decoding (RFC 4648): the standard alphabet with
 * its padding (Basic credentials) and the URL alphabet without (JWS).
 * Pure.
 */
#ifndef ACL_B64_H
#define ACL_B64_H

#include <stddef.h>

/* Standard base64: padded to a multiple of 4, '=' only at the end, unused
 * bits zero. The decoded length, or -1 when malformed or longer than
 * outmax. */
long acl_b64_decode(const char *s, size_t n, unsigned char *out, size_t outmax);

/* base64url as JWS writes it: only the alphabet, no '=', no length of
 * 4k+1, unused bits zero. The decoded length, or -1. */
long acl_b64url_decode(const char *s, size_t n, unsigned char *out, size_t outmax);

#endif
