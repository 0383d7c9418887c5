/*
 * Every entry of every SIMD row table against the scalar table (the oracle) and against an
 * independent double-precision reference, on random rows: all n in 1..70 and some large n,
 * in place and not, with and without p and w, and rows with -inf, NaN, +inf and huge values.
 * Rows whose max (or lse) is not finite go to the scalar table inside the SIMD kernels, so
 * there the results must be identical.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "krow_case.h"
#include "ktest.h"

typedef struct kctx {
    const ktable *t;
    const softce__row_kernels *s; /* scalar table of the same compute type */
    const krow *c;
    int kind;
    double u, tiny; /* unit roundoff of the compute type; largest flushed exp result (x2) */
} kctx;

static int same(double a, double b) { return (isnan(a) && isnan(b)) || a == b; }

/* Relative error allowed on a sum of n non-negative terms: another order in double, and for
   f32 the blocked sums of the SIMD kernels (a few vectors in float before double). */
static double sum_err(const kctx *k) {
    return (double)k->c->n * 0x1p-53 + (k->t->f64 ? 0.0 : 16.0 * k->u);
}

static void expect(const kctx *k, const char *what, int64_t i, double got, double want,
                   double tol) {
    if (!kclose(got, want, tol))
        fail_msg("%s n=%lld kind=%d p=%d w=%d: %s[%lld] = %.9g, want %.9g (tol %.3g)", k->t->name,
                 (long long)k->c->n, k->kind, k->c->p != NULL, k->c->w != NULL, what, (long long)i,
                 got, want, tol);
}

/* Error bound of x - lse computed as (x - hi) - lo, lse = hi + lo split in the compute type. */
static double lse_split_err(const kctx *k, double x, double lse) {
    return 4.0 * k->u * fabs(x - lse) + 4.0 * k->u * k->u * fabs(lse);
}

/* ref rounded to the compute type (so both overflow alike). */
/* The kernels take and give the lse as a pair (hi, lo); these tests work with its value. */
#define LSEV(l) softce__lse_value(l)
#define LSEP(k, v) softce__lse_split((v), (k)->t->f64)

static double in_type(const kctx *k, double v) { return k->t->f64 ? v : (double)(float)v; }

static void expect_same_rows(const kctx *k, const char *what, const void *a, const void *b) {
    for (int64_t i = 0; i < k->c->n; i++)
        if (!same(kget(a, i, k->t->f64), kget(b, i, k->t->f64)))
            expect(k, what, i, kget(a, i, k->t->f64), kget(b, i, k->t->f64), 0.0);
}

static double check_lse(const kctx *k) {
    const krow *c = k->c;
    double a = LSEV(k->t->k->lse(c->xt, c->n)), b = LSEV(k->s->lse(c->xt, c->n));
    double m = kref_max(c);
    if (!isfinite(m)) {
        expect(k, "lse(delegated)", 0, a, b, 0.0);
        return b;
    }
    double tol = sum_err(k) + 8.0 * k->u * (1.0 + fabs(b - m)) + 0x1p-51 * fabs(b);
    expect(k, "lse-vs-scalar", 0, a, b, tol);
    expect(k, "lse-vs-ref", 0, a, kref_lse(c), tol);
    return b;
}

static void check_soft_loss(const kctx *k, double lse) {
    const krow *c = k->c;
    double swa, swb, swr;
    double a = k->t->k->soft_loss(c->xt, c->pt, c->wt, c->n, LSEP(k, lse), c->a1, c->a0, &swa);
    double b = k->s->soft_loss(c->xt, c->pt, c->wt, c->n, LSEP(k, lse), c->a1, c->a0, &swb);
    if (!isfinite(lse)) {
        expect(k, "soft_loss(delegated)", 0, a, b, 0.0);
        expect(k, "sum_wq(delegated)", 0, swa, swb, 0.0);
        return;
    }
    double r = kref_soft_loss(c, lse, &swr), scale = 0.0, wsum = 0.0;
    for (int64_t i = 0; i < c->n; i++) {
        double wq = kref_wq(c, i);
        scale += wq != 0.0 ? fabs(wq * (c->x[i] - lse)) : 0.0;
        wsum += fabs(wq);
    }
    expect(k, "soft_loss-vs-scalar", 0, a, b, 1e-12 * scale);
    expect(k, "soft_loss-vs-ref", 0, a, r, 1e-12 * scale);
    expect(k, "sum_wq-vs-scalar", 0, swa, swb, 1e-12 * wsum);
    expect(k, "sum_wq-vs-ref", 0, swa, swr, 1e-12 * wsum);
}

