/* Public entry points: each one validates, plans, then runs the driver. */
#include "internal.h"
#include "kernels/kernels.h"

#include <string.h>

unsigned softce_version(void) { return SOFTCE_VERSION_NUMBER; }

const char *softce_version_string(void) { return SOFTCE_VERSION_STRING; }

const char *softce_isa_name(void) { return softce__isa_name(softce__active_isa()); }

/* Defaults of the first `size` bytes of the struct (size = a release's sizeof). */
static void options_defaults(softce_options *opts, size_t size) {
    softce_options o;
    memset(&o, 0, sizeof o);
    o.struct_size = (uint32_t)size;
    o.reduction = SOFTCE_REDUCTION_MEAN;
    o.ignore_index = -100;
    o.label_smoothing = 0.0;
    o.weight = NULL;
    o.num_threads = 0;
    o.flags = 0;
    /* 1.1 */
    o.z_loss = 0.0;
    o.softcap = 0.0;
    o.logit_scale = 1.0;
    o.sample_weight = NULL;
    o.denominator = SOFTCE_DENOMINATOR_AUTO;
    o.empty = SOFTCE_EMPTY_NAN;
    o.denominator_value = 0.0;
    o.smoothing = SOFTCE_SMOOTHING_UNIFORM;
    o.smoothing_prior = NULL;
    memcpy(opts, &o, size);
}

void softce_options_init(softce_options *opts) {
    if (opts)
        options_defaults(opts, sizeof *opts);
}

/* Programs built against 1.0 call softce_options_init@SOFTCE_1 with a 40-byte struct: this
   version fills only the 1.0 fields (docs/abi.md). The name does not match the exported
   softce_* pattern, so only the versioned alias is visible. */
#if defined(__ELF__) && defined(__GNUC__) && !defined(SOFTCE_STATIC)
/* The .symver directive rather than GCC's symver attribute: clang ignores the attribute. */
__asm__(".symver softce1_0_options_init, softce_options_init@SOFTCE_1");
__attribute__((visibility("default"))) void softce1_0_options_init(softce_options *opts);
void softce1_0_options_init(softce_options *opts) {
    if (opts)
        options_defaults(opts, SOFTCE__OPTIONS_V1_0_SIZE);
}
#endif

softce_status softce_tensor_init(softce_tensor *t, softce_dtype dtype, int32_t ndim,
                                 const int64_t *shape, void *data) {
    softce__clear_error();
    if (!t || (ndim > 0 && !shape))
        return softce__fail(SOFTCE_ERROR_NULL_POINTER, "softce_tensor_init: %s is NULL",
                            t ? "shape" : "t");
    if (softce__dtype_size(dtype) == 0)
        return softce__fail(SOFTCE_ERROR_DTYPE, "softce_tensor_init: unknown dtype %d", (int)dtype);
    if (ndim < 0 || ndim > SOFTCE_MAX_DIMS)
        return softce__fail(SOFTCE_ERROR_NDIM, "softce_tensor_init: ndim = %d is outside [0, %d]",
                            (int)ndim, SOFTCE_MAX_DIMS);
    int64_t strides[SOFTCE_MAX_DIMS], step = 1;
    for (int k = ndim - 1; k >= 0; k--) {
        if (shape[k] < 0)
            return softce__fail(SOFTCE_ERROR_SHAPE,
                                "softce_tensor_init: shape[%d] = %lld is negative", k,
                                (long long)shape[k]);
        strides[k] = step;
        if (shape[k] > 1 && __builtin_mul_overflow(step, shape[k], &step))
            return softce__fail(SOFTCE_ERROR_OVERFLOW,
                                "softce_tensor_init: the number of elements overflows int64");
    }
    memset(t, 0, sizeof *t);
    t->struct_size = sizeof *t;
    t->dtype = dtype;
    t->ndim = ndim;
    t->data = data;
    for (int k = 0; k < ndim; k++) {
        t->shape[k] = shape[k];
        t->strides[k] = strides[k];
    }
    return SOFTCE_OK;
}

/* Validates and runs a call; topk: a sparse top-k target with `rest` (else rest is unused). */
static softce_status run_call(softce__op op, const softce_options *opts,
                              const softce_tensor *const slots[SOFTCE__NUM_SLOTS], int topk,
                              int32_t rest) {
    softce__clear_error();
    softce__plan plan;
    softce_status st = topk ? softce__validate_topk(op, opts, slots, rest, &plan)
                            : softce__validate(op, opts, slots, &plan);
    return st == SOFTCE_OK ? softce__run(&plan) : st;
}

static softce_status run(softce__op op, const softce_options *opts,
                         const softce_tensor *const slots[SOFTCE__NUM_SLOTS]) {
    return run_call(op, opts, slots, 0, 0);
}

