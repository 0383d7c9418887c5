/*
 * Vocabulary sharding primitives (softce_shard_*), in one process: a seeded sweep of random
 * problems and options, each split into 1..4 uneven shards, against softce_forward /
 * softce_backward / softce_forward_backward; combine algebra; validation.
 */
#include "shard_problem.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define SWEEP_CASES 2000

/* f64 problems are held to 1e-12, f32/bf16 (f32 compute) to 1e-6 (docs/sharding.md). */
static double tolerance(const sp_problem *pb) { return pb->dtype == SOFTCE_DTYPE_F64 ? 1e-12 : 1e-6; }

/* Gradients are compared norm-wise, relative to max(largest magnitude, GRAD_FLOOR): where the
   exact gradient is 0 (C = 1, q = one-hot with softmax 1) the fused path leaves f32 rounding
   noise (~1e-8) that no relative measure can hold. */
#define GRAD_FLOOR 1e-2
/* Losses likewise relative to max(|loss|, loss_floor()): the unsharded SIMD kernels sum exp in
   float lanes (<= 2.4e-7 relative, docs/numerics.md), which a small loss (a confident
   prediction, e.g. 0.009) sees as a few 1e-6 relative; the shards sum in double. With the
   scalar kernels (double sums) the comparison is strictly relative. */
static double loss_floor(void) { return strcmp(softce_isa_name(), "scalar") ? 0.1 : 0.0; }

typedef struct worst {
    double loss, lse, gx, gt, fb_loss, fb_gx;
} worst;

static void track(double *w, double v) {
    if (v > *w)
        *w = v;
}

static void check_case(const sp_problem *pb, worst *wc) {
    sp_result ref, got;
    sp_result_alloc(pb, &ref);
    sp_result_alloc(pb, &got);
    softce_status sr = sp_reference(pb, &ref);
    softce_status sg = sp_sharded(pb, &got);
    if (sr != SOFTCE_OK || sg != SOFTCE_OK)
        fail_msg("%s: reference %s / sharded %s: %s", pb->desc, softce_status_name(sr),
                 softce_status_name(sg), softce_last_error());
    const int none = pb->o.reduction == SOFTCE_REDUCTION_NONE;
    const int64_t nl = none ? pb->E : 1, n = pb->N * pb->C * pb->D;
    double d[6];
    d[0] = none ? sp_normwise_floor(got.loss, ref.loss, nl, loss_floor())
                : sp_relative_floor(got.loss[0], ref.loss[0], loss_floor());
    d[1] = sp_normwise(got.lse, ref.lse, pb->E);
    d[2] = sp_normwise_floor(got.gx, ref.gx, n, GRAD_FLOOR);
    d[3] = pb->soft ? sp_normwise_floor(got.gt, ref.gt, n, GRAD_FLOOR) : 0.0;
    d[4] = none ? sp_normwise_floor(got.loss, ref.loss_fb, nl, loss_floor())
                : sp_relative_floor(got.loss[0], ref.loss_fb[0], loss_floor());
    d[5] = sp_normwise_floor(got.gx, ref.gx_fb, n, GRAD_FLOOR);
    double *slots[6] = {&wc->loss, &wc->lse, &wc->gx, &wc->gt, &wc->fb_loss, &wc->fb_gx};
    static const char *const names[6] = {"loss", "lse", "grad_logits", "grad_target",
                                         "loss vs forward_backward",
                                         "grad_logits vs forward_backward"};
    for (int i = 0; i < 6; i++) {
        /* softce_forward_backward's fused kernel rounds differently from softce_backward's
           (f32: up to a few 1e-6 of the largest gradient, within the 1e-5 contract of
           docs/numerics.md); the shards use softce_backward's kernels */
        double tol = i == 5 && pb->dtype != SOFTCE_DTYPE_F64 ? 1e-5 : tolerance(pb);
        track(slots[i], d[i]);
        if (!(d[i] <= tol))
            fail_msg("%s: %s differs by %.3g (tolerance %g)", pb->desc, names[i], d[i], tol);
    }
    if (pb->extras)
        for (int64_t e = 0; e < pb->E; e++) {
            if (got.amax[e] != ref.amax[e] || got.correct[e] != ref.correct[e])
                fail_msg("%s: element %lld: argmax %lld/%lld correct %g/%g", pb->desc,
                         (long long)e, (long long)got.amax[e], (long long)ref.amax[e],
                         got.correct[e], ref.correct[e]);
            if (!(sp_relative_floor(got.zl[e], ref.zl[e], loss_floor() * 1e-2) <= tolerance(pb)))
                fail_msg("%s: element %lld: z-loss %.17g vs %.17g", pb->desc, (long long)e,
                         got.zl[e], ref.zl[e]);
        }
    sp_result_free(&ref);
    sp_result_free(&got);
}

