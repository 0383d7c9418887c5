/*
 * Sparse top-k soft targets through the public C API: softce_topk_* against the dense soft path
 * (softce_forward / _forward_backward / _backward with the equivalent dense target built here
 * in double) over random shapes ((C), (N, C), (N, C, d1)), K = 0, K = C, duplicates, dtypes,
 * layouts, both rests and the options; grad_prob against the chain rule applied here to the
 * dense grad_target. Then the error cases: status, softce_last_error() text, every buffer
 * untouched.
 */
#include "common/tutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { N_CASES = 400 };

typedef struct tk_case {
    int32_t xdt, idt, pdt, ndim, rest;
    int64_t xshape[3], eshape[3], kshape[3]; /* logits, element, top-k shapes */
    int64_t C, K, E, d1;
    double *xv, *iv, *pv, *dense, *swv; /* values in logical row-major order */
    softce_options o;
    tbuf x, idx, prob, w, sw;
} tk_case;

/* Position of (element e, class c) in the logits' logical row-major order. */
static int64_t dense_pos(const tk_case *k, int64_t e, int64_t c) {
    if (k->ndim == 1)
        return c;
    return (e / k->d1) * k->C * k->d1 + c * k->d1 + e % k->d1;
}

/* The equivalent dense target (docs/topk.md), in double. */
static void build_dense(tk_case *k) {
    int64_t n = k->E * k->C;
    char *listed = calloc((size_t)(k->C > 0 ? k->C : 1), 1);
    for (int64_t i = 0; i < n; i++)
        k->dense[i] = 0.0;
    for (int64_t e = 0; e < k->E; e++) {
        double mass = 0.0;
        int64_t nl = 0;
        memset(listed, 0, (size_t)k->C);
        for (int64_t j = 0; j < k->K; j++) {
            int64_t c = (int64_t)k->iv[e * k->K + j];
            k->dense[dense_pos(k, e, c)] += k->pv[e * k->K + j];
            mass += k->pv[e * k->K + j];
            nl += !listed[c];
            listed[c] = 1;
        }
        for (int64_t c = 0; k->rest == SOFTCE_TOPK_REST_UNIFORM && c < k->C; c++)
            if (!listed[c])
                k->dense[dense_pos(k, e, c)] = (1.0 - mass) / (double)(k->C - nl);
    }
    free(listed);
}

/* d loss / d prob from d loss / d p (gt, logits order). */
static void chain_rule(const tk_case *k, const double *gt, double *gp) {
    char *listed = calloc((size_t)k->C, 1);
    for (int64_t e = 0; e < k->E; e++) {
        memset(listed, 0, (size_t)k->C);
        int64_t nl = 0;
        for (int64_t j = 0; j < k->K; j++) {
            int64_t c = (int64_t)k->iv[e * k->K + j];
            nl += !listed[c];
            listed[c] = 1;
        }
        double rest = 0.0;
        for (int64_t c = 0; k->rest == SOFTCE_TOPK_REST_UNIFORM && c < k->C; c++)
            if (!listed[c])
                rest -= gt[dense_pos(k, e, c)] / (double)(k->C - nl);
        for (int64_t j = 0; j < k->K; j++)
            gp[e * k->K + j] = gt[dense_pos(k, e, (int64_t)k->iv[e * k->K + j])] + rest;
    }
    free(listed);
}

