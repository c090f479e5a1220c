/*
 * client_int.h - the client connection and its transaction, shared by the
 * files of the client side, the client_* family:
 *
 *   client.c           accept, the readiness loop, the request head and the
 *                      pipeline (cl_begin), our error replies, the end of a
 *                      transaction
 *   client_timeout.c   the deadline of each state and what its timer does
 *   client_buf.c       what a connection holds while a request moves
 *   client_negotiate.c Negotiate (Kerberos) tickets checked on the worker
 *                      pool, the user kept for the connection
 *   client_access.c    who is asking and may they: auth, http_access,
 *                      to_localhost, the CONNECT peek at the server name
 *   client_maxfwd.c    OPTIONS and TRACE with Max-Forwards
 *   client_mgr.c       the pages we serve ourselves (PAC, status, metrics)
 *   client_hit.c       the cache before the forward: lookups, hits, PURGE
 *   client_fill.c      the cache after it: storing, revalidation, 304s
 *   client_collapse.c  collapsed forwarding: one fetch for many misses
 *   client_bgfetch.c   fetches of our own (revalidation, ranges)
 *   client_fwd.c       the request to an origin and its response back
 *   client_tunnel.c    CONNECT byte relay
 *   client_leave.c     clients that leave while they wait
 *   client_txnlog.c    the access-log record and the counters of the end
 *   client_rev.c       reverse mode (a reverse.listen client): the site and
 *                      route in place of the target step, the backend in
 *                      place of DNS, the headers each side may see
 *
 * Not for use outside them (status.c and the rest read client numbers
 * through client.h).
 *
 * Client states:
 *
 *   HEAD --parse--> access/target checks --deny/bad--> REPLY --+
 *     ^                 |                                      |
 *     |            RESOLVE -> CONNECT -> FORWARD --------------+--> HEAD (keep-alive)
 *     |                         |                              +--> LINGER -> closed
 *     |                         +--(CONNECT method)--> TUNNEL -----> closed
 *     +------------------------------------------------------------+
 */
#ifndef SL_CLIENT_INT_H
#define SL_CLIENT_INT_H

#include <stdint.h>

#include "cache/policy.h"
#include "cache/store.h"
#include "squidlike/buf.h"
#include "squidlike/client.h"
#include "squidlike/tls.h"
#include "squidlike/backend.h"
#include "squidlike/client_collapse.h"
#include "squidlike/client_xcf.h"
#include "squidlike/dns.h"
#include "squidlike/errpage.h"
#include "filters/hdr.h"
#include "squidlike/http.h"
#include "squidlike/ipcount.h"
#include "squidlike/ldapq.h"
#include "squidlike/logfmt.h"
#include "squidlike/loop.h"
#include "squidlike/net.h"
#include "squidlike/origin.h"
#include "squidlike/server.h"
#include "squidlike/zip.h"

enum cl_state {
    CL_HEAD,        /* waiting for / reading a request head (0: calloc's) */
    CL_TLS,         /* reverse.tls_listen: the TLS handshake */
    CL_RESOLVE,     /* DNS */
    CL_CONNECT,     /* TCP connect to the origin */
    CL_FORWARD,     /* request out, response back */
    CL_REPLY,       /* writing a response of our own */
    CL_HIT,         /* writing a response from the cache */
    CL_WAIT,        /* waiting on another client's fetch (collapsed) */
    CL_QUEUE,       /* reverse mode: waiting for a backend's slot (max_pending) */
    CL_ACL_WAIT,    /* DNS for a dst ACL; the head stays in c->in */
    CL_AUTH_WAIT,   /* a Negotiate ticket checked on the worker pool; the
                       head stays in c->in (client_negotiate.c) */
    CL_PEEK,        /* CONNECT: 200 sent, reading the ClientHello (SNI) */
    CL_TUNNEL,      /* CONNECT byte relay */
    CL_LINGER,      /* write side shut, discarding input before close */
    CL_CLOSED
};

/*
 * One message body passing through a buffer on its way out. A chunked body
 * is decoded in place as it is scanned (the buffer then holds its data and,
 * for a re-framed one, its trailer lines at the end) and framed again by us
 * on the way out, or sent bare to an HTTP/1.0 client.
 */
struct cl_flow {
    enum sl_http_body kind;
    int64_t left;               /* LENGTH: bytes not yet scanned */
    struct sl_chunk ck;
    size_t ready;               /* scanned bytes at buf->pos, ready to send */
    size_t tr_ready;            /* of which trailer lines (the last ones) */
    unsigned char reframe;      /* CHUNKED: send with our framing (else bare) */
    unsigned char done;         /* the body's end has been scanned */
    struct sl_chunk_enc enc;    /* our framing, when reframe */
};

/* What the cache does for one transaction (client_hit.c, client_fill.c). */
enum cl_cache_mode {
    CC_OFF = 0,     /* not a cacheable request (or no cache) */
    CC_MISS,        /* nothing usable stored: forward, maybe store */
    CC_REVALIDATE,  /* stored but stale: forward a conditional request */
    CC_HIT          /* served from the store */
};

