/* Validation of every operand and option before anything is written. */
#include "internal.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

static const char *const slot_names[SOFTCE__NUM_SLOTS] = {
    "logits",        "target",          "weight",     "grad_loss",   "lse",
    "sample_weight", "smoothing_prior", "topk_prob",  "loss",        "lse",
    "grad_logits",   "grad_target",     "out_argmax", "out_correct", "out_z_loss"};

static int is_output(int slot) { return slot >= SOFTCE__LOSS; }

/* Number of elements and one past the largest element offset; 0 span for empty tensors. */
typedef struct extent {
    int64_t numel;
    int64_t span; /* in elements */
} extent;

softce_status softce__check_descriptor(const softce_tensor *t, const char *name, int64_t *numel_out,
                                       int64_t *span_out) {
    if (t->struct_size != sizeof(softce_tensor))
        return softce__fail(SOFTCE_ERROR_STRUCT_SIZE, "%s: struct_size = %u, expected %u", name,
                            (unsigned)t->struct_size, (unsigned)sizeof(softce_tensor));
    if (t->reserved != 0)
        return softce__fail(SOFTCE_ERROR_STRUCT_SIZE, "%s: reserved = %d, must be 0", name,
                            (int)t->reserved);
    if (softce__dtype_size(t->dtype) == 0)
        return softce__fail(SOFTCE_ERROR_DTYPE, "%s: unknown dtype %d", name, (int)t->dtype);
    if (t->ndim < 0 || t->ndim > SOFTCE_MAX_DIMS)
        return softce__fail(SOFTCE_ERROR_NDIM, "%s: ndim = %d is outside [0, %d]", name,
                            (int)t->ndim, SOFTCE_MAX_DIMS);
    int64_t numel = 1, last = 0;
    for (int k = 0; k < t->ndim; k++) {
        if (t->shape[k] < 0)
            return softce__fail(SOFTCE_ERROR_SHAPE, "%s: shape[%d] = %lld is negative", name, k,
                                (long long)t->shape[k]);
        if (t->strides[k] < 0)
            return softce__fail(SOFTCE_ERROR_STRIDE, "%s: strides[%d] = %lld is negative", name, k,
                                (long long)t->strides[k]);
        if (__builtin_mul_overflow(numel, t->shape[k], &numel))
            return softce__fail(SOFTCE_ERROR_OVERFLOW, "%s: the number of elements overflows int64",
                                name);
    }
    for (int k = 0; k < t->ndim && numel > 0; k++) {
        int64_t step;
        if (__builtin_mul_overflow(t->shape[k] - 1, t->strides[k], &step) ||
            __builtin_add_overflow(last, step, &last))
            return softce__fail(SOFTCE_ERROR_OVERFLOW,
                                "%s: shape[%d] * strides[%d] overflows int64", name, k, k);
    }
    int64_t span = 0, bytes;
    if ((numel > 0 && __builtin_add_overflow(last, (int64_t)1, &span)) ||
        __builtin_mul_overflow(span, (int64_t)softce__dtype_size(t->dtype), &bytes) ||
        bytes > PTRDIFF_MAX)
        return softce__fail(SOFTCE_ERROR_OVERFLOW, "%s: the memory span overflows", name);
    if (numel > 0 && t->data == NULL)
        return softce__fail(SOFTCE_ERROR_NULL_POINTER, "%s: data is NULL", name);
    *numel_out = numel;
    *span_out = span;
    return SOFTCE_OK;
}

static softce_status check_descriptor(const softce_tensor *t, const char *name, extent *ext) {
    return softce__check_descriptor(t, name, &ext->numel, &ext->span);
}

/* An output must not reach one memory location from two indices. Dims sorted by stride must
   each step past everything the smaller dims reach. */
softce_status softce__check_no_self_overlap(const softce_tensor *t, const char *name) {
    int order[SOFTCE_MAX_DIMS], n = 0;
    for (int k = 0; k < t->ndim; k++)
        if (t->shape[k] > 1)
            order[n++] = k;
    for (int i = 1; i < n; i++) /* insertion sort by stride */
        for (int j = i; j > 0 && t->strides[order[j]] < t->strides[order[j - 1]]; j--) {
            int tmp = order[j];
            order[j] = order[j - 1];
            order[j - 1] = tmp;
        }
    int64_t reach = 0; /* largest offset reached by the dims so far */
    for (int i = 0; i < n; i++) {
        int k = order[i];
        if (t->strides[k] <= reach)
            return softce__fail(SOFTCE_ERROR_STRIDE,
                                "%s: strides[%d] = %lld makes the output overlap itself", name, k,
                                (long long)t->strides[k]);
        reach += (t->shape[k] - 1) * t->strides[k];
    }
    return SOFTCE_OK;
}