static void check_grad(const kctx *k, double lse) {
    const krow *c = k->c;
    const int f = k->t->f64;
    const double a = 1.3 * c->g, c1 = c->g * c->a1, c0 = c->g * c->a0;
    void *o1 = kalloc(c->n, f), *o2 = kalloc(c->n, f), *o3 = kalloc(c->n, f);
    memcpy(o2, c->xt, (size_t)c->n * (f ? 8 : 4));
    k->t->k->grad(c->xt, c->pt, c->wt, c->n, LSEP(k, lse), a, c1, c0, o1);
    k->t->k->grad(o2, c->pt, c->wt, c->n, LSEP(k, lse), a, c1, c0, o2); /* in place */
    k->s->grad(c->xt, c->pt, c->wt, c->n, LSEP(k, lse), a, c1, c0, o3);
    expect_same_rows(k, "grad-in-place", o2, o1);
    if (!isfinite(lse))
        expect_same_rows(k, "grad(delegated)", o1, o3);
    for (int64_t i = 0; isfinite(lse) && i < c->n; i++) {
        double wq = (c->p ? c1 * c->p[i] + c0 : c0) * (c->w ? c->w[i] : 1.0);
        double ae = fabs(a * exp(c->x[i] - lse)), ref = a * exp(c->x[i] - lse) - wq;
        /* (x - hi) - lo: about 2 roundings of |x - lse| in the exponent */
        double arg = ae > 0.0 ? ae * 4.0 * k->u * fabs(c->x[i] - lse) : 0.0;
        double tol = (ae + fabs(wq)) * 8.0 * k->u + k->tiny * fabs(a);
        double got = kget(o1, i, f);
        expect(k, "grad-vs-ref", i, got, in_type(k, ref), tol + arg);
        expect(k, "grad-vs-scalar", i, got, kget(o3, i, f), tol + arg);
    }
    free(o1), free(o2), free(o3);
}

static void check_grad_target(const kctx *k, double lse) {
    const krow *c = k->c;
    const int f = k->t->f64;
    const double cc = 0.7 * c->g;
    void *o1 = kalloc(c->n, f), *o3 = kalloc(c->n, f);
    k->t->k->grad_target(c->xt, c->wt, c->n, LSEP(k, lse), cc, o1);
    k->s->grad_target(c->xt, c->wt, c->n, LSEP(k, lse), cc, o3);
    if (!isfinite(lse))
        expect_same_rows(k, "grad_target(delegated)", o1, o3);
    for (int64_t i = 0; isfinite(lse) && i < c->n; i++) {
        double cw = cc * (c->w ? c->w[i] : 1.0), ref = -cw * (c->x[i] - lse);
        double tol = fabs(cw) * lse_split_err(k, c->x[i], lse) + 4.0 * k->u * fabs(ref);
        expect(k, "grad_target-vs-ref", i, kget(o1, i, f), in_type(k, ref), tol);
        expect(k, "grad_target-vs-scalar", i, kget(o1, i, f), kget(o3, i, f), tol);
    }
    free(o1), free(o3);
}

