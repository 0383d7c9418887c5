/* Conversions between f32 and the 16-bit floats written independently in double arithmetic,
   the references of the kernel tests (test_kernel_convert, test_kernel_cols): bf16 -> f32 the
   bits shifted, f16 -> f32 exact (a NaN quieted, as F16C does), f32 -> f16/bf16 round to
   nearest even (ties to even, overflow to inf, f16 subnormals, NaN quieted with its top payload
   bits). */
#ifndef SOFTCE_KCONVERT_REF_H
#define SOFTCE_KCONVERT_REF_H

#include <math.h>
#include <stdint.h>

#include "ktest.h"

/* bf16 is the top half of an f32: the bits shifted, a NaN as it is. */
static inline uint32_t ref_bf16_widen(uint16_t h) { return (uint32_t)h << 16; }

/* f16 value by its fields (exponent 31: inf/NaN handled by the caller). */
static inline double f16_value(uint16_t h) {
    const int e = (h >> 10) & 0x1f, m = h & 0x3ff;
    const double v = e == 0 ? ldexp(m, -24) : ldexp(1024 + m, e - 25);
    return (h & 0x8000) ? -v : v;
}

static inline uint32_t ref_f16_widen(uint16_t h) {
    const uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    if (((h >> 10) & 0x1f) == 0x1f) {
        const uint32_t m = h & 0x3ffu;
        return sign | 0x7f800000u | (m << 13) | (m ? 0x00400000u : 0u);
    }
    return bits_of_f32((float)f16_value(h)); /* exact in f32 */
}

/* a >= 0 finite, rounded to a multiple of sp (a power of two) to nearest, ties to even; a / sp
   and the result are exact in double. */
static inline double round_to(double a, double sp) {
    const double q = a / sp, fl = floor(q), rest = q - fl;
    const int up = rest > 0.5 || (rest == 0.5 && fmod(fl, 2.0) == 1.0);
    return (fl + up) * sp;
}

static inline uint16_t ref_bf16_narrow(float f) {
    const uint32_t u = bits_of_f32(f);
    const uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    if (isnan(f))
        return (uint16_t)((u >> 16) | 0x40u);
    const double a = fabs((double)f);
    if (isinf(f))
        return (uint16_t)(sign | 0x7f80u);
    int e;
    frexp(a, &e); /* a = m 2^e, m in [0.5, 1) */
    e -= 1;       /* a in [2^e, 2^(e+1)) */
    if (a == 0.0 || e < -126)
        e = -126; /* zero and subnormals: spacing 2^-133 */
    const double r = round_to(a, ldexp(1.0, e - 7));
    if (r >= 0x1p128)
        return (uint16_t)(sign | 0x7f80u);
    return (uint16_t)(sign | (bits_of_f32((float)r) >> 16)); /* r has 8 significant bits */
}

static inline uint16_t ref_f16_narrow(float f) {
    const uint32_t u = bits_of_f32(f);
    const uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    if (isnan(f))
        return (uint16_t)(sign | 0x7e00u | ((u >> 13) & 0x3ffu));
    const double a = fabs((double)f);
    if (isinf(f))
        return (uint16_t)(sign | 0x7c00u);
    int e;
    frexp(a, &e);
    e -= 1;
    if (a == 0.0 || e < -14)
        e = -14; /* subnormal halves: spacing 2^-24 */
    const double r = round_to(a, ldexp(1.0, e - 10));
    if (r >= 65536.0) /* past 65504 by at least half its spacing */
        return (uint16_t)(sign | 0x7c00u);
    if (r < 0x1p-14)
        return (uint16_t)(sign | (uint16_t)ldexp(r, 24));
    int re;
    const double m = frexp(r, &re); /* r = m 2^re: exponent field re - 1 + 15 */
    return (uint16_t)(sign | (uint16_t)((re + 14) << 10) | (uint16_t)(ldexp(m, 11) - 1024.0));
}

#endif
