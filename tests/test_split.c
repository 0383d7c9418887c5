/*
 * Split mode (src/split.c): few elements (at most 64) of at least 131072 classes, with every
 * class-axis operand (logits, soft target, grad_logits, grad_target) of a float dtype with
 * class stride 1, and none of the 1.1 per-element options. Each row is cut into chunks of
 * 32768 classes, reduced in sub-blocks of 2048 that are combined in a fixed order; the fused
 * call keeps exp(x - local max) between its two phases (in grad_logits, or in buffers of its
 * own when grad_logits is staged); f16/bf16 operands (or f32 beside f64 logits) are staged
 * chunk by chunk.
 *
 * Every problem here is shaped for that mode (contiguous; outputs and a soft target in the
 * logits' dtype: f32, bf16, f64, and f16 in the random cases; test_mixed: other dtypes beside
 * the logits) and pins down, against the double-precision reference (tests/ref):
 * - forward (loss, lse), backward (lse recomputed, and lse from forward), fused and
 *   log_softmax, for hard (i32/i64, ignore_index, smoothing, class weights) and soft targets,
 *   every reduction, with C on exact chunk boundaries and with a ragged last chunk/sub-block;
 * - special values placed on chunk and sub-block boundaries: a -inf sub-block or chunk (with
 *   target mass 0 there: finite; with mass > 0: +inf), an all -inf row, a single +inf or NaN
 *   (also inside an otherwise -inf sub-block), the row max alone in the first or last
 *   sub-block with everything else underflowing, and logits of +-1e30;
 * - in place (grad_logits == logits, fused and backward) == out of place, bit for bit;
 * - bitwise identical results for 1, 2 and 3 threads.
 * Tolerances are those of tc_check (common/tcheck.c), taken per row where one row's magnitude
 * (1e30, +inf) would otherwise set the tolerance of the others.
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

enum { SUB = 2048, CHUNK = 32768 };

/* Class counts: exactly 4 chunks (the smallest C of split mode); a last chunk of 3 full
   sub-blocks and 17 classes; 6 chunks and a last one of 3393 classes (1 sub-block + 1345). */
#define C_EVEN ((int64_t)4 * CHUNK)
#define C_RAGGED ((int64_t)4 * CHUNK + 3 * SUB + 17)
#define C_ODD ((int64_t)200001)

static const int32_t g_threads[3] = {1, 2, 3};

/* ---- building problems ------------------------------------------------------------------ */

/* A random problem of shape (E, C), or (E, C, 1) when three_d, in split mode's layout: every
   output in the logits' dtype, contiguous. soft: the target is in the logits' dtype. */
static void make_problem(tc_problem *p, int32_t xd, int64_t e, int64_t c, bool three_d, bool soft,
                         int32_t hard_dtype, int32_t reduction, double eps, bool weighted,
                         bool upstream, int32_t threads, uint64_t seed) {
    const int64_t shape[3] = {e, c, 1};
    tc_spec s;
    tc_spec_init(&s, three_d ? 3 : 2, shape);
    s.x_dtype = s.out_dtype = xd;
    s.t_dtype = soft ? xd : hard_dtype;
    s.w_dtype = weighted ? SOFTCE_DTYPE_F32 : 0;
    s.gout_dtype = upstream ? xd : 0;
    s.reduction = reduction;
    s.eps = eps;
    s.threads = threads;
    s.seed = seed;
    tc_init(p, &s);
}

/* Logit [e][c] (inner size 1) and soft target value. */
static double *xat(tc_problem *p, int64_t e, int64_t c) { return &p->xv[e * p->c + c]; }
static double *qat(tc_problem *p, int64_t e, int64_t c) { return &p->qv[e * p->c + c]; }

static void fill_x(tc_problem *p, int64_t e, int64_t c0, int64_t n, double v) {
    for (int64_t c = c0; c < c0 + n; c++)
        *xat(p, e, c) = v;
}

static void fill_q(tc_problem *p, int64_t e, int64_t c0, int64_t n, double v) {
    for (int64_t c = c0; c < c0 + n; c++)
        *qat(p, e, c) = v;
}

/* Stores the edited values (xv, qv or tv) into the library's tensors; xv/qv then hold what the
   dtype keeps, which is what the reference sees. */
static void commit(tc_problem *p) {
    tb_store(&p->x, p->xv);
    tb_load(&p->x, p->xv);
    tb_snapshot(&p->x);
    if (tc_is_soft(p)) {
        tb_store(&p->t, p->qv);
        tb_load(&p->t, p->qv);
    } else {
        double *v = tu_alloc(sizeof(double) * (size_t)p->elems);
        for (int64_t i = 0; i < p->elems; i++)
            v[i] = (double)p->tv[i];
        tb_store(&p->t, v);
        free(v);
    }
    tb_snapshot(&p->t);
}

