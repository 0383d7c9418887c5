/* f32 row kernels for AVX2 + FMA: the vector interface of row_simd.inc. */
#include <immintrin.h>
#include <stdint.h>

#include "kernels/exp_avx2.h"
#include "kernels/row_simd.h"
#include "kernels/tanh_avx2.h"

typedef float T;
#define VN 8
#define VH 2
typedef __m256 vf;
typedef __m256d vd;
typedef __m256i vmask;

/* vm_tail(rem) loads 8 lanes starting at tail_bits[8 - rem]. */
static const int32_t tail_bits[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

static inline vf vf_set1(T a) { return _mm256_set1_ps(a); }
static inline vf vf_load(const T *p) { return _mm256_loadu_ps(p); }
static inline void vf_store(T *p, vf v) { _mm256_storeu_ps(p, v); }
/* Lanes [0, rem) for rem in 1..VN. */
static inline vmask vm_tail(int64_t rem) {
    return _mm256_loadu_si256((const __m256i *)(tail_bits + VN - rem));
}
static inline vf vf_load_tail(const T *p, vmask k, vf fill) {
    return _mm256_blendv_ps(fill, _mm256_maskload_ps(p, k), _mm256_castsi256_ps(k));
}
static inline void vf_store_tail(T *p, vmask k, vf v) { _mm256_maskstore_ps(p, k, v); }
/* Lanes k of a, the others of fill. */
static inline vf vf_blend(vmask k, vf a, vf fill) {
    return _mm256_blendv_ps(fill, a, _mm256_castsi256_ps(k));
}
static inline vf vf_lanes(vmask k) {
    return _mm256_and_ps(_mm256_castsi256_ps(k), _mm256_set1_ps(1.0f));
}
static inline vf vf_add(vf a, vf b) { return _mm256_add_ps(a, b); }
static inline vf vf_sub(vf a, vf b) { return _mm256_sub_ps(a, b); }
static inline vf vf_mul(vf a, vf b) { return _mm256_mul_ps(a, b); }
static inline vf vf_fmadd(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }
static inline vf vf_fmsub(vf a, vf b, vf c) { return _mm256_fmsub_ps(a, b, c); }
static inline vf vf_fnmadd(vf a, vf b, vf c) { return _mm256_fnmadd_ps(a, b, c); }
static inline vf vf_max(vf a, vf b) { return _mm256_max_ps(a, b); }
static inline vf vf_min(vf a, vf b) { return _mm256_min_ps(a, b); }
/* Lane 0 (of a vector whose lanes are equal: no reduction). */
static inline T vf_lane0(vf v) { return _mm256_cvtss_f32(v); }
static inline T vf_hmax(vf v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
    return _mm_cvtss_f32(m);
}
static inline vf vf_exp(vf x) { return softce__exp_f32x8(x); }
/* exp of x - max (<= 0, or NaN): no overflow path. */
static inline vf vf_exp_le0(vf x) { return softce__exp_le88_f32x8(x); }
/* exp(x) for x in [-87.3, 0] or NaN (no flush needed). */
static inline vf vf_exp_in(vf x) { return softce__exp_in_f32x8(x); }
/* acc + c v where c != 0 (a term with weight exactly 0 is skipped; NaN c is kept). */
static inline vf vf_fmadd_nz(vf c, vf v, vf acc) {
    return _mm256_blendv_ps(acc, _mm256_fmadd_ps(c, v, acc),
                            _mm256_cmp_ps(c, _mm256_setzero_ps(), _CMP_NEQ_UQ));
}
static inline void vf_widen(vf v, vd h[VH]) {
    h[0] = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
    h[1] = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
}
/* Back from double lanes (round to nearest). */
static inline vf vf_narrow(const vd h[VH]) {
    return _mm256_insertf128_ps(_mm256_castps128_ps256(_mm256_cvtpd_ps(h[0])),
                                _mm256_cvtpd_ps(h[1]), 1);
}
/* cap tanh(k x) (tanh_avx*.h) except the lanes with |k x| <= 2^-12, left to the caller:
 *tiny is set when any lane may be one. */
static inline __attribute__((always_inline)) vf vf_softcap(vf x, const vf q[7], vf vfar, vf vtiny,
                                                           vf khi, vf klo, vf chi, vf clo, vf shi,
                                                           vf slo, int folded, int split, int unit,
                                                           int no_tiny, int *tiny) {
    return softce__softcap_f32x8(x, q, vfar, vtiny, khi, klo, chi, clo, shi, slo, folded, split,
                                 unit, no_tiny, tiny);
}
/* v with a added to lane i (add_at's rounding; the other lanes untouched, -0 included). */
static inline vf vf_add_lane(vf v, int64_t i, T a) {
    _Alignas(32) T lanes[VN];
    _mm256_store_ps(lanes, v);
    lanes[i] += a;
    return _mm256_load_ps(lanes);
}
/* |v| < c ? a : b (NaN v: a). */
static inline vf vf_select_abs_lt(vf v, T c, vf a, vf b) {
    vf av = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v);
    return _mm256_blendv_ps(b, a, _mm256_cmp_ps(av, _mm256_set1_ps(c), _CMP_NGE_UQ));
}

