/*
 * chars.h - the byte classes and the small text helpers every room shares:
 * RFC 9110 token characters, OWS, DIGIT, HEXDIG, ASCII case, OWS trimming
 * and the elements of a comma-separated list.
 *
 * Part of the base, with buf.h and http.h: pure (no state but one const
 * table), used by squidlike/, acl/, cache/ and filters/ alike, so that
 * "token" or "OWS" means one thing everywhere. Everything is ASCII and
 * locale-free (unlike <ctype.h>), and inline: the HTTP parser runs these
 * once per byte, so a class is one table lookup or one compare.
 */
#ifndef SL_CHARS_H
#define SL_CHARS_H

#include <stddef.h>
#include <string.h>

#include "squidlike/buf.h"

/* The classes of sl_char_class[]; a byte may be in several. */
#define SL_C_TCHAR  0x01    /* token (RFC 9110 5.6.2) */
#define SL_C_VCHAR  0x02    /* field value: HTAB, SP, VCHAR, obs-text */
#define SL_C_TARGET 0x04    /* request-target: > 0x20 except DEL (obs-text ok) */
#define SL_C_HOST   0x08    /* reg-name: unreserved, sub-delims, '%' (RFC 3986) */
#define SL_C_HEX    0x10    /* HEXDIG */

extern const unsigned char sl_char_class[256];

/* The SL_C_* classes of c. */
static inline unsigned sl_cls(char c)
{
    return sl_char_class[(unsigned char)c];
}

/* RFC 9110 tchar: method names, field names, list tokens. */
static inline int sl_is_tchar(char c)
{
    return (sl_cls(c) & SL_C_TCHAR) != 0;
}

static inline int sl_is_hex(char c)
{
    return (sl_cls(c) & SL_C_HEX) != 0;
}

/* The value of a byte that sl_is_hex() accepted. */
static inline int sl_hex_val(unsigned char c)
{
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

static inline int sl_is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static inline int sl_is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline int sl_is_alnum(char c)
{
    return sl_is_alpha(c) || sl_is_digit(c);
}

/* A byte of a host name as names are met in practice: letters, digits,
 * '-', '.' and '_' (not in RFC 1123, but in real names and blocklists). */
static inline int sl_is_host_char(char c)
{
    return sl_is_alnum(c) || c == '-' || c == '.' || c == '_';
}

/* OWS (RFC 9110 5.6.3): SP and HTAB. */
static inline int sl_is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* ASCII lowercase; every other byte (obs-text too) as it is. */
static inline char sl_lower(char c)
{
    unsigned char u = (unsigned char)c;

    return (char)((unsigned)(u - 'A') < 26u ? u + 32 : u);
}

/* URI scheme (RFC 3986 3.1): ALPHA *( ALPHA / DIGIT / "+" / "-" / "." );
 * first says whether c is the first byte. */
static inline int sl_is_scheme_char(char c, int first)
{
    if (sl_is_alpha(c))
        return 1;
    return !first && (sl_is_digit(c) || c == '+' || c == '-' || c == '.');
}

/* v without the OWS at either end. */
static inline struct sl_view sl_view_trim(struct sl_view v)
{
    while (v.len && sl_is_ows(v.base[0])) {
        v.base++;
        v.len--;
    }
    while (v.len && sl_is_ows(v.base[v.len - 1]))
        v.len--;
    return v;
}

/*
 * The next element of the comma-separated list in [*pp, end) (RFC 9110
 * 5.6.1), OWS trimmed, into *e; empty elements come back as empty views
 * (callers skip them). *pp walks the list and becomes NULL after the last
 * element. Returns 0 when done, 1 with an element.
 */
static inline int sl_list_next(const char **pp, const char *end,
                               struct sl_view *e)
{
    const char *p = *pp, *comma, *t;

    if (p == NULL)
        return 0;
    comma = memchr(p, ',', (size_t)(end - p));
    t = comma ? comma : end;
    *pp = comma ? comma + 1 : NULL;
    while (p < t && sl_is_ows(*p))
        p++;
    while (t > p && sl_is_ows(t[-1]))
        t--;
    *e = sl_view_from(p, t);
    return 1;
}

#endif
