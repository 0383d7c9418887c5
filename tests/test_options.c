/*
 * The options added in 1.1 (z-loss, softcap, logit_scale, sample weights, mean denominators,
 * empty means, OTHERS smoothing, a smoothing prior, the KL flag and the extra per-element
 * outputs) through the public API, against the double-precision reference of tests/ref
 * (written from docs/numerics.md): loss, lse, grad_logits, grad_target and the extra outputs,
 * for each option alone and for a seeded sweep of combinations with class weights,
 * ignore_index, label smoothing and every reduction, hard and soft targets, f32 and f64,
 * row-major and strided class axes, and the in-place fused call. Gradients are also checked
 * against central finite differences of the library's own loss (f64), independently of the
 * reference.
 *
 * SOFTCE_TEST_SWEEP=n runs the sweep over seeds 1..n (default 160); SOFTCE_TEST_SEED=k starts
 * it at k and prints each case (to reproduce one).
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


/* ---- a case: a tc_spec plus the 1.1 options --------------------------------------------- */

typedef struct ocase {
    tc_spec s;
    double z_loss, softcap, logit_scale;
    int32_t sw_dtype; /* 0: no sample weights */
    double sw_zero;   /* fraction of masked elements (sample weight exactly 0) */
    int32_t denominator;
    double den_value;
    int32_t empty;
    int32_t smoothing;
    int32_t prior_dtype; /* 0: no prior */
    int kl;
    int extras; /* 1: request out_lse/out_argmax/out_correct/out_z_loss; 2: out_lse/out_z_loss */
    int32_t argmax_dtype, correct_dtype; /* of the extra outputs (0: I64 / F32) */
} ocase;

static void ocase_init(ocase *c, int32_t ndim, const int64_t *shape) {
    memset(c, 0, sizeof *c);
    tc_spec_init(&c->s, ndim, shape);
    c->logit_scale = 1.0;
    c->den_value = 1.0;
}

static const char *ocase_describe(const ocase *c) {
    static char buf[512];
    snprintf(buf, sizeof buf,
             "%s | zl=%g cap=%g scale=%g sw=%s/%g den=%d(%g) empty=%d sm=%d prior=%s kl=%d "
             "extras=%d(%s,%s)",
             tc_describe(&c->s), c->z_loss, c->softcap, c->logit_scale, tu_dtype_name(c->sw_dtype),
             c->sw_zero, c->denominator, c->den_value, c->empty, c->smoothing,
             tu_dtype_name(c->prior_dtype), c->kl, c->extras, tu_dtype_name(c->argmax_dtype),
             tu_dtype_name(c->correct_dtype));
    return buf;
}

/* A problem of a case: the tc_problem, its sample weights and prior, options and reference. */
typedef struct oproblem {
    tc_problem p;
    ocase c;
    tbuf sw, prior;
    double *swv, *priorv;
    softce_options opts; /* without extra outputs */
    ref_ext ext;
} oproblem;

static void make_sample_weights(oproblem *o, tu_rng *r) {
    tc_problem *p = &o->p;
    tc_make_elem(p, &o->sw, o->c.sw_dtype, p->s.out_layout == TL_PADDED ? TL_PADDED : TL_CONTIG);
    int64_t n = p->elems;
    double *v = tu_alloc(sizeof(double) * (size_t)(n + 1));
    for (int64_t i = 0; i < n; i++)
        v[i] = tu_rand_unif(r) < o->c.sw_zero ? 0.0 : 0.25 + 1.75 * tu_rand_unif(r);
    /* the element tc_init keeps counted (first one of the last row) is never masked, so no
       denominator is 0 unless a case asks for it */
    if (p->n > 0 && o->c.sw_zero < 1.0)
        v[(p->n - 1) * (n / p->n)] = 1.5;
    tb_store(&o->sw, v);
    tb_load(&o->sw, v);
    tb_snapshot(&o->sw);
    o->swv = v;
}

static void make_prior(oproblem *o, tu_rng *r) {
    tc_problem *p = &o->p;
    tb_make_layout(&o->prior, o->c.prior_dtype, 1, &p->c, TL_PADDED);
    double *v = tu_alloc(sizeof(double) * (size_t)p->c), sum = 0.0;
    for (int64_t i = 0; i < p->c; i++)
        sum += v[i] = 0.05 + tu_rand_unif(r);
    for (int64_t i = 0; i < p->c; i++)
        v[i] /= sum;
    tb_store(&o->prior, v);
    tb_load(&o->prior, v);
    tb_snapshot(&o->prior);
    o->priorv = v;
}

static void oproblem_init(oproblem *o, const ocase *c) {
    memset(o, 0, sizeof *o);
    o->c = *c;
    tc_init(&o->p, &c->s);
    tu_rng r = {c->s.seed * 0x9e3779b97f4a7c15u + 11};
    if (c->sw_dtype)
        make_sample_weights(o, &r);
    if (c->prior_dtype)
        make_prior(o, &r);
    o->opts = o->p.opts;
    o->opts.z_loss = c->z_loss;
    o->opts.softcap = c->softcap;
    o->opts.logit_scale = c->logit_scale;
    o->opts.sample_weight = c->sw_dtype ? &o->sw.t : NULL;
    o->opts.denominator = c->denominator;
    o->opts.denominator_value = c->den_value;
    o->opts.empty = c->empty;
    o->opts.smoothing = c->smoothing;
    o->opts.smoothing_prior = c->prior_dtype ? &o->prior.t : NULL;
    o->opts.flags = c->kl ? SOFTCE_FLAG_KL : 0u;
    o->p.opts = o->opts;
    ref_ext_init(&o->ext);
    o->ext.z_loss = c->z_loss;
    o->ext.softcap = c->softcap;
    o->ext.logit_scale = c->logit_scale;
    o->ext.sample_weight = o->swv;
    o->ext.denominator = c->denominator;
    o->ext.denominator_value = c->den_value;
    o->ext.empty = c->empty;
    o->ext.smoothing = c->smoothing;
    o->ext.prior = o->priorv;
    o->ext.kl = c->kl;
    o->p.ref.ext = &o->ext;
}

static void oproblem_free(oproblem *o) {
    tc_free(&o->p);
    tb_free(&o->sw);
    tb_free(&o->prior);
    free(o->swv);
    free(o->priorv);
}

/* ---- comparisons ------------------------------------------------------------------------ */

static double *load_all(const tbuf *b) {
    int64_t n = tu_numel(b->t.ndim, b->t.shape);
    double *v = tu_alloc(sizeof(double) * (size_t)(n + 1));
    tb_load(b, v);
    return v;
}

static void expect_close(const char *what, const tbuf *b, const double *want, double rtol,
                         double atol) {
    int64_t n = tu_numel(b->t.ndim, b->t.shape);
    double *got = load_all(b);
    if (b->t.dtype == SOFTCE_DTYPE_F16)
        atol += 0x1p-25;
    bool ok = tu_close(what, got, want, n, rtol, atol);
    free(got);
    assert_true(ok);
}

