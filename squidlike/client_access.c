/*
 * client_access.c - the access step of the pipeline: who is asking (proxy
 * authentication), may they (http_access over the ACLs of acl/rules.h,
 * blocklist categories among them), and what they see when they may not
 * (block page, deny_info page or redirect, 407 challenge).
 *
 * Some rules need a fact the request does not carry: the destination
 * address (dst: a DNS lookup) or the TLS server name (server_name: for a
 * CONNECT, the proxy answers 200 at once and reads the client's
 * ClientHello) or the user's groups (ldap_group: a directory lookup on
 * the ldapq pool). While the fact is found out the request head stays in
 * c->in; then the whole request is decided again from the start (cl_rerun),
 * now knowing it. A CONNECT refused after the peek cannot get an HTTP
 * answer any more (200 went out): it gets a TLS access_denied alert.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "cache/policy.h"
#include "filters/page.h"
#include "filters/sni.h"
#include "squidlike/client_int.h"
#include "squidlike/log.h"

/* One client address's share of the password hashes. A fixed table, not
 * tied to connections: closing and reopening them does not refill it.
 * Addresses that meet in a slot share it. */
struct auth_slot {
    int family;
    unsigned char addr[16];
    double tokens;
    int64_t refill;
};

#define AUTH_SLOTS 1024

struct access_state {
    double tokens;              /* password hashes allowed now, in all */
    int64_t refill;
    uint64_t seed;              /* keys slots (random, set once) */
    struct auth_slot slots[AUTH_SLOTS];
    time_t fake_now;            /* SQUIDLIKE_TEST_NOW: a fixed clock for time
                                   ACLs in tests; 0: the real one */
};

struct access_state *access_state_new(void)
{
    struct access_state *a = calloc(1, sizeof(*a));
    const char *now = getenv("SQUIDLIKE_TEST_NOW");

    if (a != NULL && now != NULL)
        a->fake_now = (time_t)strtoll(now, NULL, 10);
    return a;
}

void access_state_free(struct access_state *a)
{
    free(a);
}

/* The default block page: the same as etc/errors/blocked.html, which is
 * the starting point for a page of one's own (block_page = ...). */
static const char default_block_page[] =
    "<!DOCTYPE html>\n"
    "<html><head><meta charset=\"utf-8\"><title>Blocked</title></head>\n"
    "<body style=\"font-family: sans-serif; max-width: 40em; margin: 3em auto\">\n"
    "<h1>This page is blocked</h1>\n"
    "<p>The company's web policy does not allow <b>%U</b>.</p>\n"
    "<table>\n"
    "<tr><td>Category</td><td>%c</td></tr>\n"
    "<tr><td>Rule</td><td>%r</td></tr>\n"
    "<tr><td>Your address</td><td>%i</td></tr>\n"
    "<tr><td>Time</td><td>%T</td></tr>\n"
    "</table>\n"
    "<p>If you need this site for your work, ask the IT desk and quote the lines above.</p>\n"
    "<hr><address>squidlike at %s</address>\n"
    "</body></html>\n";

static const char established[] = "HTTP/1.1 200 Connection established\r\n\r\n";
/* TLS alert record: fatal (2), access_denied (49). */
static const unsigned char tls_denied[] = { 0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x31 };
/* The same, internal_error (80): the tunnel was allowed but failed. */
static const unsigned char tls_failed[] = { 0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x50 };

/* Directory lookups one request may wait for (one per ldap_group ACL it
 * reaches); past them a missing answer is unknown. access_begin's guard
 * counts them with the other facts. */
#define GROUP_ROUNDS 4

void access_request(struct sl_client *c, const struct sl_http_msg *m,
                    struct acl_request *r)
{
    struct cl_txn *t = &c->txn;
    struct cl_acl *a = &t->acl;

