/*
 * Parallel driver: the only file that includes <omp.h>.
 * Elements are cut into fixed-size blocks whose boundaries depend on the shape only; threads
 * take whole blocks, and block partial sums are combined serially in block order, so results
 * are bitwise identical for any thread count.
 */
#include "internal.h"
#include "kernels/kernels.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* Roughly this many logits per block (shape-dependent only). */
#define SOFTCE__BLOCK_LOGITS 65536
#define SOFTCE__MAX_BLOCK_ROWS 4096
/* Below this many logits a call runs on one thread. */
#define SOFTCE__SERIAL_LOGITS 32768

typedef struct cursor {
    int64_t idx[SOFTCE__MAX_EDIMS];
    int64_t off[SOFTCE__NUM_SLOTS];
} cursor;

static void cursor_seek(const softce__plan *p, cursor *c, int64_t e) {
    memset(c, 0, sizeof *c);
    for (int d = p->ndim - 1; d >= 0; d--) {
        c->idx[d] = e % p->shape[d];
        e /= p->shape[d];
        for (int s = 0; s < SOFTCE__NUM_SLOTS; s++)
            c->off[s] += c->idx[d] * p->es[s][d];
    }
}

static void cursor_next(const softce__plan *p, cursor *c) {
    for (int d = p->ndim - 1; d >= 0; d--) {
        for (int s = 0; s < SOFTCE__NUM_SLOTS; s++)
            c->off[s] += p->es[s][d];
        if (++c->idx[d] < p->shape[d])
            return;
        for (int s = 0; s < SOFTCE__NUM_SLOTS; s++)
            c->off[s] -= p->shape[d] * p->es[s][d];
        c->idx[d] = 0;
    }
}

static char *slot_ptr(const softce__plan *p, int slot, int64_t off) {
    const softce_tensor *t = p->t[slot];
    return (char *)t->data + off * softce__dtype_size(t->dtype);
}

/* Everything a block of rows needs, shared read-only by the threads. */
typedef struct context {
    const softce__plan *p;
    const softce__row_kernels *k;
    int tsize;             /* bytes of the compute type */
    int64_t block_rows;    /* rows per block */
    int64_t nblocks;
    double inv_d;          /* 1 / mean denominator (1 for sum/none) */
    double wsum;           /* sum of class weights (C without weights) */
    const void *w;         /* class weights in the compute type, or NULL */
    int x_direct, p_direct, gx_direct, gt_direct;
    char *scratch;         /* per thread: x, p, out rows */
    double *block_loss;    /* per block partial sums */
} context;

static int direct(const softce__plan *p, int slot, int tsize) {
    const softce_tensor *t = p->t[slot];
    return t && p->cs[slot] == 1 && softce__dtype_size(t->dtype) == tsize &&
           (t->dtype == SOFTCE_DTYPE_F64) == p->compute_f64 &&
           (t->dtype == SOFTCE_DTYPE_F32 || t->dtype == SOFTCE_DTYPE_F64);
}

/* ---- hard-target pre-pass: validate every class index, sum the weights of the counted ---- */

typedef struct target_scan {
    int64_t first_bad; /* element index, or -1 */
    int64_t bad_value;
    double wsum;
} target_scan;

static void scan_block(const context *cx, int64_t b, target_scan *out) {
    const softce__plan *p = cx->p;
    const softce_tensor *t = p->t[SOFTCE__TARGET];
    int64_t e0 = b * cx->block_rows, e1 = e0 + cx->block_rows;
    if (e1 > p->E)
        e1 = p->E;
    cursor c;
    cursor_seek(p, &c, e0);
    out->first_bad = -1;
    out->bad_value = 0;
    out->wsum = 0.0;
    for (int64_t e = e0; e < e1; e++, cursor_next(p, &c)) {
        int64_t cls = softce__load_int(t->dtype, t->data, c.off[SOFTCE__TARGET]);
        if (cls == p->ignore_index)
            continue;
        if (cls < 0 || cls >= p->C) {
            out->first_bad = e;
            out->bad_value = cls;
            return;
        }
        const softce_tensor *w = p->t[SOFTCE__WEIGHT];
        out->wsum += w ? softce__load(w->dtype, w->data, cls * p->cs[SOFTCE__WEIGHT]) : 1.0;
    }
}

/* ---- one row ------------------------------------------------------------------------- */

typedef struct row_bufs {
    void *x, *p, *out;
} row_bufs;

static const void *stage(const context *cx, int slot, int is_direct, const cursor *c,
                         void *buf) {
    const softce__plan *p = cx->p;
    char *base = slot_ptr(p, slot, c->off[slot]);
    if (is_direct)
        return base;
    softce__gather(p->t[slot]->dtype, base, p->cs[slot], p->C, p->compute_f64, buf);
    return buf;
}

