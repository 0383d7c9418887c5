/* Row mode: one element (row of C classes) at a time through the row kernels. */
#include "driver.h"

#include <stdint.h>
#include <string.h>

/* ---- one row ------------------------------------------------------------------------- */

typedef struct row_bufs {
    void *x, *p, *out;
} row_bufs;

static const void *stage(const softce__context *cx, int slot, int is_direct, const softce__cursor *c,
                         void *buf) {
    const softce__plan *p = cx->p;
    char *base = softce__slot_ptr(p, slot, c->off[slot]);
    if (is_direct)
        return base;
    softce__gather(p->t[slot]->dtype, base, p->cs[slot], p->C, p->compute_f64, buf);
    return buf;
}

/* Where a row output is computed: straight into the tensor, or into a buffer to scatter. */
static void *out_row(const softce__context *cx, int slot, int is_direct, const softce__cursor *c, void *buf) {
    return is_direct ? softce__slot_ptr(cx->p, slot, c->off[slot]) : buf;
}

static void finish_row(const softce__context *cx, int slot, int is_direct, const softce__cursor *c,
                       const void *row) {
    const softce__plan *p = cx->p;
    if (!is_direct)
        softce__scatter(p->t[slot]->dtype, softce__slot_ptr(p, slot, c->off[slot]), p->cs[slot], p->C,
                        p->compute_f64, row);
}

static void add_at(const softce__context *cx, void *row, int64_t i, double v) {
    if (cx->p->compute_f64)
        ((double *)row)[i] += v;
    else
        ((float *)row)[i] += (float)v;
}

/* The row's lse: the one forward saved (lse input) or computed now. */
static softce__lse row_lse(const softce__context *cx, const softce__cursor *c, const void *x) {
    const softce_tensor *lt = cx->p->t[SOFTCE__LSE_IN];
    if (!lt)
        return cx->k->lse(x, cx->p->C);
    return softce__lse_split(softce__load(lt->dtype, lt->data, c->off[SOFTCE__LSE_IN]),
                             cx->p->compute_f64);
}

static double weight_at(const softce__context *cx, int64_t i) {
    return cx->w ? softce__row_value(cx, cx->w, i) : 1.0;
}

/* A hard target's row as "spike" (1-eps) w_t at t plus uniform eps/C: returns the loss. */
static double hard_row(const softce__context *cx, const softce__cursor *c, int64_t t, const row_bufs *rb) {
    const softce__plan *p = cx->p;
    const softce__row_kernels *k = cx->k;
    const double a0 = p->eps / (double)p->C, spike = (1.0 - p->eps) * weight_at(cx, t);
    const void *x = stage(cx, SOFTCE__LOGITS, cx->x_direct, c, rb->x);
    const double xt = softce__row_value(cx, x, t);
    /* Without smoothing no class weight but w_t enters: the kernels' unweighted fast path. */
    const void *w = a0 != 0.0 ? cx->w : NULL;
    double g = 1.0, loss;
    softce__lse lse;
    if (p->op != SOFTCE__OP_FORWARD)
        g = softce__upstream(p, c) * cx->inv_d;
    if (p->op != SOFTCE__OP_BACKWARD) { /* forward: the fused kernel without stores */
        void *out = p->op == SOFTCE__OP_FORWARD_BACKWARD
                        ? out_row(cx, SOFTCE__GRAD_LOGITS, cx->gx_direct, c, rb->out)
                        : NULL;
        lse = k->fused(x, NULL, w, p->C, 0.0, a0, spike, g, out, &loss);
        if (out) {
            add_at(cx, out, t, -g * spike);
            finish_row(cx, SOFTCE__GRAD_LOGITS, cx->gx_direct, c, out);
        }
    } else {
        lse = row_lse(cx, c, x);
        loss = 0.0;
        if (p->t[SOFTCE__GRAD_LOGITS]) {
            void *out = out_row(cx, SOFTCE__GRAD_LOGITS, cx->gx_direct, c, rb->out);
            k->grad(x, NULL, w, p->C, lse, g * (a0 * cx->wsum + spike), 0.0, g * a0, out);
            add_at(cx, out, t, -g * spike);
            finish_row(cx, SOFTCE__GRAD_LOGITS, cx->gx_direct, c, out);
        }
    }
    if (spike != 0.0)
        loss += spike * ((lse.hi - xt) + lse.lo); /* keeps lo when |hi| >> 1e16 */
    softce__store_elem(p, SOFTCE__LSE_OUT, c, softce__lse_value(lse));
    return loss;
}

