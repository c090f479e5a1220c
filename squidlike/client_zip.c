/*
 * client_zip.c - reverse mode's compression (reverse.compression): which
 * responses are coded and in what, the head fields that changes, and the
 * body on its way from the origin's buffer through the coder to the
 * client and the store.
 *
 * The store keeps what the client got: a coded response is a variant of
 * its URL (Vary: Accept-Encoding, keyed by the set of codings a request
 * accepts: cache_vary_key), so a hit sends stored bytes and codes
 * nothing. That is where this beats compressing every response again.
 *
 * Memory: one coder and one buffer of ZIP_OUT bytes per coded response,
 * at most max_streams of them; past that a response goes identity (and
 * is not stored, so that a later request gets it coded).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cache/policy.h"
#include "filters/encoding.h"
#include "squidlike/client_int.h"
#include "squidlike/log.h"

/* Coded bytes waiting for the client: a few TCP segments' worth. */
#define ZIP_OUT 16384

int zip_route(const struct sl_client *c)
{
    const struct sl_conf_rroute *r;

    if (!c->reverse || !c->conf->reverse.zip.on)
        return 0;
    r = rev_route(c);
    return r != NULL && r->compress;
}

unsigned zip_vary_flags(const struct sl_client *c)
{
    return zip_route(c) ? CACHE_VARY_RANGE_IDENTITY : 0;
}

int zip_on_request(struct sl_client *c, const struct sl_http_msg *m)
{
    const struct sl_conf_zip *zc = &c->conf->reverse.zip;
    struct flt_ae ae;

    c->txn.zip_want = 0;
    if (!zip_route(c))
        return 0;
    /* a range is of the identity representation (ranges untouched) */
    if (sl_http_find(m, "Range") != NULL)
        return 1;
    flt_ae_parse(m, &ae);
    c->txn.zip_want = flt_ae_choose(&ae, zc->codings, zc->n_codings);
    return 0;
}

void zip_on_head(struct sl_client *c, const struct sl_http_msg *m)
{
    struct cl_txn *t = &c->txn;
    const struct sl_conf_zip *zc = &c->conf->reverse.zip;
    struct cache_cc cc;
    struct cl_zip *zp;

    t->zip_vary = 0;
    t->zip_coding = 0;
    if (!zip_route(c) || m->status < 200 ||
        !flt_zip_compressible(m, zc->types, zc->n_types, zc->min_length))
        return;
    cache_cc_parse(m, 0, &cc);
    if (cc.no_transform)
        return;                 /* RFC 9110 7.7: not ours to change */
    t->zip_vary = 1;
    if (t->zip_want == 0 || json_applies(c, m))
        return;                 /* (an edited JSON body goes identity) */
    if (t->is_head) {
        t->zip_coding = t->zip_want;    /* the head a GET would get */
        return;
    }
    if (t->resp.kind == SL_HTTP_BODY_NONE)
        return;
    if (c->srv->zip_streams >= zc->max_streams)
        goto busy;
    if ((zp = calloc(1, sizeof(*zp))) == NULL)
        goto busy;
    zp->z = sl_zip_new(t->zip_want, t->zip_want == FLT_ENC_GZIP ? zc->gzip_level
                                                                : zc->brotli_level,
                       t->resp.kind == SL_HTTP_BODY_LENGTH ? m->content_length : -1);
    if (zp->z == NULL || sl_buf_init(&zp->out, ZIP_OUT) < 0) {
        sl_zip_free(zp->z);
        free(zp);
        goto busy;
    }
    /* Our own framing: the coded length is known only at the end. */
    zp->flow.kind = SL_HTTP_BODY_CHUNKED;
    zp->flow.reframe = t->minor >= 1;
    t->zip = zp;
    t->zip_coding = t->zip_want;
    c->srv->zip_streams++;
    c->srv->stats->zip_responses[t->zip_coding == FLT_ENC_GZIP ? 0 : 1]++;
    return;
busy:
    t->zip_busy = 1;
    c->srv->stats->zip_busy++;
}

static int is_weak(struct sl_view etag)
{
    return etag.len >= 2 && etag.base[0] == 'W' && etag.base[1] == '/';
}

/* Does our coding make the ETag of m weak? A strong one of a coded
 * response (RFC 9110 8.8.3: the coded bytes are not the ones it names; a
 * weak one still matches If-None-Match), or the origin's strong one on a
 * 304 refreshing a stored variant whose ETag we made weak. */
