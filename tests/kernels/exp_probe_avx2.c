/* exp_avx2.h and log_avx2.h over arrays; compiled with the AVX2 kernel flags. */
#include "exp_probe.h"
#include "kernels/exp_avx2.h"
#include "kernels/log_avx2.h"

#define F32(name, fn) EXP_PROBE(name, fn, float, 8, _mm256_loadu_ps, _mm256_storeu_ps)
F32(probe_exp_f32_avx2, softce__exp_f32x8)
F32(probe_exp_le0_f32_avx2, softce__exp_le88_f32x8)
F32(probe_exp_in_f32_avx2, softce__exp_in_f32x8)
F32(probe_log1p_f32_avx2, softce__log1p_f32x8)
EXP_PROBE(probe_exp_f64_avx2, softce__exp_f64x4, double, 4, _mm256_loadu_pd, _mm256_storeu_pd)
