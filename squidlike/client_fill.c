/*
 * client_fill.c - the cache's side of a forwarded request: the conditional
 * request of a revalidation, what the response does to the store (a 304
 * refreshes the stored head, stale-if-error serves the stored body, a
 * storable response is written as it streams to the client, an unsafe
 * method invalidates), and Cache-Status.
 *
 * The body is stored from the same bytes that go to the client: no extra
 * read of the origin, one memcpy into the store's chunk buffer. A chunked
 * body comes here decoded (client_fwd.c frames it again for the client).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cache/refresh.h"
#include "filters/encoding.h"
#include "squidlike/client_int.h"
#include "squidlike/log.h"

/* The client's conditionals make way for ours when we revalidate: a 304
 * must speak of our stored copy, not of the client's. */
static const char *const conditionals[] = { "If-None-Match",
    "If-Modified-Since", "If-Match", "If-Unmodified-Since", "If-Range", NULL };

/* Stored heads lose what is recomputed on every hit. */
static const char *const not_stored[] = { "Age", "Cache-Status", NULL };
/* In front of a site: our own targeted field (RFC 9213) is for us alone.
 * It is used when the response is stored (its freshness is computed
 * then) and not kept: hits copy the stored head as it is. A 304 that
 * refreshes the object is judged by its own fields (origins send their
 * caching fields on 304s too: RFC 9111 4.3.4), else the stored ones. */
/* (a request's id is that request's: a hit says its own, rev_resp_fields) */
static const char *const not_stored_rev[] = { "Age", "Cache-Status",
                                              CACHE_TARGETED_OWN, "X-Request-Id", NULL };

/*
 * The heuristic for a response without an explicit lifetime: a reverse
 * route's cache_ttl (all of it fresh, then revalidated), else the first
 * refresh_pattern that matches the URL, else the fallback. ttl: room
 * for the route's. The range_fetch of the pattern stays either way.
 */
const struct cache_heuristic *fill_heuristic(const struct sl_client *c,
                                             struct cache_heuristic *ttl)
{
    const struct sl_conf_cache *cf = &c->conf->cache;
    const struct cl_txn *t = &c->txn;
    const struct cache_heuristic *h = cache_refresh_match(cf->refresh, t->url,
                                                          strlen(t->url));
    const struct sl_conf_rroute *route = rev_route(c);

    if (h == NULL)
        h = &cf->fallback;
    if (route == NULL || route->cache_ttl <= 0)
        return h;
    ttl->min = ttl->max = route->cache_ttl;
    ttl->percent = 0;
    ttl->range_fetch = h->range_fetch;
    return ttl;
}

void fill_request_fields(struct sl_client *c, struct flt_hdr_opts *opts)
{
    if (c->txn.cache.mode == CC_REVALIDATE)
        opts->drop = conditionals;
}

int fill_request_conditionals(struct sl_client *c, struct sl_buf *out)
{
    struct sl_http_msg stored;

    c->txn.cache.request_time = time(NULL);
    if (c->txn.cache.mode != CC_REVALIDATE)
        return 0;
    if (hit_parse_head(c, &c->chead, &stored) < 0)
        return 0;
    return cache_conditional(&stored, out) < 0 ? -ENOSPC : 0;
}

/* "HTTP/1.1 %d reason\r\n" + fields for storage (no final CRLF). The
 * reply header lists apply here too: hits copy the stored head as it is. */
static int stored_head(const struct sl_client *c, const struct sl_http_msg *m,
                       struct sl_buf *out, const struct zip_was *old)
{
    struct flt_hdr_opts o;
    const char *add = NULL;

