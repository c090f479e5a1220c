/*
 * encoding.h - content codings (RFC 9110 8.4.1, 12.5.3): what a client's
 * Accept-Encoding accepts, which of our codings it gets, the form of it a
 * cache key keeps, and whether a response may be compressed by us. Pure:
 * parsed messages in, decisions out.
 */
#ifndef FLT_ENCODING_H
#define FLT_ENCODING_H

#include <stddef.h>
#include <stdint.h>

#include "squidlike/http.h"

/* The codings we know by name: one bit each. Only gzip and br are ever
 * produced here; the others count for the cache key (a client that takes
 * zstd from an origin that sends it is not the same as one that does not). */
#define FLT_ENC_GZIP 0x01u
#define FLT_ENC_BR 0x02u
#define FLT_ENC_DEFLATE 0x04u
#define FLT_ENC_ZSTD 0x08u
#define FLT_ENC_COMPRESS 0x10u
#define FLT_ENC_N 5

/* What one request accepts. */
struct flt_ae {
    unsigned present;           /* the request has an Accept-Encoding field */
    unsigned accept;            /* FLT_ENC_* bits with q > 0 */
    unsigned star;              /* "*" with q > 0 (codings not named) */
    uint16_t q[FLT_ENC_N];      /* each known coding's weight, 0..1000 */
};

/* The bit of a coding name ("gzip", "x-gzip", "br", ... any case); 0 when
 * unknown. */
unsigned flt_enc_bit(const char *name, size_t len);
/* The name of one bit ("gzip"), NULL when not exactly one known bit. */
const char *flt_enc_name(unsigned bit);

/*
 * Accept-Encoding of req, every field line of it: "coding;q=w" elements.
 * A known coding's weight is its own element's (the first one naming it),
 * else that of "*", else 0. A weight that is not a qvalue (RFC 9110 12.4.2:
 * 0 to 1 with up to three decimals) makes its element refuse the coding:
 * hostile input never widens what is accepted. Never fails.
 */
void flt_ae_parse(const struct sl_http_msg *req, struct flt_ae *ae);

/*
 * The coding to send among offer[0..n) (FLT_ENC_* bits, in our order of
 * preference): the one of the highest weight above 0, the earlier on a
 * tie. 0: none (identity).
 */
unsigned flt_ae_choose(const struct flt_ae *ae, const unsigned *offer, size_t n);

/*
 * The request's Accept-Encoding as a cache key keeps it: the sorted set of
 * known codings it accepts and "*" when it takes codings it does not name
 * ("br,gzip", "br,gzip,*", "" for none), or "-" when the field is absent.
 * Requests of the same set share a variant whatever the order, spacing or
 * weights they wrote. Returns the length written (at most 40), or -1 when
 * n is too small.
 */
int flt_ae_key(const struct flt_ae *ae, char *out, size_t n);

/*
 * Is a response one we may compress (whatever the client accepts)? Its
 * status is 200, 403 or 404; it has no Content-Encoding other than
 * identity; its media type is one of types[0..ntypes) ("text/html"; an
 * entry ending in "/" and "*" takes a whole top-level type; parameters
 * and case ignored);
 * Content-Length is absent or at least min_length. The caller checks
 * Cache-Control's no-transform (cache_cc_parse) and the request's Range.
 */
int flt_zip_compressible(const struct sl_http_msg *resp, char *const *types,
                         size_t ntypes, int64_t min_length);

/* Does the Vary of m name Accept-Encoding (or "*")? */
int flt_vary_has_ae(const struct sl_http_msg *m);

#endif