/* The caller's options as a whole current struct: fields beyond its struct_size (a caller
   compiled against 1.0) take their defaults. */
softce_status softce__read_options(const softce_options *in, softce_options *o) {
    softce_options_init(o);
    if (!in)
        return SOFTCE_OK;
    if (in->struct_size != sizeof(softce_options) && in->struct_size != SOFTCE__OPTIONS_V1_0_SIZE)
        return softce__fail(SOFTCE_ERROR_STRUCT_SIZE,
                            "options: struct_size = %u, expected %u (or %u, release 1.0)",
                            (unsigned)in->struct_size, (unsigned)sizeof(softce_options),
                            (unsigned)SOFTCE__OPTIONS_V1_0_SIZE);
    memcpy(o, in, in->struct_size);
    o->struct_size = sizeof *o;
    return SOFTCE_OK;
}

static int finite_d(double v) { return v - v == 0.0; }

static softce_status check_options(softce__op op, const softce_options *o) {
    if (o->reduction < SOFTCE_REDUCTION_MEAN || o->reduction > SOFTCE_REDUCTION_NONE)
        return softce__fail(SOFTCE_ERROR_OPTION,
                            "options: reduction = %d is not MEAN (1), SUM (2) or NONE (3)",
                            (int)o->reduction);
    if (!(o->label_smoothing >= 0.0 && o->label_smoothing <= 1.0))
        return softce__fail(SOFTCE_ERROR_OPTION, "options: label_smoothing = %g is outside [0, 1]",
                            o->label_smoothing);
    if (o->num_threads < 0)
        return softce__fail(SOFTCE_ERROR_OPTION, "options: num_threads = %d is negative",
                            (int)o->num_threads);
    if (o->flags & ~SOFTCE_FLAG_KL)
        return softce__fail(SOFTCE_ERROR_OPTION, "options: unknown flags 0x%x",
                            (unsigned)(o->flags & ~SOFTCE_FLAG_KL));
    if (!(finite_d(o->z_loss) && o->z_loss >= 0.0))
        return softce__fail(SOFTCE_ERROR_OPTION, "options: z_loss = %g is not finite and >= 0",
                            o->z_loss);
    if (!(o->softcap == 0.0 || (finite_d(o->softcap) && o->softcap > 0.0)))
        return softce__fail(SOFTCE_ERROR_OPTION,
                            "options: softcap = %g is neither 0 (off) nor finite and > 0",
                            o->softcap);
    if (!(finite_d(o->logit_scale) && o->logit_scale > 0.0))
        return softce__fail(SOFTCE_ERROR_OPTION, "options: logit_scale = %g is not finite and > 0",
                            o->logit_scale);
    if (o->denominator < SOFTCE_DENOMINATOR_AUTO || o->denominator > SOFTCE_DENOMINATOR_VALUE)
        return softce__fail(SOFTCE_ERROR_OPTION,
                            "options: denominator = %d is not AUTO (0), VALID (1), WEIGHTS (2), "
                            "ELEMENTS (3) or VALUE (4)",
                            (int)o->denominator);
    if (o->denominator == SOFTCE_DENOMINATOR_VALUE &&
        !(finite_d(o->denominator_value) && o->denominator_value > 0.0))
        return softce__fail(SOFTCE_ERROR_OPTION,
                            "options: denominator_value = %g is not finite and > 0",
                            o->denominator_value);
    if (o->empty < SOFTCE_EMPTY_NAN || o->empty > SOFTCE_EMPTY_ERROR)
        return softce__fail(SOFTCE_ERROR_OPTION,
                            "options: empty = %d is not NAN (0), ZERO (1) or ERROR (2)",
                            (int)o->empty);
    if (o->smoothing < SOFTCE_SMOOTHING_UNIFORM || o->smoothing > SOFTCE_SMOOTHING_OTHERS)
        return softce__fail(SOFTCE_ERROR_OPTION,
                            "options: smoothing = %d is not UNIFORM (0) or OTHERS (1)",
                            (int)o->smoothing);
    if (o->smoothing_prior && o->smoothing != SOFTCE_SMOOTHING_UNIFORM)
        return softce__fail(SOFTCE_ERROR_OPTION,
                            "options: smoothing_prior needs smoothing = UNIFORM (0)");
    if (o->reserved != 0)
        return softce__fail(SOFTCE_ERROR_STRUCT_SIZE, "options: reserved = %d, must be 0",
                            (int)o->reserved);
    if (op != SOFTCE__OP_FORWARD && op != SOFTCE__OP_FORWARD_BACKWARD) {
        const char *extra = o->out_lse       ? "out_lse"
                            : o->out_argmax  ? "out_argmax"
                            : o->out_correct ? "out_correct"
                            : o->out_z_loss  ? "out_z_loss"
                                             : NULL;
        if (extra)
            return softce__fail(SOFTCE_ERROR_OPTION,
                                "options: %s is only written by softce_forward and "
                                "softce_forward_backward",
                                extra);
    }
    return SOFTCE_OK;
}

