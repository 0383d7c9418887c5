/*
 * Values: hand-computed small cases, then every option and combination, layout and dtype
 * against the double-precision reference (tests/ref) through tc_check() (common/tcheck.c),
 * which also checks fused, in-place, lse reuse and untouched memory outside each view.
 */
#include "common/tcase.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- hand-checked values ------------------------------------------------------------- */

static void near(double got, double want, double tol, const char *expr, int line) {
    if (!(fabs(got - want) <= tol))
        print_error("line %d: %s: got %.17g want %.17g (tol %g)\n", line, expr, got, want, tol);
    _assert_true(fabs(got - want) <= tol, expr, __FILE__, line);
}
#define assert_double_equal(got, want, tol) near((got), (want), (tol), #got, __LINE__)

/* Runs forward and fused backward on contiguous tensors; returns loss and grad as doubles. */
static void run_small(const softce_options *o, int32_t xdt, int32_t ndim, const int64_t *shape,
                      const double *x, int32_t tdt, const double *t, double *loss, double *grad) {
    tbuf bx, bt, bl, bg;
    int64_t el[SOFTCE_MAX_DIMS];
    bool soft = tdt != SOFTCE_DTYPE_I32 && tdt != SOFTCE_DTYPE_I64;
    int32_t el_ndim = ndim <= 1 ? 0 : ndim - 1;
    for (int32_t k = 0, j = 0; k < ndim && ndim > 1; k++)
        if (k != 1)
            el[j++] = shape[k];
    bool none = o && o->reduction == SOFTCE_REDUCTION_NONE;
    tb_make(&bx, xdt, ndim, shape, NULL);
    tb_make(&bt, tdt, soft ? ndim : el_ndim, soft ? shape : el, NULL);
    tb_make(&bl, SOFTCE_DTYPE_F64, none ? el_ndim : 0, el, NULL);
    tb_make(&bg, SOFTCE_DTYPE_F64, ndim, shape, NULL);
    tb_store(&bx, x);
    tb_store(&bt, t);
    assert_int_equal(softce_forward(o, &bx.t, &bt.t, &bl.t, NULL), SOFTCE_OK);
    tb_load(&bl, loss);
    assert_int_equal(softce_backward(o, &bx.t, &bt.t, NULL, NULL, &bg.t, NULL), SOFTCE_OK);
    tb_load(&bg, grad);
    tb_free(&bx);
    tb_free(&bt);
    tb_free(&bl);
    tb_free(&bg);
}

static double lse3(double a, double b, double c) { return log(exp(a) + exp(b) + exp(c)); }

static void test_hand_hard(void **state) {
    (void)state;
    const int64_t c3[1] = {3}, nc[2] = {2, 3};
    const double x[6] = {1, 2, 3, 1, 1, 1}, t1[1] = {2}, t2[2] = {0, 2};
    double loss[2], g[6];
    const double l0 = lse3(1, 2, 3) - 3, l1 = log(3.0); /* -log_softmax at the target */
    run_small(NULL, SOFTCE_DTYPE_F64, 1, c3, x, SOFTCE_DTYPE_I64, t1, loss, g);
    assert_double_equal(loss[0], l0, 1e-15);
    for (int c = 0; c < 3; c++)
        assert_double_equal(g[c], exp(x[c] - lse3(1, 2, 3)) - (c == 2), 1e-15);
    run_small(NULL, SOFTCE_DTYPE_F32, 2, nc, x, SOFTCE_DTYPE_I32, t2, loss, g);
    assert_double_equal(loss[0], (lse3(1, 2, 3) - 1 + l1) / 2, 1e-6);
    assert_double_equal(g[0], (exp(1 - lse3(1, 2, 3)) - 1) / 2, 1e-7);
    assert_double_equal(g[5], (1.0 / 3 - 1) / 2, 1e-7);
    softce_options o;
    softce_options_init(&o);
    double w[3] = {2, 1, 0.5};
    tbuf bw;
    tb_make(&bw, SOFTCE_DTYPE_F64, 1, c3, NULL);
    tb_store(&bw, w);
    o.weight = &bw.t;
    run_small(&o, SOFTCE_DTYPE_F64, 2, nc, x, SOFTCE_DTYPE_I64, t2, loss, g);
    double lw = (2 * (lse3(1, 2, 3) - 1) + 0.5 * l1) / 2.5;
    assert_double_equal(loss[0], lw, 1e-14);
    assert_double_equal(g[4], 0.5 * (1.0 / 3) / 2.5, 1e-15);
    o.reduction = SOFTCE_REDUCTION_SUM;
    run_small(&o, SOFTCE_DTYPE_F64, 2, nc, x, SOFTCE_DTYPE_I64, t2, loss, g);
    assert_double_equal(loss[0], 2 * (lse3(1, 2, 3) - 1) + 0.5 * l1, 1e-14);
    o.reduction = SOFTCE_REDUCTION_NONE;
    o.ignore_index = 2; /* the second element is ignored */
    run_small(&o, SOFTCE_DTYPE_F64, 2, nc, x, SOFTCE_DTYPE_I64, t2, loss, g);
    assert_double_equal(loss[0], 2 * (lse3(1, 2, 3) - 1), 1e-14);
    assert_true(loss[1] == 0.0 && g[3] == 0.0 && g[4] == 0.0 && g[5] == 0.0);
    o.reduction = SOFTCE_REDUCTION_MEAN;
    o.label_smoothing = 0.3; /* mean over the one counted element, denominator w[0] = 2 */
    run_small(&o, SOFTCE_DTYPE_F64, 2, nc, x, SOFTCE_DTYPE_I64, t2, loss, g);
    double L = lse3(1, 2, 3);
    double smooth = (0.3 / 3) * (2 * (L - 1) + 1 * (L - 2) + 0.5 * (L - 3));
    assert_double_equal(loss[0], (0.7 * 2 * (L - 1) + smooth) / 2, 1e-14);
    tb_free(&bw);
}

