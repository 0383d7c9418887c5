/*
 * Column kernel compiled with AVX-512 (see src/CMakeLists.txt): hand-written for C <= 64, the
 * portable kernel (col_impl.h) above that. Same math as col_impl.h (docs/numerics.md), but
 * the tile is walked in groups of 16 positions (one vector) through all three passes, so a
 * group's classes are read from the caller once: with a strided class axis of power-of-two
 * stride every class of a group sits in the same cache set, and a second pass over R = 256
 * positions would miss. x (then e) and w q of the group live in small local buffers; two
 * groups go through each pass together (independent latency chains). Row-major operands
 * (softce__col_rows_avx512, col_rows.h; f32, bf16 or f16) are transposed 16 x 16 in registers
 * on the way.
 * Sums of e, w q and w q (m - x) run in float over up to 8 classes, then in double (as the
 * SIMD row kernels' target sums); s = sum e counts the terms at the max (exactly 1) apart and
 * sums the others that way, so s - 1, and with it a small loss, stays accurate when one class
 * dominates; log s is then log1p(s - 1) in float (all 16 lanes at once, <= 1.51 ulp).
 */
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernels/col_rows.h"
#include "kernels/convert_avx512.h"
#include "kernels/exp_avx512.h"
#include "kernels/log_avx512.h"

#define COL_NAME col_portable
#define COL_STORAGE static
#include "kernels/col_impl.h"

#define GROUP 16
#define GROUP_MAX_C 64
_Static_assert(SOFTCE__COL_16BIT_MAX_C <= GROUP_MAX_C, "16-bit planes take the group kernel");
_Static_assert(SOFTCE__COL_ROWS_MAX_C <= GROUP_MAX_C, "row-major rows take the group kernel");
/* Strided class planes: prefetch distance along each plane (positions: 8 lines). */
#define PREFETCH_POSITIONS 128
/* Classes summed in float before a sum moves to double. */
#define FLOAT_RUN 8

#if defined(__GNUC__)
#define GROUP_INLINE static inline __attribute__((always_inline))
#else
#define GROUP_INLINE static inline
#endif

static inline void add_f32_to_f64(__m512d acc[2], __m512 v) {
    acc[0] = _mm512_add_pd(acc[0], _mm512_cvtps_pd(_mm512_castps512_ps256(v)));
    acc[1] = _mm512_add_pd(acc[1], _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1)));
}

static inline __m512d f32_half_to_f64(__m512 v, int half) {
    return _mm512_cvtps_pd(half ? _mm512_extractf32x8_ps(v, 1) : _mm512_castps512_ps256(v));
}

/* Where a group's classes are: class c of its first position at x[c * ldx], etc. */
typedef struct group_io {
    const float *x;
    int64_t ldx;
    const float *p;
    int64_t ldp;
    float *gx;
    int64_t ldg;
    int prefetch; /* strided class planes: prefetch each class's stream ahead */
    int stream;   /* gx by non-temporal stores (a->stream, every group line 64-byte aligned) */
    const uint16_t *xh, *ph; /* k16 (16-bit class planes): x, p and gx are these instead */
    uint16_t *gh;
} group_io;

/* Local [C][16] buffers: x (soft: then e), soft w q or hard e; by rows also p and the
   gradient, for C <= 16 (one 16 x 16 block of classes) ... */
typedef struct group_bufs {
    _Alignas(64) float xb[GROUP_MAX_C * GROUP];
    _Alignas(64) float qb[GROUP_MAX_C * GROUP];
    _Alignas(64) float pb[GROUP * GROUP];
    _Alignas(64) float gb[GROUP * GROUP];
} group_bufs;

/* ... and for wider rows, in buffers of their own (growing pb and gb in group_bufs, whose
   layout the other paths share, made 1048576x10 3-4 % slower). */
typedef struct wide_bufs {
    _Alignas(64) float pb[SOFTCE__COL_ROWS_MAX_C * GROUP];
    _Alignas(64) float gb[SOFTCE__COL_ROWS_MAX_C * GROUP];
} wide_bufs;

typedef struct group_sums {
    __m512 m, wt;             /* row max; hard: the target's class weight */
    __m512d s[2], S[2], U[2]; /* sums of e, w q, w q (m - x): low and high 8 lanes */
} group_sums;