    memset(r, 0, sizeof(*r));
    r->client = &c->peer.sa;
    if (a->dst_known) {
        static const struct sockaddr none = { .sa_family = AF_UNSPEC };
        const struct sl_dns_result *d = &t->addrs;
        size_t i, n = d->status == SL_DNS_OK ? d->n : 0;

        for (i = 0; i < n; i++)
            a->dst_ptr[i] = &d->addr[i].sa;
        r->dst = n > 0 ? a->dst_ptr[0] : &none;
        r->dst_more = n > 1 ? a->dst_ptr + 1 : NULL;
        r->ndst_more = n > 1 ? n - 1 : 0;
    }
    r->host = t->url_parts.host;
    r->host_len = strlen(t->url_parts.host);
    r->port = t->url_parts.port;
    r->method = t->method ? t->method : "GET";   /* a fetch of our own: GET */
    r->is_connect = t->is_connect;
    r->url = t->acl_url ? t->acl_url : t->url ? t->url : "";
    r->url_len = strlen(r->url);
    /* the path is a view into the head: none without it */
    r->path = t->url_parts.path.base && m ? t->url_parts.path.base : "";
    r->path_len = m ? t->url_parts.path.len : 0;
    r->user = a->user[0] ? a->user : NULL;
    /* Wrong credentials are asked for again (407), as Squid does: a
     * proxy_auth ACL without a user always needs authentication. */
    r->auth_tried = 0;
    r->req = m;
    r->sni = a->sni[0] ? a->sni : NULL;
    r->sni_known = a->sni_known;
    r->conns = c->ipc ? sl_shared_ipconns(c->srv->shared, c->srv->slot, c->ipc) : 1;
    r->now = c->srv->access->fake_now ? c->srv->access->fake_now : time(NULL);
    r->groups = c->conf->ldap.cache;
    r->groups_final = a->group_rounds >= GROUP_ROUNDS;
}

/*
 * At most AUTH_HASHES_PER_SEC slow password hashes per second (a token
 * bucket): a yescrypt check costs ~20 ms of the event loop, so this bounds
 * what wrong passwords can take to about a third of a core. Cached
 * successes never count. One client address gets at most
 * AUTH_HASHES_PER_IP of them a second, so that one client guessing
 * passwords cannot spend the budget of everybody else.
 */
#define AUTH_HASHES_PER_SEC 16
#define AUTH_HASHES_PER_IP 4

static int bucket_take(double *tokens, int64_t *refill, int64_t now, double rate)
{
    *tokens += (double)(now - *refill) * rate / 1000.0;
    if (*tokens > rate)
        *tokens = rate;
    *refill = now;
    return *tokens >= 1.0;
}

static struct auth_slot *auth_slot(struct access_state *st, const struct sl_client *c,
                                   int64_t now)
{
    const unsigned char *a;
    struct auth_slot *s;
    uint64_t h = st->seed;
    size_t n, i;

    if (c->peer.sa.sa_family == AF_INET6) {
        a = c->peer.in6.sin6_addr.s6_addr;
        n = 16;
    } else {
        a = (const unsigned char *)&c->peer.in.sin_addr;
        n = 4;
    }
    for (i = 0; i < n; i++)
        h = (h ^ a[i]) * 0x100000001b3ull;
    s = &st->slots[(h ^ h >> 29) % AUTH_SLOTS];
    if (s->family != c->peer.sa.sa_family || memcmp(s->addr, a, n) != 0) {
        /* a new address here: a full share (it evicts an older one) */
        s->family = c->peer.sa.sa_family;
        memset(s->addr, 0, sizeof(s->addr));
        memcpy(s->addr, a, n);
        s->tokens = AUTH_HASHES_PER_IP;
        s->refill = now;
    }
    return s;
}

static int hash_budget(void *data)
{
    struct sl_client *c = data;
    struct access_state *st = c->srv->access;
    int64_t now = sl_loop_now(c->srv->loop);
    struct auth_slot *s;

    if (st->seed == 0 && getrandom(&st->seed, sizeof(st->seed), 0) < 0)
        st->seed = (uint64_t)now * 0x9e3779b97f4a7c15ull | 1;
    s = auth_slot(st, c, now);
    if (!bucket_take(&s->tokens, &s->refill, now, AUTH_HASHES_PER_IP)
        || !bucket_take(&st->tokens, &st->refill, now, AUTH_HASHES_PER_SEC))
        return 0;
    s->tokens -= 1.0;
    st->tokens -= 1.0;
    return 1;
}

