/*
 * Validation of the softce_shard_* calls, before anything is written. The options and the
 * operands the unsharded calls also have (logits, target, weight, prior, sample weights,
 * grad_loss, gradients) go through softce__validate(), so they get the same checks and
 * messages; the statistics tensors and the finalize outputs are checked here.
 */
#include "shard.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

/* ---- descriptors ----------------------------------------------------------------------- */

/* Structure, dtype, sizes, strides and overflow of a descriptor (validate.c's checks);
 *span = one past the largest element offset (0 for an empty tensor). */
static softce_status check_desc(const softce_tensor *t, const char *name, int64_t *span) {
    int64_t numel;
    return softce__check_descriptor(t, name, &numel, span);
}

/* One past the largest element offset of an already checked descriptor (0: nothing). */
static int64_t span_of(const softce_tensor *t) {
    int64_t last = 0;
    for (int k = 0; k < t->ndim; k++) {
        if (t->shape[k] == 0)
            return 0;
        last += (t->shape[k] - 1) * t->strides[k];
    }
    return last + 1;
}

/* Byte ranges of two checked descriptors intersect. */
static int intersect(const softce_tensor *a, const softce_tensor *b) {
    int64_t sa = span_of(a), sb = span_of(b);
    if (sa == 0 || sb == 0)
        return 0;
    uintptr_t a0 = (uintptr_t)a->data, b0 = (uintptr_t)b->data;
    uintptr_t a1 = a0 + (uintptr_t)sa * (uintptr_t)softce__dtype_size(a->dtype);
    uintptr_t b1 = b0 + (uintptr_t)sb * (uintptr_t)softce__dtype_size(b->dtype);
    return a0 < b1 && b0 < a1;
}

/* The output `o` overlaps none of the n operands (NULL entries skipped). */
static softce_status check_apart(const softce_tensor *o, const char *oname,
                                 const softce_tensor *const *others, const char *const *names,
                                 int n) {
    for (int i = 0; i < n; i++)
        if (others[i] && others[i] != o && intersect(o, others[i]))
            return softce__fail(SOFTCE_ERROR_OVERLAP, "%s overlaps %s in memory", oname, names[i]);
    return SOFTCE_OK;
}

/* ---- element views --------------------------------------------------------------------- */

static void view_logits(softce__eview *v, const softce_tensor *t) {
    memset(v, 0, sizeof *v);
    if (!(v->t = t))
        return;
    int cax = t->ndim == 1 ? 0 : 1, n = 0;
    for (int k = 0; k < t->ndim; k++)
        if (k != cax)
            v->es[n++] = t->strides[k];
    v->cs = t->strides[cax];
}

/* Element-shaped (ndim == en), statistics (ndim == en + 1), 0-d (reduced) or (C) vectors. */
static void view_elem(softce__eview *v, const softce_tensor *t, int en) {
    memset(v, 0, sizeof *v);
    if (!(v->t = t))
        return;
    if (t->ndim >= en)
        for (int k = 0; k < en; k++)
            v->es[k] = t->strides[k];
    if (t->ndim == en + 1)
        v->cs = t->strides[en];
    else if (en == 0 && t->ndim == 1)
        v->cs = t->strides[0];
}

int64_t softce__shard_offset(const softce__shard *sh, const softce__eview *v, int64_t e) {
    int64_t off = 0;
    for (int d = sh->en - 1; d >= 0; d--) {
        off += e % sh->eshape[d] * v->es[d];
        e /= sh->eshape[d];
    }
    return off;
}

/* ---- options ----------------------------------------------------------------------------- */

static void no_extra_outputs(softce_options *o) {
    o->out_lse = o->out_argmax = o->out_correct = o->out_z_loss = NULL;
}

/* Scalar options only (the library's own checks), on a one-element problem that is never
   run: the tensors of the call are checked by the caller. */
