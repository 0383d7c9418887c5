/*
 * libFuzzer target: small random problems through every entry point, every logits dtype and
 * the layout families the driver distinguishes (contiguous rows, class axis innermost or
 * strided, padded rows, empty), checked against the double-precision reference of
 * kernels_ref.c within a per-value error bound. Gaps between elements of inputs hold NaN
 * (reading one poisons a result); gaps of outputs must stay untouched. Aborts on a mismatch.
 */
#include "fuzz_bytes.h"
#include "kernels_fuzz.h"
#include "xref.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- element access ------------------------------------------------------------------- */

int64_t kf_offset(const kf_problem *p, const softce_tensor *t, int64_t e, int64_t c) {
    int64_t off = 0, idx[3];
    for (int k = p->en - 1; k >= 0; k--)
        idx[k] = e % p->es[k], e /= p->es[k];
    for (int k = 0, j = 0; k < t->ndim; k++)
        off += t->strides[k] * (c >= 0 && k == p->cax ? c : idx[j++]);
    return off;
}

double kf_get(const softce_tensor *t, int64_t off) {
    const unsigned char *m = t->data;
    switch (t->dtype) {
    case SOFTCE_DTYPE_F32:
        return ((const float *)(const void *)m)[off];
    case SOFTCE_DTYPE_F64:
        return ((const double *)(const void *)m)[off];
    case SOFTCE_DTYPE_BF16:
        return xr_from_bf16(((const uint16_t *)(const void *)m)[off]);
    case SOFTCE_DTYPE_F16:
        return xr_from_f16(((const uint16_t *)(const void *)m)[off]);
    case SOFTCE_DTYPE_I32:
        return ((const int32_t *)(const void *)m)[off];
    default:
        return (double)((const int64_t *)(const void *)m)[off];
    }
}

void kf_put(const softce_tensor *t, int64_t off, double v) {
    void *m = t->data;
    switch (t->dtype) {
    case SOFTCE_DTYPE_F32:
        ((float *)m)[off] = (float)v;
        break;
    case SOFTCE_DTYPE_F64:
        ((double *)m)[off] = v;
        break;
    case SOFTCE_DTYPE_BF16:
        ((uint16_t *)m)[off] = xr_to_bf16(v);
        break;
    case SOFTCE_DTYPE_F16:
        ((uint16_t *)m)[off] = xr_to_f16(v);
        break;
    case SOFTCE_DTYPE_I32:
        ((int32_t *)m)[off] = (int32_t)v;
        break;
    default:
        ((int64_t *)m)[off] = (int64_t)v;
        break;
    }
}

static size_t dtype_size(int32_t dt) {
    return dt == SOFTCE_DTYPE_F64 || dt == SOFTCE_DTYPE_I64   ? 8
           : dt == SOFTCE_DTYPE_F32 || dt == SOFTCE_DTYPE_I32 ? 4
                                                              : 2;
}

/* ---- tensors -------------------------------------------------------------------------- */

/* A tensor of `shape` stored in dim order `order` (outermost first), with an optional gap
   after dim `pad_dim`; its memory is filled with NaN (floats) or 0x5a bytes (integers). */
static void make(kf_tensor *k, int32_t dt, int ndim, const int64_t *shape, const int *order,
                 int pad_dim) {
    softce_tensor *t = &k->t;
    memset(k, 0, sizeof *k);
    k->on = 1;
    t->struct_size = sizeof *t;
    t->dtype = dt;
    t->ndim = ndim;
    int64_t step = 1, last = 0;
    for (int i = ndim - 1; i >= 0; i--) {
        int d = order[i];
        t->shape[d] = shape[d];
        t->strides[d] = step;
        step *= (shape[d] > 1 ? shape[d] : 1) + (d == pad_dim);
        last += (shape[d] - 1) * t->strides[d];
    }
    int empty = 0;
    for (int d = 0; d < ndim; d++)
        empty |= shape[d] == 0;
    k->bytes = empty ? 0 : (size_t)(last + 1) * dtype_size(dt);
    k->mem = malloc(k->bytes ? k->bytes : 1);
    k->snap = malloc(k->bytes ? k->bytes : 1);
    t->data = empty ? NULL : k->mem;
    for (size_t i = 0; i < k->bytes / dtype_size(dt); i++) {
        if (dt == SOFTCE_DTYPE_I32 || dt == SOFTCE_DTYPE_I64)
            memset(k->mem + i * dtype_size(dt), 0x5a, dtype_size(dt));
        else
            kf_put(t, (int64_t)i, NAN);
    }
}

