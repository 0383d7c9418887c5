/*
 * ISA dispatch: the active tables are the best level compiled in and supported by the CPU,
 * lowered by SOFTCE_FORCE_ISA (registered with several values by CMakeLists.txt); the first
 * calls may race from many threads and must all see the same tables.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ktest.h"

enum { THREADS = 8 };

static softce__isa highest_compiled(void) {
#if defined(SOFTCE_HAVE_AVX512)
    return SOFTCE__ISA_AVX512;
#elif defined(SOFTCE_HAVE_AVX2)
    return SOFTCE__ISA_AVX2;
#else
    return SOFTCE__ISA_SCALAR;
#endif
}

/* Written independently of dispatch.c from its documented rules. */
static softce__isa expected_isa(void) {
    softce__isa want = softce__cpu_isa();
    if (highest_compiled() < want)
        want = highest_compiled();
    const char *env = getenv("SOFTCE_FORCE_ISA");
    if (env && strcmp(env, "scalar") == 0)
        want = SOFTCE__ISA_SCALAR;
    if (env && strcmp(env, "avx2") == 0 && want > SOFTCE__ISA_AVX2)
        want = SOFTCE__ISA_AVX2;
#ifndef SOFTCE_HAVE_AVX2
    if (want == SOFTCE__ISA_AVX2)
        want = SOFTCE__ISA_SCALAR;
#endif
    return want;
}

static const softce__row_kernels *expected_table(softce__isa isa, int f64) {
    for (size_t i = 0; ktables[i].k != NULL; i++)
        if (ktables[i].isa == isa && ktables[i].f64 == f64)
            return ktables[i].k;
    return f64 ? &softce__row_scalar_f64 : &softce__row_scalar_f32;
}

static pthread_barrier_t start;

static void *first_use(void *out) {
    pthread_barrier_wait(&start);
    ((const softce__row_kernels **)out)[0] = softce__kernels_f32();
    ((const softce__row_kernels **)out)[1] = softce__kernels_f64();
    return NULL;
}

/* Runs first: the very first calls come from THREADS threads at once. */
static void test_concurrent_first_use(void **state) {
    (void)state;
    pthread_t th[THREADS];
    const softce__row_kernels *got[THREADS][2];
    assert_int_equal(pthread_barrier_init(&start, NULL, THREADS), 0);
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, first_use, got[i]), 0);
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    pthread_barrier_destroy(&start);
    for (int i = 0; i < THREADS; i++) {
        assert_ptr_equal(got[i][0], expected_table(expected_isa(), 0));
        assert_ptr_equal(got[i][1], expected_table(expected_isa(), 1));
    }
}

static void test_active_isa(void **state) {
    (void)state;
    const char *env = getenv("SOFTCE_FORCE_ISA");
    print_message("cpu %s, active %s (SOFTCE_FORCE_ISA=%s)\n", softce__isa_name(softce__cpu_isa()),
                  softce__isa_name(softce__active_isa()), env ? env : "(unset)");
    assert_int_equal(softce__active_isa(), expected_isa());
    assert_ptr_equal(softce__kernels_f32(), expected_table(softce__active_isa(), 0));
    assert_ptr_equal(softce__kernels_f64(), expected_table(softce__active_isa(), 1));
}

static void test_isa_names(void **state) {
    (void)state;
    assert_string_equal(softce__isa_name(SOFTCE__ISA_SCALAR), "scalar");
    assert_string_equal(softce__isa_name(SOFTCE__ISA_AVX2), "avx2");
    assert_string_equal(softce__isa_name(SOFTCE__ISA_AVX512), "avx512");
    assert_string_equal(softce__isa_name((softce__isa)7), "unknown");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_first_use),
        cmocka_unit_test(test_active_isa),
        cmocka_unit_test(test_isa_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
