/*
 * Column kernel compiled with AVX2+FMA (see src/CMakeLists.txt): hand-written for C <= 64, the
 * portable kernel (col_impl.h) above that. The design of col_avx512.c with 8-lane vectors: the
 * tile is walked in groups of 8 positions through all three passes (a group's classes are read
 * from the caller once), x (then e) and w q of a group live in small local buffers, two groups
 * go through each pass together. Row-major f32 operands (softce__col_rows_avx2, col_rows.h) are
 * transposed 8 x 8 in registers on the way; 16-bit operands are not read here (tiles.c gathers
 * them into f32 tiles).
 * The same math and summation order as col_avx512.c per position (docs/numerics.md): sums of
 * e, w q and w q (m - x) in float over up to 8 classes, then in double; s counts the terms at
 * the max (exactly 1) apart; log s = log1p(s - 1) in float (log_avx2.h).
 * Masked lanes (positions past the tile's end, classes past C) are never read or written.
 */
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernels/col_rows.h"
#include "kernels/exp_avx2.h"
#include "kernels/log_avx2.h"

#define COL_NAME col_portable
#define COL_STORAGE static
#include "kernels/col_impl.h"

#define GROUP 8
#define GROUP_MAX_C 64
_Static_assert(SOFTCE__COL_ROWS_MAX_C <= GROUP_MAX_C, "row-major rows take the group kernel");
/* Strided class planes: prefetch distance along each plane, in positions: the next pair's line.
   Farther (128 positions, as col_avx512.c) measured 5-9 % slower on 8x21x256x256 (AMD Zen 3,
   one thread, alternating calls): the lines of all classes at one position share a cache set,
   so lines fetched several pairs ahead are evicted before they are used. */
#define PREFETCH_POSITIONS 16
/* Classes summed in float before a sum moves to double. */
#define FLOAT_RUN 8

#if defined(__GNUC__)
#define GROUP_INLINE static inline __attribute__((always_inline))
#else
#define GROUP_INLINE static inline
#endif

static inline void add_f32_to_f64(__m256d acc[2], __m256 v) {
    acc[0] = _mm256_add_pd(acc[0], _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
    acc[1] = _mm256_add_pd(acc[1], _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
}

static inline __m256d f32_half_to_f64(__m256 v, int half) {
    return _mm256_cvtps_pd(half ? _mm256_extractf128_ps(v, 1) : _mm256_castps256_ps128(v));
}

/* All-ones in the lanes i < n (n <= 8). */
static inline __m256i lanes_below(int64_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int32_t)n),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
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
    int stream;   /* gx by non-temporal stores (a->stream, a pair's line 64-byte aligned) */
} group_io;

/* Local [C][8] buffers: x (soft: then e), soft w q or hard e; by rows also p and the
   gradient. */
typedef struct group_bufs {
    _Alignas(32) float xb[GROUP_MAX_C * GROUP];
    _Alignas(32) float qb[GROUP_MAX_C * GROUP];
    _Alignas(32) float pb[GROUP_MAX_C * GROUP];
    _Alignas(32) float gb[GROUP_MAX_C * GROUP];
} group_bufs;

typedef struct group_sums {
    __m256 m, wt;             /* row max; hard: the target's class weight */
    __m256d s[2], S[2], U[2]; /* sums of e, w q, w q (m - x): low and high 4 lanes */
} group_sums;

/* The n (<= 8) lanes of a group at v: all 8 by a plain load when n == 8 (full, a constant
   at most calls), else masked (the rest 0). */
GROUP_INLINE __m256 load_lanes(const float *v, int full, __m256i k) {
    return full ? _mm256_loadu_ps(v) : _mm256_maskload_ps(v, k);
}

GROUP_INLINE void store_lanes(float *v, int full, __m256i k, __m256 x) {
    if (full)
        _mm256_storeu_ps(v, x);
    else
        _mm256_maskstore_ps(v, k, x);
}

/* Both groups of a pair go through each pass class by class: with class planes a power of two
   apart (N, C, H, W) every class of a group sits in the same cache set, and a group of 8 is
   half a line; walking the two halves of a line together reads it once per pass, where one
   group after the other found it evicted (8-way L1 and L2). */
#define PAIR 2

/* Pass 1, one class: m = max(x, m) for both groups, x into the local buffers; lo = min(x, lo)
   (NaN skipped) and, with has_q, z += 0 x (NaN, and sticky, for a NaN or infinite x): what
   pair_sums' fast way needs to know. */
