/*
 * dns.c - c-ares on our event loop, with a name cache (see dns.h).
 *
 * Shape: a cache of entries keyed by name (hash table + LRU list of answered
 * entries). An entry is PENDING while one c-ares query runs for it; waiters
 * queue on it. A "channel" wraps one ares_channel with its sockets and
 * timer; reload retires the current channel (its queries finish) and opens a
 * new one, because c-ares refuses to change servers with queries pending.
 */
#include "config.h"

#include <ares.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "squidlike/dns.h"
#include "squidlike/hash.h"

#define MIN_TTL_MS 1000

struct dns_chan;

struct dns_sock {
    struct sl_io io;
    struct dns_chan *ch;
    struct dns_sock *next;
    int added;
};

struct dns_chan {
    struct sl_dns *dns;
    ares_channel ares;
    struct dns_sock *socks;
    struct sl_timer timer;
    int pending;                /* queries in flight */
    int retired;
    struct dns_chan *next;      /* on dns->retired */
};

enum { E_PENDING, E_ANSWERED };

struct dns_lru {
    struct dns_lru *prev, *next;
};

struct sl_dns_entry {
    struct dns_lru lru;                         /* first: answered entries only */
    struct sl_dns_entry *hnext;                 /* hash chain */
    struct sl_dns_waiter waiters;               /* list head */
    struct sl_dns *dns;
    struct dns_chan *chan;                      /* while pending */
    uint32_t hash;
    int state;
    int64_t expires;
    int64_t t_sent_us;          /* when the query went out */
    struct sl_dns_result res;
    char name[];
};

struct sl_dns {
    struct sl_loop *loop;
    struct sl_conf_dns conf;
    struct dns_chan *chan;
    struct dns_chan *retired;
    struct dns_sock *graveyard;     /* freed after the event batch */
    struct sl_post reap;
    struct sl_dns_entry **table;
    size_t nbuckets, nentries;
    struct dns_lru lru;             /* sentinel: lru.next = most recent */
    struct sl_dns_entry *starting;  /* entry whose query is being started */
    int sync_done;
    struct sl_dns_result sync_res;
    struct sl_dns_stats st;
};

/* --- channels --------------------------------------------------------- */

static void chan_arm(struct dns_chan *ch)
{
    struct timeval tv, *t = ares_timeout(ch->ares, NULL, &tv);

    if (t == NULL) {
        sl_timer_stop(ch->dns->loop, &ch->timer);
        return;
    }
    sl_timer_set(ch->dns->loop, &ch->timer,
                 (int64_t)t->tv_sec * 1000 + t->tv_usec / 1000 + 1);
}