static void check_log_softmax(const kctx *k, double lse) {
    const krow *c = k->c;
    const int f = k->t->f64;
    void *o1 = kalloc(c->n, f), *o2 = kalloc(c->n, f), *o3 = kalloc(c->n, f);
    memcpy(o2, c->xt, (size_t)c->n * (f ? 8 : 4));
    k->t->k->log_softmax(c->xt, c->n, LSEP(k, lse), o1);
    k->t->k->log_softmax(o2, c->n, LSEP(k, lse), o2);
    k->s->log_softmax(c->xt, c->n, LSEP(k, lse), o3);
    expect_same_rows(k, "log_softmax-in-place", o2, o1);
    if (!isfinite(lse))
        expect_same_rows(k, "log_softmax(delegated)", o1, o3);
    for (int64_t i = 0; isfinite(lse) && i < c->n; i++) {
        double tol = lse_split_err(k, c->x[i], lse);
        expect(k, "log_softmax-vs-ref", i, kget(o1, i, f), in_type(k, c->x[i] - lse), tol);
        expect(k, "log_softmax-vs-scalar", i, kget(o1, i, f), kget(o3, i, f), tol);
    }
    free(o1), free(o2), free(o3);
}

/* Tolerances of the fused loss and of each fused output element, from the reference terms. */
static void fused_tolerances(const kctx *k, double m, double lse, double *tol_loss,
                             double *tol_out) {
    const krow *c = k->c;
    double S = 0.0, su = 0.0, sa = 0.0, s = exp(lse - m);
    for (int64_t i = 0; i < c->n; i++) {
        double wq = kref_wq(c, i);
        S += wq;
        sa += fabs(wq);
        su += wq != 0.0 ? fabs(wq * (m - c->x[i])) : 0.0;
    }
    /* s has the exp error; the double sums S and U only their summation order */
    *tol_loss = (8.0 * k->u + sum_err(k)) * (fabs(S * (lse - m)) + fabs(S) + su) +
                1e-12 * (su + sa * (lse - m));
    for (int64_t i = 0; i < c->n; i++) {
        double coef = fabs(S + c->spike) + 2.0 * c->zl * fabs(lse);
        double e = exp(c->x[i] - m), ke = fabs(c->g * coef * e / s);
        double arg = ke > 0.0 ? 2.0 * k->u * fabs(c->x[i] - m) : 0.0;
        /* the z-loss part 2 zl lse carries the lse's absolute error */
        double zerr = 2.0 * c->zl * (sum_err(k) + 8.0 * k->u * (1.0 + fabs(lse - m)) +
                                     0x1p-51 * fabs(lse));
        tol_out[i] = (arg + 16.0 * k->u + sum_err(k)) * (ke + fabs(c->g * kref_wq(c, i))) +
                     k->tiny * fabs(c->g * coef) + fabs(c->g) * zerr * e / s;
    }
}

static void check_fused(const kctx *k) {
    const krow *c = k->c;
    const int f = k->t->f64;
    void *o1 = kalloc(c->n, f), *o2 = kalloc(c->n, f), *o3 = kalloc(c->n, f);
    double *ro = kalloc(c->n, 1), *tol = kalloc(c->n, 1), l1, l2, l3, rl, tl;
    memcpy(o2, c->xt, (size_t)c->n * (f ? 8 : 4));
    double e1 = LSEV(k->t->k->fused(c->xt, c->pt, c->wt, c->n, c->a1, c->a0, c->spike, c->zl, c->g, o1, &l1));
    double e2 = LSEV(k->t->k->fused(o2, c->pt, c->wt, c->n, c->a1, c->a0, c->spike, c->zl, c->g, o2, &l2));
    double e3 = LSEV(k->s->fused(c->xt, c->pt, c->wt, c->n, c->a1, c->a0, c->spike, c->zl, c->g, o3, &l3));
    expect_same_rows(k, "fused-in-place", o2, o1);
    expect(k, "fused-in-place-lse", 0, e2, e1, 0.0);
    expect(k, "fused-in-place-loss", 0, l2, l1, 0.0);
    double m = kref_max(c);
    if (!isfinite(m)) {
        expect_same_rows(k, "fused(delegated)", o1, o3);
        expect(k, "fused-lse(delegated)", 0, e1, e3, 0.0);
        expect(k, "fused-loss(delegated)", 0, l1, l3, 0.0);
    } else {
        double rlse = kref_fused(c, ro, &rl),
               tlse = sum_err(k) + 8.0 * k->u * (1.0 + fabs(rlse - m)) + 0x1p-51 * fabs(rlse);
        expect(k, "fused-lse-vs-ref", 0, e1, rlse, tlse);
        expect(k, "fused-lse-vs-scalar", 0, e1, e3, tlse);
        fused_tolerances(k, m, rlse, &tl, tol);
        expect(k, "fused-loss-vs-ref", 0, l1, rl, tl);
        expect(k, "fused-loss-vs-scalar", 0, l1, l3, tl);
        for (int64_t i = 0; i < c->n; i++) {
            expect(k, "fused-vs-ref", i, kget(o1, i, f), in_type(k, ro[i]), tol[i]);
            expect(k, "fused-vs-scalar", i, kget(o1, i, f), kget(o3, i, f), tol[i]);
        }
    }
    free(o1), free(o2), free(o3), free(ro), free(tol);
}