    memset(&o, 0, sizeof(o));
    o.drop = c->reverse ? not_stored_rev : not_stored;
    o.access = c->conf->policy.resp_headers;
    if (c->reverse)
        rev_resp_opts(c, &o, &add);     /* a hit hides the backend too */
    if (old != NULL)
        add = NULL;             /* a refresh: the stored head has them */
    o.via = NULL;
    /* a coded variant is stored as it was sent (client_zip.c) */
    if (c->reverse) {
        zip_opts(c, m, old, 0, &o);
        json_opts(c, m, 0, &o);         /* an edited body (client_json.c) */
    }
    if (sl_buf_printf(out, "HTTP/1.1 %d %.*s\r\n", m->status, (int)m->reason.len,
                      m->reason.base) < 0 || flt_hdr_rewrite(m, &o, out) < 0 ||
        (add != NULL && sl_buf_append(out, add, strlen(add)) < 0) ||
        (c->reverse && zip_lines(c, m, old, 0, out) < 0))
        return -ENOSPC;
    return 0;
}

/* Every Vary line of m joined: "Accept-Encoding, User-Agent"; with the
 * one our compression adds (zip: a compressible response). */
static int vary_value(const struct sl_http_msg *m, int zip, struct sl_buf *out)
{
    size_t i;
    int n = 0;

    for (i = 0; i < m->nhdrs; i++) {
        if (!sl_view_ieq(m->hdrs[i].name, "Vary") || m->hdrs[i].value.len == 0)
            continue;
        if ((n++ && sl_buf_append(out, ", ", 2) < 0) ||
            sl_buf_append(out, m->hdrs[i].value.base, m->hdrs[i].value.len) < 0)
            return -ENOSPC;
    }
    if (zip && !flt_vary_has_ae(m) &&
        ((n++ && sl_buf_append(out, ", ", 2) < 0) ||
         sl_buf_append(out, "Accept-Encoding", 15) < 0))
        return -ENOSPC;
    return n;
}

static void invalidate_ref(struct sl_client *c, const struct sl_http_msg *m,
                           const char *field)
{
    const struct sl_http_hdr *h = sl_http_find(m, field);
    char buf[2048];
    struct sl_buf out = { buf, buf + sizeof(buf), buf, buf };

    if (h == NULL)
        return;
    if (hit_key_prefix(c, &out) == 0 &&
        cache_same_origin_url(c->txn.url, h->value, &out) == 1)
        cache_store_delete(c->srv->store, out.pos, sl_buf_len(&out));
}

/* RFC 9111 4.4: a successful unsafe method invalidates the target. */
static void invalidate(struct sl_client *c, const struct sl_http_msg *m)
{
    struct cl_txn *t = &c->txn;

    if (t->cache.key_plen == 0 || !cache_invalidates(t->method, m->status))
        return;
    cache_store_delete(c->srv->store, c->ckey.pos, t->cache.key_plen);
    invalidate_ref(c, m, "Location");
    invalidate_ref(c, m, "Content-Location");
}