static bool row_has(const tc_problem *p, int64_t e, double v) {
    for (int64_t c = 0; c < p->c; c++)
        if (p->xv[e * p->c + c] == v)
            return true;
    return false;
}

/* ---- reference values ------------------------------------------------------------------- */

/* The reference, with one documented override: for a row holding +inf, docs/numerics.md
   defines lse = m + log sum exp(x - m) with m = +inf, which is NaN ("a +inf logit: NaN"), and
   so are y = x - lse and the soft target's gradient -(1 - eps) w y. (tests/ref skips the log
   when m is not finite and gives lse = +inf, y = -inf there.) Its logits gradient is NaN
   already, and so is its loss when the row has mass on the +inf class (test_pos_inf asserts
   that its rows do). */
static tc_refs ref_all(const tc_problem *p) {
    tc_refs r = tc_ref_all(p);
    for (int64_t e = 0; e < p->elems; e++) {
        if (!row_has(p, e, INFINITY))
            continue;
        r.lse[e] = NAN;
        for (int64_t c = 0; c < p->c; c++)
            r.y[e * p->c + c] = r.gq[e * p->c + c] = NAN;
    }
    return r;
}

/* ---- comparisons ------------------------------------------------------------------------ */

static double finite_abs(double v) { return isfinite(v) ? fabs(v) : 0.0; }

/* Every output here is contiguous: its values, and plain copies of its descriptor over fresh
   memory for the extra calls. */
static int64_t numel(const softce_tensor *t) { return tu_numel(t->ndim, t->shape); }

static size_t nbytes(const softce_tensor *t) { return (size_t)numel(t) * tu_dtype_size(t->dtype); }

static double *values(const softce_tensor *t) {
    int64_t n = numel(t);
    double *v = tu_alloc(sizeof(double) * (size_t)n);
    for (int64_t i = 0; i < n; i++)
        v[i] = tu_get(t->dtype, (const char *)t->data + (size_t)i * tu_dtype_size(t->dtype));
    return v;
}

static softce_tensor plain_like(const softce_tensor *t) {
    softce_tensor c = *t;
    c.data = tu_alloc(nbytes(t));
    return c;
}

/* t, read as `rows` equal rows, against want: |got - want| <= rt |want| + atol[row]; NaN only
   where want is NaN and the same infinity where want is infinite (tu_close). */
static void expect_rows(const char *what, const softce_tensor *t, const double *want, int64_t rows,
                        const double *atol, double rt) {
    int64_t len = numel(t) / rows;
    double *got = values(t);
    bool ok = true;
    for (int64_t e = 0; e < rows; e++)
        ok &= tu_close(what, got + e * len, want + e * len, len, rt, atol[e]);
    free(got);
    assert_true(ok);
}

/* The accuracy contract of docs/numerics.md with tc_check's tolerances: element-wise rt plus
   an absolute part. Loss and lse: a tenth of rt times max(1, |value|); log_softmax and the
   soft target's gradient: rt times the row's largest magnitude; the logits gradient:
   rt times the size of the cancelling terms or its largest magnitude (whole tensor). */
typedef struct tols {
    double rt;
    double *loss, *lse, *y, *gx, *gq; /* per row (loss: one entry when reduced) */
} tols;

static tols tols_of(const tc_problem *p, const tc_refs *r) {
    tols t;
    int64_t E = p->elems, C = p->c;
    bool none = p->s.reduction == SOFTCE_REDUCTION_NONE;
    double gx = fmax(ref_grad_scale(&p->ref, p->gv), tu_maxabs(r->gx, E * C));
    t.rt = tu_rtol(p->s.x_dtype, p->s.out_dtype);
    t.loss = tu_alloc(sizeof(double) * (size_t)E);
    t.lse = tu_alloc(sizeof(double) * (size_t)E);
    t.y = tu_alloc(sizeof(double) * (size_t)E);
    t.gx = tu_alloc(sizeof(double) * (size_t)E);
    t.gq = tu_alloc(sizeof(double) * (size_t)E);
    for (int64_t e = 0; e < E; e++) {
        t.loss[e] = 0.1 * t.rt * fmax(1.0, finite_abs(r->loss[none ? e : 0]));
        t.lse[e] = 0.1 * t.rt * fmax(1.0, finite_abs(r->lse[e]));
        t.y[e] = t.rt * tu_maxabs(r->y + e * C, C);
        t.gx[e] = t.rt * gx;
        t.gq[e] = tc_is_soft(p) ? t.rt * tu_maxabs(r->gq + e * C, C) : 0.0; /* hard: no gq */
    }
    return t;
}