/*
 * Proxy-Authorization, checked once per request (not again on a re-run).
 * Basic is checked here, at once (a bounded hash budget); a Negotiate
 * ticket goes to the worker pool (CL_AGAIN) and the request is decided
 * again when it is known. A request without the field on a connection
 * whose Negotiate ticket was verified is that user (Negotiate is
 * connection-oriented; Basic is not: a Basic user holds for its request).
 * CL_NEXT, CL_AGAIN, or CL_REFUSE (the Kerberos checks are all busy).
 */
static enum cl_verdict authenticate(struct sl_client *c, const struct sl_http_msg *m,
                                    size_t headlen)
{
    struct cl_acl *a = &c->txn.acl;
    const struct sl_conf_policy *p = &c->conf->policy;
    const struct sl_http_hdr *h;

    if (a->neg_slow) {
        if (c->txn.req.kind == SL_HTTP_BODY_NONE)
            c->txn.req.done = 1;    /* nothing stands before the next request */
        return cl_refuse(&c->txn, CL_CODE_TCP_DENIED, SL_ERR_AUTH_BUSY, 0,
                         "the sign-in check took too long");
    }
    if (a->auth_done || (p->auth == NULL && p->negotiate == NULL))
        return CL_NEXT;
    h = sl_http_find(m, "Proxy-Authorization");
    if (h == NULL) {
        /* not tried: the connection's user if any, else a proxy_auth rule
         * asks (407) */
        if (p->negotiate != NULL && c->conn_user[0])
            snprintf(a->user, sizeof(a->user), "%s", c->conn_user);
        return CL_NEXT;
    }
    if (p->negotiate != NULL && h->value.len >= 9 &&
        sl_view_ieq((struct sl_view){ h->value.base, 9 }, "negotiate") &&
        (h->value.len == 9 || h->value.base[9] == ' ' || h->value.base[9] == '\t'))
        return neg_begin(c, h->value, headlen);
    a->auth_done = 1;
    if (p->auth == NULL)
        return CL_NEXT;         /* Basic without a user file: no user */
    acl_auth_set_budget(p->auth, hash_budget, c);
    switch (acl_auth_check(p->auth, h->value, time(NULL), a->user, sizeof(a->user))) {
    case ACL_AUTH_OK:
        break;
    case ACL_AUTH_BUSY:
        a->user[0] = '\0';
        SL_LOG(SL_LOG_WARN, c->id, 0, "auth deferred: client=%s (too many "
               "password checks per second)", c->peer_str);
        break;
    default:
        /* One line per failure, easy for fail2ban: client, then the user
         * name tried (sanitized by acl_auth_check; logged, never trusted). */
        SL_LOG(SL_LOG_WARN, c->id, 0, "auth failure: client=%s user=\"%s\"",
               c->peer_str, a->user);
        c->srv->stats->auth_failures++;
        a->user[0] = '\0';
        break;
    }
    return CL_NEXT;
}

/* --- answers ----------------------------------------------------------- */

static const struct sl_conf_deny_info *deny_info_for(const struct sl_conf_policy *p,
                                                     const char *acl)
{
    size_t i;

    for (i = 0; acl && i < p->n_deny_info; i++)
        if (strcmp(p->deny_info[i].acl, acl) == 0)
            return &p->deny_info[i];
    return NULL;
}

/* A block page (403) or a redirect (302, location non-NULL). A HEAD gets
 * the head a GET would have had, Content-Length included (RFC 9110 9.3.2). */
