/* f32 row kernels for AVX-512 (F, DQ): the vector interface of row_simd.inc. */
#include <immintrin.h>
#include <stdint.h>

#include "kernels/convert_avx512.h"
#include "kernels/exp_avx512.h"
#include "kernels/row_simd.h"
#include "kernels/tanh_avx512.h"

typedef float T;
#define VN 16
#define VH 2
typedef __m512 vf;
typedef __m512d vd;
typedef __mmask16 vmask;

static inline vf vf_set1(T a) { return _mm512_set1_ps(a); }
static inline vf vf_load(const T *p) { return _mm512_loadu_ps(p); }
static inline void vf_store(T *p, vf v) { _mm512_storeu_ps(p, v); }
/* Lanes [0, rem) for rem in 1..VN. */
static inline vmask vm_tail(int64_t rem) { return (vmask)((1u << rem) - 1u); }
static inline vf vf_load_tail(const T *p, vmask k, vf fill) {
    return _mm512_mask_loadu_ps(fill, k, p);
}
static inline void vf_store_tail(T *p, vmask k, vf v) { _mm512_mask_storeu_ps(p, k, v); }
/* Lanes k of a, the others of fill. */
static inline vf vf_blend(vmask k, vf a, vf fill) { return _mm512_mask_mov_ps(fill, k, a); }
static inline vf vf_lanes(vmask k) { return _mm512_maskz_mov_ps(k, _mm512_set1_ps(1.0f)); }
static inline vf vf_add(vf a, vf b) { return _mm512_add_ps(a, b); }
static inline vf vf_sub(vf a, vf b) { return _mm512_sub_ps(a, b); }
static inline vf vf_mul(vf a, vf b) { return _mm512_mul_ps(a, b); }
static inline vf vf_fmadd(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }
static inline vf vf_fmsub(vf a, vf b, vf c) { return _mm512_fmsub_ps(a, b, c); }
static inline vf vf_fnmadd(vf a, vf b, vf c) { return _mm512_fnmadd_ps(a, b, c); }
static inline vf vf_max(vf a, vf b) { return _mm512_max_ps(a, b); }
static inline vf vf_min(vf a, vf b) { return _mm512_min_ps(a, b); }
/* Lane 0 (of a vector whose lanes are equal: no reduction). */
static inline T vf_lane0(vf v) { return _mm512_cvtss_f32(v); }
static inline T vf_hmax(vf v) { return _mm512_reduce_max_ps(v); }
static inline vf vf_exp(vf x) { return softce__exp_f32x16(x); }
/* exp of x - max (<= 0, or NaN): without the clamp. */
static inline vf vf_exp_le0(vf x) { return softce__exp_le89_f32x16(x); }
/* exp(x) for x in [-87.3, 0] or NaN (no flush needed). */
static inline vf vf_exp_in(vf x) { return softce__exp_in_f32x16(x); }
/* acc + c v where c != 0 (a term with weight exactly 0 is skipped; NaN c is kept). */
static inline vf vf_fmadd_nz(vf c, vf v, vf acc) {
    return _mm512_mask3_fmadd_ps(c, v, acc,
                                 _mm512_cmp_ps_mask(c, _mm512_setzero_ps(), _CMP_NEQ_UQ));
}
static inline void vf_widen(vf v, vd h[VH]) {
    h[0] = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
    h[1] = _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1));
}
/* Back from double lanes (round to nearest). */
static inline vf vf_narrow(const vd h[VH]) {
    return _mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps(h[0])), _mm512_cvtpd_ps(h[1]),
                              1);
}
/* cap tanh(k x) (tanh_avx*.h) except the lanes with |k x| <= 2^-12, left to the caller:
 *tiny is set when any lane may be one. */
