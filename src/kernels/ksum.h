/*
 * Sums of a row for the scalar row kernels: the terms of each run of SOFTCE__KSUM_RUN
 * consecutive classes go into a plain double, and those partial sums into a compensated
 * (Neumaier) total. The error of a sum of n non-negative terms is then below
 * (SOFTCE__KSUM_RUN + 1) 2^-53 relative for any n (2.9e-14), where one running sum has up to
 * (n - 1) 2^-53 (2.9e-12 in the loss of a constant f64 row of 100,000 classes); the
 * compensation costs one step per run, not per term. The order of the additions is fixed by the
 * class index, so results do not depend on the thread count. Infinite and NaN partial sums: the
 * running total alone is kept (inf + finite = inf, NaN propagates) and the compensation, then
 * meaningless (inf - inf), is dropped.
 */
#ifndef SOFTCE_KERNELS_KSUM_H
#define SOFTCE_KERNELS_KSUM_H

#include <math.h>
#include <stdint.h>

#define SOFTCE__KSUM_RUN 256

typedef struct softce__ksum {
    double s, c; /* the running total and the rounding errors it has lost */
} softce__ksum;

static inline void softce__ksum_add(softce__ksum *k, double v) {
    const double t = k->s + v;
    k->c += fabs(k->s) >= fabs(v) ? (k->s - t) + v : (v - t) + k->s;
    k->s = t;
}

static inline double softce__ksum_get(const softce__ksum *k) {
    return isfinite(k->s) ? k->s + k->c : k->s;
}

/* The end of the run that starts at i0 in a row (or block) that ends at n. */
static inline int64_t softce__ksum_run_end(int64_t i0, int64_t n) {
    return n - i0 < SOFTCE__KSUM_RUN ? n : i0 + SOFTCE__KSUM_RUN;
}

#endif
