/*
 * Input validation: shapes, strides, int64 overflow, overlap, options and target range. Every
 * failing call must return the documented status, set last_error and leave every buffer
 * byte-for-byte untouched (checked by EXPECT / EXPECT_ALL of common/apifx.h).
 */
#include "common/apifx.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_shape(void **state) {
    fx *f = *state;
    const unsigned sh = S(SOFTCE_ERROR_SHAPE);
    for (int i = 0; i < NSLOT; i++) {
        softce_tensor bad = fx_slot_buf(f, i)->t;
        if (bad.ndim == 0)
            continue;
        bad.shape[0] -= 1;
        EXPECT_ALL(f, i, &bad, sh);
        if (bad.ndim == 2 && i != SLOT_X) { /* class axis of a logits-shaped operand */
            bad.shape[0] += 1;
            bad.shape[1] -= 1;
            EXPECT_ALL(f, i, &bad, sh);
        }
        bad.shape[0] = -1;
        EXPECT_ALL(f, i, &bad, sh);
    }
    softce_options o = f->o;
    o.reduction = SOFTCE_REDUCTION_NONE; /* loss and grad_loss must be element-shaped */
    EXPECT(f, sh | S(SOFTCE_ERROR_NDIM), softce_forward(&o, &f->x.t, &f->th.t, &f->loss0.t, NULL));
    EXPECT(f, sh | S(SOFTCE_ERROR_NDIM),
           softce_backward(&o, &f->x.t, &f->th.t, &f->glo.t, NULL, &f->gx.t, NULL));
    softce_tensor lossn = f->lossn.t;
    lossn.shape[0] = FX_N + 1;
    EXPECT(f, sh, softce_forward(&o, &f->x.t, &f->th.t, &lossn, NULL));
    EXPECT(f, sh, softce_forward_backward(&o, &f->x.t, &f->th.t, &lossn, NULL, &f->gx.t));
    softce_tensor out = f->out.t;
    out.shape[1] = FX_C + 1;
    EXPECT(f, sh, softce_log_softmax(NULL, &f->x.t, &out));
    EXPECT(f, S(SOFTCE_OK), softce_forward(&o, &f->x.t, &f->th.t, &f->lossn.t, NULL));
}

static void test_stride(void **state) {
    fx *f = *state;
    const unsigned st = S(SOFTCE_ERROR_STRIDE);
    for (int i = 0; i < NSLOT; i++) {
        softce_tensor bad = fx_slot_buf(f, i)->t;
        if (bad.ndim == 0)
            continue;
        bad.strides[0] = -bad.strides[0];
        EXPECT_ALL(f, i, &bad, st);
    }
    softce_tensor lse0 = f->lse.t; /* lse is an output of forward only */
    lse0.strides[0] = 0;
    EXPECT(f, st, softce_forward(NULL, &f->x.t, &f->th.t, &f->loss0.t, &lse0));
    const int outs[] = {SLOT_GX, SLOT_GT};
    for (int i = 0; i < 2; i++) { /* outputs that overlap themselves */
        softce_tensor bad = fx_slot_buf(f, outs[i])->t;
        bad.strides[0] = 0;
        EXPECT_ALL(f, outs[i], &bad, st);
        bad.strides[0] = FX_C - 1; /* rows overlap by one element */
        EXPECT_ALL(f, outs[i], &bad, st);
        bad.strides[0] = 1;
        bad.strides[1] = 1;
        EXPECT_ALL(f, outs[i], &bad, st);
    }
    softce_options o = f->o;
    o.reduction = SOFTCE_REDUCTION_NONE;
    softce_tensor lossn = f->lossn.t;
    lossn.strides[0] = 0;
    EXPECT(f, st, softce_forward(&o, &f->x.t, &f->th.t, &lossn, NULL));
    softce_tensor out = f->out.t;
    out.strides[1] = 0;
    EXPECT(f, st, softce_log_softmax(NULL, &f->x.t, &out));
    /* zero strides are fine for inputs, and on size-1 dims of outputs */
    softce_tensor xb = f->x.t, tb = f->th.t, l1 = f->loss0.t;
    xb.strides[0] = 0;
    tb.strides[0] = 0;
    l1.ndim = 1;
    l1.shape[0] = 1;
    l1.strides[0] = 0;
    EXPECT(f, S(SOFTCE_OK), softce_forward(NULL, &xb, &tb, &f->loss0.t, &f->lse.t));
    EXPECT(f, S(SOFTCE_OK), softce_forward_backward(NULL, &xb, &tb, NULL, NULL, &f->gx.t));
    softce_tensor x1 = f->x.t, t1 = f->th.t;
    x1.shape[0] = t1.shape[0] = 1;
    EXPECT(f, S(SOFTCE_OK), softce_forward(&o, &x1, &t1, &l1, NULL));
}

static void test_overflow(void **state) {
    fx *f = *state;
    const unsigned of = S(SOFTCE_ERROR_OVERFLOW);
    for (int i = 0; i < NSLOT; i++) {
        softce_tensor bad = fx_slot_buf(f, i)->t;
        if (bad.ndim == 0)
            continue;
        bad.strides[0] = INT64_MAX / 2; /* (shape-1) * stride overflows in elements */
        EXPECT_ALL(f, i, &bad, of);
        bad.strides[0] = INT64_MAX / 4 + 1; /* fits in elements, not in bytes */
        EXPECT_ALL(f, i, &bad, of);
    }
    /* element count 2^64 with zero strides: spans nothing, still overflows */
    softce_tensor x = f->x.t, t = f->th.t;
    x.shape[0] = x.shape[1] = t.shape[0] = INT64_C(1) << 32;
    x.strides[0] = x.strides[1] = t.strides[0] = 0;
    EXPECT(f, of, softce_forward(NULL, &x, &t, &f->loss0.t, NULL));
    x.ndim = 3;
    x.shape[0] = x.shape[1] = INT64_C(1) << 21;
    x.shape[2] = INT64_C(1) << 22;
    x.strides[2] = 0;
    t.ndim = 2;
    t.shape[0] = INT64_C(1) << 21;
    t.shape[1] = INT64_C(1) << 22;
    t.strides[1] = 0;
    EXPECT(f, of, softce_forward(NULL, &x, &t, &f->loss0.t, NULL));
}

