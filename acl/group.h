/*
 * group.h - what the ldap_group ACL knows of a directory, without talking
 * to it: the answers to "is user U in group G" remembered for a while (the
 * cache), and the LDAP search filters those questions are asked with (RFC
 * 4515 escaping, Squid's %u / %g templates). Pure: no sockets, no threads;
 * the lookups themselves run in squidlike/ldap.c.
 *
 * One cache belongs to one configuration snapshot and is only touched from
 * the event loop's thread (matching reads it, a finished lookup writes
 * it): no locks.
 */
#ifndef ACL_GROUP_H
#define ACL_GROUP_H

#include <stddef.h>
#include <time.h>

struct acl_gcache;

/* An answer of the directory. NONE: nothing known (ask). ERROR: it could
 * not be asked (down, refused our bind, timed out): the ACL's answer is
 * "unknown" until error_ttl has passed. */
enum acl_gans {
    ACL_GANS_NONE = 0,
    ACL_GANS_MEMBER,
    ACL_GANS_NOT,
    ACL_GANS_ERROR
};

#define ACL_GROUP_USER_MAX 64       /* bytes of a user name (auth's limit) */
#define ACL_GROUP_NAME_MAX 256      /* bytes of a group name */

/*
 * A cache of at most max answers (>= 1), each kept ttl seconds (a member),
 * neg_ttl (not a member) or err_ttl (the directory failed); the least
 * recently used answer makes room for a new one. NULL when out of memory.
 */
struct acl_gcache *acl_gcache_new(size_t max, time_t ttl, time_t neg_ttl,
                                  time_t err_ttl);
void acl_gcache_free(struct acl_gcache *gc);      /* NULL: no-op */

/* The answer for (user, group) at now; an expired one is dropped and
 * reads as NONE. Allocation-free. */
enum acl_gans acl_gcache_get(struct acl_gcache *gc, const char *user,
                             const char *group, time_t now);
/* Remember ans (not NONE) for (user, group) from now: 0, -EINVAL (a name
 * too long, NONE), -ENOMEM. */
int acl_gcache_put(struct acl_gcache *gc, const char *user, const char *group,
                   enum acl_gans ans, time_t now);

struct acl_gcache_stats {
    size_t n, max;
    unsigned long long hits, misses, evictions;
};
void acl_gcache_stats(const struct acl_gcache *gc, struct acl_gcache_stats *st);

/*
 * RFC 4515 section 3: s[0..len) as an assertion value, into out (outlen
 * bytes, NUL-terminated): '*', '(', ')', '\' and NUL - and, to be safe
 * with any server, every byte outside printable ASCII - become "\XX". A
 * user called "*)(uid=*" can then only ever be that literal name. Returns
 * the length written, or -ENOSPC (out holds "").
 */
int acl_ldap_escape(const char *s, size_t len, char *out, size_t outlen);

/*
 * Is tpl a filter template we can expand: "(...)" with balanced
 * parentheses, at most ACL_LDAP_FILTER_MAX bytes, placeholders only
 * %u (the user name), %g (the group name), %u_dn (the user's DN, found
 * with the user filter) and %% (a '%')? need: the placeholders it must
 * contain ("g", "u" or "" for none). 0, or -1 with why.
 */
#define ACL_LDAP_FILTER_MAX 1024
int acl_ldap_filter_check(const char *tpl, const char *need, char *why,
                          size_t whylen);
/* Does tpl use the user's DN (%u_dn)? */
int acl_ldap_filter_wants_dn(const char *tpl);

/*
 * Expand a checked template: each placeholder replaced by its value
 * escaped with acl_ldap_escape (user_dn may be NULL when tpl does not use
 * it). Returns the length, or -ENOSPC / -EINVAL (a %u_dn without a DN).
 */
int acl_ldap_filter(const char *tpl, const char *user, const char *group,
                    const char *user_dn, char *out, size_t outlen);

#endif
