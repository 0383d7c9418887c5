/**
 * @file softce.h
 * @brief libsoftce — softmax cross-entropy loss and gradients for hard and soft targets.
 *
 * The only public header. It includes nothing but <stddef.h> and <stdint.h> and is valid
 * C99, C11 and C++. Every name is prefixed softce_ / SOFTCE_. The math and the accuracy
 * contract live in docs/numerics.md; the ABI policy in docs/abi.md.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef SOFTCE_SOFTCE_H
#define SOFTCE_SOFTCE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ======================================================================================
 * Export macro
 * ====================================================================================== */

/** @def SOFTCE_API
 *  Marks a public function. Define SOFTCE_STATIC when linking the static library. */
#if defined(SOFTCE_STATIC)
#define SOFTCE_API
#elif defined(_WIN32)
#if defined(SOFTCE_BUILDING)
#define SOFTCE_API __declspec(dllexport)
#else
#define SOFTCE_API __declspec(dllimport)
#endif
#elif defined(__GNUC__) && __GNUC__ >= 4
#define SOFTCE_API __attribute__((visibility("default")))
#else
#define SOFTCE_API
#endif

/* ======================================================================================
 * Version
 * ====================================================================================== */

/** Major version; also the ABI version (the SONAME is libsoftce.so.MAJOR). @since 1.0.0 */
#define SOFTCE_VERSION_MAJOR 1
/** Minor version: additions only. @since 1.0.0 */
#define SOFTCE_VERSION_MINOR 1
/** Patch version: fixes only. @since 1.0.0 */
#define SOFTCE_VERSION_PATCH 0
/** MAJOR*10000 + MINOR*100 + PATCH. @since 1.0.0 */
#define SOFTCE_VERSION_NUMBER                                                                  \
    (SOFTCE_VERSION_MAJOR * 10000 + SOFTCE_VERSION_MINOR * 100 + SOFTCE_VERSION_PATCH)
/** "MAJOR.MINOR.PATCH". @since 1.0.0 */
#define SOFTCE_VERSION_STRING "1.1.0"

/**
 * @brief Version of the library actually loaded, as SOFTCE_VERSION_NUMBER.
 * @return MAJOR*10000 + MINOR*100 + PATCH of the running library.
 * @since 1.0.0
 */
SOFTCE_API unsigned softce_version(void);

/**
 * @brief Version of the library actually loaded, as "MAJOR.MINOR.PATCH".
 * @return A static, NUL-terminated string.
 * @since 1.0.0
 */
SOFTCE_API const char *softce_version_string(void);

/**
 * @brief Name of the SIMD level the row kernels run with: "scalar", "avx2" or "avx512".
 *
 * Chosen once, on first use, from the CPU; the environment variable
 * SOFTCE_FORCE_ISA=scalar|avx2|avx512 caps it (a level the CPU lacks falls back to the best
 * one below it).
 * @return A static, NUL-terminated string.
 * @since 1.0.0
 */
SOFTCE_API const char *softce_isa_name(void);

/* ======================================================================================
 * Status codes
 * ====================================================================================== */

/**
 * @brief Result of every call. Values are stable and only ever appended.
 * @since 1.0.0
 */
typedef enum softce_status {
    SOFTCE_OK = 0,                   /**< Success. */
    SOFTCE_ERROR_NULL_POINTER = 1,   /**< A required pointer is NULL. */
    SOFTCE_ERROR_STRUCT_SIZE = 2,    /**< struct_size/reserved of a struct is not valid. */
    SOFTCE_ERROR_DTYPE = 3,          /**< A dtype is unknown or not allowed for that operand. */
    SOFTCE_ERROR_NDIM = 4,           /**< ndim outside the allowed range. */
    SOFTCE_ERROR_SHAPE = 5,          /**< Negative size or shapes that do not agree. */
    SOFTCE_ERROR_STRIDE = 6,         /**< Negative stride, or an output that overlaps itself. */
    SOFTCE_ERROR_OVERFLOW = 7,       /**< Size or offset arithmetic overflows int64. */
    SOFTCE_ERROR_OVERLAP = 8,        /**< An output overlaps an input or another output. */
    SOFTCE_ERROR_OPTION = 9,         /**< An option is out of range or unknown. */
    SOFTCE_ERROR_TARGET = 10,        /**< A class index is outside [0, C) and not ignore_index. */
    SOFTCE_ERROR_OUT_OF_MEMORY = 11, /**< A scratch allocation failed. */
    SOFTCE_ERROR_INTERNAL = 12,      /**< A bug in the library; please report it. */
    SOFTCE_ERROR_EMPTY_MEAN = 13     /**< A mean over nothing with empty = SOFTCE_EMPTY_ERROR
                                          (@since 1.1.0). */
} softce_status;

