/*
 * ipcount.c - open connections per client address (see ipcount.h).
 */
#include "config.h"

#include <netinet/in.h>
#include <string.h>

#include "squidlike/hash.h"
#include "squidlike/ipcount.h"

/* Address bytes (IPv4-mapped IPv6 as IPv4), or -1 when sa is not IP. */
static int ip_bytes(const struct sockaddr *sa, unsigned char *out)
{
    if (sa->sa_family == AF_INET) {
        memcpy(out, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        return AF_INET;
    }
    if (sa->sa_family == AF_INET6) {
        const unsigned char *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
        static const unsigned char mapped[12] = { 0,0,0,0,0,0,0,0,0,0,0xff,0xff };
        if (memcmp(a, mapped, 12) == 0) {
            memcpy(out, a + 12, 4);
            return AF_INET;
        }
        memcpy(out, a, 16);
        return AF_INET6;
    }
    return -1;
}

static size_t home(int fam, const unsigned char *a)
{
    return sl_fnv32(a, fam == AF_INET ? 4 : 16) % SL_IPC_N;
}

/* The entry of (fam, a) in t, or NULL. Every entry within reach is
 * looked at: a free one does not end the search (entries never move, so
 * a free one may sit before the one we want). */
static struct sl_ipcount *find(const struct sl_ipcounts *t, int fam, const unsigned char *a)
{
    size_t h = home(fam, a), i;

    for (i = 0; i < SL_IPC_PROBE; i++) {
        const struct sl_ipcount *e = &t->e[(h + i) % SL_IPC_N];

        if (e->count > 0 && e->family == fam && memcmp(e->addr, a, 16) == 0)
            return (struct sl_ipcount *)e;
    }
    return NULL;
}

void sl_ipcounts_clear(struct sl_ipcounts *t)
{
    memset(t, 0, sizeof(*t));
}

struct sl_ipcount *sl_ipcounts_add(struct sl_ipcounts *t, const struct sockaddr *sa)
{
    unsigned char a[16] = { 0 };
    int fam = ip_bytes(sa, a);
    struct sl_ipcount *e;
    size_t h, i;

    if (fam < 0)
        return NULL;
    if ((e = find(t, fam, a)) != NULL) {
        e->count++;
        return e;
    }
    h = home(fam, a);
    for (i = 0; i < SL_IPC_PROBE; i++) {
        e = &t->e[(h + i) % SL_IPC_N];
        if (e->count == 0) {
            /* The key first, then the count: another worker reading sees
             * a count only with its address. */
            e->family = fam;
            memcpy(e->addr, a, 16);
            __atomic_store_n(&e->count, 1, __ATOMIC_RELEASE);
            return e;
        }
    }
    return NULL;
}

void sl_ipcounts_drop(struct sl_ipcounts *t, struct sl_ipcount *e)
{
    (void)t;
    if (e != NULL && e->count > 0)
        e->count--;
}

unsigned sl_ipcount_n(const struct sl_ipcount *e)
{
    return e->count;
}

unsigned sl_ipcount_total(const struct sl_ipcount *e,
                          const struct sl_ipcounts *const *others, size_t n)
{
    unsigned total = e->count;
    const struct sl_ipcount *o;
    size_t i;

    for (i = 0; i < n; i++)
        if ((o = find(others[i], e->family, e->addr)) != NULL)
            total += __atomic_load_n(&o->count, __ATOMIC_ACQUIRE);
    return total;
}