static void test_hand_soft(void **state) {
    (void)state;
    const int64_t c3[1] = {3};
    const double x[3] = {1, 2, 3}, p[3] = {0.2, 0.3, 0.5};
    double loss[1], g[3];
    double L = lse3(1, 2, 3);
    for (int dt = SOFTCE_DTYPE_F32; dt <= SOFTCE_DTYPE_F64; dt++) {
        double tol = dt == SOFTCE_DTYPE_F64 ? 1e-14 : 2e-6;
        run_small(NULL, dt, 1, c3, x, dt, p, loss, g);
        assert_double_equal(loss[0], L - (0.2 * 1 + 0.3 * 2 + 0.5 * 3), tol);
        for (int c = 0; c < 3; c++)
            assert_double_equal(g[c], exp(x[c] - L) - p[c], tol);
        softce_options o;
        softce_options_init(&o);
        o.label_smoothing = 0.1;
        run_small(&o, dt, 1, c3, x, dt, p, loss, g);
        double want = 0.0;
        for (int c = 0; c < 3; c++)
            want += (0.9 * p[c] + 0.1 / 3) * (L - x[c]);
        assert_double_equal(loss[0], want, tol);
        const double half[3] = {0.1, 0.15, 0.25}; /* rows need not sum to 1 */
        run_small(NULL, dt, 1, c3, x, dt, half, loss, g);
        for (int c = 0; c < 3; c++)
            assert_double_equal(g[c], exp(x[c] - L) * 0.5 - half[c], tol);
    }
}

/* ---- every option and combination ----------------------------------------------------- */

static void test_combinations(void **state) {
    (void)state;
    const int64_t shape[2] = {6, 5};
    const int32_t reds[] = {SOFTCE_REDUCTION_MEAN, SOFTCE_REDUCTION_SUM, SOFTCE_REDUCTION_NONE};
    const int32_t wts[] = {0, SOFTCE_DTYPE_F32, SOFTCE_DTYPE_F64};
    const int64_t ign[] = {-100, -100, -1, 1, 7}; /* first: none present; 7 >= C */
    const double eps[] = {0.0, 0.25, 1.0};
    const int32_t tdts[] = {SOFTCE_DTYPE_I32, SOFTCE_DTYPE_I64, SOFTCE_DTYPE_F32, SOFTCE_DTYPE_F64};
    uint64_t seed = 0;
    for (int xd = SOFTCE_DTYPE_F32; xd <= SOFTCE_DTYPE_F64; xd++)
        for (int r = 0; r < 3; r++)
            for (int w = 0; w < 3; w++)
                for (int e = 0; e < 3; e++)
                    for (int td = 0; td < 4; td++)
                        for (int i = 0; i < (td < 2 ? 5 : 1); i++) {
                            tc_spec s;
                            tc_spec_init(&s, 2, shape);
                            s.x_dtype = s.out_dtype = xd;
                            s.reduction = reds[r];
                            s.w_dtype = wts[w];
                            s.eps = eps[e];
                            s.t_dtype = tdts[td];
                            s.ignore_index = ign[i];
                            s.ignore_present = i > 0;
                            s.gout_dtype = (seed % 3 == 0) ? 0 : xd;
                            s.soft_unnormalized = (int)(seed % 2);
                            s.seed = ++seed;
                            tc_check_spec(&s);
                        }
}

