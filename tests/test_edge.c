/*
 * Edge cases: huge and infinite logits, NaN propagation, q = 0 at a -inf logit (contributes 0,
 * a deliberate improvement over PyTorch), C = 1, N = 0, all targets ignored, log_softmax values.
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

/* One problem on contiguous tensors; outputs read back as doubles (f64 outputs). */
typedef struct small {
    tbuf x, t, loss, lse, gx, lsm;
    double loss_v[16], lse_v[16], gx_v[64], lsm_v[64];
} small;

static void small_run(small *s, const softce_options *o, int32_t xd, int32_t ndim,
                      const int64_t *shape, const double *x, int32_t td, const double *t) {
    int64_t el[SOFTCE_MAX_DIMS];
    int32_t el_ndim = ndim <= 1 ? 0 : ndim - 1;
    for (int32_t k = 0, j = 0; k < ndim && ndim > 1; k++)
        if (k != 1)
            el[j++] = shape[k];
    bool soft = td != SOFTCE_DTYPE_I32 && td != SOFTCE_DTYPE_I64;
    bool none = o && o->reduction == SOFTCE_REDUCTION_NONE;
    tb_make(&s->x, xd, ndim, shape, NULL);
    tb_make(&s->t, td, soft ? ndim : el_ndim, soft ? shape : el, NULL);
    tb_make(&s->loss, SOFTCE_DTYPE_F64, none ? el_ndim : 0, el, NULL);
    tb_make(&s->lse, SOFTCE_DTYPE_F64, el_ndim, el, NULL);
    tb_make(&s->gx, SOFTCE_DTYPE_F64, ndim, shape, NULL);
    tb_make(&s->lsm, SOFTCE_DTYPE_F64, ndim, shape, NULL);
    if (x)
        tb_store(&s->x, x);
    if (t)
        tb_store(&s->t, t);
    softce_status st = softce_forward(o, &s->x.t, &s->t.t, &s->loss.t, &s->lse.t);
    if (st != SOFTCE_OK)
        print_error("forward: %s (%s)\n", softce_status_name(st), softce_last_error());
    assert_int_equal(st, SOFTCE_OK);
    assert_int_equal(softce_forward_backward(o, &s->x.t, &s->t.t, NULL, NULL, &s->gx.t), SOFTCE_OK);
    assert_int_equal(softce_log_softmax(o, &s->x.t, &s->lsm.t), SOFTCE_OK);
    tb_load(&s->loss, s->loss_v);
    tb_load(&s->lse, s->lse_v);
    tb_load(&s->gx, s->gx_v);
    tb_load(&s->lsm, s->lsm_v);
}

static void small_free(small *s) {
    tb_free(&s->x);
    tb_free(&s->t);
    tb_free(&s->loss);
    tb_free(&s->lse);
    tb_free(&s->gx);
    tb_free(&s->lsm);
}

static void expect_finite(const double *v, int n, const char *what) {
    for (int i = 0; i < n; i++) {
        if (!isfinite(v[i]))
            print_error("%s[%d] = %g is not finite\n", what, i, v[i]);
        assert_true(isfinite(v[i]));
    }
}

/* ---- huge logits -------------------------------------------------------------------------- */

static void test_large_logits(void **state) {
    (void)state;
    const int64_t nc[2] = {3, 3};
    const double mags[2] = {1e4, 1e30};
    const double t[3] = {0, 1, 2};
    for (int m = 0; m < 2; m++)
        for (int xd = SOFTCE_DTYPE_F32; xd <= SOFTCE_DTYPE_BF16; xd++) {
            double a = mags[m];
            if (xd == SOFTCE_DTYPE_F16 && a > 6e4)
                continue; /* not representable */
            double x[9] = {a, -a, 0, a, -a, 0, a, -a, 0};
            softce_options o;
            softce_options_init(&o);
            o.reduction = SOFTCE_REDUCTION_NONE;
            small s;
            small_run(&s, &o, xd, 2, nc, x, SOFTCE_DTYPE_I64, t);
            double big = tu_round(xd, a);
            /* -log_softmax: ~0 at +a, 2a at -a, a at 0; gradient softmax - onehot */
            assert_true(fabs(s.loss_v[0]) <= 1e-6);
            assert_true(fabs(s.loss_v[1] - 2 * big) <= 1e-5 * 2 * big);
            assert_true(fabs(s.loss_v[2] - big) <= 1e-5 * big);
            const double g[9] = {0, 0, 0, 1, -1, 0, 1, 0, -1};
            for (int i = 0; i < 9; i++)
                assert_true(fabs(s.gx_v[i] - g[i]) <= 1e-6);
            expect_finite(s.lse_v, 3, "lse");
            expect_finite(s.lsm_v, 9, "log_softmax");
            assert_true(fabs(s.lse_v[0] - big) <= 1e-6 * big);
            small_free(&s);
            const double q[9] = {0.5, 0.5, 0, 0, 0.25, 0.75, 1, 0, 0};
            o.label_smoothing = 0.1;
            small_run(&s, &o, xd, 2, nc, x, xd == SOFTCE_DTYPE_F64 ? xd : SOFTCE_DTYPE_F32, q);
            expect_finite(s.loss_v, 3, "soft loss");
            expect_finite(s.gx_v, 9, "soft grad");
            small_free(&s);
        }
}

