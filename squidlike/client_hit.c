/*
 * client_hit.c - the cache's side of a request before it is forwarded: the
 * lookup (with Vary), the RFC 9111 verdict, and responses served from the
 * store - whole, 304 to a conditional request, 206 to a range - plus PURGE.
 *
 * A hit writes its head from c->out and its body straight from LMDB's map
 * (one copy, the kernel's). The read transaction never outlives the event
 * callback: a body in chunks is looked up again chunk by chunk as the
 * client drains it; an inline body that a slow client did not take at once
 * is copied into c->out (at most 32 KiB).
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>

#include "acl/acl.h"
#include "cache/refresh.h"
#include "squidlike/client_bgfetch.h"
#include "squidlike/client_int.h"
#include "squidlike/log.h"

void hit_status(struct cl_txn *t, const char *fmt, ...)
{
    va_list ap;

    if (strchr(fmt, '%') == NULL) {
        t->cache.status = fmt;  /* a constant: no formatting per request */
        return;
    }
    va_start(ap, fmt);
    vsnprintf(t->cache.status_buf, sizeof(t->cache.status_buf), fmt, ap);
    va_end(ap);
    t->cache.status = t->cache.status_buf;
}

/* "GET http://host[:port]/path": one key for GET and HEAD. A reverse
 * route's are "GET rev:SITE http://host/path" (hit_key_prefix): a
 * namespace of their own, so that no forward fetch (which went wherever
 * DNS said) is ever served as the company's site, nor the other way
 * round; and SITE, the vhost's first name, keeps one site's objects from
 * another's even when a reload gives a Host that went to the default
 * vhost a vhost of its own. */
int hit_key_prefix(const struct sl_client *c, struct sl_buf *out)
{
    const struct sl_conf_reverse *rc = &c->conf->reverse;
    const struct cl_rev *r = &c->txn.rev;
    const char *site;

    if (!c->reverse || !r->routed)
        return sl_buf_append(out, "GET ", 4);
    site = rc->vhosts[r->vhost].name;
    return sl_buf_append(out, "GET rev:", 8) < 0 ||
           sl_buf_append(out, site, strlen(site)) < 0 ||
           sl_buf_append(out, " ", 1) < 0 ? -ENOSPC : 0;
}

/* A background fetch goes through the pipeline the request came by. */
static int bg_flags(const struct sl_client *c)
{
    return (c->reverse ? SL_BG_REVERSE : 0) | (c->https ? SL_BG_HTTPS : 0);
}

static int hit_key(struct sl_client *c, struct sl_view path)
{
    const struct sl_url *u = &c->txn.url_parts;
    size_t need = path.len + 2 * sizeof(u->host) + 48;

    if (c->ckey.start == NULL && sl_buf_init(&c->ckey, 512) < 0)
        return -ENOMEM;
    sl_buf_reset(&c->ckey);
    if (sl_buf_reserve(&c->ckey, need, need + 4096) < 0 || hit_key_prefix(c, &c->ckey) < 0)
        return -ENOMEM;
    /* A site over TLS has its own objects: a backend may answer plain
     * HTTP with a redirect to HTTPS (cacheable), which HTTPS clients must
     * never get. */
    sl_buf_printf(&c->ckey, u->host_is_ipv6 ? "%s://[%s]" : "%s://%s",
                  c->https ? "https" : "http", u->host);
    /* a reverse route may leave the query out of its keys (tracking
     * parameters on a static site) */
    if (c->reverse && rev_route(c) != NULL && !rev_route(c)->cache_key_query) {
        const char *q = memchr(path.base, '?', path.len);
        if (q != NULL)
            path.len = (size_t)(q - path.base);
    }
    if (u->port != 80)
        sl_buf_printf(&c->ckey, ":%u", u->port);
    return sl_buf_append(&c->ckey, path.base, path.len);
}

/* Cache-Status (RFC 9211) for the client's response head. */
int hit_status_field(struct sl_client *c, struct sl_buf *out)
{
    const struct cl_cache *cc = &c->txn.cache;

    if (cc->mode == CC_OFF || cc->status == NULL)
        return 0;
    return sl_buf_printf(out, "Cache-Status: squidlike; %s\r\n", cc->status);
}

