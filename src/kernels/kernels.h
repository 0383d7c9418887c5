/*
 * Row kernels: the innermost stage. Each works on ONE contiguous row of C values in the
 * compute type (float for f32/f16/bf16 logits, double for f64), already staged by the driver.
 * A table per compute type per ISA; the scalar table is always built and is the oracle for
 * the SIMD ones. Math: docs/numerics.md.
 */
#ifndef SOFTCE_KERNELS_H
#define SOFTCE_KERNELS_H

#include <stdint.h>

/* Names of the ISA levels (values used by dispatch and SOFTCE_FORCE_ISA). */
typedef enum softce__isa {
    SOFTCE__ISA_SCALAR = 0,
    SOFTCE__ISA_AVX2 = 1,
    SOFTCE__ISA_AVX512 = 2
} softce__isa;

/*
 * A log-sum-exp as an unevaluated sum hi + lo: from the kernels hi = m (the row max, exactly a
 * value of T) and lo = log(sum exp(x - m)), so that x - lse = (x - hi) - lo keeps log(s) even
 * when |m| is so large that m + log(s) == m in double (|x| >~ 1e16). An lse given by a caller
 * as one double L is passed as hi = L rounded to T, lo = L - hi.
 */
typedef struct softce__lse {
    double hi, lo;
} softce__lse;

/*
 * Row operations in compute type T (void* below is const T* / T*). n = C >= 1.
 * w: NULL (all weights 1) or n class weights in T. p: soft target (n values of T) or NULL.
 * "q" = (1 - eps) * p + eps / n (soft) — the kernels get eps pre-split as coefficients.
 */
