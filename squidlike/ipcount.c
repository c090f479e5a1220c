/*
 * ipcount.c - open connections per client address (see ipcount.h).
 */
#include "config.h"

#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "squidlike/hash.h"
#include "squidlike/ipcount.h"

#define BUCKETS 4096

struct sl_ipcount {
    struct sl_ipcount *next;
    unsigned count;
    int family;
    unsigned char addr[16];
};

struct sl_ipcounts {
    struct sl_ipcount *b[BUCKETS];
};

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

static size_t bucket(int fam, const unsigned char *a)
{
    return sl_fnv32(a, fam == AF_INET ? 4 : 16) % BUCKETS;
}

struct sl_ipcounts *sl_ipcounts_new(void)
{
    return calloc(1, sizeof(struct sl_ipcounts));
}

void sl_ipcounts_free(struct sl_ipcounts *t)
{
    struct sl_ipcount *e;
    size_t i;

    if (t == NULL)
        return;
    for (i = 0; i < BUCKETS; i++)
        while ((e = t->b[i]) != NULL) {
            t->b[i] = e->next;
            free(e);
        }
    free(t);
}

struct sl_ipcount *sl_ipcounts_add(struct sl_ipcounts *t, const struct sockaddr *sa)
{
    unsigned char a[16] = { 0 };
    int fam = ip_bytes(sa, a);
    struct sl_ipcount *e;
    size_t b;

    if (fam < 0)
        return NULL;
    b = bucket(fam, a);
    for (e = t->b[b]; e; e = e->next)
        if (e->family == fam && memcmp(e->addr, a, 16) == 0)
            break;
    if (e == NULL) {
        e = calloc(1, sizeof(*e));
        if (e == NULL)
            return NULL;
        e->family = fam;
        memcpy(e->addr, a, 16);
        e->next = t->b[b];
        t->b[b] = e;
    }
    e->count++;
    return e;
}

void sl_ipcounts_drop(struct sl_ipcounts *t, struct sl_ipcount *e)
{
    struct sl_ipcount **pp;

    if (e == NULL || --e->count > 0)
        return;
    for (pp = &t->b[bucket(e->family, e->addr)]; *pp; pp = &(*pp)->next)
        if (*pp == e) {
            *pp = e->next;
            free(e);
            return;
        }
}

unsigned sl_ipcount_n(const struct sl_ipcount *e)
{
    return e->count;
}