static void via_line(struct sl_client *c, struct sl_buf *out)
{
    /* a site's visitors see Via only when reverse.via says so */
    if (c->conf->http.via && (!c->reverse || c->conf->reverse.via))
        sl_buf_printf(out, "Via: 1.1 %s (squidlike/%s)\r\n",
                      c->conf->visible_hostname, PACKAGE_VERSION);
}

/* Stored header fields (after the status line), minus names in skip. */
static int copy_fields(const struct sl_http_msg *stored, struct sl_buf *out,
                       const char *const *skip)
{
    size_t i;
    const char *const *s;

    for (i = 0; i < stored->nhdrs; i++) {
        const struct sl_http_hdr *h = &stored->hdrs[i];
        for (s = skip; s && *s; s++)
            if (sl_view_ieq(h->name, *s))
                break;
        if (s && *s)
            continue;
        if (sl_buf_printf(out, "%.*s: %.*s\r\n", (int)h->name.len, h->name.base,
                          (int)h->value.len, h->value.base) < 0)
            return -ENOSPC;
    }
    return 0;
}

/*
 * Build the head of a response from the stored head (status line + fields,
 * no Content-Length, no Age; parsed in stored, raw in c->chead with a final
 * CRLF) into c->out, answering conditionals and a range. Sets what body
 * part goes out (cache.off / cache.end).
 */
static int hit_head(struct sl_client *c, const struct sl_http_msg *req,
                    const struct sl_http_msg *stored, int64_t now)
{
    static const char *const not_in_304[] = { "Content-Length",
        "Content-Type", "Content-Encoding", "Content-Range", NULL };
    struct cl_txn *t = &c->txn;
    struct cl_cache *cc = &t->cache;
    int64_t first = 0, last = cc->body_size - 1, age;
    int status = stored->status, cond, range = 0, rc;

    cond = cache_client_conditional(t->method, req, stored);
    if (cond == 0 && !t->is_head && stored->status == 200)
        range = cache_range(req, stored, cc->body_size, &first, &last);
    sl_buf_reset(&c->out);
    if (sl_buf_reserve(&c->out, sl_buf_len(&c->chead) + 1024,
                       c->conf->http.max_response_head + 8192) < 0)
        return -ENOSPC;
    if (cond) {
        status = cond;
        rc = sl_buf_printf(&c->out, "HTTP/1.1 %d %s\r\n", cond,
                           cond == 304 ? "Not Modified" : "Precondition Failed");
        if (rc == 0)
            rc = cond == 304 ? copy_fields(stored, &c->out, not_in_304)
                             : sl_buf_append(&c->out, "Content-Length: 0\r\n", 19);
        cc->off = cc->end = 0;
        if (t->code != CL_CODE_TCP_REFRESH_UNMODIFIED &&
            t->code != CL_CODE_TCP_REFRESH_MODIFIED &&
            t->code != CL_CODE_TCP_REFRESH_FAIL_OLD)
            t->code = cond == 304 ? CL_CODE_TCP_IMS_HIT : CL_CODE_TCP_HIT;
    } else if (range == 416) {
        status = 416;
        rc = sl_buf_printf(&c->out, "HTTP/1.1 416 Range Not Satisfiable\r\n"
                           "Content-Range: bytes */%lld\r\nContent-Length: 0\r\n",
                           (long long)cc->body_size);
        cc->off = cc->end = 0;
    } else {
        if (range == 206) {
            status = 206;
            rc = sl_buf_printf(&c->out, "HTTP/1.1 206 Partial Content\r\n");
        } else {
            rc = sl_buf_printf(&c->out, "HTTP/1.1 %d %.*s\r\n", stored->status,
                               (int)stored->reason.len, stored->reason.base);
        }
        if (rc == 0 && range != 206) {
            /* The common case: the stored head as it is, no per-field work. */
            sl_buf_reset(&c->out);
            rc = sl_buf_append(&c->out, c->chead.pos, sl_buf_len(&c->chead) - 2);
        } else if (rc == 0) {
            rc = copy_fields(stored, &c->out, NULL);
        }
        if (rc == 0 && range == 206)
            rc = sl_buf_printf(&c->out, "Content-Range: bytes %lld-%lld/%lld\r\n",
                               (long long)first, (long long)last,
                               (long long)cc->body_size);
        if (rc == 0)
            rc = sl_buf_printf(&c->out, "Content-Length: %lld\r\n",
                               (long long)(last - first + 1));
        cc->off = t->is_head ? 0 : first;
        cc->end = t->is_head ? 0 : last + 1;
    }
    age = cache_age(&cc->fresh, now);
    if (rc == 0)
        rc = sl_buf_printf(&c->out, "Age: %lld\r\n", (long long)age);
    via_line(c, &c->out);
    if (rc == 0)
        rc = hit_status_field(c, &c->out);
    if (rc == 0)
        rc = rev_resp_fields(c, &c->out);
    if (rc == 0 && !t->keep)
        rc = sl_buf_append(&c->out, "Connection: close\r\n", 19);
    else if (rc == 0 && t->minor == 0)
        rc = sl_buf_append(&c->out, "Connection: keep-alive\r\n", 24);
    if (rc == 0)
        rc = sl_buf_append(&c->out, "\r\n", 2);
    t->status = status;
    return rc;
}