/* Shape of an element-shaped operand: logits shape without the class axis. */
static int element_shape(const softce_tensor *logits, int64_t shape[SOFTCE_MAX_DIMS]) {
    int n = 0;
    for (int k = 0; k < logits->ndim; k++)
        if (k != (logits->ndim == 1 ? 0 : 1))
            shape[n++] = logits->shape[k];
    return n;
}

softce_status softce__check_shape(const softce_tensor *t, const char *name, int ndim,
                                  const int64_t *shape, const char *what) {
    if (t->ndim != ndim)
        return softce__fail(SOFTCE_ERROR_SHAPE, "%s: ndim = %d, expected %d (%s)", name,
                            (int)t->ndim, ndim, what);
    for (int k = 0; k < ndim; k++)
        if (t->shape[k] != shape[k])
            return softce__fail(SOFTCE_ERROR_SHAPE, "%s: shape[%d] = %lld, expected %lld (%s)",
                                name, k, (long long)t->shape[k], (long long)shape[k], what);
    return SOFTCE_OK;
}

int softce__same_view(const softce_tensor *a, const softce_tensor *b) {
    if (a->data != b->data || a->dtype != b->dtype || a->ndim != b->ndim)
        return 0;
    for (int k = 0; k < a->ndim; k++)
        if (a->shape[k] != b->shape[k] || (a->shape[k] > 1 && a->strides[k] != b->strides[k]))
            return 0;
    return 1;
}

static int ranges_intersect(const softce_tensor *a, int64_t span_a, const softce_tensor *b,
                            int64_t span_b) {
    if (span_a == 0 || span_b == 0)
        return 0;
    uintptr_t a0 = (uintptr_t)a->data, b0 = (uintptr_t)b->data;
    uintptr_t a1 = a0 + (uintptr_t)span_a * (uintptr_t)softce__dtype_size(a->dtype);
    uintptr_t b1 = b0 + (uintptr_t)span_b * (uintptr_t)softce__dtype_size(b->dtype);
    return a0 < b1 && b0 < a1;
}

/* Outputs overlap nothing, except grad_logits (or log_softmax's out) being exactly logits. */
static softce_status check_overlaps(softce__op op, const softce_tensor *const *t, const extent *ext,
                                    const char *const *names) {
    for (int o = SOFTCE__LOSS; o < SOFTCE__NUM_SLOTS; o++) {
        if (!t[o])
            continue;
        if (ext[o].numel == 0) /* nothing is written: no overlap, whatever the strides */
            continue;
        softce_status st = softce__check_no_self_overlap(t[o], names[o]);
        if (st != SOFTCE_OK)
            return st;
        for (int s = 0; s < SOFTCE__NUM_SLOTS; s++) {
            if (s == o || !t[s] || (is_output(s) && s > o))
                continue;
            if (!ranges_intersect(t[o], ext[o].span, t[s], ext[s].span))
                continue;
            if (o == SOFTCE__GRAD_LOGITS && s == SOFTCE__LOGITS && op != SOFTCE__OP_FORWARD &&
                softce__same_view(t[o], t[s]))
                continue; /* the allowed in-place case */
            return softce__fail(SOFTCE_ERROR_OVERLAP, "%s overlaps %s in memory%s", names[o],
                                names[s],
                                s == SOFTCE__LOGITS && o == SOFTCE__GRAD_LOGITS
                                    ? " (in place needs the same data, dtype, shape and strides)"
                                    : "");
        }
    }
    return SOFTCE_OK;
}

