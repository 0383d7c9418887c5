/*
 * The SIMD row conversions (kernels.h: softce__convert, used by the driver's row staging) of
 * every ISA level compiled in and runnable here, bit for bit against conversions written here
 * independently in double arithmetic: bf16 -> f32 the bits shifted, f16 -> f32 exact (a NaN
 * quieted, as F16C does), f32 -> f16/bf16
 * round to nearest even (ties to even, overflow to inf, f16 subnormals, NaN quieted with its top
 * payload bits). Inputs: every 16-bit pattern, the f32 values at and around every rounding
 * midpoint, and random f32 bit patterns; whole arrays and short, unaligned rows for the tails.
 * Also dtype.c's per-element conversions against the same references.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"
#include "kconvert_ref.h"
#include "ktest.h"

typedef struct level {
    const char *name;
    softce__isa isa;
    const softce__convert *cv;
} level;

static const level levels[] = {
#ifdef SOFTCE_HAVE_AVX2
    {"avx2", SOFTCE__ISA_AVX2, &softce__convert_avx2},
#endif
#ifdef SOFTCE_HAVE_AVX512
    {"avx512", SOFTCE__ISA_AVX512, &softce__convert_avx512},
#endif
    {NULL, SOFTCE__ISA_SCALAR, NULL},
};

/* ---- inputs ---------------------------------------------------------------------------- */

static uint16_t *all_halves(void) {
    uint16_t *h = malloc(65536 * sizeof *h);
    for (uint32_t i = 0; i < 65536; i++)
        h[i] = (uint16_t)i;
    return h;
}

/* f32 values around every bf16 and f16 rounding point and random patterns; *n set. */
static float *narrow_inputs(int64_t *n) {
    const int64_t randoms = 1 << 20, cap = 65536 * 16 + randoms;
    float *v = malloc((size_t)cap * sizeof *v);
    int64_t k = 0;
    static const uint32_t bf16_offsets[] = {0, 1, 0x7fff, 0x8000, 0x8001, 0xffff};
    for (uint32_t h = 0; h < 65536; h++)
        for (size_t j = 0; j < sizeof bf16_offsets / sizeof bf16_offsets[0]; j++)
            v[k++] = f32_of_bits((h << 16) + bf16_offsets[j]);
    for (uint32_t h = 0; h < 0x7c00; h++) { /* finite non-negative halves and the midpoints */
        const double lo = f16_value((uint16_t)h),
                     hi = h + 1 < 0x7c00 ? f16_value((uint16_t)(h + 1)) : 65536.0;
        const float mid = (float)((lo + hi) / 2); /* exact: 12 significant bits at most */
        const float near[] = {(float)lo, mid, nextafterf(mid, 0.0f), nextafterf(mid, INFINITY)};
        for (size_t j = 0; j < sizeof near / sizeof near[0]; j++) {
            v[k++] = near[j];
            v[k++] = -near[j];
        }
    }
    uint64_t s = 0x5eedf00dull;
    for (int64_t i = 0; i < randoms && k < cap; i++)
        v[k++] = f32_of_bits((uint32_t)(krand_u64(&s) >> 32));
    *n = k;
    return v;
}

/* ---- checks ---------------------------------------------------------------------------- */

/* Rows of lengths 1..40 at offsets 0..3 (tails, unaligned), then the whole array. */
static void widen_check(const level *lv, int bf16, const uint16_t *h, int64_t n) {
    float *out = malloc((size_t)n * sizeof *out);
    int bad = 0;
    for (int64_t len = 1; len <= 40 && !bad; len++)
        for (int64_t off = 0; off < 4 && !bad; off++) {
            memset(out, 0xa5, (size_t)(len + 1) * sizeof *out);
            lv->cv->widen(bf16, h + off + 100 * len, len, out);
            for (int64_t i = 0; i < len; i++) {
                const uint16_t x = h[off + 100 * len + i];
                const uint32_t want = bf16 ? ref_bf16_widen(x) : ref_f16_widen(x);
                if (bits_of_f32(out[i]) != want && bad++ < 5)
                    print_error("%s widen %s len %lld: %04x -> %08x, want %08x\n", lv->name,
                                bf16 ? "bf16" : "f16", (long long)len, x, bits_of_f32(out[i]),
                                want);
            }
            if (bits_of_f32(out[len]) != 0xa5a5a5a5u && bad++ < 5)
                print_error("%s widen wrote past len %lld\n", lv->name, (long long)len);
        }
    lv->cv->widen(bf16, h, n, out);
    for (int64_t i = 0; i < n; i++) {
        const uint32_t want = bf16 ? ref_bf16_widen(h[i]) : ref_f16_widen(h[i]);
        if (bits_of_f32(out[i]) != want && bad++ < 5)
            print_error("%s widen %s: %04x -> %08x, want %08x\n", lv->name, bf16 ? "bf16" : "f16",
                        h[i], bits_of_f32(out[i]), want);
    }
    free(out);
    assert_int_equal(bad, 0);
}

