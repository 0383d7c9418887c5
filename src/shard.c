/*
 * Vocabulary sharding: the class axis split across ranks. Per element, each shard reduces
 * its classes to SOFTCE_SHARD_STATS partial statistics; statistics combine like a
 * log-sum-exp (rescaled to the larger max); the loss and each shard's gradient come from the
 * combined statistics. Math and field list: docs/sharding.md. Validation: shard_check.c.
 *
 * Rows are staged in the compute type of the unsharded library (f32 for f32/f16/bf16, f64
 * for f64) and transformed with the same kernel, so z is bitwise the unsharded z; the
 * statistics are then summed in double, and the gradients use the row kernels.
 */
#include "shard.h"

#include "kernels/kernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Per call: kernels, constants of the options, the shard's class vectors, row buffers. */
typedef struct shard_ctx {
    const softce__shard *sh;
    const softce__row_kernels *k;
    int f64, transform, kl;
    int64_t n; /* Cs */
    char *mem;
    void *x, *z, *p, *out, *out2; /* rows of n values of the compute type */
    void *w, *pr;                 /* class weights / prior slices, or NULL */
    double eps;
    double a0h, qt;      /* hard: q = qt [i = t] + a0h (+ eps prior_i) */
    double a1s, a0s;     /* soft: q = a1s p + a0s (+ eps prior_i) */
    double wsum, kl_prior; /* over the shard: sum w_i, sum w_i xlogx(eps prior_i) */
} shard_ctx;

static double val(const shard_ctx *cx, const void *row, int64_t i) {
    return cx->f64 ? ((const double *)row)[i] : (double)((const float *)row)[i];
}

static void add_val(const shard_ctx *cx, void *row, int64_t i, double v) {
    if (cx->f64)
        ((double *)row)[i] += v;
    else
        ((float *)row)[i] += (float)v;
}

static double xlogx(double v) { return v != 0.0 ? v * log(v) : 0.0; }

static double weight(const shard_ctx *cx, int64_t i) { return cx->w ? val(cx, cx->w, i) : 1.0; }

static char *elem_ptr(const shard_ctx *cx, const softce__eview *v, int64_t e) {
    return (char *)v->t->data +
           softce__shard_offset(cx->sh, v, e) * softce__dtype_size(v->t->dtype);
}

/* Row e of a logits-shaped operand into buf (compute type). */
static void *gather(const shard_ctx *cx, const softce__eview *v, int64_t e, void *buf) {
    softce__gather(v->t->dtype, elem_ptr(cx, v, e), v->cs, cx->n, cx->f64, buf);
    return buf;
}

static void scatter(const shard_ctx *cx, const softce__eview *v, int64_t e, const void *buf) {
    softce__scatter(v->t->dtype, elem_ptr(cx, v, e), v->cs, cx->n, cx->f64, buf);
}

static double elem_value(const shard_ctx *cx, const softce__eview *v, int64_t e, double dflt) {
    if (!v->t)
        return dflt;
    return softce__load(v->t->dtype, v->t->data, softce__shard_offset(cx->sh, v, e));
}

static int64_t target_class(const shard_ctx *cx, int64_t e) {
    const softce__eview *v = &cx->sh->tg;
    return softce__load_int(v->t->dtype, v->t->data, softce__shard_offset(cx->sh, v, e));
}

/* Smoothing constants for the GLOBAL class count C (docs/numerics.md, 1.1 options). */
static void smoothing_constants(shard_ctx *cx) {
    const softce_options *o = &cx->sh->o;
    const double C = (double)cx->sh->C, eps = o->label_smoothing;
    cx->eps = eps;
    if (o->smoothing == SOFTCE_SMOOTHING_OTHERS) {
        cx->a0h = cx->a0s = C > 1.0 ? eps / (C - 1.0) : 0.0;
        cx->qt = cx->a1s = C > 1.0 ? 1.0 - eps - cx->a0h : 1.0;
    } else {
        cx->a0h = cx->a0s = cx->pr ? 0.0 : eps / C;
        cx->qt = cx->a1s = 1.0 - eps;
    }
}