/**
 * @brief The enumerator's name, e.g. "SOFTCE_ERROR_SHAPE".
 * @param status Any value; unknown values give "SOFTCE_ERROR_UNKNOWN".
 * @return A static, NUL-terminated string.
 * @since 1.0.0
 */
SOFTCE_API const char *softce_status_name(softce_status status);

/**
 * @brief A short human-readable description, e.g. "invalid or mismatched shape".
 * @param status Any value; unknown values give "unknown status".
 * @return A static, NUL-terminated string.
 * @since 1.0.0
 */
SOFTCE_API const char *softce_status_string(softce_status status);

/**
 * @brief Detail of the last failed call on the calling thread.
 *
 * For example "target[17] = 1200 is outside [0, 1000)". Every entry point clears it on entry,
 * so after a successful call it is the empty string.
 * @return A thread-local, NUL-terminated string, valid until the next call on this thread.
 * @since 1.0.0
 */
SOFTCE_API const char *softce_last_error(void);

/* ======================================================================================
 * Tensor descriptor
 * ====================================================================================== */

/** Maximum number of dimensions of a tensor. @since 1.0.0 */
#define SOFTCE_MAX_DIMS 8

/**
 * @brief Element types. Values are stable and only ever appended; 0 is invalid.
 * @since 1.0.0
 */
typedef enum softce_dtype {
    SOFTCE_DTYPE_INVALID = 0, /**< Not a dtype: rejected everywhere. */
    SOFTCE_DTYPE_F32 = 1,     /**< IEEE binary32. */
    SOFTCE_DTYPE_F64 = 2,     /**< IEEE binary64. */
    SOFTCE_DTYPE_F16 = 3,     /**< IEEE binary16. */
    SOFTCE_DTYPE_BF16 = 4,    /**< bfloat16 (upper half of a binary32). */
    SOFTCE_DTYPE_I32 = 5,     /**< int32_t (hard targets only). */
    SOFTCE_DTYPE_I64 = 6      /**< int64_t (hard targets only). */
} softce_dtype;

/**
 * @brief A strided view of memory: the descriptor of every operand.
 *
 * Element (i0, ..., i{ndim-1}) lives at `data + sum_k i_k * strides[k]` elements (not bytes).
 * Strides must be non-negative; inputs may use a zero stride (broadcast), outputs may not
 * overlap themselves. Entries of shape/strides at index >= ndim are ignored.
 * Inputs are only read, even though `data` is not const.
 * @since 1.0.0
 */
typedef struct softce_tensor {
    uint32_t struct_size;             /**< sizeof(softce_tensor). */
    int32_t dtype;                    /**< A softce_dtype value. */
    int32_t ndim;                     /**< 0 .. SOFTCE_MAX_DIMS. */
    int32_t reserved;                 /**< Must be 0. */
    void *data;                       /**< First element; may be NULL only for empty tensors. */
    int64_t shape[SOFTCE_MAX_DIMS];   /**< Size of each dimension (>= 0). */
    int64_t strides[SOFTCE_MAX_DIMS]; /**< Step of each dimension, in elements (>= 0). */
} softce_tensor;

