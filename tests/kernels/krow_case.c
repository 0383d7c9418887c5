/* Random row cases and the double-precision reference (see krow_case.h). */
#include "krow_case.h"

#include <math.h>
#include <stdlib.h>

#include "ktest.h"

void *kalloc(int64_t n, int f64) {
    return calloc((size_t)(n > 0 ? n : 1), f64 ? sizeof(double) : sizeof(float));
}

double kget(const void *buf, int64_t i, int f64) {
    return f64 ? ((const double *)buf)[i] : (double)((const float *)buf)[i];
}

void kput(void *buf, int64_t i, double v, int f64) {
    if (f64)
        ((double *)buf)[i] = v;
    else
        ((float *)buf)[i] = (float)v;
}

static double logit_of_kind(uint64_t *rng, int kind) {
    double z = krand_normal(rng);
    switch (kind) {
    case KROW_WIDE:
        return 40.0 * z;
    case KROW_OFFSET:
        return 1e4 + 3.0 * z;
    case KROW_NEGINF:
        return krand_unit(rng) < 0.25 ? -INFINITY : 2.0 * z;
    case KROW_ALLNEGINF:
        return -INFINITY;
    case KROW_HUGE:
        return krand_unit(rng) < 0.5 ? -1e30 : z;
    case KROW_FLAT:
        return 0.75;
    default:
        return z;
    }
}

static void fill_logits(krow *c, uint64_t *rng, int kind) {
    for (int64_t i = 0; i < c->n; i++)
        c->x[i] = logit_of_kind(rng, kind);
    int64_t at = (int64_t)(krand_unit(rng) * (double)c->n);
    if (kind == KROW_NAN)
        c->x[at] = NAN;
    else if (kind == KROW_POSINF)
        c->x[at] = INFINITY;
    else if (kind == KROW_HUGE)
        c->x[at] = krand_unit(rng) < 0.5 ? 3e38 : 1e30;
}

/* p: a distribution with some exact zeros, mostly zero where the logit is -inf. */
static void fill_target(krow *c, uint64_t *rng) {
    double sum = 0.0;
    for (int64_t i = 0; i < c->n; i++) {
        int zero = krand_unit(rng) < 0.2 || (c->x[i] == -INFINITY && krand_unit(rng) < 0.9);
        c->p[i] = zero ? 0.0 : krand_unit(rng);
        sum += c->p[i];
    }
    for (int64_t i = 0; i < c->n && sum > 0.0; i++)
        c->p[i] /= sum;
}

krow krow_make(uint64_t *rng, int64_t n, int kind, int f64, int with_p, int with_w) {
    krow c = {n, f64, kalloc(n, 1), NULL, NULL, kalloc(n, f64), NULL, NULL, 1.0, 0.0, 0.0, 0.0, 1.0};
    fill_logits(&c, rng, kind);
    if (with_p) {
        c.p = kalloc(n, 1);
        c.pt = kalloc(n, f64);
        fill_target(&c, rng);
    }
    if (with_w) {
        c.w = kalloc(n, 1);
        c.wt = kalloc(n, f64);
        for (int64_t i = 0; i < n; i++)
            c.w[i] = krand_unit(rng) < 0.15 ? 0.0 : 2.0 * krand_unit(rng);
    }
    double eps = krand_unit(rng) < 0.5 ? 0.0 : 0.1;
    c.a1 = 1.0 - eps;
    c.a0 = eps / (double)n;
    c.spike = krand_unit(rng) < 0.5 ? 0.0 : 0.9;
    c.g = krand_unit(rng) < 0.5 ? 1.0 : 0.1 + 2.0 * krand_unit(rng);
    /* z-loss on a quarter of the cases, drawn without consuming the generator (the cases
       of the other fields stay as they were) */
    c.zl = c.g != 1.0 && c.spike == 0.0 ? 1e-4 * (1.0 + c.g) : 0.0;
    for (int64_t i = 0; i < n; i++) { /* round to the compute type, keep both views equal */
        kput(c.xt, i, c.x[i], f64);
        c.x[i] = kget(c.xt, i, f64);
        if (c.p) {
            kput(c.pt, i, c.p[i], f64);
            c.p[i] = kget(c.pt, i, f64);
        }
        if (c.w) {
            kput(c.wt, i, c.w[i], f64);
            c.w[i] = kget(c.wt, i, f64);
        }
    }
    return c;
}

void krow_free(krow *c) {
    free(c->x);
    free(c->p);
    free(c->w);
    free(c->xt);
    free(c->pt);
    free(c->wt);
}

double kref_max(const krow *c) {
    double m = -INFINITY;
    for (int64_t i = 0; i < c->n; i++)
        if (c->x[i] > m)
            m = c->x[i];
    return m;
}

double kref_lse(const krow *c) {
    double m = kref_max(c), s = 0.0;
    for (int64_t i = 0; i < c->n; i++)
        s += exp(c->x[i] - m);
    return m + log(s);
}

double kref_wq(const krow *c, int64_t i) {
    double q = c->p ? c->a1 * c->p[i] + c->a0 : c->a0;
    return c->w ? c->w[i] * q : q;
}

double kref_soft_loss(const krow *c, double lse, double *sum_wq) {
    double loss = 0.0, s = 0.0;
    for (int64_t i = 0; i < c->n; i++) {
        double wq = kref_wq(c, i);
        if (wq != 0.0) {
            s += wq;
            loss -= wq * (c->x[i] - lse);
        }
    }
    *sum_wq = s;
    return loss;
}

double kref_fused(const krow *c, double *out, double *loss) {
    double m = kref_max(c), s = 0.0, S = 0.0, U = 0.0;
    for (int64_t i = 0; i < c->n; i++) {
        double wq = kref_wq(c, i);
        if (wq != 0.0) {
            S += wq;
            U += wq * (m - c->x[i]);
        }
        s += exp(c->x[i] - m);
    }
    *loss = S == 0.0 ? U : S * log(s) + U;
    double coef = S + c->spike + 2.0 * c->zl * (m + log(s)); /* + z-loss: d(zl lse^2) */
    for (int64_t i = 0; i < c->n; i++)
        out[i] = c->g * (coef * exp(c->x[i] - m) / s - kref_wq(c, i));
    return m + log(s);
}
