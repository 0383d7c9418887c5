/*
 * The header-only DLPack adapter (include/softce/softce_dlpack.h): dtype and device mapping,
 * DLTensor -> softce_tensor (NULL strides, strides, byte_offset, errors leave the output
 * untouched), softce_tensor -> DLTensor, and whole calls whose operands come from DLTensors,
 * checked against a double-precision reference written here. The header is also compiled as
 * C++ (test_dlpack_cxx.cpp).
 */
#include <softce/softce_dlpack.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <math.h>
#include <string.h>

int softce_dlpack_cxx_check(void); /* test_dlpack_cxx.cpp */

static DLTensor make_dl(void *data, int ndim, int64_t *shape, int64_t *strides, uint8_t code,
                        uint8_t bits) {
    DLTensor dl;
    memset(&dl, 0, sizeof dl);
    dl.data = data;
    dl.device.device_type = kDLCPU;
    dl.ndim = ndim;
    dl.dtype.code = code;
    dl.dtype.bits = bits;
    dl.dtype.lanes = 1;
    dl.shape = shape;
    dl.strides = strides;
    return dl;
}

static DLDataType dt(uint8_t code, uint8_t bits, uint16_t lanes) {
    DLDataType d;
    d.code = code;
    d.bits = bits;
    d.lanes = lanes;
    return d;
}

static void test_dtype_map(void **state) {
    (void)state;
    assert_int_equal(softce_dlpack_dtype(dt(kDLFloat, 32, 1)), SOFTCE_DTYPE_F32);
    assert_int_equal(softce_dlpack_dtype(dt(kDLFloat, 64, 1)), SOFTCE_DTYPE_F64);
    assert_int_equal(softce_dlpack_dtype(dt(kDLFloat, 16, 1)), SOFTCE_DTYPE_F16);
    assert_int_equal(softce_dlpack_dtype(dt(kDLBfloat, 16, 1)), SOFTCE_DTYPE_BF16);
    assert_int_equal(softce_dlpack_dtype(dt(kDLInt, 32, 1)), SOFTCE_DTYPE_I32);
    assert_int_equal(softce_dlpack_dtype(dt(kDLInt, 64, 1)), SOFTCE_DTYPE_I64);
    assert_int_equal(softce_dlpack_dtype(dt(kDLFloat, 32, 4)), SOFTCE_DTYPE_INVALID);
    assert_int_equal(softce_dlpack_dtype(dt(kDLFloat, 8, 1)), SOFTCE_DTYPE_INVALID);
    assert_int_equal(softce_dlpack_dtype(dt(kDLInt, 16, 1)), SOFTCE_DTYPE_INVALID);
    assert_int_equal(softce_dlpack_dtype(dt(kDLUInt, 32, 1)), SOFTCE_DTYPE_INVALID);
    assert_int_equal(softce_dlpack_dtype(dt(kDLBfloat, 32, 1)), SOFTCE_DTYPE_INVALID);
    assert_int_equal(softce_dlpack_dtype(dt(kDLComplex, 64, 1)), SOFTCE_DTYPE_INVALID);
    assert_int_equal(softce_dlpack_itemsize(SOFTCE_DTYPE_BF16), 2);
    assert_int_equal(softce_dlpack_itemsize(SOFTCE_DTYPE_I32), 4);
    assert_int_equal(softce_dlpack_itemsize(SOFTCE_DTYPE_F64), 8);
    assert_int_equal(softce_dlpack_itemsize(0), 0);
    assert_int_equal(softce_dlpack_itemsize(99), 0);
}

static void test_contiguous_and_strided(void **state) {
    (void)state;
    float buf[40];
    int64_t shape[3] = {2, 3, 4}, strides[3] = {1, 2, 6};
    DLTensor dl = make_dl(buf, 3, shape, NULL, kDLFloat, 32);
    softce_tensor t;
    assert_int_equal(softce_tensor_from_dlpack(&t, &dl), SOFTCE_OK);
    assert_int_equal(t.struct_size, sizeof(softce_tensor));
    assert_int_equal(t.dtype, SOFTCE_DTYPE_F32);
    assert_int_equal(t.ndim, 3);
    assert_int_equal(t.reserved, 0);
    assert_ptr_equal(t.data, buf);
    assert_int_equal(t.strides[0], 12);
    assert_int_equal(t.strides[1], 4);
    assert_int_equal(t.strides[2], 1);
    dl.strides = strides;
    dl.byte_offset = 3 * sizeof(float);
    assert_int_equal(softce_tensor_from_dlpack(&t, &dl), SOFTCE_OK);
    assert_ptr_equal(t.data, buf + 3);
    for (int k = 0; k < 3; k++) {
        assert_int_equal(t.shape[k], shape[k]);
        assert_int_equal(t.strides[k], strides[k]);
    }
    DLTensor scalar = make_dl(buf, 0, NULL, NULL, kDLFloat, 64);
    assert_int_equal(softce_tensor_from_dlpack(&t, &scalar), SOFTCE_OK);
    assert_int_equal(t.ndim, 0);
    assert_int_equal(t.dtype, SOFTCE_DTYPE_F64);
}

