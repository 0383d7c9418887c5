/*
 * Threads: loss, lse, gradients and log_softmax are bitwise identical for num_threads
 * 1, 2, 3, 7 and 0 (default) on sizes that span many internal blocks; the library is
 * reentrant and last_error is per thread; concurrent calls that stage their operands (and so
 * take the library's kept workspace) give the bytes of the same call made alone.
 */
#include "common/tcase.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool same_outputs(const tc_out *a, const tc_out *b, const char *ctx, int32_t threads) {
    const tbuf *x[] = {&a->loss, &a->lse, &a->gx, &a->gq, &a->fb_loss, &a->fb_gx, &a->lsm};
    const tbuf *y[] = {&b->loss, &b->lse, &b->gx, &b->gq, &b->fb_loss, &b->fb_gx, &b->lsm};
    static const char *const names[] = {"loss",       "lse",        "grad",       "grad_target",
                                        "fused loss", "fused grad", "log_softmax"};
    bool ok = true;
    for (int i = 0; i < 7; i++)
        if (!tb_same_bytes(x[i], y[i])) {
            fprintf(stderr, "[%s] %s differs between 1 and %d threads\n", ctx, names[i], threads);
            ok = false;
        }
    return ok;
}

/* The single-thread run must also be right (loosely; tc_check does the strict checks). */
static void check_against_reference(const tc_problem *p, const tc_out *o) {
    int64_t full = p->n * p->c * p->inner;
    double *want = tu_alloc(sizeof(double) * (size_t)full);
    double *got = tu_alloc(sizeof(double) * (size_t)full);
    double rt = tu_rtol(p->s.x_dtype, p->s.out_dtype);
    ref_grad(&p->ref, p->gv, want, NULL);
    tb_load(&o->gx, got);
    double scale = fmax(ref_grad_scale(&p->ref, p->gv), tu_maxabs(want, full));
    assert_true(tu_close("grad", got, want, full, rt, rt * scale));
    int64_t nl = tu_numel(o->loss.t.ndim, o->loss.t.shape);
    ref_loss(&p->ref, want);
    tb_load(&o->loss, got);
    assert_true(tu_close("loss", got, want, nl, rt, 0.1 * rt * fmax(1.0, tu_maxabs(want, nl))));
    free(want);
    free(got);
}

static void check_threads(int32_t ndim, const int64_t *shape, int32_t xd, int32_t td, int lay) {
    static uint64_t seed = 1;
    const int32_t counts[] = {2, 3, 7, 0};
    for (int red = SOFTCE_REDUCTION_MEAN; red <= SOFTCE_REDUCTION_NONE; red++) {
        tc_spec s;
        tc_spec_init(&s, ndim, shape);
        s.x_dtype = xd;
        s.out_dtype = xd == SOFTCE_DTYPE_F64 ? xd : SOFTCE_DTYPE_F32;
        s.t_dtype = td;
        s.reduction = red;
        s.threads = 1;
        s.x_layout = lay;
        s.ignore_present = 1;
        s.w_dtype = red == SOFTCE_REDUCTION_MEAN ? SOFTCE_DTYPE_F32 : 0;
        s.eps = red == SOFTCE_REDUCTION_SUM ? 0.1 : 0.0;
        s.gout_dtype = red == SOFTCE_REDUCTION_NONE ? SOFTCE_DTYPE_F32 : 0;
        s.seed = seed++;
        tc_problem p;
        tc_init(&p, &s);
        tu_set_context(tc_describe(&s));
        tc_out base;
        tc_run(&p, &base);
        check_against_reference(&p, &base);
        for (int i = 0; i < 4; i++) {
            tc_out o;
            p.opts.num_threads = counts[i];
            tc_run(&p, &o);
            bool ok = same_outputs(&base, &o, tc_describe(&s), counts[i]);
            tc_out_free(&o);
            assert_true(ok);
        }
        tc_out_free(&base);
        tc_free(&p);
    }
}

