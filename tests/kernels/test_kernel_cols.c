/*
 * The hand-written column kernels (AVX-512 and AVX2) against the portable scalar one (the
 * oracle), on random tiles: softce__col_avx512 / softce__col_avx2 ([C][R] tiles, classes ld
 * apart, also C > 64 where they fall back to the portable code) and softce__col_rows_avx512 /
 * softce__col_rows_avx2 (row-major rows, C <= 64, transposed in registers; AVX2: f32 only).
 * Hard and soft targets, smoothing, weights, ignored positions, per-position
 * upstream gradients, forward only and fused, in place, out of place with the gradient by
 * streaming stores (tile.stream; the AVX2 kernel never streams), every R of a tile (masked
 * tails), and rows with -inf, all -inf, +inf, NaN and huge logits. The bf16 and f16 operands
 * of the AVX-512 row-major kernel and of its strided kernel (class planes) against the same
 * kernel on f32 operands of the same values: bit for bit (a NaN only as a NaN), the inputs
 * widened and the gradient narrowed by the reference conversions of kconvert_ref.h.
 * Each ISA's cases are skipped on a CPU without it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kconvert_ref.h"
#include "kernels/col_rows.h"
#include "ktest.h"

enum { RMAX = SOFTCE__COL_TILE, CMAX = 100 };

typedef struct col_case {
    int64_t R, C;
    int soft, weights, smooth, fused, in_place, specials;
    int stream; /* out of place: the tile's gradient by non-temporal stores where aligned */
} col_case;

typedef struct col_bufs {
    float x[CMAX * RMAX], p[CMAX * RMAX], w[CMAX];
    _Alignas(64) float gx[CMAX * RMAX]; /* so that the streaming stores do happen */
    int32_t t[RMAX];
    double g[RMAX], lse[RMAX], loss[RMAX];
} col_bufs;

/* Logits in [c][r] layout (ld = R), probabilities, weights, targets and upstream gradients. */
static void fill(const col_case *k, col_bufs *b, uint64_t *rng) {
    const int64_t R = k->R, C = k->C;
    for (int64_t i = 0; i < R * C; i++) {
        b->x[i] = (float)(4.0 * krand_normal(rng));
        b->p[i] = (float)krand_unit(rng);
    }
    for (int64_t c = 0; c < C; c++)
        b->w[c] = (float)(0.25 + krand_unit(rng));
    for (int64_t r = 0; r < R; r++) {
        b->t[r] = krand_u64(rng) % 9 == 0 ? -1 : (int32_t)(krand_u64(rng) % (uint64_t)C);
        b->g[r] = 0.5 + krand_unit(rng);
        double s = 0.0;
        for (int64_t c = 0; c < C; c++)
            s += b->p[c * R + r];
        for (int64_t c = 0; c < C; c++)
            b->p[c * R + r] = (float)(b->p[c * R + r] / s);
    }
    if (!k->specials)
        return;
    for (int64_t r = 0; r < R; r++) {
        switch (r % 11) {
        case 1: /* one -inf logit */
            b->x[(r % C) * R + r] = -INFINITY;
            break;
        case 3: /* all -inf */
            for (int64_t c = 0; c < C; c++)
                b->x[c * R + r] = -INFINITY;
            break;
        case 5: /* huge: only differences are exponentiated */
            for (int64_t c = 0; c < C; c++)
                b->x[c * R + r] += 1e4f;
            break;
        case 7:
            b->x[((r + 1) % C) * R + r] = NAN;
            break;
        case 9:
            b->x[((r + 2) % C) * R + r] = INFINITY;
            break;
        case 10: /* a confident row: log s small, the loss too */
            b->x[(r % C) * R + r] += 30.0f;
            break;
        default:
            break;
        }
    }
}