static softce_tensor in_pool(fx *f, int32_t dtype, int32_t ndim, const int64_t *shape,
                             const int64_t *strides, int64_t elem_off) {
    softce_tensor t = {0};
    t.struct_size = sizeof t;
    t.dtype = dtype;
    t.ndim = ndim;
    t.data = (char *)f->pool.t.data + elem_off * (int64_t)tu_dtype_size(dtype);
    for (int32_t k = 0; k < ndim; k++) {
        t.shape[k] = shape[k];
        t.strides[k] = strides[k];
    }
    return t;
}

static void test_overlap_in_place_variants(void **state) {
    fx *f = *state;
    const unsigned ov = S(SOFTCE_ERROR_OVERLAP);
    const int64_t nc[2] = {FX_N, FX_C}, rowmaj[2] = {FX_C, 1}, tr[2] = {1, FX_N};
    softce_tensor g = f->x.t;
    g.data = (float *)f->x.t.data + 1; /* shifted by one element */
    EXPECT_ALL(f, SLOT_GX, &g, ov);
    g = f->x.t;
    g.strides[0] = 1; /* same memory, transposed */
    g.strides[1] = FX_N;
    EXPECT_ALL(f, SLOT_GX, &g, ov);
    softce_tensor xp = in_pool(f, SOFTCE_DTYPE_F32, 2, nc, rowmaj, 0);
    softce_tensor gp = in_pool(f, SOFTCE_DTYPE_F64, 2, nc, rowmaj, 0); /* same start, wider */
    EXPECT(f, ov, softce_forward_backward(NULL, &xp, &f->th.t, NULL, NULL, &gp));
    EXPECT(f, ov, softce_log_softmax(NULL, &xp, &gp));
    gp = in_pool(f, SOFTCE_DTYPE_F16, 2, nc, rowmaj, 0); /* same start, narrower */
    EXPECT(f, ov, softce_forward_backward(NULL, &xp, &f->th.t, NULL, NULL, &gp));
    gp = in_pool(f, SOFTCE_DTYPE_F32, 2, nc, tr, 0);
    EXPECT(f, ov, softce_log_softmax(NULL, &xp, &gp));
    /* exactly in place is fine where documented; grad_target = target is not */
    EXPECT(f, S(SOFTCE_OK), softce_forward_backward(NULL, &xp, &f->th.t, NULL, NULL, &xp));
    EXPECT(f, S(SOFTCE_OK), softce_log_softmax(NULL, &xp, &xp));
    softce_tensor tsp = in_pool(f, SOFTCE_DTYPE_F32, 2, nc, rowmaj, 40);
    EXPECT(f, ov, softce_backward(NULL, &f->x.t, &tsp, NULL, NULL, NULL, &tsp));
    EXPECT(f, S(SOFTCE_OK), softce_backward(NULL, &xp, &f->th.t, NULL, NULL, &xp, NULL));
}

static void test_overlap_operands(void **state) {
    fx *f = *state;
    const unsigned ov = S(SOFTCE_ERROR_OVERLAP);
    softce_options none = f->o;
    none.reduction = SOFTCE_REDUCTION_NONE;
    softce_tensor l = f->loss0.t;
    l.data = (float *)f->x.t.data + 2; /* loss inside the logits */
    EXPECT_ALL(f, SLOT_LOSS, &l, ov);
    l = f->lossn.t;
    l.data = f->x.t.data; /* a column of the logits */
    l.strides[0] = FX_C;
    EXPECT(f, ov, softce_forward(&none, &f->x.t, &f->th.t, &l, NULL));
    softce_tensor lse = f->lse.t;
    lse.data = f->th.t.data; /* lse over the target */
    EXPECT(f, ov, softce_forward(NULL, &f->x.t, &f->th.t, &f->loss0.t, &lse));
    softce_options wo = f->o;
    wo.weight = &f->w.t;
    lse.data = f->w.t.data; /* lse over the weight */
    EXPECT(f, ov, softce_forward(&wo, &f->x.t, &f->ts.t, &f->loss0.t, &lse));
    lse.data = f->lossn.t.data; /* two outputs on the same memory */
    EXPECT(f, ov, softce_forward(&none, &f->x.t, &f->th.t, &f->lossn.t, &lse));
    lse.data = (float *)f->gx.t.data + 3; /* lse input of backward inside grad_logits */
    EXPECT(f, ov, softce_backward(NULL, &f->x.t, &f->th.t, NULL, &lse, &f->gx.t, NULL));
    softce_tensor gt = f->gt.t;
    gt.data = f->gx.t.data;
    EXPECT_ALL(f, SLOT_GT, &gt, ov);
    softce_tensor glo = f->glo.t;
    glo.data = (float *)f->gx.t.data + 7; /* upstream gradient inside grad_logits */
    EXPECT_ALL(f, SLOT_GLO, &glo, ov);
    l = f->loss0.t;
    l.data = (float *)f->gx.t.data + 19; /* fused loss on the last gradient element */
    EXPECT(f, ov, softce_forward_backward(NULL, &f->x.t, &f->th.t, NULL, &l, &f->gx.t));
    l.data = (float *)f->x.t.data + 19; /* in-place gradient, loss on the last logit */
    EXPECT(f, ov, softce_forward_backward(NULL, &f->x.t, &f->ts.t, NULL, &l, &f->x.t));
}

