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
 * Of the 1.1 options, z-loss, sample weights and the z-loss output (split_options): a row's
 * sample weight s scales its upstream gradient (row->g) and its loss, s = 0 masks it as an
 * ignored target does (lse only, zero gradients), and z-loss adds s z_loss lse^2 to the combined
 * loss and 2 z_loss lse to phase B's coefficient, as the row kernels do.
 * Used when every operand along the class axis has class stride 1. A direct one (f32/f64 of
 * the compute type) is read and written in place; any other (f16/bf16, or f32 beside f64
 * logits) is staged a chunk at a time through the thread's scratch (softce__split_scratch:
 * converted in, computed, converted out). A staged gradient of the fused call keeps e in a
 * buffer of its item instead (softce__split_keep: with whole rows per thread one row per
 * thread, phase B running in reverse chunk order finds the last ones in L2; else one per
 * item), and phase B rescales it there before converting it out, or, for a 16-bit gradient
 * where the ISA has rescale_narrow (chunk_grad_narrow), rescales and converts it into the
 * operand in one pass (reading a soft target of the gradient's format as it is). Where the ISA
 * has fused_sums16, phase A reads 16-bit logits (and a soft target of their format) itself
 * instead of staging them (phase_a16); a chunk with a block whose max is not finite is staged.
 */
#include "driver.h"

#include <math.h>
#include <string.h>

static int class_axis_slot(const softce__plan *p, int s) {
    return s == SOFTCE__LOGITS || s == SOFTCE__GRAD_LOGITS || s == SOFTCE__GRAD_TARGET ||
           (s == SOFTCE__TARGET && p->soft);
}

/* Of the 1.1 options split mode takes z-loss, sample weights and the z-loss output; not a
   logit transform, KL, OTHERS smoothing, a prior, argmax / correct outputs or top-k targets. */
static int split_options(const softce__plan *p) {
    return p->logit_scale == 1.0 && p->softcap == 0.0 && !p->kl &&
           p->smoothing == SOFTCE_SMOOTHING_UNIFORM && !p->t[SOFTCE__PRIOR] &&
           !p->t[SOFTCE__ARGMAX_OUT] && !p->t[SOFTCE__CORRECT_OUT] && !p->topk;
}

int softce__split_suitable(const softce__plan *p) {
    if (p->C < SOFTCE__SPLIT_MIN_C || p->E > SOFTCE__SPLIT_MAX_ROWS || !split_options(p))
        return 0;
    for (int s = SOFTCE__LOGITS; s < SOFTCE__NUM_SLOTS; s++)
        if (class_axis_slot(p, s) && p->t[s] &&
            !(p->cs[s] == 1 && softce__dtype_is_float(p->t[s]->dtype)))
            return 0;
    return 1;
}

/* One staging buffer: a chunk of the compute type, on whole cache lines. */
static size_t stage_bytes(const softce__context *cx) {
    return ((size_t)SOFTCE__SPLIT_CHUNK * (size_t)cx->tsize + 63) & ~(size_t)63;
}

/* A fused call with a staged gradient keeps e between the phases in buffers of its own. */
static int keeps_e(const softce__context *cx) {
    const softce__plan *p = cx->p;
    return p->op == SOFTCE__OP_FORWARD_BACKWARD && p->t[SOFTCE__GRAD_LOGITS] &&
           !softce__row_direct(p, SOFTCE__GRAD_LOGITS, cx->tsize);
}

/* Per thread: three staging buffers (x, the soft target, one output) when any class-axis
   operand is not direct, else none. */
size_t softce__split_scratch(const softce__context *cx) {
    const softce__plan *p = cx->p;
    for (int s = SOFTCE__LOGITS; s < SOFTCE__NUM_SLOTS; s++)
        if (class_axis_slot(p, s) && p->t[s] && !softce__row_direct(p, s, cx->tsize))
            return 3 * stage_bytes(cx);
    return 0;
}

size_t softce__split_keep(const softce__context *cx) { return keeps_e(cx) ? stage_bytes(cx) : 0; }

int64_t softce__split_chunks(const softce__plan *p) {
    return (p->C + SOFTCE__SPLIT_CHUNK - 1) / SOFTCE__SPLIT_CHUNK;
}

/* Class c0 of the row in operand `slot` (class stride 1), in the operand's own dtype. */
static char *chunk_ptr(const softce__context *cx, int slot, const softce__split_row *row,
                       int64_t c0) {
    return softce__slot_ptr(cx->p, slot, row->cur.off[slot] + c0);
}

enum { STAGE_X, STAGE_Q, STAGE_OUT };

static int direct(const softce__context *cx, int slot) {
    return softce__row_direct(cx->p, slot, cx->tsize);
}

/* A chunk to read in the compute type: the operand itself, or converted into staging buffer k. */
static const void *chunk_in(const softce__context *cx, int slot, const softce__split_row *row,
                            int64_t c0, int64_t n, char *scratch, int k) {
    char *at = chunk_ptr(cx, slot, row, c0);
    if (direct(cx, slot))
        return at;
    void *buf = scratch + (size_t)k * stage_bytes(cx);
    softce__gather(cx->p->t[slot]->dtype, at, 1, n, cx->p->compute_f64, buf);
    return buf;
}

/* Where a chunk output is computed: the operand itself, or the output staging buffer... */
static void *chunk_out(const softce__context *cx, int slot, const softce__split_row *row,
                       int64_t c0, char *scratch) {
    return direct(cx, slot) ? chunk_ptr(cx, slot, row, c0)
                            : scratch + (size_t)STAGE_OUT * stage_bytes(cx);
}

/* Where the gradient chunk is computed: the item's buffer where a fused call keeps e (keep is
   set exactly then: softce__split_keep), else as any output. */
static char *grad_out(const softce__context *cx, const softce__split_row *row, int64_t c0,
                      char *scratch, char *keep) {
    return keep ? keep : chunk_out(cx, SOFTCE__GRAD_LOGITS, row, c0, scratch);
}

/* ...converted into the operand once complete. */
static void chunk_done(const softce__context *cx, int slot, const softce__split_row *row,
                       int64_t c0, int64_t n, const void *out) {
    if (!direct(cx, slot))
        softce__scatter(cx->p->t[slot]->dtype, chunk_ptr(cx, slot, row, c0), 1, n,
                        cx->p->compute_f64, out);
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
    const softce_tensor *sw = p->t[SOFTCE__SAMPLE_W];
    row->t = -1;
    row->s = sw && p->op != SOFTCE__OP_LOG_SOFTMAX
                 ? softce__load(sw->dtype, sw->data, row->cur.off[SOFTCE__SAMPLE_W])
                 : 1.0;
    row->skip = row->s == 0.0;
    row->zterm = 0.0;
    if (!p->soft && p->op != SOFTCE__OP_LOG_SOFTMAX) {
        const softce_tensor *t = p->t[SOFTCE__TARGET];
        row->t = softce__load_int(t->dtype, t->data, row->cur.off[SOFTCE__TARGET]);
        row->skip |= row->t == p->ignore_index;
    }
    row->g =
        p->op == SOFTCE__OP_FORWARD ? 1.0 : softce__upstream(p, &row->cur) * cx->inv_d * row->s;
    row->xt = row->spike = 0.0;
    if (row->t >= 0 && !row->skip) { /* x_t before phase A can overwrite it (in place) */
        const softce_tensor *x = p->t[SOFTCE__LOGITS];
        row->xt = softce__load(x->dtype, x->data, row->cur.off[SOFTCE__LOGITS] + row->t);
        row->spike = (1.0 - p->eps) * (cx->w ? softce__row_value(cx, cx->w, row->t) : 1.0);
    }
}

/* The loss terms of a chunk relative to `lse` (its own in phase A, the row's in the combine):
   -sum w q (x - lse) and sum w q. Hard targets only have the uniform smoothing part here. */
static double chunk_loss(const softce__context *cx, const softce__split_row *row, int64_t c0,
                         int64_t n, softce__lse lse, double *swq, char *scratch) {
    const softce__plan *p = cx->p;
    const double a0 = p->eps / (double)p->C;
    const void *w = chunk_w(cx, c0);
    *swq = 0.0;
    if (p->soft)
        return cx->k->soft_loss(chunk_in(cx, SOFTCE__LOGITS, row, c0, n, scratch, STAGE_X),
                                chunk_in(cx, SOFTCE__TARGET, row, c0, n, scratch, STAGE_Q), w, n,
                                lse, 1.0 - p->eps, a0, swq);
    if (a0 != 0.0 && !row->skip && p->op != SOFTCE__OP_BACKWARD)
        return cx->k->soft_loss(chunk_in(cx, SOFTCE__LOGITS, row, c0, n, scratch, STAGE_X), NULL, w,
                                n, lse, 0.0, a0, swq);
    return 0.0;
}

/* The 16-bit format (1 bf16, 0 f16) of f32-compute logits that the ISA's fused_sums16 reads
   itself, together with a soft target of the same format; -1 where the chunks are staged. */
static int phase_a16(const softce__context *cx) {
    const softce__plan *p = cx->p;
    const softce__convert *cv = softce__converters();
    const int32_t dt = p->t[SOFTCE__LOGITS]->dtype;
    if (cx->tsize != 4 || !cv || !cv->fused_sums16 ||
        (dt != SOFTCE_DTYPE_BF16 && dt != SOFTCE_DTYPE_F16) ||
        (p->soft && p->t[SOFTCE__TARGET]->dtype != dt))
        return -1;
    return dt == SOFTCE_DTYPE_BF16;
}

void softce__split_phase_a(const softce__context *cx, const softce__split_row *row, int64_t c0,
                           int64_t n, softce__split_part *part, char *scratch, char *keep) {
    const softce__plan *p = cx->p;
    part->stored = 0;
    if (p->op == SOFTCE__OP_FORWARD || p->op == SOFTCE__OP_FORWARD_BACKWARD) {
        const void *w = chunk_w(cx, c0);
        double a1 = 0.0, a0 = p->eps / (double)p->C;
        const int soft = p->soft && !row->skip; /* a skipped row: its lse only */
        if (soft)
            a1 = 1.0 - p->eps;
        else if (row->skip || a0 == 0.0) /* no smoothing terms: the kernel's fast path */
            a0 = 0.0, w = NULL;
        void *out = p->op == SOFTCE__OP_FORWARD_BACKWARD && p->t[SOFTCE__GRAD_LOGITS] && !row->skip
                        ? grad_out(cx, row, c0, scratch, keep)
                        : NULL;
        part->stored = out != NULL;
        const int bf16 = phase_a16(cx);
        if (bf16 >= 0 && softce__converters()->fused_sums16(
                             bf16, chunk_ptr(cx, SOFTCE__LOGITS, row, c0),
                             soft ? chunk_ptr(cx, SOFTCE__TARGET, row, c0) : NULL, w, n, a1, a0,
                             out, &part->lse, &part->loss, &part->swq, part->bmax))
            return;
        const void *x = chunk_in(cx, SOFTCE__LOGITS, row, c0, n, scratch, STAGE_X);
        const void *q = soft ? chunk_in(cx, SOFTCE__TARGET, row, c0, n, scratch, STAGE_Q) : NULL;
        part->lse = cx->k->fused_sums(x, q, w, n, a1, a0, out, &part->loss, &part->swq, part->bmax);
        return;
    }
    part->lse = cx->k->lse(chunk_in(cx, SOFTCE__LOGITS, row, c0, n, scratch, STAGE_X), n);
    part->loss = part->swq = 0.0;
    if (cx->p->op != SOFTCE__OP_LOG_SOFTMAX && isfinite(part->lse.hi))
        part->loss = chunk_loss(cx, row, c0, n, part->lse, &part->swq, scratch);
}

/* Per row, in chunk order: the row lse, x_t of a hard target (read before any write), the
   loss and sum w q. A chunk whose own lse is not finite (all -inf) gets its terms again
   relative to the row lse (an -inf logit with w q != 0 is an infinite loss, not NaN). */
void softce__split_combine_a(const softce__context *cx, softce__split_row *row,
                             const softce__split_part *parts, int64_t nchunks, char *scratch) {
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
            loss = chunk_loss(cx, row, c0, n, row->lse, &swq, scratch);
        } else if (swq != 0.0) { /* lse - lse_k >= 0 */
            loss += swq * ((row->lse.hi - lk.hi) + (row->lse.lo - lk.lo));
        }
        row->loss += loss;
        row->swq += swq;
    }
    if (row->t >= 0 && !row->skip && row->spike != 0.0)
        row->loss += row->spike * ((row->lse.hi - row->xt) + row->lse.lo);
    if (row->skip) { /* no loss, no z-loss */
        row->loss = 0.0;
    } else if (p->z_loss != 0.0 || p->t[SOFTCE__SAMPLE_W]) { /* rows.c's order */
        row->zterm = p->z_loss != 0.0 ? softce__z_term(p, row->lse) * row->s : 0.0;
        row->loss = row->loss * row->s + row->zterm;
    }
}

