/*
 * bench_exp: the AVX-512 vector exp of the kernels (src/kernels/exp_avx512.h) next to SLEEF's
 * 1-ulp expf (Debian's libsleef-dev, when CMake found it), the choice docs/performance.md
 * explains. Both run the loop the kernels run: exp(x - m) summed into two accumulators, over
 * an L1-resident buffer, for two argument ranges: [-3.6, 0] (ordinary logits) and [-98, -80]
 * (far below the max, where part of the results fall below FLT_MIN). The implementations take
 * turns within each repetition; reported: the median time per 16 values and SLEEF / softce.
 * --accuracy also sweeps every float in [-87.3, 0] against expl (about 1.5 minutes each).
 *
 *   bench_exp [--reps N] [--accuracy]
 *
 * Needs an AVX-512 CPU at run time (exits 0 with a message otherwise). Not part of CTest.
 */
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "kernels/exp_avx512.h"

#ifdef SOFTCE_BENCH_HAVE_SLEEF
#include <sleef.h>
#endif

enum { BUF = 64 * 16, INNER = 20000, MAX_REPS = 101 };

typedef __m512 (*exp_fn)(__m512);

static __m512 exp_softce(__m512 x) { return softce__exp_le89_f32x16(x); }

#ifdef SOFTCE_BENCH_HAVE_SLEEF
static __m512 exp_sleef(__m512 x) { return Sleef_expf16_u10avx512f(x); }
#endif

static volatile float sink; /* keeps the sums alive */

/* Seconds per 16 values of exp(x - m) summed, over INNER passes of buf. The call through a
   pointer is inlined: fn is a compile-time constant at each call of this always_inline body. */
static inline __attribute__((always_inline)) double time_loop(const float *buf, exp_fn fn) {
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    double t0 = bench_now();
    for (int it = 0; it < INNER; it++) {
        const __m512 m = _mm512_set1_ps(0.01f * (float)(it & 1));
        for (int c = 0; c < BUF; c += 32) {
            acc0 = _mm512_add_ps(acc0, fn(_mm512_sub_ps(_mm512_load_ps(buf + c), m)));
            acc1 = _mm512_add_ps(acc1, fn(_mm512_sub_ps(_mm512_load_ps(buf + c + 16), m)));
        }
    }
    double dt = bench_now() - t0;
    sink += _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
    return dt / ((double)INNER * (BUF / 16));
}

static double time_softce(const float *buf) { return time_loop(buf, exp_softce); }
#ifdef SOFTCE_BENCH_HAVE_SLEEF
static double time_sleef(const float *buf) { return time_loop(buf, exp_sleef); }
#endif

static void throughput(int reps) {
    static float buf[BUF] __attribute__((aligned(64)));
    static const struct {
        const char *name;
        float base, step;
    } ranges[2] = {{"[-3.6, 0]", 0.0f, -0.1f}, {"[-98, -80]", -80.0f, -0.5f}};
    printf("%-12s %14s %14s %8s\n", "x - m", "softce ns/16", "sleef ns/16", "ratio");
    for (int r = 0; r < 2; r++) {
        for (int i = 0; i < BUF; i++)
            buf[i] = ranges[r].base + (float)(i % 37) * ranges[r].step;
        double ts[MAX_REPS];
#ifdef SOFTCE_BENCH_HAVE_SLEEF
        double tl[MAX_REPS];
#endif
        for (int k = 0; k < reps; k++) {
            ts[k] = time_softce(buf);
#ifdef SOFTCE_BENCH_HAVE_SLEEF
            tl[k] = time_sleef(buf);
#endif
        }
        const double ms = bench_median(ts, reps);
#ifdef SOFTCE_BENCH_HAVE_SLEEF
        const double ml = bench_median(tl, reps);
        printf("%-12s %14.3f %14.3f %8.2f\n", ranges[r].name, ms * 1e9, ml * 1e9, ml / ms);
#else
        printf("%-12s %14.3f %14s %8s\n", ranges[r].name, ms * 1e9, "-", "-");
#endif
    }
}

/* Error of got in ulps of the exact value ref (subnormal spacing below FLT_MIN). */
static double ulp_error(float got, long double ref) {
    int e;
    frexpl(ref, &e);
    long double ulp = ref < 0x1p-126L ? 0x1p-149L : ldexpl(1.0L, e - 24);
    return (double)(fabsl((long double)got - ref) / ulp);
}

static void sweep(const char *name, exp_fn fn) {
    double worst = 0.0;
    float at = 0.0f, x = -87.3f;
    int64_t count = 0;
    for (int done = 0; !done;) {
        float in[16], out[16];
        int n = 0;
        while (n < 16 && !done) {
            in[n++] = x;
            done = x == 0.0f;
            x = nextafterf(x, 1.0f);
        }
        for (int i = n; i < 16; i++)
            in[i] = 0.0f;
        _mm512_storeu_ps(out, fn(_mm512_loadu_ps(in)));
        for (int i = 0; i < n; i++) {
            double err = ulp_error(out[i], expl((long double)in[i]));
            if (err > worst)
                worst = err, at = in[i];
        }
        count += n;
    }
    printf("%-7s max error %.3f ulp at x = %.9g over %lld floats in [-87.3, 0]\n", name, worst,
           (double)at, (long long)count);
}

int main(int argc, char **argv) {
    int reps = 15, accuracy = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
            reps = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--accuracy")) {
            accuracy = 1;
        } else {
            fprintf(stderr, "usage: %s [--reps N] [--accuracy]\n", argv[0]);
            return 2;
        }
    }
    if (reps < 1 || reps > MAX_REPS) {
        fprintf(stderr, "--reps must be in 1..%d\n", MAX_REPS);
        return 2;
    }
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512dq")) {
        printf("bench_exp: this CPU has no AVX-512 F/DQ; nothing to measure\n");
        return 0;
    }
#ifndef SOFTCE_BENCH_HAVE_SLEEF
    printf("(built without SLEEF: install libsleef-dev and reconfigure to compare)\n");
#endif
    printf("# exp(x - m) + sum over a %d-float L1 buffer, median of %d reps\n", BUF, reps);
    throughput(reps);
    if (accuracy) {
        sweep("softce", exp_softce);
#ifdef SOFTCE_BENCH_HAVE_SLEEF
        sweep("sleef", exp_sleef);
#endif
    }
    return 0;
}