static void expect_same_bytes(const char *what, const tbuf *a, const tbuf *b) {
    if (!tb_same_bytes(a, b))
        fprintf(stderr, "%s: not bitwise identical\n", what);
    assert_true(tb_same_bytes(a, b));
}

typedef struct orefs {
    double *loss, *lse, *y, *gx, *gq, *argmax, *correct, *zloss;
} orefs;

static orefs orefs_make(const oproblem *o) {
    const tc_problem *p = &o->p;
    size_t full = (size_t)(p->n * p->c * p->inner) + 1, el = (size_t)p->elems + 1;
    orefs r;
    r.loss = tu_alloc(sizeof(double) * el);
    r.lse = tu_alloc(sizeof(double) * el);
    r.y = tu_alloc(sizeof(double) * full);
    r.gx = tu_alloc(sizeof(double) * full);
    r.gq = tu_alloc(sizeof(double) * full);
    r.argmax = tu_alloc(sizeof(double) * el);
    r.correct = tu_alloc(sizeof(double) * el);
    r.zloss = tu_alloc(sizeof(double) * el);
    ref_loss(&p->ref, r.loss);
    ref_lse(&p->ref, r.lse);
    ref_log_softmax(&p->ref, r.y);
    ref_grad(&p->ref, p->gv, r.gx, tc_is_soft(p) ? r.gq : NULL);
    ref_extras(&p->ref, r.argmax, r.correct, r.zloss);
    return r;
}

static void orefs_free(orefs *r) {
    double *all[] = {r->loss, r->lse, r->y, r->gx, r->gq, r->argmax, r->correct, r->zloss};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]);
}

/* The extra outputs of one call. */
typedef struct extras {
    tbuf lse, argmax, correct, zloss;
} extras;

static void extras_make(const oproblem *o, extras *e, softce_options *opts) {
    const tc_problem *p = &o->p;
    int lay = p->s.out_layout;
    memset(e, 0, sizeof *e);
    tc_make_elem(p, &e->lse, p->s.out_dtype, lay);
    tc_make_elem(p, &e->zloss, p->s.out_dtype, lay);
    opts->out_lse = &e->lse.t;
    opts->out_z_loss = &e->zloss.t;
    if (o->c.extras == 2)
        return;
    tc_make_elem(p, &e->argmax, o->c.argmax_dtype ? o->c.argmax_dtype : SOFTCE_DTYPE_I64, lay);
    tc_make_elem(p, &e->correct, o->c.correct_dtype ? o->c.correct_dtype : SOFTCE_DTYPE_F32, lay);
    opts->out_argmax = &e->argmax.t;
    opts->out_correct = &e->correct.t;
}

static void extras_free(extras *e) {
    tb_free(&e->lse);
    tb_free(&e->argmax);
    tb_free(&e->correct);
    tb_free(&e->zloss);
}

static void expect_extras(const oproblem *o, const char *call, const extras *e, const orefs *r,
                          double rt) {
    char what[64];
    int64_t n = o->p.elems;
    snprintf(what, sizeof what, "%s out_lse", call);
    expect_close(what, &e->lse, r->lse, rt, 0.1 * rt * fmax(1.0, tu_maxabs(r->lse, n)));
    snprintf(what, sizeof what, "%s out_z_loss", call);
    expect_close(what, &e->zloss, r->zloss, rt, 0.1 * rt * fmax(1e-300, tu_maxabs(r->zloss, n)));
    assert_true(tb_outside_unchanged(&e->lse) && tb_outside_unchanged(&e->zloss));
    if (o->c.extras == 2)
        return;
    snprintf(what, sizeof what, "%s out_argmax", call);
    expect_close(what, &e->argmax, r->argmax, 0.0, 0.0);
    snprintf(what, sizeof what, "%s out_correct", call);
    expect_close(what, &e->correct, r->correct, 0.0, 0.0);
    assert_true(tb_outside_unchanged(&e->argmax) && tb_outside_unchanged(&e->correct));
}

static void expect_inputs_untouched(const oproblem *o) {
    assert_true(tb_unchanged(&o->p.x) && tb_unchanged(&o->p.t) && tb_unchanged(&o->p.w));
    assert_true(tb_unchanged(&o->p.g) && tb_unchanged(&o->sw) && tb_unchanged(&o->prior));
}

/* backward() with the lse saved by forward() (in the compute dtype) agrees with backward()
   recomputing it. Not bitwise: the saved lse is rounded to its dtype, which moves a gradient
   entry by up to ulp(lse) times the size of the terms that cancel in it (ref_grad_scale), not
   times the entry (with saturated logits, large scales or caps, a row's entries can all be far
   smaller than those terms). */
static void expect_lse_reuse(const oproblem *o, double scale) {
    const tc_problem *p = &o->p;
    const softce_tensor *g = p->s.gout_dtype ? &p->g.t : NULL;
    int32_t cd = p->s.x_dtype == SOFTCE_DTYPE_F64 ? SOFTCE_DTYPE_F64 : SOFTCE_DTYPE_F32;
    bool soft = tc_is_soft(p);
    tbuf loss, lse, a[2], b[2];
    memset(b, 0, sizeof b);
    tc_make_loss(p, &loss, cd, TL_CONTIG);
    tc_make_elem(p, &lse, cd, p->s.out_layout);
    CALL_OK(softce_forward(&o->opts, &p->x.t, &p->t.t, &loss.t, &lse.t));
    for (int i = 0; i < 2; i++) {
        tc_make_full(p, &a[i], p->s.out_dtype, p->s.out_layout);
        if (soft)
            tc_make_full(p, &b[i], p->s.out_dtype, p->s.out_layout);
        CALL_OK(softce_backward(&o->opts, &p->x.t, &p->t.t, g, i ? &lse.t : NULL, &a[i].t,
                                soft ? &b[i].t : NULL));
    }
    int64_t n = tu_numel(p->s.ndim, p->s.shape);
    double rt = tu_rtol(p->s.x_dtype, p->s.out_dtype);
    for (int k = 0; k < (soft ? 2 : 1); k++) {
        double *want = load_all(k ? &b[0] : &a[0]);
        double atol = rt * fmax(k ? 0.0 : scale, tu_maxabs(want, n));
        expect_close(k ? "backward(lse) vs backward(NULL): grad_target"
                       : "backward(lse) vs backward(NULL): grad_logits",
                     k ? &b[1] : &a[1], want, rt, fmax(atol, 1e-300));
        free(want);
    }
    tb_free(&loss);
    tb_free(&lse);
    for (int i = 0; i < 2; i++) {
        tb_free(&a[i]);
        tb_free(&b[i]);
    }
}