GROUP_INLINE void pair_max_class(const group_io *io, const int *full, const __m256i *k,
                                 group_bufs *b, int64_t c, __m256 *m, __m256 *lo, __m256 *z,
                                 const int by_rows, const int has_q) {
    if (!by_rows) /* class planes */
        _mm_prefetch((const char *)(io[0].x + c * io[0].ldx + PREFETCH_POSITIONS), _MM_HINT_T0);
    for (int j = 0; j < PAIR; j++) {
        float *xb = b[j].xb; /* by rows: x is already there */
        __m256 v = by_rows ? _mm256_load_ps(xb + c * GROUP)
                           : load_lanes(io[j].x + c * io[j].ldx, full[j], k[j]);
        m[j] = _mm256_max_ps(v, m[j]); /* v > m ? v : m, as col_impl.h */
        lo[j] = _mm256_min_ps(v, lo[j]);
        if (has_q)
            z[j] = _mm256_fmadd_ps(v, _mm256_setzero_ps(), z[j]);
        if (!by_rows)
            _mm256_store_ps(xb + c * GROUP, v);
    }
}

/* x - m of every class is at least this for pair_sums' fast way: in the range of the exp
   without its flush ([-87.3, 0]), and finite. */
#define FAST_RANGE (-87.25f)

/* Pass 1: max over classes and x into the local buffers; then the hard target's class weight
   by a gather (ignored lanes: 0). Returns 1 if pair_sums may take its fast way: in every lane
   of both groups (dead lanes read 0) every x - m >= FAST_RANGE and, with has_q, no x NaN or
   infinite. */
GROUP_INLINE int pair_max(const softce__col_tile *a, const group_io *io, const int *full,
                          const __m256i *k, const __m256i *t, const __m256 *counted, group_bufs *b,
                          group_sums *g, const int hard, const int by_rows, const int has_q) {
    __m256 m[PAIR], m1[PAIR]; /* two chains each: even and odd classes */
    __m256 lo[PAIR], z[PAIR];
    for (int j = 0; j < PAIR; j++) {
        m[j] = m1[j] = _mm256_set1_ps(-INFINITY);
        lo[j] = _mm256_set1_ps(INFINITY);
        z[j] = _mm256_setzero_ps();
    }
    int64_t c = 0;
    for (; c + 1 < a->C; c += 2) {
        pair_max_class(io, full, k, b, c, m, lo, z, by_rows, has_q);
        pair_max_class(io, full, k, b, c + 1, m1, lo, z, by_rows, has_q);
    }
    if (c < a->C)
        pair_max_class(io, full, k, b, c, m, lo, z, by_rows, has_q);
    int fast = 1;
    for (int j = 0; j < PAIR; j++) {
        __m256 mj = _mm256_max_ps(m1[j], m[j]);
        /* all -inf: exp(-inf - 0) = 0 gives lse = -inf */
        __m256 none = _mm256_cmp_ps(mj, _mm256_set1_ps(-INFINITY), _CMP_EQ_OQ);
        g[j].m = _mm256_andnot_ps(none, mj);
        __m256 ok = _mm256_cmp_ps(_mm256_sub_ps(lo[j], g[j].m), _mm256_set1_ps(FAST_RANGE),
                                  _CMP_GE_OQ); /* false for NaN: an all -inf or +inf lane */
        if (has_q)
            ok = _mm256_and_ps(ok, _mm256_cmp_ps(z[j], _mm256_setzero_ps(), _CMP_EQ_OQ));
        fast &= _mm256_movemask_ps(ok) == 0xff;
        if (hard)
            g[j].wt = a->w
                          ? _mm256_mask_i32gather_ps(_mm256_setzero_ps(), a->w, t[j], counted[j], 4)
                          : _mm256_and_ps(counted[j], _mm256_set1_ps(1.0f));
    }
    return fast;
}

/* Pass 2: e = exp(x - m) kept for pass 3 (soft: over x; hard: in qb), s += e, S += w q,
   U += w q (m - x) (terms with w q == 0 skipped); soft w q kept for pass 3. fast (pair_max's
   verdict, a constant of the copy): the exp without its flush, and U less w q (x - m) from
   the exp's own x - m, unmasked (no x is -inf or NaN): the same values, fewer operations. */