struct cl_cache {
    unsigned char mode;
    unsigned char may_store;    /* GET, no request no-store */
    unsigned char inline_body;  /* stored object has its body inline */
    unsigned char client_refresh;   /* request said no-cache */
    unsigned char has_auth;     /* request carried Authorization */
    unsigned char stale;        /* a stored copy was found, not usable as is */
    size_t key_plen;            /* primary part of client->ckey */
    const char *status;         /* Cache-Status parameters after "squidlike; " */
    char status_buf[80];
    struct cache_cc reqcc;
    struct cache_fresh fresh;   /* of the stored object */
    uint64_t id;                /* stored object */
    int64_t body_size;
    uint32_t chunk_size;
    int64_t off, end;           /* body bytes still to send, from the store */
    int64_t request_time;       /* wall seconds when the request went out */
    struct cache_writer *w;     /* storing the response */
    int64_t stored_bytes;       /* body bytes handed to w */
    struct cfwd_entry *cfwd;    /* collapsed forwarding entry */
    unsigned char cfwd_waiter;  /* ... as a waiter (else the leader) */
    /* Waiting on another worker's fetch (client_xcf.c). */
    unsigned char xcf_waiter;   /* on the process's list, waiting on xtk */
    unsigned char xcf_joined;   /* counted once in xcf_joins */
    unsigned char xcf_tries;    /* claims after waits */
    struct cache_infl_ticket xtk;
    int64_t xcf_seen;           /* the owner's progress last seen */
    unsigned char range_started;    /* its Range miss started a whole fetch */
};

/* Facts the access rules found out; kept when the request is decided
 * again (cl_rerun). */
struct cl_acl {
    unsigned char rerun;        /* cl_begin runs again for this request */
    unsigned char auth_done;    /* Proxy-Authorization was checked */
    unsigned char neg_slow;     /* its Kerberos check timed out (503) */
    unsigned char dst_known, sni_known, peeked;
    char user[65];              /* authenticated user, "" if none */
    unsigned char group_rounds; /* directory lookups waited for (ldap_group:
                                   CL_ACL_WAIT too, on txn.ldapw) */
    /* dst_known: the addresses are in txn.addrs, and the forward connects
     * to exactly those (no second lookup that could answer otherwise). */
    const struct sockaddr *dst_ptr[SL_DNS_MAX_ADDRS];
    char sni[256];
    size_t headlen;             /* head kept in c->in while peeking or
                                   waiting on a dst lookup */
    const char *rule;           /* deciding rule (in c->conf), for the log */
    const char *category;       /* blocklist category that matched */
    unsigned char blocked;      /* answered with a block page or redirect */
    char extra[512];            /* header lines for our reply (407, 302) */
};

/* Fetches going on without a client (whose client left, or of our own),
 * at most: each holds an origin connection and a store writer. */
#define SL_HEADLESS_MAX 256

/* How long a closing client may keep sending (cl_linger). */
#define CL_LINGER_MS 2000

/* How long the peek waits for a ClientHello (or request_head if less). */
#define CL_PEEK_TIMEOUT_MS 3000

/*
 * What a step of the request pipeline says (cl_begin runs them in order;
 * nginx's return codes, by name). The head is still in c->in when a step
 * returns; cl_begin consumes it, except on CL_AGAIN.
 */
enum cl_verdict {
    CL_NEXT = 0,    /* not mine, or allowed: the next step decides */
    CL_DONE,        /* answered: a reply of the step's own is under way */
    CL_AGAIN,       /* finding out a fact (DNS, the TLS peek): the head
                       stays, and cl_rerun decides the request again */
    CL_REFUSE,      /* refused: t->refusal says with what; cl_begin answers
                       it with an error page (one path for every refusal) */
    CL_ERROR        /* failed: the connection closes */
};

/* The access log's result code (Squid's), decided along the way as an
 * enum and written as text only at the end (client_txnlog.c). */
enum cl_code {
    CL_CODE_UNSET = 0,          /* no transaction in progress */
    CL_CODE_NONE_NONE,          /* refused before any decision (bad request) */
    CL_CODE_NONE,               /* answered by us (manager pages, Max-Forwards) */
    CL_CODE_TCP_MISS,
    CL_CODE_TCP_HIT,
    CL_CODE_TCP_IMS_HIT,
    CL_CODE_TCP_NEGATIVE_HIT,
    CL_CODE_TCP_DENIED,
    CL_CODE_TCP_TUNNEL,
    CL_CODE_TCP_CLIENT_REFRESH_MISS,
    CL_CODE_TCP_REFRESH_UNMODIFIED,
    CL_CODE_TCP_REFRESH_MODIFIED,
    CL_CODE_TCP_REFRESH_FAIL_OLD,
    CL_CODE_N
};