static softce__col_tile tile_of(const col_case *k, col_bufs *b) {
    softce__col_tile a = {0};
    a.R = k->R;
    a.C = k->C;
    a.x = b->x;
    a.ldx = k->R;
    a.p = k->soft ? b->p : NULL;
    a.ldp = k->R;
    a.w = k->weights ? b->w : NULL;
    double eps = k->smooth ? 0.1 : 0.0;
    a.a1 = k->soft ? 1.0 - eps : 0.0;
    a.a0 = eps / (double)k->C;
    a.t = k->soft ? NULL : b->t;
    a.spike = 1.0 - eps;
    a.lse = b->lse;
    a.loss = b->loss;
    if (k->fused) {
        a.g = b->g;
        a.gx = k->in_place ? b->x : b->gx;
        a.ldg = k->R;
        a.stream = k->stream && !k->in_place;
    }
    return a;
}

/* [c][r] (ld R) <-> row-major [r][c] (ld C) */
static void transpose(const float *in, int64_t rows, int64_t cols, float *out) {
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++)
            out[j * rows + i] = in[i * cols + j];
}

static void expect_close(const col_case *k, const char *what, int64_t r, int64_t c, double got,
                         double want, double tol) {
    if (!kclose(got, want, tol))
        fail_msg("R=%lld C=%lld soft=%d w=%d eps=%d fused=%d inplace=%d: %s[r=%lld c=%lld] = "
                 "%.9g, want %.9g (tol %.3g)",
                 (long long)k->R, (long long)k->C, k->soft, k->weights, k->smooth, k->fused,
                 k->in_place, what, (long long)r, (long long)c, got, want, tol);
}

/* Results of the kernel under test (b) against the scalar kernel's (ref). The gradient is
   compared norm-wise per position (docs/numerics.md): 1e-5 of the row's largest entry. */
static void compare(const col_case *k, const col_bufs *b, const col_bufs *ref) {
    const int64_t R = k->R, C = k->C;
    const float *gx = k->in_place ? b->x : b->gx, *gref = k->in_place ? ref->x : ref->gx;
    for (int64_t r = 0; r < R; r++) {
        expect_close(k, "lse", r, -1, b->lse[r], ref->lse[r], 1e-6 * (1.0 + fabs(ref->lse[r])));
        /* losses are sums of non-negative terms, relative to them; log s to ~1e-7 absolute */
        expect_close(k, "loss", r, -1, b->loss[r], ref->loss[r],
                     2e-6 * fabs(ref->loss[r]) + 1e-9 * (1.0 + fabs(ref->lse[r])));
        if (!k->fused)
            continue;
        double big = 0.0;
        for (int64_t c = 0; c < C; c++)
            big = isfinite(gref[c * R + r]) && fabs(gref[c * R + r]) > big ? fabs(gref[c * R + r])
                                                                           : big;
        for (int64_t c = 0; c < C; c++)
            expect_close(k, "gx", r, c, gx[c * R + r], gref[c * R + r],
                         1e-5 * big + 4e-7 * b->g[r]); /* a few ulp of g: C = 1 */
    }
}

/* The kernels under test: strided and row-major. */
typedef struct col_isa {
    softce__isa isa;
    softce__col_kernel planes, rows;
} col_isa;

static const col_isa isa_avx512 = {SOFTCE__ISA_AVX512, softce__col_avx512, softce__col_rows_avx512};
static const col_isa isa_avx2 = {SOFTCE__ISA_AVX2, softce__col_avx2, softce__col_rows_avx2};