GROUP_INLINE void pair_sums(const softce__col_tile *a, const group_io *io, const int *full,
                            const __m256i *k, group_bufs *b, group_sums *g, const int has_p,
                            const int has_q, const int has_gx, const int fast) {
    const __m256 a1 = _mm256_set1_ps((float)a->a1), a0 = _mm256_set1_ps((float)a->a0);
    /* s = (number of x == m, each e = 1 exactly) + the other terms */
    __m256 sf[PAIR], Sf[PAIR], Uf[PAIR];
    __m256i others[PAIR]; /* lanes x != m counted: minus the all-ones compare masks */
    for (int j = 0; j < PAIR; j++) {
        sf[j] = Sf[j] = Uf[j] = _mm256_setzero_ps();
        others[j] = _mm256_setzero_si256();
        for (int d = 0; d < 2; d++)
            g[j].s[d] = g[j].S[d] = g[j].U[d] = _mm256_setzero_pd();
    }
    for (int64_t c0 = 0; c0 < a->C; c0 += FLOAT_RUN) {
        const int64_t c1 = a->C - c0 > FLOAT_RUN ? c0 + FLOAT_RUN : a->C;
        for (int64_t c = c0; c < c1; c++) {
            const __m256 wc = _mm256_set1_ps(a->w ? a->w[c] : 1.0f);
            if (has_p && io[0].prefetch)
                _mm_prefetch((const char *)(io[0].p + c * io[0].ldp + PREFETCH_POSITIONS),
                             _MM_HINT_T0);
            for (int j = 0; j < PAIR; j++) {
                float *xb = b[j].xb, *qb = b[j].qb;
                const __m256 m = g[j].m;
                __m256 x = _mm256_load_ps(xb + c * GROUP), xm = _mm256_sub_ps(x, m);
                __m256 e = fast ? softce__exp_in_f32x8(xm)    /* x - m >= FAST_RANGE */
                                : softce__exp_le88_f32x8(xm); /* x - m <= 0 or NaN */
                if (has_gx) /* for pass 3; hard: beside x, which group_finish still reads */
                    _mm256_store_ps((has_p ? xb : qb) + c * GROUP, e);
                __m256 below = _mm256_cmp_ps(x, m, _CMP_NEQ_UQ); /* x != m or NaN */
                others[j] = _mm256_sub_epi32(others[j], _mm256_castps_si256(below));
                sf[j] = _mm256_add_ps(sf[j], _mm256_and_ps(below, e));
                if (has_q) {
                    /* w_c q (wc = 1 without class weights: the product is exact) */
                    __m256 wq = _mm256_mul_ps(wc, a0);
                    if (has_p) {
                        __m256 p = load_lanes(io[j].p + c * io[j].ldp, full[j], k[j]);
                        wq = _mm256_mul_ps(wc, _mm256_fmadd_ps(a1, p, a0));
                        if (has_gx)
                            _mm256_store_ps(qb + c * GROUP, wq);
                    }
                    Sf[j] = _mm256_add_ps(Sf[j], wq);
                    if (fast) { /* the product's sign flipped exactly */
                        Uf[j] = _mm256_sub_ps(Uf[j], _mm256_mul_ps(wq, xm));
                    } else {
                        __m256 nz = _mm256_cmp_ps(wq, _mm256_setzero_ps(), _CMP_NEQ_UQ);
                        Uf[j] = _mm256_add_ps(
                            Uf[j], _mm256_and_ps(nz, _mm256_mul_ps(wq, _mm256_sub_ps(m, x))));
                    }
                }
            }
        }
        for (int j = 0; j < PAIR; j++) { /* a run of FLOAT_RUN classes into the double sums */
            add_f32_to_f64(g[j].s, sf[j]);
            sf[j] = _mm256_setzero_ps();
            if (has_q) {
                add_f32_to_f64(g[j].S, Sf[j]);
                add_f32_to_f64(g[j].U, Uf[j]);
                Sf[j] = Uf[j] = _mm256_setzero_ps();
            }
        }
    }
    for (int j = 0; j < PAIR; j++) {
        /* m = +inf: exp(x - m) is NaN at the max, so is s */
        __m256 inf = _mm256_cmp_ps(g[j].m, _mm256_set1_ps(INFINITY), _CMP_EQ_OQ);
        const __m256 nmax = /* exact */
            _mm256_sub_ps(_mm256_set1_ps((float)a->C), _mm256_cvtepi32_ps(others[j]));
        add_f32_to_f64(g[j].s, _mm256_blendv_ps(nmax, _mm256_set1_ps(NAN), inf));
    }
}

