/*
 * Independent double-precision reference of softmax cross-entropy, for tests only.
 * Written from the formulas of the specification (SPEC §2), not from src/.
 *
 * Arrays are dense and row-major in the logical layout: logits, soft targets and their
 * gradients are [n][c][s]; per-element values (hard targets, lse, loss for NONE) are [n][s],
 * where n is the batch size (1 for 1-D logits), c the number of classes and s the product of
 * the trailing dims d1..dk (1 when there are none).
 */
#ifndef SOFTCE_TESTS_REF_H
#define SOFTCE_TESTS_REF_H

#include <stdint.h>

enum { REF_MEAN = 1, REF_SUM = 2, REF_NONE = 3 };

typedef struct ref_problem {
    int64_t n, c, s;
    const double *x;      /* logits [n][c][s] */
    const int64_t *hard;  /* class indices [n][s], or NULL */
    const double *soft;   /* probabilities [n][c][s], or NULL (exactly one of hard/soft) */
    const double *weight; /* [c] or NULL */
    int reduction;        /* REF_MEAN, REF_SUM or REF_NONE */
    int64_t ignore_index; /* hard targets only */
    double eps;           /* label smoothing */
} ref_problem;

/** log_softmax along the class axis: y [n][c][s]. */
void ref_log_softmax(const ref_problem *p, double *y);

/** log-sum-exp of each element: lse [n][s]. */
void ref_lse(const ref_problem *p, double *lse);

/** Denominator of the mean (1 for SUM and NONE). */
double ref_denominator(const ref_problem *p);

/** Loss: [n][s] for REF_NONE, one value otherwise. */
void ref_loss(const ref_problem *p, double *loss);

/**
 * Gradients for the upstream gradient gout (NULL = 1; [n][s] for REF_NONE, else one value).
 * gx [n][c][s] (logits) and gq [n][c][s] (soft target) may each be NULL.
 */
void ref_grad(const ref_problem *p, const double *gout, double *gx, double *gq);

/**
 * Scale of the terms whose difference is the logits gradient: max over elements of
 * |g_e| / D * sum_c a_c (a: the effective weighted target). A gradient entry is a difference
 * of two numbers of at most this size, so errors are relative to it.
 */
double ref_grad_scale(const ref_problem *p, const double *gout);

#endif