/* fused_sums (split mode's phase A, blockwise) and rescale (phase B): the gradient rebuilt from
   them as the driver does (k_b = g coef e^(m_b - lse) on every stored block) against the same
   reference and tolerances as fused; in place bit-identical to out of place; an all -inf row
   stores nothing; a row with +inf or NaN gives a NaN lse. */
static void check_fused_sums(const kctx *k) {
    const krow *c = k->c;
    const int f = k->t->f64;
    const int64_t nb = (c->n + SOFTCE__FUSED_BLOCK - 1) / SOFTCE__FUSED_BLOCK;
    void *o1 = kalloc(c->n, f), *o2 = kalloc(c->n, f);
    double *ro = kalloc(c->n, 1), *tol = kalloc(c->n, 1), *b1 = kalloc(nb, 1),
           *b2 = kalloc(nb, 1), l1, l2, s1, s2, rl, tl;
    for (int64_t i = 0; i < c->n; i++)
        kput(o1, i, 7.0, f);
    memcpy(o2, c->xt, (size_t)c->n * (f ? 8 : 4));
    softce__lse e1 = k->t->k->fused_sums(c->xt, c->pt, c->wt, c->n, c->a1, c->a0, o1, &l1, &s1, b1);
    softce__lse e2 = k->t->k->fused_sums(o2, c->pt, c->wt, c->n, c->a1, c->a0, o2, &l2, &s2, b2);
    for (int64_t i = 0; i < c->n; i++) /* stored blocks; the others keep x in place */
        if (isfinite(b1[i / SOFTCE__FUSED_BLOCK]) && !same(kget(o2, i, f), kget(o1, i, f)))
            expect(k, "fused_sums-in-place", i, kget(o2, i, f), kget(o1, i, f), 0.0);
        else if (!isfinite(b1[i / SOFTCE__FUSED_BLOCK]) && !same(kget(o2, i, f), c->x[i]))
            expect(k, "fused_sums-in-place-kept", i, kget(o2, i, f), c->x[i], 0.0);
    expect(k, "fused_sums-in-place-lse", 0, LSEV(e2), LSEV(e1), 0.0);
    expect(k, "fused_sums-in-place-loss", 0, l2, l1, 0.0);
    for (int64_t b = 0; b < nb; b++)
        expect(k, "fused_sums-in-place-bmax", b, b2[b], b1[b], 0.0);
    double m = kref_max(c);
    int poison = 0; /* a NaN or +inf logit */
    for (int64_t i = 0; i < c->n; i++)
        poison |= isnan(c->x[i]) || c->x[i] == INFINITY;
    if (poison) {
        if (!isnan(LSEV(e1)))
            expect(k, "fused_sums-lse(nan)", 0, LSEV(e1), NAN, 0.0);
    } else if (m == -INFINITY) { /* nothing stored, lse -inf */
        for (int64_t i = 0; i < c->n; i++)
            expect(k, "fused_sums-untouched", i, kget(o1, i, f), 7.0, 0.0);
        expect(k, "fused_sums-lse(-inf)", 0, LSEV(e1), -INFINITY, 0.0);
    } else {
        double rlse = kref_fused(c, ro, &rl),
               tlse = sum_err(k) + 8.0 * k->u * (1.0 + fabs(rlse - m)) + 0x1p-51 * fabs(rlse);
        expect(k, "fused_sums-lse-vs-ref", 0, LSEV(e1), rlse, tlse);
        fused_tolerances(k, m, rlse, &tl, tol);
        expect(k, "fused_sums-loss-vs-ref", 0, l1, rl, tl);
        const double coef = s1 + c->spike + 2.0 * c->zl * LSEV(e1);
        const size_t ts = f ? 8 : 4;
        for (int64_t b = 0; b < nb; b++) {
            const int64_t b0 = b * SOFTCE__FUSED_BLOCK;
            const int64_t len = c->n - b0 < SOFTCE__FUSED_BLOCK ? c->n - b0 : SOFTCE__FUSED_BLOCK;
            const char *pb = c->pt ? (const char *)c->pt + (size_t)b0 * ts : NULL;
            const char *wb = c->wt ? (const char *)c->wt + (size_t)b0 * ts : NULL;
            char *ob = (char *)o1 + (size_t)b0 * ts;
            if (!isfinite(b1[b])) { /* an all -inf block: untouched, its gradient is -g w q */
                for (int64_t i = b0; i < b0 + len; i++)
                    expect(k, "fused_sums-untouched-block", i, kget(o1, i, f), 7.0, 0.0);
                for (int64_t i = b0; i < b0 + len; i++)
                    kput(o1, i, -c->g * kref_wq(c, i), f);
                continue;
            }
            k->t->k->rescale(ob, pb, wb, len, c->g * coef * exp((b1[b] - e1.hi) - e1.lo),
                             c->g * c->a1, c->g * c->a0);
        }
        for (int64_t i = 0; i < c->n; i++) /* k_b rounds once more than fused's k */
            expect(k, "fused_sums+rescale-vs-ref", i, kget(o1, i, f), in_type(k, ro[i]),
                   tol[i] + 2.0 * k->u * fabs(ro[i]));
    }
    free(o1), free(o2), free(ro), free(tol), free(b1), free(b2);
}