/* Reverse mode's part of a transaction (client_rev.c). */
struct cl_rev {
    unsigned char routed;       /* vhost and route are set */
    unsigned char picked;       /* backend is counted in flight (rev_release) */
    unsigned char chosen;       /* a backend was picked (stays: the log) */
    unsigned char reported;     /* its outcome went to the pool (rev_outcome) */
    unsigned char retried;      /* sent to a second backend (rev_retry) */
    int avoid;                  /* 1 + the backend a retry avoids; 0: none */
    struct sl_backend_waiter qw;    /* in the pool's queue (CL_QUEUE) */
    unsigned char woken;        /* ... and a slot freed: pick again */
    const char *dns_host;       /* a backend given by name: looked up (in
                                   the snapshot), port dns_port */
    unsigned dns_port;
    int64_t sent_us;            /* when the backend was picked (latency) */
    int vhost, route, backend;  /* indices in c->conf->reverse */
    unsigned char rl_done;      /* the rate limits were taken (client_limit.c) */
    int rl_idx;                 /* 1 + the tightest limit met; 0: none */
    uint64_t rl_remaining;      /* ... its tokens left */
    int64_t rl_reset_ms;        /* ... until it is full (refused: a token) */
    size_t hash_len;            /* a hashing pool's field value, kept in */
    char hash_buf[256];         /* ... hash_buf (0: no such field) */
    char host[SL_HTTP_HOST_MAX + 3];    /* the Host (or authority) as sent */
    char reqid[65];             /* X-Request-Id, sent or made; "" if none */
    /* The gateway (client_gw.c): who called, once authenticated. */
    const struct sl_conf_consumer *consumer;    /* NULL: nobody (anonymous) */
    unsigned char auth_refused; /* answered 401/403 by the gateway */
    unsigned char limited;      /* answered 429 (a rate limit or a quota) */
    short cors_origin;          /* 1 + the allowed Origin; -2: "*"; 0: none */
};

/* Reverse mode's compression of one response body (client_zip.c): the
 * origin's decoded body goes in, the coded bytes wait in out, framed by
 * flow (chunked to HTTP/1.1 clients, bare to 1.0 ones), and are stored. */
struct cl_zip {
    struct sl_zip *z;
    struct sl_buf out;
    struct cl_flow flow;
    int64_t in, made;           /* identity bytes taken, coded bytes made */
};

/* A route's response_json on one response body (client_json.c): the
 * origin's decoded body is held in buf (at most the route's json_max),
 * with the client's head waiting in c->out; at its end it is edited and
 * buf holds what the client gets, sent with a Content-Length. A body
 * that grows past json_max is passed on as it came: what was held, then
 * the rest copied through buf, framed by flow (chunked to HTTP/1.1
 * clients, to the close for 1.0 ones). */
enum cl_json_state { CJ_HOLD, CJ_SEND, CJ_PASS };
struct cl_json {
    struct sl_buf buf;
    struct cl_flow flow;
    enum cl_json_state state;
};

/* The next hops of a forward request (client_peer.c): parents, then maybe
 * the origin, tried in order. */
struct cl_hop {
    unsigned char selected;     /* list is chosen */
    unsigned char applied;      /* the current hop's key and form are set */
    unsigned char n, cur;       /* hops; the one being tried */
    signed char list[SL_CONF_MAX_PEERS + 1];    /* a peer, or -1: the origin */
    unsigned char carp;         /* more than one parent could take it */
    unsigned char chain;        /* CONNECT sent to the parent, awaiting 2xx */
    size_t form_pre, form_auth; /* what c->oreq got for a parent (undone
                                   for the origin) */
    struct sl_dns_result addrs; /* the parent's addresses */
    char failed[160];           /* names of the parents that failed */
};

struct cl_txn {
    int64_t t_start;            /* loop ms */
    int64_t t_start_us;         /* the same, in microseconds (service time) */
    int64_t wall_start;         /* wall-clock ms */
    struct sl_buf meta;         /* "METHOD\0URL\0" for the log */
    const char *method, *url;   /* into meta */
    const char *acl_url;        /* url as the access rules see it (meta) */
    const char *referer, *user_agent;   /* into meta, capped; NULL: none */
    const char *version;        /* "1.1"/"1.0" (static); NULL: not parsed */
    int minor;                  /* client's HTTP/1.minor */
    unsigned char is_head, is_connect, idempotent;
    unsigned char upgrade;      /* asks for a protocol switch (WebSocket):
                                   a 101 turns it into a tunnel */
    unsigned char keep;         /* client connection survives this one */

    struct sl_url url_parts;    /* host, port (path view dies with the head) */
    char key[SL_ORIGIN_KEY_MAX];

    struct cl_flow req;         /* body from client->in to the origin */
    size_t oreq_sent;           /* bytes of client->oreq written */
    struct sl_origin *origin;
    struct sl_dns_waiter dnsw;
    struct sl_ldap_waiter ldapw;    /* CL_ACL_WAIT on a group lookup */
    struct sl_dns_result addrs;
    size_t addr_next;
    int connect_err;            /* last connect failure, -errno */
    const char *tls_why;        /* ... or why TLS to the backend failed */
    unsigned char denied_local; /* an address was refused by to_localhost */
    unsigned char reused;       /* origin came from the pool */
    unsigned char retried;
    unsigned char no_pool;