static void tols_free(tols *t) {
    free(t->loss);
    free(t->lse);
    free(t->y);
    free(t->gx);
    free(t->gq);
}

static void expect_loss(const tc_problem *p, const tc_refs *r, const tols *t,
                        const softce_tensor *loss, const char *what) {
    bool none = p->s.reduction == SOFTCE_REDUCTION_NONE;
    expect_rows(what, loss, r->loss, none ? p->elems : 1, t->loss, t->rt);
}

static void expect_grads(const tc_problem *p, const tc_refs *r, const tols *t,
                         const softce_tensor *gx, const softce_tensor *gq, const char *what) {
    char name[96];
    snprintf(name, sizeof name, "%s grad_logits", what);
    expect_rows(name, gx, r->gx, p->elems, t->gx, t->rt);
    if (gq) {
        snprintf(name, sizeof name, "%s grad_target", what);
        expect_rows(name, gq, r->gq, p->elems, t->gq, t->rt);
    }
}

/* a and b (same dtype and shape) hold the same bytes. */
static void expect_same(const char *what, const softce_tensor *a, const softce_tensor *b) {
    bool ok = memcmp(a->data, b->data, nbytes(a)) == 0;
    if (!ok) {
        double *va = values(a), *vb = values(b);
        tc_report_not_same("split", what, va, vb, numel(a));
        free(va);
        free(vb);
    }
    assert_true(ok);
}

/* ---- the full check of one problem ------------------------------------------------------ */

/* A copy of the logits with the same descriptor, to be overwritten in place. */
static softce_tensor logits_copy(const tc_problem *p) {
    softce_tensor c = plain_like(&p->x.t);
    memcpy(c.data, p->x.t.data, nbytes(&c));
    return c;
}

/* backward with the lse written by forward (in the compute dtype: o->lse), against the
   reference; then the same call in place (grad_logits == logits) must equal it bit for bit,
   grad_target included (it reads the logits before they are overwritten). */
static void check_backward_lse(const tc_problem *p, const tc_out *o, const tc_refs *r,
                               const tols *t) {
    const softce_tensor *g = p->s.gout_dtype ? &p->g.t : NULL;
    bool soft = tc_is_soft(p);
    softce_tensor gx = plain_like(&o->gx.t), in = logits_copy(p), gq = {0}, gq2 = {0};
    if (soft) {
        gq = plain_like(&o->gq.t);
        gq2 = plain_like(&o->gq.t);
    }
    CALL_OK(softce_backward(&p->opts, &p->x.t, &p->t.t, g, &o->lse.t, &gx, soft ? &gq : NULL));
    expect_grads(p, r, t, &gx, soft ? &gq : NULL, "backward(lse)");
    if (p->s.out_dtype != p->s.x_dtype) { /* in place writes the logits' dtype: compare to that */
        free(gx.data);
        gx = plain_like(&p->x.t);
        CALL_OK(softce_backward(&p->opts, &p->x.t, &p->t.t, g, &o->lse.t, &gx, soft ? &gq : NULL));
    }
    CALL_OK(softce_backward(&p->opts, &in, &p->t.t, g, &o->lse.t, &in, soft ? &gq2 : NULL));
    expect_same("in-place backward(lse) grad_logits", &in, &gx);
    if (soft)
        expect_same("in-place backward(lse) grad_target", &gq2, &gq);
    free(gx.data);
    free(in.data);
    free(gq.data);
    free(gq2.data);
}

/* Fused and log_softmax in place == their out-of-place results in o, bit for bit (when the
   outputs are of another dtype than the logits: out-of-place calls writing the logits' dtype). */
static void check_in_place(const tc_problem *p, const tc_out *o) {
    const softce_tensor *g = p->s.gout_dtype ? &p->g.t : NULL;
    softce_tensor in = logits_copy(p), loss = plain_like(&o->fb_loss.t);
    softce_tensor fb = o->fb_gx.t, lsm = o->lsm.t, own_fb = {0}, own_lsm = {0};
    if (p->s.out_dtype != p->s.x_dtype) {
        own_fb = fb = plain_like(&p->x.t);
        own_lsm = lsm = plain_like(&p->x.t);
        CALL_OK(softce_forward_backward(&p->opts, &p->x.t, &p->t.t, g, &loss, &fb));
        CALL_OK(softce_log_softmax(&p->opts, &p->x.t, &lsm));
    }
    CALL_OK(softce_forward_backward(&p->opts, &in, &p->t.t, g, &loss, &in));
    expect_same("in-place fused loss", &loss, &o->fb_loss.t);
    expect_same("in-place fused grad", &in, &fb);
    memcpy(in.data, p->x.t.data, nbytes(&in));
    CALL_OK(softce_log_softmax(&p->opts, &in, &in));
    expect_same("in-place log_softmax", &in, &lsm);
    free(in.data);
    free(loss.data);
    free(own_fb.data);
    free(own_lsm.data);
}

