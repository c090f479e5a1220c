/*
 * ldapq.h - the ldap_group ACL's lookups: "is this user in these groups?"
 * asked of the directory (OpenLDAP's libldap, blocking calls with
 * timeouts) on a pool of threads (workq.h), the answers written to the
 * configuration snapshot's cache (acl/group.h) on the loop, and the
 * clients that waited for them woken. (Named ldapq, not ldap: libldap's
 * own header is <ldap.h>.)
 *
 * One lookup serves every client that needs the same user and ACL while
 * it runs. A client that leaves cancels its wait (sl_ldap_cancel); the
 * lookup still finishes and its answers are kept for the next request.
 * A directory that fails is remembered as such for error_ttl (the ACL is
 * "unknown", rules.h) and reported once per warn_interval, not per request.
 */
#ifndef SL_LDAPQ_H
#define SL_LDAPQ_H

#include <stddef.h>
#include <time.h>

struct sl_conf;
struct sl_loop;
struct sl_ldap;
struct sl_ldap_job;

/* A client's wait for a lookup; embedded in its transaction (zeroed). */
struct sl_ldap_waiter {
    void (*cb)(struct sl_ldap_waiter *w);   /* the answers are in the cache */
    void *data;
    /* ldap.c's */
    struct sl_ldap_job *job;                /* NULL: not waiting */
    struct sl_ldap_waiter *next, *prev;
};

/* The server's: no thread starts before the first lookup. NULL: no memory. */
struct sl_ldap *sl_ldap_new(struct sl_loop *loop);
/* After the clients are gone, the loop not running: stops the threads
 * (each finishes its lookup, bounded by the timeouts). NULL: no-op. */
void sl_ldap_free(struct sl_ldap *l);

/*
 * Look up user in those of groups[0..n) (an ldap_group ACL's names, in
 * conf's acl set) whose answer conf's cache lacks at now, with conf's
 * ldap settings (conf is referenced until the lookup ends). 0: w waits and
 * w->cb comes later on the loop (never from inside this call); -EAGAIN (the
 * queue is full), -ENOMEM, -EINVAL (no ldap group): nothing comes, and the
 * caller decides with the answers unknown.
 */
int sl_ldap_lookup(struct sl_ldap *l, struct sl_conf *conf, const char *user,
                   const char *const *groups, size_t n, time_t now,
                   struct sl_ldap_waiter *w);
/* w no longer waits: its cb never comes. No-op when it does not wait. */
void sl_ldap_cancel(struct sl_ldap_waiter *w);

struct sl_ldap_stats {
    unsigned long long lookups;     /* sent to the directory */
    unsigned long long searches;    /* LDAP searches they made */
    unsigned long long errors;      /* lookups the directory could not answer */
    unsigned long long shared;      /* waits that joined a lookup in flight */
    unsigned long long rejected;    /* not sent: the queue was full */
    unsigned long long warnings_suppressed;
    size_t in_flight;
};
void sl_ldap_get_stats(const struct sl_ldap *l, struct sl_ldap_stats *st);

#endif