/* Which slots each operation requires (R) and accepts (R|O). */
static const unsigned required_slots[5] = {
    0,
    1u << SOFTCE__LOGITS | 1u << SOFTCE__TARGET | 1u << SOFTCE__LOSS,
    1u << SOFTCE__LOGITS | 1u << SOFTCE__TARGET,
    1u << SOFTCE__LOGITS | 1u << SOFTCE__TARGET | 1u << SOFTCE__GRAD_LOGITS,
    1u << SOFTCE__LOGITS | 1u << SOFTCE__GRAD_LOGITS,
};

static softce_status check_present(softce__op op, const softce_tensor *const *t,
                                   const char *const *names) {
    for (int s = 0; s < SOFTCE__NUM_SLOTS; s++)
        if ((required_slots[op] >> s & 1u) && !t[s])
            return softce__fail(SOFTCE_ERROR_NULL_POINTER, "%s is NULL", names[s]);
    if (op == SOFTCE__OP_BACKWARD && !t[SOFTCE__GRAD_LOGITS] && !t[SOFTCE__GRAD_TARGET])
        return softce__fail(SOFTCE_ERROR_NULL_POINTER,
                            "grad_logits and %s are both NULL: nothing to compute",
                            names[SOFTCE__GRAD_TARGET]);
    return SOFTCE_OK;
}

