/*
 * auth_int.h - counters of the Basic authentication module, for its own
 * tests (and, later, for a status page). Not part of the contract in
 * auth.h: struct acl_auth stays opaque; only its first member, the
 * counters, is readable through acl_auth_stats().
 */
#ifndef ACL_AUTH_INT_H
#define ACL_AUTH_INT_H

#include <stddef.h>

#include "acl/auth.h"

struct acl_auth_stats {
    unsigned long hashes;       /* crypt calls, dummy ones included */
    unsigned long hits;         /* checks answered from the cache */
    size_t cached;              /* live cache entries */
};

/* struct acl_auth begins with its acl_auth_stats (asserted in auth.c). */
static inline const struct acl_auth_stats *acl_auth_stats(const struct acl_auth *a)
{
    return (const struct acl_auth_stats *)(const void *)a;
}

#endif
