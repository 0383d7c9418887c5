/*
 * Gradients: central finite differences in f64 (logits and soft target), backward against the
 * reference at larger sizes, forward+backward == fused, in-place == out-of-place (bitwise),
 * and the upstream gradient for none/mean/sum.
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

/* sum_e g_e * loss_e (NONE) or g * loss, computed by the library in f64. */
static double objective(const tc_problem *p) {
    tbuf l;
    tc_make_loss(p, &l, SOFTCE_DTYPE_F64, TL_CONTIG);
    assert_int_equal(softce_forward(&p->opts, &p->x.t, &p->t.t, &l.t, NULL), SOFTCE_OK);
    int64_t n = tu_numel(l.t.ndim, l.t.shape);
    double *v = tu_alloc(sizeof(double) * (size_t)n), sum = 0.0;
    tb_load(&l, v);
    for (int64_t i = 0; i < n; i++)
        sum += (p->gv ? p->gv[i] : 1.0) * v[i];
    free(v);
    tb_free(&l);
    return sum;
}

/* Central difference of objective() w.r.t. every element of the input tensor b. */
static void finite_diff(const tc_problem *p, tbuf *b, double *fd) {
    int64_t n = tu_numel(b->t.ndim, b->t.shape);
    for (int64_t i = 0; i < n; i++) {
        double *at = (double *)b->t.data + tb_offset(&b->t, i), x0 = *at;
        double h = 1e-6 * fmax(1.0, fabs(x0));
        *at = x0 + h;
        double up = objective(p);
        *at = x0 - h;
        double down = objective(p);
        *at = x0;
        fd[i] = (up - down) / (2.0 * h);
    }
}

static void check_fd(const tc_spec *s) {
    tc_problem p;
    tc_init(&p, s);
    tu_set_context(tc_describe(s));
    int64_t n = tu_numel(s->ndim, s->shape);
    double *fd = tu_alloc(sizeof(double) * (size_t)n), *got = tu_alloc(sizeof(double) * (size_t)n);
    tbuf gx, gq;
    bool soft = tc_is_soft(&p);
    tc_make_full(&p, &gx, SOFTCE_DTYPE_F64, TL_CONTIG);
    tc_make_full(&p, &gq, SOFTCE_DTYPE_F64, TL_CONTIG);
    assert_int_equal(softce_backward(&p.opts, &p.x.t, &p.t.t, p.gv ? &p.g.t : NULL, NULL, &gx.t,
                                     soft ? &gq.t : NULL),
                     SOFTCE_OK);
    finite_diff(&p, &p.x, fd);
    tb_load(&gx, got);
    assert_true(tu_close("grad_logits vs finite differences", got, fd, n, 1e-6, 1e-8));
    if (soft) {
        finite_diff(&p, &p.t, fd);
        tb_load(&gq, got);
        assert_true(tu_close("grad_target vs finite differences", got, fd, n, 1e-6, 1e-8));
    }
    free(fd);
    free(got);
    tb_free(&gx);
    tb_free(&gq);
    tc_free(&p);
}

static void test_finite_differences(void **state) {
    (void)state;
    const int64_t s2[2] = {3, 5}, s4[4] = {2, 4, 3, 2};
    uint64_t seed = 1;
    for (int shape = 0; shape < 2; shape++)
        for (int red = SOFTCE_REDUCTION_MEAN; red <= SOFTCE_REDUCTION_NONE; red++)
            for (int tdt = SOFTCE_DTYPE_F64; tdt <= SOFTCE_DTYPE_I64; tdt += 4) { /* f64, i64 */
                for (int variant = 0; variant < 3; variant++) {
                    tc_spec s;
                    tc_spec_init(&s, shape ? 4 : 2, shape ? s4 : s2);
                    s.x_dtype = s.out_dtype = SOFTCE_DTYPE_F64;
                    s.t_dtype = tdt;
                    s.reduction = red;
                    s.w_dtype = variant ? SOFTCE_DTYPE_F64 : 0;
                    s.eps = variant == 2 ? 0.2 : 0.0;
                    s.ignore_index = 1;
                    s.ignore_present = variant == 1;
                    s.soft_unnormalized = variant == 2;
                    s.gout_dtype = variant ? SOFTCE_DTYPE_F64 : 0;
                    s.x_layout = variant == 1 ? TL_REVERSED : TL_CONTIG;
                    s.seed = seed++;
                    check_fd(&s);
                }
            }
}

/* ---- backward against the reference at larger sizes ------------------------------------ */

static void test_backward_vs_reference(void **state) {
    (void)state;
    const int64_t wide[2] = {7, 1000}, tall[2] = {300, 13}, kdim[4] = {3, 21, 8, 9};
    const int64_t *shapes[3] = {wide, tall, kdim};
    const int32_t ndims[3] = {2, 2, 4};
    uint64_t seed = 100;
    for (int i = 0; i < 3; i++)
        for (int xd = SOFTCE_DTYPE_F32; xd <= SOFTCE_DTYPE_BF16; xd++)
            for (int soft = 0; soft < 2; soft++) {
                tc_spec s;
                tc_spec_init(&s, ndims[i], shapes[i]);
                s.x_dtype = xd;
                s.out_dtype = xd == SOFTCE_DTYPE_F64 ? xd : SOFTCE_DTYPE_F32;
                s.t_dtype = soft ? SOFTCE_DTYPE_F32 : SOFTCE_DTYPE_I32;
                s.reduction = SOFTCE_REDUCTION_MEAN + (int32_t)(seed % 3);
                s.w_dtype = seed % 2 ? SOFTCE_DTYPE_F32 : 0;
                s.eps = seed % 4 == 1 ? 0.1 : 0.0;
                s.gout_dtype = SOFTCE_DTYPE_F32;
                s.x_scale = 4.0;
                s.seed = seed++;
                tc_check_spec(&s);
            }
}

