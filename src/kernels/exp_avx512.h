/*
 * Vectorised exp for AVX-512 (include only from files compiled with -mavx512f -mavx512dq).
 * exp(x) = 2^n * e^r with n = round(x / ln2) (by the 1.5*2^k shifter: one FMA and one
 * subtraction), r = x - n ln2 (Cody-Waite split of ln2),
 * e^r = 1 + r + r^2 Q(r) on |r| <= ln2/2 (minimax Q fitted for this library), 2^n applied by
 * vscalef. Results below e^-87.3 (f32) / e^-708.3 (f64) are flushed to exactly 0 so no
 * denormal is ever produced (they cost 10-25x in microcode assists); -inf -> 0, NaN -> NaN,
 * overflow -> +inf. The _le variants skip the clamp for arguments known to be small (x - max).
 * Accuracy (measured by tests/kernels): see docs/numerics.md.
 */
#ifndef SOFTCE_EXP_AVX512_H
#define SOFTCE_EXP_AVX512_H

#include <immintrin.h>

/* 2^n e^r as (e^r, n) for x <= 89 or NaN: the caller applies 2^n by vscalef. */
static inline __attribute__((always_inline)) __m512 softce__exp_parts_f32x16(__m512 x,
                                                                             __m512 *n_out) {
    const __m512 shifter = _mm512_set1_ps(12582912.0f); /* 1.5 * 2^23: rounds to an integer */
    __m512 n = _mm512_sub_ps(_mm512_fmadd_ps(x, _mm512_set1_ps(1.44269502f), shifter), shifter);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145752f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.42860677e-6f), r);
    __m512 p = _mm512_set1_ps(0.00138146023f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.00836871564f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.041668389f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.166665211f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.49999994f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    *n_out = n;
    return _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
}

/* exp(x) for x <= 89 or NaN (the fused kernels' x - max <= 0): no clamp needed. */
static inline __m512 softce__exp_le89_f32x16(__m512 x) {
    __mmask16 keep = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.3f), _CMP_NLT_UQ);
    __m512 n, p = softce__exp_parts_f32x16(x, &n);
    return _mm512_maskz_scalef_ps(keep, p, n);
}

/* exp(x) for -87.3 <= x <= 89 or NaN, without the flush (one compare fewer): below the range it
   would return subnormals (slow, never 0 where they are representable). */
static inline __m512 softce__exp_in_f32x16(__m512 x) {
    __m512 n, p = softce__exp_parts_f32x16(x, &n);
    return _mm512_scalef_ps(p, n);
}

static inline __m512 softce__exp_f32x16(__m512 x) {
    /* min(c, x) returns x when x is NaN, so NaN flows through to the result. */
    return softce__exp_le89_f32x16(_mm512_min_ps(_mm512_set1_ps(89.0f), x));
}

/* exp(x) for x <= 710 or NaN. */
static inline __m512d softce__exp_le710_f64x8(__m512d x) {
    __mmask8 keep = _mm512_cmp_pd_mask(x, _mm512_set1_pd(-708.3), _CMP_NLT_UQ);
    const __m512d shifter = _mm512_set1_pd(6755399441055744.0); /* 1.5 * 2^52 */
    __m512d n =
        _mm512_sub_pd(_mm512_fmadd_pd(x, _mm512_set1_pd(1.4426950408889634), shifter), shifter);
    __m512d r = _mm512_fnmadd_pd(n, _mm512_set1_pd(0.6931471803691238), x);
    r = _mm512_fnmadd_pd(n, _mm512_set1_pd(1.9082149292705877e-10), r);
    __m512d p = _mm512_set1_pd(2.5000078104768778e-08);
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(2.763023734161057e-07));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(2.755758626699244e-06));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(2.4801493127136166e-05));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(0.00019841269506756885));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(0.0013888888943605837));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(0.008333333333494354));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(0.04166666666653024));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(0.16666666666666413));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(0.5000000000000011));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0));
    return _mm512_maskz_scalef_pd(keep, p, n);
}

static inline __m512d softce__exp_f64x8(__m512d x) {
    return softce__exp_le710_f64x8(_mm512_min_pd(_mm512_set1_pd(710.0), x));
}

#endif