static softce_status check_scalar_options(const softce_options *o) {
    static const double one_logit = 0.0;
    static const int64_t class0 = 0;
    double dummy = 0.0;
    softce_options so = *o;
    so.weight = so.sample_weight = so.smoothing_prior = NULL;
    no_extra_outputs(&so);
    int64_t c1 = 1;
    softce_tensor lg, tg, loss;
    softce_tensor_init(&lg, SOFTCE_DTYPE_F64, 1, &c1, (void *)&one_logit);
    softce_tensor_init(&tg, SOFTCE_DTYPE_I64, 0, NULL, (void *)&class0);
    softce_tensor_init(&loss, SOFTCE_DTYPE_F64, 0, NULL, &dummy);
    const softce_tensor *s[SOFTCE__NUM_SLOTS] = {0};
    s[SOFTCE__LOGITS] = &lg;
    s[SOFTCE__TARGET] = &tg;
    s[SOFTCE__LOSS] = &loss;
    softce__plan plan;
    return softce__validate(SOFTCE__OP_FORWARD, &so, s, &plan);
}

/* ---- the shard's position and the statistics tensor -------------------------------------- */

static softce_status check_range(int64_t c0, int64_t C, int64_t Cs) {
    if (C < 1)
        return softce__fail(SOFTCE_ERROR_SHAPE, "num_classes = %lld, expected >= 1", (long long)C);
    if (c0 < 0 || c0 > C - Cs)
        return softce__fail(SOFTCE_ERROR_SHAPE,
                            "class_offset = %lld: the shard's %lld classes do not fit in "
                            "[0, num_classes = %lld)",
                            (long long)c0, (long long)Cs, (long long)C);
    return SOFTCE_OK;
}

/* A stats tensor: f64, eshape + (SOFTCE_SHARD_STATS). en < 0: take the element shape from
   the tensor (into sh). */
static softce_status check_stats_tensor(const softce_tensor *st, const char *name,
                                        softce__shard *sh, int take_shape) {
    int64_t span;
    softce_status rc = check_desc(st, name, &span);
    if (rc != SOFTCE_OK)
        return rc;
    if (st->dtype != SOFTCE_DTYPE_F64)
        return softce__fail(SOFTCE_ERROR_DTYPE, "%s: dtype %s, expected f64", name,
                            softce__dtype_name(st->dtype));
    if (take_shape) {
        if (st->ndim < 1)
            return softce__fail(SOFTCE_ERROR_NDIM,
                                "%s: ndim = 0, expected the element shape + (%d)", name,
                                SOFTCE_SHARD_STATS);
        sh->en = st->ndim - 1;
        sh->E = 1;
        for (int k = 0; k < sh->en; k++) {
            sh->eshape[k] = st->shape[k];
            sh->E *= st->shape[k];
        }
    }
    int64_t shape[SOFTCE_MAX_DIMS];
    memcpy(shape, sh->eshape, sizeof(int64_t) * (size_t)sh->en);
    shape[sh->en] = SOFTCE_SHARD_STATS;
    return softce__check_shape(st, name, sh->en + 1, shape, "element shape + (SOFTCE_SHARD_STATS)");
}

/* Element shape of the logits (validated by softce__validate) into sh. */
static void take_logits_shape(softce__shard *sh, const softce_tensor *lg) {
    int cax = lg->ndim == 1 ? 0 : 1;
    sh->en = 0;
    sh->E = 1;
    for (int k = 0; k < lg->ndim; k++)
        if (k != cax) {
            sh->eshape[sh->en++] = lg->shape[k];
            sh->E *= lg->shape[k];
        }
    sh->Cs = lg->shape[cax];
}

/* After softce__validate(): the shard's kind, shape and class range, and its stats tensor. */
static softce_status take_shard(softce__shard *sh, const softce__plan *plan,
                                const softce_tensor *logits, int64_t class_offset,
                                int64_t num_classes, const softce_tensor *stats) {
    softce_status rc;
    sh->soft = plan->soft;
    take_logits_shape(sh, logits);
    if ((rc = check_range(class_offset, num_classes, sh->Cs)) != SOFTCE_OK)
        return rc;
    sh->C = num_classes;
    sh->c0 = class_offset;
    return check_stats_tensor(stats, "stats", sh, 0);
}

static void view_inputs(softce__shard *sh, const softce_tensor *logits,
                        const softce_tensor *target) {
    view_logits(&sh->x, logits);
    if (sh->soft)
        view_logits(&sh->tg, target);
    else
        view_elem(&sh->tg, target, sh->en);
    view_elem(&sh->sw, sh->o.sample_weight, sh->en);
    view_elem(&sh->w, sh->o.weight, 0);
    view_elem(&sh->pr, sh->o.smoothing_prior, 0);
}