static void draw(tk_case *k, tu_rng *r) {
    static const int64_t cs[] = {1, 2, 3, 7, 16, 33};
    memset(k, 0, sizeof *k);
    k->xdt = tu_rand_int(r, 2) ? SOFTCE_DTYPE_F32 : SOFTCE_DTYPE_F64;
    k->pdt = tu_rand_int(r, 2) ? SOFTCE_DTYPE_F32 : SOFTCE_DTYPE_F64;
    k->idt = tu_rand_int(r, 2) ? SOFTCE_DTYPE_I32 : SOFTCE_DTYPE_I64;
    k->rest = (int32_t)tu_rand_int(r, 2);
    k->ndim = 1 + (int32_t)tu_rand_int(r, 3);
    k->C = cs[tu_rand_int(r, 6)];
    const int64_t ks[] = {0, 1, 3, k->C, k->C + 2};
    k->K = ks[tu_rand_int(r, 5)];
    int64_t n = tu_rand_int(r, 5);
    k->d1 = k->ndim == 3 ? 1 + tu_rand_int(r, 3) : 1;
    k->xshape[0] = k->ndim == 1 ? k->C : n;
    k->xshape[1] = k->C;
    k->xshape[2] = k->d1;
    int en = k->ndim - 1;
    if (k->ndim >= 2)
        k->eshape[0] = n;
    if (k->ndim == 3)
        k->eshape[1] = k->d1;
    for (int j = 0; j < en; j++)
        k->kshape[j] = k->eshape[j];
    k->kshape[en] = k->K;
    k->E = k->ndim == 1 ? 1 : n * k->d1;
    int64_t nx = k->E * k->C, nk = k->E * k->K;
    k->xv = tu_alloc(sizeof(double) * (size_t)(nx + 1));
    k->dense = tu_alloc(sizeof(double) * (size_t)(nx + 1));
    k->iv = tu_alloc(sizeof(double) * (size_t)(nk + 1));
    k->pv = tu_alloc(sizeof(double) * (size_t)(nk + 1));
    k->swv = tu_alloc(sizeof(double) * (size_t)(k->E + 1));
    for (int64_t i = 0; i < nx; i++)
        k->xv[i] = tu_round(k->xdt, 3.0 * tu_rand_normal(r));
    int distinct = k->K <= k->C && tu_rand_int(r, 2);
    for (int64_t e = 0; e < k->E; e++) {
        double mass = 0.3 + 0.7 * tu_rand_unif(r), sum = 0.0;
        for (int64_t j = 0; j < k->K; j++) {
            int64_t c = tu_rand_int(r, k->C);
            for (int64_t t = 0; distinct && t < j; t++) /* redraw until unused */
                if ((int64_t)k->iv[e * k->K + t] == c)
                    c = tu_rand_int(r, k->C), t = -1;
            k->iv[e * k->K + j] = (double)c;
            sum += k->pv[e * k->K + j] = 0.05 + tu_rand_unif(r);
        }
        for (int64_t j = 0; j < k->K; j++)
            k->pv[e * k->K + j] = tu_round(k->pdt, k->pv[e * k->K + j] / sum * mass);
        k->swv[e] = tu_rand_int(r, 4) ? tu_rand_unif(r) * 2.0 : 0.0;
    }
    build_dense(k);
    int lay[] = {TL_CONTIG, TL_REVERSED, TL_PADDED};
    tb_make_layout(&k->x, k->xdt, k->ndim, k->xshape, lay[tu_rand_int(r, 3)]);
    tb_store(&k->x, k->xv);
    tb_make_layout(&k->idx, k->idt, en + 1, k->kshape, lay[tu_rand_int(r, 3)]);
    tb_store(&k->idx, k->iv);
    tb_make_layout(&k->prob, k->pdt, en + 1, k->kshape, lay[tu_rand_int(r, 3)]);
    tb_store(&k->prob, k->pv);
    softce_options_init(&k->o);
    k->o.reduction = 1 + (int32_t)tu_rand_int(r, 3);
    if (tu_rand_int(r, 3) == 0) {
        double *wv = tu_alloc(sizeof(double) * (size_t)k->C);
        for (int64_t c = 0; c < k->C; c++)
            wv[c] = 0.3 + tu_rand_unif(r);
        tb_make(&k->w, SOFTCE_DTYPE_F64, 1, &k->C, NULL);
        tb_store(&k->w, wv);
        free(wv);
        k->o.weight = &k->w.t;
    }
    if (tu_rand_int(r, 3) == 0)
        k->o.label_smoothing = 0.3 * tu_rand_unif(r);
    if (tu_rand_int(r, 2)) { /* the 1.1 options */
        k->o.z_loss = tu_rand_int(r, 2) ? 1e-2 : 0.0;
        k->o.softcap = tu_rand_int(r, 3) == 0 ? 4.0 : 0.0;
        k->o.logit_scale = tu_rand_int(r, 3) == 0 ? 0.7 : 1.0;
        k->o.flags = tu_rand_int(r, 3) == 0 ? SOFTCE_FLAG_KL : 0u;
        k->o.smoothing = (int32_t)tu_rand_int(r, 2);
        if (k->o.smoothing && k->o.label_smoothing == 0.0)
            k->o.label_smoothing = 0.1;
        if (tu_rand_int(r, 2) && en > 0) {
            tb_make(&k->sw, SOFTCE_DTYPE_F64, en, k->eshape, NULL);
            tb_store(&k->sw, k->swv);
            k->o.sample_weight = &k->sw.t;
        }
    }
}

