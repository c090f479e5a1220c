/*
 * client_buf.c - what a client connection holds, and when.
 *
 * A connection holds its big blocks only while a request moves through
 * it: the input buffer from the first read of a head, the output buffer,
 * the header arrays and the log fields from the parse, all until the
 * transaction ends (cl_txn_done). A connection that waits - new and
 * silent, or keep-alive between requests - holds its struct and nothing
 * else (about 3 KiB: 10,000 idle clients cost 30 MiB, not 190). The
 * blocks go back to the server's pool (bufpool.h), which lends them to
 * the next request without a trip through malloc: a keep-alive hit pays
 * a few pointer moves for it, not a malloc and a free per block.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "squidlike/bufpool.h"
#include "squidlike/client_int.h"

#define OUT_MIN 4096            /* heads, our own pages; grows when needed */
#define META_BLOCK 2048         /* the log fields of a URL of 500 bytes */

int cl_lend_in(struct sl_client *c)
{
    if (c->in.start != NULL)
        return 0;
    return sl_bufpool_buf(&c->srv->bufpool, SL_BUFPOOL_IN, &c->in,
                          c->conf->limits.buffer_size);
}

void cl_unlend_in(struct sl_client *c)
{
    if (sl_buf_len(&c->in) == 0)
        sl_bufpool_unbuf(&c->srv->bufpool, SL_BUFPOOL_IN, &c->in);
}

int cl_lend_out(struct sl_client *c)
{
    if (c->out.start != NULL)
        return 0;
    return sl_bufpool_buf(&c->srv->bufpool, SL_BUFPOOL_OUT, &c->out, OUT_MIN);
}

int cl_lend_meta(struct sl_client *c, size_t need)
{
    if (c->txn.meta.start != NULL || need > META_BLOCK)
        return 0;               /* sl_buf_reserve makes a bigger one */
    return sl_bufpool_buf(&c->srv->bufpool, SL_BUFPOOL_META, &c->txn.meta, META_BLOCK);
}

int cl_hdrs_fit(struct sl_client *c)
{
    size_t want = c->conf->http.max_headers;
    struct sl_http_hdr *h;

    if (c->hdrs != NULL && c->nhdrs_cap == want)
        return 0;
    sl_bufpool_put(&c->srv->bufpool, SL_BUFPOOL_HDRS, c->hdrs,
                   2 * c->nhdrs_cap * sizeof(*c->hdrs));
    c->hdrs = c->shdrs = NULL;
    c->nhdrs_cap = 0;
    h = sl_bufpool_get(&c->srv->bufpool, SL_BUFPOOL_HDRS, 2 * want * sizeof(*h));
    if (h == NULL)
        return -ENOMEM;
    c->hdrs = h;
    c->shdrs = h + want;
    c->nhdrs_cap = want;
    return 0;
}

void cl_release_bufs(struct sl_client *c)
{
    struct sl_bufpool *bp = &c->srv->bufpool;

    cl_unlend_in(c);
    sl_bufpool_unbuf(bp, SL_BUFPOOL_OUT, &c->out);
    sl_bufpool_put(bp, SL_BUFPOOL_HDRS, c->hdrs, 2 * c->nhdrs_cap * sizeof(*c->hdrs));
    c->hdrs = c->shdrs = NULL;
    c->nhdrs_cap = 0;
}

void cl_free_txn_bufs(struct sl_client *c)
{
    sl_bufpool_unbuf(&c->srv->bufpool, SL_BUFPOOL_META, &c->txn.meta);
    sl_buf_free(&c->oreq);
    sl_buf_free(&c->ckey);
    sl_buf_free(&c->chead);
    sl_buf_free(&c->creq);
}

void cl_free_bufs(struct sl_client *c)
{
    sl_bufpool_unbuf(&c->srv->bufpool, SL_BUFPOOL_IN, &c->in);
    cl_release_bufs(c);
    cl_free_txn_bufs(c);
}
