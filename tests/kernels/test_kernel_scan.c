/*
 * The SIMD hard-target scans (kernels.h: softce__index_scan, used by the driver's pre-scan of
 * contiguous class indices) of every ISA level compiled in and runnable here, against a count
 * written here: runs of every length 0..80 and a few long ones, at every offset 0..3 (tails,
 * unaligned loads), random indices around [0, C) with the ignore_index mixed in, one bad index
 * planted at every position of short runs, and the corner values (C = 1, C above INT32_MAX for
 * int32, an ignore_index no int32 can hold, INT64_MIN / INT64_MAX, -1). Also that the active
 * level's scans are the ones softce__index_scans() returns.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kernels/row_simd.h"
#include "ktest.h"

typedef struct level {
    const char *name;
    softce__isa isa;
    const softce__index_scan *scan;
} level;

static const level levels[] = {
#ifdef SOFTCE_HAVE_AVX2
    {"avx2", SOFTCE__ISA_AVX2, &softce__index_scan_avx2},
#endif
#ifdef SOFTCE_HAVE_AVX512
    {"avx512", SOFTCE__ISA_AVX512, &softce__index_scan_avx512},
#endif
    {NULL, SOFTCE__ISA_SCALAR, NULL},
};

/* The reference: indices != ignore counted; bad if one of them is < 0 or >= C. */
static int64_t ref_scan(const int64_t *v, int64_t n, int64_t ignore, int64_t C, int *bad) {
    int64_t count = 0;
    *bad = 0;
    for (int64_t i = 0; i < n; i++) {
        if (v[i] == ignore)
            continue;
        count++;
        if (v[i] < 0 || v[i] >= C)
            *bad = 1;
    }
    return count;
}

enum { MAXN = 1100, OFFSETS = 4 };
static int printed; /* failures reported so far (the first 20) */

/* 1 if (got, bad) differs from (want, want_bad), reported for the first 20 failures. */
static int mismatch(const level *l, const char *type, int64_t n, int off, int64_t ignore, int64_t C,
                    int64_t got, int bad, int64_t want, int want_bad) {
    if (got == want && bad == want_bad)
        return 0;
    if (printed++ < 20)
        print_error("%s %s n=%lld off=%d ignore=%lld C=%lld: count %lld bad %d, want %lld %d\n",
                    l->name, type, (long long)n, off, (long long)ignore, (long long)C,
                    (long long)got, bad, (long long)want, want_bad);
    return 1;
}

/* Runs v[0..n) of one level, as int64 and (when every value fits) as int32, at offsets
   0..3 of the buffers; every result against the reference. */
static int check_run(const level *l, const int64_t *v, int64_t n, int64_t ignore, int64_t C) {
    static int64_t b64[MAXN + OFFSETS];
    static int32_t b32[MAXN + OFFSETS];
    int want_bad, fails = 0, fits = 1;
    const int64_t want = ref_scan(v, n, ignore, C, &want_bad);
    for (int64_t i = 0; i < n; i++)
        fits &= v[i] >= INT32_MIN && v[i] <= INT32_MAX;
    for (int off = 0; off < OFFSETS; off++) {
        memcpy(b64 + off, v, (size_t)n * sizeof *v);
        int bad = -1;
        int64_t got = l->scan->i64(b64 + off, n, ignore, C, &bad);
        fails += mismatch(l, "i64", n, off, ignore, C, got, bad, want, want_bad);
        if (!fits)
            continue;
        for (int64_t i = 0; i < n; i++)
            b32[off + i] = (int32_t)v[i];
        bad = -1;
        got = l->scan->i32(b32 + off, n, ignore, C, &bad);
        fails += mismatch(l, "i32", n, off, ignore, C, got, bad, want, want_bad);
    }
    return fails;
}

static void test_simd_scans(void **state) {
    (void)state;
    const int64_t big = (int64_t)INT32_MAX + 5;
    const int64_t ignores[] = {-100, 0, 2, -1, (int64_t)INT32_MAX + 1, INT64_MIN};
    const int64_t classes[] = {1, 3, 21, 1000, big, INT64_MAX};
    static int64_t v[MAXN];
    int ran = 0, fails = 0;
    uint64_t rng = 7;
    for (size_t li = 0; levels[li].name != NULL; li++) {
        const level *l = &levels[li];
        if (l->isa > softce__cpu_isa())
            continue;
        ran = 1;
        for (size_t ii = 0; ii < sizeof ignores / sizeof ignores[0]; ii++)
            for (size_t ci = 0; ci < sizeof classes / sizeof classes[0]; ci++) {
                const int64_t ignore = ignores[ii], C = classes[ci];
                const int64_t lens[] = {200, 1000, 1024, 1031, MAXN};
                for (int64_t n = 0; n <= 85; n++) {
                    const int64_t len = n <= 80 ? n : lens[n - 81];
                    /* valid indices, some ignored */
                    for (int64_t i = 0; i < len; i++) {
                        uint64_t r = krand_u64(&rng);
                        v[i] =
                            r % 5 == 0 ? ignore : (int64_t)((r >> 8) % (uint64_t)(C < 64 ? C : 64));
                        if (r % 7 == 1 && C > 64)
                            v[i] = C - 1;
                    }
                    fails += check_run(l, v, len, ignore, C);
                    /* one bad index planted (short runs: at every position) */
                    const int64_t bads[] = {-1,
                                            C,
                                            INT64_MIN,
                                            C == INT64_MAX ? -2 : INT64_MAX,
                                            -((int64_t)1 << 40),
                                            (int64_t)INT32_MIN};
                    for (int64_t at = 0; at < len; at += len <= 80 ? 1 : 97) {
                        const int64_t keep = v[at];
                        v[at] = bads[(uint64_t)at % (sizeof bads / sizeof bads[0])];
                        fails += check_run(l, v, len, ignore, C);
                        v[at] = keep;
                    }
                }
            }
    }
    if (!ran)
        skip();
    assert_int_equal(fails, 0);
}

/* The driver gets the active level's scans (NULL at the scalar level). */
static void test_active_scans(void **state) {
    (void)state;
    const softce__index_scan *want = NULL;
    for (size_t i = 0; levels[i].name != NULL; i++)
        if (levels[i].isa == softce__active_isa())
            want = levels[i].scan;
    assert_ptr_equal(softce__index_scans(), want);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simd_scans),
        cmocka_unit_test(test_active_scans),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
