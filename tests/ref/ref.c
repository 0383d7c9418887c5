/* Double-precision reference; see ref.h. Deliberately simple: one element at a time. */
#include "ref/ref.h"

#include <math.h>
#include <stdlib.h>

static double class_weight(const ref_problem *p, int64_t c) {
    return p->weight ? p->weight[c] : 1.0;
}

static const double *elem_ptr(const ref_problem *p, const double *base, int64_t n, int64_t s) {
    return base + n * p->c * p->s + s;
}

/* log_softmax of one element into y (stride p->s), as (x - max) - log(sum exp(x - max)). */
static void elem_log_softmax(const ref_problem *p, int64_t n, int64_t s, double *y, double *lse) {
    const double *x = elem_ptr(p, p->x, n, s);
    double m = -INFINITY;
    int has_nan = 0;
    for (int64_t c = 0; c < p->c; c++) {
        double v = x[c * p->s];
        if (isnan(v))
            has_nan = 1;
        else if (v > m)
            m = v;
    }
    double logsum = 0.0;
    if (has_nan) {
        m = NAN;
    } else if (isfinite(m)) {
        double sum = 0.0;
        for (int64_t c = 0; c < p->c; c++)
            sum += exp(x[c * p->s] - m);
        logsum = log(sum);
    }
    for (int64_t c = 0; c < p->c; c++)
        y[c * p->s] = (x[c * p->s] - m) - logsum;
    if (lse)
        *lse = m + logsum;
}

void ref_log_softmax(const ref_problem *p, double *y) {
    for (int64_t n = 0; n < p->n; n++)
        for (int64_t s = 0; s < p->s; s++)
            elem_log_softmax(p, n, s, y + n * p->c * p->s + s, NULL);
}

void ref_lse(const ref_problem *p, double *lse) {
    double *y = malloc(sizeof(double) * (size_t)(p->c > 0 ? p->c * p->s : 1));
    for (int64_t n = 0; n < p->n; n++)
        for (int64_t s = 0; s < p->s; s++)
            elem_log_softmax(p, n, s, y + s, lse + n * p->s + s);
    free(y);
}

/*
 * Effective coefficients a[c] of one element, so that its loss is -sum_c a[c] * y[c]:
 * hard: a = (1-eps) w[t] onehot(t) + (eps/C) w; soft: a = w * ((1-eps) q + eps/C).
 * Returns the element's share of the mean denominator (w[t], 1 for soft, 0 when ignored).
 */
static double elem_coeffs(const ref_problem *p, int64_t n, int64_t s, double *a) {
    double share = p->eps / (double)p->c;
    if (p->hard) {
        int64_t t = p->hard[n * p->s + s];
        if (t == p->ignore_index) {
            for (int64_t c = 0; c < p->c; c++)
                a[c] = 0.0;
            return 0.0;
        }
        for (int64_t c = 0; c < p->c; c++)
            a[c] = share * class_weight(p, c);
        a[t] += (1.0 - p->eps) * class_weight(p, t);
        return class_weight(p, t);
    }
    const double *q = elem_ptr(p, p->soft, n, s);
    for (int64_t c = 0; c < p->c; c++)
        a[c] = class_weight(p, c) * ((1.0 - p->eps) * q[c * p->s] + share);
    return 1.0;
}

double ref_denominator(const ref_problem *p) {
    if (p->reduction != REF_MEAN)
        return 1.0;
    double *a = malloc(sizeof(double) * (size_t)(p->c > 0 ? p->c : 1));
    double d = 0.0;
    for (int64_t n = 0; n < p->n; n++)
        for (int64_t s = 0; s < p->s; s++)
            d += elem_coeffs(p, n, s, a);
    free(a);
    return d;
}

typedef struct scratch {
    double *a, *y;
} scratch;

static scratch scratch_new(const ref_problem *p) {
    size_t c = (size_t)(p->c > 0 ? p->c : 1);
    scratch w = {malloc(sizeof(double) * c), malloc(sizeof(double) * c)};
    return w;
}

static void scratch_free(scratch *w) {
    free(w->a);
    free(w->y);
}

/* y of one element, densely in w->y, and its coefficients in w->a. Returns the share. */
static double elem_prepare(const ref_problem *p, int64_t n, int64_t s, scratch *w) {
    ref_problem one = *p;
    one.s = 1;
    one.x = w->a; /* gather the element's logits contiguously */
    for (int64_t c = 0; c < p->c; c++)
        w->a[c] = elem_ptr(p, p->x, n, s)[c * p->s];
    elem_log_softmax(&one, 0, 0, w->y, NULL);
    return elem_coeffs(p, n, s, w->a);
}

static double elem_loss(const ref_problem *p, const scratch *w) {
    double l = 0.0;
    for (int64_t c = 0; c < p->c; c++)
        if (w->a[c] != 0.0) /* a zero coefficient contributes exactly 0, even for y = -inf */
            l -= w->a[c] * w->y[c];
    return l;
}

void ref_loss(const ref_problem *p, double *loss) {
    scratch w = scratch_new(p);
    double total = 0.0;
    for (int64_t n = 0; n < p->n; n++)
        for (int64_t s = 0; s < p->s; s++) {
            elem_prepare(p, n, s, &w);
            double l = elem_loss(p, &w);
            if (p->reduction == REF_NONE)
                loss[n * p->s + s] = l;
            total += l;
        }
    scratch_free(&w);
    if (p->reduction == REF_SUM)
        loss[0] = total;
    else if (p->reduction == REF_MEAN)
        loss[0] = total / ref_denominator(p);
}

static void elem_grad(const ref_problem *p, int64_t n, int64_t s, double g, const scratch *w,
                      double *gx, double *gq) {
    int64_t base = n * p->c * p->s + s;
    int ignored = p->hard && p->hard[n * p->s + s] == p->ignore_index; /* 0, even if D = 0 */
    double sum_a = 0.0;
    for (int64_t c = 0; c < p->c; c++)
        sum_a += w->a[c];
    for (int64_t c = 0; c < p->c; c++) {
        int64_t i = base + c * p->s;
        if (gx)
            gx[i] = ignored ? 0.0 : g * (exp(w->y[c]) * sum_a - w->a[c]);
        if (gq)
            gq[i] = -(1.0 - p->eps) * class_weight(p, c) * w->y[c] * g;
    }
}

void ref_grad(const ref_problem *p, const double *gout, double *gx, double *gq) {
    double d = ref_denominator(p);
    scratch w = scratch_new(p);
    for (int64_t n = 0; n < p->n; n++)
        for (int64_t s = 0; s < p->s; s++) {
            elem_prepare(p, n, s, &w);
            double g = 1.0;
            if (gout)
                g = p->reduction == REF_NONE ? gout[n * p->s + s] : gout[0];
            elem_grad(p, n, s, g / d, &w, gx, gq);
        }
    scratch_free(&w);
}

double ref_grad_scale(const ref_problem *p, const double *gout) {
    double d = ref_denominator(p), scale = 0.0;
    double *a = malloc(sizeof(double) * (size_t)(p->c > 0 ? p->c : 1));
    for (int64_t n = 0; n < p->n; n++)
        for (int64_t s = 0; s < p->s; s++) {
            elem_coeffs(p, n, s, a);
            double sum_a = 0.0, g = 1.0;
            for (int64_t c = 0; c < p->c; c++)
                sum_a += fabs(a[c]);
            if (gout)
                g = p->reduction == REF_NONE ? gout[n * p->s + s] : gout[0];
            if (isfinite(sum_a * g / d))
                scale = fmax(scale, fabs(sum_a * g / d));
        }
    free(a);
    return scale;
}
