/*
 * ldapq.c - the ldap_group ACL's lookups (see ldapq.h).
 *
 * A lookup is one job on the pool (workq.h): on its thread it connects to
 * the first directory of ldap.uri that answers (failover in order: a
 * server that refuses, times out or rejects our bind sends us to the
 * next), binds, finds the user's DN when the group filter wants it, and
 * makes one search per group it must answer, all with libldap's
 * synchronous calls bounded by ldap.timeout. The thread touches only the
 * job and the (immutable, referenced) snapshot; the cache and the waiting
 * clients are written on the loop, in job_done.
 *
 *   client: NEED_GROUP --> sl_ldap_lookup --+--> a job in flight for the same
 *                                           |    (conf, user, ACL): join it
 *                                           +--> a new job on the pool
 *   pool thread: connect/bind/search --> answers in the job
 *   loop: job_done --> answers to the cache --> each waiter's cb (rerun)
 *
 * A connection is made per lookup: lookups are rare (the cache answers the
 * rest), and a connection of our own per lookup has no state to go stale.
 *
 * Nested groups (ldap.nested_filter), for directories that cannot follow
 * them themselves (OpenLDAP; AD can, with its in-chain matching rule):
 * the groups the user is in, then the groups those are in, and so on
 * (at most NEST_DEPTH levels and NEST_MAX groups: cycles and huge trees
 * stay bounded), then one search per group still answered "no", its
 * group_filter asked for any of them at once: "(|f(g1)f(g2)...)".
 */
#include "config.h"

#include <errno.h>
#include <ldap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acl/group.h"
#include "squidlike/conf.h"
#include "squidlike/ldapq.h"
#include "squidlike/log.h"
#include "squidlike/loop.h"
#include "squidlike/workq.h"

#define JOB_GROUPS_MAX 64
#define QUEUE_MAX 1024          /* lookups waiting for a thread */
#define FILTER_MAX 8192
#define NEST_DEPTH 4            /* levels of groups in groups followed */
#define NEST_MAX 32             /* groups above the user considered */
#define NEST_FILTER_MAX (NEST_MAX * FILTER_MAX / 2)

struct sl_ldap_job {
    struct sl_work w;
    struct sl_ldap *owner;
    struct sl_conf *conf;               /* referenced until job_done */
    const char *const *acl_groups;      /* the ACL's list: who may join */
    char user[ACL_GROUP_USER_MAX + 1];
    const char *groups[JOB_GROUPS_MAX]; /* to answer (strings of conf) */
    size_t n;
    /* written by the thread, read by job_done */
    unsigned char ans[JOB_GROUPS_MAX];  /* enum acl_gans */
    unsigned searches;
    int failed;                         /* the directory could not answer */
    char err[320];
    time_t now0, wall0;                 /* the ACLs' clock at submit */
    struct sl_ldap_waiter *waiters;
    struct sl_ldap_job *next, *prev;    /* in flight */
};

struct sl_ldap {
    struct sl_loop *loop;
    struct sl_workq *q;                 /* made at the first lookup */
    unsigned threads;
    struct sl_ldap_job *jobs;
    int down;                           /* the last lookup failed */
    int64_t warned_ms;                  /* loop time of the last warning */
    int warned;
    unsigned long long unwarned;        /* failures since that warning */
    struct sl_ldap_stats st;
};

struct sl_ldap *sl_ldap_new(struct sl_loop *loop)
{
    struct sl_ldap *l = calloc(1, sizeof(*l));

    if (l != NULL)
        l->loop = loop;
    return l;
}

void sl_ldap_free(struct sl_ldap *l)
{
    if (l == NULL)
        return;
    sl_workq_free(l->q);        /* job_done(-ECANCELED) for the rest */
    free(l);
}

/* ---- on the pool's thread ----------------------------------------------- */

static struct timeval tv_of(int64_t ms)
{
    struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000) };

    return tv;
}

static int is_tls(const struct sl_conf_ldap *c, const char *uri)
{
    return c->start_tls || strncmp(uri, "ldaps://", 8) == 0;
}