/*
 * Write what can go now: the head in c->out, then an inline body straight
 * from the map (body valid only during this call). What the client does
 * not take of an inline body is copied into c->out.
 */
static int hit_send_inline(struct sl_client *c, const char *body)
{
    struct cl_cache *cc = &c->txn.cache;
    size_t hl = sl_buf_len(&c->out), bl = (size_t)(cc->end - cc->off), k;
    ssize_t n = 0;

    if (c->wr) {
        n = cl_send2(c->io.fd, c->ssl, c->out.pos, hl, body + cc->off, bl, &c->wr);
        if (n < 0 && n != -EAGAIN)
            return (int)n;
        if (n < 0)
            n = 0;
    }
    cl_sent(c, n);
    k = (size_t)n < hl ? (size_t)n : hl;
    sl_buf_consume(&c->out, k);
    cc->off += (int64_t)((size_t)n - k);
    if (cc->off < cc->end) {
        bl = (size_t)(cc->end - cc->off);
        if (sl_buf_reserve(&c->out, bl, sl_buf_size(&c->out) + bl) < 0)
            return -ENOMEM;
        sl_buf_append(&c->out, body + cc->off, bl);
        cc->off = cc->end;
    }
    return 0;
}

/* Serve the object described by c->txn.cache, stored head parsed in stored. */
static int hit_serve(struct sl_client *c, const struct sl_http_msg *req,
                     const struct sl_http_msg *stored, const char *inline_body)
{
    struct cl_txn *t = &c->txn;
    int rc;

    if (t->code == CL_CODE_UNSET || t->code == CL_CODE_TCP_MISS)
        t->code = stored->status >= 400 ? CL_CODE_TCP_NEGATIVE_HIT : CL_CODE_TCP_HIT;
    if (t->peer[0] == '\0')
        t->hier = "HIER_NONE";  /* a 304 refresh keeps HIER_DIRECT */
    txnlog_keep_ctype(t, stored);
    if (hit_head(c, req, stored, time(NULL)) < 0)
        return -ENOSPC;
    t->cache.mode = CC_HIT;
    c->state = CL_HIT;
    c->t_state = c->t_progress = sl_loop_now(c->srv->loop);
    c->srv->stats->hits++;
    if (inline_body && (rc = hit_send_inline(c, inline_body)) < 0)
        return rc;
    return 0;
}

/* Parse a head held in b (status line, fields, final CRLF). */
int hit_parse_head(struct sl_client *c, const struct sl_buf *b,
                   struct sl_http_msg *m)
{
    struct sl_http_limits lim = { sl_buf_len(b), sl_buf_len(b) };

