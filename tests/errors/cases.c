/*
 * The bad-input catalogue: one row per case of docs/errors.md (same id, status and message).
 * Each `b_*` function breaks exactly one thing of a valid base call.
 */
#include "errfx.h"

#include <math.h>

#define P62 ((int64_t)1 << 62)
#define P61 ((int64_t)1 << 61)

static void soft_target(ef_call *c, ef_arena *a) {
    const int64_t s[2] = {EF_N, EF_C};
    c->t = ef_tensor(SOFTCE_DTYPE_F32, 2, s, a->ts);
}

static void with_weight(ef_call *c) { c->o.weight = &c->w; }

/* ---- NULL pointers ------------------------------------------------------------------ */
static void b_logits_null(ef_call *c, ef_arena *a) { (void)a, c->px = NULL; }
static void b_target_null(ef_call *c, ef_arena *a) { (void)a, c->pt = NULL; }
static void b_loss_null(ef_call *c, ef_arena *a) { (void)a, c->ploss = NULL; }
static void b_grad_null(ef_call *c, ef_arena *a) { (void)a, c->pgx = NULL; }
static void b_data_null(ef_call *c, ef_arena *a) { (void)a, c->x.data = NULL; }
static void b_weight_data_null(ef_call *c, ef_arena *a) {
    (void)a, with_weight(c), c->w.data = NULL;
}
static void b_init_t_null(ef_call *c, ef_arena *a) { (void)a, c->ti_null_t = 1; }
static void b_init_shape_null(ef_call *c, ef_arena *a) { (void)a, c->ti_null_shape = 1; }

/* ---- struct_size / reserved ----------------------------------------------------------- */
static void b_size_zero(ef_call *c, ef_arena *a) { (void)a, c->x.struct_size = 0; }
static void b_size_big(ef_call *c, ef_arena *a) { (void)a, c->gx.struct_size = 160; }
static void b_reserved(ef_call *c, ef_arena *a) { (void)a, c->t.reserved = 1; }
static void b_opts_small(ef_call *c, ef_arena *a) { (void)a, c->o.struct_size = 32; }
static void b_opts_big(ef_call *c, ef_arena *a) { (void)a, c->o.struct_size = 144; }
static void b_opts_between(ef_call *c, ef_arena *a) { (void)a, c->o.struct_size = 48; }
static void b_opts_reserved(ef_call *c, ef_arena *a) { (void)a, c->o.reserved = 1; }

/* ---- dtypes --------------------------------------------------------------------------- */
static void b_dtype_zero(ef_call *c, ef_arena *a) { (void)a, c->x.dtype = 0; }
static void b_dtype_seven(ef_call *c, ef_arena *a) { (void)a, c->loss.dtype = 7; }
static void b_int_logits(ef_call *c, ef_arena *a) { (void)a, c->x.dtype = SOFTCE_DTYPE_I32; }
static void b_weight_f16(ef_call *c, ef_arena *a) {
    (void)a, with_weight(c), c->w.dtype = SOFTCE_DTYPE_F16;
}
static void b_int_loss(ef_call *c, ef_arena *a) { (void)a, c->loss.dtype = SOFTCE_DTYPE_I64; }
static void b_int_grad_loss(ef_call *c, ef_arena *a) {
    (void)a, c->gl.dtype = SOFTCE_DTYPE_I32, c->pgl = &c->gl;
}
static void b_hard_grad_target(ef_call *c, ef_arena *a) { (void)a, c->pgt = &c->gt; }
static void b_init_dtype(ef_call *c, ef_arena *a) { (void)a, c->ti_dtype = 99; }

/* ---- ndim ----------------------------------------------------------------------------- */
static void b_ndim_nine(ef_call *c, ef_arena *a) { (void)a, c->x.ndim = 9; }
static void b_ndim_negative(ef_call *c, ef_arena *a) { (void)a, c->gx.ndim = -1; }
static void b_ndim_zero_logits(ef_call *c, ef_arena *a) { (void)a, c->x.ndim = 0; }
static void b_init_ndim(ef_call *c, ef_arena *a) { (void)a, c->ti_ndim = 9; }