static inline vd vd_set1(double a) { return _mm256_set1_pd(a); }
/* exp of one double by the f64 vector exp (fused_t's e_at; docs/numerics.md). */
static inline double exp1_d(double v) {
    return _mm256_cvtsd_f64(softce__exp_f64x4(_mm256_set1_pd(v)));
}
static inline vd vd_add(vd a, vd b) { return _mm256_add_pd(a, b); }
static inline vd vd_sub(vd a, vd b) { return _mm256_sub_pd(a, b); }
static inline vd vd_mul(vd a, vd b) { return _mm256_mul_pd(a, b); }
static inline vd vd_fmadd(vd a, vd b, vd c) { return _mm256_fmadd_pd(a, b, c); }
/* acc + (c != 0 ? v : 0): a term whose weight c is exactly 0 is skipped (NaN c is kept). */
static inline vd vd_add_nz(vd acc, vd c, vd v) {
    vd keep = _mm256_cmp_pd(c, _mm256_setzero_pd(), _CMP_NEQ_UQ);
    return _mm256_add_pd(acc, _mm256_and_pd(keep, v));
}
static inline double vd_hsum(vd v) {
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

#define SOFTCE_FAST_PASS2 1 /* row_simd_fused.inc: pass 2 without the exp's flush where it can */
#define SOFTCE_ROW_TABLE softce__row_avx2_f32
#define SOFTCE_ROW_SCALAR softce__row_scalar_f32
#define SOFTCE_RESCALE_NARROW 1 /* k_rescale_narrow, with narrow_store below */
#define SOFTCE_LOAD16 1         /* k_fused16, with vf_load16 below */
#include "kernels/row_simd.inc"

/* ---- 16-bit float rows <-> f32 (kernels.h: softce__convert) --------------------------- */

/* bf16 -> f32: the bits moved up (exact). */
static inline __m256 bf16x8_widen(__m128i h) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

/* f32 -> bf16: round to nearest even, a NaN keeps its top bits and is quieted (dtype.c's
   bf16_rne); the eight results packed to 16 bits. */
static inline __m128i bf16x8_round(__m256 v) {
    const __m256i u = _mm256_castps_si256(v);
    const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
    const __m256i r = _mm256_srli_epi32(
        _mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7fff)), lsb), 16);
    const __m256i quiet = _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(0x40));
    const __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff)),
                                           _mm256_set1_epi32(0x7f800000)); /* both >= 0 */
    const __m256i b = _mm256_blendv_epi8(r, quiet, nan);
    /* packus per 128-bit half: [b0..b3 b0..b3 | b4..b7 b4..b7] -> quadwords 0 and 2 */
    return _mm256_castsi256_si128(_mm256_permute4x64_epi64(_mm256_packus_epi32(b, b), 0x08));
}

/* f16 <-> f32 by F16C (round to nearest even; MXCSR's DAZ and FTZ do not apply to them). */
#define F16_RNE (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)

static inline void widen8(int bf16, const uint16_t *s, float *d) {
    const __m128i h = _mm_loadu_si128((const __m128i *)s);
    _mm256_storeu_ps(d, bf16 ? bf16x8_widen(h) : _mm256_cvtph_ps(h));
}

static inline __m128i narrow_vec(int bf16, __m256 v) {
    return bf16 ? bf16x8_round(v) : _mm256_cvtps_ph(v, F16_RNE);
}

static inline void narrow8(int bf16, const float *s, uint16_t *d) {
    _mm_storeu_si128((__m128i *)d, narrow_vec(bf16, _mm256_loadu_ps(s)));
}

/* The last n % 8 values go through an 8-value buffer (no 16-bit masked moves in AVX2). */
static void widen16(int bf16, const void *src, int64_t n, float *dst) {
    const uint16_t *s = src;
    const int64_t ahead = softce__convert_ahead(n);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        if (i % 32 == 0) /* one hint per 64-byte line */
            _mm_prefetch((const char *)softce__u16_line(s, i + ahead), _MM_HINT_T0);
        widen8(bf16, s + i, dst + i);
    }
    if (i < n) {
        uint16_t in[8] = {0};
        float out[8];
        memcpy(in, s + i, (size_t)(n - i) * sizeof *in);
        widen8(bf16, in, out);
        memcpy(dst + i, out, (size_t)(n - i) * sizeof *out);
    }
}

static void narrow16(int bf16, const float *src, int64_t n, void *dst) {
    uint16_t *d = dst;
    const int64_t ahead = softce__convert_ahead(n);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        if (i % 32 == 0) /* with write intent (PREFETCHW where the flags allow, else T0) */
            __builtin_prefetch((const void *)softce__u16_line(d, i + ahead), 1, 3);
        narrow8(bf16, src + i, d + i);
    }
    if (i < n) {
        float in[8] = {0};
        uint16_t out[8];
        memcpy(in, src + i, (size_t)(n - i) * sizeof *in);
        narrow8(bf16, in, out);
        memcpy(d + i, out, (size_t)(n - i) * sizeof *out);
    }
}