static softce_status ctx_init(shard_ctx *cx, const softce__shard *sh, int rows) {
    memset(cx, 0, sizeof *cx);
    cx->sh = sh;
    cx->f64 = sh->x.t->dtype == SOFTCE_DTYPE_F64;
    cx->k = cx->f64 ? softce__kernels_f64() : softce__kernels_f32();
    cx->transform = sh->o.logit_scale != 1.0 || sh->o.softcap != 0.0;
    cx->kl = (sh->o.flags & SOFTCE_FLAG_KL) != 0;
    cx->n = sh->Cs;
    size_t row, bytes;
    if (__builtin_mul_overflow((size_t)cx->n, (size_t)(cx->f64 ? 8 : 4), &row) ||
        __builtin_mul_overflow(row, (size_t)(rows + 2), &bytes) || !(cx->mem = malloc(bytes)))
        return softce__fail(SOFTCE_ERROR_OUT_OF_MEMORY, "cannot allocate %d rows of %lld classes",
                            rows + 2, (long long)cx->n);
    void **slots[7] = {&cx->w, &cx->pr, &cx->x, &cx->z, &cx->p, &cx->out, &cx->out2};
    for (int i = 0; i < rows + 2 && i < 7; i++)
        *slots[i] = cx->mem + (size_t)i * row;
    const softce_tensor *w = sh->w.t, *pr = sh->pr.t;
    if (w)
        softce__gather(w->dtype, w->data, sh->w.cs, cx->n, cx->f64, cx->w);
    else
        cx->w = NULL;
    if (pr)
        softce__gather(pr->dtype, pr->data, sh->pr.cs, cx->n, cx->f64, cx->pr);
    else
        cx->pr = NULL;
    smoothing_constants(cx);
    for (int64_t i = 0; i < cx->n; i++) {
        cx->wsum += weight(cx, i);
        if (cx->pr)
            cx->kl_prior += weight(cx, i) * xlogx(cx->eps * val(cx, cx->pr, i));
    }
    return SOFTCE_OK;
}

/* ---- statistics of one shard ------------------------------------------------------------- */

/* First index of the largest value (a NaN counts as largest). */
static void row_argmax(const shard_ctx *cx, const void *row, double *value, double *index) {
    int64_t best = 0;
    double m = val(cx, row, 0);
    for (int64_t i = 1; i < cx->n && m == m; i++) {
        double v = val(cx, row, i);
        if (v > m || v != v) {
            m = v;
            best = i;
        }
    }
    *value = m;
    *index = (double)(cx->sh->c0 + best);
}

/* max z (a NaN wins) and sum exp(z - max) (0 when every z is -inf). */
static void row_max_sumexp(const shard_ctx *cx, const void *z, double *st) {
    double m = val(cx, z, 0), s = 0.0;
    for (int64_t i = 1; i < cx->n && m == m; i++) {
        double v = val(cx, z, i);
        if (v > m || v != v)
            m = v;
    }
    if (m != -INFINITY)
        for (int64_t i = 0; i < cx->n; i++)
            s += exp(val(cx, z, i) - m);
    st[SOFTCE_SHARD_STAT_MAX] = m;
    st[SOFTCE_SHARD_STAT_SUM_EXP] = s;
}

/* Adds w q (m - z_i) (skipping w q == 0; nothing to shift when m is -inf). */
static void add_term(double *st, double wq, double m, double zi) {
    if (wq == 0.0)
        return;
    st[SOFTCE_SHARD_STAT_SUM_WQ] += wq;
    if (m != -INFINITY)
        st[SOFTCE_SHARD_STAT_SUM_WQ_DIFF] += wq * (m - zi);
}