/* Near 1e4 in f32 the loss must still be accurate relative to itself, as in PyTorch, which
   computes (x - max) - log(sum) rather than x - lse. */
static void test_large_logits_accuracy(void **state) {
    (void)state;
    const int64_t c2[1] = {2};
    const double x[2] = {10001.5, 10000.0}, t[1] = {1};
    for (int xd = SOFTCE_DTYPE_F32; xd <= SOFTCE_DTYPE_F64; xd++) {
        small s;
        small_run(&s, NULL, xd, 1, c2, x, SOFTCE_DTYPE_I32, t);
        double want = log1p(exp(1.5)), sig = 1.0 / (1.0 + exp(-1.5));
        double tol = xd == SOFTCE_DTYPE_F64 ? 1e-12 : 1e-5;
        if (fabs(s.loss_v[0] - want) > tol * want || fabs(s.gx_v[0] - sig) > tol)
            print_error("loss %.9g want %.9g, grad %.9g want %.9g\n", s.loss_v[0], want, s.gx_v[0],
                        sig);
        assert_true(fabs(s.loss_v[0] - want) <= tol * want);
        assert_true(fabs(s.lsm_v[1] + want) <= tol * want);
        assert_true(fabs(s.gx_v[0] - sig) <= tol && fabs(s.gx_v[1] + sig) <= tol);
        small_free(&s);
    }
}

/* ---- infinities and NaN ----------------------------------------------------------------- */

static void test_neg_inf_logits(void **state) {
    (void)state;
    const int64_t nc[2] = {2, 3};
    const double x[6] = {0, -INFINITY, 1, 0, -INFINITY, 1}, t[2] = {0, 1};
    softce_options o;
    softce_options_init(&o);
    o.reduction = SOFTCE_REDUCTION_NONE;
    small s;
    small_run(&s, &o, SOFTCE_DTYPE_F32, 2, nc, x, SOFTCE_DTYPE_I64, t);
    double lse = log(1 + exp(1.0));
    assert_true(fabs(s.loss_v[0] - lse) < 1e-6);
    assert_true(isinf(s.loss_v[1]) && s.loss_v[1] > 0); /* target at -inf: +inf, as PyTorch */
    assert_true(s.gx_v[1] == 0.0);
    assert_true(fabs(s.gx_v[4] + 1.0) < 1e-6); /* softmax 0 minus one-hot */
    assert_true(fabs(s.gx_v[3] - 1 / (1 + exp(1.0))) < 1e-6);
    assert_true(isinf(s.lsm_v[1]) && s.lsm_v[1] < 0);
    assert_true(fabs(s.lsm_v[2] - (1 - lse)) < 1e-6);
    small_free(&s);
    /* soft: q = 0 at the -inf logit contributes exactly 0 (PyTorch: NaN) */
    const double q[6] = {0.5, 0, 0.5, 0.2, 0, 0.8};
    small_run(&s, &o, SOFTCE_DTYPE_F64, 2, nc, x, SOFTCE_DTYPE_F64, q);
    assert_true(fabs(s.loss_v[0] - (lse - 0.5)) < 1e-12);
    assert_true(fabs(s.loss_v[1] - (lse - 0.8)) < 1e-12);
    assert_true(s.gx_v[1] == 0.0 && s.gx_v[4] == 0.0);
    expect_finite(s.gx_v, 6, "soft grad");
    small_free(&s);
    o.label_smoothing = 0.3; /* now q > 0 there: +inf */
    small_run(&s, &o, SOFTCE_DTYPE_F64, 2, nc, x, SOFTCE_DTYPE_F64, q);
    assert_true(isinf(s.loss_v[0]) && s.loss_v[0] > 0);
    small_free(&s);
}