static void narrow_check(const level *lv, int bf16, const float *v, int64_t n) {
    uint16_t *out = malloc((size_t)(n + 1) * sizeof *out);
    int bad = 0;
    for (int64_t len = 1; len <= 40 && !bad; len++)
        for (int64_t off = 0; off < 4 && !bad; off++) {
            memset(out, 0xa5, (size_t)(len + 1) * sizeof *out);
            lv->cv->narrow(bf16, v + off + 7919 * len, len, out);
            for (int64_t i = 0; i < len; i++) {
                const float x = v[off + 7919 * len + i];
                const uint16_t want = bf16 ? ref_bf16_narrow(x) : ref_f16_narrow(x);
                if (out[i] != want && bad++ < 5)
                    print_error("%s narrow %s len %lld: %08x -> %04x, want %04x\n", lv->name,
                                bf16 ? "bf16" : "f16", (long long)len, bits_of_f32(x), out[i],
                                want);
            }
            if (out[len] != 0xa5a5u && bad++ < 5)
                print_error("%s narrow wrote past len %lld\n", lv->name, (long long)len);
        }
    lv->cv->narrow(bf16, v, n, out);
    for (int64_t i = 0; i < n; i++) {
        const uint16_t want = bf16 ? ref_bf16_narrow(v[i]) : ref_f16_narrow(v[i]);
        if (out[i] != want && bad++ < 5)
            print_error("%s narrow %s: %08x -> %04x, want %04x\n", lv->name, bf16 ? "bf16" : "f16",
                        bits_of_f32(v[i]), out[i], want);
    }
    free(out);
    assert_int_equal(bad, 0);
}

static void test_simd_conversions(void **state) {
    (void)state;
    uint16_t *h = all_halves();
    int64_t nv;
    float *v = narrow_inputs(&nv);
    int ran = 0;
    for (size_t i = 0; levels[i].cv != NULL; i++) {
        if (levels[i].isa > softce__cpu_isa())
            continue;
        print_message("%s: %lld f32 inputs\n", levels[i].name, (long long)nv);
        for (int bf16 = 0; bf16 <= 1; bf16++) {
            widen_check(&levels[i], bf16, h, 65536);
            narrow_check(&levels[i], bf16, v, nv);
        }
        ran++;
    }
    free(h);
    free(v);
    if (!ran)
        skip();
}

/* dtype.c's per-element conversions (the scalar level's, and the staging of strided rows). */
static void test_software_conversions(void **state) {
    (void)state;
    int bad = 0;
    for (uint32_t i = 0; i < 65536; i++) {
        bad += bits_of_f32(softce__bf16_to_f32((uint16_t)i)) != ref_bf16_widen((uint16_t)i);
        bad += bits_of_f32(softce__f16_to_f32((uint16_t)i)) != ref_f16_widen((uint16_t)i);
    }
    int64_t nv;
    float *v = narrow_inputs(&nv);
    for (int64_t i = 0; i < nv; i++) {
        bad += softce__f32_to_bf16(v[i]) != ref_bf16_narrow(v[i]);
        bad += softce__f32_to_f16(v[i]) != ref_f16_narrow(v[i]);
    }
    free(v);
    assert_int_equal(bad, 0);
}

/* The active level's conversions are the ones dtype.c's row staging uses. */
static void test_active_converters(void **state) {
    (void)state;
    const softce__convert *want = NULL;
    for (size_t i = 0; levels[i].cv != NULL; i++)
        if (levels[i].isa == softce__active_isa())
            want = levels[i].cv;
    assert_ptr_equal(softce__converters(), want);
    /* a contiguous bf16 row staged by softce__gather gives the reference bits */
    uint16_t row[37];
    float out[37];
    for (int i = 0; i < 37; i++)
        row[i] = (uint16_t)(0x3f80 + 97 * i);
    softce__gather(SOFTCE_DTYPE_BF16, row, 1, 37, 0, out);
    for (int i = 0; i < 37; i++)
        assert_int_equal(bits_of_f32(out[i]), ref_bf16_widen(row[i]));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simd_conversions),
        cmocka_unit_test(test_software_conversions),
        cmocka_unit_test(test_active_converters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