static void test_overlap_boundaries(void **state) {
    fx *f = *state;
    const int64_t nc[2] = {FX_N, FX_C}, rowmaj[2] = {FX_C, 1}, gaps[2] = {10, 2};
    softce_tensor xp = in_pool(f, SOFTCE_DTYPE_F32, 2, nc, rowmaj, 0);
    softce_tensor g1 = in_pool(f, SOFTCE_DTYPE_F32, 2, nc, rowmaj, 19); /* one shared element */
    softce_tensor g2 = in_pool(f, SOFTCE_DTYPE_F32, 2, nc, rowmaj, 20); /* adjacent */
    EXPECT(f, S(SOFTCE_ERROR_OVERLAP),
           softce_forward_backward(NULL, &xp, &f->th.t, NULL, NULL, &g1));
    EXPECT(f, S(SOFTCE_OK), softce_forward_backward(NULL, &xp, &f->th.t, NULL, NULL, &g2));
    EXPECT(f, S(SOFTCE_ERROR_OVERLAP),
           softce_backward(NULL, &xp, &f->ts.t, NULL, NULL, &g2, &g1)); /* grad vs grad */
    softce_tensor g3 = in_pool(f, SOFTCE_DTYPE_F32, 2, nc, rowmaj, 40);
    EXPECT(f, S(SOFTCE_OK), softce_backward(NULL, &xp, &f->ts.t, NULL, NULL, &g2, &g3));
    /* interleaved elements: disjoint, but the byte ranges overlap (checked conservatively) */
    softce_tensor xi = in_pool(f, SOFTCE_DTYPE_F32, 2, nc, gaps, 100);
    softce_tensor gi = in_pool(f, SOFTCE_DTYPE_F32, 2, nc, gaps, 101);
    EXPECT(f, S(SOFTCE_ERROR_OVERLAP), softce_log_softmax(NULL, &xi, &gi));
    /* inputs may alias each other */
    EXPECT(f, S(SOFTCE_OK), softce_forward(NULL, &f->x.t, &f->x.t, &f->loss0.t, &f->lse.t));
    softce_options o = f->o;
    softce_tensor w = f->x.t;
    w.ndim = 1;
    w.shape[0] = FX_C;
    w.strides[0] = 1;
    o.weight = &w; /* weight = first row of the logits */
    EXPECT(f, S(SOFTCE_OK), softce_forward(&o, &f->x.t, &f->th.t, &f->loss0.t, NULL));
}

static void expect_options(fx *f, const softce_options *o, unsigned allowed, bool lsm, int line) {
    const softce_tensor *x = &f->x.t, *th = &f->th.t, *ts = &f->ts.t;
    fx_snapshot(f);
    fx_expect(f, allowed, softce_forward(o, x, th, &f->loss0.t, &f->lse.t), "fwd", __FILE__, line);
    fx_snapshot(f);
    fx_expect(f, allowed, softce_forward(o, x, ts, &f->loss0.t, NULL), "fwd", __FILE__, line);
    fx_snapshot(f);
    fx_expect(f, allowed, softce_backward(o, x, ts, NULL, NULL, &f->gx.t, &f->gt.t), "bwd",
              __FILE__, line);
    fx_snapshot(f);
    fx_expect(f, allowed, softce_forward_backward(o, x, th, NULL, &f->loss0.t, &f->gx.t), "fb",
              __FILE__, line);
    if (lsm) {
        fx_snapshot(f);
        fx_expect(f, allowed, softce_log_softmax(o, x, &f->out.t), "lsm", __FILE__, line);
    }
}

static void test_options(void **state) {
    fx *f = *state;
    const unsigned op = S(SOFTCE_ERROR_OPTION);
    softce_options o;
    const int32_t reductions[] = {0, 4, -1};
    for (int i = 0; i < 3; i++) {
        o = f->o;
        o.reduction = reductions[i];
        expect_options(f, &o, op, false, __LINE__);
    }
    const double eps[] = {-0.1, -1e-300, 1.0000001, NAN, INFINITY, -INFINITY};
    for (int i = 0; i < 6; i++) {
        o = f->o;
        o.label_smoothing = eps[i];
        expect_options(f, &o, op, false, __LINE__);
    }
    o = f->o;
    o.num_threads = -1;
    expect_options(f, &o, op, true, __LINE__);
    /* bit 0 is SOFTCE_FLAG_KL (1.1); every other bit is unknown */
    const uint32_t flags[] = {2u, 3u, 0x80000000u, 0xfffffffeu};
    for (int i = 0; i < 4; i++) {
        o = f->o;
        o.flags = flags[i];
        expect_options(f, &o, op, true, __LINE__);
    }
    o = f->o;
    o.flags = SOFTCE_FLAG_KL;
    expect_options(f, &o, S(SOFTCE_OK), true, __LINE__);
    const double ok_eps[] = {0.0, 1.0};
    for (int i = 0; i < 2; i++) {
        o = f->o;
        o.label_smoothing = ok_eps[i];
        expect_options(f, &o, S(SOFTCE_OK), true, __LINE__);
    }
    o = f->o;
    o.ignore_index = INT64_MIN;
    o.num_threads = 1000;
    expect_options(f, &o, S(SOFTCE_OK), true, __LINE__);
}

/* ---- options added in 1.1 ---------------------------------------------------------------- */

/* Calls made by expect_calls(): hard/soft forward (no lse argument), soft backward,
   hard fused, log_softmax. */
enum { C_FWD = 1, C_FWD_SOFT = 2, C_BWD = 4, C_FUSED = 8, C_LSM = 16, C_ALL = 31 };

static void expect_calls(fx *f, const softce_options *o, unsigned allowed, unsigned calls,
                         int line) {
    const softce_tensor *x = &f->x.t, *th = &f->th.t, *ts = &f->ts.t;
    if (calls & C_FWD) {
        fx_snapshot(f);
        fx_expect(f, allowed, softce_forward(o, x, th, &f->loss0.t, NULL), "fwd", __FILE__, line);
    }
    if (calls & C_FWD_SOFT) {
        fx_snapshot(f);
        fx_expect(f, allowed, softce_forward(o, x, ts, &f->loss0.t, NULL), "fwd soft", __FILE__,
                  line);
    }
    if (calls & C_BWD) {
        fx_snapshot(f);
        fx_expect(f, allowed, softce_backward(o, x, ts, NULL, NULL, &f->gx.t, &f->gt.t), "bwd",
                  __FILE__, line);
    }
    if (calls & C_FUSED) {
        fx_snapshot(f);
        fx_expect(f, allowed, softce_forward_backward(o, x, th, NULL, &f->loss0.t, &f->gx.t), "fb",
                  __FILE__, line);
    }
    if (calls & C_LSM) {
        fx_snapshot(f);
        fx_expect(f, allowed, softce_log_softmax(o, x, &f->out.t), "lsm", __FILE__, line);
    }
}

/* A contiguous view into the fixture's spare pool (checked untouched like every buffer),
   starting `f32_off` * 4 bytes into it, whatever the dtype. */
