/* Status names and strings from one table, and the thread-local error detail. */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>

/* X(enumerator, description): the single source of names and strings. */
#define SOFTCE__STATUS_TABLE(X)                                                                \
    X(SOFTCE_OK, "success")                                                                    \
    X(SOFTCE_ERROR_NULL_POINTER, "a required pointer is NULL")                                 \
    X(SOFTCE_ERROR_STRUCT_SIZE, "invalid struct_size or reserved field")                       \
    X(SOFTCE_ERROR_DTYPE, "invalid or unsupported dtype")                                      \
    X(SOFTCE_ERROR_NDIM, "invalid number of dimensions")                                       \
    X(SOFTCE_ERROR_SHAPE, "invalid or mismatched shape")                                       \
    X(SOFTCE_ERROR_STRIDE, "invalid stride")                                                   \
    X(SOFTCE_ERROR_OVERFLOW, "size or offset overflows int64")                                 \
    X(SOFTCE_ERROR_OVERLAP, "an output overlaps another operand")                              \
    X(SOFTCE_ERROR_OPTION, "invalid option")                                                   \
    X(SOFTCE_ERROR_TARGET, "class index out of range")                                         \
    X(SOFTCE_ERROR_OUT_OF_MEMORY, "out of memory")                                             \
    X(SOFTCE_ERROR_INTERNAL, "internal error")                                                 \
    X(SOFTCE_ERROR_EMPTY_MEAN, "mean over nothing")

const char *softce_status_name(softce_status status) {
    switch (status) {
#define SOFTCE__NAME_CASE(e, s)                                                                \
    case e:                                                                                    \
        return #e;
        SOFTCE__STATUS_TABLE(SOFTCE__NAME_CASE)
#undef SOFTCE__NAME_CASE
    }
    return "SOFTCE_ERROR_UNKNOWN";
}

const char *softce_status_string(softce_status status) {
    switch (status) {
#define SOFTCE__STRING_CASE(e, s)                                                              \
    case e:                                                                                    \
        return s;
        SOFTCE__STATUS_TABLE(SOFTCE__STRING_CASE)
#undef SOFTCE__STRING_CASE
    }
    return "unknown status";
}

static _Thread_local char last_error[256];

const char *softce_last_error(void) { return last_error; }

void softce__clear_error(void) { last_error[0] = '\0'; }

softce_status softce__fail(softce_status status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
}
