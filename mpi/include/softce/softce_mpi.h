/**
 * @file softce_mpi.h
 * @brief libsoftce_mpi — vocabulary-sharded cross-entropy over MPI (tensor parallelism).
 *
 * A companion library of libsoftce, built when MPI is found (not part of libsoftce). Each
 * rank of a communicator holds the logits of the classes [class_offset, class_offset + Cs)
 * of num_classes; the calls below gather the per-element statistics of every rank
 * (softce_shard_stats(), one MPI_Allgather), combine them in rank order (deterministic: the
 * same result on every rank and in every run), and finish with softce_shard_finalize() /
 * softce_shard_backward(). Every rank must call with the same options (except the weight and
 * smoothing_prior slices), the same hard target (global class indices) or its own soft-target
 * slice, and the same element shape. docs/sharding.md has the details.
 *
 * Link with -lsoftce_mpi -lsoftce (pkg-config softce_mpi; CMake softce::softce_mpi).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef SOFTCE_SOFTCE_MPI_H
#define SOFTCE_SOFTCE_MPI_H

#include <mpi.h>
#include <softce/softce.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @def SOFTCE_MPI_API
 *  Marks a public function of libsoftce_mpi. */
#if defined(__GNUC__) && __GNUC__ >= 4
#define SOFTCE_MPI_API __attribute__((visibility("default")))
#else
#define SOFTCE_MPI_API
#endif

/**
 * @brief Sharded loss (and log-sum-exp): the same on every rank of comm. Collective.
 *
 * The ranks agree on failure: when any rank's arguments are invalid, every rank returns an
 * error and writes nothing (softce_mpi_last_error() says which rank failed and why).
 * @param opts         NULL or options; weight / smoothing_prior are this rank's (Cs) slices.
 * @param logits_shard This rank's logits: (Cs), (N, Cs) or (N, Cs, d1..dk).
 * @param target       Hard: global class indices (element-shaped, the same on every rank);
 *                     soft: this rank's slice (the shape of logits_shard).
 * @param class_offset Global index of this rank's first class.
 * @param num_classes  Number of classes of the whole problem.
 * @param loss         Output loss (0-d for MEAN/SUM, element-shaped for NONE).
 * @param lse          NULL or output log-sum-exp per element.
 * @param comm         The ranks that share the class axis (their shards must cover
 *                     [0, num_classes) exactly once).
 * @return SOFTCE_OK or an error status.
 * @since 1.1.0
 */
SOFTCE_MPI_API softce_status softce_mpi_forward(const softce_options *opts,
                                                const softce_tensor *logits_shard,
                                                const softce_tensor *target,
                                                int64_t class_offset, int64_t num_classes,
                                                const softce_tensor *loss,
                                                const softce_tensor *lse, MPI_Comm comm);

/**
 * @brief Sharded loss and this rank's gradient w.r.t. its logits. Collective.
 * @param opts              As softce_mpi_forward().
 * @param logits_shard      As softce_mpi_forward().
 * @param target            As softce_mpi_forward().
 * @param class_offset      As softce_mpi_forward().
 * @param num_classes       As softce_mpi_forward().
 * @param grad_loss         NULL (= 1) or the upstream gradient, shaped like the loss.
 * @param loss              NULL or output loss.
 * @param grad_logits_shard Output shaped like logits_shard; may be exactly logits_shard.
 * @param comm              As softce_mpi_forward().
 * @return SOFTCE_OK or an error status.
 * @since 1.1.0
 */
SOFTCE_MPI_API softce_status softce_mpi_forward_backward(
    const softce_options *opts, const softce_tensor *logits_shard, const softce_tensor *target,
    int64_t class_offset, int64_t num_classes, const softce_tensor *grad_loss,
    const softce_tensor *loss, const softce_tensor *grad_logits_shard, MPI_Comm comm);

/**
 * @brief Detail of the last failed softce_mpi_* call on the calling thread ("" after success).
 * @return A thread-local, NUL-terminated string.
 * @since 1.1.0
 */
SOFTCE_MPI_API const char *softce_mpi_last_error(void);

#ifdef __cplusplus
}
#endif

#endif /* SOFTCE_SOFTCE_MPI_H */