static void hard_stats(const shard_ctx *cx, int64_t e, const void *z, double *st) {
    const int64_t t = target_class(cx, e);
    const double m = st[SOFTCE_SHARD_STAT_MAX];
    st[SOFTCE_SHARD_STAT_TARGET_MAX_INDEX] = -1.0;
    if (t == cx->sh->o.ignore_index)
        return;
    if (cx->a0h != 0.0 || (cx->pr && cx->eps != 0.0)) /* the smoothing part q0 */
        for (int64_t i = 0; i < cx->n; i++) {
            double q0 = cx->pr ? cx->eps * val(cx, cx->pr, i) : cx->a0h;
            add_term(st, weight(cx, i) * q0, m, val(cx, z, i));
        }
    if (cx->kl)
        st[SOFTCE_SHARD_STAT_SUM_WQ_LOGQ] = cx->pr ? cx->kl_prior : cx->wsum * xlogx(cx->a0h);
    const int64_t i = t - cx->sh->c0;
    if (i < 0 || i >= cx->n)
        return;
    const double wt = weight(cx, i), zt = val(cx, z, i);
    add_term(st, cx->qt * wt, m, zt); /* the spike (1 - eps) w_t at the target */
    if (cx->kl) {
        double q0t = cx->pr ? cx->eps * val(cx, cx->pr, i) : cx->a0h;
        st[SOFTCE_SHARD_STAT_SUM_WQ_LOGQ] += wt * (xlogx(q0t + cx->qt) - xlogx(q0t));
    }
    st[SOFTCE_SHARD_STAT_TARGET_WEIGHT] = wt;
    st[SOFTCE_SHARD_STAT_TARGET_Z] = zt;
    st[SOFTCE_SHARD_STAT_TARGET_OWNED] = 1.0;
}

static void soft_stats(const shard_ctx *cx, int64_t e, const void *z, double *st) {
    const void *p = gather(cx, &cx->sh->tg, e, cx->p);
    const double m = st[SOFTCE_SHARD_STAT_MAX];
    for (int64_t i = 0; i < cx->n; i++) {
        double q = cx->a1s * val(cx, p, i) + cx->a0s;
        if (cx->pr)
            q += cx->eps * val(cx, cx->pr, i);
        add_term(st, weight(cx, i) * q, m, val(cx, z, i));
        if (cx->kl)
            st[SOFTCE_SHARD_STAT_SUM_WQ_LOGQ] += weight(cx, i) * xlogx(q);
    }
    row_argmax(cx, p, &st[SOFTCE_SHARD_STAT_TARGET_MAX_VALUE],
               &st[SOFTCE_SHARD_STAT_TARGET_MAX_INDEX]);
}

/* The transformed row z of element e (x staged into cx->x first). */
static const void *logits_row(const shard_ctx *cx, int64_t e) {
    const void *x = gather(cx, &cx->sh->x, e, cx->x);
    if (!cx->transform)
        return x;
    cx->k->transform(x, cx->n, cx->sh->o.logit_scale, cx->sh->o.softcap, cx->z);
    return cx->z;
}

static void element_stats(const shard_ctx *cx, int64_t e, double *st) {
    memset(st, 0, sizeof(double) * SOFTCE_SHARD_STATS);
    const void *z = logits_row(cx, e);
    row_argmax(cx, cx->x, &st[SOFTCE_SHARD_STAT_ARGMAX_VALUE], &st[SOFTCE_SHARD_STAT_ARGMAX_INDEX]);
    row_max_sumexp(cx, z, st);
    if (cx->sh->soft)
        soft_stats(cx, e, z, st);
    else
        hard_stats(cx, e, z, st);
    st[SOFTCE_SHARD_STAT_CLASSES] = (double)cx->n;
    st[SOFTCE_SHARD_STAT_NUM_CLASSES] = (double)cx->sh->C;
    st[SOFTCE_SHARD_STAT_KIND] = cx->sh->soft ? SOFTCE__SHARD_SOFT : SOFTCE__SHARD_HARD;
}

