/* The vector exp functions of src/kernels/exp_*.h (the general one and the kernels' variants
   for x - max <= 0: "le0" and the unflushed "in") (and log_*.h's log1p) over arrays (n a
   multiple of the lanes), each defined in a file compiled with its ISA's flags. */
#ifndef SOFTCE_EXP_PROBE_H
#define SOFTCE_EXP_PROBE_H

#include <stdint.h>

void probe_exp_f32_avx2(const float *x, float *y, int64_t n);
void probe_exp_le0_f32_avx2(const float *x, float *y, int64_t n); /* softce__exp_le88_f32x8 */
void probe_exp_in_f32_avx2(const float *x, float *y, int64_t n);
void probe_exp_f64_avx2(const double *x, double *y, int64_t n);
void probe_exp_f32_avx512(const float *x, float *y, int64_t n);
void probe_exp_le0_f32_avx512(const float *x, float *y, int64_t n); /* softce__exp_le89_f32x16 */
void probe_exp_in_f32_avx512(const float *x, float *y, int64_t n);
void probe_exp_f64_avx512(const double *x, double *y, int64_t n);
void probe_log1p_f32_avx512(const float *x, float *y, int64_t n);
void probe_log1p_f32_avx2(const float *x, float *y, int64_t n);

#endif