static softce_tensor pool_view(fx *f, int32_t dtype, int32_t ndim, const int64_t *shape,
                               int64_t f32_off) {
    softce_tensor t = {0};
    int64_t step = 1;
    t.struct_size = sizeof t;
    t.dtype = dtype;
    t.ndim = ndim;
    t.data = (float *)f->pool.t.data + f32_off;
    for (int32_t k = ndim - 1; k >= 0; k--) {
        t.shape[k] = shape[k];
        t.strides[k] = step;
        step *= shape[k];
    }
    return t;
}

/* Pool offsets (in f32 elements, 8-byte aligned) of the 1.1 tensors. */
enum { P_SW = 0, P_PRIOR = 8, P_OLSE = 16, P_ARGMAX = 24, P_CORRECT = 32, P_ZLOSS = 40 };

static void test_options_1_1_values(void **state) {
    fx *f = *state;
    const unsigned op = S(SOFTCE_ERROR_OPTION), ok = S(SOFTCE_OK);
    softce_options o;
    const double bad_nonneg[] = {-1.0, -1e-300, NAN, INFINITY, -INFINITY};
    for (int i = 0; i < 5; i++) {
        o = f->o;
        o.z_loss = bad_nonneg[i];
        expect_calls(f, &o, op, C_ALL, __LINE__);
    }
    const double bad_cap[] = {-1.0, -1e-300, NAN, INFINITY, -INFINITY};
    for (int i = 0; i < 5; i++) {
        o = f->o;
        o.softcap = bad_cap[i];
        expect_calls(f, &o, op, C_ALL, __LINE__);
    }
    const double bad_scale[] = {0.0, -0.0, -2.0, NAN, INFINITY, -INFINITY};
    for (int i = 0; i < 6; i++) {
        o = f->o;
        o.logit_scale = bad_scale[i];
        expect_calls(f, &o, op, C_ALL, __LINE__);
    }
    const int32_t bad_den[] = {-1, 5, INT32_MIN, INT32_MAX};
    for (int i = 0; i < 4; i++) {
        o = f->o;
        o.denominator = bad_den[i];
        expect_calls(f, &o, op, C_ALL, __LINE__);
    }
    const double bad_value[] = {0.0, -0.0, -3.0, NAN, INFINITY, -INFINITY};
    for (int i = 0; i < 6; i++) {
        o = f->o;
        o.denominator = SOFTCE_DENOMINATOR_VALUE;
        o.denominator_value = bad_value[i];
        expect_calls(f, &o, op, C_ALL, __LINE__);
        o.denominator = SOFTCE_DENOMINATOR_ELEMENTS; /* unused unless VALUE */
        expect_calls(f, &o, ok, C_ALL, __LINE__);
    }
    const int32_t bad_empty[] = {-1, 3, INT32_MIN};
    for (int i = 0; i < 3; i++) {
        o = f->o;
        o.empty = bad_empty[i];
        expect_calls(f, &o, op, C_ALL, __LINE__);
    }
    const int32_t bad_smoothing[] = {-1, 2, INT32_MAX};
    for (int i = 0; i < 3; i++) {
        o = f->o;
        o.smoothing = bad_smoothing[i];
        expect_calls(f, &o, op, C_ALL, __LINE__);
    }
    const int32_t bad_reserved[] = {1, -1, INT32_MIN};
    for (int i = 0; i < 3; i++) {
        o = f->o;
        o.reserved = bad_reserved[i];
        expect_calls(f, &o, S(SOFTCE_ERROR_STRUCT_SIZE), C_ALL, __LINE__);
    }
    /* accepted values, at and near the boundaries */
    const double ok_zl[] = {0.0, -0.0, 1e-300, 1e-4, 1e3};
    const double ok_cap[] = {0.0, -0.0, 1e-3, 30.0, 1e300};
    const double ok_scale[] = {1e-300, 0.5, 1.0, 1e3};
    for (int i = 0; i < 4; i++) {
        o = f->o;
        o.z_loss = ok_zl[i];
        o.softcap = ok_cap[i];
        o.logit_scale = ok_scale[i];
        expect_calls(f, &o, ok, C_ALL, __LINE__);
    }
    for (int32_t d = SOFTCE_DENOMINATOR_AUTO; d <= SOFTCE_DENOMINATOR_VALUE; d++)
        for (int32_t e = SOFTCE_EMPTY_NAN; e <= SOFTCE_EMPTY_ERROR; e++)
            for (int32_t sm = SOFTCE_SMOOTHING_UNIFORM; sm <= SOFTCE_SMOOTHING_OTHERS; sm++) {
                o = f->o;
                o.denominator = d;
                o.denominator_value = 1e-300;
                o.empty = e;
                o.smoothing = sm;
                o.label_smoothing = 0.25;
                o.flags = SOFTCE_FLAG_KL;
                expect_calls(f, &o, ok, C_ALL, __LINE__);
            }
    /* the first bad option is reported: reduction before z_loss before reserved */
    o = f->o;
    o.reduction = 0;
    o.z_loss = NAN;
    o.reserved = 1;
    expect_calls(f, &o, op, C_ALL, __LINE__);
    o.reduction = SOFTCE_REDUCTION_SUM;
    expect_calls(f, &o, op, C_ALL, __LINE__);
    /* struct_size: 40 (1.0) and 136 (1.1) only */
    const uint32_t bad_size[] = {0, 32, 39, 41, 48, 96, 135, 137, 144};
    for (int i = 0; i < 9; i++) {
        o = f->o;
        o.struct_size = bad_size[i];
        expect_calls(f, &o, S(SOFTCE_ERROR_STRUCT_SIZE), C_ALL, __LINE__);
    }
    o = f->o;
    o.struct_size = 40;
    o.z_loss = NAN; /* beyond a 1.0 struct: not read */
    o.reserved = 7;
    expect_calls(f, &o, ok, C_ALL, __LINE__);
}