/* ---- fused == forward + backward ------------------------------------------------------- */

static void expect_near(const char *what, const tbuf *a, const tbuf *b, double rtol) {
    int64_t n = tu_numel(a->t.ndim, a->t.shape);
    double *va = tu_alloc(sizeof(double) * (size_t)n), *vb = tu_alloc(sizeof(double) * (size_t)n);
    tb_load(a, va);
    tb_load(b, vb);
    bool ok = tu_close(what, va, vb, n, rtol, rtol * tu_maxabs(vb, n));
    free(va);
    free(vb);
    assert_true(ok);
}

static void test_fused_equals_separate(void **state) {
    (void)state;
    const int64_t shape[3] = {33, 17, 5};
    uint64_t seed = 200;
    for (int xd = SOFTCE_DTYPE_F32; xd <= SOFTCE_DTYPE_BF16; xd++)
        for (int red = SOFTCE_REDUCTION_MEAN; red <= SOFTCE_REDUCTION_NONE; red++)
            for (int soft = 0; soft < 2; soft++) {
                tc_spec s;
                tc_spec_init(&s, 3, shape);
                s.x_dtype = xd;
                s.out_dtype = xd == SOFTCE_DTYPE_F64 ? xd : SOFTCE_DTYPE_F32;
                s.t_dtype = soft ? SOFTCE_DTYPE_F64 : SOFTCE_DTYPE_I64;
                s.reduction = red;
                s.w_dtype = soft ? SOFTCE_DTYPE_F32 : SOFTCE_DTYPE_F64;
                s.eps = 0.15;
                s.ignore_present = 1;
                s.gout_dtype = SOFTCE_DTYPE_F64;
                s.seed = seed++;
                tc_problem p;
                tc_init(&p, &s);
                tu_set_context(tc_describe(&s));
                tc_out o;
                tc_run(&p, &o);
                double rt = xd == SOFTCE_DTYPE_F64 ? 1e-14 : 5e-7; /* a few ulps */
                expect_near("fused loss vs forward", &o.fb_loss, &o.loss, rt);
                expect_near("fused grad vs backward", &o.fb_gx, &o.gx, rt);
                tc_out_free(&o);
                tc_free(&p);
            }
}

/* ---- in place == out of place, bitwise -------------------------------------------------- */

static void test_in_place(void **state) {
    (void)state;
    const int64_t shape[2] = {64, 130}, kdim[3] = {4, 9, 31};
    uint64_t seed = 300;
    for (int xd = SOFTCE_DTYPE_F32; xd <= SOFTCE_DTYPE_BF16; xd++)
        for (int lay = TL_CONTIG; lay <= TL_PADDED; lay++)
            for (int soft = 0; soft < 2; soft++) {
                tc_spec s;
                tc_spec_init(&s, lay == TL_CLASS_LAST ? 3 : 2, lay == TL_CLASS_LAST ? kdim : shape);
                s.x_dtype = xd;
                s.out_dtype = xd == SOFTCE_DTYPE_F64 ? xd : SOFTCE_DTYPE_F32;
                s.t_dtype = soft ? SOFTCE_DTYPE_BF16 : SOFTCE_DTYPE_I32;
                s.x_layout = lay;
                s.reduction = SOFTCE_REDUCTION_MEAN + (int32_t)(seed % 3);
                s.seed = seed++;
                tc_check_spec(&s); /* includes the bitwise in-place checks */
            }
}

/* ---- upstream gradient --------------------------------------------------------------- */

static void test_upstream_gradient(void **state) {
    (void)state;
    const int64_t shape[3] = {5, 6, 4};
    uint64_t seed = 400;
    for (int red = SOFTCE_REDUCTION_MEAN; red <= SOFTCE_REDUCTION_NONE; red++)
        for (int gd = SOFTCE_DTYPE_F32; gd <= SOFTCE_DTYPE_BF16; gd++)
            for (int soft = 0; soft < 2; soft++) {
                tc_spec s;
                tc_spec_init(&s, 3, shape);
                s.x_dtype = s.out_dtype = SOFTCE_DTYPE_F64;
                s.t_dtype = soft ? SOFTCE_DTYPE_F64 : SOFTCE_DTYPE_I64;
                s.reduction = red;
                s.gout_dtype = gd;
                s.ignore_present = 1;
                s.seed = seed++;
                tc_check_spec(&s); /* reference scales by the given upstream values */
            }
    /* a zero upstream gradient gives exactly zero */
    tc_spec s;
    tc_spec_init(&s, 3, shape);
    s.reduction = SOFTCE_REDUCTION_SUM;
    s.gout_dtype = SOFTCE_DTYPE_F32;
    tc_problem p;
    tc_init(&p, &s);
    double zero = 0.0;
    tb_store(&p.g, &zero);
    tbuf g;
    tc_make_full(&p, &g, SOFTCE_DTYPE_F32, TL_CONTIG);
    assert_int_equal(softce_backward(&p.opts, &p.x.t, &p.t.t, &p.g.t, NULL, &g.t, NULL), SOFTCE_OK);
    double v[120];
    tb_load(&g, v);
    for (int i = 0; i < 120; i++)
        assert_true(v[i] == 0.0);
    tb_free(&g);
    tc_free(&p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_finite_differences),    cmocka_unit_test(test_backward_vs_reference),
        cmocka_unit_test(test_fused_equals_separate), cmocka_unit_test(test_in_place),
        cmocka_unit_test(test_upstream_gradient),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
