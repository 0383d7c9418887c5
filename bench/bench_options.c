/*
 * bench_options: the cost of the 1.1 options on the training fast path. Times
 * softce_forward_backward (f32, mean, out-of-place gradient) side by side in one run:
 *   plain    no options
 *   options  z_loss = 1e-4, softcap = 30 and a sample weight per element (uniform in [0, 1])
 * for hard and soft targets, each shape and thread count, and prints the medians and the ratio
 * options / plain (the goal: <= 1.3). The two variants alternate within each repetition so
 * that noise from other load hits both alike.
 *
 *   bench_options [--reps N] [--threads 1,2] [--shapes 4096x32000,65536x1000] [--spread S]
 *                 [--outliers K]
 */
#include "bench.h"

#include <softce/softce.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { ALIGN = 64, MAX_LIST = 8 };

typedef struct problem {
    int64_t n, c;
    float *x, *grad, *soft, *sw;
    int64_t *hard;
    float loss;
} problem;

static uint64_t rng_next(uint64_t *s) {
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

static float rng_unit(uint64_t *s) { return (float)(rng_next(s) >> 40) * 0x1p-24f; }

static float *alloc_f32(int64_t count) {
    size_t bytes = ((size_t)count * sizeof(float) + ALIGN - 1) / ALIGN * ALIGN;
    return aligned_alloc(ALIGN, bytes ? bytes : ALIGN);
}

/* Logits uniform in [-spread, spread), by default [-30, 30): a quarter of them have |x| / 30 >=
   0.75, so every row takes the general vector tanh (its long polynomial; no lane reaches its exp
   branch at |x| / 30 >= 1), the widest spread at which the plain path's gradient entries stay
   above the denormal range (a wider one makes the plain path itself slow: --spread 40, where a
   quarter of the logits also take the exp branch, the worst case; see the report). --spread 4
   gives the other benchmarks' data ([-4, 4), every |x| / 30 < 0.75: a polynomial class of its
   own). --outliers K then sets every K-th logit (by a hash of its index: random positions) to
   +-25, the shape of real language-model rows with a softcap of 30: most logits small, a few
   near the cap, so that every row with one takes the general tanh. Soft rows sum to 1, hard
   targets and sample weights (in [0, 1)) are uniform. Every buffer is first-touched here. */
static float spread = 30.0f;
static int64_t outlier_every = 0;

static int problem_init(problem *p, int64_t n, int64_t c) {
    uint64_t s = 0x9E3779B97F4A7C15ull;
    int64_t numel = n * c;
    p->n = n, p->c = c;
    p->x = alloc_f32(numel), p->grad = alloc_f32(numel), p->soft = alloc_f32(numel);
    p->sw = alloc_f32(n);
    p->hard = malloc((size_t)n * sizeof *p->hard);
    if (!p->x || !p->grad || !p->soft || !p->sw || !p->hard)
        return -1;
    for (int64_t i = 0; i < numel; i++) {
        p->x[i] = 2.0f * spread * rng_unit(&s) - spread;
        const uint64_t h = (uint64_t)i * 0x9E3779B97F4A7C15ull;
        if (outlier_every > 0 && (h >> 33) % (uint64_t)outlier_every == 0)
            p->x[i] = (h >> 20) & 1 ? 25.0f : -25.0f;
        p->grad[i] = 0.0f;
    }
    for (int64_t r = 0; r < n; r++) {
        float *row = p->soft + r * c, sum = 0.0f;
        for (int64_t j = 0; j < c; j++)
            sum += row[j] = rng_unit(&s);
        for (int64_t j = 0; j < c; j++)
            row[j] /= sum;
        p->hard[r] = (int64_t)(rng_next(&s) % (uint64_t)c);
        p->sw[r] = rng_unit(&s);
    }
    return 0;
}

static void problem_free(problem *p) {
    free(p->x), free(p->grad), free(p->soft), free(p->sw), free(p->hard);
}

/* One timed call; returns seconds, or a negative value on error. */
static double run(problem *p, int soft, int with_options, int threads) {
    softce_options o;
    softce_options_init(&o);
    o.num_threads = threads;
    const int64_t shape[2] = {p->n, p->c};
    softce_tensor x, t, g, loss, sw;
    softce_tensor_init(&x, SOFTCE_DTYPE_F32, 2, shape, p->x);
    softce_tensor_init(&g, SOFTCE_DTYPE_F32, 2, shape, p->grad);
    if (soft)
        softce_tensor_init(&t, SOFTCE_DTYPE_F32, 2, shape, p->soft);
    else
        softce_tensor_init(&t, SOFTCE_DTYPE_I64, 1, shape, p->hard);
    softce_tensor_init(&loss, SOFTCE_DTYPE_F32, 0, NULL, &p->loss);
    softce_tensor_init(&sw, SOFTCE_DTYPE_F32, 1, shape, p->sw);
    if (with_options) {
        o.z_loss = 1e-4;
        o.softcap = 30.0;
        o.sample_weight = &sw;
    }
    double t0 = bench_now();
    softce_status st = softce_forward_backward(&o, &x, &t, NULL, &loss, &g);
    double t1 = bench_now();
    if (st != SOFTCE_OK) {
        fprintf(stderr, "softce_forward_backward: %s\n", softce_last_error());
        return -1.0;
    }
    return t1 - t0;
}

/* Parses "a,b,c" of integers (or AxB pairs when pairs) into out; returns the count. */
static int parse_list(const char *s, int64_t out[][2], int pairs) {
    int k = 0;
    while (*s && k < MAX_LIST) {
        char *end;
        out[k][0] = strtoll(s, &end, 10);
        out[k][1] = 0;
        if (pairs && *end == 'x')
            out[k][1] = strtoll(end + 1, &end, 10);
        k++;
        s = *end == ',' ? end + 1 : end;
        if (end == s && *s)
            break;
    }
    return k;
}

static int run_shape(int64_t n, int64_t c, int64_t threads[][2], int nthreads, int reps) {
    problem p;
    if (problem_init(&p, n, c) != 0) {
        fprintf(stderr, "out of memory for %lldx%lld\n", (long long)n, (long long)c);
        problem_free(&p);
        return -1;
    }
    const double gb = (double)n * (double)c * sizeof(float) * 1e-9;
    for (int soft = 0; soft <= 1; soft++) {
        for (int ti = 0; ti < nthreads; ti++) {
            int th = (int)threads[ti][0];
            double tp[64], to[64];
            if (run(&p, soft, 0, th) < 0 || run(&p, soft, 1, th) < 0) /* warm-up */
                return -1;
            for (int r = 0; r < reps; r++) {
                tp[r] = run(&p, soft, 0, th);
                to[r] = run(&p, soft, 1, th);
            }
            double mp = bench_median(tp, reps), mo = bench_median(to, reps);
            char name[48];
            snprintf(name, sizeof name, "%lldx%lld", (long long)n, (long long)c);
            printf("%-12s %-4s %7d %10.2f %10.2f %10.2f %9.2f %7.3f\n", name,
                   soft ? "soft" : "hard", th, mp * 1e3, mo * 1e3, gb / mp, gb / mo, mo / mp);
            fflush(stdout);
        }
    }
    problem_free(&p);
    return 0;
}

int main(int argc, char **argv) {
    int reps = 7;
    int64_t threads[MAX_LIST][2] = {{1, 0}, {2, 0}},
            shapes[MAX_LIST][2] = {{4096, 32000}, {65536, 1000}};
    int nthreads = 2, nshapes = 2;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            nthreads = parse_list(argv[++i], threads, 0);
        else if (strcmp(argv[i], "--shapes") == 0 && i + 1 < argc)
            nshapes = parse_list(argv[++i], shapes, 1);
        else if (strcmp(argv[i], "--spread") == 0 && i + 1 < argc)
            spread = (float)atof(argv[++i]);
        else if (strcmp(argv[i], "--outliers") == 0 && i + 1 < argc)
            outlier_every = atoll(argv[++i]);
        else {
            fprintf(stderr,
                    "usage: %s [--reps N] [--threads 1,2] [--shapes 4096x32000,...] "
                    "[--spread S] [--outliers K]\n",
                    argv[0]);
            return 2;
        }
    }
    if (reps < 1 || reps > 64)
        reps = reps < 1 ? 1 : 64;
    printf("# softce_forward_backward f32, mean, out of place; median of %d reps\n", reps);
    printf("# options = z_loss 1e-4 + softcap 30 + sample_weight U[0,1); logits U[-%g, %g)",
           (double)spread, (double)spread);
    if (outlier_every > 0)
        printf(", one in %lld at +-25", (long long)outlier_every);
    printf("\n");
    printf("%-12s %-4s %7s %10s %10s %9s %9s %7s\n", "shape", "tgt", "threads", "plain_ms",
           "opts_ms", "plain_GB/s", "opts_GB/s", "ratio");
    for (int s = 0; s < nshapes; s++)
        if (shapes[s][1] <= 0 ||
            run_shape(shapes[s][0], shapes[s][1], threads, nthreads, reps) != 0)
            return 1;
    return 0;
}
