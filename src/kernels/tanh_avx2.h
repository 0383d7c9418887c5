/*
 * Vectorised tanh for AVX2+FMA (include only from files compiled with -mavx2 -mfma), for
 * the softcap transform. With a = |y|:
 *   f32, a < 1: tanh y = y + y u P(u), u = y^2, P of degree 6, as tanh_avx512.h (and the
 *              softcap form softce__softcap_f32x8 taking the leading term as scale x);
 *   f64, a < 0.75: P of degree 12 on a (a Chebyshev fit); no cancellation near 0;
 *   above:     tanh a = 1 - 2 / (exp(2a) + 1) with the vector exp of exp_avx2.h (1 / d by
 *              a division); a is first clamped to 9.5 (f32) / 19.5 (f64), where tanh already
 *              rounds to 1, so exp never overflows and +-inf give +-1; this branch is skipped
 *              when no lane needs it;
 *   a below 2^-12 (f32) / 2^-27 (f64): tanh a = a (it rounds to a; no denormal arithmetic);
 * and the sign of y copied back (tanh(-0) = -0). NaN -> NaN. Measured by
 * tests/kernels/test_kernel_transform (every f32 with --exhaustive): see docs/numerics.md.
 */
#ifndef SOFTCE_TANH_AVX2_H
#define SOFTCE_TANH_AVX2_H

#include <immintrin.h>

#include "kernels/exp_avx2.h"
#include "kernels/tanh_poly.h"

/* The softcap cap tanh(k x) in f32 as softce__softcap_f32x16 of tanh_avx512.h (the leading term
   scale x, 1 / d by a division); lanes with |k x| <= 2^-12 set *tiny for the caller, unless
   no_tiny (as there). */
static inline __attribute__((always_inline)) __m256
softce__softcap_f32x8(__m256 x, const __m256 q[7], __m256 vfar, __m256 vtiny, __m256 khi,
                      __m256 klo, __m256 chi, __m256 clo, __m256 shi, __m256 slo, int folded,
                      int split, int unit, int no_tiny, int *tiny) {
    const __m256 sx = unit ? x : _mm256_fmadd_ps(shi, x, _mm256_mul_ps(slo, x));
    const __m256 y = folded ? x : _mm256_mul_ps(khi, x);
    const __m256 u = _mm256_mul_ps(y, y);
    __m256 p = _mm256_fmadd_ps(q[6], u, q[5]);
    p = _mm256_fmadd_ps(p, u, q[4]);
    p = _mm256_fmadd_ps(p, u, q[3]);
    p = _mm256_fmadd_ps(p, u, q[2]);
    p = _mm256_fmadd_ps(p, u, q[1]);
    p = _mm256_fmadd_ps(p, u, q[0]);
    __m256 z = _mm256_fmadd_ps(_mm256_mul_ps(sx, u), p, sx);
    /* u >= 1 (|k x| >= 1) or NaN: the exp branch; u <= 2^-24: |k x| <= 2^-12 */
    const __m256 far = _mm256_cmp_ps(u, vfar, _CMP_NLT_UQ);
    const __m256 low = no_tiny ? _mm256_setzero_ps() : _mm256_cmp_ps(u, vtiny, _CMP_LE_OQ);
    const __m256 any = no_tiny ? far : _mm256_or_ps(far, low);
    *tiny = 0;
    if (!_mm256_testz_ps(any, any)) {
        *tiny = no_tiny ? 0 : !_mm256_testz_ps(low, low);
        if (no_tiny || !_mm256_testz_ps(far, far)) { /* min(9.5, NaN) is NaN */
            const __m256 sign = _mm256_set1_ps(-0.0f), one = _mm256_set1_ps(1.0f);
            const __m256 ya =
                _mm256_andnot_ps(sign, (split ? _mm256_fmadd_ps(khi, x, _mm256_mul_ps(klo, x))
                                              : _mm256_mul_ps(khi, x)));
            const __m256 c = _mm256_min_ps(_mm256_set1_ps(9.5f), ya);
            const __m256 d = _mm256_add_ps(softce__exp_f32x8(_mm256_add_ps(c, c)), one);
            __m256 t = _mm256_sub_ps(one, _mm256_div_ps(_mm256_set1_ps(2.0f), d));
            t = _mm256_fmadd_ps(chi, t, _mm256_mul_ps(clo, t));
            z = _mm256_blendv_ps(z, _mm256_or_ps(t, _mm256_and_ps(sign, x)), far);
        }
    }
    return z;
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