/* Dtype, rank and shape of every operand against the logits. */
static softce_status check_operands(const softce_tensor *const *t, int reduction, int topk,
                                    int *soft, const char *const *names) {
    const softce_tensor *lg = t[SOFTCE__LOGITS];
    if (!softce__dtype_is_float(lg->dtype))
        return softce__fail(SOFTCE_ERROR_DTYPE, "logits: dtype %s is not f32, f64, f16 or bf16",
                            softce__dtype_name(lg->dtype));
    if (lg->ndim < 1)
        return softce__fail(SOFTCE_ERROR_NDIM, "logits: ndim = 0, expected (C), (N, C) or "
                                               "(N, C, d1, ...)");
    int cax = lg->ndim == 1 ? 0 : 1;
    if (lg->shape[cax] == 0)
        return softce__fail(SOFTCE_ERROR_SHAPE, "logits: the class axis (dim %d) has size 0", cax);
    int64_t es[SOFTCE_MAX_DIMS];
    int en = element_shape(lg, es);
    softce_status st = SOFTCE_OK;
    const softce_tensor *tg = t[SOFTCE__TARGET];
    if (topk) { /* indices and probabilities: element shape + (K) */
        *soft = 1;
        if (!softce__dtype_is_int(tg->dtype))
            return softce__fail(SOFTCE_ERROR_DTYPE, "topk_index: dtype %s is not i32 or i64",
                                softce__dtype_name(tg->dtype));
        if (tg->ndim != en + 1)
            return softce__fail(SOFTCE_ERROR_SHAPE,
                                "topk_index: ndim = %d, expected %d (element shape + (K))",
                                (int)tg->ndim, en + 1);
        int64_t ks[SOFTCE_MAX_DIMS];
        for (int k = 0; k < en; k++)
            ks[k] = es[k];
        ks[en] = tg->shape[en];
        st = softce__check_shape(tg, "topk_index", en + 1, ks, "element shape + (K)");
        const int kslots[2] = {SOFTCE__TOPK_PROB, SOFTCE__GRAD_TARGET};
        for (int j = 0; j < 2 && st == SOFTCE_OK; j++) {
            const softce_tensor *u = t[kslots[j]];
            if (!u)
                continue;
            if (!softce__dtype_is_float(u->dtype))
                return softce__fail(SOFTCE_ERROR_DTYPE, "%s: dtype %s is not a float type",
                                    names[kslots[j]], softce__dtype_name(u->dtype));
            st = softce__check_shape(u, names[kslots[j]], en + 1, ks, "the shape of topk_index");
        }
    } else {
        *soft = tg && softce__dtype_is_float(tg->dtype);
        if (tg && !*soft && !softce__dtype_is_int(tg->dtype))
            return softce__fail(SOFTCE_ERROR_DTYPE,
                                "target: dtype %s is neither i32/i64 (class "
                                "indices) nor a float type (probabilities)",
                                softce__dtype_name(tg->dtype));
        if (tg)
            st = *soft ? softce__check_shape(tg, "target", lg->ndim, lg->shape,
                                             "soft target = logits shape")
                       : softce__check_shape(tg, "target", en, es,
                                             "class indices = logits shape "
                                             "without the class axis");
    }
    const softce_tensor *w = t[SOFTCE__WEIGHT];
    if (st == SOFTCE_OK && w) {
        if (w->dtype != SOFTCE_DTYPE_F32 && w->dtype != SOFTCE_DTYPE_F64)
            return softce__fail(SOFTCE_ERROR_DTYPE, "weight: dtype %s is not f32 or f64",
                                softce__dtype_name(w->dtype));
        st = softce__check_shape(w, "weight", 1, &lg->shape[cax], "(C)");
    }
    int reduced = reduction != SOFTCE_REDUCTION_NONE;
    for (int s = SOFTCE__GRAD_LOSS; st == SOFTCE_OK && s < SOFTCE__NUM_SLOTS; s++) {
        if (!t[s] || s == SOFTCE__TOPK_PROB || (topk && s == SOFTCE__GRAD_TARGET))
            continue;
        if (s == SOFTCE__ARGMAX_OUT) {
            if (t[s]->dtype != SOFTCE_DTYPE_I32 && t[s]->dtype != SOFTCE_DTYPE_I64)
                return softce__fail(SOFTCE_ERROR_DTYPE, "%s: dtype %s is not i32 or i64", names[s],
                                    softce__dtype_name(t[s]->dtype));
            if (t[s]->dtype == SOFTCE_DTYPE_I32 && lg->shape[cax] > INT32_MAX)
                return softce__fail(SOFTCE_ERROR_DTYPE, "%s: i32 cannot hold class %lld", names[s],
                                    (long long)(lg->shape[cax] - 1));
        } else if (s != SOFTCE__CORRECT_OUT && !softce__dtype_is_float(t[s]->dtype)) {
            return softce__fail(SOFTCE_ERROR_DTYPE, "%s: dtype %s is not a float type", names[s],
                                softce__dtype_name(t[s]->dtype));
        }
        if (s == SOFTCE__GRAD_LOSS || s == SOFTCE__LOSS)
            st = reduced ? softce__check_shape(t[s], names[s], 0, es, "0-d for mean/sum")
                         : softce__check_shape(t[s], names[s], en, es, "per element for none");
        else if (s == SOFTCE__PRIOR)
            st = softce__check_shape(t[s], names[s], 1, &lg->shape[cax], "(C)");
        else if (s == SOFTCE__GRAD_LOGITS || s == SOFTCE__GRAD_TARGET)
            st = softce__check_shape(t[s], names[s], lg->ndim, lg->shape, "logits shape");
        else
            st = softce__check_shape(t[s], names[s], en, es, "per element");
    }
    if (st == SOFTCE_OK && t[SOFTCE__GRAD_TARGET] && !*soft)
        return softce__fail(SOFTCE_ERROR_DTYPE,
                            "grad_target: class-index targets (i32/i64) have no gradient");
    return st;
}

