/* Random problems and full-cycle checks against the reference; see tcase.h. */
#include "common/tcase.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


void tc_spec_init(tc_spec *s, int32_t ndim, const int64_t *shape) {
    memset(s, 0, sizeof *s);
    s->ndim = ndim;
    for (int32_t k = 0; k < ndim; k++)
        s->shape[k] = shape[k];
    s->x_dtype = SOFTCE_DTYPE_F32;
    s->t_dtype = SOFTCE_DTYPE_I64;
    s->out_dtype = SOFTCE_DTYPE_F32;
    s->reduction = SOFTCE_REDUCTION_MEAN;
    s->ignore_index = -100;
    s->x_scale = 2.0;
    s->seed = 1;
}

const char *tc_describe(const tc_spec *s) {
    static char buf[256];
    static const char *const red[] = {"?", "mean", "sum", "none"};
    int len = snprintf(buf, sizeof buf, "x=%s[", tu_dtype_name(s->x_dtype));
    for (int32_t k = 0; k < s->ndim; k++)
        len += snprintf(buf + len, sizeof buf - (size_t)len, k ? ",%lld" : "%lld",
                        (long long)s->shape[k]);
    snprintf(buf + len, sizeof buf - (size_t)len,
             "] t=%s w=%s out=%s g=%s %s ign=%lld%s eps=%g thr=%d lay=%d/%d/%d/%d seed=%llu",
             tu_dtype_name(s->t_dtype), tu_dtype_name(s->w_dtype), tu_dtype_name(s->out_dtype),
             tu_dtype_name(s->gout_dtype), red[s->reduction & 3], (long long)s->ignore_index,
             s->ignore_present ? "*" : "", s->eps, s->threads, s->x_layout, s->t_layout,
             s->w_layout, s->out_layout, (unsigned long long)s->seed);
    return buf;
}

bool tc_is_soft(const tc_problem *p) {
    return p->s.t_dtype != SOFTCE_DTYPE_I32 && p->s.t_dtype != SOFTCE_DTYPE_I64;
}

static void set_dims(tc_problem *p) {
    const tc_spec *s = &p->s;
    p->n = s->ndim == 1 ? 1 : s->shape[0];
    p->c = s->ndim == 1 ? s->shape[0] : s->shape[1];
    p->inner = 1;
    for (int32_t k = 2; k < s->ndim; k++)
        p->inner *= s->shape[k];
    p->elems = p->n * p->inner;
    p->el_ndim = s->ndim <= 1 ? 0 : s->ndim - 1;
    for (int32_t k = 0, j = 0; k < s->ndim && s->ndim > 1; k++)
        if (k != 1)
            p->el_shape[j++] = s->shape[k];
}

/* Stores random values into b and reads back what the library will see. */
static double *fill(tbuf *b, tu_rng *r, double (*gen)(tu_rng *, void *), void *ctx) {
    int64_t n = tu_numel(b->t.ndim, b->t.shape);
    double *v = tu_alloc(sizeof(double) * (size_t)n);
    for (int64_t i = 0; i < n; i++)
        v[i] = gen(r, ctx);
    tb_store(b, v);
    tb_load(b, v);
    tb_snapshot(b);
    return v;
}

static double gen_logit(tu_rng *r, void *ctx) { return *(const double *)ctx * tu_rand_normal(r); }

static double gen_class(tu_rng *r, void *ctx) {
    const tc_problem *p = ctx;
    if (p->s.ignore_present && tu_rand_unif(r) < 0.25)
        return (double)p->s.ignore_index;
    return (double)tu_rand_int(r, p->c);
}

static double gen_prob(tu_rng *r, void *ctx) {
    (void)ctx;
    return tu_rand_unif(r) < 0.1 ? 0.0 : tu_rand_unif(r);
}

static double gen_weight(tu_rng *r, void *ctx) {
    (void)ctx;
    return 0.2 + 1.8 * tu_rand_unif(r);
}

static double gen_normal(tu_rng *r, void *ctx) {
    (void)ctx;
    return tu_rand_normal(r);
}

static void make_hard(tc_problem *p, tu_rng *r) {
    tb_make_layout(&p->t, p->s.t_dtype, p->el_ndim, p->el_shape, p->s.t_layout);
    int64_t n = tu_numel(p->el_ndim, p->el_shape);
    double *v = tu_alloc(sizeof(double) * (size_t)n);
    for (int64_t i = 0; i < n; i++)
        v[i] = gen_class(r, p);
    /* One element counts with a positive weight, so a mean never divides by 0: the first one
       of the last row, which is also what every row reads when dim 0 is broadcast. */
    if (p->n > 0)
        v[(p->n - 1) * (n / p->n)] = p->s.ignore_index == 0 && p->c > 1 ? 1.0 : 0.0;
    tb_store(&p->t, v);
    tb_load(&p->t, v);
    tb_snapshot(&p->t);
    p->tv = tu_alloc(sizeof(int64_t) * (size_t)p->elems);
    for (int64_t i = 0; i < p->elems; i++)
        p->tv[i] = (int64_t)v[i];
    free(v);
}