static void store_stats(const softce__shard *sh, const softce__eview *v, int64_t e,
                        const double *st) {
    double *p = (double *)v->t->data + softce__shard_offset(sh, v, e);
    for (int k = 0; k < SOFTCE_SHARD_STATS; k++)
        p[k * v->cs] = st[k];
}

static void load_stats(const softce__shard *sh, const softce__eview *v, int64_t e, double *st) {
    const double *p = (const double *)v->t->data + softce__shard_offset(sh, v, e);
    for (int k = 0; k < SOFTCE_SHARD_STATS; k++)
        st[k] = p[k * v->cs];
}

softce_status softce_shard_stats(const softce_options *opts, const softce_tensor *logits_shard,
                                 const softce_tensor *target, int64_t class_offset,
                                 int64_t num_classes, const softce_tensor *stats) {
    softce__clear_error();
    softce__shard sh;
    shard_ctx cx;
    softce_status rc = softce__shard_check_stats(opts, logits_shard, target, class_offset,
                                                 num_classes, stats, &sh);
    if (rc == SOFTCE_OK)
        rc = softce__shard_check_targets(&sh);
    if (rc != SOFTCE_OK || sh.E == 0)
        return rc;
    if ((rc = ctx_init(&cx, &sh, 3)) == SOFTCE_OK) {
        double st[SOFTCE_SHARD_STATS];
        for (int64_t e = 0; e < sh.E; e++) {
            element_stats(&cx, e, st);
            store_stats(&sh, &sh.st, e, st);
        }
    }
    free(cx.mem);
    return rc;
}

/* ---- combine ------------------------------------------------------------------------------ */

/* (value, index) with the larger value (a NaN counts as largest), ties to the smaller index;
   index < 0 means "none". Symmetric in a and b. */
static void pick_max(const double *a, const double *b, double *out, int kv, int ki) {
    int take_b;
    double va = a[kv], vb = b[kv], ia = a[ki], ib = b[ki];
    if (ia < 0.0 || ib < 0.0)
        take_b = ia < 0.0;
    else if ((va != va) != (vb != vb))
        take_b = vb != vb;
    else if (va == va && va != vb)
        take_b = vb > va;
    else
        take_b = ib < ia;
    out[kv] = take_b ? vb : va;
    out[ki] = take_b ? ib : ia;
}

/* Rescale factor and shift of one side to the common max M. */
static double rescale(double m, double M) { return m == M ? 1.0 : exp(m - M); }
static double shift(double S, double m, double M) { return S == 0.0 || m == M ? 0.0 : S * (M - m); }

static void combine_element(const double *a, const double *b, double *o) {
    const double ma = a[SOFTCE_SHARD_STAT_MAX], mb = b[SOFTCE_SHARD_STAT_MAX];
    const double M = ma != ma || mb != mb ? NAN : ma > mb ? ma : mb;
    const double Sa = a[SOFTCE_SHARD_STAT_SUM_WQ], Sb = b[SOFTCE_SHARD_STAT_SUM_WQ];
    o[SOFTCE_SHARD_STAT_MAX] = M;
    o[SOFTCE_SHARD_STAT_SUM_EXP] = a[SOFTCE_SHARD_STAT_SUM_EXP] * rescale(ma, M) +
                                   b[SOFTCE_SHARD_STAT_SUM_EXP] * rescale(mb, M);
    o[SOFTCE_SHARD_STAT_SUM_WQ] = Sa + Sb;
    o[SOFTCE_SHARD_STAT_SUM_WQ_DIFF] = (a[SOFTCE_SHARD_STAT_SUM_WQ_DIFF] + shift(Sa, ma, M)) +
                                       (b[SOFTCE_SHARD_STAT_SUM_WQ_DIFF] + shift(Sb, mb, M));
    static const int sums[] = {SOFTCE_SHARD_STAT_SUM_WQ_LOGQ, SOFTCE_SHARD_STAT_TARGET_WEIGHT,
                               SOFTCE_SHARD_STAT_TARGET_Z, SOFTCE_SHARD_STAT_TARGET_OWNED,
                               SOFTCE_SHARD_STAT_CLASSES};
    for (size_t i = 0; i < sizeof sums / sizeof sums[0]; i++)
        o[sums[i]] = a[sums[i]] + b[sums[i]];
    pick_max(a, b, o, SOFTCE_SHARD_STAT_ARGMAX_VALUE, SOFTCE_SHARD_STAT_ARGMAX_INDEX);
    pick_max(a, b, o, SOFTCE_SHARD_STAT_TARGET_MAX_VALUE, SOFTCE_SHARD_STAT_TARGET_MAX_INDEX);
    o[SOFTCE_SHARD_STAT_NUM_CLASSES] = a[SOFTCE_SHARD_STAT_NUM_CLASSES];
    o[SOFTCE_SHARD_STAT_KIND] = a[SOFTCE_SHARD_STAT_KIND];
    o[SOFTCE_SHARD_STAT_RESERVED] = 0.0;
}