static void test_nan_propagation(void **state) {
    (void)state;
    const int64_t nc[2] = {3, 3};
    const double x[9] = {0, NAN, 1, 0, 1, 2, 1, 1, 1}, t[3] = {0, 2, 1};
    const double q[9] = {0.5, 0, 0.5, 0.2, NAN, 0.8, 1, 0, 0};
    softce_options o;
    softce_options_init(&o);
    for (int soft = 0; soft < 2; soft++) {
        o.reduction = SOFTCE_REDUCTION_NONE;
        small s;
        small_run(&s, &o, SOFTCE_DTYPE_F32, 2, nc, x, soft ? SOFTCE_DTYPE_F32 : SOFTCE_DTYPE_I32,
                  soft ? q : t);
        assert_true(isnan(s.loss_v[0])); /* NaN logit, even where q = 0 */
        assert_true(soft ? isnan(s.loss_v[1]) : isfinite(s.loss_v[1])); /* NaN target */
        assert_true(isfinite(s.loss_v[2]));
        for (int c = 0; c < 3; c++)
            assert_true(isnan(s.gx_v[c]) && isnan(s.lsm_v[c]));
        assert_true(isnan(s.lse_v[0]) && isfinite(s.lse_v[2]));
        expect_finite(s.gx_v + 6, 3, "grad of the clean row");
        small_free(&s);
        o.reduction = SOFTCE_REDUCTION_MEAN;
        small_run(&s, &o, SOFTCE_DTYPE_F64, 2, nc, x, soft ? SOFTCE_DTYPE_F64 : SOFTCE_DTYPE_I64,
                  soft ? q : t);
        assert_true(isnan(s.loss_v[0]));
        small_free(&s);
    }
}

/* A NaN logit in a soft row without any target mass: every term has w q = 0 and adds nothing,
   so the loss is 0 while lse, log_softmax and the gradient are NaN; a row with mass is NaN.
   Rows (N, C) and class planes (1, C, 20: the column kernel, whose fast way must see the NaN
   in pass 1), f32 and f64. */
static void test_nan_without_mass(void **state) {
    (void)state;
    enum { C = 3, HW = 20 };
    double x[C * HW], q[C * HW];
    for (int i = 0; i < C * HW; i++) {
        x[i] = 0.25 * (i % 7) - 1.0;
        q[i] = (i % 3 + 1) / 6.0;
    }
    softce_options o;
    softce_options_init(&o);
    o.reduction = SOFTCE_REDUCTION_NONE;
    for (int d = 0; d < 2; d++) {
        const int32_t dt = d ? SOFTCE_DTYPE_F64 : SOFTCE_DTYPE_F32;
        /* rows: row 1 without mass, NaN at its class 2; row 2 with mass, NaN at its class 0 */
        const int64_t rows[2] = {HW, C};
        double xr[C * HW], qr[C * HW];
        memcpy(xr, x, sizeof xr);
        memcpy(qr, q, sizeof qr);
        xr[1 * C + 2] = NAN;
        qr[1 * C] = qr[1 * C + 1] = qr[1 * C + 2] = 0.0;
        xr[2 * C] = NAN;
        small s;
        small_run(&s, &o, dt, 2, rows, xr, dt, qr);
        assert_true(s.loss_v[1] == 0.0 && isnan(s.lse_v[1]) && isnan(s.gx_v[1 * C]));
        assert_true(isnan(s.loss_v[2]) && isfinite(s.loss_v[0]) && isfinite(s.loss_v[3]));
        small_free(&s);
        /* class planes: position 5 without mass (NaN at class 1), position 9 with (class 0) */
        const int64_t planes[3] = {1, C, HW};
        memcpy(xr, x, sizeof xr);
        memcpy(qr, q, sizeof qr);
        xr[1 * HW + 5] = NAN;
        for (int c = 0; c < C; c++)
            qr[c * HW + 5] = 0.0;
        xr[9] = NAN;
        small_run(&s, &o, dt, 3, planes, xr, dt, qr);
        assert_true(s.loss_v[5] == 0.0 && isnan(s.lse_v[5]) && isnan(s.gx_v[5]));
        assert_true(isnan(s.loss_v[9]) && isfinite(s.loss_v[4]) && isfinite(s.loss_v[6]));
        small_free(&s);
    }
}

/* Rows of 1000 classes (the row kernels) whose logits lie far below the max: exp(x - m) of the
   far ones is flushed to 0 (a row kernel's fast pass 2 would take garbage there), next to a
   row within 87 of its max; lse and the hard target's loss against long double. */