    memset(m, 0, sizeof(*m));
    m->hdrs = c->shdrs;         /* the request may still be in c->hdrs */
    m->max_hdrs = c->nhdrs_cap;
    return sl_http_parse_response(b->pos, sl_buf_len(b), &lim, m) > 0 ? 0 : -EIO;
}

#define parse_head hit_parse_head

/* Find the stored object for the request (following a Vary marker). */
static int hit_lookup(struct sl_client *c, const struct sl_http_msg *req,
                      struct cache_obj *obj)
{
    struct cache_store *st = c->srv->store;
    int rc = cache_store_lookup(st, c->ckey.pos, sl_buf_len(&c->ckey), obj);

    if (rc == 0 && (obj->flags & CACHE_OBJ_MARKER)) {
        struct sl_view vary = { obj->head, obj->head_len };
        /* Variants are keyed under their marker's id: a new marker (PURGE,
         * invalidation, a changed Vary) makes all older variants unreachable. */
        if (sl_buf_printf(&c->ckey, "\n%016llx\n", (unsigned long long)obj->id) < 0 ||
            cache_vary_key(vary, req, &c->ckey, zip_vary_flags(c)) != 0)
            return -ENOENT;     /* Vary: * or too long: never a match */
        rc = cache_store_lookup(st, c->ckey.pos, sl_buf_len(&c->ckey), obj);
        if (rc == 0 && (obj->flags & CACHE_OBJ_MARKER))
            rc = -ENOENT;
    }
    if (rc == 0 && obj->extra_len != sizeof(struct cache_fresh))
        rc = -ENOENT;           /* written by another version */
    return rc;
}

/* Keep the request head: Vary and Authorization are judged when the
 * response arrives, after the head itself has been reused. */
static void keep_request(struct sl_client *c, size_t headlen)
{
    sl_buf_reset(&c->creq);
    if (sl_buf_reserve(&c->creq, headlen, headlen + 64) == 0)
        sl_buf_append(&c->creq, c->in.pos, headlen);
}

int hit_request_again(struct sl_client *c, struct sl_http_hdr *hdrs,
                     struct sl_http_msg *m)
{
    struct sl_http_limits lim = { sl_buf_len(&c->creq), sl_buf_len(&c->creq) };

    memset(m, 0, sizeof(*m));
    m->hdrs = hdrs;
    m->max_hdrs = c->nhdrs_cap;
    return sl_http_parse_request(c->creq.pos, sl_buf_len(&c->creq), &lim, m) > 0
           ? 0 : -EIO;
}

/* Found something usable: serve it now. 1 served, 0 not usable after all. */
static int hit_found(struct sl_client *c, const struct sl_http_msg *m,
                     const struct cache_obj *obj, int stale)
{
    struct cl_txn *t = &c->txn;
    struct cl_cache *cc = &t->cache;
    struct cache_store *st = c->srv->store;
    struct sl_http_msg stored;
    int64_t ttl = cc->fresh.lifetime - cache_age(&cc->fresh, time(NULL));
    int rc;

    hit_status(t, "hit; ttl=%lld%s", (long long)ttl, stale ? "; fwd=stale" : "");
    sl_buf_reset(&c->chead);
    if (sl_buf_reserve(&c->chead, obj->head_len + 2, obj->head_len + 64) < 0)
        return 0;
    sl_buf_append(&c->chead, obj->head, obj->head_len);
    sl_buf_append(&c->chead, "\r\n", 2);
    if (parse_head(c, &c->chead, &stored) < 0)
        return 0;
    cache_store_touch(st, c->ckey.pos, sl_buf_len(&c->ckey), obj);
    if ((rc = hit_serve(c, m, &stored, obj->body)) == -ENOSPC || rc == -ENOMEM)
        cl_close(c);
    else if (rc < 0)
        leave_now(c, rc);       /* the write failed: the client went away */
    return 1;
}

/*
 * A Range miss on a URL whose refresh pattern says range_fetch (Squid's
 * range_offset_limit): rather than forward the range and store nothing,
 * fetch the whole object once in the background (it is stored as it comes
 * in) and cut this client's range from it as it arrives - later ranges
 * are hits. A fetch of the URL in flight already is joined. 1 when c now
 * waits on or reads along that fetch.
 */
