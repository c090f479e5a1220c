/*
 * query.h - a request target's query, read and edited (the API gateway:
 * an API key in a parameter, a route's parameters added and removed).
 * Pure: views in, bytes into a bounded buffer out.
 *
 * A query is what follows the first '?' of the target, "&"-separated
 * parameters "name=value" (or a bare "name"). Names compare after
 * percent-decoding and '+' as space (the application/x-www-form-urlencoded
 * reading most servers apply), so "api%5Fkey" is the "api_key" parameter:
 * what the gateway reads as the key is what it removes.
 */
#ifndef FLT_QUERY_H
#define FLT_QUERY_H

#include <stddef.h>
#include <sys/types.h>

#include "squidlike/buf.h"

#define FLT_QUERY_MAX_EDITS 16

/*
 * The first parameter named name in query (no '?'): its value decoded into
 * out (NUL-terminated). Returns its length, -ENOENT when there is none,
 * -ENOSPC when it does not fit in outlen - 1, -EINVAL when it decodes to
 * a NUL or a bad escape ("%zz").
 */
ssize_t flt_query_get(struct sl_view query, const char *name, char *out, size_t outlen);

/*
 * Append to out the query edited: every parameter whose name is one of
 * remove[0..nremove) left out, the others kept as they were sent, then
 * add ("a=1&b=2", already encoded; NULL or "" for none). A '?' first
 * unless nothing is left. A parameter whose name does not decode is kept.
 * 0, or -ENOSPC (out holds a partial query: the caller discards it).
 */
int flt_query_edit(struct sl_view query, const char *const *remove, size_t nremove,
                   const char *add, struct sl_buf *out);

/* Is s a parameter to add ("name=value" or "name", bytes a query may hold,
 * no '&' or '#')? 1 or 0. */
int flt_query_param_ok(const char *s);

#endif
