/*
 * Vectorised tanh for AVX-512 (include only from files compiled with the AVX-512 flags), for
 * the softcap transform. With a = |y|:
 *   f32, a < 1: tanh y = y + y u P(u), u = y^2, P of degree 6, a minimax fit of
 *              (tanh a - a) / a^3 for the relative error of tanh made for this library (the
 *              long polynomial of tanh_poly.h, fit error 0.10 2^-24); the softcap form
 *              cap tanh(k x) (softce__softcap_f32x16) takes the leading term as scale x; the
 *              rows whose every a < 0.75 take the degree-4 polynomial instead, without this
 *              function's tests (row_simd.inc: cap_class);
 *   f64, a < 0.75: P of degree 12 on a (a Chebyshev fit); no cancellation near 0;
 *   above:     tanh a = 1 - 2 / (exp(2a) + 1) with the vector exp of exp_avx512.h (1 / d by
 *              rcp14 and one Newton step for f32, a division for f64); a is first clamped to 9.5
 * (f32) / 19.5 (f64), where tanh already rounds to 1, so exp never overflows and +-inf give +-1;
 * this branch is skipped when no lane needs it; a below 2^-12 (f32) / 2^-27 (f64): tanh a = a
 * (it rounds to a; for f32 computed after the polynomial, whose subnormal u (a < 2^-63) is then
 * slow but harmless); and the sign of y copied back (tanh(-0) = -0).
 * NaN -> NaN. Measured by tests/kernels/test_kernel_transform (every f32 with --exhaustive): see
 * docs/numerics.md.
 */
#ifndef SOFTCE_TANH_AVX512_H
#define SOFTCE_TANH_AVX512_H

#include <immintrin.h>

#include "kernels/exp_avx512.h"
#include "kernels/tanh_poly.h"

/* The softcap cap tanh(k x) in f32, k = scale / cap = khi + klo and cap = chi + clo split toward
   zero (split: klo != 0), scale = shi + slo (unit: scale is 1). For k |x| < 1 it is
   sx + sx u Q(u), sx = scale x: the leading term is scale x itself (x when unit), so neither k nor
   cap rounds into it and the rounding of u only enters the correction term (at most 31 % of the
   result). folded: u = x^2 and q_i = L_i k^(2i+2) (tanh_poly.h), else u = (khi x)^2 and q_i = L_i;
   vfar and vtiny are the u of |k x| = 1 and 2^-12. 10 vector operations when unit and folded,
   the branch and the tiny test sharing one mask test. Above, cap (1 - 2 / (e^2a + 1)) on
   a = |k x|. Lanes with |k x| <= 2^-12 set *tiny for the caller to replace; NaN -> NaN,
   +-inf -> +-cap. no_tiny (a constant; unit and folded only): no tiny test, as the polynomial's
   tiny lanes already round to x there (row_simd.inc: softcap_poly). */
static inline __attribute__((always_inline)) __m512
softce__softcap_f32x16(__m512 x, const __m512 q[7], __m512 vfar, __m512 vtiny, __m512 khi,
                       __m512 klo, __m512 chi, __m512 clo, __m512 shi, __m512 slo, int folded,
                       int split, int unit, int no_tiny, int *tiny) {
    const __m512 sx = unit ? x : _mm512_fmadd_ps(shi, x, _mm512_mul_ps(slo, x));
    const __m512 y = folded ? x : _mm512_mul_ps(khi, x);
    const __m512 u = _mm512_mul_ps(y, y);
    __m512 p = _mm512_fmadd_ps(q[6], u, q[5]);
    p = _mm512_fmadd_ps(p, u, q[4]);
    p = _mm512_fmadd_ps(p, u, q[3]);
    p = _mm512_fmadd_ps(p, u, q[2]);
    p = _mm512_fmadd_ps(p, u, q[1]);
    p = _mm512_fmadd_ps(p, u, q[0]);
    __m512 z = _mm512_fmadd_ps(_mm512_mul_ps(sx, u), p, sx);
    /* u >= 1 (|k x| >= 1) or NaN: the exp branch; u <= 2^-24: |k x| <= 2^-12 */
    const __mmask16 far = _mm512_cmp_ps_mask(u, vfar, _CMP_NLT_UQ);
    const __mmask16 low = no_tiny ? 0 : _mm512_cmp_ps_mask(u, vtiny, _CMP_LE_OQ);
    *tiny = 0;
    if (_kortestz_mask16_u8(far, low) == 0) {
        *tiny = low != 0;
        if (far) { /* c = min(a, 9.5): tanh rounds to 1 above; min(9.5, NaN) is NaN */
            const __m512 one = _mm512_set1_ps(1.0f);
            const __m512 ya = _mm512_abs_ps(
                (split ? _mm512_fmadd_ps(khi, x, _mm512_mul_ps(klo, x)) : _mm512_mul_ps(khi, x)));
            const __m512 c = _mm512_min_ps(_mm512_set1_ps(9.5f), ya);
            /* 2c in [0, 19] or NaN: exp without clamp or flush (the same values) */
            const __m512 d = _mm512_add_ps(softce__exp_in_f32x16(_mm512_add_ps(c, c)), one);
            /* 1 / d by rcp14 and one Newton step (relative error ~2^-28 before rounding): a
               division would cost more than the rest of the function */
            __m512 rd = _mm512_rcp14_ps(d);
            rd = _mm512_fmadd_ps(rd, _mm512_fnmadd_ps(d, rd, one), rd);
            __m512 t = _mm512_fnmadd_ps(_mm512_set1_ps(2.0f), rd, one);
            t = _mm512_fmadd_ps(chi, t, _mm512_mul_ps(clo, t));
            /* t with the sign bit of x (of k x: scale > 0) */
            z = _mm512_mask_mov_ps(z, far,
                                   _mm512_castsi512_ps(_mm512_ternarylogic_epi32(
                                       _mm512_castps_si512(t), _mm512_castps_si512(x),
                                       _mm512_set1_epi32((int)0x80000000u), 0xD8)));
        }
    }
    return z;
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