static int weakens(const struct sl_client *c, const struct sl_http_msg *m,
                   const struct zip_was *was)
{
    const struct sl_http_hdr *et = sl_http_find(m, "ETag");

    if (et == NULL || is_weak(et->value))
        return 0;
    if (c->txn.zip_coding)
        return 1;
    return was != NULL && is_weak(was->etag) && was->etag.len == et->value.len + 2 &&
           memcmp(was->etag.base + 2, et->value.base, et->value.len) == 0;
}

void zip_opts(const struct sl_client *c, const struct sl_http_msg *m,
              const struct zip_was *was, int client, struct flt_hdr_opts *opts)
{
    /* What speaks of the identity bytes: ranges of them, their digests,
     * an "identity" coding line (ours replaces it), a strong ETag. */
    static const char *const drop_ranges_etag[] = { "Accept-Ranges",
        "Content-Encoding", "Content-MD5", "Digest", "Repr-Digest", "ETag", NULL };
    static const char *const drop_ranges[] = { "Accept-Ranges",
        "Content-Encoding", "Content-MD5", "Digest", "Repr-Digest", NULL };
    static const char *const drop_etag[] = { "ETag", NULL };
    int weaken = weakens(c, m, was);

    if (c->txn.zip_coding) {
        opts->keep_cl = 0;
        if (client)
            opts->keep_te = 0;
        opts->drop2 = weaken ? drop_ranges_etag : drop_ranges;
    } else if (weaken) {
        opts->drop2 = drop_etag;
    }
}

int zip_lines(const struct sl_client *c, const struct sl_http_msg *m,
              const struct zip_was *was, int client, struct sl_buf *out)
{
    const struct cl_txn *t = &c->txn;
    const struct sl_http_hdr *et = sl_http_find(m, "ETag");
    /* a 304's Vary must not lose the Accept-Encoding of the variant */
    int vary = t->zip_coding || was == NULL ? t->zip_vary : was->vary_ae;

    if (weakens(c, m, was) &&
        (sl_buf_append(out, "ETag: W/", 8) < 0 ||
         sl_buf_append(out, et->value.base, et->value.len) < 0 ||
         sl_buf_append(out, "\r\n", 2) < 0))
        return -ENOSPC;
    if (t->zip_coding && sl_buf_printf(out, "Content-Encoding: %s\r\n",
                                       flt_enc_name(t->zip_coding)) < 0)
        return -ENOSPC;
    if (vary && !flt_vary_has_ae(m) &&
        sl_buf_append(out, "Vary: Accept-Encoding\r\n", 23) < 0)
        return -ENOSPC;
    if (client && t->zip && t->zip->flow.reframe &&
        sl_buf_append(out, "Transfer-Encoding: chunked\r\n", 28) < 0)
        return -ENOSPC;
    return 0;
}

int zip_pump(struct sl_client *c)
{
    struct cl_txn *t = &c->txn;
    struct cl_zip *zp = t->zip;
    struct sl_buf *in = &t->origin->in;
    size_t used, made, room;
    int progress = 0, rc;

    while (!zp->flow.done) {
        if ((room = flow_room(&zp->out)) == 0 ||
            (t->resp.ready == 0 && !t->resp.done))
            break;
        /* t->resp.ready: the decoded body at in->pos (no trailers: the
         * response is scanned without them, our framing has none) */
        rc = sl_zip_run(zp->z, in->pos, t->resp.ready, &used, zp->out.last,
                        room, &made, t->resp.done);
        if (rc < 0) {
            SL_LOG(SL_LOG_ERROR, c->id, 0, "%s: the %s coder failed", t->key,
                   flt_enc_name(t->zip_coding));
            return -1;
        }
        sl_buf_consume(in, used);
        t->resp.ready -= used;
        if (made) {
            fill_body(c, zp->out.last, made);   /* the store keeps the coded bytes */
            zp->out.last += made;
            zp->flow.ready += made;
        }
        zp->in += (int64_t)used;
        zp->made += (int64_t)made;
        c->srv->stats->zip_in += used;
        c->srv->stats->zip_out += made;
        if (rc == 1) {
            zp->flow.done = 1;
            zp->flow.ck.last = 1;       /* our last chunk follows */
        }
        if (used == 0 && made == 0)
            break;
        progress = 1;
    }
    return progress;
}

int zip_sent(const struct sl_client *c)
{
    return flow_sent(&c->txn.zip->flow);
}

void zip_end(struct sl_client *c)
{
    struct cl_zip *zp = c->txn.zip;

    if (zp == NULL)
        return;
    sl_zip_free(zp->z);
    sl_buf_free(&zp->out);
    free(zp);
    c->txn.zip = NULL;
    c->srv->zip_streams--;
}
