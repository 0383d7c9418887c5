/* Double-precision reference; see ref.h. Deliberately simple: one element at a time. */
#include "ref/ref.h"

#include <math.h>
#include <stdlib.h>

void ref_ext_init(ref_ext *e) {
    ref_ext d = {0.0,  0.0, 1.0, NULL, REF_DEN_AUTO, 0.0, REF_EMPTY_NAN, REF_SMOOTH_UNIFORM,
                 NULL, 0};
    *e = d;
}

static const ref_ext *ext_of(const ref_problem *p) {
    static ref_ext defaults;
    static int ready;
    if (!ready) {
        ref_ext_init(&defaults);
        ready = 1;
    }
    return p->ext ? p->ext : &defaults;
}

static double class_weight(const ref_problem *p, int64_t c) {
    return p->weight ? p->weight[c] : 1.0;
}

static const double *elem_ptr(const ref_problem *p, const double *base, int64_t n, int64_t s) {
    return base + n * p->c * p->s + s;
}

/* log_softmax of c values v (contiguous) into y, as (v - max) - log(sum exp(v - max)). */
static double log_softmax_row(int64_t c, const double *v, double *y) {
    double m = -INFINITY;
    int has_nan = 0;
    for (int64_t i = 0; i < c; i++) {
        if (isnan(v[i]))
            has_nan = 1;
        else if (v[i] > m)
            m = v[i];
    }
    double logsum = 0.0;
    if (has_nan) {
        m = NAN;
    } else if (isfinite(m)) {
        double sum = 0.0;
        for (int64_t i = 0; i < c; i++)
            sum += exp(v[i] - m);
        logsum = log(sum);
    }
    for (int64_t i = 0; i < c; i++)
        y[i] = (v[i] - m) - logsum;
    return m + logsum;
}

/* Everything about one element. */
typedef struct elem {
    double *z, *y, *q, *a; /* transformed logits, log_softmax(z), target distribution, w q */
    double lse, s;         /* log-sum-exp of z, sample weight */
    int64_t target;        /* hard: the class index */
    int ignored, counted;  /* ignored: hard target == ignore_index; counted: !ignored, s != 0 */
} elem;

static elem elem_new(const ref_problem *p) {
    size_t c = (size_t)(p->c > 0 ? p->c : 1);
    elem e = {malloc(sizeof(double) * c),
              malloc(sizeof(double) * c),
              malloc(sizeof(double) * c),
              malloc(sizeof(double) * c),
              0.0,
              1.0,
              0,
              0,
              0};
    return e;
}

static void elem_free(elem *e) {
    free(e->z);
    free(e->y);
    free(e->q);
    free(e->a);
}

/* z_i = c tanh(a x_i / c) with softcap c > 0, else a x_i. */
static double transform(const ref_ext *x, double v) {
    double scaled = x->logit_scale * v;
    return x->softcap > 0.0 ? x->softcap * tanh(scaled / x->softcap) : scaled;
}

/* The smoothed target distribution q of docs/numerics.md. */
static void target_distribution(const ref_problem *p, int64_t n, int64_t s, elem *e) {
    const ref_ext *x = ext_of(p);
    double eps = p->eps, C = (double)p->c;
    int others = x->smoothing == REF_SMOOTH_OTHERS;
    const double *pt = p->soft ? elem_ptr(p, p->soft, n, s) : NULL;
    for (int64_t i = 0; i < p->c; i++) {
        double t = pt ? pt[i * p->s] : (i == e->target ? 1.0 : 0.0); /* one-hot for hard */
        if (others && p->c == 1)
            e->q[i] = t;
        else if (others)
            e->q[i] = (1.0 - eps) * t + eps * (1.0 - t) / (C - 1.0);
        else if (x->prior)
            e->q[i] = (1.0 - eps) * t + eps * x->prior[i];
        else
            e->q[i] = (1.0 - eps) * t + eps / C;
    }
}