/* The lanes cm of one row (or class plane) of `kind` as f32 lanes, and back (kind a constant
   at each call: GROUP_INLINE). */
GROUP_INLINE __m512 load_row(const char *row, int kind, __mmask16 cm) {
    if (kind == SOFTCE__ROWS_F32)
        return _mm512_maskz_loadu_ps(cm, row);
    const __m256i h = _mm256_maskz_loadu_epi16(cm, row);
    return kind == SOFTCE__ROWS_BF16 ? softce__bf16x16_widen(h) : _mm512_cvtph_ps(h);
}

GROUP_INLINE void store_row(char *row, int kind, __mmask16 cm, __m512 v) {
    if (kind == SOFTCE__ROWS_F32)
        _mm512_mask_storeu_ps(row, cm, v);
    else if (kind == SOFTCE__ROWS_BF16)
        _mm512_mask_cvtepi32_storeu_epi16(row, cm, softce__bf16x16_round(v));
    else
        _mm256_mask_storeu_epi16(row, cm, _mm512_cvtps_ph(v, SOFTCE_F16_RNE));
}

/* Pass 1: max over classes and x into the local buffer; then the hard target's class weight
   by a gather (ignored lanes: 0). */
GROUP_INLINE void group_max(const softce__col_tile *a, const group_io *io, __mmask16 k, __m512i t,
                            __mmask16 counted, float *xb, group_sums *g, const int hard,
                            const int k16) {
    __m512 m = _mm512_set1_ps(-INFINITY), m1 = m; /* two chains: even and odd classes */
    for (int64_t c = 0; c < a->C; c++) {
        if (io->prefetch)
            _mm_prefetch(k16 ? (const char *)(io->xh + c * io->ldx + PREFETCH_POSITIONS)
                             : (const char *)(io->x + c * io->ldx + PREFETCH_POSITIONS),
                         _MM_HINT_T0);
        __m512 v = k16 ? load_row((const char *)(io->xh + c * io->ldx), k16, k)
                       : _mm512_maskz_loadu_ps(k, io->x + c * io->ldx);
        if (c & 1)
            m1 = _mm512_max_ps(v, m1); /* v > m ? v : m, as col_impl.h */
        else
            m = _mm512_max_ps(v, m);
        if (io->x != xb)
            _mm512_store_ps(xb + c * GROUP, v);
    }
    m = _mm512_max_ps(m1, m);
    /* all -inf: exp(-inf - 0) = 0 gives lse = -inf */
    __mmask16 none = _mm512_cmpeq_ps_mask(m, _mm512_set1_ps(-INFINITY));
    g->m = _mm512_mask_mov_ps(m, none, _mm512_setzero_ps());
    if (hard)
        g->wt = a->w ? _mm512_mask_i32gather_ps(_mm512_setzero_ps(), counted, t, a->w, 4)
                     : _mm512_maskz_mov_ps(counted, _mm512_set1_ps(1.0f));
}

/* Pass 2: e = exp(x - m) kept for pass 3 (soft: over x; hard: in qb), s += e, S += w q,
   U += w q (m - x) (terms with w q == 0 skipped); soft w q kept for pass 3. */