static void drop(kf_tensor *k) {
    free(k->mem);
    free(k->snap);
}

static int32_t float_dtype(fz_bytes *b) { return SOFTCE_DTYPE_F32 + (int32_t)fz_below(b, 4); }

/* Output dtype: mostly exact-enough f64/f32, sometimes the narrow ones. */
static int32_t out_dtype(fz_bytes *b) {
    unsigned k = fz_below(b, 8);
    return k < 4   ? SOFTCE_DTYPE_F64
           : k < 6 ? SOFTCE_DTYPE_F32
                   : SOFTCE_DTYPE_F16 + (int32_t)(k - 6);
}

/* ---- the problem ------------------------------------------------------------------------ */

static uint64_t mix_state;

/* A logit: from the bytes while they last (then a generator seeded by them), sometimes
   scaled up to +-16000 (f16 holds it). */
static double logit(fz_bytes *b, double scale) {
    int v;
    if (b->n >= 2) {
        v = (int)fz_u8(b) << 8 | fz_u8(b);
    } else {
        mix_state = mix_state * 6364136223846793005ull + 1442695040888963407ull;
        v = (int)(mix_state >> 48);
    }
    return ((double)v / 2048.0 - 16.0) * scale;
}

static int64_t numel(const kf_problem *p) {
    int64_t n = 1;
    for (int d = 0; d < p->ndim; d++)
        n *= p->shape[d];
    return n;
}

static void logits_layout(fz_bytes *b, kf_problem *p, int *order, int *pad) {
    static const int64_t big_c = 131072; /* the split mode's threshold (few rows, huge C) */
    p->ndim = 1 + (int)fz_below(b, 4);
    p->cax = p->ndim == 1 ? 0 : 1;
    int huge = fz_u8(b) == 0xa7 && fz_u8(b) == 0x5c; /* rare and costly: a magic pair */
    for (int d = 0; d < p->ndim; d++)
        p->shape[d] = d == p->cax ? 1 + (int64_t)fz_below(b, fz_rare(b, 40) ? 255 : 70)
                                  : (int64_t)fz_below(b, fz_rare(b, 16) ? 40 : 6);
    for (int d = p->ndim - 1; d >= 0 && numel(p) > 20000; d--) /* keep a call small */
        if (d != p->cax && p->shape[d] > 2)
            p->shape[d] = 2;
    for (int d = 0; huge && d < p->ndim; d++) /* one or two rows of a huge C */
        p->shape[d] = d == p->cax ? big_c + (int64_t)fz_below(b, 255) * 37
                      : d == 0    ? 1 + (int64_t)fz_below(b, 2)
                                  : 1;
    unsigned kind = fz_below(b, 4); /* C order, class axis innermost, F order, rotated */
    int rot = (int)fz_below(b, 4), j = 0;
    for (int i = 0; i < p->ndim; i++)
        order[i] = kind == 2 ? p->ndim - 1 - i : kind == 3 ? (i + rot) % p->ndim : i;
    if (kind == 1) {
        for (int d = 0; d < p->ndim; d++)
            if (d != p->cax)
                order[j++] = d;
        order[j] = p->cax;
    }
    *pad = fz_rare(b, 60) ? (int)fz_below(b, (unsigned)p->ndim) : -1;
    p->C = p->shape[p->cax];
    p->en = 0;
    p->E = 1;
    for (int d = 0; d < p->ndim; d++)
        if (d != p->cax)
            p->es[p->en++] = p->shape[d], p->E *= p->shape[d];
}