typedef struct softce__row_kernels {
    /* log(sum_i exp(x_i)) as {m, log(sum exp(x_i - m))}; sum in double.
       All -inf -> {-inf, 0}; any NaN -> NaN; +inf -> NaN (as x - max is NaN). */
    softce__lse (*lse)(const void *x, int64_t n);
    /* Soft loss -sum_i w_i q_i (x_i - lse), q_i = a1 * p_i + a0 (p NULL: q_i = a0, used for
       the uniform label-smoothing term of hard targets); terms with w_i q_i == 0 contribute
       exactly 0. Also returns sum_i w_i q_i in *sum_wq. Double accumulation. */
    double (*soft_loss)(const void *x, const void *p, const void *w, int64_t n, softce__lse lse,
                        double a1, double a0, double *sum_wq);
    /* out_i = a * exp(x_i - lse) - w_i * (c1 * p_i + c0)   (p NULL: p_i = 0).
       out may be exactly x (in place). */
    void (*grad)(const void *x, const void *p, const void *w, int64_t n, softce__lse lse, double a,
                 double c1, double c0, void *out);
    /* out_i = -c * w_i * (x_i - lse): gradient w.r.t. the soft target. */
    void (*grad_target)(const void *x, const void *w, int64_t n, softce__lse lse, double c,
                        void *out);
    /* out_i = x_i - lse. out may be exactly x. */
    void (*log_softmax)(const void *x, int64_t n, softce__lse lse, void *out);
    /* Fused forward+backward of one row with ONE exp per element (the training fast path):
         pass 1: m = max_i x_i
         pass 2: e_i = exp(x_i - m) stored in out; s = sum e_i; S = sum w_i q_i;
                 U = sum w_i q_i (m - x_i)   (terms with w_i q_i == 0 skipped)
         lse = {m, log(s)};  *loss = S * log(s) + U  (= -sum w q (x - lse), no cancellation)
         pass 3: out_i = g * ((S + spike + 2 zl lse) * e_i / s - w_i * q_i)
       with q_i = a1 * p_i + a0 (p NULL: q_i = a0). `spike` is extra probability mass the
       caller handles itself (the hard target's (1-eps) w_t: it subtracts g*spike at t after);
       zl is the z-loss coefficient (the caller adds zl lse^2 to the loss).
       out may be exactly x (in place), or NULL: forward only (no stores, no pass 3; the
       cheapest way to the loss). Returns {m, log s}; all sums in double. */
    softce__lse (*fused)(const void *x, const void *p, const void *w, int64_t n, double a1,
                         double a0, double spike, double zl, double g, void *out, double *loss);
    /* Logit transform (options logit_scale and softcap): z_i = cap * tanh(scale * x_i / cap)
       for cap > 0, else scale * x_i. z may be exactly x. */
    void (*transform)(const void *x, int64_t n, double scale, double cap, void *z);
    /* Its chain rule, from the transformed row z: g_i *= scale * (1 - (z_i / cap)^2) for
       cap > 0, else g_i *= scale. */
    void (*chain)(void *g, const void *z, int64_t n, double scale, double cap);
    /* fused through the logit transform, from the RAW logits x: z = transform(x) (as above)
       is written into z (n values, overlapping none of x, p, w, out), then fused runs on z
       and pass 3 applies the chain rule while storing:
         out_i = g * ((S + spike + 2 zl lse) * e_i / s - w_i * q_i) * dz_i,
         dz_i = scale * (1 - (z_i / cap)^2) (cap > 0), else scale.
       The caller subtracts g * spike * dz_t at its target(s), dz_t from z_t. out may be
       exactly x or NULL (forward only; z is still written). z_at = SOFTCE__Z_ALL: z is
       written in full; z_at >= 0: only z[z_at] is sure to be (a hard target's z_t);
       SOFTCE__Z_NONE: none of z is needed (a soft target's row). Where less than all of z is
       asked for, the SIMD kernels keep z in registers where they can and the rest of z is
       scratch. With z_at >= 0 and e_at not NULL, *e_at = exp(z_t - lse) in double (z_t as
       stored; the caller's target entry), which the SIMD kernels take as exp(z_t - m) / s
       by their vector f64 exp: no libm call per row. Returns the lse of z. */
    softce__lse (*fused_t)(const void *x, const void *p, const void *w, int64_t n, double a1,
                           double a0, double spike, double zl, double g, double scale, double cap,
                           void *z, int64_t z_at, double *e_at, void *out, double *loss);
    /* fused's passes 1 and 2 over a part of a row (split mode's chunks), blockwise: for each
       block b of SOFTCE__FUSED_BLOCK values (the last one shorter) its own max m_b is taken
       and, when finite, e_i = exp(x_i - m_b) is stored in out (out NULL: nothing stored; out
       may be exactly x) and bmax[b] = m_b; otherwise the block's out is left untouched and
       bmax[b] is not finite. Each block is read from memory once (max into L1, then exp from
       L1). Returns the part's {M, log s} (M = max m_b, s = sum_b s_b e^(m_b - M)) and, as fused,
       *loss = S log s + U relative to it, *sum_wq = S; a block with a +inf or NaN max makes the
       lse {that max, NaN} and leaves every later block unstored too. */
    softce__lse (*fused_sums)(const void *x, const void *p, const void *w, int64_t n, double a1,
                              double a0, void *out, double *loss, double *sum_wq, double *bmax);
    /* fused's pass 3 alone: out_i = k * out_i - w_i * (c1 * p_i + c0)   (p NULL: p_i = 0). */
    void (*rescale)(void *out, const void *p, const void *w, int64_t n, double k, double c1,
                    double c0);
} softce__row_kernels;

/* fused_t's z_at: the whole z row, or none of it (else an index). */
#define SOFTCE__Z_ALL (-1)
#define SOFTCE__Z_NONE (-2)

/* Block length of fused_sums (values of T): block x, p and out stay in L1 between its passes. */
#define SOFTCE__FUSED_BLOCK 2048

/*
 * Column (tile) kernel: vectorised across positions, for tiny C and strided class axes.
 * f32 (the row-major variant, col_rows.h, also bf16 / f16). Forward (gx == NULL) or fused
 * forward+backward.
 */