static void test_far_below_max(void **state) {
    (void)state;
    enum { N = 3, C = 1000 };
    static double x[N * C], lse[N], loss[N];
    const double t[N] = {3, 500, 999};
    for (int c = 0; c < C; c++) {
        x[c] = c == 3 ? 0.0 : -100.0 - (c % 7);             /* all but one flushed */
        x[C + c] = c == 7 ? -90.0 : 0.001 * (c % 11) - 0.5; /* one flushed */
        x[2 * C + c] = -80.0 + 0.08 * (c % 1000);           /* 80 apart: none flushed */
    }
    for (int d = 0; d < 2; d++) {
        const int32_t dt = d ? SOFTCE_DTYPE_F64 : SOFTCE_DTYPE_F32;
        const int64_t shape[2] = {N, C}, el[1] = {N};
        tbuf X, T, L, S;
        tb_make(&X, dt, 2, shape, NULL);
        tb_make(&T, SOFTCE_DTYPE_I64, 1, el, NULL);
        tb_make(&L, SOFTCE_DTYPE_F64, 1, el, NULL);
        tb_make(&S, SOFTCE_DTYPE_F64, 1, el, NULL);
        tb_store(&X, x);
        tb_store(&T, t);
        softce_options o;
        softce_options_init(&o);
        o.reduction = SOFTCE_REDUCTION_NONE;
        assert_int_equal(softce_forward(&o, &X.t, &T.t, &L.t, &S.t), SOFTCE_OK);
        tb_load(&L, loss);
        tb_load(&S, lse);
        for (int e = 0; e < N; e++) {
            long double m = -INFINITY, sum = 0.0L;
            for (int c = 0; c < C; c++)
                m = fmaxl(m, (long double)(float)x[e * C + c]);
            for (int c = 0; c < C; c++)
                sum += expl((long double)(float)x[e * C + c] - m);
            const double want = (double)(m + logl(sum));
            const double want_loss = want - (double)(float)x[e * C + (int)t[e]];
            if (fabs(lse[e] - want) > 1e-6 * (1.0 + fabs(want)) ||
                fabs(loss[e] - want_loss) > 1e-6 * (1.0 + fabs(want_loss)))
                print_error("row %d (%s): lse %.9g loss %.9g, want %.9g %.9g\n", e,
                            d ? "f64" : "f32", lse[e], loss[e], want, want_loss);
            assert_true(fabs(lse[e] - want) <= 1e-6 * (1.0 + fabs(want)));
            assert_true(fabs(loss[e] - want_loss) <= 1e-6 * (1.0 + fabs(want_loss)));
        }
        tb_free(&X);
        tb_free(&T);
        tb_free(&L);
        tb_free(&S);
    }
}

/* ---- degenerate sizes ------------------------------------------------------------------- */

static void test_one_class(void **state) {
    (void)state;
    const int64_t n1[2] = {4, 1};
    const double x[4] = {3, -2, 0, 1e4}, t[4] = {0, 0, 0, 0}, q[4] = {0.7, 1, 0, 2};
    softce_options o;
    softce_options_init(&o);
    for (int soft = 0; soft < 2; soft++)
        for (int red = SOFTCE_REDUCTION_MEAN; red <= SOFTCE_REDUCTION_NONE; red++) {
            o.reduction = red;
            o.label_smoothing = red == SOFTCE_REDUCTION_SUM ? 0.5 : 0.0;
            small s;
            small_run(&s, &o, SOFTCE_DTYPE_F32, 2, n1, x,
                      soft ? SOFTCE_DTYPE_F32 : SOFTCE_DTYPE_I64, soft ? q : t);
            for (int i = 0; i < (red == SOFTCE_REDUCTION_NONE ? 4 : 1); i++)
                assert_true(s.loss_v[i] == 0.0);
            for (int i = 0; i < 4; i++) {
                assert_true(s.gx_v[i] == 0.0 && s.lsm_v[i] == 0.0);
                assert_true(s.lse_v[i] == x[i]);
            }
            small_free(&s);
        }
}

