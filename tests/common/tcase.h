/*
 * A randomly generated cross-entropy problem described by a tc_spec: library tensors for every
 * input, the exact values the library sees (after dtype rounding and broadcasting) and the
 * matching reference problem; plus runners that call every entry point and compare.
 */
#ifndef SOFTCE_TESTS_TCASE_H
#define SOFTCE_TESTS_TCASE_H

#include "common/tutil.h"
#include "ref/ref.h"

typedef struct tc_spec {
    int32_t ndim;
    int64_t shape[SOFTCE_MAX_DIMS]; /* logits shape */
    int32_t x_dtype;                /* logits */
    int32_t t_dtype;                /* I32/I64: hard, float: soft */
    int32_t w_dtype;                /* 0: no weight; F32/F64 */
    int32_t out_dtype;              /* loss, lse and gradients */
    int32_t gout_dtype;             /* 0: NULL upstream gradient; else its dtype */
    int32_t reduction;
    int64_t ignore_index;
    int ignore_present; /* hard: about a quarter of the targets are ignore_index */
    double eps;
    int32_t threads;
    int x_layout, t_layout, w_layout, out_layout;
    int soft_unnormalized; /* soft rows that do not sum to 1 */
    double x_scale;        /* standard deviation of the logits */
    uint64_t seed;
} tc_spec;

typedef struct tc_problem {
    tc_spec s;
    int64_t n, c, inner, elems;
    int32_t el_ndim; /* element shape = logits shape without the class axis */
    int64_t el_shape[SOFTCE_MAX_DIMS];
    tbuf x, t, w, g;
    double *xv, *qv, *wv, *gv; /* values as stored (qv: soft only, wv/gv: may be NULL) */
    int64_t *tv;               /* hard only */
    softce_options opts;
    ref_problem ref;
} tc_problem;

/** Outputs of one run of every entry point. */
typedef struct tc_out {
    tbuf loss, lse, gx, gq, fb_loss, fb_gx, lsm;
} tc_out;

/** Defaults: f32 logits, i64 hard target, no weight, f32 outputs, mean, contiguous. */
void tc_spec_init(tc_spec *s, int32_t ndim, const int64_t *shape);
const char *tc_describe(const tc_spec *s);
void tc_init(tc_problem *p, const tc_spec *s);
void tc_free(tc_problem *p);
/** Output buffers shaped like the loss / one element per element / like the logits. */
void tc_make_loss(const tc_problem *p, tbuf *b, int32_t dtype, int layout);
void tc_make_elem(const tc_problem *p, tbuf *b, int32_t dtype, int layout);
void tc_make_full(const tc_problem *p, tbuf *b, int32_t dtype, int layout);
bool tc_is_soft(const tc_problem *p);
/** Runs forward(+lse), backward(+grad_target when soft), fused and log_softmax; asserts OK. */
void tc_run(const tc_problem *p, tc_out *o);
void tc_out_free(tc_out *o);
/** tc_run, then compares everything with the reference and checks the cross-call contracts. */
void tc_check(const tc_problem *p);
/** The reference's values of a problem (tests/ref): loss (per element, + the reduction at
    [elems]), lse, log_softmax y, grad_logits gx and (soft) grad_target gq. */
typedef struct tc_refs {
    double *loss, *lse, *y, *gx, *gq;
} tc_refs;
tc_refs tc_ref_all(const tc_problem *p);
void tc_refs_free(tc_refs *r);
/** Inputs unchanged and nothing written outside the outputs' views (after tc_run). */
void tc_expect_untouched(const tc_problem *p, const tc_out *o);
/** Prints the first differing values of two arrays that should be bitwise identical. */
void tc_report_not_same(const char *label, const char *what, const double *va, const double *vb,
                        int64_t n);
/** backward() with the lse saved by forward() (in the compute dtype) == backward(NULL lse),
    bitwise, for grad_logits and grad_target. */
void tc_check_lse_reuse(const tc_problem *p);
/** Convenience: tc_init + tc_check + tc_free. */
void tc_check_spec(const tc_spec *s);

#endif
