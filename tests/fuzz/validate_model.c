/*
 * An independent model of the validation rules (docs/errors.md, include/softce/softce.h),
 * written from the documentation, not from src/. Self-overlap is decided by enumerating every
 * element offset (the library uses a sorted-stride argument), so the two are truly different
 * implementations of one rule.
 */
#include "fuzz_validate.h"

#include <stddef.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Exact arithmetic for the overflow rules (GCC and Clang). */
__extension__ typedef __int128 wide;

#define FAIL(reason)                                                                               \
    do {                                                                                           \
        fv_expect e_ = {FV_EXPECT_FAIL, 0, 0, reason};                                             \
        return e_;                                                                                 \
    } while (0)

size_t fv_dtype_size(int32_t dtype) {
    switch (dtype) {
    case SOFTCE_DTYPE_F64:
    case SOFTCE_DTYPE_I64:
        return 8;
    case SOFTCE_DTYPE_F32:
    case SOFTCE_DTYPE_I32:
        return 4;
    case SOFTCE_DTYPE_F16:
    case SOFTCE_DTYPE_BF16:
        return 2;
    default:
        return 0;
    }
}

static int is_float(int32_t d) { return d >= SOFTCE_DTYPE_F32 && d <= SOFTCE_DTYPE_BF16; }
static int is_int(int32_t d) { return d == SOFTCE_DTYPE_I32 || d == SOFTCE_DTYPE_I64; }

int64_t fv_span(const softce_tensor *t, int64_t *numel, int *ok) {
    wide n = 1, last = 0;
    *ok = 0;
    *numel = 0;
    if (t->ndim < 0 || t->ndim > SOFTCE_MAX_DIMS)
        return 0;
    for (int k = 0; k < t->ndim; k++) {
        if (t->shape[k] < 0 || t->strides[k] < 0)
            return 0;
        n *= t->shape[k];
        if (n > INT64_MAX)
            return 0;
    }
    for (int k = 0; k < t->ndim && n > 0; k++) {
        last += (wide)(t->shape[k] - 1) * t->strides[k];
        if (last > INT64_MAX)
            return 0;
    }
    wide span = n > 0 ? last + 1 : 0;
    if (span * (wide)(fv_dtype_size(t->dtype) ? fv_dtype_size(t->dtype) : 1) > PTRDIFF_MAX)
        return 0;
    *ok = 1;
    *numel = (int64_t)n;
    return (int64_t)span;
}

