/*
 * Internal declarations shared by the stages:
 *   api.c -> validate.c -> plan.c -> driver.c -> kernels/ -> (reduction in driver.c)
 * Cross-file internal functions are softce__name; nothing here is exported.
 */
#ifndef SOFTCE_INTERNAL_H
#define SOFTCE_INTERNAL_H

#include "softce/softce.h"

#include <stdint.h>

#if defined(__GNUC__)
#define SOFTCE__PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define SOFTCE__PRINTF(a, b)
#endif

/* ---- status.c: errors ------------------------------------------------------------------ */

/* Records the detail of a failure for softce_last_error() and returns `status`. */
softce_status softce__fail(softce_status status, const char *fmt, ...) SOFTCE__PRINTF(2, 3);
void softce__clear_error(void);

/* ---- dtype.c: element types ------------------------------------------------------------ */

int softce__dtype_size(int32_t dtype); /* 0 for an unknown dtype */
int softce__dtype_is_float(int32_t dtype);
int softce__dtype_is_int(int32_t dtype);
const char *softce__dtype_name(int32_t dtype);

float softce__f16_to_f32(uint16_t h);
uint16_t softce__f32_to_f16(float f);
float softce__bf16_to_f32(uint16_t b);
uint16_t softce__f32_to_bf16(float f);

/* One element at `base + index` (in elements) as double / stored from double. */
double softce__load(int32_t dtype, const void *base, int64_t index);
void softce__store(int32_t dtype, void *base, int64_t index, double v);
/* Integer element (I32/I64). */
int64_t softce__load_int(int32_t dtype, const void *base, int64_t index);
/* An integer stored into any dtype (I32/I64 exactly, float types as double). */
void softce__store_int(int32_t dtype, void *base, int64_t index, int64_t v);

/* Gather n strided elements of `dtype` into a contiguous row of the compute type
   (f64 if `to_f64`, else f32); and the reverse. */
void softce__gather(int32_t dtype, const void *base, int64_t stride, int64_t n, int to_f64,
                    void *row);
void softce__scatter(int32_t dtype, void *base, int64_t stride, int64_t n, int from_f64,
                     const void *row);

/* ---- validate.c / plan.c: what a call does -------------------------------------------- */

typedef enum softce__op {
    SOFTCE__OP_FORWARD = 1,
    SOFTCE__OP_BACKWARD = 2,
    SOFTCE__OP_FORWARD_BACKWARD = 3,
    SOFTCE__OP_LOG_SOFTMAX = 4
} softce__op;

/* Operand slots of a call. */
enum {
    SOFTCE__LOGITS = 0,
    SOFTCE__TARGET,      /* hard (element-shaped) or soft (logits-shaped) */
    SOFTCE__WEIGHT,      /* (C) */
    SOFTCE__GRAD_LOSS,   /* element-shaped (none) or 0-d */
    SOFTCE__LSE_IN,      /* element-shaped, read by backward */
    SOFTCE__SAMPLE_W,    /* element-shaped sample weights (options.sample_weight) */
    SOFTCE__PRIOR,       /* (C) smoothing prior (options.smoothing_prior) */
    SOFTCE__TOPK_PROB,   /* top-k probabilities, element shape + (K) (TARGET holds the indices) */
    SOFTCE__LOSS,        /* output: element-shaped (none) or 0-d */
    SOFTCE__LSE_OUT,     /* output, element-shaped */
    SOFTCE__GRAD_LOGITS, /* output, logits-shaped (also log_softmax's out) */
    SOFTCE__GRAD_TARGET, /* output, logits-shaped */
    SOFTCE__ARGMAX_OUT,  /* output, element-shaped, I32/I64 (options.out_argmax) */
    SOFTCE__CORRECT_OUT, /* output, element-shaped, any dtype (options.out_correct) */
    SOFTCE__ZLOSS_OUT,   /* output, element-shaped (options.out_z_loss) */
    SOFTCE__NUM_SLOTS
};

/* Size of softce_options in release 1.0 (the fields up to flags). */
#define SOFTCE__OPTIONS_V1_0_SIZE 40

#define SOFTCE__MAX_EDIMS (SOFTCE_MAX_DIMS - 1)

/* A validated call, reduced to elements x classes. Element dims are the logits dims without
   the class axis, with size-1 dims dropped and mergeable neighbours merged. */
