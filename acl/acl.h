/*
 * acl.h - access rules. Pure: addresses in, verdicts out; no sockets.
 *
 * For now the room holds what the forward-proxy core needs: network lists
 * (CIDR) to say which clients may use the proxy, and the to_localhost guard
 * that keeps outsiders away from the proxy host's own addresses. The full
 * Squid-style ACL engine grows here later.
 */
#ifndef ACL_ACL_H
#define ACL_ACL_H

#include <stddef.h>
#include <sys/socket.h>

struct acl_net {
    int family;                 /* AF_INET or AF_INET6 */
    unsigned prefix;            /* bits */
    unsigned char addr[16];     /* network address, host bits zero */
};

/*
 * Parse "a.b.c.d", "a.b.c.d/n", "v6addr", "v6addr/n". Host bits set beyond
 * the prefix are an error (they usually hide a typo). Returns 0, or -1 with
 * *err set to a static reason.
 */
int acl_net_parse(const char *s, struct acl_net *net, const char **err);

/*
 * Does the address fall in the network? IPv4-mapped IPv6 addresses
 * (::ffff:a.b.c.d) match IPv4 networks. sa is AF_INET or AF_INET6.
 */
int acl_net_match(const struct acl_net *net, const struct sockaddr *sa);

/* First match in an array of n networks: 1 if any matches, else 0. */
int acl_nets_match(const struct acl_net *nets, size_t n,
                   const struct sockaddr *sa);

/* Loopback, unspecified (0.0.0.0, ::) or IPv4-mapped forms of those. */
int acl_addr_is_loopback(const struct sockaddr *sa);

/* Same address (ports ignored; IPv4-mapped IPv6 equals its IPv4 form). */
int acl_addr_eq(const struct sockaddr *a, const struct sockaddr *b);

/* How origins on the proxy host's own addresses may be reached. */
enum acl_to_localhost {
    ACL_TOLOCAL_LOCAL_CLIENTS = 0,  /* only clients on this host */
    ACL_TOLOCAL_DENY,
    ACL_TOLOCAL_ALLOW
};

/* sa is this host: loopback, or one of its addresses self[0..nself). */
int acl_addr_on_host(const struct sockaddr *sa,
                     const struct sockaddr_storage *self, size_t nself);

/*
 * The to_localhost guard. self[] holds this host's interface addresses
 * (gathered by the caller). An address is "on this host" when it is
 * loopback/unspecified or equal to one of self[]. Returns 1 when the client
 * may connect to dst, 0 when it must be refused.
 */
int acl_to_localhost_ok(enum acl_to_localhost mode,
                        const struct sockaddr *client,
                        const struct sockaddr *dst,
                        const struct sockaddr_storage *self, size_t nself);

/* Write a reason into why (len bytes; NULL: none) for a caller's error
 * message. Returns -1, so that a parser can `return acl_why(...)`. */
int acl_why(char *why, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