/**
 * @brief Fills a descriptor for a contiguous (row-major, C order) tensor.
 * @param t     Descriptor to fill; untouched on failure.
 * @param dtype A softce_dtype value.
 * @param ndim  Number of dimensions, 0 .. SOFTCE_MAX_DIMS.
 * @param shape ndim sizes (may be NULL when ndim is 0).
 * @param data  Pointer to the first element.
 * @retval SOFTCE_OK on success.
 * @retval SOFTCE_ERROR_NULL_POINTER, SOFTCE_ERROR_DTYPE, SOFTCE_ERROR_NDIM,
 *         SOFTCE_ERROR_SHAPE, SOFTCE_ERROR_OVERFLOW on bad arguments.
 * @since 1.0.0
 */
SOFTCE_API softce_status softce_tensor_init(softce_tensor *t, softce_dtype dtype, int32_t ndim,
                                            const int64_t *shape, void *data);

/* ======================================================================================
 * Options
 * ====================================================================================== */

/**
 * @brief How per-element losses are combined. 0 is invalid.
 * @since 1.0.0
 */
typedef enum softce_reduction {
    SOFTCE_REDUCTION_MEAN = 1, /**< PyTorch's 'mean' (weighted mean for hard targets). */
    SOFTCE_REDUCTION_SUM = 2,  /**< Sum over elements. */
    SOFTCE_REDUCTION_NONE = 3  /**< One loss per element. */
} softce_reduction;

/**
 * @brief Denominator of a MEAN reduction (softce_options.denominator). 0 is the default.
 *
 * "Counted" elements are those not ignored (hard target == ignore_index) and whose sample
 * weight is not 0.
 * @since 1.1.0
 */
typedef enum softce_denominator {
    SOFTCE_DENOMINATOR_AUTO = 0,     /**< PyTorch's rule (default): hard targets: the sum of the
                                          class weights of the non-ignored targets (their count
                                          without weights); soft targets: the element count.
                                          Sample weights do not change it. */
    SOFTCE_DENOMINATOR_VALID = 1,    /**< The number of counted elements. */
    SOFTCE_DENOMINATOR_WEIGHTS = 2,  /**< The sum of the weights applied: over non-ignored
                                          elements, sample weight times (hard targets) the
                                          class weight of the target. */
    SOFTCE_DENOMINATOR_ELEMENTS = 3, /**< All elements, ignored or not. */
    SOFTCE_DENOMINATOR_VALUE = 4     /**< softce_options.denominator_value (finite, > 0): e.g. a
                                          global count for gradient accumulation. */
} softce_denominator;

/**
 * @brief What a MEAN over a zero denominator gives (softce_options.empty). 0 is the default.
 * @since 1.1.0
 */
typedef enum softce_empty {
    SOFTCE_EMPTY_NAN = 0,  /**< NaN loss and gradients as PyTorch gives them (default):
                                ignored and masked elements get zero gradients. */
    SOFTCE_EMPTY_ZERO = 1, /**< Zero loss, zero gradient. */
    SOFTCE_EMPTY_ERROR = 2 /**< The call fails with SOFTCE_ERROR_EMPTY_MEAN, writing nothing. */
} softce_empty;

/**
 * @brief Where label smoothing puts its mass epsilon (softce_options.smoothing).
 * @since 1.1.0
 */
typedef enum softce_smoothing {
    SOFTCE_SMOOTHING_UNIFORM = 0, /**< epsilon / C on every class (PyTorch; default). */
    SOFTCE_SMOOTHING_OTHERS = 1   /**< epsilon / (C - 1) on the classes other than the target:
                                       q = (1 - eps) p + eps (1 - p) / (C - 1) (Megatron's
                                       convention; with C == 1 no smoothing). */
} softce_smoothing;

/** softce_options.flags bit: return KL(q || softmax) = CE - H(q) instead of CE (same gradient
 *  w.r.t. the logits). @since 1.1.0 */
#define SOFTCE_FLAG_KL 1u

/**
 * @brief Options of every call. Initialise with softce_options_init(); fields are only ever
 *        appended, and struct_size tells the library which ones the caller knows (a caller
 *        compiled against 1.0 passes the 1.0 size and gets the defaults of the later fields).
 *
 * Per element, with logits x (C values), class weights w (1 without `weight`), sample weight s
 * (1 without `sample_weight`) and the smoothed target distribution q (docs/numerics.md):
 *   z_i  = softcap * tanh(logit_scale * x_i / softcap)   (softcap > 0), else logit_scale * x_i
 *   lse  = log sum_i exp(z_i)
 *   loss = s * ( -sum_i w_i q_i (z_i - lse)  [+ sum_i w_i q_i log q_i with SOFTCE_FLAG_KL]
 *                + z_loss * lse^2 )
 * and 0 for an ignored element (or s == 0: a masked element).
 * @since 1.0.0
 */
