/*
 * ABI layout of the public types on LP64, the one place it is pinned (docs/abi.md): the
 * offset and size of every field of softce_tensor and softce_options (1.0 fields and those
 * appended in 1.1), the struct sizes and alignment, and the size of the public enums.
 * tests/test_api.c checks the values (enumerators, defaults, the 1.0-sized options struct);
 * abi/check.sh compares the same facts with the committed libabigail baseline.
 */
#include <softce/softce.h>

#include <setjmp.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>

#define FIELD_SIZE(type, field) sizeof(((type *)0)->field)
#define FIELD(type, field, off, size)                                                              \
    { #field, offsetof(type, field), FIELD_SIZE(type, field), off, size }

typedef struct field_layout {
    const char *name;
    size_t offset, size;           /* as compiled */
    size_t want_offset, want_size; /* as pinned */
} field_layout;

/* Every field at its pinned offset and size, each one starting where the previous ends (no
   padding anywhere), and the last one ending at sizeof. */
static void check_fields(const char *type, const field_layout *f, size_t n, size_t size) {
    size_t end = 0;
    for (size_t i = 0; i < n; i++) {
        if (f[i].offset != f[i].want_offset || f[i].size != f[i].want_size)
            fail_msg("%s.%s: offset %zu size %zu, pinned offset %zu size %zu", type, f[i].name,
                     f[i].offset, f[i].size, f[i].want_offset, f[i].want_size);
        if (f[i].offset != end)
            fail_msg("%s.%s: starts at %zu, the previous field ends at %zu", type, f[i].name,
                     f[i].offset, end);
        end = f[i].offset + f[i].size;
    }
    if (end != size)
        fail_msg("%s: the fields end at %zu, sizeof is %zu", type, end, size);
}

static void test_tensor_layout(void **state) {
    (void)state;
    const field_layout f[] = {
        FIELD(softce_tensor, struct_size, 0, 4),
        FIELD(softce_tensor, dtype, 4, 4),
        FIELD(softce_tensor, ndim, 8, 4),
        FIELD(softce_tensor, reserved, 12, 4),
        FIELD(softce_tensor, data, 16, 8),
        FIELD(softce_tensor, shape, 24, 8 * SOFTCE_MAX_DIMS),
        FIELD(softce_tensor, strides, 88, 8 * SOFTCE_MAX_DIMS),
    };
    assert_int_equal(SOFTCE_MAX_DIMS, 8);
    assert_int_equal(sizeof(softce_tensor), 152);
    assert_int_equal(alignof(softce_tensor), 8);
    check_fields("softce_tensor", f, sizeof f / sizeof f[0], sizeof(softce_tensor));
}

static void test_options_layout(void **state) {
    (void)state;
    const field_layout f[] = {
        /* 1.0: 40 bytes */
        FIELD(softce_options, struct_size, 0, 4),
        FIELD(softce_options, reduction, 4, 4),
        FIELD(softce_options, ignore_index, 8, 8),
        FIELD(softce_options, label_smoothing, 16, 8),
        FIELD(softce_options, weight, 24, 8),
        FIELD(softce_options, num_threads, 32, 4),
        FIELD(softce_options, flags, 36, 4),
        /* appended in 1.1: 96 bytes */
        FIELD(softce_options, z_loss, 40, 8),
        FIELD(softce_options, softcap, 48, 8),
        FIELD(softce_options, logit_scale, 56, 8),
        FIELD(softce_options, sample_weight, 64, 8),
        FIELD(softce_options, denominator, 72, 4),
        FIELD(softce_options, empty, 76, 4),
        FIELD(softce_options, denominator_value, 80, 8),
        FIELD(softce_options, smoothing, 88, 4),
        FIELD(softce_options, reserved, 92, 4),
        FIELD(softce_options, smoothing_prior, 96, 8),
        FIELD(softce_options, out_lse, 104, 8),
        FIELD(softce_options, out_argmax, 112, 8),
        FIELD(softce_options, out_correct, 120, 8),
        FIELD(softce_options, out_z_loss, 128, 8),
    };
    assert_int_equal(sizeof(softce_options), 136);
    assert_int_equal(alignof(softce_options), 8);
    /* the 1.0 struct is a prefix: its last field ends at 40, the size 1.0 callers pass */
    assert_int_equal(offsetof(softce_options, flags) + FIELD_SIZE(softce_options, flags), 40);
    check_fields("softce_options", f, sizeof f / sizeof f[0], sizeof(softce_options));
}

static void test_enum_sizes(void **state) {
    (void)state;
    /* returned and passed by value: they must stay int-sized */
    assert_int_equal(sizeof(softce_status), 4);
    assert_int_equal(sizeof(softce_dtype), 4);
    assert_int_equal(sizeof(softce_reduction), 4);
    assert_int_equal(sizeof(softce_denominator), 4);
    assert_int_equal(sizeof(softce_empty), 4);
    assert_int_equal(sizeof(softce_smoothing), 4);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tensor_layout),
        cmocka_unit_test(test_options_layout),
        cmocka_unit_test(test_enum_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