/* The calls of tc_run (o, run with p's thread count) again with the other thread counts of
   {1, 2, 3} (all_counts) or the next one: every output bitwise the same. */
static void check_threads(tc_problem *p, const tc_out *o, bool all_counts) {
    const char *names[7] = {"loss",       "lse",        "grad",       "grad_target",
                            "fused loss", "fused grad", "log_softmax"};
    const tbuf *ref[7] = {&o->loss, &o->lse, &o->gx, &o->gq, &o->fb_loss, &o->fb_gx, &o->lsm};
    const softce_tensor *g = p->s.gout_dtype ? &p->g.t : NULL;
    bool soft = tc_is_soft(p);
    softce_options opts = p->opts;
    for (int i = 0; i < 3; i++) {
        int32_t ran = p->opts.num_threads, nt = g_threads[i];
        if (nt == ran || (!all_counts && nt != ran % 3 + 1))
            continue;
        softce_tensor b[7];
        memset(b, 0, sizeof b);
        for (int k = 0; k < 7; k++)
            if (ref[k]->mem)
                b[k] = plain_like(&ref[k]->t);
        opts.num_threads = nt;
        CALL_OK(softce_forward(&opts, &p->x.t, &p->t.t, &b[0], &b[1]));
        CALL_OK(softce_backward(&opts, &p->x.t, &p->t.t, g, NULL, &b[2], soft ? &b[3] : NULL));
        CALL_OK(softce_forward_backward(&opts, &p->x.t, &p->t.t, g, &b[4], &b[5]));
        CALL_OK(softce_log_softmax(&opts, &p->x.t, &b[6]));
        for (int k = 0; k < 7; k++) {
            char what[96];
            snprintf(what, sizeof what, "%s, %d vs %d threads", names[k], ran, nt);
            if (ref[k]->mem)
                expect_same(what, &ref[k]->t, &b[k]);
            free(b[k].data);
        }
    }
}

/* The reference of row e is finite (loss with NONE, gradients): a case's clean row. */
static void expect_clean_row(const tc_problem *p, const tc_refs *r, int64_t e) {
    bool ok = p->s.reduction != SOFTCE_REDUCTION_NONE || isfinite(r->loss[e]);
    for (int64_t c = 0; c < p->c; c++)
        ok = ok && isfinite(r->gx[e * p->c + c]);
    assert_true(ok);
}

/* Runs every entry point (tc_run: forward with lse, backward, fused, log_softmax) and checks
   all of it against the reference, then lse reuse, in place and threads. clean_row >= 0: a
   row whose reference is finite (loss with NONE, gradients), so the library's must be too. */
static void check_problem(tc_problem *p, const char *label, int64_t clean_row, bool all_counts) {
    char ctx[400];
    snprintf(ctx, sizeof ctx, "%s: %s", label, tc_describe(&p->s));
    tu_set_context(ctx);
    bool soft = tc_is_soft(p);
    tc_refs r = ref_all(p);
    tols t = tols_of(p, &r);
    if (clean_row >= 0)
        expect_clean_row(p, &r, clean_row);
    tc_out o;
    tc_run(p, &o);
    expect_loss(p, &r, &t, &o.loss.t, "loss");
    expect_rows("lse", &o.lse.t, r.lse, p->elems, t.lse, t.rt);
    expect_grads(p, &r, &t, &o.gx.t, soft ? &o.gq.t : NULL, "backward");
    expect_loss(p, &r, &t, &o.fb_loss.t, "fused loss");
    expect_grads(p, &r, &t, &o.fb_gx.t, NULL, "fused");
    expect_rows("log_softmax", &o.lsm.t, r.y, p->elems, t.y, t.rt);
    tc_expect_untouched(p, &o);
    check_backward_lse(p, &o, &r, &t);
    check_in_place(p, &o);
    check_threads(p, &o, all_counts);
    tc_out_free(&o);
    tols_free(&t);
    tc_refs_free(&r);
}

/* ---- random problems -------------------------------------------------------------------- */

