/*
 * client_gw_jwt.c - the gateway's bearer tokens (acl/jwt.h): verified
 * with the snapshot's keys and claims, and remembered in the snapshot's
 * cache of verified tokens (one per worker: each writes its own copy of
 * it) until they expire, so a client that keeps its token costs a SHA-256
 * per request, not a signature check.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "acl/jwt.h"
#include "squidlike/client_int.h"
#include "squidlike/gw_index.h"

int gw_jwt_consumer(struct sl_client *c, struct sl_view tok,
                    const struct sl_conf_consumer **cs, const char **why)
{
    const struct sl_conf_gateway *gw = &c->conf->reverse.gw;
    struct acl_jwt_result r;
    struct acl_jwt_opts o = {
        .algs = gw->jwt_algs, .issuer = gw->jwt_issuer, .audience = gw->jwt_audience,
        .skew_s = gw->jwt_skew_s, .require = (const char *const *)gw->jwt_require,
        .n_require = gw->n_jwt_require, .consumer_claim = gw->jwt_consumer_claim,
    };
    int64_t now = (int64_t)time(NULL);

    *cs = NULL;
    if (gw->jwt_keys == NULL) {
        *why = "no key for the token";
        return -1;
    }
    if (gw->jwt_cache == NULL || !acl_jwt_cache_get(gw->jwt_cache, tok.base, tok.len, now, &r)) {
        if (acl_jwt_verify(gw->jwt_keys, &o, tok.base, tok.len, now, &r) < 0) {
            /* r.why may point into r: give the caller a copy of our own */
            static char whycopy[sizeof(r.whybuf)];
            snprintf(whycopy, sizeof(whycopy), "%s", r.why);
            *why = whycopy;
            return -1;
        }
        if (gw->jwt_cache != NULL)
            acl_jwt_cache_put(gw->jwt_cache, tok.base, tok.len, now, &r);
    }
    if ((*cs = sl_gw_by_subject(gw->index, r.subject, strlen(r.subject))) == NULL) {
        *why = "unknown consumer";
        return -1;
    }
    return 0;
}