static void check_case(const ktable *t, const krow *c, int kind) {
    kctx k = {t,
              t->f64 ? &softce__row_scalar_f64 : &softce__row_scalar_f32,
              c,
              kind,
              t->f64 ? 0x1p-53 : 0x1p-24,
              t->f64 ? 5e-308 : 2.4e-38};
    double lse = check_lse(&k);
    check_soft_loss(&k, lse);
    check_grad(&k, lse);
    check_grad_target(&k, lse);
    check_log_softmax(&k, lse);
    check_fused(&k);
    check_fused_sums(&k);
}

static const int64_t large_n[] = {127, 128, 129, 1000, 2048, 2049, 4099, 32768, 50000, 100003};

static void run_table(void **state) {
    const ktable *t = *state;
    if (!ktable_runnable(t))
        skip();
    uint64_t rng = 0x5eed0000u + (uint64_t)t->isa * 2u + (uint64_t)t->f64;
    int64_t nn = 70 + (int64_t)(sizeof large_n / sizeof large_n[0]);
    for (int64_t j = 0; j < nn; j++) {
        int64_t n = j < 70 ? j + 1 : large_n[j - 70];
        for (int kind = 0; kind < KROW_KINDS; kind++)
            for (int pw = 0; pw < 4; pw++) {
                krow c = krow_make(&rng, n, kind, t->f64, pw & 1, pw >> 1);
                check_case(t, &c, kind);
                krow_free(&c);
            }
    }
}

int main(void) {
    struct CMUnitTest tests[sizeof ktables / sizeof ktables[0]];
    size_t count = 0;
    for (size_t i = 0; ktables[i].k != NULL; i++) {
        struct CMUnitTest u = {ktables[i].name, run_table, NULL, NULL, (void *)&ktables[i]};
        tests[count++] = u;
    }
    if (count == 0) {
        print_message("no SIMD tables built: nothing to compare\n");
        return 0;
    }
    return _cmocka_run_group_tests("kernel_rows", tests, count, NULL, NULL);
}
