/* f64 row kernels for AVX2 + FMA: the vector interface of row_simd.inc. */
#include <immintrin.h>
#include <stdint.h>

#include "kernels/exp_avx2.h"
#include "kernels/row_simd.h"
#include "kernels/tanh_avx2.h"

typedef double T;
#define VN 4
#define VH 1
typedef __m256d vf;
typedef __m256d vd;
typedef __m256i vmask;

/* vm_tail(rem) loads 4 lanes starting at tail_bits[4 - rem]. */
static const int64_t tail_bits[8] = {-1, -1, -1, -1, 0, 0, 0, 0};

static inline vf vf_set1(T a) { return _mm256_set1_pd(a); }
static inline vf vf_load(const T *p) { return _mm256_loadu_pd(p); }
static inline void vf_store(T *p, vf v) { _mm256_storeu_pd(p, v); }
/* Lanes [0, rem) for rem in 1..VN. */
static inline vmask vm_tail(int64_t rem) {
    return _mm256_loadu_si256((const __m256i *)(tail_bits + VN - rem));
}
static inline vf vf_load_tail(const T *p, vmask k, vf fill) {
    return _mm256_blendv_pd(fill, _mm256_maskload_pd(p, k), _mm256_castsi256_pd(k));
}
static inline void vf_store_tail(T *p, vmask k, vf v) { _mm256_maskstore_pd(p, k, v); }
/* Lanes k of a, the others of fill. */
static inline vf vf_blend(vmask k, vf a, vf fill) {
    return _mm256_blendv_pd(fill, a, _mm256_castsi256_pd(k));
}
static inline vf vf_lanes(vmask k) {
    return _mm256_and_pd(_mm256_castsi256_pd(k), _mm256_set1_pd(1.0));
}
static inline vf vf_add(vf a, vf b) { return _mm256_add_pd(a, b); }
static inline vf vf_sub(vf a, vf b) { return _mm256_sub_pd(a, b); }
static inline vf vf_mul(vf a, vf b) { return _mm256_mul_pd(a, b); }
static inline vf vf_fmadd(vf a, vf b, vf c) { return _mm256_fmadd_pd(a, b, c); }
static inline vf vf_fmsub(vf a, vf b, vf c) { return _mm256_fmsub_pd(a, b, c); }
static inline vf vf_fnmadd(vf a, vf b, vf c) { return _mm256_fnmadd_pd(a, b, c); }
static inline vf vf_max(vf a, vf b) { return _mm256_max_pd(a, b); }
static inline vf vf_min(vf a, vf b) { return _mm256_min_pd(a, b); }
/* Lane 0 (of a vector whose lanes are equal: no reduction). */
static inline T vf_lane0(vf v) { return _mm256_cvtsd_f64(v); }
static inline T vf_hmax(vf v) {
    __m128d m = _mm_max_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_max_sd(m, _mm_unpackhi_pd(m, m)));
}
static inline vf vf_exp(vf x) { return softce__exp_f64x4(x); }
/* exp of x - max (<= 0, or NaN): the full exp (its NaN guard is needed). */
static inline vf vf_exp_le0(vf x) { return vf_exp(x); }
/* exp(x) for x in [-87.3, 0] or NaN (no flush needed). */
static inline vf vf_exp_in(vf x) { return vf_exp_le0(x); }
/* acc + c v where c != 0 (a term with weight exactly 0 is skipped; NaN c is kept). */
static inline vf vf_fmadd_nz(vf c, vf v, vf acc) {
    return _mm256_blendv_pd(acc, _mm256_fmadd_pd(c, v, acc),
                            _mm256_cmp_pd(c, _mm256_setzero_pd(), _CMP_NEQ_UQ));
}
static inline void vf_widen(vf v, vd h[VH]) { h[0] = v; }
static inline vf vf_narrow(const vd h[VH]) { return h[0]; }
static inline vf vf_tanh(vf y) { return softce__tanh_f64x4(y); }
/* Whether any lane has |v| < c. */
static inline int vf_any_abs_lt(vf v, T c) {
    vf av = _mm256_andnot_pd(_mm256_set1_pd(-0.0), v);
    return _mm256_movemask_pd(_mm256_cmp_pd(av, _mm256_set1_pd(c), _CMP_LT_OQ)) != 0;
}
/* cap tanh(k x) by tanh(y), y = k x; *tiny: whether any lane has
   |y| < 2^-27 (the caller replaces those lanes). */
static inline __attribute__((always_inline)) vf vf_softcap(vf x, const vf q[7], vf vfar, vf vtiny,
                                                           vf khi, vf klo, vf chi, vf clo, vf shi,
                                                           vf slo, int folded, int split, int unit,
                                                           int no_tiny, int *tiny) {
    (void)q, (void)vfar, (void)vtiny, (void)klo, (void)shi, (void)slo, (void)folded;
    (void)split, (void)unit, (void)no_tiny; /* klo is 0 in f64 */
    const vf y = vf_mul(khi, x), t = vf_tanh(y);
    *tiny = vf_any_abs_lt(y, 0x1p-27);
    return vf_fmadd(chi, t, vf_mul(clo, t));
}
/* |v| < c ? a : b (NaN v: a). */
static inline vf vf_select_abs_lt(vf v, T c, vf a, vf b) {
    vf av = _mm256_andnot_pd(_mm256_set1_pd(-0.0), v);
    return _mm256_blendv_pd(b, a, _mm256_cmp_pd(av, _mm256_set1_pd(c), _CMP_NGE_UQ));
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

#define SOFTCE_ROW_TABLE softce__row_avx2_f64
#define SOFTCE_ROW_SCALAR softce__row_scalar_f64
#include "kernels/row_simd.inc"