static int hit_range_fetch(struct sl_client *c, const struct sl_http_msg *m)
{
    struct cl_txn *t = &c->txn;
    const struct sl_conf_cache *cf = &c->conf->cache;
    const struct cache_heuristic *h;
    struct cache_heuristic ttl;
    uint64_t limit;

    /* Only a range of a plain GET of nothing stored: one that could not
     * read along the whole fetch (conditionals, credentials) would start
     * it for nothing, and a stale copy is revalidated, not fetched. */
    if (c->internal || t->cache.stale || !sl_http_find(m, "Range") ||
        !cfwd_may_wait(m, CFWD_RANGE))
        return 0;
    h = fill_heuristic(c, &ttl);
    if (h->range_fetch == 0)
        return 0;
    if (cfwd_lead_or_join(c, m, CFWD_RANGE | CFWD_JOIN_ONLY))
        return 1;
    limit = h->range_fetch < cf->max_object ? h->range_fetch : cf->max_object;
    /* where we compress, a range is cut from the identity variant */
    if (!sl_bgfetch_whole(c->srv, t->url, m, &c->peer, limit, bg_flags(c) |
                          (zip_route(c) ? SL_BG_IDENTITY : 0)) ||
        !cfwd_lead_or_join(c, m, CFWD_RANGE | CFWD_JOIN_ONLY))
        return 0;
    t->cache.range_started = 1;
    return 1;
}

/* PURGE url: remove it (from allowed sources). Always answers. */
static enum cl_verdict hit_purge(struct sl_client *c)
{
    struct cl_txn *t = &c->txn;
    const struct sl_conf_cache *cf = &c->conf->cache;
    struct cache_store *st = c->srv->store;
    struct cache_obj obj;
    int found;

    if (t->req.kind != SL_HTTP_BODY_NONE)
        t->keep = 0;            /* a body we do not read */
    if (!acl_nets_match(cf->purge_from, cf->n_purge_from, &c->peer.sa))
        return cl_refuse(t, CL_CODE_TCP_DENIED, SL_ERR_ACCESS_DENIED, 403,
                         "PURGE is not allowed from here");
    if (st == NULL || hit_key(c, t->url_parts.path) < 0)
        return cl_refuse(t, CL_CODE_UNSET, SL_ERR_UNSUP_REQ, 501,
                         "there is no cache to purge");
    found = cache_store_lookup(st, c->ckey.pos, sl_buf_len(&c->ckey), &obj) == 0;
    cache_store_release(st);
    if (found)
        cache_store_delete(st, c->ckey.pos, sl_buf_len(&c->ckey));
    t->code = CL_CODE_TCP_MISS;
    t->status = found ? 200 : 404;
    snprintf(t->ctype, sizeof(t->ctype), "text/plain");
    if (cl_lend_out(c) < 0 ||
        (sl_buf_reset(&c->out),
         sl_buf_printf(&c->out, "HTTP/1.1 %s\r\nContent-Type: text/plain\r\n"
                       "Content-Length: %d\r\n%s\r\n%s",
                       found ? "200 OK" : "404 Not Found", found ? 7 : 10,
                       t->keep ? "" : "Connection: close\r\n",
                       found ? "purged\n" : "not found\n") < 0)) {
        return CL_ERROR;
    }
    c->state = CL_REPLY;
    return CL_DONE;
}

/*
 * The cache's part of a request (not CONNECT): PURGE; else computes the
 * key (also for unsafe methods, which invalidate it), and for GET and HEAD
 * looks it up and decides. CL_DONE when the request was answered (from
 * the store, 504 for only-if-cached, or it waits on a collapsed fetch),
 * CL_NEXT to forward it (t->cache.mode says how).
 */
