/*
 * client_mgr.c - pages the proxy serves itself: the PAC file, the
 * Prometheus /metrics page (its numbers: metrics.c), the status
 * dashboard /squidlike/status (statuspage.c) and the same numbers as
 * /squidlike/status.json (status.c). The PAC is for whoever may use the
 * proxy; the rest for the proxy host and manager.allow_sources. On a
 * manager.listen port nothing else is served.
 *
 * For origin-form requests (a request target starting with "/", sent to
 * the proxy as to a web server), GET and HEAD:
 *   /proxy.pac, /wpad.dat      the proxy auto-config file, generated from
 *                              the pac group (filters/pac.h), for clients
 *                              in access.allow_sources;
 *   /squidlike/status          the HTML dashboard (statuspage.c),
 *   /squidlike/status.json     the same numbers as JSON (status.h),
 *   /metrics                   the Prometheus exposition (metrics.h),
 *                              these three for the proxy host (loopback or
 *                              one of its interface addresses) and the
 *                              networks in manager.allow_sources.
 * Other origin-form targets are not ours: the caller answers them as
 * before (400, "this is a proxy") - except on a manager.listen port,
 * where anything else is refused with a 403.
 *
 * Access log: a served page is logged "NONE/200" with HIER_NONE (neither
 * a cache hit nor a miss, like Squid's internal pages, so it never moves
 * the hit ratio); a refused client "TCP_DENIED/403".
 *
 * A page is built whole into c->out (it is small and bounded) and written
 * by client.c's CL_REPLY state, like an error page; the transaction is
 * logged by client.c as any other.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "acl/acl.h"
#include "filters/pac.h"
#include "squidlike/client_int.h"
#include "squidlike/metrics.h"
#include "squidlike/server.h"
#include "squidlike/status.h"

#define PAC_TYPE "application/x-ns-proxy-autoconfig"
#define PROXY_MAX 300           /* "host:port" taken from the request */
#define METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* The path of target without its query, compared exactly. */
static int path_is(struct sl_view target, const char *path)
{
    size_t n = 0;

    while (n < target.len && target.base[n] != '?')
        n++;
    return n == strlen(path) && memcmp(target.base, path, n) == 0;
}

/*
 * With no pac.proxies configured, the proxy is where this client reached
 * us: its Host header (":80" when it names no port, as the URL did), or
 * else the local address of the connection.
 */
static void self_proxy(struct sl_client *c, const struct sl_http_msg *m,
                       char *buf, size_t len)
{
    const struct sl_http_hdr *host = sl_http_find(m, "Host");
    union sl_sockaddr sa;
    socklen_t salen = sizeof(sa);
    const char *end;

    if (host != NULL && host->value.len > 0 && host->value.len + 4 < len) {
        memcpy(buf, host->value.base, host->value.len);
        buf[host->value.len] = '\0';
        end = strrchr(buf, ']');
        if (strchr(end ? end : buf, ':') == NULL)
            strcat(buf, ":80");
        if (flt_pac_check_proxy(buf) == NULL)
            return;
    }
    if (getsockname(c->io.fd, &sa.sa, &salen) == 0)
        sl_net_ntop_port(&sa.sa, buf, len);
    else
        snprintf(buf, len, "127.0.0.1:3128");
}

/* Bytes the PAC can take at most, for the buffer it is written into. */
static size_t pac_bound(const struct flt_pac *p)
{
    size_t n = 2048, i;

    for (i = 0; i < p->n_proxies; i++)
        n += 3 * strlen(p->proxies[i]) + 64;
    for (i = 0; i < p->n_domains; i++)
        n += 3 * strlen(p->domains[i]) + 64;
    return n + 80 * p->n_nets;
}