softce_status softce__shard_check_stats(const softce_options *opts, const softce_tensor *logits,
                                        const softce_tensor *target, int64_t class_offset,
                                        int64_t num_classes, const softce_tensor *stats,
                                        softce__shard *sh) {
    memset(sh, 0, sizeof *sh);
    if (!logits || !target || !stats)
        return softce__fail(SOFTCE_ERROR_NULL_POINTER, "%s is NULL",
                            !logits   ? "logits_shard"
                            : !target ? "target"
                                      : "stats");
    softce_status rc = softce__read_options(opts, &sh->o);
    if (rc != SOFTCE_OK)
        return rc;
    softce_options o = sh->o;
    no_extra_outputs(&o);
    if (o.reduction >= SOFTCE_REDUCTION_MEAN && o.reduction <= SOFTCE_REDUCTION_NONE)
        o.reduction = SOFTCE_REDUCTION_SUM; /* the stats have no loss: a 0-d stand-in */
    double dummy = 0.0;
    softce_tensor loss;
    softce_tensor_init(&loss, SOFTCE_DTYPE_F64, 0, NULL, &dummy);
    const softce_tensor *s[SOFTCE__NUM_SLOTS] = {0};
    s[SOFTCE__LOGITS] = logits;
    s[SOFTCE__TARGET] = target;
    s[SOFTCE__LOSS] = &loss;
    softce__plan plan;
    if ((rc = softce__validate(SOFTCE__OP_FORWARD, &o, s, &plan)) != SOFTCE_OK)
        return rc;
    if ((rc = take_shard(sh, &plan, logits, class_offset, num_classes, stats)) != SOFTCE_OK)
        return rc;
    if (sh->E > 0 && (rc = softce__check_no_self_overlap(stats, "stats")) != SOFTCE_OK)
        return rc;
    const softce_tensor *in[5] = {logits, target, o.weight, o.smoothing_prior, o.sample_weight};
    const char *const names[5] = {"logits_shard", "target", "weight", "smoothing_prior",
                                  "sample_weight"};
    if ((rc = check_apart(stats, "stats", in, names, 5)) != SOFTCE_OK)
        return rc;
    view_inputs(sh, logits, target);
    view_elem(&sh->st, stats, sh->en);
    return SOFTCE_OK;
}

softce_status softce__shard_check_backward(const softce_options *opts, const softce_tensor *logits,
                                           const softce_tensor *target, int64_t class_offset,
                                           int64_t num_classes, const softce_tensor *stats,
                                           const softce_tensor *grad_loss,
                                           const softce_tensor *grad_logits,
                                           const softce_tensor *grad_target, softce__shard *sh) {
    memset(sh, 0, sizeof *sh);
    if (!logits || !target || !stats)
        return softce__fail(SOFTCE_ERROR_NULL_POINTER, "%s is NULL",
                            !logits   ? "logits_shard"
                            : !target ? "target"
                                      : "stats");
    if (!grad_logits && !grad_target)
        return softce__fail(SOFTCE_ERROR_NULL_POINTER,
                            "grad_logits_shard and "
                            "grad_target_shard are both NULL: nothing to compute");
    softce_status rc = softce__read_options(opts, &sh->o);
    if (rc != SOFTCE_OK)
        return rc;
    softce_options o = sh->o;
    no_extra_outputs(&o); /* finalize writes them */
    const softce_tensor *s[SOFTCE__NUM_SLOTS] = {0};
    s[SOFTCE__LOGITS] = logits;
    s[SOFTCE__TARGET] = target;
    s[SOFTCE__GRAD_LOSS] = grad_loss;
    s[SOFTCE__GRAD_LOGITS] = grad_logits;
    s[SOFTCE__GRAD_TARGET] = grad_target;
    softce__plan plan;
    if ((rc = softce__validate(SOFTCE__OP_BACKWARD, &o, s, &plan)) != SOFTCE_OK)
        return rc;
    if ((rc = take_shard(sh, &plan, logits, class_offset, num_classes, stats)) != SOFTCE_OK)
        return rc;
    const softce_tensor *in[1] = {stats};
    const char *const names[1] = {"stats"};
    if ((grad_logits && (rc = check_apart(grad_logits, "grad_logits_shard", in, names, 1))) ||
        (grad_target && (rc = check_apart(grad_target, "grad_target_shard", in, names, 1))))
        return rc;
    view_inputs(sh, logits, target);
    view_elem(&sh->st, stats, sh->en);
    view_elem(&sh->gl, grad_loss, sh->en);
    view_logits(&sh->gx, grad_logits);
    view_logits(&sh->gt, grad_target);
    return SOFTCE_OK;
}