GROUP_INLINE void group_sums_pass(const softce__col_tile *a, const group_io *io, __mmask16 k,
                                  float *xb, float *qb, group_sums *g, const int has_p,
                                  const int has_q, const int has_gx, const int k16) {
    const __m512 m = g->m, a1 = _mm512_set1_ps((float)a->a1), a0 = _mm512_set1_ps((float)a->a0);
    /* s = (number of x == m, each e = 1 exactly) + the other terms: summing those alone in
       float keeps s - 1 accurate when one class dominates (log s small, the loss too) */
    __m512 sf = _mm512_setzero_ps(), Sf = sf, Uf = sf, others = sf;
    __m512d s[2], S[2], U[2];
    for (int d = 0; d < 2; d++)
        s[d] = S[d] = U[d] = _mm512_setzero_pd();
    for (int64_t c = 0; c < a->C; c++) {
        __m512 x = _mm512_load_ps(xb + c * GROUP);
        __m512 e = softce__exp_le89_f32x16(_mm512_sub_ps(x, m)); /* x - m <= 0 or NaN */
        if (has_gx) /* for pass 3; hard: beside x, which group_finish still reads */
            _mm512_store_ps((has_p ? xb : qb) + c * GROUP, e);
        __mmask16 below = _mm512_cmp_ps_mask(x, m, _CMP_NEQ_UQ); /* x != m or NaN */
        others = _mm512_mask_add_ps(others, below, others, _mm512_set1_ps(1.0f));
        sf = _mm512_mask_add_ps(sf, below, sf, e);
        if (has_q) {
            const __m512 wc = _mm512_set1_ps(a->w ? a->w[c] : 1.0f);
            __m512 wq = a->w ? _mm512_mul_ps(wc, a0) : a0;
            if (has_p) {
                if (io->prefetch)
                    _mm_prefetch(k16 ? (const char *)(io->ph + c * io->ldp + PREFETCH_POSITIONS)
                                     : (const char *)(io->p + c * io->ldp + PREFETCH_POSITIONS),
                                 _MM_HINT_T0);
                __m512 p = k16 ? load_row((const char *)(io->ph + c * io->ldp), k16, k)
                               : _mm512_maskz_loadu_ps(k, io->p + c * io->ldp);
                wq = _mm512_fmadd_ps(a1, p, a0);
                wq = a->w ? _mm512_mul_ps(wc, wq) : wq;
                if (has_gx)
                    _mm512_store_ps(qb + c * GROUP, wq);
            }
            __mmask16 nz = _mm512_cmp_ps_mask(wq, _mm512_setzero_ps(), _CMP_NEQ_UQ);
            Sf = _mm512_add_ps(Sf, wq);
            Uf = _mm512_add_ps(Uf, _mm512_maskz_mul_ps(nz, wq, _mm512_sub_ps(m, x)));
        }
        if (c % FLOAT_RUN == FLOAT_RUN - 1 || c == a->C - 1) {
            add_f32_to_f64(s, sf);
            sf = _mm512_setzero_ps();
            if (has_q) {
                add_f32_to_f64(S, Sf);
                add_f32_to_f64(U, Uf);
                Sf = Uf = _mm512_setzero_ps();
            }
        }
    }
    /* m = +inf: exp(x - m) is NaN at the max, so is s */
    __mmask16 inf = _mm512_cmpeq_ps_mask(m, _mm512_set1_ps(INFINITY));
    const __m512 nmax = _mm512_sub_ps(_mm512_set1_ps((float)a->C), others); /* exact */
    add_f32_to_f64(s, _mm512_mask_mov_ps(nmax, inf, _mm512_set1_ps(NAN)));
    for (int d = 0; d < 2; d++) {
        g->s[d] = s[d];
        g->S[d] = S[d];
        g->U[d] = U[d];
    }
}

/* Per lane: lse and loss (stored; hard: x_t gathered from x), the spike at t (w_t (1 - eps),
   0 if ignored) and the gradient scale g (S + spike) / s. */