typedef struct softce_options {
    uint32_t struct_size;        /**< sizeof(softce_options) as the caller compiled it. */
    int32_t reduction;           /**< A softce_reduction value (default MEAN). */
    int64_t ignore_index;        /**< Hard-target class to ignore (default -100); any value. */
    double label_smoothing;      /**< Epsilon in [0, 1] (default 0). */
    const softce_tensor *weight; /**< NULL or a (C) f32/f64 tensor of class weights. */
    int32_t num_threads;         /**< >= 0; 0 = the OpenMP default (default 0). */
    uint32_t flags;              /**< 0 or SOFTCE_FLAG_KL (@since 1.1.0); other bits must be 0. */
    /* ---- appended in 1.1.0 ---- */
    double z_loss;      /**< z-loss coefficient >= 0: adds z_loss * lse^2 per element (default 0).
                             @since 1.1.0 */
    double softcap;     /**< 0 (default: off) or > 0: z = softcap * tanh(z / softcap).
                             @since 1.1.0 */
    double logit_scale; /**< > 0 (default 1): logits are multiplied by it first (inverse
                             temperature). @since 1.1.0 */
    const softce_tensor *sample_weight; /**< NULL or an element-shaped float tensor: one weight
                                             per element, multiplying its loss; 0 masks the
                                             element out (hard and soft targets).
                                             @since 1.1.0 */
    int32_t denominator;      /**< A softce_denominator value (default AUTO). @since 1.1.0 */
    int32_t empty;            /**< A softce_empty value (default NAN). @since 1.1.0 */
    double denominator_value; /**< The denominator for SOFTCE_DENOMINATOR_VALUE (else unused).
                                   @since 1.1.0 */
    int32_t smoothing;        /**< A softce_smoothing value (default UNIFORM). @since 1.1.0 */
    int32_t reserved;         /**< Must be 0. @since 1.1.0 */
    const softce_tensor *smoothing_prior; /**< NULL or a (C) float tensor: label smoothing moves
                                               mass eps toward this distribution instead of the
                                               uniform one (smoothing must be UNIFORM).
                                               @since 1.1.0 */
    /* Extra per-element outputs (element-shaped, NULL = not wanted), written by
       softce_forward() and softce_forward_backward() only. */
    const softce_tensor *out_lse;     /**< Float: log-sum-exp of the (transformed) logits.
                                           @since 1.1.0 */
    const softce_tensor *out_argmax;  /**< I32/I64: the first index of the largest logit (a NaN
                                           counts as largest). @since 1.1.0 */
    const softce_tensor *out_correct; /**< Any dtype: 1 where argmax == the target class (soft
                                           targets: the target's first argmax), else 0 (also for
                                           ignored elements). @since 1.1.0 */
    const softce_tensor *out_z_loss;  /**< Float: the element's z-loss term s * z_loss * lse^2
                                           (0 when ignored). @since 1.1.0 */
} softce_options;

/**
 * @brief Sets every field to its default (mean, ignore_index -100, no smoothing, no weight,
 *        default threads, no flags, and the 1.1 fields: no z-loss, no softcap, logit_scale 1,
 *        no sample weights, AUTO denominator, NaN for an empty mean, uniform smoothing, no
 *        extra outputs) and struct_size to sizeof(softce_options).
 *
 * Programs built against 1.0 keep calling the 1.0 version of this function (symbol version
 * SOFTCE_1), which fills only the 1.0 fields.
 * @param opts Options to fill; nothing happens when NULL.
 * @since 1.0.0
 */
SOFTCE_API void softce_options_init(softce_options *opts);

