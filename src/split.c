/*
 * Split mode: few rows with a huge class count (a language-model vocabulary). Each row is cut
 * into fixed chunks of SOFTCE__SPLIT_CHUNK classes, whatever the thread count, and the driver
 * runs the phases over (row, chunk) items (driver.c: whole rows per thread, or items split
 * across threads with one barrier):
 *   A  per chunk: its lse {m_k, log s_k} and its loss terms relative to it,
 *      l_k = -sum w q (x - lse_k) and S_k = sum w q. Forward and fused forward+backward run
 *      the fused_sums kernel (blocks of SOFTCE__FUSED_BLOCK values, each read from memory
 *      once); the fused call keeps e = exp(x - m_b) of every block with a finite max m_b in
 *      the chunk's grad_logits (part->bmax), so that phase B only rescales it: one exp per
 *      element, the logits read once and the gradient written twice. Backward and
 *      log_softmax: the lse kernel, then soft_loss
 *   -> combined per row in chunk order: lse = {M, log sum s_k e^(m_k - M)} and
 *      loss = sum_k l_k + S_k (lse - lse_k) (+ the hard target's spike): forward is done
 *   B  gradients (and log_softmax / grad_target), which need the row lse and sum w q: a stored
 *      block by k e - w (c1 p + c0) with k = g coef e^(m_b - lse) (the rescale kernel), other
 *      blocks (backward, or a block whose max is not finite, left untouched by phase A) from
 *      the logits (the grad kernel). A row with a +inf or NaN logit has a NaN lse, so both
 *      ways give NaN there, as the unsplit kernels do.
 * lse - lse_k >= 0 and l_k >= 0 for w q >= 0: the correction adds, nothing cancels.
 * Used when every operand is direct (f32/f64 of the compute type, class stride 1).
 */
#include "driver.h"

#include <math.h>
#include <string.h>

int softce__split_suitable(const softce__plan *p, int tsize) {
    if (p->C < SOFTCE__SPLIT_MIN_C || p->E > SOFTCE__SPLIT_MAX_ROWS)
        return 0;
    for (int s = SOFTCE__LOGITS; s < SOFTCE__NUM_SLOTS; s++) {
        int class_axis = s == SOFTCE__LOGITS || s == SOFTCE__GRAD_LOGITS ||
                         s == SOFTCE__GRAD_TARGET || (s == SOFTCE__TARGET && p->soft);
        if (class_axis && p->t[s] && !softce__row_direct(p, s, tsize))
            return 0;
    }
    return 1;
}

int64_t softce__split_chunks(const softce__plan *p) {
    return (p->C + SOFTCE__SPLIT_CHUNK - 1) / SOFTCE__SPLIT_CHUNK;
}

static char *chunk_ptr(const softce__context *cx, int slot, const softce__split_row *row,
                       int64_t c0) {
    return softce__slot_ptr(cx->p, slot, row->cur.off[slot]) + c0 * cx->tsize;
}

/* v + k values of the compute type (NULL stays NULL). */
static const char *offset(const softce__context *cx, const void *v, int64_t k) {
    return v ? (const char *)v + k * cx->tsize : NULL;
}

static const void *chunk_w(const softce__context *cx, int64_t c0) { return offset(cx, cx->w, c0); }

/* Per row, before phase A: position, class index, upstream gradient. */
void softce__split_row_init(const softce__context *cx, int64_t e, softce__split_row *row) {
    const softce__plan *p = cx->p;
    softce__cursor_seek(p, &row->cur, e);
    row->t = -1;
    row->ignored = 0;
    if (!p->soft && p->op != SOFTCE__OP_LOG_SOFTMAX) {
        const softce_tensor *t = p->t[SOFTCE__TARGET];
        row->t = softce__load_int(t->dtype, t->data, row->cur.off[SOFTCE__TARGET]);
        row->ignored = row->t == p->ignore_index;
    }
    row->g = p->op == SOFTCE__OP_FORWARD ? 1.0 : softce__upstream(p, &row->cur) * cx->inv_d;
    row->xt = row->spike = 0.0;
    if (row->t >= 0 && !row->ignored) { /* x_t before phase A can overwrite it (in place) */
        row->xt = softce__row_value(cx, chunk_ptr(cx, SOFTCE__LOGITS, row, row->t), 0);
        row->spike = (1.0 - p->eps) * (cx->w ? softce__row_value(cx, cx->w, row->t) : 1.0);
    }
}

