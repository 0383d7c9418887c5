/*
 * Vectorised tanh for AVX2+FMA (include only from files compiled with -mavx2 -mfma), for
 * the softcap transform. With a = |y|:
 *   a < 0.75:  tanh a = a + a^3 P(a^2), P a Chebyshev fit of (tanh a - a) / a^3 made for this
 *              library (degree 5 in a^2 for f32, 12 for f64): no cancellation near 0;
 *   a >= 0.75: tanh a = 1 - 2 / (exp(2a) + 1) with the vector exp of exp_avx2.h (1 / d by
 *              a division); a is first clamped to 9.5 (f32) / 19.5 (f64), where tanh already
 *              rounds to 1, so exp never overflows and +-inf give +-1; this branch is skipped
 *              when no lane needs it;
 *   a below 2^-12 (f32) / 2^-27 (f64): tanh a = a (it rounds to a; no denormal arithmetic);
 * and the sign of y copied back (tanh(-0) = -0). NaN -> NaN. Measured by
 * tests/kernels/test_kernel_transform (every f32 with --exhaustive): f32 <= 1.04 ulp, f64 <= 1.0
 * ulp on samples; see docs/numerics.md.
 */
#ifndef SOFTCE_TANH_AVX2_H
#define SOFTCE_TANH_AVX2_H

#include <immintrin.h>

#include "kernels/exp_avx2.h"

static inline __m256 softce__tanh_f32x8(__m256 y) {
    const __m256 sign = _mm256_set1_ps(-0.0f), one = _mm256_set1_ps(1.0f);
    const __m256 a = _mm256_andnot_ps(sign, y);
    /* near 0: a + a^3 P(a^2) on a clamped to >= 2^-12 */
    const __m256 s = _mm256_max_ps(a, _mm256_set1_ps(0x1p-12f));
    const __m256 u = _mm256_mul_ps(s, s);
    __m256 p = _mm256_set1_ps(0.00190950243f);
    p = _mm256_fmadd_ps(p, u, _mm256_set1_ps(-0.00793380756f));
    p = _mm256_fmadd_ps(p, u, _mm256_set1_ps(0.021615319f));
    p = _mm256_fmadd_ps(p, u, _mm256_set1_ps(-0.0539358519f));
    p = _mm256_fmadd_ps(p, u, _mm256_set1_ps(0.133331791f));
    p = _mm256_fmadd_ps(p, u, _mm256_set1_ps(-0.333333313f));
    __m256 r = _mm256_fmadd_ps(_mm256_mul_ps(s, u), p, s);
    const __m256 far = _mm256_cmp_ps(a, _mm256_set1_ps(0.75f), _CMP_NLT_UQ); /* or NaN */
    if (!_mm256_testz_ps(far, far)) { /* 1 - 2 / (e^2a + 1); min(c, a) keeps a NaN a */
        const __m256 c = _mm256_min_ps(_mm256_set1_ps(9.5f), a);
        const __m256 d = _mm256_add_ps(softce__exp_f32x8(_mm256_add_ps(c, c)), one);
        r = _mm256_blendv_ps(r, _mm256_sub_ps(one, _mm256_div_ps(_mm256_set1_ps(2.0f), d)), far);
    }
    r = _mm256_blendv_ps(r, a, _mm256_cmp_ps(a, _mm256_set1_ps(0x1p-12f), _CMP_LT_OQ));
    return _mm256_or_ps(r, _mm256_and_ps(sign, y));
}

static inline __m256d softce__tanh_f64x4(__m256d y) {
    const __m256d sign = _mm256_set1_pd(-0.0), one = _mm256_set1_pd(1.0);
    const __m256d a = _mm256_andnot_pd(sign, y);
    const __m256d s = _mm256_max_pd(a, _mm256_set1_pd(0x1p-27));
    const __m256d u = _mm256_mul_pd(s, s);
    __m256d p = _mm256_set1_pd(-1.6408599646831444e-06);
    p = _mm256_fmadd_pd(p, u, _mm256_set1_pd(1.0048053928129499e-05));
    p = _mm256_fmadd_pd(p, u, _mm256_set1_pd(-3.449472469998217e-05));
    p = _mm256_fmadd_pd(p, u, _mm256_set1_pd(9.42476297649358e-05));
    p = _mm256_fmadd_pd(p, u, _mm256_set1_pd(-0.00023809406936979282));
    p = _mm256_fmadd_pd(p, u, _mm256_set1_pd(0.0005897469986953327));
    p = _mm256_fmadd_pd(p, u, _mm256_set1_pd(-0.0014557818253310693));
    p = _mm256_fmadd_pd(p, u, _mm256_set1_pd(0.0035921213885060418));
    p = _mm256_fmadd_pd(p, u, _mm256_set1_pd(-0.008863234987439102));
    p = _mm256_fmadd_pd(p, u, _mm256_set1_pd(0.021869488509711037));
    p = _mm256_fmadd_pd(p, u, _mm256_set1_pd(-0.05396825396758208));
    p = _mm256_fmadd_pd(p, u, _mm256_set1_pd(0.13333333333332661));
    p = _mm256_fmadd_pd(p, u, _mm256_set1_pd(-0.3333333333333333));
    const __m256d small = _mm256_fmadd_pd(_mm256_mul_pd(s, u), p, s);
    __m256d r = small;
    const __m256d far = _mm256_cmp_pd(a, _mm256_set1_pd(0.75), _CMP_NLT_UQ);
    if (!_mm256_testz_pd(far, far)) {
        const __m256d c = _mm256_min_pd(_mm256_set1_pd(19.5), a);
        const __m256d d = _mm256_add_pd(softce__exp_f64x4(_mm256_add_pd(c, c)), one);
        r = _mm256_blendv_pd(r, _mm256_sub_pd(one, _mm256_div_pd(_mm256_set1_pd(2.0), d)), far);
    }
    r = _mm256_blendv_pd(r, a, _mm256_cmp_pd(a, _mm256_set1_pd(0x1p-27), _CMP_LT_OQ));
    return _mm256_or_pd(r, _mm256_and_pd(sign, y));
}

#endif