    unsigned char resp_started; /* a byte came from the origin */
    unsigned char head_done;    /* final response head parsed */
    unsigned char origin_keep;
    struct cl_flow resp;        /* body from origin->in to the client */
    int status;
    char ctype[64];
    int64_t bytes_out;          /* to the client, heads included */
    int64_t bytes_up;           /* tunnel: client to origin */
    int64_t bytes_in;           /* HTTP from the origin (heads, bodies) */
    int64_t body_in;            /* request body from the client (decoded:
                                   no chunk framing), as it is scanned */
    enum cl_code code;
    unsigned char aborted;      /* cut short: logged as code + _ABORTED */
    struct {                    /* a step's CL_REFUSE (cl_refuse) */
        enum sl_err err;
        int status;             /* 0: err's own */
        const char *detail;     /* static, or in t / c->conf */
    } refusal;
    const char *hier;           /* HIER_DIRECT, HIER_NONE */
    char peer[SL_NET_ADDRSTR];
    enum sl_err err;
    unsigned char has_err;
    unsigned char c_eof, o_eof;         /* tunnel: each side's EOF seen */
    struct cl_pipe *pipe[2];    /* tunnel: splice(2) pipes, up and down
                                   (client_tunnel.c); NULL: read/write */
    unsigned char up_shut, down_shut;   /* tunnel: EOF passed on */
    unsigned char logged;
    unsigned char peer_waits;   /* a hang-up seen, but more to read (client_leave.c) */
    struct cl_cache cache;
    struct cl_acl acl;
    struct cl_rev rev;
    struct cl_hop hop;
    /* Compression (client_zip.c): what the client would get, decided at
     * the request (0: none, or a Range); what this response gets. */
    unsigned zip_want;
    unsigned zip_coding;        /* FLT_ENC_* of the response (HEAD: its head) */
    unsigned char zip_vary;     /* compressible: Vary: Accept-Encoding */
    unsigned char zip_busy;     /* would have been, but max_streams ran */
    struct cl_zip *zip;         /* the stream; NULL: none */
    struct cl_json *json;       /* response_json on this body; NULL: none */
};

struct sl_client {
    struct sl_io io;
    struct sl_server *srv;
    struct sl_conf *conf;       /* snapshot of the current transaction */
    uint64_t id;
    union sl_sockaddr peer;
    char peer_str[SL_NET_ADDRSTR];
    struct sl_buf in;           /* from the client */
    struct sl_buf out;          /* to the client: heads, our own replies */
    struct sl_buf oreq;         /* request head for the origin (kept for a retry) */
    struct sl_buf ckey;         /* cache key of the current request */
    struct sl_buf chead;        /* a stored response head (revalidation) */
    struct sl_buf creq;         /* the request head, for Vary at response time */
    struct sl_http_hdr *hdrs;   /* the message being parsed */
    struct sl_http_hdr *shdrs;  /* a stored head, beside the request */
    size_t nhdrs_cap;
    struct sl_timer timer;
    struct sl_post free_post;
    struct sl_post run_post;    /* continue after the batch (fairness) */
    struct sl_client *next, *prev;
    struct sl_client *cfwd_next;    /* waiters of one collapsed entry */
    struct sl_client *xcf_next, *xcf_prev;  /* waiters on other workers */
    struct sl_ipcount *ipc;     /* connections from this client address */
    enum cl_state state;
    unsigned char rd, wr, hup;  /* edge-triggered readiness */
    unsigned char draining;
    unsigned char internal;     /* a background fetch of our own */
    unsigned char mgr_only;     /* accepted on a manager.listen address */
    unsigned char reverse;      /* on a reverse.listen address (client_rev.c) */
    SSL *ssl;                   /* on a reverse.tls_listen address (tls.h) */
    unsigned long long paced;   /* the pacing rate set on the socket; 0: none */
    unsigned char https;        /* the site is asked over TLS (ssl, or a
                                   background fetch for such a request): its
                                   URL, cache keys and X-Forwarded-Proto */
    unsigned char in_run;       /* cl_run on the stack: no recursion */
    unsigned char headless;     /* the client left; its fetch goes on
                                   (client_leave.c) */
    uint64_t range_fetch;       /* a whole-object fetch for a Range miss:
                                   stored only up to this size (client_hit.c) */
    unsigned char run_again;
    int64_t t_state;            /* when the state began */
    int64_t t_progress;         /* last byte moved */
    int64_t t_head;             /* first byte of the current head */
    unsigned nreq;
    /* Negotiate is connection-oriented: the user whose ticket was verified
     * on this connection ("" if none), and the check under way. */
    char conn_user[65];
    struct neg_job *neg_job;
    struct cl_txn txn;
};

/* n bytes went to the client. A background revalidation's are not client
 * traffic: they stay out of the server's counters (its origin bytes do
 * count: they are what the revalidation cost). */
static inline void cl_sent(struct sl_client *c, ssize_t n)
{
    c->txn.bytes_out += n;
    if (!c->internal)
        c->srv->stats->bytes_to_clients += (unsigned long long)n;
}

/* client_buf.c: what a connection holds while a request moves through it,
 * lent from the server's pool (bufpool.h) and given back when it waits.
 * The lend functions do nothing when the block is there already; each
 * returns 0 or -ENOMEM. */
int cl_lend_in(struct sl_client *c);       /* before reading a head */
void cl_unlend_in(struct sl_client *c);    /* back, when it holds nothing */
int cl_lend_out(struct sl_client *c);
/* The log fields' buffer when need bytes fit a pooled one; else nothing
 * (sl_buf_reserve makes one). */
