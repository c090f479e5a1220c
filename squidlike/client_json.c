/*
 * client_json.c - a reverse route's response_json: members of a JSON
 * response body removed or renamed (filters/jsonedit.h) on its way from
 * the backend to the client and the store.
 *
 * A body is edited whole or not at all, so it is held until its end; and
 * since it is bounded (the route's max_size, 1 MiB at most) the client's
 * head is held with it: it goes out when the body is complete, with the
 * Content-Length of what the edit made. A client thus gets a length
 * (keep-alive for a 1.0 client, a truncation it can see) rather than our
 * chunks, and nothing at all of a document that is not sent whole.
 *
 *   head parsed ---> HOLD --(body ends)--> edit --> SEND (Content-Length)
 *                      |
 *                      +--(past max_size: chunked or close-delimited)--> PASS
 *
 * PASS: the body was longer than a Content-Length would have said, so
 * the held bytes and the rest go out unchanged, chunked to an HTTP/1.1
 * client, to the close for a 1.0 one (never a document cut or half
 * edited). Not edited either, and sent as they came: a body that is not
 * strict JSON or not an object, and whatever a rule does not match.
 *
 * With compression on the same route, a response this edits is sent
 * identity: the edit needs the identity bytes, and such a body is small
 * (max_size) where compression pays least; the cache keeps it identity.
 *
 * The store keeps what the client got (the edited body, with the length
 * known only at its end), so a hit sends the edited body and edits
 * nothing.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "filters/jsonedit.h"
#include "squidlike/chars.h"
#include "squidlike/client_int.h"
#include "squidlike/log.h"

/* Held bytes start in this much and grow to max_size as they come. */
#define JSON_FIRST 16384

static const struct sl_conf_rroute *json_route(const struct sl_client *c)
{
    const struct sl_conf_rroute *r = c->reverse ? rev_route(c) : NULL;

    return r != NULL && r->json != NULL ? r : NULL;
}

/* One field m has (and only one), or NULL. */
static const struct sl_http_hdr *only(const struct sl_http_msg *m, const char *name,
                                      int *several)
{
    const struct sl_http_hdr *h = NULL;
    size_t i;

    for (i = 0; i < m->nhdrs; i++) {
        if (!sl_view_ieq(m->hdrs[i].name, name))
            continue;
        if (h != NULL)
            *several = 1;
        h = &m->hdrs[i];
    }
    return h;
}

int json_applies(const struct sl_client *c, const struct sl_http_msg *m)
{
    const struct sl_conf_rroute *r = json_route(c);
    const struct sl_http_hdr *h;
    int several = 0;

    /* 206: a part of a document; 204, 304 (and 1xx): no body */
    if (r == NULL || m->status < 200 || m->status == 204 || m->status == 206 ||
        m->status == 304)
        return 0;
    if (m->content_length > (int64_t)r->json_max)
        return 0;
    h = only(m, "Content-Type", &several);
    if (h == NULL || several || !flt_jsonedit_type(h->value.base, h->value.len))
        return 0;
    /* content-coded (gzip from the backend): not JSON text to us */
    h = only(m, "Content-Encoding", &several);
    if (several || (h != NULL && !sl_view_ieq(sl_view_trim(h->value), "identity")))
        return 0;
    /* transfer-coded beyond chunked ("gzip, chunked"): the same */
    h = only(m, "Transfer-Encoding", &several);
    return !several && (h == NULL || sl_view_ieq(sl_view_trim(h->value), "chunked"));
}

int json_on_head(struct sl_client *c, const struct sl_http_msg *m)
{
    struct cl_txn *t = &c->txn;
    const struct sl_conf_rroute *r;
    struct cl_json *j;
    size_t first;

    t->json = NULL;
    if (t->is_head || t->resp.kind == SL_HTTP_BODY_NONE || !json_applies(c, m))
        return 0;
    r = json_route(c);
    first = t->resp.kind == SL_HTTP_BODY_LENGTH ? (size_t)m->content_length
          : r->json_max < JSON_FIRST ? r->json_max : JSON_FIRST;
    if ((j = calloc(1, sizeof(*j))) == NULL || sl_buf_init(&j->buf, first ? first : 1) < 0) {
        free(j);
        SL_LOG(SL_LOG_ERROR, c->id, -ENOMEM, "%s: no memory to edit the JSON body",
               t->key);
        return -ENOMEM;
    }
    j->state = CJ_HOLD;
    t->json = j;
    return 0;
}

int json_holds(const struct sl_client *c)
{
    return c->txn.json != NULL && c->txn.json->state == CJ_HOLD;
}

void json_opts(const struct sl_client *c, const struct sl_http_msg *m, int client,
               struct flt_hdr_opts *opts)
{
    /* what speaks of the backend's bytes: digests of them, ranges of them */
    static const char *const drop[] = { "Accept-Ranges", "Content-MD5", "Digest",
        "Repr-Digest", "Content-Digest", NULL };

    /* the store's head: also when a 304 refreshes an edited body's; a
     * HEAD's: the length a GET would get is not known */
    if (c->txn.json == NULL &&
        ((client && !c->txn.is_head) || !json_applies(c, m)))
        return;
    if (client) {
        opts->keep_cl = 0;
        if (c->txn.json)
            opts->keep_te = 0;  /* our framing: json_frame */
    }
    opts->drop3 = drop;
}

/* The held head gets its framing line (NULL: none, to the close) and
 * goes: c->out ends with the head's blank line. */