/* A soft target's row, q = (1 - eps) p + eps / C: returns the loss. */
static double soft_row(const softce__context *cx, const softce__cursor *c, const row_bufs *rb) {
    const softce__plan *p = cx->p;
    const softce__row_kernels *k = cx->k;
    const double a1 = 1.0 - p->eps, a0 = p->eps / (double)p->C;
    const void *x = stage(cx, SOFTCE__LOGITS, cx->x_direct, c, rb->x);
    const void *q = stage(cx, SOFTCE__TARGET, cx->p_direct, c, rb->p);
    double g = 1.0, loss, swq;
    softce__lse lse;
    if (p->op != SOFTCE__OP_FORWARD)
        g = softce__upstream(p, c) * cx->inv_d;
    if (p->op != SOFTCE__OP_BACKWARD) { /* forward: the fused kernel without stores */
        void *out = p->op == SOFTCE__OP_FORWARD_BACKWARD
                        ? out_row(cx, SOFTCE__GRAD_LOGITS, cx->gx_direct, c, rb->out)
                        : NULL;
        lse = k->fused(x, q, cx->w, p->C, a1, a0, 0.0, g, out, &loss);
        if (out)
            finish_row(cx, SOFTCE__GRAD_LOGITS, cx->gx_direct, c, out);
        softce__store_elem(p, SOFTCE__LSE_OUT, c, softce__lse_value(lse));
        return loss;
    }
    lse = row_lse(cx, c, x);
    loss = k->soft_loss(x, q, cx->w, p->C, lse, a1, a0, &swq);
    if (p->op == SOFTCE__OP_BACKWARD && p->t[SOFTCE__GRAD_TARGET]) {
        /* computed before grad_logits: an in-place grad_logits may overwrite x */
        void *out = out_row(cx, SOFTCE__GRAD_TARGET, cx->gt_direct, c, rb->out);
        k->grad_target(x, cx->w, p->C, lse, g * a1, out);
        finish_row(cx, SOFTCE__GRAD_TARGET, cx->gt_direct, c, out);
    }
    if (p->op == SOFTCE__OP_BACKWARD && p->t[SOFTCE__GRAD_LOGITS]) {
        void *out = out_row(cx, SOFTCE__GRAD_LOGITS, cx->gx_direct, c, rb->out);
        k->grad(x, q, cx->w, p->C, lse, g * swq, g * a1, g * a0, out);
        finish_row(cx, SOFTCE__GRAD_LOGITS, cx->gx_direct, c, out);
    }
    softce__store_elem(p, SOFTCE__LSE_OUT, c, softce__lse_value(lse));
    return loss;
}

static void zero_row(const softce__context *cx, const softce__cursor *c, const row_bufs *rb) {
    const softce__plan *p = cx->p;
    if (!p->t[SOFTCE__GRAD_LOGITS])
        return;
    void *out = out_row(cx, SOFTCE__GRAD_LOGITS, cx->gx_direct, c, rb->out);
    memset(out, 0, (size_t)p->C * (size_t)cx->tsize); /* all-zero bits = +0.0 */
    finish_row(cx, SOFTCE__GRAD_LOGITS, cx->gx_direct, c, out);
}

static void log_softmax_row(const softce__context *cx, const softce__cursor *c, const row_bufs *rb) {
    const softce__plan *p = cx->p;
    const void *x = stage(cx, SOFTCE__LOGITS, cx->x_direct, c, rb->x);
    void *out = out_row(cx, SOFTCE__GRAD_LOGITS, cx->gx_direct, c, rb->out);
    cx->k->log_softmax(x, p->C, cx->k->lse(x, p->C), out);
    finish_row(cx, SOFTCE__GRAD_LOGITS, cx->gx_direct, c, out);
}

static double element(const softce__context *cx, const softce__cursor *c, const row_bufs *rb) {
    const softce__plan *p = cx->p;
    if (p->op == SOFTCE__OP_LOG_SOFTMAX) {
        log_softmax_row(cx, c, rb);
        return 0.0;
    }
    if (p->soft)
        return soft_row(cx, c, rb);
    const softce_tensor *t = p->t[SOFTCE__TARGET];
    int64_t cls = softce__load_int(t->dtype, t->data, c->off[SOFTCE__TARGET]);
    if (cls != p->ignore_index)
        return hard_row(cx, c, cls, rb);
    zero_row(cx, c, rb);
    if (p->t[SOFTCE__LSE_OUT])
        softce__store_elem(p, SOFTCE__LSE_OUT, c,
                           softce__lse_value(cx->k->lse(
                               stage(cx, SOFTCE__LOGITS, cx->x_direct, c, rb->x), p->C)));
    return 0.0;
}

double softce__rows_block(const softce__context *cx, int64_t e0, int64_t e1, char *scratch) {
    const softce__plan *p = cx->p;
    size_t row = (size_t)p->C * (size_t)cx->tsize;
    row_bufs rb = {scratch, scratch ? scratch + row : NULL, scratch ? scratch + 2 * row : NULL};
    softce__cursor c;
    softce__cursor_seek(p, &c, e0);
    double sum = 0.0;
    int per_element = p->reduction == SOFTCE_REDUCTION_NONE && p->t[SOFTCE__LOSS];
    for (int64_t e = e0; e < e1; e++, softce__cursor_next(p, &c)) {
        double l = element(cx, &c, &rb);
        if (per_element)
            softce__store_elem(p, SOFTCE__LOSS, &c, l);
        sum += l;
    }
    return sum;
}

int softce__row_direct(const softce__plan *p, int slot, int tsize) {
    const softce_tensor *t = p->t[slot];
    return t && p->cs[slot] == 1 && softce__dtype_size(t->dtype) == tsize &&
           (t->dtype == SOFTCE_DTYPE_F32 || t->dtype == SOFTCE_DTYPE_F64);
}

/* Scratch rows: x, p and one output, in the compute type, when anything is not direct. */
size_t softce__rows_scratch(const softce__context *cx) {
    const softce__plan *p = cx->p;
    int any = !cx->x_direct || (p->soft && !cx->p_direct) ||
              (p->t[SOFTCE__GRAD_LOGITS] && !cx->gx_direct) ||
              (p->t[SOFTCE__GRAD_TARGET] && !cx->gt_direct);
    size_t bytes;
    if (!any)
        return 0;
    if (__builtin_mul_overflow((size_t)p->C, (size_t)(3 * cx->tsize), &bytes))
        return SIZE_MAX; /* cannot be allocated: the driver reports out of memory */
    return bytes;
}