int cl_lend_meta(struct sl_client *c, size_t need);
/* hdrs and shdrs for c->conf's max_headers. */
int cl_hdrs_fit(struct sl_client *c);
/* The transaction is over: in (when empty), out and the header arrays go
 * back; then the transaction's own buffers (meta, oreq, ckey, chead,
 * creq); cl_free_bufs: all of them, the connection is closing. */
void cl_release_bufs(struct sl_client *c);
void cl_free_txn_bufs(struct sl_client *c);
void cl_free_bufs(struct sl_client *c);

/* client.c */
/* A new client of srv in CL_HEAD (fd: its socket, -1 for none); peer,
 * buffers and the list are the caller's to set. NULL: out of memory. */
struct sl_client *cl_new(struct sl_server *srv, int fd);
/* Into the server's list of clients (and its count). */
void cl_link(struct sl_client *c);
/* Free a client that is not linked (any more): buffers, snapshot, struct. */
void cl_destroy(struct sl_client *c);
void cl_run(struct sl_client *c);
void cl_reply_error(struct sl_client *c, enum sl_err e, int status,
                    const char *detail);
void cl_txn_done(struct sl_client *c);
void cl_close(struct sl_client *c);
void cl_tls_end(struct sl_client *c);
void cl_arm_timer(struct sl_client *c);
/* client_timeout.c: the connection's timer (c->timer's callback). */
void cl_on_timer(struct sl_timer *t);
/* A transaction starts: its clocks, HTTP/1.1 and keep-alive assumed. */
void cl_txn_init(struct sl_client *c);
/* Read into b / write a head and a body, through TLS when ssl is set
 * (tls.h: a TLS write that takes less than offered says nothing about the
 * socket, so only WANT_WRITE clears *ready). */
ssize_t cl_read(int fd, SSL *ssl, struct sl_buf *b, unsigned char *ready,
                unsigned char hup);
ssize_t cl_send2(int fd, SSL *ssl, const char *h, size_t hl, const char *b,
                 size_t bl, unsigned char *ready);

void cl_rerun(struct sl_client *c);
/* Keep "METHOD\0URL\0" (and the log's other fields of m) in t->meta. */
int cl_keep_meta(struct sl_client *c, struct sl_view method, struct sl_view url,
                 const struct sl_http_msg *m);

/* A step refuses the request: the code to log (CL_CODE_UNSET: keep the one
 * set), the error page and its detail. Returns CL_REFUSE. */
static inline enum cl_verdict cl_refuse(struct cl_txn *t, enum cl_code code,
                                        enum sl_err err, int status,
                                        const char *detail)
{
    if (code != CL_CODE_UNSET)
        t->code = code;
    t->refusal.err = err;
    t->refusal.status = status;
    t->refusal.detail = detail;
    return CL_REFUSE;
}

/* client_access.c: authentication and http_access (CL_NEXT allowed,
 * CL_DONE denied or challenged with its page, CL_AGAIN a fact to find) */
enum cl_verdict access_begin(struct sl_client *c, const struct sl_http_msg *m,
                             size_t headlen);
int access_peek_step(struct sl_client *c);
/* to_localhost before the cache (CL_NEXT, CL_REFUSE, CL_AGAIN: a lookup,
 * then cl_rerun). */
enum cl_verdict access_to_localhost(struct sl_client *c, size_t headlen);
/* After the peek: answer with a TLS alert and close (status: for the log). */
void access_tls_refuse(struct sl_client *c, int status);
/* What the rules see of the transaction (m: its head, or NULL for a
 * fetch of our own): the client, the facts found so far, the user. */
struct acl_request;
void access_request(struct sl_client *c, const struct sl_http_msg *m,
                    struct acl_request *r);

/* client_negotiate.c. neg_begin: a Negotiate credential (value) of the
 * request whose head (headlen bytes) is in c->in: CL_AGAIN while the
 * ticket is checked (cl_rerun decides the request again with the user
 * set, or none), CL_NEXT when it was malformed (no user; logged),
 * CL_REFUSE when the checks are all busy (503). */
enum cl_verdict neg_begin(struct sl_client *c, struct sl_view value, size_t headlen);
/* The client goes away, or waited too long: its check is given up. */
void neg_cancel(struct sl_client *c);
void neg_timeout(struct sl_client *c);

/* client_maxfwd.c: OPTIONS and TRACE, Max-Forwards: CL_NEXT (forward,
 * one less), CL_DONE (answered here), CL_REFUSE. */
enum cl_verdict maxfwd_begin(struct sl_client *c, const struct sl_http_msg *m,
                             size_t headlen);

/* client_flow.c: bodies on their way through. Scan what arrived after
 * the ready bytes (0, or -1 if malformed; *span: the body data that became
 * ready, what the cache stores); free space at b's end (compacting); has
 * all of f gone out, our framing included; write hl bytes of head h and
 * what f (NULL: none) has ready at b->pos in one writev, through TLS when
 * ssl (the bytes written, 0 when nothing was to write, -EAGAIN, -errno;
 * *hsent: how much of the head went). */