typedef struct rcase {
    int64_t e, c;
    bool three_d;    /* shape (e, C, 1) */
    int32_t t_dtype; /* I32/I64, or 0: soft target in the logits' dtype */
    int32_t reduction;
    double eps;
    bool weighted;
    int64_t ignored; /* hard: the row whose target is ignore_index, -1: none */
    int64_t ignore_index;
    bool upstream; /* random upstream gradient (else NULL) */
    int32_t threads;
} rcase;

#define MEAN SOFTCE_REDUCTION_MEAN
#define SUM SOFTCE_REDUCTION_SUM
#define NONE SOFTCE_REDUCTION_NONE
#define I32 SOFTCE_DTYPE_I32
#define I64 SOFTCE_DTYPE_I64

/* Hard targets on chunk and sub-block edges: the first class of chunk 1, the last class of the
   row (in the ragged tail; class weight 0 when weighted), the last class of sub-block 0. */
static void place_hard_targets(tc_problem *p, const rcase *k) {
    const int64_t at[3] = {CHUNK, p->c - 1, SUB - 1};
    for (int64_t e = 0; e < p->elems; e++)
        p->tv[e] = e == k->ignored ? k->ignore_index : p->elems == 1 ? 2 * CHUNK + 5 : at[e % 3];
}

/* SOFTCE_TEST_QUICK=1 (set by .ci/hardening.sh under valgrind and TSan): fewer dtypes
   (n_dtypes), every other random and mixed case. */
static bool quick(void) {
    const char *q = getenv("SOFTCE_TEST_QUICK");
    return q && *q && *q != '0';
}

/* The logits' dtypes of a test: f32, bf16 (staged), f64, and f16 where the values fit it
   (random). Quick: f32, and bf16 in the random cases. */
static int n_dtypes(bool random) { return quick() ? (random ? 2 : 1) : random ? 4 : 3; }

static int32_t dtype_at(int i) {
    static const int32_t all[4] = {SOFTCE_DTYPE_F32, SOFTCE_DTYPE_BF16, SOFTCE_DTYPE_F64,
                                   SOFTCE_DTYPE_F16};
    return all[i];
}

static void test_random(void **state) {
    (void)state;
    const rcase cases[] = {
        {1, C_EVEN, false, I64, MEAN, 0.0, false, -1, -100, false, 1},
        {3, C_RAGGED, false, I64, MEAN, 0.1, true, 1, -100, false, 2},
        {3, C_ODD, false, I32, SUM, 0.0, true, 0, -100, true, 3},
        {3, C_EVEN, false, I64, NONE, 0.1, false, 2, 5, true, 2}, /* ignore_index is a class */
        {3, C_RAGGED, false, I32, MEAN, 0.0, false, -1, -100, true, 3},
        {2, C_RAGGED, true, I64, MEAN, 0.1, true, 1, -100, true, 2},
        {3, C_RAGGED, false, 0, MEAN, 0.0, false, -1, -100, false, 3},
        {3, C_ODD, false, 0, SUM, 0.2, true, -1, -100, true, 1},
        {1, C_RAGGED, false, 0, NONE, 0.2, true, -1, -100, true, 2},
        {3, C_EVEN, false, 0, NONE, 0.0, true, -1, -100, false, 3},
        {2, C_ODD, true, 0, MEAN, 0.2, false, -1, -100, true, 3},
    };
    uint64_t seed = 100;
    for (int d = 0; d < n_dtypes(true); d++)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i += quick() ? 2 : 1) {
            const int32_t xd = dtype_at(d);
            const rcase *k = &cases[i];
            tc_problem p;
            make_problem(&p, xd, k->e, k->c, k->three_d, k->t_dtype == 0, k->t_dtype, k->reduction,
                         k->eps, k->weighted, k->upstream, k->threads, seed++);
            p.s.ignore_index = p.opts.ignore_index = p.ref.ignore_index = k->ignore_index;
            if (k->t_dtype != 0)
                place_hard_targets(&p, k);
            commit(&p);
            check_problem(&p, "random", -1, true);
            tc_free(&p);
        }
}

/* ---- special values on chunk and sub-block boundaries ----------------------------------- */

enum { E_SPECIAL = 4 }; /* rows 0..2 carry the special values, row 3 is clean */

/* A problem of E_SPECIAL rows with a random upstream gradient; with a NONE reduction (all but
   one case) each row's loss and gradient are seen alone. */
static void make_special(tc_problem *p, int32_t xd, int64_t c, bool soft, double eps, bool weighted,
                         int32_t reduction, uint64_t seed) {
    make_problem(p, xd, E_SPECIAL, c, false, soft, I64, reduction, eps, weighted, true,
                 (int32_t)(seed % 3) + 1, seed);
    if (!soft)
        for (int64_t e = 0; e < E_SPECIAL; e++)
            p->tv[e] = 3 * SUB + 7 * e; /* away from every special value below */
}