/* A 304 answered our revalidation: refresh the stored head, serve it. */
static int fill_refreshed(struct sl_client *c, const struct sl_http_msg *m)
{
    struct cl_txn *t = &c->txn;
    struct cl_cache *cc = &t->cache;
    const struct sl_conf *conf = c->conf;
    struct sl_http_msg stored, merged;
    const struct sl_http_hdr *age, *etag;
    struct zip_was was = { { NULL, 0 }, 0 };
    char eb[256];
    struct cache_cc respcc;
    const struct cache_heuristic *h;
    struct cache_heuristic ttl;
    struct sl_buf mb = { 0 };
    size_t limit = conf->http.max_response_head + 8192;
    int rc = -ENOMEM;

    if (sl_buf_init(&mb, sl_buf_len(&c->chead) + 4096) < 0 ||
        hit_parse_head(c, &c->chead, &stored) < 0)
        goto out;
    /* what our compression made of the stored head, for the new one */
    etag = sl_http_find(&stored, "ETag");
    if (etag != NULL && etag->value.len <= sizeof(eb)) {
        memcpy(eb, etag->value.base, etag->value.len);
        was.etag = (struct sl_view){ eb, etag->value.len };
    }
    was.vary_ae = flt_vary_has_ae(&stored);
    sl_buf_printf(&mb, "HTTP/1.1 %d %.*s\r\n", stored.status,
                  (int)stored.reason.len, stored.reason.base);
    while (cache_merge_headers(&stored, m, &mb) < 0) {
        size_t have = sl_buf_size(&mb);
        if (have >= limit || sl_buf_reserve(&mb, have, limit) < 0)
            goto out;
        sl_buf_reset(&mb);
        sl_buf_printf(&mb, "HTTP/1.1 %d %.*s\r\n", stored.status,
                      (int)stored.reason.len, stored.reason.base);
    }
    /* The merged head replaces the stored one; compute its freshness,
     * with the 304's Age (the merge leaves Age out: it is recomputed on
     * every hit, but the 304 may come through another cache). */
    age = sl_http_find(m, "Age");
    sl_buf_reset(&c->chead);
    if (sl_buf_reserve(&c->chead, sl_buf_len(&mb) + 64, sl_buf_len(&mb) + 128) < 0)
        goto out;
    sl_buf_append(&c->chead, mb.pos, sl_buf_len(&mb));
    if (age && age->value.len < 20)
        sl_buf_printf(&c->chead, "Age: %.*s\r\n", (int)age->value.len, age->value.base);
    sl_buf_append(&c->chead, "\r\n", 2);
    if (hit_parse_head(c, &c->chead, &merged) < 0)
        goto out;
    cache_cc_parse(&merged, 0, &respcc);
    if (c->reverse)             /* RFC 9213: addressed to us here */
        cache_cc_parse_targeted(&merged, cache_target_list, 2, &respcc);
    h = fill_heuristic(c, &ttl);
    cache_fresh_compute(&merged, &respcc, h,
                        cc->request_time, time(NULL), &cc->fresh);
    if (c->reverse) {
        /* What the 304 brought goes through the filters the stored head
         * went through: the backends stay hidden on every later hit. */
        sl_buf_reset(&mb);
        if (sl_buf_reserve(&mb, sl_buf_len(&c->chead) + 512, limit) < 0 ||
            stored_head(c, &merged, &mb, &was) < 0)
            goto out;
    }
    sl_buf_reset(&c->chead);    /* as stored: without Age */
    if (sl_buf_reserve(&c->chead, sl_buf_len(&mb) + 2, sl_buf_len(&mb) + 128) < 0)
        goto out;
    sl_buf_append(&c->chead, mb.pos, sl_buf_len(&mb));
    sl_buf_append(&c->chead, "\r\n", 2);
    cache_store_update(c->srv->store, c->ckey.pos, sl_buf_len(&c->ckey), cc->id,
                       &cc->fresh, sizeof(cc->fresh), mb.pos, sl_buf_len(&mb));
    t->code = cc->client_refresh ? CL_CODE_TCP_CLIENT_REFRESH_MISS : CL_CODE_TCP_REFRESH_UNMODIFIED;
    hit_status(t, "%s; fwd-status=304", cc->client_refresh ? "fwd=request" : "fwd=stale");
    c->srv->stats->refreshes++;
    rc = hit_serve_refreshed(c);
out:
    sl_buf_free(&mb);
    return rc;
}

/*
 * The Vary marker of the URL in c->ckey (the primary key): the one stored
 * when it names the same fields, else a new one. Its id keys the variants.
 * Returns the id, 0 on failure.
 */
static uint64_t vary_marker(struct sl_client *c, const char *vary, size_t vlen)
{
    struct cache_store *st = c->srv->store;
    struct cache_writer *mw;
    struct cache_obj obj;
    uint64_t id = 0;

    if (cache_store_lookup(st, c->ckey.pos, sl_buf_len(&c->ckey), &obj) == 0 &&
        (obj.flags & CACHE_OBJ_MARKER) && obj.head_len == vlen &&
        memcmp(obj.head, vary, vlen) == 0)
        id = obj.id;
    cache_store_release(st);
    if (id)
        return id;
    mw = cache_store_write_begin(st, c->ckey.pos, sl_buf_len(&c->ckey), NULL, 0,
                                 vary, vlen, 0, CACHE_OBJ_MARKER);
    if (mw == NULL)
        return 0;
    id = cache_writer_id(mw);
    cache_store_write_end(mw);
    return id ? id : 1;
}