softce_status softce_shard_combine(const softce_tensor *a, const softce_tensor *b,
                                   const softce_tensor *out) {
    softce__clear_error();
    softce__shard sh;
    softce__eview va, vb;
    softce_status rc = softce__shard_check_combine(a, b, out, &sh, &va, &vb);
    if (rc != SOFTCE_OK)
        return rc;
    double sa[SOFTCE_SHARD_STATS], sb[SOFTCE_SHARD_STATS], so[SOFTCE_SHARD_STATS];
    for (int64_t e = 0; e < sh.E; e++) {
        load_stats(&sh, &va, e, sa);
        load_stats(&sh, &vb, e, sb);
        combine_element(sa, sb, so);
        store_stats(&sh, &sh.st, e, so);
    }
    return SOFTCE_OK;
}

/* ---- finalize ----------------------------------------------------------------------------- */

/* An element's loss from combined statistics; *skipped for ignored / masked elements. */
static double element_loss(const softce__shard *sh, const double *st, double s, int skipped,
                           double *zterm) {
    const double lo = log(st[SOFTCE_SHARD_STAT_SUM_EXP]);
    const double lse = st[SOFTCE_SHARD_STAT_MAX] + lo, zl = sh->o.z_loss;
    *zterm = 0.0;
    if (skipped)
        return 0.0;
    const double S = st[SOFTCE_SHARD_STAT_SUM_WQ], U = st[SOFTCE_SHARD_STAT_SUM_WQ_DIFF];
    double ce = S != 0.0 ? S * lo + U : U; /* -sum w q (z - lse), no cancellation */
    if (st[SOFTCE_SHARD_STAT_SUM_EXP] == 0.0)
        ce = NAN; /* every logit -inf */
    if (sh->o.flags & SOFTCE_FLAG_KL)
        ce += st[SOFTCE_SHARD_STAT_SUM_WQ_LOGQ];
    *zterm = zl != 0.0 ? zl * lse * lse * s : 0.0;
    return ce * s + *zterm;
}

static void store_elem(const softce__shard *sh, const softce__eview *v, int64_t e, double x) {
    if (v->t)
        softce__store(v->t->dtype, v->t->data, softce__shard_offset(sh, v, e), x);
}

static void store_elem_int(const softce__shard *sh, const softce__eview *v, int64_t e,
                           int64_t x) {
    if (v->t)
        softce__store_int(v->t->dtype, v->t->data, softce__shard_offset(sh, v, e), x);
}

