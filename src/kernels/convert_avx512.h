/*
 * 16-bit floats <-> f32, 16 lanes, for the AVX-512 files (row_avx512_f32.c's row staging,
 * col_avx512.c's row-major column kernel): bit-identical to dtype.c's software conversions
 * (kernels.h: softce__convert). Needs -mavx512f -mavx512bw -mavx512vl.
 */
#ifndef SOFTCE_CONVERT_AVX512_H
#define SOFTCE_CONVERT_AVX512_H

#include <immintrin.h>

/* bf16 -> f32: the bits moved up (exact). */
static inline __m512 softce__bf16x16_widen(__m256i h) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

/* f32 -> bf16 in the low 16 bits of each lane: round to nearest even; a NaN keeps its top bits
   and is quieted (dtype.c's bf16_rne). */
static inline __m512i softce__bf16x16_round(__m512 v) {
    const __m512i u = _mm512_castps_si512(v);
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    const __m512i r = _mm512_srli_epi32(
        _mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7fff)), lsb), 16);
    const __m512i quiet = _mm512_or_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x40));
    const __mmask16 nan = _mm512_cmpgt_epu32_mask(
        _mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff)), _mm512_set1_epi32(0x7f800000));
    return _mm512_mask_blend_epi32(nan, r, quiet);
}

/* f16 <-> f32 by the AVX-512F conversions (round to nearest even; MXCSR's DAZ and FTZ do not
   apply to them; a NaN is quieted). */
#define SOFTCE_F16_RNE (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)

#endif