static inline __attribute__((always_inline)) vf vf_softcap(vf x, const vf q[7], vf vfar, vf vtiny,
                                                           vf khi, vf klo, vf chi, vf clo, vf shi,
                                                           vf slo, int folded, int split, int unit,
                                                           int no_tiny, int *tiny) {
    return softce__softcap_f32x16(x, q, vfar, vtiny, khi, klo, chi, clo, shi, slo, folded, split,
                                  unit, no_tiny, tiny);
}
/* v with a added to lane i (add_at's rounding; the other lanes untouched, -0 included). */
static inline vf vf_add_lane(vf v, int64_t i, T a) {
    return _mm512_mask_add_ps(v, (__mmask16)(1u << i), v, _mm512_set1_ps(a));
}
/* |v| < c ? a : b (NaN v: a). */
static inline vf vf_select_abs_lt(vf v, T c, vf a, vf b) {
    __mmask16 k = _mm512_cmp_ps_mask(_mm512_abs_ps(v), _mm512_set1_ps(c), _CMP_NGE_UQ);
    return _mm512_mask_blend_ps(k, b, a);
}

static inline vd vd_set1(double a) { return _mm512_set1_pd(a); }
/* exp of one double by the f64 vector exp (fused_t's e_at; docs/numerics.md). */
static inline double exp1_d(double v) {
    return _mm512_cvtsd_f64(softce__exp_f64x8(_mm512_set1_pd(v)));
}
static inline vd vd_add(vd a, vd b) { return _mm512_add_pd(a, b); }
static inline vd vd_sub(vd a, vd b) { return _mm512_sub_pd(a, b); }
static inline vd vd_mul(vd a, vd b) { return _mm512_mul_pd(a, b); }
static inline vd vd_fmadd(vd a, vd b, vd c) { return _mm512_fmadd_pd(a, b, c); }
/* acc + (c != 0 ? v : 0): a term whose weight c is exactly 0 is skipped (NaN c is kept). */
static inline vd vd_add_nz(vd acc, vd c, vd v) {
    __mmask8 k = _mm512_cmp_pd_mask(c, _mm512_setzero_pd(), _CMP_NEQ_UQ);
    return _mm512_mask_add_pd(acc, k, acc, v);
}
static inline double vd_hsum(vd v) { return _mm512_reduce_add_pd(v); }

/* Rows with target terms keep fused_t's z in registers here (row_simd_fused.inc; with AVX2's
   16 registers that measured 7 % slower, so its tables store z). */
#define SOFTCE_ZREG_TARGET_TERMS 1
#define SOFTCE_ROW_TABLE softce__row_avx512_f32
#define SOFTCE_ROW_SCALAR softce__row_scalar_f32
#define SOFTCE_RESCALE_NARROW 1 /* k_rescale_narrow, with narrow_store below */
#define SOFTCE_LOAD16 1         /* k_fused16, with vf_load16 below */
#include "kernels/row_simd.inc"

/* ---- 16-bit float rows <-> f32 (kernels.h: softce__convert) --------------------------- */

/* 16 bf16 or f16 values widened (widen16's too): all, or lanes k with fill elsewhere
   (row_simd.inc: src_load). */
static inline vf vf_load16(const uint16_t *s, int bf16) {
    const __m256i h = _mm256_loadu_si256((const __m256i *)s);
    return bf16 ? softce__bf16x16_widen(h) : _mm512_cvtph_ps(h);
}

static inline vf vf_load16_tail(const uint16_t *s, vmask k, vf fill, int bf16) {
    const __m256i h = _mm256_maskz_loadu_epi16(k, s);
    return _mm512_mask_mov_ps(fill, k, bf16 ? softce__bf16x16_widen(h) : _mm512_cvtph_ps(h));
}

static void widen16(int bf16, const void *src, int64_t n, float *dst) {
    const uint16_t *s = src;
    const int64_t ahead = softce__convert_ahead(n);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        if (i % 32 == 0) /* one hint per 64-byte line */
            _mm_prefetch((const char *)softce__u16_line(s, i + ahead), _MM_HINT_T0);
        _mm512_storeu_ps(dst + i, vf_load16(s + i, bf16));
    }
    if (i < n) {
        const __mmask16 k = vm_tail(n - i);
        _mm512_mask_storeu_ps(dst + i, k, vf_load16_tail(s + i, k, vf_set1(0), bf16));
    }
}

/* 16 f32 values narrowed to 16 bf16 or f16 (round to nearest even, a NaN quieted). */
static inline __m256i narrow_vec(int bf16, __m512 v) {
    return bf16 ? _mm512_cvtepi32_epi16(softce__bf16x16_round(v))
                : _mm512_cvtps_ph(v, SOFTCE_F16_RNE);
}