GROUP_INLINE void group_finish(const softce__col_tile *a, int64_t r, __mmask16 k, __m512i t,
                               __mmask16 counted, const float *xb, const group_sums *g,
                               __m512 *spike, __m512 *scale, const int hard, const int has_gx) {
    const __m512 sp = hard ? _mm512_maskz_mul_ps(counted, _mm512_set1_ps((float)a->spike), g->wt)
                           : _mm512_setzero_ps();
    __m512 xt = _mm512_setzero_ps();
    if (hard) { /* the target's logit, gathered here: right after pass 1's stores a gather
                   waits for them to reach L1 */
        const __m512i lane = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
        __m512i at = _mm512_add_epi32(_mm512_slli_epi32(t, 4), lane); /* xb[t * 16 + lane] */
        xt = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), counted, at, xb, 4);
    }
    const __m512d one = _mm512_set1_pd(1.0);
    const __m512 logs = softce__log1p_f32x16(
        _mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps(_mm512_sub_pd(g->s[0], one))),
                           _mm512_cvtpd_ps(_mm512_sub_pd(g->s[1], one)), 1));
    __m256 num[2], den[2];
    for (int d = 0; d < 2; d++) {
        const __mmask8 kd = (__mmask8)(k >> (8 * d)), cd = (__mmask8)(counted >> (8 * d));
        __m512d ls = f32_half_to_f64(logs, d), m = f32_half_to_f64(g->m, d);
        __m512d loss = _mm512_add_pd(
            _mm512_maskz_mul_pd(_mm512_cmp_pd_mask(g->S[d], _mm512_setzero_pd(), _CMP_NEQ_UQ),
                                g->S[d], ls),
            g->U[d]);
        if (hard) { /* sp ((m - x_t) + log s): keeps log s also when |m| >> 1e16 */
            __m512d spd = f32_half_to_f64(sp, d);
            __m512d dx = _mm512_add_pd(_mm512_sub_pd(m, f32_half_to_f64(xt, d)), ls);
            __mmask8 nz = _mm512_cmp_pd_mask(spd, _mm512_setzero_pd(), _CMP_NEQ_UQ);
            loss = _mm512_add_pd(loss, _mm512_maskz_mul_pd(nz, spd, dx));
            loss = _mm512_maskz_mov_pd(cd, loss);
        }
        _mm512_mask_storeu_pd(a->lse + r + 8 * d, kd, _mm512_add_pd(m, ls));
        _mm512_mask_storeu_pd(a->loss + r + 8 * d, kd, loss);
        if (has_gx) {
            __m512d gg = _mm512_maskz_loadu_pd(kd, a->g + r + 8 * d);
            __m512d sw = hard ? _mm512_add_pd(g->S[d], f32_half_to_f64(sp, d)) : g->S[d];
            num[d] = _mm512_cvtpd_ps(_mm512_mul_pd(gg, sw));
            den[d] = _mm512_cvtpd_ps(g->s[d]);
        }
    }
    *spike = sp;
    if (has_gx)
        *scale = _mm512_div_ps(_mm512_insertf32x8(_mm512_castps256_ps512(num[0]), num[1], 1),
                               _mm512_insertf32x8(_mm512_castps256_ps512(den[0]), den[1], 1));
}

/* Pass 3: gx = scale e - g w q, minus g spike at c == t (hard), 0 for ignored lanes. */
GROUP_INLINE void group_grad(const softce__col_tile *a, int64_t r, const group_io *io, __mmask16 k,
                             __m512i t, __mmask16 counted, const float *xb, const float *qb,
                             __m512 sp, __m512 sc, const int has_p, const int has_q,
                             const int k16) {
    __m256 lo = _mm512_cvtpd_ps(_mm512_maskz_loadu_pd((__mmask8)k, a->g + r));
    __m256 hi = _mm512_cvtpd_ps(_mm512_maskz_loadu_pd((__mmask8)(k >> 8), a->g + r + 8));
    const __m512 gf = _mm512_insertf32x8(_mm512_castps256_ps512(lo), hi, 1);
    const __m512 gsp = _mm512_mul_ps(gf, sp), a0 = _mm512_set1_ps((float)a->a0);
    for (int64_t c = 0; c < a->C; c++) {
        if (io->prefetch && !io->stream)
            _m_prefetchw(k16 ? (void *)(io->gh + c * io->ldg + PREFETCH_POSITIONS)
                             : (void *)(io->gx + c * io->ldg + PREFETCH_POSITIONS));
        __m512 v = _mm512_maskz_mul_ps(counted, sc, _mm512_load_ps((has_p ? xb : qb) + c * GROUP));
        if (has_q) {
            __m512 wq = has_p ? _mm512_load_ps(qb + c * GROUP)
                              : _mm512_mul_ps(_mm512_set1_ps(a->w ? a->w[c] : 1.0f), a0);
            v = _mm512_fnmadd_ps(gf, wq, v);
        }
        if (!has_p) {
            __mmask16 here = _mm512_cmpeq_epi32_mask(t, _mm512_set1_epi32((int32_t)c));
            v = _mm512_mask_sub_ps(v, here, v, gsp);
        }
        if (has_q && !has_p) /* ignored hard lanes: 0 */
            v = _mm512_maskz_mov_ps(counted, v);
        if (k16)
            store_row((char *)(io->gh + c * io->ldg), k16, k, v);
        else if (io->stream && k == 0xffff) /* a whole line: written without reading it first */
            _mm512_stream_ps(io->gx + c * io->ldg, v);
        else
            _mm512_mask_storeu_ps(io->gx + c * io->ldg, k, v);
    }
}

static void rows_to_group(const void *base, int kind, int64_t r, int64_t ld, int64_t C, int64_t n,
                          float *buf);
static void group_to_rows(const float *buf, int64_t C, int64_t n, void *base, int kind, int64_t r,
                          int64_t ld);