softce_status softce_shard_finalize(const softce_options *opts, const softce_tensor *target,
                                    const softce_tensor *stats, const softce_tensor *loss,
                                    const softce_tensor *lse) {
    softce__clear_error();
    softce__shard sh;
    double D = 0.0, total = 0.0, st[SOFTCE_SHARD_STATS];
    softce_status rc = softce__shard_check_finalize(opts, target, stats, loss, lse, &sh);
    if (rc == SOFTCE_OK)
        rc = softce__shard_check_combined(&sh, &D);
    if (rc != SOFTCE_OK)
        return rc;
    const int none = sh.o.reduction == SOFTCE_REDUCTION_NONE;
    for (int64_t e = 0; e < sh.E; e++) {
        load_stats(&sh, &sh.st, e, st);
        double s = 1.0, zterm;
        if (sh.sw.t)
            s = softce__load(sh.sw.t->dtype, sh.sw.t->data, softce__shard_offset(&sh, &sh.sw, e));
        int64_t t = -1;
        int skipped = s == 0.0;
        if (!sh.soft) {
            const softce_tensor *tt = sh.tg.t;
            t = softce__load_int(tt->dtype, tt->data, softce__shard_offset(&sh, &sh.tg, e));
            skipped |= t == sh.o.ignore_index;
        }
        const double l = element_loss(&sh, st, s, skipped, &zterm);
        const double amax = st[SOFTCE_SHARD_STAT_ARGMAX_INDEX];
        const double want = sh.soft ? st[SOFTCE_SHARD_STAT_TARGET_MAX_INDEX] : (double)t;
        if (none)
            store_elem(&sh, &sh.loss, e, l);
        total += l;
        store_elem(&sh, &sh.lse, e,
                   st[SOFTCE_SHARD_STAT_MAX] + log(st[SOFTCE_SHARD_STAT_SUM_EXP]));
        store_elem_int(&sh, &sh.amax, e, (int64_t)amax);
        store_elem_int(&sh, &sh.corr, e, !skipped && amax == want);
        store_elem(&sh, &sh.zl, e, zterm);
    }
    if (!none) {
        if (sh.o.reduction == SOFTCE_REDUCTION_MEAN) /* a mean over nothing: options.empty */
            total = D != 0.0 ? total / D : sh.o.empty == SOFTCE_EMPTY_ZERO ? 0.0 : NAN;
        softce__store(loss->dtype, loss->data, 0, total);
    }
    return SOFTCE_OK;
}

/* ---- backward ----------------------------------------------------------------------------- */

static void zero_row(const shard_ctx *cx, const softce__eview *v, int64_t e) {
    if (!v->t)
        return;
    memset(cx->out, 0, (size_t)cx->n * (cx->f64 ? 8u : 4u));
    scatter(cx, v, e, cx->out);
}

/* KL's part of the gradient w.r.t. a soft target: out_i += c w_i (log q_i + 1) where q_i > 0. */
static void kl_grad_target(const shard_ctx *cx, const void *q, double a1, double a0, double c,
                           void *out) {
    for (int64_t i = 0; i < cx->n; i++) {
        double qi = a1 * val(cx, q, i) + a0;
        if (qi > 0.0)
            add_val(cx, out, i, c * weight(cx, i) * (log(qi) + 1.0));
    }
}

static void soft_backward(const shard_ctx *cx, int64_t e, const void *z, softce__lse lse,
                          double g, double coef) {
    const softce__shard *sh = cx->sh;
    const void *q = gather(cx, &sh->tg, e, cx->p);
    double a1 = cx->a1s, a0 = cx->a0s;
    const double dq = cx->a1s; /* d q_i / d p_i */
    if (cx->pr) { /* q = (1 - eps) p + eps prior, staged as in the unsharded rows */
        for (int64_t i = 0; i < cx->n; i++) {
            double v = dq * val(cx, q, i) + cx->eps * val(cx, cx->pr, i);
            if (cx->f64)
                ((double *)cx->p)[i] = v;
            else
                ((float *)cx->p)[i] = (float)v;
        }
        a1 = 1.0, a0 = 0.0;
    }
    if (sh->gt.t) {
        cx->k->grad_target(z, cx->w, cx->n, lse, g * dq, cx->out2);
        if (cx->kl)
            kl_grad_target(cx, q, a1, a0, g * dq, cx->out2);
        scatter(cx, &sh->gt, e, cx->out2);
    }
    if (sh->gx.t)
        cx->k->grad(z, q, cx->w, cx->n, lse, g * coef, g * a1, g * a0, cx->out);
}

