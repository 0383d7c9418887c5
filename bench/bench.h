/*
 * softce_bench internals: problem buffers, the roofline pass and timing helpers.
 * The sweep and the reporting live in softce_bench.c; the method in docs/performance.md.
 */
#ifndef SOFTCE_BENCH_H
#define SOFTCE_BENCH_H

#include <softce/softce.h>
#include <stddef.h>
#include <stdint.h>

/* A logits shape: (N, C) or (N, C, d...) with the class axis at dim 1. */
typedef struct bench_shape {
    const char *name;
    int32_t ndim;
    int64_t dims[4];
} bench_shape;

/* Every buffer of one (shape, dtype): allocated and first-touched once, outside timing. */
typedef struct bench_problem {
    const bench_shape *shape;
    softce_dtype dtype; /* of the logits and of the soft target */
    size_t esize;       /* bytes per logit */
    int64_t numel;      /* logits elements */
    int64_t rows;       /* elements of the loss: numel / C */
    int64_t classes;    /* C */
    int64_t inner;      /* product of the dims after the class axis (1 when row-major) */
    void *logits;       /* what the timed calls read (and, in place, overwrite) */
    void *pristine;     /* a copy of the initial logits, to restore between repetitions */
    void *grad;         /* out-of-place gradient */
    void *soft;         /* soft target: probabilities along the class axis, logits dtype */
    int64_t *hard;      /* hard target: class indices, element-shaped */
    float loss;         /* 0-d f32 output (mean reduction) */
} bench_problem;

/* Allocates and fills every buffer (deterministic data); 0 on success, -1 if out of memory. */
int bench_problem_init(bench_problem *p, const bench_shape *shape, softce_dtype dtype);
void bench_problem_free(bench_problem *p);
size_t bench_logits_bytes(const bench_problem *p);

/* Copies the pristine logits back (num_threads threads); never timed. */
void bench_restore(const bench_problem *p, int num_threads);

/* The roofline: x = x * a + b in place over the logits buffer's bytes (viewed as f32), a
 * streaming read+write pass with num_threads threads. Returns seconds. */
double bench_roofline_pass(bench_problem *p, int num_threads);

/* The data movement of an out-of-place fused call alone: one streaming pass that reads the
 * logits (and the soft target when soft is set) and writes the gradient buffer, with no compute
 * (g = x * a + b, or g = x + q), over the buffers' bytes viewed as f32, num_threads threads.
 * Returns seconds. (A hard call also reads its class indices, 8 bytes per row, left out.) A
 * lower bound only while the buffers stay in the cache: streamed from memory, the row kernels
 * ran faster than this naive pass (docs/performance.md, "Method": Move pass). */
double bench_move_pass(bench_problem *p, int soft, int num_threads);

/* Monotonic wall clock in seconds. */
double bench_now(void);

/* Sleeps ms milliseconds (nothing for ms <= 0): softce_bench --gap, an idle gap before each
 * timed pass during which the host's other tenants may take the shared cache. */
void bench_idle(double ms);

/* Median of n values (sorts v in place). */
double bench_median(double *v, int n);

#endif
