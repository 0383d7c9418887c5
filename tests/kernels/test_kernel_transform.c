/*
 * The logit transform (softcap / logit_scale) and its chain rule of every SIMD row table:
 * - transform with a softcap against a higher-precision reference cap * tanh(scale x / cap)
 *   (also on the unsplit and unfolded paths of the f32 softcap):
 *   f32 over every 61st float (every float with --exhaustive), f64 on random samples; the
 *   largest error in ulps of the result is printed and must be <= 3 (f32) / 4 (f64);
 *   scale = cap = 1 measures the vector tanh itself;
 * - NaN -> NaN, +-inf -> +-cap, +-0 -> +-0, every n in 1..70 (tails), in place;
 * - without a softcap (z = scale x): bitwise equal to the scalar table (both round a double
 *   product once); with one: within 4 ulps of it;
 * - the chain rule against (cap - z)(cap + z) / cap^2 in long double from the same z (8 ulps
 *   relative) and the scalar table (8 ulps of |g scale|: its 1 - (z / cap)^2 cancels);
 * - fused_t (transform + fused + chain in one kernel) against the scalar table's composition:
 *   rows of kinds NORMAL / WIDE / NEGINF / POSINF / NAN, n in 1..70 and 1000, with and without
 *   p, w, smoothing and z-loss, every (scale, cap); in place bitwise equal to out of place,
 *   forward only (out NULL) with the same loss and lse; with only z_t asked for (z_at >= 0)
 *   or none of z (SOFTCE__Z_NONE) bitwise the same results (and z_t);
 * - the softcap's range classes of fused_t (rows whose largest |x / cap| sits just below and
 *   above each class bound, with a NaN too; up to 3000 classes) the same way.
 */
#include <float.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "krow_case.h"
#include "ktest.h"

enum { BATCH = 4096, MAXN = 70 };
static uint32_t float_stride = 61; /* 1 with --exhaustive */

/* The (scale, cap) pairs measured: tanh itself, a typical softcap, inexact coefficients, and the
   other paths of the f32 softcap (tanh_avx*.h): scale / cap exact (no split) with scale != 1,
   and scale / cap outside 2^-8 .. 2^8 (not folded). */
static const double caps[][2] = {{1.0, 1.0}, {1.0, 30.0},   {0.37, 15.3},
                                 {2.0, 4.0}, {1.0, 1000.0}, {300.0, 1.0}};

/* |got - ref| in ulps of ref in a format with `bits` significant bits and smallest exponent
   emin (the spacing of subnormals below it). */
static double ulps(long double got, long double ref, int bits, int emin) {
    if (ref == 0.0L)
        return got == 0.0L ? 0.0 : INFINITY;
    int e;
    frexpl(ref, &e);
    if (e < emin)
        e = emin;
    return (double)(fabsl(got - ref) / ldexpl(1.0L, e - bits));
}

/* Largest ulp error of transform(scale, cap) over floats with bits from, from + stride, ...,
   up to 0xFF800000 (all finite and infinite values, both signs). */
static double sweep_f32(const ktable *t, double scale, double cap, float *worst_x) {
    float x[BATCH], z[BATCH];
    const double k = scale / cap;
    double worst = 0.0;
    uint64_t last = 0xFF800000u, b = 0;
    while (b <= last) {
        int64_t m = 0;
        for (; m < BATCH && b <= last; m++, b += float_stride) {
            x[m] = f32_of_bits((uint32_t)b);
            if (b >= 0x7F800001u && b < 0x80000000u) /* skip positive NaNs */
                b = 0x80000000u - float_stride;
        }
        t->k->transform(x, m, scale, cap, z);
        for (int64_t i = 0; i < m; i++) {
            double ref = cap * tanh(k * (double)x[i]);
            double err = ulps(z[i], ref, 24, -125);
            if (err > worst)
                worst = err, *worst_x = x[i];
        }
    }
    return worst;
}