/* Per lane: lse and loss (stored; hard: x_t gathered from x), the spike at t (w_t (1 - eps),
   0 if ignored) and the gradient scale g (S + spike) / s. */
GROUP_INLINE void group_finish(const softce__col_tile *a, int64_t r, int64_t n, __m256i t,
                               __m256 counted, const float *xb, const group_sums *g, __m256 *spike,
                               __m256 *scale, const int hard, const int has_gx) {
    const __m256 sp =
        hard ? _mm256_and_ps(counted, _mm256_mul_ps(_mm256_set1_ps((float)a->spike), g->wt))
             : _mm256_setzero_ps();
    __m256 xt = _mm256_setzero_ps();
    if (hard) { /* the target's logit: xb[t * 8 + lane] */
        const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        __m256i at = _mm256_add_epi32(_mm256_slli_epi32(t, 3), lane);
        at = _mm256_and_si256(_mm256_castps_si256(counted), at); /* ignored lanes: index 0 */
        xt = _mm256_mask_i32gather_ps(_mm256_setzero_ps(), xb, at, counted, 4);
    }
    const __m256d one = _mm256_set1_pd(1.0), zero = _mm256_setzero_pd();
    const __m256 logs =
        softce__log1p_f32x8(_mm256_set_m128(_mm256_cvtpd_ps(_mm256_sub_pd(g->s[1], one)),
                                            _mm256_cvtpd_ps(_mm256_sub_pd(g->s[0], one))));
    /* A whole group goes straight to / from the caller's arrays, a partial one through these. */
    _Alignas(32) double lse[GROUP], loss[GROUP], gl[GROUP];
    const int whole = n == GROUP;
    double *lse_to = whole ? a->lse + r : lse, *loss_to = whole ? a->loss + r : loss;
    const double *g_from = gl;
    if (has_gx && whole)
        g_from = a->g + r;
    for (int64_t i = 0; has_gx && !whole && i < GROUP; i++) /* dead lanes: 0 */
        gl[i] = i < n ? a->g[r + i] : 0.0;
    __m128 num[2], den[2];
    for (int d = 0; d < 2; d++) {
        __m256d ls = f32_half_to_f64(logs, d), m = f32_half_to_f64(g->m, d);
        __m256d l = _mm256_add_pd(
            _mm256_and_pd(_mm256_cmp_pd(g->S[d], zero, _CMP_NEQ_UQ), _mm256_mul_pd(g->S[d], ls)),
            g->U[d]);
        if (hard) { /* sp ((m - x_t) + log s): keeps log s also when |m| >> 1e16 */
            __m256d spd = f32_half_to_f64(sp, d);
            __m256d dx = _mm256_add_pd(_mm256_sub_pd(m, f32_half_to_f64(xt, d)), ls);
            __m256d nz = _mm256_cmp_pd(spd, zero, _CMP_NEQ_UQ);
            l = _mm256_add_pd(l, _mm256_and_pd(nz, _mm256_mul_pd(spd, dx)));
            __m256d cd = _mm256_castsi256_pd(
                _mm256_cvtepi32_epi64(d ? _mm256_extractf128_si256(_mm256_castps_si256(counted), 1)
                                        : _mm256_castsi256_si128(_mm256_castps_si256(counted))));
            l = _mm256_and_pd(cd, l);
        }
        _mm256_storeu_pd(lse_to + 4 * d, _mm256_add_pd(m, ls));
        _mm256_storeu_pd(loss_to + 4 * d, l);
        if (has_gx) {
            __m256d gg = _mm256_loadu_pd(g_from + 4 * d);
            __m256d sw = hard ? _mm256_add_pd(g->S[d], f32_half_to_f64(sp, d)) : g->S[d];
            num[d] = _mm256_cvtpd_ps(_mm256_mul_pd(gg, sw));
            den[d] = _mm256_cvtpd_ps(g->s[d]);
        }
    }
    for (int64_t i = 0; !whole && i < n; i++) {
        a->lse[r + i] = lse[i];
        a->loss[r + i] = loss[i];
    }
    *spike = sp;
    if (has_gx)
        *scale = _mm256_div_ps(_mm256_set_m128(num[1], num[0]), _mm256_set_m128(den[1], den[0]));
}

