/*
 * API contract: versions, status names, struct layout, initialisers, last_error, and the
 * NULL_POINTER / STRUCT_SIZE / DTYPE / NDIM errors of every operand (the other errors are in
 * test_validate.c); each failing call must leave every buffer byte-for-byte untouched.
 */
#include "common/apifx.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- versions, names, layout, initialisers ------------------------------------------- */

static void test_version(void **state) {
    (void)state;
    char buf[32];
    snprintf(buf, sizeof buf, "%d.%d.%d", SOFTCE_VERSION_MAJOR, SOFTCE_VERSION_MINOR,
             SOFTCE_VERSION_PATCH);
    assert_string_equal(buf, SOFTCE_VERSION_STRING);
    assert_string_equal(softce_version_string(), SOFTCE_VERSION_STRING);
    assert_string_equal(softce_version_string(), "1.1.0");
    assert_int_equal(SOFTCE_VERSION_NUMBER, 10000);
    assert_int_equal(softce_version(), SOFTCE_VERSION_NUMBER);
}

static void test_status_names(void **state) {
    (void)state;
    static const char *const names[] = {"SOFTCE_OK",
                                        "SOFTCE_ERROR_NULL_POINTER",
                                        "SOFTCE_ERROR_STRUCT_SIZE",
                                        "SOFTCE_ERROR_DTYPE",
                                        "SOFTCE_ERROR_NDIM",
                                        "SOFTCE_ERROR_SHAPE",
                                        "SOFTCE_ERROR_STRIDE",
                                        "SOFTCE_ERROR_OVERFLOW",
                                        "SOFTCE_ERROR_OVERLAP",
                                        "SOFTCE_ERROR_OPTION",
                                        "SOFTCE_ERROR_TARGET",
                                        "SOFTCE_ERROR_OUT_OF_MEMORY",
                                        "SOFTCE_ERROR_INTERNAL"};
    assert_int_equal(SOFTCE_ERROR_INTERNAL, 12);
    for (int i = 0; i <= 12; i++) {
        assert_string_equal(softce_status_name((softce_status)i), names[i]);
        const char *s = softce_status_string((softce_status)i);
        assert_non_null(s);
        assert_true(strlen(s) > 0);
        assert_string_not_equal(s, "unknown status");
        for (int j = 0; j < i; j++)
            assert_string_not_equal(s, softce_status_string((softce_status)j));
    }
    const int unknown[] = {13, 100, -1};
    for (int i = 0; i < 3; i++) {
        assert_string_equal(softce_status_name((softce_status)unknown[i]), "SOFTCE_ERROR_UNKNOWN");
        assert_string_equal(softce_status_string((softce_status)unknown[i]), "unknown status");
    }
}

static void test_layout(void **state) {
    (void)state;
    assert_int_equal(SOFTCE_MAX_DIMS, 8);
    assert_int_equal(sizeof(softce_tensor), 152);
    assert_int_equal(offsetof(softce_tensor, struct_size), 0);
    assert_int_equal(offsetof(softce_tensor, dtype), 4);
    assert_int_equal(offsetof(softce_tensor, ndim), 8);
    assert_int_equal(offsetof(softce_tensor, reserved), 12);
    assert_int_equal(offsetof(softce_tensor, data), 16);
    assert_int_equal(offsetof(softce_tensor, shape), 24);
    assert_int_equal(offsetof(softce_tensor, strides), 88);
    assert_int_equal(sizeof(softce_options), 40);
    assert_int_equal(offsetof(softce_options, struct_size), 0);
    assert_int_equal(offsetof(softce_options, reduction), 4);
    assert_int_equal(offsetof(softce_options, ignore_index), 8);
    assert_int_equal(offsetof(softce_options, label_smoothing), 16);
    assert_int_equal(offsetof(softce_options, weight), 24);
    assert_int_equal(offsetof(softce_options, num_threads), 32);
    assert_int_equal(offsetof(softce_options, flags), 36);
    const int dt[] = {SOFTCE_DTYPE_INVALID, SOFTCE_DTYPE_F32, SOFTCE_DTYPE_F64, SOFTCE_DTYPE_F16,
                      SOFTCE_DTYPE_BF16,    SOFTCE_DTYPE_I32, SOFTCE_DTYPE_I64};
    for (int i = 0; i < 7; i++)
        assert_int_equal(dt[i], i);
    assert_int_equal(SOFTCE_REDUCTION_MEAN, 1);
    assert_int_equal(SOFTCE_REDUCTION_SUM, 2);
    assert_int_equal(SOFTCE_REDUCTION_NONE, 3);
}