/* Where a row output is computed: straight into the tensor, or into a buffer to scatter. */
static void *out_row(const context *cx, int slot, int is_direct, const cursor *c, void *buf) {
    return is_direct ? slot_ptr(cx->p, slot, c->off[slot]) : buf;
}

static void finish_row(const context *cx, int slot, int is_direct, const cursor *c,
                       const void *row) {
    const softce__plan *p = cx->p;
    if (!is_direct)
        softce__scatter(p->t[slot]->dtype, slot_ptr(p, slot, c->off[slot]), p->cs[slot], p->C,
                        p->compute_f64, row);
}

static void store_elem(const softce__plan *p, int slot, const cursor *c, double v) {
    const softce_tensor *t = p->t[slot];
    if (t)
        softce__store(t->dtype, t->data, c->off[slot], v);
}

static double upstream(const softce__plan *p, const cursor *c) {
    const softce_tensor *g = p->t[SOFTCE__GRAD_LOSS];
    return g ? softce__load(g->dtype, g->data, c->off[SOFTCE__GRAD_LOSS]) : 1.0;
}

static void add_at(const context *cx, void *row, int64_t i, double v) {
    if (cx->p->compute_f64)
        ((double *)row)[i] += v;
    else
        ((float *)row)[i] += (float)v;
}

static double row_at(const context *cx, const void *row, int64_t i) {
    return cx->p->compute_f64 ? ((const double *)row)[i] : (double)((const float *)row)[i];
}

static double weight_at(const context *cx, int64_t i) {
    return cx->w ? row_at(cx, cx->w, i) : 1.0;
}

/* A hard target's row as "spike" (1-eps) w_t at t plus uniform eps/C: returns the loss. */
static double hard_row(const context *cx, const cursor *c, int64_t t, const row_bufs *rb) {
    const softce__plan *p = cx->p;
    const softce__row_kernels *k = cx->k;
    const double a0 = p->eps / (double)p->C, spike = (1.0 - p->eps) * weight_at(cx, t);
    const void *x = stage(cx, SOFTCE__LOGITS, cx->x_direct, c, rb->x);
    const double xt = row_at(cx, x, t);
    double g = 1.0, lse, loss, swq;
    if (p->op != SOFTCE__OP_FORWARD)
        g = upstream(p, c) * cx->inv_d;
    if (p->op == SOFTCE__OP_FORWARD_BACKWARD) {
        void *out = out_row(cx, SOFTCE__GRAD_LOGITS, cx->gx_direct, c, rb->out);
        lse = k->fused(x, NULL, cx->w, p->C, 0.0, a0, spike, g, out, &loss);
        add_at(cx, out, t, -g * spike);
        finish_row(cx, SOFTCE__GRAD_LOGITS, cx->gx_direct, c, out);
    } else {
        lse = p->t[SOFTCE__LSE_IN] ? softce__load(p->t[SOFTCE__LSE_IN]->dtype,
                                                  p->t[SOFTCE__LSE_IN]->data,
                                                  c->off[SOFTCE__LSE_IN])
                                   : k->lse(x, p->C);
        loss = 0.0;
        if (a0 != 0.0 && p->op == SOFTCE__OP_FORWARD)
            loss = k->soft_loss(x, NULL, cx->w, p->C, lse, 0.0, a0, &swq);
        if (p->op == SOFTCE__OP_BACKWARD && p->t[SOFTCE__GRAD_LOGITS]) {
            void *out = out_row(cx, SOFTCE__GRAD_LOGITS, cx->gx_direct, c, rb->out);
            k->grad(x, NULL, cx->w, p->C, lse, g * (a0 * cx->wsum + spike), 0.0, g * a0, out);
            add_at(cx, out, t, -g * spike);
            finish_row(cx, SOFTCE__GRAD_LOGITS, cx->gx_direct, c, out);
        }
    }
    if (spike != 0.0)
        loss += spike * (lse - xt);
    store_elem(p, SOFTCE__LSE_OUT, c, lse);
    return loss;
}