/* A bound connection to uri, or NULL with err. */
static LDAP *dir_open(const struct sl_conf_ldap *c, const char *uri, char *err,
                      size_t errlen)
{
    struct timeval tv = tv_of(c->timeout);
    int v3 = LDAP_VERSION3, demand = LDAP_OPT_X_TLS_DEMAND, zero = 0, rc;
    struct berval cred = { 0, (char *)"" };
    const char *step = "connect";
    LDAP *ld = NULL;

    rc = ldap_initialize(&ld, uri);
    if (rc != LDAP_SUCCESS)
        goto fail;
    step = "set options";
    if ((rc = ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &v3)) != LDAP_OPT_SUCCESS ||
        (rc = ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv)) != LDAP_OPT_SUCCESS ||
        (rc = ldap_set_option(ld, LDAP_OPT_TIMEOUT, &tv)) != LDAP_OPT_SUCCESS ||
        (rc = ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF)) != LDAP_OPT_SUCCESS)
        goto fail;
    if (is_tls(c, uri)) {
        step = "TLS setup";
        if ((c->ca_file &&
             (rc = ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, c->ca_file)) != LDAP_OPT_SUCCESS) ||
            (rc = ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand)) != LDAP_OPT_SUCCESS ||
            (rc = ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &zero)) != LDAP_OPT_SUCCESS)
            goto fail;
    }
    if (c->start_tls) {
        step = "StartTLS";
        if ((rc = ldap_start_tls_s(ld, NULL, NULL)) != LDAP_SUCCESS)
            goto fail;
    }
    /* An anonymous simple bind too: it is what connects, so a dead server
     * shows here and the next one is tried. */
    step = "bind";
    if (c->bind_password) {
        cred.bv_val = c->bind_password;
        cred.bv_len = strlen(c->bind_password);
    }
    rc = ldap_sasl_bind_s(ld, c->bind_dn, LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL);
    if (rc != LDAP_SUCCESS)
        goto fail;
    return ld;
fail:
    snprintf(err, errlen, "%s: %s: %s", uri, step, ldap_err2string(rc));
    if (ld)
        ldap_unbind_ext_s(ld, NULL, NULL);
    return NULL;
}

/* Entries for filter under base_dn, at most limit counted: their number
 * (limit + 1 when there are more), or -1 with err. *dn: the first one's
 * DN (ldap_memfree), when dn is not NULL. */
static int dir_count(LDAP *ld, const struct sl_conf_ldap *c, const char *filter,
                     int limit, char **dn, char *err, size_t errlen)
{
    char *attrs[] = { (char *)LDAP_NO_ATTRS, NULL };
    struct timeval tv = tv_of(c->timeout);
    LDAPMessage *res = NULL, *e;
    int rc, n;

    rc = ldap_search_ext_s(ld, c->base_dn, LDAP_SCOPE_SUBTREE, filter, attrs, 0,
                           NULL, NULL, &tv, limit, &res);
    if (rc != LDAP_SUCCESS && rc != LDAP_SIZELIMIT_EXCEEDED) {
        snprintf(err, errlen, "search %.200s: %s", filter, ldap_err2string(rc));
        ldap_msgfree(res);
        return -1;
    }
    n = res ? ldap_count_entries(ld, res) : 0;
    if (n < 0)
        n = 0;
    if (rc == LDAP_SIZELIMIT_EXCEEDED && n <= limit)
        n = limit + 1;
    if (dn && n > 0 && (e = ldap_first_entry(ld, res)) != NULL)
        *dn = ldap_get_dn(ld, e);
    ldap_msgfree(res);
    return n;
}

/* The groups member_dn is a direct member of, added to anc[*na] (owned,
 * ldap_memfree) when new and while there is room. 0 or -1 with err. */