#define SOFTCE__COL_TILE 256
typedef struct softce__col_tile {
    int64_t R, C;   /* positions (<= SOFTCE__COL_TILE) and classes */
    const float *x; /* x[c * ldx + r] */
    int64_t ldx;
    const float *p; /* soft target p[c * ldp + r], or NULL (hard) */
    int64_t ldp;
    float *gx; /* gradient gx[c * ldg + r], NULL for forward only; may be x */
    int64_t ldg;
    const float *w;     /* C contiguous class weights, or NULL */
    double a1, a0;      /* q = a1 p + a0 (hard: uniform a0) */
    const int32_t *t;   /* hard: class per position, -1 = ignored; NULL for soft */
    double spike;       /* hard: (1 - eps); the spike at t is spike * w[t] */
    const double *g;    /* per position upstream gradient / D (with gx) */
    double *lse, *loss; /* per position outputs */
    int stream; /* gx may go to memory by non-temporal stores (a large gradient, not x) */
    /* The row-major kernel (col_rows.h) reads and writes these instead of x, p and gx: rows of
       class stride 1, ldx / ldp / ldg elements apart, of f32, bf16 or f16 (xk, pk, gk:
       SOFTCE__ROWS_*); pr NULL for a hard target, gr NULL for forward only. The AVX-512
       strided kernel too when xr is set: 16-bit class planes, all of kind xk (col_rows.h). */
    const void *xr, *pr;
    void *gr;
    int xk, pk, gk;
} softce__col_tile;

typedef void (*softce__col_kernel)(const softce__col_tile *tile);
void softce__col_scalar(const softce__col_tile *tile);
void softce__col_avx2(const softce__col_tile *tile);
void softce__col_avx512(const softce__col_tile *tile);
/* The active column kernel (kernels/dispatch.c). */
softce__col_kernel softce__kernels_col(void);

/* The lse of a row as one double (what callers store), and back for a kernel of type T. */
static inline double softce__lse_value(softce__lse l) { return l.hi + l.lo; }
static inline softce__lse softce__lse_split(double v, int t_is_f64) {
    softce__lse l;
    l.hi = t_is_f64 ? v : (double)(float)v;
    l.lo = t_is_f64 ? 0.0 : v - l.hi;
    return l;
}

/* Scalar tables (kernels/row_scalar.c). */
extern const softce__row_kernels softce__row_scalar_f32;
extern const softce__row_kernels softce__row_scalar_f64;

/* Contiguous row conversions between the 16-bit float types and f32 for the driver's row
   staging (bf16: 1, f16: 0), bit-identical to dtype.c's software conversions: widening exact
   (bf16 by its bits, f16 with a NaN quieted), narrowing to nearest even with a NaN quieted,
   subnormals exact; the MXCSR modes play no part. */
