/*
 * Vectorised log1p for AVX-512 (include only from files compiled with -mavx512f -mavx512dq):
 * the column kernel's log of the sum of exponentials. Accuracy measured by tests/kernels
 * (test_kernel_exp): see docs/numerics.md.
 */
#ifndef SOFTCE_LOG_AVX512_H
#define SOFTCE_LOG_AVX512_H

#include <immintrin.h>
#include <math.h>

/* 1 / d: the 2^-14 estimate and one Newton step (~2^-28). */
static inline __m512 softce__recip_f32x16(__m512 d) {
    const __m512 y = _mm512_rcp14_ps(d);
    return _mm512_fmadd_ps(y, _mm512_fnmadd_ps(d, y, _mm512_set1_ps(1.0f)), y);
}

/* log(1 + t) for f32 lanes t >= -1. The column kernel passes t = s - 1, formed in double
   from s, the sum of exponentials, so that a confident position's small log s keeps its
   relative accuracy. u = 1 + t rounded, u = 2^k f with f in [0.75, 1.5), log f = 2 atanh(z)
   with z = (f - 1) / (f + 1) (f - 1 exact, f + 1 kept as two floats, the quotient corrected
   once), |z| <= 0.2, series to z^9 (truncation < 1e-8 relative), plus the rounding of u as
   (t - (u - 1)) / u, which is all of the result for a tiny t. -1 -> -inf, +inf -> +inf
   (as the AVX2 and scalar ones), NaN -> NaN, -0 -> +0; t < -1 is not an input of the
   kernel. */
static inline __m512 softce__log1p_f32x16(__m512 t) {
    const __m512 one = _mm512_set1_ps(1.0f);
    __m512 u = _mm512_add_ps(one, t);
    __m512 f = _mm512_getmant_ps(u, _MM_MANT_NORM_p75_1p5, _MM_MANT_SIGN_src);
    __m512 k = _mm512_sub_ps(_mm512_getexp_ps(u), _mm512_getexp_ps(f));
    __m512 den = _mm512_add_ps(f, one), y = softce__recip_f32x16(den);
    __m512 den_lo = _mm512_sub_ps(f, _mm512_sub_ps(den, one)); /* f + 1 = den + den_lo */
    __m512 n = _mm512_sub_ps(f, one), z = _mm512_mul_ps(n, y);
    z = _mm512_fmadd_ps(y, _mm512_fnmadd_ps(den_lo, z, _mm512_fnmadd_ps(den, z, n)), z);
    __m512 z2 = _mm512_mul_ps(z, z);
    __m512 q = _mm512_fmadd_ps(_mm512_set1_ps(1.0f / 9), z2, _mm512_set1_ps(1.0f / 7));
    q = _mm512_fmadd_ps(q, z2, _mm512_set1_ps(1.0f / 5));
    q = _mm512_fmadd_ps(q, z2, _mm512_set1_ps(1.0f / 3));
    __m512 z2x = _mm512_add_ps(z, z); /* log f = 2z + 2z z^2 q */
    __m512 lf = _mm512_fmadd_ps(_mm512_mul_ps(z2x, z2), q, z2x);
    __m512 c = _mm512_mul_ps(_mm512_sub_ps(t, _mm512_sub_ps(u, one)), softce__recip_f32x16(u));
    /* k ln2 with ln2 split as in the exp (hi has 16 bits: k hi is exact for any float u) */
    __m512 r = _mm512_fmadd_ps(k, _mm512_set1_ps(1.42860677e-6f), _mm512_add_ps(lf, c));
    r = _mm512_fmadd_ps(k, _mm512_set1_ps(0.693145752f), r);
    /* u = +inf: the rounding term is inf - inf; the result is u itself */
    r = _mm512_mask_mov_ps(r, _mm512_cmpeq_ps_mask(u, _mm512_set1_ps(INFINITY)), u);
    return _mm512_mask_mov_ps(r, _mm512_cmpeq_ps_mask(u, _mm512_setzero_ps()),
                              _mm512_set1_ps(-INFINITY));
}

#endif
