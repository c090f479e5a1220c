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
struct rl_state;
struct sl_conf;

/* Take over a socket accepted on a listener of kind (enum sl_listen_kind,
 * server.h). Returns 0 or -errno (fd closed then). */
int sl_client_accept(struct sl_server *srv, int fd,
                     const struct sockaddr *peer, socklen_t peerlen, int kind);

/* The access step's own state, one per server (the password-hash limiter,
 * the test clock of SQUIDLIKE_TEST_NOW): client_access.c owns its layout.
 * NULL when out of memory; _free(NULL) is a no-op. */
struct access_state *access_state_new(void);
void access_state_free(struct access_state *a);

/* The rate limits' buckets and counters (client_limit.c): one table for
 * all the workers, in shared memory (struct rl_shm, sl_shared's
 * ratelimit), made by rl_shm_prepare before they fork - at start and at
 * each reload: a table of reverse.limit_table buckets, kept when the size
 * is the same (clients keep their buckets), else a new one in *cur (the
 * old one unmapped here; the workers forked with it keep their mapping).
 * 0, or -1 with err. */
struct rl_shm;
struct sl_shared;
int rl_shm_prepare(struct rl_shm **cur, const struct sl_conf *conf,
                   char *err, size_t errlen);
void rl_shm_free(struct rl_shm *m);
/* A server's view of the table (one per server): apply takes the one of
 * sh for conf (a single process prepares it first: it reloads in place);
 * 0 or -ENOMEM (*s unchanged). */
int rl_state_apply(struct rl_state **s, const struct sl_conf *conf, struct sl_shared *sh);
void rl_state_free(struct rl_state *s);
/* Requests refused by the limit named name since start. */
struct rl_count {
    char name[64];
    unsigned long long limited;
};
size_t rl_state_counts(const struct rl_state *s, const struct rl_count **out);
/* Buckets in use, the table's size, buckets dropped before they were full. */
void rl_state_table(const struct rl_state *s, size_t *used, size_t *cap,
                    unsigned long long *evicted);

/* Open tunnels and client connections using an origin connection now,
 * for the status numbers (the walk is the client side's). */
void sl_client_count(const struct sl_server *srv, size_t *tunnels,
                     size_t *origins_busy);

/* Drain: an idle connection closes now, a busy one after its response. */
void sl_client_drain(struct sl_client *c);
/* Mark c to close after its current (or next) answer. */
void sl_client_mark_draining(struct sl_client *c);
/* Close at once, whatever it is doing (shutdown timeout, SIGINT). */
void sl_client_abort(struct sl_client *c);
/* Next in the server's list (for walking it while closing). */
struct sl_client *sl_client_next(struct sl_client *c);

#endif