/* Start storing the response m under the right key (Vary marker first). */
static void fill_start(struct sl_client *c, const struct sl_http_msg *m,
                       const struct cache_cc *respcc)
{
    struct cl_txn *t = &c->txn;
    struct cl_cache *cc = &t->cache;
    struct cache_store *st = c->srv->store;
    const struct cache_heuristic *h;
    struct cache_heuristic ttl;
    struct sl_http_msg req;
    char hb[8192], vb[1024];
    struct sl_buf head = { hb, hb + sizeof(hb), hb, hb };
    struct sl_buf vary = { vb, vb + sizeof(vb), vb, vb };
    struct cache_fresh fresh;
    int64_t length;
    int nvary;

    if (stored_head(c, m, &head, NULL) < 0 ||
        (nvary = vary_value(m, t->zip_vary, &vary)) < 0)
        return;                 /* too large to keep: served, not stored */
    sl_buf_reset(&c->ckey);
    c->ckey.last = c->ckey.pos + cc->key_plen;
    if (nvary > 0) {
        uint64_t gen;
        if (hit_request_again(c, c->shdrs, &req) < 0 ||
            (gen = vary_marker(c, vary.pos, sl_buf_len(&vary))) == 0 ||
            sl_buf_printf(&c->ckey, "\n%016llx\n", (unsigned long long)gen) < 0 ||
            cache_vary_key((struct sl_view){ vary.pos, sl_buf_len(&vary) }, &req,
                           &c->ckey, zip_vary_flags(c)) != 0)
            return;
    }
    h = fill_heuristic(c, &ttl);
    cache_fresh_compute(m, respcc, h,
                        cc->request_time, time(NULL), &fresh);
    /* a coded or edited body's length is known at its end */
    length = t->zip || t->json ? -1 : t->resp.kind == SL_HTTP_BODY_LENGTH ? m->content_length :
             t->resp.kind == SL_HTTP_BODY_NONE ? 0 : -1;
    cc->w = cache_store_write_begin(st, c->ckey.pos, sl_buf_len(&c->ckey),
                                    &fresh, sizeof(fresh), head.pos,
                                    sl_buf_len(&head),
                                    length >= 0 && t->resp.kind != SL_HTTP_BODY_NONE ?
                                    length : -1, 0);
    if (cc->w == NULL)
        return;
    cc->fresh = fresh;          /* what collapsed readers are served with */
    cc->stored_bytes = 0;
    cfwd_head(c, head.pos, sl_buf_len(&head),
            (struct sl_view){ vary.pos, nvary > 0 ? sl_buf_len(&vary) : 0 }, length);
}

static const char *status3(int status)
{
    static char buf[8];

    snprintf(buf, sizeof(buf), "%d", status);
    return buf;
}

/* RFC 9211 detail: a token, or here a quoted string (reasons have blanks). */
static const char *detail(const char *why)
{
    static char buf[64];

    snprintf(buf, sizeof(buf), "\"%s\"", why ? why : "not stored");
    return buf;
}

/* Why a storable response is not stored: the store is paused (a commit
 * failed; it probes and resumes by itself), or NULL. */
static const char *paused(struct cache_store *st)
{
    int why;

    if (cache_store_paused(st, &why) == 0)
        return NULL;
    return why == CACHE_FAIL_NO_SPACE ? "store paused: disk full" :
           why == CACHE_FAIL_MAP_FULL ? "store paused: map full" :
                                        "store paused: write error";
}

/* A final response head arrived for a forwarded request (client_int.h). */
enum cl_verdict fill_on_head(struct sl_client *c, const struct sl_http_msg *m)
{
    struct cl_txn *t = &c->txn;
    struct cl_cache *cc = &t->cache;
    struct cache_cc respcc;
    struct sl_http_msg req, *rq = NULL;
    const char *why;