static void run_case(const col_case *k, uint64_t *rng, int by_rows, const col_isa *ki) {
    static col_bufs ref, b;
    fill(k, &ref, rng);
    b = ref;
    softce__col_tile a = tile_of(k, &ref);
    a.stream = 0;
    softce__col_scalar(&a);
    softce__col_tile t = tile_of(k, &b);
    if (!by_rows) {
        ki->planes(&t);
        compare(k, &b, &ref);
        return;
    }
    /* the same problem row-major: x[r * C + c] */
    static float xr[CMAX * RMAX], pr[CMAX * RMAX], gr[CMAX * RMAX];
    transpose(b.x, k->C, k->R, xr);
    transpose(b.p, k->C, k->R, pr);
    t.xr = xr;
    t.ldx = k->C;
    t.pr = k->soft ? pr : NULL;
    t.ldp = k->C;
    if (k->fused) {
        t.gr = k->in_place ? xr : gr;
        t.ldg = k->C;
    }
    ki->rows(&t);
    if (k->fused) /* back to [c][r] for the comparison */
        transpose(k->in_place ? xr : gr, k->R, k->C, k->in_place ? b.x : b.gx);
    compare(k, &b, &ref);
}

/* Case variant v (0..31): bits soft, weights, smoothing, fused, in place (fused only). */
static col_case case_of(int64_t R, int64_t C, int v, int specials) {
    col_case k = {
        R, C, v & 1, v >> 1 & 1, v >> 2 & 1, v >> 3 & 1, (v >> 3 & 1) && (v >> 4 & 1), specials, 0};
    return k;
}

static void sweep(const int64_t *cs, size_t ncs, int by_rows, const col_isa *ki) {
    if (softce__cpu_isa() < ki->isa)
        skip();
    static const int64_t rs[] = {1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 100, 255, 256};
    uint64_t rng = 42;
    for (size_t ci = 0; ci < ncs; ci++)
        for (size_t ri = 0; ri < sizeof rs / sizeof rs[0]; ri++)
            for (int v = 0; v < 32; v++) {
                col_case k = case_of(rs[ri], cs[ci], v, (int)((ri + ci) % 2));
                k.stream = k.fused && !k.in_place && (v + ri) % 2 == 0; /* half of them */
                run_case(&k, &rng, by_rows, ki);
            }
}

static const int64_t tile_cs[] = {1, 2, 3, 7, 8, 9, 10, 16, 21, 33, 64, 65, 100};
static const int64_t rows_cs[] = {1,  2,  3,  5,  7,  8,  9,  10,
                                  13, 16, 17, 21, 32, 33, 50, SOFTCE__COL_ROWS_MAX_C};

static void test_col_tiles(void **state) {
    (void)state;
    sweep(tile_cs, sizeof tile_cs / sizeof tile_cs[0], 0, &isa_avx512);
}

static void test_col_rows(void **state) {
    (void)state;
    sweep(rows_cs, sizeof rows_cs / sizeof rows_cs[0], 1, &isa_avx512);
}

static void test_col_tiles_avx2(void **state) {
    (void)state;
    sweep(tile_cs, sizeof tile_cs / sizeof tile_cs[0], 0, &isa_avx2);
}

static void test_col_rows_avx2(void **state) {
    (void)state;
    sweep(rows_cs, sizeof rows_cs / sizeof rows_cs[0], 1, &isa_avx2);
}

/* ---- 16-bit row-major operands ---------------------------------------------------------- */

static uint16_t narrow_to(int kind, float f) {
    return kind == SOFTCE__ROWS_BF16 ? ref_bf16_narrow(f) : ref_f16_narrow(f);
}

static float widen_from(int kind, uint16_t h) {
    return f32_of_bits(kind == SOFTCE__ROWS_BF16 ? ref_bf16_widen(h) : ref_f16_widen(h));
}

/* Equal bits, or both NaN (a NaN's payload depends on the instructions that made it). */
static int same_f32(float a, float b) {
    return bits_of_f32(a) == bits_of_f32(b) || (isnan(a) && isnan(b));
}

static int same_f64(double a, double b) {
    return !memcmp(&a, &b, sizeof a) || (isnan(a) && isnan(b));
}

static int same_16(int kind, uint16_t a, uint16_t b) {
    return a == b || (isnan(widen_from(kind, a)) && isnan(widen_from(kind, b)));
}