softce_status softce__shard_check_combine(const softce_tensor *a, const softce_tensor *b,
                                          const softce_tensor *out, softce__shard *sh,
                                          softce__eview *va, softce__eview *vb) {
    memset(sh, 0, sizeof *sh);
    if (!a || !b || !out)
        return softce__fail(SOFTCE_ERROR_NULL_POINTER, "%s is NULL", !a ? "a" : !b ? "b" : "out");
    softce_status rc;
    if ((rc = check_stats_tensor(a, "a", sh, 1)) != SOFTCE_OK ||
        (rc = check_stats_tensor(b, "b", sh, 0)) != SOFTCE_OK ||
        (rc = check_stats_tensor(out, "out", sh, 0)) != SOFTCE_OK)
        return rc;
    if (sh->E > 0 && (rc = softce__check_no_self_overlap(out, "out")) != SOFTCE_OK)
        return rc;
    /* out may be exactly a or b: each element is read before it is written */
    if ((!softce__same_view(out, a) && intersect(out, a)) ||
        (!softce__same_view(out, b) && intersect(out, b)))
        return softce__fail(SOFTCE_ERROR_OVERLAP,
                            "out overlaps %s in memory (in place needs the same data and strides)",
                            !softce__same_view(out, a) && intersect(out, a) ? "a" : "b");
    view_elem(va, a, sh->en);
    view_elem(vb, b, sh->en);
    view_elem(&sh->st, out, sh->en);
    for (int64_t e = 0; e < sh->E; e++) {
        const double *pa = (const double *)a->data + softce__shard_offset(sh, va, e);
        const double *pb = (const double *)b->data + softce__shard_offset(sh, vb, e);
        double ca = pa[SOFTCE_SHARD_STAT_NUM_CLASSES * va->cs];
        double cb = pb[SOFTCE_SHARD_STAT_NUM_CLASSES * vb->cs];
        double ka = pa[SOFTCE_SHARD_STAT_KIND * va->cs], kb = pb[SOFTCE_SHARD_STAT_KIND * vb->cs];
        if (ca != cb)
            return softce__fail(SOFTCE_ERROR_SHAPE,
                                "element %lld: a has num_classes = %g, b has %g", (long long)e, ca,
                                cb);
        if (ka != kb)
            return softce__fail(SOFTCE_ERROR_DTYPE,
                                "element %lld: a and b were computed for different target kinds "
                                "(%g vs %g: 1 = class indices, 2 = probabilities)",
                                (long long)e, ka, kb);
    }
    return SOFTCE_OK;
}

/* Element-shaped float (or any dtype / I32-I64) output or input, against sh->eshape. */
static softce_status check_elem(const softce_tensor *t, const char *name, const softce__shard *sh,
                                int kind, int reduced) {
    int64_t span;
    softce_status rc = check_desc(t, name, &span);
    if (rc != SOFTCE_OK)
        return rc;
    if (kind == 1 && !softce__dtype_is_float(t->dtype))
        return softce__fail(SOFTCE_ERROR_DTYPE, "%s: dtype %s is not a float type", name,
                            softce__dtype_name(t->dtype));
    if (kind == 2 && t->dtype != SOFTCE_DTYPE_I32 && t->dtype != SOFTCE_DTYPE_I64)
        return softce__fail(SOFTCE_ERROR_DTYPE, "%s: dtype %s is not i32 or i64", name,
                            softce__dtype_name(t->dtype));
    return reduced ? softce__check_shape(t, name, 0, sh->eshape, "0-d for mean/sum")
                   : softce__check_shape(t, name, sh->en, sh->eshape, "per element");
}

/* The target of finalize: class indices (element shape) or a soft slice (element shape with
   a class axis of any size). */