static double sample_f64(const ktable *t, double scale, double cap, double *worst_x) {
    uint64_t rng = 7;
    double x[BATCH], z[BATCH], worst = 0.0;
    for (int round = 0; round < 100; round++) {
        for (int i = 0; i < BATCH; i++) { /* |y| log-uniform in [2^-40, 2^6] */
            double y = ldexp(1.0 + krand_unit(&rng), -40 + (int)(krand_unit(&rng) * 46.0));
            x[i] = (i % 2 ? -y : y) * cap / scale;
        }
        t->k->transform(x, BATCH, scale, cap, z);
        for (int i = 0; i < BATCH; i++) {
            long double ref = (long double)cap * tanhl((long double)scale * x[i] / cap);
            double err = ulps(z[i], ref, 53, -1021);
            if (err > worst)
                worst = err, *worst_x = x[i];
        }
    }
    return worst;
}

static void check_specials(const ktable *t, double scale, double cap) {
    const double in[6] = {NAN, INFINITY, -INFINITY, 0.0, -0.0, 1e-30};
    double out[6];
    double xb[6], zb[6];
    for (int i = 0; i < 6; i++)
        kput(xb, i, in[i], t->f64);
    t->k->transform(xb, 6, scale, cap, zb);
    for (int i = 0; i < 6; i++)
        out[i] = kget(zb, i, t->f64);
    double hc = t->f64 ? cap : (double)(float)cap;
    if (!isnan(out[0]) || out[1] != hc || out[2] != -hc || out[3] != 0.0 || signbit(out[3]) ||
        out[4] != 0.0 || !signbit(out[4]))
        fail_msg("%s cap %g: NaN/inf/0 -> %g %g %g %g %g", t->name, cap, out[0], out[1], out[2],
                 out[3], out[4]);
}

static void test_accuracy(void **state) {
    const ktable *t = *state;
    if (!ktable_runnable(t))
        skip();
    for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
        check_specials(t, caps[c][0], caps[c][1]);
        if (t->f64) {
            double wx = 0.0, w = sample_f64(t, caps[c][0], caps[c][1], &wx);
            print_message("%s scale %g cap %g: max %.3f ulp (%d samples, at x = %.17g)\n", t->name,
                          caps[c][0], caps[c][1], w, 100 * BATCH, wx);
            assert_true(w <= 4.0);
        } else {
            float wx = 0.0f;
            double w = sweep_f32(t, caps[c][0], caps[c][1], &wx);
            print_message("%s scale %g cap %g: max %.3f ulp (every %u-th float, at x = %.9g)\n",
                          t->name, caps[c][0], caps[c][1], w, float_stride, (double)wx);
            assert_true(w <= 3.0);
        }
    }
}