/* The rescale kernel's k for block b, where phase A stored e = exp(x - m_b): a e^(m_b - lse). */
static double block_coef(const softce__split_row *row, const softce__split_part *part, int64_t b,
                         double a) {
    return a * exp((part->bmax[b] - row->lse.hi) - row->lse.lo);
}

/* The chunk's gradient a e^(x - lse) - w (c1 p + c0) into out, block by block: where phase A
   stored e = exp(x - m_b) (bmax finite) by the rescale kernel with k = a e^(m_b - lse),
   elsewhere from the logits x (the grad kernel). ws: the weights the rescale kernel needs
   (NULL when c0 and p are absent: its fast path). */
static void chunk_grad(const softce__context *cx, const softce__split_row *row, const void *x,
                       int64_t n, const softce__split_part *part, const void *q, const void *w,
                       const void *ws, double a, double c1, double cc0, char *out) {
    for (int64_t b0 = 0, b = 0; b0 < n; b0 += SOFTCE__FUSED_BLOCK, b++) {
        const int64_t nb = n - b0 < SOFTCE__FUSED_BLOCK ? n - b0 : SOFTCE__FUSED_BLOCK;
        char *ob = out + b0 * cx->tsize;
        if (part->stored && isfinite(part->bmax[b]))
            cx->k->rescale(ob, offset(cx, q, b0), offset(cx, ws, b0), nb,
                           block_coef(row, part, b, a), c1, cc0);
        else
            cx->k->grad(offset(cx, x, b0), offset(cx, q, b0), offset(cx, w, b0), nb, row->lse, a,
                        c1, cc0, ob);
    }
}

