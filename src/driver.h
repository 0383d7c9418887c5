/*
 * Shared by the driver stages: driver.c (threads, blocks, reduction), rows.c (one row at a
 * time) and tiles.c (tiles of positions, vectorised across positions).
 */
#ifndef SOFTCE_DRIVER_H
#define SOFTCE_DRIVER_H

#include "internal.h"
#include "kernels/kernels.h"

#include <string.h>

/* Position of an element: its index per element dim and its offset in every operand. */
typedef struct softce__cursor {
    int64_t idx[SOFTCE__MAX_EDIMS];
    int64_t off[SOFTCE__NUM_SLOTS];
} softce__cursor;

static inline void softce__cursor_seek(const softce__plan *p, softce__cursor *c, int64_t e) {
    memset(c, 0, sizeof *c);
    for (int d = p->ndim - 1; d >= 0; d--) {
        c->idx[d] = e % p->shape[d];
        e /= p->shape[d];
        for (int k = 0; k < p->nmoving; k++)
            c->off[p->moving[k]] += c->idx[d] * p->es[p->moving[k]][d];
    }
}

/* Moves to the next element (row-major order). */
static inline void softce__cursor_next(const softce__plan *p, softce__cursor *c) {
    for (int d = p->ndim - 1; d >= 0; d--) {
        for (int k = 0; k < p->nmoving; k++)
            c->off[p->moving[k]] += p->es[p->moving[k]][d];
        if (++c->idx[d] < p->shape[d])
            return;
        for (int k = 0; k < p->nmoving; k++)
            c->off[p->moving[k]] -= p->shape[d] * p->es[p->moving[k]][d];
        c->idx[d] = 0;
    }
}

/* Moves n elements forward (row-major order): one step when they stay in the innermost dim. */
static inline void softce__cursor_skip(const softce__plan *p, softce__cursor *c, int64_t n) {
    int d = p->ndim - 1;
    if (d >= 0 && c->idx[d] + n < p->shape[d]) {
        c->idx[d] += n;
        for (int k = 0; k < p->nmoving; k++)
            c->off[p->moving[k]] += n * p->es[p->moving[k]][d];
        return;
    }
    while (n-- > 0)
        softce__cursor_next(p, c);
}

static inline char *softce__slot_ptr(const softce__plan *p, int slot, int64_t off) {
    const softce_tensor *t = p->t[slot];
    return (char *)t->data + off * softce__dtype_size(t->dtype);
}

static inline void softce__store_elem(const softce__plan *p, int slot, const softce__cursor *c,
                                      double v) {
    const softce_tensor *t = p->t[slot];
    if (t)
        softce__store(t->dtype, t->data, c->off[slot], v);
}

/* Upstream gradient of an element (1 without grad_loss). */
static inline double softce__upstream(const softce__plan *p, const softce__cursor *c) {
    const softce_tensor *g = p->t[SOFTCE__GRAD_LOSS];
    return g ? softce__load(g->dtype, g->data, c->off[SOFTCE__GRAD_LOSS]) : 1.0;
}

/* Everything the threads need, shared read-only. */
typedef struct softce__context {
    const softce__plan *p;
    const softce__row_kernels *k;
    softce__col_kernel col; /* NULL: row mode */
    int tsize;              /* bytes of the compute type */
    int64_t block_rows;     /* elements per block */
    int64_t nblocks;
    double inv_d;           /* 1 / mean denominator (1 for sum/none) */
    double wsum;            /* sum of class weights (C without weights) */
    const void *w;          /* class weights in the compute type, or NULL */
    int x_direct, p_direct, gx_direct, gt_direct; /* row mode: use rows in place */
    int row16;     /* row mode: 16-bit rows through the ISA's fused16 (softce__row16_suitable) */
    int row16t;    /* row mode: 16-bit rows with a logit transform through fused16_t */
    int stream_gx; /* tiles: an out-of-place gradient of SOFTCE__STREAM_MIN_BYTES or more */
    size_t scratch_per_thread; /* bytes */
    char *scratch;
    double *block_loss;     /* per block partial sums */
    /* 1.1 options, prepared once per call by softce__rows_prepare() */
    void *prior;            /* smoothing prior in the compute type (contiguous), or NULL */
    double prior_wsum;      /* sum_i w_i prior_i */
    double kl_prior;        /* sum_i w_i xlogx(eps prior_i) (KL with a prior) */
} softce__context;

/* The z-loss term of an element before its sample weight: z_loss lse^2 (0 without z-loss). */
static inline double softce__z_term(const softce__plan *p, softce__lse lse) {
    const double l = softce__lse_value(lse);
    return p->z_loss != 0.0 ? p->z_loss * l * l : 0.0;
}