/* Random rows of every n in 1..MAXN, in place and not: tails, linear path and chain. */
static void test_rows(void **state) {
    const ktable *t = *state;
    if (!ktable_runnable(t))
        skip();
    const softce__row_kernels *s = t->f64 ? &softce__row_scalar_f64 : &softce__row_scalar_f32;
    const int f64 = t->f64;
    uint64_t rng = 11;
    double x[MAXN], g[MAXN];
    double xb[MAXN], zb[MAXN], rb[MAXN], gb[MAXN], hb[MAXN]; /* storage for either type */
    const double sc[][2] = {{1.0, 30.0}, {0.37, 15.3}, {2.5, 0.0}, {0.1, 0.0}, {1.0, 1.0}};
    for (int64_t n = 1; n <= MAXN; n++) {
        for (size_t c = 0; c < sizeof sc / sizeof sc[0]; c++) {
            const double scale = sc[c][0], cap = sc[c][1];
            for (int64_t i = 0; i < n; i++) {
                x[i] = 40.0 * krand_normal(&rng);
                g[i] = krand_normal(&rng);
                kput(xb, i, x[i], f64);
                kput(gb, i, g[i], f64);
                kput(hb, i, g[i], f64);
            }
            t->k->transform(xb, n, scale, cap, zb);
            s->transform(xb, n, scale, cap, rb);
            for (int64_t i = 0; i < n; i++) {
                double a = kget(zb, i, f64), b = kget(rb, i, f64);
                double tol = cap > 0.0 ? 4.0 * (f64 ? 0x1p-53 : 0x1p-24) * fabs(b) : 0.0;
                if (!kclose(a, b, tol))
                    fail_msg("%s n=%lld scale %g cap %g: z[%lld] = %.17g, scalar %.17g", t->name,
                             (long long)n, scale, cap, (long long)i, a, b);
            }
            t->k->transform(xb, n, scale, cap, xb); /* in place */
            if (memcmp(xb, zb, (size_t)n * (f64 ? 8 : 4)) != 0)
                fail_msg("%s n=%lld: in-place transform differs", t->name, (long long)n);
            /* chain on the same z, against the scalar table and the formula in long double */
            t->k->chain(gb, zb, n, scale, cap);
            s->chain(hb, zb, n, scale, cap);
            const double u = f64 ? 0x1p-53 : 0x1p-24;
            for (int64_t i = 0; i < n; i++) {
                long double zi = kget(zb, i, f64), gi = f64 ? g[i] : (double)(float)g[i];
                long double want =
                    cap > 0.0 ? gi * scale * ((cap - zi) * (cap + zi)) / (cap * cap) : gi * scale;
                double got = kget(gb, i, f64), byscalar = kget(hb, i, f64);
                if (!kclose(got, (double)want, 8.0 * u * (double)fabsl(want)) ||
                    !kclose(got, byscalar, 8.0 * u * fabs(g[i] * scale)))
                    fail_msg("%s n=%lld scale %g cap %g: chain[%lld] = %.17g, want %.17Lg, "
                             "scalar %.17g",
                             t->name, (long long)n, scale, cap, (long long)i, got, want, byscalar);
            }
        }
    }
}

/* Largest |v| over a row (NaN ignored), at least floor. */
static double row_absmax(const void *b, int64_t n, int f64, double floor) {
    double m = floor;
    for (int64_t i = 0; i < n; i++)
        if (fabs(kget(b, i, f64)) > m)
            m = fabs(kget(b, i, f64));
    return m;
}

/* fused_t of table k on case c's p, w and coefficients, from logits x. */
static softce__lse fused_t_of(const softce__row_kernels *k, const krow *c, const void *x,
                              double scale, double cap, void *z, int64_t z_at, double *e_at,
                              void *out, double *loss) {
    return k->fused_t(x, c->pt, c->wt, c->n, c->a1, c->a0, c->spike, c->zl, c->g, scale, cap, z,
                      z_at, e_at, out, loss);
}

/* fused_t's *e_at against exp((z_t - hi) - lo) in double by libm, from the same call's z_t and
   lse: the rounding of that argument (|z_t - hi| + |lo| times 2^-53) and a few ulps of the
   two exps. Returns 1 when it holds. */
static int e_at_ok(double e_at, softce__lse l, const void *z, int64_t t, int f64) {
    const double d = kget(z, t, f64) - l.hi, ref = exp(d - l.lo);
    return kclose(e_at, ref, 8.0 * 0x1p-53 * (2.0 + fabs(d) + fabs(l.lo)) * ref);
}