static void test_options_init(void **state) {
    (void)state;
    softce_options o;
    memset(&o, 0xff, sizeof o);
    softce_options_init(&o);
    assert_int_equal(o.struct_size, sizeof(softce_options));
    assert_int_equal(o.reduction, SOFTCE_REDUCTION_MEAN);
    assert_int_equal(o.ignore_index, -100);
    assert_true(o.label_smoothing == 0.0);
    assert_null(o.weight);
    assert_int_equal(o.num_threads, 0);
    assert_int_equal(o.flags, 0);
    softce_options_init(NULL); /* must not crash */
}

static void expect_init_fails(softce_status want, softce_dtype dt, int32_t ndim,
                              const int64_t *shape, int line) {
    softce_tensor t, before;
    float data[4];
    memset(&t, 0x5a, sizeof t);
    before = t;
    softce_status st = softce_tensor_init(&t, dt, ndim, shape, data);
    _assert_int_equal(st, want, __FILE__, line);
    _assert_true(memcmp(&t, &before, sizeof t) == 0, "untouched", __FILE__, line);
    _assert_true(softce_last_error()[0] != '\0', "last_error set", __FILE__, line);
}

static void test_tensor_init(void **state) {
    (void)state;
    softce_tensor t;
    float data[24];
    const int64_t shape[3] = {2, 3, 4};
    memset(&t, 0x5a, sizeof t);
    assert_int_equal(softce_tensor_init(&t, SOFTCE_DTYPE_F32, 3, shape, data), SOFTCE_OK);
    assert_int_equal(t.struct_size, sizeof(softce_tensor));
    assert_int_equal(t.dtype, SOFTCE_DTYPE_F32);
    assert_int_equal(t.ndim, 3);
    assert_int_equal(t.reserved, 0);
    assert_ptr_equal(t.data, data);
    const int64_t strides[3] = {12, 4, 1};
    for (int k = 0; k < 3; k++) {
        assert_int_equal(t.shape[k], shape[k]);
        assert_int_equal(t.strides[k], strides[k]);
    }
    assert_int_equal(softce_tensor_init(&t, SOFTCE_DTYPE_I64, 0, NULL, data), SOFTCE_OK);
    assert_int_equal(t.ndim, 0);
    const int64_t empty[2] = {0, 5};
    assert_int_equal(softce_tensor_init(&t, SOFTCE_DTYPE_BF16, 2, empty, data), SOFTCE_OK);
    assert_int_equal(t.strides[0], 5);
    assert_int_equal(t.strides[1], 1);

    assert_int_equal(softce_tensor_init(NULL, SOFTCE_DTYPE_F32, 3, shape, data),
                     SOFTCE_ERROR_NULL_POINTER);
    expect_init_fails(SOFTCE_ERROR_NULL_POINTER, SOFTCE_DTYPE_F32, 2, NULL, __LINE__);
    expect_init_fails(SOFTCE_ERROR_DTYPE, SOFTCE_DTYPE_INVALID, 3, shape, __LINE__);
    expect_init_fails(SOFTCE_ERROR_DTYPE, (softce_dtype)7, 3, shape, __LINE__);
    expect_init_fails(SOFTCE_ERROR_NDIM, SOFTCE_DTYPE_F32, -1, shape, __LINE__);
    expect_init_fails(SOFTCE_ERROR_NDIM, SOFTCE_DTYPE_F32, 9, shape, __LINE__);
    const int64_t neg[2] = {2, -3}, huge[3] = {INT64_C(1) << 31, INT64_C(1) << 31, 4};
    expect_init_fails(SOFTCE_ERROR_SHAPE, SOFTCE_DTYPE_F32, 2, neg, __LINE__);
    expect_init_fails(SOFTCE_ERROR_OVERFLOW, SOFTCE_DTYPE_F32, 3, huge, __LINE__);
}

