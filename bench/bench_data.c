/*
 * Problem buffers, the roofline pass and timing helpers of softce_bench (see bench.h).
 */
#include "bench.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { ALIGN = 64 };

/* xorshift64*: deterministic, fast, good enough for benchmark data. */
static uint64_t rng_next(uint64_t *s) {
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

/* Uniform in [0, 1) with 24 random bits. */
static float rng_unit(uint64_t *s) { return (float)(rng_next(s) >> 40) * 0x1p-24f; }

/* float -> bfloat16 bits, round to nearest even (inputs here are finite). */
static uint16_t to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    u += 0x7FFFu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static void store(void *base, softce_dtype dtype, int64_t i, float v) {
    if (dtype == SOFTCE_DTYPE_BF16)
        ((uint16_t *)base)[i] = to_bf16(v);
    else
        ((float *)base)[i] = v;
}

static void *alloc_bytes(size_t bytes) {
    size_t rounded = (bytes + ALIGN - 1) / ALIGN * ALIGN;
    return aligned_alloc(ALIGN, rounded ? rounded : ALIGN);
}

size_t bench_logits_bytes(const bench_problem *p) { return (size_t)p->numel * p->esize; }

/* Logits uniform in [-4, 4): no exp result comes near the denormal range. */
static void fill_logits(bench_problem *p, uint64_t seed) {
    for (int64_t i = 0; i < p->numel; ++i)
        store(p->logits, p->dtype, i, 8.0f * rng_unit(&seed) - 4.0f);
    memcpy(p->pristine, p->logits, bench_logits_bytes(p));
}

/* Soft target: each element's C probabilities (stride `inner` apart) sum to 1. */
static void fill_soft(bench_problem *p, uint64_t seed) {
    int64_t c_n = p->classes, inner = p->inner;
    float *row = malloc((size_t)c_n * sizeof *row);
    for (int64_t e = 0; e < p->rows; ++e) {
        int64_t base = (e / inner) * c_n * inner + e % inner;
        double sum = 0.0;
        for (int64_t c = 0; c < c_n; ++c) {
            row[c] = rng_unit(&seed) + 1e-3f;
            sum += row[c];
        }
        for (int64_t c = 0; c < c_n; ++c)
            store(p->soft, p->dtype, base + c * inner, (float)(row[c] / sum));
    }
    free(row);
}

static void fill_hard(bench_problem *p, uint64_t seed) {
    for (int64_t e = 0; e < p->rows; ++e)
        p->hard[e] = (int64_t)(rng_next(&seed) % (uint64_t)p->classes);
}

int bench_problem_init(bench_problem *p, const bench_shape *shape, softce_dtype dtype) {
    memset(p, 0, sizeof *p);
    p->shape = shape;
    p->dtype = dtype;
    p->esize = dtype == SOFTCE_DTYPE_BF16 ? 2 : 4;
    p->classes = shape->dims[1];
    p->inner = 1;
    for (int32_t k = 2; k < shape->ndim; ++k)
        p->inner *= shape->dims[k];
    p->rows = shape->dims[0] * p->inner;
    p->numel = p->rows * p->classes;
    size_t bytes = bench_logits_bytes(p);
    p->logits = alloc_bytes(bytes);
    p->pristine = alloc_bytes(bytes);
    p->grad = alloc_bytes(bytes);
    p->soft = alloc_bytes(bytes);
    p->hard = alloc_bytes((size_t)p->rows * sizeof *p->hard);
    if (!p->logits || !p->pristine || !p->grad || !p->soft || !p->hard) {
        bench_problem_free(p);
        return -1;
    }
    fill_logits(p, 0x9E3779B97F4A7C15ULL);
    fill_soft(p, 0xD1B54A32D192ED03ULL);
    fill_hard(p, 0x8CB92BA72F3D8DD7ULL);
    memset(p->grad, 0, bytes); /* first touch outside timing */
    return 0;
}

void bench_problem_free(bench_problem *p) {
    free(p->logits);
    free(p->pristine);
    free(p->grad);
    free(p->soft);
    free(p->hard);
    p->logits = p->pristine = p->grad = p->soft = NULL;
    p->hard = NULL;
}

void bench_restore(const bench_problem *p, int num_threads) {
    const size_t chunk = (size_t)1 << 20;
    size_t bytes = bench_logits_bytes(p);
    int64_t chunks = (int64_t)((bytes + chunk - 1) / chunk);
    char *dst = p->logits;
    const char *src = p->pristine;
#pragma omp parallel for schedule(static) num_threads(num_threads)
    for (int64_t k = 0; k < chunks; ++k) {
        size_t off = (size_t)k * chunk;
        size_t n = bytes - off < chunk ? bytes - off : chunk;
        memcpy(dst + off, src + off, n);
    }
}

/* Compiled for the best ISA the CPU has, so that the roofline is never compute-bound. */
__attribute__((target_clones("avx512f", "avx2", "default"))) static void
axpb_block(float *x, int64_t n, float a, float b) {
    for (int64_t i = 0; i < n; ++i)
        x[i] = x[i] * a + b;
}

__attribute__((target_clones("avx512f", "avx2", "default"))) static void
axpb_to(float *restrict g, const float *restrict x, int64_t n, float a, float b) {
    for (int64_t i = 0; i < n; ++i)
        g[i] = x[i] * a + b;
}

__attribute__((target_clones("avx512f", "avx2", "default"))) static void
add_to(float *restrict g, const float *restrict x, const float *restrict q, int64_t n) {
    for (int64_t i = 0; i < n; ++i)
        g[i] = x[i] + q[i];
}

enum { PASS_ROOFLINE, PASS_MOVE_HARD, PASS_MOVE_SOFT };

/* One streaming pass over the logits buffer's bytes (viewed as f32), in contiguous blocks per
   thread: the roofline in place, or a move pass into the gradient buffer. */
static double stream_pass(bench_problem *p, int kind, int num_threads) {
    /* Scale factors the compiler cannot fold; x * 0.5 + 1 keeps values normal and bounded. */
    volatile float va = 0.5f, vb = 1.0f;
    float a = va, b = vb;
    float *x = p->logits, *g = p->grad;
    const float *q = p->soft;
    int64_t n = (int64_t)(bench_logits_bytes(p) / sizeof(float));
    const int64_t block = 1 << 14;
    int64_t blocks = (n + block - 1) / block;
    double t0 = bench_now();
#pragma omp parallel for schedule(static) num_threads(num_threads)
    for (int64_t k = 0; k < blocks; ++k) {
        int64_t o = k * block, len = n - o < block ? n - o : block;
        if (kind == PASS_ROOFLINE)
            axpb_block(x + o, len, a, b);
        else if (kind == PASS_MOVE_HARD)
            axpb_to(g + o, x + o, len, a, b);
        else
            add_to(g + o, x + o, q + o, len);
    }
    return bench_now() - t0;
}

double bench_roofline_pass(bench_problem *p, int num_threads) {
    return stream_pass(p, PASS_ROOFLINE, num_threads);
}

double bench_move_pass(bench_problem *p, int soft, int num_threads) {
    return stream_pass(p, soft ? PASS_MOVE_SOFT : PASS_MOVE_HARD, num_threads);
}

double bench_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void bench_idle(double ms) {
    if (ms <= 0)
        return;
    struct timespec ts = {(time_t)(ms / 1e3), (long)(fmod(ms, 1e3) * 1e6)};
    while (nanosleep(&ts, &ts) != 0) /* interrupted: sleep the rest */
        ;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}