int flow_scan(struct cl_flow *f, struct sl_buf *b, char **span, size_t *span_n);
size_t flow_room(struct sl_buf *b);
int flow_sent(const struct cl_flow *f);
ssize_t flow_send(int fd, SSL *ssl, const char *h, size_t hl, struct sl_buf *b,
                  struct cl_flow *f, unsigned char *wready, size_t *hsent);

/* client_fwd.c */
void fwd_start(struct sl_client *c);
/* An IP literal host: its address into t->addrs, 1; else 0. */
int fwd_literal(struct cl_txn *t);
int fwd_run(struct sl_client *c);
void fwd_timeout(struct sl_client *c);
void fwd_release_origin(struct sl_client *c, int reusable);
int fwd_build_request(struct sl_client *c, const struct sl_http_msg *req);
/* What every request to an origin or backend gets (Via into via, hop-by-
 * hop framing, Max-Forwards, a revalidation's drops); the caller sets
 * xff, access and its own drops. */
void fwd_request_opts(struct sl_client *c, const struct sl_http_msg *m,
                      struct flt_hdr_opts *opts, char *via, size_t vialen);
/* "Connection: upgrade" and the Upgrade field of m (a request asking for
 * a protocol switch, or the 101 that grants it) into out. 0 or -ENOSPC. */
int fwd_upgrade_fields(const struct sl_http_msg *m, struct sl_buf *out);
/* "1.<minor> <visible_hostname> (squidlike/<version>)": our Via entry. */
void fwd_via_text(char *buf, size_t n, int minor, const struct sl_conf *conf);

/* client_hit.c: the cache's step (PURGE, a lookup): CL_DONE when it
 * answered (a hit, 504 only-if-cached, waiting on a collapsed fetch),
 * CL_NEXT to forward (t->cache.mode says how). */
enum cl_verdict hit_begin(struct sl_client *c, const struct sl_http_msg *m,
                          size_t headlen);
int hit_run(struct sl_client *c);
int hit_serve_refreshed(struct sl_client *c);
int hit_parse_head(struct sl_client *c, const struct sl_buf *b,
                   struct sl_http_msg *m);
/* The request head kept in c->creq (keep_request), parsed again into m
 * with the header array hdrs (c->hdrs, or c->shdrs when c->hdrs holds
 * something still in use). 0 or -EIO. */
int hit_request_again(struct sl_client *c, struct sl_http_hdr *hdrs,
                     struct sl_http_msg *m);
/* "GET " (or "GET rev:SITE " for a reverse route) before a key's URL,
 * appended to out. 0 or -ENOSPC. */
int hit_key_prefix(const struct sl_client *c, struct sl_buf *out);
void hit_status(struct cl_txn *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* After a wait on another worker's fetch: serve what it stored, when the
 * store now has a fresh object for c's request. 1 served (or closed on
 * a failed write), 0 not there (c is untouched). */
int hit_serve_stored(struct sl_client *c);
int hit_serve_collapsed(struct sl_client *c, const char *head, size_t head_len,
                       const struct cache_fresh *fresh, int64_t total);
void cl_forward_released(struct sl_client *c);
void cl_abort_waiter(struct sl_client *c);

/*
 * client_mgr.c: the pages we serve ourselves. mgr_begin: when m (whose
 * head is still in c->in) asks for one of our pages, answer it (CL_DONE),
 * else CL_NEXT touching nothing (never on a manager-only connection: it
 * is answered, if only with a 403).
 */
enum cl_verdict mgr_begin(struct sl_client *c, const struct sl_http_msg *m);
/* Our own 200 into c->out, then CL_REPLY writes it: ctype (NULL:
 * none), Cache-Control cache, body (NULL: none; a HEAD gets the head
 * alone, Content-Length still the body's), the log's content type, extra
 * header lines. 0 or -ENOMEM. */
int mgr_send_page(struct sl_client *c, const char *ctype, const char *cache,
                 const struct sl_buf *body, const char *log_ctype,
                 const char *extra);

/* client_fill.c */
const struct cache_heuristic *fill_heuristic(const struct sl_client *c,
                                             struct cache_heuristic *ttl);
void fill_request_fields(struct sl_client *c, struct flt_hdr_opts *opts);
int fill_request_conditionals(struct sl_client *c, struct sl_buf *out);
/* A final response head: CL_DONE when the client is answered from the
 * store instead (a 304 refreshed it, stale-if-error), CL_NEXT to relay it
 * (maybe storing), CL_ERROR when that failed. */
enum cl_verdict fill_on_head(struct sl_client *c, const struct sl_http_msg *m);
/* Response body data (chunked framing already taken off) as it goes to
 * the client: stored when the response is. */
void fill_body(struct sl_client *c, const char *p, size_t n);
void fill_finish(struct sl_client *c, int complete);
void fill_abort(struct sl_client *c);
int hit_status_field(struct sl_client *c, struct sl_buf *out);

/* client_txnlog.c: the transaction's access-log record. cl_keep_meta reserves
 * TXNLOG_META_ROOM more bytes in t->meta for txnlog_keep. */