/* ---- failures: every status, outputs untouched --------------------------------------- */

static void test_last_error(void **state) {
    fx *f = *state;
    EXPECT(f, S(SOFTCE_ERROR_NULL_POINTER),
           softce_forward(NULL, NULL, &f->th.t, &f->loss0.t, NULL));
    EXPECT(f, S(SOFTCE_OK), softce_forward(NULL, &f->x.t, &f->th.t, &f->loss0.t, NULL));
    EXPECT(f, S(SOFTCE_ERROR_NULL_POINTER), softce_log_softmax(NULL, &f->x.t, NULL));
    EXPECT(f, S(SOFTCE_OK), softce_log_softmax(NULL, &f->x.t, &f->out.t));
    EXPECT(f, S(SOFTCE_ERROR_NULL_POINTER), softce_log_softmax(NULL, NULL, &f->out.t));
    EXPECT(f, S(SOFTCE_OK), softce_backward(NULL, &f->x.t, &f->th.t, NULL, NULL, &f->gx.t, NULL));
    EXPECT(f, S(SOFTCE_ERROR_NULL_POINTER),
           softce_forward_backward(NULL, &f->x.t, &f->th.t, NULL, NULL, NULL));
    EXPECT(f, S(SOFTCE_OK), softce_forward_backward(NULL, &f->x.t, &f->th.t, NULL, NULL, &f->gx.t));
}

static void test_null_pointers(void **state) {
    fx *f = *state;
    const unsigned np = S(SOFTCE_ERROR_NULL_POINTER);
    const softce_tensor *x = &f->x.t, *t = &f->th.t, *l = &f->loss0.t, *g = &f->gx.t;
    EXPECT(f, np, softce_forward(NULL, NULL, t, l, NULL));
    EXPECT(f, np, softce_forward(NULL, x, NULL, l, NULL));
    EXPECT(f, np, softce_forward(NULL, x, t, NULL, &f->lse.t));
    EXPECT(f, np, softce_backward(NULL, NULL, t, NULL, NULL, g, NULL));
    EXPECT(f, np, softce_backward(NULL, x, NULL, NULL, NULL, g, NULL));
    EXPECT(f, np, softce_backward(NULL, x, &f->ts.t, NULL, NULL, NULL, NULL));
    EXPECT(f, np, softce_forward_backward(NULL, NULL, t, NULL, l, g));
    EXPECT(f, np, softce_forward_backward(NULL, x, NULL, NULL, l, g));
    EXPECT(f, np, softce_forward_backward(NULL, x, t, NULL, l, NULL));
    EXPECT(f, np, softce_log_softmax(NULL, NULL, g));
    for (int i = 0; i < NSLOT; i++) { /* data NULL in a non-empty tensor */
        softce_tensor bad = fx_slot_buf(f, i)->t;
        bad.data = NULL;
        EXPECT_ALL(f, i, &bad, np);
    }
}

static void test_struct_size(void **state) {
    fx *f = *state;
    const unsigned ss = S(SOFTCE_ERROR_STRUCT_SIZE);
    for (int i = 0; i < NSLOT; i++) {
        softce_tensor bad = fx_slot_buf(f, i)->t;
        bad.struct_size = 0;
        EXPECT_ALL(f, i, &bad, ss);
        bad.struct_size = sizeof(softce_tensor) + 8;
        EXPECT_ALL(f, i, &bad, ss);
        bad.struct_size = sizeof(softce_tensor);
        bad.reserved = 1;
        EXPECT_ALL(f, i, &bad, ss);
    }
    const uint32_t sizes[] = {0, sizeof(softce_options) - 8, sizeof(softce_options) + 8};
    for (int i = 0; i < 3; i++) {
        softce_options o = f->o;
        o.struct_size = sizes[i];
        EXPECT(f, ss, softce_forward(&o, &f->x.t, &f->th.t, &f->loss0.t, NULL));
        EXPECT(f, ss, softce_backward(&o, &f->x.t, &f->th.t, NULL, NULL, &f->gx.t, NULL));
        EXPECT(f, ss, softce_forward_backward(&o, &f->x.t, &f->ts.t, NULL, NULL, &f->gx.t));
        EXPECT(f, ss, softce_log_softmax(&o, &f->x.t, &f->out.t));
    }
}

