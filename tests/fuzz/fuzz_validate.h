/*
 * Validation fuzzing: a call built from fuzz bytes (fuzz_validate.c) and an independent
 * model of the validation rules (validate_model.c) that predicts whether the call must
 * succeed, fail on a class index, or fail on anything else. The library must agree, never
 * touch an operand when it fails, and never write outside its output views when it succeeds.
 */
#ifndef SOFTCE_FUZZ_VALIDATE_H
#define SOFTCE_FUZZ_VALIDATE_H

#include <softce/softce.h>

#include <stddef.h>
#include <stdint.h>

/* Operand slots, in the library's validation order. */
enum { FV_X, FV_T, FV_W, FV_GL, FV_LSE_IN, FV_LOSS, FV_LSE_OUT, FV_GX, FV_GT, FV_NSLOT };

typedef enum fv_op { FV_FORWARD, FV_BACKWARD, FV_FUSED, FV_LOG_SOFTMAX, FV_TENSOR_INIT } fv_op;

typedef struct fv_call {
    fv_op op;
    int use_opts;
    softce_options o;
    int present[FV_NSLOT];
    softce_tensor t[FV_NSLOT]; /* FV_W is o.weight when present */
    /* softce_tensor_init arguments */
    int ti_null_t, ti_null_shape;
    int32_t ti_dtype, ti_ndim;
    int64_t ti_shape[SOFTCE_MAX_DIMS];
    void *ti_data;
} fv_call;

/* What the model predicts. */
typedef struct fv_expect {
    enum { FV_EXPECT_OK, FV_EXPECT_TARGET, FV_EXPECT_FAIL } kind;
    int64_t bad_index, bad_value; /* FV_EXPECT_TARGET */
    const char *why;              /* FV_EXPECT_FAIL: the first rule broken (for reports) */
} fv_expect;

/* Largest tensor the harness gives memory to; bigger ones get data = NULL. */
#define FV_MAX_NUMEL 4096
#define FV_MAX_BYTES (1 << 18)

/* Number of elements and one past the largest offset (elements); 0 if the layout itself is
   invalid (ndim, negative sizes or strides, int64 overflow) and sets *ok = 0. */
int64_t fv_span(const softce_tensor *t, int64_t *numel, int *ok);
/* Bytes per element of a known dtype, else 0. */
size_t fv_dtype_size(int32_t dtype);

fv_expect fv_model(const fv_call *c);

#endif