static void reply_page(struct sl_client *c, int status, const char *location,
                       size_t loclen, const char *body, size_t blen)
{
    struct cl_txn *t = &c->txn;

    t->keep = t->keep && t->req.kind == SL_HTTP_BODY_NONE;
    t->status = status;
    snprintf(t->ctype, sizeof(t->ctype), "text/html");
    if (cl_lend_out(c) < 0 ||
        sl_buf_reserve(&c->out, blen + loclen + 1024, blen + loclen + 4096) < 0) {
        cl_close(c);
        return;
    }
    sl_buf_reset(&c->out);
    sl_page_head(&c->out, status, "text/html; charset=utf-8", blen, "no-store",
                 t->keep, t->minor, "X-Squidlike-Error: ERR_ACCESS_DENIED\r\n");
    if (location != NULL) {
        sl_buf_append(&c->out, "Location: ", 10);
        sl_buf_append(&c->out, location, loclen);
        sl_buf_append(&c->out, "\r\n", 2);
    }
    sl_buf_append(&c->out, "\r\n", 2);
    if (!t->is_head)
        sl_buf_append(&c->out, body, blen);
    c->state = CL_REPLY;
    c->t_state = sl_loop_now(c->srv->loop);
}

/*
 * After our 200 to a CONNECT the client speaks TLS: no HTTP answer can
 * reach it any more. Say no with a fatal TLS alert (access_denied for a
 * 403, internal_error for a failure), behind whatever of the 200 is still
 * unsent, and close; status is for the log.
 */
void access_tls_refuse(struct sl_client *c, int status)
{
    struct cl_txn *t = &c->txn;

    t->status = status;
    t->keep = 0;
    if (sl_buf_append(&c->out, status == 403 ? tls_denied : tls_failed,
                      sizeof(tls_denied)) < 0) {
        cl_close(c);
        return;
    }
    c->state = CL_REPLY;
    c->t_state = sl_loop_now(c->srv->loop);
}

#define BIG_PAGE (256 * 1024)

static void deny(struct sl_client *c, const struct acl_result *res)
{
    struct cl_txn *t = &c->txn;
    const struct sl_conf_policy *p = &c->conf->policy;
    const struct sl_conf_deny_info *di = deny_info_for(p, res->acl);
    char when[32], page[8192], loc[16384];
    struct sl_buf pb = { page, page + sizeof(page), page, page };
    struct sl_buf lb = { loc, loc + sizeof(loc), loc, loc };
    struct flt_page_tags tags;
    char detail[512], *big = NULL;
    const char *tpl;
    int rc;

    t->code = CL_CODE_TCP_DENIED;
    t->acl.rule = res->rule_text;
    t->acl.category = res->note;
    t->acl.blocked = 1;
    cache_date_format(time(NULL), when);
    memset(&tags, 0, sizeof(tags));
    tags.url = t->url;
    tags.host = t->url_parts.host;
    tags.category = res->note;
    tags.rule = res->rule_text;
    tags.acl = res->acl;
    tags.client = c->peer_str;
    tags.time = when;
    tags.server = c->conf->visible_hostname;
    if (t->acl.peeked) {
        access_tls_refuse(c, 403);
        return;
    }
    /* A URL too long for the redirect gets the block page: better than a
     * Location cut short. */
    if (di && di->redirect
        && flt_page_expand(di->redirect, &tags, FLT_PAGE_URL, &lb) == 0) {
        reply_page(c, 302, lb.pos, sl_buf_len(&lb), "", 0);
        return;
    }
    tpl = di && di->page ? di->page : p->block_page ? p->block_page
                                                    : default_block_page;
    rc = flt_page_expand(tpl, &tags, FLT_PAGE_HTML, &pb);
    if (rc == -ENOSPC) {
        /* A big template or a long URL (escaped): room for the largest
         * template and a few escaped URLs, once, for this answer. */
        big = malloc(BIG_PAGE);
        pb = (struct sl_buf){ big, big + BIG_PAGE, big, big };
        rc = big ? flt_page_expand(tpl, &tags, FLT_PAGE_HTML, &pb) : -ENOMEM;
    }
    if (rc == 0) {
        reply_page(c, 403, NULL, 0, pb.pos, sl_buf_len(&pb));
        free(big);
        return;
    }
    free(big);
    if (t->req.kind == SL_HTTP_BODY_NONE)
        t->req.done = 1;
    snprintf(detail, sizeof(detail), "%s%s%s (rule \"%s\")",
             res->note ? "category " : "", res->note ? res->note : t->url,
             res->note ? "" : "", res->rule_text ? res->rule_text : "-");
    cl_reply_error(c, SL_ERR_BLOCKED, 403, detail);
}