/* One fused_t case against the scalar composition; returns 0 on success. */
static int check_fused_t(const ktable *t, const krow *c, double scale, double cap, int kind) {
    const softce__row_kernels *s = t->f64 ? &softce__row_scalar_f64 : &softce__row_scalar_f32;
    const int f64 = t->f64;
    const int64_t n = c->n;
    const double u = f64 ? 0x1p-53 : 0x1p-24;
    void *z1 = kalloc(n, f64), *z3 = kalloc(n, f64), *o1 = kalloc(n, f64), *o3 = kalloc(n, f64);
    void *o2 = kalloc(n, f64), *z2 = kalloc(n, f64), *z4 = kalloc(n, f64);
    double l1, l2, l3, l4;
    memcpy(o2, c->xt, (size_t)n * (f64 ? 8 : 4));
    softce__lse e1 = fused_t_of(t->k, c, c->xt, scale, cap, z1, SOFTCE__Z_ALL, NULL, o1, &l1);
    softce__lse e2 = fused_t_of(t->k, c, o2, scale, cap, z2, SOFTCE__Z_ALL, NULL, o2, &l2);
    softce__lse e4 = fused_t_of(t->k, c, c->xt, scale, cap, z4, SOFTCE__Z_ALL, NULL, NULL, &l4);
    softce__lse e3 = fused_t_of(s, c, c->xt, scale, cap, z3, SOFTCE__Z_ALL, NULL, o3, &l3);
    int bad = 0;
    const size_t bytes = (size_t)n * (f64 ? 8 : 4);
    if (memcmp(o1, o2, bytes) != 0 || memcmp(z1, z2, bytes) != 0 || memcmp(z1, z4, bytes) != 0 ||
        !kclose(l1, l2, 0.0) || !kclose(l1, l4, 0.0) ||
        !kclose(softce__lse_value(e1), softce__lse_value(e2), 0.0) ||
        !kclose(softce__lse_value(e1), softce__lse_value(e4), 0.0)) {
        print_message("%s n=%lld kind %d cap %g: in place / forward only differ\n", t->name,
                      (long long)n, kind, cap);
        bad = 1;
    }
    /* only z_t asked for (a hard target's row; the SIMD kernels may then keep z in registers):
       bitwise the same results, out of place, in place and forward only, and z_t as in the
       full z row; z_t inside the row and in its last (tail) lane */
    const size_t es = f64 ? 8 : 4;
    void *z5 = kalloc(n, f64), *z6 = kalloc(n, f64), *z7 = kalloc(n, f64);
    void *o5 = kalloc(n, f64), *o6 = kalloc(n, f64);
    const int64_t ta = (2 * n) / 3, tb = n - 1;
    double l5, l6, l7, p5 = NAN, p6 = NAN, p7 = NAN, p8 = -1.0;
    memcpy(o6, c->xt, bytes);
    softce__lse e5 = fused_t_of(t->k, c, c->xt, scale, cap, z5, ta, &p5, o5, &l5);
    softce__lse e6 = fused_t_of(t->k, c, o6, scale, cap, z6, tb, &p6, o6, &l6);
    softce__lse e7 = fused_t_of(t->k, c, c->xt, scale, cap, z7, ta, &p7, NULL, &l7);
    void *z8 = kalloc(n, f64), *o8 = kalloc(n, f64);
    double l8;
    softce__lse e8 = fused_t_of(t->k, c, c->xt, scale, cap, z8, SOFTCE__Z_NONE, &p8, o8, &l8);
    /* the target's exp(z_t - lse) where z_at asks for it, untouched otherwise */
    if (!e_at_ok(p5, e5, z5, ta, f64) || !e_at_ok(p6, e6, z6, tb, f64) ||
        !e_at_ok(p7, e7, z7, ta, f64) || p8 != -1.0) {
        print_message("%s n=%lld kind %d scale %g cap %g: e_at %.17g / %.17g / %.17g / %g\n",
                      t->name, (long long)n, kind, scale, cap, p5, p6, p7, p8);
        bad = 1;
    }
    if (memcmp(o1, o8, bytes) != 0 || !kclose(l1, l8, 0.0) ||
        !kclose(softce__lse_value(e1), softce__lse_value(e8), 0.0)) {
        print_message("%s n=%lld kind %d scale %g cap %g: without z, results differ\n", t->name,
                      (long long)n, kind, scale, cap);
        bad = 1;
    }
    free(z8), free(o8);
    if (memcmp(o1, o5, bytes) != 0 || memcmp(o1, o6, bytes) != 0 ||
        memcmp((char *)z5 + ta * es, (char *)z1 + ta * es, es) != 0 ||
        memcmp((char *)z6 + tb * es, (char *)z1 + tb * es, es) != 0 ||
        memcmp((char *)z7 + ta * es, (char *)z1 + ta * es, es) != 0 || !kclose(l1, l5, 0.0) ||
        !kclose(l1, l6, 0.0) || !kclose(l1, l7, 0.0) ||
        !kclose(softce__lse_value(e1), softce__lse_value(e5), 0.0) ||
        !kclose(softce__lse_value(e1), softce__lse_value(e6), 0.0) ||
        !kclose(softce__lse_value(e1), softce__lse_value(e7), 0.0)) {
        print_message("%s n=%lld kind %d scale %g cap %g: with z_at, results differ\n", t->name,
                      (long long)n, kind, scale, cap);
        bad = 1;
    }
    free(z5), free(z6), free(z7), free(o5), free(o6);
    const double lv = softce__lse_value(e1), lv3 = softce__lse_value(e3);
    const double zmax = row_absmax(z3, n, f64, 1.0);
    if (!kclose(lv, lv3, 16.0 * u * (fabs(lv3) + zmax))) {
        print_message("%s n=%lld kind %d cap %g: lse %.17g, scalar %.17g\n", t->name, (long long)n,
                      kind, cap, lv, lv3);
        bad = 1;
    }
    if (!kclose(l1, l3, 64.0 * u * (fabs(l3) + zmax * (1.0 + c->spike + (double)n)))) {
        print_message("%s n=%lld kind %d cap %g: loss %.17g, scalar %.17g\n", t->name,
                      (long long)n, kind, cap, l1, l3);
        bad = 1;
    }
    /* z within 4 ulps of the scalar's (double tanh), in ulps of z (the transform's accuracy
       above; 4 u |z| would allow only 2 ulps at the top of a binade); a gradient entry within
       64 ulps of the terms that cancel in it (g scale (coef e / s - w q)), plus what 4 ulps of
       z (up to 8 u |z|) change in dz = scale (1 - (z / cap)^2): 16 u times 2 z^2 / (cap^2 - z^2)
       relative */
    double terms = 1.0 + c->spike + 2.0 * c->zl * fabs(lv3), wqmax = 0.0;
    for (int64_t i = 0; i < n; i++) {
        terms += fabs(kref_wq(c, i));
        wqmax = fmax(wqmax, fabs(kref_wq(c, i)));
    }
    const double G = 64.0 * u * fabs(c->g) * scale * (terms + wqmax);
    for (int64_t i = 0; i < n && !bad; i++) {
        double za = kget(z1, i, f64), zb = kget(z3, i, f64);
        double oa = kget(o1, i, f64), ob = kget(o3, i, f64);
        double amp = cap > 0.0 ? 2.0 * zb * zb / fmax(cap * cap - zb * zb, 1e-300) : 0.0;
        const int z_ok = kclose(za, zb, 0.0) ||
                         (cap > 0.0 && ulps(za, zb, f64 ? 53 : 24, f64 ? -1021 : -125) <= 4.0);
        if (!z_ok || !kclose(oa, ob, G + 16.0 * u * amp * fabs(ob))) {
            print_message("%s n=%lld kind %d scale %g cap %g: z[%lld] %.17g / %.17g, out %.17g / "
                          "%.17g\n",
                          t->name, (long long)n, kind, scale, cap, (long long)i, za, zb, oa, ob);
            bad = 1;
        }
    }
    free(z1), free(z2), free(z3), free(z4), free(o1), free(o2), free(o3);
    return bad;
}

