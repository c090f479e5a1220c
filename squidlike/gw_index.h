/*
 * gw_index.h - the gateway's consumers found by what a request carries:
 * the SHA-256 of an API key, a JWT's subject. Sorted arrays built once
 * with the config snapshot (conf_gw.c) and read-only afterwards.
 *
 * A key is found by its digest with a binary search: the comparisons leak
 * timing about the digest only, and learning a digest's bytes does not
 * help to find a key (a preimage); the final equality is CRYPTO_memcmp.
 */
#ifndef SL_GW_INDEX_H
#define SL_GW_INDEX_H

#include <stddef.h>

#include "squidlike/conf.h"

/* Build gw->index from gw->consumers. 0, or -1 with err: two consumers of
 * one name, one API key or one JWT subject given twice (*bad: the index
 * in gw->consumers of the later one, for its file and line), out of
 * memory (*bad: -1). */
int sl_gw_index_build(struct sl_conf_gateway *gw, char *err, size_t errlen, long *bad);
void sl_gw_index_free(struct sl_gw_index *ix);

/* NULL when no consumer holds it. */
const struct sl_conf_consumer *sl_gw_by_key(const struct sl_gw_index *ix,
                                            const unsigned char digest[32]);
const struct sl_conf_consumer *sl_gw_by_subject(const struct sl_gw_index *ix,
                                                const char *sub, size_t len);
const struct sl_conf_consumer *sl_gw_by_name(const struct sl_gw_index *ix,
                                             const char *name);

#endif