static void release(tk_case *k) {
    free(k->xv), free(k->iv), free(k->pv), free(k->dense), free(k->swv);
    tb_free(&k->x), tb_free(&k->idx), tb_free(&k->prob);
    if (k->o.weight)
        tb_free(&k->w);
    if (k->o.sample_weight)
        tb_free(&k->sw);
}

/* |got - want| <= rtol * max(max|want|, floor), NaN for NaN. */
static void check_close(const char *what, tbuf *got, const double *want, int64_t n, double rtol,
                        double floor) {
    double *g = tu_alloc(sizeof(double) * (size_t)(n + 1));
    tb_load(got, g);
    double scale = fmax(fmax(tu_maxabs(want, n), floor), 1e-300);
    assert_true(tu_close(what, g, want, n, 0.0, rtol * scale));
    free(g);
}

/* The largest term of the gradient formulas (docs/numerics.md): the error scale of gradients
   that cancel to ~0. */
static double grad_floor(const tk_case *k, int for_prob) {
    double wmax = 1.0, smax = 1.0, psum = 0.0, xmax = tu_maxabs(k->xv, k->E * k->C);
    if (k->o.weight) {
        double wv[64];
        tb_load(&k->w, wv);
        wmax = tu_maxabs(wv, k->C);
    }
    if (k->o.sample_weight)
        smax = tu_maxabs(k->swv, k->E);
    for (int64_t e = 0; e < k->E; e++) {
        double s = 0.0;
        for (int64_t c = 0; c < k->C; c++)
            s += fabs(k->dense[dense_pos(k, e, c)]);
        psum = fmax(psum, s);
    }
    double G = smax / (k->o.reduction == SOFTCE_REDUCTION_MEAN && k->E ? (double)k->E : 1.0);
    double zmax = k->o.logit_scale * xmax + log((double)k->C) + 1.0;
    if (for_prob)
        return G * wmax * (zmax + (k->o.flags ? 40.0 : 0.0));
    return G * (wmax * (psum + 1.0) + 2.0 * k->o.z_loss * zmax);
}

