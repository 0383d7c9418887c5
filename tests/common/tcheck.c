/* tc_check(): every entry point of one problem against the reference and each other. */
#include "common/tcase.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

tc_refs tc_ref_all(const tc_problem *p) {
    size_t full = (size_t)(p->n * p->c * p->inner), el = (size_t)p->elems;
    tc_refs r;
    r.loss = tu_alloc(sizeof(double) * (el + 1));
    r.lse = tu_alloc(sizeof(double) * el);
    r.y = tu_alloc(sizeof(double) * full);
    r.gx = tu_alloc(sizeof(double) * full);
    r.gq = tu_alloc(sizeof(double) * full);
    ref_loss(&p->ref, r.loss);
    ref_lse(&p->ref, r.lse);
    ref_log_softmax(&p->ref, r.y);
    ref_grad(&p->ref, p->gv, r.gx, tc_is_soft(p) ? r.gq : NULL);
    return r;
}

void tc_refs_free(tc_refs *r) {
    free(r->loss);
    free(r->lse);
    free(r->y);
    free(r->gx);
    free(r->gq);
}

static void expect_close(const char *what, const tbuf *b, const double *want, double rtol,
                         double atol) {
    int64_t n = tu_numel(b->t.ndim, b->t.shape);
    double *got = tu_alloc(sizeof(double) * (size_t)n);
    tb_load(b, got);
    if (b->t.dtype == SOFTCE_DTYPE_F16)
        atol += 0x1p-25; /* half the f16 subnormal step */
    bool ok = tu_close(what, got, want, n, rtol, atol);
    free(got);
    assert_true(ok);
}

void tc_report_not_same(const char *label, const char *what, const double *va, const double *vb,
                        int64_t n) {
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++)
        if (memcmp(&va[i], &vb[i], sizeof(double)) != 0 && bad++ < 3)
            fprintf(stderr, "  [%lld] %.17g vs %.17g\n", (long long)i, va[i], vb[i]);
    fprintf(stderr, "[%s] %s: not bitwise identical (%lld of %lld elements differ)\n", label, what,
            (long long)bad, (long long)n);
}

static void expect_same_bytes(const tc_problem *p, const char *what, const tbuf *a, const tbuf *b) {
    bool ok = tb_same_bytes(a, b);
    if (!ok) {
        int64_t n = tu_numel(a->t.ndim, a->t.shape);
        double *va = tu_alloc(sizeof(double) * (size_t)n),
               *vb = tu_alloc(sizeof(double) * (size_t)n);
        tb_load(a, va);
        tb_load(b, vb);
        tc_report_not_same(tc_describe(&p->s), what, va, vb, n);
        free(va);
        free(vb);
    }
    assert_true(ok);
}

void tc_expect_untouched(const tc_problem *p, const tc_out *o) {
    assert_true(tb_unchanged(&p->x));
    assert_true(tb_unchanged(&p->t));
    assert_true(tb_unchanged(&p->w));
    assert_true(tb_unchanged(&p->g));
    const tbuf *outs[] = {&o->loss, &o->lse, &o->gx, &o->gq, &o->fb_loss, &o->fb_gx, &o->lsm};
    for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++)
        if (outs[i]->mem)
            assert_true(tb_outside_unchanged(outs[i]));
}

/* forward without lse; grad_target alone. */
static void expect_optional_outputs(const tc_problem *p, const tc_out *o) {
    const softce_tensor *g = p->s.gout_dtype ? &p->g.t : NULL;
    int32_t od = p->s.out_dtype, lay = p->s.out_layout;
    tbuf a = {0};
    tc_make_loss(p, &a, od, lay);
    assert_int_equal(softce_forward(&p->opts, &p->x.t, &p->t.t, &a.t, NULL), SOFTCE_OK);
    expect_same_bytes(p, "forward loss without lse", &a, &o->loss);
    tb_free(&a);
    if (tc_is_soft(p)) {
        tc_make_full(p, &a, od, lay);
        assert_int_equal(softce_backward(&p->opts, &p->x.t, &p->t.t, g, NULL, NULL, &a.t),
                         SOFTCE_OK);
        expect_same_bytes(p, "grad_target alone", &a, &o->gq);
        tb_free(&a);
    }
}

/* a within the accuracy contract of b (norm-wise, as the gradients in tc_check). */
static void expect_agree(const tc_problem *p, const char *what, const tbuf *a, const tbuf *b) {
    int64_t n = tu_numel(b->t.ndim, b->t.shape);
    double *want = tu_alloc(sizeof(double) * (size_t)n);
    tb_load(b, want);
    double rt = tu_rtol(p->s.x_dtype, p->s.out_dtype);
    expect_close(what, a, want, rt, rt * fmax(1e-300, tu_maxabs(want, n)));
    free(want);
}