static void test_many_rows(void **state) {
    (void)state;
    const int64_t shape[2] = {5000, 37};
    check_threads(2, shape, SOFTCE_DTYPE_F32, SOFTCE_DTYPE_I64, TL_CONTIG);
    check_threads(2, shape, SOFTCE_DTYPE_F32, SOFTCE_DTYPE_F32, TL_CONTIG);
    check_threads(2, shape, SOFTCE_DTYPE_BF16, SOFTCE_DTYPE_I32, TL_CONTIG);
    check_threads(2, shape, SOFTCE_DTYPE_F64, SOFTCE_DTYPE_I64, TL_REVERSED);
}

static void test_few_long_rows(void **state) {
    (void)state;
    const int64_t shape[2] = {3, 70000};
    check_threads(2, shape, SOFTCE_DTYPE_F32, SOFTCE_DTYPE_I64, TL_CONTIG);
    check_threads(2, shape, SOFTCE_DTYPE_F64, SOFTCE_DTYPE_F64, TL_CONTIG);
    const int64_t one[1] = {150000};
    check_threads(1, one, SOFTCE_DTYPE_F32, SOFTCE_DTYPE_I32, TL_CONTIG);
}

static void test_kdim(void **state) {
    (void)state;
    const int64_t shape[4] = {4, 19, 40, 50};
    check_threads(4, shape, SOFTCE_DTYPE_F32, SOFTCE_DTYPE_I64, TL_CONTIG);
    check_threads(4, shape, SOFTCE_DTYPE_F16, SOFTCE_DTYPE_F32, TL_CONTIG);
    check_threads(4, shape, SOFTCE_DTYPE_F32, SOFTCE_DTYPE_I32, TL_CLASS_LAST);
}

/* ---- reentrancy and per-thread last_error ------------------------------------------------ */

typedef struct worker {
    const tc_problem *p;
    bool fail; /* this worker makes a failing call */
    bool ok;
} worker;

static void *work(void *arg) {
    worker *w = arg;
    w->ok = true;
    for (int it = 0; it < 20 && w->ok; it++) {
        tbuf loss;
        tc_make_loss(w->p, &loss, SOFTCE_DTYPE_F32, TL_CONTIG);
        softce_options o = w->p->opts;
        o.num_threads = 1 + it % 2;
        if (w->fail)
            o.reduction = 0;
        softce_status st = softce_forward(&o, &w->p->x.t, &w->p->t.t, &loss.t, NULL);
        const char *e = softce_last_error();
        w->ok = w->fail ? st == SOFTCE_ERROR_OPTION && e[0] != '\0' && tb_unchanged(&loss)
                        : st == SOFTCE_OK && e[0] == '\0';
        tb_free(&loss);
    }
    return NULL;
}

static void test_concurrent_calls(void **state) {
    (void)state;
    const int64_t shape[2] = {300, 50};
    tc_spec s;
    tc_spec_init(&s, 2, shape);
    tc_problem p;
    tc_init(&p, &s);
    pthread_t th[4];
    worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i].p = &p;
        w[i].fail = i % 2 == 1;
        assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        if (!w[i].ok)
            print_error("worker %d (%s) saw a wrong status or last_error\n", i,
                        w[i].fail ? "failing" : "succeeding");
        assert_true(w[i].ok);
    }
    tc_free(&p);
}

/* ---- the kept workspace under concurrent calls ------------------------------------------
   Calls whose operands are staged (16-bit logits and gradients) take the library's kept
   workspace (src/workspace.c). Four threads run fused calls of three such problems of
   different sizes (split mode keeping e, split mode staging only, row mode) in different
   orders, each with 1 or 2 OpenMP threads, and compare their loss and gradient byte for byte
   with the same call made alone, which is checked against the reference first. Sharing one
   workspace between two calls, or reusing a too small one, changes the bytes. */