static void test_fused_t(void **state) {
    const ktable *t = *state;
    if (!ktable_runnable(t))
        skip();
    const int kinds[] = {KROW_NORMAL, KROW_WIDE, KROW_NEGINF, KROW_POSINF, KROW_NAN};
    const double sc[][2] = {{1.0, 30.0}, {0.37, 15.3}, {2.5, 0.0},
                            {1.0, 1.0},  {2.0, 4.0},   {1.0, 1000.0}};
    uint64_t rng = 23;
    int failures = 0;
    for (int64_t n = 1; n <= MAXN + 1; n++) {
        const int64_t len = n == MAXN + 1 ? 1000 : n;
        for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
            for (int variant = 0; variant < 4; variant++)
                for (size_t j = 0; j < sizeof sc / sizeof sc[0]; j++) {
                    krow c = krow_make(&rng, len, kinds[k], t->f64, variant & 1, variant & 2);
                    if (variant == 0 && n % 2) /* the plain path: no q at all */
                        c.a0 = 0.0;
                    failures += check_fused_t(t, &c, sc[j][0], sc[j][1], kinds[k]);
                    krow_free(&c);
                }
    }
    /* rows wider than the kernels' prefetch budget (192 KB: row_simd.inc), where rows with
       target terms take z again from x in pass 3 instead of a dz row */
    for (int variant = 0; variant < 4; variant++)
        for (size_t j = 0; j < 3; j++) {
            krow c = krow_make(&rng, 50000, KROW_NORMAL, t->f64, variant & 1, variant & 2);
            failures += check_fused_t(t, &c, sc[j][0], sc[j][1], KROW_NORMAL);
            krow_free(&c);
        }
    if (failures)
        fail_msg("%s: %d fused_t cases failed", t->name, failures);
}

