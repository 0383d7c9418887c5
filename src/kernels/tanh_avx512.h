/*
 * Vectorised tanh for AVX-512 (include only from files compiled with the AVX-512 flags), for
 * the softcap transform. With a = |y|:
 *   a < 0.75:  tanh a = a + a^3 P(a^2), P a Chebyshev fit of (tanh a - a) / a^3 made for this
 *              library (degree 5 in a^2 for f32, 12 for f64): no cancellation near 0;
 *   a >= 0.75: tanh a = 1 - 2 / (exp(2a) + 1) with the vector exp of exp_avx512.h (1 / d by
 *              rcp14 and one Newton step for f32, a division for f64); a is first clamped to 9.5
 * (f32) / 19.5 (f64), where tanh already rounds to 1, so exp never overflows and +-inf give +-1;
 * this branch is skipped when no lane needs it; a below 2^-12 (f32) / 2^-27 (f64): tanh a = a (it
 * rounds to a; no denormal arithmetic); and the sign of y copied back (tanh(-0) = -0). NaN -> NaN.
 * Measured by tests/kernels/test_kernel_transform (every f32 with --exhaustive): f32 <= 1.04 ulp,
 * f64 <= 1.0 ulp on samples; see docs/numerics.md.
 */
#ifndef SOFTCE_TANH_AVX512_H
#define SOFTCE_TANH_AVX512_H

#include <immintrin.h>

#include "kernels/exp_avx512.h"

static inline __m512 softce__tanh_f32x16(__m512 y) {
    const __m512 sign = _mm512_set1_ps(-0.0f), one = _mm512_set1_ps(1.0f);
    const __m512 a = _mm512_andnot_ps(sign, y);
    /* near 0: a + a^3 P(a^2) on a clamped to >= 2^-12 */
    const __m512 s = _mm512_max_ps(a, _mm512_set1_ps(0x1p-12f));
    const __m512 u = _mm512_mul_ps(s, s);
    __m512 p = _mm512_set1_ps(0.00190950243f);
    p = _mm512_fmadd_ps(p, u, _mm512_set1_ps(-0.00793380756f));
    p = _mm512_fmadd_ps(p, u, _mm512_set1_ps(0.021615319f));
    p = _mm512_fmadd_ps(p, u, _mm512_set1_ps(-0.0539358519f));
    p = _mm512_fmadd_ps(p, u, _mm512_set1_ps(0.133331791f));
    p = _mm512_fmadd_ps(p, u, _mm512_set1_ps(-0.333333313f));
    __m512 r = _mm512_fmadd_ps(_mm512_mul_ps(s, u), p, s);
    const __mmask16 far = _mm512_cmp_ps_mask(a, _mm512_set1_ps(0.75f), _CMP_NLT_UQ); /* or NaN */
    if (far) { /* 1 - 2 / (e^2a + 1); min(c, a) keeps a NaN a */
        const __m512 c = _mm512_min_ps(_mm512_set1_ps(9.5f), a);
        const __m512 d = _mm512_add_ps(softce__exp_f32x16(_mm512_add_ps(c, c)), one);
        /* 1 / d by rcp14 and one Newton step (relative error ~2^-28 before rounding): a
           division would cost more than the rest of the function */
        __m512 q = _mm512_rcp14_ps(d);
        q = _mm512_fmadd_ps(q, _mm512_fnmadd_ps(d, q, one), q);
        r = _mm512_mask_mov_ps(r, far, _mm512_fnmadd_ps(_mm512_set1_ps(2.0f), q, one));
    }
    r = _mm512_mask_mov_ps(r, _mm512_cmp_ps_mask(a, _mm512_set1_ps(0x1p-12f), _CMP_LT_OQ), a);
    return _mm512_or_ps(r, _mm512_and_ps(sign, y));
}

static inline __m512d softce__tanh_f64x8(__m512d y) {
    const __m512d sign = _mm512_set1_pd(-0.0), one = _mm512_set1_pd(1.0);
    const __m512d a = _mm512_andnot_pd(sign, y);
    const __m512d s = _mm512_max_pd(a, _mm512_set1_pd(0x1p-27));
    const __m512d u = _mm512_mul_pd(s, s);
    __m512d p = _mm512_set1_pd(-1.6408599646831444e-06);
    p = _mm512_fmadd_pd(p, u, _mm512_set1_pd(1.0048053928129499e-05));
    p = _mm512_fmadd_pd(p, u, _mm512_set1_pd(-3.449472469998217e-05));
    p = _mm512_fmadd_pd(p, u, _mm512_set1_pd(9.42476297649358e-05));
    p = _mm512_fmadd_pd(p, u, _mm512_set1_pd(-0.00023809406936979282));
    p = _mm512_fmadd_pd(p, u, _mm512_set1_pd(0.0005897469986953327));
    p = _mm512_fmadd_pd(p, u, _mm512_set1_pd(-0.0014557818253310693));
    p = _mm512_fmadd_pd(p, u, _mm512_set1_pd(0.0035921213885060418));
    p = _mm512_fmadd_pd(p, u, _mm512_set1_pd(-0.008863234987439102));
    p = _mm512_fmadd_pd(p, u, _mm512_set1_pd(0.021869488509711037));
    p = _mm512_fmadd_pd(p, u, _mm512_set1_pd(-0.05396825396758208));
    p = _mm512_fmadd_pd(p, u, _mm512_set1_pd(0.13333333333332661));
    p = _mm512_fmadd_pd(p, u, _mm512_set1_pd(-0.3333333333333333));
    const __m512d small = _mm512_fmadd_pd(_mm512_mul_pd(s, u), p, s);
    __m512d r = small;
    const __mmask8 far = _mm512_cmp_pd_mask(a, _mm512_set1_pd(0.75), _CMP_NLT_UQ);
    if (far) {
        const __m512d c = _mm512_min_pd(_mm512_set1_pd(19.5), a);
        const __m512d d = _mm512_add_pd(softce__exp_f64x8(_mm512_add_pd(c, c)), one);
        r = _mm512_mask_sub_pd(r, far, one, _mm512_div_pd(_mm512_set1_pd(2.0), d));
    }
    r = _mm512_mask_mov_pd(r, _mm512_cmp_pd_mask(a, _mm512_set1_pd(0x1p-27), _CMP_LT_OQ), a);
    return _mm512_or_pd(r, _mm512_and_pd(sign, y));
}

#endif