static void rows_to_group_wide(const void *base, int kind, int64_t r, int64_t ld, int64_t C,
                               int64_t n, float *buf);
static void group_to_rows_wide(const float *buf, int64_t C, int64_t n, void *base, int kind,
                               int64_t r, int64_t ld);

/* Two groups (positions r .. r + n0 + n1, n1 possibly 0) through the three passes, phase by
   phase, so that the latency chains of one group (max, sums, log) overlap with the other's
   work. Soft iff has_p (else hard). Row-major operands (by_rows: a->xr, a->pr, a->gr, class
   stride 1, positions a->ldx apart) are transposed in registers into [C][16] buffers first (and
   the gradient back out of one). Lanes past n are masked: nothing is read or written there. */
#define PAIR 2
GROUP_INLINE void group_run(const softce__col_tile *a, int64_t r0, int64_t n0, int64_t n1,
                            group_bufs *bufs, wide_bufs *wide, const int has_p, const int has_q,
                            const int has_gx, const int by_rows, const int k16) {
    const int hard = !has_p;
    __mmask16 k[PAIR], counted[PAIR];
    __m512i t[PAIR];
    group_io io[PAIR];
    group_sums g[PAIR];
    __m512 sp[PAIR], sc[PAIR];
    for (int j = 0; j < PAIR; j++) {
        const int64_t r = r0 + j * GROUP, n = j ? n1 : n0;
        group_bufs *b = &bufs[j];
        k[j] = (__mmask16)(n >= GROUP ? 0xffff : (1u << n) - 1u);
        t[j] = hard ? _mm512_mask_loadu_epi32(_mm512_set1_epi32(-1), k[j], a->t + r)
                    : _mm512_setzero_si512();
        counted[j] = hard ? _mm512_cmpge_epi32_mask(t[j], _mm512_setzero_si512()) : k[j];
        sc[j] = _mm512_setzero_ps();
        if (by_rows) { /* wide (NULL or not, a constant): C > 16, several blocks of classes */
            float *pb = wide ? wide[j].pb : b->pb, *gb = wide ? wide[j].gb : b->gb;
            if (wide)
                rows_to_group_wide(a->xr, a->xk, r, a->ldx, a->C, n, b->xb);
            else
                rows_to_group(a->xr, a->xk, r, a->ldx, a->C, n, b->xb);
            io[j] = (group_io){b->xb, GROUP, NULL, GROUP, gb, GROUP, 0, 0, NULL, NULL, NULL};
            if (has_p && wide)
                rows_to_group_wide(a->pr, a->pk, r, a->ldp, a->C, n, pb);
            else if (has_p)
                rows_to_group(a->pr, a->pk, r, a->ldp, a->C, n, pb);
            io[j].p = has_p ? pb : NULL;
        } else if (k16) { /* 16-bit class planes (softce__col_avx512) */
            group_io d = {NULL, a->ldx, NULL, a->ldp, NULL, a->ldg, 1, 0, NULL, NULL, NULL};
            d.xh = (const uint16_t *)a->xr + r;
            if (has_p)
                d.ph = (const uint16_t *)a->pr + r;
            if (has_gx)
                d.gh = (uint16_t *)a->gr + r;
            io[j] = d;
        } else {
            group_io d = {a->x + r, a->ldx, NULL, a->ldp, NULL, a->ldg, 1, 0, NULL, NULL, NULL};
            if (has_p)
                d.p = a->p + r;
            if (has_gx) {
                d.gx = a->gx + r;
                d.stream = a->stream && a->ldg % GROUP == 0 && ((uintptr_t)d.gx & 63) == 0;
            }
            io[j] = d;
        }
    }
    for (int j = 0; j < PAIR; j++)
        group_max(a, &io[j], k[j], t[j], counted[j], bufs[j].xb, &g[j], hard, k16);
    for (int j = 0; j < PAIR; j++)
        group_sums_pass(a, &io[j], k[j], bufs[j].xb, bufs[j].qb, &g[j], has_p, has_q, has_gx, k16);
    for (int j = 0; j < PAIR; j++)
        group_finish(a, r0 + j * GROUP, k[j], t[j], counted[j], bufs[j].xb, &g[j], &sp[j], &sc[j], hard, has_gx);
    if (!has_gx)
        return;
    for (int j = 0; j < PAIR; j++) {
        group_grad(a, r0 + j * GROUP, &io[j], k[j], t[j], counted[j], bufs[j].xb, bufs[j].qb, sp[j],
                   sc[j], has_p, has_q, k16);
        if (by_rows && wide)
            group_to_rows_wide(wide[j].gb, a->C, j ? n1 : n0, a->gr, a->gk, r0 + j * GROUP, a->ldg);
        else if (by_rows)
            group_to_rows(bufs[j].gb, a->C, j ? n1 : n0, a->gr, a->gk, r0 + j * GROUP, a->ldg);
    }
}