/* The softcap's range classes (row_simd.inc: cap_class; with scale 1 the row's largest |x / cap|
   picks the short polynomial (<= 0.3, cap <= 128), the polynomial without tests (< 0.75) or the
   general path, whose long polynomial holds below 1 and its exp branch above): rows scaled to put
   that largest value just below and above each bound, with and without a NaN, every table
   against the scalar composition; 3000 classes for the general path's rows that keep z in
   registers (row_simd_fused.inc: fused_exp_general). */
static void test_fused_t_classes(void **state) {
    const ktable *t = *state;
    if (!ktable_runnable(t))
        skip();
    const double bounds[] = {0.299, 0.301, 0.749, 0.751, 0.999, 1.001, 0.05, 2.0};
    const double capv[] = {30.0, 1.0, 200.0, 15.3}; /* 15.3: cap^2 not exact in f32 */
    uint64_t rng = 41;
    int failures = 0;
    for (size_t ci = 0; ci < sizeof capv / sizeof capv[0]; ci++)
        for (size_t b = 0; b < sizeof bounds / sizeof bounds[0]; b++)
            for (int64_t n = 5; n <= 3000; n += n < 40 ? 7 : n < 1000 ? 480 : 2000)
                for (int variant = 0; variant < 4; variant++) {
                    krow c = krow_make(&rng, n, KROW_NORMAL, t->f64, variant & 1, variant & 2);
                    double amax = 0.0;
                    for (int64_t i = 0; i < n; i++)
                        amax = fmax(amax, fabs(c.x[i]));
                    const double f = bounds[b] * capv[ci] / amax;
                    for (int64_t i = 0; i < n; i++) {
                        kput(c.xt, i, c.x[i] * f, t->f64);
                        c.x[i] = kget(c.xt, i, t->f64);
                    }
                    if (variant == 3) /* a NaN the range skips */
                        kput(c.xt, n / 2, NAN, t->f64), c.x[n / 2] = NAN;
                    if (variant == 0)
                        c.a0 = 0.0;
                    failures += check_fused_t(t, &c, 1.0, capv[ci], KROW_NORMAL);
                    krow_free(&c);
                }
    if (failures)
        fail_msg("%s: %d fused_t class cases failed", t->name, failures);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--exhaustive") == 0)
        float_stride = 1;
    struct CMUnitTest tests[4 * (sizeof ktables / sizeof ktables[0])];
    size_t count = 0;
    for (size_t i = 0; ktables[i].name != NULL; i++) {
        struct CMUnitTest a = {"transform_rows", test_rows, NULL, NULL, (void *)&ktables[i]};
        struct CMUnitTest b = {"transform_accuracy", test_accuracy, NULL, NULL,
                               (void *)&ktables[i]};
        struct CMUnitTest f = {"transform_fused_t", test_fused_t, NULL, NULL,
                               (void *)&ktables[i]};
        struct CMUnitTest g = {"transform_fused_t_classes", test_fused_t_classes, NULL, NULL,
                               (void *)&ktables[i]};
        tests[count++] = a;
        tests[count++] = b;
        tests[count++] = f;
        tests[count++] = g;
    }
    if (count == 0) {
        print_message("no SIMD table built: nothing to test\n");
        return 0;
    }
    return _cmocka_run_group_tests("kernel_transform", tests, count, NULL, NULL);
}