/* The loss terms of a chunk relative to `lse` (its own in phase A, the row's in the combine):
   -sum w q (x - lse) and sum w q. Hard targets only have the uniform smoothing part here. */
static double chunk_loss(const softce__context *cx, const softce__split_row *row, int64_t c0,
                         int64_t n, softce__lse lse, double *swq) {
    const softce__plan *p = cx->p;
    const double a0 = p->eps / (double)p->C;
    const void *x = chunk_ptr(cx, SOFTCE__LOGITS, row, c0), *w = chunk_w(cx, c0);
    *swq = 0.0;
    if (p->soft)
        return cx->k->soft_loss(x, chunk_ptr(cx, SOFTCE__TARGET, row, c0), w, n, lse, 1.0 - p->eps,
                                a0, swq);
    if (a0 != 0.0 && !row->ignored && p->op != SOFTCE__OP_BACKWARD)
        return cx->k->soft_loss(x, NULL, w, n, lse, 0.0, a0, swq);
    return 0.0;
}

void softce__split_phase_a(const softce__context *cx, const softce__split_row *row, int64_t c0,
                           int64_t n, softce__split_part *part) {
    const softce__plan *p = cx->p;
    part->stored = 0;
    if (p->op == SOFTCE__OP_FORWARD || p->op == SOFTCE__OP_FORWARD_BACKWARD) {
        const void *x = chunk_ptr(cx, SOFTCE__LOGITS, row, c0), *q = NULL, *w = chunk_w(cx, c0);
        double a1 = 0.0, a0 = p->eps / (double)p->C;
        if (p->soft) {
            q = chunk_ptr(cx, SOFTCE__TARGET, row, c0), a1 = 1.0 - p->eps;
        } else if (row->ignored || a0 == 0.0) { /* no smoothing terms: the kernel's fast path */
            a0 = 0.0, w = NULL;
        }
        void *out =
            p->op == SOFTCE__OP_FORWARD_BACKWARD && p->t[SOFTCE__GRAD_LOGITS] && !row->ignored
                ? chunk_ptr(cx, SOFTCE__GRAD_LOGITS, row, c0)
                : NULL;
        part->lse = cx->k->fused_sums(x, q, w, n, a1, a0, out, &part->loss, &part->swq, part->bmax);
        part->stored = out != NULL;
        return;
    }
    part->lse = cx->k->lse(chunk_ptr(cx, SOFTCE__LOGITS, row, c0), n);
    part->loss = part->swq = 0.0;
    if (cx->p->op != SOFTCE__OP_LOG_SOFTMAX && isfinite(part->lse.hi))
        part->loss = chunk_loss(cx, row, c0, n, part->lse, &part->swq);
}

/* Per row, in chunk order: the row lse, x_t of a hard target (read before any write), the
   loss and sum w q. A chunk whose own lse is not finite (all -inf) gets its terms again
   relative to the row lse (an -inf logit with w q != 0 is an infinite loss, not NaN). */
void softce__split_combine_a(const softce__context *cx, softce__split_row *row,
                             const softce__split_part *parts, int64_t nchunks) {
    const softce__plan *p = cx->p;
    double m = -INFINITY, s = 0.0;
    for (int64_t k = 0; k < nchunks; k++)
        m = parts[k].lse.hi > m || parts[k].lse.hi != parts[k].lse.hi ? parts[k].lse.hi : m;
    for (int64_t k = 0; k < nchunks && m != -INFINITY; k++)
        s += exp((parts[k].lse.hi - m) + parts[k].lse.lo);
    row->lse.hi = m;
    row->lse.lo = m == -INFINITY ? 0.0 : log(s);
    row->loss = row->swq = 0.0;
    if (p->op == SOFTCE__OP_LOG_SOFTMAX)
        return;
    for (int64_t k = 0; k < nchunks; k++) {
        const softce__lse lk = parts[k].lse;
        double loss = parts[k].loss, swq = parts[k].swq;
        if (!isfinite(lk.hi)) {
            int64_t c0 = k * SOFTCE__SPLIT_CHUNK;
            int64_t n = p->C - c0 < SOFTCE__SPLIT_CHUNK ? p->C - c0 : SOFTCE__SPLIT_CHUNK;
            loss = chunk_loss(cx, row, c0, n, row->lse, &swq);
        } else if (swq != 0.0) { /* lse - lse_k >= 0 */
            loss += swq * ((row->lse.hi - lk.hi) + (row->lse.lo - lk.lo));
        }
        row->loss += loss;
        row->swq += swq;
    }
    if (row->t >= 0 && !row->ignored && row->spike != 0.0)
        row->loss += row->spike * ((row->lse.hi - row->xt) + row->lse.lo);
}

