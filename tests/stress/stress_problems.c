/* The stress problem set and a runner that gives every call its own outputs. */
#include "stress.h"

#include <stdlib.h>
#include <string.h>

/* ---- deterministic data --------------------------------------------------------------- */

static uint64_t rng_state = 0x5eed5eed12345678ull;

static uint64_t next_u64(void) { /* splitmix64 */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double uniform(double lo, double hi) {
    return lo + (hi - lo) * (double)(next_u64() >> 11) * 0x1.0p-53;
}

static uint16_t to_bf16(float f) { /* truncation: any finite bf16 will do as input */
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return (uint16_t)(u >> 16);
}

static uint16_t to_f16(float f) { /* normal range and zero only (inputs are |v| <= 8) */
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    int e = (int)((u >> 23) & 0xff) - 127 + 15;
    if (e <= 0)
        return sign;
    return (uint16_t)(sign | (uint16_t)(e << 10) | (uint16_t)((u >> 13) & 0x3ffu));
}

typedef enum fill { F_LOGIT, F_PROB, F_GRAD, F_CLASS } fill;

static void put(softce_tensor *t, size_t i, double v) {
    switch (t->dtype) {
    case SOFTCE_DTYPE_F32:
        ((float *)t->data)[i] = (float)v;
        break;
    case SOFTCE_DTYPE_F64:
        ((double *)t->data)[i] = v;
        break;
    case SOFTCE_DTYPE_BF16:
        ((uint16_t *)t->data)[i] = to_bf16((float)v);
        break;
    case SOFTCE_DTYPE_F16:
        ((uint16_t *)t->data)[i] = to_f16((float)v);
        break;
    case SOFTCE_DTYPE_I32:
        ((int32_t *)t->data)[i] = (int32_t)v;
        break;
    case SOFTCE_DTYPE_I64:
        ((int64_t *)t->data)[i] = (int64_t)v;
        break;
    default:
        break;
    }
}

static size_t dtype_bytes(int32_t dt) {
    return dt == SOFTCE_DTYPE_F64 || dt == SOFTCE_DTYPE_I64    ? 8
           : dt == SOFTCE_DTYPE_F16 || dt == SOFTCE_DTYPE_BF16 ? 2
                                                               : 4;
}

size_t st_span_bytes(const softce_tensor *t) {
    size_t last = 0;
    for (int k = 0; k < t->ndim; k++) {
        if (t->shape[k] == 0)
            return 0;
        last += (size_t)(t->shape[k] - 1) * (size_t)t->strides[k];
    }
    return (last + 1) * dtype_bytes(t->dtype);
}

/* A descriptor whose dims are stored in the order `perm` (outermost first; NULL = C order). */
static softce_tensor layout(softce_dtype dt, int ndim, const int64_t *shape, const int *perm) {
    softce_tensor t;
    memset(&t, 0, sizeof t);
    t.struct_size = sizeof t;
    t.dtype = dt;
    t.ndim = ndim;
    int64_t step = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        int k = perm ? perm[i] : i;
        t.shape[k] = shape[k];
        t.strides[k] = step;
        step *= shape[k];
    }
    return t;
}

/* An input tensor filled with `kind` values (classes in [0, C), 1 in 16 = ignore_index). */
static softce_tensor input(softce_dtype dt, int ndim, const int64_t *shape, const int *perm,
                           fill kind, int64_t C, int64_t ignore) {
    softce_tensor t = layout(dt, ndim, shape, perm);
    size_t bytes = st_span_bytes(&t), n = bytes / dtype_bytes(dt);
    t.data = malloc(bytes ? bytes : 1);
    for (size_t i = 0; i < n; i++) {
        double v = kind == F_LOGIT        ? uniform(-8.0, 8.0)
                   : kind == F_PROB       ? uniform(0.0, 1.0)
                   : kind == F_GRAD       ? uniform(0.5, 1.5)
                   : next_u64() % 16 == 0 ? (double)ignore
                                          : (double)(next_u64() % (uint64_t)C);
        put(&t, i, v);
    }
    return t;
}

