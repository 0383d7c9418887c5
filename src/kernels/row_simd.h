/*
 * The SIMD row-kernel tables (one per ISA and compute type, each built from row_simd.inc in a
 * file compiled with that ISA's flags). Only reference a table when its SOFTCE_HAVE_<ISA> is
 * defined (set by kernels.cmake when the compiler supports the flags), and only call it when
 * the CPU has the ISA (softce__cpu_isa).
 */
#ifndef SOFTCE_ROW_SIMD_H
#define SOFTCE_ROW_SIMD_H

#include "kernels/kernels.h"

extern const softce__row_kernels softce__row_avx2_f32;
extern const softce__row_kernels softce__row_avx2_f64;
extern const softce__row_kernels softce__row_avx512_f32;
extern const softce__row_kernels softce__row_avx512_f64;
extern const softce__convert softce__convert_avx2;         /* F16C (row_avx2_f32.c) */
extern const softce__convert softce__convert_avx512;       /* row_avx512_f32.c */
extern const softce__index_scan softce__index_scan_avx2;   /* row_avx2_f32.c */
extern const softce__index_scan softce__index_scan_avx512; /* row_avx512_f32.c */

/* The best ISA level this CPU and OS support (cpuid + xgetbv), whatever was compiled in. */
softce__isa softce__cpu_isa(void);

#endif
