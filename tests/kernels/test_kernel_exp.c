/*
 * The vectorised exp of each ISA against double exp (f32) and long double expl (f64): max ulp
 * error over the range the kernels use ([-87.3, 0] for f32 after subtracting the max; also
 * (0, ln FLT_MAX]), reported and required <= 2 ulp; flushing, -inf, NaN and overflow.
 * The kernels' variants for x - max (no overflow path; one also without the flush) against
 * the general exp, bit for bit on their ranges, and on NaN payloads and the flushed inputs.
 * Also the column kernels' log1p (log_avx512.h, log_avx2.h) against double log1p on t in
 * [FLT_MIN, 4096] (the kernel's t = s - 1 <= C - 1), required <= 2 ulp, and its specials
 * (+inf too).
 * `test_kernel_exp --exhaustive` checks every float in the range instead of a sample.
 */
#include <float.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "exp_probe.h"
#include "ktest.h"

typedef void (*exp32_fn)(const float *, float *, int64_t);
typedef void (*exp64_fn)(const double *, double *, int64_t);

typedef struct exp_isa {
    const char *name;
    softce__isa isa;
    exp32_fn f32;
    exp64_fn f64;
    exp32_fn le0; /* the kernels' exp of x - max (x <= 88.3 or NaN) */
    exp32_fn in;  /* the same without the flush (x in [-87.3, 88.3] or NaN) */
} exp_isa;

static const exp_isa isas[] = {
#ifdef SOFTCE_HAVE_AVX2
    {"avx2", SOFTCE__ISA_AVX2, probe_exp_f32_avx2, probe_exp_f64_avx2, probe_exp_le0_f32_avx2,
     probe_exp_in_f32_avx2},
#endif
#ifdef SOFTCE_HAVE_AVX512
    {"avx512", SOFTCE__ISA_AVX512, probe_exp_f32_avx512, probe_exp_f64_avx512,
     probe_exp_le0_f32_avx512, probe_exp_in_f32_avx512},
#endif
    {NULL, SOFTCE__ISA_SCALAR, NULL, NULL, NULL, NULL},
};

enum { BATCH = 4096 };
static uint32_t float_stride = 61; /* 1 with --exhaustive */

/* |y - ref| in units of the float spacing at ref (ref a normal float value). */
static double ulp_f32(float y, double ref) {
    int e;
    frexp(ref, &e);
    return fabs((double)y - ref) / ldexp(1.0, e - 24);
}

/* The batch of floats number done.. of the sweep from `from` in steps of float_stride: b of
   them (the rest repeat the first, so that fn always sees whole vectors). */
static int64_t sweep_batch(float *x, uint32_t from, uint64_t count, uint64_t done) {
    int64_t b = count - done < BATCH ? (int64_t)(count - done) : BATCH;
    for (int64_t i = 0; i < BATCH; i++)
        x[i] = f32_of_bits(from + (uint32_t)(done + (uint64_t)(i < b ? i : 0)) * float_stride);
    return b;
}

/* Max ulp error of fn against ref (in double) over the floats with bit patterns from..to
   (from <= to, same sign); fails on a subnormal or negative result. */
static double sweep_f32(exp32_fn fn, double (*ref)(double), uint32_t from, uint32_t to,
                        float *worst_x) {
    float x[BATCH], y[BATCH];
    double worst = 0.0;
    uint64_t count = (uint64_t)(to - from) / float_stride + 1;
    for (uint64_t done = 0; done < count; done += BATCH) {
        int64_t b = sweep_batch(x, from, count, done);
        fn(x, y, BATCH);
        for (int64_t i = 0; i < b; i++) {
            double r = ref((double)x[i]);
            if (r >= FLT_MIN && r <= FLT_MAX && ulp_f32(y[i], r) > worst) {
                worst = ulp_f32(y[i], r);
                *worst_x = x[i];
            }
            if (!(y[i] == 0.0f || y[i] >= FLT_MIN))
                fail_msg("f(%a) = %a is denormal or negative", (double)x[i], (double)y[i]);
        }
    }
    return worst;
}

/* Flushed below e^-87.3, -inf -> 0, NaN -> NaN, overflow -> +inf, exp(0) = 1. */
static void check_specials_f32(exp32_fn fn) {
    const float in[16] = {-INFINITY, NAN,  -87.31f, -88.0f,   -100.0f, -1e30f, 89.0f,   1e30f,
                          INFINITY,  0.0f, -0.0f,   -FLT_MAX, 88.73f,  -NAN,   -103.9f, 200.0f};
    const float want[16] = {0.0f,     NAN,  0.0f, 0.0f, 0.0f,     0.0f, INFINITY, INFINITY,
                            INFINITY, 1.0f, 1.0f, 0.0f, INFINITY, NAN,  0.0f,     INFINITY};
    float out[16];
    fn(in, out, 16);
    for (int i = 0; i < 16; i++)
        if (isnan(want[i]) ? !isnan(out[i]) : out[i] != want[i])
            fail_msg("exp(%a) = %a, want %a", (double)in[i], (double)out[i], (double)want[i]);
}

