/* Random sharded problems and their unsharded / sharded evaluation: shard_problem.h. */
#include "shard_problem.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- random ---------------------------------------------------------------------------- */

static uint64_t next(uint64_t *s) { /* splitmix64 */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static double unif(uint64_t *s) { return (double)(next(s) >> 11) * 0x1.0p-53; }
static int64_t below(uint64_t *s, int64_t n) { return (int64_t)(next(s) % (uint64_t)n); }
static double normal(uint64_t *s) {
    double u = unif(s) + 1e-300, v = unif(s);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

static float bf16_round(double v) {
    float f = (float)v;
    uint32_t u;
    memcpy(&u, &f, 4);
    u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
    memcpy(&f, &u, 4);
    return f;
}

static size_t dsize(int32_t dtype) {
    return dtype == SOFTCE_DTYPE_F64 ? 8 : dtype == SOFTCE_DTYPE_BF16 ? 2 : 4;
}

static void put(int32_t dtype, void *base, int64_t i, double v) {
    if (dtype == SOFTCE_DTYPE_F64) {
        ((double *)base)[i] = v;
    } else if (dtype == SOFTCE_DTYPE_F32) {
        ((float *)base)[i] = (float)v;
    } else {
        float f = bf16_round(v);
        uint32_t u;
        memcpy(&u, &f, 4);
        ((uint16_t *)base)[i] = (uint16_t)(u >> 16);
    }
}

/* ---- problems -------------------------------------------------------------------------- */

void sp_cut(sp_problem *pb, uint64_t seed, int n) {
    uint64_t s = seed ^ 0x5bd1e995ull;
    if (n > pb->C)
        n = (int)pb->C;
    pb->nshards = n;
    pb->cut[0] = 0;
    pb->cut[n] = pb->C;
    /* n - 1 distinct cut points in [1, C): sorted insertion of random picks */
    for (int k = 1; k < n; k++) {
        int64_t c;
        int dup;
        do {
            c = 1 + below(&s, pb->C - 1);
            dup = 0;
            for (int j = 1; j < k; j++)
                dup |= pb->cut[j] == c;
        } while (dup);
        int j = k;
        while (j > 1 && pb->cut[j - 1] > c) {
            pb->cut[j] = pb->cut[j - 1];
            j--;
        }
        pb->cut[j] = c;
    }
}

static void random_options(sp_problem *pb, uint64_t *s) {
    softce_options *o = &pb->o;
    softce_options_init(o);
    o->reduction = 1 + (int)below(s, 3);
    static const double eps[] = {0.0, 0.0, 0.1, 0.37, 1.0};
    o->label_smoothing = eps[below(s, 5)];
    double r = unif(s);
    o->smoothing = r < 0.2 ? SOFTCE_SMOOTHING_OTHERS : SOFTCE_SMOOTHING_UNIFORM;
    int prior = r >= 0.8;
    if (unif(s) < 0.3)
        o->z_loss = 1e-3 + 1e-2 * unif(s);
    if (unif(s) < 0.3)
        o->softcap = 3.0 + 7.0 * unif(s);
    if (unif(s) < 0.3)
        o->logit_scale = 0.5 + unif(s);
    o->denominator = unif(s) < 0.4 ? SOFTCE_DENOMINATOR_AUTO : (int)below(s, 5);
    o->denominator_value = 3.7;
    o->empty = unif(s) < 0.5 ? SOFTCE_EMPTY_NAN : SOFTCE_EMPTY_ZERO;
    if (unif(s) < 0.25)
        o->flags |= SOFTCE_FLAG_KL;
    if (unif(s) < 0.2)
        o->ignore_index = below(s, pb->C); /* a real class is ignored */
    if (unif(s) < 0.5) {
        pb->w = malloc((size_t)pb->C * sizeof *pb->w);
        for (int64_t i = 0; i < pb->C; i++)
            pb->w[i] = unif(s) < 0.1 ? 0.0 : 0.2 + 1.8 * unif(s);
        softce_tensor_init(&pb->tw, SOFTCE_DTYPE_F64, 1, &pb->C, pb->w);
        o->weight = &pb->tw;
    }
    if (prior) {
        pb->prior = malloc((size_t)pb->C * sizeof *pb->prior);
        double sum = 0.0;
        for (int64_t i = 0; i < pb->C; i++)
            sum += pb->prior[i] = (float)(0.05 + unif(s));
        for (int64_t i = 0; i < pb->C; i++)
            pb->prior[i] = (float)(pb->prior[i] / sum);
        softce_tensor_init(&pb->tprior, SOFTCE_DTYPE_F32, 1, &pb->C, pb->prior);
        o->smoothing_prior = &pb->tprior;
    }
}

static void random_data(sp_problem *pb, uint64_t *s) {
    const int64_t n = pb->N * pb->C * pb->D;
    pb->x = malloc((size_t)(n > 0 ? n : 1) * dsize(pb->dtype));
    for (int64_t i = 0; i < n; i++)
        put(pb->dtype, pb->x, i, 2.5 * normal(s));
    pb->t = malloc((size_t)(pb->E + 1) * sizeof *pb->t);
    for (int64_t e = 0; e < pb->E; e++)
        pb->t[e] = unif(s) < 0.15 ? pb->o.ignore_index : below(s, pb->C);
    pb->p = malloc((size_t)(n + 1) * sizeof *pb->p);
    int normalise = unif(s) < 0.7;
    for (int64_t e = 0; e < pb->N * pb->D; e++) {
        int64_t nn = e / pb->D, d = e % pb->D;
        double sum = 0.0;
        for (int64_t c = 0; c < pb->C; c++)
            sum += pb->p[(nn * pb->C + c) * pb->D + d] = unif(s) < 0.2 ? 0.0f : (float)unif(s);
        for (int64_t c = 0; normalise && sum > 0.0 && c < pb->C; c++)
            pb->p[(nn * pb->C + c) * pb->D + d] = (float)(pb->p[(nn * pb->C + c) * pb->D + d] / sum);
    }
    if (unif(s) < 0.3) {
        pb->sw = malloc((size_t)(pb->E + 1) * sizeof *pb->sw);
        for (int64_t e = 0; e < pb->E; e++)
            pb->sw[e] = unif(s) < 0.2 ? 0.0 : 2.0 * unif(s);
        pb->tsw = sp_elem_view(pb, pb->sw, SOFTCE_DTYPE_F64);
        pb->o.sample_weight = &pb->tsw;
    }
    pb->gl = malloc((size_t)(pb->E + 1) * sizeof *pb->gl);
    for (int64_t e = 0; e <= pb->E; e++)
        pb->gl[e] = 0.5 + unif(s);
    pb->use_gl = unif(s) < 0.7;
    pb->extras = unif(s) < 0.5;
}

void sp_random(sp_problem *pb, uint64_t seed, int max_shards) {
    uint64_t s = seed * 0x2545f4914f6cdd1dull + 1;
    memset(pb, 0, sizeof *pb);
    double r = unif(&s);
    pb->dtype = r < 0.5 ? SOFTCE_DTYPE_F32 : r < 0.8 ? SOFTCE_DTYPE_F64 : SOFTCE_DTYPE_BF16;
    pb->soft = unif(&s) < 0.5;
    r = unif(&s);
    pb->ndim = r < 0.1 ? 1 : r < 0.7 ? 2 : 3;
    pb->C = 1 + below(&s, 40);
    pb->N = pb->ndim == 1 ? 1 : (unif(&s) < 0.03 ? 0 : 1 + below(&s, 7));
    pb->D = pb->ndim == 3 ? 1 + below(&s, 3) : 1;
    pb->E = pb->N * pb->D;
    random_options(pb, &s);
    random_data(pb, &s);
    sp_cut(pb, seed, 1 + (int)below(&s, max_shards));
    const softce_options *o = &pb->o;
    snprintf(pb->desc, sizeof pb->desc,
             "seed %llu: %s %s ndim %d N %lld C %lld D %lld shards %d red %d eps %g sm %d%s "
             "zl %g cap %g scale %g den %d empty %d kl %d ign %lld w %d sw %d gl %d extras %d",
             (unsigned long long)seed, pb->dtype == SOFTCE_DTYPE_F64   ? "f64"
                                       : pb->dtype == SOFTCE_DTYPE_F32 ? "f32"
                                                                       : "bf16",
             pb->soft ? "soft" : "hard", pb->ndim, (long long)pb->N, (long long)pb->C,
             (long long)pb->D, pb->nshards, o->reduction, o->label_smoothing, o->smoothing,
             o->smoothing_prior ? "+prior" : "", o->z_loss, o->softcap, o->logit_scale,
             o->denominator, o->empty, (int)(o->flags & 1u), (long long)o->ignore_index,
             pb->w != NULL, pb->sw != NULL, pb->use_gl, pb->extras);
}

void sp_free(sp_problem *pb) {
    free(pb->x);
    free(pb->t);
    free(pb->p);
    free(pb->w);
    free(pb->prior);
    free(pb->sw);
    free(pb->gl);
    memset(pb, 0, sizeof *pb);
}

/* ---- views ----------------------------------------------------------------------------- */

softce_tensor sp_logits_view(const sp_problem *pb, void *data, int32_t dtype, int64_t c0,
                             int64_t Cs) {
    softce_tensor t;
    int64_t shape[3] = {pb->N, Cs, pb->D};
    softce_tensor_init(&t, dtype, 3, shape, (char *)data + (size_t)(c0 * pb->D) * dsize(dtype));
    t.strides[0] = pb->C * pb->D;
    t.strides[1] = pb->D;
    t.strides[2] = 1;
    if (pb->ndim == 2) {
        t.ndim = 2;
    } else if (pb->ndim == 1) {
        t.ndim = 1;
        t.shape[0] = Cs;
        t.strides[0] = 1;
    }
    return t;
}

softce_tensor sp_target_view(const sp_problem *pb, int64_t c0, int64_t Cs) {
    if (pb->soft)
        return sp_logits_view(pb, pb->p, SOFTCE_DTYPE_F32, c0, Cs);
    return sp_elem_view(pb, pb->t, SOFTCE_DTYPE_I64);
}

softce_tensor sp_elem_view(const sp_problem *pb, void *data, int32_t dtype) {
    softce_tensor t;
    int64_t shape[2] = {pb->N, pb->D};
    softce_tensor_init(&t, dtype, pb->ndim - 1, shape, data);
    return t;
}

softce_tensor sp_stats_view(const sp_problem *pb, double *data) {
    softce_tensor t;
    int64_t shape[3] = {pb->N, pb->D, SOFTCE_SHARD_STATS};
    if (pb->ndim == 1)
        shape[0] = SOFTCE_SHARD_STATS;
    else if (pb->ndim == 2)
        shape[1] = SOFTCE_SHARD_STATS;
    softce_tensor_init(&t, SOFTCE_DTYPE_F64, pb->ndim, shape, data);
    return t;
}

softce_tensor sp_loss_view(const sp_problem *pb, double *data) {
    softce_tensor t;
    if (pb->o.reduction == SOFTCE_REDUCTION_NONE)
        return sp_elem_view(pb, data, SOFTCE_DTYPE_F64);
    softce_tensor_init(&t, SOFTCE_DTYPE_F64, 0, NULL, data);
    return t;
}

softce_options sp_shard_options(const sp_problem *pb, int64_t c0, int64_t Cs, softce_tensor *tw,
                                softce_tensor *tp) {
    softce_options o = pb->o;
    if (pb->w) {
        softce_tensor_init(tw, SOFTCE_DTYPE_F64, 1, &Cs, pb->w + c0);
        o.weight = tw;
    }
    if (pb->prior) {
        softce_tensor_init(tp, SOFTCE_DTYPE_F32, 1, &Cs, pb->prior + c0);
        o.smoothing_prior = tp;
    }
    return o;
}

/* ---- evaluation ------------------------------------------------------------------------ */

void sp_result_alloc(const sp_problem *pb, sp_result *r) {
    size_t E = (size_t)pb->E + 1, n = (size_t)(pb->N * pb->C * pb->D) + 1;
    r->loss = calloc(E, sizeof(double));
    r->lse = calloc(E, sizeof(double));
    r->gx = calloc(n, sizeof(double));
    r->gt = calloc(n, sizeof(double));
    r->amax = calloc(E, sizeof(int64_t));
    r->correct = calloc(E, sizeof(double));
    r->zl = calloc(E, sizeof(double));
    r->loss_fb = calloc(E, sizeof(double));
    r->gx_fb = calloc(n, sizeof(double));
}

void sp_result_free(sp_result *r) {
    free(r->loss);
    free(r->lse);
    free(r->gx);
    free(r->gt);
    free(r->amax);
    free(r->correct);
    free(r->zl);
    free(r->loss_fb);
    free(r->gx_fb);
}

typedef struct extras {
    softce_tensor lse, amax, correct, zl;
} extras;

static void set_extras(const sp_problem *pb, sp_result *r, softce_options *o, extras *x) {
    x->lse = sp_elem_view(pb, r->lse, SOFTCE_DTYPE_F64);
    x->amax = sp_elem_view(pb, r->amax, SOFTCE_DTYPE_I64);
    x->correct = sp_elem_view(pb, r->correct, SOFTCE_DTYPE_F64);
    x->zl = sp_elem_view(pb, r->zl, SOFTCE_DTYPE_F64);
    o->out_lse = &x->lse;
    if (pb->extras) {
        o->out_argmax = &x->amax;
        o->out_correct = &x->correct;
        o->out_z_loss = &x->zl;
    }
}

softce_status sp_reference(const sp_problem *pb, sp_result *r) {
    softce_options o = pb->o;
    extras ex;
    set_extras(pb, r, &o, &ex);
    softce_tensor x = sp_logits_view(pb, pb->x, pb->dtype, 0, pb->C);
    softce_tensor tg = sp_target_view(pb, 0, pb->C);
    softce_tensor loss = sp_loss_view(pb, r->loss), loss_fb = sp_loss_view(pb, r->loss_fb);
    softce_tensor gl = sp_loss_view(pb, pb->gl);
    softce_tensor gx = sp_logits_view(pb, r->gx, SOFTCE_DTYPE_F64, 0, pb->C);
    softce_tensor gt = sp_logits_view(pb, r->gt, SOFTCE_DTYPE_F64, 0, pb->C);
    softce_tensor gx_fb = sp_logits_view(pb, r->gx_fb, SOFTCE_DTYPE_F64, 0, pb->C);
    const softce_tensor *g = pb->use_gl ? &gl : NULL;
    softce_status st = softce_forward(&o, &x, &tg, &loss, NULL);
    if (st == SOFTCE_OK)
        st = softce_backward(&pb->o, &x, &tg, g, NULL, &gx, pb->soft ? &gt : NULL);
    if (st == SOFTCE_OK)
        st = softce_forward_backward(&pb->o, &x, &tg, g, &loss_fb, &gx_fb);
    return st;
}

softce_status sp_sharded(const sp_problem *pb, sp_result *r) {
    size_t ns = (size_t)(pb->E > 0 ? pb->E : 1) * SOFTCE_SHARD_STATS;
    double *acc = calloc(ns, sizeof(double)), *part = calloc(ns, sizeof(double));
    softce_tensor tacc = sp_stats_view(pb, acc), tpart = sp_stats_view(pb, part);
    softce_tensor tg_all = sp_target_view(pb, 0, pb->C), tw, tp;
    softce_status st = SOFTCE_OK;
    for (int k = 0; k < pb->nshards && st == SOFTCE_OK; k++) {
        int64_t c0 = pb->cut[k], Cs = pb->cut[k + 1] - c0;
        softce_options o = sp_shard_options(pb, c0, Cs, &tw, &tp);
        softce_tensor x = sp_logits_view(pb, pb->x, pb->dtype, c0, Cs);
        softce_tensor tg = sp_target_view(pb, c0, Cs);
        st = softce_shard_stats(&o, &x, &tg, c0, pb->C, k == 0 ? &tacc : &tpart);
        if (st == SOFTCE_OK && k > 0)
            st = softce_shard_combine(&tacc, &tpart, &tacc);
    }
    softce_options o = pb->o;
    extras ex;
    set_extras(pb, r, &o, &ex);
    softce_tensor loss = sp_loss_view(pb, r->loss), gl = sp_loss_view(pb, pb->gl);
    if (st == SOFTCE_OK)
        st = softce_shard_finalize(&o, pb->soft ? &tg_all : &tg_all, &tacc, &loss, NULL);
    for (int k = 0; k < pb->nshards && st == SOFTCE_OK; k++) {
        int64_t c0 = pb->cut[k], Cs = pb->cut[k + 1] - c0;
        softce_options so = sp_shard_options(pb, c0, Cs, &tw, &tp);
        softce_tensor x = sp_logits_view(pb, pb->x, pb->dtype, c0, Cs);
        softce_tensor tg = sp_target_view(pb, c0, Cs);
        softce_tensor gx = sp_logits_view(pb, r->gx, SOFTCE_DTYPE_F64, c0, Cs);
        softce_tensor gt = sp_logits_view(pb, r->gt, SOFTCE_DTYPE_F64, c0, Cs);
        st = softce_shard_backward(&so, &x, &tg, c0, pb->C, &tacc, pb->use_gl ? &gl : NULL, &gx,
                                   pb->soft ? &gt : NULL);
    }
    free(acc);
    free(part);
    return st;
}

double sp_relative(double a, double b) { return sp_relative_floor(a, b, 0.0); }

double sp_relative_floor(double a, double b, double floor) {
    if (a != a || b != b)
        return (a != a) == (b != b) ? 0.0 : INFINITY;
    if (a == b)
        return 0.0;
    return fabs(a - b) / (fabs(b) > floor ? fabs(b) : floor);
}

double sp_normwise(const double *a, const double *b, int64_t n) {
    return sp_normwise_floor(a, b, n, 0.0);
}

double sp_normwise_floor(const double *a, const double *b, int64_t n, double floor) {
    double m = 0.0, d = 0.0;
    for (int64_t i = 0; i < n; i++) {
        if (a[i] != a[i] || b[i] != b[i]) {
            if ((a[i] != a[i]) != (b[i] != b[i]))
                return INFINITY;
            continue;
        }
        if (a[i] == b[i]) { /* also equal infinities */
            if (isfinite(b[i]) && fabs(b[i]) > m)
                m = fabs(b[i]);
            continue;
        }
        if (fabs(b[i]) > m)
            m = fabs(b[i]);
        if (fabs(a[i] - b[i]) > d)
            d = fabs(a[i] - b[i]);
    }
    if (m < floor)
        m = floor;
    return d == 0.0 ? 0.0 : m == 0.0 ? INFINITY : d / m;
}