static void zero_chunk(const softce__context *cx, const softce__split_row *row, int64_t c0,
                       int64_t n) {
    if (cx->p->t[SOFTCE__GRAD_LOGITS])
        memset(chunk_ptr(cx, SOFTCE__GRAD_LOGITS, row, c0), 0, (size_t)n * (size_t)cx->tsize);
}

/* The chunk's gradient a e^(x - lse) - w (c1 p + c0) block by block: where phase A stored
   e = exp(x - m_b) (bmax finite) by the rescale kernel with k = a e^(m_b - lse), elsewhere from
   the logits (the grad kernel). ws: the weights the rescale kernel needs (NULL when c0 and p
   are absent: its fast path). */
static void chunk_grad(const softce__context *cx, const softce__split_row *row, int64_t c0,
                       int64_t n, const softce__split_part *part, const void *q, const void *w,
                       const void *ws, double a, double c1, double cc0) {
    const void *x = chunk_ptr(cx, SOFTCE__LOGITS, row, c0);
    char *out = chunk_ptr(cx, SOFTCE__GRAD_LOGITS, row, c0);
    for (int64_t b0 = 0, b = 0; b0 < n; b0 += SOFTCE__FUSED_BLOCK, b++) {
        const int64_t nb = n - b0 < SOFTCE__FUSED_BLOCK ? n - b0 : SOFTCE__FUSED_BLOCK;
        char *ob = out + b0 * cx->tsize;
        if (part->stored && isfinite(part->bmax[b]))
            cx->k->rescale(ob, offset(cx, q, b0), offset(cx, ws, b0), nb,
                           a * exp((part->bmax[b] - row->lse.hi) - row->lse.lo), c1, cc0);
        else
            cx->k->grad(offset(cx, x, b0), offset(cx, q, b0), offset(cx, w, b0), nb, row->lse, a,
                        c1, cc0, ob);
    }
}

static void hard_grad(const softce__context *cx, const softce__split_row *row, int64_t c0,
                      int64_t n, const softce__split_part *part) {
    const softce__plan *p = cx->p;
    const double a0 = p->eps / (double)p->C, g = row->g;
    if (row->ignored) {
        zero_chunk(cx, row, c0, n);
        return;
    }
    char *out = chunk_ptr(cx, SOFTCE__GRAD_LOGITS, row, c0);
    const void *w = chunk_w(cx, c0);
    chunk_grad(cx, row, c0, n, part, NULL, w, a0 != 0.0 ? w : NULL,
               g * (a0 * cx->wsum + row->spike), 0.0, g * a0);
    if (row->t >= c0 && row->t < c0 + n) {
        if (cx->tsize == 8)
            ((double *)out)[row->t - c0] -= g * row->spike;
        else
            ((float *)out)[row->t - c0] -= (float)(g * row->spike);
    }
}

/* Phase B: everything written along the class axis (needs the combined row). The soft
   target's gradient reads x before an in-place grad_logits overwrites it. */
void softce__split_phase_b(const softce__context *cx, const softce__split_row *row, int64_t c0,
                           int64_t n, softce__split_part *part) {
    const softce__plan *p = cx->p;
    const void *x = chunk_ptr(cx, SOFTCE__LOGITS, row, c0), *w = chunk_w(cx, c0);
    if (p->op == SOFTCE__OP_LOG_SOFTMAX) {
        cx->k->log_softmax(x, n, row->lse, chunk_ptr(cx, SOFTCE__GRAD_LOGITS, row, c0));
        return;
    }
    if (p->op == SOFTCE__OP_FORWARD)
        return;
    if (!p->soft) {
        if (p->t[SOFTCE__GRAD_LOGITS])
            hard_grad(cx, row, c0, n, part);
        return;
    }
    const double a1 = 1.0 - p->eps, a0 = p->eps / (double)p->C, g = row->g;
    if (p->op == SOFTCE__OP_BACKWARD && p->t[SOFTCE__GRAD_TARGET])
        cx->k->grad_target(x, w, n, row->lse, g * a1, chunk_ptr(cx, SOFTCE__GRAD_TARGET, row, c0));
    if (p->t[SOFTCE__GRAD_LOGITS])
        chunk_grad(cx, row, c0, n, part, chunk_ptr(cx, SOFTCE__TARGET, row, c0), w, w, g * row->swq,
                   g * a1, g * a0);
}