static void add_out(st_problem *p, softce_dtype dt, int ndim, const int64_t *shape,
                    const int *perm) {
    p->out[p->n_out] = layout(dt, ndim, shape, perm);
    p->out_bytes[p->n_out] = st_span_bytes(&p->out[p->n_out]);
    p->n_out++;
}

/* ---- the problems ------------------------------------------------------------------- */

static st_problem base(const char *name, st_op op, softce_dtype dt, int ndim, const int64_t *shape,
                       const int *perm) {
    st_problem p;
    memset(&p, 0, sizeof p);
    p.name = name;
    p.op = op;
    softce_options_init(&p.o);
    p.x = input(dt, ndim, shape, perm, F_LOGIT, 0, 0);
    return p;
}

/* Hard target for logits `shape` (class axis dropped). */
static void hard(st_problem *p, softce_dtype dt, int ndim, const int64_t *shape) {
    int64_t es[SOFTCE_MAX_DIMS];
    int n = 0, cax = ndim == 1 ? 0 : 1;
    for (int k = 0; k < ndim; k++)
        if (k != cax)
            es[n++] = shape[k];
    p->t = input(dt, n, es, NULL, F_CLASS, shape[cax], p->o.ignore_index);
    p->has_t = 1;
}

static void weights(st_problem *p, softce_dtype dt, int64_t C) {
    p->weight = input(dt, 1, &C, NULL, F_GRAD, 0, 0);
    p->has_w = 1;
}

static void make_lse(st_problem *p, int64_t n) {
    softce_tensor loss = layout(SOFTCE_DTYPE_F64, 0, NULL, NULL);
    double loss_value;
    loss.data = &loss_value;
    p->lse = layout(SOFTCE_DTYPE_F32, 1, &n, NULL);
    p->lse.data = malloc((size_t)n * sizeof(float));
    softce_options o = p->o;
    o.reduction = SOFTCE_REDUCTION_SUM;
    o.weight = p->has_w ? &p->weight : NULL;
    if (softce_forward(&o, &p->x, &p->t, &loss, &p->lse) != SOFTCE_OK)
        abort();
    p->has_lse = 1;
}