static void elem_prepare(const ref_problem *p, int64_t n, int64_t s, elem *e) {
    const ref_ext *x = ext_of(p);
    int64_t k = n * p->s + s;
    for (int64_t i = 0; i < p->c; i++)
        e->z[i] = transform(x, elem_ptr(p, p->x, n, s)[i * p->s]);
    e->lse = log_softmax_row(p->c, e->z, e->y);
    e->s = x->sample_weight ? x->sample_weight[k] : 1.0;
    e->target = p->hard ? p->hard[k] : -1;
    e->ignored = p->hard && e->target == p->ignore_index;
    e->counted = !e->ignored && e->s != 0.0;
    if (e->ignored) {
        for (int64_t i = 0; i < p->c; i++)
            e->q[i] = e->a[i] = 0.0;
        return;
    }
    target_distribution(p, n, s, e);
    for (int64_t i = 0; i < p->c; i++)
        e->a[i] = class_weight(p, i) * e->q[i];
}

/* The element's loss before the sample weight: ce (or kl) + z_loss lse^2. */
static double elem_loss(const ref_problem *p, const elem *e) {
    const ref_ext *x = ext_of(p);
    double l = 0.0;
    for (int64_t i = 0; i < p->c; i++) {
        if (e->a[i] == 0.0) /* a zero coefficient contributes exactly 0, even for y = -inf */
            continue;
        l -= e->a[i] * e->y[i];
        if (x->kl && e->q[i] != 0.0)
            l += e->a[i] * log(e->q[i]);
    }
    if (x->z_loss != 0.0)
        l += x->z_loss * e->lse * e->lse;
    return l;
}

void ref_log_softmax(const ref_problem *p, double *y) {
    double *v = malloc(sizeof(double) * (size_t)(p->c > 0 ? p->c : 1));
    double *r = malloc(sizeof(double) * (size_t)(p->c > 0 ? p->c : 1));
    for (int64_t n = 0; n < p->n; n++)
        for (int64_t s = 0; s < p->s; s++) {
            for (int64_t i = 0; i < p->c; i++)
                v[i] = elem_ptr(p, p->x, n, s)[i * p->s];
            log_softmax_row(p->c, v, r);
            for (int64_t i = 0; i < p->c; i++)
                y[n * p->c * p->s + s + i * p->s] = r[i];
        }
    free(v);
    free(r);
}

void ref_lse(const ref_problem *p, double *lse) {
    elem e = elem_new(p);
    for (int64_t n = 0; n < p->n; n++)
        for (int64_t s = 0; s < p->s; s++) {
            elem_prepare(p, n, s, &e);
            lse[n * p->s + s] = e.lse;
        }
    elem_free(&e);
}

double ref_denominator(const ref_problem *p) {
    if (p->reduction != REF_MEAN)
        return 1.0;
    const ref_ext *x = ext_of(p);
    if (x->denominator == REF_DEN_VALUE)
        return x->denominator_value;
    if (x->denominator == REF_DEN_ELEMENTS)
        return (double)(p->n * p->s);
    double d = 0.0;
    for (int64_t k = 0; k < p->n * p->s; k++) {
        double s = x->sample_weight ? x->sample_weight[k] : 1.0;
        int ignored = p->hard && p->hard[k] == p->ignore_index;
        double wt = p->hard && !ignored ? class_weight(p, p->hard[k]) : 1.0;
        if (ignored)
            continue;
        switch (x->denominator) {
        case REF_DEN_VALID:
            d += s != 0.0;
            break;
        case REF_DEN_WEIGHTS:
            d += s * wt;
            break;
        default:
            d += wt;
            break; /* AUTO: PyTorch's rule, sample weights do not count */
        }
    }
    return d;
}

void ref_loss(const ref_problem *p, double *loss) {
    elem e = elem_new(p);
    double total = 0.0;
    for (int64_t n = 0; n < p->n; n++)
        for (int64_t s = 0; s < p->s; s++) {
            elem_prepare(p, n, s, &e);
            double l = e.counted ? e.s * elem_loss(p, &e) : 0.0;
            if (p->reduction == REF_NONE)
                loss[n * p->s + s] = l;
            total += l;
        }
    elem_free(&e);
    if (p->reduction == REF_SUM) {
        loss[0] = total;
    } else if (p->reduction == REF_MEAN) {
        double d = ref_denominator(p);
        /* a mean over a zero denominator: NaN whatever the numerator, or 0 with ZERO */
        loss[0] = d != 0.0 ? total / d : ext_of(p)->empty == REF_EMPTY_ZERO ? 0.0 : NAN;
    }
}

/* The factor of the upstream gradient for the elements of a problem: 1/D, or 0 for a mean
   over a zero denominator with empty = ZERO. */