#define TXNLOG_META_ROOM (2 * (SL_LOGFMT_HDR_KEEP + 1))
void txnlog_keep(struct cl_txn *t, const struct sl_http_msg *m);
/* The transaction is over: log it and count it, once. */
void txnlog_end(struct sl_client *c);
/* The response's content type for the log (up to its first blank). */
void txnlog_keep_ctype(struct cl_txn *t, const struct sl_http_msg *m);
/* It is cut short (the client left, or we close): logged as Squid does,
 * the code with _ABORTED, once. */
void txnlog_aborted(struct sl_client *c);

/* client_leave.c: clients that leave while they wait */
/* A hang-up was seen: if c is waiting and its client is gone, close it or
 * let its fetch go on headless. 1 when it acted. */
int leave_check(struct sl_client *c);
/* The client is gone (a failed write, err); decide as leave_check. */
void leave_now(struct sl_client *c, int err);
/* Before a connection's first request goes to an origin: is its client
 * gone already? 1 when it was, and c is closed. */
int leave_before_forward(struct sl_client *c);
/* A headless fetch nobody wants any more is closed: 1 when it was. */
int leave_recheck(struct sl_client *c);

/* client_rev.c: reverse mode (a client of a reverse.listen address) */
/* Step 1: the vhost and route of the request (CL_NEXT, or CL_REFUSE). */
enum cl_verdict rev_target(struct sl_client *c, const struct sl_http_msg *m);
/* Our fields on the site's responses: RateLimit (client_limit.c), HSTS over
 * TLS. 0 or -ENOSPC. */
int rev_resp_fields(const struct sl_client *c, struct sl_buf *out);
/* client_limit.c: after access (and the gateway's authentication), the
 * rate limits of the vhost, the route and the consumer, then the
 * consumer's quotas: CL_NEXT, or CL_DONE with a 429 under way. */
enum cl_verdict rev_limit(struct sl_client *c, const struct sl_http_msg *m);
/* RateLimit-Policy / RateLimit when reverse.rate_limit_headers: 0 or -ENOSPC. */
int rev_limit_fields(const struct sl_client *c, struct sl_buf *out);
/* The request's id (X-Request-Id as sent, else made when
 * reverse.request_id), into txn.rev.reqid once. */
void rev_request_id(struct sl_client *c, const struct sl_http_msg *m);
/* The route of the transaction, NULL when it has none (or not reverse). */
const struct sl_conf_rroute *rev_route(const struct sl_client *c);
/* The request head for the backend into c->oreq: 0, -ENOMEM, -ENOSPC. */
int rev_build_request(struct sl_client *c, const struct sl_http_msg *m);
/* At fwd_start: the backend, into t->addrs and t->key. 0; 1 when the
 * request waits in the pool's queue (CL_QUEUE); -1 when none may take
 * it (answered with a 503). */
int rev_pick(struct sl_client *c);
/* CL_QUEUE: a slot freed (pick again), or its time is up (503). */
int rev_queue_step(struct sl_client *c);
void rev_queue_timeout(struct sl_client *c);
int64_t rev_queue_deadline(const struct sl_client *c);
/* The request left its backend (done, failed, retried elsewhere). */
void rev_release(struct sl_client *c);
/* What it found there: ok (a response below 500) or a failure; head: a
 * response head came (its latency counts, 5xx too). */
void rev_outcome(struct sl_client *c, int ok, int head);
/* The backend failed before answering (sent: request bytes went out):
 * 1 when the request was sent to another backend instead. */
int rev_retry(struct sl_client *c, int sent);
/* The response's fields for the client: what the backends hide, the
 * route's edits; *add: lines to add ("Name: value\r\n"...), or NULL. */
void rev_resp_opts(const struct sl_client *c, struct flt_hdr_opts *opts,
                   const char **add);

/* client_gw.c: the API gateway's step and what it learnt. */
/* The route's name and the consumer's ("anonymous" when a gateway route
 * let nobody in; NULL when the request had no route, or none with auth). */
const char *gw_route_name(const struct sl_client *c);
const char *gw_consumer_name(const struct sl_client *c);
/* Step 2a (reverse): CORS preflight, who calls, may they: CL_NEXT, or
 * CL_DONE with a 204/401/403 under way. */
enum cl_verdict gw_begin(struct sl_client *c, const struct sl_http_msg *m);
/* The backend's request: the client's consumer fields dropped (drop3),
 * ours added; the route's query edits on the path written from offset
 * from of out. 0 or -ENOSPC. */
void gw_req_drop(const struct sl_client *c, struct flt_hdr_opts *opts);
int gw_req_fields(const struct sl_client *c, struct sl_buf *out);
int gw_query(const struct sl_client *c, struct sl_buf *out, size_t from);
/* The client's response: X-Request-Id, CORS. 0 or -ENOSPC. */
int gw_resp_fields(const struct sl_client *c, struct sl_buf *out);
/* client_gw_jwt.c: the consumer a bearer token names: 0 with *cs, or -1
 * with *why (the 401's reason). */
int gw_jwt_consumer(struct sl_client *c, struct sl_view tok,
                    const struct sl_conf_consumer **cs, const char **why);