static void pick_options(fz_bytes *b, kf_problem *p) {
    softce_options_init(&p->o);
    p->o.reduction = 1 + (int32_t)fz_below(b, 3);
    p->o.label_smoothing = fz_rare(b, 100) ? fz_u8(b) / 255.0 : 0.0;
    p->o.num_threads = (int32_t)fz_below(b, 3);
    p->o.ignore_index = fz_rare(b, 128) ? -100 : (int64_t)fz_below(b, (unsigned)p->C);
}

static int64_t pick_class(fz_bytes *b, const kf_problem *p) {
    if (fz_rare(b, 32))
        return p->o.ignore_index;
    int64_t v = p->C > 250 ? (int64_t)fz_u8(b) << 8 | fz_u8(b) : fz_u8(b);
    return v % p->C;
}

/* Inputs: logits, target, weight, upstream gradient, lse (backward); decoded copies too. */
static void make_inputs(fz_bytes *b, kf_problem *p, const int *order, int pad) {
    static const int c_order[4] = {0, 1, 2, 3};
    const int64_t EC = p->E * p->C;
    double scale = fz_rare(b, 24) ? 1000.0 : 1.0;
    make(&p->x, float_dtype(b), p->ndim, p->shape, order, pad);
    p->xv = malloc((size_t)(EC ? EC : 1) * sizeof(double));
    for (int64_t i = 0; i < EC; i++) {
        int64_t off = kf_offset(p, &p->x.t, i / p->C, i % p->C);
        kf_put(&p->x.t, off, logit(b, scale));
        p->xv[i] = kf_get(&p->x.t, off);
    }
    if (p->op != KF_LOG_SOFTMAX && p->soft) {
        make(&p->t, float_dtype(b), p->ndim, p->shape, fz_rare(b, 128) ? order : c_order,
             fz_rare(b, 40) ? 0 : -1);
        p->pv = malloc((size_t)(EC ? EC : 1) * sizeof(double));
        for (int64_t i = 0; i < EC; i++) {
            int64_t off = kf_offset(p, &p->t.t, i / p->C, i % p->C);
            kf_put(&p->t.t, off, fz_rare(b, 64) ? 0.0 : fz_u8(b) / 255.0);
            p->pv[i] = kf_get(&p->t.t, off);
        }
    } else if (p->op != KF_LOG_SOFTMAX) {
        int32_t dt = fz_rare(b, 128) ? SOFTCE_DTYPE_I32 : SOFTCE_DTYPE_I64;
        make(&p->t, dt, p->en, p->es, c_order, fz_rare(b, 40) ? 0 : -1);
        p->tv = malloc((size_t)(p->E ? p->E : 1) * sizeof(int64_t));
        for (int64_t e = 0; e < p->E; e++) {
            kf_put(&p->t.t, kf_offset(p, &p->t.t, e, -1), (double)(p->tv[e] = pick_class(b, p)));
        }
    }
    if (p->op != KF_LOG_SOFTMAX && fz_rare(b, 90)) {
        make(&p->w, SOFTCE_DTYPE_F32 + (int32_t)fz_below(b, 2), 1, &p->C, c_order, -1);
        p->wv = malloc((size_t)p->C * sizeof(double));
        for (int64_t c = 0; c < p->C; c++) {
            kf_put(&p->w.t, c, fz_rare(b, 20) ? 0.0 : 0.25 + fz_u8(b) / 128.0);
            p->wv[c] = kf_get(&p->w.t, c);
        }
        p->o.weight = &p->w.t;
    }
    if ((p->op == KF_BACKWARD || p->op == KF_FUSED) && fz_rare(b, 128)) {
        int none = p->o.reduction == SOFTCE_REDUCTION_NONE;
        make(&p->gl, float_dtype(b), none ? p->en : 0, p->es, c_order, -1);
        int64_t n = none ? p->E : 1;
        p->glv = malloc((size_t)(n ? n : 1) * sizeof(double));
        for (int64_t e = 0; e < n; e++) {
            int64_t off = none ? kf_offset(p, &p->gl.t, e, -1) : 0;
            kf_put(&p->gl.t, off, ((double)fz_u8(b) - 128.0) / 64.0);
            p->glv[e] = kf_get(&p->gl.t, off);
        }
    }
    if (p->op == KF_BACKWARD && fz_rare(b, 90)) {
        make(&p->lse_in, fz_rare(b, 128) ? SOFTCE_DTYPE_F64 : SOFTCE_DTYPE_F32, p->en, p->es,
             c_order, -1);
        p->lsev = malloc((size_t)(p->E ? p->E : 1) * sizeof(double));
        for (int64_t e = 0; e < p->E; e++) {
            int64_t off = kf_offset(p, &p->lse_in.t, e, -1);
            kf_put(&p->lse_in.t, off, xr_lse(p->xv + e * p->C, p->C));
            p->lsev[e] = kf_get(&p->lse_in.t, off);
        }
    }
}

