/*
 * conf_gw_jwt.c - reverse.gateway.jwt: the keys tokens are verified with
 * and the claims they must carry (acl/jwt.h). Built in the next step.
 */
#include "config.h"

#include "squidlike/conf_int.h"

int cf_gw_jwt(struct ctx *x, const config_setting_t *g)
{
    return cf_fail(x, g, "reverse.gateway.jwt is not built yet");
}

int cf_gw_jwt_defaults(struct sl_conf_gateway *gw)
{
    (void)gw;
    return 0;
}

void cf_gw_jwt_free(struct sl_conf_gateway *gw)
{
    (void)gw;
}