/* Fused in place (grad_logits = logits) == out of place into the same dtype and strides. */
static void expect_in_place(const oproblem *o, const softce_options *opts) {
    const tc_problem *p = &o->p;
    const softce_tensor *g = p->s.gout_dtype ? &p->g.t : NULL;
    tbuf in, out, l1, l2;
    tb_make(&in, p->s.x_dtype, p->s.ndim, p->s.shape, p->x.t.strides);
    tb_make(&out, p->s.x_dtype, p->s.ndim, p->s.shape, p->x.t.strides);
    tb_store(&in, p->xv);
    tc_make_loss(p, &l1, SOFTCE_DTYPE_F64, TL_CONTIG);
    tc_make_loss(p, &l2, SOFTCE_DTYPE_F64, TL_CONTIG);
    CALL_OK(softce_forward_backward(opts, &in.t, &p->t.t, g, &l1.t, &in.t));
    CALL_OK(softce_forward_backward(opts, &p->x.t, &p->t.t, g, &l2.t, &out.t));
    expect_same_bytes("in-place fused loss", &l1, &l2);
    expect_same_bytes("in-place fused grad", &in, &out);
    tb_free(&in);
    tb_free(&out);
    tb_free(&l1);
    tb_free(&l2);
}

/* Every entry point of one case against the reference. */
static void check_ocase(const ocase *c) {
    oproblem o;
    oproblem_init(&o, c);
    const tc_problem *p = &o.p;
    tu_set_context(ocase_describe(c));
    const softce_tensor *g = p->s.gout_dtype ? &p->g.t : NULL;
    int32_t od = p->s.out_dtype;
    int lay = p->s.out_layout;
    bool soft = tc_is_soft(p);
    double rt = tu_rtol(p->s.x_dtype, od);
    orefs r = orefs_make(&o);
    int64_t full = p->n * p->c * p->inner;
    int64_t nl = p->s.reduction == SOFTCE_REDUCTION_NONE ? p->elems : 1;
    double ag = rt * fmax(ref_grad_scale(&p->ref, p->gv), tu_maxabs(r.gx, full));
    double al = 0.1 * rt * fmax(1.0, tu_maxabs(r.loss, nl));

    /* forward: loss and the extra outputs; then with the lse argument */
    tbuf loss, lse, gx, gq, fl, fgx, lsm;
    extras e1, e2;
    softce_options ox = o.opts;
    if (c->extras)
        extras_make(&o, &e1, &ox);
    tc_make_loss(p, &loss, od, lay);
    CALL_OK(softce_forward(&ox, &p->x.t, &p->t.t, &loss.t, NULL));
    expect_close("loss", &loss, r.loss, rt, al);
    if (c->extras)
        expect_extras(&o, "forward", &e1, &r, rt);
    tc_make_elem(p, &lse, od, lay);
    tb_free(&loss);
    tc_make_loss(p, &loss, od, lay);
    CALL_OK(softce_forward(&o.opts, &p->x.t, &p->t.t, &loss.t, &lse.t));
    expect_close("loss (lse argument)", &loss, r.loss, rt, al);
    expect_close("lse", &lse, r.lse, rt, 0.1 * rt * fmax(1.0, tu_maxabs(r.lse, p->elems)));

    /* backward: grad_logits and grad_target */
    tc_make_full(p, &gx, od, lay);
    memset(&gq, 0, sizeof gq);
    if (soft)
        tc_make_full(p, &gq, od, lay);
    CALL_OK(softce_backward(&o.opts, &p->x.t, &p->t.t, g, NULL, &gx.t, soft ? &gq.t : NULL));
    expect_close("grad_logits", &gx, r.gx, rt, ag);
    if (soft)
        expect_close("grad_target", &gq, r.gq, rt, rt * tu_maxabs(r.gq, full));

    /* fused, with the extra outputs */
    softce_options fx = o.opts;
    if (c->extras)
        extras_make(&o, &e2, &fx);
    tc_make_loss(p, &fl, od, lay);
    tc_make_full(p, &fgx, od, lay);
    CALL_OK(softce_forward_backward(&fx, &p->x.t, &p->t.t, g, &fl.t, &fgx.t));
    expect_close("fused loss", &fl, r.loss, rt, al);
    expect_close("fused grad", &fgx, r.gx, rt, ag);
    if (c->extras)
        expect_extras(&o, "fused", &e2, &r, rt);

    /* log_softmax ignores all of them */
    tc_make_full(p, &lsm, od, lay);
    CALL_OK(softce_log_softmax(&o.opts, &p->x.t, &lsm.t));
    expect_close("log_softmax", &lsm, r.y, rt, rt * tu_maxabs(r.y, full));

    const tbuf *outs[] = {&loss, &lse, &gx, &gq, &fl, &fgx, &lsm};
    for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++)
        if (outs[i]->mem)
            assert_true(tb_outside_unchanged(outs[i]));
    expect_inputs_untouched(&o);
    expect_lse_reuse(&o, ref_grad_scale(&p->ref, p->gv));
    if (p->s.x_layout != TL_BCAST)
        expect_in_place(&o, c->extras ? &fx : &o.opts);
    expect_inputs_untouched(&o);

    const tbuf *all[] = {&loss, &lse, &gx, &gq, &fl, &fgx, &lsm};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        tb_free((tbuf *)all[i]);
    if (c->extras) {
        extras_free(&e1);
        extras_free(&e2);
    }
    orefs_free(&r);
    oproblem_free(&o);
}

/* Hard and soft targets, f32 and f64, of the case. */
static void check_variants(const ocase *base) {
    static const int32_t xd[] = {SOFTCE_DTYPE_F32, SOFTCE_DTYPE_F64};
    for (int i = 0; i < 2; i++)
        for (int soft = 0; soft < 2; soft++) {
            ocase c = *base;
            c.s.x_dtype = xd[i];
            c.s.out_dtype = xd[i];
            c.s.t_dtype = soft ? xd[i] : SOFTCE_DTYPE_I64;
            c.s.ignore_present = !soft;
            c.s.seed = base->s.seed * 4 + (uint64_t)(2 * i + soft);
            check_ocase(&c);
        }
}

/* ---- each option alone ------------------------------------------------------------------- */

static void base_case(ocase *c) {
    const int64_t shape[2] = {7, 9};
    ocase_init(c, 2, shape);
    c->s.w_dtype = SOFTCE_DTYPE_F32;
    c->s.eps = 0.1;
    c->s.gout_dtype = SOFTCE_DTYPE_F32;
}

static void test_z_loss(void **state) {
    (void)state;
    const double zl[] = {1e-4, 0.1, 2.0};
    for (int i = 0; i < 3; i++) {
        ocase c;
        base_case(&c);
        c.z_loss = zl[i];
        c.s.x_scale = 4.0;
        check_variants(&c);
    }
}

static void test_softcap(void **state) {
    (void)state;
    const double cap[] = {0.5, 5.0, 30.0};
    for (int i = 0; i < 3; i++) {
        ocase c;
        base_case(&c);
        c.softcap = cap[i];
        c.s.x_scale = 10.0; /* some logits saturate */
        c.extras = 1;       /* the argmax is of the raw logits, even where tanh saturates */
        check_variants(&c);
    }
}

