/*
 * log for double in portable, branch-free C that compilers auto-vectorise, for the sums of
 * exponentials (s >= 1 in practice; normal positive s is exact to ~2 ulp; 0 -> -inf, NaN -> NaN,
 * +inf -> +inf; subnormal s is not supported).
 * s = 2^k f with f in [sqrt(1/2), sqrt(2)); log f = 2 atanh(z), z = (f - 1) / (f + 1),
 * |z| <= 0.1716, odd series to z^21 (truncation < 1e-18 relative). Error about 1 ulp.
 */
#ifndef SOFTCE_LOG_PORTABLE_H
#define SOFTCE_LOG_PORTABLE_H

#include <math.h>
#include <stdint.h>
#include <string.h>

static inline double softce__log_portable(double s) {
    uint64_t u;
    memcpy(&u, &s, sizeof u);
    /* shift the mantissa range to [sqrt(1/2), sqrt(2)) by biasing with 0x3fe6a09e667f3bcd */
    uint64_t v = u - 0x3fe6a09e667f3bcdull;
    /* the exponent, signed, from the high word with 32-bit operations only (AVX2 has no
       64-bit arithmetic shift or int64 -> double conversion; this way the loop vectorises) */
    int32_t k = (int32_t)(uint32_t)(v >> 32) >> 20;
    uint64_t fu = (v & 0x000fffffffffffffull) + 0x3fe6a09e667f3bcdull;
    double f;
    memcpy(&f, &fu, sizeof f);
    double z = (f - 1.0) / (f + 1.0), z2 = z * z;
    double q = 1.0 / 21;
    q = q * z2 + 1.0 / 19;
    q = q * z2 + 1.0 / 17;
    q = q * z2 + 1.0 / 15;
    q = q * z2 + 1.0 / 13;
    q = q * z2 + 1.0 / 11;
    q = q * z2 + 1.0 / 9;
    q = q * z2 + 1.0 / 7;
    q = q * z2 + 1.0 / 5;
    q = q * z2 + 1.0 / 3;
    double lf = 2.0 * z + 2.0 * z * z2 * q;
    double r = (double)k * 6.93147180369123816490e-01 + ((double)k * 1.90821492927058770002e-10 + lf);
    r = s == 0.0 ? -INFINITY : r;
    r = s == INFINITY ? s : r;
    return s != s ? s : r;
}

#endif