/* ======================================================================================
 * Entry points
 *
 * Common rules (see docs/numerics.md):
 * - opts may be NULL: the defaults of softce_options_init() apply.
 * - logits: f32, f64, f16 or bf16, shape (C), (N, C) or (N, C, d1..dk); class axis is dim 1
 *   (dim 0 for 1-D). "Element" = one (n, d1..dk) position; the element shape is the logits
 *   shape without the class axis.
 * - target: hard = I32/I64 tensor of the element shape; soft = float tensor of the logits
 *   shape (any float dtype). The dtype decides which.
 * - loss: a 0-d tensor for MEAN/SUM, the element shape for NONE; any float dtype.
 * - lse: NULL or the element shape, any float dtype: the log-sum-exp of each element.
 * - grad_loss: NULL (= 1) or the shape of loss: the upstream gradient.
 * - Everything is validated before anything is written: a failing call leaves every output
 *   untouched and sets softce_last_error().
 * - Results are bitwise identical for any num_threads.
 * ====================================================================================== */

/**
 * @brief Cross-entropy loss (and optionally the log-sum-exp of each element).
 * @param opts   NULL or options.
 * @param logits Logits.
 * @param target Hard or soft target.
 * @param loss   Output loss.
 * @param lse    NULL or output log-sum-exp per element (reusable by softce_backward()).
 * @return SOFTCE_OK or an error status; on error no output is written.
 * @since 1.0.0
 */
SOFTCE_API softce_status softce_forward(const softce_options *opts, const softce_tensor *logits,
                                        const softce_tensor *target, const softce_tensor *loss,
                                        const softce_tensor *lse);

/**
 * @brief Gradients of the loss w.r.t. the logits and (soft targets) the target.
 *
 * At least one of grad_logits and grad_target must be given.
 * @param opts        NULL or options (must equal those of the forward call).
 * @param logits      Logits.
 * @param target      Hard or soft target.
 * @param grad_loss   NULL (= 1) or the upstream gradient, shaped like the loss.
 * @param lse         NULL (recomputed) or the log-sum-exp written by softce_forward().
 * @param grad_logits NULL or output shaped like logits; may be exactly `logits` (in place).
 * @param grad_target NULL or output shaped like a soft target (soft targets only).
 * @return SOFTCE_OK or an error status; on error no output is written.
 * @since 1.0.0
 */
SOFTCE_API softce_status softce_backward(const softce_options *opts, const softce_tensor *logits,
                                         const softce_tensor *target,
                                         const softce_tensor *grad_loss, const softce_tensor *lse,
                                         const softce_tensor *grad_logits,
                                         const softce_tensor *grad_target);

/**
 * @brief Fused loss and gradient w.r.t. the logits: the training fast path.
 * @param opts        NULL or options.
 * @param logits      Logits.
 * @param target      Hard or soft target.
 * @param grad_loss   NULL (= 1) or the upstream gradient, shaped like the loss.
 * @param loss        NULL or output loss.
 * @param grad_logits Output shaped like logits; may be exactly `logits` (same data, dtype,
 *                    shape and strides): the gradient then overwrites the logits.
 * @return SOFTCE_OK or an error status; on error no output is written.
 * @since 1.0.0
 */
SOFTCE_API softce_status softce_forward_backward(const softce_options *opts,
                                                 const softce_tensor *logits,
                                                 const softce_tensor *target,
                                                 const softce_tensor *grad_loss,
                                                 const softce_tensor *loss,
                                                 const softce_tensor *grad_logits);

/**
 * @brief log_softmax along the class axis.
 * @param opts   NULL or options (only num_threads and flags are used).
 * @param logits Logits.
 * @param out    Output shaped like logits, any float dtype; may be exactly `logits`.
 * @return SOFTCE_OK or an error status; on error no output is written.
 * @since 1.0.0
 */
SOFTCE_API softce_status softce_log_softmax(const softce_options *opts,
                                            const softce_tensor *logits, const softce_tensor *out);