static void test_logit_scale(void **state) {
    (void)state;
    const double sc[] = {1e-3, 0.5, 3.0, 40.0};
    for (int i = 0; i < 4; i++) {
        ocase c;
        base_case(&c);
        c.logit_scale = sc[i];
        check_variants(&c);
        c.softcap = 2.0; /* scale first, then cap */
        check_variants(&c);
    }
}

static void test_sample_weight(void **state) {
    (void)state;
    const int32_t dt[] = {SOFTCE_DTYPE_F32, SOFTCE_DTYPE_F64, SOFTCE_DTYPE_BF16};
    for (int i = 0; i < 3; i++)
        for (int32_t red = SOFTCE_REDUCTION_MEAN; red <= SOFTCE_REDUCTION_NONE; red++) {
            ocase c;
            base_case(&c);
            c.sw_dtype = dt[i];
            c.sw_zero = 0.3;
            c.s.reduction = red;
            c.extras = 1;
            check_variants(&c);
        }
}

static void test_denominators(void **state) {
    (void)state;
    for (int32_t d = SOFTCE_DENOMINATOR_AUTO; d <= SOFTCE_DENOMINATOR_VALUE; d++)
        for (int sw = 0; sw < 2; sw++) {
            ocase c;
            base_case(&c);
            c.denominator = d;
            c.den_value = 17.5;
            c.sw_dtype = sw ? SOFTCE_DTYPE_F32 : 0;
            c.sw_zero = 0.3;
            check_variants(&c);
            c.s.reduction = SOFTCE_REDUCTION_SUM; /* only a mean has a denominator */
            check_variants(&c);
        }
}

static void test_smoothing_others(void **state) {
    (void)state;
    const double eps[] = {0.0, 0.2, 1.0};
    const int64_t classes[] = {1, 2, 9};
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 3; k++) {
            ocase c;
            base_case(&c);
            c.s.shape[1] = classes[k];
            c.smoothing = SOFTCE_SMOOTHING_OTHERS;
            c.s.eps = eps[i];
            check_variants(&c);
        }
}

static void test_smoothing_prior(void **state) {
    (void)state;
    const double eps[] = {0.0, 0.3, 1.0};
    const int32_t dt[] = {SOFTCE_DTYPE_F32, SOFTCE_DTYPE_F64, SOFTCE_DTYPE_F16};
    for (int i = 0; i < 3; i++) {
        ocase c;
        base_case(&c);
        c.prior_dtype = dt[i];
        c.s.eps = eps[i];
        check_variants(&c);
    }
}

static void test_kl(void **state) {
    (void)state;
    for (int sm = 0; sm < 2; sm++)
        for (int e = 0; e < 2; e++) {
            ocase c;
            base_case(&c);
            c.kl = 1;
            c.smoothing = sm;
            c.s.eps = e ? 0.25 : 0.0;
            check_variants(&c);
        }
}

static void test_extras(void **state) {
    (void)state;
    const int32_t am[] = {SOFTCE_DTYPE_I32, SOFTCE_DTYPE_I64};
    const int32_t cd[] = {SOFTCE_DTYPE_F32,  SOFTCE_DTYPE_F64, SOFTCE_DTYPE_F16,
                          SOFTCE_DTYPE_BF16, SOFTCE_DTYPE_I32, SOFTCE_DTYPE_I64};
    for (int i = 0; i < 6; i++) {
        ocase c;
        base_case(&c);
        c.extras = 1;
        c.argmax_dtype = am[i % 2];
        c.correct_dtype = cd[i];
        c.z_loss = i % 3 ? 1e-3 : 0.0;
        c.s.reduction = 1 + i % 3;
        c.s.x_scale = i == 5 ? 0.0 : 2.0; /* all logits equal: argmax 0 */
        check_variants(&c);
    }
}

/* ---- a seeded sweep of combinations ---------------------------------------------------- */

static int pick(tu_rng *r, int n) { return (int)tu_rand_int(r, n); }

static void random_case(ocase *c, uint64_t seed) {
    tu_rng r = {seed * 0xd1342543de82ef95u + 3};
    static const int64_t classes[] = {1, 2, 3, 5, 17, 64, 130};
    int64_t shape[3];
    int32_t ndim = 1 + pick(&r, 3);
    int64_t C = classes[pick(&r, 7)];
    if (ndim == 1)
        shape[0] = C;
    else {
        shape[0] = 1 + pick(&r, 9);
        shape[1] = C;
        shape[2] = 1 + pick(&r, 4);
    }
    ocase_init(c, ndim, shape);
    tc_spec *s = &c->s;
    static const int32_t fl[] = {SOFTCE_DTYPE_F32, SOFTCE_DTYPE_F64};
    s->x_dtype = fl[pick(&r, 2)];
    s->out_dtype = fl[pick(&r, 2)];
    int soft = pick(&r, 2);
    static const int32_t hard[] = {SOFTCE_DTYPE_I32, SOFTCE_DTYPE_I64};
    s->t_dtype = soft ? fl[pick(&r, 2)] : hard[pick(&r, 2)];
    static const int32_t wd[] = {0, SOFTCE_DTYPE_F32, SOFTCE_DTYPE_F64};
    s->w_dtype = wd[pick(&r, 3)];
    s->gout_dtype = pick(&r, 2) ? SOFTCE_DTYPE_F32 : 0;
    s->reduction = 1 + pick(&r, 3);
    static const int64_t ign[] = {-100, 0, 2};
    s->ignore_index = ign[pick(&r, 3)];
    s->ignore_present = !soft && pick(&r, 2);
    static const double eps[] = {0.0, 0.1, 0.35};
    s->eps = eps[pick(&r, 3)];
    static const int32_t thr[] = {0, 1, 3};
    s->threads = thr[pick(&r, 3)];
    static const int lays[] = {TL_CONTIG, TL_CLASS_LAST, TL_PADDED, TL_REVERSED};
    s->x_layout = lays[pick(&r, 4)];
    s->t_layout = lays[pick(&r, 4)];
    s->out_layout = pick(&r, 2) ? TL_PADDED : TL_CONTIG;
    s->x_scale = pick(&r, 4) ? 2.0 : 12.0;
    s->seed = seed;
    static const double zl[] = {0.0, 1e-3, 0.2};
    c->z_loss = zl[pick(&r, 3)];
    static const double cap[] = {0.0, 0.0, 0.75, 15.0};
    c->softcap = cap[pick(&r, 4)];
    static const double sc[] = {1.0, 1.0, 0.4, 2.5};
    c->logit_scale = sc[pick(&r, 4)];
    c->sw_dtype = wd[pick(&r, 3)];
    c->sw_zero = 0.25;
    c->denominator = pick(&r, 5);
    c->den_value = 0.5 + 10.0 * tu_rand_unif(&r);
    c->empty = pick(&r, 2);
    c->smoothing = pick(&r, 3) == 0 ? SOFTCE_SMOOTHING_OTHERS : SOFTCE_SMOOTHING_UNIFORM;
    c->prior_dtype = c->smoothing == SOFTCE_SMOOTHING_UNIFORM ? wd[pick(&r, 3)] : 0;
    c->kl = pick(&r, 3) == 0;
    c->extras = pick(&r, 2);
    c->argmax_dtype = hard[pick(&r, 2)];
    c->correct_dtype = fl[pick(&r, 2)];
}