static void make_outputs(fz_bytes *b, kf_problem *p, const int *order) {
    static const int c_order[4] = {0, 1, 2, 3};
    int none = p->o.reduction == SOFTCE_REDUCTION_NONE;
    const int *gorder = fz_rare(b, 128) ? order : c_order;
    int gpad = fz_rare(b, 40) ? (int)fz_below(b, (unsigned)p->ndim) : -1;
    if (p->op == KF_FORWARD || (p->op == KF_FUSED && !fz_rare(b, 30)))
        make(&p->loss, out_dtype(b), none ? p->en : 0, p->es, c_order, fz_rare(b, 30) ? 0 : -1);
    if (p->op == KF_FORWARD && fz_rare(b, 128))
        make(&p->lse, out_dtype(b), p->en, p->es, c_order, -1);
    if (p->op == KF_BACKWARD && p->soft && fz_rare(b, 128))
        make(&p->gt, out_dtype(b), p->ndim, p->shape, gorder, gpad);
    if (p->op == KF_FORWARD || (p->op == KF_BACKWARD && p->gt.on && fz_rare(b, 60)))
        return;
    p->inplace = fz_rare(b, 64);
    if (p->inplace) {
        p->gx = p->x; /* same descriptor and memory: the result overwrites the logits */
        p->gx.mem = NULL, p->gx.snap = NULL;
    } else {
        make(&p->gx, out_dtype(b), p->ndim, p->shape, gorder, gpad);
    }
}

static softce_status call(kf_problem *p) {
    const softce_tensor *t = p->t.on ? &p->t.t : NULL, *gl = p->gl.on ? &p->gl.t : NULL;
    const softce_tensor *loss = p->loss.on ? &p->loss.t : NULL, *gx = p->gx.on ? &p->gx.t : NULL;
    switch (p->op) {
    case KF_FORWARD:
        return softce_forward(&p->o, &p->x.t, t, loss, p->lse.on ? &p->lse.t : NULL);
    case KF_BACKWARD:
        return softce_backward(&p->o, &p->x.t, t, gl, p->lse_in.on ? &p->lse_in.t : NULL, gx,
                               p->gt.on ? &p->gt.t : NULL);
    case KF_FUSED:
        return softce_forward_backward(&p->o, &p->x.t, t, gl, loss, gx);
    default:
        return softce_log_softmax(&p->o, &p->x.t, gx);
    }
}

/* ---- judging ---------------------------------------------------------------------------- */

static void die(const kf_problem *p, const char *what, int64_t i, double got, double want,
                double tol) {
    fprintf(stderr,
            "fuzz_kernels: %s[%lld]: got %.17g, want %.17g +- %.3g\n  op %d, logits dtype %d "
            "ndim %d shape %lld %lld %lld %lld, C %lld E %lld, soft %d, reduction %d eps %g "
            "weights %d grad_loss %d lse_in %d in place %d\n",
            what, (long long)i, got, want, tol, (int)p->op, p->x.t.dtype, p->ndim,
            (long long)p->shape[0], (long long)p->shape[1], (long long)p->shape[2],
            (long long)p->shape[3], (long long)p->C, (long long)p->E, p->soft, p->o.reduction,
            p->o.label_smoothing, p->w.on, p->gl.on, p->lse_in.on, p->inplace);
    abort();
}

static void expect(const kf_problem *p, const char *what, int64_t i, double got, double want,
                   double tol) {
    int ok = tol < 0.0     ? !isfinite(got)
             : isnan(want) ? isnan(got)
                           : !isnan(got) && fabs(got - want) <= tol;
    if (!ok)
        die(p, what, i, got, want, tol);
}