/* A gradient's softmax coefficient S (sum w q, + a hard target's spike) with z-loss's
   2 z_loss lse added; S itself without z-loss. */
static inline double softce__z_coef(const softce__plan *p, softce__lse lse, double S) {
    return p->z_loss != 0.0 ? S + 2.0 * p->z_loss * softce__lse_value(lse) : S;
}

/* Element i of a contiguous row in the compute type (tsize 4: float, 8: double), as double. */
static inline double softce__row_value(const softce__context *cx, const void *row, int64_t i) {
    return cx->tsize == 8 ? ((const double *)row)[i] : (double)((const float *)row)[i];
}

/* rows.c: elements [e0, e1) one row at a time; returns the sum of their losses. */
double softce__rows_block(const softce__context *cx, int64_t e0, int64_t e1, char *scratch);
size_t softce__rows_scratch(const softce__context *cx);
/* Per-call constants of the 1.1 options (after load_weights); released by rows_release. */
softce_status softce__rows_prepare(softce__context *cx);
void softce__rows_release(softce__context *cx);
int softce__row_direct(const softce__plan *p, int slot, int tsize);
int softce__row16_suitable(const softce__context *cx);
int softce__row16t_suitable(const softce__context *cx);

/* tiles.c: elements [e0, e1) in tiles across positions (cx->col set); returns the loss sum. */
double softce__tiles_block(const softce__context *cx, int64_t e0, int64_t e1, char *scratch);
size_t softce__tiles_scratch(const softce__context *cx);
int softce__tiles_suitable(const softce__plan *p);

/* Tile mode writes an out-of-place gradient of at least this many bytes by non-temporal stores
   (no read of its lines before the write; docs/performance-log.md): more than the last-level cache
   a core group shares on common x86 CPUs (32 MiB per Zen 3/4 CCD), so such a gradient would not
   stay in cache for the caller anyway. */
#define SOFTCE__STREAM_MIN_BYTES ((int64_t)32 << 20)

/* split.c: few rows x huge C, each row cut into fixed chunks (see split.c for the phases). */
#define SOFTCE__SPLIT_CHUNK 32768
#define SOFTCE__SPLIT_MIN_C 131072
#define SOFTCE__SPLIT_MAX_ROWS 64

typedef struct softce__split_row {
    softce__cursor cur;
    int64_t t;        /* hard target class, -1 for soft */
    int skip;         /* ignored (hard target == ignore_index) or masked (sample weight 0) */
    double s;         /* sample weight (1 without) */
    double g;         /* upstream gradient / D times s */
    softce__lse lse;
    double xt, spike, loss, swq;
    double zterm; /* the z-loss term s z_loss lse^2 (0 when skipped) */
} softce__split_row;

#define SOFTCE__SPLIT_BLOCKS (SOFTCE__SPLIT_CHUNK / SOFTCE__FUSED_BLOCK)

typedef struct softce__split_part {
    softce__lse lse;
    double loss, swq;
    int stored;                         /* phase A ran fused_sums into grad_logits: */
    double bmax[SOFTCE__SPLIT_BLOCKS];  /* per block, finite: e = exp(x - bmax) is stored */
} softce__split_part;

int softce__split_suitable(const softce__plan *p);
int64_t softce__split_chunks(const softce__plan *p);
void softce__split_row_init(const softce__context *cx, int64_t e, softce__split_row *row);
/* Phase A: a chunk's lse and its loss terms relative to it (swq = the chunk's sum w q). */
void softce__split_phase_a(const softce__context *cx, const softce__split_row *row, int64_t c0,
                           int64_t n, softce__split_part *part, char *scratch, char *keep);
/* Per row, in chunk order: the row lse and loss from the chunks' parts. */
void softce__split_combine_a(const softce__context *cx, softce__split_row *row,
                             const softce__split_part *parts, int64_t nchunks, char *scratch);
/* Phase B: a chunk's gradients (and log_softmax / grad_target) from the row's lse. */
void softce__split_phase_b(const softce__context *cx, const softce__split_row *row, int64_t c0,
                           int64_t n, softce__split_part *part, char *scratch, char *keep);
/* Bytes of staging scratch per thread (0 when every class-axis operand is direct). */
size_t softce__split_scratch(const softce__context *cx);
/* Bytes per item where a fused call keeps e between the phases when its gradient is staged
   (0: not kept). keep: that item's buffer (phase A and B of an item get the same one). */
size_t softce__split_keep(const softce__context *cx);

#endif