typedef struct softce__plan {
    softce__op op;
    int soft;      /* soft target? */
    int reduction; /* softce_reduction */
    int64_t ignore_index;
    double eps;      /* label smoothing */
    int num_threads; /* as requested (0 = OpenMP default) */
    int compute_f64; /* compute type: f64 for f64 logits, else f32 */
    int64_t C;       /* classes */
    int64_t E;       /* elements (rows) */
    int ndim;        /* element dims after collapsing */
    int64_t shape[SOFTCE__MAX_EDIMS];
    const softce_tensor *t[SOFTCE__NUM_SLOTS];        /* NULL where absent */
    int64_t es[SOFTCE__NUM_SLOTS][SOFTCE__MAX_EDIMS]; /* element strides per slot */
    int64_t cs[SOFTCE__NUM_SLOTS];                    /* class stride per slot (0 if none) */
    /* The slots whose element offset moves (an element stride != 0), in slot order: the
       cursor (driver.h) steps only these; every other slot's offset stays 0. */
    int nmoving;
    int moving[SOFTCE__NUM_SLOTS];
    int grad_loss_scalar;                             /* grad_loss is 0-d (mean/sum) */
    /* 1.1 options (defaults reproduce 1.0) */
    double z_loss;      /* >= 0 */
    double softcap;     /* 0 = off */
    double logit_scale; /* 1 = off */
    int denominator;    /* softce_denominator */
    int empty;          /* softce_empty */
    double denominator_value;
    int smoothing; /* softce_smoothing */
    int kl;        /* SOFTCE_FLAG_KL */
    int extended;  /* any 1.1 option or extra output in use: row mode only */
    /* sparse top-k soft target: TARGET = indices, TOPK_PROB = probabilities, GRAD_TARGET =
       their gradient, all element shape + (K); cs[] of those slots is the K stride */
    int topk;
    int topk_rest; /* softce_topk_rest */
    int64_t K;
} softce__plan;

/* validate.c: checks every operand and option; on success fills `plan` (via plan.c). */
softce_status softce__validate(softce__op op, const softce_options *opts,
                               const softce_tensor *const slots[SOFTCE__NUM_SLOTS],
                               softce__plan *plan);
/* The same for a sparse top-k target (slots TARGET = indices, TOPK_PROB, GRAD_TARGET = the
   probabilities' gradient); rest is a softce_topk_rest value. */
softce_status softce__validate_topk(softce__op op, const softce_options *opts,
                                    const softce_tensor *const slots[SOFTCE__NUM_SLOTS],
                                    int32_t rest, softce__plan *plan);

/* validate.c helpers shared with the shard calls (shard_check.c). */
/* The caller's options as a whole current struct (NULL: defaults; a 1.0-sized struct: the
   later fields take their defaults). */
softce_status softce__read_options(const softce_options *in, softce_options *o);
/* Structure, dtype, sizes, strides, overflow and data of a descriptor; its element count and
   one past its largest element offset (0 when empty). */
softce_status softce__check_descriptor(const softce_tensor *t, const char *name, int64_t *numel,
                                       int64_t *span);
/* An output must not reach one memory location from two indices. */
softce_status softce__check_no_self_overlap(const softce_tensor *t, const char *name);
softce_status softce__check_shape(const softce_tensor *t, const char *name, int ndim,
                                  const int64_t *shape, const char *what);
/* Same data, dtype, shape and (for dims > 1) strides. */
int softce__same_view(const softce_tensor *a, const softce_tensor *b);

/* The denominator of a MEAN for options.denominator `kind` (a softce_denominator) from the
   counts of a call: sums = {sum of w[t] over non-ignored hard targets, counted elements, sum
   of the weights applied}; soft: soft targets (AUTO then counts every element). */
static inline double softce__pick_denominator(int32_t kind, double value, int soft, double elements,
                                              const double sums[3]) {
    switch (kind) {
    case SOFTCE_DENOMINATOR_VALID:
        return sums[1];
    case SOFTCE_DENOMINATOR_WEIGHTS:
        return sums[2];
    case SOFTCE_DENOMINATOR_ELEMENTS:
        return elements;
    case SOFTCE_DENOMINATOR_VALUE:
        return value;
    default: /* AUTO: PyTorch's rule */
        return soft ? elements : sums[0];
    }
}

/* plan.c: element dims and strides of every operand. */
void softce__plan_layout(softce__plan *plan);

/* workspace.c: a 64-byte aligned buffer of at least `bytes` for one call (NULL when out of
   memory), and its return after the call (NULL allowed). One workspace of at most
   SOFTCE__WORKSPACE_KEEP_MAX bytes is kept between calls, so that repeated calls do not take
   fresh pages (and their faults) from the system each time. */
#define SOFTCE__WORKSPACE_KEEP_MAX ((size_t)16 << 20)
void *softce__workspace_take(size_t bytes);
void softce__workspace_give(void *buf);

/* driver.c: runs a validated plan (may still fail: target range, out of memory). */
softce_status softce__run(const softce__plan *plan);

#endif