static int dir_parents(LDAP *ld, const struct sl_conf_ldap *c, const char *user,
                       const char *member_dn, char **anc, size_t *na,
                       char *err, size_t errlen)
{
    char *attrs[] = { (char *)LDAP_NO_ATTRS, NULL }, filter[FILTER_MAX], *dn;
    struct timeval tv = tv_of(c->timeout);
    LDAPMessage *res = NULL, *e;
    size_t i;
    int rc;

    if (acl_ldap_filter(c->nested_filter, user, "", member_dn, filter,
                        sizeof(filter)) < 0)
        return 0;               /* a DN too long to be in a filter: no parents */
    rc = ldap_search_ext_s(ld, c->base_dn, LDAP_SCOPE_SUBTREE, filter, attrs, 0,
                           NULL, NULL, &tv, NEST_MAX, &res);
    if (rc != LDAP_SUCCESS && rc != LDAP_SIZELIMIT_EXCEEDED) {
        snprintf(err, errlen, "search %.200s: %s", filter, ldap_err2string(rc));
        ldap_msgfree(res);
        return -1;
    }
    for (e = res ? ldap_first_entry(ld, res) : NULL; e && *na < NEST_MAX;
         e = ldap_next_entry(ld, e)) {
        if ((dn = ldap_get_dn(ld, e)) == NULL)
            continue;
        for (i = 0; i < *na && strcmp(anc[i], dn) != 0; i++)
            ;
        if (i < *na)
            ldap_memfree(dn);   /* seen: a cycle, or two ways up */
        else
            anc[(*na)++] = dn;
    }
    ldap_msgfree(res);
    return 0;
}

/* "(|" group_filter for each of anc[0..na) ")" for group into out. */
static int nest_filter(const struct sl_conf_ldap *c, const char *user,
                       const char *group, char *const *anc, size_t na,
                       char *out, size_t outlen)
{
    size_t i, o = 2;
    int w;

    if (outlen < 4)
        return -ENOSPC;
    memcpy(out, "(|", 2);
    for (i = 0; i < na; i++) {
        w = acl_ldap_filter(c->group_filter, user, group, anc[i], out + o, outlen - o - 1);
        if (w < 0)
            return w;
        o += (size_t)w;
    }
    out[o++] = ')';
    out[o] = '\0';
    return (int)o;
}

/* Groups answered "no" so far, asked again through the user's groups'
 * groups. The job fails when the directory does. */
static void job_nested(struct sl_ldap_job *j, LDAP *ld, const char *dn)
{
    const struct sl_conf_ldap *c = &j->conf->ldap;
    char *anc[NEST_MAX], *filter = NULL;
    size_t na = 0, lo = 0, hi, i, depth;
    int n;

    for (i = 0; i < j->n && j->ans[i] != ACL_GANS_NOT; i++)
        ;
    if (i == j->n)
        return;                 /* nothing left to find */
    /* level 1: the user's groups; then theirs, up to NEST_DEPTH */
    j->searches++;
    if (dir_parents(ld, c, j->user, dn, anc, &na, j->err, sizeof(j->err)) < 0)
        goto fail;
    for (depth = 1; depth < NEST_DEPTH && lo < na && na < NEST_MAX; depth++) {
        for (hi = na; lo < hi; lo++) {
            j->searches++;
            if (dir_parents(ld, c, j->user, anc[lo], anc, &na, j->err,
                            sizeof(j->err)) < 0)
                goto fail;
        }
    }
    if (na == 0)
        return;
    filter = malloc(NEST_FILTER_MAX);
    for (i = 0; filter && i < j->n; i++) {
        if (j->ans[i] != ACL_GANS_NOT)
            continue;
        if (nest_filter(c, j->user, j->groups[i], anc, na, filter, NEST_FILTER_MAX) < 0)
            continue;           /* cannot be asked: stays "no" */
        j->searches++;
        n = dir_count(ld, c, filter, 1, NULL, j->err, sizeof(j->err));
        if (n < 0)
            goto fail;
        if (n > 0)
            j->ans[i] = ACL_GANS_MEMBER;
    }
    goto out;
fail:
    /* what the direct searches found stands; the rest is unknown */
    j->failed = 1;
    for (i = 0; i < j->n; i++)
        if (j->ans[i] == ACL_GANS_NOT)
            j->ans[i] = ACL_GANS_ERROR;
out:
    free(filter);
    for (i = 0; i < na; i++)
        ldap_memfree(anc[i]);
}