/* ---- shapes --------------------------------------------------------------------------- */
static void b_shape_negative(ef_call *c, ef_arena *a) { (void)a, c->x.shape[0] = -3; }
static void b_no_classes(ef_call *c, ef_arena *a) { (void)a, c->x.shape[1] = 0; }
static void b_no_classes_1d(ef_call *c, ef_arena *a) {
    const int64_t s[1] = {0};
    c->x = ef_tensor(SOFTCE_DTYPE_F32, 1, s, a->x);
    c->gx = ef_tensor(SOFTCE_DTYPE_F32, 1, s, a->gx);
}
static void b_hard_target_shape(ef_call *c, ef_arena *a) { (void)a, c->t.shape[0] = 2; }
static void b_soft_target_ndim(ef_call *c, ef_arena *a) {
    const int64_t s[1] = {EF_N};
    c->t = ef_tensor(SOFTCE_DTYPE_F32, 1, s, a->ts);
}
static void b_soft_target_shape(ef_call *c, ef_arena *a) {
    const int64_t s[2] = {EF_N, EF_C + 1};
    c->t = ef_tensor(SOFTCE_DTYPE_F32, 2, s, a->ts);
}
static void b_weight_length(ef_call *c, ef_arena *a) {
    (void)a, with_weight(c), c->w.shape[0] = EF_C + 1;
}
static void b_weight_ndim(ef_call *c, ef_arena *a) {
    const int64_t s[2] = {1, EF_C};
    c->w = ef_tensor(SOFTCE_DTYPE_F32, 2, s, a->w), with_weight(c);
}
static void b_mean_loss_shaped(ef_call *c, ef_arena *a) {
    const int64_t s[1] = {EF_N};
    c->loss = ef_tensor(SOFTCE_DTYPE_F32, 1, s, a->lossn);
}
static void b_none_loss_scalar(ef_call *c, ef_arena *a) {
    (void)a, c->o.reduction = SOFTCE_REDUCTION_NONE;
}
static void b_none_loss_length(ef_call *c, ef_arena *a) {
    const int64_t s[1] = {EF_N + 1};
    c->o.reduction = SOFTCE_REDUCTION_NONE;
    c->loss = ef_tensor(SOFTCE_DTYPE_F32, 1, s, a->lossn);
}
static void b_lse_length(ef_call *c, ef_arena *a) {
    (void)a, c->lse.shape[0] = EF_N - 1, c->plse = &c->lse;
}
static void b_lse_in_ndim(ef_call *c, ef_arena *a) {
    const int64_t s[2] = {EF_N, 1};
    c->lse_in = ef_tensor(SOFTCE_DTYPE_F32, 2, s, a->lse_in), c->plse_in = &c->lse_in;
}
static void b_grad_shape(ef_call *c, ef_arena *a) { (void)a, c->gx.shape[1] = EF_C + 1; }
static void b_none_grad_loss_scalar(ef_call *c, ef_arena *a) {
    (void)a, c->o.reduction = SOFTCE_REDUCTION_NONE, c->pgl = &c->gl, c->ploss = NULL;
}
static void b_init_shape_negative(ef_call *c, ef_arena *a) { (void)a, c->ti_shape[1] = -1; }

/* ---- strides -------------------------------------------------------------------------- */
static void b_stride_negative(ef_call *c, ef_arena *a) { (void)a, c->x.strides[1] = -1; }
static void b_out_stride_zero(ef_call *c, ef_arena *a) { (void)a, c->gx.strides[0] = 0; }
static void b_out_rows_overlap(ef_call *c, ef_arena *a) { (void)a, c->gx.strides[0] = 3; }
static void b_loss_stride_zero(ef_call *c, ef_arena *a) {
    const int64_t s[1] = {EF_N};
    c->o.reduction = SOFTCE_REDUCTION_NONE;
    c->loss = ef_tensor(SOFTCE_DTYPE_F32, 1, s, a->lossn);
    c->loss.strides[0] = 0;
}
static void b_out_equal_strides(ef_call *c, ef_arena *a) {
    soft_target(c, a);
    c->pgt = &c->gt, c->gt.strides[0] = 1, c->gt.strides[1] = 1;
}

/* ---- int64 overflow ------------------------------------------------------------------- */
static void b_numel_overflow(ef_call *c, ef_arena *a) { (void)a, c->x.shape[0] = INT64_MAX / 2; }
static void b_step_overflow(ef_call *c, ef_arena *a) { (void)a, c->x.strides[0] = P62; }
static void b_offset_sum_overflow(ef_call *c, ef_arena *a) {
    (void)a, c->x.shape[0] = 2, c->x.strides[0] = P62, c->x.strides[1] = P61;
}
static void b_bytes_overflow(ef_call *c, ef_arena *a) { (void)a, c->x.strides[0] = P61; }
static void b_offset_max(ef_call *c, ef_arena *a) {
    (void)a, c->x.shape[0] = 2, c->x.strides[0] = INT64_MAX, c->x.strides[1] = 0;
}
static void b_init_overflow(ef_call *c, ef_arena *a) {
    (void)a, c->ti_shape[0] = (int64_t)1 << 32, c->ti_shape[1] = (int64_t)1 << 32;
}

/* ---- overlaps ------------------------------------------------------------------------- */
static void b_grad_shifted(ef_call *c, ef_arena *a) { c->gx.data = a->x + 1; }
static void b_inplace_dtype(ef_call *c, ef_arena *a) {
    c->gx.data = a->x, c->gx.dtype = SOFTCE_DTYPE_F64;
}
static void b_inplace_transposed(ef_call *c, ef_arena *a) {
    c->gx.data = a->x, c->gx.strides[0] = 1, c->gx.strides[1] = EF_N;
}
static void b_lse_on_loss(ef_call *c, ef_arena *a) { c->lse.data = &a->loss0, c->plse = &c->lse; }
static void b_loss_on_target(ef_call *c, ef_arena *a) { c->loss.data = a->th; }
static void b_grads_together(ef_call *c, ef_arena *a) {
    soft_target(c, a);
    c->pgt = &c->gt, c->gt.data = a->gx;
}
static void b_grad_on_target(ef_call *c, ef_arena *a) { soft_target(c, a), c->gx.data = a->ts; }
static void b_lse_on_logits(ef_call *c, ef_arena *a) { c->lse.data = a->x, c->plse = &c->lse; }
static void b_loss_on_grad_loss(ef_call *c, ef_arena *a) {
    c->pgl = &c->gl, c->loss.data = &a->gl0;
}
static void b_grad_on_lse_in(ef_call *c, ef_arena *a) {
    c->plse_in = &c->lse_in, c->lse_in.data = a->gx;
}
static void b_grad_on_weight(ef_call *c, ef_arena *a) { with_weight(c), c->w.data = a->gx; }