/* w: row-major rows of C > 16 (their p and gradient buffers), else NULL (a constant). */
GROUP_INLINE void groups_in(const softce__col_tile *a, group_bufs *b, wide_bufs *w, const int has_p,
                            const int has_q, const int has_gx, const int by_rows, const int k16) {
    for (int j = 0; by_rows && j < PAIR; j++) { /* its classes >= C are read, never used */
        if (w)
            memset(w[j].gb, 0, sizeof w[j].gb);
        else
            memset(b[j].gb, 0, sizeof b[j].gb);
    }
    for (int64_t r = 0; r < a->R; r += PAIR * GROUP) {
        int64_t left = a->R - r;
        int64_t n0 = left < GROUP ? left : GROUP, n1 = left - n0 < GROUP ? left - n0 : GROUP;
        group_run(a, r, n0, n1, b, w, has_p, has_q, has_gx, by_rows, k16);
    }
}

GROUP_INLINE void groups(const softce__col_tile *a, const int has_p, const int has_q,
                         const int has_gx, const int by_rows, const int k16, const int wide) {
    group_bufs b[PAIR];
    if (wide) {
        wide_bufs w[PAIR];
        groups_in(a, b, w, has_p, has_q, has_gx, by_rows, k16);
    } else {
        groups_in(a, b, NULL, has_p, has_q, has_gx, by_rows, k16);
    }
}

/* Flags as compile-time constants of each instantiation (by_rows: the row-major operands; k16:
   16-bit class planes of that kind at xr, pr and gr). */
GROUP_INLINE void groups_as(const softce__col_tile *a, const int by_rows, const int k16,
                            const int wide) {
    const int gx = (by_rows || k16 ? a->gr : a->gx) != NULL;
    if (by_rows || k16 ? a->pr != NULL : a->p != NULL)
        gx ? groups(a, 1, 1, 1, by_rows, k16, wide) : groups(a, 1, 1, 0, by_rows, k16, wide);
    else if (a->a0 != 0.0)
        gx ? groups(a, 0, 1, 1, by_rows, k16, wide) : groups(a, 0, 1, 0, by_rows, k16, wide);
    else
        gx ? groups(a, 0, 0, 1, by_rows, k16, wide) : groups(a, 0, 0, 0, by_rows, k16, wide);
}

static void groups_any(const softce__col_tile *a, const int by_rows) {
    groups_as(a, by_rows, 0, 0);
}

/* Row-major rows of 16 < C <= SOFTCE__COL_ROWS_MAX_C, apart from the narrow instances. */
static void groups_rows_wide(const softce__col_tile *a) { groups_as(a, 1, 0, 1); }

/* 16-bit class planes, apart from the f32 instances (their code does not change with these). */
static void groups_16bit(const softce__col_tile *a) {
    if (a->xk == SOFTCE__ROWS_BF16)
        groups_as(a, 0, SOFTCE__ROWS_BF16, 0);
    else
        groups_as(a, 0, SOFTCE__ROWS_F16, 0);
}

void softce__col_avx512(const softce__col_tile *a) {
    if (a->xr) { /* 16-bit class planes: C <= SOFTCE__COL_16BIT_MAX_C (tiles.c) */
        groups_16bit(a);
    } else if (a->C > GROUP_MAX_C) {
        col_portable(a);
    } else {
        groups_any(a, 0);
        if (a->stream) /* the non-temporal stores ordered before what follows */
            _mm_sfence();
    }
}

void softce__col_rows_avx512(const softce__col_tile *a) {
    if (a->C > GROUP)
        groups_rows_wide(a);
    else
        groups_any(a, 1);
}

/* ---- row-major operands: 16 x 16 transposes in registers ---------------------------- */