/* The per-position outputs of the 16-bit run (b) against the f32 one (ref). */
static void expect_same_rows(const col_case *k, int kind, const col_bufs *b, const col_bufs *ref) {
    for (int64_t r = 0; r < k->R; r++)
        if (!same_f64(b->lse[r], ref->lse[r]) || !same_f64(b->loss[r], ref->loss[r]))
            fail_msg("kind %d R=%lld C=%lld soft=%d: lse/loss of position %lld differ (%.9g "
                     "%.9g, want %.9g %.9g)",
                     kind, (long long)k->R, (long long)k->C, k->soft, (long long)r, b->lse[r],
                     b->loss[r], ref->lse[r], ref->loss[r]);
}

/* One case row-major with x and p as 16-bit floats of `kind` and the gradient of kind gkind
   (in place: kind), against the f32 row-major kernel on the widened values (out of place). */
static void run_rows16(const col_case *k, uint64_t *rng, int kind, int gkind) {
    static col_bufs ref, b;
    static float xw[CMAX * RMAX], pw[CMAX * RMAX], gw[CMAX * RMAX], g32[CMAX * RMAX];
    static uint16_t xh[CMAX * RMAX], ph[CMAX * RMAX], gh[CMAX * RMAX];
    const int64_t n = k->R * k->C;
    fill(k, &ref, rng);
    b = ref;
    transpose(ref.x, k->C, k->R, xw); /* row-major, then through 16 bits and back */
    transpose(ref.p, k->C, k->R, pw);
    for (int64_t i = 0; i < n; i++) {
        xh[i] = narrow_to(kind, xw[i]), xw[i] = widen_from(kind, xh[i]);
        ph[i] = narrow_to(kind, pw[i]), pw[i] = widen_from(kind, ph[i]);
    }
    softce__col_tile a = tile_of(k, &ref), t = tile_of(k, &b);
    a.xr = xw, a.ldx = k->C, a.xk = SOFTCE__ROWS_F32;
    a.pr = k->soft ? pw : NULL, a.ldp = k->C, a.pk = SOFTCE__ROWS_F32;
    a.gr = k->fused ? gw : NULL, a.ldg = k->C, a.gk = SOFTCE__ROWS_F32;
    softce__col_rows_avx512(&a);
    t.xr = xh, t.ldx = k->C, t.xk = kind;
    t.pr = k->soft ? ph : NULL, t.ldp = k->C, t.pk = kind;
    t.gk = k->in_place ? kind : gkind, t.ldg = k->C;
    t.gr = !k->fused                   ? NULL
           : k->in_place               ? (void *)xh
           : gkind == SOFTCE__ROWS_F32 ? (void *)g32
                                       : (void *)gh;
    softce__col_rows_avx512(&t);
    expect_same_rows(k, kind, &b, &ref);
    for (int64_t i = 0; k->fused && i < n; i++) {
        const int f32 = t.gk == SOFTCE__ROWS_F32;
        const uint32_t got = f32 ? bits_of_f32(g32[i]) : ((const uint16_t *)t.gr)[i];
        const uint32_t want = f32 ? bits_of_f32(gw[i]) : narrow_to(t.gk, gw[i]);
        if (f32 ? !same_f32(g32[i], gw[i]) : !same_16(t.gk, (uint16_t)got, (uint16_t)want))
            fail_msg("kind %d -> %d R=%lld C=%lld soft=%d w=%d eps=%d inplace=%d: gradient "
                     "[%lld] bits %#x, want %#x",
                     kind, t.gk, (long long)k->R, (long long)k->C, k->soft, k->weights, k->smooth,
                     k->in_place, (long long)i, got, want);
    }
}