static softce_status check_final_target(const softce_tensor *tg, softce__shard *sh) {
    int64_t span;
    softce_status rc = check_desc(tg, "target", &span);
    if (rc != SOFTCE_OK)
        return rc;
    sh->soft = softce__dtype_is_float(tg->dtype);
    if (!sh->soft && !softce__dtype_is_int(tg->dtype))
        return softce__fail(SOFTCE_ERROR_DTYPE,
                            "target: dtype %s is neither i32/i64 (class "
                            "indices) nor a float type (probabilities)",
                            softce__dtype_name(tg->dtype));
    if (!sh->soft)
        return softce__check_shape(tg, "target", sh->en, sh->eshape,
                                   "class indices = element shape");
    int64_t shape[SOFTCE_MAX_DIMS];
    int cax = sh->en == 0 ? 0 : 1, n = 0;
    if (tg->ndim != sh->en + 1)
        return softce__fail(SOFTCE_ERROR_SHAPE,
                            "target: ndim = %d, expected %d (soft target "
                            "slice = element shape with a class axis)",
                            (int)tg->ndim, sh->en + 1);
    for (int k = 0; k <= sh->en; k++)
        shape[k] = k == cax ? tg->shape[cax] : sh->eshape[n++];
    return softce__check_shape(tg, "target", sh->en + 1, shape, "soft target slice");
}

softce_status softce__shard_check_finalize(const softce_options *opts, const softce_tensor *target,
                                           const softce_tensor *stats, const softce_tensor *loss,
                                           const softce_tensor *lse, softce__shard *sh) {
    memset(sh, 0, sizeof *sh);
    if (!target || !stats || !loss)
        return softce__fail(SOFTCE_ERROR_NULL_POINTER, "%s is NULL",
                            !target  ? "target"
                            : !stats ? "stats"
                                     : "loss");
    softce_status rc = softce__read_options(opts, &sh->o);
    if (rc != SOFTCE_OK || (rc = check_scalar_options(&sh->o)) != SOFTCE_OK)
        return rc;
    const softce_options *o = &sh->o;
    if (o->out_lse && lse)
        return softce__fail(SOFTCE_ERROR_OPTION,
                            "options: out_lse and the lse argument are both given");
    if ((rc = check_stats_tensor(stats, "stats", sh, 1)) != SOFTCE_OK ||
        (rc = check_final_target(target, sh)) != SOFTCE_OK)
        return rc;
    if (o->sample_weight && (rc = check_elem(o->sample_weight, "sample_weight", sh, 1, 0)))
        return rc;
    const int reduced = o->reduction != SOFTCE_REDUCTION_NONE;
    const softce_tensor *outs[5] = {loss, lse ? lse : o->out_lse, o->out_argmax, o->out_correct,
                                    o->out_z_loss};
    const char *const onames[5] = {"loss", lse ? "lse" : "out_lse", "out_argmax", "out_correct",
                                   "out_z_loss"};
    static const int kinds[5] = {1, 1, 2, 0, 1};
    const softce_tensor *all[8] = {stats, target, o->sample_weight};
    const char *anames[8] = {"stats", "target", "sample_weight"};
    for (int i = 0; i < 5; i++) {
        if (!outs[i])
            continue;
        if ((rc = check_elem(outs[i], onames[i], sh, kinds[i], i == 0 && reduced)) ||
            (sh->E > 0 && (rc = softce__check_no_self_overlap(outs[i], onames[i]))) ||
            (rc = check_apart(outs[i], onames[i], all, anames, 3 + i)))
            return rc;
        all[3 + i] = outs[i];
        anames[3 + i] = onames[i];
    }
    view_elem(&sh->st, stats, sh->en);
    view_elem(&sh->tg, target, sh->en);
    view_elem(&sh->sw, o->sample_weight, sh->en);
    view_elem(&sh->loss, loss, sh->en); /* 0-d when reduced: all element strides 0 */
    view_elem(&sh->lse, outs[1], sh->en);
    view_elem(&sh->amax, o->out_argmax, sh->en);
    view_elem(&sh->corr, o->out_correct, sh->en);
    view_elem(&sh->zl, o->out_z_loss, sh->en);
    return SOFTCE_OK;
}

/* ---- data: class indices, and the combined statistics against them ---------------------- */

static int64_t target_at(const softce__shard *sh, int64_t e) {
    const softce_tensor *t = sh->tg.t;
    return softce__load_int(t->dtype, t->data, softce__shard_offset(sh, &sh->tg, e));
}

softce_status softce__shard_check_targets(const softce__shard *sh) {
    if (sh->soft)
        return SOFTCE_OK;
    for (int64_t e = 0; e < sh->E; e++) {
        int64_t t = target_at(sh, e);
        if (t != sh->o.ignore_index && (t < 0 || t >= sh->C))
            return softce__fail(SOFTCE_ERROR_TARGET, "target[%lld] = %lld is outside [0, %lld)",
                                (long long)e, (long long)t, (long long)sh->C);
    }
    return SOFTCE_OK;
}

