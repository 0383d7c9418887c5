/*
 * Random sharded cross-entropy problems for the shard tests (tests/shard/test_shard.c and the
 * MPI test mpi/tests/test_mpi.c): one full problem, its options, a split of the class axis
 * into uneven shards, descriptors of shard views, and comparisons against the unsharded
 * library. Deterministic from a seed, so every MPI rank builds the same problem.
 */
#ifndef SOFTCE_TESTS_SHARD_PROBLEM_H
#define SOFTCE_TESTS_SHARD_PROBLEM_H

#include <softce/softce.h>

#include <stdint.h>

#define SP_MAX_SHARDS 8

typedef struct sp_problem {
    int32_t dtype; /* logits: f32, f64 or bf16 */
    int soft, ndim;
    int64_t N, C, D, E; /* logits (C), (N, C) or (N, C, D); E elements */
    void *x;            /* logits, contiguous (N, C, D) */
    int64_t *t;         /* hard targets (E) */
    float *p;           /* soft targets (N, C, D) */
    double *w;          /* (C) class weights or NULL */
    float *prior;       /* (C) smoothing prior or NULL */
    double *sw;         /* (E) sample weights or NULL */
    double *gl;         /* upstream gradient: (E) for none, [0] otherwise */
    int use_gl, extras;
    softce_options o;   /* full options; weight/prior/sample_weight point at the tensors below */
    softce_tensor tw, tprior, tsw;
    int nshards;
    int64_t cut[SP_MAX_SHARDS + 1]; /* shard s: [cut[s], cut[s+1]) */
    char desc[256];
} sp_problem;

/* A random problem, options and split into 1..max_shards uneven shards. */
void sp_random(sp_problem *pb, uint64_t seed, int max_shards);
/* Re-cuts the class axis into exactly n shards (n <= C), uneven, from the seed. */
void sp_cut(sp_problem *pb, uint64_t seed, int n);
void sp_free(sp_problem *pb);

/* View of classes [c0, c0 + Cs) of a logits-shaped (N, C, D) buffer of dtype. */
softce_tensor sp_logits_view(const sp_problem *pb, void *data, int32_t dtype, int64_t c0,
                             int64_t Cs);
/* The target as given to the shard calls: hard = all class indices; soft = the slice. */
softce_tensor sp_target_view(const sp_problem *pb, int64_t c0, int64_t Cs);
softce_tensor sp_elem_view(const sp_problem *pb, void *data, int32_t dtype);
softce_tensor sp_stats_view(const sp_problem *pb, double *data);
/* 0-d for mean/sum, element-shaped for none (f64). */
softce_tensor sp_loss_view(const sp_problem *pb, double *data);
/* Options of shard [c0, c0 + Cs): weight and prior sliced (tensors written to *tw, *tp). */
softce_options sp_shard_options(const sp_problem *pb, int64_t c0, int64_t Cs, softce_tensor *tw,
                                softce_tensor *tp);

/* Unsharded results (f64 outputs). Returns the status of the first failing call. */
typedef struct sp_result {
    double *loss;   /* E (none) or 1 */
    double *lse;    /* E */
    double *gx;     /* N*C*D */
    double *gt;     /* N*C*D (soft) */
    int64_t *amax;  /* E */
    double *correct, *zl; /* E */
    double *loss_fb, *gx_fb; /* softce_forward_backward */
} sp_result;
void sp_result_alloc(const sp_problem *pb, sp_result *r);
void sp_result_free(sp_result *r);
softce_status sp_reference(const sp_problem *pb, sp_result *r);
/* All shards in this process: stats, combine in shard order, finalize, backward. */
softce_status sp_sharded(const sp_problem *pb, sp_result *r);

/* max |a - b| / max(|b|) over n values (NaN == NaN; a NaN mismatch gives +inf). */
double sp_normwise(const double *a, const double *b, int64_t n);
/* The same relative to max(max |b|, floor). */
double sp_normwise_floor(const double *a, const double *b, int64_t n, double floor);
/* |a - b| / |b| (NaN == NaN). */
double sp_relative(double a, double b);
/* |a - b| / max(|b|, floor). */
double sp_relative_floor(double a, double b, double floor);

#endif
