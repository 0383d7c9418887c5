/*
 * ABI layout, completing tests/test_api.c (which pins sizes and offsets): the size of every
 * field, the alignment of the public structs and the size of the public enums, on LP64.
 * abi/check.sh compares the same facts with the committed libabigail baseline.
 */
#include <softce/softce.h>

#include <setjmp.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#define FIELD_SIZE(type, field) sizeof(((type *)0)->field)

static void test_tensor_fields(void **state) {
    (void)state;
    assert_int_equal(FIELD_SIZE(softce_tensor, struct_size), 4);
    assert_int_equal(FIELD_SIZE(softce_tensor, dtype), 4);
    assert_int_equal(FIELD_SIZE(softce_tensor, ndim), 4);
    assert_int_equal(FIELD_SIZE(softce_tensor, reserved), 4);
    assert_int_equal(FIELD_SIZE(softce_tensor, data), 8);
    assert_int_equal(FIELD_SIZE(softce_tensor, shape), 8 * SOFTCE_MAX_DIMS);
    assert_int_equal(FIELD_SIZE(softce_tensor, strides), 8 * SOFTCE_MAX_DIMS);
    assert_int_equal(alignof(softce_tensor), 8);
    /* no padding anywhere: the fields add up to the struct */
    assert_int_equal(4 * 4 + 8 + 2 * 8 * SOFTCE_MAX_DIMS, sizeof(softce_tensor));
}

static void test_options_fields(void **state) {
    (void)state;
    assert_int_equal(FIELD_SIZE(softce_options, struct_size), 4);
    assert_int_equal(FIELD_SIZE(softce_options, reduction), 4);
    assert_int_equal(FIELD_SIZE(softce_options, ignore_index), 8);
    assert_int_equal(FIELD_SIZE(softce_options, label_smoothing), 8);
    assert_int_equal(FIELD_SIZE(softce_options, weight), 8);
    assert_int_equal(FIELD_SIZE(softce_options, num_threads), 4);
    assert_int_equal(FIELD_SIZE(softce_options, flags), 4);
    assert_int_equal(alignof(softce_options), 8);
    assert_int_equal(4 + 4 + 8 + 8 + 8 + 4 + 4, sizeof(softce_options));
}

static void test_enum_sizes(void **state) {
    (void)state;
    /* returned and passed by value: they must stay int-sized */
    assert_int_equal(sizeof(softce_status), 4);
    assert_int_equal(sizeof(softce_dtype), 4);
    assert_int_equal(sizeof(softce_reduction), 4);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tensor_fields),
        cmocka_unit_test(test_options_fields),
        cmocka_unit_test(test_enum_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