static void test_sweep(void **state) {
    (void)state;
    worst w32 = {0}, w64 = {0};
    int counts[2] = {0, 0};
    for (uint64_t seed = 1; seed <= SWEEP_CASES; seed++) {
        sp_problem pb;
        sp_random(&pb, seed, 4);
        int f64 = pb.dtype == SOFTCE_DTYPE_F64;
        check_case(&pb, f64 ? &w64 : &w32);
        counts[f64]++;
        sp_free(&pb);
    }
    const worst *ws[2] = {&w32, &w64};
    for (int i = 0; i < 2; i++)
        printf("shard sweep [%s, isa %s]: %d cases; max relative difference: loss %.3g, lse "
               "%.3g, grad_logits %.3g, grad_target %.3g; vs forward_backward: loss %.3g, "
               "grad %.3g\n",
               i ? "f64" : "f32/bf16", softce_isa_name(), counts[i], ws[i]->loss, ws[i]->lse,
               ws[i]->gx, ws[i]->gt, ws[i]->fb_loss, ws[i]->fb_gx);
}

/* Every split of a small problem into 1..C shards (not just random ones). */
static void test_all_shard_counts(void **state) {
    (void)state;
    worst w = {0};
    for (uint64_t seed = 1000; seed < 1040; seed++) {
        sp_problem pb;
        sp_random(&pb, seed, 1);
        for (int n = 1; n <= (pb.C < SP_MAX_SHARDS ? pb.C : SP_MAX_SHARDS); n++) {
            sp_cut(&pb, seed * 31 + (uint64_t)n, n);
            check_case(&pb, &w);
        }
        sp_free(&pb);
    }
}

/* ---- combine algebra ---------------------------------------------------------------------- */

static void stats_of(const sp_problem *pb, int k, double *out) {
    softce_tensor tw, tp;
    int64_t c0 = pb->cut[k], Cs = pb->cut[k + 1] - c0;
    softce_options o = sp_shard_options(pb, c0, Cs, &tw, &tp);
    softce_tensor x = sp_logits_view(pb, pb->x, pb->dtype, c0, Cs);
    softce_tensor tg = sp_target_view(pb, c0, Cs), st = sp_stats_view(pb, out);
    assert_int_equal(softce_shard_stats(&o, &x, &tg, c0, pb->C, &st), SOFTCE_OK);
}

static void combine(const sp_problem *pb, double *a, double *b, double *out) {
    softce_tensor ta = sp_stats_view(pb, a), tb = sp_stats_view(pb, b), to = sp_stats_view(pb, out);
    assert_int_equal(softce_shard_combine(&ta, &tb, &to), SOFTCE_OK);
}

static void test_combine_algebra(void **state) {
    (void)state;
    double worst_assoc = 0.0;
    int cases = 0;
    for (uint64_t seed = 2000; seed < 2300; seed++) {
        sp_problem pb;
        sp_random(&pb, seed, 1);
        if (pb.C < 3 || pb.E == 0) {
            sp_free(&pb);
            continue;
        }
        sp_cut(&pb, seed, 3);
        size_t n = (size_t)pb.E * SOFTCE_SHARD_STATS;
        double *s[3], *ab = calloc(n, 8), *ab_c = calloc(n, 8), *bc = calloc(n, 8),
                      *a_bc = calloc(n, 8), *again = calloc(n, 8), *ba = calloc(n, 8);
        for (int k = 0; k < 3; k++) {
            s[k] = calloc(n, 8);
            stats_of(&pb, k, s[k]);
        }
        combine(&pb, s[0], s[1], ab);
        combine(&pb, ab, s[2], ab_c);
        combine(&pb, s[1], s[2], bc);
        combine(&pb, s[0], bc, a_bc);
        combine(&pb, s[1], s[0], ba);
        assert_memory_equal(ab, ba, n * 8); /* commutative, bitwise */
        combine(&pb, s[0], s[1], again);
        combine(&pb, again, s[2], again); /* in place */
        assert_memory_equal(ab_c, again, n * 8); /* same order: bitwise */
        for (size_t i = 0; i < n; i++) {
            double d = sp_relative(a_bc[i], ab_c[i]);
            if (d > 1e-15 * 0 && fabs(a_bc[i] - ab_c[i]) <= 1e-300)
                d = 0.0;
            track(&worst_assoc, d);
            if (!(d <= 1e-13))
                fail_msg("seed %llu: stat %zu: (a+b)+c = %.17g, a+(b+c) = %.17g",
                         (unsigned long long)seed, i % SOFTCE_SHARD_STATS, ab_c[i], a_bc[i]);
        }
        for (int k = 0; k < 3; k++)
            free(s[k]);
        free(ab), free(ab_c), free(bc), free(a_bc), free(again), free(ba);
        sp_free(&pb);
        cases++;
    }
    printf("combine: %d three-shard cases; (a+b)+c vs a+(b+c): max relative difference %.3g; "
           "same order and swapped operands: bitwise equal\n",
           cases, worst_assoc);
}