static void test_sweep(void **state) {
    (void)state;
    uint64_t n =
        getenv("SOFTCE_TEST_SWEEP") ? strtoull(getenv("SOFTCE_TEST_SWEEP"), NULL, 10) : 160;
    uint64_t first =
        getenv("SOFTCE_TEST_SEED") ? strtoull(getenv("SOFTCE_TEST_SEED"), NULL, 10) : 1;
    for (uint64_t seed = first; seed <= n; seed++) {
        ocase c;
        random_case(&c, seed);
        if (getenv("SOFTCE_TEST_SEED"))
            fprintf(stderr, "%s\n", ocase_describe(&c));
        check_ocase(&c);
    }
}

/* Problems large enough for several threads and blocks, a class count past the split-mode
   threshold (with logit_scale: the row kernels) and a strided class axis. */
static void test_large_problems(void **state) {
    (void)state;
    const int64_t shapes[4][3] = {{300, 1000, 0}, {2, 140000, 0}, {1500, 3, 40}, {40, 777, 3}};
    const int32_t ndims[4] = {2, 2, 3, 3};
    for (int i = 0; i < 4; i++)
        for (uint64_t k = 0; k < 2; k++) {
            ocase c;
            random_case(&c, 1000 + 2 * (uint64_t)i + k);
            ocase r = c;
            ocase_init(&c, ndims[i], shapes[i]);
            c.s.x_dtype = r.s.x_dtype;
            c.s.out_dtype = r.s.out_dtype;
            c.s.t_dtype = k ? SOFTCE_DTYPE_F32 : SOFTCE_DTYPE_I32;
            c.s.w_dtype = SOFTCE_DTYPE_F32;
            c.s.gout_dtype = r.s.gout_dtype;
            c.s.reduction = r.s.reduction;
            c.s.ignore_present = !k;
            c.s.eps = 0.1;
            c.s.threads = 3;
            c.s.x_layout = i == 2 ? TL_CLASS_LAST : TL_CONTIG;
            c.s.seed = 77 + (uint64_t)i;
            c.z_loss = 1e-3;
            c.softcap = i % 2 ? 0.0 : 20.0;
            c.logit_scale = 1.5;
            c.sw_dtype = SOFTCE_DTYPE_F32;
            c.sw_zero = 0.2;
            c.denominator = r.denominator;
            c.den_value = r.den_value;
            c.smoothing = r.smoothing;
            c.prior_dtype = r.prior_dtype;
            c.kl = r.kl;
            c.extras = 1;
            check_ocase(&c);
        }
}

/* Few rows of a class count past the split-mode threshold with the options split mode takes
   (z-loss, sample weights with masked rows, the lse and z-loss outputs), hard targets with
   ignored rows and soft ones, f32 and f64, uniform smoothing, class weights, every reduction
   and denominator, 1-3 threads (fewer rows than threads: rows split across threads). */
static void test_split_options(void **state) {
    (void)state;
    const int64_t shapes[3][2] = {{1, 140000}, {3, 131075}, {5, 200003}};
    for (int i = 0; i < 3; i++) {
        ocase c;
        ocase_init(&c, 2, shapes[i]);
        c.s.w_dtype = i == 1 ? 0 : SOFTCE_DTYPE_F32;
        c.s.gout_dtype = i == 0 ? 0 : SOFTCE_DTYPE_F32;
        c.s.reduction = 1 + i;
        c.s.eps = i == 2 ? 0.0 : 0.1;
        c.s.threads = 1 + i;
        c.s.x_scale = 4.0;
        c.s.seed = 31 + (uint64_t)i;
        c.z_loss = i == 1 ? 0.0 : 1e-3 * (i + 1);
        c.sw_dtype = i == 0 ? 0 : SOFTCE_DTYPE_F32;
        c.sw_zero = 0.3;
        c.denominator = i;
        c.den_value = 3.5;
        c.extras = 2;
        check_variants(&c);
    }
}

/* ---- properties that do not need the reference ------------------------------------------ */

/* grad_logits of the library against central differences of its own f64 loss. */
static double objective(const oproblem *o, const tbuf *x) {
    const tc_problem *p = &o->p;
    tbuf l;
    tc_make_loss(p, &l, SOFTCE_DTYPE_F64, TL_CONTIG);
    CALL_OK(softce_forward(&o->opts, &x->t, &p->t.t, &l.t, NULL));
    double *v = load_all(&l), sum = 0.0;
    for (int64_t i = 0; i < tu_numel(l.t.ndim, l.t.shape); i++)
        sum += (p->gv ? p->gv[i] : 1.0) * v[i];
    free(v);
    tb_free(&l);
    return sum;
}

static void finite_differences(const ocase *c) {
    oproblem o;
    oproblem_init(&o, c);
    tc_problem *p = &o.p;
    tu_set_context(ocase_describe(c));
    int64_t n = tu_numel(p->x.t.ndim, p->x.t.shape);
    tbuf x, gx;
    tb_make(&x, SOFTCE_DTYPE_F64, p->s.ndim, p->s.shape, NULL);
    tb_store(&x, p->xv);
    tc_make_full(p, &gx, SOFTCE_DTYPE_F64, TL_CONTIG);
    CALL_OK(softce_backward(&o.opts, &x.t, &p->t.t, p->s.gout_dtype ? &p->g.t : NULL, NULL, &gx.t,
                            NULL));
    double *got = load_all(&gx), *fd = tu_alloc(sizeof(double) * (size_t)n);
    for (int64_t i = 0; i < n; i++) {
        double *at = (double *)x.t.data + i, x0 = *at, h = 1e-6 * fmax(1.0, fabs(x0));
        *at = x0 + h;
        double up = objective(&o, &x);
        *at = x0 - h;
        double down = objective(&o, &x);
        *at = x0;
        fd[i] = (up - down) / (2.0 * h);
    }
    assert_true(tu_close("grad_logits vs finite differences", got, fd, n, 1e-5,
                         1e-6 * fmax(1.0, tu_maxabs(fd, n))));
    free(got);
    free(fd);
    tb_free(&x);
    tb_free(&gx);
    oproblem_free(&o);
}

