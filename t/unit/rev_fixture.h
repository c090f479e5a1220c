/*
 * rev_fixture.h - a reverse-mode configuration built by hand, and its live
 * state driven through backend.h to a known point, for the tests of the
 * pages' reverse rows (check_metrics.c: /metrics; check_status.c:
 * status.json and the HTML page). Static functions: each test binary
 * includes it once.
 *
 * The state after rev_fixture_init (loop time REV_NOW):
 *   pool 0 "app", round-robin, checks on, eject_after 1:
 *     backend 0 "10.0.0.1:8080"  down: its last check failed at 9000
 *                                ("status 503 <b>&\"x\""), 1 check failure
 *                                of 3 checks; 1 request, ok in 800 us
 *     backend 1 "10.0.0.2:8080"  ejected until 11000 (a failure at 10000),
 *                                healthy (its 3 checks passed, the last at
 *                                9500); 2 requests: one ok in 3000 us, one
 *                                failed
 *   pool 1 "api", least-conn, no checks:
 *     backend 0 "[::1]:9000"     up, 1 request in flight
 *   vhost 0 "www.example.com": route 0 prefix "/api/" -> api (1 request),
 *     route 1 regex ^/q/"<x>&\\ (a backslash) without case -> app (0),
 *     route 2 prefix "/" -> app (3)
 *   vhost 1 "default" (the default vhost): route 0 prefix "/" -> app (2)
 */
#ifndef REV_FIXTURE_H
#define REV_FIXTURE_H

#include <check.h>
#include <stdio.h>
#include <string.h>

#include "acl/route.h"
#include "squidlike/backend.h"
#include "squidlike/conf.h"

#define REV_NOW 10500           /* loop ms the pages are written at */
#define REV_REGEX "^/q/\"<x>&\\\\"
#define REV_WHY "status 503 <b>&\"x\""

struct rev_fixture {
    struct sl_conf_reverse rc;
    struct sl_conf_rpool pools[2];
    struct sl_conf_rvhost vhosts[2];
    struct sl_conf_rroute routes[4];
};

static void rev_backend(struct sl_conf_rpool *p, const char *name)
{
    snprintf(p->backend[p->n_backends].name, sizeof(p->backend[0].name), "%s", name);
    p->backend[p->n_backends++].weight = 1;
}

static void rev_route(struct rev_fixture *f, size_t at, int v, enum acl_route_kind kind,
                      const char *pattern, int icase, int pool)
{
    char err[256];
    int r = acl_routes_add_route(f->rc.routes, v, kind, pattern, icase, NULL,
                                 err, sizeof(err));

    ck_assert_msg(r >= 0, "route %s: %s", pattern, err);
    f->routes[at].pool = pool;
}

/* The configuration only, with no live state (rc.rt NULL). */
static void rev_fixture_conf(struct rev_fixture *f)
{
    static const char *const www[] = { "www.example.com" };
    char err[256];

    memset(f, 0, sizeof(*f));
    snprintf(f->pools[0].name, sizeof(f->pools[0].name), "app");
    f->pools[0].algo = SL_PICK_WRR;
    snprintf(f->pools[0].health_path, sizeof(f->pools[0].health_path), "/h");
    f->pools[0].health_rise = f->pools[0].health_fall = 1;
    f->pools[0].eject_after = 1;
    f->pools[0].eject_ms = 1000;
    f->pools[0].eject_max_ms = 60000;
    rev_backend(&f->pools[0], "10.0.0.1:8080");
    rev_backend(&f->pools[0], "10.0.0.2:8080");
    snprintf(f->pools[1].name, sizeof(f->pools[1].name), "api");
    f->pools[1].algo = SL_PICK_LEASTCONN;
    rev_backend(&f->pools[1], "[::1]:9000");
    f->rc.pools = f->pools;
    f->rc.n_pools = 2;

    f->rc.routes = acl_routes_new();
    ck_assert_ptr_nonnull(f->rc.routes);
    ck_assert_int_eq(acl_routes_add_vhost(f->rc.routes, www, 1, 0, err, sizeof(err)), 0);
    ck_assert_int_eq(acl_routes_add_vhost(f->rc.routes, NULL, 0, 1, err, sizeof(err)), 1);
    rev_route(f, 0, 0, ACL_ROUTE_PREFIX, "/api/", 0, 1);
    rev_route(f, 1, 0, ACL_ROUTE_REGEX, REV_REGEX, 1, 0);
    rev_route(f, 2, 0, ACL_ROUTE_PREFIX, "/", 0, 0);
    rev_route(f, 3, 1, ACL_ROUTE_PREFIX, "/", 0, 0);
    snprintf(f->vhosts[0].name, sizeof(f->vhosts[0].name), "www.example.com");
    f->vhosts[0].routes = &f->routes[0];
    f->vhosts[0].n_routes = 3;
    snprintf(f->vhosts[1].name, sizeof(f->vhosts[1].name), "default");
    f->vhosts[1].routes = &f->routes[3];
    f->vhosts[1].n_routes = 1;
    f->rc.vhosts = f->vhosts;
    f->rc.n_vhosts = 2;
}

