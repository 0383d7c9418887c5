/*
 * Test-side helpers for the numerical-extremes tests: storing doubles in every float dtype
 * (round toward zero, subnormals kept) and reading them back, and an independent
 * double-precision reference of one row (loss, gradient, log-softmax).
 */
#ifndef SOFTCE_TESTS_XREF_H
#define SOFTCE_TESTS_XREF_H

#include <math.h>
#include <stdint.h>
#include <string.h>

static inline uint16_t xr_to_bf16(double v) {
    float f = (float)v;
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return (uint16_t)(u >> 16);
}

static inline double xr_from_bf16(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline uint16_t xr_to_f16(double v) {
    uint16_t sign = signbit(v) ? 0x8000u : 0u;
    double a = fabs(v);
    if (isnan(a))
        return 0x7e00u;
    if (a >= 65520.0)
        return sign | 0x7c00u;
    if (a < 0x1.0p-14) /* subnormal: a multiple of 2^-24 */
        return sign | (uint16_t)(a * 0x1.0p24);
    int e;
    double m = frexp(a, &e); /* a = m 2^e, m in [0.5, 1) */
    return sign | (uint16_t)((e + 14) << 10) | (uint16_t)((m * 2.0 - 1.0) * 1024.0);
}

static inline double xr_from_f16(uint16_t h) {
    double s = h & 0x8000u ? -1.0 : 1.0;
    int e = (h >> 10) & 0x1f, m = h & 0x3ff;
    if (e == 0x1f)
        return m ? NAN : s * INFINITY;
    if (e == 0)
        return s * ldexp(m, -24);
    return s * ldexp(1024 + m, e - 25);
}

/* A compensated (Neumaier) sum: the reference's sums over a row of C terms stay within a few
   ulps of the exact sum however long the row, where a plain running sum can drift by up to
   (C - 1) ulps (2.4e-12 relative on an f64 row of 131072 classes, lead session 33's fuzzing).
   Infinite or NaN totals are left as the plain sum gives them. */
typedef struct xr_sum {
    double s, c;
} xr_sum;

static inline void xr_add(xr_sum *a, double v) {
    const double t = a->s + v;
    if (isfinite(t))
        a->c += fabs(a->s) >= fabs(v) ? (a->s - t) + v : (v - t) + a->s;
    a->s = t;
}

static inline double xr_total(xr_sum a) { return isfinite(a.s) ? a.s + a.c : a.s; }

/* Reference of one row, computed as PyTorch does: with m = max x and s = sum exp(x - m),
   log_softmax = (x - m) - log(s) and softmax = exp(x - m) / s, so that log(s) is never lost
   in m + log(s) when |m| is huge. All -inf: m = -inf, everything NaN-free by convention. */
typedef struct xr_stats {
    double m, log_s;
} xr_stats;

static inline xr_stats xr_stats_of(const double *x, int64_t C) {
    xr_stats r = {-INFINITY, 0.0};
    xr_sum s = {0.0, 0.0};
    for (int64_t i = 0; i < C; i++)
        r.m = x[i] > r.m ? x[i] : r.m;
    for (int64_t i = 0; r.m != -INFINITY && i < C; i++)
        xr_add(&s, exp(x[i] - r.m));
    r.log_s = r.m == -INFINITY ? 0.0 : log(xr_total(s));
    return r;
}

static inline double xr_lse(const double *x, int64_t C) {
    xr_stats r = xr_stats_of(x, C);
    return r.m + r.log_s;
}

static inline double xr_log_softmax(double xi, xr_stats r) { return (xi - r.m) - r.log_s; }

/* Loss and gradient for a hard target t (q == NULL) or a soft target q, label smoothing eps,
   upstream gradient g. Terms with q == 0 contribute 0. */
static inline double xr_row(const double *x, int64_t C, int64_t t, const double *q, double eps,
                            double g, double *grad) {
    xr_stats r = xr_stats_of(x, C);
    xr_sum loss_sum = {0.0, 0.0}, sq_sum = {0.0, 0.0};
    for (int64_t i = 0; i < C; i++) {
        double qi = (q ? (1.0 - eps) * q[i] : (i == t ? 1.0 - eps : 0.0)) + eps / (double)C;
        if (qi != 0.0)
            xr_add(&loss_sum, -qi * xr_log_softmax(x[i], r));
        xr_add(&sq_sum, qi);
    }
    const double loss = xr_total(loss_sum), sq = xr_total(sq_sum);
    for (int64_t i = 0; i < C; i++) {
        double qi = (q ? (1.0 - eps) * q[i] : (i == t ? 1.0 - eps : 0.0)) + eps / (double)C;
        grad[i] = g * (exp(xr_log_softmax(x[i], r)) * sq - qi);
    }
    return loss;
}

#endif