int st_make_problems(st_problem **out) {
    st_problem *ps = calloc(20, sizeof *ps);
    int n = 0;
    static const int64_t s1[2] = {512, 100}, s2[2] = {300, 257}, s3[2] = {64, 1000};
    static const int64_t s4[2] = {200, 200}, s5[2] = {128, 300}, s6[2] = {100, 500};
    static const int64_t s7[2] = {1000, 50}, s8[4] = {8, 10, 32, 32}, s9[3] = {4, 21, 1000};
    static const int64_t s10[2] = {4096, 3}, s11[2] = {50, 2000}, s12[2] = {3, 5};
    static const int64_t s13[2] = {256, 130}, s14[4] = {16, 64, 8, 8}, n200 = 200;
    static const int cl[4] = {0, 2, 3, 1}, tr[2] = {1, 0};
    st_problem *p;

    p = &ps[n++], *p = base("fused f32 hard mean", ST_FUSED, SOFTCE_DTYPE_F32, 2, s1, NULL);
    hard(p, SOFTCE_DTYPE_I64, 2, s1);
    add_out(p, SOFTCE_DTYPE_F32, 0, NULL, NULL), add_out(p, SOFTCE_DTYPE_F32, 2, s1, NULL);

    p = &ps[n++], *p = base("fused f32 in place, weights, smoothing, sum", ST_FUSED,
                            SOFTCE_DTYPE_F32, 2, s2, NULL);
    p->o.reduction = SOFTCE_REDUCTION_SUM, p->o.label_smoothing = 0.1;
    hard(p, SOFTCE_DTYPE_I64, 2, s2), weights(p, SOFTCE_DTYPE_F32, 257), p->inplace = 1;
    add_out(p, SOFTCE_DTYPE_F64, 0, NULL, NULL), add_out(p, SOFTCE_DTYPE_F32, 2, s2, NULL);

    p = &ps[n++], *p = base("forward bf16 soft + lse", ST_FORWARD, SOFTCE_DTYPE_BF16, 2, s3, NULL);
    p->t = input(SOFTCE_DTYPE_BF16, 2, s3, NULL, F_PROB, 0, 0), p->has_t = 1;
    add_out(p, SOFTCE_DTYPE_F32, 0, NULL, NULL), add_out(p, SOFTCE_DTYPE_F32, 1, s3, NULL);

    p = &ps[n++], *p = base("backward f64 soft none, grad_target, lse", ST_BACKWARD,
                            SOFTCE_DTYPE_F64, 2, s4, NULL);
    p->o.reduction = SOFTCE_REDUCTION_NONE;
    p->t = input(SOFTCE_DTYPE_F64, 2, s4, NULL, F_PROB, 0, 0), p->has_t = 1;
    p->gl = input(SOFTCE_DTYPE_F64, 1, &n200, NULL, F_GRAD, 0, 0), p->has_gl = 1;
    make_lse(p, 200);
    add_out(p, SOFTCE_DTYPE_F64, 2, s4, NULL), add_out(p, SOFTCE_DTYPE_F32, 2, s4, tr);

    p = &ps[n++], *p = base("backward f32 hard i32, ignore, f64 weights, bf16 grad", ST_BACKWARD,
                            SOFTCE_DTYPE_F32, 2, s5, NULL);
    p->o.ignore_index = 7;
    hard(p, SOFTCE_DTYPE_I32, 2, s5), weights(p, SOFTCE_DTYPE_F64, 300);
    add_out(p, SOFTCE_DTYPE_BF16, 2, s5, NULL);

    p = &ps[n++],
    *p = base("log_softmax f16 -> f32", ST_LOG_SOFTMAX, SOFTCE_DTYPE_F16, 2, s6, NULL);
    add_out(p, SOFTCE_DTYPE_F32, 2, s6, NULL);

    p = &ps[n++],
    *p = base("log_softmax f32 in place", ST_LOG_SOFTMAX, SOFTCE_DTYPE_F32, 2, s7, NULL);
    p->inplace = 1, add_out(p, SOFTCE_DTYPE_F32, 2, s7, NULL);

    p = &ps[n++], *p = base("forward NCHW hard none", ST_FORWARD, SOFTCE_DTYPE_F32, 4, s8, NULL);
    p->o.reduction = SOFTCE_REDUCTION_NONE, hard(p, SOFTCE_DTYPE_I64, 4, s8);
    const int64_t e8[3] = {8, 32, 32};
    add_out(p, SOFTCE_DTYPE_F32, 3, e8, NULL);

    p = &ps[n++], *p = base("fused NCL soft smoothing", ST_FUSED, SOFTCE_DTYPE_F32, 3, s9, NULL);
    p->o.label_smoothing = 0.2;
    p->t = input(SOFTCE_DTYPE_F32, 3, s9, NULL, F_PROB, 0, 0), p->has_t = 1;
    add_out(p, SOFTCE_DTYPE_F32, 0, NULL, NULL), add_out(p, SOFTCE_DTYPE_F32, 3, s9, NULL);

    p = &ps[n++], *p = base("forward C=3", ST_FORWARD, SOFTCE_DTYPE_F32, 2, s10, NULL);
    hard(p, SOFTCE_DTYPE_I64, 2, s10), add_out(p, SOFTCE_DTYPE_F32, 0, NULL, NULL);

    p = &ps[n++], *p = base("fused f64 weights", ST_FUSED, SOFTCE_DTYPE_F64, 2, s11, NULL);
    hard(p, SOFTCE_DTYPE_I64, 2, s11), weights(p, SOFTCE_DTYPE_F32, 2000);
    add_out(p, SOFTCE_DTYPE_F64, 0, NULL, NULL), add_out(p, SOFTCE_DTYPE_F64, 2, s11, NULL);

    p = &ps[n++], *p = base("tiny forward", ST_FORWARD, SOFTCE_DTYPE_F32, 2, s12, NULL);
    hard(p, SOFTCE_DTYPE_I64, 2, s12), add_out(p, SOFTCE_DTYPE_F32, 0, NULL, NULL);

    p = &ps[n++],
    *p = base("backward f16 smoothing, 0-d grad_loss", ST_BACKWARD, SOFTCE_DTYPE_F16, 2, s13, NULL);
    p->o.label_smoothing = 0.05, hard(p, SOFTCE_DTYPE_I64, 2, s13);
    p->gl = input(SOFTCE_DTYPE_F32, 0, NULL, NULL, F_GRAD, 0, 0), p->has_gl = 1;
    add_out(p, SOFTCE_DTYPE_F16, 2, s13, NULL);

    p = &ps[n++], *p = base("fused channels-last", ST_FUSED, SOFTCE_DTYPE_F32, 4, s14, cl);
    hard(p, SOFTCE_DTYPE_I64, 4, s14);
    add_out(p, SOFTCE_DTYPE_F32, 0, NULL, NULL), add_out(p, SOFTCE_DTYPE_F32, 4, s14, cl);

    static const int64_t s15[2] = {2, 150000}, s16[2] = {1, 140000}, one = 1;
    p = &ps[n++], *p = base("fused split mode (huge C)", ST_FUSED, SOFTCE_DTYPE_F32, 2, s15, NULL);
    hard(p, SOFTCE_DTYPE_I64, 2, s15), weights(p, SOFTCE_DTYPE_F32, 150000);
    add_out(p, SOFTCE_DTYPE_F32, 0, NULL, NULL), add_out(p, SOFTCE_DTYPE_F32, 2, s15, NULL);

    p = &ps[n++],
    *p = base("backward split mode soft f64", ST_BACKWARD, SOFTCE_DTYPE_F64, 2, s16, NULL);
    p->o.label_smoothing = 0.3;
    p->t = input(SOFTCE_DTYPE_F64, 2, s16, NULL, F_PROB, 0, 0), p->has_t = 1;
    p->gl = input(SOFTCE_DTYPE_F64, 0, NULL, NULL, F_GRAD, 0, 0), p->has_gl = 1;
    make_lse(p, one);
    add_out(p, SOFTCE_DTYPE_F64, 2, s16, NULL), add_out(p, SOFTCE_DTYPE_F64, 2, s16, NULL);

    *out = ps;
    return n;
}