/* 8 bf16 or f16 values widened (widen8's conversions): all, or lanes k (the first ones) with
   fill elsewhere, those read through an 8-value buffer (row_simd.inc: src_load). */
static inline vf vf_load16(const uint16_t *s, int bf16) {
    const __m128i h = _mm_loadu_si128((const __m128i *)s);
    return bf16 ? bf16x8_widen(h) : _mm256_cvtph_ps(h);
}

static inline vf vf_load16_tail(const uint16_t *s, vmask k, vf fill, int bf16) {
    uint16_t in[8] = {0};
    const int m = __builtin_popcount((unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(k)));
    memcpy(in, s, (size_t)m * sizeof *in);
    return _mm256_blendv_ps(fill, vf_load16(in, bf16), _mm256_castsi256_ps(k));
}

/* k_rescale_narrow's stores (row_simd_fused.inc); the last m < 8 values through a buffer. */
static inline void narrow_store(int bf16, uint16_t *d, vf v) {
    _mm_storeu_si128((__m128i *)d, narrow_vec(bf16, v));
}

static inline void narrow_store_tail(int bf16, uint16_t *d, vf v, vmask k, int64_t m) {
    (void)k;
    uint16_t out[8];
    _mm_storeu_si128((__m128i *)out, narrow_vec(bf16, v));
    memcpy(d, out, (size_t)m * sizeof *out);
}

const softce__convert softce__convert_avx2 = {.widen = widen16,
                                              .narrow = narrow16,
                                              .rescale_narrow = k_rescale_narrow,
                                              .fused16 = k_fused16,
                                              .fused_sums16 = k_fused_sums16,
                                              .fused16_t = k_fused16_t};

/* ---- hard-target runs (kernels.h: softce__index_scan) ---------------------------------- */

/* Lanes in [0, C) by two signed compares (AVX2 has no unsigned 64-bit one); a partial vector
   at the end goes through the scalar test. */
static int64_t scan_i64(const int64_t *t, int64_t n, int64_t ignore, int64_t C, int *bad) {
    const __m256i ign = _mm256_set1_epi64x(ignore), top = _mm256_set1_epi64x(C - 1);
    __m256i out = _mm256_setzero_si256(), skipped = out; /* per lane, as -count */
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const __m256i v = _mm256_loadu_si256((const __m256i *)(t + i));
        const __m256i skip = _mm256_cmpeq_epi64(v, ign);
        const __m256i range = _mm256_or_si256(_mm256_cmpgt_epi64(_mm256_setzero_si256(), v),
                                              _mm256_cmpgt_epi64(v, top));
        out = _mm256_or_si256(out, _mm256_andnot_si256(skip, range));
        skipped = _mm256_add_epi64(skipped, skip);
    }
    int64_t lanes[4], count = i;
    _mm256_storeu_si256((__m256i *)lanes, skipped);
    count += lanes[0] + lanes[1] + lanes[2] + lanes[3];
    int tail_bad = 0;
    for (; i < n; i++) {
        const int keep = t[i] != ignore;
        count += keep;
        tail_bad |= keep && (uint64_t)t[i] >= (uint64_t)C;
    }
    *bad = tail_bad || !_mm256_testz_si256(out, out);
    return count;
}

static int64_t scan_i32(const int32_t *t, int64_t n, int64_t ignore, int64_t C, int *bad) {
    const int no_ignore = ignore < INT32_MIN || ignore > INT32_MAX;
    const __m256i ign = _mm256_set1_epi32(no_ignore ? 0 : (int32_t)ignore);
    const __m256i top = _mm256_set1_epi32(C > INT32_MAX ? INT32_MAX : (int32_t)(C - 1));
    __m256i out = _mm256_setzero_si256(), skipped = out; /* per lane, as -count: n < 2^34 */
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256i v = _mm256_loadu_si256((const __m256i *)(t + i));
        const __m256i skip = no_ignore ? _mm256_setzero_si256() : _mm256_cmpeq_epi32(v, ign);
        const __m256i range = _mm256_or_si256(_mm256_cmpgt_epi32(_mm256_setzero_si256(), v),
                                              _mm256_cmpgt_epi32(v, top));
        out = _mm256_or_si256(out, _mm256_andnot_si256(skip, range));
        skipped = _mm256_add_epi32(skipped, skip);
    }
    int32_t lanes[8];
    int64_t count = i;
    _mm256_storeu_si256((__m256i *)lanes, skipped);
    for (int l = 0; l < 8; l++)
        count += lanes[l];
    int tail_bad = 0;
    for (; i < n; i++) {
        const int keep = (int64_t)t[i] != ignore;
        count += keep;
        tail_bad |= keep && (uint64_t)(int64_t)t[i] >= (uint64_t)C;
    }
    *bad = tail_bad || !_mm256_testz_si256(out, out);
    return count;
}

const softce__index_scan softce__index_scan_avx2 = {.i64 = scan_i64, .i32 = scan_i32};
