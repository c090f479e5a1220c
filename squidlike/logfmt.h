/*
 * logfmt.h - one access.log line, in the format the configuration names
 * (access_log_format). Pure: it formats into the caller's buffer and
 * touches no file; log.c hands the line to the access log.
 *
 *   squid     %ts.%03tu %6tr %>a %Ss/%03>Hs %<st %rm %ru %[un %Sh/%<a %mt
 *   common    %>a %[ui %[un [%tl] "%rm %ru HTTP/%rv" %>Hs %<st %Ss:%Sh
 *   combined  %>a %[ui %[un [%tl] "%rm %ru HTTP/%rv" %>Hs %<st
 *             "%{Referer}>h" "%{User-Agent}>h" %Ss:%Sh
 *   json      {"time":..., "elapsed_ms":..., ...} (field list in logfmt.c)
 *
 * These are Squid's own definitions of its built-in formats (squid.conf
 * logformat). %tl is local time, "28/Nov/2026:01:49:21 +0000"; %[ui (ident)
 * is always "-"; a request that could not be parsed has HTTP/0.0, as in
 * Squid.
 */
#ifndef SL_LOGFMT_H
#define SL_LOGFMT_H

#include <stddef.h>

#include "squidlike/log.h"

/* Room for the longest line any record makes (every field at its cap). */
#define SL_LOGFMT_LINE_MAX 32768

/* Longest Referer / User-Agent value worth keeping for the log. */
#define SL_LOGFMT_HDR_KEEP 512

/*
 * Format a into out (size bytes, at least 2): one line ending in '\n',
 * whatever a holds. Returns its length (no NUL is added). A line that would
 * not fit is cut field by field, never inside an escape; with size
 * SL_LOGFMT_LINE_MAX nothing is cut but values longer than their caps.
 */
size_t sl_logfmt_access(const struct sl_log_access *a, char *out, size_t size);

#endif