static void test_opts_null_is_default(void **state) {
    (void)state;
    const int64_t shape[2] = {7, 9};
    tc_spec s;
    tc_spec_init(&s, 2, shape);
    tc_problem p;
    tc_init(&p, &s);
    tbuf a, b;
    tc_make_loss(&p, &a, SOFTCE_DTYPE_F32, TL_CONTIG);
    tc_make_loss(&p, &b, SOFTCE_DTYPE_F32, TL_CONTIG);
    assert_int_equal(softce_forward(NULL, &p.x.t, &p.t.t, &a.t, NULL), SOFTCE_OK);
    assert_int_equal(softce_forward(&p.opts, &p.x.t, &p.t.t, &b.t, NULL), SOFTCE_OK);
    assert_memory_equal(a.mem, b.mem, a.bytes);
    tb_free(&a);
    tb_free(&b);
    tc_free(&p);
}

/* ---- shapes and layouts -------------------------------------------------------------- */

static void check_layouts(int32_t ndim, const int64_t *shape, int32_t tdt, int32_t red) {
    static uint64_t seed = 1000;
    for (int xl = TL_CONTIG; xl <= TL_BCAST; xl++)
        for (int tl = TL_CONTIG; tl <= TL_BCAST; tl++) {
            tc_spec s;
            tc_spec_init(&s, ndim, shape);
            s.t_dtype = tdt;
            s.reduction = red;
            s.x_layout = xl;
            s.t_layout = tl;
            s.out_layout = (xl + tl) % 4; /* never broadcast: outputs may not overlap */
            s.w_dtype = tl % 2 ? SOFTCE_DTYPE_F32 : 0;
            s.w_layout = TL_PADDED;
            s.ignore_present = tl == TL_PADDED;
            s.ignore_index = 2;
            s.eps = xl == TL_REVERSED ? 0.1 : 0.0;
            s.gout_dtype = tl == TL_REVERSED ? SOFTCE_DTYPE_F64 : 0;
            s.x_dtype = s.out_dtype = xl == TL_PADDED ? SOFTCE_DTYPE_F64 : SOFTCE_DTYPE_F32;
            s.seed = seed++;
            tc_check_spec(&s);
        }
}

static void test_kdim_and_layouts(void **state) {
    (void)state;
    const int64_t s1[1] = {7}, s2[2] = {9, 6}, s3[3] = {3, 5, 4}, s4[4] = {2, 4, 3, 5};
    const int64_t s8[8] = {2, 3, 1, 2, 2, 1, 3, 2};
    for (int red = SOFTCE_REDUCTION_MEAN; red <= SOFTCE_REDUCTION_NONE; red++)
        for (int tdt = SOFTCE_DTYPE_F32; tdt <= SOFTCE_DTYPE_I64; tdt += 5) { /* f32, i64 */
            check_layouts(1, s1, tdt, red);
            check_layouts(2, s2, tdt, red);
            check_layouts(3, s3, tdt, red);
            check_layouts(4, s4, tdt, red);
            check_layouts(8, s8, tdt, red);
        }
}

/* ---- dtypes ------------------------------------------------------------------------- */