static double grad_factor(const ref_problem *p) {
    double d = ref_denominator(p);
    if (p->reduction == REF_MEAN && d == 0.0 && ext_of(p)->empty == REF_EMPTY_ZERO)
        return 0.0;
    return 1.0 / d;
}

static double upstream(const ref_problem *p, const double *gout, int64_t k) {
    if (!gout)
        return 1.0;
    return p->reduction == REF_NONE ? gout[k] : gout[0];
}

/* dq_i/dp_i of a soft target. */
static double dq_dp(const ref_problem *p) {
    if (ext_of(p)->smoothing != REF_SMOOTH_OTHERS)
        return 1.0 - p->eps;
    return p->c == 1 ? 1.0 : 1.0 - p->eps - p->eps / (double)(p->c - 1);
}

static void elem_grad(const ref_problem *p, int64_t n, int64_t s, double G, const elem *e,
                      double *gx, double *gq) {
    const ref_ext *x = ext_of(p);
    int64_t base = n * p->c * p->s + s;
    double sum_a = 0.0;
    for (int64_t i = 0; i < p->c; i++)
        sum_a += e->a[i];
    double coef = sum_a + 2.0 * x->z_loss * e->lse;
    for (int64_t i = 0; i < p->c; i++) {
        int64_t k = base + i * p->s;
        double dz = x->logit_scale;
        if (x->softcap > 0.0)
            dz *= 1.0 - (e->z[i] / x->softcap) * (e->z[i] / x->softcap);
        if (gx) /* exactly 0 for ignored or masked elements, whatever their logits */
            gx[k] = e->counted ? G * (exp(e->y[i]) * coef - e->a[i]) * dz : 0.0;
        if (gq) {
            double w = class_weight(p, i), d = -w * e->y[i];
            if (x->kl && e->q[i] != 0.0)
                d += w * (log(e->q[i]) + 1.0);
            gq[k] = e->counted ? G * dq_dp(p) * d : 0.0;
        }
    }
}

void ref_grad(const ref_problem *p, const double *gout, double *gx, double *gq) {
    double f = grad_factor(p);
    elem e = elem_new(p);
    for (int64_t n = 0; n < p->n; n++)
        for (int64_t s = 0; s < p->s; s++) {
            elem_prepare(p, n, s, &e);
            double G = upstream(p, gout, n * p->s + s) * e.s * f;
            elem_grad(p, n, s, G, &e, gx, gq);
        }
    elem_free(&e);
}

/* First index of the largest value (a NaN counts as largest); stride st. */
static int64_t first_argmax(int64_t c, const double *v, int64_t st) {
    int64_t best = 0;
    for (int64_t i = 0; i < c; i++) {
        if (isnan(v[i * st]))
            return i;
        if (v[i * st] > v[best * st])
            best = i;
    }
    return best;
}

void ref_extras(const ref_problem *p, double *argmax, double *correct, double *zloss) {
    const ref_ext *x = ext_of(p);
    elem e = elem_new(p);
    for (int64_t n = 0; n < p->n; n++)
        for (int64_t s = 0; s < p->s; s++) {
            int64_t k = n * p->s + s;
            elem_prepare(p, n, s, &e);
            int64_t am = first_argmax(p->c, elem_ptr(p, p->x, n, s), p->s);
            int64_t cls = p->hard ? e.target : first_argmax(p->c, elem_ptr(p, p->soft, n, s), p->s);
            if (argmax)
                argmax[k] = (double)am;
            if (correct)
                correct[k] = e.counted && am == cls ? 1.0 : 0.0;
            if (zloss)
                zloss[k] = e.counted ? e.s * x->z_loss * e.lse * e.lse : 0.0;
        }
    elem_free(&e);
}

double ref_grad_scale(const ref_problem *p, const double *gout) {
    const ref_ext *x = ext_of(p);
    double f = grad_factor(p), scale = 0.0;
    elem e = elem_new(p);
    for (int64_t n = 0; n < p->n; n++)
        for (int64_t s = 0; s < p->s; s++) {
            elem_prepare(p, n, s, &e);
            double sum_a = 0.0;
            for (int64_t i = 0; i < p->c; i++)
                sum_a += fabs(e.a[i]);
            sum_a += 2.0 * x->z_loss * fabs(e.lse);
            double v = fabs(upstream(p, gout, n * p->s + s) * e.s * f) * sum_a * x->logit_scale;
            if (isfinite(v))
                scale = fmax(scale, v);
        }
    elem_free(&e);
    return scale;
}