/* Offset (elements) of the row-major element index i. */
static int64_t offset_of(const softce_tensor *t, int64_t i) {
    int64_t off = 0;
    for (int k = t->ndim - 1; k >= 0; k--) {
        off += (i % t->shape[k]) * t->strides[k];
        i /= t->shape[k];
    }
    return off;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The documented (conservative) rule for outputs: with the dims of size > 1 sorted by
   stride, each stride exceeds the largest offset the smaller dims reach. Some interleaved
   layouts that do not overlap are rejected too. */
static int strides_disjoint(const softce_tensor *t) {
    int64_t dims[SOFTCE_MAX_DIMS][2];
    int n = 0;
    for (int k = 0; k < t->ndim; k++)
        if (t->shape[k] > 1)
            dims[n][0] = t->strides[k], dims[n++][1] = t->shape[k];
    qsort(dims, (size_t)n, sizeof dims[0], cmp_i64); /* by stride (first member) */
    wide reach = 0;
    for (int i = 0; i < n; i++) {
        if (dims[i][0] <= reach)
            return 0;
        reach += (wide)(dims[i][1] - 1) * dims[i][0];
    }
    return 1;
}

/* Does some memory location belong to two elements? (numel <= FV_MAX_NUMEL here) */
static int overlaps_itself(const softce_tensor *t, int64_t numel) {
    int64_t *off = malloc((size_t)(numel ? numel : 1) * sizeof *off);
    for (int64_t i = 0; i < numel; i++)
        off[i] = offset_of(t, i);
    qsort(off, (size_t)numel, sizeof *off, cmp_i64);
    int dup = 0;
    for (int64_t i = 1; i < numel && !dup; i++)
        dup = off[i] == off[i - 1];
    free(off);
    return dup;
}

static int same_shape(const softce_tensor *t, int ndim, const int64_t *shape) {
    if (t->ndim != ndim)
        return 0;
    for (int k = 0; k < ndim; k++)
        if (t->shape[k] != shape[k])
            return 0;
    return 1;
}

/* A caller compiled against 1.0 passes the 1.0 size (the fields up to flags): valid, the
   later fields then take their defaults. The fuzzer leaves the 1.1 fields at their defaults. */
static int options_ok(const softce_options *o) {
    const int size_ok = o->struct_size == sizeof(softce_options) ||
                        o->struct_size == offsetof(softce_options, z_loss);
    return size_ok && o->reduction >= 1 && o->reduction <= 3 &&
           o->label_smoothing >= 0.0 && o->label_smoothing <= 1.0 && o->num_threads >= 0 &&
           (o->flags & ~SOFTCE_FLAG_KL) == 0; /* KL: valid since 1.1 */
}

static int required(fv_op op, int s) {
    switch (op) {
    case FV_FORWARD:
        return s == FV_X || s == FV_T || s == FV_LOSS;
    case FV_BACKWARD:
        return s == FV_X || s == FV_T;
    case FV_FUSED:
        return s == FV_X || s == FV_T || s == FV_GX;
    default:
        return s == FV_X || s == FV_GX;
    }
}

static int descriptor_ok(const softce_tensor *t, int64_t *numel, int64_t *span) {
    int ok;
    if (t->struct_size != sizeof(softce_tensor) || t->reserved != 0 || !fv_dtype_size(t->dtype))
        return 0;
    *span = fv_span(t, numel, &ok);
    return ok && (*numel == 0 || t->data != NULL);
}

/* Shapes and dtypes of every operand against the logits. */
static const char *roles_ok(const fv_call *c, int reduction, int *soft) {
    const softce_tensor *x = &c->t[FV_X];
    if (!is_float(x->dtype) || x->ndim < 1)
        return "logits dtype/ndim";
    int cax = x->ndim == 1 ? 0 : 1, en = 0;
    if (x->shape[cax] == 0)
        return "no classes";
    int64_t es[SOFTCE_MAX_DIMS];
    for (int k = 0; k < x->ndim; k++)
        if (k != cax)
            es[en++] = x->shape[k];
    *soft = c->present[FV_T] && is_float(c->t[FV_T].dtype);
    if (c->present[FV_T] && !*soft && !is_int(c->t[FV_T].dtype))
        return "target dtype";
    if (c->present[FV_T] &&
        !(*soft ? same_shape(&c->t[FV_T], x->ndim, x->shape) : same_shape(&c->t[FV_T], en, es)))
        return "target shape";
    const softce_tensor *w = &c->t[FV_W];
    if (c->present[FV_W] && ((w->dtype != SOFTCE_DTYPE_F32 && w->dtype != SOFTCE_DTYPE_F64) ||
                             !same_shape(w, 1, &x->shape[cax])))
        return "weight";
    for (int s = FV_GL; s < FV_NSLOT; s++) {
        const softce_tensor *t = &c->t[s];
        if (!c->present[s])
            continue;
        int reduced_scalar = (s == FV_GL || s == FV_LOSS) && reduction != SOFTCE_REDUCTION_NONE;
        int logits_shaped = s == FV_GX || s == FV_GT;
        if (!is_float(t->dtype) || !(reduced_scalar  ? t->ndim == 0
                                     : logits_shaped ? same_shape(t, x->ndim, x->shape)
                                                     : same_shape(t, en, es)))
            return "operand dtype/shape";
    }
    if (c->present[FV_GT] && !*soft)
        return "grad_target of a hard target";
    return NULL;
}

static int same_view(const softce_tensor *a, const softce_tensor *b) {
    if (a->data != b->data || a->dtype != b->dtype || a->ndim != b->ndim)
        return 0;
    for (int k = 0; k < a->ndim; k++)
        if (a->shape[k] != b->shape[k] || (a->shape[k] > 1 && a->strides[k] != b->strides[k]))
            return 0;
    return 1;
}

static int bytes_intersect(const softce_tensor *a, int64_t sa, const softce_tensor *b, int64_t sb) {
    if (sa == 0 || sb == 0)
        return 0;
    const char *a0 = a->data, *b0 = b->data;
    const char *a1 = a0 + sa * (int64_t)fv_dtype_size(a->dtype);
    const char *b1 = b0 + sb * (int64_t)fv_dtype_size(b->dtype);
    return a0 < b1 && b0 < a1;
}

static const char *outputs_ok(const fv_call *c, const int64_t *numel, const int64_t *span) {
    for (int o = FV_LOSS; o < FV_NSLOT; o++) {
        if (!c->present[o])
            continue;
        if (numel[o] > 0 && !strides_disjoint(&c->t[o]))
            return "output strides may overlap";
        if (numel[o] <= FV_MAX_NUMEL && overlaps_itself(&c->t[o], numel[o])) {
            fprintf(stderr, "fuzz model: the stride rule accepted an overlapping output\n");
            abort();
        }
        for (int s = 0; s < FV_NSLOT; s++) {
            if (s == o || !c->present[s] || !bytes_intersect(&c->t[o], span[o], &c->t[s], span[s]))
                continue;
            int in_place =
                o == FV_GX && s == FV_X && c->op != FV_FORWARD && same_view(&c->t[o], &c->t[s]);
            if (!in_place)
                return "outputs overlap";
        }
    }
    return NULL;
}

/* The first class index (row-major) outside [0, C) that is not ignore_index. */
static fv_expect scan_targets(const fv_call *c, int64_t numel_t, int64_t ignore) {
    const softce_tensor *t = &c->t[FV_T], *x = &c->t[FV_X];
    int64_t C = x->shape[x->ndim == 1 ? 0 : 1];
    fv_expect e = {FV_EXPECT_OK, 0, 0, NULL};
    for (int64_t i = 0; i < numel_t; i++) {
        int64_t off = offset_of(t, i);
        int64_t v = t->dtype == SOFTCE_DTYPE_I32 ? ((const int32_t *)t->data)[off]
                                                 : ((const int64_t *)t->data)[off];
        if (v != ignore && (v < 0 || v >= C)) {
            e.kind = FV_EXPECT_TARGET, e.bad_index = i, e.bad_value = v;
            return e;
        }
    }
    return e;
}

static fv_expect model_tensor_init(const fv_call *c) {
    if (c->ti_null_t || (c->ti_ndim > 0 && c->ti_null_shape))
        FAIL("tensor_init NULL");
    if (!fv_dtype_size(c->ti_dtype) || c->ti_ndim < 0 || c->ti_ndim > SOFTCE_MAX_DIMS)
        FAIL("tensor_init dtype/ndim");
    wide step = 1;
    for (int k = c->ti_ndim - 1; k >= 0; k--) {
        if (c->ti_shape[k] < 0)
            FAIL("tensor_init negative size");
        if (c->ti_shape[k] > 1 && (step *= c->ti_shape[k]) > INT64_MAX)
            FAIL("tensor_init overflow");
    }
    fv_expect e = {FV_EXPECT_OK, 0, 0, NULL};
    return e;
}

fv_expect fv_model(const fv_call *c) {
    if (c->op == FV_TENSOR_INIT)
        return model_tensor_init(c);
    softce_options defaults;
    softce_options_init(&defaults);
    const softce_options *o = c->use_opts ? &c->o : &defaults;
    if (!options_ok(o))
        FAIL("options");
    for (int s = 0; s < FV_NSLOT; s++)
        if (required(c->op, s) && !c->present[s])
            FAIL("required operand missing");
    if (c->op == FV_BACKWARD && !c->present[FV_GX] && !c->present[FV_GT])
        FAIL("backward computes nothing");
    int64_t numel[FV_NSLOT] = {0}, span[FV_NSLOT] = {0};
    for (int s = 0; s < FV_NSLOT; s++)
        if (c->present[s] && !descriptor_ok(&c->t[s], &numel[s], &span[s]))
            FAIL("descriptor");
    int soft = 0;
    const char *why = roles_ok(c, o->reduction, &soft);
    if (!why)
        why = outputs_ok(c, numel, span);
    if (why)
        FAIL(why);
    if (c->op != FV_LOG_SOFTMAX && !soft)
        return scan_targets(c, numel[FV_T], o->ignore_index);
    fv_expect e = {FV_EXPECT_OK, 0, 0, NULL};
    return e;
}