/* ---- options -------------------------------------------------------------------------- */
static void b_reduction_zero(ef_call *c, ef_arena *a) { (void)a, c->o.reduction = 0; }
static void b_reduction_four(ef_call *c, ef_arena *a) { (void)a, c->o.reduction = 4; }
static void b_smoothing_negative(ef_call *c, ef_arena *a) { (void)a, c->o.label_smoothing = -0.25; }
static void b_smoothing_big(ef_call *c, ef_arena *a) { (void)a, c->o.label_smoothing = 1.5; }
static void b_smoothing_nan(ef_call *c, ef_arena *a) { (void)a, c->o.label_smoothing = NAN; }
static void b_smoothing_inf(ef_call *c, ef_arena *a) { (void)a, c->o.label_smoothing = INFINITY; }
static void b_smoothing_minf(ef_call *c, ef_arena *a) { (void)a, c->o.label_smoothing = -INFINITY; }
static void b_threads_negative(ef_call *c, ef_arena *a) { (void)a, c->o.num_threads = -1; }
static void b_threads_min(ef_call *c, ef_arena *a) { (void)a, c->o.num_threads = INT32_MIN; }
static void b_flags_low(ef_call *c, ef_arena *a) { (void)a, c->o.flags = 2u; }
static void b_flags_kl_and_unknown(ef_call *c, ef_arena *a) {
    (void)a, c->o.flags = SOFTCE_FLAG_KL | 4u;
}
static void b_flags_high(ef_call *c, ef_arena *a) { (void)a, c->o.flags = 0x80000000u; }
static void b_reduction_seven(ef_call *c, ef_arena *a) { (void)a, c->o.reduction = 7; }

