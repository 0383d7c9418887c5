/*
 * Independent double-precision reference of softmax cross-entropy, for tests only.
 * Written from the formulas of docs/numerics.md (and of its section "Options added in 1.1"),
 * not from src/.
 *
 * Arrays are dense and row-major in the logical layout: logits, soft targets and their
 * gradients are [n][c][s]; per-element values (hard targets, lse, loss for NONE, sample
 * weights, extra outputs) are [n][s], where n is the batch size (1 for 1-D logits), c the
 * number of classes and s the product of the trailing dims d1..dk (1 when there are none).
 */
#ifndef SOFTCE_TESTS_REF_H
#define SOFTCE_TESTS_REF_H

#include <stdint.h>

enum { REF_MEAN = 1, REF_SUM = 2, REF_NONE = 3 };
/* Mean denominators, empty-mean results and smoothing kinds (values of the public enums). */
enum { REF_DEN_AUTO = 0, REF_DEN_VALID, REF_DEN_WEIGHTS, REF_DEN_ELEMENTS, REF_DEN_VALUE };
enum { REF_EMPTY_NAN = 0, REF_EMPTY_ZERO = 1 };
enum { REF_SMOOTH_UNIFORM = 0, REF_SMOOTH_OTHERS = 1 };

/* The options added in 1.1. A zeroed struct is NOT the default: use ref_ext_init(). */
typedef struct ref_ext {
    double z_loss;               /* >= 0 */
    double softcap;              /* 0 = off */
    double logit_scale;          /* 1 = off */
    const double *sample_weight; /* [n][s], or NULL (= 1) */
    int denominator;             /* REF_DEN_* */
    double denominator_value;    /* for REF_DEN_VALUE */
    int empty;                   /* REF_EMPTY_* */
    int smoothing;               /* REF_SMOOTH_* */
    const double *prior;         /* [c], or NULL (uniform) */
    int kl;                      /* loss = KL(q || softmax) instead of the cross-entropy */
} ref_ext;

typedef struct ref_problem {
    int64_t n, c, s;
    const double *x;      /* logits [n][c][s] */
    const int64_t *hard;  /* class indices [n][s], or NULL */
    const double *soft;   /* probabilities [n][c][s], or NULL (exactly one of hard/soft) */
    const double *weight; /* [c] or NULL */
    int reduction;        /* REF_MEAN, REF_SUM or REF_NONE */
    int64_t ignore_index; /* hard targets only */
    double eps;           /* label smoothing */
    const ref_ext *ext;   /* NULL: the defaults (the behaviour of 1.0) */
} ref_problem;

/** The defaults of the 1.1 options (no z-loss, no softcap, scale 1, AUTO, NAN, UNIFORM). */
void ref_ext_init(ref_ext *e);

/** log_softmax of the raw logits along the class axis: y [n][c][s] (softce_log_softmax
    uses none of the 1.1 options). */
void ref_log_softmax(const ref_problem *p, double *y);

/** log-sum-exp of each element's transformed logits z: lse [n][s]. */
void ref_lse(const ref_problem *p, double *lse);

/** Denominator of the mean (1 for SUM and NONE); may be 0. */
double ref_denominator(const ref_problem *p);

/** Loss: [n][s] for REF_NONE, one value otherwise. */
void ref_loss(const ref_problem *p, double *loss);

/**
 * Gradients for the upstream gradient gout (NULL = 1; [n][s] for REF_NONE, else one value).
 * gx [n][c][s] (logits) and gq [n][c][s] (soft target) may each be NULL.
 */
void ref_grad(const ref_problem *p, const double *gout, double *gx, double *gq);

/**
 * Extra per-element outputs [n][s] (each may be NULL): argmax of the raw logits (first index;
 * a NaN counts as largest), correct (1 where argmax equals the target class, the first argmax
 * of a soft target; 0 for ignored or masked elements) and the z-loss term s * z_loss * lse^2.
 */
void ref_extras(const ref_problem *p, double *argmax, double *correct, double *zloss);

/**
 * Scale of the terms whose difference is the logits gradient: max over elements of
 * |g_e s_e| / D * (sum_c |a_c| + 2 z_loss |lse|) * logit_scale (a: the effective weighted
 * target). A gradient entry is a difference of two numbers of at most this size, so errors
 * are relative to it.
 */
double ref_grad_scale(const ref_problem *p, const double *gout);

#endif