static void test_dtypes(void **state) {
    (void)state;
    const int64_t shape[3] = {4, 11, 3};
    const int32_t fl[] = {SOFTCE_DTYPE_F32, SOFTCE_DTYPE_F64, SOFTCE_DTYPE_F16, SOFTCE_DTYPE_BF16};
    const int32_t tdts[] = {SOFTCE_DTYPE_I32, SOFTCE_DTYPE_I64, SOFTCE_DTYPE_F32,
                            SOFTCE_DTYPE_F64, SOFTCE_DTYPE_F16, SOFTCE_DTYPE_BF16};
    uint64_t seed = 5000;
    for (int xd = 0; xd < 4; xd++)
        for (int od = 0; od < 4; od++)
            for (int td = 0; td < 6; td++) {
                tc_spec s;
                tc_spec_init(&s, 3, shape);
                s.x_dtype = fl[xd];
                s.out_dtype = fl[od];
                s.t_dtype = tdts[td];
                s.w_dtype = (xd + td) % 2 ? SOFTCE_DTYPE_F32 : SOFTCE_DTYPE_F64;
                s.reduction = SOFTCE_REDUCTION_MEAN + (int32_t)((xd + od + td) % 3);
                s.gout_dtype = fl[(od + 1) % 4];
                s.eps = td % 2 ? 0.05 : 0.0;
                s.x_layout = TL_CLASS_LAST;
                s.seed = seed++;
                tc_check_spec(&s);
            }
    /* row-major rows of 16 < C <= 64 (with AVX-512: the row-major column kernel, 16 x 16
       blocks of classes), every float dtype */
    const int64_t rows[2] = {37, 40};
    for (int xd = 0; xd < 4; xd++)
        for (int v = 0; v < 4; v++) {
            tc_spec s;
            tc_spec_init(&s, 2, rows);
            s.x_dtype = s.out_dtype = fl[xd];
            s.t_dtype = v & 1 ? fl[(xd + v) % 4] : SOFTCE_DTYPE_I32;
            s.w_dtype = v & 2 ? SOFTCE_DTYPE_F64 : 0;
            s.eps = v == 1 ? 0.1 : 0.0;
            s.reduction = SOFTCE_REDUCTION_MEAN + (int32_t)((xd + v) % 3);
            s.seed = seed++;
            tc_check_spec(&s);
        }
    /* rows of C > 64 with the logits, a soft target and the gradients of one 16-bit dtype:
       with AVX-512 row mode's fused kernel reads and writes the 16-bit rows itself (rows.c:
       fused16_row), tails of every length mod 16, the target in a row's last vector */
    const int64_t wide[4][2] = {{5, 1000}, {3, 77}, {2, 4099}, {4, 130}};
    for (int xd = 2; xd < 4; xd++)
        for (int v = 0; v < 16; v++) {
            tc_spec s;
            tc_spec_init(&s, 2, wide[v % 4]);
            s.x_dtype = s.out_dtype = fl[xd];
            s.t_dtype = v & 1 ? fl[xd] : SOFTCE_DTYPE_I64;
            s.w_dtype = v & 2 ? SOFTCE_DTYPE_F32 : 0;
            s.eps = v & 4 ? 0.1 : 0.0;
            s.gout_dtype = v & 8 ? fl[xd] : 0;
            s.reduction = SOFTCE_REDUCTION_MEAN + (int32_t)(v % 3);
            s.x_layout = TL_CONTIG;
            s.seed = seed++;
            tc_check_spec(&s);
        }
    /* N, C, positions with every class-axis operand of one 16-bit dtype: with AVX-512 the
       column kernel reads and writes the 16-bit class planes itself (tiles.c) */
    const int64_t planes[3] = {2, 21, 40};
    for (int xd = 2; xd < 4; xd++)
        for (int v = 0; v < 8; v++) {
            tc_spec s;
            tc_spec_init(&s, 3, planes);
            s.x_dtype = s.out_dtype = fl[xd];
            s.t_dtype = v & 1 ? fl[xd] : SOFTCE_DTYPE_I64;
            s.w_dtype = v & 2 ? SOFTCE_DTYPE_F32 : 0;
            s.eps = v & 4 ? 0.1 : 0.0;
            s.reduction = SOFTCE_REDUCTION_MEAN + (int32_t)(v % 3);
            s.x_layout = TL_CONTIG;
            s.seed = seed++;
            tc_check_spec(&s);
        }
}

/* ---- lse reuse ---------------------------------------------------------------------- */

