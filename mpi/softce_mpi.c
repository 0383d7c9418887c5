/*
 * libsoftce_mpi: the softce_shard_* steps over an MPI communicator. Statistics are gathered
 * with one MPI_Allgather and combined in rank order, so every rank computes bitwise the same
 * combined statistics (and loss) in every run. docs/sharding.md.
 */
#include "softce/softce_mpi.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char last_error[512];

const char *softce_mpi_last_error(void) { return last_error; }

static softce_status fail(softce_status st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return st;
}

/* Element shape of the logits (class axis dim 1, dim 0 for 1-D) + (SOFTCE_SHARD_STATS):
   the shape of a stats tensor. Returns the element count, or -1 for a descriptor that
   softce_shard_stats() will reject anyway. */
static int64_t stats_shape(const softce_tensor *lg, int32_t *ndim, int64_t *shape) {
    if (!lg || lg->ndim < 1 || lg->ndim > SOFTCE_MAX_DIMS)
        return -1;
    int cax = lg->ndim == 1 ? 0 : 1, n = 0;
    int64_t E = 1;
    for (int k = 0; k < lg->ndim; k++) {
        if (k == cax)
            continue;
        if (lg->shape[k] < 0 || (lg->shape[k] > 0 && E > INT_MAX / lg->shape[k]))
            return -1;
        E *= shape[n++] = lg->shape[k];
    }
    shape[n++] = SOFTCE_SHARD_STATS;
    *ndim = n;
    return E;
}

/* Bytes from data to one past the last element of a descriptor that looks valid (0 when it
   is empty or does not: softce_shard_finalize() then rejects it before writing). */
static size_t span_bytes(const softce_tensor *t) {
    static const int size[7] = {0, 4, 8, 2, 2, 4, 8}; /* by softce_dtype */
    if (t->struct_size != sizeof(softce_tensor) || t->dtype < 1 || t->dtype > 6 || !t->data ||
        t->ndim < 0 || t->ndim > SOFTCE_MAX_DIMS)
        return 0;
    uint64_t last = 0;
    for (int k = 0; k < t->ndim; k++) {
        if (t->shape[k] <= 0 || t->strides[k] < 0 || t->shape[k] > (int64_t)1 << 40 ||
            t->strides[k] > (int64_t)1 << 40)
            return 0;
        last += (uint64_t)(t->shape[k] - 1) * (uint64_t)t->strides[k];
        if (last > (uint64_t)1 << 50)
            return 0;
    }
    return (size_t)(last + 1) * (size_t)size[t->dtype];
}

/* Collective: every rank learns whether any rank failed (and the first such rank), and
   whether the element counts agree. */
static softce_status agree(softce_status mine, int64_t E, MPI_Comm comm) {
    int rank = 0;
    MPI_Comm_rank(comm, &rank);
    struct {
        int status, rank;
    } in = {(int)mine, rank}, out;
    long long e[2] = {(long long)E, -(long long)E}, er[2];
    if (MPI_Allreduce(&in, &out, 1, MPI_2INT, MPI_MAXLOC, comm) != MPI_SUCCESS ||
        MPI_Allreduce(e, er, 2, MPI_LONG_LONG, MPI_MAX, comm) != MPI_SUCCESS)
        return fail(SOFTCE_ERROR_INTERNAL, "MPI_Allreduce failed");
    if (mine != SOFTCE_OK)
        return mine; /* last_error already says why */
    if (out.status != SOFTCE_OK)
        return fail((softce_status)out.status,
                    "rank %d failed with %s (its "
                    "softce_mpi_last_error() has the detail)",
                    out.rank, softce_status_name((softce_status)out.status));
    if (er[0] != -er[1])
        return fail(SOFTCE_ERROR_SHAPE, "the ranks have different element counts (%lld to %lld)",
                    -er[1], er[0]);
    return SOFTCE_OK;
}

/* Statistics of this rank, gathered from every rank and combined in rank order into *acc
   (malloc'ed, stats-shaped; described by *tacc). */
