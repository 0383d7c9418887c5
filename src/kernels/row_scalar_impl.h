/*
 * Scalar row kernels, instantiated once per compute type by row_scalar.c with
 *   T (float/double), EXP (expf/exp), LOG, SFX (name suffix).
 * Plain loops the compiler can vectorise; the reference for the SIMD tables. A row's sums (of
 * exponentials, of the target terms) are taken in runs of SOFTCE__KSUM_RUN classes whose partial
 * sums are added with compensation (kernels/ksum.h), so that their error does not grow with C.
 */
#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define FN(name) CAT(name, SFX)

static T FN(row_max)(const T *x, int64_t n) {
    T m = x[0];
    for (int64_t i = 1; i < n; i++) {
        /* NaN wins so that it propagates through x - m */
        if (x[i] > m || x[i] != x[i])
            m = (m != m) ? m : x[i];
    }
    return m;
}

static softce__lse FN(lse)(const void *xv, int64_t n) {
    const T *x = xv;
    T m = FN(row_max)(x, n);
    softce__lse l = {(double)m, 0.0};
    if (m == -(T)INFINITY)
        return l;
    softce__ksum s = {0.0, 0.0};
    for (int64_t i0 = 0; i0 < n; i0 = softce__ksum_run_end(i0, n)) {
        double r = 0.0;
        for (int64_t i = i0; i < softce__ksum_run_end(i0, n); i++)
            r += (double)EXP(x[i] - m);
        softce__ksum_add(&s, r);
    }
    l.lo = log(softce__ksum_get(&s));
    return l;
}

static double FN(soft_loss)(const void *xv, const void *pv, const void *wv, int64_t n,
                            softce__lse lse, double a1, double a0, double *sum_wq) {
    const T *x = xv, *p = pv, *w = wv;
    softce__ksum loss = {0.0, 0.0}, swq = {0.0, 0.0};
    for (int64_t i0 = 0; i0 < n; i0 = softce__ksum_run_end(i0, n)) {
        double rl = 0.0, rs = 0.0;
        for (int64_t i = i0; i < softce__ksum_run_end(i0, n); i++) {
            double wq = p ? a1 * (double)p[i] + a0 : a0;
            if (w)
                wq *= (double)w[i];
            if (wq != 0.0) { /* 0 * log(0) = 0, also for a -inf logit */
                rs += wq;
                rl -= wq * (((double)x[i] - lse.hi) - lse.lo);
            }
        }
        softce__ksum_add(&swq, rs);
        softce__ksum_add(&loss, rl);
    }
    *sum_wq = softce__ksum_get(&swq);
    return softce__ksum_get(&loss);
}

/* lse as hi + lo in T: (x - hi) - lo is exact to ~ulp(result) even for |x| ~ lse >> 1. */
#define SPLIT_LSE(l, h_name, l_name)                                                               \
    const T h_name = (T)(l).hi;                                                                    \
    const T l_name = (T)(l).lo

static void FN(grad)(const void *xv, const void *pv, const void *wv, int64_t n, softce__lse lse,
                     double a, double c1, double c0, void *outv) {
    const T *x = xv, *p = pv, *w = wv;
    T *out = outv;
    SPLIT_LSE(lse, lhi, llo);
    const T at = (T)a, c1t = (T)c1, c0t = (T)c0;
    for (int64_t i = 0; i < n; i++) {
        T q = p ? c1t * p[i] + c0t : c0t;
        T wq = w ? w[i] * q : q;
        out[i] = at * EXP((x[i] - lhi) - llo) - wq;
    }
}

static void FN(grad_target)(const void *xv, const void *wv, int64_t n, softce__lse lse, double c,
                            void *outv) {
    const T *x = xv, *w = wv;
    T *out = outv;
    SPLIT_LSE(lse, lhi, llo);
    const T ct = (T)c;
    for (int64_t i = 0; i < n; i++) {
        T cw = w ? ct * w[i] : ct;
        out[i] = -cw * ((x[i] - lhi) - llo);
    }
}

