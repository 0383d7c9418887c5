/* exp_avx512.h and log_avx512.h over arrays; compiled with the AVX-512 kernel flags. */
#include "exp_probe.h"
#include "kernels/exp_avx512.h"
#include "kernels/log_avx512.h"

#define F32(name, fn) EXP_PROBE(name, fn, float, 16, _mm512_loadu_ps, _mm512_storeu_ps)
F32(probe_exp_f32_avx512, softce__exp_f32x16)
F32(probe_exp_le0_f32_avx512, softce__exp_le89_f32x16)
F32(probe_exp_in_f32_avx512, softce__exp_in_f32x16)
F32(probe_log1p_f32_avx512, softce__log1p_f32x16)
EXP_PROBE(probe_exp_f64_avx512, softce__exp_f64x8, double, 8, _mm512_loadu_pd, _mm512_storeu_pd)