void st_free_problems(st_problem *ps, int n) {
    for (int i = 0; i < n; i++) {
        free(ps[i].x.data), free(ps[i].t.data), free(ps[i].gl.data), free(ps[i].lse.data);
        free(ps[i].weight.data);
        for (int k = 0; k < ps[i].n_out; k++)
            free(ps[i].ref[k]);
    }
    free(ps);
}

/* ---- one call --------------------------------------------------------------------------- */

/* Index of the output that is the logits-shaped gradient (or log_softmax's out). */
static int grad_slot(st_op op) { return op == ST_FUSED ? 1 : 0; }

softce_status st_run(const st_problem *p, int num_threads, void *out_data[ST_MAX_OUT]) {
    softce_options o = p->o;
    o.num_threads = num_threads;
    o.weight = p->has_w ? &p->weight : NULL;
    softce_tensor outs[ST_MAX_OUT], x = p->x;
    for (int k = 0; k < p->n_out; k++) {
        out_data[k] = malloc(p->out_bytes[k] ? p->out_bytes[k] : 1);
        memset(out_data[k], 0xee, p->out_bytes[k]);
        outs[k] = p->out[k];
        outs[k].data = out_data[k];
    }
    if (p->inplace) {
        x.data = out_data[grad_slot(p->op)];
        memcpy(x.data, p->x.data, st_span_bytes(&p->x));
    }
    const softce_tensor *t = p->has_t ? &p->t : NULL, *gl = p->has_gl ? &p->gl : NULL;
    const softce_tensor *lse = p->has_lse ? &p->lse : NULL;
    const softce_tensor *o2 = p->n_out > 1 ? &outs[1] : NULL;
    switch (p->op) {
    case ST_FORWARD:
        return softce_forward(&o, &x, t, &outs[0], o2);
    case ST_BACKWARD:
        return softce_backward(&o, &x, t, gl, lse, &outs[0], o2);
    case ST_FUSED:
        return softce_forward_backward(&o, &x, t, gl, &outs[0], &outs[1]);
    case ST_LOG_SOFTMAX:
        return softce_log_softmax(&o, &x, &outs[0]);
    }
    return SOFTCE_ERROR_INTERNAL;
}