int mgr_send_page(struct sl_client *c, const char *ctype, const char *cache,
                 const struct sl_buf *body, const char *log_ctype,
                 const char *extra)
{
    struct cl_txn *t = &c->txn;
    size_t blen = body ? sl_buf_len(body) : 0;
    int rc;

    if (cl_lend_out(c) < 0 || sl_buf_reserve(&c->out, blen + 512, blen + 1024) < 0)
        return -ENOMEM;
    sl_buf_reset(&c->out);
    rc = sl_page_head(&c->out, 200, ctype, blen, cache, t->keep, t->minor, extra);
    if (rc == 0)
        rc = sl_buf_append(&c->out, "\r\n", 2);
    if (rc == 0 && blen && !t->is_head)
        rc = sl_buf_append(&c->out, body->pos, blen);
    if (rc < 0)
        return rc;
    t->status = 200;
    snprintf(t->ctype, sizeof(t->ctype), "%s", log_ctype ? log_ctype : "");
    c->state = CL_REPLY;
    c->t_state = sl_loop_now(c->srv->loop);
    return 0;
}

static int serve_pac(struct sl_client *c, const struct sl_http_msg *m)
{
    const struct sl_conf_pac *pc = &c->conf->pac;
    char cache[32];
    char self[PROXY_MAX];
    const char *one[1] = { self };
    struct flt_pac p = {
        .proxies = pc->proxies, .n_proxies = pc->n_proxies,
        .domains = pc->direct_domains, .n_domains = pc->n_direct_domains,
        .nets = pc->direct_networks, .n_nets = pc->n_direct_networks,
        .direct_plain = pc->direct_plain_hostnames,
        .direct_fallback = pc->direct_fallback, .spread = pc->spread
    };
    struct sl_buf body = { 0 };
    size_t bound;
    int rc;

    if (p.n_proxies == 0) {
        self_proxy(c, m, self, sizeof(self));
        p.proxies = one;
        p.n_proxies = 1;
    }
    bound = pac_bound(&p);
    if (sl_buf_init(&body, bound) < 0)
        return -ENOMEM;
    rc = flt_pac_write(&body, &p);
    snprintf(cache, sizeof(cache), "max-age=%lld", (long long)(pc->max_age / 1000));
    if (rc == 0)
        rc = mgr_send_page(c, PAC_TYPE, cache, &body, PAC_TYPE, NULL);
    sl_buf_free(&body);
    return rc;
}

/* The manager pages: the proxy host, and manager.allow_sources. */
static int may_manage(const struct sl_client *c)
{
    const struct sl_conf_manager *mg = &c->conf->manager;

    return acl_addr_on_host(&c->peer.sa, c->srv->self, c->srv->nself) ||
           acl_nets_match(mg->allow_sources, mg->n_allow_sources, &c->peer.sa);
}

/*
 * The Host the page was asked by is one of ours: an address, "localhost",
 * visible_hostname or this machine's name (a trailing dot and a port
 * aside), or no Host at all. Else a page in an admin's browser could name
 * a host of its own that resolves to us (DNS rebinding) and read our
 * pages as its own origin. Squid's internal URLs check the same.
 */
static int host_is_ours(const struct sl_client *c, const struct sl_http_msg *m)
{
    const struct sl_http_hdr *h = sl_http_find(m, "Host");
    unsigned char addr[sizeof(struct in6_addr)];
    char name[256];
    size_t n = 0;

    if (h == NULL)
        return 1;
    if (h->value.len > 0 && h->value.base[0] == '[')
        return 1;               /* an IPv6 literal: no DNS name starts so */
    while (n < h->value.len && h->value.base[n] != ':')
        n++;
    if (n > 0 && h->value.base[n - 1] == '.')
        n--;
    if (n == 0 || n >= sizeof(name))
        return 0;
    memcpy(name, h->value.base, n);
    name[n] = '\0';
    return inet_pton(AF_INET, name, addr) == 1 || strcasecmp(name, "localhost") == 0 ||
           strcasecmp(name, c->conf->visible_hostname) == 0 ||
           (c->srv->hostname[0] != '\0' && strcasecmp(name, c->srv->hostname) == 0);
}

/* A no-store page of at most max bytes written by fn: /metrics, the
 * status pages. */
