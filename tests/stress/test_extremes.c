/*
 * Numerical extremes: logits of +-1e30, subnormals, all equal, one huge, all -inf but one,
 * C = 1 and C = 2^20, in every logits dtype that can hold them. Each problem goes through
 * forward (loss + lse), backward (lse recomputed), the fused call and log_softmax, with f64
 * outputs, and is compared with the double-precision reference of xref.h.
 */
#include "xref.h"

#include <softce/softce.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

typedef struct problem {
    softce_dtype dtype;
    int64_t N, C;
    double *x;        /* N*C logits; replaced by the values the dtype stores */
    const int64_t *t; /* hard targets, or NULL */
    const double *q;  /* soft targets (N*C), or NULL */
    double eps, g;    /* label smoothing; upstream gradient of every element */
    double rtol, atol;
} problem;

static softce_tensor tensor(softce_dtype dt, int ndim, int64_t n0, int64_t n1, void *data) {
    const int64_t shape[2] = {n0, n1};
    softce_tensor t;
    assert_int_equal(softce_tensor_init(&t, dt, ndim, shape, data), SOFTCE_OK);
    return t;
}

/* Stores x in the problem's dtype and replaces x by what was stored. */
static void *store(problem *p) {
    size_t n = (size_t)(p->N * p->C);
    void *buf = malloc(n * 8);
    for (size_t i = 0; i < n; i++) {
        switch (p->dtype) {
        case SOFTCE_DTYPE_F64:
            ((double *)buf)[i] = p->x[i];
            break;
        case SOFTCE_DTYPE_F32:
            p->x[i] = ((float *)buf)[i] = (float)p->x[i];
            break;
        case SOFTCE_DTYPE_BF16:
            p->x[i] = xr_from_bf16(((uint16_t *)buf)[i] = xr_to_bf16(p->x[i]));
            break;
        default:
            p->x[i] = xr_from_f16(((uint16_t *)buf)[i] = xr_to_f16(p->x[i]));
            break;
        }
    }
    return buf;
}

static int mismatches; /* of the current check(); the first few are printed */

static void expect_close(double got, double want, const problem *p, const char *what, int64_t i) {
    int ok = isnan(want)   ? isnan(got)
             : isinf(want) ? got == want
                           : fabs(got - want) <= p->atol + p->rtol * fabs(want);
    if (!ok && mismatches++ < 4)
        print_error("dtype %d C %lld eps %g %s[%lld]: got %.9g, want %.9g\n", (int)p->dtype,
                    (long long)p->C, p->eps, what, (long long)i, got, want);
}

/* All four entry points against the reference, for every element of the problem. */
static void check(problem *p) {
    const int64_t N = p->N, C = p->C, NC = N * C;
    mismatches = 0;
    void *xb = store(p);
    double *loss = malloc((size_t)N * 8), *lse = malloc((size_t)N * 8), *gl = malloc((size_t)N * 8);
    double *grad = malloc((size_t)NC * 8), *want = malloc((size_t)NC * 8), *qs = NULL;
    for (int64_t e = 0; e < N; e++)
        gl[e] = p->g;
    softce_options o;
    softce_options_init(&o);
    o.reduction = SOFTCE_REDUCTION_NONE;
    o.label_smoothing = p->eps;
    softce_tensor x = tensor(p->dtype, 2, N, C, xb), lo = tensor(SOFTCE_DTYPE_F64, 1, N, 0, loss);
    softce_tensor ls = tensor(SOFTCE_DTYPE_F64, 1, N, 0, lse),
                  g = tensor(SOFTCE_DTYPE_F64, 1, N, 0, gl);
    softce_tensor gx = tensor(SOFTCE_DTYPE_F64, 2, N, C, grad), t;
    if (p->q)
        t = tensor(SOFTCE_DTYPE_F64, 2, N, C, qs = (double *)p->q);
    else
        t = tensor(SOFTCE_DTYPE_I64, 1, N, 0, (void *)(uintptr_t)p->t);
    (void)qs;
    assert_int_equal(softce_forward(&o, &x, &t, &lo, &ls), SOFTCE_OK);
    for (int64_t e = 0; e < N; e++) {
        const double *xe = p->x + e * C, *qe = p->q ? p->q + e * C : NULL;
        double l = xr_row(xe, C, p->t ? p->t[e] : -1, qe, p->eps, p->g, want + e * C);
        expect_close(loss[e], l, p, "forward loss", e);
        expect_close(lse[e], xr_lse(xe, C), p, "forward lse", e);
    }
    assert_int_equal(softce_backward(&o, &x, &t, &g, NULL, &gx, NULL), SOFTCE_OK);
    for (int64_t i = 0; i < NC; i++)
        expect_close(grad[i], want[i], p, "backward grad", i);
    assert_int_equal(softce_forward_backward(&o, &x, &t, &g, &lo, &gx), SOFTCE_OK);
    for (int64_t i = 0; i < NC; i++)
        expect_close(grad[i], want[i], p, "fused grad", i);
    for (int64_t e = 0; e < N; e++)
        expect_close(loss[e],
                     xr_row(p->x + e * C, C, p->t ? p->t[e] : -1, p->q ? p->q + e * C : NULL,
                            p->eps, p->g, want + e * C),
                     p, "fused loss", e);
    assert_int_equal(softce_log_softmax(NULL, &x, &gx), SOFTCE_OK);
    for (int64_t e = 0; e < N; e++) {
        xr_stats r = xr_stats_of(p->x + e * C, C);
        for (int64_t c = 0; c < C; c++)
            expect_close(grad[e * C + c], xr_log_softmax(p->x[e * C + c], r), p, "log_softmax",
                         e * C + c);
    }
    free(xb), free(loss), free(lse), free(gl), free(grad), free(want);
    if (mismatches)
        fail_msg("%d values outside the tolerance", mismatches);
}

