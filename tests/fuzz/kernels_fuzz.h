/*
 * Kernel fuzzing: a small random problem (every entry point, dtype, layout family, option)
 * built from fuzz bytes (fuzz_kernels.c), and its expected results with a per-value error
 * bound from an independent double-precision reference (kernels_ref.c).
 */
#ifndef SOFTCE_FUZZ_KERNELS_H
#define SOFTCE_FUZZ_KERNELS_H

#include <softce/softce.h>

#include <stddef.h>
#include <stdint.h>

typedef enum kf_op { KF_FORWARD, KF_BACKWARD, KF_FUSED, KF_LOG_SOFTMAX } kf_op;

/* A tensor and the memory behind it (exactly its span). */
typedef struct kf_tensor {
    int on;
    softce_tensor t;
    unsigned char *mem, *snap;
    size_t bytes;
} kf_tensor;

typedef struct kf_problem {
    kf_op op;
    softce_options o;
    int ndim, cax, en; /* logits rank, class axis, element rank */
    int64_t shape[4], es[3], C, E;
    int soft, inplace;
    kf_tensor x, t, w, gl, lse_in, loss, lse, gx, gt;
    /* decoded inputs, element-major: value of element e, class c at [e * C + c] */
    double *xv, *pv, *wv, *glv, *lsev;
    int64_t *tv;
} kf_problem;

/* Expected outputs and their error bounds (same indexing; loss has E or 1 values). */
typedef struct kf_expect {
    double *loss, *loss_tol, *lse, *lse_tol, *gx, *gx_tol, *gt, *gt_tol;
    int nan_loss; /* mean over nothing */
} kf_expect;

void kf_reference(const kf_problem *p, kf_expect *e);
void kf_expect_free(kf_expect *e);

/* Element (e, c) of a logits-shaped tensor, or element e of an element-shaped one (c < 0). */
int64_t kf_offset(const kf_problem *p, const softce_tensor *t, int64_t e, int64_t c);
double kf_get(const softce_tensor *t, int64_t off);
void kf_put(const softce_tensor *t, int64_t off, double v);

#endif
