/*
 * client.h - client connections: the request pipeline of design.md runs
 * here (parse, access, filter, resolve, forward, respond, log), one
 * transaction at a time per connection, pipelined requests in order.
 */
#ifndef SL_CLIENT_H
#define SL_CLIENT_H

#include <stddef.h>
#include <sys/socket.h>

struct sl_server;
struct sl_client;
struct access_state;

/* Take over a socket accepted on a listener of kind (enum sl_listen_kind,
 * server.h). Returns 0 or -errno (fd closed then). */
int sl_client_accept(struct sl_server *srv, int fd,
                     const struct sockaddr *peer, socklen_t peerlen, int kind);

/* The access step's own state, one per server (the password-hash limiter,
 * the test clock of SQUIDLIKE_TEST_NOW): client_access.c owns its layout.
 * NULL when out of memory; _free(NULL) is a no-op. */
struct access_state *access_state_new(void);
void access_state_free(struct access_state *a);

/* Open tunnels and client connections using an origin connection now,
 * for the status numbers (the walk is the client side's). */
void sl_client_count(const struct sl_server *srv, size_t *tunnels,
                     size_t *origins_busy);

/* Drain: an idle connection closes now, a busy one after its response. */
void sl_client_drain(struct sl_client *c);
/* Close at once, whatever it is doing (shutdown timeout, SIGINT). */
void sl_client_abort(struct sl_client *c);
/* Next in the server's list (for walking it while closing). */
struct sl_client *sl_client_next(struct sl_client *c);

#endif