enum cl_verdict hit_begin(struct sl_client *c, const struct sl_http_msg *m,
                          size_t headlen)
{
    struct cl_txn *t = &c->txn;
    struct cl_cache *cc = &t->cache;
    struct cache_store *st = c->srv->store;
    struct cache_obj obj;
    enum cache_verdict v;
    int swr = 0, rc;

    if (sl_view_eq(m->method, "PURGE"))
        return hit_purge(c);
    if (st == NULL || hit_key(c, t->url_parts.path) < 0)
        return CL_NEXT;
    cc->key_plen = sl_buf_len(&c->ckey);
    if (!(sl_view_eq(m->method, "GET") || t->is_head) ||
        t->req.kind != SL_HTTP_BODY_NONE || t->upgrade)
        return CL_NEXT;         /* the key still serves invalidation */
    if (c->reverse && (rev_route(c) == NULL || !rev_route(c)->cache))
        return CL_NEXT;         /* a route with cache = false: so is this */
    cache_cc_parse(m, 1, &cc->reqcc);
    cc->mode = CC_MISS;
    cc->may_store = !t->is_head && !cc->reqcc.no_store;
    cc->client_refresh = cc->reqcc.no_cache || cc->reqcc.pragma_no_cache;
    cc->has_auth = sl_http_find(m, "Authorization") != NULL;
    rc = hit_lookup(c, m, &obj);
    if (rc == 0) {
        cc->stale = 1;          /* unless served below */
        memcpy(&cc->fresh, obj.extra, sizeof(cc->fresh));
        cc->id = obj.id;
        cc->body_size = obj.body_size;
        cc->chunk_size = obj.chunk_size;
        cc->inline_body = obj.body != NULL;
        v = cache_decide(&cc->fresh, &cc->reqcc, time(NULL), &swr);
        if (cc->reqcc.only_if_cached && v != CACHE_FRESH)
            v = CACHE_STALE_SERVE;  /* the client wants what we have */
        if ((v == CACHE_FRESH || v == CACHE_STALE_SERVE) &&
            hit_found(c, m, &obj, v == CACHE_STALE_SERVE)) {
            cache_store_release(st);
            if (swr)
                sl_bgfetch_start(c->srv, t->url, c->ckey.pos, cc->key_plen, m,
                                 bg_flags(c));
            return CL_DONE;
        }
        if (v == CACHE_REVALIDATE) {
            sl_buf_reset(&c->chead);
            if (sl_buf_reserve(&c->chead, obj.head_len + 2, obj.head_len + 64) == 0) {
                sl_buf_append(&c->chead, obj.head, obj.head_len);
                sl_buf_append(&c->chead, "\r\n", 2);
                cc->mode = CC_REVALIDATE;
            }
        }
    }
    cache_store_release(st);
    if (cc->reqcc.only_if_cached) {
        return cl_refuse(t, CL_CODE_UNSET, SL_ERR_ONLY_IF_CACHED, 504, t->url);
    }
    if (rc < 0) {
        c->srv->stats->misses++;
        hit_status(t, "fwd=uri-miss");
    } else {
        hit_status(t, cc->client_refresh ? "fwd=request" : "fwd=stale");
    }
    if (cc->client_refresh)
        t->code = CL_CODE_TCP_CLIENT_REFRESH_MISS;
    keep_request(c, headlen);
    /* Concurrent misses for this URL: one fetch serves them all. */
    if (cc->mode == CC_MISS && cc->may_store &&
        (hit_range_fetch(c, m) || cfwd_lead_or_join(c, m, 0)))
        return CL_DONE;
    return CL_NEXT;
}

int hit_serve_stored(struct sl_client *c)
{
    struct cl_txn *t = &c->txn;
    struct cl_cache *cc = &t->cache;
    struct cache_store *st = c->srv->store;
    struct sl_http_msg m;
    struct cache_obj obj;
    int swr = 0, served = 0;

    if (st == NULL || hit_request_again(c, c->hdrs, &m) < 0)
        return 0;
    c->ckey.last = c->ckey.pos + cc->key_plen;  /* the variant's part again */
    if (hit_lookup(c, &m, &obj) == 0) {
        memcpy(&cc->fresh, obj.extra, sizeof(cc->fresh));
        if (cache_decide(&cc->fresh, &cc->reqcc, time(NULL), &swr) == CACHE_FRESH) {
            cc->id = obj.id;
            cc->body_size = obj.body_size;
            cc->chunk_size = obj.chunk_size;
            cc->inline_body = obj.body != NULL;
            served = hit_found(c, &m, &obj, 0);
        }
    }
    cache_store_release(st);
    if (!served)
        c->ckey.last = c->ckey.pos + cc->key_plen;
    else if (c->state != CL_CLOSED)
        sl_loop_post(c->srv->loop, &c->run_post);
    return served;
}