static void expect_error(DLTensor *dl, softce_status want) {
    softce_tensor t, before;
    memset(&t, 0xA5, sizeof t);
    before = t;
    assert_int_equal(softce_tensor_from_dlpack(&t, dl), want);
    assert_memory_equal(&t, &before, sizeof t);
}

static void test_errors(void **state) {
    (void)state;
    double buf[8];
    int64_t shape[2] = {2, 3}, big[2] = {INT64_MAX / 2, 3}, neg[2] = {2, -1};
    int64_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    softce_tensor t;
    DLTensor dl = make_dl(buf, 2, shape, NULL, kDLFloat, 64);
    assert_int_equal(softce_tensor_from_dlpack(NULL, &dl), SOFTCE_ERROR_NULL_POINTER);
    assert_int_equal(softce_tensor_from_dlpack(&t, NULL), SOFTCE_ERROR_NULL_POINTER);
    dl.device.device_type = kDLCUDA;
    expect_error(&dl, SOFTCE_ERROR_DTYPE);
    dl.device.device_type = kDLCUDAHost; /* pinned host memory: fine */
    assert_int_equal(softce_tensor_from_dlpack(&t, &dl), SOFTCE_OK);
    dl.device.device_type = kDLCPU;
    dl.dtype.lanes = 2;
    expect_error(&dl, SOFTCE_ERROR_DTYPE);
    dl.dtype.lanes = 1;
    dl.byte_offset = 4; /* half a double */
    expect_error(&dl, SOFTCE_ERROR_STRIDE);
    dl.byte_offset = 0;
    dl.shape = NULL;
    expect_error(&dl, SOFTCE_ERROR_NULL_POINTER);
    dl.shape = neg;
    expect_error(&dl, SOFTCE_ERROR_SHAPE);
    dl.shape = big;
    expect_error(&dl, SOFTCE_ERROR_OVERFLOW);
    dl.shape = nine;
    dl.ndim = 9;
    expect_error(&dl, SOFTCE_ERROR_NDIM);
    dl.ndim = -1;
    expect_error(&dl, SOFTCE_ERROR_NDIM);
}

static void test_to_dlpack_roundtrip(void **state) {
    (void)state;
    int64_t idx[6] = {0}, shape[2] = {2, 3};
    softce_tensor t, back;
    DLTensor dl = make_dl(NULL, 0, NULL, NULL, 0, 0);
    assert_int_equal(softce_tensor_init(&t, SOFTCE_DTYPE_I64, 2, shape, idx), SOFTCE_OK);
    assert_int_equal(softce_tensor_to_dlpack(&dl, &t), SOFTCE_OK);
    assert_int_equal(dl.device.device_type, kDLCPU);
    assert_int_equal(dl.dtype.code, kDLInt);
    assert_int_equal(dl.dtype.bits, 64);
    assert_int_equal(dl.dtype.lanes, 1);
    assert_ptr_equal(dl.shape, t.shape);
    assert_int_equal(softce_tensor_from_dlpack(&back, &dl), SOFTCE_OK);
    assert_memory_equal(back.shape, t.shape, sizeof t.shape);
    assert_memory_equal(back.strides, t.strides, sizeof t.strides);
    assert_ptr_equal(back.data, t.data);
    t.dtype = SOFTCE_DTYPE_BF16;
    assert_int_equal(softce_tensor_to_dlpack(&dl, &t), SOFTCE_OK);
    assert_int_equal(dl.dtype.code, kDLBfloat);
    assert_int_equal(dl.dtype.bits, 16);
    t.dtype = 0;
    assert_int_equal(softce_tensor_to_dlpack(&dl, &t), SOFTCE_ERROR_DTYPE);
    assert_int_equal(softce_tensor_to_dlpack(NULL, &t), SOFTCE_ERROR_NULL_POINTER);
}

/* Weighted sum loss over (N, C) logits x[n][c] and classes tgt[n], in double. */
static double ref_loss(int n_rows, int c, const double *x, const int32_t *tgt, const float *w) {
    double total = 0.0;
    for (int n = 0; n < n_rows; n++) {
        double m = -INFINITY, s = 0.0;
        for (int j = 0; j < c; j++)
            m = fmax(m, x[n * c + j]);
        for (int j = 0; j < c; j++)
            s += exp(x[n * c + j] - m);
        total += -(double)w[tgt[n]] * (x[n * c + tgt[n]] - (m + log(s)));
    }
    return total;
}

/* Logits stored class-major after a 2-element offset, int32 targets, f32 weights, f64 loss:
 * every operand of softce_forward comes from a DLTensor. */