static const softce_dtype all_dtypes[4] = {SOFTCE_DTYPE_F32, SOFTCE_DTYPE_F64, SOFTCE_DTYPE_BF16,
                                           SOFTCE_DTYPE_F16};

/* Runs rows (N x C, row-major) with hard targets `t`, in each dtype of `dts`. */
static void check_rows(const double *rows, int64_t N, int64_t C, const int64_t *t, const double *q,
                       int ndt, const softce_dtype *dts, double rtol, double atol) {
    double *x = malloc((size_t)(N * C) * sizeof *x);
    for (int d = 0; d < ndt; d++) {
        memcpy(x, rows, (size_t)(N * C) * sizeof *x);
        problem p = {dts[d], N, C, x, t, q, 0.0, 1.0, rtol, atol};
        check(&p);
        memcpy(x, rows, (size_t)(N * C) * sizeof *x);
        p.eps = 0.25, p.g = 0.5;
        check(&p);
    }
    free(x);
}

static void test_huge_magnitudes(void **state) {
    (void)state;
    const double rows[3 * 5] = {1e30,  -1e30, 0,    1e30, -1e30, -1e30, -1e30, -1e30,
                                -1e30, 2.5,   1e30, 1e30, 1e30,  1e30,  1e30};
    const int64_t t[3] = {1, 4, 2};
    check_rows(rows, 3, 5, t, NULL, 3, all_dtypes, 1e-6, 1e-6);
    const double rows16[2 * 3] = {6e4, -6e4, 0, -6e4, -6e4, 6e4}; /* near the f16 limit */
    const int64_t t16[2] = {1, 2};
    check_rows(rows16, 2, 3, t16, NULL, 4, all_dtypes, 1e-6, 1e-6);
}

static void test_subnormals(void **state) {
    (void)state;
    double rows[2 * 6], q[2 * 6];
    for (int i = 0; i < 12; i++) {
        rows[i] = ldexp((double)(i + 1), -140) * (i % 2 ? -1.0 : 1.0); /* f32 subnormals */
        q[i] = ldexp((double)(i + 3), -135) + (i % 6 == 2 ? 0.5 : 0.0);
    }
    const int64_t t[2] = {0, 5};
    check_rows(rows, 2, 6, t, NULL, 3, all_dtypes, 1e-6, 1e-6);
    check_rows(rows, 2, 6, NULL, q, 3, all_dtypes, 1e-6, 1e-6);
    for (int i = 0; i < 12; i++)
        rows[i] = ldexp((double)(i + 1), -1070); /* f64 subnormals */
    check_rows(rows, 2, 6, t, NULL, 1, &all_dtypes[1], 1e-12, 1e-15);
    for (int i = 0; i < 12; i++)
        rows[i] = ldexp((double)(i + 1), -24); /* f16 subnormals */
    check_rows(rows, 2, 6, t, NULL, 1, &all_dtypes[3], 1e-5, 1e-6);
    /* subnormal upstream gradient: the gradient is subnormal too, not flushed to zero */
    double x[6] = {0.5, -1, 2, 0, 1, 3};
    problem p = {SOFTCE_DTYPE_F64, 1, 6, x, t, NULL, 0.0, 0x1.0p-1060, 1e-12, 0x1.0p-1074};
    check(&p);
    problem pf = {SOFTCE_DTYPE_F32, 1, 6, x, t, NULL, 0.0, 0x1.0p-135, 1e-6, 0x1.0p-146};
    check(&pf);
}