/* Pass 3: gx = scale e - g w q, minus g spike at c == t (hard), 0 for ignored lanes. */
GROUP_INLINE void pair_grad(const softce__col_tile *a, int64_t r0, const int64_t *n,
                            const group_io *io, const int *full, const __m256i *k, const __m256i *t,
                            const __m256 *counted, const group_bufs *b, const __m256 *sp,
                            const __m256 *sc, const int has_p, const int has_q) {
    const __m256 a0 = _mm256_set1_ps((float)a->a0);
    __m256 gf[PAIR], gsp[PAIR];
    for (int j = 0; j < PAIR; j++) {
        float gv[GROUP] = {0.0f};
        for (int64_t i = 0; i < n[j]; i++)
            gv[i] = (float)a->g[r0 + j * GROUP + i];
        gf[j] = _mm256_loadu_ps(gv);
        gsp[j] = _mm256_mul_ps(gf[j], sp[j]);
    }
    for (int64_t c = 0; c < a->C; c++) {
        if (io[0].prefetch && !io[0].stream)
            _mm_prefetch((const char *)(io[0].gx + c * io[0].ldg + PREFETCH_POSITIONS),
                         _MM_HINT_T0);
        const __m256 wc = _mm256_set1_ps(a->w ? a->w[c] : 1.0f);
        for (int j = 0; j < PAIR; j++) {
            const float *xb = b[j].xb, *qb = b[j].qb;
            __m256 v = _mm256_and_ps(
                counted[j], _mm256_mul_ps(sc[j], _mm256_load_ps((has_p ? xb : qb) + c * GROUP)));
            if (has_q) {
                __m256 wq = has_p ? _mm256_load_ps(qb + c * GROUP) : _mm256_mul_ps(wc, a0);
                v = _mm256_fnmadd_ps(gf[j], wq, v);
            }
            if (!has_p) {
                __m256 here =
                    _mm256_castsi256_ps(_mm256_cmpeq_epi32(t[j], _mm256_set1_epi32((int32_t)c)));
                v = _mm256_sub_ps(v, _mm256_and_ps(here, gsp[j]));
            }
            if (has_q && !has_p) /* ignored hard lanes: 0 */
                v = _mm256_and_ps(counted[j], v);
            if (io[0].stream)
                _mm256_stream_ps(io[j].gx + c * io[j].ldg, v);
            else
                store_lanes(io[j].gx + c * io[j].ldg, full[j], k[j], v);
        }
    }
}

/* The rows are read as one stream, every byte used: prefetch this far ahead of it. */
#define ROWS_PREFETCH 4096

/* n rows of `ld` floats from `from`. Always inlined: GCC 12 drops calls to a function whose
   only effect is a prefetch (docs/performance-log.md). */
GROUP_INLINE void prefetch_rows(const float *from, int64_t ld, int64_t n) {
    const char *b = (const char *)from + ROWS_PREFETCH, *e = b + n * ld * (int64_t)sizeof(float);
    for (; b < e; b += 64)
        _mm_prefetch(b, _MM_HINT_T0);
}

static void rows_to_group(const float *base, int64_t r, int64_t ld, int64_t C, int64_t n,
                          float *buf);
static void group_to_rows(const float *buf, int64_t C, int64_t n, float *base, int64_t r,
                          int64_t ld);

/* Two groups (positions r .. r + n0 + n1, n1 possibly 0) through the three passes, phase by
   phase and class by class, so that the latency chains of one group overlap with the other's
   work. Soft iff has_p (else hard). Row-major operands (by_rows: a->xr, a->pr, a->gr, f32, class
   stride 1, positions a->ldx apart) are transposed in registers into [C][8] buffers first (and the
   gradient back out of one); class planes are at src (position r0; unused by rows). whole:
   both groups have 8 positions (a constant of the instantiation: no lane masks in it). */