static void check_special(tc_problem *p, const char *label) {
    commit(p);
    check_problem(p, label, E_SPECIAL - 1, false);
}

/* A whole sub-block of -inf: the first one of chunk 1, one in the middle of chunk 1, and the
   ragged last one (17 classes). Row 1 has target mass there (soft: q > 0, hard: the target),
   so its loss is +inf (the gradient stays finite); rows 0 and 2 have none: finite. With
   smoothing of a hard target every class has mass: rows 0..2 are +inf. */
static void test_neg_inf_subblock(void **state) {
    (void)state;
    uint64_t seed = 200;
    const int64_t C = C_RAGGED, tail = C_RAGGED % SUB;
    for (int d = 0; d < n_dtypes(false); d++)
        for (int v = 0; v < 3; v++) { /* soft; hard; hard with smoothing and weights */
            tc_problem p;
            bool soft = v == 0;
            make_special(&p, dtype_at(d), C, soft, v == 2 ? 0.1 : 0.0, v != 1, NONE, seed++);
            fill_x(&p, 0, CHUNK, SUB, -INFINITY);
            fill_x(&p, 1, CHUNK + 7 * SUB, SUB, -INFINITY);
            fill_x(&p, 2, C - tail, tail, -INFINITY);
            if (soft) {
                fill_q(&p, 0, CHUNK, SUB, 0.0);
                fill_q(&p, 2, C - tail, tail, 0.0);
                *qat(&p, 1, CHUNK + 7 * SUB + 100) = 0.25;
            } else {
                p.tv[1] = CHUNK + 7 * SUB + 100;
                p.tv[2] = C - tail - 1;
            }
            check_special(&p, "-inf sub-block");
            tc_free(&p);
        }
}

/* A whole chunk of -inf: chunk 1 and the ragged last chunk (row 0, no mass there: finite);
   chunk 0 (row 1, mass there: +inf); and a row of nothing but -inf (row 2: lse -inf, loss and
   gradients NaN). */
static void test_neg_inf_chunk(void **state) {
    (void)state;
    uint64_t seed = 300;
    const int64_t C = C_RAGGED, last = C_RAGGED / CHUNK * CHUNK;
    for (int d = 0; d < n_dtypes(false); d++)
        for (int soft = 0; soft < 2; soft++) {
            tc_problem p;
            make_special(&p, dtype_at(d), C, soft, 0.0, true, NONE, seed++);
            fill_x(&p, 0, CHUNK, CHUNK, -INFINITY);
            fill_x(&p, 0, last, C - last, -INFINITY);
            fill_x(&p, 1, 0, CHUNK, -INFINITY);
            fill_x(&p, 2, 0, C, -INFINITY);
            if (soft) {
                fill_q(&p, 0, CHUNK, CHUNK, 0.0);
                fill_q(&p, 0, last, C - last, 0.0);
                *qat(&p, 1, CHUNK - 1) = 0.125;
            } else {
                p.tv[1] = CHUNK - 1;
            }
            check_special(&p, "-inf chunk");
            tc_free(&p);
        }
}

/* A single +inf: mid-row, as the last class, and inside an otherwise -inf sub-block. Every
   such row has mass on the +inf class (hard: smoothing, and row 0's target; soft: q > 0), so
   the reference loss is NaN, as are its gradients; lse and log_softmax are NaN (see
   ref_all). */
static void test_pos_inf(void **state) {
    (void)state;
    uint64_t seed = 400;
    const int64_t C = C_RAGGED, at[3] = {70000, C_RAGGED - 1, 5 * SUB + 3};
    for (int d = 0; d < n_dtypes(false); d++)
        for (int soft = 0; soft < 2; soft++) {
            tc_problem p;
            make_special(&p, dtype_at(d), C, soft, soft ? 0.0 : 0.1, false, NONE, seed++);
            fill_x(&p, 2, 5 * SUB, SUB, -INFINITY);
            for (int64_t e = 0; e < 3; e++) {
                *xat(&p, e, at[e]) = INFINITY;
                if (soft)
                    *qat(&p, e, at[e]) = 0.0625;
            }
            if (!soft)
                p.tv[0] = at[0];
            commit(&p);
            double *l = tu_alloc(sizeof(double) * E_SPECIAL);
            ref_loss(&p.ref, l);
            for (int64_t e = 0; e < 3; e++)
                assert_true(isnan(l[e])); /* the case is what it claims */
            free(l);
            check_special(&p, "+inf");
            tc_free(&p);
        }
}