static void make_soft(tc_problem *p, tu_rng *r) {
    tb_make_layout(&p->t, p->s.t_dtype, p->s.ndim, p->s.shape, p->s.t_layout);
    int64_t n = tu_numel(p->s.ndim, p->s.shape);
    double *v = tu_alloc(sizeof(double) * (size_t)n);
    for (int64_t i = 0; i < n; i++)
        v[i] = gen_prob(r, NULL);
    for (int64_t e = 0; e < p->elems && !p->s.soft_unnormalized; e++) {
        int64_t base = (e / p->inner) * p->c * p->inner + e % p->inner;
        double sum = 0.0;
        for (int64_t c = 0; c < p->c; c++)
            sum += v[base + c * p->inner];
        for (int64_t c = 0; c < p->c && sum > 0.0; c++)
            v[base + c * p->inner] /= sum;
    }
    tb_store(&p->t, v);
    tb_load(&p->t, v);
    tb_snapshot(&p->t);
    p->qv = v;
}

static void make_extras(tc_problem *p, tu_rng *r) {
    if (p->s.w_dtype) {
        tb_make_layout(&p->w, p->s.w_dtype, 1, &p->c, p->s.w_layout);
        p->wv = fill(&p->w, r, gen_weight, NULL);
        if (p->c >= 3) { /* one class with weight exactly 0 */
            p->wv[p->c - 1] = 0.0;
            tb_store(&p->w, p->wv);
            tb_load(&p->w, p->wv);
            tb_snapshot(&p->w);
        }
    }
    if (p->s.gout_dtype) {
        bool none = p->s.reduction == SOFTCE_REDUCTION_NONE;
        tb_make_layout(&p->g, p->s.gout_dtype, none ? p->el_ndim : 0, p->el_shape, TL_CONTIG);
        p->gv = fill(&p->g, r, gen_normal, NULL);
    }
}

void tc_init(tc_problem *p, const tc_spec *s) {
    memset(p, 0, sizeof *p);
    p->s = *s;
    set_dims(p);
    tu_rng r = {s->seed * 0x2545f4914f6cdd1du + 7};
    tb_make_layout(&p->x, s->x_dtype, s->ndim, s->shape, s->x_layout);
    p->xv = fill(&p->x, &r, gen_logit, &p->s.x_scale);
    if (tc_is_soft(p))
        make_soft(p, &r);
    else
        make_hard(p, &r);
    make_extras(p, &r);
    softce_options_init(&p->opts);
    p->opts.reduction = s->reduction;
    p->opts.ignore_index = s->ignore_index;
    p->opts.label_smoothing = s->eps;
    p->opts.weight = s->w_dtype ? &p->w.t : NULL;
    p->opts.num_threads = s->threads;
    ref_problem rp = {p->n,  p->c,         p->inner,        p->xv,  p->tv, p->qv,
                      p->wv, s->reduction, s->ignore_index, s->eps, NULL};
    p->ref = rp;
}

void tc_free(tc_problem *p) {
    tb_free(&p->x);
    tb_free(&p->t);
    tb_free(&p->w);
    tb_free(&p->g);
    free(p->xv);
    free(p->qv);
    free(p->wv);
    free(p->gv);
    free(p->tv);
}

void tc_make_loss(const tc_problem *p, tbuf *b, int32_t dtype, int layout) {
    bool none = p->s.reduction == SOFTCE_REDUCTION_NONE;
    tb_make_layout(b, dtype, none ? p->el_ndim : 0, p->el_shape, layout);
}

void tc_make_elem(const tc_problem *p, tbuf *b, int32_t dtype, int layout) {
    tb_make_layout(b, dtype, p->el_ndim, p->el_shape, layout);
}

void tc_make_full(const tc_problem *p, tbuf *b, int32_t dtype, int layout) {
    tb_make_layout(b, dtype, p->s.ndim, p->s.shape, layout);
}

void tc_run(const tc_problem *p, tc_out *o) {
    int32_t od = p->s.out_dtype;
    int lay = p->s.out_layout;
    bool soft = tc_is_soft(p);
    const softce_tensor *g = p->s.gout_dtype ? &p->g.t : NULL;
    memset(o, 0, sizeof *o);
    tc_make_loss(p, &o->loss, od, lay);
    tc_make_elem(p, &o->lse, od, lay);
    CALL_OK(softce_forward(&p->opts, &p->x.t, &p->t.t, &o->loss.t, &o->lse.t));
    tc_make_full(p, &o->gx, od, lay);
    if (soft)
        tc_make_full(p, &o->gq, od, lay);
    CALL_OK(softce_backward(&p->opts, &p->x.t, &p->t.t, g, NULL, &o->gx.t, soft ? &o->gq.t : NULL));
    tc_make_loss(p, &o->fb_loss, od, lay);
    tc_make_full(p, &o->fb_gx, od, lay);
    CALL_OK(softce_forward_backward(&p->opts, &p->x.t, &p->t.t, g, &o->fb_loss.t, &o->fb_gx.t));
    tc_make_full(p, &o->lsm, od, lay);
    CALL_OK(softce_log_softmax(&p->opts, &p->x.t, &o->lsm.t));
}

void tc_out_free(tc_out *o) {
    tbuf *all[] = {&o->loss, &o->lse, &o->gx, &o->gq, &o->fb_loss, &o->fb_gx, &o->lsm};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        tb_free(all[i]);
}

void tc_check_spec(const tc_spec *s) {
    tc_problem p;
    tc_init(&p, s);
    tc_check(&p);
    tc_free(&p);
}