static void run_case(tk_case *k, int idx) {
    char ctx[200];
    snprintf(ctx, sizeof ctx, "case %d: ndim %d C %lld K %lld E %lld x %s idx %s prob %s rest %d",
             idx, (int)k->ndim, (long long)k->C, (long long)k->K, (long long)k->E,
             tu_dtype_name(k->xdt), tu_dtype_name(k->idt), tu_dtype_name(k->pdt), (int)k->rest);
    tu_set_context(ctx);
    const double rt = k->xdt == SOFTCE_DTYPE_F64 ? 1e-11 : 2e-5;
    const double rtp = k->pdt == SOFTCE_DTYPE_F32 ? fmax(rt, 2e-6) : rt;
    const int en = k->ndim - 1, none = k->o.reduction == SOFTCE_REDUCTION_NONE;
    const int64_t nl = none ? k->E : 1, nx = k->E * k->C, nk = k->E * k->K;
    tbuf dense, loss, lossd, lse, lsed, gx, gxd, gt, gp;
    tb_make(&dense, SOFTCE_DTYPE_F64, k->ndim, k->xshape, NULL);
    tb_store(&dense, k->dense);
    tb_make(&loss, k->xdt, none ? en : 0, k->eshape, NULL);
    tb_make(&lossd, SOFTCE_DTYPE_F64, none ? en : 0, k->eshape, NULL);
    tb_make(&lse, SOFTCE_DTYPE_F64, en, k->eshape, NULL);
    tb_make(&lsed, SOFTCE_DTYPE_F64, en, k->eshape, NULL);
    tb_make(&gx, k->xdt, k->ndim, k->xshape, NULL);
    tb_make(&gxd, SOFTCE_DTYPE_F64, k->ndim, k->xshape, NULL);
    tb_make(&gt, SOFTCE_DTYPE_F64, k->ndim, k->xshape, NULL);
    tb_make_layout(&gp, k->pdt, en + 1, k->kshape, TL_PADDED);
    tb_snapshot(&gp); /* its gaps must stay as they are */
    double *want = tu_alloc(sizeof(double) * (size_t)(nx + nk + 2));
    const double fx = grad_floor(k, 0), fp = grad_floor(k, 1);

    /* forward: loss and lse */
    assert_int_equal(softce_forward(&k->o, &k->x.t, &dense.t, &lossd.t, &lsed.t), SOFTCE_OK);
    assert_int_equal(
        softce_topk_forward(&k->o, &k->x.t, &k->idx.t, &k->prob.t, k->rest, &loss.t, &lse.t),
        SOFTCE_OK);
    assert_string_equal(softce_last_error(), "");
    tb_load(&lossd, want);
    check_close("forward.loss", &loss, want, nl, rt, 0.0);
    tb_load(&lsed, want);
    check_close("forward.lse", &lse, want, k->E, rt, 0.0);

    /* fused */
    assert_int_equal(softce_forward_backward(&k->o, &k->x.t, &dense.t, NULL, &lossd.t, &gxd.t),
                     SOFTCE_OK);
    assert_int_equal(softce_topk_forward_backward(&k->o, &k->x.t, &k->idx.t, &k->prob.t, k->rest,
                                                  NULL, &loss.t, &gx.t),
                     SOFTCE_OK);
    tb_load(&lossd, want);
    check_close("forward_backward.loss", &loss, want, nl, rt, 0.0);
    tb_load(&gxd, want);
    check_close("forward_backward.grad", &gx, want, nx, rt, fx);

    /* in place: the gradient overwrites a copy of the logits */
    tbuf xc;
    tb_make(&xc, k->xdt, k->ndim, k->xshape, NULL);
    tb_store(&xc, k->xv);
    assert_int_equal(softce_topk_forward_backward(&k->o, &xc.t, &k->idx.t, &k->prob.t, k->rest,
                                                  NULL, NULL, &xc.t),
                     SOFTCE_OK);
    check_close("in_place.grad", &xc, want, nx, rt, fx);
    tb_free(&xc);

    /* backward: grad_logits and grad_prob (chain rule through the dense gradient) */
    assert_int_equal(softce_backward(&k->o, &k->x.t, &dense.t, NULL, NULL, &gxd.t, &gt.t),
                     SOFTCE_OK);
    assert_int_equal(softce_topk_backward(&k->o, &k->x.t, &k->idx.t, &k->prob.t, k->rest, NULL,
                                          NULL, &gx.t, &gp.t),
                     SOFTCE_OK);
    tb_load(&gxd, want);
    check_close("backward.grad_logits", &gx, want, nx, rt, fx);
    double *gtv = tu_alloc(sizeof(double) * (size_t)(nx + 1));
    tb_load(&gt, gtv);
    chain_rule(k, gtv, want);
    check_close("backward.grad_prob", &gp, want, nk, rtp, fp);
    assert_true(tb_outside_unchanged(&gp));
    free(gtv);

    /* grad_prob alone, with the lse saved by forward */
    tb_snapshot(&gx);
    assert_int_equal(softce_topk_backward(&k->o, &k->x.t, &k->idx.t, &k->prob.t, k->rest, NULL,
                                          &lsed.t, NULL, &gp.t),
                     SOFTCE_OK);
    check_close("backward.grad_prob (lse given)", &gp, want, nk, rtp, fp);
    assert_true(tb_unchanged(&gx));

    free(want);
    tb_free(&dense), tb_free(&loss), tb_free(&lossd), tb_free(&lse), tb_free(&lsed);
    tb_free(&gx), tb_free(&gxd), tb_free(&gt), tb_free(&gp);
}

static void test_equivalence(void **state) {
    (void)state;
    tu_rng r = {0x70C4u};
    for (int i = 0; i < N_CASES; i++) {
        tk_case k;
        draw(&k, &r);
        run_case(&k, i);
        release(&k);
    }
}

/* ---- errors ------------------------------------------------------------------------------ */

/* A small valid problem: logits (3, 5, 2) f32, top-k (3, 2, 4). */
typedef struct efx {
    tbuf x, idx, prob, loss, lse, gx, gp, gl;
    softce_options o;
} efx;

static void efx_make(efx *f) {
    const int64_t xs[3] = {3, 5, 2}, ks[3] = {3, 2, 4}, es[2] = {3, 2};
    double v[64];
    tb_make(&f->x, SOFTCE_DTYPE_F32, 3, xs, NULL);
    for (int i = 0; i < 30; i++)
        v[i] = 0.1 * i - 1.0;
    tb_store(&f->x, v);
    tb_make(&f->idx, SOFTCE_DTYPE_I64, 3, ks, NULL);
    for (int i = 0; i < 24; i++)
        v[i] = (i * 3) % 5;
    tb_store(&f->idx, v);
    tb_make(&f->prob, SOFTCE_DTYPE_F32, 3, ks, NULL);
    for (int i = 0; i < 24; i++)
        v[i] = 0.05 * (i % 4 + 1);
    tb_store(&f->prob, v);
    tb_make(&f->loss, SOFTCE_DTYPE_F32, 0, NULL, NULL);
    tb_make(&f->lse, SOFTCE_DTYPE_F32, 2, es, NULL);
    tb_make(&f->gx, SOFTCE_DTYPE_F32, 3, xs, NULL);
    tb_make(&f->gp, SOFTCE_DTYPE_F32, 3, ks, NULL);
    tb_make(&f->gl, SOFTCE_DTYPE_F32, 0, NULL, NULL);
    v[0] = 1.0;
    tb_store(&f->gl, v);
    softce_options_init(&f->o);
}

