/*
 * conf_workers.c - the keys of the worker processes: how many, and how
 * they share the listening sockets (master.c).
 */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include "squidlike/conf_int.h"
#include "squidlike/shared.h"

unsigned cf_workers_auto(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    return n < 1 ? 1 : n > SL_WORKERS_MAX ? SL_WORKERS_MAX : (unsigned)n;
}

/* workers = N (1 .. SL_WORKERS_MAX) or "auto" (the default): one per
 * online CPU. */
int cf_k_workers(struct ctx *x, const config_setting_t *s)
{
    long long v;

    if (!cf_is_int(s)) {
        const char *str = config_setting_get_string(s);

        if (str == NULL || strcmp(str, "auto") != 0)
            return cf_fail(x, s, "bad 'workers' %s (expected a number from 1 to %d, "
                           "or \"auto\")", cf_describe(x, s), SL_WORKERS_MAX);
        x->c->workers = cf_workers_auto();
        return 0;
    }
    v = config_setting_get_int64(s);
    if (v < 1 || v > SL_WORKERS_MAX)
        return cf_fail(x, s, "bad 'workers' %s (expected a number from 1 to %d, "
                       "or \"auto\")", cf_describe(x, s), SL_WORKERS_MAX);
    x->c->workers = (unsigned)v;
    return 0;
}

int cf_k_worker_sched_batch(struct ctx *x, const config_setting_t *s)
{
    if (config_setting_type(s) != CONFIG_TYPE_BOOL)
        return cf_fail(x, s, "bad 'worker_sched_batch' %s (expected true or false)",
                       cf_describe(x, s));
    x->c->worker_sched_batch = config_setting_get_bool(s);
    return 0;
}

int cf_k_worker_sockets(struct ctx *x, const config_setting_t *s)
{
    const char *v = config_setting_get_string(s);

    if (v != NULL && strcmp(v, "reuseport") == 0)
        x->c->worker_sockets = SL_WSOCK_REUSEPORT;
    else if (v != NULL && strcmp(v, "shared") == 0)
        x->c->worker_sockets = SL_WSOCK_SHARED;
    else
        return cf_fail(x, s, "bad 'worker_sockets' %s (expected \"reuseport\" or "
                       "\"shared\")", cf_describe(x, s));
    return 0;
}