/* ======================================================================================
 * Sparse top-k soft targets (@since 1.1.0)
 *
 * A soft target given as K (class index, probability) pairs per element: topk_index
 * (I32/I64) and topk_prob (any float dtype), both shaped like the element shape plus a last
 * dimension K (e.g. (N, K) for (N, C) logits; (N, d1, K) for (N, C, d1)). Results equal those
 * of the dense soft target p with p_i = the sum of the probabilities listed for class i, and,
 * with SOFTCE_TOPK_REST_UNIFORM, the remaining mass 1 - sum_k prob_k spread evenly over the
 * classes not listed (none when every class is listed). Every option of dense soft targets
 * applies. Indices must lie in [0, C) (else SOFTCE_ERROR_TARGET); a class may be listed twice.
 * Memory for the target stays O(elements x K).
 * ====================================================================================== */

/**
 * @brief Where the probability mass not listed in a top-k target goes.
 * @since 1.1.0
 */
typedef enum softce_topk_rest {
    SOFTCE_TOPK_REST_IGNORE = 0, /**< Nowhere: the classes not listed have probability 0. */
    SOFTCE_TOPK_REST_UNIFORM = 1 /**< Spread evenly over the classes not listed. */
} softce_topk_rest;

/**
 * @brief Cross-entropy loss of a sparse top-k soft target.
 * @param opts       NULL or options.
 * @param logits     Logits.
 * @param topk_index I32/I64 class indices, element shape + (K).
 * @param topk_prob  Float probabilities, the shape of topk_index.
 * @param rest       A softce_topk_rest value.
 * @param loss       Output loss.
 * @param lse        NULL or output log-sum-exp per element.
 * @return SOFTCE_OK or an error status; on error no output is written.
 * @since 1.1.0
 */
SOFTCE_API softce_status softce_topk_forward(const softce_options *opts,
                                             const softce_tensor *logits,
                                             const softce_tensor *topk_index,
                                             const softce_tensor *topk_prob, int32_t rest,
                                             const softce_tensor *loss, const softce_tensor *lse);

/**
 * @brief Gradients of a sparse top-k loss w.r.t. the logits and the K probabilities.
 *
 * At least one of grad_logits and grad_prob must be given.
 * @param opts        NULL or options (must equal those of the forward call).
 * @param logits      Logits.
 * @param topk_index  I32/I64 class indices, element shape + (K).
 * @param topk_prob   Float probabilities, the shape of topk_index.
 * @param rest        A softce_topk_rest value.
 * @param grad_loss   NULL (= 1) or the upstream gradient, shaped like the loss.
 * @param lse         NULL (recomputed) or the log-sum-exp written by softce_topk_forward().
 * @param grad_logits NULL or output shaped like logits; may be exactly `logits` (in place).
 * @param grad_prob   NULL or float output shaped like topk_prob.
 * @return SOFTCE_OK or an error status; on error no output is written.
 * @since 1.1.0
 */
SOFTCE_API softce_status softce_topk_backward(const softce_options *opts,
                                              const softce_tensor *logits,
                                              const softce_tensor *topk_index,
                                              const softce_tensor *topk_prob, int32_t rest,
                                              const softce_tensor *grad_loss,
                                              const softce_tensor *lse,
                                              const softce_tensor *grad_logits,
                                              const softce_tensor *grad_prob);

/**
 * @brief Fused loss and gradient w.r.t. the logits of a sparse top-k target.
 * @param opts        NULL or options.
 * @param logits      Logits.
 * @param topk_index  I32/I64 class indices, element shape + (K).
 * @param topk_prob   Float probabilities, the shape of topk_index.
 * @param rest        A softce_topk_rest value.
 * @param grad_loss   NULL (= 1) or the upstream gradient, shaped like the loss.
 * @param loss        NULL or output loss.
 * @param grad_logits Output shaped like logits; may be exactly `logits` (in place).
 * @return SOFTCE_OK or an error status; on error no output is written.
 * @since 1.1.0
 */
SOFTCE_API softce_status softce_topk_forward_backward(const softce_options *opts,
                                                      const softce_tensor *logits,
                                                      const softce_tensor *topk_index,
                                                      const softce_tensor *topk_prob,
                                                      int32_t rest,
                                                      const softce_tensor *grad_loss,
                                                      const softce_tensor *loss,
                                                      const softce_tensor *grad_logits);