static void FN(log_softmax)(const void *xv, int64_t n, softce__lse lse, void *outv) {
    const T *x = xv;
    T *out = outv;
    SPLIT_LSE(lse, lhi, llo);
    for (int64_t i = 0; i < n; i++)
        out[i] = (x[i] - lhi) - llo;
}

/* fused and fused_sums over classes [i0, n) with max m: the sums of e = exp(x - m) (each e
   written to out when out is not NULL; nothing when m is -inf), of w q and of w q (mu - x), in
   runs. The caller's sums are s, swq, u. */
static void FN(sums)(const T *x, const T *p, const T *w, int64_t i0, int64_t n, T m, double mu,
                     double a1, double a0, T *out, double *s, double *swq, double *u) {
    softce__ksum ks = {0.0, 0.0}, kswq = {0.0, 0.0}, ku = {0.0, 0.0};
    for (int64_t r0 = i0; r0 < n; r0 = softce__ksum_run_end(r0, n)) {
        double rs = 0.0, rswq = 0.0, ru = 0.0;
        for (int64_t i = r0; i < softce__ksum_run_end(r0, n); i++) {
            double wq = p ? a1 * (double)p[i] + a0 : a0;
            if (w)
                wq *= (double)w[i];
            if (wq != 0.0) {
                rswq += wq;
                ru += wq * (mu - (double)x[i]);
            }
            if (m != -(T)INFINITY) {
                T e = EXP(x[i] - m);
                if (out)
                    out[i] = e;
                rs += (double)e;
            }
        }
        softce__ksum_add(&ks, rs);
        softce__ksum_add(&kswq, rswq);
        softce__ksum_add(&ku, ru);
    }
    *s = softce__ksum_get(&ks), *swq = softce__ksum_get(&kswq), *u = softce__ksum_get(&ku);
}

static softce__lse FN(fused)(const void *xv, const void *pv, const void *wv, int64_t n, double a1,
                             double a0, double spike, double zl, double g, void *outv,
                             double *loss) {
    const T *x = xv, *p = pv, *w = wv;
    T *out = outv;
    T m = FN(row_max)(x, n);
    double s, swq, u; /* an all -inf row: e = 0, u NaN where w q != 0 (-inf - -inf) */
    FN(sums)(x, p, w, 0, n, m, (double)m, a1, a0, out, &s, &swq, &u);
    if (out && m == -(T)INFINITY)
        for (int64_t i = 0; i < n; i++)
            out[i] = 0;
    double ls = log(s);
    softce__lse lse = {(double)m, ls};
    *loss = swq * ls + u;
    if (swq == 0.0)
        *loss = u; /* no mass: avoid 0 * inf */
    if (!out)      /* forward only */
        return lse;
    const double coef = zl != 0.0 ? swq + spike + 2.0 * zl * ((double)m + ls) : swq + spike;
    const T scale = (T)(g * coef / s);
    const T c1 = (T)(g * a1), c0 = (T)(g * a0);
    for (int64_t i = 0; i < n; i++) {
        T q = p ? c1 * p[i] + c0 : c0;
        T wq = w ? w[i] * q : q;
        out[i] = scale * out[i] - wq;
    }
    return lse;
}

/* The transform in double (libm tanh), rounded once to T. */
static void FN(transform)(const void *xv, int64_t n, double scale, double cap, void *zv) {
    const T *x = xv;
    T *z = zv;
    if (cap > 0.0) {
        const double k = scale / cap;
        for (int64_t i = 0; i < n; i++)
            z[i] = (T)(cap * tanh(k * (double)x[i]));
    } else {
        for (int64_t i = 0; i < n; i++)
            z[i] = (T)(scale * (double)x[i]);
    }
}