static void test_exp_f32(void **state) {
    const exp_isa *e = *state;
    if (e->isa > softce__cpu_isa())
        skip();
    check_specials_f32(e->f32);
    float wn = 0.0f, wp = 0.0f;
    double neg = sweep_f32(e->f32, exp, bits_of_f32(-0.0f), bits_of_f32(-87.3f), &wn);
    double pos = sweep_f32(e->f32, exp, bits_of_f32(FLT_MIN), bits_of_f32(88.72f), &wp);
    print_message("exp f32 %s (every %u-th float): max %.3f ulp on [-87.3, 0] (at %.9g), "
                  "%.3f ulp on (0, 88.72] (at %.9g)\n",
                  e->name, float_stride, neg, (double)wn, pos, (double)wp);
    assert_true(neg <= 2.0);
    assert_true(pos <= 2.0);
}

/* Every float_stride-th float with bits from..to (same sign): fn(x) has the bits of the
   general exp's result (the variants differ from it only outside their ranges). */
static void same_as_general(exp32_fn fn, exp32_fn general, const char *name, uint32_t from,
                            uint32_t to) {
    float x[BATCH], y[BATCH], want[BATCH];
    uint64_t count = (uint64_t)(to - from) / float_stride + 1;
    for (uint64_t done = 0; done < count; done += BATCH) {
        int64_t b = sweep_batch(x, from, count, done);
        fn(x, y, BATCH);
        general(x, want, BATCH);
        for (int64_t i = 0; i < b; i++)
            if (bits_of_f32(y[i]) != bits_of_f32(want[i]))
                fail_msg("%s(%a) = %a, the general exp gives %a", name, (double)x[i], (double)y[i],
                         (double)want[i]);
    }
}

/* The kernels' variants for x - max: the general exp's values on their ranges, NaN (any
   payload: the AVX2 variants take 2^n from n converted to an integer, which a NaN's payload
   bits cannot reach) -> NaN; le0 also flushes -inf and everything below -87.3 to 0. */
static void test_exp_f32_variants(void **state) {
    const exp_isa *e = *state;
    if (e->isa > softce__cpu_isa())
        skip();
    /* 16 values (the AVX-512 probes take 16 floats at a time; the AVX2 ones 8). */
    const uint32_t nans[16] = {0x7fc00000u, 0xffc00000u, 0x7fc00001u, 0x7fc001ffu,
                               0xffc00155u, 0x7f800001u, 0x7fffffffu, 0xff8000ffu,
                               0x7f800002u, 0xff800001u, 0x7fbfffffu, 0xffbfffffu,
                               0x7fd55555u, 0xffeaaaaau, 0x7f812345u, 0xfff00000u};
    float in[16], out[16];
    for (int i = 0; i < 16; i++)
        in[i] = f32_of_bits(nans[i]);
    for (int v = 0; v < 2; v++) {
        (v ? e->in : e->le0)(in, out, 16);
        for (int i = 0; i < 16; i++)
            if (!isnan(out[i]))
                fail_msg("%s %s(NaN 0x%08x) = %a", e->name, v ? "exp_in" : "exp_le0", nans[i],
                         (double)out[i]);
    }
    const float low[16] = {-INFINITY, -87.31f, -88.0f, -100.0f, -1e30f, -FLT_MAX, -103.9f, -87.5f,
                           -88.5f,    -89.0f,  -95.0f, -150.0f, -1e10f, -3e38f,   -104.0f, 0.0f};
    e->le0(low, out, 16);
    for (int i = 0; i < 15; i++)
        if (out[i] != 0.0f)
            fail_msg("%s exp_le0(%a) = %a, want 0", e->name, (double)low[i], (double)out[i]);
    assert_true(out[15] == 1.0f);
    same_as_general(e->le0, e->f32, "exp_le0", bits_of_f32(-0.0f), bits_of_f32(-87.3f));
    same_as_general(e->le0, e->f32, "exp_le0", bits_of_f32(0.0f), bits_of_f32(88.3f));
    same_as_general(e->in, e->f32, "exp_in", bits_of_f32(-0.0f), bits_of_f32(-87.3f));
    same_as_general(e->in, e->f32, "exp_in", bits_of_f32(0.0f), bits_of_f32(88.3f));
}

static void check_specials_f64(exp64_fn fn) {
    const double in[8] = {-INFINITY, NAN, -708.4, -1000.0, 710.0, INFINITY, 0.0, -1e300};
    const double want[8] = {0.0, NAN, 0.0, 0.0, INFINITY, INFINITY, 1.0, 0.0};
    double out[8];
    fn(in, out, 8);
    for (int i = 0; i < 8; i++)
        assert_true(isnan(want[i]) ? isnan(out[i]) : out[i] == want[i]);
}