/* A soft target's row, q = (1 - eps) p + eps / C: returns the loss. */
static double soft_row(const context *cx, const cursor *c, const row_bufs *rb) {
    const softce__plan *p = cx->p;
    const softce__row_kernels *k = cx->k;
    const double a1 = 1.0 - p->eps, a0 = p->eps / (double)p->C;
    const void *x = stage(cx, SOFTCE__LOGITS, cx->x_direct, c, rb->x);
    const void *q = stage(cx, SOFTCE__TARGET, cx->p_direct, c, rb->p);
    double g = 1.0, lse, loss, swq;
    if (p->op != SOFTCE__OP_FORWARD)
        g = upstream(p, c) * cx->inv_d;
    if (p->op == SOFTCE__OP_FORWARD_BACKWARD) {
        void *out = out_row(cx, SOFTCE__GRAD_LOGITS, cx->gx_direct, c, rb->out);
        lse = k->fused(x, q, cx->w, p->C, a1, a0, 0.0, g, out, &loss);
        finish_row(cx, SOFTCE__GRAD_LOGITS, cx->gx_direct, c, out);
        store_elem(p, SOFTCE__LSE_OUT, c, lse);
        return loss;
    }
    const softce_tensor *lt = p->t[SOFTCE__LSE_IN];
    lse = lt ? softce__load(lt->dtype, lt->data, c->off[SOFTCE__LSE_IN]) : k->lse(x, p->C);
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
    store_elem(p, SOFTCE__LSE_OUT, c, lse);
    return loss;
}

static void zero_row(const context *cx, const cursor *c, const row_bufs *rb) {
    const softce__plan *p = cx->p;
    if (!p->t[SOFTCE__GRAD_LOGITS])
        return;
    void *out = out_row(cx, SOFTCE__GRAD_LOGITS, cx->gx_direct, c, rb->out);
    memset(out, 0, (size_t)p->C * (size_t)cx->tsize); /* all-zero bits = +0.0 */
    finish_row(cx, SOFTCE__GRAD_LOGITS, cx->gx_direct, c, out);
}

static void log_softmax_row(const context *cx, const cursor *c, const row_bufs *rb) {
    const softce__plan *p = cx->p;
    const void *x = stage(cx, SOFTCE__LOGITS, cx->x_direct, c, rb->x);
    void *out = out_row(cx, SOFTCE__GRAD_LOGITS, cx->gx_direct, c, rb->out);
    cx->k->log_softmax(x, p->C, cx->k->lse(x, p->C), out);
    finish_row(cx, SOFTCE__GRAD_LOGITS, cx->gx_direct, c, out);
}

static double element(const context *cx, const cursor *c, const row_bufs *rb) {
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
        store_elem(p, SOFTCE__LSE_OUT, c,
                   cx->k->lse(stage(cx, SOFTCE__LOGITS, cx->x_direct, c, rb->x), p->C));
    return 0.0;
}

static void run_block(const context *cx, int64_t b, int tid) {
    const softce__plan *p = cx->p;
    size_t row = (size_t)p->C * (size_t)cx->tsize;
    char *mine = cx->scratch ? cx->scratch + (size_t)tid * 3 * row : NULL;
    row_bufs rb = {mine, mine ? mine + row : NULL, mine ? mine + 2 * row : NULL};
    int64_t e0 = b * cx->block_rows, e1 = e0 + cx->block_rows;
    if (e1 > p->E)
        e1 = p->E;
    cursor c;
    cursor_seek(p, &c, e0);
    double sum = 0.0;
    int per_element = p->reduction == SOFTCE_REDUCTION_NONE && p->t[SOFTCE__LOSS];
    for (int64_t e = e0; e < e1; e++, cursor_next(p, &c)) {
        double l = element(cx, &c, &rb);
        if (per_element)
            store_elem(p, SOFTCE__LOSS, &c, l);
        sum += l;
    }
    cx->block_loss[b] = sum;
}

/* ---- the call ------------------------------------------------------------------------ */

static int thread_count(const softce__plan *p, int64_t nblocks) {
    int nt = p->num_threads > 0 ? p->num_threads : omp_get_max_threads();
    if ((double)p->E * (double)p->C < SOFTCE__SERIAL_LOGITS)
        nt = 1;
    if (nt > nblocks)
        nt = (int)(nblocks > 0 ? nblocks : 1);
    return nt;
}

/* Class weights in the compute type (contiguous), and their sum. */
static softce_status load_weights(context *cx, void **owned) {
    const softce__plan *p = cx->p;
    const softce_tensor *w = p->t[SOFTCE__WEIGHT];
    *owned = NULL;
    cx->w = NULL;
    cx->wsum = (double)p->C;
    if (!w || p->op == SOFTCE__OP_LOG_SOFTMAX)
        return SOFTCE_OK;
    void *buf = malloc((size_t)p->C * (size_t)cx->tsize);
    if (!buf)
        return softce__fail(SOFTCE_ERROR_OUT_OF_MEMORY, "cannot allocate %lld class weights",
                            (long long)p->C);
    softce__gather(w->dtype, w->data, p->cs[SOFTCE__WEIGHT], p->C, p->compute_f64, buf);
    cx->wsum = 0.0;
    for (int64_t i = 0; i < p->C; i++)
        cx->wsum += row_at(cx, buf, i);
    *owned = buf;
    cx->w = buf;
    return SOFTCE_OK;
}