/* A single NaN: the first class of a sub-block, the last class of the row, and inside an
   otherwise -inf sub-block (a max that skips NaN would see an all -inf block). NaN for that
   row only; with SUM the loss is NaN, the other rows' gradients stay finite. */
static void test_nan(void **state) {
    (void)state;
    uint64_t seed = 500;
    const int64_t C = C_RAGGED, at[3] = {20 * SUB, C_RAGGED - 1, 9 * SUB + SUB - 1};
    for (int d = 0; d < n_dtypes(false); d++)
        for (int soft = 0; soft < 2; soft++) { /* hard with NONE, soft with SUM */
            tc_problem p;
            make_special(&p, dtype_at(d), C, soft, 0.0, soft, soft ? SUM : NONE, seed++);
            fill_x(&p, 2, 9 * SUB, SUB, -INFINITY);
            for (int64_t e = 0; e < 3; e++)
                *xat(&p, e, at[e]) = NAN;
            check_special(&p, "NaN");
            tc_free(&p);
        }
}

/* The row max alone in the first sub-block (row 0), in the ragged last one (row 1) and in the
   first sub-block of the last chunk (row 2); every other logit lies 80..100 (f32) or
   700..800 (f64) below it, across the bound under which exp is flushed to 0. */
static void test_max_at_ends(void **state) {
    (void)state;
    uint64_t seed = 600;
    const int64_t C = C_RAGGED, tail = C_RAGGED % SUB, lastc = C_RAGGED / CHUNK * CHUNK;
    for (int d = 0; d < n_dtypes(false); d++)
        for (int soft = 0; soft < 2; soft++) {
            tc_problem p;
            make_special(&p, dtype_at(d), C, soft, soft ? 0.2 : 0.0, soft, NONE, seed++);
            double lo = dtype_at(d) == SOFTCE_DTYPE_F64 ? 700.0 : 80.0;
            double span = dtype_at(d) == SOFTCE_DTYPE_F64 ? 100.0 : 20.0;
            tu_rng r = {seed};
            for (int64_t e = 0; e < 3; e++)
                for (int64_t c = 0; c < C; c++)
                    *xat(&p, e, c) = -lo - span * tu_rand_unif(&r);
            *xat(&p, 0, 5) = 0.0;
            *xat(&p, 0, SUB - 1) = -0.5;
            *xat(&p, 1, C - 1) = 0.0;
            *xat(&p, 1, C - tail) = -1.0;
            *xat(&p, 2, lastc) = 0.0;
            if (!soft) { /* far below the max; at the max; next to it */
                p.tv[0] = 100000;
                p.tv[1] = C - 1;
                p.tv[2] = lastc + 1;
            }
            check_special(&p, "max alone at an end");
            tc_free(&p);
        }
}

/* Logits of +-1e30: one of each in a normal row (row 0), every class +-1e30 by alternate
   sub-blocks (row 1: lse = 1e30 + log(count), the target's loss is log(count)), and +1e30 as
   the last class with -1e30 as the first (row 2). */
static void test_huge(void **state) {
    (void)state;
    uint64_t seed = 700;
    const int64_t C = C_RAGGED;
    for (int d = 0; d < n_dtypes(false); d++)
        for (int soft = 0; soft < 2; soft++) {
            tc_problem p;
            make_special(&p, dtype_at(d), C, soft, soft ? 0.2 : 0.0, false, NONE, seed++);
            *xat(&p, 0, 50000) = 1e30;
            *xat(&p, 0, 120000) = -1e30;
            for (int64_t c = 0; c < C; c++)
                *xat(&p, 1, c) = (c / SUB) % 2 ? -1e30 : 1e30;
            *xat(&p, 2, C - 1) = 1e30;
            *xat(&p, 2, 0) = -1e30;
            if (!soft) {
                p.tv[0] = 120000;
                p.tv[1] = 2 * SUB + 9;
                p.tv[2] = 0;
            }
            check_special(&p, "+-1e30");
            tc_free(&p);
        }
}

/* Soft target mass of both signs that cancels: +2^123 and -2^123 (~1.06e37) on classes 0 and
   16 of row 0 (the same SIMD lane and float run for every vector width; p 0 around them), both
   exactly 80 below their sub-block's max, so every product is exact. Their terms w q (m - x) =
   +-5 2^127 would overflow a float sum that is not scaled (phase A scales it by 2^-32 also in
   its fast way), so the row's loss is finite and as the reference's (which cancels exactly:
   nothing is summed before class 0). */
