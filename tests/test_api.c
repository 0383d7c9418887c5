/*
 * API contract: versions, status names, enumerator values, initialisers (both symbol versions
 * of softce_options_init), callers built against 1.0 (a 40-byte options struct), last_error,
 * and the NULL_POINTER / STRUCT_SIZE / DTYPE / NDIM errors of every operand (the other errors
 * are in test_validate.c); each failing call must leave every buffer byte-for-byte untouched.
 * The struct layout itself is pinned once, in tests/errors/test_layout.c.
 */
#define _GNU_SOURCE /* dlvsym, MAP_ANONYMOUS */
#include "common/apifx.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Size of softce_options in release 1.0 (the fields up to flags). */
#define OPTIONS_1_0_SIZE 40

/* ---- versions, names, enumerators, initialisers ------------------------------------------- */

static void test_version(void **state) {
    (void)state;
    char buf[32];
    snprintf(buf, sizeof buf, "%d.%d.%d", SOFTCE_VERSION_MAJOR, SOFTCE_VERSION_MINOR,
             SOFTCE_VERSION_PATCH);
    assert_string_equal(buf, SOFTCE_VERSION_STRING);
    assert_string_equal(softce_version_string(), SOFTCE_VERSION_STRING);
    assert_string_equal(softce_version_string(), "1.1.0");
    assert_int_equal(SOFTCE_VERSION_NUMBER, 10100);
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
                                        "SOFTCE_ERROR_INTERNAL",
                                        "SOFTCE_ERROR_EMPTY_MEAN"};
    assert_int_equal(SOFTCE_ERROR_INTERNAL, 12);
    assert_int_equal(SOFTCE_ERROR_EMPTY_MEAN, 13);
    for (int i = 0; i <= 13; i++) {
        assert_string_equal(softce_status_name((softce_status)i), names[i]);
        const char *s = softce_status_string((softce_status)i);
        assert_non_null(s);
        assert_true(strlen(s) > 0);
        assert_string_not_equal(s, "unknown status");
        for (int j = 0; j < i; j++)
            assert_string_not_equal(s, softce_status_string((softce_status)j));
    }
    const int unknown[] = {14, 100, -1};
    for (int i = 0; i < 3; i++) {
        assert_string_equal(softce_status_name((softce_status)unknown[i]), "SOFTCE_ERROR_UNKNOWN");
        assert_string_equal(softce_status_string((softce_status)unknown[i]), "unknown status");
    }
}

static void test_enum_values(void **state) {
    (void)state;
    const int dt[] = {SOFTCE_DTYPE_INVALID, SOFTCE_DTYPE_F32, SOFTCE_DTYPE_F64, SOFTCE_DTYPE_F16,
                      SOFTCE_DTYPE_BF16,    SOFTCE_DTYPE_I32, SOFTCE_DTYPE_I64};
    for (int i = 0; i < 7; i++)
        assert_int_equal(dt[i], i);
    assert_int_equal(SOFTCE_REDUCTION_MEAN, 1);
    assert_int_equal(SOFTCE_REDUCTION_SUM, 2);
    assert_int_equal(SOFTCE_REDUCTION_NONE, 3);
    /* 1.1 */
    assert_int_equal(SOFTCE_FLAG_KL, 1);
    assert_int_equal(SOFTCE_DENOMINATOR_AUTO, 0);
    assert_int_equal(SOFTCE_DENOMINATOR_VALID, 1);
    assert_int_equal(SOFTCE_DENOMINATOR_WEIGHTS, 2);
    assert_int_equal(SOFTCE_DENOMINATOR_ELEMENTS, 3);
    assert_int_equal(SOFTCE_DENOMINATOR_VALUE, 4);
    assert_int_equal(SOFTCE_EMPTY_NAN, 0);
    assert_int_equal(SOFTCE_EMPTY_ZERO, 1);
    assert_int_equal(SOFTCE_EMPTY_ERROR, 2);
    assert_int_equal(SOFTCE_SMOOTHING_UNIFORM, 0);
    assert_int_equal(SOFTCE_SMOOTHING_OTHERS, 1);
}

/* The 1.0 fields hold their defaults. */
static void assert_defaults_1_0(const softce_options *o) {
    assert_int_equal(o->reduction, SOFTCE_REDUCTION_MEAN);
    assert_int_equal(o->ignore_index, -100);
    assert_true(o->label_smoothing == 0.0 && !signbit(o->label_smoothing));
    assert_null(o->weight);
    assert_int_equal(o->num_threads, 0);
    assert_int_equal(o->flags, 0);
}

