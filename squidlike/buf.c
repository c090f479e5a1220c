/*
 * buf.c - owning buffers and borrowed views (see buf.h).
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "squidlike/buf.h"
#include "squidlike/chars.h"

int sl_buf_init(struct sl_buf *b, size_t size)
{
    b->start = malloc(size ? size : 1);
    if (b->start == NULL) {
        b->end = b->pos = b->last = NULL;
        return -ENOMEM;
    }
    b->end = b->start + size;
    b->pos = b->last = b->start;
    return 0;
}

void sl_buf_free(struct sl_buf *b)
{
    free(b->start);
    b->start = b->end = b->pos = b->last = NULL;
}

int sl_buf_reserve(struct sl_buf *b, size_t want, size_t limit)
{
    size_t len, size, nsize;
    char *p;

    if (sl_buf_space(b) >= want)
        return 0;
    len = sl_buf_len(b);
    size = sl_buf_size(b);
    if (size - len >= want) {
        /* Enough room once the consumed prefix is dropped. */
        memmove(b->start, b->pos, len);
        b->pos = b->start;
        b->last = b->start + len;
        return 0;
    }
    if (len + want > limit)
        return -ENOSPC;
    nsize = size ? size : 256;
    while (nsize < len + want)
        nsize *= 2;
    if (nsize > limit)
        nsize = limit;
    p = malloc(nsize);
    if (p == NULL)
        return -ENOMEM;
    if (len)
        memcpy(p, b->pos, len);
    free(b->start);
    b->start = p;
    b->end = p + nsize;
    b->pos = p;
    b->last = p + len;
    return 0;
}

int sl_buf_append(struct sl_buf *b, const void *p, size_t n)
{
    if (sl_buf_space(b) < n)
        return -ENOSPC;
    if (n) {
        memcpy(b->last, p, n);
        b->last += n;
    }
    return 0;
}

static int buf_vprintf(struct sl_buf *b, const char *fmt, va_list ap)
{
    size_t space = sl_buf_space(b);
    int n = vsnprintf(b->last, space, fmt, ap);

    if (n < 0 || (size_t)n >= space)
        return -ENOSPC;
    b->last += n;
    return 0;
}

int sl_buf_printf(struct sl_buf *b, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

void sl_bufw_printf(struct sl_bufw *w, const char *fmt, ...)
{
    va_list ap;

    if (w->rc < 0)
        return;
    va_start(ap, fmt);
    w->rc = buf_vprintf(w->out, fmt, ap);
    va_end(ap);
}

int sl_buf_append_html(struct sl_buf *b, const char *s)
{
    for (; s != NULL && *s != '\0'; s++) {
        unsigned char ch = (unsigned char)*s;
        const char *rep = NULL;
        size_t run = 0, room;

        switch (ch) {
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '&': rep = "&amp;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        }
        if (rep != NULL) {
            if (sl_buf_append(b, rep, strlen(rep)) < 0)
                return -ENOSPC;
            continue;
        }
        if (ch < 0x20 || ch == 0x7f)
            continue;
        /* A run of plain bytes in one copy. */
        while (s[run] != '\0' && !strchr("<>&\"'", s[run]) &&
               (unsigned char)s[run] >= 0x20 && s[run] != 0x7f)
            run++;
        room = sl_buf_space(b);
        memcpy(b->last, s, run < room ? run : room);
        b->last += run < room ? run : room;
        if (run > room)
            return -ENOSPC;
        s += run - 1;
    }
    return 0;
}

void sl_bufw_html(struct sl_bufw *w, const char *s)
{
    if (w->rc == 0)
        w->rc = sl_buf_append_html(w->out, s);
}

void sl_bufw_json(struct sl_bufw *w, const char *s)
{
    sl_bufw_printf(w, "\"");
    while (s != NULL && *s) {
        unsigned char ch = (unsigned char)*s;
        size_t u = ch >= 0x80 ? sl_utf8_len((const unsigned char *)s) : 0;

        if (u > 0)
            sl_bufw_printf(w, "%.*s", (int)u, s);
        else if (ch == '"' || ch == '\\')
            sl_bufw_printf(w, "\\%c", ch);
        else if (ch < 0x20 || ch >= 0x7f)
            sl_bufw_printf(w, "\\u%04x", ch);
        else
            sl_bufw_printf(w, "%c", ch);
        s += u > 0 ? u : 1;
    }
    sl_bufw_printf(w, "\"");
}

size_t sl_utf8_len(const unsigned char *p)
{
    unsigned cp;
    size_t n, i;

    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        n = 2;
        cp = p[0] & 0x1fu;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        n = 3;
        cp = p[0] & 0x0fu;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        n = 4;
        cp = p[0] & 0x07u;
    } else {
        return 0;
    }
    for (i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)      /* also stops at the NUL */
            return 0;
        cp = cp << 6 | (p[i] & 0x3fu);
    }
    if (n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)))
        return 0;               /* overlong, or a surrogate */
    if (n == 4 && (cp < 0x10000 || cp > 0x10ffff))
        return 0;
    return n;
}

int sl_view_ieq(struct sl_view v, const char *s)
{
    size_t i;

    for (i = 0; i < v.len; i++) {
        if (s[i] == 0 || sl_lower(v.base[i]) != sl_lower(s[i]))
            return 0;
    }
    return s[i] == 0;
}

int sl_view_ieq_view(struct sl_view a, struct sl_view b)
{
    size_t i;

    if (a.len != b.len)
        return 0;
    for (i = 0; i < a.len; i++)
        if (sl_lower(a.base[i]) != sl_lower(b.base[i]))
            return 0;
    return 1;
}