static void FN(chain)(void *gv, const void *zv, int64_t n, double scale, double cap) {
    T *g = gv;
    const T *z = zv;
    if (cap > 0.0) {
        const double inv = 1.0 / cap;
        for (int64_t i = 0; i < n; i++) {
            double t = (double)z[i] * inv;
            g[i] = (T)((double)g[i] * (scale * ((1.0 - t) * (1.0 + t))));
        }
    } else {
        const T k = (T)scale;
        for (int64_t i = 0; i < n; i++)
            g[i] *= k;
    }
}

/* The composition transform, fused, chain (in place: z is its own row, so out may be x). z is
   always written in full (z_at only allows less); *e_at by libm exp from the lse. */
static softce__lse FN(fused_t)(const void *xv, const void *pv, const void *wv, int64_t n, double a1,
                               double a0, double spike, double zl, double g, double scale,
                               double cap, void *zv, int64_t z_at, double *e_at, void *outv,
                               double *loss) {
    FN(transform)(xv, n, scale, cap, zv);
    softce__lse lse = FN(fused)(zv, pv, wv, n, a1, a0, spike, zl, g, outv, loss);
    if (outv)
        FN(chain)(outv, zv, n, scale, cap);
    if (e_at && z_at >= 0)
        *e_at = exp(((double)((const T *)zv)[z_at] - lse.hi) - lse.lo);
    return lse;
}

/* fused_sums (kernels.h): blockwise, the combine in kernels/blocks.h. */
static softce__lse FN(fused_sums)(const void *xv, const void *pv, const void *wv, int64_t n,
                                  double a1, double a0, void *outv, double *loss, double *sum_wq,
                                  double *bmax) {
    const T *x = xv, *p = pv, *w = wv;
    T *out = outv;
    softce__blocks acc;
    softce__blocks_init(&acc);
    for (int64_t b0 = 0, b = 0; b0 < n; b0 += SOFTCE__FUSED_BLOCK, b++) {
        const int64_t nb = n - b0 < SOFTCE__FUSED_BLOCK ? n - b0 : SOFTCE__FUSED_BLOCK;
        if (acc.bad) {
            bmax[b] = NAN;
            continue;
        }
        const T m = FN(row_max)(x + b0, nb);
        bmax[b] = (double)m;
        if (m != m || m == (T)INFINITY) {
            softce__blocks_bad(&acc, (double)m);
            continue;
        }
        /* an all -inf block: w q (0 - -inf) = +inf, as for any finite M; out untouched */
        const double mu = m == -(T)INFINITY ? 0.0 : (double)m;
        double s, swq, u;
        FN(sums)(x, p, w, b0, b0 + nb, m, mu, a1, a0, out, &s, &swq, &u);
        if (m == -(T)INFINITY)
            softce__blocks_add_ninf(&acc, swq, u);
        else
            softce__blocks_add(&acc, (double)m, s, swq, u);
    }
    return softce__blocks_end(&acc, loss, sum_wq);
}

static void FN(rescale)(void *outv, const void *pv, const void *wv, int64_t n, double k, double c1,
                        double c0) {
    const T *p = pv, *w = wv;
    T *out = outv;
    const T kt = (T)k, c1t = (T)c1, c0t = (T)c0;
    for (int64_t i = 0; i < n; i++) {
        T q = p ? c1t * p[i] + c0t : c0t;
        T wq = w ? w[i] * q : q;
        out[i] = kt * out[i] - wq;
    }
}

const softce__row_kernels CAT(softce__row_scalar, SFX) = {
    .lse = FN(lse),
    .soft_loss = FN(soft_loss),
    .grad = FN(grad),
    .grad_target = FN(grad_target),
    .log_softmax = FN(log_softmax),
    .fused = FN(fused),
    .transform = FN(transform),
    .chain = FN(chain),
    .fused_t = FN(fused_t),
    .fused_sums = FN(fused_sums),
    .rescale = FN(rescale),
};

#undef SPLIT_LSE
#undef FN
#undef CAT
#undef CAT_