/* chunk_grad then chunk_done in one pass, for a 16-bit gradient whose every block phase A kept
   in `keep` (f32; x is then NULL: needs_logits): rescaled and narrowed straight into the operand
   by the ISA's rescale_narrow, block by block with chunk_grad's coefficients, the same values.
   Returns 0 (nothing written) where that does not apply: no keep buffer, a block to compute from
   the logits, no such kernel, or a gradient that is not f16/bf16. */
static int chunk_grad_narrow(const softce__context *cx, const softce__split_row *row, int64_t c0,
                             int64_t n, const softce__split_part *part, const void *x,
                             const char *keep, int soft, char *scratch, const void *ws, double a,
                             double c1, double cc0) {
    const softce__plan *p = cx->p;
    const int32_t dt = p->t[SOFTCE__GRAD_LOGITS]->dtype;
    const softce__convert *cv = softce__converters();
    if (!keep || x || cx->tsize != 4 || !cv || !cv->rescale_narrow ||
        (dt != SOFTCE_DTYPE_BF16 && dt != SOFTCE_DTYPE_F16))
        return 0;
    /* a soft target in the gradient's format is read as it is, any other staged (f32) */
    const int p16 = soft && p->t[SOFTCE__TARGET]->dtype == dt;
    const char *q = !soft ? NULL
                    : p16 ? chunk_ptr(cx, SOFTCE__TARGET, row, c0)
                          : chunk_in(cx, SOFTCE__TARGET, row, c0, n, scratch, STAGE_Q);
    const size_t qsize = p16 ? 2 : 4;
    const float *e = (const float *)keep;
    char *dst = chunk_ptr(cx, SOFTCE__GRAD_LOGITS, row, c0);
    for (int64_t b0 = 0, b = 0; b0 < n; b0 += SOFTCE__FUSED_BLOCK, b++) {
        const int64_t nb = n - b0 < SOFTCE__FUSED_BLOCK ? n - b0 : SOFTCE__FUSED_BLOCK;
        cv->rescale_narrow(dt == SOFTCE_DTYPE_BF16, e + b0, q ? q + (size_t)b0 * qsize : NULL, p16,
                           (const float *)offset(cx, ws, b0), nb, block_coef(row, part, b, a), c1,
                           cc0, dst + b0 * 2);
    }
    return 1;
}

