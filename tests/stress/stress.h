/*
 * Concurrency stress: a fixed set of problems covering every entry point, dtype, reduction
 * and layout family. Each problem's inputs are shared read-only by all threads; each call
 * writes its own outputs, which must equal a serial (num_threads = 1) reference bit for bit.
 */
#ifndef SOFTCE_TESTS_STRESS_H
#define SOFTCE_TESTS_STRESS_H

#include <softce/softce.h>

#include <stddef.h>
#include <stdint.h>

typedef enum st_op { ST_FORWARD, ST_BACKWARD, ST_FUSED, ST_LOG_SOFTMAX } st_op;

#define ST_MAX_OUT 2

typedef struct st_problem {
    const char *name;
    st_op op;
    softce_options o;
    softce_tensor weight;        /* the class weights when has_w */
    softce_tensor x, t, gl, lse; /* inputs; t/gl/lse may be unused */
    int has_t, has_gl, has_lse, has_w;
    int inplace; /* out[0] is logits itself (a private copy) */
    int n_out;
    softce_tensor out[ST_MAX_OUT]; /* templates: data is set per call */
    size_t out_bytes[ST_MAX_OUT];
    void *ref[ST_MAX_OUT]; /* outputs of the serial run */
} st_problem;

/* Builds the problem set (deterministic); returns the number of problems. */
int st_make_problems(st_problem **out);
void st_free_problems(st_problem *p, int n);

/* Runs one problem with `num_threads` into freshly allocated outputs (returned in out_data,
   out_bytes from the problem); returns the status. */
softce_status st_run(const st_problem *p, int num_threads, void *out_data[ST_MAX_OUT]);

/* Bytes spanned by a descriptor (0 for an empty tensor). */
size_t st_span_bytes(const softce_tensor *t);

#endif