GROUP_INLINE void group_run(const softce__col_tile *a, int64_t r0, int64_t n0, int64_t n1,
                            group_bufs *bufs, const group_io *src, const int has_p, const int has_q,
                            const int has_gx, const int by_rows, const int whole) {
    const int hard = !has_p;
    int full[PAIR];
    __m256i k[PAIR], t[PAIR];
    __m256 counted[PAIR];
    group_io io[PAIR];
    group_sums g[PAIR];
    __m256 sp[PAIR], sc[PAIR];
    for (int j = 0; j < PAIR; j++) {
        const int64_t r = r0 + j * GROUP, n = j ? n1 : n0;
        group_bufs *b = &bufs[j];
        full[j] = n == GROUP;
        k[j] = lanes_below(n);
        t[j] = _mm256_set1_epi32(-1);
        if (hard && n > 0)
            t[j] = _mm256_blendv_epi8(t[j], _mm256_maskload_epi32((const int *)(a->t + r), k[j]),
                                      k[j]);
        counted[j] = hard ? _mm256_castsi256_ps(_mm256_cmpgt_epi32(t[j], _mm256_set1_epi32(-1)))
                          : _mm256_castsi256_ps(k[j]);
        sc[j] = _mm256_setzero_ps();
        if (by_rows) {
            if (has_gx && a->gr != a->xr) /* a gradient of its own: its lines ahead, as x's */
                prefetch_rows((const float *)a->gr + r * a->ldg, a->ldg, n);
            rows_to_group((const float *)a->xr, r, a->ldx, a->C, n, b->xb);
            io[j] = (group_io){b->xb, GROUP, NULL, GROUP, b->gb, GROUP, 0, 0};
            if (has_p)
                rows_to_group((const float *)a->pr, r, a->ldp, a->C, n, b->pb);
            io[j].p = has_p ? b->pb : NULL;
        } else {
            group_io d = *src; /* position r0 there */
            d.x += j * GROUP;
            if (has_p)
                d.p += j * GROUP;
            if (has_gx)
                d.gx += j * GROUP;
            io[j] = d;
        }
    }
    int fl[PAIR];
    int64_t n[PAIR] = {n0, n1};
    for (int j = 0; j < PAIR; j++)
        fl[j] = whole || full[j] || by_rows;
    /* Not for a soft target with a gradient: there the fast copy took 8-10 % longer on
       8x21x256x256 (one thread, 7 % fewer instructions, 3-5 % faster with the planes in L2;
       not understood). */
    if (pair_max(a, io, fl, k, t, counted, bufs, g, hard, by_rows, has_q) && !(has_p && has_gx))
        pair_sums(a, io, fl, k, bufs, g, has_p, has_q, has_gx, 1);
    else
        pair_sums(a, io, fl, k, bufs, g, has_p, has_q, has_gx, 0);
    for (int j = 0; j < PAIR; j++)
        group_finish(a, r0 + j * GROUP, n[j], t[j], counted[j], bufs[j].xb, &g[j], &sp[j], &sc[j],
                     hard, has_gx);
    if (!has_gx)
        return;
    pair_grad(a, r0, n, io, fl, k, t, counted, bufs, sp, sc, has_p, has_q);
    for (int j = 0; by_rows && j < PAIR; j++)
        group_to_rows(bufs[j].gb, a->C, n[j], (float *)a->gr, r0 + j * GROUP, a->ldg);
}

GROUP_INLINE void groups(const softce__col_tile *a, const int has_p, const int has_q,
                         const int has_gx, const int by_rows) {
    group_bufs b[PAIR];
    for (int j = 0; by_rows && j < PAIR; j++) /* classes past C are transposed, never used */
        memset(b[j].gb, 0, sizeof b[j].gb);
    for (int64_t r = 0; r < a->R; r += PAIR * GROUP) {
        int64_t left = a->R - r;
        int64_t n0 = left < GROUP ? left : GROUP, n1 = left - n0 < GROUP ? left - n0 : GROUP;
        group_io src = {0}; /* class planes: where position r is (by rows: unused) */
        if (!by_rows) {
            src = (group_io){
                .x = a->x + r, .ldx = a->ldx, .ldp = a->ldp, .ldg = a->ldg, .prefetch = 1};
            src.p = has_p ? a->p + r : NULL;
            src.gx = has_gx ? a->gx + r : NULL;
            /* both groups whole: each class's line is written whole, by two streaming stores */
            src.stream = has_gx && a->stream && n1 == GROUP && a->ldg % 16 == 0 &&
                         ((uintptr_t)src.gx & 63) == 0;
        }
        if (n1 == GROUP) /* both groups whole (all but a tile's last pair): no lane masks */
            group_run(a, r, GROUP, GROUP, b, &src, has_p, has_q, has_gx, by_rows, 1);
        else
            group_run(a, r, n0, n1, b, &src, has_p, has_q, has_gx, by_rows, 0);
    }
}