static void hard_backward(const shard_ctx *cx, int64_t t, const void *z, softce__lse lse,
                          double g, double coef) {
    const void *prior = cx->pr && cx->eps != 0.0 ? cx->pr : NULL;
    const double a1 = prior ? cx->eps : 0.0, a0 = prior ? 0.0 : cx->a0h;
    const void *w = a0 != 0.0 || prior ? cx->w : NULL; /* only w_t without smoothing */
    cx->k->grad(z, prior, w, cx->n, lse, g * coef, g * a1, g * a0, cx->out);
    const int64_t i = t - cx->sh->c0;
    if (i >= 0 && i < cx->n)
        add_val(cx, cx->out, i, -g * cx->qt * weight(cx, i));
}

static void element_backward(const shard_ctx *cx, int64_t e, double inv_d) {
    const softce__shard *sh = cx->sh;
    double st[SOFTCE_SHARD_STATS];
    const double s = elem_value(cx, &sh->sw, e, 1.0);
    const int64_t t = sh->soft ? -1 : target_class(cx, e);
    if (s == 0.0 || (!sh->soft && t == sh->o.ignore_index)) {
        zero_row(cx, &sh->gx, e);
        zero_row(cx, &sh->gt, e);
        return;
    }
    load_stats(sh, &sh->st, e, st);
    const double g = elem_value(cx, &sh->gl, e, 1.0) * inv_d * s;
    softce__lse lse = {st[SOFTCE_SHARD_STAT_MAX], log(st[SOFTCE_SHARD_STAT_SUM_EXP])};
    double coef = st[SOFTCE_SHARD_STAT_SUM_WQ];
    if (sh->o.z_loss != 0.0)
        coef += 2.0 * sh->o.z_loss * softce__lse_value(lse);
    const void *z = logits_row(cx, e);
    if (sh->soft)
        soft_backward(cx, e, z, lse, g, coef);
    else if (sh->gx.t)
        hard_backward(cx, t, z, lse, g, coef);
    if (!sh->gx.t)
        return;
    if (cx->transform)
        cx->k->chain(cx->out, z, cx->n, sh->o.logit_scale, sh->o.softcap);
    scatter(cx, &sh->gx, e, cx->out);
}

softce_status softce_shard_backward(const softce_options *opts,
                                    const softce_tensor *logits_shard,
                                    const softce_tensor *target, int64_t class_offset,
                                    int64_t num_classes, const softce_tensor *stats,
                                    const softce_tensor *grad_loss,
                                    const softce_tensor *grad_logits_shard,
                                    const softce_tensor *grad_target_shard) {
    softce__clear_error();
    softce__shard sh;
    shard_ctx cx;
    double D = 0.0;
    softce_status rc = softce__shard_check_backward(opts, logits_shard, target, class_offset,
                                                    num_classes, stats, grad_loss,
                                                    grad_logits_shard, grad_target_shard, &sh);
    if (rc == SOFTCE_OK)
        rc = softce__shard_check_combined(&sh, &D);
    if (rc != SOFTCE_OK || sh.E == 0)
        return rc;
    const double inv_d = sh.o.reduction != SOFTCE_REDUCTION_MEAN ? 1.0
                         : D == 0.0 && sh.o.empty == SOFTCE_EMPTY_ZERO ? 0.0
                                                                        : 1.0 / D;
    if ((rc = ctx_init(&cx, &sh, 5)) == SOFTCE_OK)
        for (int64_t e = 0; e < sh.E; e++)
            element_backward(&cx, e, inv_d);
    free(cx.mem);
    return rc;
}
