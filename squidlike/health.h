/*
 * health.h - reverse mode's active health checks: every backend of a pool
 * with a health_path gets "GET health_path" (Host: the pool's name,
 * Connection: close) every health_interval on a connection of its own;
 * the status line decides (health_status, or any 2xx/3xx), and so do a
 * refused or reset connection and health_timeout. The verdicts go to the
 * backends' live state (backend.h: health_rise / health_fall); a backend
 * going down or up is logged.
 *
 * One struct sl_health per running configuration: a reload stops the old
 * one and starts one on the new snapshot (whose backends adopted the old
 * state, so a backend that was down stays down until checks say up).
 */
#ifndef SL_HEALTH_H
#define SL_HEALTH_H

struct sl_server;
struct sl_backends;
struct sl_health;

/* Checks for rt's pools (NULL when there is nothing to check, or out of
 * memory: then logged, and backends stay as they are). */
struct sl_health *sl_health_start(struct sl_server *srv, struct sl_backends *rt);
/* Stop every check now (no callback after this); NULL: no-op. */
void sl_health_stop(struct sl_health *h);

#endif
