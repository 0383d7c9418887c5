/* The vector exp functions of src/kernels/exp_*.h (the general one and the kernels' variants
   for x - max <= 0: "le0" and the unflushed "in") (and log_*.h's log1p) over arrays (n a
   multiple of the lanes), each defined in a file compiled with its ISA's flags. */
#ifndef SOFTCE_EXP_PROBE_H
#define SOFTCE_EXP_PROBE_H

#include <stdint.h>

/* Defines name(x, y, n): y = fn(x), `lanes` elements of type T at a time through the ISA's
   unaligned load and store (in the file compiled with that ISA's flags). */
#define EXP_PROBE(name, fn, T, lanes, load, store)                                                 \
    void name(const T *x, T *y, int64_t n) {                                                       \
        for (int64_t i = 0; i < n; i += (lanes))                                                   \
            store(y + i, fn(load(x + i)));                                                         \
    }

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
