/*
 * client_gw.c - reverse mode's API gateway step: who calls (an API key, a
 * JWT), whether the route lets them, and what the backend and the logs
 * learn of them (gateway-spec: X-Consumer-Id, analytics names).
 */
#include "config.h"

#include "squidlike/client_int.h"

const char *gw_route_name(const struct sl_client *c)
{
    const struct sl_conf_rroute *r = rev_route(c);

    return r != NULL ? r->name : NULL;
}

const char *gw_consumer_name(const struct sl_client *c)
{
    const struct sl_conf_rroute *r = rev_route(c);

    if (c->txn.rev.consumer != NULL)
        return c->txn.rev.consumer->name;
    return r != NULL && r->auth.methods != 0 ? "anonymous" : NULL;
}