/* Flags as compile-time constants of each instantiation. */
GROUP_INLINE void groups_as(const softce__col_tile *a, const int by_rows) {
    const int gx = (by_rows ? a->gr : a->gx) != NULL;
    if (by_rows ? a->pr != NULL : a->p != NULL)
        gx ? groups(a, 1, 1, 1, by_rows) : groups(a, 1, 1, 0, by_rows);
    else if (a->a0 != 0.0)
        gx ? groups(a, 0, 1, 1, by_rows) : groups(a, 0, 1, 0, by_rows);
    else
        gx ? groups(a, 0, 0, 1, by_rows) : groups(a, 0, 0, 0, by_rows);
}

static void groups_planes(const softce__col_tile *a) { groups_as(a, 0); }

static void groups_rows(const softce__col_tile *a) { groups_as(a, 1); }

void softce__col_avx2(const softce__col_tile *a) {
    if (a->C > GROUP_MAX_C) {
        col_portable(a);
    } else {
        groups_planes(a);
        if (a->stream) /* the non-temporal stores ordered before what follows */
            _mm_sfence();
    }
}

void softce__col_rows_avx2(const softce__col_tile *a) { groups_rows(a); }

/* ---- row-major f32 operands: 8 x 8 transposes in registers ------------------------------ */

/* r[i] = row i (8 floats) -> r[j] = column j, in registers (3 stages of 8 shuffles). */
static inline void transpose8(__m256 r[8]) {
    __m256 t[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 2; i++) { /* per 128-bit half: column 4h + j of rows 4i..4i+3 */
        __m256d a = _mm256_castps_pd(t[4 * i]), b = _mm256_castps_pd(t[4 * i + 1]);
        __m256d c = _mm256_castps_pd(t[4 * i + 2]), d = _mm256_castps_pd(t[4 * i + 3]);
        r[4 * i] = _mm256_castpd_ps(_mm256_unpacklo_pd(a, c));
        r[4 * i + 1] = _mm256_castpd_ps(_mm256_unpackhi_pd(a, c));
        r[4 * i + 2] = _mm256_castpd_ps(_mm256_unpacklo_pd(b, d));
        r[4 * i + 3] = _mm256_castpd_ps(_mm256_unpackhi_pd(b, d));
    }
    for (int j = 0; j < 4; j++) {
        t[j] = _mm256_permute2f128_ps(r[j], r[4 + j], 0x20);
        t[4 + j] = _mm256_permute2f128_ps(r[j], r[4 + j], 0x31);
    }
    for (int j = 0; j < 8; j++)
        r[j] = t[j];
}

/* A 4 x 4 transpose in each 128-bit half: lane j of half h of r[i] -> lane i of half h of r[j]
   (its own inverse: rows i | i + 4 of 4 classes <-> classes of rows 0..3 | 4..7). */
static inline void transpose4_halves(__m256 r[4]) {
    __m256d t0 = _mm256_castps_pd(_mm256_unpacklo_ps(r[0], r[1]));
    __m256d t1 = _mm256_castps_pd(_mm256_unpackhi_ps(r[0], r[1]));
    __m256d t2 = _mm256_castps_pd(_mm256_unpacklo_ps(r[2], r[3]));
    __m256d t3 = _mm256_castps_pd(_mm256_unpackhi_ps(r[2], r[3]));
    r[0] = _mm256_castpd_ps(_mm256_unpacklo_pd(t0, t2));
    r[1] = _mm256_castpd_ps(_mm256_unpackhi_pd(t0, t2));
    r[2] = _mm256_castpd_ps(_mm256_unpacklo_pd(t1, t3));
    r[3] = _mm256_castpd_ps(_mm256_unpackhi_pd(t1, t3));
}

/* 8 (n) rows r.. of a row-major f32 operand of C classes into buf[c * 8 + i], a block of 8
   classes at a time (buf has room for every block's 8 classes); dead rows are zeros. */
