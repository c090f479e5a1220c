/*
 * hist.c - fixed-bound latency histograms (see hist.h).
 */
#include "config.h"

#include <stddef.h>

#include "squidlike/hist.h"

const uint32_t sl_hist_bound_us[SL_HIST_N] = {
    25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000,
    250000, 500000, 1000000, 2500000, 5000000, 10000000
};

const char *const sl_hist_le[SL_HIST_N] = {
    "0.000025", "0.00005", "0.0001", "0.00025", "0.0005", "0.001", "0.0025",
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10"
};

void sl_hist_add(struct sl_hist *h, int64_t us)
{
    size_t i;

    if (us < 0)
        us = 0;
    for (i = 0; i < SL_HIST_N; i++)
        if ((uint64_t)us <= sl_hist_bound_us[i])
            break;
    h->b[i]++;
    h->count++;
    h->sum_us += (unsigned long long)us;
}

void sl_hist_sub(struct sl_hist *d, const struct sl_hist *a, const struct sl_hist *b)
{
    size_t i;

    for (i = 0; i <= SL_HIST_N; i++)
        d->b[i] = a->b[i] - b->b[i];
    d->count = a->count - b->count;
    d->sum_us = a->sum_us - b->sum_us;
}

double sl_hist_quantile(const struct sl_hist *h, double q)
{
    double rank, below = 0, lo = 0;
    size_t i;

    if (h->count == 0)
        return -1;
    if (q < 0)
        q = 0;
    if (q > 1)
        q = 1;
    rank = q * (double)h->count;
    for (i = 0; i < SL_HIST_N; i++) {
        double n = (double)h->b[i], hi = sl_hist_bound_us[i];

        if (n > 0 && below + n >= rank)
            return lo + (hi - lo) * ((rank - below) / n);
        below += n;
        lo = hi;
    }
    return sl_hist_bound_us[SL_HIST_N - 1];
}