/* ---- validation: precise errors, nothing written -------------------------------------- */

typedef struct fixture {
    sp_problem pb;
    double st0[64 * SOFTCE_SHARD_STATS], st1[64 * SOFTCE_SHARD_STATS];
    softce_tensor x0, x1, tg, s0, s1;
} fixture;

/* A hard (N=4, C=10) problem in two shards [0, 4), [4, 10). */
static void make_fixture(fixture *f, int soft) {
    memset(f, 0, sizeof *f);
    uint64_t seed = 7;
    do {
        sp_free(&f->pb);
        sp_random(&f->pb, seed++, 1);
    } while (f->pb.ndim != 2 || f->pb.C < 6 || f->pb.N < 2 || f->pb.soft != soft);
    sp_cut(&f->pb, 1, 2);
    softce_options_init(&f->pb.o);
    f->pb.o.weight = NULL;
    f->pb.o.smoothing_prior = NULL;
    for (int64_t e = 0; e < f->pb.E; e++)
        f->pb.t[e] = e % f->pb.C;
    int64_t c = f->pb.cut[1];
    f->x0 = sp_logits_view(&f->pb, f->pb.x, f->pb.dtype, 0, c);
    f->x1 = sp_logits_view(&f->pb, f->pb.x, f->pb.dtype, c, f->pb.C - c);
    f->tg = sp_target_view(&f->pb, 0, soft ? c : f->pb.C);
    f->s0 = sp_stats_view(&f->pb, f->st0);
    f->s1 = sp_stats_view(&f->pb, f->st1);
}

