/*
 * Split mode: few rows with a huge class count (a language-model vocabulary). Each row is cut
 * into fixed chunks of SOFTCE__SPLIT_CHUNK classes, whatever the thread count, and the driver
 * runs the phases below as parallel loops over all (row, chunk) items with one barrier each:
 *   A  lse of every chunk                       -> combined per row in chunk order: row lse
 *   B  loss terms (and hard/target gradients)   -> combined per row: loss, sum w q
 *   C  soft-target gradients (need sum w q)
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

static const void *chunk_w(const softce__context *cx, int64_t c0) {
    return cx->w ? (const char *)cx->w + c0 * cx->tsize : NULL;
}

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
}

void softce__split_phase_a(const softce__context *cx, const softce__split_row *row, int64_t c0,
                           int64_t n, softce__split_part *part) {
    part->lse = cx->k->lse(chunk_ptr(cx, SOFTCE__LOGITS, row, c0), n);
}

/* Row lse from its chunks (chunk order), and x_t of a hard target (read before any write). */
void softce__split_combine_a(const softce__context *cx, softce__split_row *row,
                             const softce__split_part *parts, int64_t nchunks) {
    double m = -INFINITY, s = 0.0;
    for (int64_t k = 0; k < nchunks; k++)
        m = parts[k].lse.hi > m || parts[k].lse.hi != parts[k].lse.hi ? parts[k].lse.hi : m;
    for (int64_t k = 0; k < nchunks && m != -INFINITY; k++)
        s += exp((parts[k].lse.hi - m) + parts[k].lse.lo);
    row->lse.hi = m;
    row->lse.lo = m == -INFINITY ? 0.0 : log(s);
    if (row->t >= 0 && !row->ignored) {
        row->xt = softce__row_value(cx, chunk_ptr(cx, SOFTCE__LOGITS, row, row->t), 0);
        row->spike = (1.0 - cx->p->eps) * (cx->w ? softce__row_value(cx, cx->w, row->t) : 1.0);
    }
}

static void zero_chunk(const softce__context *cx, const softce__split_row *row, int64_t c0,
                       int64_t n) {
    if (cx->p->t[SOFTCE__GRAD_LOGITS])
        memset(chunk_ptr(cx, SOFTCE__GRAD_LOGITS, row, c0), 0, (size_t)n * (size_t)cx->tsize);
}

static void hard_chunk(const softce__context *cx, const softce__split_row *row, int64_t c0,
                       int64_t n, softce__split_part *part) {
    const softce__plan *p = cx->p;
    const double a0 = p->eps / (double)p->C;
    const void *x = chunk_ptr(cx, SOFTCE__LOGITS, row, c0), *w = chunk_w(cx, c0);
    double swq;
    if (row->ignored) {
        zero_chunk(cx, row, c0, n);
        return;
    }
    if (a0 != 0.0 && p->op != SOFTCE__OP_BACKWARD) /* before an in-place gradient */
        part->loss = cx->k->soft_loss(x, NULL, w, n, row->lse, 0.0, a0, &swq);
    if (p->op == SOFTCE__OP_FORWARD || !p->t[SOFTCE__GRAD_LOGITS])
        return;
    char *out = chunk_ptr(cx, SOFTCE__GRAD_LOGITS, row, c0);
    const double g = row->g;
    cx->k->grad(x, NULL, w, n, row->lse, g * (a0 * cx->wsum + row->spike), 0.0, g * a0, out);
    if (row->t >= c0 && row->t < c0 + n) {
        if (cx->tsize == 8)
            ((double *)out)[row->t - c0] -= g * row->spike;
        else
            ((float *)out)[row->t - c0] -= (float)(g * row->spike);
    }
}

void softce__split_phase_b(const softce__context *cx, const softce__split_row *row, int64_t c0,
                           int64_t n, softce__split_part *part) {
    const softce__plan *p = cx->p;
    const void *x = chunk_ptr(cx, SOFTCE__LOGITS, row, c0), *w = chunk_w(cx, c0);
    part->loss = part->swq = 0.0;
    if (p->op == SOFTCE__OP_LOG_SOFTMAX) {
        cx->k->log_softmax(x, n, row->lse, chunk_ptr(cx, SOFTCE__GRAD_LOGITS, row, c0));
        return;
    }
    if (!p->soft) {
        hard_chunk(cx, row, c0, n, part);
        return;
    }
    const double a1 = 1.0 - p->eps, a0 = p->eps / (double)p->C;
    part->loss = cx->k->soft_loss(x, chunk_ptr(cx, SOFTCE__TARGET, row, c0), w, n, row->lse, a1,
                                  a0, &part->swq);
    if (p->op == SOFTCE__OP_BACKWARD && p->t[SOFTCE__GRAD_TARGET])
        cx->k->grad_target(x, w, n, row->lse, row->g * a1,
                           chunk_ptr(cx, SOFTCE__GRAD_TARGET, row, c0));
}

void softce__split_combine_b(const softce__context *cx, softce__split_row *row,
                             const softce__split_part *parts, int64_t nchunks) {
    row->loss = row->swq = 0.0;
    for (int64_t k = 0; k < nchunks; k++) {
        row->loss += parts[k].loss;
        row->swq += parts[k].swq;
    }
    if (row->t >= 0 && !row->ignored && row->spike != 0.0)
        row->loss += row->spike * ((row->lse.hi - row->xt) + row->lse.lo);
    (void)cx;
}

int softce__split_needs_c(const softce__plan *p) {
    return p->soft && p->op != SOFTCE__OP_FORWARD && p->t[SOFTCE__GRAD_LOGITS];
}

void softce__split_phase_c(const softce__context *cx, const softce__split_row *row, int64_t c0,
                           int64_t n) {
    const softce__plan *p = cx->p;
    const double a1 = 1.0 - p->eps, a0 = p->eps / (double)p->C, g = row->g;
    cx->k->grad(chunk_ptr(cx, SOFTCE__LOGITS, row, c0), chunk_ptr(cx, SOFTCE__TARGET, row, c0),
                chunk_w(cx, c0), n, row->lse, g * row->swq, g * a1, g * a0,
                chunk_ptr(cx, SOFTCE__GRAD_LOGITS, row, c0));
}