static softce_status gather_combined(const softce_options *opts, const softce_tensor *logits,
                                     const softce_tensor *target, int64_t class_offset,
                                     int64_t num_classes, MPI_Comm comm, double **acc,
                                     softce_tensor *tacc) {
    int32_t ndim = 0;
    int64_t shape[SOFTCE_MAX_DIMS], E = stats_shape(logits, &ndim, shape);
    int size = 1;
    MPI_Comm_size(comm, &size);
    size_t per = (size_t)(E > 0 ? E : 0) * SOFTCE_SHARD_STATS;
    double *mine = malloc(per * sizeof(double) + 1);
    double *all = malloc(per * (size_t)size * sizeof(double) + 1);
    *acc = malloc(per * sizeof(double) + 1);
    softce_status st = SOFTCE_OK;
    softce_tensor tmine, tpart;
    last_error[0] = '\0';
    if (!mine || !all || !*acc)
        st = fail(SOFTCE_ERROR_OUT_OF_MEMORY, "cannot allocate %d x %lld statistics", size,
                  (long long)E);
    else if (E < 0) { /* a bad logits descriptor: let the library name the problem */
        double dummy[SOFTCE_SHARD_STATS];
        int64_t k = SOFTCE_SHARD_STATS;
        softce_tensor_init(&tmine, SOFTCE_DTYPE_F64, 1, &k, dummy);
        st = softce_shard_stats(opts, logits, target, class_offset, num_classes, &tmine);
        if (st == SOFTCE_OK)
            st = fail(SOFTCE_ERROR_SHAPE, "logits_shard: invalid shape");
    } else {
        softce_tensor_init(&tmine, SOFTCE_DTYPE_F64, ndim, shape, mine);
        st = softce_shard_stats(opts, logits, target, class_offset, num_classes, &tmine);
    }
    if (st != SOFTCE_OK && !last_error[0])
        fail(st, "%s", softce_last_error());
    st = agree(st, E, comm);
    if (st == SOFTCE_OK && E > 0) {
        MPI_Datatype row;
        MPI_Type_contiguous(SOFTCE_SHARD_STATS, MPI_DOUBLE, &row);
        MPI_Type_commit(&row);
        if (MPI_Allgather(mine, (int)E, row, all, (int)E, row, comm) != MPI_SUCCESS)
            st = fail(SOFTCE_ERROR_INTERNAL, "MPI_Allgather failed");
        MPI_Type_free(&row);
        memcpy(*acc, all, per * sizeof(double));
        softce_tensor_init(tacc, SOFTCE_DTYPE_F64, ndim, shape, *acc);
        for (int r = 1; r < size && st == SOFTCE_OK; r++) { /* rank order: deterministic */
            softce_tensor_init(&tpart, SOFTCE_DTYPE_F64, ndim, shape, all + (size_t)r * per);
            if ((st = softce_shard_combine(tacc, &tpart, tacc)) != SOFTCE_OK)
                fail(st, "%s", softce_last_error());
        }
    } else if (st == SOFTCE_OK) {
        softce_tensor_init(tacc, SOFTCE_DTYPE_F64, ndim, shape, *acc);
    }
    free(mine);
    free(all);
    return st;
}

softce_status softce_mpi_forward(const softce_options *opts, const softce_tensor *logits_shard,
                                 const softce_tensor *target, int64_t class_offset,
                                 int64_t num_classes, const softce_tensor *loss,
                                 const softce_tensor *lse, MPI_Comm comm) {
    double *acc = NULL;
    softce_tensor tacc;
    softce_status st =
        gather_combined(opts, logits_shard, target, class_offset, num_classes, comm, &acc, &tacc);
    if (st == SOFTCE_OK && (st = softce_shard_finalize(opts, target, &tacc, loss, lse)))
        fail(st, "%s", softce_last_error());
    free(acc);
    return st;
}

softce_status softce_mpi_forward_backward(const softce_options *opts,
                                          const softce_tensor *logits_shard,
                                          const softce_tensor *target, int64_t class_offset,
                                          int64_t num_classes, const softce_tensor *grad_loss,
                                          const softce_tensor *loss,
                                          const softce_tensor *grad_logits_shard, MPI_Comm comm) {
    double *acc = NULL;
    softce_tensor tacc;
    if (!grad_logits_shard)
        return fail(SOFTCE_ERROR_NULL_POINTER, "grad_logits_shard is NULL");
    softce_status st =
        gather_combined(opts, logits_shard, target, class_offset, num_classes, comm, &acc, &tacc);
    /* The loss first (finalize validates everything it writes before writing it), then the
       gradient; should the gradient's validation fail, the loss bytes are put back, so a
       failed call leaves every output untouched. finalize does not read the logits, which an
       in-place gradient overwrites. */
    unsigned char *saved = NULL;
    size_t saved_bytes = 0;
    if (st == SOFTCE_OK && loss && (saved_bytes = span_bytes(loss)) > 0 &&
        !(saved = malloc(saved_bytes)))
        st = fail(SOFTCE_ERROR_OUT_OF_MEMORY, "cannot save the loss");
    if (saved)
        memcpy(saved, loss->data, saved_bytes);
    if (st == SOFTCE_OK && loss && (st = softce_shard_finalize(opts, target, &tacc, loss, NULL)))
        fail(st, "%s", softce_last_error());
    if (st == SOFTCE_OK &&
        (st = softce_shard_backward(opts, logits_shard, target, class_offset, num_classes, &tacc,
                                    grad_loss, grad_logits_shard, NULL))) {
        fail(st, "%s", softce_last_error());
        if (saved)
            memcpy(loss->data, saved, saved_bytes);
    }
    free(saved);
    free(acc);
    return st;
}
