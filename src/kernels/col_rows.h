/*
 * The column kernel for row-major rows of few classes (tiles.c): the same softce__col_tile,
 * but its operands are the row-major xr, pr and gr, x[r * ldx + c] (class stride 1), and C <=
 * SOFTCE__COL_ROWS_MAX_C. 16 rows at a time are transposed in registers (16 x 16 blocks of
 * classes) into the column kernel's [C][16] buffers and the gradient back, so no [C][R] tile
 * goes through memory.
 * Each operand is f32, bf16 or f16 (its kind), converted on the way in registers as
 * dtype.c converts (bit-identical). AVX-512 (kernels/col_avx512.c); AVX2 takes f32 operands
 * only, 8 rows at a time in 8 x 8 blocks (kernels/col_avx2.c); elsewhere, and for 16-bit
 * operands under AVX2, tiles.c gathers a [C][R] tile.
 */
#ifndef SOFTCE_COL_ROWS_H
#define SOFTCE_COL_ROWS_H

#include "kernels/kernels.h"

#define SOFTCE__COL_ROWS_MAX_C 64

/* Element kinds of the row-major operands (softce__col_tile's xk, pk, gk). */
enum { SOFTCE__ROWS_F32 = 0, SOFTCE__ROWS_BF16 = 1, SOFTCE__ROWS_F16 = 2 };

void softce__col_rows_avx512(const softce__col_tile *tile);
void softce__col_rows_avx2(const softce__col_tile *tile);

/* The row-major column kernel of the active ISA level, or NULL (kernels/col_dispatch.c); it
   takes bf16 and f16 operands where softce__kernels_col_16bit() says so, else f32 only. */
softce__col_kernel softce__kernels_col_rows(void);

/* The strided kernel (softce__col_avx512) also takes class planes of 16-bit floats: with xr set,
   x, p and gx are xr, pr and gr, all of kind xk (bf16 or f16), positions contiguous, classes
   ldx / ldp / ldg elements apart, C <= SOFTCE__COL_16BIT_MAX_C. Whether the active ISA level's
   column kernels read 16-bit operands, the strided one and the row-major one alike (AVX-512:
   both; AVX2: neither; kernels/col_dispatch.c). */
#define SOFTCE__COL_16BIT_MAX_C 64
int softce__kernels_col_16bit(void);

#endif