static void test_options_init(void **state) {
    (void)state;
    softce_options o;
    memset(&o, 0xff, sizeof o);
    softce_options_init(&o);
    assert_int_equal(o.struct_size, sizeof(softce_options));
    assert_defaults_1_0(&o);
    /* 1.1 fields: defaults that reproduce 1.0 */
    assert_true(o.z_loss == 0.0 && !signbit(o.z_loss));
    assert_true(o.softcap == 0.0 && !signbit(o.softcap));
    assert_true(o.logit_scale == 1.0);
    assert_null(o.sample_weight);
    assert_int_equal(o.denominator, SOFTCE_DENOMINATOR_AUTO);
    assert_int_equal(o.empty, SOFTCE_EMPTY_NAN);
    assert_true(o.denominator_value == 0.0);
    assert_int_equal(o.smoothing, SOFTCE_SMOOTHING_UNIFORM);
    assert_int_equal(o.reserved, 0);
    assert_null(o.smoothing_prior);
    assert_null(o.out_lse);
    assert_null(o.out_argmax);
    assert_null(o.out_correct);
    assert_null(o.out_z_loss);
    /* every byte is written (there is no padding: tests/errors/test_layout.c) */
    softce_options z;
    memset(&z, 0, sizeof z);
    softce_options_init(&z);
    assert_memory_equal(&o, &z, sizeof o);
    softce_options_init(NULL); /* must not crash */
}

/* softce_options_init@SOFTCE_1 (what programs built against 1.0 call) writes exactly the 40
   bytes of the 1.0 struct; the default version is SOFTCE_1.1. */
typedef void (*options_init_fn)(softce_options *);

static options_init_fn options_init_1_0(void) {
    void *sym = dlvsym(RTLD_DEFAULT, "softce_options_init", "SOFTCE_1");
    if (!sym)
        fail_msg("dlvsym(softce_options_init, SOFTCE_1): %s", dlerror());
    options_init_fn fn;
    memcpy(&fn, &sym, sizeof fn);
    return fn;
}

static void test_options_init_versions(void **state) {
    (void)state;
    void *v11 = dlvsym(RTLD_DEFAULT, "softce_options_init", "SOFTCE_1.1");
    void *def = dlsym(RTLD_DEFAULT, "softce_options_init");
    options_init_fn cur = softce_options_init, v10 = options_init_1_0();
    void *pcur, *pv10;
    memcpy(&pcur, &cur, sizeof pcur);
    memcpy(&pv10, &v10, sizeof pv10);
    assert_non_null(v11);
    assert_ptr_equal(v11, def);  /* the default version is SOFTCE_1.1 ... */
    assert_ptr_equal(v11, pcur); /* ... and it is what this program links to */
    assert_ptr_not_equal(pv10, pcur);
    assert_null(dlvsym(RTLD_DEFAULT, "softce_options_init", "SOFTCE_1.2"));
    /* other functions exist only at SOFTCE_1 */
    assert_non_null(dlvsym(RTLD_DEFAULT, "softce_forward", "SOFTCE_1"));
    assert_null(dlvsym(RTLD_DEFAULT, "softce_forward", "SOFTCE_1.1"));

    unsigned char buf[sizeof(softce_options) + 16];
    memset(buf, 0xa5, sizeof buf);
    v10((softce_options *)(void *)buf); /* a 1.0 caller: 40 bytes, then its own data */
    softce_options o;
    memcpy(&o, buf, OPTIONS_1_0_SIZE);
    assert_int_equal(o.struct_size, OPTIONS_1_0_SIZE);
    assert_defaults_1_0(&o);
    for (size_t i = OPTIONS_1_0_SIZE; i < sizeof buf; i++)
        if (buf[i] != 0xa5)
            fail_msg("softce_options_init@SOFTCE_1 wrote byte %zu (canary)", i);
    v10(NULL); /* must not crash */
}

/* Four calls with options `o` on the fixture; every output into `out` (f32, in order:
   loss, lse, grad_logits, grad_target, fused loss, fused grad, log_softmax). */
enum { RUN_FLOATS = 1 + FX_N + 2 * FX_N * FX_C + 1 + 2 * FX_N * FX_C };