/* Gap bytes of an output (not an element) and every byte of an input stay as they were. */
static void expect_untouched(const kf_problem *p, const kf_tensor *k, int output) {
    unsigned char *mark = calloc(k->bytes ? k->bytes : 1, 1);
    size_t es = dtype_size(k->t.dtype);
    int shaped = k->t.ndim == p->ndim && k->t.ndim > 0;
    int64_t n = !output ? 0 : shaped ? p->E * p->C : k->t.ndim ? p->E : 1;
    for (int64_t i = 0; k->bytes && i < n; i++) {
        int64_t off = shaped      ? kf_offset(p, &k->t, i / p->C, i % p->C)
                      : k->t.ndim ? kf_offset(p, &k->t, i, -1)
                                  : 0;
        memset(mark + (size_t)off * es, 1, es);
    }
    for (size_t j = 0; j < k->bytes; j++)
        if (!mark[j] && k->mem[j] != k->snap[j])
            die(p, output ? "byte between output elements" : "input byte", (int64_t)j, k->mem[j],
                k->snap[j], 0);
    free(mark);
}

static void expect_values(const kf_problem *p, const kf_expect *ex) {
    int none = p->o.reduction == SOFTCE_REDUCTION_NONE;
    for (int64_t e = 0; p->loss.on && e < (none ? p->E : 1); e++)
        expect(p, "loss", e, kf_get(&p->loss.t, none ? kf_offset(p, &p->loss.t, e, -1) : 0),
               ex->loss[e], ex->loss_tol[e]);
    for (int64_t e = 0; p->lse.on && e < p->E; e++)
        expect(p, "lse", e, kf_get(&p->lse.t, kf_offset(p, &p->lse.t, e, -1)), ex->lse[e],
               ex->lse_tol[e]);
    for (int64_t i = 0; i < p->E * p->C; i++) {
        if (p->gx.on)
            expect(p, p->op == KF_LOG_SOFTMAX ? "log_softmax" : "grad", i,
                   kf_get(&p->gx.t, kf_offset(p, &p->gx.t, i / p->C, i % p->C)), ex->gx[i],
                   ex->gx_tol[i]);
        if (p->gt.on)
            expect(p, "grad_target", i,
                   kf_get(&p->gt.t, kf_offset(p, &p->gt.t, i / p->C, i % p->C)), ex->gt[i],
                   ex->gt_tol[i]);
    }
}

static void build(fz_bytes *b, kf_problem *p) {
    int order[4], pad;
    memset(p, 0, sizeof *p);
    p->op = (kf_op)fz_below(b, 4);
    logits_layout(b, p, order, &pad);
    pick_options(b, p);
    p->soft = p->op != KF_LOG_SOFTMAX && fz_rare(b, 100);
    mix_state = b->n ? fz_u64(b) : 12345;
    make_inputs(b, p, order, pad);
    make_outputs(b, p, order);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_bytes b = {data, size};
    kf_problem p;
    build(&b, &p);
    kf_expect ex;
    kf_reference(&p, &ex);
    kf_tensor *all[9] = {&p.x, &p.t, &p.w, &p.gl, &p.lse_in, &p.loss, &p.lse, &p.gx, &p.gt};
    for (int i = 0; i < 9; i++)
        if (all[i]->on && all[i]->mem)
            memcpy(all[i]->snap, all[i]->mem, all[i]->bytes);
    softce_status st = call(&p);
    if (st != SOFTCE_OK) {
        fprintf(stderr, "status %s: %s\n", softce_status_name(st), softce_last_error());
        die(&p, "status", 0, st, 0, 0);
    }
    for (int i = 0; i < 9; i++)
        if (all[i]->on && all[i]->mem)
            expect_untouched(&p, all[i], i >= 5 || (i == 0 && p.inplace));
    expect_values(&p, &ex);
    kf_expect_free(&ex);
    for (int i = 0; i < 9; i++)
        if (all[i]->on)
            drop(all[i]);
    free(p.xv), free(p.pv), free(p.wv), free(p.glv), free(p.lsev), free(p.tv);
    return 0;
}