/* Validates class indices (before any output is written) and sums the counted weights. */
static softce_status scan_targets(context *cx, int nt, double *wsum) {
    const softce__plan *p = cx->p;
    target_scan *scans = malloc((size_t)cx->nblocks * sizeof *scans);
    if (!scans)
        return softce__fail(SOFTCE_ERROR_OUT_OF_MEMORY, "cannot allocate the target scan");
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t b = 0; b < cx->nblocks; b++)
        scan_block(cx, b, &scans[b]);
    softce_status st = SOFTCE_OK;
    *wsum = 0.0;
    for (int64_t b = 0; b < cx->nblocks && st == SOFTCE_OK; b++) {
        if (scans[b].first_bad >= 0)
            st = softce__fail(SOFTCE_ERROR_TARGET, "target[%lld] = %lld is outside [0, %lld)",
                              (long long)scans[b].first_bad, (long long)scans[b].bad_value,
                              (long long)p->C);
        *wsum += scans[b].wsum;
    }
    free(scans);
    (void)p;
    return st;
}

static int needs_scratch(const context *cx) {
    const softce__plan *p = cx->p;
    return !cx->x_direct || (p->soft && !cx->p_direct) ||
           (p->t[SOFTCE__GRAD_LOGITS] && !cx->gx_direct) ||
           (p->t[SOFTCE__GRAD_TARGET] && !cx->gt_direct);
}

static void write_reduced_loss(const context *cx, double mean_denominator) {
    const softce__plan *p = cx->p;
    const softce_tensor *loss = p->t[SOFTCE__LOSS];
    if (!loss || p->reduction == SOFTCE_REDUCTION_NONE)
        return;
    double total = 0.0;
    for (int64_t b = 0; b < cx->nblocks; b++)
        total += cx->block_loss[b];
    if (p->reduction == SOFTCE_REDUCTION_MEAN)
        total /= mean_denominator;
    softce__store(loss->dtype, loss->data, 0, total);
}

softce_status softce__run(const softce__plan *p) {
    context cx = {0};
    cx.p = p;
    cx.k = p->compute_f64 ? softce__kernels_f64() : softce__kernels_f32();
    cx.tsize = p->compute_f64 ? 8 : 4;
    int64_t rows = SOFTCE__BLOCK_LOGITS / p->C;
    cx.block_rows = rows < 1 ? 1 : rows > SOFTCE__MAX_BLOCK_ROWS ? SOFTCE__MAX_BLOCK_ROWS : rows;
    cx.nblocks = (p->E + cx.block_rows - 1) / cx.block_rows;
    cx.x_direct = direct(p, SOFTCE__LOGITS, cx.tsize);
    cx.p_direct = p->soft && direct(p, SOFTCE__TARGET, cx.tsize);
    cx.gx_direct = direct(p, SOFTCE__GRAD_LOGITS, cx.tsize);
    cx.gt_direct = direct(p, SOFTCE__GRAD_TARGET, cx.tsize);
    int nt = thread_count(p, cx.nblocks);

    void *wbuf = NULL;
    softce_status st = load_weights(&cx, &wbuf);
    double denominator = (double)p->E; /* soft mean: number of elements */
    if (st == SOFTCE_OK && !p->soft && p->op != SOFTCE__OP_LOG_SOFTMAX)
        st = scan_targets(&cx, nt, &denominator);
    cx.inv_d = p->reduction == SOFTCE_REDUCTION_MEAN ? 1.0 / denominator : 1.0;
    if (st == SOFTCE_OK) {
        cx.block_loss = malloc((size_t)(cx.nblocks > 0 ? cx.nblocks : 1) * sizeof(double));
        if (needs_scratch(&cx))
            cx.scratch = malloc((size_t)nt * 3 * (size_t)p->C * (size_t)cx.tsize);
        if (!cx.block_loss || (needs_scratch(&cx) && !cx.scratch))
            st = softce__fail(SOFTCE_ERROR_OUT_OF_MEMORY,
                              "cannot allocate scratch rows for %d threads x %lld classes", nt,
                              (long long)p->C);
    }
    if (st == SOFTCE_OK) {
#pragma omp parallel for schedule(static) num_threads(nt)
        for (int64_t b = 0; b < cx.nblocks; b++)
            run_block(&cx, b, omp_get_thread_num());
        write_reduced_loss(&cx, denominator);
    }
    free(cx.scratch);
    free(cx.block_loss);
    free(wbuf);
    return st;
}