    if (c->srv->store == NULL)
        return CL_NEXT;
    invalidate(c, m);
    if (cc->mode == CC_OFF)
        return CL_NEXT;
    if (cc->mode == CC_REVALIDATE) {
        if (m->status == 304)
            return fill_refreshed(c, m) == 0 ? CL_DONE : CL_ERROR;
        if (m->status >= 500 &&
            cache_stale_if_error_ok(&cc->fresh, &cc->reqcc, time(NULL))) {
            t->code = CL_CODE_TCP_REFRESH_FAIL_OLD;
            hit_status(t, "hit; fwd=stale; fwd-status=%d", m->status);
            return hit_serve_refreshed(c) == 0 ? CL_DONE : CL_ERROR;
        }
        t->code = CL_CODE_TCP_REFRESH_MODIFIED;
        c->srv->stats->refreshes++;
    }
    if (!cc->may_store || m->status == 206 || m->status == 304) {
        why = !cc->may_store ? "request" : m->status == 304 ? "not modified" : "partial";
    } else {
        cache_cc_parse(m, 0, &respcc);
        if (c->reverse)
            cache_cc_parse_targeted(m, cache_target_list, 2, &respcc);
        if (hit_request_again(c, c->shdrs, &req) == 0)
            rq = &req;
        why = cache_storable("GET", rq, &cc->reqcc, m, &respcc);
        /* A caller the gateway identified is one with credentials, as
         * Authorization (RFC 9111 3.5): only a response that says it may
         * go to anybody is stored, lest one consumer get another's. */
        if (why == NULL && c->reverse && rev_route(c) != NULL &&
            rev_route(c)->auth.methods != 0 && !respcc.public_ &&
            respcc.s_maxage < 0 && !respcc.must_revalidate)
            why = "authenticated";
        if (why == NULL && t->zip_busy)
            why = "compression busy";   /* a later request gets it coded */
        if (why == NULL && c->range_fetch &&
            (t->resp.kind != SL_HTTP_BODY_LENGTH ||
             (uint64_t)m->content_length > c->range_fetch))
            why = "too big for a range fetch";
        if (why == NULL)
            fill_start(c, m, &respcc);
        /* `stored` below means a writer has the response (it commits
         * as the body ends; a failure then is counted, and pauses the
         * store so that the responses after this one say so). */
        if (why == NULL && cc->w == NULL)
            why = paused(c->srv->store);
    }
    if (cc->w == NULL)
        /* waiters, if any, fetch themselves */
        cfwd_head(c, NULL, 0, (struct sl_view){ NULL, 0 }, -1);
    if (c->range_fetch && cc->w == NULL)
        return CL_ERROR;        /* a whole fetch for ranges, not stored: stop */
    if (cc->mode == CC_REVALIDATE && cc->w == NULL)
        cache_store_delete(c->srv->store, c->ckey.pos, sl_buf_len(&c->ckey));
    hit_status(t, "%s%s%s%s%s", cc->client_refresh ? "fwd=request" :
               cc->stale ? "fwd=stale" : "fwd=uri-miss",
               cc->stale ? "; fwd-status=" : "", cc->stale ? status3(m->status) : "",
               cc->w ? "; stored" : "; detail=", cc->w ? "" : detail(why));
    return CL_NEXT;
}

/* Response body data as it goes to the client (decoded: chunked framing
 * is never stored, and ours is added on the way out). */
void fill_body(struct sl_client *c, const char *p, size_t n)
{
    struct cl_cache *cc = &c->txn.cache;
    int rc;

    if (cc->w == NULL || n == 0)
        return;
    rc = cache_store_write(cc->w, p, n);
    if (rc == 0) {
        cc->stored_bytes += (int64_t)n;
        cfwd_body(c, cc->stored_bytes);
    }
    if (rc < 0) {
        /* Too big, out of memory, or a failed commit dropped it: served,
         * not stored. Waiters reading from this writer stop now: the store
         * frees it at the next flush. */
        cfwd_end(c, 0);
        cache_store_write_abort(cc->w);
        cc->w = NULL;
    }
}

void fill_finish(struct sl_client *c, int complete)
{
    struct cl_cache *cc = &c->txn.cache;

    zip_end(c);                 /* the response is over, one way or another */
    json_end(c);

    cfwd_end(c, complete && cc->w != NULL);
    if (cc->w == NULL)
        return;
    if (complete)
        cache_store_write_end(cc->w);
    else
        cache_store_write_abort(cc->w);
    cc->w = NULL;
}

void fill_abort(struct sl_client *c)
{
    fill_finish(c, 0);
}
