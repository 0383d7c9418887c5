/* Random row cases for the kernel tests, stored in double and converted to the table's compute
   type, plus the double-precision reference of every row operation (written from kernels.h). */
#ifndef SOFTCE_KROW_CASE_H
#define SOFTCE_KROW_CASE_H

#include <stdint.h>

enum krow_kind {
    KROW_NORMAL,    /* sd 1 */
    KROW_WIDE,      /* sd 40: many terms below e^-87 (flushed) */
    KROW_OFFSET,    /* 1e4 + sd 3: large logits, lse far from 0 */
    KROW_NEGINF,    /* a quarter of the logits -inf */
    KROW_NAN,       /* one NaN */
    KROW_ALLNEGINF, /* every logit -inf */
    KROW_POSINF,    /* one +inf */
    KROW_HUGE,      /* +-1e30 and 3e38 */
    KROW_FLAT,      /* all equal */
    KROW_KINDS
};

typedef struct krow {
    int64_t n;
    int f64;            /* compute type of the typed buffers */
    double *x, *p, *w;  /* values (already rounded to the compute type); p/w may be NULL */
    void *xt, *pt, *wt; /* the same in the compute type */
    double a1, a0, spike, zl, g; /* zl: z-loss coefficient of fused */
} krow;

/* Allocates and fills a case; p/w present as asked. */
krow krow_make(uint64_t *rng, int64_t n, int kind, int f64, int with_p, int with_w);
void krow_free(krow *c);

/* Typed buffer access. */
double kget(const void *buf, int64_t i, int f64);
void kput(void *buf, int64_t i, double v, int f64);
/* n zeroed elements of double (f64 != 0) or float; exact size so that
   sanitizers see any access past a row. */
void *kalloc(int64_t n, int f64);

/* References in double, following kernels.h; e^x computed exactly as exp((double)x). */
double kref_max(const krow *c); /* NaN ignored; -inf if none */
double kref_lse(const krow *c);
double kref_wq(const krow *c, int64_t i); /* w_i q_i, q_i = a1 p_i + a0 (p NULL: a0) */
double kref_soft_loss(const krow *c, double lse, double *sum_wq);
/* fused: fills out[n] (double), returns lse, *loss. */
double kref_fused(const krow *c, double *out, double *loss);

#endif
