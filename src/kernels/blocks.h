/*
 * The running combine of fused_sums' blocks (kernels.h), in double, shared by the scalar and
 * SIMD tables. Each block b brings its max m_b and, relative to it, s_b = sum exp(x - m_b),
 * S_b = sum w q and U_b = sum w q (m_b - x) (>= 0). Relative to the running max M:
 *   s = sum_b s_b e^(m_b - M),  U = sum_b U_b + S_b (M - m_b)   (every term >= 0: no cancellation)
 * An all -inf block adds only S_b and U_b = sum w q (M - x) (+inf where w q != 0, whatever M).
 */
#ifndef SOFTCE_KERNELS_BLOCKS_H
#define SOFTCE_KERNELS_BLOCKS_H

#include <math.h>

#include "kernels/kernels.h"

typedef struct softce__blocks {
    double M, s, S, U;
    int bad; /* a block's max was +inf or NaN: the part's lse is {bad_m, NaN} */
    double bad_m;
} softce__blocks;

static inline void softce__blocks_init(softce__blocks *b) {
    b->M = -INFINITY;
    b->s = b->S = b->U = 0.0;
    b->bad = 0;
    b->bad_m = 0.0;
}

/* A block with a finite max m and its sums relative to m. */
static inline void softce__blocks_add(softce__blocks *b, double m, double s, double S, double U) {
    if (m > b->M) { /* earlier terms move to the new max (M = -inf: s is 0) */
        b->s = b->s == 0.0 ? 0.0 : b->s * exp(b->M - m);
        if (b->S != 0.0)
            b->U += b->S * (m - b->M);
        b->M = m;
    }
    b->s += m == b->M ? s : s * exp(m - b->M);
    b->U += U;
    if (S != 0.0 && m != b->M)
        b->U += S * (b->M - m);
    b->S += S;
}

/* An all -inf block: sum w q and sum w q (M - x) (infinite or 0, NaN for a NaN weight). */
static inline void softce__blocks_add_ninf(softce__blocks *b, double S, double U) {
    b->S += S;
    b->U += U;
}

static inline void softce__blocks_bad(softce__blocks *b, double m) {
    if (!b->bad)
        b->bad = 1, b->bad_m = m;
}

/* The part's lse, loss (S log s + U; U alone when S is 0) and sum w q. An all -inf part gives
   {-inf, 0} (its loss is recomputed by the caller against the row's lse). */
static inline softce__lse softce__blocks_end(const softce__blocks *b, double *loss,
                                             double *sum_wq) {
    softce__lse l = {b->M, 0.0};
    *sum_wq = b->S;
    if (b->bad) {
        l.hi = b->bad_m, l.lo = NAN;
        *loss = NAN;
        return l;
    }
    if (b->M == -INFINITY) {
        *loss = b->U;
        return l;
    }
    l.lo = log(b->s);
    *loss = b->S == 0.0 ? b->U : b->S * l.lo + b->U;
    return l;
}

#endif