/* r[i] = row i (16 floats) -> r[j] = column j, in registers (4 stages of 16 shuffles). */
static inline void transpose16(__m512 r[16]) {
    __m512 t[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) { /* lane L of r[4i + j]: column 4L + j of rows 4i..4i+3 */
        __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 1]);
        __m512d c = _mm512_castps_pd(t[4 * i + 2]), d = _mm512_castps_pd(t[4 * i + 3]);
        r[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
        r[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
        r[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
        r[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
    }
    for (int j = 0; j < 4; j++) {
        t[j] = _mm512_shuffle_f32x4(r[j], r[4 + j], 0x88);
        t[4 + j] = _mm512_shuffle_f32x4(r[j], r[4 + j], 0xdd);
        t[8 + j] = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0x88);
        t[12 + j] = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0xdd);
    }
    for (int j = 0; j < 4; j++) {
        r[j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0x88);
        r[8 + j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0xdd);
        r[4 + j] = _mm512_shuffle_f32x4(t[4 + j], t[12 + j], 0x88);
        r[12 + j] = _mm512_shuffle_f32x4(t[4 + j], t[12 + j], 0xdd);
    }
}

/* The rows are read as one stream, every byte used: prefetch this far ahead of it (memory
   latency is not hidden otherwise, the kernel between two tiles being compute only). */
#define ROWS_PREFETCH 4096

/* n rows of `ld` bytes from `from`. Always inlined: GCC 12 drops calls to a function whose
   only effect is a prefetch (docs/performance-log.md), and kept this one out of line. */
GROUP_INLINE void prefetch_rows(const char *from, int64_t ld, int64_t n, int write) {
    const char *b = from + ROWS_PREFETCH, *e = b + n * ld;
    for (; b < e; b += 64)
        write ? _m_prefetchw((void *)b) : _mm_prefetch(b, _MM_HINT_T0);
}

/* Bytes per element of `kind`. */
static inline int64_t kind_size(int kind) { return kind == SOFTCE__ROWS_F32 ? 4 : 2; }

/* Row r of a row-major operand of `kind` (rows ld elements apart), and its row pitch in bytes. */
static inline char *row_at(const void *base, int kind, int64_t r, int64_t ld, int64_t *pitch) {
    *pitch = ld * kind_size(kind);
    return (char *)base + r * *pitch;
}

/* One 16 x 16 block: classes cm of 16 (n) rows `pitch` bytes apart into buf[c * 16 + i] (all
   16 classes stored: the buffers have room; a loop to C became a memcpy); dead rows are zeros. */
GROUP_INLINE void block_to_group(const char *rows, int64_t pitch, const int kind, __mmask16 cm,
                                 int64_t n, float *buf) {
    __m512 v[GROUP];
    for (int i = 0; i < GROUP; i++)
        v[i] = i < n ? load_row(rows + i * pitch, kind, cm) : _mm512_setzero_ps();
    transpose16(v);
    for (int c = 0; c < GROUP; c++)
        _mm512_store_ps(buf + c * GROUP, v[c]);
}

/* And back: buf[c * 16 + i] into the classes cm of n rows (classes outside cm never stored). */
GROUP_INLINE void group_to_block(const float *buf, char *rows, int64_t pitch, const int kind,
                                 __mmask16 cm, int64_t n) {
    __m512 v[GROUP];
    for (int c = 0; c < GROUP; c++)
        v[c] = _mm512_load_ps(buf + c * GROUP);
    transpose16(v);
    for (int64_t i = 0; i < n; i++)
        store_row(rows + i * pitch, kind, cm, v[i]);
}

/* The classes c0.. of a block of 16 (the row's last block: fewer). */
static inline __mmask16 class_block_mask(int64_t C, int64_t c0) {
    return (__mmask16)(C - c0 >= GROUP ? 0xffffu : (1u << (C - c0)) - 1u);
}

/* 16 (n) rows r.. of a row-major operand of C classes into buf[c * 16 + i]; dead rows are
   zeros. One instance per kind (GROUP_INLINE: kind a constant). */
GROUP_INLINE void rows_to_group_as(const void *base, const int kind, int64_t r, int64_t ld,
                                   int64_t C, int64_t n, float *buf) {
    const __mmask16 cm = (__mmask16)((1u << C) - 1u);
    int64_t pitch;
    const char *rows = row_at(base, kind, r, ld, &pitch);
    prefetch_rows(rows, pitch, n, 0);
    block_to_group(rows, pitch, kind, cm, n, buf);
}