static void efx_free(efx *f) {
    tb_free(&f->x), tb_free(&f->idx), tb_free(&f->prob), tb_free(&f->loss), tb_free(&f->lse);
    tb_free(&f->gx), tb_free(&f->gp), tb_free(&f->gl);
}

static void efx_snapshot(efx *f) {
    tbuf *b[] = {&f->x, &f->idx, &f->prob, &f->loss, &f->lse, &f->gx, &f->gp, &f->gl};
    for (size_t i = 0; i < sizeof b / sizeof *b; i++)
        tb_snapshot(b[i]);
}

static void efx_untouched(const efx *f) {
    const tbuf *b[] = {&f->x, &f->idx, &f->prob, &f->loss, &f->lse, &f->gx, &f->gp, &f->gl};
    for (size_t i = 0; i < sizeof b / sizeof *b; i++)
        assert_true(tb_unchanged(b[i]));
}

/* The three entry points with (idx, prob, rest) fail with status and message, writing nothing;
   grad_prob: the one passed to backward. */
static void expect_all(efx *f, const softce_tensor *idx, const softce_tensor *prob, int32_t rest,
                       const softce_tensor *gp, softce_status st, const char *msg) {
    efx_snapshot(f);
    assert_int_equal(softce_topk_forward(&f->o, &f->x.t, idx, prob, rest, &f->loss.t, &f->lse.t),
                     st);
    assert_string_equal(softce_last_error(), msg);
    assert_int_equal(softce_topk_forward_backward(&f->o, &f->x.t, idx, prob, rest, &f->gl.t,
                                                  &f->loss.t, &f->gx.t),
                     st);
    assert_string_equal(softce_last_error(), msg);
    assert_int_equal(
        softce_topk_backward(&f->o, &f->x.t, idx, prob, rest, &f->gl.t, NULL, &f->gx.t, gp), st);
    assert_string_equal(softce_last_error(), msg);
    if (st != SOFTCE_OK)
        efx_untouched(f);
}

static void test_index_range(void **state) {
    (void)state;
    efx f;
    efx_make(&f);
    int64_t *iv = f.idx.t.data;
    iv[tb_offset(&f.idx.t, 3 * 4 + 2)] = 5;  /* element (1, 1) = 3, entry 2 */
    iv[tb_offset(&f.idx.t, 5 * 4 + 0)] = -1; /* later: not the one reported */
    expect_all(&f, &f.idx.t, &f.prob.t, 0, &f.gp.t, SOFTCE_ERROR_TARGET,
               "topk_index[3][2] = 5 is outside [0, 5)");
    iv[tb_offset(&f.idx.t, 3 * 4 + 2)] = 1;
    expect_all(&f, &f.idx.t, &f.prob.t, 1, &f.gp.t, SOFTCE_ERROR_TARGET,
               "topk_index[5][0] = -1 is outside [0, 5)");
    iv[tb_offset(&f.idx.t, 5 * 4 + 0)] = 4;
    expect_all(&f, &f.idx.t, &f.prob.t, 1, &f.gp.t, SOFTCE_OK, "");
    efx_free(&f);
}

