/* exp_avx512.h and log_avx512.h over arrays; compiled with the AVX-512 kernel flags. */
#include "exp_probe.h"
#include "kernels/exp_avx512.h"
#include "kernels/log_avx512.h"

/* name(x, y, n): fn over 16 floats at a time. */
#define PROBE_F32(name, fn)                                                                        \
    void name(const float *x, float *y, int64_t n) {                                               \
        for (int64_t i = 0; i < n; i += 16)                                                        \
            _mm512_storeu_ps(y + i, fn(_mm512_loadu_ps(x + i)));                                   \
    }

PROBE_F32(probe_exp_f32_avx512, softce__exp_f32x16)
PROBE_F32(probe_exp_le0_f32_avx512, softce__exp_le89_f32x16)
PROBE_F32(probe_exp_in_f32_avx512, softce__exp_in_f32x16)
PROBE_F32(probe_log1p_f32_avx512, softce__log1p_f32x16)

void probe_exp_f64_avx512(const double *x, double *y, int64_t n) {
    for (int64_t i = 0; i < n; i += 8)
        _mm512_storeu_pd(y + i, softce__exp_f64x8(_mm512_loadu_pd(x + i)));
}
