/* exp_avx2.h and log_avx2.h over arrays; compiled with the AVX2 kernel flags. */
#include "exp_probe.h"
#include "kernels/exp_avx2.h"
#include "kernels/log_avx2.h"

/* name(x, y, n): fn over 8 floats at a time. */
#define PROBE_F32(name, fn)                                                                        \
    void name(const float *x, float *y, int64_t n) {                                               \
        for (int64_t i = 0; i < n; i += 8)                                                         \
            _mm256_storeu_ps(y + i, fn(_mm256_loadu_ps(x + i)));                                   \
    }

PROBE_F32(probe_exp_f32_avx2, softce__exp_f32x8)
PROBE_F32(probe_exp_le0_f32_avx2, softce__exp_le88_f32x8)
PROBE_F32(probe_exp_in_f32_avx2, softce__exp_in_f32x8)
PROBE_F32(probe_log1p_f32_avx2, softce__log1p_f32x8)

void probe_exp_f64_avx2(const double *x, double *y, int64_t n) {
    for (int64_t i = 0; i < n; i += 4)
        _mm256_storeu_pd(y + i, softce__exp_f64x4(_mm256_loadu_pd(x + i)));
}