static void test_forward_from_dlpack(void **state) {
    (void)state;
    enum { N = 3, C = 5 };
    double mem[2 + N * C], x[N * C], loss = 0.0;
    int32_t tgt[N] = {4, 0, 2};
    float w[C] = {1.0f, 0.5f, 2.0f, 1.5f, 0.25f};
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            mem[2 + c * N + n] = x[n * C + c] = sin(1.0 + n * C + c) * 3.0;
    int64_t xs[2] = {N, C}, xst[2] = {1, N}, ts[1] = {N}, ws[1] = {C};
    DLTensor dx = make_dl(mem, 2, xs, xst, kDLFloat, 64);
    dx.byte_offset = 2 * sizeof(double);
    DLTensor dt_ = make_dl(tgt, 1, ts, NULL, kDLInt, 32);
    DLTensor dw = make_dl(w, 1, ws, NULL, kDLFloat, 32);
    DLTensor dl = make_dl(&loss, 0, NULL, NULL, kDLFloat, 64);
    softce_tensor tx, tt, tw, tl;
    assert_int_equal(softce_tensor_from_dlpack(&tx, &dx), SOFTCE_OK);
    assert_int_equal(softce_tensor_from_dlpack(&tt, &dt_), SOFTCE_OK);
    assert_int_equal(softce_tensor_from_dlpack(&tw, &dw), SOFTCE_OK);
    assert_int_equal(softce_tensor_from_dlpack(&tl, &dl), SOFTCE_OK);
    softce_options opts;
    softce_options_init(&opts);
    opts.reduction = SOFTCE_REDUCTION_SUM;
    opts.weight = &tw;
    assert_int_equal(softce_forward(&opts, &tx, &tt, &tl, NULL), SOFTCE_OK);
    double want = ref_loss(N, C, x, tgt, w);
    assert_true(fabs(loss - want) <= 1e-12 * fmax(1.0, fabs(want)));

    /* In place through the same DLTensor: both descriptors are identical. */
    softce_tensor tg;
    assert_int_equal(softce_tensor_from_dlpack(&tg, &dx), SOFTCE_OK);
    assert_int_equal(softce_forward_backward(&opts, &tx, &tt, NULL, &tl, &tg), SOFTCE_OK);
    for (int n = 0; n < N; n++) {
        double m = -INFINITY, s = 0.0;
        for (int c = 0; c < C; c++)
            m = fmax(m, x[n * C + c]);
        for (int c = 0; c < C; c++)
            s += exp(x[n * C + c] - m);
        for (int c = 0; c < C; c++) {
            double p = exp(x[n * C + c] - m) / s;
            double g = w[tgt[n]] * (p - (c == tgt[n] ? 1.0 : 0.0));
            assert_true(fabs(mem[2 + c * N + n] - g) <= 1e-12);
        }
    }
}

/* bf16 and f16 logits through DLPack: [0, 1, 2] with target 2, mean. */
static void test_half_types(void **state) {
    (void)state;
    uint16_t bf16[3] = {0x0000, 0x3F80, 0x4000}, f16[3] = {0x0000, 0x3C00, 0x4000};
    int64_t tgt = 2, shape[1] = {3};
    float loss = 0.0f;
    const double want = log(1.0 + exp(1.0) + exp(2.0)) - 2.0;
    DLTensor dx = make_dl(bf16, 1, shape, NULL, kDLBfloat, 16);
    DLTensor dt_ = make_dl(&tgt, 0, NULL, NULL, kDLInt, 64);
    DLTensor dl = make_dl(&loss, 0, NULL, NULL, kDLFloat, 32);
    softce_tensor tx, tt, tl;
    assert_int_equal(softce_tensor_from_dlpack(&tt, &dt_), SOFTCE_OK);
    assert_int_equal(softce_tensor_from_dlpack(&tl, &dl), SOFTCE_OK);
    assert_int_equal(softce_tensor_from_dlpack(&tx, &dx), SOFTCE_OK);
    assert_int_equal(softce_forward(NULL, &tx, &tt, &tl, NULL), SOFTCE_OK);
    assert_true(fabs(loss - want) <= 1e-6);
    dx = make_dl(f16, 1, shape, NULL, kDLFloat, 16);
    loss = 0.0f;
    assert_int_equal(softce_tensor_from_dlpack(&tx, &dx), SOFTCE_OK);
    assert_int_equal(softce_forward(NULL, &tx, &tt, &tl, NULL), SOFTCE_OK);
    assert_true(fabs(loss - want) <= 1e-6);
}

static void test_cxx(void **state) {
    (void)state;
    assert_int_equal(softce_dlpack_cxx_check(), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dtype_map),
        cmocka_unit_test(test_contiguous_and_strided),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_to_dlpack_roundtrip),
        cmocka_unit_test(test_forward_from_dlpack),
        cmocka_unit_test(test_half_types),
        cmocka_unit_test(test_cxx),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