/* Undo a collapsed serve that sent nothing yet: the request is the miss
 * it was again, to be forwarded. */
static void hit_unserve(struct sl_client *c)
{
    struct cl_txn *t = &c->txn;
    struct cl_cache *cc = &t->cache;

    if (cc->mode == CC_HIT)
        c->srv->stats->hits--;
    sl_buf_reset(&c->out);
    t->code = CL_CODE_TCP_MISS;
    t->status = 0;
    t->ctype[0] = '\0';
    cc->mode = CC_MISS;
    cc->off = cc->end = 0;
    cc->range_started = 0;
    hit_status(t, "fwd=uri-miss");
}

/* A collapsed waiter: the leader's response is being stored; serve it.
 * On failure nothing of it is left behind (the caller forwards or closes). */
int hit_serve_collapsed(struct sl_client *c, const char *head, size_t head_len,
                       const struct cache_fresh *fresh, int64_t total)
{
    struct cl_txn *t = &c->txn;
    struct cl_cache *cc = &t->cache;
    struct sl_http_msg stored, req;

    sl_buf_reset(&c->chead);
    if (sl_buf_reserve(&c->chead, head_len, head_len + 64) < 0)
        return -ENOMEM;
    sl_buf_append(&c->chead, head, head_len);
    if (hit_parse_head(c, &c->chead, &stored) < 0 ||
        hit_request_again(c, c->hdrs, &req) < 0)
        return -EIO;
    cc->fresh = *fresh;
    cc->body_size = total;
    cc->chunk_size = CACHE_STORE_CHUNK;
    cc->inline_body = 0;
    t->code = CL_CODE_TCP_HIT;
    /* A range cut from the fetch it started itself is a miss. */
    hit_status(t, cc->range_started ? "fwd=uri-miss; collapsed" : "hit; collapsed");
    if (hit_serve(c, &req, &stored, NULL) < 0) {
        hit_unserve(c);
        return -ENOSPC;
    }
    if (cc->range_started)
        t->code = CL_CODE_TCP_MISS;
    sl_loop_post(c->srv->loop, &c->run_post);
    return 0;
}

/*
 * A 304 refreshed the stored response: serve it with the merged head (a
 * stored head, without final CRLF). The body is the stored one.
 */
int hit_serve_refreshed(struct sl_client *c)
{
    struct cl_txn *t = &c->txn;
    struct cache_store *st = c->srv->store;
    struct sl_http_msg stored, req;
    struct cache_obj obj;
    int rc;

    /* The request's conditionals were replaced by ours upstream; answer
     * the client's own against the refreshed response. */
    if (hit_request_again(c, c->hdrs, &req) < 0) {
        memset(&req, 0, sizeof(req));
        req.method = SL_VIEW_LIT("GET");
    }
    rc = hit_parse_head(c, &c->chead, &stored);
    if (rc == 0 && t->cache.inline_body) {
        if (cache_store_lookup(st, c->ckey.pos, sl_buf_len(&c->ckey), &obj) < 0 ||
            obj.id != t->cache.id)
            rc = -ENOENT;       /* replaced or evicted meanwhile */
        else
            rc = hit_serve(c, &req, &stored, obj.body);
    } else if (rc == 0) {
        rc = hit_serve(c, &req, &stored, NULL);
    }
    cache_store_release(st);
    return rc;
}

#define HIT_IOV 9               /* head + up to 8 chunks (1 MiB) per write */

