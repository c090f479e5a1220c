/*
 * client_gw_jwt.c - the gateway's bearer tokens (acl/jwt.h): verified
 * with the snapshot's keys, the verdicts cached per worker by the token's
 * SHA-256 until the token expires. Built in the next step.
 */
#include "config.h"

#include "squidlike/client_int.h"

int gw_jwt_consumer(struct sl_client *c, struct sl_view tok,
                    const struct sl_conf_consumer **cs, const char **why)
{
    (void)c;
    (void)tok;
    *cs = NULL;
    *why = "no key for the token";
    return -1;
}