static void chan_on_timer(struct sl_timer *t)
{
    struct dns_chan *ch = t->data;

    ares_process_fd(ch->ares, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    chan_arm(ch);
}

static void chan_on_io(struct sl_io *io, unsigned ev)
{
    struct dns_sock *s = io->data;
    struct dns_chan *ch = s->ch;
    int fd = io->fd;

    ares_process_fd(ch->ares, (ev & SL_IO_READ) ? fd : ARES_SOCKET_BAD,
                    (ev & SL_IO_WRITE) ? fd : ARES_SOCKET_BAD);
    chan_arm(ch);
}

static void sock_state_cb(void *data, ares_socket_t fd, int readable,
                          int writable)
{
    struct dns_chan *ch = data;
    struct sl_dns *dns = ch->dns;
    struct dns_sock *s, **sp;
    unsigned mask = (readable ? SL_IO_READ : 0) | (writable ? SL_IO_WRITE : 0);

    for (sp = &ch->socks; (s = *sp) != NULL; sp = &s->next)
        if (s->io.fd == fd)
            break;
    if (mask == 0) {
        if (s == NULL)
            return;
        *sp = s->next;
        sl_loop_del(dns->loop, &s->io);     /* c-ares closes the fd */
        s->next = dns->graveyard;
        dns->graveyard = s;
        sl_loop_post(dns->loop, &dns->reap);
        return;
    }
    if (s == NULL) {
        s = calloc(1, sizeof(*s));
        if (s == NULL)
            return;             /* the query will time out */
        s->io.fd = fd;
        s->io.cb = chan_on_io;
        s->io.data = s;
        s->ch = ch;
        s->next = ch->socks;
        ch->socks = s;
    }
    if (sl_loop_set_lt(dns->loop, &s->io, mask, s->added) == 0)
        s->added = 1;
}

static struct dns_chan *chan_new(struct sl_dns *dns, char *err, size_t errlen)
{
    struct dns_chan *ch = calloc(1, sizeof(*ch));
    struct ares_options o;
    char csv[SL_CONF_MAX_NS * 72];
    size_t i, n = 0;
    int rc, mask;

    if (ch == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    ch->dns = dns;
    ch->timer.cb = chan_on_timer;
    ch->timer.data = ch;
    memset(&o, 0, sizeof(o));
    o.sock_state_cb = sock_state_cb;
    o.sock_state_cb_data = ch;
    /* c-ares doubles the per-try timeout each round: t + 2t ~ the total. */
    o.timeout = (int)(dns->conf.timeout / 3);
    if (o.timeout < 100)
        o.timeout = 100;
    o.tries = 2;
    o.lookups = (char *)"fb";   /* /etc/hosts, then DNS */
    o.domains = NULL;           /* a proxy gets full names: no search list */
    o.ndomains = 0;
    mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES |
           ARES_OPT_LOOKUPS | ARES_OPT_DOMAINS;
    rc = ares_init_options(&ch->ares, &o, mask);
    if (rc != ARES_SUCCESS) {
        snprintf(err, errlen, "c-ares: %s", ares_strerror(rc));
        free(ch);
        return NULL;
    }
    for (i = 0; i < dns->conf.n_nameservers; i++)
        n += (size_t)snprintf(csv + n, sizeof(csv) - n, "%s%s", i ? "," : "",
                              dns->conf.nameservers[i]);
    if (n > 0 && (rc = ares_set_servers_ports_csv(ch->ares, csv)) != ARES_SUCCESS) {
        snprintf(err, errlen, "c-ares: nameservers \"%s\": %s", csv,
                 ares_strerror(rc));
        ares_destroy(ch->ares);
        free(ch);
        return NULL;
    }
    return ch;
}

static void chan_free(struct dns_chan *ch)
{
    struct sl_dns *dns = ch->dns;
    struct dns_sock *s;

    /* Fires EDESTRUCTION callbacks for queries still running. */
    ares_destroy(ch->ares);
    sl_timer_stop(dns->loop, &ch->timer);
    while ((s = ch->socks) != NULL) {
        ch->socks = s->next;
        sl_loop_del(dns->loop, &s->io);
        s->next = dns->graveyard;
        dns->graveyard = s;
    }
    free(ch);
}

/* Runs after the event batch: free dead socket records, idle old channels. */
static void dns_on_reap(struct sl_post *p)
{
    struct sl_dns *dns = p->data;
    struct dns_chan **cp = &dns->retired, *ch;
    struct dns_sock *s;

    while ((ch = *cp) != NULL) {
        if (ch->pending == 0) {
            *cp = ch->next;
            chan_free(ch);
        } else {
            cp = &ch->next;
        }
    }
    while ((s = dns->graveyard) != NULL) {
        dns->graveyard = s->next;
        free(s);
    }
}

/* --- cache ------------------------------------------------------------ */

static void lru_unlink(struct sl_dns_entry *e)
{
    if (e->lru.next) {
        e->lru.prev->next = e->lru.next;
        e->lru.next->prev = e->lru.prev;
        e->lru.next = e->lru.prev = NULL;
    }
}

static void lru_push(struct sl_dns *dns, struct sl_dns_entry *e)
{
    lru_unlink(e);
    e->lru.next = dns->lru.next;
    e->lru.prev = &dns->lru;
    dns->lru.next->prev = &e->lru;
    dns->lru.next = &e->lru;
}

/* The least recently used answered entry, or NULL. */
static struct sl_dns_entry *lru_oldest(struct sl_dns *dns)
{
    return dns->lru.prev == &dns->lru ? NULL : (struct sl_dns_entry *)dns->lru.prev;
}

static void entry_remove(struct sl_dns *dns, struct sl_dns_entry *e)
{
    struct sl_dns_entry **pp = &dns->table[e->hash & (dns->nbuckets - 1)];

    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    lru_unlink(e);
    dns->nentries--;
    free(e);
}

static struct sl_dns_entry *entry_find(struct sl_dns *dns, const char *name,
                                       uint32_t h)
{
    struct sl_dns_entry *e = dns->table[h & (dns->nbuckets - 1)];

    for (; e; e = e->hnext)
        if (e->hash == h && strcmp(e->name, name) == 0)
            return e;
    return NULL;
}

static void cache_trim(struct sl_dns *dns)
{
    struct sl_dns_entry *e;

    while (dns->nentries > dns->conf.cache_size && (e = lru_oldest(dns)) != NULL)
        entry_remove(dns, e);
}

static void cache_flush(struct sl_dns *dns)
{
    struct sl_dns_entry *e;

    while ((e = lru_oldest(dns)) != NULL)
        entry_remove(dns, e);
}

static enum sl_dns_status map_status(int status, size_t n)
{
    switch (status) {
    case ARES_SUCCESS:
        return n ? SL_DNS_OK : SL_DNS_NXDOMAIN;
    case ARES_ENOTFOUND:
    case ARES_ENODATA:
    case ARES_ENONAME:
    case ARES_EBADNAME:
        return SL_DNS_NXDOMAIN;
    case ARES_ETIMEOUT:
        return SL_DNS_TIMEOUT;
    default:
        return SL_DNS_FAIL;
    }
}

static void on_addrinfo(void *arg, int status, int timeouts,
                        struct ares_addrinfo *ai)
{
    struct sl_dns_entry *e = arg;
    struct sl_dns *dns = e->dns;
    struct dns_chan *ch = e->chan;
    struct ares_addrinfo_node *node;
    struct sl_dns_waiter *w;
    int64_t ttl = -1;

    (void)timeouts;
    ch->pending--;
    if (status != ARES_EDESTRUCTION)
        sl_hist_add(&dns->st.time, sl_mono_us() - e->t_sent_us);
    e->chan = NULL;
    e->res.n = 0;
    for (node = ai ? ai->nodes : NULL; node && e->res.n < SL_DNS_MAX_ADDRS;
         node = node->ai_next) {
        if ((node->ai_family != AF_INET && node->ai_family != AF_INET6) ||
            node->ai_addrlen > sizeof(union sl_sockaddr))
            continue;
        memset(&e->res.addr[e->res.n], 0, sizeof(e->res.addr[0]));
        memcpy(&e->res.addr[e->res.n], node->ai_addr, node->ai_addrlen);
        if (ttl < 0 || (int64_t)node->ai_ttl * 1000 < ttl)
            ttl = (int64_t)node->ai_ttl * 1000;
        e->res.n++;
    }
    if (ai)
        ares_freeaddrinfo(ai);
    e->res.status = map_status(status, e->res.n);
    if (e->res.status == SL_DNS_OK) {
        if (ttl < MIN_TTL_MS)
            ttl = MIN_TTL_MS;
        if (ttl > dns->conf.max_ttl)
            ttl = dns->conf.max_ttl;
        e->expires = sl_loop_now(dns->loop) + ttl;
    } else {
        e->expires = sl_loop_now(dns->loop) + dns->conf.negative_ttl;
    }
    e->state = E_ANSWERED;
    if (dns->starting == e) {
        dns->sync_res = e->res;
        dns->sync_done = 1;
    }
    /* Pop each waiter before calling it: a callback may cancel others. */
    while ((w = e->waiters.next) != &e->waiters) {
        w->prev->next = w->next;
        w->next->prev = w->prev;
        w->entry = NULL;
        w->cb(w, &e->res);
    }
    if (status == ARES_EDESTRUCTION || e->res.status == SL_DNS_TIMEOUT ||
        e->res.status == SL_DNS_FAIL || dns->conf.cache_size == 0) {
        entry_remove(dns, e);
    } else {
        lru_push(dns, e);
        cache_trim(dns);
    }
    if (ch->retired && ch->pending == 0)
        sl_loop_post(dns->loop, &dns->reap);
}

static struct sl_dns_entry *entry_new(struct sl_dns *dns, const char *name,
                                      uint32_t h)
{
    size_t len = strlen(name);
    struct sl_dns_entry *e = calloc(1, sizeof(*e) + len + 1);
    size_t b;

    if (e == NULL)
        return NULL;
    memcpy(e->name, name, len + 1);
    e->hash = h;
    e->dns = dns;
    e->waiters.next = e->waiters.prev = &e->waiters;
    b = h & (dns->nbuckets - 1);
    e->hnext = dns->table[b];
    dns->table[b] = e;
    dns->nentries++;
    return e;
}

int sl_dns_resolve(struct sl_dns *dns, const char *name,
                   struct sl_dns_waiter *w, struct sl_dns_result *res)
{
    char bare[256];
    size_t n = strlen(name);
    uint32_t h;
    struct sl_dns_entry *e;
    struct ares_addrinfo_hints hints;

    /* A fully qualified "localhost." is "localhost": the hosts file
     * (c-ares looks there first) lists names without the root's dot and
     * would miss it, and with no search list the DNS query is the same
     * either way. One trailing dot goes, and both spellings share an
     * entry. */
    if (n > 1 && n < sizeof(bare) && name[n - 1] == '.') {
        memcpy(bare, name, n - 1);
        bare[n - 1] = '\0';
        name = bare;
    }
    h = sl_fnv32_str(name);
    e = entry_find(dns, name, h);
    dns->st.lookups++;
    if (e && e->state == E_ANSWERED &&
        e->expires <= sl_loop_now(dns->loop)) {
        entry_remove(dns, e);
        e = NULL;
    }
    if (e && e->state == E_ANSWERED) {
        dns->st.hits++;
        if (e->res.status != SL_DNS_OK)
            dns->st.negative_hits++;
        lru_push(dns, e);
        *res = e->res;
        return 0;
    }
    if (e == NULL) {
        dns->st.misses++;
        e = entry_new(dns, name, h);
        if (e == NULL) {
            memset(res, 0, sizeof(*res));
            res->status = SL_DNS_FAIL;
            return 0;
        }
        e->state = E_PENDING;
        e->chan = dns->chan;
        dns->chan->pending++;
        dns->st.queries++;
        e->t_sent_us = sl_mono_us();
        memset(&hints, 0, sizeof(hints));
        hints.ai_family = dns->conf.ipv6 ? AF_UNSPEC : AF_INET;
        hints.ai_socktype = SOCK_STREAM;
        dns->starting = e;
        dns->sync_done = 0;
        ares_getaddrinfo(dns->chan->ares, name, NULL, &hints, on_addrinfo, e);
        dns->starting = NULL;
        if (dns->sync_done) {
            /* Answered inside the call (hosts file, bad name). */
            *res = dns->sync_res;
            return 0;
        }
        chan_arm(dns->chan);
    }
    w->entry = e;
    w->next = &e->waiters;
    w->prev = e->waiters.prev;
    e->waiters.prev->next = w;
    e->waiters.prev = w;
    return 1;
}

void sl_dns_cancel(struct sl_dns_waiter *w)
{
    if (w->entry == NULL)
        return;
    w->prev->next = w->next;
    w->next->prev = w->prev;
    w->entry = NULL;
}

/* --- lifecycle -------------------------------------------------------- */

struct sl_dns *sl_dns_new(struct sl_loop *loop, const struct sl_conf_dns *conf,
                          char *err, size_t errlen)
{
    struct sl_dns *dns = calloc(1, sizeof(*dns));
    size_t nb = 64;

    if (dns == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    dns->loop = loop;
    dns->conf = *conf;
    dns->reap.cb = dns_on_reap;
    dns->reap.data = dns;
    dns->lru.next = dns->lru.prev = &dns->lru;
    while (nb < conf->cache_size * 2 && nb < (1u << 24))
        nb *= 2;
    dns->nbuckets = nb;
    dns->table = calloc(nb, sizeof(*dns->table));
    if (dns->table == NULL) {
        snprintf(err, errlen, "out of memory");
        free(dns);
        return NULL;
    }
    dns->chan = chan_new(dns, err, errlen);
    if (dns->chan == NULL) {
        free(dns->table);
        free(dns);
        return NULL;
    }
    return dns;
}

int sl_dns_configure(struct sl_dns *dns, const struct sl_conf_dns *conf,
                     char *err, size_t errlen)
{
    struct sl_conf_dns old = dns->conf;
    struct dns_chan *ch;
    int servers_changed;

    servers_changed = old.n_nameservers != conf->n_nameservers ||
        memcmp(old.nameservers, conf->nameservers, sizeof(old.nameservers)) != 0;
    if (!servers_changed && old.timeout == conf->timeout &&
        old.ipv6 == conf->ipv6) {
        dns->conf = *conf;      /* cache limits only */
        cache_trim(dns);
        return 0;
    }
    dns->conf = *conf;
    ch = chan_new(dns, err, errlen);
    if (ch == NULL) {
        dns->conf = old;
        return -1;
    }
    dns->chan->retired = 1;
    dns->chan->next = dns->retired;
    dns->retired = dns->chan;
    dns->chan = ch;
    sl_loop_post(dns->loop, &dns->reap);
    if (servers_changed)
        cache_flush(dns);
    cache_trim(dns);
    return 0;
}

void sl_dns_free(struct sl_dns *dns)
{
    struct dns_chan *ch;
    struct dns_sock *s;
    size_t i;

    if (dns == NULL)
        return;
    chan_free(dns->chan);
    while ((ch = dns->retired) != NULL) {
        dns->retired = ch->next;
        chan_free(ch);
    }
    /* Destroying channels may have posted a reap: withdraw it. */
    sl_loop_unpost(dns->loop, &dns->reap);
    while ((s = dns->graveyard) != NULL) {
        dns->graveyard = s->next;
        free(s);
    }
    for (i = 0; i < dns->nbuckets; i++) {
        struct sl_dns_entry *e = dns->table[i], *next;
        for (; e; e = next) {
            next = e->hnext;
            free(e);
        }
    }
    free(dns->table);
    free(dns);
}

void sl_dns_get_stats(const struct sl_dns *dns, struct sl_dns_stats *st)
{
    *st = dns->st;
    st->entries = dns->nentries;
}