/* ---- options added in 1.1 ------------------------------------------------------------- */
static void b_zloss_negative(ef_call *c, ef_arena *a) { (void)a, c->o.z_loss = -1.0; }
static void b_zloss_nan(ef_call *c, ef_arena *a) { (void)a, c->o.z_loss = NAN; }
static void b_zloss_inf(ef_call *c, ef_arena *a) { (void)a, c->o.z_loss = INFINITY; }
static void b_softcap_negative(ef_call *c, ef_arena *a) { (void)a, c->o.softcap = -0.5; }
static void b_softcap_inf(ef_call *c, ef_arena *a) { (void)a, c->o.softcap = INFINITY; }
static void b_scale_zero(ef_call *c, ef_arena *a) { (void)a, c->o.logit_scale = 0.0; }
static void b_scale_nan(ef_call *c, ef_arena *a) { (void)a, c->o.logit_scale = NAN; }
static void b_scale_minf(ef_call *c, ef_arena *a) { (void)a, c->o.logit_scale = -INFINITY; }
static void b_denominator_five(ef_call *c, ef_arena *a) { (void)a, c->o.denominator = 5; }
static void b_denominator_negative(ef_call *c, ef_arena *a) { (void)a, c->o.denominator = -1; }
static void b_den_value_zero(ef_call *c, ef_arena *a) {
    (void)a, c->o.denominator = SOFTCE_DENOMINATOR_VALUE, c->o.denominator_value = 0.0;
}
static void b_den_value_nan(ef_call *c, ef_arena *a) {
    (void)a, c->o.denominator = SOFTCE_DENOMINATOR_VALUE, c->o.denominator_value = NAN;
}
static void b_empty_three(ef_call *c, ef_arena *a) { (void)a, c->o.empty = 3; }
static void b_smoothing_kind(ef_call *c, ef_arena *a) { (void)a, c->o.smoothing = 2; }
static void b_prior_others(ef_call *c, ef_arena *a) {
    (void)a, c->o.smoothing_prior = &c->prior, c->o.smoothing = SOFTCE_SMOOTHING_OTHERS;
}
static void b_out_lse_backward(ef_call *c, ef_arena *a) { (void)a, c->o.out_lse = &c->olse; }
static void b_out_zloss_log_softmax(ef_call *c, ef_arena *a) { (void)a, c->o.out_z_loss = &c->ozl; }
static void b_out_lse_and_lse(ef_call *c, ef_arena *a) {
    (void)a, c->o.out_lse = &c->olse, c->plse = &c->lse;
}
static void b_sw_int(ef_call *c, ef_arena *a) {
    (void)a, c->o.sample_weight = &c->sw, c->sw.dtype = SOFTCE_DTYPE_I32;
}
static void b_sw_length(ef_call *c, ef_arena *a) {
    (void)a, c->o.sample_weight = &c->sw, c->sw.shape[0] = EF_N - 1;
}
static void b_sw_data_null(ef_call *c, ef_arena *a) {
    (void)a, c->o.sample_weight = &c->sw, c->sw.data = NULL;
}
static void b_prior_int(ef_call *c, ef_arena *a) {
    (void)a, c->o.smoothing_prior = &c->prior, c->prior.dtype = SOFTCE_DTYPE_I64;
}
static void b_prior_length(ef_call *c, ef_arena *a) {
    (void)a, c->o.smoothing_prior = &c->prior, c->prior.shape[0] = EF_C + 1;
}
static void b_prior_ndim(ef_call *c, ef_arena *a) {
    const int64_t s[2] = {1, EF_C};
    c->prior = ef_tensor(SOFTCE_DTYPE_F32, 2, s, a->prior), c->o.smoothing_prior = &c->prior;
}
static void b_out_lse_int(ef_call *c, ef_arena *a) {
    (void)a, c->o.out_lse = &c->olse, c->olse.dtype = SOFTCE_DTYPE_I32;
}
static void b_out_lse_length(ef_call *c, ef_arena *a) {
    (void)a, c->o.out_lse = &c->olse, c->olse.shape[0] = EF_N + 1;
}
static void b_argmax_float(ef_call *c, ef_arena *a) {
    (void)a, c->o.out_argmax = &c->oarg, c->oarg.dtype = SOFTCE_DTYPE_F32;
}
static void b_argmax_i32_too_small(ef_call *c, ef_arena *a) {
    const int64_t xs[2] = {1, (int64_t)INT32_MAX + 2}, ts[1] = {1};
    c->x = ef_tensor(SOFTCE_DTYPE_F32, 2, xs, a->x);
    c->x.strides[0] = c->x.strides[1] = 0; /* one logit broadcast: nothing is allocated */
    c->t = ef_tensor(SOFTCE_DTYPE_I64, 1, ts, a->th);
    c->oarg = ef_tensor(SOFTCE_DTYPE_I32, 1, ts, a->oarg), c->o.out_argmax = &c->oarg;
}
static void b_argmax_ndim(ef_call *c, ef_arena *a) {
    const int64_t s[2] = {EF_N, 1};
    c->oarg = ef_tensor(SOFTCE_DTYPE_I64, 2, s, a->oarg), c->o.out_argmax = &c->oarg;
}
static void b_correct_dtype(ef_call *c, ef_arena *a) {
    (void)a, c->o.out_correct = &c->ocor, c->ocor.dtype = 0;
}
static void b_correct_length(ef_call *c, ef_arena *a) {
    (void)a, c->o.out_correct = &c->ocor, c->ocor.shape[0] = 1;
}
static void b_zloss_out_int(ef_call *c, ef_arena *a) {
    (void)a, c->o.out_z_loss = &c->ozl, c->ozl.dtype = SOFTCE_DTYPE_I64;
}
static void b_zloss_out_stride(ef_call *c, ef_arena *a) {
    (void)a, c->o.out_z_loss = &c->ozl, c->ozl.strides[0] = 0;
}
static void b_out_lse_on_logits(ef_call *c, ef_arena *a) {
    c->o.out_lse = &c->olse, c->olse.data = a->x + 5;
}
static void b_argmax_on_loss(ef_call *c, ef_arena *a) {
    c->o.out_argmax = &c->oarg, c->oarg.dtype = SOFTCE_DTYPE_I32, c->oarg.data = &a->loss0;
}
static void b_correct_on_sw(ef_call *c, ef_arena *a) {
    c->o.sample_weight = &c->sw, c->o.out_correct = &c->ocor, c->ocor.data = a->sw + 1;
}
static void b_grad_on_prior(ef_call *c, ef_arena *a) {
    c->o.smoothing_prior = &c->prior, c->prior.data = a->gx + 4;
}
static void b_zloss_out_on_out_lse(ef_call *c, ef_arena *a) {
    c->o.out_lse = &c->olse, c->o.out_z_loss = &c->ozl, c->ozl.data = a->olse + 2;
}
static void b_empty_masked(ef_call *c, ef_arena *a) {
    for (int i = 0; i < EF_N; i++)
        a->sw[i] = 0.0f;
    c->o.sample_weight = &c->sw, c->o.denominator = SOFTCE_DENOMINATOR_VALID;
    c->o.empty = SOFTCE_EMPTY_ERROR, c->o.out_lse = &c->olse, c->o.out_argmax = &c->oarg;
}
static void b_empty_no_elements(ef_call *c, ef_arena *a) {
    (void)a, c->x.shape[0] = 0, c->t.shape[0] = 0, c->gx.shape[0] = 0;
    c->o.empty = SOFTCE_EMPTY_ERROR;
}
static void b_empty_zero_weights(ef_call *c, ef_arena *a) {
    for (int i = 0; i < EF_C; i++)
        a->w[i] = 0.0f;
    with_weight(c), c->o.empty = SOFTCE_EMPTY_ERROR;
}
static void b_empty_soft_weights(ef_call *c, ef_arena *a) {
    soft_target(c, a);
    for (int i = 0; i < EF_N; i++)
        a->sw[i] = 0.0f;
    c->o.sample_weight = &c->sw, c->o.denominator = SOFTCE_DENOMINATOR_WEIGHTS;
    c->o.empty = SOFTCE_EMPTY_ERROR;
}
static void b_empty_after_target(ef_call *c, ef_arena *a) {
    b_empty_zero_weights(c, a), a->th[2] = EF_C;
}

