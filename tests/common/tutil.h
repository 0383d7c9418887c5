/*
 * Shared helpers of the C tests: strided tensors over guarded, sentinel-filled buffers,
 * dtype rounding (f16/bf16 built in the test), a deterministic RNG and tolerance checks.
 */
#ifndef SOFTCE_TESTS_TUTIL_H
#define SOFTCE_TESTS_TUTIL_H

#include <softce/softce.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Asserts that a library call succeeds, printing its status and detail when it does not
   (cmocka's assert_int_equal, so <cmocka.h> must be included where it is used). */
#define CALL_OK(expr)                                                                              \
    do {                                                                                           \
        softce_status st_ = (expr);                                                                \
        if (st_ != SOFTCE_OK)                                                                      \
            fprintf(stderr, "%s -> %s: %s\n", #expr, softce_status_name(st_),                      \
                    softce_last_error());                                                          \
        assert_int_equal(st_, SOFTCE_OK);                                                          \
    } while (0)

/* ---- dtypes ---------------------------------------------------------------------------- */

size_t tu_dtype_size(int32_t dtype);
const char *tu_dtype_name(int32_t dtype);
/** The value v becomes once stored in dtype (round to nearest even; ints truncate). */
double tu_round(int32_t dtype, double v);
void tu_put(int32_t dtype, void *p, double v);
double tu_get(int32_t dtype, const void *p);
int64_t tu_numel(int32_t ndim, const int64_t *shape);

/* ---- strided tensors ------------------------------------------------------------------- */

/** Memory orders for tb_make_layout(). */
enum {
    TL_CONTIG = 0,     /* row-major */
    TL_REVERSED = 1,   /* column-major: every axis transposed */
    TL_CLASS_LAST = 2, /* dim 1 innermost (channels-last); row-major when ndim < 3 */
    TL_PADDED = 3,     /* row-major with gaps between every element and every row */
    TL_BCAST = 4       /* row-major but dim 0 has stride 0 (broadcast; inputs only) */
};

typedef struct tbuf {
    softce_tensor t;     /* descriptor; t.data points inside mem */
    unsigned char *mem;  /* guard | span | guard, filled with a sentinel pattern */
    unsigned char *snap; /* copy of mem taken by tb_snapshot() */
    size_t bytes;        /* size of mem */
} tbuf;

/** Allocates a tensor with the given strides (NULL: contiguous), filled with the sentinel. */
void tb_make(tbuf *b, int32_t dtype, int32_t ndim, const int64_t *shape, const int64_t *strides);
void tb_make_layout(tbuf *b, int32_t dtype, int32_t ndim, const int64_t *shape, int layout);
void tb_free(tbuf *b);
/** Element offset (in elements) of the logical row-major index i. */
int64_t tb_offset(const softce_tensor *t, int64_t i);
/** Writes / reads all elements in logical row-major order. */
void tb_store(tbuf *b, const double *vals);
void tb_load(const tbuf *b, double *vals);
void tb_snapshot(tbuf *b);
/** True when mem equals the snapshot, byte for byte. */
bool tb_unchanged(const tbuf *b);
/** True when both allocations (guards, gaps and elements) are byte-for-byte equal. */
bool tb_same_bytes(const tbuf *a, const tbuf *b);
/** True when every byte outside the tensor's elements equals the snapshot. */
bool tb_outside_unchanged(const tbuf *b);

/* ---- random ---------------------------------------------------------------------------- */

typedef struct tu_rng {
    uint64_t s;
} tu_rng;

uint64_t tu_rand_u64(tu_rng *r);
double tu_rand_unif(tu_rng *r); /* [0, 1) */
double tu_rand_normal(tu_rng *r);
int64_t tu_rand_int(tu_rng *r, int64_t n); /* [0, n) */

/* ---- comparisons ----------------------------------------------------------------------- */

/** Context printed with every mismatch (e.g. the case being run). */
void tu_set_context(const char *ctx);
/**
 * True when |got - want| <= rtol*|want| + atol for every i (NaN matches NaN, inf matches the
 * same inf). Prints the first mismatches with `what` and the context.
 */
bool tu_close(const char *what, const double *got, const double *want, int64_t n, double rtol,
              double atol);
double tu_maxabs(const double *v, int64_t n);
/** Relative tolerance for results computed from `in` (logits) dtype and stored as `out`. */
double tu_rtol(int32_t in, int32_t out);
/** Malloc that never returns NULL for size 0. */
void *tu_alloc(size_t bytes);

#endif