static void test_rest_and_null(void **state) {
    (void)state;
    efx f;
    efx_make(&f);
    expect_all(&f, &f.idx.t, &f.prob.t, 2, &f.gp.t, SOFTCE_ERROR_OPTION,
               "rest = 2 is not IGNORE (0) or UNIFORM (1)");
    expect_all(&f, &f.idx.t, &f.prob.t, -1, &f.gp.t, SOFTCE_ERROR_OPTION,
               "rest = -1 is not IGNORE (0) or UNIFORM (1)");
    expect_all(&f, &f.idx.t, NULL, 0, &f.gp.t, SOFTCE_ERROR_NULL_POINTER, "topk_prob is NULL");
    expect_all(&f, NULL, &f.prob.t, 0, &f.gp.t, SOFTCE_ERROR_NULL_POINTER, "topk_index is NULL");
    efx_snapshot(&f);
    assert_int_equal(
        softce_topk_backward(&f.o, &f.x.t, &f.idx.t, &f.prob.t, 0, NULL, NULL, NULL, NULL),
        SOFTCE_ERROR_NULL_POINTER);
    assert_string_equal(softce_last_error(),
                        "grad_logits and grad_prob are both NULL: nothing to compute");
    efx_untouched(&f);
    efx_free(&f);
}

static void test_dtypes_and_shapes(void **state) {
    (void)state;
    efx f;
    efx_make(&f);
    softce_tensor t = f.idx.t;
    t.dtype = SOFTCE_DTYPE_F64;
    expect_all(&f, &t, &f.prob.t, 0, &f.gp.t, SOFTCE_ERROR_DTYPE,
               "topk_index: dtype f64 is not i32 or i64");
    t = f.prob.t;
    t.dtype = SOFTCE_DTYPE_I32;
    expect_all(&f, &f.idx.t, &t, 0, &f.gp.t, SOFTCE_ERROR_DTYPE,
               "topk_prob: dtype i32 is not a float type");
    t = f.gp.t;
    t.dtype = SOFTCE_DTYPE_I32;
    efx_snapshot(&f);
    assert_int_equal(
        softce_topk_backward(&f.o, &f.x.t, &f.idx.t, &f.prob.t, 0, NULL, NULL, &f.gx.t, &t),
        SOFTCE_ERROR_DTYPE);
    assert_string_equal(softce_last_error(), "grad_prob: dtype i32 is not a float type");
    efx_untouched(&f);

    t = f.idx.t;
    t.shape[1] = 1;
    expect_all(&f, &t, &f.prob.t, 0, &f.gp.t, SOFTCE_ERROR_SHAPE,
               "topk_index: shape[1] = 1, expected 2 (element shape + (K))");
    t.ndim = 2;
    t.shape[1] = 2;
    expect_all(&f, &t, &f.prob.t, 0, &f.gp.t, SOFTCE_ERROR_SHAPE,
               "topk_index: ndim = 2, expected 3 (element shape + (K))");
    t = f.prob.t;
    t.shape[2] = 3;
    expect_all(&f, &f.idx.t, &t, 0, &f.gp.t, SOFTCE_ERROR_SHAPE,
               "topk_prob: shape[2] = 3, expected 4 (the shape of topk_index)");
    t = f.gp.t;
    t.shape[2] = 3;
    efx_snapshot(&f);
    assert_int_equal(
        softce_topk_backward(&f.o, &f.x.t, &f.idx.t, &f.prob.t, 1, NULL, NULL, &f.gx.t, &t),
        SOFTCE_ERROR_SHAPE);
    assert_string_equal(softce_last_error(),
                        "grad_prob: shape[2] = 3, expected 4 (the shape of topk_index)");
    efx_untouched(&f);
    efx_free(&f);
}

static void test_overlaps(void **state) {
    (void)state;
    efx f;
    efx_make(&f);
    efx_snapshot(&f);
    assert_int_equal(
        softce_topk_backward(&f.o, &f.x.t, &f.idx.t, &f.prob.t, 0, NULL, NULL, &f.gx.t, &f.prob.t),
        SOFTCE_ERROR_OVERLAP);
    assert_string_equal(softce_last_error(), "grad_prob overlaps topk_prob in memory");
    softce_tensor t = f.gp.t;
    t.data = f.gx.t.data;
    assert_int_equal(
        softce_topk_backward(&f.o, &f.x.t, &f.idx.t, &f.prob.t, 0, NULL, NULL, &f.gx.t, &t),
        SOFTCE_ERROR_OVERLAP);
    assert_string_equal(softce_last_error(), "grad_prob overlaps grad_logits in memory");
    assert_int_equal(
        softce_topk_forward_backward(&f.o, &f.x.t, &f.idx.t, &f.prob.t, 0, NULL, NULL, &f.prob.t),
        SOFTCE_ERROR_SHAPE);
    efx_untouched(&f);
    efx_free(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_equivalence),   cmocka_unit_test(test_index_range),
        cmocka_unit_test(test_rest_and_null), cmocka_unit_test(test_dtypes_and_shapes),
        cmocka_unit_test(test_overlaps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
