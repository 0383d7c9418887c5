/*
 * Vectorised exp for AVX2+FMA (include only from files compiled with -mavx2 -mfma).
 * Same method and constants as exp_avx512.h: n = round(x / ln2) by the 1.5*2^k shifter
 * (n then sits in the low mantissa bits of t), r = x - n ln2 (Cody-Waite), e^r = 1 + r + r^2 Q(r),
 * and 2^n added into the exponent field of e^r (exact while the result is normal). Results below
 * e^-87.3 / e^-708.3 are flushed to exactly 0 (no denormals); -inf -> 0; NaN -> NaN; overflow
 * and +inf -> +inf.
 */
#ifndef SOFTCE_EXP_AVX2_H
#define SOFTCE_EXP_AVX2_H

#include <immintrin.h>

/* e^r for x = n ln2 + r (|r| <= ln2 / 2), with t = the shifter plus n (n in t's low mantissa
   bits) and n itself. */
static inline __m256 softce__exp_parts_f32x8(__m256 x, __m256 *t, __m256 *n) {
    const __m256 shifter = _mm256_set1_ps(12582912.0f); /* 1.5 * 2^23 */
    *t = _mm256_fmadd_ps(x, _mm256_set1_ps(1.44269502f), shifter);
    *n = _mm256_sub_ps(*t, shifter);
    __m256 r = _mm256_fnmadd_ps(*n, _mm256_set1_ps(0.693145752f), x);
    r = _mm256_fnmadd_ps(*n, _mm256_set1_ps(1.42860677e-6f), r);
    __m256 p = _mm256_set1_ps(0.00138146023f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.00836871564f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.041668389f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.166665211f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.49999994f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    return _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
}

/* e^r 2^n with 2^n added into the exponent field, n converted to an integer: a NaN x gives n's
   integer 0x80000000, which adds nothing, so the NaN e^r stays NaN. Exact while the result is
   normal; for n >= 128 (x > 88.37) it would overflow into the sign bit: callers keep x below. */
static inline __m256 softce__exp_scale_f32x8(__m256 p, __m256 n) {
    __m256i scale = _mm256_slli_epi32(_mm256_cvtps_epi32(n), 23);
    return _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(p), scale));
}

/* exp(x) for x <= 88.3 or NaN (the kernels' x - max <= 0): flushed to 0 below -87.3 (and for
   -inf), NaN -> NaN; three operations fewer than softce__exp_f32x8 (no overflow path). */
static inline __m256 softce__exp_le88_f32x8(__m256 x) {
    __m256 t, n, p = softce__exp_parts_f32x8(x, &t, &n);
    __m256 y = softce__exp_scale_f32x8(p, n);
    return _mm256_andnot_ps(_mm256_cmp_ps(x, _mm256_set1_ps(-87.3f), _CMP_LT_OQ), y);
}

/* exp(x) for -87.3 <= x <= 88.3 or NaN, without the flush: below the range it would return
   garbage (the exponent field wraps), so callers bound x (the softcap's short class). */
static inline __m256 softce__exp_in_f32x8(__m256 x) {
    __m256 t, n, p = softce__exp_parts_f32x8(x, &t, &n);
    return softce__exp_scale_f32x8(p, n);
}

/* exp(x) for every x. */
static inline __m256 softce__exp_f32x8(__m256 x) {
    __m256 t, n, p = softce__exp_parts_f32x8(x, &t, &n);
    /* (t's bits) << 23 == n << 23 (mod 2^32): the shifter's low 9 bits are zero. Unlike the
       conversion of n, this keeps a NaN's low payload bits, hence the blend below. */
    __m256i scale = _mm256_slli_epi32(_mm256_castps_si256(t), 23);
    __m256 y = _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(p), scale));
    y = _mm256_andnot_ps(_mm256_cmp_ps(x, _mm256_set1_ps(-87.3f), _CMP_LT_OQ), y);
    /* Above ln(FLT_MAX), and NaN: x + inf gives +inf or NaN. */
    __m256 special = _mm256_cmp_ps(x, _mm256_set1_ps(88.7228317f), _CMP_NLE_UQ);
    return _mm256_blendv_ps(y, _mm256_add_ps(x, _mm256_set1_ps(__builtin_inff())), special);
}

static inline __m256d softce__exp_f64x4(__m256d x) {
    const __m256d shifter = _mm256_set1_pd(6755399441055744.0); /* 1.5 * 2^52 */
    __m256d t = _mm256_fmadd_pd(x, _mm256_set1_pd(1.4426950408889634), shifter);
    __m256d n = _mm256_sub_pd(t, shifter);
    __m256d r = _mm256_fnmadd_pd(n, _mm256_set1_pd(0.6931471803691238), x);
    r = _mm256_fnmadd_pd(n, _mm256_set1_pd(1.9082149292705877e-10), r);
    __m256d p = _mm256_set1_pd(2.5000078104768778e-08);
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(2.763023734161057e-07));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(2.755758626699244e-06));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(2.4801493127136166e-05));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(0.00019841269506756885));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(0.0013888888943605837));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(0.008333333333494354));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(0.04166666666653024));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(0.16666666666666413));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(0.5000000000000011));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0));
    /* (t's bits) << 52 == n << 52 (mod 2^64): the shifter's low 12 bits are zero. */
    __m256i scale = _mm256_slli_epi64(_mm256_castpd_si256(t), 52);
    __m256d y = _mm256_castsi256_pd(_mm256_add_epi64(_mm256_castpd_si256(p), scale));
    y = _mm256_andnot_pd(_mm256_cmp_pd(x, _mm256_set1_pd(-708.3), _CMP_LT_OQ), y);
    __m256d special = _mm256_cmp_pd(x, _mm256_set1_pd(709.78), _CMP_NLE_UQ);
    return _mm256_blendv_pd(y, _mm256_add_pd(x, _mm256_set1_pd(__builtin_inf())), special);
}

#endif