static void job_fail(struct sl_ldap_job *j)
{
    size_t i;

    j->failed = 1;
    for (i = 0; i < j->n; i++)
        j->ans[i] = ACL_GANS_ERROR;
}

static void job_run(struct sl_work *w)
{
    struct sl_ldap_job *j = w->data;
    const struct sl_conf_ldap *c = &j->conf->ldap;
    char filter[FILTER_MAX], *dn = NULL;
    LDAP *ld = NULL;
    size_t i;
    int n;

    for (i = 0; i < c->n_uris && ld == NULL; i++)
        ld = dir_open(c, c->uris[i], j->err, sizeof(j->err));
    if (ld == NULL) {
        job_fail(j);
        return;
    }
    if (c->wants_dn) {
        if (acl_ldap_filter(c->user_filter, j->user, "", NULL, filter,
                            sizeof(filter)) < 0) {
            snprintf(j->err, sizeof(j->err), "user filter too long for \"%s\"", j->user);
            job_fail(j);
            goto out;
        }
        j->searches++;
        n = dir_count(ld, c, filter, 1, &dn, j->err, sizeof(j->err));
        if (n < 0 || n > 1 || (n == 1 && dn == NULL)) {
            if (n > 1)
                snprintf(j->err, sizeof(j->err), "user filter %.200s matches "
                         "more than one entry", filter);
            job_fail(j);
            goto out;
        }
        if (n == 0) {           /* not in the directory: in no group */
            for (i = 0; i < j->n; i++)
                j->ans[i] = ACL_GANS_NOT;
            goto out;
        }
    }
    for (i = 0; i < j->n; i++) {
        if (acl_ldap_filter(c->group_filter, j->user, j->groups[i], dn, filter,
                            sizeof(filter)) < 0) {
            j->ans[i] = ACL_GANS_NOT;   /* a DN too long to be anybody's member */
            continue;
        }
        j->searches++;
        n = dir_count(ld, c, filter, 1, NULL, j->err, sizeof(j->err));
        if (n < 0) {
            job_fail(j);        /* the connection is likely gone: stop */
            goto out;
        }
        j->ans[i] = n > 0 ? ACL_GANS_MEMBER : ACL_GANS_NOT;
    }
    if (c->nested_filter && dn)
        job_nested(j, ld, dn);
out:
    if (dn)
        ldap_memfree(dn);
    ldap_unbind_ext_s(ld, NULL, NULL);
}

/* ---- on the loop ------------------------------------------------------------ */

static void waiter_unlink(struct sl_ldap_waiter *w)
{
    struct sl_ldap_job *j = w->job;

    if (w->prev)
        w->prev->next = w->next;
    else
        j->waiters = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->next = w->prev = NULL;
    w->job = NULL;
}

static void waiter_link(struct sl_ldap_job *j, struct sl_ldap_waiter *w)
{
    w->job = j;
    w->prev = NULL;
    w->next = j->waiters;
    if (j->waiters)
        j->waiters->prev = w;
    j->waiters = w;
}

void sl_ldap_cancel(struct sl_ldap_waiter *w)
{
    if (w->job != NULL)
        waiter_unlink(w);
}

/* Once per warn_interval, however many requests meet the failure. */
static void note_outcome(struct sl_ldap *l, const struct sl_ldap_job *j)
{
    const struct sl_conf_ldap *c = &j->conf->ldap;
    int64_t now = sl_loop_now(l->loop);

    if (!j->failed) {
        if (l->down)
            SL_LOG(SL_LOG_WARN, 0, 0, "ldap: the directory answers again");
        l->down = 0;
        return;
    }
    l->st.errors++;
    l->down = 1;
    if (l->warned && now - l->warned_ms < c->warn_interval) {
        l->unwarned++;
        l->st.warnings_suppressed++;
        return;
    }
    SL_LOG(SL_LOG_WARN, 0, 0, "ldap: directory unavailable (%s): ldap_group ACLs "
           "are unknown for %llds - allow rules with them do not apply, deny rules "
           "do; %llu more failures since the last warning", j->err,
           (long long)((c->error_ttl + 999) / 1000), l->unwarned);
    l->warned = 1;
    l->warned_ms = now;
    l->unwarned = 0;
}