static int json_frame(struct sl_client *c, const char *line, size_t n)
{
    struct sl_buf *o = &c->out;

    if (c->headless)
        return 0;               /* nobody to send it to */
    if (sl_buf_len(o) < 2 || memcmp(o->last - 2, "\r\n", 2) != 0)
        return -EINVAL;
    o->last -= 2;
    if (sl_buf_reserve(o, n + 2, sl_buf_size(o) + n + 2) < 0 ||
        sl_buf_append(o, line, n) < 0 || sl_buf_append(o, "\r\n", 2) < 0)
        return -ENOMEM;
    return 0;
}

/* The whole body is held: edit it, and send it with its length. */
static int json_send(struct sl_client *c, const struct sl_conf_rroute *r)
{
    struct cl_json *j = c->txn.json;
    size_t len = sl_buf_len(&j->buf), cap = len + 256;
    size_t ntok = flt_jsonedit_tokens(j->buf.pos, len);
    struct flt_json_tok *tok = NULL;
    struct sl_buf out = { 0 };
    char line[48];
    long n = -ENOMEM;
    int rc = -ENOMEM;

    if ((tok = malloc(ntok * sizeof(*tok))) == NULL ||
        sl_buf_init(&out, cap) < 0)
        goto out;
    n = flt_jsonedit_run(r->json, j->buf.pos, len, tok, ntok, out.last, cap);
    if (n > (long)cap) {        /* renames made it longer than the room */
        cap = (size_t)n;
        sl_buf_free(&out);
        if (sl_buf_init(&out, cap) < 0)
            goto out;
        n = flt_jsonedit_run(r->json, j->buf.pos, len, tok, ntok, out.last, cap);
    }
    if (n >= 0) {
        out.last += n;
        sl_buf_free(&j->buf);
        j->buf = out;           /* what the client gets */
        out = (struct sl_buf){ 0 };
    } else if (n == -ENOSPC) {
        goto out;               /* cannot be: flt_jsonedit_tokens is enough */
    }
    /* else (-ENOENT, -EINVAL, -ELOOP): sent as it came */
    len = sl_buf_len(&j->buf);
    snprintf(line, sizeof(line), "Content-Length: %zu\r\n", len);
    if ((rc = json_frame(c, line, strlen(line))) < 0)
        goto out;
    fill_body(c, j->buf.pos, len);
    j->flow.ready = len;
    j->flow.done = 1;
    j->state = CJ_SEND;
    rc = 0;
out:
    if (rc < 0)
        SL_LOG(SL_LOG_ERROR, c->id, rc, "%s: the JSON body could not be edited (%ld)",
               c->txn.key, n);
    free(tok);
    sl_buf_free(&out);
    return rc;
}

/* Longer than max_size: what is held goes as it came, and the rest after
 * it. HTTP/1.1 clients get our chunks, 1.0 ones the close. */
static int json_pass(struct sl_client *c)
{
    struct cl_txn *t = &c->txn;
    struct cl_json *j = t->json;
    static const char te[] = "Transfer-Encoding: chunked\r\n";

    j->flow.kind = SL_HTTP_BODY_CHUNKED;
    j->flow.reframe = t->minor >= 1;
    if (json_frame(c, te, j->flow.reframe ? sizeof(te) - 1 : 0) < 0)
        return -ENOMEM;
    fill_body(c, j->buf.pos, sl_buf_len(&j->buf));
    j->flow.ready = sl_buf_len(&j->buf);
    j->state = CJ_PASS;
    return 0;
}

int json_pump(struct sl_client *c)
{
    struct cl_txn *t = &c->txn;
    struct cl_json *j = t->json;
    const struct sl_conf_rroute *r = json_route(c);
    struct sl_buf *in = &t->origin->in;
    size_t k, held;
    int progress = 0, rc;

    if (r == NULL)
        return -1;              /* the route went with its snapshot: cannot be */
    /* t->resp.ready: the decoded body at in->pos (no trailers: our
     * framing has none) */
    while (j->state == CJ_HOLD && t->resp.ready > 0) {
        held = sl_buf_len(&j->buf);
        if (held + t->resp.ready > r->json_max) {
            if (json_pass(c) < 0)
                return -1;
            progress = 1;
            break;
        }
        rc = sl_buf_reserve(&j->buf, t->resp.ready, r->json_max);
        if (rc < 0)
            return -1;
        memcpy(j->buf.last, in->pos, t->resp.ready);
        j->buf.last += t->resp.ready;
        sl_buf_consume(in, t->resp.ready);
        t->resp.ready = 0;
        progress = 1;
    }
    if (j->state == CJ_HOLD && t->resp.done) {
        if (json_send(c, r) < 0)
            return -1;
        return 1;
    }
    while (j->state == CJ_PASS && t->resp.ready > 0 && (k = flow_room(&j->buf)) > 0) {
        if (k > t->resp.ready)
            k = t->resp.ready;
        memcpy(j->buf.last, in->pos, k);
        fill_body(c, j->buf.last, k);
        j->buf.last += k;
        j->flow.ready += k;
        sl_buf_consume(in, k);
        t->resp.ready -= k;
        progress = 1;
    }
    if (j->state == CJ_PASS && t->resp.done && t->resp.ready == 0 && !j->flow.done) {
        j->flow.done = 1;
        j->flow.ck.last = 1;    /* our last chunk follows */
        progress = 1;
    }
    return progress;
}

int json_sent(const struct sl_client *c)
{
    return c->txn.json->state != CJ_HOLD && flow_sent(&c->txn.json->flow);
}

void json_end(struct sl_client *c)
{
    struct cl_json *j = c->txn.json;

    if (j == NULL)
        return;
    sl_buf_free(&j->buf);
    free(j);
    c->txn.json = NULL;
}
