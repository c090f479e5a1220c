/*
 * route.h - reverse mode's routing: which virtual host a request's Host
 * names, and which route of that host its path takes. Pure: PCRE2, no I/O.
 * Built once at config load, read-only afterwards (matching is reentrant
 * and allocation-free, one thread at a time: the regex scratch is the
 * table's, as in rules.h).
 *
 * Virtual hosts match the Host (port dropped, compared without case, one
 * trailing dot ignored): an exact name first, then the longest wildcard
 * "*.example.com" that matches (one or more labels before the suffix,
 * never the bare suffix), then the default vhost when there is one.
 * Routes of a vhost are tried in their order, the first match wins:
 *   ACL_ROUTE_PREFIX  the path (with its query) starts with the pattern;
 *   ACL_ROUTE_REGEX   a PCRE2 pattern (bounded match limits; a pattern
 *                     that hits a limit does not match) over path + query.
 * A route may rewrite the path the backend gets: for a prefix route the
 * text that replaces the prefix ("/api/v1/" -> "/"), for a regex route a
 * template where $0..$9 are the captures ("/users/$1"; "$$" is a "$").
 *
 * The Host, at match time: OWS, a port (":" and digits), the brackets of
 * an IPv6 literal and one trailing dot are dropped; nothing is refused
 * here, but a value with a byte outside letters, digits, '-', '.', '_', an
 * empty label, a port that is not digits or a bad IPv6 literal names no
 * vhost (the default takes it, or -ENOENT). An address literal (IPv4, or
 * IPv6 in brackets, compared in canonical form) matches exact names only.
 */
#ifndef ACL_ROUTE_H
#define ACL_ROUTE_H

#include <stddef.h>

#include "squidlike/buf.h"

struct acl_routes;

enum acl_route_kind {
    ACL_ROUTE_PREFIX = 0,
    ACL_ROUTE_REGEX
};

#define ACL_ROUTES_MAX_VHOSTS 256
#define ACL_ROUTES_MAX_NAMES 64     /* names per vhost */
#define ACL_ROUTES_MAX_ROUTES 64    /* routes per vhost */

/* NULL when out of memory. */
struct acl_routes *acl_routes_new(void);
/* NULL: no-op. */
void acl_routes_free(struct acl_routes *r);

/*
 * Add a vhost answering to names[0..n) ("www.example.com",
 * "*.example.com"; lowercased here) and, when is_default, to any Host no
 * other vhost takes (n may then be 0). Returns the vhost's index (0, 1,
 * ... in the order added), or -1 with err ("name www.example.com is
 * already vhost 0's", "a second default vhost", "bad name \"a b\"").
 * A name is letters, digits, '-' and dots between non-empty labels (one
 * trailing dot dropped), "*." first for a wildcard, or an IP address
 * (IPv6 with or without brackets); at most 253 bytes. A name may be in
 * one vhost only, once. A refused vhost leaves the table as it was, but
 * for "out of memory" (the table is then only good for acl_routes_free).
 */
int acl_routes_add_vhost(struct acl_routes *r, const char *const *names,
                         size_t n, int is_default, char *err, size_t errlen);

/*
 * Add a route to vhost v (after the ones it has). rewrite: NULL, or the
 * replacement described at the top (a regex template is checked here:
 * "$" followed by anything but a digit or "$" is an error, and so is a $n
 * past the regex's groups). Returns the route's index within v, or -1
 * with err (a bad regex says where). icase: a prefix compares without
 * ASCII case, a regex is PCRE2_CASELESS. A prefix starts with "/"; a
 * prefix or a rewrite holds only bytes a request target may (no space,
 * control, DEL or "#"); a pattern or a rewrite is at most 4096 bytes.
 */
int acl_routes_add_route(struct acl_routes *r, int v, enum acl_route_kind kind,
                         const char *pattern, int icase, const char *rewrite,
                         char *err, size_t errlen);

struct acl_route_hit {
    int vhost;
    int route;
};

/*
 * Route a request: host is the Host field's value as sent (may carry a
 * port, "[v6]:port"), path the request target's path and query. Returns 0
 * with *hit, -ENOENT when no vhost takes the host (and there is no
 * default), -ESRCH when the vhost has no route for the path (hit->vhost
 * is set). What is not set in *hit is -1.
 */
int acl_routes_match(const struct acl_routes *r, struct sl_view host,
                     struct sl_view path, struct acl_route_hit *hit);

/*
 * Append to out the path the backend gets for path, which matched hit:
 * the route's rewrite applied, or path as it is. A rewritten path always
 * starts with "/" (one is put first when the rewrite does not give one).
 * Writes only into out's free space (no growth). 0, -ENOSPC when out has
 * no room, -EINVAL when hit is not a route of r or the route rewrites and
 * does not match path (out is left as it was on any failure).
 */
int acl_routes_rewrite(const struct acl_routes *r, const struct acl_route_hit *hit,
                       struct sl_view path, struct sl_buf *out);

/* Counts, for messages and the status page. */
size_t acl_routes_nvhosts(const struct acl_routes *r);
size_t acl_routes_nroutes(const struct acl_routes *r, int v);
/* Route i of vhost v as the ops pages show it: its pattern (a prefix as
 * it is compared, lowercased when icase) and kind and icase into *kind,
 * *icase (either may be NULL). NULL when there is no such route. */
const char *acl_routes_pattern(const struct acl_routes *r, int v, int i,
                               enum acl_route_kind *kind, int *icase);

#endif