static void test_dtype(void **state) {
    fx *f = *state;
    const unsigned dt = S(SOFTCE_ERROR_DTYPE);
    for (int i = 0; i < NSLOT; i++) {
        softce_tensor bad = fx_slot_buf(f, i)->t;
        const int32_t invalid[] = {SOFTCE_DTYPE_INVALID, 7, -1};
        for (int j = 0; j < 3; j++) {
            bad.dtype = invalid[j];
            EXPECT_ALL(f, i, &bad, dt);
        }
        if (i == SLOT_T || i == SLOT_TS) /* the dtype decides hard vs soft */
            continue;
        bad.dtype = i == SLOT_W ? SOFTCE_DTYPE_F16 : SOFTCE_DTYPE_I32;
        EXPECT_ALL(f, i, &bad, dt);
        bad.dtype = i == SLOT_W ? SOFTCE_DTYPE_BF16 : SOFTCE_DTYPE_I64;
        EXPECT_ALL(f, i, &bad, dt);
    }
    /* grad_target requested for a hard target */
    EXPECT(f, ANY_ERROR, softce_backward(NULL, &f->x.t, &f->th.t, NULL, NULL, &f->gx.t, &f->gt.t));
}

static void test_ndim(void **state) {
    fx *f = *state;
    const unsigned nd = S(SOFTCE_ERROR_NDIM), nds = nd | S(SOFTCE_ERROR_SHAPE);
    for (int i = 0; i < NSLOT; i++) {
        softce_tensor bad = fx_slot_buf(f, i)->t;
        bad.ndim = 9;
        EXPECT_ALL(f, i, &bad, nd);
        bad.ndim = -1;
        EXPECT_ALL(f, i, &bad, nd);
        bad.ndim = fx_slot_buf(f, i)->t.ndim + 1; /* valid ndim, wrong for the operand */
        EXPECT_ALL(f, i, &bad, nds);
    }
    softce_tensor x0 = f->x.t;
    x0.ndim = 0; /* logits need a class axis */
    EXPECT_ALL(f, SLOT_X, &x0, nd);
    /* 8 dims is allowed */
    float buf[96];
    const int64_t s8[8] = {2, 3, 1, 2, 1, 2, 1, 2}, e7[7] = {2, 1, 2, 1, 2, 1, 2};
    softce_tensor x8, g8, t7, l7;
    int64_t t7v[16] = {0};
    for (int i = 0; i < 48; i++)
        buf[i] = (float)i * 0.1f;
    softce_tensor_init(&x8, SOFTCE_DTYPE_F32, 8, s8, buf);
    softce_tensor_init(&g8, SOFTCE_DTYPE_F32, 8, s8, buf + 48);
    softce_tensor_init(&t7, SOFTCE_DTYPE_I64, 7, e7, t7v);
    softce_tensor_init(&l7, SOFTCE_DTYPE_F32, 7, e7, f->pool.t.data);
    softce_options o = f->o;
    o.reduction = SOFTCE_REDUCTION_NONE;
    EXPECT(f, S(SOFTCE_OK), softce_forward(&o, &x8, &t7, &l7, NULL));
    EXPECT(f, S(SOFTCE_OK), softce_forward_backward(&o, &x8, &t7, NULL, &l7, &g8));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_status_names),
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_options_init),
        cmocka_unit_test(test_tensor_init),
        T(test_last_error),
        T(test_null_pointers),
        T(test_struct_size),
        T(test_dtype),
        T(test_ndim),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
