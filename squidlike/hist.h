/*
 * hist.h - a latency histogram with fixed bounds (sl_hist_bound_us, in
 * microseconds, 25 us to 10 s in 1-2.5-5 steps): what /metrics exposes
 * as a Prometheus histogram and what the status page reads medians and
 * tails from. Counts are per bucket, not cumulative; the last bucket is
 * +Inf. Adding is a short scan and two increments; two copies of one
 * histogram taken at different times subtract into the histogram of the
 * time between.
 *
 * Pure; tested in t/unit/check_metrics.c.
 */
#ifndef SL_HIST_H
#define SL_HIST_H

#include <stdint.h>

#define SL_HIST_N 18
struct sl_hist {
    unsigned long long b[SL_HIST_N + 1];
    unsigned long long count, sum_us;
};

extern const uint32_t sl_hist_bound_us[SL_HIST_N];
/* The bounds in seconds as /metrics spells them ("0.000025" ... "10"). */
extern const char *const sl_hist_le[SL_HIST_N];

void sl_hist_add(struct sl_hist *h, int64_t us);
/* d = a - b, bucket by bucket (a is the later of two cumulative copies). */
void sl_hist_sub(struct sl_hist *d, const struct sl_hist *a, const struct sl_hist *b);
/*
 * The q-quantile (0 < q < 1) in microseconds, by linear interpolation
 * inside the bucket it falls in (as Prometheus' histogram_quantile does;
 * the first bucket starts at 0); in the +Inf bucket, the last bound.
 * -1 when h is empty.
 */
double sl_hist_quantile(const struct sl_hist *h, double q);

#endif
