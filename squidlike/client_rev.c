/*
 * client_rev.c - reverse mode's steps of the request pipeline: a request
 * that came in on a reverse.listen address is for one of the company's
 * own sites, not for the internet.
 *
 *   rev_target   which site (vhost) and which route: the Host names the
 *                site (RFC 9112 3.2.2: the authority of an absolute-form
 *                target wins over Host), the path the route; a Host no
 *                vhost takes gets the default vhost or reverse.unknown_host
 *                (421/404), never another vhost's backends
 *   rev_pick     which backend of the route's pool (backend.h), its
 *                address in place of a DNS answer
 *   rev_build_request  the request as the backend sees it: the path
 *                rewritten, Host kept or the backend's, who the client is
 *                (X-Forwarded-For, Forwarded, X-Forwarded-Proto/-Host,
 *                X-Request-Id), the route's header edits
 *   rev_resp_opts      what the client learns of the backend: Server and
 *                kin removed (reverse.hide_response_headers), the route's
 *                response edits, Via only when asked
 *
 * Everything after the route step is the forward pipeline's: access rules
 * (reverse.http_access), the cache (keys in a namespace of their own, so a
 * forward fetch can never fill what a reverse route serves), collapsed
 * forwarding, the origin pool (keyed by the backend's address).
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "acl/acl.h"
#include "cache/policy.h"
#include "squidlike/backend.h"
#include "squidlike/chars.h"
#include "squidlike/client_int.h"
#include "squidlike/log.h"

_Static_assert(sizeof(((struct sl_conf_rbackend *)0)->name) <= SL_ORIGIN_KEY_MAX,
               "a backend's name is the origin pool's key");

/* The host of a URL when the Host is not a clean name: an empty first
 * label, so it cannot be any Host the router takes (acl/route.h). */
#define REV_ODD_HOST ".default"

/* Fields a client that is not a trusted proxy may not tell a backend:
 * they would pass for what the proxy vouches for. */
static const char *const untrusted_drop[] = { "Forwarded", "X-Real-IP",
    "X-Forwarded-Proto", "X-Forwarded-Host", "X-Forwarded-Port",
    "X-Forwarded-Server", "X-Client-IP", "Client-IP", "True-Client-IP", NULL };
/* A range where we compress asks for the identity representation: the
 * cache keys it so (zip_vary_flags), and the backend must answer so. */
static const char *const untrusted_drop_ae[] = { "Forwarded", "X-Real-IP",
    "X-Forwarded-Proto", "X-Forwarded-Host", "X-Forwarded-Port",
    "X-Forwarded-Server", "X-Client-IP", "Client-IP", "True-Client-IP",
    "Accept-Encoding", NULL };
static const char *const drop_ae[] = { "Accept-Encoding", NULL };

const struct sl_conf_rroute *rev_route(const struct sl_client *c)
{
    const struct cl_rev *r = &c->txn.rev;

    if (!c->reverse || !r->routed)
        return NULL;
    return &c->conf->reverse.vhosts[r->vhost].routes[r->route];
}

/* 64 random bits: the X-Request-Id and random-two's draws. Seeded from
 * getrandom once per process, then splitmix64: not for secrets, only to
 * tell apart. A forked process (workers, later) seeds again: the fork
 * handler clears the seed in the child. (Not getpid() per call: it is a
 * system call, and was 3% of a pass-through request.) */
static uint64_t rev_state;
static int rev_seeded;

static void rev_forked(void)
{
    rev_seeded = 0;
}

