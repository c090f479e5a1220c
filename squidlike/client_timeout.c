/*
 * client_timeout.c - how long a connection may stay in each state (the
 * configured timeouts, a reverse route's own), and what its timer does
 * when one runs out: a 408, a DNS or origin timeout, a collapsed waiter
 * fetching for itself, a queued request's 503, an idle tunnel ended.
 */
#include "config.h"

#include <limits.h>
#include <string.h>

#include "squidlike/client_int.h"
#include "squidlike/log.h"

static int64_t cl_deadline(const struct sl_client *c)
{
    const struct sl_conf_timeouts *to = &c->conf->timeouts;
    const struct cl_txn *t = &c->txn;
    const struct sl_conf_rroute *route = rev_route(c);

    /* a reverse route may have its own (a slow report, a quick API) */
    if (route != NULL && (c->state == CL_CONNECT || c->state == CL_FORWARD)) {
        int64_t co = route->connect_timeout_ms ? route->connect_timeout_ms : to->connect;
        int64_t fb = route->response_timeout_ms ? route->response_timeout_ms
                                                : to->origin_first_byte;
        int64_t id = route->idle_timeout_ms ? route->idle_timeout_ms : to->origin_idle;

        if (c->state == CL_CONNECT)
            return c->t_state + co;
        return c->t_progress + (t->head_done ? id : fb);
    }
    switch (c->state) {
    case CL_TLS:
        return c->t_state + c->conf->reverse.tls.handshake_timeout;
    case CL_HEAD:
        if (sl_buf_len(&c->in) == 0)
            return c->t_state + to->client_idle;
        return c->t_head + to->request_head;
    case CL_RESOLVE:
        /* c-ares times out on its own; this is the backstop. */
        return c->t_state + 2 * c->conf->dns.timeout + 1000;
    case CL_CONNECT:
        return c->t_state + to->connect;
    case CL_FORWARD:
        return c->t_progress + (t->head_done ? to->origin_idle
                                             : to->origin_first_byte);
    case CL_REPLY:
    case CL_HIT:
        return c->t_progress + to->origin_idle;
    case CL_TUNNEL:
        return c->t_progress + to->tunnel_idle;
    case CL_WAIT:
        return c->t_state + to->connect + to->origin_first_byte;
    case CL_QUEUE:
        return rev_queue_deadline(c);
    case CL_ACL_WAIT:
        /* a lookup: each directory tried may take a timeout to connect
         * and one per operation; past that, decide without the answer */
        if (t->ldapw.job != NULL)
            return c->t_state + c->conf->ldap.timeout *
                   (int64_t)(2 * c->conf->ldap.n_uris + 2) + 1000;
        return c->t_state + 2 * c->conf->dns.timeout + 1000;
    case CL_AUTH_WAIT:
        return c->t_state + c->conf->policy.negotiate_timeout_ms;
    case CL_PEEK:
        /* A client speaks first in TLS, right after our 200: a protocol
         * where the server speaks first must not wait request_head. */
        return c->t_head + (to->request_head < CL_PEEK_TIMEOUT_MS
                            ? to->request_head : CL_PEEK_TIMEOUT_MS);
    case CL_LINGER:
        return c->t_state + CL_LINGER_MS;
    case CL_CLOSED:
        break;
    }
    return INT64_MAX;
}

/*
 * Timers are armed lazily: only when the deadline moves earlier. Progress
 * moves deadlines later without touching the heap; an early firing just
 * re-arms for the real deadline.
 */
void cl_arm_timer(struct sl_client *c)
{
    int64_t d = cl_deadline(c);

    if (!sl_timer_armed(&c->timer) || d < c->timer.when)
        sl_timer_at(c->srv->loop, &c->timer, d);
}

void cl_on_timer(struct sl_timer *tm)
{
    struct sl_client *c = tm->data;
    int64_t d = cl_deadline(c);

    if (d > sl_loop_now(c->srv->loop)) {
        sl_timer_at(c->srv->loop, tm, d);
        return;
    }
    switch (c->state) {
    case CL_HEAD:
        if (sl_buf_len(&c->in) == 0) {
            cl_close(c);        /* idle keep-alive connection */
            return;
        }
        cl_txn_init(c);
        cl_keep_meta(c, SL_VIEW_LIT("NONE"), SL_VIEW_LIT("error:request-timeout"),
                     NULL);
        c->txn.keep = 0;
        c->txn.code = CL_CODE_NONE_NONE;
        sl_buf_reset(&c->in);
        cl_reply_error(c, SL_ERR_REQUEST_TIMEOUT, 0, NULL);
        break;
    case CL_RESOLVE:
        cl_reply_error(c, SL_ERR_DNS_TIMEOUT, 0, c->txn.url_parts.host);
        break;
    case CL_CONNECT:
    case CL_FORWARD:
        fwd_timeout(c);
        break;
    case CL_TLS:
        /* A client that stops mid-handshake (or never starts one). */
        SL_LOG(SL_LOG_INFO, c->id, 0, "TLS handshake with %s timed out", c->peer_str);
        sl_tls_count(c->ssl, 0);
        cl_close(c);
        return;
    case CL_QUEUE:
        rev_queue_timeout(c);
        break;
    case CL_WAIT:
        /* The fetch we wait on takes too long: fetch it ourselves. */
        if (c->txn.cache.xcf_waiter)
            c->srv->stats->xcf_forwarded++;
        cfwd_detach(c);
        cl_forward_released(c);
        break;
    case CL_ACL_WAIT:
        if (c->txn.ldapw.job != NULL) {
            /* No answer in time: the groups are unknown for this
             * request (the lookup goes on and fills the cache). */
            SL_LOG(SL_LOG_INFO, c->id, 0, "ldap: no answer in time for %s",
                   c->txn.acl.user);
            sl_ldap_cancel(&c->txn.ldapw);
            c->txn.acl.group_rounds = UCHAR_MAX;
            cl_rerun(c);
            return;
        }
        /* No address in time: dst ACLs do not match; decide again. */
        sl_dns_cancel(&c->txn.dnsw);
        c->txn.acl.dst_known = 1;
        memset(&c->txn.addrs, 0, sizeof(c->txn.addrs));
        c->txn.addrs.status = SL_DNS_TIMEOUT;
        cl_rerun(c);
        return;
    case CL_AUTH_WAIT:
        neg_timeout(c);
        return;
    case CL_PEEK:
        /* No ClientHello in time: decide without a server name. */
        c->txn.acl.sni_known = 1;
        c->txn.acl.sni[0] = '\0';
        cl_rerun(c);
        return;
    case CL_TUNNEL:
        /* An idle tunnel ending is its normal end, not an abort. */
        SL_LOG(SL_LOG_INFO, c->id, 0, "%s %s idle for too long",
               c->txn.upgrade ? "upgraded connection to" : "CONNECT", c->txn.key);
        cl_txn_done(c);
        break;
    default:
        cl_close(c);
        return;
    }
    cl_run(c);
}