/* The hard target's gradient of a chunk into out (its x: staged before an in-place write).
   Returns 1 when chunk_grad_narrow wrote the operand itself (not in the target's chunk, whose
   spike is subtracted in the compute type first), 0 when out is left for chunk_done. */
static int hard_grad(const softce__context *cx, const softce__split_row *row, int64_t c0, int64_t n,
                     const softce__split_part *part, const void *x, const char *keep, char *out) {
    const softce__plan *p = cx->p;
    const double a0 = p->eps / (double)p->C, g = row->g;
    const void *w = chunk_w(cx, c0), *ws = a0 != 0.0 ? w : NULL;
    const double a = g * softce__z_coef(p, row->lse, a0 * cx->wsum + row->spike);
    const int has_t = row->t >= c0 && row->t < c0 + n;
    if (!has_t && chunk_grad_narrow(cx, row, c0, n, part, x, keep, 0, NULL, ws, a, 0.0, g * a0))
        return 1;
    chunk_grad(cx, row, x, n, part, NULL, w, ws, a, 0.0, g * a0, out);
    if (has_t) {
        if (cx->tsize == 8)
            ((double *)out)[row->t - c0] -= g * row->spike;
        else
            ((float *)out)[row->t - c0] -= (float)(g * row->spike);
    }
    return 0;
}

