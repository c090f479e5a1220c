/*
 * rules.h - named ACLs and http_access rules, Squid's meanings. Pure: no
 * sockets, no event loop; list files are read while building (config
 * load), never while matching.
 *
 * A set is built once (config load) and is read-only afterwards: matching
 * is reentrant and allocation-free. Each ACL has a type and a list of
 * values; an http_access rule is "allow" or "deny" followed by ACL names,
 * each optionally negated with "!", all of which must match (AND). The first
 * rule whose ACLs all match decides; when none does, the answer is the
 * opposite of the last rule's action (Squid's implicit rule), or deny when
 * there are no rules.
 *
 * Some facts are not known when a request arrives: the destination address
 * (after DNS), the TLS server name (after peeking at the ClientHello), the
 * user (after authentication), the user's groups (a directory lookup). A
 * rule that needs one of them stops the evaluation with ACL_NEED_DST /
 * ACL_NEED_SNI / ACL_NEED_AUTH / ACL_NEED_GROUP; the caller finds the fact
 * out and evaluates again from the start. A rule that cannot match anyway
 * (another of its ACLs already failed) never asks.
 *
 * A fact that could not be found out (the directory is down) leaves an
 * ACL "unknown". An unknown ACL never lets a rule allow, and never keeps a
 * rule from denying: in an allow rule it counts as not matching, in a deny
 * rule as matching (with or without "!"), and the rule's other ACLs
 * decide. See ldap_group in squidlike.conf(5) for how this compares with
 * Squid's ERR and BH helper answers.
 */
#ifndef ACL_RULES_H
#define ACL_RULES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "squidlike/http.h"

struct acl_set;
struct acl_gcache;

/* What a request is matched on. Strings need not be NUL-terminated. */
struct acl_request {
    const struct sockaddr *client;
    const struct sockaddr *dst;     /* NULL: not resolved yet; else the first
                                     * address (AF_UNSPEC: none found) */
    const struct sockaddr *const *dst_more; /* the other addresses: a dst ACL
                                     * matches when any address does */
    size_t ndst_more;
    const char *host;               /* lowercase, IPv6 without brackets */
    size_t host_len;
    unsigned port;
    const char *method;             /* NUL-terminated */
    int is_connect;
    const char *url;                /* absolute URL, "host:port" for CONNECT */
    size_t url_len;
    const char *path;               /* path + query, "" for CONNECT */
    size_t path_len;
    const char *user;               /* authenticated user (NUL-terminated) */
    int auth_tried;                 /* credentials were checked (maybe failed) */
    const struct sl_http_msg *req;  /* request fields (req_header, browser) */
    const char *sni;                /* TLS server name (NUL-terminated) */
    int sni_known;                  /* the peek is done (sni may still be NULL) */
    int sni_any;                    /* what-if: every server_name ACL matches */
    unsigned conns;                 /* open connections from this client address */
    struct acl_gcache *groups;      /* the directory's answers (acl/group.h),
                                     * NULL: no directory configured */
    int groups_final;               /* lookups were made: an answer still
                                     * missing is unknown, not needed */
    time_t now;                     /* wall clock; time ACLs use localtime_r */
};

enum acl_verdict {
    ACL_ALLOW = 0,
    ACL_DENY,
    ACL_NEED_DST,
    ACL_NEED_SNI,
    ACL_NEED_AUTH,
    ACL_NEED_GROUP              /* res->acl: the ldap_group ACL whose groups
                                   the user must be looked up in */
};

/* An ACL type matched by the caller's code (blocklist categories): match
 * returns 1/0; it may point *note at a static or long-lived string (the
 * category that matched) to be reported with the verdict. */
typedef int (*acl_external_cb)(void *data, const struct acl_request *r,
                               const char **note);

struct acl_set *acl_set_new(void);
/* Frees the set and calls free_cb(data) of external ACLs. NULL: no-op. */
void acl_set_free(struct acl_set *s);

