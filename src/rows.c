/* Row mode: one element (row of C classes) at a time through the row kernels. */
#include "driver.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- one row ------------------------------------------------------------------------- */

typedef struct row_bufs {
    void *x, *p, *out, *z;  /* z: the transformed logits of fused_t */
    void *gt;               /* top-k only, the dense gradient w.r.t. the target */
    /* top-k only: per-class sums of the listed probabilities and marks (only the listed
       classes are ever touched), and the K entries of the element */
    double *P;
    unsigned char *mark;
    int64_t *ki;
    double *kp;
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

/* x log x with 0 log 0 = 0. */
static double xlogx(double v) { return v != 0.0 ? v * log(v) : 0.0; }

/* First index of the largest value of a compute-type row (a NaN counts as largest). */
static int64_t row_argmax(const softce__context *cx, const void *row) {
    const int64_t n = cx->p->C;
    int64_t best = 0;
    double m = softce__row_value(cx, row, 0);
    for (int64_t i = 1; i < n && m == m; i++) {
        double v = softce__row_value(cx, row, i);
        if (v > m || v != v) {
            m = v;
            best = i;
        }
    }
    return best;
}

/* The logits go through logit_scale / softcap before the kernels. */
static int transformed(const softce__plan *p) { return p->logit_scale != 1.0 || p->softcap != 0.0; }

/* What an element needs besides the loss kernels (the 1.1 options). */
typedef struct element_info {
    double s;       /* sample weight (1 without) */
    int64_t argmax; /* of the raw logits, when out_argmax / out_correct is wanted, else -1 */
    int transform;  /* logit_scale / softcap in use */
} element_info;

/* The staged raw logits (their argmax taken when wanted). */
static const void *raw_row(const softce__context *cx, const softce__cursor *c, const row_bufs *rb,
                           element_info *ei) {
    const softce__plan *p = cx->p;
    const void *x = stage(cx, SOFTCE__LOGITS, cx->x_direct, c, rb->x);
    ei->argmax = p->t[SOFTCE__ARGMAX_OUT] || p->t[SOFTCE__CORRECT_OUT] ? row_argmax(cx, x) : -1;
    return x;
}

/* The row the kernels see: the staged logits, transformed into the x buffer when asked. */
static const void *logits_row(const softce__context *cx, const softce__cursor *c,
                              const row_bufs *rb, element_info *ei) {
    const softce__plan *p = cx->p;
    const void *x = raw_row(cx, c, rb, ei);
    if (ei->transform) {
        cx->k->transform(x, p->C, p->logit_scale, p->softcap, rb->x);
        x = rb->x;
    }
    return x;
}

/* The extra per-element outputs (options.out_*) and the lse. */
static void store_extras(const softce__context *cx, const softce__cursor *c,
                         const element_info *ei, softce__lse lse, int correct, double zterm) {
    const softce__plan *p = cx->p;
    softce__store_elem(p, SOFTCE__LSE_OUT, c, softce__lse_value(lse));
    if (!p->extended)
        return;
    const softce_tensor *t;
    if ((t = p->t[SOFTCE__ARGMAX_OUT]))
        softce__store_int(t->dtype, t->data, c->off[SOFTCE__ARGMAX_OUT], ei->argmax);
    if ((t = p->t[SOFTCE__CORRECT_OUT]))
        softce__store_int(t->dtype, t->data, c->off[SOFTCE__CORRECT_OUT], correct);
    softce__store_elem(p, SOFTCE__ZLOSS_OUT, c, zterm);
}

/* Chain rule through the logit transform, then the gradient row to its tensor. */
static void finish_grad(const softce__context *cx, const softce__cursor *c, const element_info *ei,
                        const void *z, void *out) {
    const softce__plan *p = cx->p;
    if (ei->transform)
        cx->k->chain(out, z, p->C, p->logit_scale, p->softcap);
    finish_row(cx, SOFTCE__GRAD_LOGITS, cx->gx_direct, c, out);
}

/* The kernels' fused forward (out NULL) or forward+backward of raw logits x: through fused_t
   when the logits are transformed (z then in rb->z as z_at asks, and exp(z_t - lse) in *e_at
   when asked: kernels.h; the chain rule applied to out). */
static softce__lse fused_call(const softce__context *cx, const row_bufs *rb, const element_info *ei,
                              const void *x, const void *q, const void *w, double a1, double a0,
                              double spike, double g, int64_t z_at, double *e_at, void *out,
                              double *loss) {
    const softce__plan *p = cx->p;
    if (ei->transform)
        return cx->k->fused_t(x, q, w, p->C, a1, a0, spike, p->z_loss, g, p->logit_scale,
                              p->softcap, rb->z, z_at, e_at, out, loss);
    return cx->k->fused(x, q, w, p->C, a1, a0, spike, p->z_loss, g, out, loss);
}

/* dz/dx at a logit whose transformed value is z (as the scalar chain kernel), 1 without. */
static double dz_at(const softce__plan *p, const element_info *ei, double z) {
    if (!ei->transform)
        return 1.0;
    if (p->softcap <= 0.0)
        return p->logit_scale;
    const double t = z / p->softcap;
    return p->logit_scale * ((1.0 - t) * (1.0 + t));
}

static void set_at(const softce__context *cx, void *row, int64_t i, double v) {
    if (cx->p->compute_f64)
        ((double *)row)[i] = v;
    else
        ((float *)row)[i] = (float)v;
}

/* A hard target's gradient entry through the transform (z_t = zt, et = exp(z_t - lse) from
   fused_t), computed whole in double: g (coef e_t - w_t q0_t - spike) dz_t. Subtracting the
   spike from fused_t's already chained entry would round k e_t and g spike separately before
   they cancel (p_t -> 1). */
static double target_grad(const softce__context *cx, const element_info *ei, const void *prior,
                          int64_t t, double a0, double coef, double spike, double g,
                          softce__lse lse, double zt, double et) {
    const softce__plan *p = cx->p;
    const double q0t = prior ? p->eps * softce__row_value(cx, prior, t) : a0;
    coef = softce__z_coef(p, lse, coef);
    return g * ((coef * et - weight_at(cx, t) * q0t) - spike) * dz_at(p, ei, zt);
}

/* A hard target's row through the fused kernel (forward, or forward+backward into out): the
   lse, the kernel's loss (*loss) and the (transformed) logit at t (*xt); out's entry at t gets
   the spike. S = sum w q0. Used by hard_row and the short loop (lean_rows_run). */
static inline softce__lse hard_fused(const softce__context *cx, const row_bufs *rb,
                                     const element_info *ei, const void *x, int64_t t,
                                     const void *prior, const void *w, double a1, double a0,
                                     double S, double spike, double g, void *out, double *loss,
                                     double *xt) {
    double et = 0.0;                                         /* exp(xt - lse) */
    *xt = ei->transform ? 0.0 : softce__row_value(cx, x, t); /* before an in-place out */
    const softce__lse lse =
        fused_call(cx, rb, ei, x, prior, w, a1, a0, spike, g, t, out ? &et : NULL, out, loss);
    if (ei->transform)
        *xt = softce__row_value(cx, rb->z, t);
    if (out && ei->transform) /* the chain rule is applied: out_t again, in double */
        set_at(cx, out, t, target_grad(cx, ei, prior, t, a0, S + spike, spike, g, lse, *xt, et));
    else if (out)
        add_at(cx, out, t, -g * spike);
    return lse;
}

/* The fused kernel on the 16-bit rows themselves (cx->row16: softce__row16_suitable), from the
   logits, the soft target (soft rows) and into the gradient (fused calls) of element c; the
   hard target's spike subtracted at t (t < 0: none). Returns 0, having written nothing, where
   the kernel leaves the row to the staged path. */
static int fused16_row(const softce__context *cx, const softce__cursor *c, const row_bufs *rb,
                       const void *w, double a1, double a0, double spike, double g, int64_t t,
                       softce__lse *lse, double *loss) {
    const softce__plan *p = cx->p;
    const void *q = p->soft ? softce__slot_ptr(p, SOFTCE__TARGET, c->off[SOFTCE__TARGET]) : NULL;
    void *out = p->op == SOFTCE__OP_FORWARD_BACKWARD
                    ? softce__slot_ptr(p, SOFTCE__GRAD_LOGITS, c->off[SOFTCE__GRAD_LOGITS])
                    : NULL;
    return softce__converters()->fused16(
        p->t[SOFTCE__LOGITS]->dtype == SOFTCE_DTYPE_BF16,
        softce__slot_ptr(p, SOFTCE__LOGITS, c->off[SOFTCE__LOGITS]), q, w, p->C, a1, a0, spike,
        p->z_loss, g, t, rb->out, out, lse, loss);
}

/* fused16_row for a row with a logit transform (cx->row16t): the kernel's gradient into the
   16-bit operand, then for a hard target (t >= 0) its entry at t as the staged path writes it
   (target_grad, rounded to f32, then narrowed), *xt = z_t. S = sum w q0 (hard rows). */
static int fused16t_row(const softce__context *cx, const softce__cursor *c, const row_bufs *rb,
                        const element_info *ei, const void *w, double a1, double a0, double S,
                        double spike, double g, int64_t t, softce__lse *lse, double *loss,
                        double *xt) {
    const softce__plan *p = cx->p;
    const void *q = p->soft ? softce__slot_ptr(p, SOFTCE__TARGET, c->off[SOFTCE__TARGET]) : NULL;
    void *out = p->op == SOFTCE__OP_FORWARD_BACKWARD
                    ? softce__slot_ptr(p, SOFTCE__GRAD_LOGITS, c->off[SOFTCE__GRAD_LOGITS])
                    : NULL;
    const int bf16 = p->t[SOFTCE__LOGITS]->dtype == SOFTCE_DTYPE_BF16;
    float zt = 0.0f;
    double et = 0.0;
    if (!softce__converters()->fused16_t(
            bf16, softce__slot_ptr(p, SOFTCE__LOGITS, c->off[SOFTCE__LOGITS]), q, w, p->C, a1, a0,
            spike, p->z_loss, g, p->logit_scale, p->softcap, t, rb->out, rb->z, out, &zt, &et, lse,
            loss))
        return 0;
    if (t >= 0)
        *xt = zt;
    if (out && t >= 0) {
        const float v = (float)target_grad(cx, ei, NULL, t, a0, S + spike, spike, g, *lse, zt, et);
        ((uint16_t *)out)[t] = bf16 ? softce__f32_to_bf16(v) : softce__f32_to_f16(v);
    }
    return 1;
}

/* A hard target's row as "spike" at t plus a smoothing part q0 (uniform a0, or eps * prior):
   returns the loss. */
static double hard_row(const softce__context *cx, const softce__cursor *c, int64_t t,
                       const row_bufs *rb, element_info *ei) {
    const softce__plan *p = cx->p;
    const softce__row_kernels *k = cx->k;
    const double wt = weight_at(cx, t);
    double a0 = p->eps / (double)p->C, a1 = 0.0, qt = 1.0 - p->eps; /* q_t beyond the a0 part */
    const void *prior = NULL;
    if (p->smoothing == SOFTCE_SMOOTHING_OTHERS) {
        a0 = p->C > 1 ? p->eps / (double)(p->C - 1) : 0.0;
        qt = p->C > 1 ? 1.0 - p->eps - a0 : 1.0;
    } else if (cx->prior) {
        prior = cx->prior, a1 = p->eps, a0 = 0.0;
    }
    const double spike = qt * wt;
    const double S = prior ? p->eps * cx->prior_wsum : a0 * cx->wsum; /* sum w q0 */
    /* Without smoothing no class weight but w_t enters: the kernels' unweighted fast path. */
    const void *w = a0 != 0.0 || prior ? cx->w : NULL;
    double g = 1.0, loss, xt; /* xt: the (transformed) logit at t */
    softce__lse lse;
    if (p->op != SOFTCE__OP_FORWARD)
        g = softce__upstream(p, c) * cx->inv_d * ei->s;
    const int row16 = p->op != SOFTCE__OP_BACKWARD && cx->row16;
    if (row16) { /* x_t first: an in-place gradient overwrites it */
        const softce_tensor *xs = p->t[SOFTCE__LOGITS];
        xt = softce__load(xs->dtype, xs->data, c->off[SOFTCE__LOGITS] + t);
    }
    if (row16 && fused16_row(cx, c, rb, w, a1, a0, spike, g, t, &lse, &loss)) {
        /* the row is done (else staged below) */
    } else if (cx->row16t && fused16t_row(cx, c, rb, ei, w, 0.0, a0, S, spike, g, t, &lse, &loss,
                                          &xt)) { /* row16t: forward or fused, no prior */
        /* the row is done (else staged below) */
    } else if (p->op != SOFTCE__OP_BACKWARD) { /* forward: the fused kernel without stores */
        const void *x = raw_row(cx, c, rb, ei);
        void *out = p->op == SOFTCE__OP_FORWARD_BACKWARD
                        ? out_row(cx, SOFTCE__GRAD_LOGITS, cx->gx_direct, c, rb->out)
                        : NULL;
        lse = hard_fused(cx, rb, ei, x, t, prior, w, a1, a0, S, spike, g, out, &loss, &xt);
        if (out)
            finish_row(cx, SOFTCE__GRAD_LOGITS, cx->gx_direct, c, out);
    } else {
        const void *x = logits_row(cx, c, rb, ei);
        xt = softce__row_value(cx, x, t);
        lse = row_lse(cx, c, x);
        loss = 0.0;
        if (p->t[SOFTCE__GRAD_LOGITS]) {
            void *out = out_row(cx, SOFTCE__GRAD_LOGITS, cx->gx_direct, c, rb->out);
            const double coef = softce__z_coef(p, lse, S + spike);
            k->grad(x, prior, w, p->C, lse, g * coef, g * a1, g * a0, out);
            add_at(cx, out, t, -g * spike);
            finish_grad(cx, c, ei, x, out);
        }
    }
    if (spike != 0.0)
        loss += spike * ((lse.hi - xt) + lse.lo); /* keeps lo when |hi| >> 1e16 */
    if (p->kl) { /* + sum_i w_i q_i log q_i, in closed form */
        double q0t = prior ? p->eps * softce__row_value(cx, prior, t) : a0;
        double rest = prior ? cx->kl_prior - wt * xlogx(q0t) : (cx->wsum - wt) * xlogx(a0);
        loss += rest + wt * xlogx(q0t + qt);
    }
    const double zterm = softce__z_term(p, lse) * ei->s;
    store_extras(cx, c, ei, lse, ei->argmax == t, zterm);
    return loss * ei->s + zterm;
}

/* sum_i w_i q_i log q_i of a soft row (q = a1 p + a0), in double. */
static double soft_entropy_term(const softce__context *cx, const void *q, double a1, double a0) {
    double h = 0.0;
    for (int64_t i = 0; i < cx->p->C; i++)
        h += weight_at(cx, i) * xlogx(a1 * softce__row_value(cx, q, i) + a0);
    return h;
}

/* KL's part of the gradient w.r.t. a soft target: out_i += c w_i (log q_i + 1) where q_i > 0
   (0 where q_i = 0, as PyTorch's xlogy). */
static void kl_grad_target(const softce__context *cx, const void *q, double a1, double a0,
                           double cf, void *out) {
    for (int64_t i = 0; i < cx->p->C; i++) {
        double qi = a1 * softce__row_value(cx, q, i) + a0;
        if (qi > 0.0)
            add_at(cx, out, i, cf * weight_at(cx, i) * (log(qi) + 1.0));
    }
}

/* ---- sparse top-k targets: staged as the equivalent dense row ----------------------- */

static int64_t topk_index(const softce__context *cx, const softce__cursor *c, int64_t k) {
    const softce__plan *p = cx->p;
    const softce_tensor *t = p->t[SOFTCE__TARGET];
    return softce__load_int(t->dtype, t->data, c->off[SOFTCE__TARGET] + k * p->cs[SOFTCE__TARGET]);
}

/* Marks the first entry listing each class (mark[class] = 1 + k of that entry; only the listed
   classes are touched); returns the number of distinct classes. */
static int64_t topk_mark_first(const softce__context *cx, const softce__cursor *c,
                               const row_bufs *rb) {
    int64_t listed = 0;
    for (int64_t k = 0; k < cx->p->K; k++)
        rb->mark[topk_index(cx, c, k)] = 0;
    for (int64_t k = 0; k < cx->p->K; k++) {
        int64_t cls = topk_index(cx, c, k);
        if (!rb->mark[cls]) {
            rb->mark[cls] = 1;
            rb->ki[listed++] = cls; /* the distinct classes, in order of first listing */
        }
    }
    return listed;
}

/* Share of the unlisted mass per unlisted class (0 for REST_IGNORE or when all are listed). */
static double topk_rest_share(const softce__context *cx, const softce__cursor *c,
                              const row_bufs *rb) {
    const softce__plan *p = cx->p;
    if (p->topk_rest != SOFTCE_TOPK_REST_UNIFORM)
        return 0.0;
    const softce_tensor *pt = p->t[SOFTCE__TOPK_PROB];
    double mass = 0.0;
    for (int64_t k = 0; k < p->K; k++)
        mass += softce__load(pt->dtype, pt->data, c->off[SOFTCE__TOPK_PROB] +
                                                       k * p->cs[SOFTCE__TOPK_PROB]);
    int64_t listed = topk_mark_first(cx, c, rb);
    return listed < p->C ? (1.0 - mass) / (double)(p->C - listed) : 0.0;
}

/* The dense target row p of a top-k element, in the compute type. */
static const void *topk_stage(const softce__context *cx, const softce__cursor *c,
                              const row_bufs *rb, void *buf) {
    const softce__plan *p = cx->p;
    const softce_tensor *pt = p->t[SOFTCE__TOPK_PROB];
    const double u = topk_rest_share(cx, c, rb);
    for (int64_t i = 0; i < p->C; i++)
        set_at(cx, buf, i, u);
    for (int64_t k = 0; k < p->K; k++) /* listed classes start from 0 */
        set_at(cx, buf, topk_index(cx, c, k), 0.0);
    for (int64_t k = 0; k < p->K; k++) {
        int64_t cls = topk_index(cx, c, k);
        double v = softce__load(pt->dtype, pt->data,
                                c->off[SOFTCE__TOPK_PROB] + k * p->cs[SOFTCE__TOPK_PROB]);
        set_at(cx, buf, cls, softce__row_value(cx, buf, cls) + v);
    }
    return buf;
}

/* grad_prob from the dense gradient w.r.t. p (row gd): entry k gets gd[i_k], and with
   REST_UNIFORM also d(share)/d(prob_k) = -1 / (C - listed) times the sum of gd over the
   unlisted classes. */
static void topk_grad_prob(const softce__context *cx, const softce__cursor *c,
                           const row_bufs *rb, const void *gd) {
    const softce__plan *p = cx->p;
    const softce_tensor *gp = p->t[SOFTCE__GRAD_TARGET];
    double rest = 0.0;
    if (p->topk_rest == SOFTCE_TOPK_REST_UNIFORM) {
        const int64_t listed = topk_mark_first(cx, c, rb);
        double all = 0.0, in_list = 0.0;
        for (int64_t i = 0; i < p->C; i++)
            all += softce__row_value(cx, gd, i);
        for (int64_t j = 0; j < listed; j++)
            in_list += softce__row_value(cx, gd, rb->ki[j]);
        rest = listed < p->C ? -(all - in_list) / (double)(p->C - listed) : 0.0;
    }
    for (int64_t k = 0; k < p->K; k++)
        softce__store(gp->dtype, gp->data,
                      c->off[SOFTCE__GRAD_TARGET] + k * p->cs[SOFTCE__GRAD_TARGET],
                      softce__row_value(cx, gd, topk_index(cx, c, k)) + rest);
}

static void topk_zero_grad_prob(const softce__context *cx, const softce__cursor *c) {
    const softce__plan *p = cx->p;
    const softce_tensor *gp = p->t[SOFTCE__GRAD_TARGET];
    for (int64_t k = 0; gp && k < p->K; k++)
        softce__store(gp->dtype, gp->data,
                      c->off[SOFTCE__GRAD_TARGET] + k * p->cs[SOFTCE__GRAD_TARGET], 0.0);
}

/* Fast top-k row (forward and fused, no KL, no out_correct): no dense row is staged. With
   p = u + (P - u)[listed] (u = the rest share, P_c = the listed probabilities of class c) the
   smoothed target is q = a0' (+ eps prior) + d_c at each listed class c, a0' = A u + B and
   d_c = A (P_c - u): the kernels' uniform part plus spikes, as for hard targets. */
static double topk_fast_row(const softce__context *cx, const softce__cursor *c,
                            const row_bufs *rb, element_info *ei) {
    const softce__plan *p = cx->p;
    const softce_tensor *it = p->t[SOFTCE__TARGET], *pt = p->t[SOFTCE__TOPK_PROB];
    double A = 1.0 - p->eps, B = p->eps / (double)p->C;
    if (p->smoothing == SOFTCE_SMOOTHING_OTHERS) {
        B = p->C > 1 ? p->eps / (double)(p->C - 1) : 0.0;
        A = p->C > 1 ? 1.0 - p->eps - B : 1.0;
    } else if (cx->prior) {
        B = 0.0;
    }
    /* the K entries; per-class sums P_c; distinct classes counted with marks */
    double mass = 0.0;
    int64_t listed = 0;
    for (int64_t k = 0; k < p->K; k++) {
        int64_t cls = softce__load_int(it->dtype, it->data,
                                       c->off[SOFTCE__TARGET] + k * p->cs[SOFTCE__TARGET]);
        double v = softce__load(pt->dtype, pt->data,
                                c->off[SOFTCE__TOPK_PROB] + k * p->cs[SOFTCE__TOPK_PROB]);
        rb->ki[k] = cls;
        rb->kp[k] = v;
        rb->P[cls] = 0.0;
        rb->mark[cls] = 0;
        mass += v;
    }
    for (int64_t k = 0; k < p->K; k++) {
        rb->P[rb->ki[k]] += rb->kp[k];
        if (!rb->mark[rb->ki[k]]) {
            rb->mark[rb->ki[k]] = 1;
            listed++;
        }
    }
    const double u = p->topk_rest == SOFTCE_TOPK_REST_UNIFORM && listed < p->C
                         ? (1.0 - mass) / (double)(p->C - listed)
                         : 0.0;
    const double a0 = A * u + B, a1 = cx->prior ? p->eps : 0.0;
    const void *prior = cx->prior;
    const void *x = raw_row(cx, c, rb, ei);
    double spike = 0.0; /* sum of w_c d_c over the distinct listed classes */
    for (int64_t k = 0; k < p->K; k++) {
        int64_t cls = rb->ki[k];
        if (rb->mark[cls] == 1) {
            spike += weight_at(cx, cls) * A * (rb->P[cls] - u);
            rb->mark[cls] = 2;
            if (!ei->transform) /* kept: in place, out overwrites x (z is read after) */
                rb->kp[k] = softce__row_value(cx, x, cls);
        }
    }
    const void *w = a0 != 0.0 || prior ? cx->w : NULL;
    double g = 1.0, loss;
    if (p->op != SOFTCE__OP_FORWARD)
        g = softce__upstream(p, c) * cx->inv_d * ei->s;
    void *out = p->op == SOFTCE__OP_FORWARD_BACKWARD
                    ? out_row(cx, SOFTCE__GRAD_LOGITS, cx->gx_direct, c, rb->out)
                    : NULL;
    softce__lse lse =
        fused_call(cx, rb, ei, x, prior, w, a1, a0, spike, g, SOFTCE__Z_ALL, NULL, out, &loss);
    for (int64_t k = 0; k < p->K; k++) { /* the spikes, once per distinct class */
        int64_t cls = rb->ki[k];
        if (rb->mark[cls] != 2)
            continue;
        rb->mark[cls] = 3;
        if (ei->transform)
            rb->kp[k] = softce__row_value(cx, rb->z, cls);
        double wd = weight_at(cx, cls) * A * (rb->P[cls] - u);
        if (out)
            add_at(cx, out, cls, -g * wd * dz_at(p, ei, rb->kp[k]));
        if (wd != 0.0)
            loss += wd * ((lse.hi - rb->kp[k]) + lse.lo);
    }
    if (out)
        finish_row(cx, SOFTCE__GRAD_LOGITS, cx->gx_direct, c, out);
    const double zterm = softce__z_term(p, lse) * ei->s;
    store_extras(cx, c, ei, lse, 0, zterm);
    return loss * ei->s + zterm;
}

/* A soft target's row, q = a1 p + a0 (uniform / others smoothing) or (1 - eps) p + eps prior
   staged into the p buffer: returns the loss. */
static double soft_row(const softce__context *cx, const softce__cursor *c, const row_bufs *rb,
                       element_info *ei) {
    const softce__plan *p = cx->p;
    const softce__row_kernels *k = cx->k;
    double a1 = 1.0 - p->eps, a0 = p->eps / (double)p->C; /* what the kernels see */
    if (p->smoothing == SOFTCE_SMOOTHING_OTHERS) {
        a0 = p->C > 1 ? p->eps / (double)(p->C - 1) : 0.0;
        a1 = p->C > 1 ? 1.0 - p->eps - a0 : 1.0;
    }
    const double dq = cx->prior ? 1.0 - p->eps : a1; /* d q_i / d p_i */
    const int fused = p->op != SOFTCE__OP_BACKWARD;
    double g = 1.0, loss, swq;
    softce__lse lse;
    if (p->op != SOFTCE__OP_FORWARD)
        g = softce__upstream(p, c) * cx->inv_d * ei->s;
    double xt_unused;
    if ((cx->row16 && fused16_row(cx, c, rb, cx->w, a1, a0, 0.0, g, -1, &lse, &loss)) ||
        (cx->row16t &&
         fused16t_row(cx, c, rb, ei, cx->w, a1, a0, 0.0, 0.0, g, -1, &lse, &loss, &xt_unused))) {
        const double zterm = softce__z_term(p, lse) * ei->s;
        store_extras(cx, c, ei, lse, 0, zterm);
        return loss * ei->s + zterm;
    }
    const void *x = fused ? raw_row(cx, c, rb, ei) : logits_row(cx, c, rb, ei);
    const void *q = p->topk ? topk_stage(cx, c, rb, rb->p)
                            : stage(cx, SOFTCE__TARGET, cx->p_direct, c, rb->p);
    int correct = ei->argmax >= 0 && row_argmax(cx, q) == ei->argmax;
    if (cx->prior) { /* q = (1 - eps) p + eps prior, staged */
        for (int64_t i = 0; i < p->C; i++) {
            double v = dq * softce__row_value(cx, q, i) +
                       p->eps * softce__row_value(cx, cx->prior, i);
            if (p->compute_f64)
                ((double *)rb->p)[i] = v;
            else
                ((float *)rb->p)[i] = (float)v;
        }
        q = rb->p, a1 = 1.0, a0 = 0.0;
    }
    if (fused) { /* forward: the fused kernel without stores */
        void *out = p->op == SOFTCE__OP_FORWARD_BACKWARD
                        ? out_row(cx, SOFTCE__GRAD_LOGITS, cx->gx_direct, c, rb->out)
                        : NULL;
        lse = fused_call(cx, rb, ei, x, q, cx->w, a1, a0, 0.0, g, SOFTCE__Z_NONE, NULL, out,
                         &loss);
        if (out)
            finish_row(cx, SOFTCE__GRAD_LOGITS, cx->gx_direct, c, out);
    } else {
        lse = row_lse(cx, c, x);
        loss = k->soft_loss(x, q, cx->w, p->C, lse, a1, a0, &swq);
        if (p->t[SOFTCE__GRAD_TARGET]) {
            /* computed before grad_logits: an in-place grad_logits may overwrite x */
            void *out = p->topk ? rb->gt : out_row(cx, SOFTCE__GRAD_TARGET, cx->gt_direct, c, rb->out);
            k->grad_target(x, cx->w, p->C, lse, g * dq, out);
            if (p->kl)
                kl_grad_target(cx, q, a1, a0, g * dq, out);
            if (p->topk)
                topk_grad_prob(cx, c, rb, out);
            else
                finish_row(cx, SOFTCE__GRAD_TARGET, cx->gt_direct, c, out);
        }
        if (p->t[SOFTCE__GRAD_LOGITS]) {
            void *out = out_row(cx, SOFTCE__GRAD_LOGITS, cx->gx_direct, c, rb->out);
            const double coef = softce__z_coef(p, lse, swq);
            k->grad(x, q, cx->w, p->C, lse, g * coef, g * a1, g * a0, out);
            finish_grad(cx, c, ei, x, out);
        }
    }
    if (p->kl)
        loss += soft_entropy_term(cx, q, a1, a0);
    const double zterm = softce__z_term(p, lse) * ei->s;
    store_extras(cx, c, ei, lse, correct, zterm);
    return loss * ei->s + zterm;
}

static void zero_out(const softce__context *cx, int slot, int is_direct, const softce__cursor *c,
                     const row_bufs *rb) {
    const softce__plan *p = cx->p;
    if (!p->t[slot])
        return;
    void *out = out_row(cx, slot, is_direct, c, rb->out);
    memset(out, 0, (size_t)p->C * (size_t)cx->tsize); /* all-zero bits = +0.0 */
    finish_row(cx, slot, is_direct, c, out);
}

/* An ignored (hard target == ignore_index) or masked (sample weight 0) element: no loss, zero
   gradients; the lse and argmax are still reported. */
static void skipped_row(const softce__context *cx, const softce__cursor *c, const row_bufs *rb,
                        element_info *ei) {
    const softce__plan *p = cx->p;
    /* reported values first: an in-place grad_logits overwrites the logits below */
    if (p->t[SOFTCE__LSE_OUT] || p->t[SOFTCE__ARGMAX_OUT] || p->t[SOFTCE__CORRECT_OUT] ||
        p->t[SOFTCE__ZLOSS_OUT]) {
        const void *x = logits_row(cx, c, rb, ei);
        store_extras(cx, c, ei, cx->k->lse(x, p->C), 0, 0.0);
    }
    zero_out(cx, SOFTCE__GRAD_LOGITS, cx->gx_direct, c, rb);
    if (p->op == SOFTCE__OP_BACKWARD && p->topk)
        topk_zero_grad_prob(cx, c);
    else if (p->op == SOFTCE__OP_BACKWARD)
        zero_out(cx, SOFTCE__GRAD_TARGET, cx->gt_direct, c, rb);
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
    element_info ei = {1.0, -1, transformed(p)};
    const softce_tensor *sw = p->t[SOFTCE__SAMPLE_W];
    if (sw)
        ei.s = softce__load(sw->dtype, sw->data, c->off[SOFTCE__SAMPLE_W]);
    int64_t cls = -1;
    int skip = ei.s == 0.0;
    if (!p->soft) {
        const softce_tensor *t = p->t[SOFTCE__TARGET];
        cls = softce__load_int(t->dtype, t->data, c->off[SOFTCE__TARGET]);
        skip |= cls == p->ignore_index;
    }
    if (skip) {
        skipped_row(cx, c, rb, &ei);
        return 0.0;
    }
    if (p->topk && p->op != SOFTCE__OP_BACKWARD && !p->kl && !p->t[SOFTCE__CORRECT_OUT])
        return topk_fast_row(cx, c, rb, &ei);
    return p->soft ? soft_row(cx, c, rb, &ei) : hard_row(cx, c, cls, rb, &ei);
}

/* The common training calls: no top-k target, uniform label smoothing (no prior), no KL mode,
   no argmax / correct outputs; z-loss, logit scale / softcap and sample weights allowed; the
   logits, a soft target and a fused call's gradient used in place (rows of class stride 1 in
   the compute type); forward or fused forward+backward. Then a row is the (fused or fused_t)
   kernel plus, for a hard target, its terms at t, with the values hard_row and soft_row compute
   there (bit for bit the same); an ignored row or one of sample weight 0 goes through
   element(). Keeping the code between two kernel calls this short matters: the next row's
   loads start while the previous row's reductions (horizontal sums, log) finish, and the
   general path's ~200 instructions per row cost ~5 % of a 1000-class row (hard targets; soft
   ones within the noise) and 9-14 % of a 250-class one (docs/performance-log.md). */
static int lean_rows(const softce__context *cx) {
    const softce__plan *p = cx->p;
    return !p->topk && !p->kl && !cx->prior && p->smoothing == SOFTCE_SMOOTHING_UNIFORM &&
           !p->t[SOFTCE__ARGMAX_OUT] && !p->t[SOFTCE__CORRECT_OUT] && cx->x_direct &&
           (!p->soft || cx->p_direct) &&
           (p->op == SOFTCE__OP_FORWARD || (p->op == SOFTCE__OP_FORWARD_BACKWARD && cx->gx_direct));
}

static double lean_rows_run(const softce__context *cx, softce__cursor *c, int64_t e0, int64_t e1,
                            const row_bufs *rb, int per_element) {
    const softce__plan *p = cx->p;
    const softce_tensor *tt = p->t[SOFTCE__TARGET], *sw = p->t[SOFTCE__SAMPLE_W];
    const int fused = p->op == SOFTCE__OP_FORWARD_BACKWARD;
    const int transform = transformed(p);
    /* hard: q = a0 off t and a0 + qt at t (spike qt w_t); soft: q = a1 p + a0 */
    const double a0 = p->eps / (double)p->C, qt = 1.0 - p->eps, a1 = 1.0 - p->eps;
    const double S = a0 * cx->wsum; /* sum w q0 */
    const void *hard_w = a0 != 0.0 ? cx->w : NULL;
    double sum = 0.0;
    for (int64_t e = e0; e < e1; e++, softce__cursor_next(p, c)) {
        element_info ei = {sw ? softce__load(sw->dtype, sw->data, c->off[SOFTCE__SAMPLE_W]) : 1.0,
                           -1, transform};
        const int64_t t =
            p->soft ? -1 : softce__load_int(tt->dtype, tt->data, c->off[SOFTCE__TARGET]);
        double l, loss;
        if (ei.s == 0.0 || (!p->soft && t == p->ignore_index)) {
            l = element(cx, c, rb);
        } else {
            const void *x = softce__slot_ptr(p, SOFTCE__LOGITS, c->off[SOFTCE__LOGITS]);
            void *out = fused
                            ? softce__slot_ptr(p, SOFTCE__GRAD_LOGITS, c->off[SOFTCE__GRAD_LOGITS])
                            : NULL;
            const double g = fused ? softce__upstream(p, c) * cx->inv_d * ei.s : 1.0;
            softce__lse lse;
            if (p->soft) {
                const void *q = softce__slot_ptr(p, SOFTCE__TARGET, c->off[SOFTCE__TARGET]);
                lse = fused_call(cx, rb, &ei, x, q, cx->w, a1, a0, 0.0, g, SOFTCE__Z_NONE, NULL,
                                 out, &loss);
            } else {
                const double spike = qt * weight_at(cx, t);
                double xt;
                lse = hard_fused(cx, rb, &ei, x, t, NULL, hard_w, 0.0, a0, S, spike, g, out, &loss,
                                 &xt);
                if (spike != 0.0)
                    loss += spike * ((lse.hi - xt) + lse.lo);
            }
            const double zterm = softce__z_term(p, lse) * ei.s;
            store_extras(cx, c, &ei, lse, 0, zterm);
            l = loss * ei.s + zterm;
        }
        if (per_element)
            softce__store_elem(p, SOFTCE__LOSS, c, l);
        sum += l;
    }
    return sum;
}

/* Bytes from one scratch row to the next: whole cache lines, so that every staged row starts on
   a line (its vectors do not straddle two) and no line is shared by two rows or, with
   scratch_per_thread a multiple of 64 and the base 64-aligned (driver.c), by two threads.
   Returns 0 on overflow. */
static int row_stride(const softce__plan *p, int tsize, size_t *stride) {
    size_t bytes;
    if (__builtin_mul_overflow((size_t)p->C, (size_t)tsize, &bytes) ||
        __builtin_add_overflow(bytes, (size_t)63, &bytes))
        return 0;
    *stride = bytes & ~(size_t)63;
    return 1;
}

/* Top-k scratch after the x, p, out and z rows: gt (C values), P (C doubles), kp (K doubles),
   ki (K int64), mark (C bytes), each 64-byte aligned. Fills o[5] with the offsets when given;
   returns the total (SIZE_MAX on overflow: the driver reports out of memory). */
static size_t topk_offsets(const softce__plan *p, int tsize, size_t o[5]) {
    size_t stride; /* the four staged rows first, as rows_block lays them out */
    if (!row_stride(p, tsize, &stride))
        return SIZE_MAX;
    const size_t sizes[6] = {stride, (size_t)tsize, sizeof(double), sizeof(double),
                             sizeof(int64_t), 1};
    const int64_t counts[6] = {4, p->C, p->C, p->K, p->K, p->C};
    size_t total = 0;
    for (int r = 0; r < 6; r++) {
        size_t bytes;
        size_t unit = sizes[r];
        if (__builtin_mul_overflow((size_t)counts[r], unit, &bytes) ||
            __builtin_add_overflow(total, bytes + 63, &total))
            return SIZE_MAX;
        total &= ~(size_t)63;
        if (o && r < 5)
            o[r] = total;
    }
    return total + 64;
}

double softce__rows_block(const softce__context *cx, int64_t e0, int64_t e1, char *scratch) {
    const softce__plan *p = cx->p;
    size_t row = 0;
    row_stride(p, cx->tsize, &row); /* cannot overflow: softce__rows_scratch was allocated */
    row_bufs rb = {scratch,
                   scratch ? scratch + row : NULL,
                   scratch ? scratch + 2 * row : NULL,
                   scratch ? scratch + 3 * row : NULL,
                   NULL, NULL, NULL, NULL, NULL};
    if (p->topk && scratch) {
        size_t o[5];
        topk_offsets(p, cx->tsize, o);
        rb.gt = scratch + o[0];
        rb.P = (double *)(void *)(scratch + o[1]);
        rb.kp = (double *)(void *)(scratch + o[2]);
        rb.ki = (int64_t *)(void *)(scratch + o[3]);
        rb.mark = (unsigned char *)(scratch + o[4]);
    }
    softce__cursor c;
    softce__cursor_seek(p, &c, e0);
    double sum = 0.0;
    int per_element = p->reduction == SOFTCE_REDUCTION_NONE && p->t[SOFTCE__LOSS];
    if (lean_rows(cx))
        return lean_rows_run(cx, &c, e0, e1, &rb, per_element);
    for (int64_t e = e0; e < e1; e++, softce__cursor_next(p, &c)) {
        double l = element(cx, &c, &rb);
        if (per_element)
            softce__store_elem(p, SOFTCE__LOSS, &c, l);
        sum += l;
    }
    return sum;
}

/* Operand slot (when present) is a contiguous row of 16-bit dtype dt. */
static int row16_operand(const softce__plan *p, int slot, int32_t dt) {
    return !p->t[slot] || (p->t[slot]->dtype == dt && p->cs[slot] == 1);
}

/* Forward and fused calls in f32 compute whose logits, soft target and gradient are contiguous
   rows of one 16-bit format, without a top-k target, KL, smoothing prior or argmax / correct
   outputs: the rows row mode can give to the ISA's 16-bit kernels instead of staging them. */
static int row16_operands(const softce__context *cx) {
    const softce__plan *p = cx->p;
    const int32_t dt = p->t[SOFTCE__LOGITS]->dtype;
    if (p->compute_f64 || (dt != SOFTCE_DTYPE_BF16 && dt != SOFTCE_DTYPE_F16))
        return 0;
    if ((p->op != SOFTCE__OP_FORWARD && p->op != SOFTCE__OP_FORWARD_BACKWARD) ||
        (p->op == SOFTCE__OP_FORWARD_BACKWARD && !p->t[SOFTCE__GRAD_LOGITS]))
        return 0;
    if (p->topk || p->kl || p->t[SOFTCE__PRIOR] || p->t[SOFTCE__ARGMAX_OUT] ||
        p->t[SOFTCE__CORRECT_OUT])
        return 0;
    return row16_operand(p, SOFTCE__LOGITS, dt) &&
           (!p->soft || row16_operand(p, SOFTCE__TARGET, dt)) &&
           (p->op != SOFTCE__OP_FORWARD_BACKWARD || row16_operand(p, SOFTCE__GRAD_LOGITS, dt));
}

/* Whether row mode gives such rows to the ISA's fused16 (kernels.h): without a logit
   transform. */
int softce__row16_suitable(const softce__context *cx) {
    const softce__convert *cv = softce__converters();
    return cv && cv->fused16 && !transformed(cx->p) && row16_operands(cx);
}

/* Whether such rows with a logit transform go to the ISA's fused16_t (kernels.h; the kernel
   leaves the rows it does not take to the staged path). */
int softce__row16t_suitable(const softce__context *cx) {
    const softce__convert *cv = softce__converters();
    return cv && cv->fused16_t && transformed(cx->p) && row16_operands(cx);
}

int softce__row_direct(const softce__plan *p, int slot, int tsize) {
    const softce_tensor *t = p->t[slot];
    return t && p->cs[slot] == 1 && softce__dtype_size(t->dtype) == tsize &&
           (t->dtype == SOFTCE_DTYPE_F32 || t->dtype == SOFTCE_DTYPE_F64);
}

/* Scratch rows: x, p, one output and z (transformed logits only), in the compute type, when
   anything is not direct (or the logits are transformed, or a soft target is mixed with a
   prior), then one row never touched: the kernels hint the row after the one they work on
   (x + n, out + n with write intent: the next row of a contiguous tensor), which for a staged
   row is the next scratch row; the spare row keeps those hints inside this thread's scratch
   (in the next thread's rows, a write hint would take away lines that thread is writing). */
size_t softce__rows_scratch(const softce__context *cx) {
    const softce__plan *p = cx->p;
    int any = !cx->x_direct || (p->soft && !cx->p_direct) ||
              (p->t[SOFTCE__GRAD_LOGITS] && !cx->gx_direct) ||
              (p->t[SOFTCE__GRAD_TARGET] && !cx->gt_direct) || p->logit_scale != 1.0 ||
              p->softcap != 0.0 || (p->soft && p->t[SOFTCE__PRIOR]) || p->topk;
    size_t bytes;
    if (!any)
        return 0;
    if (p->topk)
        return topk_offsets(p, cx->tsize, NULL);
    const int rows = (transformed(p) ? 4 : 3) + 1;
    size_t stride;
    if (!row_stride(p, cx->tsize, &stride) || __builtin_mul_overflow(stride, (size_t)rows, &bytes))
        return SIZE_MAX; /* cannot be allocated: the driver reports out of memory */
    return bytes;
}

softce_status softce__rows_prepare(softce__context *cx) {
    const softce__plan *p = cx->p;
    const softce_tensor *pr = p->t[SOFTCE__PRIOR];
    cx->prior = NULL;
    cx->prior_wsum = cx->kl_prior = 0.0;
    if (!pr || p->op == SOFTCE__OP_LOG_SOFTMAX)
        return SOFTCE_OK;
    size_t bytes;
    if (__builtin_mul_overflow((size_t)p->C, (size_t)cx->tsize, &bytes) ||
        !(cx->prior = malloc(bytes)))
        return softce__fail(SOFTCE_ERROR_OUT_OF_MEMORY, "cannot allocate the smoothing prior");
    softce__gather(pr->dtype, pr->data, p->cs[SOFTCE__PRIOR], p->C, p->compute_f64, cx->prior);
    for (int64_t i = 0; i < p->C; i++) {
        double wi = weight_at(cx, i), pi = softce__row_value(cx, cx->prior, i);
        cx->prior_wsum += wi * pi;
        cx->kl_prior += wi * xlogx(p->eps * pi);
    }
    return SOFTCE_OK;
}

void softce__rows_release(softce__context *cx) {
    free(cx->prior);
    cx->prior = NULL;
}
