/*
 * client.h - client connections: the request pipeline of design.md runs
 * here (parse, access, filter, resolve, forward, respond, log), one
 * transaction at a time per connection, pipelined requests in order.
 */
#ifndef SL_CLIENT_H
#define SL_CLIENT_H

#include <stdint.h>
#include <sys/socket.h>

struct sl_server;
struct sl_client;

/* Take over an accepted socket. Returns 0 or -errno (fd closed then). */
int sl_client_accept(struct sl_server *srv, int fd,
                     const struct sockaddr *peer, socklen_t peerlen, int mgr_only);

/* An internal client on one end of a socket pair (background fetches): it
 * passes the source check and logs as "internal". 0 or -errno. */
int sl_client_accept_internal(struct sl_server *srv, int fd);

/*
 * A fetch of our own with no client socket, headless from the start: the
 * request head req[0..len) goes through the pipeline as if sent from this
 * host, and its response only fills the cache. range_fetch: the
 * whole-object fetch of a Range miss (hit.c), stored only when its body is
 * at most that big. 0 or -errno (-EAGAIN: too many fetches without a
 * client already).
 */
int sl_client_start_fetch(struct sl_server *srv, const char *req, size_t len,
                          uint64_t range_fetch);

/* Drain: an idle connection closes now, a busy one after its response. */
void sl_client_drain(struct sl_client *c);
/* Close at once, whatever it is doing (shutdown timeout, SIGINT). */
void sl_client_abort(struct sl_client *c);
/* Next in the server's list (for walking it while closing). */
struct sl_client *sl_client_next(struct sl_client *c);

#endif