enum { WS_PROBLEMS = 3, WS_WORKERS = 4 };

typedef struct ws_worker {
    const tc_problem *p;   /* WS_PROBLEMS problems */
    const tc_out *base;    /* their outputs alone */
    int first, bad, calls; /* bad: -1 if every result matched, else the first call that did not */
} ws_worker;

static void *ws_work(void *arg) {
    ws_worker *w = arg;
    w->bad = -1;
    for (int it = 0; it < 24 && w->bad < 0; it++) {
        const int k = (w->first + it) % WS_PROBLEMS;
        const tc_problem *p = &w->p[k];
        tbuf loss, gx;
        tc_make_loss(p, &loss, p->s.out_dtype, TL_CONTIG);
        tc_make_full(p, &gx, p->s.out_dtype, TL_CONTIG);
        softce_options o = p->opts;
        o.num_threads = 1 + (it + w->first) % 2;
        const softce_tensor *g = p->s.gout_dtype ? &p->g.t : NULL;
        if (softce_forward_backward(&o, &p->x.t, &p->t.t, g, &loss.t, &gx.t) != SOFTCE_OK ||
            !tb_same_bytes(&loss, &w->base[k].fb_loss) || !tb_same_bytes(&gx, &w->base[k].fb_gx))
            w->bad = it;
        w->calls = it + 1;
        tb_free(&loss);
        tb_free(&gx);
    }
    return NULL;
}

static void test_concurrent_workspaces(void **state) {
    (void)state;
    static const int64_t shapes[WS_PROBLEMS][2] = {{3, 140000}, {2, 131075}, {300, 3000}};
    static const int32_t xd[WS_PROBLEMS] = {SOFTCE_DTYPE_BF16, SOFTCE_DTYPE_F16, SOFTCE_DTYPE_BF16};
    static const int32_t td[WS_PROBLEMS] = {SOFTCE_DTYPE_F32, SOFTCE_DTYPE_I64, SOFTCE_DTYPE_BF16};
    static const int32_t od[WS_PROBLEMS] = {SOFTCE_DTYPE_BF16, SOFTCE_DTYPE_F32, SOFTCE_DTYPE_BF16};
    tc_problem p[WS_PROBLEMS];
    tc_out base[WS_PROBLEMS];
    for (int k = 0; k < WS_PROBLEMS; k++) {
        tc_spec s;
        tc_spec_init(&s, 2, shapes[k]);
        s.x_dtype = xd[k];
        s.t_dtype = td[k];
        s.out_dtype = od[k];
        s.threads = 1;
        s.seed = 900 + (uint64_t)k;
        tc_init(&p[k], &s);
        tu_set_context(tc_describe(&s));
        tc_run(&p[k], &base[k]);
        check_against_reference(&p[k], &base[k]);
    }
    pthread_t th[WS_WORKERS];
    ws_worker w[WS_WORKERS];
    for (int i = 0; i < WS_WORKERS; i++) {
        w[i] = (ws_worker){.p = p, .base = base, .first = i % WS_PROBLEMS};
        assert_int_equal(pthread_create(&th[i], NULL, ws_work, &w[i]), 0);
    }
    for (int i = 0; i < WS_WORKERS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    for (int i = 0; i < WS_WORKERS; i++) {
        if (w[i].bad >= 0)
            print_error("worker %d: call %d (problem %d) differs from the call made alone\n", i,
                        w[i].bad, (w[i].first + w[i].bad) % WS_PROBLEMS);
        assert_int_equal(w[i].bad, -1);
        assert_int_equal(w[i].calls, 24);
    }
    for (int k = 0; k < WS_PROBLEMS; k++) {
        tc_out_free(&base[k]);
        tc_free(&p[k]);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_rows),
        cmocka_unit_test(test_few_long_rows),
        cmocka_unit_test(test_kdim),
        cmocka_unit_test(test_concurrent_calls),
        cmocka_unit_test(test_concurrent_workspaces),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