static softce_status validate_call(softce__op op, const softce_options *opts,
                                   const softce_tensor *const slots[SOFTCE__NUM_SLOTS],
                                   int32_t topk_rest, softce__plan *plan) {
    const int topk = topk_rest >= 0;
    softce_options o;
    softce_status st = SOFTCE_OK;
    if (!opts)
        softce_options_init(&o);
    else if ((st = softce__read_options(opts, &o)) != SOFTCE_OK)
        return st;
    if ((st = check_options(op, &o)) != SOFTCE_OK)
        return st;
    if (o.out_lse && slots[SOFTCE__LSE_OUT])
        return softce__fail(SOFTCE_ERROR_OPTION,
                            "options: out_lse and the lse argument are both given");
    const softce_tensor *t[SOFTCE__NUM_SLOTS];
    for (int s = 0; s < SOFTCE__NUM_SLOTS; s++)
        t[s] = slots[s];
    t[SOFTCE__WEIGHT] = o.weight;
    if (op != SOFTCE__OP_LOG_SOFTMAX) { /* log_softmax reads only num_threads and flags */
        t[SOFTCE__SAMPLE_W] = o.sample_weight;
        t[SOFTCE__PRIOR] = o.smoothing_prior;
    }
    if (o.out_lse)
        t[SOFTCE__LSE_OUT] = o.out_lse;
    t[SOFTCE__ARGMAX_OUT] = o.out_argmax;
    t[SOFTCE__CORRECT_OUT] = o.out_correct;
    t[SOFTCE__ZLOSS_OUT] = o.out_z_loss;
    const char *names[SOFTCE__NUM_SLOTS];
    for (int s = 0; s < SOFTCE__NUM_SLOTS; s++)
        names[s] = slot_names[s];
    if (op == SOFTCE__OP_LOG_SOFTMAX)
        names[SOFTCE__GRAD_LOGITS] = "out";
    if (o.out_lse)
        names[SOFTCE__LSE_OUT] = "out_lse";
    if (topk) {
        names[SOFTCE__TARGET] = "topk_index";
        names[SOFTCE__GRAD_TARGET] = "grad_prob";
    }
    if ((st = check_present(op, t, names)) != SOFTCE_OK)
        return st;
    if (topk && !t[SOFTCE__TOPK_PROB])
        return softce__fail(SOFTCE_ERROR_NULL_POINTER, "topk_prob is NULL");
    extent ext[SOFTCE__NUM_SLOTS] = {{0, 0}};
    for (int s = 0; s < SOFTCE__NUM_SLOTS; s++)
        if (t[s] && (st = check_descriptor(t[s], names[s], &ext[s])) != SOFTCE_OK)
            return st;
    int soft = 0;
    if ((st = check_operands(t, o.reduction, topk, &soft, names)) != SOFTCE_OK)
        return st;
    if ((st = check_overlaps(op, t, ext, names)) != SOFTCE_OK)
        return st;

    const softce_tensor *lg = t[SOFTCE__LOGITS];
    plan->op = op;
    plan->soft = soft;
    plan->reduction = o.reduction;
    plan->ignore_index = o.ignore_index;
    plan->eps = o.label_smoothing;
    plan->num_threads = o.num_threads;
    plan->z_loss = o.z_loss;
    plan->softcap = o.softcap;
    plan->logit_scale = o.logit_scale;
    plan->denominator = o.denominator;
    plan->empty = o.empty;
    plan->denominator_value = o.denominator_value;
    plan->smoothing = o.smoothing;
    plan->kl = (o.flags & SOFTCE_FLAG_KL) != 0 && op != SOFTCE__OP_LOG_SOFTMAX;
    plan->extended = o.z_loss != 0.0 || o.softcap != 0.0 || o.logit_scale != 1.0 || plan->kl ||
                     o.smoothing != SOFTCE_SMOOTHING_UNIFORM || t[SOFTCE__SAMPLE_W] ||
                     t[SOFTCE__PRIOR] || t[SOFTCE__ARGMAX_OUT] || t[SOFTCE__CORRECT_OUT] ||
                     t[SOFTCE__ZLOSS_OUT] || topk;
    plan->topk = topk;
    plan->topk_rest = topk ? topk_rest : 0;
    plan->K = topk ? t[SOFTCE__TARGET]->shape[t[SOFTCE__TARGET]->ndim - 1] : 0;
    plan->compute_f64 = lg->dtype == SOFTCE_DTYPE_F64;
    plan->C = lg->shape[lg->ndim == 1 ? 0 : 1];
    plan->E = ext[SOFTCE__LOGITS].numel / plan->C;
    for (int s = 0; s < SOFTCE__NUM_SLOTS; s++)
        plan->t[s] = t[s];
    plan->ndim = plan->nmoving = 0;
    if (plan->E > 0) /* strides of empty tensors are unchecked: they are never used */
        softce__plan_layout(plan);
    return SOFTCE_OK;
}

softce_status softce__validate(softce__op op, const softce_options *opts,
                               const softce_tensor *const slots[SOFTCE__NUM_SLOTS],
                               softce__plan *plan) {
    return validate_call(op, opts, slots, -1, plan);
}

softce_status softce__validate_topk(softce__op op, const softce_options *opts,
                                    const softce_tensor *const slots[SOFTCE__NUM_SLOTS],
                                    int32_t rest, softce__plan *plan) {
    if (rest != SOFTCE_TOPK_REST_IGNORE && rest != SOFTCE_TOPK_REST_UNIFORM)
        return softce__fail(SOFTCE_ERROR_OPTION, "rest = %d is not IGNORE (0) or UNIFORM (1)",
                            (int)rest);
    return validate_call(op, opts, slots, rest, plan);
}
