/* Shared helpers of the internal kernel tests: the SIMD tables this build and CPU can run,
   a deterministic RNG and ulp-aware comparisons. */
#ifndef SOFTCE_KTEST_H
#define SOFTCE_KTEST_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/row_simd.h"

typedef struct ktable {
    const char *name;
    softce__isa isa;
    int f64; /* compute type double */
    const softce__row_kernels *k;
} ktable;

/* Every SIMD table compiled into this test (whether or not the CPU can run it). */
static const ktable ktables[] = {
#ifdef SOFTCE_HAVE_AVX2
    {"avx2_f32", SOFTCE__ISA_AVX2, 0, &softce__row_avx2_f32},
    {"avx2_f64", SOFTCE__ISA_AVX2, 1, &softce__row_avx2_f64},
#endif
#ifdef SOFTCE_HAVE_AVX512
    {"avx512_f32", SOFTCE__ISA_AVX512, 0, &softce__row_avx512_f32},
    {"avx512_f64", SOFTCE__ISA_AVX512, 1, &softce__row_avx512_f64},
#endif
    {NULL, SOFTCE__ISA_SCALAR, 0, NULL}, /* keeps the array non-empty */
};

static inline int ktable_runnable(const ktable *t) {
    return t->k != NULL && t->isa <= softce__cpu_isa();
}

/* The bits of an f32 and back. */
static inline uint32_t bits_of_f32(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float f32_of_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* splitmix64 */
static inline uint64_t krand_u64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static inline double krand_unit(uint64_t *s) { return (double)(krand_u64(s) >> 11) * 0x1p-53; }

/* Roughly normal (sum of uniforms), mean 0, sd 1. */
static inline double krand_normal(uint64_t *s) {
    double t = 0.0;
    for (int i = 0; i < 4; i++)
        t += krand_unit(s);
    return (t - 2.0) * 1.7320508075688772;
}

/* a and b agree: both NaN, equal (incl. infinities), or |a - b| <= tol. */
static inline int kclose(double a, double b, double tol) {
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    if (a == b)
        return 1;
    return fabs(a - b) <= tol;
}

#endif
