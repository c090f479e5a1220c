/*
 * page.c - block page and redirect templates (see page.h).
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "filters/page.h"
#include "squidlike/chars.h"

/* RFC 3986 unreserved characters pass; everything else is %XX. */
static int put_url(struct sl_buf *out, const char *v)
{
    static const char hex[] = "0123456789ABCDEF";

    for (; *v; v++) {
        unsigned char ch = (unsigned char)*v;
        if (sl_is_alnum((char)ch) || strchr("-._~", ch)) {
            if (sl_buf_append(out, v, 1) < 0)
                return -ENOSPC;
        } else {
            char e[3] = { '%', hex[ch >> 4], hex[ch & 15] };
            if (sl_buf_append(out, e, 3) < 0)
                return -ENOSPC;
        }
    }
    return 0;
}

static const char *tag_value(const struct flt_page_tags *t, char tag)
{
    const char *v = NULL;

    switch (tag) {
    case 'U': v = t->url; break;
    case 'H': v = t->host; break;
    case 'c': v = t->category; break;
    case 'r': v = t->rule; break;
    case 'a': v = t->acl; break;
    case 'i': v = t->client; break;
    case 'T': v = t->time; break;
    case 's': v = t->server; break;
    default: return NULL;
    }
    return v ? v : "-";
}

int flt_page_expand(const char *tpl, const struct flt_page_tags *tags,
                    enum flt_page_escape esc, struct sl_buf *out)
{
    const char *p = tpl, *pct;

    while ((pct = strchr(p, '%')) != NULL) {
        const char *v;
        if (sl_buf_append(out, p, (size_t)(pct - p)) < 0)
            return -ENOSPC;
        if (pct[1] == '%') {
            if (sl_buf_append(out, "%", 1) < 0)
                return -ENOSPC;
            p = pct + 2;
            continue;
        }
        v = pct[1] ? tag_value(tags, pct[1]) : NULL;
        if (v == NULL) {
            /* Not a tag: the percent sign is text. */
            if (sl_buf_append(out, "%", 1) < 0)
                return -ENOSPC;
            p = pct + 1;
            continue;
        }
        if ((esc == FLT_PAGE_HTML ? sl_buf_append_html(out, v) : put_url(out, v)) < 0)
            return -ENOSPC;
        p = pct + 2;
    }
    return sl_buf_append(out, p, strlen(p));
}
