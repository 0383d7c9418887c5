/*
 * Column (tile) kernel: R <= SOFTCE__COL_TILE positions x C classes, f32, positions contiguous
 * and classes at stride ld: x[c * ldx + r]. Vectorised ACROSS positions (inner loops over r),
 * for tiny C and for a strided class axis. Plain C compiled once per ISA by col_<isa>.c with
 * COL_NAME defined; the compiler vectorises the r-loops (branch-free exp and log from
 * expf_portable.h / log_portable.h; the hard target's logit and weight are picked up by selects
 * in the class loop instead of gathers). Same math as the row kernels' `fused`
 * (docs/numerics.md).
 */
#include "kernels/expf_portable.h"
#include "kernels/kernels.h"
#include "kernels/log_portable.h"

#include <math.h>

#define R_MAX SOFTCE__COL_TILE

/* The including file may make the kernel file-local (col_avx512.c uses it as a fallback). */
#ifndef COL_STORAGE
#define COL_STORAGE
#endif

#if defined(__GNUC__)
#define COL_INLINE static inline __attribute__((always_inline))
#else
#define COL_INLINE static inline
#endif

typedef struct col_state {
    float m[R_MAX];
    float xt[R_MAX], wt[R_MAX]; /* hard: the target's logit and class weight */
    double s[R_MAX], S[R_MAX], U[R_MAX];
} col_state;

static void col_max(const softce__col_tile *a, col_state *st) {
    const int64_t R = a->R;
    for (int64_t r = 0; r < R; r++)
        st->m[r] = -INFINITY;
    for (int64_t c = 0; c < a->C; c++) {
        const float *x = a->x + c * a->ldx;
        for (int64_t r = 0; r < R; r++)
            st->m[r] = x[r] > st->m[r] ? x[r] : st->m[r];
    }
    for (int64_t r = 0; r < R; r++) /* all -inf: exp(-inf - 0) = 0 gives lse = -inf */
        st->m[r] = st->m[r] == -INFINITY ? 0.0f : st->m[r];
}

/* One class of the tile: e = exp(x - m) (into gx when HAS_GX), s += e, S += w q,
   U += w q (m - x), and for hard targets x_t / w_t when c == t (read before e overwrites x
   in place). Flags are compile-time constants at each call so the loop is branch-free. */
COL_INLINE void col_sums_class(const softce__col_tile *a, col_state *st, int64_t c,
                               const int has_p, const int has_gx, const int has_q,
                               const int hard) {
    const float *x = a->x + c * a->ldx;
    const float *p = has_p ? a->p + c * a->ldp : NULL;
    float *gx = has_gx ? a->gx + c * a->ldg : NULL;
    const int32_t *t = a->t;
    const float wcf = a->w ? a->w[c] : 1.0f;
    const double wc = wcf, a1 = a->a1, a0 = a->a0;
    for (int64_t r = 0; r < a->R; r++) {
        float xr = x[r];
        float e = softce__expf_portable(xr - st->m[r]);
        st->s[r] += (double)e;
        if (has_q) {
            double wq = wc * (has_p ? a1 * (double)p[r] + a0 : a0);
            st->S[r] += wq;
            st->U[r] += wq != 0.0 ? wq * ((double)st->m[r] - (double)xr) : 0.0;
        }
        if (hard) {
            int here = t[r] == (int32_t)c;
            st->xt[r] = here ? xr : st->xt[r];
            st->wt[r] = here ? wcf : st->wt[r];
        }
        if (has_gx)
            gx[r] = e;
    }
}

static void col_sums(const softce__col_tile *a, col_state *st) {
    for (int64_t r = 0; r < a->R; r++) {
        st->s[r] = st->S[r] = st->U[r] = 0.0;
        st->xt[r] = st->wt[r] = 0.0f;
    }
    const int gx = a->gx != NULL, q = a->a0 != 0.0; /* hard, no smoothing: q = 0 off t */
    for (int64_t c = 0; c < a->C; c++) {
        if (a->p)
            gx ? col_sums_class(a, st, c, 1, 1, 1, 0) : col_sums_class(a, st, c, 1, 0, 1, 0);
        else if (q)
            gx ? col_sums_class(a, st, c, 0, 1, 1, 1) : col_sums_class(a, st, c, 0, 0, 1, 1);
        else
            gx ? col_sums_class(a, st, c, 0, 1, 0, 1) : col_sums_class(a, st, c, 0, 0, 0, 1);
    }
}

/* gx = scale e - g w q, minus g spike at c == t (hard), 0 for ignored positions. */
COL_INLINE void col_grad_class(const softce__col_tile *a, int64_t c, const float *g,
                               const float *spike, const float *scale, const int hard) {
    const float *p = hard ? NULL : a->p + c * a->ldp;
    float *gx = a->gx + c * a->ldg;
    const float wc = a->w ? a->w[c] : 1.0f;
    const float a1 = (float)a->a1, a0 = (float)a->a0;
    for (int64_t r = 0; r < a->R; r++) {
        float wq = wc * (hard ? a0 : a1 * p[r] + a0);
        float v = scale[r] * gx[r] - g[r] * wq;
        if (hard) {
            v = a->t[r] == (int32_t)c ? v - g[r] * spike[r] : v;
            v = a->t[r] < 0 ? 0.0f : v;
        }
        gx[r] = v;
    }
}

static void col_grad(const softce__col_tile *a, const float *spike, const float *scale) {
    float g[R_MAX];
    for (int64_t r = 0; r < a->R; r++)
        g[r] = (float)a->g[r];
    for (int64_t c = 0; c < a->C; c++) {
        if (a->t)
            col_grad_class(a, c, g, spike, scale, 1);
        else
            col_grad_class(a, c, g, spike, scale, 0);
    }
}

/* Per position: lse, loss and the gradient scale g (S + spike) / s. */
COL_INLINE void col_finish(const softce__col_tile *a, const col_state *st, float *spike,
                           float *scale, const int hard, const int has_g) {
    double ls[R_MAX];
    for (int64_t r = 0; r < a->R; r++)
        ls[r] = softce__log_portable(st->s[r]);
    const float spike_scale = (float)a->spike;
    for (int64_t r = 0; r < a->R; r++) {
        int counted = hard ? a->t[r] >= 0 : 1;
        float sp = hard && counted ? spike_scale * st->wt[r] : 0.0f;
        double lse = (double)st->m[r] + ls[r];
        double loss = (st->S[r] != 0.0 ? st->S[r] * ls[r] : 0.0) + st->U[r];
        /* (m - x_t) + log s: keeps log s also when |m| >> 1e16 */
        loss += sp != 0.0f ? (double)sp * (((double)st->m[r] - (double)st->xt[r]) + ls[r]) : 0.0;
        a->lse[r] = lse;
        a->loss[r] = counted ? loss : 0.0;
        spike[r] = sp;
        if (has_g)
            scale[r] = (float)(a->g[r] * (st->S[r] + (double)sp) / st->s[r]);
    }
}

COL_STORAGE void COL_NAME(const softce__col_tile *a) {
    col_state st;
    float spike[R_MAX], scale[R_MAX];
    col_max(a, &st);
    col_sums(a, &st);
    const int has_g = a->gx != NULL;
    if (a->t)
        has_g ? col_finish(a, &st, spike, scale, 1, 1) : col_finish(a, &st, spike, scale, 1, 0);
    else
        has_g ? col_finish(a, &st, spike, scale, 0, 1) : col_finish(a, &st, spike, scale, 0, 0);
    if (has_g)
        col_grad(a, spike, scale);
}