static uint64_t rev_random(void)
{
    static int handler;
    uint64_t z;

    if (!rev_seeded) {
        if (!handler && pthread_atfork(NULL, NULL, rev_forked) == 0)
            handler = 1;
        if (getrandom(&rev_state, sizeof(rev_state), GRND_NONBLOCK) != sizeof(rev_state))
            rev_state ^= (uint64_t)time(NULL) << 20 ^ (uint64_t)getpid();
        rev_seeded = 1;
    }
    z = (rev_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* 64 bits as 16 lowercase hex digits (no printf on the hot path). */
static void hex64(uint64_t v, char *out)
{
    static const char d[] = "0123456789abcdef";
    int i;

    for (i = 15; i >= 0; i--, v >>= 4)
        out[i] = d[v & 15];
}

/* host (a Host value, a port maybe) as the URL's host: lowercase, port
 * and one trailing dot dropped; REV_ODD_HOST when it is anything but a
 * clean name or a bracketed IPv6 literal. */
static void url_host(struct sl_view h, struct sl_url *u)
{
    size_t i, n = 0, end, after;
    int v6 = h.len > 0 && h.base[0] == '[', ok = 1;
    const char *cut;

    /* the name ends at "]" (an IPv6 literal) or at ":"; what follows it
     * must be nothing or ":" and digits, as the router demands (else this
     * URL would name a host the router did not route by) */
    if (v6) {
        cut = memchr(h.base, ']', h.len);
        end = cut ? (size_t)(cut - h.base) + 1 : 0;
    } else {
        cut = memchr(h.base, ':', h.len);
        end = cut ? (size_t)(cut - h.base) : h.len;
    }
    after = end;
    if (after < h.len) {
        ok = h.base[after] == ':' && after + 1 < h.len;
        for (i = after + 1; ok && i < h.len; i++)
            ok = h.base[i] >= '0' && h.base[i] <= '9';
    }
    if (ok && end > 0 && !v6 && h.base[end - 1] == '.')
        end--;
    if (v6 && end < 2)
        ok = 0;
    for (i = (size_t)v6; ok && end > 0 && i < end - (size_t)v6; i++) {
        unsigned char ch = (unsigned char)sl_lower((unsigned char)h.base[i]);
        if (n >= SL_HTTP_HOST_MAX ||
            !((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
              ch == '.' || ch == '_' || (v6 && ch == ':')))
            ok = 0;
        else
            u->host[n++] = (char)ch;
    }
    if (!ok || n == 0) {
        snprintf(u->host, sizeof(u->host), "%s", REV_ODD_HOST);
        v6 = 0;
    } else {
        u->host[n] = '\0';
    }
    u->host_is_ipv6 = (unsigned)v6;
    u->port = 80;
}

/*
 * Does path (before its query) hold a dot-segment ("." or "..", also
 * spelled %2e)? A backend resolves them (RFC 3986 5.2.4), the router and
 * the access rules would not: "/x/../admin" would pass a route or a rule
 * written for "/admin/" and reach the backend as "/admin". Browsers
 * resolve them before sending, so a request that has one is refused.
 */
static int has_dot_segment(struct sl_view path)
{
    size_t i = 0, dots, other;

    while (i < path.len && path.base[i] != '?') {
        i++;                    /* the '/' */
        dots = other = 0;
        while (i < path.len && path.base[i] != '/' && path.base[i] != '?') {
            if (path.base[i] == '.') {
                dots++;
                i++;
            } else if (path.base[i] == '%' && i + 2 < path.len &&
                       path.base[i + 1] == '2' &&
                       (path.base[i + 2] == 'e' || path.base[i + 2] == 'E')) {
                dots++;
                i += 3;
            } else {
                other++;
                i++;
            }
        }
        if (other == 0 && (dots == 1 || dots == 2))
            return 1;
    }
    return 0;
}

/*
 * A vhost with https_redirect, asked over plain HTTP: 308 to the same
 * host (its port replaced by https_port) and target, method and body kept
 * by the client (RFC 9110 15.4.9).
 */
static enum cl_verdict rev_redirect(struct sl_client *c, const struct sl_conf_rvhost *vh,
                                    struct sl_view path)
{
    static const char body[] = "This site is served over HTTPS.\n";
    struct cl_txn *t = &c->txn;
    const char *h = t->rev.host, *colon = strrchr(h, ':'), *br = strrchr(h, ']');
    size_t hl = colon != NULL && (br == NULL || colon > br) ? (size_t)(colon - h) : strlen(h);
    size_t blen = sizeof(body) - 1;
    int rc;

    t->keep = t->keep && t->req.kind == SL_HTTP_BODY_NONE;
    t->status = 308;
    snprintf(t->ctype, sizeof(t->ctype), "text/plain");
    if (cl_lend_out(c) < 0 || sl_buf_reserve(&c->out, hl + path.len + 512,
                                             hl + path.len + 1024) < 0)
        return cl_refuse(t, CL_CODE_UNSET, SL_ERR_NO_MEMORY, 0, NULL);
    sl_buf_reset(&c->out);
    rc = sl_page_head(&c->out, 308, "text/plain; charset=utf-8", blen, "no-store",
                      t->keep, t->minor, NULL);
    if (rc == 0)
        rc = sl_buf_printf(&c->out, "Location: https://%.*s", (int)hl, h);
    if (rc == 0 && vh->https_port != 443)
        rc = sl_buf_printf(&c->out, ":%u", vh->https_port);
    if (rc == 0)
        rc = sl_buf_append(&c->out, path.base, path.len);
    if (rc == 0)
        rc = sl_buf_append(&c->out, "\r\n\r\n", 4);
    if (rc == 0 && !t->is_head)
        rc = sl_buf_append(&c->out, body, blen);
    if (rc < 0)
        return cl_refuse(t, CL_CODE_UNSET, SL_ERR_NO_MEMORY, 0, NULL);
    t->code = CL_CODE_NONE_NONE;
    c->state = CL_REPLY;
    c->t_state = sl_loop_now(c->srv->loop);
    return CL_DONE;
}

int rev_resp_fields(const struct sl_client *c, struct sl_buf *out)
{
    const struct cl_txn *t = &c->txn;
    const char *v;

    if (rev_limit_fields(c, out) < 0 || gw_resp_fields(c, out) < 0)
        return -ENOSPC;
    if (c->ssl == NULL || !t->rev.routed)
        return 0;
    v = c->conf->reverse.vhosts[t->rev.vhost].hsts;
    if (v == NULL)
        return 0;
    return sl_buf_printf(out, "Strict-Transport-Security: %s\r\n", v) < 0 ? -ENOSPC : 0;
}

/* A refusal before rev_target knows the URL: the log gets the target as
 * sent (cl_begin leaves the meta to rev_target on reverse listeners). */
static enum cl_verdict early(struct sl_client *c, const struct sl_http_msg *m,
                             enum cl_verdict v)
{
    cl_keep_meta(c, m->method, m->target, m);
    return v;
}

/*
 * Step 1 on a reverse listener: the site and the route. CL_NEXT with
 * t->url_parts (the URL's host and path), t->url ("http://host/path" for
 * the log, the ACLs and refresh_patterns) and t->rev set.
 */
enum cl_verdict rev_target(struct sl_client *c, const struct sl_http_msg *m)
{
    struct cl_txn *t = &c->txn;
    const struct sl_conf_reverse *rc = &c->conf->reverse;
    struct acl_route_hit hit;
    struct sl_view host, path;
    const char *err = NULL;
    size_t need;
    int rc2;

    if (t->is_connect)
        return early(c, m, cl_refuse(t, CL_CODE_NONE_NONE, SL_ERR_UNSUP_REQ, 405,
                                     "CONNECT is not served here"));
    if (m->target.len > 0 && m->target.base[0] == '/') {
        if (t->minor == 1 && m->host_count == 0)
            return early(c, m, cl_refuse(t, CL_CODE_NONE_NONE, SL_ERR_INVALID_REQ,
                                         0, "HTTP/1.1 request without Host"));
        host = m->host_count ? m->host : SL_VIEW_LIT("");
        path = m->target;
    } else if (m->target.len > 0 && m->target.base[0] != '*') {
        /* absolute-form: its authority is the Host (RFC 9112 3.2.2) */
        if (sl_http_parse_url(m->target, &t->url_parts, &err) < 0)
            return early(c, m, cl_refuse(t, CL_CODE_NONE_NONE, SL_ERR_INVALID_URL,
                                         0, err));
        host = (struct sl_view){ t->url_parts.host, strlen(t->url_parts.host) };
        path = t->url_parts.path;
    } else {
        return early(c, m, cl_refuse(t, CL_CODE_NONE_NONE, SL_ERR_INVALID_URL, 0,
                                     "a site's path is expected here"));
    }
    if (has_dot_segment(path))
        return early(c, m, cl_refuse(t, CL_CODE_NONE_NONE, SL_ERR_INVALID_URL, 400,
                                     "a dot-segment in the path"));
    if (host.len + 2 >= sizeof(t->rev.host))
        /* no name is that long (253 at most): never route a cut one */
        return early(c, m, cl_refuse(t, CL_CODE_NONE_NONE, SL_ERR_INVALID_REQ, 400,
                                     "Host too long"));
    if (t->url_parts.host_is_ipv6) {
        /* the router wants an IPv6 literal in its brackets */
        snprintf(t->rev.host, sizeof(t->rev.host), "[%s]", t->url_parts.host);
    } else {
        memcpy(t->rev.host, host.base, host.len);    /* fits: checked above */
        t->rev.host[host.len] = '\0';
    }
    host = (struct sl_view){ t->rev.host, strlen(t->rev.host) };
    url_host(host, &t->url_parts);
    t->url_parts.path = path;

    /* The URL the rest of the pipeline knows the request by. */
    need = strlen(t->url_parts.host) + path.len + 16;
    if (c->oreq.start == NULL && sl_buf_init(&c->oreq, 4096) < 0)
        return cl_refuse(t, CL_CODE_UNSET, SL_ERR_NO_MEMORY, 0, NULL);
    sl_buf_reset(&c->oreq);
    if (sl_buf_reserve(&c->oreq, need, need) < 0 ||
        sl_buf_append(&c->oreq, c->https ? "https://" : "http://", c->https ? 8 : 7) < 0 ||
        (t->url_parts.host_is_ipv6 && sl_buf_append(&c->oreq, "[", 1) < 0) ||
        sl_buf_append(&c->oreq, t->url_parts.host, strlen(t->url_parts.host)) < 0 ||
        (t->url_parts.host_is_ipv6 && sl_buf_append(&c->oreq, "]", 1) < 0) ||
        sl_buf_append(&c->oreq, path.base, path.len) < 0 ||
        cl_keep_meta(c, m->method, (struct sl_view){ c->oreq.pos, sl_buf_len(&c->oreq) },
                     m) < 0)
        return cl_refuse(t, CL_CODE_UNSET, SL_ERR_NO_MEMORY, 0, NULL);
    sl_buf_reset(&c->oreq);

    rc2 = acl_routes_match(rc->routes, host, path, &hit);
    if (rc2 == -ENOENT)
        return cl_refuse(t, CL_CODE_NONE_NONE, SL_ERR_NO_SITE, rc->unknown_host,
                         "no site by that name here");
    if (rc2 < 0 || hit.vhost < 0 || (size_t)hit.vhost >= rc->n_vhosts ||
        hit.route < 0 || (size_t)hit.route >= rc->vhosts[hit.vhost].n_routes)
        return cl_refuse(t, CL_CODE_NONE_NONE, SL_ERR_NO_SITE, 404,
                         "no such page on this site");
    t->rev.vhost = hit.vhost;
    t->rev.route = hit.route;
    t->rev.routed = 1;
    if (!t->acl.rerun)
        sl_backends_route_hit(rc->rt, hit.vhost, hit.route);
    if (rc->vhosts[hit.vhost].https_redirect && !c->https && !c->internal)
        return rev_redirect(c, &rc->vhosts[hit.vhost], path);
    /* dst ACLs have no destination to look up here: they never match. */
    t->acl.dst_known = 1;
    return CL_NEXT;
}

/* What a hashing pool hashes, into key (size n): its length. */
static size_t hash_key(const struct sl_client *c, const struct sl_conf_rpool *p,
                       char *key, size_t n)
{
    const struct cl_txn *t = &c->txn;

    switch (p->hash_by) {
    case SL_REV_HASH_URI:
        return (size_t)snprintf(key, n, "%s", t->url) < n ? strlen(key) : n - 1;
    case SL_REV_HASH_HEADER:
        if (t->rev.hash_len > 0) {
            size_t k = t->rev.hash_len < n ? t->rev.hash_len : n;
            memcpy(key, t->rev.hash_buf, k);
            return k;
        }
        /* no such field: by client, so that it still spreads */
        /* fall through */
    case SL_REV_HASH_CLIENT:
    default:
        if (c->peer.sa.sa_family == AF_INET6) {
            memcpy(key, &c->peer.in6.sin6_addr, 16);
            return 16;
        }
        memcpy(key, &c->peer.in.sin_addr, 4);
        return 4;
    }
}

void rev_release(struct sl_client *c)
{
    struct cl_rev *r = &c->txn.rev;

    if (r->qw.queued)
        sl_backends_dequeue(c->conf->reverse.rt, &r->qw);
    if (r->woken) {
        /* woken for a slot it will not take: the next waiter's then */
        r->woken = 0;
        sl_backends_wake_next(c->conf->reverse.rt, rev_route(c)->pool);
    }
    if (!r->picked)
        return;
    r->picked = 0;
    sl_backends_done(c->conf->reverse.rt, rev_route(c)->pool, r->backend);
}

/*
 * What the request found on its backend (once per pick): ok, or a failure
 * that counts toward ejecting it (backend.h). Logged when it ejects.
 */
void rev_outcome(struct sl_client *c, int ok, int head)
{
    struct cl_txn *t = &c->txn;
    struct cl_rev *r = &t->rev;
    const struct sl_conf_reverse *rc = &c->conf->reverse;
    const struct sl_conf_rroute *route = rev_route(c);
    int64_t now_us = sl_loop_now_us(c->srv->loop);

    if (!r->picked || r->reported || route == NULL)
        return;
    r->reported = 1;
    if (sl_backends_result(rc->rt, route->pool, r->backend, ok,
                           sl_loop_now(c->srv->loop),
                           head ? now_us - r->sent_us : -1))
        SL_LOG(SL_LOG_WARN, c->id, 0, "backend %s of pool %s ejected after "
               "failing requests", t->key, rc->pools[route->pool].name);
}

static void rev_wake(struct sl_backend_waiter *w);

/*
 * Choose the backend (at fwd_start, and again for a retry, which avoids
 * the one that failed): its address in t->addrs as if a lookup had found
 * it, t->key its name (the origin pool's key). 0, or -1 when none may
 * take it: answered (503, or a stale copy where RFC 5861 allows).
 */
int rev_pick(struct sl_client *c)
{
    struct cl_txn *t = &c->txn;
    const struct sl_conf_reverse *rc = &c->conf->reverse;
    const struct sl_conf_rroute *route = rev_route(c);
    const struct sl_conf_rbackend *b;
    char key[SL_HTTP_HOST_MAX + 1024];
    size_t klen = 0;
    int i;

    t->rev.woken = 0;           /* a wake it had is used here */
    rev_release(c);
    if (route == NULL || rc->rt == NULL) {
        cl_reply_error(c, SL_ERR_NO_BACKEND, 0, NULL);
        return -1;
    }
    if (rc->pools[route->pool].algo == SL_PICK_HASH)
        klen = hash_key(c, &rc->pools[route->pool], key, sizeof(key));
    i = sl_backends_pick(rc->rt, route->pool, key, klen, rev_random(),
                         sl_loop_now(c->srv->loop), t->rev.avoid - 1);
    t->rev.qw.wake = rev_wake;
    if (i == -SL_PICK_ALL_BUSY && !c->headless &&
        sl_backends_enqueue(rc->rt, route->pool, &t->rev.qw) == 0) {
        /* all busy, but the queue has room: wait for a slot */
        if (c->state != CL_QUEUE)
            c->t_state = sl_loop_now(c->srv->loop);
        c->state = CL_QUEUE;
        return 1;
    }
    if (i < 0) {
        SL_LOG(SL_LOG_WARN, c->id, 0, "pool %s: %s for %s", rc->pools[route->pool].name,
               i == -SL_PICK_ALL_BUSY ? "every backend at max_connections"
                                      : "no backend up", t->url);
        t->code = CL_CODE_TCP_MISS;
        cl_reply_error(c, SL_ERR_NO_BACKEND, 0, i == -SL_PICK_ALL_BUSY ?
                       "the servers are all busy" : "no server is up");
        return -1;
    }
    t->rev.backend = i;
    t->rev.picked = 1;
    t->rev.chosen = 1;
    t->rev.reported = 0;
    t->rev.sent_us = sl_loop_now_us(c->srv->loop);
    b = sl_backends_conf(rc->rt, route->pool, i);
    memset(&t->addrs, 0, sizeof(t->addrs));
    t->addr_next = 0;
    /* A TLS pool's connections are its own: another pool may verify
     * another name, trust another CA or present another certificate to
     * the same address. */
    if (rc->pools[route->pool].tls)
        snprintf(t->key, sizeof(t->key), "tls:%s@%s", rc->pools[route->pool].name, b->name);
    else
        memcpy(t->key, b->name, strlen(b->name) + 1);  /* 80 < SL_ORIGIN_KEY_MAX */
    if (b->by_name) {
        /* fwd_start looks it up (the DNS cache answers until the TTL) */
        t->rev.dns_host = b->host;
        t->rev.dns_port = b->port;
        t->acl.dst_known = 0;
        return 0;
    }
    t->rev.dns_host = NULL;
    memcpy(&t->addrs.addr[0], &b->addr, b->addrlen < sizeof(t->addrs.addr[0])
           ? b->addrlen : sizeof(t->addrs.addr[0]));
    t->addrs.n = 1;
    t->addrs.status = SL_DNS_OK;
    t->acl.dst_known = 1;
    return 0;
}

static void rev_wake(struct sl_backend_waiter *w)
{
    struct sl_client *c = (struct sl_client *)((char *)w -
                              offsetof(struct sl_client, txn.rev.qw));

    c->txn.rev.woken = 1;
    sl_loop_post(c->srv->loop, &c->run_post);
}

int rev_queue_step(struct sl_client *c)
{
    if (!c->txn.rev.woken)
        return 0;
    /* picks again (or queues again, at the end); the wake counts as used
     * once rev_pick took a slot or queued again, and rev_release passes
     * it on when the request ends before (its body refused, say) */
    fwd_start(c);
    return 1;
}

int64_t rev_queue_deadline(const struct sl_client *c)
{
    const struct sl_conf_rroute *route = rev_route(c);

    /* the time in the queue counts from the first time it queued */
    return c->t_state + (route ? c->conf->reverse.pools[route->pool].pending_timeout_ms
                               : 0);
}

void rev_queue_timeout(struct sl_client *c)
{
    struct cl_txn *t = &c->txn;

    rev_release(c);             /* out of the queue; a wake it got, passed on */
    SL_LOG(SL_LOG_INFO, c->id, 0, "%s: no backend slot within pending_timeout", t->url);
    t->code = CL_CODE_TCP_MISS;
    cl_reply_error(c, SL_ERR_NO_BACKEND, 0, "the servers are all busy");
}

/*
 * The backend failed before any byte of a response (connect refused or
 * timed out; reset or closed before the head): may the request go to
 * another backend? Once, and only when nothing of it can have been acted
 * on (connect: nothing was sent) or it is idempotent and has no body.
 * 1: retried (c goes on), 0: the caller answers the failure.
 */
int rev_retry(struct sl_client *c, int sent)
{
    struct cl_txn *t = &c->txn;

    if (!c->reverse || t->rev.retried || t->resp_started ||
        (sent && !(t->idempotent && t->req.kind == SL_HTTP_BODY_NONE)))
        return 0;
    rev_outcome(c, 0, 0);
    t->rev.retried = 1;
    t->rev.avoid = t->rev.backend + 1;
    t->oreq_sent = 0;
    t->connect_err = 0;
    SL_LOG(SL_LOG_DEBUG, c->id, 0, "backend %s failed, retrying on another", t->key);
    fwd_start(c);
    return 1;
}

/* The backend's Host: the client's (preserve_host), or else the pool's
 * name, as nginx sends its upstream's (the head is built before a
 * backend is picked, and a retry may go to another). */
static int rev_host_line(struct sl_client *c, struct sl_buf *out)
{
    const struct cl_txn *t = &c->txn;
    const struct sl_conf_reverse *rc = &c->conf->reverse;

    const char *h = rc->preserve_host && t->rev.host[0] != '\0'
                  ? t->rev.host : rc->pools[rev_route(c)->pool].name;

    return sl_buf_append(out, "Host: ", 6) < 0 || sl_buf_append(out, h, strlen(h)) < 0 ||
           sl_buf_append(out, "\r\n", 2) < 0 ? -ENOSPC : 0;
}

/* "for=" of a Forwarded element (RFC 7239 6): an IPv6 address quoted in
 * brackets. */
static int forwarded_line(const struct sl_client *c, struct sl_buf *out)
{
    const struct cl_txn *t = &c->txn;
    int v6 = c->peer.sa.sa_family == AF_INET6;

    if (sl_buf_append(out, "Forwarded: for=", 15) < 0 ||
        (v6 && sl_buf_append(out, "\"[", 2) < 0) ||
        sl_buf_append(out, c->peer_str, strlen(c->peer_str)) < 0 ||
        (v6 && sl_buf_append(out, "]\"", 2) < 0) ||
        (c->https ? sl_buf_append(out, ";proto=https", 12)
                : sl_buf_append(out, ";proto=http", 11)) < 0)
        return -ENOSPC;
    /* host= is a quoted-string: the Host passed the parser (no CTL), and
     * a quote or backslash in it is escaped */
    if (t->rev.host[0] != '\0') {
        const char *p;
        if (sl_buf_append(out, ";host=\"", 7) < 0)
            return -ENOSPC;
        for (p = t->rev.host; *p; p++)
            if (((*p == '"' || *p == '\\') && sl_buf_append(out, "\\", 1) < 0) ||
                sl_buf_append(out, p, 1) < 0)
                return -ENOSPC;
        if (sl_buf_append(out, "\"", 1) < 0)
            return -ENOSPC;
    }
    return sl_buf_append(out, "\r\n", 2) < 0 ? -ENOSPC : 0;
}

/* Our own fields after the rewritten ones: who the client is, the
 * request's id, the route's additions. */
static int rev_add_fields(struct sl_client *c, const struct sl_http_msg *m,
                          int trusted)
{
    struct cl_txn *t = &c->txn;
    const struct sl_conf_reverse *rc = &c->conf->reverse;
    const struct sl_conf_rroute *route = rev_route(c);
    const struct sl_http_hdr *id = sl_http_find(m, "X-Request-Id");
    struct sl_buf *out = &c->oreq;

    if (rc->forwarded && (!trusted || sl_http_find(m, "Forwarded") == NULL) &&
        forwarded_line(c, out) < 0)
        return -ENOSPC;
    if (rc->x_forwarded_proto && (!trusted || !sl_http_find(m, "X-Forwarded-Proto")) &&
        (c->https ? sl_buf_append(out, "X-Forwarded-Proto: https\r\n", 26)
                : sl_buf_append(out, "X-Forwarded-Proto: http\r\n", 25)) < 0)
        return -ENOSPC;
    if (rc->x_forwarded_host && t->rev.host[0] &&
        (!trusted || !sl_http_find(m, "X-Forwarded-Host")) &&
        (sl_buf_append(out, "X-Forwarded-Host: ", 18) < 0 ||
         sl_buf_append(out, t->rev.host, strlen(t->rev.host)) < 0 ||
         sl_buf_append(out, "\r\n", 2) < 0))
        return -ENOSPC;
    rev_request_id(c, m);
    if (id == NULL && rc->request_id) {
        if (sl_buf_append(out, "X-Request-Id: ", 14) < 0 ||
            sl_buf_append(out, t->rev.reqid, 32) < 0 ||
            sl_buf_append(out, "\r\n", 2) < 0)
            return -ENOSPC;
    }
    if (route->req.add && sl_buf_append(out, route->req.add, strlen(route->req.add)) < 0)
        return -ENOSPC;
    return gw_req_fields(c, out);
}

void rev_request_id(struct sl_client *c, const struct sl_http_msg *m)
{
    struct cl_txn *t = &c->txn;
    const struct sl_http_hdr *id;

    if (t->rev.reqid[0] != '\0')
        return;
    id = sl_http_find(m, "X-Request-Id");
    if (id != NULL && id->value.len > 0) {   /* logged: its first 64 bytes */
        /* (the parser let no CR, LF or NUL into a value) */
        snprintf(t->rev.reqid, sizeof(t->rev.reqid), "%.*s", (int)id->value.len,
                 id->value.base);
    } else if (id == NULL && c->conf->reverse.request_id) {
        hex64(rev_random(), t->rev.reqid);
        hex64(rev_random(), t->rev.reqid + 16);
        t->rev.reqid[32] = '\0';
    }
}

/* The request head for the backend into c->oreq. 0, -ENOMEM, -ENOSPC. */
int rev_build_request(struct sl_client *c, const struct sl_http_msg *m)
{
    const struct sl_conf *conf = c->conf;
    const struct sl_conf_reverse *rc = &conf->reverse;
    const struct sl_conf_rroute *route = rev_route(c);
    struct cl_txn *t = &c->txn;
    size_t limit = conf->http.max_request_head + 4096;
    struct acl_route_hit hit = { t->rev.vhost, t->rev.route };
    struct flt_hdr_opts opts;
    const struct sl_http_hdr *hh;
    struct sl_view path;
    struct sl_url tmp;
    size_t want;
    int trusted = acl_nets_match(rc->trusted_proxies, rc->n_trusted_proxies,
                                 &c->peer.sa);
    char via[160];

    if (route == NULL)
        return -EINVAL;
    if (c->oreq.start == NULL && sl_buf_init(&c->oreq, 4096) < 0)
        return -ENOMEM;
    /* the hashed field's value is kept now: the head goes after this */
    t->rev.hash_len = 0;
    if (rc->pools[route->pool].algo == SL_PICK_HASH &&
        rc->pools[route->pool].hash_by == SL_REV_HASH_HEADER &&
        (hh = sl_http_find(m, rc->pools[route->pool].hash_header)) != NULL) {
        size_t k = hh->value.len < sizeof(t->rev.hash_buf) ? hh->value.len
                                                            : sizeof(t->rev.hash_buf);
        memcpy(t->rev.hash_buf, hh->value.base, k);
        t->rev.hash_len = k;
    }
    fwd_request_opts(c, m, &opts, via, sizeof(via));
    opts.xff = !rc->forwarded_for ? FLT_XFF_DELETE
             : trusted ? FLT_XFF_ON : FLT_XFF_TRUNCATE;
    opts.access = route->req.access;
    gw_req_drop(c, &opts);
    /* from a trusted proxy its fields pass: ours are added only when it
     * sent none (rev_add_fields) */
    opts.drop2 = trusted ? NULL : untrusted_drop;
    if (zip_on_request(c, m))
        opts.drop2 = trusted ? drop_ae : untrusted_drop_ae;
    /* The path from m itself: a collapsed waiter released later builds
     * this from the head it kept (c->creq), not the one long consumed. */
    if (m->target.len > 0 && m->target.base[0] == '/') {
        path = m->target;
    } else {
        const char *err;
        if (sl_http_parse_url(m->target, &tmp, &err) < 0)
            return -EINVAL;     /* it parsed at rev_target: cannot happen */
        path = tmp.path;
    }
    want = path.len + 1024 < limit ? path.len + 1024 : limit;
    for (;;) {
        sl_buf_reset(&c->oreq);
        if (sl_buf_reserve(&c->oreq, want, limit) < 0)
            return -ENOSPC;
        if (sl_buf_append(&c->oreq, m->method.base, m->method.len) == 0 &&
            sl_buf_append(&c->oreq, " ", 1) == 0 &&
            acl_routes_rewrite(rc->routes, &hit, path, &c->oreq) == 0 &&
            gw_query(c, &c->oreq, m->method.len + 1) == 0 &&
            sl_buf_append(&c->oreq, " HTTP/1.1\r\n", 11) == 0 &&
            rev_host_line(c, &c->oreq) == 0 &&
            flt_hdr_rewrite(m, &opts, &c->oreq) == 0 &&
            (!t->upgrade || fwd_upgrade_fields(m, &c->oreq) == 0) &&
            rev_add_fields(c, m, trusted) == 0 &&
            fill_request_conditionals(c, &c->oreq) == 0 &&
            sl_buf_append(&c->oreq, "\r\n", 2) == 0)
            return 0;
        if (want >= limit)
            return -ENOSPC;
        want = want * 2 < limit ? want * 2 : limit;
    }
}

/* The client's response head: the backend's fields it must not see. */
void rev_resp_opts(const struct sl_client *c, struct flt_hdr_opts *opts,
                   const char **add)
{
    const struct sl_conf_reverse *rc = &c->conf->reverse;
    const struct sl_conf_rroute *route = rev_route(c);

    static const char *const own[] = { CACHE_TARGETED_OWN, NULL };
    static const char *const own_id[] = { CACHE_TARGETED_OWN, "X-Request-Id", NULL };

    opts->access = rc->hide;
    opts->access2 = route ? route->resp.access : NULL;
    /* our targeted field is for us alone; the request's id is ours to
     * say (rev_resp_fields: a stored response's would be another's) */
    if (opts->drop == NULL)
        opts->drop = c->txn.rev.reqid[0] != '\0' ? own_id : own;
    if (!rc->via)
        opts->via = NULL;
    *add = route ? route->resp.add : NULL;
}
