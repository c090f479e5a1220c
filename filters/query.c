/*
 * query.c - read and edit a query's parameters (query.h).
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "filters/query.h"
#include "squidlike/chars.h"

/* Decode s[0..n) (%XX, '+' as space) into out[0..cap); its length, or
 * -EINVAL (a bad escape, a NUL), -ENOSPC. */
static ssize_t decode(const char *s, size_t n, char *out, size_t cap)
{
    size_t i, o = 0;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= n || !sl_is_hex(s[i + 1]) || !sl_is_hex(s[i + 2]))
                return -EINVAL;
            c = (unsigned char)(sl_hex_val((unsigned char)s[i + 1]) << 4 |
                                sl_hex_val((unsigned char)s[i + 2]));
            i += 2;
            if (c == 0)
                return -EINVAL;
        } else if (c == '+') {
            c = ' ';
        }
        if (o + 1 >= cap)
            return -ENOSPC;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return (ssize_t)o;
}

/* The next parameter of q from *pos: [*ps, *pe) whole, the name's end *ne. */
static int next_param(struct sl_view q, size_t *pos, size_t *ps, size_t *pe, size_t *ne)
{
    size_t i = *pos;

    if (i >= q.len)
        return 0;
    *ps = i;
    while (i < q.len && q.base[i] != '&')
        i++;
    *pe = i;
    *pos = i + 1;
    for (*ne = *ps; *ne < *pe && q.base[*ne] != '='; (*ne)++)
        ;
    return 1;
}

static int name_is(struct sl_view q, size_t ps, size_t ne, const char *name)
{
    char buf[256];
    ssize_t n = decode(q.base + ps, ne - ps, buf, sizeof(buf));

    return n >= 0 && (size_t)n == strlen(name) && memcmp(buf, name, (size_t)n) == 0;
}

ssize_t flt_query_get(struct sl_view query, const char *name, char *out, size_t outlen)
{
    size_t pos = 0, ps, pe, ne;

    while (next_param(query, &pos, &ps, &pe, &ne))
        if (name_is(query, ps, ne, name))
            return decode(query.base + (ne < pe ? ne + 1 : pe),
                          ne < pe ? pe - ne - 1 : 0, out, outlen);
    return -ENOENT;
}

int flt_query_edit(struct sl_view query, const char *const *remove, size_t nremove,
                   const char *add, struct sl_buf *out)
{
    size_t pos = 0, ps, pe, ne, i;
    int first = 1;

    while (next_param(query, &pos, &ps, &pe, &ne)) {
        for (i = 0; i < nremove; i++)
            if (name_is(query, ps, ne, remove[i]))
                break;
        if (i < nremove || pe == ps)
            continue;           /* removed, or an empty parameter ("a&&b") */
        if (sl_buf_append(out, first ? "?" : "&", 1) < 0 ||
            sl_buf_append(out, query.base + ps, pe - ps) < 0)
            return -ENOSPC;
        first = 0;
    }
    if (add != NULL && add[0] != '\0' &&
        (sl_buf_append(out, first ? "?" : "&", 1) < 0 ||
         sl_buf_append(out, add, strlen(add)) < 0))
        return -ENOSPC;
    return 0;
}

int flt_query_param_ok(const char *s)
{
    size_t i;

    if (s[0] == '\0' || s[0] == '=')
        return 0;
    for (i = 0; s[i]; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f || c == '&' || c == '#' || c == '"' || c == '<' ||
            c == '>' || c == '\\' || c == '^' || c == '`' || c == '{' || c == '|' ||
            c == '}')
            return 0;
    }
    return 1;
}