/* client_zip.c: reverse mode's compression. */
/* Is it on for the transaction's route? */
int zip_route(const struct sl_client *c);
/* cache_vary_key's flags for c (a range keyed as identity where we
 * compress). */
unsigned zip_vary_flags(const struct sl_client *c);
/* At the request (reverse mode): what the client would get, into
 * t->zip_want. 1 when the request goes without Accept-Encoding (a range
 * where we compress: keyed so by zip_vary_flags), else 0. */
int zip_on_request(struct sl_client *c, const struct sl_http_msg *m);
/* A final response head (before the cache sees it): compressible? in
 * what coding? The stream is made here (counted against max_streams). */
void zip_on_head(struct sl_client *c, const struct sl_http_msg *m);
/* What a stored head said that a 304 refreshing it must not undo: its
 * ETag (a weak one of ours stays weak) and a Vary naming Accept-Encoding. */
struct zip_was {
    struct sl_view etag;
    int vary_ae;
};
/* The head's fields our coding changes: zip_opts sets opts->drop2 (and
 * keep_cl, keep_te) for the rewrite of m, zip_lines writes our lines after
 * it. was: the stored head a 304 refreshes, or NULL. client: the head for
 * the client (our framing). zip_lines: 0 or -ENOSPC. */
void zip_opts(const struct sl_client *c, const struct sl_http_msg *m,
              const struct zip_was *was, int client, struct flt_hdr_opts *opts);
int zip_lines(const struct sl_client *c, const struct sl_http_msg *m,
              const struct zip_was *was, int client, struct sl_buf *out);
/* Move the body through the coder: what t->resp has ready in origin->in
 * in, coded bytes out (and to the store). 1 on progress, 0 none, -1 when
 * the coder failed. */
int zip_pump(struct sl_client *c);
/* Has all of the coded body gone out? */
int zip_sent(const struct sl_client *c);
/* Free the stream (the end of the response, or of the client). */
void zip_end(struct sl_client *c);

/* client_json.c: a route's response_json. */
/* Would a body of response m be edited (the route, the status, a JSON
 * type, no coding, the size; HEAD answered as a GET would be)? 1 or 0.
 * Compression leaves such a response alone: the edit wins. */
int json_applies(const struct sl_client *c, const struct sl_http_msg *m);
/* A final response head (before the cache sees it, after t->resp.kind is
 * known): makes t->json when the body is to be held and edited. 0, or
 * -ENOMEM (nothing is sent yet: the caller answers 502). */
int json_on_head(struct sl_client *c, const struct sl_http_msg *m);
/* The head's fields the edit changes (opts->drop3, keep_cl, keep_te):
 * framing (ours, the client's head), digests of the backend's bytes,
 * Accept-Ranges. client: the client's head, else the stored one. */
void json_opts(const struct sl_client *c, const struct sl_http_msg *m, int client,
               struct flt_hdr_opts *opts);
/* Is the client's head still held (the body being collected)? */
int json_holds(const struct sl_client *c);
/* Move the body: collect, then edit (the held head gets its length) or
 * pass on. 1 on progress, 0 none, -1 when memory ran out (the client's
 * connection is cut: an unedited body is not sent in its place). */
int json_pump(struct sl_client *c);
/* Has all of the body gone out? */
int json_sent(const struct sl_client *c);
/* Free the buffer (the end of the response, or of the client). */
void json_end(struct sl_client *c);

/* client_peer.c: parent proxies (see its top) */
/* A step of cl_begin: the next hops (CL_NEXT, or CL_REFUSE: never_direct
 * and no parent may take it). */
enum cl_verdict peer_select(struct sl_client *c, const struct sl_http_msg *m);
/* At fwd_start (forward mode): the current hop's key and request form;
 * 0, or -1 when answered. */
int peer_start(struct sl_client *c);
/* The peer the request is going to (its index; -1: the origin) / its
 * settings (NULL: the origin). */
int peer_cur(const struct sl_client *c);
const struct sl_conf_peer *peer_conf(const struct sl_client *c);
/* The current hop could not be reached (why: for the log), nothing was
 * sent: 1 when the next hop is set up (find its connection), 0 when the
 * origin itself failed (answer its error), -1 when answered (503). */
int peer_next(struct sl_client *c, const char *why);
/* Connected (or a pooled connection) to the hop: the log's hierarchy
 * and peer, the parent's health. */
void peer_connected(struct sl_client *c, const struct sl_origin *o);
/* A final response head from a parent: 1 when it was a 407 (answered
 * with a 502), 0 otherwise. */
int peer_on_head(struct sl_client *c, const struct sl_http_msg *m);
/* CONNECT through a parent: send it our CONNECT (CL_FORWARD with
 * t->hop.chain), then peer_chain_run until its 2xx starts the tunnel. */
void peer_chain_start(struct sl_client *c);
int peer_chain_run(struct sl_client *c);

/* client_tunnel.c */
void tunnel_start(struct sl_client *c);
/* A 101 went (is going) out in c->out: the connection is a tunnel now. */
void tunnel_upgraded(struct sl_client *c);
int tunnel_run(struct sl_client *c);
/* The tunnel's pipes closed (the end of the transaction or of the client). */
void tunnel_free(struct sl_client *c);

#endif
