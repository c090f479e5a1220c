/*
 * status_apis.c - the analytics per route and per consumer for the pages
 * of one worker (status.json, the status page, /metrics): every worker's
 * table summed once per page, when the page's size is reckoned, and that
 * same sum written, so that the room announced is the room used even
 * while other workers add names (apistats.h).
 */
#include "config.h"

#include <stdlib.h>

#include "squidlike/apistats.h"
#include "squidlike/server.h"
#include "squidlike/shared.h"
#include "squidlike/status.h"

struct sl_api_page {
    struct sl_api_sum sum;
    struct sl_api_view view;
    int valid;
};

const struct sl_api_view *sl_status_apis_now(struct sl_server *srv)
{
    struct sl_api_page *p = srv->apis;
    const struct sl_conf_reverse *rc = &srv->conf->reverse;

    if (p == NULL && (p = srv->apis = calloc(1, sizeof(*p))) == NULL)
        return NULL;            /* out of memory: the page goes without */
    if (p->valid)
        sl_api_view_free(&p->view);
    p->valid = 0;
    sl_shared_api_sum(srv->shared, &p->sum);
    /* Nothing of it on a proxy that has never had a route (forward only). */
    if (rc->n_vhosts == 0 && !rc->gw.on && p->sum.n == 0 &&
        p->sum.other[SL_API_ROUTE].requests == 0)
        return NULL;
    if (sl_api_view_make(&p->view, &p->sum, rc->gw.analytics_top) < 0)
        return NULL;
    p->valid = 1;
    return &p->view;
}

const struct sl_api_view *sl_status_apis(struct sl_server *srv)
{
    if (srv->apis != NULL && srv->apis->valid)
        return &srv->apis->view;
    return sl_status_apis_now(srv);
}

void sl_status_apis_free(struct sl_server *srv)
{
    if (srv->apis == NULL)
        return;
    if (srv->apis->valid)
        sl_api_view_free(&srv->apis->view);
    free(srv->apis);
    srv->apis = NULL;
}