static void run_all(fx *f, const softce_options *o, const softce_tensor *target, float *out) {
    const int64_t nc[2] = {FX_N, FX_C}, n[1] = {FX_N};
    softce_tensor loss, lse, gx, gt, floss, fgx, lsm;
    memset(out, 0x5a, sizeof(float) * RUN_FLOATS);
    float *p = out;
    softce_tensor_init(&loss, SOFTCE_DTYPE_F32, 0, NULL, p);
    softce_tensor_init(&lse, SOFTCE_DTYPE_F32, 1, n, p += 1);
    softce_tensor_init(&gx, SOFTCE_DTYPE_F32, 2, nc, p += FX_N);
    softce_tensor_init(&gt, SOFTCE_DTYPE_F32, 2, nc, p += FX_N * FX_C);
    softce_tensor_init(&floss, SOFTCE_DTYPE_F32, 0, NULL, p += FX_N * FX_C);
    softce_tensor_init(&fgx, SOFTCE_DTYPE_F32, 2, nc, p += 1);
    softce_tensor_init(&lsm, SOFTCE_DTYPE_F32, 2, nc, p += FX_N * FX_C);
    int soft = target->dtype == SOFTCE_DTYPE_F32;
    assert_int_equal(softce_forward(o, &f->x.t, target, &loss, &lse), SOFTCE_OK);
    assert_int_equal(softce_backward(o, &f->x.t, target, NULL, NULL, &gx, soft ? &gt : NULL),
                     SOFTCE_OK);
    assert_int_equal(softce_forward_backward(o, &f->x.t, target, NULL, &floss, &fgx), SOFTCE_OK);
    assert_int_equal(softce_log_softmax(o, &f->x.t, &lsm), SOFTCE_OK);
}

/* A program built against 1.0 passes a 40-byte struct filled by softce_options_init@SOFTCE_1:
   the library reads those 40 bytes only (the struct ends right before an inaccessible page)
   and the later fields take their defaults: the results equal those of a current struct with
   the same 1.0 fields, bit for bit. */
static void test_options_1_0_caller(void **state) {
    fx *f = *state;
    long page = sysconf(_SC_PAGESIZE);
    unsigned char *map =
        mmap(NULL, (size_t)(2 * page), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(map != MAP_FAILED);
    assert_int_equal(mprotect(map + page, (size_t)page, PROT_NONE), 0);
    softce_options *old = (softce_options *)(void *)(map + page - OPTIONS_1_0_SIZE);
    float *a = tu_alloc(sizeof(float) * RUN_FLOATS), *b = tu_alloc(sizeof(float) * RUN_FLOATS);
    for (int variant = 0; variant < 3; variant++) {
        options_init_1_0()(old);
        softce_options cur;
        softce_options_init(&cur);
        if (variant >= 1) { /* 1.0 fields other than the defaults */
            old->reduction = cur.reduction = SOFTCE_REDUCTION_SUM;
            old->label_smoothing = cur.label_smoothing = 0.125;
            old->weight = cur.weight = &f->w.t;
            old->num_threads = cur.num_threads = 1;
            old->ignore_index = cur.ignore_index = 3;
        }
        if (variant == 2) /* a 1.1 flag bit is honoured in a 40-byte struct (flags is 1.0) */
            old->flags = cur.flags = SOFTCE_FLAG_KL;
        for (int soft = 0; soft < 2; soft++) {
            const softce_tensor *t = soft ? &f->ts.t : &f->th.t;
            run_all(f, old, t, a);
            assert_string_equal(softce_last_error(), "");
            run_all(f, &cur, t, b);
            assert_memory_equal(a, b, sizeof(float) * RUN_FLOATS);
        }
    }
    /* the same 40 bytes followed by fields that would be invalid if they were read */
    unsigned char big[sizeof(softce_options)];
    memset(big, 0xff, sizeof big);
    memcpy(big, old, OPTIONS_1_0_SIZE);
    run_all(f, (const softce_options *)(const void *)big, &f->th.t, a);
    run_all(f, old, &f->th.t, b);
    assert_memory_equal(a, b, sizeof(float) * RUN_FLOATS);
    free(a);
    free(b);
    munmap(map, (size_t)(2 * page));
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
    /* only the 1.1 size (136) and the 1.0 size (40) are known */
    const uint32_t sizes[] = {0,  4,  32,  39,  41,  44,  48,   64,
                              72, 96, 128, 135, 137, 144, 1000, UINT32_MAX};
    for (int i = 0; i < (int)(sizeof sizes / sizeof sizes[0]); i++) {
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
        cmocka_unit_test(test_enum_values),
        cmocka_unit_test(test_options_init),
        cmocka_unit_test(test_options_init_versions),
        T(test_options_1_0_caller),
        cmocka_unit_test(test_tensor_init),
        T(test_last_error),
        T(test_null_pointers),
        T(test_struct_size),
        T(test_dtype),
        T(test_ndim),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
