/*
 * Vocabulary sharding (softce_shard_*): shared by shard_check.c (validation, before anything
 * is written) and shard.c (the math: docs/sharding.md).
 */
#ifndef SOFTCE_SHARD_H
#define SOFTCE_SHARD_H

#include "internal.h"

#include <stdint.h>

#define SOFTCE__SHARD_HARD 1 /* values of SOFTCE_SHARD_STAT_KIND */
#define SOFTCE__SHARD_SOFT 2

/* An operand seen per element: its offset is sum_d idx[d] * es[d]; cs steps along its class
   (or statistics) axis. t == NULL: absent. */
typedef struct softce__eview {
    const softce_tensor *t;
    int64_t es[SOFTCE__MAX_EDIMS];
    int64_t cs;
} softce__eview;

/* What a validated shard call works on. */
typedef struct softce__shard {
    softce_options o;    /* the caller's options, complete (defaults beyond its struct_size) */
    int soft;            /* soft target? */
    int64_t C, c0, Cs;   /* num_classes, class_offset, classes of the shard (stats/backward) */
    int64_t E;           /* elements */
    int en;              /* element dims */
    int64_t eshape[SOFTCE__MAX_EDIMS];
    /* inputs */
    softce__eview x, tg, sw, st, gl, w, pr;
    /* outputs */
    softce__eview gx, gt, loss, lse, amax, corr, zl;
} softce__shard;

/* Offset of element e (row-major over the element shape) in a view. */
int64_t softce__shard_offset(const softce__shard *sh, const softce__eview *v, int64_t e);

/* shard_check.c: every operand and option of a call; fills `sh`. */
softce_status softce__shard_check_stats(const softce_options *opts, const softce_tensor *logits,
                                        const softce_tensor *target, int64_t class_offset,
                                        int64_t num_classes, const softce_tensor *stats,
                                        softce__shard *sh);
softce_status softce__shard_check_combine(const softce_tensor *a, const softce_tensor *b,
                                          const softce_tensor *out, softce__shard *sh,
                                          softce__eview *va, softce__eview *vb);
softce_status softce__shard_check_finalize(const softce_options *opts,
                                           const softce_tensor *target,
                                           const softce_tensor *stats, const softce_tensor *loss,
                                           const softce_tensor *lse, softce__shard *sh);
softce_status softce__shard_check_backward(const softce_options *opts,
                                           const softce_tensor *logits,
                                           const softce_tensor *target, int64_t class_offset,
                                           int64_t num_classes, const softce_tensor *stats,
                                           const softce_tensor *grad_loss,
                                           const softce_tensor *grad_logits,
                                           const softce_tensor *grad_target, softce__shard *sh);
/* Hard class indices of the stats call: each in [0, C) or ignore_index. */
softce_status softce__shard_check_targets(const softce__shard *sh);
/* Combined statistics against the target (kind, coverage, ownership) and the mean
   denominator (options.denominator; fails for empty = ERROR over nothing). */
softce_status softce__shard_check_combined(const softce__shard *sh, double *denominator);

#endif
