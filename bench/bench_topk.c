/*
 * bench_topk: the fused sparse top-k path against the dense soft path on the same problem.
 * Times, side by side in one run (f32 logits, mean reduction):
 *   topk   softce_topk_forward_backward with K (index, probability) pairs per row
 *   dense  softce_forward_backward with the equivalent dense soft target, materialised
 *          (N x C floats) outside timing
 * for rest = IGNORE and UNIFORM, out of place and in place (the gradient overwrites the logits,
 * restored from a pristine copy before every call, untimed), each thread count. The two
 * variants alternate within each repetition so that noise from other load hits both alike.
 * Prints the medians and the ratio topk / dense (the goal: <= 1).
 *
 *   bench_topk [--reps N] [--threads 1,2] [--shape 4096x32000] [--k 16]
 */
#include "bench.h"

#include <softce/softce.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { ALIGN = 64, MAX_REPS = 64, MAX_THREADS = 8 };

typedef struct problem {
    int64_t n, c, k;
    float *x, *pristine, *grad, *dense, *prob;
    int64_t *index;
    float loss;
} problem;

static uint64_t rng_next(uint64_t *s) {
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

static float rng_unit(uint64_t *s) { return (float)(rng_next(s) >> 40) * 0x1p-24f; }

static void *alloc_aligned(int64_t count, size_t size) {
    size_t bytes = ((size_t)count * size + ALIGN - 1) / ALIGN * ALIGN;
    return aligned_alloc(ALIGN, bytes ? bytes : ALIGN);
}


/* Logits N(0, 2)-ish uniform in [-8, 8); K distinct classes per row with probabilities summing
   to 0.9 (so that rest = UNIFORM has 0.1 to spread). Every buffer is first-touched here. */
static int problem_init(problem *p, int64_t n, int64_t c, int64_t k) {
    uint64_t s = 0x9E3779B97F4A7C15ull;
    int64_t numel = n * c;
    memset(p, 0, sizeof *p);
    p->n = n, p->c = c, p->k = k;
    p->x = alloc_aligned(numel, sizeof(float));
    p->pristine = alloc_aligned(numel, sizeof(float));
    p->grad = alloc_aligned(numel, sizeof(float));
    p->dense = alloc_aligned(numel, sizeof(float));
    p->prob = alloc_aligned(n * k, sizeof(float));
    p->index = alloc_aligned(n * k, sizeof(int64_t));
    if (!p->x || !p->pristine || !p->grad || !p->dense || !p->prob || !p->index)
        return -1;
    for (int64_t i = 0; i < numel; i++) {
        p->pristine[i] = p->x[i] = 16.0f * rng_unit(&s) - 8.0f;
        p->grad[i] = p->dense[i] = 0.0f;
    }
    for (int64_t r = 0; r < n; r++) {
        float sum = 0.0f, *pr = p->prob + r * k;
        int64_t *ix = p->index + r * k;
        for (int64_t j = 0; j < k; j++) {
            int64_t cls;
            int fresh;
            do { /* distinct classes: a top-k list */
                cls = (int64_t)(rng_next(&s) % (uint64_t)c);
                fresh = 1;
                for (int64_t t = 0; t < j; t++)
                    fresh &= ix[t] != cls;
            } while (!fresh);
            ix[j] = cls;
            sum += pr[j] = 0.05f + rng_unit(&s);
        }
        for (int64_t j = 0; j < k; j++)
            pr[j] *= 0.9f / sum;
    }
    return 0;
}

static void problem_free(problem *p) {
    free(p->x), free(p->pristine), free(p->grad), free(p->dense), free(p->prob), free(p->index);
}

/* The dense target equivalent to the top-k one for `rest` (docs/topk.md). */
static void materialise(problem *p, int rest) {
    for (int64_t r = 0; r < p->n; r++) {
        float *row = p->dense + r * p->c;
        const float *pr = p->prob + r * p->k;
        const int64_t *ix = p->index + r * p->k;
        double mass = 0.0;
        for (int64_t j = 0; j < p->k; j++)
            mass += pr[j];
        float share = rest == SOFTCE_TOPK_REST_UNIFORM && p->c > p->k
                          ? (float)((1.0 - mass) / (double)(p->c - p->k))
                          : 0.0f;
        for (int64_t i = 0; i < p->c; i++)
            row[i] = share;
        for (int64_t j = 0; j < p->k; j++)
            row[ix[j]] = pr[j];
    }
}

/* One timed call (in place: restore the logits first, untimed); seconds, < 0 on error. */
static double run(problem *p, int topk, int rest, int in_place, int threads) {
    softce_options o;
    softce_options_init(&o);
    o.num_threads = threads;
    const int64_t shape[2] = {p->n, p->c}, kshape[2] = {p->n, p->k};
    softce_tensor x, g, t, ti, tp, loss;
    softce_tensor_init(&x, SOFTCE_DTYPE_F32, 2, shape, p->x);
    softce_tensor_init(&g, SOFTCE_DTYPE_F32, 2, shape, in_place ? p->x : p->grad);
    softce_tensor_init(&t, SOFTCE_DTYPE_F32, 2, shape, p->dense);
    softce_tensor_init(&ti, SOFTCE_DTYPE_I64, 2, kshape, p->index);
    softce_tensor_init(&tp, SOFTCE_DTYPE_F32, 2, kshape, p->prob);
    softce_tensor_init(&loss, SOFTCE_DTYPE_F32, 0, NULL, &p->loss);
    if (in_place)
        memcpy(p->x, p->pristine, (size_t)(p->n * p->c) * sizeof(float));
    double t0 = bench_now();
    softce_status st = topk ? softce_topk_forward_backward(&o, &x, &ti, &tp, rest, NULL, &loss, &g)
                            : softce_forward_backward(&o, &x, &t, NULL, &loss, &g);
    double t1 = bench_now();
    if (st != SOFTCE_OK) {
        fprintf(stderr, "%s: %s\n",
                topk ? "softce_topk_forward_backward" : "softce_forward_backward",
                softce_last_error());
        return -1.0;
    }
    return t1 - t0;
}

/* Both paths give the same loss (a check that the benchmark compares like with like). */
static int same_loss(problem *p, int rest) {
    if (run(p, 1, rest, 0, 0) < 0)
        return 0;
    double a = p->loss;
    if (run(p, 0, rest, 0, 0) < 0)
        return 0;
    double b = p->loss;
    if (!(fabs(a - b) <= 1e-5 * fabs(b))) {
        fprintf(stderr, "loss mismatch (rest %d): topk %.9g dense %.9g\n", rest, a, b);
        return 0;
    }
    return 1;
}

static int bench(problem *p, const int *threads, int nthreads, int reps) {
    static const char *const rests[] = {"ignore", "uniform"};
    for (int rest = 0; rest <= 1; rest++) {
        materialise(p, rest);
        if (!same_loss(p, rest))
            return -1;
        for (int in_place = 0; in_place <= 1; in_place++) {
            for (int ti = 0; ti < nthreads; ti++) {
                int th = threads[ti];
                double tk[MAX_REPS], td[MAX_REPS];
                if (run(p, 1, rest, in_place, th) < 0 || run(p, 0, rest, in_place, th) < 0)
                    return -1;                   /* warm-up */
                for (int r = 0; r < reps; r++) { /* alternate; swap who goes first */
                    int first = r & 1;
                    double a = run(p, first, rest, in_place, th);
                    double b = run(p, !first, rest, in_place, th);
                    tk[r] = first ? a : b;
                    td[r] = first ? b : a;
                }
                double mk = bench_median(tk, reps), md = bench_median(td, reps);
                printf("%lldx%lld  %4lld  %-7s  %-6s  %7d  %9.1f  %9.1f  %6.3f\n", (long long)p->n,
                       (long long)p->c, (long long)p->k, rests[rest], in_place ? "in" : "out", th,
                       mk * 1e3, md * 1e3, mk / md);
                fflush(stdout);
            }
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    int reps = 7, threads[MAX_THREADS] = {1, 2}, nthreads = 2;
    long long n = 4096, c = 32000, k = 16;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
            reps = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            char *s = argv[++i], *end;
            for (nthreads = 0; *s && nthreads < MAX_THREADS; s = *end ? end + 1 : end) {
                threads[nthreads++] = (int)strtol(s, &end, 10);
                if (end == s)
                    break;
            }
        } else if (strcmp(argv[i], "--shape") == 0 && i + 1 < argc) {
            if (sscanf(argv[++i], "%lldx%lld", &n, &c) != 2)
                n = 0;
        } else if (strcmp(argv[i], "--k") == 0 && i + 1 < argc) {
            k = atoll(argv[++i]);
        } else {
            fprintf(stderr, "usage: %s [--reps N] [--threads 1,2] [--shape NxC] [--k K]\n",
                    argv[0]);
            return 2;
        }
    }
    if (n < 1 || c < 1 || k < 0 || k > c) {
        fprintf(stderr, "bad shape %lldx%lld or K %lld\n", n, c, k);
        return 2;
    }
    reps = reps < 1 ? 1 : reps > MAX_REPS ? MAX_REPS : reps;
    problem p;
    if (problem_init(&p, n, c, k) != 0) {
        fprintf(stderr, "out of memory for %lldx%lld\n", n, c);
        problem_free(&p);
        return 1;
    }
    printf("# forward_backward f32, mean; median of %d reps; ratio = topk / dense; isa %s\n", reps,
           softce_isa_name());
    printf("%-11s  %4s  %-7s  %-6s  %7s  %9s  %9s  %6s\n", "shape", "K", "rest", "grad", "threads",
           "topk_ms", "dense_ms", "ratio");
    int rc = bench(&p, threads, nthreads, reps) == 0 ? 0 : 1;
    problem_free(&p);
    return rc;
}