static void challenge(struct sl_client *c)
{
    struct cl_txn *t = &c->txn;

    t->code = CL_CODE_TCP_DENIED;
    /* No body stands between this request and the next: keep the
     * connection, the browser answers on it (Squid does the same). */
    if (t->req.kind == SL_HTTP_BODY_NONE)
        t->req.done = 1;
    /* Negotiate first, Basic after it: a browser takes the first scheme it
     * can do, so domain machines sign in silently and others get a
     * password prompt. */
    snprintf(t->acl.extra, sizeof(t->acl.extra), "%s%s%s%s",
             c->conf->policy.negotiate ? "Proxy-Authenticate: Negotiate\r\n" : "",
             c->conf->policy.auth ? "Proxy-Authenticate: Basic realm=\"" : "",
             c->conf->policy.auth ? c->conf->policy.realm : "",
             c->conf->policy.auth ? "\"\r\n" : "");
    cl_reply_error(c, SL_ERR_CACHE_ACCESS_DENIED, 407, NULL);
}

/* --- facts found out later ---------------------------------------------- */

static void on_dst(struct sl_dns_waiter *w, const struct sl_dns_result *res)
{
    struct sl_client *c = w->data;
    struct cl_acl *a = &c->txn.acl;

    a->dst_known = 1;
    c->txn.addrs = *res;        /* no address: no dst ACL matches */
    cl_rerun(c);
}

static int find_dst(struct sl_client *c)
{
    struct cl_txn *t = &c->txn;
    struct cl_acl *a = &t->acl;

    if (fwd_literal(t)) {
        a->dst_known = 1;
        return 0;
    }
    t->dnsw.cb = on_dst;
    t->dnsw.data = c;
    if (sl_dns_resolve(c->srv->dns, t->url_parts.host, &t->dnsw, &t->addrs) == 0) {
        a->dst_known = 1;
        return 0;
    }
    c->state = CL_ACL_WAIT;
    c->t_state = sl_loop_now(c->srv->loop);
    return 1;
}

static void on_groups(struct sl_ldap_waiter *w)
{
    cl_rerun(w->data);          /* the answers are in the cache now */
}

/* The user's groups of the ldap_group ACL acl, asked of the directory:
 * 1 while the client waits (CL_ACL_WAIT), 0 when it cannot (the answers
 * stay unknown for this request). */
static int find_groups(struct sl_client *c, const char *acl, size_t headlen)
{
    struct cl_txn *t = &c->txn;
    struct cl_acl *a = &t->acl;
    const char *const *v;
    time_t now;
    size_t n;
    int rc;

    if (a->group_rounds >= GROUP_ROUNDS ||
        acl_set_groups(c->conf->policy.acls, acl, &v, &n) < 0) {
        a->group_rounds = GROUP_ROUNDS;
        return 0;
    }
    a->group_rounds++;
    now = c->srv->access->fake_now ? c->srv->access->fake_now : time(NULL);
    t->ldapw.cb = on_groups;
    t->ldapw.data = c;
    rc = sl_ldap_lookup(c->srv->ldap, c->conf, a->user, v, n, now, &t->ldapw);
    if (rc < 0) {
        if (rc == -EAGAIN)
            SL_LOG(SL_LOG_WARN, c->id, 0, "ldap: too many lookups waiting: the "
                   "groups of %s are unknown for this request", a->user);
        a->group_rounds = GROUP_ROUNDS;
        return 0;
    }
    a->headlen = headlen;       /* kept in c->in meanwhile */
    c->state = CL_ACL_WAIT;
    c->t_state = sl_loop_now(c->srv->loop);
    return 1;
}