/* ======================================================================================
 * Vocabulary sharding (tensor parallelism)
 *
 * When the class axis is split across processes ("ranks"), each rank holds the logits of the
 * classes [class_offset, class_offset + Cs) of num_classes = C. The loss and the gradients
 * are then computed in three steps (docs/sharding.md):
 *   1. softce_shard_stats(): every rank reduces its shard to SOFTCE_SHARD_STATS f64 partial
 *      statistics per element;
 *   2. the ranks exchange them (e.g. an all-gather) and each one folds them with
 *      softce_shard_combine(), in rank order (the combine is deterministic and commutative,
 *      and associative up to rounding: the same order gives bitwise the same result);
 *   3. softce_shard_finalize() gives the loss (and lse) from the combined statistics, and
 *      softce_shard_backward() the gradient of the rank's own shard.
 * The results equal those of softce_forward() / softce_backward() on the whole logits, for
 * every option (up to the rounding of a different summation order).
 *
 * Operands: logits_shard is a logits tensor whose class axis has Cs >= 1 classes. A hard
 * target holds GLOBAL class indices (element-shaped, the same on every rank); a soft target
 * is the rank's slice (the shape of logits_shard). options.weight and
 * options.smoothing_prior are the rank's (Cs) slices. The statistics tensor is f64 with the
 * element shape followed by SOFTCE_SHARD_STATS; the indices below name its entries.
 * ====================================================================================== */

/** Number of f64 statistics per element (the last dimension of a stats tensor). @since 1.1.0 */
#define SOFTCE_SHARD_STATS 16
/** max_i z_i over the shard's classes (z = transformed logits; -inf for none). @since 1.1.0 */
#define SOFTCE_SHARD_STAT_MAX 0
/** sum_i exp(z_i - MAX). @since 1.1.0 */
#define SOFTCE_SHARD_STAT_SUM_EXP 1
/** sum_i w_i q_i (with the hard target's share). @since 1.1.0 */
#define SOFTCE_SHARD_STAT_SUM_WQ 2
/** sum_i w_i q_i (MAX - z_i) over the terms with w_i q_i != 0. @since 1.1.0 */
#define SOFTCE_SHARD_STAT_SUM_WQ_DIFF 3
/** sum_i w_i q_i log q_i (only with SOFTCE_FLAG_KL, else 0). @since 1.1.0 */
#define SOFTCE_SHARD_STAT_SUM_WQ_LOGQ 4
/** Class weight of the hard target on its owning shard, else 0. @since 1.1.0 */
#define SOFTCE_SHARD_STAT_TARGET_WEIGHT 5
/** z of the hard target on its owning shard, else 0. @since 1.1.0 */
#define SOFTCE_SHARD_STAT_TARGET_Z 6
/** 1 on the shard that owns the (not ignored) hard target, else 0. @since 1.1.0 */
#define SOFTCE_SHARD_STAT_TARGET_OWNED 7
/** Largest raw logit (a NaN counts as largest). @since 1.1.0 */
#define SOFTCE_SHARD_STAT_ARGMAX_VALUE 8
/** Its first global class index. @since 1.1.0 */
#define SOFTCE_SHARD_STAT_ARGMAX_INDEX 9
/** Soft targets: largest target probability p (a NaN counts as largest); hard: 0. @since 1.1.0 */
#define SOFTCE_SHARD_STAT_TARGET_MAX_VALUE 10
/** Soft targets: its first global class index; hard: -1. @since 1.1.0 */
#define SOFTCE_SHARD_STAT_TARGET_MAX_INDEX 11
/** Number of classes the statistics cover (Cs, summed by the combine). @since 1.1.0 */
#define SOFTCE_SHARD_STAT_CLASSES 12
/** num_classes (C). @since 1.1.0 */
#define SOFTCE_SHARD_STAT_NUM_CLASSES 13
/** 1 for hard targets, 2 for soft targets. @since 1.1.0 */
#define SOFTCE_SHARD_STAT_KIND 14
/** Reserved, 0. @since 1.1.0 */
#define SOFTCE_SHARD_STAT_RESERVED 15