static void test_all_equal(void **state) {
    (void)state;
    const double values[5] = {0.0, 1e4, -1e4, 88.75, -1e30};
    const int64_t Cs[2] = {7, 1000};
    for (int c = 0; c < 2; c++)
        for (int v = 0; v < 5; v++) {
            int64_t C = Cs[c], t[2] = {0, C - 1};
            double *rows = malloc((size_t)(2 * C) * sizeof *rows);
            for (int64_t i = 0; i < 2 * C; i++)
                rows[i] = values[v];
            check_rows(rows, 2, C, t, NULL, v == 4 ? 3 : 4, all_dtypes, 1e-6, 1e-6);
            free(rows);
        }
}

static void test_one_huge(void **state) {
    (void)state;
    const double huge[4] = {100.0, 1e4, 1e30, 3e38};
    for (int h = 0; h < 4; h++) {
        double rows[2 * 9] = {0};
        rows[4] = huge[h], rows[9 + 8] = huge[h];
        const int64_t t[2] = {4, 0}; /* the huge class, and another one */
        check_rows(rows, 2, 9, t, NULL, h < 2 ? 3 : 2, all_dtypes, 1e-6, 1e-6);
    }
}

static void test_all_minus_inf_but_one(void **state) {
    (void)state;
    double rows[3 * 6], q[3 * 6] = {0};
    for (int i = 0; i < 18; i++)
        rows[i] = -INFINITY;
    rows[2] = 3.0, rows[6 + 0] = -7.5, rows[12 + 5] = 0.0;
    const int64_t t[3] = {2, 0, 1}; /* the finite class twice, then a -inf class: loss +inf */
    check_rows(rows, 3, 6, t, NULL, 4, all_dtypes, 1e-6, 1e-6);
    q[2] = 1.0, q[6] = 0.75, q[12 + 5] = 0.5; /* q = 0 on every -inf class: loss 0 */
    double *x = malloc(sizeof rows);
    for (int d = 0; d < 4; d++) {
        memcpy(x, rows, sizeof rows);
        problem p = {all_dtypes[d], 3, 6, x, NULL, q, 0.0, 1.0, 1e-6, 1e-6};
        check(&p);
        assert_true(p.x[2] == 3.0);
    }
    free(x);
}

static void test_one_class(void **state) {
    (void)state;
    const double rows[5] = {-3.0, 0.0, 1e30, -1e30, 42.0};
    const double q[5] = {1.0, 0.3, 0.0, 2.0, 1e-30};
    const int64_t t[5] = {0, 0, 0, 0, 0};
    check_rows(rows, 5, 1, t, NULL, 3, all_dtypes, 1e-6, 1e-6);
    check_rows(rows, 5, 1, NULL, q, 3, all_dtypes, 1e-6, 1e-6);
}

static void test_million_classes(void **state) {
    (void)state;
    const int64_t C = (int64_t)1 << 20;
    double *rows = malloc((size_t)(2 * C) * sizeof *rows);
    uint64_t s = 12345;
    for (int64_t i = 0; i < 2 * C; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        rows[i] = (double)(s >> 11) * 0x1.0p-53 * 20.0 - 10.0;
    }
    rows[C + 777] = 30.0; /* one dominant logit in the second row */
    const int64_t t[2] = {123456, C - 1};
    check_rows(rows, 2, C, t, NULL, 2, all_dtypes, 2e-5, 1e-9);
    free(rows);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_huge_magnitudes),
        cmocka_unit_test(test_subnormals),
        cmocka_unit_test(test_all_equal),
        cmocka_unit_test(test_one_huge),
        cmocka_unit_test(test_all_minus_inf_but_one),
        cmocka_unit_test(test_one_class),
        cmocka_unit_test(test_million_classes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