static void start_peek(struct sl_client *c, size_t headlen)
{
    struct cl_txn *t = &c->txn;

    t->acl.peeked = 1;
    t->acl.headlen = headlen;
    if (cl_lend_out(c) < 0) {
        cl_close(c);
        return;
    }
    sl_buf_reset(&c->out);
    sl_buf_append(&c->out, established, sizeof(established) - 1);
    c->state = CL_PEEK;
    c->t_state = c->t_head = sl_loop_now(c->srv->loop);
}

/* CL_PEEK: send our 200, read the ClientHello behind the CONNECT head. */
int access_peek_step(struct sl_client *c)
{
    struct cl_acl *a = &c->txn.acl;
    size_t have;
    ssize_t n;
    int rc;

    if (sl_buf_len(&c->out) && c->wr) {
        n = cl_send2(c->io.fd, c->ssl, c->out.pos, sl_buf_len(&c->out), NULL, 0, &c->wr);
        if (n < 0 && n != -EAGAIN) {
            cl_close(c);
            return 1;
        }
        if (n > 0) {
            sl_buf_consume(&c->out, (size_t)n);
            c->txn.bytes_out += n;
        }
    }
    have = sl_buf_len(&c->in) - a->headlen;
    rc = flt_sni_parse((const unsigned char *)c->in.pos + a->headlen, have,
                       a->sni, sizeof(a->sni));
    if (rc == FLT_SNI_AGAIN) {
        if (!c->rd)
            return 0;
        if (sl_buf_space(&c->in) == 0 &&
            sl_buf_reserve(&c->in, 4096, a->headlen + FLT_SNI_MAX_HELLO + 4096) < 0) {
            rc = FLT_SNI_NOT_TLS;
        } else {
            n = cl_read(c->io.fd, c->ssl, &c->in, &c->rd, c->hup);
            if (n == -EAGAIN)
                return 0;
            if (n <= 0) {
                cl_close(c);
                return 1;
            }
            return 1;
        }
    }
    if (rc != FLT_SNI_FOUND)
        a->sni[0] = '\0';
    a->sni_known = 1;
    if (sl_buf_len(&c->out))
        return 0;               /* the 200 first; the next edge brings us back */
    cl_rerun(c);
    return 1;
}

/* --- the step ----------------------------------------------------------- */

/*
 * A CONNECT about to be peeked, from a client without a user: could the
 * rules ask for credentials once the SNI is known? Only a 407 to the
 * CONNECT itself can reach the client (after our 200 the bytes are the
 * tunnel's), so ask now if they could with a name that matches no
 * server_name ACL or with one that matches them all. A client may be
 * asked for a password its SNI would not have needed; never the other
 * way round.
 */
static int auth_before_peek(struct sl_client *c, const struct acl_request *r)
{
    struct acl_request look = *r;
    struct acl_result res;

    if ((c->conf->policy.auth == NULL && c->conf->policy.negotiate == NULL) ||
        r->user != NULL)
        return 0;
    look.sni_known = 1;
    look.sni = NULL;
    if (acl_check(c->conf->policy.acls, &look, &res) == ACL_NEED_AUTH)
        return 1;
    look.sni_any = 1;
    return acl_check(c->conf->policy.acls, &look, &res) == ACL_NEED_AUTH;
}