static void rows_to_group(const float *base, int64_t r, int64_t ld, int64_t C, int64_t n,
                          float *buf) {
    const float *rows = base + r * ld;
    prefetch_rows(rows, ld, n);
    for (int64_t c0 = 0; c0 < C; c0 += GROUP) {
        const int64_t m = C - c0 >= GROUP ? GROUP : C - c0; /* the row's last block: fewer */
        const __m256i cm = lanes_below(m);
        __m256 v[GROUP];
        if (n == GROUP && m <= 4) { /* a short last block: rows i and i + 4 in one vector */
            const __m128i cm4 = _mm256_castsi256_si128(cm);
            __m256 u[4];
            for (int i = 0; i < 4; i++)
                u[i] = _mm256_insertf128_ps(
                    _mm256_castps128_ps256(_mm_maskload_ps(rows + i * ld + c0, cm4)),
                    _mm_maskload_ps(rows + (i + 4) * ld + c0, cm4), 1);
            transpose4_halves(u); /* class c of rows 0..3 | rows 4..7 */
            for (int c = 0; c < 4; c++)
                _mm256_store_ps(buf + (c0 + c) * GROUP, u[c]);
            continue;
        }
        if (n == GROUP && m == GROUP) /* the common case without a test per row */
            for (int i = 0; i < GROUP; i++)
                v[i] = _mm256_loadu_ps(rows + i * ld + c0);
        else
            for (int i = 0; i < GROUP; i++)
                v[i] = i >= n       ? _mm256_setzero_ps()
                       : m == GROUP ? _mm256_loadu_ps(rows + i * ld + c0)
                                    : _mm256_maskload_ps(rows + i * ld + c0, cm);
        transpose8(v);
        for (int c = 0; c < GROUP; c++)
            _mm256_store_ps(buf + (c0 + c) * GROUP, v[c]);
    }
}

/* The first m (0 < m < 8) lanes of v to d, by 4-, 2- and 1-lane stores (a masked store takes
   many cycles on AMD's Zen cores). */
static inline void store_first(float *d, __m256 v, int64_t m) {
    __m128 h = _mm256_castps256_ps128(v);
    if (m & 4) {
        _mm_storeu_ps(d, h);
        h = _mm256_extractf128_ps(v, 1);
        d += 4;
    }
    if (m & 2) {
        _mm_storel_pi((__m64 *)(void *)d, h);
        h = _mm_movehl_ps(h, h);
        d += 2;
    }
    if (m & 1)
        _mm_store_ss(d, h);
}

/* And back: buf[c * 8 + i] into the classes < C of n rows r.. (nothing else stored). */
static void group_to_rows(const float *buf, int64_t C, int64_t n, float *base, int64_t r,
                          int64_t ld) {
    float *rows = base + r * ld;
    for (int64_t c0 = 0; c0 < C; c0 += GROUP) {
        const int64_t m = C - c0 >= GROUP ? GROUP : C - c0;
        if (n == GROUP && m <= 4) { /* a short last block: 4 x 4 transposes in both halves */
            __m256 u[4];
            for (int c = 0; c < 4; c++)
                u[c] = _mm256_load_ps(buf + (c0 + c) * GROUP);
            transpose4_halves(u); /* row i | row i + 4, classes c0 .. c0 + 3 */
            __m128 h[GROUP];
            for (int i = 0; i < 4; i++) {
                h[i] = _mm256_castps256_ps128(u[i]);
                h[i + 4] = _mm256_extractf128_ps(u[i], 1);
            }
            float *d = rows + c0;
            switch (m) { /* one test per block, not per row */
            case 4:
                for (int i = 0; i < GROUP; i++)
                    _mm_storeu_ps(d + i * ld, h[i]);
                break;
            case 3:
                for (int i = 0; i < GROUP; i++) {
                    _mm_storel_pi((__m64 *)(void *)(d + i * ld), h[i]);
                    _mm_store_ss(d + i * ld + 2, _mm_movehl_ps(h[i], h[i]));
                }
                break;
            case 2:
                for (int i = 0; i < GROUP; i++)
                    _mm_storel_pi((__m64 *)(void *)(d + i * ld), h[i]);
                break;
            default:
                for (int i = 0; i < GROUP; i++)
                    _mm_store_ss(d + i * ld, h[i]);
            }
            continue;
        }
        __m256 v[GROUP];
        for (int c = 0; c < GROUP; c++)
            v[c] = _mm256_load_ps(buf + (c0 + c) * GROUP);
        transpose8(v);
        for (int64_t i = 0; i < n; i++) {
            if (m == GROUP)
                _mm256_storeu_ps(rows + i * ld + c0, v[i]);
            else
                store_first(rows + i * ld + c0, v[i], m);
        }
    }
}