softce_status softce_forward(const softce_options *opts, const softce_tensor *logits,
                             const softce_tensor *target, const softce_tensor *loss,
                             const softce_tensor *lse) {
    const softce_tensor *s[SOFTCE__NUM_SLOTS] = {0};
    s[SOFTCE__LOGITS] = logits;
    s[SOFTCE__TARGET] = target;
    s[SOFTCE__LOSS] = loss;
    s[SOFTCE__LSE_OUT] = lse;
    return run(SOFTCE__OP_FORWARD, opts, s);
}

softce_status softce_backward(const softce_options *opts, const softce_tensor *logits,
                              const softce_tensor *target, const softce_tensor *grad_loss,
                              const softce_tensor *lse, const softce_tensor *grad_logits,
                              const softce_tensor *grad_target) {
    const softce_tensor *s[SOFTCE__NUM_SLOTS] = {0};
    s[SOFTCE__LOGITS] = logits;
    s[SOFTCE__TARGET] = target;
    s[SOFTCE__GRAD_LOSS] = grad_loss;
    s[SOFTCE__LSE_IN] = lse;
    s[SOFTCE__GRAD_LOGITS] = grad_logits;
    s[SOFTCE__GRAD_TARGET] = grad_target;
    return run(SOFTCE__OP_BACKWARD, opts, s);
}

softce_status softce_forward_backward(const softce_options *opts, const softce_tensor *logits,
                                      const softce_tensor *target, const softce_tensor *grad_loss,
                                      const softce_tensor *loss, const softce_tensor *grad_logits) {
    const softce_tensor *s[SOFTCE__NUM_SLOTS] = {0};
    s[SOFTCE__LOGITS] = logits;
    s[SOFTCE__TARGET] = target;
    s[SOFTCE__GRAD_LOSS] = grad_loss;
    s[SOFTCE__LOSS] = loss;
    s[SOFTCE__GRAD_LOGITS] = grad_logits;
    return run(SOFTCE__OP_FORWARD_BACKWARD, opts, s);
}

softce_status softce_log_softmax(const softce_options *opts, const softce_tensor *logits,
                                 const softce_tensor *out) {
    const softce_tensor *s[SOFTCE__NUM_SLOTS] = {0};
    s[SOFTCE__LOGITS] = logits;
    s[SOFTCE__GRAD_LOGITS] = out;
    return run(SOFTCE__OP_LOG_SOFTMAX, opts, s);
}

static softce_status run_topk(softce__op op, const softce_options *opts,
                              const softce_tensor *const slots[SOFTCE__NUM_SLOTS], int32_t rest) {
    return run_call(op, opts, slots, 1, rest);
}

softce_status softce_topk_forward(const softce_options *opts, const softce_tensor *logits,
                                  const softce_tensor *topk_index, const softce_tensor *topk_prob,
                                  int32_t rest, const softce_tensor *loss,
                                  const softce_tensor *lse) {
    const softce_tensor *s[SOFTCE__NUM_SLOTS] = {0};
    s[SOFTCE__LOGITS] = logits;
    s[SOFTCE__TARGET] = topk_index;
    s[SOFTCE__TOPK_PROB] = topk_prob;
    s[SOFTCE__LOSS] = loss;
    s[SOFTCE__LSE_OUT] = lse;
    return run_topk(SOFTCE__OP_FORWARD, opts, s, rest);
}

softce_status softce_topk_backward(const softce_options *opts, const softce_tensor *logits,
                                   const softce_tensor *topk_index, const softce_tensor *topk_prob,
                                   int32_t rest, const softce_tensor *grad_loss,
                                   const softce_tensor *lse, const softce_tensor *grad_logits,
                                   const softce_tensor *grad_prob) {
    const softce_tensor *s[SOFTCE__NUM_SLOTS] = {0};
    s[SOFTCE__LOGITS] = logits;
    s[SOFTCE__TARGET] = topk_index;
    s[SOFTCE__TOPK_PROB] = topk_prob;
    s[SOFTCE__GRAD_LOSS] = grad_loss;
    s[SOFTCE__LSE_IN] = lse;
    s[SOFTCE__GRAD_LOGITS] = grad_logits;
    s[SOFTCE__GRAD_TARGET] = grad_prob;
    return run_topk(SOFTCE__OP_BACKWARD, opts, s, rest);
}

softce_status softce_topk_forward_backward(const softce_options *opts, const softce_tensor *logits,
                                           const softce_tensor *topk_index,
                                           const softce_tensor *topk_prob, int32_t rest,
                                           const softce_tensor *grad_loss,
                                           const softce_tensor *loss,
                                           const softce_tensor *grad_logits) {
    const softce_tensor *s[SOFTCE__NUM_SLOTS] = {0};
    s[SOFTCE__LOGITS] = logits;
    s[SOFTCE__TARGET] = topk_index;
    s[SOFTCE__TOPK_PROB] = topk_prob;
    s[SOFTCE__GRAD_LOSS] = grad_loss;
    s[SOFTCE__LOSS] = loss;
    s[SOFTCE__GRAD_LOGITS] = grad_logits;
    return run_topk(SOFTCE__OP_FORWARD_BACKWARD, opts, s, rest);
}