static void job_unlink(struct sl_ldap *l, struct sl_ldap_job *j)
{
    if (j->prev)
        j->prev->next = j->next;
    else
        l->jobs = j->next;
    if (j->next)
        j->next->prev = j->prev;
    j->next = j->prev = NULL;
    l->st.in_flight--;
}

static void job_done(struct sl_work *w, int status)
{
    struct sl_ldap_job *j = w->data;
    struct sl_ldap *l = j->owner;
    struct sl_ldap_waiter *wt;
    time_t now = j->now0 + (time(NULL) - j->wall0);
    size_t i;

    job_unlink(l, j);
    if (status == 0) {
        l->st.searches += j->searches;
        for (i = 0; i < j->n; i++)
            (void)acl_gcache_put(j->conf->ldap.cache, j->user, j->groups[i],
                                 (enum acl_gans)j->ans[i], now);
        note_outcome(l, j);
    }
    /* One at a time from the list: a waiter's cb may cancel another's wait
     * (a client closing), which then leaves the list before its turn. */
    while ((wt = j->waiters) != NULL) {
        waiter_unlink(wt);
        if (status == 0)
            wt->cb(wt);
    }
    sl_conf_unref(j->conf);
    free(j);
}

static int pool_ready(struct sl_ldap *l, const struct sl_conf_ldap *c)
{
    char err[256];

    if (l->q == NULL) {
        l->q = sl_workq_new(l->loop, (unsigned)c->threads, QUEUE_MAX, err, sizeof(err));
        if (l->q == NULL) {
            SL_LOG(SL_LOG_ERROR, 0, 0, "ldap: no thread pool: %s", err);
            return -ENOMEM;
        }
        l->threads = (unsigned)c->threads;
    } else if (l->threads != c->threads &&
               sl_workq_tune(l->q, (unsigned)c->threads, QUEUE_MAX) == 0) {
        l->threads = (unsigned)c->threads;
    }
    return 0;
}

int sl_ldap_lookup(struct sl_ldap *l, struct sl_conf *conf, const char *user,
                   const char *const *groups, size_t n, time_t now,
                   struct sl_ldap_waiter *w)
{
    struct sl_ldap_job *j;
    size_t i;
    int rc;

    sl_ldap_cancel(w);
    if (conf->ldap.n_uris == 0 || conf->ldap.cache == NULL ||
        strlen(user) > ACL_GROUP_USER_MAX || n > JOB_GROUPS_MAX)
        return -EINVAL;
    for (j = l->jobs; j != NULL; j = j->next) {
        if (j->conf == conf && j->acl_groups == groups && strcmp(j->user, user) == 0) {
            l->st.shared++;
            waiter_link(j, w);
            return 0;
        }
    }
    if (pool_ready(l, &conf->ldap) < 0)
        return -ENOMEM;
    j = calloc(1, sizeof(*j));
    if (j == NULL)
        return -ENOMEM;
    for (i = 0; i < n; i++)
        if (acl_gcache_get(conf->ldap.cache, user, groups[i], now) == ACL_GANS_NONE)
            j->groups[j->n++] = groups[i];
    if (j->n == 0) {
        free(j);
        return -EINVAL;         /* all known already: nothing to wait for */
    }
    strcpy(j->user, user);
    j->owner = l;
    j->conf = conf;
    j->acl_groups = groups;
    j->now0 = now;
    j->wall0 = time(NULL);
    j->w.run = job_run;
    j->w.done = job_done;
    j->w.data = j;
    rc = sl_workq_submit(l->q, &j->w);
    if (rc < 0) {
        l->st.rejected++;
        free(j);
        return rc;
    }
    sl_conf_ref(conf);
    j->next = l->jobs;
    if (l->jobs)
        l->jobs->prev = j;
    l->jobs = j;
    l->st.in_flight++;
    l->st.lookups++;
    waiter_link(j, w);
    return 0;
}

void sl_ldap_get_stats(const struct sl_ldap *l, struct sl_ldap_stats *st)
{
    if (l == NULL) {
        memset(st, 0, sizeof(*st));
        return;
    }
    *st = l->st;
}