/* Gather stored chunks from cc->off into iov (after iov[0..n)). */
static int gather_chunks(struct sl_client *c, struct iovec *iov, int n,
                         size_t *total)
{
    struct cl_cache *cc = &c->txn.cache;
    struct cache_store *st = c->srv->store;
    int64_t off = cc->off;
    const void *p;
    size_t len, in;
    int rc;

    while (n < HIT_IOV && off < cc->end) {
        in = (size_t)(off % cc->chunk_size);
        rc = cache_store_chunk(st, cc->id, (uint32_t)(off / cc->chunk_size), &p, &len);
        if (rc < 0 || in >= len)
            return off == cc->off ? (rc < 0 ? rc : -EIO) : n;
        len -= in;
        if ((int64_t)len > cc->end - off)
            len = (size_t)(cc->end - off);
        iov[n].iov_base = (char *)p + in;
        iov[n++].iov_len = len;
        *total += len;
        off += (int64_t)len;
    }
    return n;
}

/*
 * CL_HIT: drain c->out, then the body from the store. Several chunks go in
 * one writev: fewer, bigger writes cost the kernel less per byte (measured
 * on 1 MiB hits).
 */
int hit_run(struct sl_client *c)
{
    struct cl_txn *t = &c->txn;
    struct cl_cache *cc = &t->cache;
    struct cache_store *st = c->srv->store;
    size_t hl = sl_buf_len(&c->out), total = hl, k;
    struct iovec iov[HIT_IOV];
    ssize_t n;
    int niov = 0, rc;

    if (c->headless) {
        cl_close(c);            /* a refreshed answer for nobody */
        return 1;
    }
    if (hl == 0 && cc->off >= cc->end) {
        cl_txn_done(c);
        return 1;
    }
    if (!c->wr)
        return 0;
    if (hl) {
        iov[0].iov_base = c->out.pos;
        iov[niov++].iov_len = hl;
    }
    if (cc->off < cc->end && cc->cfwd) {
        /* Following a fetch in progress (collapsed forwarding). */
        const void *p;
        size_t len;
        rc = cfwd_read(c, cc->off, &p, &len);
        if (rc == -EAGAIN && hl == 0) {
            /* Woken by the fetch's progress (short of our offset, for a
             * range): its moving keeps us from timing out. */
            c->t_progress = sl_loop_now(c->srv->loop);
            cache_store_release(st);
            return 0;
        }
        if (rc < 0 && rc != -EAGAIN) {
            cache_store_release(st);
            if (t->bytes_out == 0 && !c->headless) {
                /* The fetch it followed failed before anything went to
                 * the client: fetch for itself instead. */
                cfwd_detach(c);
                hit_unserve(c);
                cl_forward_released(c);
                return 1;
            }
            cl_close(c);        /* cut short of its Content-Length */
            return 1;
        }
        if (rc == 0) {
            if ((int64_t)len > cc->end - cc->off)
                len = (size_t)(cc->end - cc->off);
            iov[niov].iov_base = (void *)p;
            iov[niov++].iov_len = len;
            total += len;
        }
    } else if (cc->off < cc->end) {
        rc = gather_chunks(c, iov, niov, &total);
        if (rc < 0) {
            cache_store_release(st);
            SL_LOG(SL_LOG_INFO, c->id, rc, "cached object %s vanished mid-send",
                   t->url);
            cl_close(c);
            return 1;
        }
        niov = rc;
    }
    if (c->ssl) {
        n = sl_tls_writev(c->ssl, iov, niov, &c->wr);
        if (n == -EAGAIN) {
            cache_store_release(st);
            return 0;           /* the flag it waits for is cleared */
        }
        if (n < 0)
            errno = (int)-n;
    } else {
        do
            n = writev(c->io.fd, iov, niov);
        while (n < 0 && errno == EINTR);
        if (n >= 0 && (size_t)n < total)
            c->wr = 0;
    }
    cache_store_release(st);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        c->wr = 0;
        return 0;
    }
    if (n < 0) {
        leave_now(c, -errno);   /* the client went away */
        return 1;
    }
    k = (size_t)n < hl ? (size_t)n : hl;
    sl_buf_consume(&c->out, k);
    cc->off += (int64_t)((size_t)n - k);
    cl_sent(c, n);
    c->t_progress = sl_loop_now(c->srv->loop);
    return 1;
}