static void rev_fixture_init(struct rev_fixture *f)
{
    struct sl_backends *b;
    int i;

    rev_fixture_conf(f);
    b = f->rc.rt = sl_backends_new(&f->rc);
    ck_assert_ptr_nonnull(b);
    /* requests: round-robin over 0 and 1 */
    ck_assert_int_eq(sl_backends_pick(b, 0, NULL, 0, 0, 3000, -1), 0);
    sl_backends_result(b, 0, 0, 1, 3001, 800);
    sl_backends_done(b, 0, 0);
    ck_assert_int_eq(sl_backends_pick(b, 0, NULL, 0, 0, 3000, -1), 1);
    sl_backends_result(b, 0, 1, 1, 3003, 3000);
    sl_backends_done(b, 0, 1);
    /* checks: both pass twice, then 0 fails (down), 1 passes */
    for (i = 0; i < 2; i++) {
        sl_backends_health(b, 0, 0, 1, "", 4000 + i * 1000);
        sl_backends_health(b, 0, 1, 1, "", 4000 + i * 1000);
    }
    ck_assert_int_eq(sl_backends_health(b, 0, 0, 0, REV_WHY, 9000), 1);
    sl_backends_health(b, 0, 1, 1, "", 9500);
    /* then 1 is the only one up; its request fails and ejects it */
    ck_assert_int_eq(sl_backends_pick(b, 0, NULL, 0, 0, 10000, -1), 1);
    ck_assert_int_eq(sl_backends_result(b, 0, 1, 0, 10000, -1), 1);     /* ejected */
    sl_backends_done(b, 0, 1);
    ck_assert_int_eq(sl_backends_pick(b, 1, NULL, 0, 0, 10000, -1), 0);  /* in flight */
    sl_backends_route_hit(b, 0, 0);
    for (i = 0; i < 3; i++)
        sl_backends_route_hit(b, 0, 2);
    for (i = 0; i < 2; i++)
        sl_backends_route_hit(b, 1, 0);
}

static void rev_fixture_free(struct rev_fixture *f)
{
    sl_backends_free(f->rc.rt);
    acl_routes_free(f->rc.routes);
    f->rc.rt = NULL;
    f->rc.routes = NULL;
}

/*
 * The longest names and values a configuration allows, every byte of them
 * one the pages escape, in as many rows as a pool and a vhost may have:
 * 64 backends whose pool's and own names are at their size and whose
 * last checks failed with an error at its size, 64 routes of a vhost
 * named with 255 bytes, each a pattern of 4096. What the pages write for
 * it must fit the sizes they announce (the room a page writes once is
 * small beside this many rows).
 */
#define REV_WORST_ROUTES 64

struct rev_worst {
    struct rev_fixture f;
    struct sl_conf_rroute routes[REV_WORST_ROUTES];
};

static void rev_fixture_worst(struct rev_worst *x)
{
    static const char *const names[] = { "a.test" };
    struct rev_fixture *f = &x->f;
    char err[256], why[96], pattern[4097];
    struct sl_conf_rpool *p = &f->pools[0];
    struct sl_backends *b;
    size_t i;

    memset(x, 0, sizeof(*x));
    memset(p->name, '"', sizeof(p->name) - 1);
    for (i = 0; i < SL_CONF_MAX_RBACKENDS; i++) {
        memset(p->backend[i].name, '\\', sizeof(p->backend[i].name) - 1);
        p->backend[i].weight = 1;
    }
    p->n_backends = SL_CONF_MAX_RBACKENDS;
    snprintf(p->health_path, sizeof(p->health_path), "/h");
    p->health_fall = 1;
    f->rc.pools = f->pools;
    f->rc.n_pools = 1;
    f->rc.routes = acl_routes_new();
    ck_assert_int_eq(acl_routes_add_vhost(f->rc.routes, names, 1, 0, err, sizeof(err)), 0);
    memset(pattern, '"', sizeof(pattern) - 1);
    pattern[0] = '/';
    pattern[sizeof(pattern) - 1] = '\0';
    for (i = 0; i < REV_WORST_ROUTES; i++)
        ck_assert_int_eq(acl_routes_add_route(f->rc.routes, 0, ACL_ROUTE_REGEX, pattern,
                                              1, NULL, err, sizeof(err)), (int)i);
    memset(f->vhosts[0].name, '"', sizeof(f->vhosts[0].name) - 1);
    f->vhosts[0].routes = x->routes;
    f->vhosts[0].n_routes = REV_WORST_ROUTES;
    f->rc.vhosts = f->vhosts;
    f->rc.n_vhosts = 1;
    b = f->rc.rt = sl_backends_new(&f->rc);
    ck_assert_ptr_nonnull(b);
    memset(why, '\001', sizeof(why) - 1);
    why[sizeof(why) - 1] = '\0';
    for (i = 0; i < SL_CONF_MAX_RBACKENDS; i++) {
        sl_backends_health(b, 0, (int)i, 0, why, 5);
        sl_backends_result(b, 0, (int)i, 1, 7, 12345678901LL);
    }
    for (i = 0; i < REV_WORST_ROUTES; i++)
        sl_backends_route_hit(b, 0, (int)i);
}

/* The fixture and a page buffer for one test (Check's checked fixture). */
static struct rev_fixture fx;
static struct sl_buf page;

static void rev_setup(void)
{
    rev_fixture_init(&fx);
    ck_assert_int_eq(sl_buf_init(&page, 1 << 20), 0);
}

static void rev_teardown(void)
{
    rev_fixture_free(&fx);
    sl_buf_free(&page);
}

#endif
