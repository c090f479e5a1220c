/*
 * page.h - block page and redirect templates with tags, like Squid's error
 * page codes. Pure: template text and values in, bytes into a bounded
 * buffer out.
 *
 *   %U  the URL          %H  the host          %c  the category (or "-")
 *   %r  the rule         %a  the ACL name      %i  the client address
 *   %T  the time (HTTP-date)                   %s  this proxy's name
 *   %%  a percent sign
 *
 * Values are escaped for where they go: HTML-escaped in a page,
 * percent-encoded in a redirect URL. Unknown tags are copied as they are.
 */
#ifndef FLT_PAGE_H
#define FLT_PAGE_H

#include "squidlike/buf.h"

struct flt_page_tags {
    const char *url, *host, *category, *rule, *acl, *client, *time, *server;
};

enum flt_page_escape {
    FLT_PAGE_HTML = 0,
    FLT_PAGE_URL
};

/* Expand tpl into out. Returns 0 or -ENOSPC (out then holds a prefix). */
int flt_page_expand(const char *tpl, const struct flt_page_tags *tags,
                    enum flt_page_escape esc, struct sl_buf *out);

#endif