/* ---- class indices -------------------------------------------------------------------- */
static void b_target_high(ef_call *c, ef_arena *a) { (void)c, a->th[1] = EF_C; }
static void b_target_negative(ef_call *c, ef_arena *a) { (void)c, a->th[0] = -1; }
static void b_target_min(ef_call *c, ef_arena *a) { (void)c, a->th[2] = INT64_MIN; }
static void b_target_after_ignored(ef_call *c, ef_arena *a) {
    c->o.ignore_index = 7, a->th[0] = 7, a->th[1] = EF_C;
}
static void b_target_first_of_many(ef_call *c, ef_arena *a) {
    const int64_t xs[2] = {EF_BIG_N, EF_BIG_C}, ts[1] = {EF_BIG_N};
    c->x = ef_tensor(SOFTCE_DTYPE_F32, 2, xs, a->bx);
    c->gx = ef_tensor(SOFTCE_DTYPE_F32, 2, xs, a->bgx);
    c->t = ef_tensor(SOFTCE_DTYPE_I64, 1, ts, a->bt);
    c->o.num_threads = 2;
    a->bt[17000] = -3, a->bt[5000] = EF_BIG_C;
}
static void b_target_row_major(ef_call *c, ef_arena *a) {
    const int64_t xs[3] = {2, EF_C, 3}, ts[2] = {2, 3};
    c->x = ef_tensor(SOFTCE_DTYPE_F32, 3, xs, a->x3);
    c->t = ef_tensor(SOFTCE_DTYPE_I32, 2, ts, a->t3);
    c->t.strides[0] = 1, c->t.strides[1] = 2; /* stored column-major */
    a->t3[1] = 5;                             /* element (1, 0): row-major index 3, stored first */
    a->t3[4] = 9;                             /* element (0, 2): row-major index 2 */
}