typedef struct softce__convert {
    void (*widen)(int bf16, const void *src, int64_t n, float *dst);
    void (*narrow)(int bf16, const float *src, int64_t n, void *dst);
    /* The f32 table's rescale and then narrow, in one pass: dst_i = narrow(k e_i - w_i (c1 p_i
       + c0)), bit-identical to rescale (w: f32 or NULL; p: f32, or with p16 in dst's 16-bit
       format, widened; or NULL) followed by narrow, e left as it is; NULL where the ISA has
       none (split mode's phase B then runs the two). */
    void (*rescale_narrow)(int bf16, const float *e, const void *p, int p16, const float *w,
                           int64_t n, double k, double c1, double c0, void *dst);
    /* Row mode's fused kernel (the f32 table's fused, t: see below) on a contiguous row of 16-bit
       logits x and soft target p (the same format, or NULL) read in its own loads, e kept in
       the f32 row e (n values), the gradient (out NULL: forward only) written straight into
       the 16-bit out (may be x): bit for bit widening x and p, fused, adding -g spike to the
       gradient at t >= 0 (a hard target) in f32 and narrowing. Returns 0, having written
       nothing, for a row whose max is not finite (fused's scalar rows: stage it). NULL where
       the ISA has none. */
    int (*fused16)(int bf16, const void *x, const void *p, const float *w, int64_t n, double a1,
                   double a0, double spike, double zl, double g, int64_t t, float *e, void *out,
                   softce__lse *lse, double *loss);
    /* Split mode's phase A (the f32 table's fused_sums) on 16-bit logits x and soft target p
       (the same format, or NULL) read in its own loads, w f32 or NULL, the kept e into the f32
       out (or NULL): bit for bit widening x and p and fused_sums, lse in *lse. Returns 0 for a
       chunk with a block whose max is not finite (stage it: fused_sums then rewrites bmax and
       out). NULL where the ISA has none. */
    int (*fused_sums16)(int bf16, const void *x, const void *p, const float *w, int64_t n,
                        double a1, double a0, float *out, softce__lse *lse, double *loss,
                        double *sum_wq, double *bmax);
    /* Row mode's fused_t (the f32 table's; z_at = t for t >= 0, else none) on a contiguous row
       of 16-bit logits x (and soft target p of their format, or NULL; w f32 or NULL) read in
       its own loads, for the rows whose pass 2 keeps z in registers: a softcap of scale 1 in
       the short or polynomial class, or an exact logit_scale alone; with target terms (p, w
       or a0 != 0) only where the table keeps z in registers for them (AVX-512: a row within
       the prefetch budget, cap^2 exact in f32). e and z (n values each) are f32 rows: pass 2
       keeps exp(z - m) (dz) in e and, with target terms, dz in z. The gradient (out NULL:
       forward only) goes straight into the 16-bit out (may be x): bit for bit widening x and
       p, fused_t and narrowing, except out's entry at t >= 0, which the caller writes (the
       entry of fused_t before the caller's own). For t >= 0, *zt = z_t and *e_at = exp(z_t -
       lse) as fused_t's. Returns 0, having written nothing, for any other row (a max that is
       not finite, the general tanh class, another transform): the caller stages it. NULL
       where the ISA has none. */
    int (*fused16_t)(int bf16, const void *x, const void *p, const float *w, int64_t n, double a1,
                     double a0, double spike, double zl, double g, double scale, double cap,
                     int64_t t, float *e, float *z, void *out, float *zt, double *e_at,
                     softce__lse *lse, double *loss);
} softce__convert;

/* The conversions hint the memory one run ahead of what they convert, src + n + i (narrow: dst,
   with write intent), at most SOFTCE__CONVERT_AHEAD values ahead: row mode stages contiguous rows
   one after the other, so that is the next row, on its way while this one is computed (without
   it, staging a bf16 row waited on memory). A hint only: it never faults, changes no value. */
#define SOFTCE__CONVERT_AHEAD ((int64_t)4096)

static inline int64_t softce__convert_ahead(int64_t n) {
    return n < SOFTCE__CONVERT_AHEAD ? n : SOFTCE__CONVERT_AHEAD;
}

/* The address of 16-bit value i of v, on integers (a hint's target may lie past the buffer). */
static inline uintptr_t softce__u16_line(const void *v, int64_t i) {
    return (uintptr_t)v + (uintptr_t)i * 2u;
}

/* The active ISA's conversions; NULL at the scalar level (dtype.c's loops). */
const softce__convert *softce__converters(void);

/* Hard-target runs of stride 1 for the driver's pre-scan: returns how many indices differ from
   `ignore` and sets *bad when one of those is outside [0, C) (C >= 1); the driver's scalar
   loop then finds the first. The same counts as driver.c's loops, vectorised. */
typedef struct softce__index_scan {
    int64_t (*i64)(const int64_t *t, int64_t n, int64_t ignore, int64_t C, int *bad);
    int64_t (*i32)(const int32_t *t, int64_t n, int64_t ignore, int64_t C, int *bad);
} softce__index_scan;

/* The active ISA's index scans; NULL at the scalar level (driver.c's loops). */
const softce__index_scan *softce__index_scans(void);

/* The active tables (kernels/dispatch.c): chosen once from cpuid, SOFTCE_FORCE_ISA overrides. */
const softce__row_kernels *softce__kernels_f32(void);
const softce__row_kernels *softce__kernels_f64(void);
/* The ISA level of the active tables, and its name ("scalar", "avx2", "avx512"). */
softce__isa softce__active_isa(void);
const char *softce__isa_name(softce__isa isa);

#endif