static void test_col_rows_16bit(void **state) {
    (void)state;
    if (softce__cpu_isa() < SOFTCE__ISA_AVX512)
        skip();
    static const int64_t cs[] = {1, 2, 3, 5, 8, 10, 13, 16, 17, 31, 48, SOFTCE__COL_ROWS_MAX_C};
    static const int64_t rs[] = {1, 15, 16, 17, 33, 256};
    uint64_t rng = 7;
    for (int kind = SOFTCE__ROWS_BF16; kind <= SOFTCE__ROWS_F16; kind++)
        for (size_t ci = 0; ci < sizeof cs / sizeof cs[0]; ci++)
            for (size_t ri = 0; ri < sizeof rs / sizeof rs[0]; ri++)
                for (int v = 0; v < 32; v++) {
                    const col_case k = case_of(rs[ri], cs[ci], v, (int)((ri + ci + v) % 2));
                    /* the gradient as x (16 bits), f32, or the other 16-bit kind */
                    const int gkind = v % 3 == 0 ? SOFTCE__ROWS_F32 : v % 3 == 1 ? kind : 3 - kind;
                    run_rows16(&k, &rng, kind, gkind);
                }
}

/* One case as [c][r] class planes (ld = R) of 16-bit floats of `kind` (x, p and the gradient)
   through the strided kernel, against it on f32 planes of the same values. */
static void run_planes16(const col_case *k, uint64_t *rng, int kind) {
    static col_bufs ref, b;
    static uint16_t xh[CMAX * RMAX], ph[CMAX * RMAX], gh[CMAX * RMAX];
    const int64_t n = k->R * k->C;
    fill(k, &ref, rng);
    for (int64_t i = 0; i < n; i++) {
        xh[i] = narrow_to(kind, ref.x[i]), ref.x[i] = widen_from(kind, xh[i]);
        ph[i] = narrow_to(kind, ref.p[i]), ref.p[i] = widen_from(kind, ph[i]);
    }
    b = ref;
    softce__col_tile a = tile_of(k, &ref), t = tile_of(k, &b);
    a.stream = 0;
    softce__col_avx512(&a);
    t.xr = xh, t.xk = kind, t.pr = k->soft ? ph : NULL;
    t.gr = !k->fused ? NULL : k->in_place ? xh : gh;
    softce__col_avx512(&t);
    expect_same_rows(k, kind, &b, &ref);
    const float *want = k->in_place ? ref.x : ref.gx;
    for (int64_t i = 0; k->fused && i < n; i++) {
        const uint16_t got = ((const uint16_t *)t.gr)[i];
        if (!same_16(kind, got, narrow_to(kind, want[i])))
            fail_msg("kind %d planes R=%lld C=%lld soft=%d w=%d eps=%d inplace=%d: gradient "
                     "[%lld] bits %#x, want %#x",
                     kind, (long long)k->R, (long long)k->C, k->soft, k->weights, k->smooth,
                     k->in_place, (long long)i, got, narrow_to(kind, want[i]));
    }
}

static void test_col_planes_16bit(void **state) {
    (void)state;
    if (softce__cpu_isa() < SOFTCE__ISA_AVX512)
        skip();
    static const int64_t cs[] = {1, 2, 3, 7, 10, 16, 21, 33, SOFTCE__COL_16BIT_MAX_C};
    static const int64_t rs[] = {1, 15, 16, 17, 33, 100, 256};
    uint64_t rng = 11;
    for (int kind = SOFTCE__ROWS_BF16; kind <= SOFTCE__ROWS_F16; kind++)
        for (size_t ci = 0; ci < sizeof cs / sizeof cs[0]; ci++)
            for (size_t ri = 0; ri < sizeof rs / sizeof rs[0]; ri++)
                for (int v = 0; v < 32; v++) {
                    const col_case k = case_of(rs[ri], cs[ci], v, (int)((ri + ci + v) % 2));
                    run_planes16(&k, &rng, kind);
                }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_col_tiles),      cmocka_unit_test(test_col_rows),
        cmocka_unit_test(test_col_tiles_avx2), cmocka_unit_test(test_col_rows_avx2),
        cmocka_unit_test(test_col_rows_16bit), cmocka_unit_test(test_col_planes_16bit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
