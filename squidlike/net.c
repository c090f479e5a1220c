/*
 * net.c - socket helpers (see net.h).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "squidlike/net.h"

socklen_t sl_net_salen(const struct sockaddr *sa)
{
    return sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                     : sizeof(struct sockaddr_in);
}

void sl_net_set_port(struct sockaddr *sa, unsigned port)
{
    if (sa->sa_family == AF_INET6)
        ((struct sockaddr_in6 *)sa)->sin6_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in *)sa)->sin_port = htons((uint16_t)port);
}

int sl_net_listen(const struct sockaddr *sa, socklen_t len)
{
    return sl_net_listen_opt(sa, len, 0);
}

int sl_net_listen_opt(const struct sockaddr *sa, socklen_t len, int reuseport)
{
    int fd, one = 1, zero = 0;

    fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
        goto fail;
    if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
        goto fail;
    if (sa->sa_family == AF_INET6 &&
        IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)sa)->sin6_addr) &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) < 0)
        goto fail;
    if (bind(fd, sa, len) < 0 || listen(fd, 1024) < 0)
        goto fail;
    /* Wake us only when the client has sent something: HTTP clients speak
     * first. Not fatal where unsupported. */
    setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &one, sizeof(one));
    return fd;
fail:
    one = -errno;
    close(fd);
    return one;
}

int sl_net_connect(const struct sockaddr *sa, socklen_t len)
{
    int fd, one = 1, err;

    fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, sa, len) < 0 && errno != EINPROGRESS) {
        err = -errno;
        close(fd);
        return err;
    }
    return fd;
}

int sl_net_connect_result(int fd)
{
    int err = 0;
    socklen_t len = sizeof(err);

    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        return -errno;
    return -err;
}

const char *sl_net_ntop(const struct sockaddr *sa, char *buf, size_t len)
{
    const void *a;

    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        /* Show IPv4 clients of a dual-stack listener as IPv4. */
        if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
            return inet_ntop(AF_INET, s6->sin6_addr.s6_addr + 12, buf, (socklen_t)len);
        a = &s6->sin6_addr;
    } else {
        a = &((const struct sockaddr_in *)sa)->sin_addr;
    }
    if (inet_ntop(sa->sa_family, a, buf, (socklen_t)len) == NULL)
        snprintf(buf, len, "?");
    return buf;
}

const char *sl_net_ntop_port(const struct sockaddr *sa, char *buf, size_t len)
{
    char a[SL_NET_ADDRSTR];
    unsigned port;
    int v6 = 0;

    sl_net_ntop(sa, a, sizeof(a));
    if (sa->sa_family == AF_INET6) {
        port = ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
        v6 = strchr(a, ':') != NULL;
    } else {
        port = ntohs(((const struct sockaddr_in *)sa)->sin_port);
    }
    snprintf(buf, len, v6 ? "[%s]:%u" : "%s:%u", a, port);
    return buf;
}

int sl_net_self_addrs(struct sockaddr_storage *self, size_t max)
{
    struct ifaddrs *ifa, *i;
    size_t n = 0;

    if (getifaddrs(&ifa) < 0)
        return -errno;
    for (i = ifa; i && n < max; i = i->ifa_next) {
        if (i->ifa_addr == NULL)
            continue;
        if (i->ifa_addr->sa_family != AF_INET && i->ifa_addr->sa_family != AF_INET6)
            continue;
        memset(&self[n], 0, sizeof(self[n]));
        memcpy(&self[n], i->ifa_addr, sl_net_salen(i->ifa_addr));
        n++;
    }
    freeifaddrs(ifa);
    return (int)n;
}
