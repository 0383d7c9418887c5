/* f64 row kernels for AVX-512 (F, DQ): the vector interface of row_simd.inc. */
#include <immintrin.h>
#include <stdint.h>

#include "kernels/exp_avx512.h"
#include "kernels/row_simd.h"
#include "kernels/tanh_avx512.h"

typedef double T;
#define VN 8
#define VH 1
typedef __m512d vf;
typedef __m512d vd;
typedef __mmask8 vmask;

static inline vf vf_set1(T a) { return _mm512_set1_pd(a); }
static inline vf vf_load(const T *p) { return _mm512_loadu_pd(p); }
static inline void vf_store(T *p, vf v) { _mm512_storeu_pd(p, v); }
/* Lanes [0, rem) for rem in 1..VN. */
static inline vmask vm_tail(int64_t rem) { return (vmask)((1u << rem) - 1u); }
static inline vf vf_load_tail(const T *p, vmask k, vf fill) {
    return _mm512_mask_loadu_pd(fill, k, p);
}
static inline void vf_store_tail(T *p, vmask k, vf v) { _mm512_mask_storeu_pd(p, k, v); }
/* Lanes k of a, the others of fill. */
static inline vf vf_blend(vmask k, vf a, vf fill) { return _mm512_mask_mov_pd(fill, k, a); }
static inline vf vf_lanes(vmask k) { return _mm512_maskz_mov_pd(k, _mm512_set1_pd(1.0)); }
static inline vf vf_add(vf a, vf b) { return _mm512_add_pd(a, b); }
static inline vf vf_sub(vf a, vf b) { return _mm512_sub_pd(a, b); }
static inline vf vf_mul(vf a, vf b) { return _mm512_mul_pd(a, b); }
static inline vf vf_fmadd(vf a, vf b, vf c) { return _mm512_fmadd_pd(a, b, c); }
static inline vf vf_fmsub(vf a, vf b, vf c) { return _mm512_fmsub_pd(a, b, c); }
static inline vf vf_fnmadd(vf a, vf b, vf c) { return _mm512_fnmadd_pd(a, b, c); }
static inline vf vf_max(vf a, vf b) { return _mm512_max_pd(a, b); }
static inline vf vf_min(vf a, vf b) { return _mm512_min_pd(a, b); }
/* Lane 0 (of a vector whose lanes are equal: no reduction). */
static inline T vf_lane0(vf v) { return _mm512_cvtsd_f64(v); }
static inline T vf_hmax(vf v) { return _mm512_reduce_max_pd(v); }
static inline vf vf_exp(vf x) { return softce__exp_f64x8(x); }
/* exp of x - max (<= 0, or NaN): without the clamp. */
static inline vf vf_exp_le0(vf x) { return softce__exp_le710_f64x8(x); }
/* exp(x) for x in [-87.3, 0] or NaN (no flush needed). */
static inline vf vf_exp_in(vf x) { return vf_exp_le0(x); }
/* acc + c v where c != 0 (a term with weight exactly 0 is skipped; NaN c is kept). */
static inline vf vf_fmadd_nz(vf c, vf v, vf acc) {
    return _mm512_mask3_fmadd_pd(c, v, acc,
                                 _mm512_cmp_pd_mask(c, _mm512_setzero_pd(), _CMP_NEQ_UQ));
}
static inline void vf_widen(vf v, vd h[VH]) { h[0] = v; }
static inline vf vf_narrow(const vd h[VH]) { return h[0]; }
static inline vf vf_tanh(vf y) { return softce__tanh_f64x8(y); }
/* Whether any lane has |v| < c. */
static inline int vf_any_abs_lt(vf v, T c) {
    return _mm512_cmp_pd_mask(_mm512_abs_pd(v), _mm512_set1_pd(c), _CMP_LT_OQ) != 0;
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
    __mmask8 k = _mm512_cmp_pd_mask(_mm512_abs_pd(v), _mm512_set1_pd(c), _CMP_NGE_UQ);
    return _mm512_mask_blend_pd(k, b, a);
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

#define SOFTCE_ROW_TABLE softce__row_avx512_f64
#define SOFTCE_ROW_SCALAR softce__row_scalar_f64
#include "kernels/row_simd.inc"