static double stat_at(const softce__shard *sh, int64_t e, int k) {
    const double *p = (const double *)sh->st.t->data + softce__shard_offset(sh, &sh->st, e);
    return p[k * sh->st.cs];
}

/* One element's statistics against its target; adds to the denominator sums. */
static softce_status check_element(const softce__shard *sh, int64_t e, double C, double *sums) {
    double kind = stat_at(sh, e, SOFTCE_SHARD_STAT_KIND);
    double classes = stat_at(sh, e, SOFTCE_SHARD_STAT_CLASSES);
    if (kind != (sh->soft ? SOFTCE__SHARD_SOFT : SOFTCE__SHARD_HARD))
        return softce__fail(SOFTCE_ERROR_DTYPE,
                            "stats[%lld]: kind = %g, but the target is %s (1 = class indices, "
                            "2 = probabilities)",
                            (long long)e, kind, sh->soft ? "probabilities" : "class indices");
    if (stat_at(sh, e, SOFTCE_SHARD_STAT_NUM_CLASSES) != C)
        return softce__fail(SOFTCE_ERROR_SHAPE, "stats[%lld]: num_classes = %g, expected %g",
                            (long long)e, stat_at(sh, e, SOFTCE_SHARD_STAT_NUM_CLASSES), C);
    if (classes != C)
        return softce__fail(SOFTCE_ERROR_SHAPE,
                            "stats[%lld]: the combined shards cover %g of %g classes (combine "
                            "the statistics of every shard)",
                            (long long)e, classes, C);
    double s = 1.0, wt = 1.0;
    if (sh->sw.t)
        s = softce__load(sh->sw.t->dtype, sh->sw.t->data, softce__shard_offset(sh, &sh->sw, e));
    if (!sh->soft) {
        int64_t t = target_at(sh, e);
        if (t == sh->o.ignore_index)
            return SOFTCE_OK;
        if (t < 0 || (double)t >= C)
            return softce__fail(SOFTCE_ERROR_TARGET, "target[%lld] = %lld is outside [0, %.0f)",
                                (long long)e, (long long)t, C);
        double owned = stat_at(sh, e, SOFTCE_SHARD_STAT_TARGET_OWNED);
        if (owned != 1.0)
            return softce__fail(SOFTCE_ERROR_TARGET,
                                "stats[%lld]: target class %lld is owned by %g shards, expected "
                                "1 (overlapping shards, or statistics of another target?)",
                                (long long)e, (long long)t, owned);
        wt = stat_at(sh, e, SOFTCE_SHARD_STAT_TARGET_WEIGHT);
        sums[0] += wt;
    }
    sums[1] += s != 0.0;
    sums[2] += s * wt;
    return SOFTCE_OK;
}

softce_status softce__shard_check_combined(const softce__shard *sh, double *denominator) {
    double sums[3] = {0.0, 0.0, 0.0}; /* sum w[t], counted elements, sum s w[t] */
    double C = sh->C > 0 ? (double)sh->C : -1.0;
    if (C < 0.0 && sh->E > 0) { /* finalize: num_classes from the statistics */
        C = stat_at(sh, 0, SOFTCE_SHARD_STAT_NUM_CLASSES);
        if (!(C >= 1.0 && C == floor(C) && C <= 9007199254740992.0))
            return softce__fail(SOFTCE_ERROR_SHAPE,
                                "stats[0]: num_classes = %g is not a positive integer", C);
    }
    for (int64_t e = 0; e < sh->E; e++) {
        softce_status rc = check_element(sh, e, C, sums);
        if (rc != SOFTCE_OK)
            return rc;
    }
    const softce_options *o = &sh->o;
    *denominator = softce__pick_denominator(o->denominator, o->denominator_value, sh->soft,
                                            (double)sh->E, sums);
    if (o->reduction == SOFTCE_REDUCTION_MEAN && *denominator == 0.0 &&
        o->empty == SOFTCE_EMPTY_ERROR)
        return softce__fail(SOFTCE_ERROR_EMPTY_MEAN,
                            "the mean's denominator is 0 (%lld elements) and empty = ERROR",
                            (long long)sh->E);
    return SOFTCE_OK;
}