#define EXPECT_FAIL(call, status, text)                                                        \
    do {                                                                                       \
        softce_status st_ = (call);                                                            \
        if (st_ != (status) || !strstr(softce_last_error(), (text)))                          \
            fail_msg("%s: got %s \"%s\", expected %s containing \"%s\"", #call,              \
                     softce_status_name(st_), softce_last_error(), #status, (text));          \
    } while (0)

static void test_errors(void **state) {
    (void)state;
    fixture f;
    make_fixture(&f, 0);
    sp_problem *pb = &f.pb;
    const int64_t c = pb->cut[1], C = pb->C;
    double sentinel[64 * SOFTCE_SHARD_STATS];
    for (size_t i = 0; i < sizeof sentinel / 8; i++)
        f.st0[i] = f.st1[i] = sentinel[i] = -12345.0;
    EXPECT_FAIL(softce_shard_stats(NULL, &f.x0, &f.tg, C - c + 1, C, &f.s0), SOFTCE_ERROR_SHAPE,
                "class_offset");
    EXPECT_FAIL(softce_shard_stats(NULL, &f.x0, &f.tg, 0, 0, &f.s0), SOFTCE_ERROR_SHAPE,
                "num_classes = 0");
    EXPECT_FAIL(softce_shard_stats(NULL, &f.x0, &f.tg, 0, C, NULL), SOFTCE_ERROR_NULL_POINTER,
                "stats is NULL");
    softce_tensor bad = f.s0;
    bad.dtype = SOFTCE_DTYPE_F32;
    EXPECT_FAIL(softce_shard_stats(NULL, &f.x0, &f.tg, 0, C, &bad), SOFTCE_ERROR_DTYPE,
                "stats: dtype f32, expected f64");
    bad = f.s0;
    bad.shape[1] = SOFTCE_SHARD_STATS - 1;
    EXPECT_FAIL(softce_shard_stats(NULL, &f.x0, &f.tg, 0, C, &bad), SOFTCE_ERROR_SHAPE,
                "stats: shape[1]");
    pb->t[1] = C; /* a global class index beyond C */
    char msg[64];
    snprintf(msg, sizeof msg, "target[1] = %lld is outside [0, %lld)", (long long)C,
             (long long)C);
    EXPECT_FAIL(softce_shard_stats(NULL, &f.x0, &f.tg, 0, C, &f.s0), SOFTCE_ERROR_TARGET, msg);
    pb->t[1] = 1;
    softce_options o;
    softce_options_init(&o);
    o.label_smoothing = 2.0;
    EXPECT_FAIL(softce_shard_stats(&o, &f.x0, &f.tg, 0, C, &f.s0), SOFTCE_ERROR_OPTION,
                "label_smoothing");
    bad = f.s0;
    bad.data = pb->x; /* stats over the logits */
    EXPECT_FAIL(softce_shard_stats(NULL, &f.x0, &f.tg, 0, C, &bad), SOFTCE_ERROR_OVERLAP,
                "stats overlaps logits_shard");
    assert_memory_equal(f.st0, sentinel, sizeof sentinel); /* nothing written */

    /* combine and finalize against the statistics */
    assert_int_equal(softce_shard_stats(NULL, &f.x0, &f.tg, 0, C, &f.s0), SOFTCE_OK);
    assert_int_equal(softce_shard_stats(NULL, &f.x1, &f.tg, c, C, &f.s1), SOFTCE_OK);
    double loss = -1.0;
    softce_tensor tl;
    softce_tensor_init(&tl, SOFTCE_DTYPE_F64, 0, NULL, &loss);
    EXPECT_FAIL(softce_shard_finalize(NULL, &f.tg, &f.s0, &tl, NULL), SOFTCE_ERROR_SHAPE,
                "the combined shards cover");
    double copy[64 * SOFTCE_SHARD_STATS];
    memcpy(copy, f.st1, sizeof copy);
    f.st1[SOFTCE_SHARD_STAT_NUM_CLASSES] = (double)C + 1.0;
    EXPECT_FAIL(softce_shard_combine(&f.s0, &f.s1, &f.s0), SOFTCE_ERROR_SHAPE, "num_classes");
    memcpy(f.st1, copy, sizeof copy);
    softce_tensor part = f.s0;
    part.data = f.st0 + 1; /* out overlaps a without being a */
    EXPECT_FAIL(softce_shard_combine(&f.s0, &f.s1, &part), SOFTCE_ERROR_OVERLAP, "out overlaps a");
    /* the first shard twice: covers C classes only if 2 c == C; ownership is then wrong */
    assert_int_equal(softce_shard_combine(&f.s0, &f.s1, &f.s0), SOFTCE_OK);
    assert_int_equal(softce_shard_finalize(NULL, &f.tg, &f.s0, &tl, NULL), SOFTCE_OK);
    assert_true(isfinite(loss));
    softce_tensor soft_tg = sp_logits_view(pb, pb->p, SOFTCE_DTYPE_F32, 0, c);
    EXPECT_FAIL(softce_shard_finalize(NULL, &soft_tg, &f.s0, &tl, NULL), SOFTCE_ERROR_DTYPE,
                "kind");
    f.st0[SOFTCE_SHARD_STAT_TARGET_OWNED] = 2.0;
    EXPECT_FAIL(softce_shard_finalize(NULL, &f.tg, &f.s0, &tl, NULL), SOFTCE_ERROR_TARGET,
                "owned by 2 shards");
    f.st0[SOFTCE_SHARD_STAT_TARGET_OWNED] = 1.0;
    /* every target ignored, mean, empty = ERROR: fails before writing */
    for (int64_t e = 0; e < pb->E; e++)
        pb->t[e] = -100;
    o = pb->o;
    o.empty = SOFTCE_EMPTY_ERROR;
    loss = -1.0;
    EXPECT_FAIL(softce_shard_finalize(&o, &f.tg, &f.s0, &tl, NULL), SOFTCE_ERROR_EMPTY_MEAN,
                "denominator is 0");
    assert_true(loss == -1.0);
    o.empty = SOFTCE_EMPTY_NAN;
    assert_int_equal(softce_shard_finalize(&o, &f.tg, &f.s0, &tl, NULL), SOFTCE_OK);
    assert_true(isnan(loss));
    double *g = calloc((size_t)(pb->N * pb->C), 8);
    softce_tensor tgx = sp_logits_view(pb, g, SOFTCE_DTYPE_F64, 0, c);
    EXPECT_FAIL(softce_shard_backward(NULL, &f.x0, &f.tg, 0, C, &f.s0, NULL, NULL, NULL),
                SOFTCE_ERROR_NULL_POINTER, "both NULL");
    EXPECT_FAIL(softce_shard_backward(NULL, &f.x0, &f.tg, 0, C + 1, &f.s0, NULL, &tgx, NULL),
                SOFTCE_ERROR_SHAPE, "num_classes");
    softce_tensor over_stats = sp_logits_view(pb, f.st0, SOFTCE_DTYPE_F64, 0, c);
    EXPECT_FAIL(softce_shard_backward(NULL, &f.x0, &f.tg, 0, C, &f.s0, NULL, &over_stats, NULL),
                SOFTCE_ERROR_OVERLAP, "grad_logits_shard overlaps stats");
    assert_int_equal(softce_shard_backward(NULL, &f.x0, &f.tg, 0, C, &f.s0, NULL, &tgx, NULL),
                     SOFTCE_OK);
    free(g);
    sp_free(pb);
}

/* In place: the gradient overwrites the shard's logits (same view). */
static void test_in_place(void **state) {
    (void)state;
    for (uint64_t seed = 3000; seed < 3040; seed++) {
        sp_problem pb;
        sp_random(&pb, seed, 3);
        if (pb.dtype != SOFTCE_DTYPE_F32) {
            sp_free(&pb);
            continue;
        }
        sp_result ref;
        sp_result_alloc(&pb, &ref);
        assert_int_equal(sp_reference(&pb, &ref), SOFTCE_OK);
        size_t ns = (size_t)(pb.E + 1) * SOFTCE_SHARD_STATS;
        double *acc = calloc(ns, 8), *part = calloc(ns, 8);
        softce_tensor ta = sp_stats_view(&pb, acc), tp = sp_stats_view(&pb, part), tw, tpr;
        for (int k = 0; k < pb.nshards; k++) {
            int64_t c0 = pb.cut[k], Cs = pb.cut[k + 1] - c0;
            softce_options o = sp_shard_options(&pb, c0, Cs, &tw, &tpr);
            softce_tensor x = sp_logits_view(&pb, pb.x, pb.dtype, c0, Cs);
            softce_tensor tg = sp_target_view(&pb, c0, Cs);
            assert_int_equal(softce_shard_stats(&o, &x, &tg, c0, pb.C, k ? &tp : &ta), SOFTCE_OK);
            if (k)
                assert_int_equal(softce_shard_combine(&ta, &tp, &ta), SOFTCE_OK);
        }
        softce_tensor gl = sp_loss_view(&pb, pb.gl);
        for (int k = 0; k < pb.nshards; k++) {
            int64_t c0 = pb.cut[k], Cs = pb.cut[k + 1] - c0;
            softce_options o = sp_shard_options(&pb, c0, Cs, &tw, &tpr);
            softce_tensor x = sp_logits_view(&pb, pb.x, pb.dtype, c0, Cs);
            softce_tensor tg = sp_target_view(&pb, c0, Cs);
            assert_int_equal(softce_shard_backward(&o, &x, &tg, c0, pb.C, &ta,
                                                   pb.use_gl ? &gl : NULL, &x, NULL),
                             SOFTCE_OK);
        }
        int64_t n = pb.N * pb.C * pb.D;
        double *g = malloc((size_t)(n + 1) * 8);
        for (int64_t i = 0; i < n; i++)
            g[i] = ((float *)pb.x)[i];
        double d = sp_normwise_floor(g, ref.gx, n, GRAD_FLOOR);
        if (!(d <= 1e-6))
            fail_msg("%s: in-place gradient differs by %.3g", pb.desc, d);
        free(g), free(acc), free(part);
        sp_result_free(&ref);
        sp_free(&pb);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sweep),
        cmocka_unit_test(test_all_shard_counts),
        cmocka_unit_test(test_combine_algebra),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_in_place),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