enum cl_verdict access_begin(struct sl_client *c, const struct sl_http_msg *m,
                             size_t headlen)
{
    const struct sl_conf_policy *p = &c->conf->policy;
    /* A reverse listener has its own rules over the same ACLs. */
    enum acl_list list = c->reverse ? ACL_LIST_REVERSE : ACL_LIST_HTTP;
    struct acl_request r;
    struct acl_result res;
    int guard;

    if (c->internal)
        return CL_NEXT;         /* our own fetches */
    /* acl_check fills the rule only with a verdict; a fact it could not
     * find out (below) ends in a deny by no rule. */
    memset(&res, 0, sizeof(res));
    res.rule = -1;
    res.rule_text = "(undecided)";
    /* Proxy credentials are for a proxy: a site's visitor has none (a
     * proxy_auth ACL in reverse.http_access denies; see the manual). */
    if (!c->reverse) {
        enum cl_verdict v = authenticate(c, m, headlen);

        if (v != CL_NEXT)
            return v;
    }
    /* Each fact is found out at most once; anything unexpected denies. */
    for (guard = 0; guard < 4 + GROUP_ROUNDS; guard++) {
        access_request(c, m, &r);
        switch (acl_check_in(p->acls, list, &r, &res)) {
        case ACL_ALLOW:
            c->txn.acl.rule = res.rule_text;
            c->txn.acl.category = res.note;
            return CL_NEXT;
        case ACL_DENY:
            break;
        case ACL_NEED_AUTH:
            if (c->reverse)
                break;
            if (c->txn.acl.peeked) {
                /* Our 200 is out: a 407 now would land inside the
                 * tunnel. auth_before_peek() makes this rare. */
                SL_LOG(SL_LOG_WARN, c->id, 0, "CONNECT %s needs a user after the "
                       "TLS peek: refused", c->txn.url);
                break;
            }
            challenge(c);
            return CL_DONE;
        case ACL_NEED_DST:
            if (c->txn.acl.dst_known)
                break;
            c->txn.acl.headlen = headlen;   /* kept in c->in meanwhile */
            if (find_dst(c))
                return CL_AGAIN;
            continue;           /* known at once (literal, DNS cache) */
        case ACL_NEED_SNI:
            if (c->txn.acl.sni_known)
                break;
            if (c->txn.is_connect) {
                if (auth_before_peek(c, &r)) {
                    challenge(c);
                    return CL_DONE;
                }
                start_peek(c, headlen);
                return CL_AGAIN;
            }
            c->txn.acl.sni_known = 1;
            continue;
        case ACL_NEED_GROUP:
            if (find_groups(c, res.acl, headlen))
                return CL_AGAIN;
            continue;           /* decided with the answers unknown */
        }
        break;
    }
    deny(c, &res);
    return CL_DONE;
}

/*
 * to_localhost, decided before the cache for a client it may refuse. The
 * forward checks each address as it connects, but a hit, a read along
 * somebody else's fetch or a whole-object fetch for a range would hand
 * out what only this host's own clients may fetch: so the client's
 * destination is known (DNS cache, or a lookup and a rerun, as for dst
 * ACLs) and refused here when none of its addresses may be reached. The
 * forward then connects to exactly those addresses.
 */
enum cl_verdict access_to_localhost(struct sl_client *c, size_t headlen)
{
    struct cl_txn *t = &c->txn;
    const struct sl_server *srv = c->srv;
    enum acl_to_localhost mode = c->conf->access.to_localhost;
    size_t i, ok = 0;

    if (c->internal || c->reverse || t->is_connect || mode == ACL_TOLOCAL_ALLOW ||
        (mode == ACL_TOLOCAL_LOCAL_CLIENTS &&
         acl_addr_on_host(&c->peer.sa, srv->self, srv->nself)))
        return CL_NEXT;
    if (!t->acl.dst_known) {
        t->acl.headlen = headlen;   /* kept in c->in meanwhile */
        if (find_dst(c))
            return CL_AGAIN;
    }
    if (t->addrs.status != SL_DNS_OK || t->addrs.n == 0)
        return CL_NEXT;         /* the forward answers the DNS failure */
    for (i = 0; i < t->addrs.n; i++)
        ok += (size_t)acl_to_localhost_ok(mode, &c->peer.sa, &t->addrs.addr[i].sa,
                                          srv->self, srv->nself);
    if (ok > 0)
        return CL_NEXT;
    return cl_refuse(t, CL_CODE_TCP_DENIED, SL_ERR_TO_LOCALHOST, 0, t->key);
}