/*
 * Define ACL name of a type with values, or add values to it when it exists
 * with the same type (Squid allows repeating an acl line). icase: regex
 * types match case-insensitively ("-i"). Types and value syntax:
 *   src, dst        "10.0.0.0/8", "192.0.2.1", "::1", "fc00::/7"
 *   dstdomain       "example.com" (exact), ".example.com" (it and below)
 *   server_name     like dstdomain; matches the CONNECT host or the SNI
 *                   (either: the host at once, the SNI after the peek)
 *   dstdom_regex, url_regex, urlpath_regex, browser   PCRE2 patterns,
 *                   run with bounded match/depth limits; a pattern that
 *                   reaches a limit counts as matching (fails closed)
 *   port            "443", "1025-65535"
 *   method          "GET", "CONNECT" (exact)
 *   proto           "http", "connect"
 *   time            "MTWHF 08:00-17:30", "AS", "09:00-12:00" (days S M T W
 *                   H F A; no days: every day; no window: all day;
 *                   windows end before start wrap midnight)
 *   proxy_auth      user names, or "REQUIRED" (any authenticated user)
 *   maxconn         one number: matches when the client has more
 *                   connections open than that
 *   req_header      "Header-Name regex"
 *   ldap_group      group names: matches when the authenticated user is a
 *                   member of one of them (answers in r->groups; see the
 *                   top of this file for a directory that cannot answer)
 *   all             no values: always matches
 * Returns 0, or -1 with err ("bad port range \"80-\"").
 */
int acl_set_define(struct acl_set *s, const char *name, const char *type,
                   int icase, const char *const *values, size_t n,
                   char *err, size_t errlen);
/*
 * The same, values read from a file: one per line; "#" comments, blank
 * lines, CRLF and surrounding blanks ignored. A bad line is reported
 * through warn (file, line, why) and skipped; it does not fail the load.
 * Returns 0, or -1 with err when the file cannot be read.
 */
typedef void (*acl_warn_cb)(void *data, const char *file, unsigned line,
                            const char *why);
int acl_set_define_file(struct acl_set *s, const char *name, const char *type,
                        int icase, const char *path, acl_warn_cb warn,
                        void *warn_data, char *err, size_t errlen);
/* An external ACL; data is freed with free_cb (may be NULL) with the set. */
int acl_set_define_external(struct acl_set *s, const char *name,
                            acl_external_cb match, void *data,
                            void (*free_cb)(void *), char *err, size_t errlen);

/*
 * A set holds its ACLs and lists of rules over them: the forward proxy's
 * http_access, and the reverse listeners' own (reverse.http_access), which
 * use the same ACLs.
 */
/* Parent proxies that may have access lists of their own. */
#define ACL_PEER_LISTS 32

enum acl_list {
    ACL_LIST_HTTP = 0,          /* http_access */
    ACL_LIST_REVERSE,           /* reverse.http_access */
    ACL_LIST_NEVER_DIRECT,      /* never_direct (parent proxies) */
    ACL_LIST_ALWAYS_DIRECT,     /* always_direct */
    ACL_LIST_PEER0,             /* peer_access of parent i: PEER0 + i */
    ACL_LISTS = ACL_LIST_PEER0 + ACL_PEER_LISTS
};

/* Append an http_access rule: "allow NAME [!NAME]...", "deny ...". Unknown
 * names are errors. Returns 0 or -1 with err. */
int acl_set_rule(struct acl_set *s, const char *text, char *err, size_t errlen);
/* The same, to another list. */
int acl_set_rule_in(struct acl_set *s, enum acl_list list, const char *text,
                    char *err, size_t errlen);
size_t acl_set_nrules(const struct acl_set *s);
size_t acl_set_nrules_in(const struct acl_set *s, enum acl_list list);
/* Is there an ACL of this name? */
int acl_set_has(const struct acl_set *s, const char *name);
/* Is there an ACL of this type ("proxy_auth")? */
int acl_set_has_type(const struct acl_set *s, const char *type);

/* What decided, for block pages and logs. */
struct acl_result {
    int rule;                   /* index of the deciding rule, -1: implicit */
    const char *rule_text;      /* "deny CONNECT !SSL_ports" or "(default)" */
    const char *acl;            /* the last ACL matched in that rule, or NULL */
    const char *note;           /* an external ACL's note (category), or NULL */
};

/* Evaluate http_access for r (see the top of this file). */
enum acl_verdict acl_check(const struct acl_set *s, const struct acl_request *r,
                           struct acl_result *res);
/* The same over another list of rules. */
enum acl_verdict acl_check_in(const struct acl_set *s, enum acl_list list,
                              const struct acl_request *r, struct acl_result *res);

/* The group names of the ldap_group ACL called name: 0 with *v (owned by
 * the set) and *n, or -1 when there is no such ACL of that type. */
int acl_set_groups(const struct acl_set *s, const char *name,
                   const char *const **v, size_t *n);

/* Does a single named ACL match r (for deny_info, header rules)? -1 when
 * the name is unknown, its answer is unknown or it needs a fact not known
 * yet. */
int acl_match_name(const struct acl_set *s, const char *name,
                   const struct acl_request *r);

#endif
