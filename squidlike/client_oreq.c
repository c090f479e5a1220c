/*
 * client_oreq.c - the request head for the next hop (forward mode: the
 * origin form, Host, the rewritten fields, Via, a protocol switch asked
 * for; reverse mode builds its own in client_rev.c with the same
 * options). Split from client_fwd.c, which sends it.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "filters/hdr.h"
#include "squidlike/client_int.h"

/* --- the origin request head ------------------------------------------ */

void fwd_via_text(char *buf, size_t n, int minor, const struct sl_conf *conf)
{
    snprintf(buf, n, "1.%d %s (squidlike/%s)", minor, conf->visible_hostname,
             PACKAGE_VERSION);
}

void fwd_request_opts(struct sl_client *c, const struct sl_http_msg *m,
                      struct flt_hdr_opts *opts, char *via, size_t vialen)
{
    const struct sl_conf *conf = c->conf;

    memset(opts, 0, sizeof(*opts));
    opts->client_addr = c->peer_str;
    if (conf->http.via) {
        fwd_via_text(via, vialen, m->minor, conf);
        opts->via = via;
    }
    opts->request = 1;
    /* maxfwd_begin has answered a 0 and refused a bad value */
    opts->dec_max_forwards = sl_view_eq(m->method, "OPTIONS") ||
                             sl_view_eq(m->method, "TRACE");
    opts->keep_te = m->chunked;
    c->txn.req.reframe = m->chunked;    /* HTTP/1.1 to the origin: framed by us */
    opts->keep_cl = 1;
    fill_request_fields(c, opts);       /* a revalidation's drop list */
}

int fwd_build_request(struct sl_client *c, const struct sl_http_msg *m)
{
    const struct sl_conf *conf = c->conf;
    const struct cl_txn *t = &c->txn;
    const struct sl_url *u = &t->url_parts;
    size_t limit = conf->http.max_request_head + 1024;
    struct flt_hdr_opts opts;
    char via[160];

    if (c->reverse)
        return rev_build_request(c, m);     /* a backend's request */
    if (c->oreq.start == NULL && sl_buf_init(&c->oreq, 4096) < 0)
        return -ENOMEM;
    sl_buf_reset(&c->oreq);
    /* the origin form: peer_start makes a parent's of it */
    c->txn.hop.form_pre = c->txn.hop.form_auth = 0;
    c->txn.hop.applied = 0;
    if (sl_buf_reserve(&c->oreq, m->target.len + 1024, limit) < 0)
        return -ENOSPC;
    sl_buf_printf(&c->oreq, "%.*s %.*s HTTP/1.1\r\nHost: ",
                  (int)m->method.len, m->method.base,
                  (int)u->path.len, u->path.base);
    sl_buf_printf(&c->oreq, u->host_is_ipv6 ? "[%s]" : "%s", u->host);
    if (u->port != 80)
        sl_buf_printf(&c->oreq, ":%u", u->port);
    if (sl_buf_append(&c->oreq, "\r\n", 2) < 0)
        return -ENOSPC;
    fwd_request_opts(c, m, &opts, via, sizeof(via));
    opts.xff = conf->http.forwarded_for;
    opts.access = conf->policy.req_headers;
    /* Heads are mostly small: try the buffer we have, grow if it is not
     * enough (the rewrite leaves partial output behind: cut it off). */
    for (;;) {
        size_t mark = sl_buf_len(&c->oreq), have = sl_buf_size(&c->oreq);
        if (flt_hdr_rewrite(m, &opts, &c->oreq) == 0 &&
            (!t->upgrade || fwd_upgrade_fields(m, &c->oreq) == 0) &&
            fill_request_conditionals(c, &c->oreq) == 0 &&
            sl_buf_append(&c->oreq, "\r\n", 2) == 0)
            return 0;
        c->oreq.last = c->oreq.pos + mark;
        if (have >= limit || sl_buf_reserve(&c->oreq, have, limit) < 0)
            return -ENOSPC;
    }
}

int fwd_upgrade_fields(const struct sl_http_msg *m, struct sl_buf *out)
{
    const struct sl_http_hdr *up = sl_http_find(m, "Upgrade");

    /* the parser let no CR, LF or NUL into a value */
    if (up == NULL)
        return 0;
    return sl_buf_printf(out, "Connection: upgrade\r\nUpgrade: %.*s\r\n",
                         (int)up->value.len, up->value.base) < 0 ? -ENOSPC : 0;
}
