/*
 * net.h - socket helpers: listeners, non-blocking connects, address text,
 * this host's own addresses. Thin wrappers that return -errno.
 */
#ifndef SL_NET_H
#define SL_NET_H

#include <stddef.h>
#include <sys/socket.h>

#define SL_NET_ADDRSTR 64       /* "[v6]:port" fits */

/* Non-blocking, close-on-exec listener with SO_REUSEADDR; backlog 1024.
 * An AF_INET6 any-address listener also takes IPv4 (IPV6_V6ONLY off). */
int sl_net_listen(const struct sockaddr *sa, socklen_t len);
/* The same, with SO_REUSEPORT when reuseport: one socket per worker, the
 * kernel spreading new connections over them (master.c). */
int sl_net_listen_opt(const struct sockaddr *sa, socklen_t len, int reuseport);

/* Start a non-blocking connect. Returns the fd (connect in progress or
 * done) or -errno. TCP_NODELAY is set: we write whole heads at once. */
int sl_net_connect(const struct sockaddr *sa, socklen_t len);

/* The result of a finished non-blocking connect: 0 or -errno. */
int sl_net_connect_result(int fd);

/* "1.2.3.4" / "::1" into buf (at least SL_NET_ADDRSTR bytes). */
const char *sl_net_ntop(const struct sockaddr *sa, char *buf, size_t len);
/* "1.2.3.4:80" / "[::1]:80" */
const char *sl_net_ntop_port(const struct sockaddr *sa, char *buf, size_t len);

socklen_t sl_net_salen(const struct sockaddr *sa);
void sl_net_set_port(struct sockaddr *sa, unsigned port);

/* Fill self[] with this host's interface addresses; returns how many
 * (at most max) or -errno. */
int sl_net_self_addrs(struct sockaddr_storage *self, size_t max);

#endif
