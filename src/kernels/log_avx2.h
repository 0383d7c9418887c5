/*
 * Vectorised log1p for AVX2+FMA (include only from files compiled with -mavx2 -mfma): the AVX2
 * column kernel's log of the sum of exponentials. The method of log_avx512.h (the same
 * reduction, series and correction terms) with what AVX2 has: the exponent and mantissa taken
 * from the bits instead of getexp / getmant, and divisions instead of the rcp14 estimate and
 * its Newton step. Accuracy measured by tests/kernels (test_kernel_exp): see docs/numerics.md.
 */
#ifndef SOFTCE_LOG_AVX2_H
#define SOFTCE_LOG_AVX2_H

#include <immintrin.h>
#include <math.h>

/* log(1 + t) for f32 lanes t >= -1 (the column kernel passes t = s - 1, formed in double from
   s, the sum of exponentials). u = 1 + t rounded, u = 2^k f with f in [0.75, 1.5) (from u's
   bits: u - 0.75 in the bit domain has k in its exponent field), log f = 2 atanh(z) with
   z = (f - 1) / (f + 1) (f - 1 exact, f + 1 kept as two floats, the quotient corrected once),
   |z| <= 0.2, series to z^9, plus the rounding of u as (t - (u - 1)) / u. -1 -> -inf,
   +inf -> +inf, NaN -> NaN, -0 -> +0; t < -1 is not an input of the kernel. */
static inline __m256 softce__log1p_f32x8(__m256 t) {
    const __m256 one = _mm256_set1_ps(1.0f);
    const __m256i three_quarters = _mm256_set1_epi32(0x3f400000); /* 0.75f */
    __m256 u = _mm256_add_ps(one, t);
    __m256i ix = _mm256_sub_epi32(_mm256_castps_si256(u), three_quarters);
    __m256 k = _mm256_cvtepi32_ps(_mm256_srai_epi32(ix, 23));
    __m256 f = _mm256_castsi256_ps(
        _mm256_add_epi32(_mm256_and_si256(ix, _mm256_set1_epi32(0x007fffff)), three_quarters));
    __m256 den = _mm256_add_ps(f, one), y = _mm256_div_ps(one, den);
    __m256 den_lo = _mm256_sub_ps(f, _mm256_sub_ps(den, one)); /* f + 1 = den + den_lo */
    __m256 n = _mm256_sub_ps(f, one), z = _mm256_mul_ps(n, y);
    z = _mm256_fmadd_ps(y, _mm256_fnmadd_ps(den_lo, z, _mm256_fnmadd_ps(den, z, n)), z);
    __m256 z2 = _mm256_mul_ps(z, z);
    __m256 q = _mm256_fmadd_ps(_mm256_set1_ps(1.0f / 9), z2, _mm256_set1_ps(1.0f / 7));
    q = _mm256_fmadd_ps(q, z2, _mm256_set1_ps(1.0f / 5));
    q = _mm256_fmadd_ps(q, z2, _mm256_set1_ps(1.0f / 3));
    __m256 z2x = _mm256_add_ps(z, z); /* log f = 2z + 2z z^2 q */
    __m256 lf = _mm256_fmadd_ps(_mm256_mul_ps(z2x, z2), q, z2x);
    __m256 c = _mm256_div_ps(_mm256_sub_ps(t, _mm256_sub_ps(u, one)), u);
    /* k ln2 with ln2 split as in the exp (hi has 16 bits: k hi is exact for any float u) */
    __m256 r = _mm256_fmadd_ps(k, _mm256_set1_ps(1.42860677e-6f), _mm256_add_ps(lf, c));
    r = _mm256_fmadd_ps(k, _mm256_set1_ps(0.693145752f), r);
    r = _mm256_blendv_ps(r, _mm256_set1_ps(-INFINITY),
                         _mm256_cmp_ps(u, _mm256_setzero_ps(), _CMP_EQ_OQ));
    /* +inf and NaN: themselves (their bits are no 2^k f) */
    return _mm256_blendv_ps(r, u, _mm256_cmp_ps(u, _mm256_set1_ps(3.40282347e38f), _CMP_NLE_UQ));
}

#endif
