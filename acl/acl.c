/*
 * acl.c - network lists and the to_localhost guard (see acl.h), and the
 * reasons the parsers of acl/ give.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl/acl.h"

int acl_net_parse(const char *s, struct acl_net *net, const char **err)
{
    char tmp[INET6_ADDRSTRLEN + 8];
    const char *slash = strchr(s, '/');
    size_t alen = slash ? (size_t)(slash - s) : strlen(s);
    unsigned maxbits, i;
    long prefix;
    char *endp;

    memset(net, 0, sizeof(*net));
    if (alen == 0 || alen >= sizeof(tmp)) {
        *err = "not an IP address";
        return -1;
    }
    memcpy(tmp, s, alen);
    tmp[alen] = '\0';
    if (inet_pton(AF_INET, tmp, net->addr) == 1) {
        net->family = AF_INET;
        maxbits = 32;
    } else if (inet_pton(AF_INET6, tmp, net->addr) == 1) {
        net->family = AF_INET6;
        maxbits = 128;
    } else {
        *err = "not an IP address";
        return -1;
    }
    net->prefix = maxbits;
    if (slash) {
        if (slash[1] < '0' || slash[1] > '9') {
            *err = "bad prefix length";
            return -1;
        }
        prefix = strtol(slash + 1, &endp, 10);
        if (*endp != '\0' || prefix < 0 || prefix > (long)maxbits) {
            *err = "bad prefix length";
            return -1;
        }
        net->prefix = (unsigned)prefix;
    }
    for (i = net->prefix; i < maxbits; i++) {
        if (net->addr[i / 8] & (0x80 >> (i % 8))) {
            *err = "address has bits set beyond the prefix length";
            return -1;
        }
    }
    return 0;
}

/* Point at the raw address bytes; unwrap IPv4-mapped IPv6. */
static int addr_bytes(const struct sockaddr *sa, const unsigned char **p)
{
    if (sa->sa_family == AF_INET) {
        *p = (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr;
        return AF_INET;
    }
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a)) {
            *p = a->s6_addr + 12;
            return AF_INET;
        }
        *p = a->s6_addr;
        return AF_INET6;
    }
    return -1;
}

static int prefix_eq(const unsigned char *a, const unsigned char *b,
                     unsigned bits)
{
    unsigned whole = bits / 8, rest = bits % 8;

    if (memcmp(a, b, whole) != 0)
        return 0;
    if (rest) {
        unsigned char mask = (unsigned char)(0xff << (8 - rest));
        if ((a[whole] & mask) != (b[whole] & mask))
            return 0;
    }
    return 1;
}

int acl_net_match(const struct acl_net *net, const struct sockaddr *sa)
{
    const unsigned char *p = NULL;
    int fam = addr_bytes(sa, &p);

    if (fam != net->family)
        return 0;
    return prefix_eq(p, net->addr, net->prefix);
}

int acl_nets_match(const struct acl_net *nets, size_t n,
                   const struct sockaddr *sa)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (acl_net_match(&nets[i], sa))
            return 1;
    return 0;
}

int acl_addr_is_loopback(const struct sockaddr *sa)
{
    static const unsigned char zero[16];
    const unsigned char *p = NULL;
    int fam = addr_bytes(sa, &p);

    if (fam == AF_INET)
        return p[0] == 127 || memcmp(p, zero, 4) == 0;
    if (fam == AF_INET6)
        return memcmp(p, zero, 16) == 0 ||
               (memcmp(p, zero, 15) == 0 && p[15] == 1);
    return 0;
}

int acl_addr_eq(const struct sockaddr *a, const struct sockaddr *b)
{
    const unsigned char *pa = NULL, *pb = NULL;
    int fa = addr_bytes(a, &pa), fb = addr_bytes(b, &pb);

    if (fa < 0 || fa != fb)
        return 0;
    return memcmp(pa, pb, fa == AF_INET ? 4 : 16) == 0;
}

int acl_addr_on_host(const struct sockaddr *sa,
                     const struct sockaddr_storage *self, size_t nself)
{
    size_t i;

    if (acl_addr_is_loopback(sa))
        return 1;
    for (i = 0; i < nself; i++)
        if (acl_addr_eq(sa, (const struct sockaddr *)&self[i]))
            return 1;
    return 0;
}

int acl_to_localhost_ok(enum acl_to_localhost mode,
                        const struct sockaddr *client,
                        const struct sockaddr *dst,
                        const struct sockaddr_storage *self, size_t nself)
{
    if (mode == ACL_TOLOCAL_ALLOW || !acl_addr_on_host(dst, self, nself))
        return 1;
    if (mode == ACL_TOLOCAL_DENY)
        return 0;
    return acl_addr_on_host(client, self, nself);
}

int acl_why(char *why, size_t len, const char *fmt, ...)
{
    va_list ap;

    if (why && len) {
        va_start(ap, fmt);
        vsnprintf(why, len, fmt, ap);
        va_end(ap);
    }
    return -1;
}