static void test_signed_mass(void **state) {
    (void)state;
    uint64_t seed = 750;
    for (int d = 0; d < n_dtypes(false); d++) {
        tc_problem p;
        make_special(&p, dtype_at(d), C_RAGGED, true, 0.0, false, NONE, seed++);
        fill_q(&p, 0, 0, 256, 0.0);
        *xat(&p, 0, 1) = 10.0;
        *xat(&p, 0, 0) = *xat(&p, 0, 16) = -70.0;
        *qat(&p, 0, 0) = ldexp(1.0, 123);
        *qat(&p, 0, 16) = -ldexp(1.0, 123);
        check_special(&p, "cancelling +-2^123 target mass");
        tc_free(&p);
    }
}

/* A NaN logit where the soft target is 0, in a row without target mass (row 0) and in one with
   mass elsewhere (row 1), each in an otherwise ordinary sub-block: a term with w q = 0 adds
   nothing (docs/numerics.md), so row 0's loss is the reference's finite one and row 1's is NaN
   (through the lse); phase A's fast way (no mask on those terms) must not take such a block. */
static void test_nan_no_mass(void **state) {
    (void)state;
    uint64_t seed = 760;
    for (int d = 0; d < n_dtypes(false); d++) {
        tc_problem p;
        make_special(&p, dtype_at(d), C_RAGGED, true, 0.0, false, NONE, seed++);
        fill_q(&p, 0, 0, C_RAGGED, 0.0);
        fill_q(&p, 1, 5 * SUB, SUB, 0.0);
        *xat(&p, 0, 5 * SUB + 3) = NAN;
        *xat(&p, 1, 5 * SUB + 3) = NAN;
        check_special(&p, "NaN logit without target mass");
        tc_free(&p);
    }
}

/* ---- other dtypes beside the logits ------------------------------------------------------ */

/* One operand staged, the others direct, and the reverse: a bf16 or f16 soft target beside f32
   logits (phase A keeps e in the f32 gradient); f32 gradients of bf16 logits (x staged, e
   kept, phase B without the logits); an f32 soft target and upstream gradient beside f64
   logits (staged to f64); f64 logits with f32 outputs (the gradient staged). */
typedef struct mcase {
    int32_t x, t, out; /* t: I64 for a hard target */
    int64_t e, c;
    double eps;
    int32_t reduction;
} mcase;

static void test_mixed(void **state) {
    (void)state;
    const mcase cases[] = {
        {SOFTCE_DTYPE_F32, SOFTCE_DTYPE_BF16, SOFTCE_DTYPE_F32, 3, C_RAGGED, 0.1, MEAN},
        {SOFTCE_DTYPE_F32, SOFTCE_DTYPE_F16, SOFTCE_DTYPE_F32, 2, C_ODD, 0.0, NONE},
        {SOFTCE_DTYPE_BF16, SOFTCE_DTYPE_F32, SOFTCE_DTYPE_F32, 3, C_RAGGED, 0.2, SUM},
        {SOFTCE_DTYPE_BF16, I64, SOFTCE_DTYPE_F32, 3, C_ODD, 0.1, NONE},
        {SOFTCE_DTYPE_F64, SOFTCE_DTYPE_F32, SOFTCE_DTYPE_F64, 2, C_RAGGED, 0.0, MEAN},
        {SOFTCE_DTYPE_F64, I64, SOFTCE_DTYPE_F32, 3, C_EVEN, 0.0, NONE},
    };
    uint64_t seed = 800;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i += quick() ? 2 : 1) {
        const mcase *k = &cases[i];
        const int64_t shape[2] = {k->e, k->c};
        tc_spec s;
        tc_spec_init(&s, 2, shape);
        s.x_dtype = k->x;
        s.t_dtype = k->t;
        s.out_dtype = k->out;
        s.gout_dtype = k->t == I64 ? k->out : k->t; /* upstream in yet another dtype */
        s.w_dtype = SOFTCE_DTYPE_F32;
        s.reduction = k->reduction;
        s.eps = k->eps;
        s.threads = (int32_t)(i % 3) + 1;
        s.seed = seed++;
        tc_problem p;
        tc_init(&p, &s);
        if (k->t == I64)
            for (int64_t e = 0; e < p.elems; e++)
                p.tv[e] = (e * CHUNK + 3 * e) % p.c;
        commit(&p);
        check_problem(&p, "mixed dtypes", -1, true);
        tc_free(&p);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random),        cmocka_unit_test(test_neg_inf_subblock),
        cmocka_unit_test(test_neg_inf_chunk), cmocka_unit_test(test_pos_inf),
        cmocka_unit_test(test_nan),           cmocka_unit_test(test_max_at_ends),
        cmocka_unit_test(test_huge),          cmocka_unit_test(test_signed_mass),
        cmocka_unit_test(test_nan_no_mass),   cmocka_unit_test(test_mixed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