static void test_finite_differences(void **state) {
    (void)state;
    for (int k = 0; k < 8; k++)
        for (int soft = 0; soft < 2; soft++) {
            ocase c;
            const int64_t shape[2] = {3, 5};
            ocase_init(&c, 2, shape);
            c.s.x_dtype = c.s.out_dtype = SOFTCE_DTYPE_F64;
            c.s.t_dtype = soft ? SOFTCE_DTYPE_F64 : SOFTCE_DTYPE_I64;
            c.s.w_dtype = SOFTCE_DTYPE_F64;
            c.s.eps = 0.2;
            c.s.gout_dtype = k % 2 ? SOFTCE_DTYPE_F64 : 0;
            c.s.reduction = 1 + k % 3;
            c.s.seed = (uint64_t)(100 + k);
            c.z_loss = k == 0 || k == 7 ? 0.3 : 0.0;
            c.softcap = k == 1 || k == 7 ? 1.5 : 0.0;
            c.logit_scale = k == 2 || k == 7 ? 1.7 : 1.0;
            c.sw_dtype = k == 3 || k == 7 ? SOFTCE_DTYPE_F64 : 0;
            c.sw_zero = 0.3;
            c.smoothing = k == 4 ? SOFTCE_SMOOTHING_OTHERS : SOFTCE_SMOOTHING_UNIFORM;
            c.prior_dtype = k == 5 ? SOFTCE_DTYPE_F64 : 0;
            c.kl = k == 6 || k == 7;
            c.denominator = k % 5;
            c.den_value = 3.0;
            finite_differences(&c);
        }
}

/* Ignored and masked elements contribute exactly 0, whatever their logits (NaN, inf), in row
   mode and in split mode (131075 classes). */
static void test_masked_nan(void **state) {
    (void)state;
    for (int v = 0; v < 4; v++) {
        const int soft = v & 1, split = v >> 1; /* split: 131075 classes, split mode's options */
        const int64_t C = split ? 131075 : 6, shape[2] = {4, C};
        ocase c;
        ocase_init(&c, 2, shape);
        c.s.t_dtype = soft ? SOFTCE_DTYPE_F32 : SOFTCE_DTYPE_I64;
        c.s.reduction = SOFTCE_REDUCTION_NONE;
        c.sw_dtype = SOFTCE_DTYPE_F32;
        c.z_loss = 0.1;
        c.softcap = split ? 0.0 : 3.0;
        c.kl = !split;
        c.extras = split ? 2 : 1;
        oproblem o;
        oproblem_init(&o, &c);
        tc_problem *p = &o.p;
        double *xv = tu_alloc(sizeof(double) * (size_t)(4 * C)), *sw = tu_alloc(sizeof(double) * 4);
        memcpy(xv, p->xv, sizeof(double) * (size_t)(4 * C));
        xv[0 * C + 2] = NAN;      /* row 0: masked (s = 0) */
        xv[1 * C + 3] = INFINITY; /* row 1: masked */
        xv[2 * C + 1] = NAN;      /* row 2: ignored (hard) / NaN row (soft) */
        tb_store(&p->x, xv);
        tb_load(&p->x, p->xv);
        tb_load(&o.sw, sw);
        sw[0] = sw[1] = 0.0;
        tb_store(&o.sw, sw);
        if (!soft) {
            double t[4];
            tb_load(&p->t, t);
            t[2] = -100;
            tb_store(&p->t, t);
        }
        tbuf loss, gx, fl, fgx;
        extras e;
        softce_options ox = o.opts;
        extras_make(&o, &e, &ox);
        tc_make_loss(p, &loss, SOFTCE_DTYPE_F32, TL_CONTIG);
        tc_make_full(p, &gx, SOFTCE_DTYPE_F32, TL_CONTIG);
        tc_make_loss(p, &fl, SOFTCE_DTYPE_F32, TL_CONTIG);
        tc_make_full(p, &fgx, SOFTCE_DTYPE_F32, TL_CONTIG);
        CALL_OK(softce_forward(&ox, &p->x.t, &p->t.t, &loss.t, NULL));
        CALL_OK(softce_backward(&o.opts, &p->x.t, &p->t.t, NULL, NULL, &gx.t, NULL));
        CALL_OK(softce_forward_backward(&o.opts, &p->x.t, &p->t.t, NULL, &fl.t, &fgx.t));
        double *l = load_all(&loss), *g = load_all(&gx), *fg = load_all(&fgx), *f = load_all(&fl);
        double *cor = split ? NULL : load_all(&e.correct), *zl = load_all(&e.zloss);
        double *ls = load_all(&e.lse);
        int zero_rows = soft ? 2 : 3;
        for (int row = 0; row < zero_rows; row++) {
            assert_true(l[row] == 0.0 && f[row] == 0.0 && zl[row] == 0.0);
            assert_true(split || cor[row] == 0.0);
            for (int64_t k = 0; k < C; k++)
                assert_true(g[row * C + k] == 0.0 && fg[row * C + k] == 0.0);
        }
        assert_true(isnan(ls[0])); /* out_lse is written for every element, masked or not */
        assert_true(isfinite(l[3]) && l[3] > 0.0);
        if (soft) /* a NaN logit of a counted element propagates */
            assert_true(isnan(l[2]) && isnan(g[2 * C]));
        free(l), free(g), free(fg), free(f), free(cor), free(zl), free(ls);
        free(xv), free(sw);
        tb_free(&loss), tb_free(&gx), tb_free(&fl), tb_free(&fgx);
        extras_free(&e);
        oproblem_free(&o);
    }
}

/* The KL flag changes the loss only: grad_logits equals the cross-entropy one; the KL of a
   target equal to the softmax is 0. */
static void test_kl_properties(void **state) {
    (void)state;
    const int64_t shape[2] = {5, 8};
    ocase c;
    ocase_init(&c, 2, shape);
    c.s.x_dtype = c.s.out_dtype = c.s.t_dtype = SOFTCE_DTYPE_F64;
    c.s.eps = 0.1;
    oproblem o;
    oproblem_init(&o, &c);
    tc_problem *p = &o.p;
    tbuf g1, g2, loss;
    tc_make_full(p, &g1, SOFTCE_DTYPE_F64, TL_CONTIG);
    tc_make_full(p, &g2, SOFTCE_DTYPE_F64, TL_CONTIG);
    softce_options kl = o.opts;
    kl.flags = SOFTCE_FLAG_KL;
    CALL_OK(softce_backward(&o.opts, &p->x.t, &p->t.t, NULL, NULL, &g1.t, NULL));
    CALL_OK(softce_backward(&kl, &p->x.t, &p->t.t, NULL, NULL, &g2.t, NULL));
    double *a = load_all(&g1), *b = load_all(&g2);
    assert_true(tu_close("KL grad_logits vs CE", b, a, 40, 1e-12, 1e-15));
    free(a), free(b);
    /* target = softmax(logits), no smoothing: KL = 0 */
    double *y = tu_alloc(sizeof(double) * 40);
    ref_log_softmax(&p->ref, y);
    for (int i = 0; i < 40; i++)
        y[i] = exp(y[i]);
    tb_store(&p->t, y);
    kl.label_smoothing = 0.0;
    kl.reduction = SOFTCE_REDUCTION_SUM;
    tc_make_loss(p, &loss, SOFTCE_DTYPE_F64, TL_CONTIG);
    CALL_OK(softce_forward(&kl, &p->x.t, &p->t.t, &loss.t, NULL));
    double *l = load_all(&loss);
    assert_true(fabs(l[0]) < 1e-12);
    free(l), free(y);
    tb_free(&g1), tb_free(&g2), tb_free(&loss);
    oproblem_free(&o);
}