/**
 * @brief Partial statistics of one shard of the class axis.
 * @param opts         NULL or options: the same on every rank, except weight and
 *                     smoothing_prior, which are the shard's (Cs) slices. The out_* fields
 *                     are not used here (softce_shard_finalize() writes them).
 * @param logits_shard Logits of classes [class_offset, class_offset + Cs): (Cs), (N, Cs) or
 *                     (N, Cs, d1..dk), Cs >= 1.
 * @param target       Hard: global class indices (element-shaped I32/I64); soft: the shard's
 *                     slice of the probabilities (shape of logits_shard).
 * @param class_offset Global index of the shard's first class (>= 0).
 * @param num_classes  C, the number of classes of the whole problem (>= class_offset + Cs).
 * @param stats        Output: f64, element shape + (SOFTCE_SHARD_STATS).
 * @return SOFTCE_OK or an error status; on error nothing is written.
 * @since 1.1.0
 */
SOFTCE_API softce_status softce_shard_stats(const softce_options *opts,
                                            const softce_tensor *logits_shard,
                                            const softce_tensor *target, int64_t class_offset,
                                            int64_t num_classes, const softce_tensor *stats);

/**
 * @brief Combines the statistics of two disjoint sets of classes: out = a (+) b.
 *
 * Deterministic and commutative (bitwise), associative up to rounding.
 * @param a   f64 statistics (element shape + (SOFTCE_SHARD_STATS)).
 * @param b   Statistics of the same shape, for the same num_classes and target kind.
 * @param out Output of the same shape; may be exactly a or exactly b (same data and strides).
 * @return SOFTCE_OK or an error status; on error nothing is written.
 * @since 1.1.0
 */
SOFTCE_API softce_status softce_shard_combine(const softce_tensor *a, const softce_tensor *b,
                                              const softce_tensor *out);

/**
 * @brief Loss (and log-sum-exp) from statistics combined over every class.
 *
 * Applies ignore_index, sample weights, z-loss, KL, the reduction and the mean denominator
 * exactly as softce_forward(); also writes options.out_lse / out_argmax / out_correct /
 * out_z_loss when given.
 * @param opts   NULL or the options given to softce_shard_stats().
 * @param target The target given to softce_shard_stats() (for soft targets only its dtype and
 *               element shape are used: any rank's slice will do).
 * @param stats  Combined statistics covering all num_classes classes.
 * @param loss   Output loss: 0-d for MEAN/SUM, element-shaped for NONE; any float dtype.
 * @param lse    NULL or output log-sum-exp per element, any float dtype.
 * @return SOFTCE_OK or an error status; on error nothing is written.
 * @since 1.1.0
 */
SOFTCE_API softce_status softce_shard_finalize(const softce_options *opts,
                                               const softce_tensor *target,
                                               const softce_tensor *stats,
                                               const softce_tensor *loss,
                                               const softce_tensor *lse);

/**
 * @brief Gradient of the loss w.r.t. the shard's logits (and its soft-target slice).
 *
 * At least one of grad_logits_shard and grad_target_shard must be given.
 * @param opts              NULL or the options given to softce_shard_stats().
 * @param logits_shard      The shard's logits, as given to softce_shard_stats().
 * @param target            The target, as given to softce_shard_stats().
 * @param class_offset      As given to softce_shard_stats().
 * @param num_classes       As given to softce_shard_stats().
 * @param stats             Combined statistics covering all num_classes classes.
 * @param grad_loss         NULL (= 1) or the upstream gradient, shaped like the loss.
 * @param grad_logits_shard NULL or output shaped like logits_shard; may be exactly
 *                          logits_shard (in place).
 * @param grad_target_shard NULL or output shaped like the soft target slice (soft only).
 * @return SOFTCE_OK or an error status; on error nothing is written.
 * @since 1.1.0
 */
SOFTCE_API softce_status softce_shard_backward(
    const softce_options *opts, const softce_tensor *logits_shard, const softce_tensor *target,
    int64_t class_offset, int64_t num_classes, const softce_tensor *stats,
    const softce_tensor *grad_loss, const softce_tensor *grad_logits_shard,
    const softce_tensor *grad_target_shard);

#ifdef __cplusplus
}
#endif

#endif /* SOFTCE_SOFTCE_H */