static int serve_page(struct sl_client *c, size_t max,
                      int (*fn)(struct sl_buf *, struct sl_server *),
                      const char *ctype, const char *log_ctype, const char *extra)
{
    struct sl_buf body = { 0 };
    int rc;

    if (sl_buf_init(&body, max) < 0)
        return -ENOMEM;
    rc = fn(&body, c->srv);
    if (rc == 0)
        rc = mgr_send_page(c, ctype, "no-store", &body, log_ctype, extra);
    sl_buf_free(&body);
    return rc;
}

enum page { P_NONE, P_PAC, P_METRICS, P_JSON, P_HTML };

static enum page which(const struct sl_http_msg *m)
{
    if (path_is(m->target, "/proxy.pac") || path_is(m->target, "/wpad.dat"))
        return P_PAC;
    if (path_is(m->target, "/metrics"))
        return P_METRICS;
    if (path_is(m->target, "/squidlike/status.json"))
        return P_JSON;
    if (path_is(m->target, "/squidlike/status"))
        return P_HTML;
    return P_NONE;
}

enum cl_verdict mgr_begin(struct sl_client *c, const struct sl_http_msg *m)
{
    struct cl_txn *t = &c->txn;
    enum page p = which(m);
    int get = sl_view_eq(m->method, "GET") || sl_view_eq(m->method, "HEAD");
    int rc;

    if ((p == P_NONE || !get) && !c->mgr_only)
        return CL_NEXT;         /* a proxy request after all */
    t->hier = "HIER_NONE";
    /* A body we do not read stands between this request and the next. */
    if (t->req.kind != SL_HTTP_BODY_NONE)
        t->keep = 0;
    else
        t->req.done = 1;
    if (c->draining || c->srv->draining)
        t->keep = 0;
    if (p == P_NONE || !get)
        return cl_refuse(t, CL_CODE_TCP_DENIED, SL_ERR_ACCESS_DENIED, 403,
            "this port serves the proxy's own pages only (GET or HEAD of "
            "/squidlike/status, /squidlike/status.json, /metrics, /proxy.pac)");
    /* A manager page asked through a proxy - ourselves included, when a
     * client has us fetch our own address: its peer would be this host -
     * is not asked by a manager. Browsers and Prometheus send no Via. */
    if (p != P_PAC && sl_http_find(m, "Via") != NULL)
        return cl_refuse(t, CL_CODE_TCP_DENIED, SL_ERR_ACCESS_DENIED, 403,
            "the proxy's own pages are not served through a proxy (Via)");
    if (p != P_PAC && !host_is_ours(c, m))
        return cl_refuse(t, CL_CODE_TCP_DENIED, SL_ERR_ACCESS_DENIED, 403,
            "the Host of this request is not a name of this proxy (use its "
            "address, visible_hostname or its host name)");
    /* The PAC: whoever may use the proxy; the rest: the managers. */
    if (p == P_PAC ? !acl_nets_match(c->conf->access.allow_sources,
                                     c->conf->access.n_allow_sources, &c->peer.sa)
                   : !may_manage(c))
        return cl_refuse(t, CL_CODE_TCP_DENIED, SL_ERR_ACCESS_DENIED, 403,
            p == P_PAC ? "this address may not use the proxy" :
            "this page is for the proxy host and manager.allow_sources only");
    t->code = CL_CODE_NONE;
    switch (p) {
    case P_JSON:
        rc = serve_page(c, sl_status_size(c->srv), sl_status_write,
                        "application/json", "application/json", NULL);
        break;
    case P_HTML:
        rc = serve_page(c, sl_status_html_size(c->srv), sl_status_html,
                        "text/html; charset=utf-8", "text/html", SL_STATUS_HTML_HEADERS);
        break;
    case P_METRICS:
        rc = serve_page(c, sl_metrics_size(c->srv), sl_metrics_write, METRICS_TYPE,
                        "text/plain", NULL);
        break;
    default:
        rc = serve_pac(c, m);
        break;
    }
    if (rc < 0)
        return cl_refuse(t, CL_CODE_NONE_NONE, SL_ERR_NO_MEMORY, 0, NULL);
    return CL_DONE;
}
