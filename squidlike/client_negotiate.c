/*
 * client_negotiate.c - Negotiate (Kerberos) proxy authentication on the
 * client side: the ticket of a "Proxy-Authorization: Negotiate" goes to
 * the server's worker pool (workq.h), the request waits in CL_AUTH_WAIT
 * with its head in c->in, and the answer decides it again (cl_rerun) with
 * the user set - or without one, which a proxy_auth rule answers with 407.
 *
 * The verified user stays with the connection (c->conn_user): Negotiate
 * authenticates a connection, not a request, so the later requests on it
 * need no ticket and cost no GSS-API call.
 *
 * A job owns its copy of the token and a reference to the configuration
 * snapshot whose keytab it reads, so neither the client nor a reload can
 * pull memory from under the thread. A client that goes away cancels its
 * job and forgets it (neg_cancel); the pool hands the job back once its
 * thread is done with it, and neg_done frees it without looking for the
 * client.
 *
 *   HEAD --Negotiate--> AUTH_WAIT --done--> cl_rerun (user or none)
 *                           |
 *                           +--client gone / timeout--> job cancelled
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acl/negotiate.h"
#include "squidlike/client_int.h"
#include "squidlike/log.h"
#include "squidlike/workq.h"

struct neg_job {
    struct sl_work w;
    struct sl_client *c;        /* NULL once the client gave the job up */
    struct sl_conf *conf;       /* a reference: its acl_negotiate */
    unsigned delay_ms;          /* tests only (SQUIDLIKE_TEST_GSS_DELAY_MS) */
    enum acl_auth_result result;
    char user[sizeof(((struct sl_client *)0)->conn_user)];
    char why[256];
    size_t len;
    unsigned char tok[];
};

/* On a pool thread: the job's own memory and the snapshot only. */
static void neg_run(struct sl_work *w)
{
    struct neg_job *j = w->data;

    if (j->delay_ms > 0) {
        struct timespec ts = { j->delay_ms / 1000, (long)(j->delay_ms % 1000) * 1000000L };

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
            ;
    }
    j->result = acl_negotiate_accept(j->conf->policy.negotiate, j->tok, j->len,
                                     j->user, sizeof(j->user), j->why, sizeof(j->why));
}

static void neg_free(struct neg_job *j)
{
    sl_conf_unref(j->conf);
    memset(j->tok, 0, j->len);  /* a ticket, even a used one, is not left about */
    free(j);
}

/* On the loop. */
static void neg_done(struct sl_work *w, int status)
{
    struct neg_job *j = w->data;
    struct sl_client *c = j->c;
    struct cl_acl *a;

    if (status != 0 || c == NULL) {
        neg_free(j);            /* the client gave it up: nobody to tell */
        return;
    }
    c->neg_job = NULL;
    c->srv->stats->gss_checks++;
    a = &c->txn.acl;
    a->auth_done = 1;
    if (j->result == ACL_AUTH_OK) {
        c->srv->stats->negotiate_ok++;
        snprintf(c->conn_user, sizeof(c->conn_user), "%s", j->user);
        snprintf(a->user, sizeof(a->user), "%s", j->user);
        SL_DEBUG(c->id, "negotiate: client=%s user=\"%s\" (GSS-API check %llu)",
                 c->peer_str, j->user, c->srv->stats->gss_checks);
    } else {
        /* One line per failure, for fail2ban: the same start as Basic's. */
        SL_LOG(SL_LOG_WARN, c->id, 0, "auth failure: client=%s user=\"\" "
               "scheme=negotiate reason=\"%s\"", c->peer_str, j->why);
        c->srv->stats->negotiate_failed++;
        c->srv->stats->auth_failures++;
        c->conn_user[0] = '\0'; /* a failed new ticket ends the old identity */
        a->user[0] = '\0';
    }
    neg_free(j);
    cl_rerun(c);
}

enum cl_verdict neg_begin(struct sl_client *c, struct sl_view value, size_t headlen)
{
    struct sl_server *srv = c->srv;
    struct cl_acl *a = &c->txn.acl;
    struct neg_job *j;
    size_t cap;
    int rc;

    if (srv->workq == NULL)     /* cannot happen: made with the snapshot */
        return cl_refuse(&c->txn, CL_CODE_TCP_DENIED, SL_ERR_AUTH_BUSY, 0,
                         "no worker threads for Kerberos");
    /* room for what the base64 can decode to, at most the token limit
     * (acl_negotiate_token refuses longer ones) */
    cap = value.len / 4 * 3 + 3;
    if (cap > ACL_NEGOTIATE_TOKEN_MAX)
        cap = ACL_NEGOTIATE_TOKEN_MAX;
    j = malloc(sizeof(*j) + cap);
    if (j == NULL)
        return cl_refuse(&c->txn, CL_CODE_TCP_DENIED, SL_ERR_NO_MEMORY, 0, NULL);
    memset(j, 0, sizeof(*j));
    rc = acl_negotiate_token(value, j->tok, cap, &j->len);
    if (rc <= 0) {
        free(j);
        a->auth_done = 1;
        c->conn_user[0] = '\0';
        SL_LOG(SL_LOG_WARN, c->id, 0, "auth failure: client=%s user=\"\" "
               "scheme=negotiate reason=\"malformed token\"", c->peer_str);
        srv->stats->negotiate_failed++;
        srv->stats->auth_failures++;
        return CL_NEXT;
    }
    j->w.run = neg_run;
    j->w.done = neg_done;
    j->w.data = j;
    j->c = c;
    j->conf = sl_conf_ref(c->conf);
    j->delay_ms = srv->test_gss_delay_ms;
    rc = sl_workq_submit(srv->workq, &j->w);
    if (rc < 0) {
        neg_free(j);
        srv->stats->negotiate_busy++;
        SL_LOG(SL_LOG_WARN, c->id, 0, "auth deferred: client=%s (too many Kerberos "
               "checks waiting)", c->peer_str);
        if (c->txn.req.kind == SL_HTTP_BODY_NONE)
            c->txn.req.done = 1;    /* nothing stands before the next request */
        return cl_refuse(&c->txn, CL_CODE_TCP_DENIED, SL_ERR_AUTH_BUSY, 0,
                         "too many sign-ins are being checked");
    }
    c->neg_job = j;
    a->headlen = headlen;       /* kept in c->in meanwhile */
    c->state = CL_AUTH_WAIT;
    c->t_state = sl_loop_now(srv->loop);
    return CL_AGAIN;
}

void neg_cancel(struct sl_client *c)
{
    struct neg_job *j = c->neg_job;

    if (j == NULL)
        return;
    c->neg_job = NULL;
    j->c = NULL;
    sl_workq_cancel(c->srv->workq, &j->w);
}

/* The check took too long: given up, and the request decided again, now
 * refused (503) by authenticate() - the one path of every refusal. */
void neg_timeout(struct sl_client *c)
{
    SL_LOG(SL_LOG_WARN, c->id, 0, "auth deferred: client=%s (a Kerberos check "
           "took more than %lld ms)", c->peer_str, c->conf->policy.negotiate_timeout_ms);
    neg_cancel(c);
    c->srv->stats->negotiate_busy++;
    c->txn.acl.neg_slow = 1;
    cl_rerun(c);
}