#define STATUS(s) SOFTCE_ERROR_##s
#define CASE(id, op, fn, st, msg)                                                                  \
    { id, EF_##op, fn, STATUS(st), msg }
#define INPLACE_HINT " (in place needs the same data, dtype, shape and strides)"
#define TARGET_HINT "class indices = logits shape without the class axis"
#define OPTS "136 (or 40, release 1.0)"
#define ONLY_FWD " is only written by softce_forward and softce_forward_backward"
#define DENOMS "AUTO (0), VALID (1), WEIGHTS (2), ELEMENTS (3) or VALUE (4)"
#define EMPTY_ERROR(n) "the mean's denominator is 0 (" n " elements) and empty = ERROR"

const ef_case ef_cases[] = {
    CASE("E01", FORWARD, b_logits_null, NULL_POINTER, "logits is NULL"),
    CASE("E02", FUSED, b_target_null, NULL_POINTER, "target is NULL"),
    CASE("E03", FORWARD, b_loss_null, NULL_POINTER, "loss is NULL"),
    CASE("E04", FUSED, b_grad_null, NULL_POINTER, "grad_logits is NULL"),
    CASE("E05", BACKWARD, b_grad_null, NULL_POINTER,
         "grad_logits and grad_target are both NULL: nothing to compute"),
    CASE("E06", LOG_SOFTMAX, b_grad_null, NULL_POINTER, "out is NULL"),
    CASE("E07", FORWARD, b_data_null, NULL_POINTER, "logits: data is NULL"),
    CASE("E08", FUSED, b_weight_data_null, NULL_POINTER, "weight: data is NULL"),
    CASE("E09", TENSOR_INIT, b_init_t_null, NULL_POINTER, "softce_tensor_init: t is NULL"),
    CASE("E10", TENSOR_INIT, b_init_shape_null, NULL_POINTER, "softce_tensor_init: shape is NULL"),
    CASE("E11", FORWARD, b_size_zero, STRUCT_SIZE, "logits: struct_size = 0, expected 152"),
    CASE("E12", BACKWARD, b_size_big, STRUCT_SIZE, "grad_logits: struct_size = 160, expected 152"),
    CASE("E13", FORWARD, b_reserved, STRUCT_SIZE, "target: reserved = 1, must be 0"),
    CASE("E14", FUSED, b_opts_small, STRUCT_SIZE, "options: struct_size = 32, expected " OPTS),
    CASE("E15", FUSED, b_opts_big, STRUCT_SIZE, "options: struct_size = 144, expected " OPTS),
    CASE("E16", FORWARD, b_dtype_zero, DTYPE, "logits: unknown dtype 0"),
    CASE("E17", FORWARD, b_dtype_seven, DTYPE, "loss: unknown dtype 7"),
    CASE("E18", FORWARD, b_int_logits, DTYPE, "logits: dtype i32 is not f32, f64, f16 or bf16"),
    CASE("E19", FUSED, b_weight_f16, DTYPE, "weight: dtype f16 is not f32 or f64"),
    CASE("E20", FORWARD, b_int_loss, DTYPE, "loss: dtype i64 is not a float type"),
    CASE("E21", BACKWARD, b_int_grad_loss, DTYPE, "grad_loss: dtype i32 is not a float type"),
    CASE("E22", BACKWARD, b_hard_grad_target, DTYPE,
         "grad_target: class-index targets (i32/i64) have no gradient"),
    CASE("E23", TENSOR_INIT, b_init_dtype, DTYPE, "softce_tensor_init: unknown dtype 99"),
    CASE("E24", FORWARD, b_ndim_nine, NDIM, "logits: ndim = 9 is outside [0, 8]"),
    CASE("E25", BACKWARD, b_ndim_negative, NDIM, "grad_logits: ndim = -1 is outside [0, 8]"),
    CASE("E26", LOG_SOFTMAX, b_ndim_zero_logits, NDIM,
         "logits: ndim = 0, expected (C), (N, C) or (N, C, d1, ...)"),
    CASE("E27", TENSOR_INIT, b_init_ndim, NDIM, "softce_tensor_init: ndim = 9 is outside [0, 8]"),
    CASE("E28", FORWARD, b_shape_negative, SHAPE, "logits: shape[0] = -3 is negative"),
    CASE("E29", FORWARD, b_no_classes, SHAPE, "logits: the class axis (dim 1) has size 0"),
    CASE("E30", LOG_SOFTMAX, b_no_classes_1d, SHAPE, "logits: the class axis (dim 0) has size 0"),
    CASE("E31", FORWARD, b_hard_target_shape, SHAPE,
         "target: shape[0] = 2, expected 3 (" TARGET_HINT ")"),
    CASE("E32", FORWARD, b_soft_target_ndim, SHAPE,
         "target: ndim = 1, expected 2 (soft target = logits shape)"),
    CASE("E33", FUSED, b_soft_target_shape, SHAPE,
         "target: shape[1] = 5, expected 4 (soft target = logits shape)"),
    CASE("E34", FUSED, b_weight_length, SHAPE, "weight: shape[0] = 5, expected 4 ((C))"),
    CASE("E35", FUSED, b_weight_ndim, SHAPE, "weight: ndim = 2, expected 1 ((C))"),
    CASE("E36", FORWARD, b_mean_loss_shaped, SHAPE,
         "loss: ndim = 1, expected 0 (0-d for mean/sum)"),
    CASE("E37", FORWARD, b_none_loss_scalar, SHAPE,
         "loss: ndim = 0, expected 1 (per element for none)"),
    CASE("E38", FORWARD, b_none_loss_length, SHAPE,
         "loss: shape[0] = 4, expected 3 (per element for none)"),
    CASE("E39", FORWARD, b_lse_length, SHAPE, "lse: shape[0] = 2, expected 3 (per element)"),
    CASE("E40", BACKWARD, b_lse_in_ndim, SHAPE, "lse: ndim = 2, expected 1 (per element)"),
    CASE("E41", BACKWARD, b_grad_shape, SHAPE,
         "grad_logits: shape[1] = 5, expected 4 (logits shape)"),
    CASE("E42", FUSED, b_none_grad_loss_scalar, SHAPE,
         "grad_loss: ndim = 0, expected 1 (per element for none)"),
    CASE("E43", TENSOR_INIT, b_init_shape_negative, SHAPE,
         "softce_tensor_init: shape[1] = -1 is negative"),
    CASE("E44", FORWARD, b_stride_negative, STRIDE, "logits: strides[1] = -1 is negative"),
    CASE("E45", BACKWARD, b_out_stride_zero, STRIDE,
         "grad_logits: strides[0] = 0 makes the output overlap itself"),
    CASE("E46", FUSED, b_out_rows_overlap, STRIDE,
         "grad_logits: strides[0] = 3 makes the output overlap itself"),
    CASE("E47", FORWARD, b_loss_stride_zero, STRIDE,
         "loss: strides[0] = 0 makes the output overlap itself"),
    CASE("E48", BACKWARD, b_out_equal_strides, STRIDE,
         "grad_target: strides[1] = 1 makes the output overlap itself"),
    CASE("E49", FORWARD, b_numel_overflow, OVERFLOW,
         "logits: the number of elements overflows int64"),
    CASE("E50", FORWARD, b_step_overflow, OVERFLOW,
         "logits: shape[0] * strides[0] overflows int64"),
    CASE("E51", FORWARD, b_offset_sum_overflow, OVERFLOW,
         "logits: shape[1] * strides[1] overflows int64"),
    CASE("E52", FORWARD, b_bytes_overflow, OVERFLOW, "logits: the memory span overflows"),
    CASE("E53", TENSOR_INIT, b_init_overflow, OVERFLOW,
         "softce_tensor_init: the number of elements overflows int64"),
    CASE("E54", FUSED, b_grad_shifted, OVERLAP,
         "grad_logits overlaps logits in memory" INPLACE_HINT),
    CASE("E55", FUSED, b_inplace_dtype, OVERLAP,
         "grad_logits overlaps logits in memory" INPLACE_HINT),
    CASE("E56", FUSED, b_inplace_transposed, OVERLAP,
         "grad_logits overlaps logits in memory" INPLACE_HINT),
    CASE("E57", FORWARD, b_lse_on_loss, OVERLAP, "lse overlaps loss in memory"),
    CASE("E58", FORWARD, b_loss_on_target, OVERLAP, "loss overlaps target in memory"),
    CASE("E59", BACKWARD, b_grads_together, OVERLAP, "grad_target overlaps grad_logits in memory"),
    CASE("E60", BACKWARD, b_grad_on_target, OVERLAP, "grad_logits overlaps target in memory"),
    CASE("E61", FORWARD, b_lse_on_logits, OVERLAP, "lse overlaps logits in memory"),
    CASE("E62", FUSED, b_loss_on_grad_loss, OVERLAP, "loss overlaps grad_loss in memory"),
    CASE("E63", BACKWARD, b_grad_on_lse_in, OVERLAP, "grad_logits overlaps lse in memory"),
    CASE("E64", FUSED, b_grad_on_weight, OVERLAP, "grad_logits overlaps weight in memory"),
    CASE("E65", FORWARD, b_reduction_zero, OPTION,
         "options: reduction = 0 is not MEAN (1), SUM (2) or NONE (3)"),
    CASE("E66", FORWARD, b_reduction_four, OPTION,
         "options: reduction = 4 is not MEAN (1), SUM (2) or NONE (3)"),
    CASE("E67", LOG_SOFTMAX, b_reduction_seven, OPTION,
         "options: reduction = 7 is not MEAN (1), SUM (2) or NONE (3)"),
    CASE("E68", FUSED, b_smoothing_negative, OPTION,
         "options: label_smoothing = -0.25 is outside [0, 1]"),
    CASE("E69", FUSED, b_smoothing_big, OPTION, "options: label_smoothing = 1.5 is outside [0, 1]"),
    CASE("E70", FUSED, b_smoothing_nan, OPTION, "options: label_smoothing = nan is outside [0, 1]"),
    CASE("E71", FORWARD, b_smoothing_inf, OPTION,
         "options: label_smoothing = inf is outside [0, 1]"),
    CASE("E72", BACKWARD, b_smoothing_minf, OPTION,
         "options: label_smoothing = -inf is outside [0, 1]"),
    CASE("E73", FUSED, b_threads_negative, OPTION, "options: num_threads = -1 is negative"),
    CASE("E74", LOG_SOFTMAX, b_threads_min, OPTION,
         "options: num_threads = -2147483648 is negative"),
    CASE("E75", FORWARD, b_flags_low, OPTION, "options: unknown flags 0x2"),
    CASE("E76", LOG_SOFTMAX, b_flags_high, OPTION, "options: unknown flags 0x80000000"),
    CASE("E77", FORWARD, b_target_high, TARGET, "target[1] = 4 is outside [0, 4)"),
    CASE("E78", FUSED, b_target_negative, TARGET, "target[0] = -1 is outside [0, 4)"),
    CASE("E79", BACKWARD, b_target_min, TARGET,
         "target[2] = -9223372036854775808 is outside [0, 4)"),
    CASE("E80", FORWARD, b_target_after_ignored, TARGET, "target[1] = 4 is outside [0, 4)"),
    CASE("E81", FUSED, b_target_first_of_many, TARGET, "target[5000] = 4 is outside [0, 4)"),
    CASE("E82", FORWARD, b_target_row_major, TARGET, "target[2] = 9 is outside [0, 4)"),
    CASE("E83", FORWARD, b_offset_max, OVERFLOW, "logits: the memory span overflows"),
    CASE("E84", FUSED, b_opts_between, STRUCT_SIZE, "options: struct_size = 48, expected " OPTS),
    CASE("E85", FORWARD, b_opts_reserved, STRUCT_SIZE, "options: reserved = 1, must be 0"),
    CASE("E86", BACKWARD, b_flags_kl_and_unknown, OPTION, "options: unknown flags 0x4"),
    CASE("E87", FORWARD, b_zloss_negative, OPTION, "options: z_loss = -1 is not finite and >= 0"),
    CASE("E88", FUSED, b_zloss_nan, OPTION, "options: z_loss = nan is not finite and >= 0"),
    CASE("E89", LOG_SOFTMAX, b_zloss_inf, OPTION, "options: z_loss = inf is not finite and >= 0"),
    CASE("E90", FORWARD, b_softcap_negative, OPTION,
         "options: softcap = -0.5 is neither 0 (off) nor finite and > 0"),
    CASE("E91", BACKWARD, b_softcap_inf, OPTION,
         "options: softcap = inf is neither 0 (off) nor finite and > 0"),
    CASE("E92", FUSED, b_scale_zero, OPTION, "options: logit_scale = 0 is not finite and > 0"),
    CASE("E93", FORWARD, b_scale_nan, OPTION, "options: logit_scale = nan is not finite and > 0"),
    CASE("E94", FORWARD, b_scale_minf, OPTION, "options: logit_scale = -inf is not finite and > 0"),
    CASE("E95", FUSED, b_denominator_five, OPTION, "options: denominator = 5 is not " DENOMS),
    CASE("E96", FORWARD, b_denominator_negative, OPTION,
         "options: denominator = -1 is not " DENOMS),
    CASE("E97", FUSED, b_den_value_zero, OPTION,
         "options: denominator_value = 0 is not finite and > 0"),
    CASE("E98", BACKWARD, b_den_value_nan, OPTION,
         "options: denominator_value = nan is not finite and > 0"),
    CASE("E99", FORWARD, b_empty_three, OPTION,
         "options: empty = 3 is not NAN (0), ZERO (1) or ERROR (2)"),
    CASE("E100", FUSED, b_smoothing_kind, OPTION,
         "options: smoothing = 2 is not UNIFORM (0) or OTHERS (1)"),
    CASE("E101", FORWARD, b_prior_others, OPTION,
         "options: smoothing_prior needs smoothing = UNIFORM (0)"),
    CASE("E102", BACKWARD, b_out_lse_backward, OPTION, "options: out_lse" ONLY_FWD),
    CASE("E103", LOG_SOFTMAX, b_out_zloss_log_softmax, OPTION, "options: out_z_loss" ONLY_FWD),
    CASE("E104", FORWARD, b_out_lse_and_lse, OPTION,
         "options: out_lse and the lse argument are both given"),
    CASE("E105", FUSED, b_sw_int, DTYPE, "sample_weight: dtype i32 is not a float type"),
    CASE("E106", FORWARD, b_sw_length, SHAPE,
         "sample_weight: shape[0] = 2, expected 3 (per element)"),
    CASE("E107", BACKWARD, b_sw_data_null, NULL_POINTER, "sample_weight: data is NULL"),
    CASE("E108", FORWARD, b_prior_int, DTYPE, "smoothing_prior: dtype i64 is not a float type"),
    CASE("E109", FUSED, b_prior_length, SHAPE, "smoothing_prior: shape[0] = 5, expected 4 ((C))"),
    CASE("E110", BACKWARD, b_prior_ndim, SHAPE, "smoothing_prior: ndim = 2, expected 1 ((C))"),
    CASE("E111", FORWARD, b_out_lse_int, DTYPE, "out_lse: dtype i32 is not a float type"),
    CASE("E112", FUSED, b_out_lse_length, SHAPE, "out_lse: shape[0] = 4, expected 3 (per element)"),
    CASE("E113", FORWARD, b_argmax_float, DTYPE, "out_argmax: dtype f32 is not i32 or i64"),
    CASE("E114", FORWARD, b_argmax_i32_too_small, DTYPE,
         "out_argmax: i32 cannot hold class 2147483648"),
    CASE("E115", FUSED, b_argmax_ndim, SHAPE, "out_argmax: ndim = 2, expected 1 (per element)"),
    CASE("E116", FORWARD, b_correct_dtype, DTYPE, "out_correct: unknown dtype 0"),
    CASE("E117", FUSED, b_correct_length, SHAPE,
         "out_correct: shape[0] = 1, expected 3 (per element)"),
    CASE("E118", FORWARD, b_zloss_out_int, DTYPE, "out_z_loss: dtype i64 is not a float type"),
    CASE("E119", FUSED, b_zloss_out_stride, STRIDE,
         "out_z_loss: strides[0] = 0 makes the output overlap itself"),
    CASE("E120", FORWARD, b_out_lse_on_logits, OVERLAP, "out_lse overlaps logits in memory"),
    CASE("E121", FUSED, b_argmax_on_loss, OVERLAP, "out_argmax overlaps loss in memory"),
    CASE("E122", FORWARD, b_correct_on_sw, OVERLAP, "out_correct overlaps sample_weight in memory"),
    CASE("E123", FUSED, b_grad_on_prior, OVERLAP, "grad_logits overlaps smoothing_prior in memory"),
    CASE("E124", FORWARD, b_zloss_out_on_out_lse, OVERLAP, "out_z_loss overlaps out_lse in memory"),
    CASE("E125", FORWARD, b_empty_masked, EMPTY_MEAN, EMPTY_ERROR("3")),
    CASE("E126", FUSED, b_empty_no_elements, EMPTY_MEAN, EMPTY_ERROR("0")),
    CASE("E127", BACKWARD, b_empty_zero_weights, EMPTY_MEAN, EMPTY_ERROR("3")),
    CASE("E128", FUSED, b_empty_soft_weights, EMPTY_MEAN, EMPTY_ERROR("3")),
    CASE("E129", FORWARD, b_empty_after_target, TARGET, "target[2] = 4 is outside [0, 4)"),
};

const size_t ef_num_cases = sizeof ef_cases / sizeof ef_cases[0];