static void narrow16(int bf16, const float *src, int64_t n, void *dst) {
    uint16_t *d = dst;
    const int64_t ahead = softce__convert_ahead(n);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        if (i % 32 == 0) /* with write intent */
            _m_prefetchw((void *)softce__u16_line(d, i + ahead));
        _mm256_storeu_si256((__m256i *)(d + i), narrow_vec(bf16, _mm512_loadu_ps(src + i)));
    }
    if (i < n) {
        const __mmask16 k = (__mmask16)((1u << (n - i)) - 1u);
        const __m512 v = _mm512_maskz_loadu_ps(k, src + i);
        if (bf16)
            _mm512_mask_cvtepi32_storeu_epi16(d + i, k, softce__bf16x16_round(v));
        else
            _mm256_mask_storeu_epi16(d + i, k, _mm512_cvtps_ph(v, SOFTCE_F16_RNE));
    }
}

/* k_rescale_narrow's stores (row_simd_fused.inc). */
static inline void narrow_store(int bf16, uint16_t *d, vf v) {
    _mm256_storeu_si256((__m256i *)d, narrow_vec(bf16, v));
}

static inline void narrow_store_tail(int bf16, uint16_t *d, vf v, vmask k, int64_t m) {
    (void)m;
    _mm256_mask_storeu_epi16(d, k, narrow_vec(bf16, v));
}

const softce__convert softce__convert_avx512 = {.widen = widen16,
                                                .narrow = narrow16,
                                                .rescale_narrow = k_rescale_narrow,
                                                .fused16 = k_fused16,
                                                .fused_sums16 = k_fused_sums16,
                                                .fused16_t = k_fused16_t};

/* ---- hard-target runs (kernels.h: softce__index_scan) ---------------------------------- */

static int64_t scan_i64(const int64_t *t, int64_t n, int64_t ignore, int64_t C, int *bad) {
    const __m512i ign = _mm512_set1_epi64(ignore), lim = _mm512_set1_epi64(C);
    __m512i count = _mm512_setzero_si512();
    __mmask8 out = 0;
    for (int64_t i = 0; i < n; i += 8) {
        const __mmask8 k = (__mmask8)(n - i >= 8 ? 0xffu : (1u << (n - i)) - 1u);
        const __m512i v = _mm512_maskz_loadu_epi64(k, t + i);
        const __mmask8 keep = _mm512_mask_cmpneq_epi64_mask(k, v, ign);
        out |= _mm512_mask_cmpge_epu64_mask(keep, v, lim); /* negative: huge unsigned */
        count = _mm512_mask_add_epi64(count, keep, count, _mm512_set1_epi64(1));
    }
    *bad = out != 0;
    return _mm512_reduce_add_epi64(count);
}

static int64_t scan_i32(const int32_t *t, int64_t n, int64_t ignore, int64_t C, int *bad) {
    /* an ignore_index no int32 can equal ignores nothing; for C > INT32_MAX only the negative
       indices are outside [0, C), i.e. the unsigned ones >= 2^31 */
    const int no_ignore = ignore < INT32_MIN || ignore > INT32_MAX;
    const __m512i ign = _mm512_set1_epi32(no_ignore ? 0 : (int32_t)ignore);
    const __m512i lim = _mm512_set1_epi32((int32_t)(uint32_t)(C > INT32_MAX ? 0x80000000u : C));
    __m512i count = _mm512_setzero_si512(); /* per lane: fine for n < 2^35 */
    __mmask16 out = 0;
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 k = (__mmask16)(n - i >= 16 ? 0xffffu : (1u << (n - i)) - 1u);
        const __m512i v = _mm512_maskz_loadu_epi32(k, t + i);
        const __mmask16 keep = no_ignore ? k : _mm512_mask_cmpneq_epi32_mask(k, v, ign);
        out |= _mm512_mask_cmpge_epu32_mask(keep, v, lim);
        count = _mm512_mask_add_epi32(count, keep, count, _mm512_set1_epi32(1));
    }
    *bad = out != 0;
    return (int64_t)(uint32_t)_mm512_reduce_add_epi32(count);
}

const softce__index_scan softce__index_scan_avx512 = {.i64 = scan_i64, .i32 = scan_i32};