static void test_exp_f64(void **state) {
    const exp_isa *e = *state;
    if (e->isa > softce__cpu_isa())
        skip();
    check_specials_f64(e->f64);
    uint64_t rng = 42;
    double x[BATCH], y[BATCH], worst = 0.0, wx = 0.0;
    for (int round = 0; round < 400; round++) {
        for (int i = 0; i < BATCH; i++) /* mostly [-708.3, 0], some (0, 709.7] */
            x[i] = i % 8 ? -708.3 * krand_unit(&rng) : 709.7 * krand_unit(&rng);
        e->f64(x, y, BATCH);
        for (int i = 0; i < BATCH; i++) {
            long double r = expl((long double)x[i]);
            int ex;
            frexpl(r, &ex);
            double err = (double)(fabsl((long double)y[i] - r) / ldexpl(1.0L, ex - 53));
            if (err > worst)
                worst = err, wx = x[i];
            if (!(y[i] == 0.0 || y[i] >= DBL_MIN))
                fail_msg("exp(%a) = %a is denormal or negative", x[i], y[i]);
        }
    }
    print_message("exp f64 %s (%d random points): max %.3f ulp (at %.17g)\n", e->name, 400 * BATCH,
                  worst, wx);
    assert_true(worst <= 2.0);
}

/* The column kernels' log1p of one ISA. */
typedef struct log1p_isa {
    const char *name;
    softce__isa isa;
    exp32_fn f32;
} log1p_isa;

static const log1p_isa log1p_isas[] = {
#ifdef SOFTCE_HAVE_AVX512
    {"avx512", SOFTCE__ISA_AVX512, probe_log1p_f32_avx512},
#endif
#ifdef SOFTCE_HAVE_AVX2
    {"avx2", SOFTCE__ISA_AVX2, probe_log1p_f32_avx2},
#endif
    {NULL, SOFTCE__ISA_SCALAR, NULL},
};

/* log1p: ulp error over every float_stride-th float of [FLT_MIN, 4096]; t = 0, tiny t
   (the result is t itself, through the rounding correction), -1 -> -inf, NaN -> NaN,
   +inf -> +inf. */
static void test_log1p_f32(void **state) {
    const log1p_isa *l = *state;
    if (l->isa > softce__cpu_isa())
        skip();
    const float in[16] = {0.0f, -1.0f, NAN,     FLT_MIN, 1e-30f, 1e-8f,    5.96e-8f, 0.5f,
                          1.0f, 63.0f, 4095.0f, -0.0f,   2e-7f,  1.19e-7f, 3.0f,     INFINITY};
    float out[16];
    l->f32(in, out, 16);
    assert_true(out[0] == 0.0f && !signbit(out[0]));
    assert_true(isinf(out[1]) && out[1] < 0.0f);
    assert_true(isnan(out[2]));
    assert_true(out[3] == FLT_MIN && out[4] == 1e-30f); /* log1p(t) rounds to t */
    assert_true(out[11] == 0.0f);
    assert_true(isinf(out[15]) && out[15] > 0.0f);
    for (int i = 5; i < 15; i++)
        if (i != 11 && ulp_f32(out[i], log1p((double)in[i])) > 2.0)
            fail_msg("log1p %s(%a) = %a, want %a", l->name, (double)in[i], (double)out[i],
                     log1p((double)in[i]));
    float wx = 0.0f;
    double worst = sweep_f32(l->f32, log1p, bits_of_f32(FLT_MIN), bits_of_f32(4096.0f), &wx);
    print_message("log1p f32 %s (every %u-th float): max %.3f ulp on [FLT_MIN, 4096] (at %.9g)\n",
                  l->name, float_stride, worst, (double)wx);
    assert_true(worst <= 2.0);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--exhaustive") == 0)
        float_stride = 1;
    struct CMUnitTest
        tests[3 * (sizeof isas / sizeof isas[0]) + sizeof log1p_isas / sizeof log1p_isas[0]];
    size_t count = 0;
    for (size_t i = 0; log1p_isas[i].name != NULL; i++) {
        struct CMUnitTest l = {"log1p_f32", test_log1p_f32, NULL, NULL, (void *)&log1p_isas[i]};
        tests[count++] = l;
    }
    for (size_t i = 0; isas[i].name != NULL; i++) {
        struct CMUnitTest a = {"exp_f32", test_exp_f32, NULL, NULL, (void *)&isas[i]};
        struct CMUnitTest b = {"exp_f64", test_exp_f64, NULL, NULL, (void *)&isas[i]};
        struct CMUnitTest c = {"exp_f32_variants", test_exp_f32_variants, NULL, NULL,
                               (void *)&isas[i]};
        tests[count++] = a;
        tests[count++] = b;
        tests[count++] = c;
    }
    if (count == 0) {
        print_message("no SIMD exp built: nothing to measure\n");
        return 0;
    }
    return _cmocka_run_group_tests("kernel_exp", tests, count, NULL, NULL);
}