/* A mean over nothing: NaN (default) or 0 (ZERO) with zero gradients; ERROR fails. */
static void test_empty_mean(void **state) {
    (void)state;
    for (int32_t empty = SOFTCE_EMPTY_NAN; empty <= SOFTCE_EMPTY_ERROR; empty++)
        for (int soft = 0; soft < 2; soft++) {
            ocase c;
            const int64_t shape[2] = {4, 6};
            ocase_init(&c, 2, shape);
            c.s.t_dtype = soft ? SOFTCE_DTYPE_F64 : SOFTCE_DTYPE_I32;
            c.sw_dtype = SOFTCE_DTYPE_F32;
            c.sw_zero = 1.0; /* every element masked */
            c.denominator = SOFTCE_DENOMINATOR_VALID;
            c.empty = empty;
            c.z_loss = 0.5;
            oproblem o;
            oproblem_init(&o, &c);
            tc_problem *p = &o.p;
            tbuf loss, gx;
            tc_make_loss(p, &loss, SOFTCE_DTYPE_F32, TL_CONTIG);
            tc_make_full(p, &gx, SOFTCE_DTYPE_F32, TL_CONTIG);
            softce_status st =
                softce_forward_backward(&o.opts, &p->x.t, &p->t.t, NULL, &loss.t, &gx.t);
            if (empty == SOFTCE_EMPTY_ERROR) {
                assert_int_equal(st, SOFTCE_ERROR_EMPTY_MEAN);
                assert_true(tb_unchanged(&loss) && tb_unchanged(&gx));
            } else {
                assert_int_equal(st, SOFTCE_OK);
                double *l = load_all(&loss), *g = load_all(&gx);
                assert_true(empty == SOFTCE_EMPTY_NAN ? isnan(l[0]) : l[0] == 0.0);
                for (int i = 0; i < 24; i++)
                    assert_true(g[i] == 0.0);
                free(l), free(g);
            }
            tb_free(&loss), tb_free(&gx);
            oproblem_free(&o);
        }
}

/* The defaults written out explicitly are the 1.0 behaviour, bit for bit. */
static void test_defaults_bitwise(void **state) {
    (void)state;
    for (uint64_t seed = 1; seed <= 12; seed++) {
        ocase c;
        random_case(&c, seed);
        oproblem o;
        c.z_loss = c.softcap = 0.0;
        c.logit_scale = 1.0;
        c.sw_dtype = c.prior_dtype = 0;
        c.denominator = SOFTCE_DENOMINATOR_AUTO;
        c.empty = SOFTCE_EMPTY_NAN;
        c.smoothing = SOFTCE_SMOOTHING_UNIFORM;
        c.kl = 0;
        oproblem_init(&o, &c);
        tc_problem *p = &o.p;
        softce_options old;
        memcpy(&old, &o.opts, 40); /* a 1.0 caller */
        old.struct_size = 40;
        tbuf a, b, ga, gb;
        tc_make_loss(p, &a, SOFTCE_DTYPE_F64, TL_CONTIG);
        tc_make_loss(p, &b, SOFTCE_DTYPE_F64, TL_CONTIG);
        tc_make_full(p, &ga, SOFTCE_DTYPE_F64, TL_CONTIG);
        tc_make_full(p, &gb, SOFTCE_DTYPE_F64, TL_CONTIG);
        const softce_tensor *g = p->s.gout_dtype ? &p->g.t : NULL;
        CALL_OK(softce_forward_backward(&o.opts, &p->x.t, &p->t.t, g, &a.t, &ga.t));
        CALL_OK(softce_forward_backward(&old, &p->x.t, &p->t.t, g, &b.t, &gb.t));
        expect_same_bytes("defaults: loss", &a, &b);
        expect_same_bytes("defaults: grad", &ga, &gb);
        tb_free(&a), tb_free(&b), tb_free(&ga), tb_free(&gb);
        oproblem_free(&o);
    }
}

/* Row mode takes a short per-row loop for the common calls and the general per-element path
   for the rest (src/rows.c); out_argmax is one of the things that sends a call down the general
   path. The same call with and without it must give the same bytes: loss, gradient and lse. */
static void test_row_paths_bitwise(void **state) {
    (void)state;
    for (uint64_t seed = 1; seed <= 24; seed++) {
        ocase c;
        random_case(&c, seed);
        c.prior_dtype = 0; /* a prior, KL or OTHERS smoothing take the general path anyway */
        c.kl = 0;
        c.smoothing = SOFTCE_SMOOTHING_UNIFORM;
        if (!c.sw_dtype) /* extended in both calls: row mode for both, not tile mode for one */
            c.sw_dtype = SOFTCE_DTYPE_F32;
        if (seed % 2)
            c.s.x_layout = c.s.t_layout = TL_CONTIG; /* rows used in place: the short loop */
        oproblem o;
        oproblem_init(&o, &c);
        tc_problem *p = &o.p;
        tbuf la, lb, ga, gb, sa, sb, am;
        tc_make_loss(p, &la, SOFTCE_DTYPE_F64, TL_CONTIG);
        tc_make_loss(p, &lb, SOFTCE_DTYPE_F64, TL_CONTIG);
        tc_make_full(p, &ga, SOFTCE_DTYPE_F64, TL_CONTIG);
        tc_make_full(p, &gb, SOFTCE_DTYPE_F64, TL_CONTIG);
        tc_make_elem(p, &sa, SOFTCE_DTYPE_F64, TL_CONTIG);
        tc_make_elem(p, &sb, SOFTCE_DTYPE_F64, TL_CONTIG);
        tc_make_elem(p, &am, SOFTCE_DTYPE_I64, TL_CONTIG);
        softce_options general = o.opts, common = o.opts;
        common.out_lse = &sa.t;
        general.out_lse = &sb.t;
        general.out_argmax = &am.t;
        const softce_tensor *g = p->s.gout_dtype ? &p->g.t : NULL;
        CALL_OK(softce_forward_backward(&common, &p->x.t, &p->t.t, g, &la.t, &ga.t));
        CALL_OK(softce_forward_backward(&general, &p->x.t, &p->t.t, g, &lb.t, &gb.t));
        if (!tb_same_bytes(&la, &lb) || !tb_same_bytes(&ga, &gb) || !tb_same_bytes(&sa, &sb))
            fprintf(stderr, "row paths differ: %s\n", ocase_describe(&c));
        expect_same_bytes("row paths: fused loss", &la, &lb);
        expect_same_bytes("row paths: fused grad", &ga, &gb);
        expect_same_bytes("row paths: fused lse", &sa, &sb);
        CALL_OK(softce_forward(&common, &p->x.t, &p->t.t, &la.t, NULL));
        CALL_OK(softce_forward(&general, &p->x.t, &p->t.t, &lb.t, NULL));
        expect_same_bytes("row paths: forward loss", &la, &lb);
        expect_same_bytes("row paths: forward lse", &sa, &sb);
        tb_free(&la), tb_free(&lb), tb_free(&ga), tb_free(&gb);
        tb_free(&sa), tb_free(&sb), tb_free(&am);
        oproblem_free(&o);
    }
}

