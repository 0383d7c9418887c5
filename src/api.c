/* Public entry points: each one validates, plans, then runs the driver. */
#include "internal.h"
#include "kernels/kernels.h"

#include <string.h>

unsigned softce_version(void) { return SOFTCE_VERSION_NUMBER; }

const char *softce_version_string(void) { return SOFTCE_VERSION_STRING; }

const char *softce_isa_name(void) { return softce__isa_name(softce__active_isa()); }

void softce_options_init(softce_options *opts) {
    if (!opts)
        return;
    memset(opts, 0, sizeof *opts);
    opts->struct_size = sizeof *opts;
    opts->reduction = SOFTCE_REDUCTION_MEAN;
    opts->ignore_index = -100;
    opts->label_smoothing = 0.0;
    opts->weight = NULL;
    opts->num_threads = 0;
    opts->flags = 0;
}

softce_status softce_tensor_init(softce_tensor *t, softce_dtype dtype, int32_t ndim,
                                 const int64_t *shape, void *data) {
    softce__clear_error();
    if (!t || (ndim > 0 && !shape))
        return softce__fail(SOFTCE_ERROR_NULL_POINTER, "softce_tensor_init: %s is NULL",
                            t ? "shape" : "t");
    if (softce__dtype_size(dtype) == 0)
        return softce__fail(SOFTCE_ERROR_DTYPE, "softce_tensor_init: unknown dtype %d",
                            (int)dtype);
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

static softce_status run(softce__op op, const softce_options *opts,
                         const softce_tensor *const slots[SOFTCE__NUM_SLOTS]) {
    softce__clear_error();
    softce__plan plan;
    softce_status st = softce__validate(op, opts, slots, &plan);
    return st == SOFTCE_OK ? softce__run(&plan) : st;
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
                                      const softce_tensor *loss,
                                      const softce_tensor *grad_logits) {
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
