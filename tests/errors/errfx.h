/*
 * Bad-input catalogue (docs/errors.md): the fixture every case starts from, one call of one
 * entry point described as data, and the catalogue table itself (cases.c).
 *
 * Every operand lives in one arena. A case copies a valid call, breaks one thing, makes the
 * call and must get the status and the exact message of its row in docs/errors.md, with the
 * whole arena (every input and output buffer) byte-for-byte unchanged.
 */
#ifndef SOFTCE_TESTS_ERRFX_H
#define SOFTCE_TESTS_ERRFX_H

#include <softce/softce.h>

#include <stddef.h>
#include <stdint.h>

#define EF_N 3         /* rows of the small problem */
#define EF_C 4         /* classes */
#define EF_BIG_N 20000 /* rows of the problem large enough to run on several threads */
#define EF_BIG_C 4

/* All memory a call can touch. Outputs start as a sentinel byte pattern. */
typedef struct ef_arena {
    float x[EF_N * EF_C + 32]; /* logits, with room for wider views of the same memory */
    int64_t th[EF_N];          /* hard target */
    float ts[EF_N * EF_C];     /* soft target */
    float w[EF_C + 4];         /* class weights */
    float gl0, gln[EF_N];      /* upstream gradients: 0-d and per element */
    float lse_in[EF_N];        /* lse read by backward */
    float loss0, lossn[EF_N], lse[EF_N];
    float gx[EF_N * EF_C], gt[EF_N * EF_C];
    float x3[2 * EF_C * 3]; /* (2, C, 3) logits */
    int32_t t3[2 * 3];      /* its hard target, stored column-major */
    /* 1.1 options: sample weights, smoothing prior, extra per-element outputs */
    float sw[EF_N], prior[EF_C + 4];
    float olse[EF_N], ocor[EF_N], ozl[EF_N];
    int64_t oarg[EF_N];
    float bx[EF_BIG_N * EF_BIG_C];
    int64_t bt[EF_BIG_N];
    float bgx[EF_BIG_N * EF_BIG_C];
    softce_tensor tinit; /* written by softce_tensor_init cases */
} ef_arena;

typedef enum ef_op { EF_FORWARD, EF_BACKWARD, EF_FUSED, EF_LOG_SOFTMAX, EF_TENSOR_INIT } ef_op;

/* One call: operands by value, and which of them are passed (NULL pointers otherwise). */
typedef struct ef_call {
    ef_op op;
    softce_options o;
    const softce_options *opts; /* &o or NULL */
    softce_tensor x, t, w, gl, lse_in, loss, lse, gx, gt;
    softce_tensor sw, prior, olse, oarg, ocor, ozl; /* 1.1: set into `o` by a case */
    const softce_tensor *px, *pt, *pgl, *plse_in, *ploss, *plse, *pgx, *pgt;
    /* softce_tensor_init arguments */
    int32_t ti_dtype, ti_ndim;
    int64_t ti_shape[SOFTCE_MAX_DIMS + 1];
    int ti_null_t, ti_null_shape;
} ef_call;

/* A catalogue row. */
typedef struct ef_case {
    const char *id;                          /* "E01" ... : the row of docs/errors.md */
    ef_op op;                                /* entry point of the base call */
    void (*breaks)(ef_call *c, ef_arena *a); /* makes the base call bad */
    softce_status status;
    const char *message; /* exact softce_last_error() */
} ef_case;

extern const ef_case ef_cases[];
extern const size_t ef_num_cases;

/* Fills the arena: finite inputs, sentinel outputs. */
void ef_arena_fill(ef_arena *a);
/* The valid call of `op` on the small problem (hard i64 target, default options). */
void ef_base_call(ef_call *c, ef_op op, ef_arena *a);
/* Makes the call; returns its status. */
softce_status ef_run(const ef_call *c, ef_arena *a);
/* Descriptor of a contiguous tensor (test-side helper, independent of softce_tensor_init). */
softce_tensor ef_tensor(softce_dtype dt, int ndim, const int64_t *shape, void *data);

#endif
