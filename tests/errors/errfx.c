/* Fixture of the bad-input catalogue: the arena, the valid base calls, and the dispatcher. */
#include "errfx.h"

#include <string.h>

#define SENTINEL 0xa5

softce_tensor ef_tensor(softce_dtype dt, int ndim, const int64_t *shape, void *data) {
    softce_tensor t;
    memset(&t, 0, sizeof t);
    t.struct_size = sizeof t;
    t.dtype = dt;
    t.ndim = ndim;
    t.data = data;
    int64_t step = 1;
    for (int k = ndim - 1; k >= 0; k--) {
        t.shape[k] = shape[k];
        t.strides[k] = step;
        step *= shape[k] > 1 ? shape[k] : 1;
    }
    return t;
}

static float value_at(int i) { return (float)((i * 37) % 23) * 0.25f - 2.5f; }

void ef_arena_fill(ef_arena *a) {
    memset(a, SENTINEL, sizeof *a);
    for (int i = 0; i < EF_N * EF_C + 32; i++)
        a->x[i] = value_at(i);
    for (int i = 0; i < EF_N; i++) {
        a->th[i] = (i * 3) % EF_C;
        a->gln[i] = 0.5f + (float)i;
        a->lse_in[i] = 3.0f;
    }
    for (int i = 0; i < EF_N * EF_C; i++)
        a->ts[i] = (float)(i % EF_C) / 6.0f;
    for (int i = 0; i < EF_C + 4; i++)
        a->w[i] = 1.0f + 0.5f * (float)i;
    a->gl0 = 2.0f;
    for (int i = 0; i < EF_N; i++)
        a->sw[i] = 0.5f * (float)(i + 1);
    for (int i = 0; i < EF_C + 4; i++)
        a->prior[i] = 1.0f / EF_C;
    for (int i = 0; i < 2 * EF_C * 3; i++)
        a->x3[i] = value_at(i + 5);
    for (int i = 0; i < 6; i++)
        a->t3[i] = i % EF_C;
    for (int i = 0; i < EF_BIG_N * EF_BIG_C; i++)
        a->bx[i] = value_at(i);
    for (int i = 0; i < EF_BIG_N; i++)
        a->bt[i] = i % EF_BIG_C;
}

static void set_descriptors(ef_call *c, ef_arena *a) {
    const int64_t xs[2] = {EF_N, EF_C}, es[1] = {EF_N}, cs[1] = {EF_C};
    c->x = ef_tensor(SOFTCE_DTYPE_F32, 2, xs, a->x);
    c->t = ef_tensor(SOFTCE_DTYPE_I64, 1, es, a->th);
    c->w = ef_tensor(SOFTCE_DTYPE_F32, 1, cs, a->w);
    c->gl = ef_tensor(SOFTCE_DTYPE_F32, 0, NULL, &a->gl0);
    c->lse_in = ef_tensor(SOFTCE_DTYPE_F32, 1, es, a->lse_in);
    c->loss = ef_tensor(SOFTCE_DTYPE_F32, 0, NULL, &a->loss0);
    c->lse = ef_tensor(SOFTCE_DTYPE_F32, 1, es, a->lse);
    c->gx = ef_tensor(SOFTCE_DTYPE_F32, 2, xs, a->gx);
    c->gt = ef_tensor(SOFTCE_DTYPE_F32, 2, xs, a->gt);
    c->sw = ef_tensor(SOFTCE_DTYPE_F32, 1, es, a->sw);
    c->prior = ef_tensor(SOFTCE_DTYPE_F32, 1, cs, a->prior);
    c->olse = ef_tensor(SOFTCE_DTYPE_F32, 1, es, a->olse);
    c->oarg = ef_tensor(SOFTCE_DTYPE_I64, 1, es, a->oarg);
    c->ocor = ef_tensor(SOFTCE_DTYPE_F32, 1, es, a->ocor);
    c->ozl = ef_tensor(SOFTCE_DTYPE_F32, 1, es, a->ozl);
}

void ef_base_call(ef_call *c, ef_op op, ef_arena *a) {
    memset(c, 0, sizeof *c);
    c->op = op;
    softce_options_init(&c->o);
    c->opts = &c->o;
    set_descriptors(c, a);
    c->px = &c->x;
    c->pt = op == EF_LOG_SOFTMAX ? NULL : &c->t;
    c->ploss = op == EF_FORWARD || op == EF_FUSED ? &c->loss : NULL;
    c->pgx = op == EF_FORWARD ? NULL : &c->gx; /* log_softmax: `out` */
    c->ti_dtype = SOFTCE_DTYPE_F32;
    c->ti_ndim = 2;
    c->ti_shape[0] = EF_N;
    c->ti_shape[1] = EF_C;
}

softce_status ef_run(const ef_call *c, ef_arena *a) {
    switch (c->op) {
    case EF_FORWARD:
        return softce_forward(c->opts, c->px, c->pt, c->ploss, c->plse);
    case EF_BACKWARD:
        return softce_backward(c->opts, c->px, c->pt, c->pgl, c->plse_in, c->pgx, c->pgt);
    case EF_FUSED:
        return softce_forward_backward(c->opts, c->px, c->pt, c->pgl, c->ploss, c->pgx);
    case EF_LOG_SOFTMAX:
        return softce_log_softmax(c->opts, c->px, c->pgx);
    case EF_TENSOR_INIT:
        return softce_tensor_init(c->ti_null_t ? NULL : &a->tinit, (softce_dtype)c->ti_dtype,
                                  c->ti_ndim, c->ti_null_shape ? NULL : c->ti_shape, a->x);
    }
    return SOFTCE_ERROR_INTERNAL;
}