/* A zero chunk of operand slot (when present). */
static void zero_chunk(const softce__context *cx, int slot, const softce__split_row *row,
                       int64_t c0, int64_t n, char *scratch) {
    if (!cx->p->t[slot])
        return;
    char *out = chunk_out(cx, slot, row, c0, scratch);
    memset(out, 0, (size_t)n * (size_t)cx->tsize); /* all-zero bits = +0.0 */
    chunk_done(cx, slot, row, c0, n, out);
}

/* Whether phase B reads the logits: not for a gradient whose every block phase A stored. */
static int needs_logits(const softce__context *cx, const softce__split_part *part, int64_t n) {
    const softce__plan *p = cx->p;
    if (!part->stored || p->op != SOFTCE__OP_FORWARD_BACKWARD)
        return 1;
    for (int64_t b = 0; b * SOFTCE__FUSED_BLOCK < n; b++)
        if (!isfinite(part->bmax[b]))
            return 1;
    return 0;
}

/* Phase B: everything written along the class axis (needs the combined row). The logits (and
   a soft target) are read, or staged, before an in-place grad_logits overwrites them; a staged
   output is computed whole in the scratch (the fused gradient: in `keep`, where phase A kept
   e) and then converted out. */
void softce__split_phase_b(const softce__context *cx, const softce__split_row *row, int64_t c0,
                           int64_t n, softce__split_part *part, char *scratch, char *keep) {
    const softce__plan *p = cx->p;
    const int gl = SOFTCE__GRAD_LOGITS;
    if (p->op == SOFTCE__OP_FORWARD)
        return;
    if (row->skip && p->op != SOFTCE__OP_LOG_SOFTMAX) { /* zero gradients */
        zero_chunk(cx, gl, row, c0, n, scratch);
        if (p->op == SOFTCE__OP_BACKWARD)
            zero_chunk(cx, SOFTCE__GRAD_TARGET, row, c0, n, scratch);
        return;
    }
    const void *x = needs_logits(cx, part, n)
                        ? chunk_in(cx, SOFTCE__LOGITS, row, c0, n, scratch, STAGE_X)
                        : NULL;
    const void *w = chunk_w(cx, c0);
    if (p->op == SOFTCE__OP_LOG_SOFTMAX) {
        char *out = chunk_out(cx, gl, row, c0, scratch);
        cx->k->log_softmax(x, n, row->lse, out);
        chunk_done(cx, gl, row, c0, n, out);
        return;
    }
    /* the gradient: where phase A kept e (fused), else computed in the output buffer */
    char *const gout = p->t[gl] ? grad_out(cx, row, c0, scratch, keep) : NULL;
    if (!p->soft) {
        if (gout && !hard_grad(cx, row, c0, n, part, x, keep, gout))
            chunk_done(cx, gl, row, c0, n, gout);
        return;
    }
    const double a1 = 1.0 - p->eps, a0 = p->eps / (double)p->C, g = row->g;
    const double a = g * softce__z_coef(p, row->lse, row->swq);
    if (p->op == SOFTCE__OP_BACKWARD && p->t[SOFTCE__GRAD_TARGET]) {
        char *out = chunk_out(cx, SOFTCE__GRAD_TARGET, row, c0, scratch);
        cx->k->grad_target(x, w, n, row->lse, g * a1, out);
        chunk_done(cx, SOFTCE__GRAD_TARGET, row, c0, n, out);
    }
    if (gout) {
        if (chunk_grad_narrow(cx, row, c0, n, part, x, keep, 1, scratch, w, a, g * a1, g * a0))
            return;
        const void *q = chunk_in(cx, SOFTCE__TARGET, row, c0, n, scratch, STAGE_Q);
        chunk_grad(cx, row, x, n, part, q, w, w, a, g * a1, g * a0, gout);
        chunk_done(cx, gl, row, c0, n, gout);
    }
}