void tc_check_lse_reuse(const tc_problem *p) {
    const softce_tensor *g = p->s.gout_dtype ? &p->g.t : NULL;
    int32_t cd = p->s.x_dtype == SOFTCE_DTYPE_F64 ? SOFTCE_DTYPE_F64 : SOFTCE_DTYPE_F32;
    bool soft = tc_is_soft(p);
    tbuf loss, lse, a[2], b[2];
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    tu_set_context(tc_describe(&p->s));
    tc_make_loss(p, &loss, cd, TL_CONTIG);
    tc_make_elem(p, &lse, cd, p->s.out_layout); /* the lse is exact in the compute dtype */
    assert_int_equal(softce_forward(&p->opts, &p->x.t, &p->t.t, &loss.t, &lse.t), SOFTCE_OK);
    for (int i = 0; i < 2; i++) {
        tc_make_full(p, &a[i], p->s.out_dtype, p->s.out_layout);
        if (soft)
            tc_make_full(p, &b[i], p->s.out_dtype, p->s.out_layout);
        assert_int_equal(softce_backward(&p->opts, &p->x.t, &p->t.t, g, i ? &lse.t : NULL, &a[i].t,
                                         soft ? &b[i].t : NULL),
                         SOFTCE_OK);
    }
    /* Not bitwise: forward may take another path (tile kernel) than backward's recomputation,
       and an lse stored in f32 is rounded. Both must agree within the accuracy contract. */
    expect_agree(p, "backward(lse) vs backward(NULL): grad_logits", &a[1], &a[0]);
    if (soft)
        expect_agree(p, "backward(lse) vs backward(NULL): grad_target", &b[1], &b[0]);
    tb_free(&loss);
    tb_free(&lse);
    for (int i = 0; i < 2; i++) {
        tb_free(&a[i]);
        tb_free(&b[i]);
    }
}

/* Fused and log_softmax in place == out of place into the same dtype and strides. */
static void expect_in_place(const tc_problem *p) {
    const softce_tensor *g = p->s.gout_dtype ? &p->g.t : NULL;
    tbuf in = {0}, out = {0}, l1 = {0}, l2 = {0};
    for (int pass = 0; pass < 2; pass++) {
        tb_make(&in, p->s.x_dtype, p->s.ndim, p->s.shape, p->x.t.strides);
        tb_make(&out, p->s.x_dtype, p->s.ndim, p->s.shape, p->x.t.strides);
        tb_store(&in, p->xv);
        softce_status s1, s2;
        if (pass == 0) {
            tc_make_loss(p, &l1, SOFTCE_DTYPE_F64, TL_CONTIG);
            tc_make_loss(p, &l2, SOFTCE_DTYPE_F64, TL_CONTIG);
            s1 = softce_forward_backward(&p->opts, &in.t, &p->t.t, g, &l1.t, &in.t);
            s2 = softce_forward_backward(&p->opts, &p->x.t, &p->t.t, g, &l2.t, &out.t);
            expect_same_bytes(p, "in-place fused loss", &l1, &l2);
        } else {
            s1 = softce_log_softmax(&p->opts, &in.t, &in.t);
            s2 = softce_log_softmax(&p->opts, &p->x.t, &out.t);
        }
        assert_int_equal(s1, SOFTCE_OK);
        assert_int_equal(s2, SOFTCE_OK);
        expect_same_bytes(p, pass ? "in-place log_softmax" : "in-place fused grad", &in, &out);
        tb_free(&in);
        tb_free(&out);
        tb_free(&l1);
        tb_free(&l2);
    }
}

void tc_check(const tc_problem *p) {
    tu_set_context(tc_describe(&p->s));
    double rt = tu_rtol(p->s.x_dtype, p->s.out_dtype);
    tc_out o;
    tc_run(p, &o);
    tc_refs r = tc_ref_all(p);
    /* The accuracy contract of docs/numerics.md: element-wise rtol, plus an absolute part.
       Gradients and log_softmax: norm-wise, rtol times their largest magnitude, or the size of
       the cancelling terms s*S and w*q when larger. Loss and lse: a tenth of that, since with
       exp in f32 their absolute error follows |lse| rather than the value (a loss near 0). */
    int64_t full = p->n * p->c * p->inner, nl = o.loss.t.ndim ? p->elems : 1;
    double ag = rt * fmax(ref_grad_scale(&p->ref, p->gv), tu_maxabs(r.gx, full));
    double al = 0.1 * rt * fmax(1.0, tu_maxabs(r.loss, nl));
    expect_close("loss", &o.loss, r.loss, rt, al);
    expect_close("lse", &o.lse, r.lse, rt, 0.1 * rt * fmax(1.0, tu_maxabs(r.lse, p->elems)));
    expect_close("grad_logits", &o.gx, r.gx, rt, ag);
    if (tc_is_soft(p))
        expect_close("grad_target", &o.gq, r.gq, rt, rt * tu_maxabs(r.gq, full));
    expect_close("fused loss", &o.fb_loss, r.loss, rt, al);
    expect_close("fused grad", &o.fb_gx, r.gx, rt, ag);
    expect_close("log_softmax", &o.lsm, r.y, rt, rt * tu_maxabs(r.y, full));
    tc_expect_untouched(p, &o);
    expect_optional_outputs(p, &o);
    if (p->s.x_layout != TL_BCAST)
        expect_in_place(p);
    tc_refs_free(&r);
    tc_out_free(&o);
}