static void rows_to_group(const void *base, int kind, int64_t r, int64_t ld, int64_t C, int64_t n,
                          float *buf) {
    if (kind == SOFTCE__ROWS_F32)
        rows_to_group_as(base, SOFTCE__ROWS_F32, r, ld, C, n, buf);
    else if (kind == SOFTCE__ROWS_BF16)
        rows_to_group_as(base, SOFTCE__ROWS_BF16, r, ld, C, n, buf);
    else
        rows_to_group_as(base, SOFTCE__ROWS_F16, r, ld, C, n, buf);
}

/* buf[c * 16 + i] back into n rows r.. of a row-major operand of C classes (one instance per
   kind). */
GROUP_INLINE void group_to_rows_as(const float *buf, int64_t C, int64_t n, void *base,
                                   const int kind, int64_t r, int64_t ld) {
    const __mmask16 cm = (__mmask16)((1u << C) - 1u);
    int64_t pitch;
    char *rows = row_at(base, kind, r, ld, &pitch);
    prefetch_rows(rows, pitch, n, 1);
    group_to_block(buf, rows, pitch, kind, cm, n);
}

static void group_to_rows(const float *buf, int64_t C, int64_t n, void *base, int kind, int64_t r,
                          int64_t ld) {
    if (kind == SOFTCE__ROWS_F32)
        group_to_rows_as(buf, C, n, base, SOFTCE__ROWS_F32, r, ld);
    else if (kind == SOFTCE__ROWS_BF16)
        group_to_rows_as(buf, C, n, base, SOFTCE__ROWS_BF16, r, ld);
    else
        group_to_rows_as(buf, C, n, base, SOFTCE__ROWS_F16, r, ld);
}

/* Rows of C > 16 classes: the same, a 16 x 16 block of classes at a time (one instance per
   kind); buf has room for every block's 16 classes. */
GROUP_INLINE void rows_to_group_wide_as(const void *base, const int kind, int64_t r, int64_t ld,
                                        int64_t C, int64_t n, float *buf) {
    int64_t pitch;
    const char *rows = row_at(base, kind, r, ld, &pitch);
    const int64_t size = kind_size(kind);
    prefetch_rows(rows, pitch, n, 0);
    for (int64_t c0 = 0; c0 < C; c0 += GROUP)
        block_to_group(rows + c0 * size, pitch, kind, class_block_mask(C, c0), n, buf + c0 * GROUP);
}

GROUP_INLINE void group_to_rows_wide_as(const float *buf, int64_t C, int64_t n, void *base,
                                        const int kind, int64_t r, int64_t ld) {
    int64_t pitch;
    char *rows = row_at(base, kind, r, ld, &pitch);
    const int64_t size = kind_size(kind);
    prefetch_rows(rows, pitch, n, 1);
    for (int64_t c0 = 0; c0 < C; c0 += GROUP)
        group_to_block(buf + c0 * GROUP, rows + c0 * size, pitch, kind, class_block_mask(C, c0), n);
}

static void rows_to_group_wide(const void *base, int kind, int64_t r, int64_t ld, int64_t C,
                               int64_t n, float *buf) {
    if (kind == SOFTCE__ROWS_F32)
        rows_to_group_wide_as(base, SOFTCE__ROWS_F32, r, ld, C, n, buf);
    else if (kind == SOFTCE__ROWS_BF16)
        rows_to_group_wide_as(base, SOFTCE__ROWS_BF16, r, ld, C, n, buf);
    else
        rows_to_group_wide_as(base, SOFTCE__ROWS_F16, r, ld, C, n, buf);
}

static void group_to_rows_wide(const float *buf, int64_t C, int64_t n, void *base, int kind,
                               int64_t r, int64_t ld) {
    if (kind == SOFTCE__ROWS_F32)
        group_to_rows_wide_as(buf, C, n, base, SOFTCE__ROWS_F32, r, ld);
    else if (kind == SOFTCE__ROWS_BF16)
        group_to_rows_wide_as(buf, C, n, base, SOFTCE__ROWS_BF16, r, ld);
    else
        group_to_rows_wide_as(buf, C, n, base, SOFTCE__ROWS_F16, r, ld);
}