static void test_empty_batch(void **state) {
    (void)state;
    const int64_t shapes[3][3] = {{0, 5, 1}, {2, 3, 0}, {0, 1, 0}};
    const int32_t ndims[3] = {2, 3, 3};
    const double want[4] = {0, NAN, 0, 0}; /* by reduction: mean NaN, sum 0 */
    softce_options o;
    softce_options_init(&o);
    for (int i = 0; i < 3; i++)
        for (int soft = 0; soft < 2; soft++)
            for (int red = SOFTCE_REDUCTION_MEAN; red <= SOFTCE_REDUCTION_NONE; red++) {
                o.reduction = red;
                small s;
                small_run(&s, &o, SOFTCE_DTYPE_F32, ndims[i], shapes[i], NULL,
                          soft ? SOFTCE_DTYPE_F32 : SOFTCE_DTYPE_I64, NULL);
                if (red != SOFTCE_REDUCTION_NONE)
                    assert_true(red == SOFTCE_REDUCTION_MEAN ? isnan(s.loss_v[0])
                                                             : s.loss_v[0] == want[red]);
                else
                    assert_true(tb_unchanged(&s.loss));
                assert_true(tb_unchanged(&s.gx) && tb_unchanged(&s.lse) && tb_unchanged(&s.lsm));
                small_free(&s);
            }
    /* empty tensors may have data == NULL */
    const int64_t shape[2] = {0, 4}, el[1] = {0};
    softce_tensor x, t, loss, g;
    double out = 1.0;
    softce_tensor_init(&x, SOFTCE_DTYPE_F32, 2, shape, NULL);
    softce_tensor_init(&t, SOFTCE_DTYPE_I32, 1, el, NULL);
    softce_tensor_init(&g, SOFTCE_DTYPE_F32, 2, shape, NULL);
    softce_tensor_init(&loss, SOFTCE_DTYPE_F64, 0, NULL, &out);
    o.reduction = SOFTCE_REDUCTION_SUM;
    assert_int_equal(softce_forward_backward(&o, &x, &t, NULL, &loss, &g), SOFTCE_OK);
    assert_true(out == 0.0);
}

static void test_all_ignored(void **state) {
    (void)state;
    const int64_t nc[2] = {3, 4};
    const double x[12] = {1, 2, 3, 4, 0, 0, 0, 0, -1, 5, 2, 2}, t[3] = {-100, -100, -100};
    double w[4] = {1, 2, 0.5, 1};
    const int64_t c4[1] = {4};
    tbuf bw;
    tb_make(&bw, SOFTCE_DTYPE_F32, 1, c4, NULL);
    tb_store(&bw, w);
    softce_options o;
    softce_options_init(&o);
    for (int v = 0; v < 4; v++)
        for (int red = SOFTCE_REDUCTION_MEAN; red <= SOFTCE_REDUCTION_NONE; red++) {
            o.reduction = red;
            o.weight = v & 1 ? &bw.t : NULL;
            o.label_smoothing = v & 2 ? 0.2 : 0.0;
            small s;
            small_run(&s, &o, SOFTCE_DTYPE_F32, 2, nc, x, SOFTCE_DTYPE_I32, t);
            if (red == SOFTCE_REDUCTION_MEAN)
                assert_true(isnan(s.loss_v[0]));
            for (int i = 0; red != SOFTCE_REDUCTION_MEAN && i < (red == 3 ? 3 : 1); i++)
                assert_true(s.loss_v[i] == 0.0);
            for (int i = 0; i < 12; i++)
                assert_true(s.gx_v[i] == 0.0);
            small_free(&s);
        }
    tb_free(&bw);
}

/* ---- log_softmax ---------------------------------------------------------------------- */

static void test_log_softmax_values(void **state) {
    (void)state;
    const int64_t nc[2] = {3, 3};
    const double x[9] = {1, 2, 3, 1e4, 0, -1e4, -1, -1, -1}, t[3] = {0, 0, 0};
    const double l0 = log(exp(1.0) + exp(2.0) + exp(3.0));
    const double want[9] = {1 - l0, 2 - l0, 3 - l0, 0, -1e4, -2e4, -log(3.0), -log(3.0), -log(3.0)};
    for (int xd = SOFTCE_DTYPE_F32; xd <= SOFTCE_DTYPE_F64; xd++) {
        small s;
        small_run(&s, NULL, xd, 2, nc, x, SOFTCE_DTYPE_I64, t);
        double rt = xd == SOFTCE_DTYPE_F64 ? 1e-14 : 1e-6;
        assert_true(tu_close("log_softmax", s.lsm_v, want, 9, rt, rt));
        small_free(&s);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_large_logits),     cmocka_unit_test(test_large_logits_accuracy),
        cmocka_unit_test(test_neg_inf_logits),   cmocka_unit_test(test_nan_propagation),
        cmocka_unit_test(test_nan_without_mass), cmocka_unit_test(test_far_below_max),
        cmocka_unit_test(test_one_class),        cmocka_unit_test(test_empty_batch),
        cmocka_unit_test(test_all_ignored),      cmocka_unit_test(test_log_softmax_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