/* sample_weight and smoothing_prior: inputs of every loss entry point (not log_softmax). */
static void test_options_1_1_inputs(void **state) {
    fx *f = *state;
    const int64_t n[1] = {FX_N}, c[1] = {FX_C}, n1[1] = {FX_N + 1}, c1[1] = {FX_C - 1};
    const int64_t nc[2] = {FX_N, 1}, one[2] = {1, FX_C};
    const unsigned loss_calls = C_FWD | C_FWD_SOFT | C_BWD | C_FUSED;
    softce_options o = f->o;
    softce_tensor sw = pool_view(f, SOFTCE_DTYPE_F32, 1, n, P_SW);
    softce_tensor pr = pool_view(f, SOFTCE_DTYPE_F32, 1, c, P_PRIOR);
    /* accepted: any float dtype */
    const int32_t floats[] = {SOFTCE_DTYPE_F32, SOFTCE_DTYPE_F64, SOFTCE_DTYPE_F16,
                              SOFTCE_DTYPE_BF16};
    for (int i = 0; i < 4; i++) {
        o = f->o;
        softce_tensor s2 = pool_view(f, floats[i], 1, n, P_SW);
        softce_tensor p2 = pool_view(f, floats[i], 1, c, P_PRIOR);
        o.sample_weight = &s2;
        o.smoothing_prior = &p2;
        o.label_smoothing = 0.5;
        expect_calls(f, &o, S(SOFTCE_OK), C_ALL, __LINE__);
    }
    struct {
        const softce_tensor *t;
        int slot; /* 0: sample_weight, 1: prior */
    } bad[16];
    softce_tensor b[16];
    int nb = 0;
    unsigned want[16];
#define BAD(slot_, expr, status)                                                                   \
    do {                                                                                           \
        b[nb] = (slot_) ? pr : sw;                                                                 \
        softce_tensor *t_ = &b[nb];                                                                \
        (void)t_;                                                                                  \
        expr;                                                                                      \
        bad[nb].t = &b[nb];                                                                        \
        bad[nb].slot = (slot_);                                                                    \
        want[nb++] = S(SOFTCE_ERROR_##status);                                                     \
    } while (0)
    BAD(0, t_->dtype = SOFTCE_DTYPE_I32, DTYPE);
    BAD(0, t_->dtype = SOFTCE_DTYPE_I64, DTYPE);
    BAD(0, t_->dtype = 0, DTYPE);
    BAD(0, t_->shape[0] = FX_N + 1, SHAPE);
    BAD(0, *t_ = pool_view(f, SOFTCE_DTYPE_F32, 2, nc, P_SW), SHAPE);
    BAD(0, t_->ndim = 0, SHAPE);
    BAD(0, t_->strides[0] = -1, STRIDE);
    BAD(0, t_->data = NULL, NULL_POINTER);
    BAD(0, t_->struct_size = 0, STRUCT_SIZE);
    BAD(1, t_->dtype = SOFTCE_DTYPE_I32, DTYPE);
    BAD(1, t_->dtype = 9, DTYPE);
    BAD(1, *t_ = pool_view(f, SOFTCE_DTYPE_F32, 1, c1, P_PRIOR), SHAPE);
    BAD(1, *t_ = pool_view(f, SOFTCE_DTYPE_F32, 2, one, P_PRIOR), SHAPE);
    BAD(1, t_->ndim = 9, NDIM);
    BAD(1, t_->reserved = 1, STRUCT_SIZE);
    BAD(0, *t_ = pool_view(f, SOFTCE_DTYPE_F32, 1, n1, P_SW), SHAPE);
#undef BAD
    for (int i = 0; i < nb; i++) {
        o = f->o;
        if (bad[i].slot)
            o.smoothing_prior = bad[i].t;
        else
            o.sample_weight = bad[i].t;
        expect_calls(f, &o, want[i], loss_calls, __LINE__);
    }
    /* a prior needs uniform smoothing */
    o = f->o;
    o.smoothing_prior = &pr;
    o.smoothing = SOFTCE_SMOOTHING_OTHERS;
    expect_calls(f, &o, S(SOFTCE_ERROR_OPTION), C_ALL, __LINE__);
    /* inputs may be broadcast and may alias other inputs */
    o = f->o;
    softce_tensor swb = sw;
    swb.strides[0] = 0;
    softce_tensor prx = f->x.t; /* the prior is the first row of the logits */
    prx.ndim = 1;
    prx.shape[0] = FX_C;
    prx.strides[0] = 1;
    o.sample_weight = &swb;
    o.smoothing_prior = &prx;
    expect_calls(f, &o, S(SOFTCE_OK), C_ALL, __LINE__);
    /* but no output may overlap them */
    softce_tensor sgx = f->gx.t; /* sample weights inside grad_logits */
    sgx.ndim = 1;
    sgx.shape[0] = FX_N;
    sgx.strides[0] = 1;
    o = f->o;
    o.sample_weight = &sgx;
    expect_calls(f, &o, S(SOFTCE_ERROR_OVERLAP), C_BWD | C_FUSED, __LINE__);
    softce_tensor ploss = pool_view(f, SOFTCE_DTYPE_F32, 0, NULL, P_PRIOR + 2);
    o = f->o;
    o.smoothing_prior = &pr;
    fx_snapshot(f);
    fx_expect(f, S(SOFTCE_ERROR_OVERLAP), softce_forward(&o, &f->x.t, &f->th.t, &ploss, NULL),
              "loss on prior", __FILE__, __LINE__);
}

/* The extra outputs out_lse, out_argmax, out_correct, out_z_loss. */
static void test_options_1_1_outputs(void **state) {
    fx *f = *state;
    const int64_t n[1] = {FX_N}, nn[2] = {FX_N, 1};
    const unsigned fwd = C_FWD | C_FWD_SOFT | C_FUSED, op = S(SOFTCE_ERROR_OPTION);
    softce_tensor olse = pool_view(f, SOFTCE_DTYPE_F32, 1, n, P_OLSE);
    softce_tensor oarg = pool_view(f, SOFTCE_DTYPE_I64, 1, n, P_ARGMAX);
    softce_tensor ocor = pool_view(f, SOFTCE_DTYPE_F32, 1, n, P_CORRECT);
    softce_tensor ozl = pool_view(f, SOFTCE_DTYPE_F32, 1, n, P_ZLOSS);
    softce_options o = f->o;
    o.out_lse = &olse;
    o.out_argmax = &oarg;
    o.out_correct = &ocor;
    o.out_z_loss = &ozl;
    expect_calls(f, &o, S(SOFTCE_OK), fwd, __LINE__);
    /* written by forward and forward_backward only */
    const softce_tensor *each[4] = {&olse, &oarg, &ocor, &ozl};
    for (int i = 0; i < 4; i++) {
        o = f->o;
        const softce_tensor **slot = i == 0   ? &o.out_lse
                                     : i == 1 ? &o.out_argmax
                                     : i == 2 ? &o.out_correct
                                              : &o.out_z_loss;
        *slot = each[i];
        expect_calls(f, &o, op, C_BWD | C_LSM, __LINE__);
        fx_snapshot(f);
        fx_expect(f, op, softce_backward(&o, &f->x.t, &f->th.t, NULL, NULL, &f->gx.t, NULL),
                  "bwd hard", __FILE__, __LINE__);
        softce_tensor bad = *each[i]; /* wrong length, rank, stride, dtype */
        bad.shape[0] = FX_N - 1;
        *slot = &bad;
        expect_calls(f, &o, S(SOFTCE_ERROR_SHAPE), fwd, __LINE__);
        bad = pool_view(f, each[i]->dtype, 2, nn, P_OLSE + 8 * i);
        expect_calls(f, &o, S(SOFTCE_ERROR_SHAPE), fwd, __LINE__);
        bad = *each[i];
        bad.ndim = 0;
        expect_calls(f, &o, S(SOFTCE_ERROR_SHAPE), fwd, __LINE__);
        bad = *each[i];
        bad.strides[0] = 0;
        expect_calls(f, &o, S(SOFTCE_ERROR_STRIDE), fwd, __LINE__);
        bad = *each[i];
        bad.dtype = 0;
        expect_calls(f, &o, S(SOFTCE_ERROR_DTYPE), fwd, __LINE__);
        bad = *each[i];
        bad.data = f->x.t.data; /* over the logits, with a wrong dtype: the dtype comes first */
        bad.dtype = i == 1 ? SOFTCE_DTYPE_F32 : SOFTCE_DTYPE_I32;
        if (i == 2) /* out_correct takes any dtype */
            expect_calls(f, &o, S(SOFTCE_ERROR_OVERLAP), fwd, __LINE__);
        else
            expect_calls(f, &o, S(SOFTCE_ERROR_DTYPE), fwd, __LINE__);
        bad.dtype = each[i]->dtype;
        expect_calls(f, &o, S(SOFTCE_ERROR_OVERLAP), fwd, __LINE__);
    }
    /* dtypes: argmax I32/I64 only; correct any; lse and z_loss float */
    const int32_t all[] = {SOFTCE_DTYPE_F32,  SOFTCE_DTYPE_F64, SOFTCE_DTYPE_F16,
                           SOFTCE_DTYPE_BF16, SOFTCE_DTYPE_I32, SOFTCE_DTYPE_I64};
    for (int i = 0; i < 6; i++) {
        int is_int = all[i] == SOFTCE_DTYPE_I32 || all[i] == SOFTCE_DTYPE_I64;
        softce_tensor t = pool_view(f, all[i], 1, n, P_OLSE);
        const softce_tensor **slots[4];
        o = f->o;
        slots[0] = &o.out_lse, slots[1] = &o.out_argmax, slots[2] = &o.out_correct,
        slots[3] = &o.out_z_loss;
        for (int k = 0; k < 4; k++) {
            o = f->o;
            *slots[k] = &t;
            unsigned want = (k == 1   ? is_int
                             : k == 2 ? 1
                                      : !is_int)
                                ? S(SOFTCE_OK)
                                : S(SOFTCE_ERROR_DTYPE);
            expect_calls(f, &o, want, fwd, __LINE__);
        }
    }
    /* out_lse and the lse argument together */
    o = f->o;
    o.out_lse = &olse;
    fx_snapshot(f);
    fx_expect(f, op, softce_forward(&o, &f->x.t, &f->th.t, &f->loss0.t, &f->lse.t), "fwd+lse",
              __FILE__, __LINE__);
    /* extra outputs overlapping each other, the loss, or grad_logits */
    o = f->o;
    softce_tensor ozl2 = ozl;
    ozl2.data = (float *)olse.data + 3;
    o.out_lse = &olse;
    o.out_z_loss = &ozl2;
    expect_calls(f, &o, S(SOFTCE_ERROR_OVERLAP), fwd, __LINE__);
    o = f->o;
    softce_tensor cor_on_gx = ocor;
    cor_on_gx.data = (float *)f->gx.t.data + 5;
    o.out_correct = &cor_on_gx;
    expect_calls(f, &o, S(SOFTCE_ERROR_OVERLAP), C_FUSED, __LINE__);
    o = f->o;
    softce_tensor arg_on_loss = oarg;
    arg_on_loss.dtype = SOFTCE_DTYPE_I32;
    arg_on_loss.data = f->loss0.t.data;
    o.out_argmax = &arg_on_loss;
    expect_calls(f, &o, S(SOFTCE_ERROR_OVERLAP), fwd, __LINE__);
    o = f->o;
    softce_tensor arg_on_sw = oarg, sw = pool_view(f, SOFTCE_DTYPE_F32, 1, n, P_ARGMAX + 1);
    o.out_argmax = &arg_on_sw;
    o.sample_weight = &sw;
    expect_calls(f, &o, S(SOFTCE_ERROR_OVERLAP), fwd, __LINE__);
    /* reduction NONE: the extra outputs stay per element */
    o = f->o;
    o.reduction = SOFTCE_REDUCTION_NONE;
    o.out_lse = &olse;
    o.out_argmax = &oarg;
    fx_snapshot(f);
    fx_expect(f, S(SOFTCE_OK), softce_forward(&o, &f->x.t, &f->th.t, &f->lossn.t, NULL), "none",
              __FILE__, __LINE__);
}

/* empty = ERROR: a mean over a zero denominator fails before anything is written. */
static void test_empty_mean(void **state) {
    fx *f = *state;
    const int64_t n[1] = {FX_N};
    const unsigned em = S(SOFTCE_ERROR_EMPTY_MEAN), ok = S(SOFTCE_OK);
    softce_tensor sw = pool_view(f, SOFTCE_DTYPE_F32, 1, n, P_SW);
    softce_tensor olse = pool_view(f, SOFTCE_DTYPE_F32, 1, n, P_OLSE);
    softce_tensor oarg = pool_view(f, SOFTCE_DTYPE_I64, 1, n, P_ARGMAX);
    for (int i = 0; i < FX_N; i++)
        ((float *)sw.data)[i] = 0.0f;
    const unsigned loss_calls = C_FWD | C_FWD_SOFT | C_BWD | C_FUSED;
    softce_options o = f->o;
    o.empty = SOFTCE_EMPTY_ERROR;
    o.sample_weight = &sw; /* every element masked */
    o.out_lse = &olse;
    o.out_argmax = &oarg;
    o.denominator = SOFTCE_DENOMINATOR_VALID;
    expect_calls(f, &o, em, C_FWD | C_FWD_SOFT | C_FUSED, __LINE__);
    o.out_lse = o.out_argmax = NULL;
    expect_calls(f, &o, em, loss_calls, __LINE__);
    o.denominator = SOFTCE_DENOMINATOR_WEIGHTS;
    expect_calls(f, &o, em, loss_calls, __LINE__);
    o.denominator = SOFTCE_DENOMINATOR_AUTO; /* sample weights do not change AUTO */
    expect_calls(f, &o, ok, loss_calls, __LINE__);
    o.denominator = SOFTCE_DENOMINATOR_ELEMENTS;
    expect_calls(f, &o, ok, loss_calls, __LINE__);
    o.denominator = SOFTCE_DENOMINATOR_VALID;
    o.reduction = SOFTCE_REDUCTION_SUM; /* only a mean has a denominator */
    expect_calls(f, &o, ok, loss_calls, __LINE__);
    o.empty = SOFTCE_EMPTY_ZERO;
    o.reduction = SOFTCE_REDUCTION_MEAN;
    expect_calls(f, &o, ok, C_ALL, __LINE__);
    o.empty = SOFTCE_EMPTY_ERROR;
    expect_calls(f, &o, ok, C_LSM, __LINE__); /* log_softmax has no mean */
    /* hard targets whose class weights are all 0: AUTO's denominator is 0 */
    o = f->o;
    o.empty = SOFTCE_EMPTY_ERROR;
    softce_tensor w0 = pool_view(f, SOFTCE_DTYPE_F32, 1, (const int64_t[]){FX_C}, P_ZLOSS);
    for (int i = 0; i < FX_C; i++)
        ((float *)w0.data)[i] = 0.0f;
    o.weight = &w0;
    expect_calls(f, &o, em, C_FWD | C_FUSED, __LINE__);
    fx_snapshot(f);
    fx_expect(f, em, softce_backward(&o, &f->x.t, &f->th.t, NULL, NULL, &f->gx.t, NULL), "bwd",
              __FILE__, __LINE__);
    /* no elements at all (N = 0), any denominator but VALUE */
    softce_tensor x0 = f->x.t, t0 = f->th.t;
    x0.shape[0] = t0.shape[0] = 0;
    for (int32_t d = SOFTCE_DENOMINATOR_AUTO; d <= SOFTCE_DENOMINATOR_VALUE; d++) {
        o = f->o;
        o.empty = SOFTCE_EMPTY_ERROR;
        o.denominator = d;
        o.denominator_value = 2.0;
        fx_snapshot(f);
        fx_expect(f, d == SOFTCE_DENOMINATOR_VALUE ? ok : em,
                  softce_forward(&o, &x0, &t0, &f->loss0.t, NULL), "empty fwd", __FILE__, __LINE__);
    }
}

/* Target range: N = 20, C = 1000, targets in a (20) tensor of dtype dt. */
static void expect_bad_targets(int32_t dt, const double *t, int64_t ignore, const char *msg) {
    const int64_t nc[2] = {20, 1000}, n[1] = {20};
    tbuf x, tg, loss, lse, gx;
    tb_make(&x, SOFTCE_DTYPE_F32, 2, nc, NULL);
    tb_make(&tg, dt, 1, n, NULL);
    tb_make(&loss, SOFTCE_DTYPE_F32, 0, NULL, NULL);
    tb_make(&lse, SOFTCE_DTYPE_F32, 1, n, NULL);
    tb_make(&gx, SOFTCE_DTYPE_F32, 2, nc, NULL);
    tb_store(&tg, t);
    tb_snapshot(&tg);
    softce_options o;
    softce_options_init(&o);
    o.ignore_index = ignore;
    for (int call = 0; call < 3; call++) {
        softce_status st = call == 0 ? softce_forward(&o, &x.t, &tg.t, &loss.t, &lse.t)
                           : call == 1
                               ? softce_backward(&o, &x.t, &tg.t, NULL, NULL, &gx.t, NULL)
                               : softce_forward_backward(&o, &x.t, &tg.t, NULL, &loss.t, &gx.t);
        if (!msg) {
            assert_int_equal(st, SOFTCE_OK);
            continue;
        }
        assert_int_equal(st, SOFTCE_ERROR_TARGET);
        if (!strstr(softce_last_error(), msg))
            print_error("last_error \"%s\", want \"%s\"\n", softce_last_error(), msg);
        assert_non_null(strstr(softce_last_error(), msg));
        assert_true(tb_unchanged(&loss) && tb_unchanged(&lse) && tb_unchanged(&gx));
        assert_true(tb_unchanged(&x) && tb_unchanged(&tg));
    }
    tb_free(&x);
    tb_free(&tg);
    tb_free(&loss);
    tb_free(&lse);
    tb_free(&gx);
}

static void test_target_range(void **state) {
    (void)state;
    double t[20];
    for (int dt = SOFTCE_DTYPE_I32; dt <= SOFTCE_DTYPE_I64; dt++) {
        for (int i = 0; i < 20; i++)
            t[i] = (i * 37) % 1000;
        expect_bad_targets(dt, t, -100, NULL);
        t[17] = 1200;
        t[19] = 1300;
        expect_bad_targets(dt, t, -100, "target[17] = 1200 is outside [0, 1000)");
        expect_bad_targets(dt, t, 1200, "target[19] = 1300 is outside [0, 1000)");
        t[19] = 5;
        expect_bad_targets(dt, t, 1200, NULL); /* ignore_index may be >= C */
        t[17] = 1;
        t[19] = 1000; /* the last element only: nothing may be written before the check */
        expect_bad_targets(dt, t, -100, "target[19] = 1000 is outside [0, 1000)");
        t[19] = 1;
        t[3] = -1;
        expect_bad_targets(dt, t, -100, "target[3] = -1 is outside [0, 1000)");
        expect_bad_targets(dt, t, -1, NULL); /* negative ignore_index */
    }
}

/* A bad target in the very last element of a large, multi-threaded problem. */
static void test_target_range_large(void **state) {
    (void)state;
    const int64_t nc[2] = {5000, 37}, n[1] = {5000};
    tbuf x, t, loss, gx;
    tb_make(&x, SOFTCE_DTYPE_F32, 2, nc, NULL);
    tb_make(&t, SOFTCE_DTYPE_I32, 1, n, NULL);
    tb_make(&loss, SOFTCE_DTYPE_F32, 1, n, NULL);
    tb_make(&gx, SOFTCE_DTYPE_F32, 2, nc, NULL);
    double *v = tu_alloc(sizeof(double) * 5000);
    for (int i = 0; i < 5000; i++)
        v[i] = i % 37;
    v[4999] = 37;
    tb_store(&t, v);
    free(v);
    softce_options o;
    softce_options_init(&o);
    o.reduction = SOFTCE_REDUCTION_NONE;
    for (int threads = 1; threads <= 4; threads++) {
        o.num_threads = threads;
        assert_int_equal(softce_forward(&o, &x.t, &t.t, &loss.t, NULL), SOFTCE_ERROR_TARGET);
        assert_int_equal(softce_forward_backward(&o, &x.t, &t.t, NULL, &loss.t, &gx.t),
                         SOFTCE_ERROR_TARGET);
        assert_non_null(strstr(softce_last_error(), "target[4999] = 37 is outside [0, 37)"));
        assert_true(tb_unchanged(&loss) && tb_unchanged(&gx));
    }
    tb_free(&x);
    tb_free(&t);
    tb_free(&loss);
    tb_free(&gx);
}

/* Forward with a reduced loss and no lse checks each block's targets inside the compute loop
   (src/driver.c, scan_in_compute): a bad index in a later block, in row mode and in tile mode
   (tiny C, strided class axis), any thread count: the first bad index is reported and the loss
   is left as it was. */
static void test_target_range_in_compute(void **state) {
    (void)state;
    const int64_t shapes[3][3] = {{6000, 37, 0}, {40000, 10, 0}, {40, 21, 500}};
    for (int k = 0; k < 3; k++) {
        const int64_t *sh = shapes[k];
        const int32_t nd = sh[2] ? 3 : 2;
        const int64_t el[2] = {sh[0], sh[2]};
        const int64_t ne = sh[0] * (sh[2] ? sh[2] : 1);
        tbuf x, t, loss;
        tb_make(&x, SOFTCE_DTYPE_F32, nd, sh, NULL);
        tb_make(&t, SOFTCE_DTYPE_I64, nd - 1, el, NULL);
        tb_make(&loss, SOFTCE_DTYPE_F32, 0, NULL, NULL);
        double *v = tu_alloc(sizeof(double) * (size_t)ne);
        for (int64_t bad = ne / 2; bad < ne; bad += ne / 2 - 1) { /* the middle, then the last */
            for (int64_t i = 0; i < ne; i++)
                v[i] = i == bad ? (double)sh[1] : (double)(i % sh[1]);
            tb_store(&t, v);
            char want[96];
            snprintf(want, sizeof want, "target[%lld] = %lld is outside [0, %lld)", (long long)bad,
                     (long long)sh[1], (long long)sh[1]);
            for (int red = SOFTCE_REDUCTION_MEAN; red <= SOFTCE_REDUCTION_SUM; red++)
                for (int threads = 1; threads <= 3; threads++) {
                    softce_options o;
                    softce_options_init(&o);
                    o.reduction = red;
                    o.num_threads = threads;
                    tb_snapshot(&loss);
                    assert_int_equal(softce_forward(&o, &x.t, &t.t, &loss.t, NULL),
                                     SOFTCE_ERROR_TARGET);
                    if (!strstr(softce_last_error(), want))
                        print_error("last_error \"%s\", want \"%s\"\n", softce_last_error(), want);
                    assert_non_null(strstr(softce_last_error(), want));
                    assert_true(tb_unchanged(&loss));
                }
        }
        free(v);
        tb_free(&x);
        tb_free(&t);
        tb_free(&loss);
    }
}

/* The first bad target in row-major element order, not in memory order. */
static void test_target_order(void **state) {
    (void)state;
    const int64_t shape[3] = {2, 4, 3}, el[2] = {2, 3}, tr[2] = {1, 2};
    tbuf x, t, loss;
    tb_make(&x, SOFTCE_DTYPE_F64, 3, shape, NULL);
    tb_make(&t, SOFTCE_DTYPE_I32, 2, el, tr); /* transposed: (1,0) comes first in memory */
    tb_make(&loss, SOFTCE_DTYPE_F64, 0, NULL, NULL);
    const double tv[6] = {0, 1, 9, 7, 2, 3};
    tb_store(&t, tv);
    assert_int_equal(softce_forward(NULL, &x.t, &t.t, &loss.t, NULL), SOFTCE_ERROR_TARGET);
    assert_non_null(strstr(softce_last_error(), "= 9 is outside [0, 4)"));
    assert_null(strstr(softce_last_error(), "= 7 "));
    assert_true(tb_unchanged(&loss));
    tb_free(&x);
    tb_free(&t);
    tb_free(&loss);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(void) {
    const struct CMUnitTest tests[] = {
        T(test_shape),
        T(test_stride),
        T(test_overflow),
        T(test_overlap_in_place_variants),
        T(test_overlap_operands),
        T(test_overlap_boundaries),
        T(test_options),
        T(test_options_1_1_values),
        T(test_options_1_1_inputs),
        T(test_options_1_1_outputs),
        T(test_empty_mean),
        cmocka_unit_test(test_target_range),
        cmocka_unit_test(test_target_range_large),
        cmocka_unit_test(test_target_range_in_compute),
        cmocka_unit_test(test_target_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
