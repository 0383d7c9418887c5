/* Fixture of the API/validation tests; see apifx.h. */
#include "common/apifx.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void fx_bufs(fx *f, tbuf **out) {
    tbuf *all[FX_NBUF] = {&f->x,  &f->th, &f->ts,  &f->w,    &f->loss0, &f->lossn, &f->lse,
                          &f->gx, &f->gt, &f->glo, &f->glon, &f->out,   &f->pool};
    memcpy(out, all, sizeof all);
}

int fx_setup(void **state) {
    fx *f = calloc(1, sizeof *f);
    const int64_t nc[2] = {FX_N, FX_C}, n[1] = {FX_N}, c[1] = {FX_C}, pool[1] = {256};
    tb_make(&f->x, SOFTCE_DTYPE_F32, 2, nc, NULL);
    tb_make(&f->th, SOFTCE_DTYPE_I64, 1, n, NULL);
    tb_make(&f->ts, SOFTCE_DTYPE_F32, 2, nc, NULL);
    tb_make(&f->w, SOFTCE_DTYPE_F32, 1, c, NULL);
    tb_make(&f->loss0, SOFTCE_DTYPE_F32, 0, NULL, NULL);
    tb_make(&f->lossn, SOFTCE_DTYPE_F32, 1, n, NULL);
    tb_make(&f->lse, SOFTCE_DTYPE_F32, 1, n, NULL);
    tb_make(&f->gx, SOFTCE_DTYPE_F32, 2, nc, NULL);
    tb_make(&f->gt, SOFTCE_DTYPE_F32, 2, nc, NULL);
    tb_make(&f->glo, SOFTCE_DTYPE_F32, 0, NULL, NULL);
    tb_make(&f->glon, SOFTCE_DTYPE_F32, 1, n, NULL);
    tb_make(&f->out, SOFTCE_DTYPE_F32, 2, nc, NULL);
    tb_make(&f->pool, SOFTCE_DTYPE_F32, 1, pool, NULL);
    double v[FX_N * FX_C], t[FX_N] = {0, 3, 1, 4}, w[FX_C] = {1, 0.5, 2, 1.5, 1};
    double ones[FX_N] = {1, 1, 1, 1};
    for (int i = 0; i < FX_N * FX_C; i++)
        v[i] = sin(i * 1.7) * 3.0;
    tb_store(&f->x, v);
    for (int i = 0; i < FX_N * FX_C; i++)
        v[i] = 0.05 + (i % FX_C == i / FX_C ? 0.75 : 0.0);
    tb_store(&f->ts, v);
    tb_store(&f->th, t);
    tb_store(&f->w, w);
    tb_store(&f->glo, ones);
    tb_store(&f->glon, ones);
    softce_options_init(&f->o);
    *state = f;
    return 0;
}

int fx_teardown(void **state) {
    fx *f = *state;
    tbuf *b[FX_NBUF];
    fx_bufs(f, b);
    for (size_t i = 0; i < FX_NBUF; i++)
        tb_free(b[i]);
    free(f);
    return 0;
}

void fx_snapshot(fx *f) {
    tbuf *b[FX_NBUF];
    fx_bufs(f, b);
    for (size_t i = 0; i < FX_NBUF; i++)
        tb_snapshot(b[i]);
}

const tbuf *fx_slot_buf(fx *f, int slot) {
    const tbuf *bufs[NSLOT] = {&f->x,   &f->th, &f->ts, &f->w,  &f->loss0,
                               &f->lse, &f->gx, &f->gt, &f->glo};
    return bufs[slot];
}

void fx_expect(fx *f, unsigned allowed, softce_status got, const char *expr, const char *file,
               int line) {
    if (!(S(got) & allowed))
        print_error("%s:%d: %s -> %s (%s)\n", file, line, expr, softce_status_name(got),
                    softce_last_error());
    _assert_true(S(got) & allowed, expr, file, line);
    if (got == SOFTCE_OK) {
        _assert_true(softce_last_error()[0] == '\0', "last_error cleared", file, line);
        return;
    }
    _assert_true(softce_last_error()[0] != '\0', "last_error set", file, line);
    tbuf *b[FX_NBUF];
    fx_bufs(f, b);
    for (size_t i = 0; i < FX_NBUF; i++) {
        if (!tb_unchanged(b[i]))
            print_error("%s:%d: %s wrote buffer %zu on failure\n", file, line, expr, i);
        _assert_true(tb_unchanged(b[i]), "untouched on failure", file, line);
    }
}

void fx_expect_all(fx *f, int slot, const softce_tensor *bad, unsigned allowed, const char *file,
                   int line) {
    softce_options o = f->o;
    const softce_tensor *x = &f->x.t, *th = &f->th.t, *ts = &f->ts.t, *loss = &f->loss0.t;
    const softce_tensor *lse = &f->lse.t, *gx = &f->gx.t, *gt = &f->gt.t, *glo = &f->glo.t;
    const softce_tensor **slots[NSLOT] = {&x, &th, &ts, NULL, &loss, &lse, &gx, &gt, &glo};
    o.weight = slot == SLOT_W ? bad : &f->w.t;
    if (slot != SLOT_W)
        *slots[slot] = bad;
    for (int soft = 0; soft < 2; soft++) {
        const softce_tensor *t = soft ? ts : th;
        if ((slot == SLOT_T && soft) || ((slot == SLOT_TS || slot == SLOT_GT) && !soft))
            continue;
        if (slot != SLOT_GX && slot != SLOT_GT && slot != SLOT_GLO) {
            fx_snapshot(f);
            fx_expect(f, allowed, softce_forward(&o, x, t, loss, lse), "forward", file, line);
        }
        if (slot != SLOT_LOSS) {
            fx_snapshot(f);
            fx_expect(f, allowed, softce_backward(&o, x, t, glo, lse, gx, soft ? gt : NULL),
                      "backward", file, line);
        }
        if (slot != SLOT_LSE && slot != SLOT_GT) {
            fx_snapshot(f);
            fx_expect(f, allowed, softce_forward_backward(&o, x, t, glo, loss, gx), "fused", file,
                      line);
        }
    }
    if (slot == SLOT_X || slot == SLOT_GX) {
        fx_snapshot(f);
        fx_expect(f, allowed, softce_log_softmax(&o, x, gx), "log_softmax", file, line);
    }
}