/* Rows of 16-bit logits, gradient (and soft target) with a logit transform: where the ISA has
   fused16_t (AVX-512, AVX2) row mode runs them through it (rows.c: fused16t_row) in the
   classes whose z stays in registers (a softcap of scale 1 with every |x / cap| < 0.75, or an
   exact logit_scale alone), with target terms (soft targets, smoothing) on AVX-512 only; the
   others are staged. Each case is checked against the reference (check_ocase: forward, fused,
   in place), and the fused loss and gradient against the same call with a gradient of reversed
   layout (which the staged path computes), value for value; forward's loss against that staged
   fused loss. */
static void test_row16_transform(void **state) {
    (void)state;
    const int64_t shapes[5][2] = {{37, 1000}, {5, 4099}, {6, 33}, {3, 20001}, {2, 1}};
    const double caps[4] = {30.0, 100.0, 4.0, 0.0}; /* poly, short, general, none */
    const int32_t xd[2] = {SOFTCE_DTYPE_BF16, SOFTCE_DTYPE_F16};
    uint64_t seed = 5100;
    for (int v = 0; v < 48; v++) {
        ocase c;
        ocase_init(&c, 2, shapes[v % 5]);
        c.s.x_dtype = c.s.out_dtype = xd[(v / 5) % 2];
        const int soft = (v / 3) % 4 == 1;
        c.s.t_dtype = soft ? c.s.x_dtype : v % 3 ? SOFTCE_DTYPE_I64 : SOFTCE_DTYPE_I32;
        c.s.ignore_present = !soft;
        c.s.w_dtype = v % 4 == 1 ? SOFTCE_DTYPE_F32 : 0; /* without smoothing: at t only */
        c.s.eps = v % 10 == 7 ? 0.1 : 0.0;               /* target terms: staged */
        c.s.gout_dtype = v % 6 == 5 ? SOFTCE_DTYPE_F32 : 0;
        c.s.reduction = SOFTCE_REDUCTION_MEAN + (int32_t)(v % 3);
        c.s.threads = 1 + v % 2;
        c.s.x_scale = 4.0;
        c.s.seed = seed++;
        c.softcap = caps[(v / 2) % 4];
        c.logit_scale = c.softcap == 0.0 ? (v % 4 < 2 ? 0.5 : 0.7) : (v % 8 == 3 ? 2.0 : 1.0);
        c.z_loss = v % 2 ? 1e-3 : 0.0;
        c.sw_dtype = v % 3 == 2 ? SOFTCE_DTYPE_F32 : 0;
        c.sw_zero = 0.2;
        tu_set_context(ocase_describe(&c));
        check_ocase(&c);

        oproblem o;
        oproblem_init(&o, &c);
        tc_problem *p = &o.p;
        const int64_t full = p->n * p->c;
        tbuf la, lb, lf, ga, gb;
        tc_make_loss(p, &la, SOFTCE_DTYPE_F32, TL_CONTIG);
        tc_make_loss(p, &lb, SOFTCE_DTYPE_F32, TL_CONTIG);
        tc_make_loss(p, &lf, SOFTCE_DTYPE_F32, TL_CONTIG);
        tc_make_full(p, &ga, c.s.x_dtype, TL_CONTIG);
        tc_make_full(p, &gb, c.s.x_dtype, TL_REVERSED);
        const softce_tensor *g = p->s.gout_dtype ? &p->g.t : NULL;
        CALL_OK(softce_forward_backward(&o.opts, &p->x.t, &p->t.t, g, &la.t, &ga.t));
        CALL_OK(softce_forward_backward(&o.opts, &p->x.t, &p->t.t, g, &lb.t, &gb.t));
        CALL_OK(softce_forward(&o.opts, &p->x.t, &p->t.t, &lf.t, NULL));
        double *va = tu_alloc(sizeof(double) * (size_t)full);
        double *vb = tu_alloc(sizeof(double) * (size_t)full);
        tb_load(&ga, va);
        tb_load(&gb, vb);
        const int64_t nl = tu_numel(la.t.ndim, la.t.shape);
        double *a = tu_alloc(sizeof(double) * (size_t)nl), *b = tu_alloc(sizeof(double) * (size_t)nl);
        double *f = tu_alloc(sizeof(double) * (size_t)nl);
        tb_load(&la, a);
        tb_load(&lb, b);
        tb_load(&lf, f);
        const int same_g = memcmp(va, vb, sizeof(double) * (size_t)full) == 0;
        const int same_l = memcmp(a, b, sizeof(double) * (size_t)nl) == 0;
        const int same_f = memcmp(f, b, sizeof(double) * (size_t)nl) == 0;
        if (!same_g || !same_l || !same_f)
            print_error("16-bit rows with a transform: %s%s%s differ from the staged path: %s\n",
                        same_g ? "" : "grad ", same_l ? "" : "fused loss ",
                        same_f ? "" : "forward loss ", ocase_describe(&c));
        assert_true(same_g && same_l && same_f);
        free(va), free(vb), free(a), free(b), free(f);
        tb_free(&la), tb_free(&lb), tb_free(&lf), tb_free(&ga), tb_free(&gb);
        oproblem_free(&o);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_z_loss),
        cmocka_unit_test(test_softcap),
        cmocka_unit_test(test_logit_scale),
        cmocka_unit_test(test_sample_weight),
        cmocka_unit_test(test_denominators),
        cmocka_unit_test(test_smoothing_others),
        cmocka_unit_test(test_smoothing_prior),
        cmocka_unit_test(test_kl),
        cmocka_unit_test(test_extras),
        cmocka_unit_test(test_sweep),
        cmocka_unit_test(test_large_problems),
        cmocka_unit_test(test_split_options),
        cmocka_unit_test(test_finite_differences),
        cmocka_unit_test(test_masked_nan),
        cmocka_unit_test(test_kl_properties),
        cmocka_unit_test(test_empty_mean),
        cmocka_unit_test(test_defaults_bitwise),
        cmocka_unit_test(test_row_paths_bitwise),
        cmocka_unit_test(test_row16_transform),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