static void test_lse_reuse(void **state) {
    (void)state;
    const int64_t s2[2] = {6, 5}, s3[3] = {4, 37, 9}, wide[2] = {3, 1000};
    const int64_t *shapes[3] = {s2, s3, wide};
    const int32_t ndims[3] = {2, 3, 2};
    uint64_t seed = 7000;
    for (int i = 0; i < 3; i++)
        for (int xd = SOFTCE_DTYPE_F32; xd <= SOFTCE_DTYPE_BF16; xd++)
            for (int red = SOFTCE_REDUCTION_MEAN; red <= SOFTCE_REDUCTION_NONE; red++)
                for (int soft = 0; soft < 2; soft++) {
                    tc_spec s;
                    tc_spec_init(&s, ndims[i], shapes[i]);
                    s.x_dtype = xd;
                    s.out_dtype = (int32_t)(seed % 2 ? SOFTCE_DTYPE_F32 : SOFTCE_DTYPE_F64);
                    s.t_dtype = soft ? SOFTCE_DTYPE_F32 : SOFTCE_DTYPE_I64;
                    s.reduction = red;
                    s.eps = seed % 3 == 0 ? 0.1 : 0.0;
                    s.w_dtype = seed % 4 == 1 ? SOFTCE_DTYPE_F32 : 0;
                    s.gout_dtype = seed % 5 == 2 ? SOFTCE_DTYPE_F64 : 0;
                    s.x_layout = i == 1 ? TL_CLASS_LAST : TL_CONTIG;
                    s.seed = seed++;
                    tc_problem p;
                    tc_init(&p, &s);
                    tc_check_lse_reuse(&p);
                    tc_free(&p);
                }
}

/* ---- long f64 rows: sums that do not drift with C --------------------------------------- */

/* A zero row of C classes under a target whose mass is 1 in total has the loss log C exactly;
   label smoothing 1 spreads it as 1/C per class, which no running sum of C terms adds exactly
   (the scalar kernels' single running sums were 1.9e-12 and 2.9e-12 off at C = 100,000). */
static void test_long_rows(void **state) {
    (void)state;
    const int64_t sizes[3] = {100000, 262144, 1000000}; /* 262144 and 10^6: split mode */
    for (int k = 0; k < 3; k++) {
        const int64_t C = sizes[k], shape[2] = {1, C}, one = 1;
        double *vals = calloc((size_t)C, sizeof *vals);
        assert_non_null(vals);
        tbuf bx, bp, bh, bl, bg;
        tb_make(&bx, SOFTCE_DTYPE_F64, 2, shape, NULL);
        tb_store(&bx, vals); /* zeros */
        tb_make(&bg, SOFTCE_DTYPE_F64, 2, shape, NULL);
        for (int64_t i = 0; i < C; i++)
            vals[i] = 0.1 / (double)C + (i == 0 ? 0.9 : 0.0);
        tb_make(&bp, SOFTCE_DTYPE_F64, 2, shape, NULL);
        tb_store(&bp, vals);
        vals[0] = 0.0;
        tb_make(&bh, SOFTCE_DTYPE_I64, 1, &one, NULL);
        tb_store(&bh, vals); /* class 0 */
        tb_make(&bl, SOFTCE_DTYPE_F64, 0, NULL, NULL);
        softce_options o;
        softce_options_init(&o);
        for (int soft = 0; soft < 2; soft++)
            for (int fused = 0; fused < 2; fused++) {
                o.label_smoothing = soft ? 0.0 : 1.0;
                const softce_tensor *t = soft ? &bp.t : &bh.t;
                softce_status st = fused ? softce_forward_backward(&o, &bx.t, t, NULL, &bl.t, &bg.t)
                                         : softce_forward(&o, &bx.t, t, &bl.t, NULL);
                assert_int_equal(st, SOFTCE_OK);
                double loss;
                tb_load(&bl, &loss);
                if (!(fabs(loss / log((double)C) - 1.0) <= 1e-13))
                    print_error("C=%lld soft=%d fused=%d: loss %.17g, log C %.17g\n", (long long)C,
                                soft, fused, loss, log((double)C));
                assert_true(fabs(loss / log((double)C) - 1.0) <= 1e-13);
            }
        tb_free(&bx), tb_free(&bp), tb_free(&bh), tb_free(&bl), tb_free(&bg);
        free(vals);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_hard),        cmocka_unit_test(test_hand_soft),
        cmocka_unit_test(test_combinations),     cmocka_unit_test(test_opts_null_is_default),
        cmocka_unit_test(test_kdim_and_layouts), cmocka_unit_test(test_dtypes),
        cmocka_unit_test(test_lse_reuse),        cmocka_unit_test(test_long_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
