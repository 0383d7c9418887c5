/* Run-time choice of the row-kernel tables. */
#include "kernels/kernels.h"

const softce__row_kernels *softce__kernels_f32(void) { return &softce__row_scalar_f32; }

const softce__row_kernels *softce__kernels_f64(void) { return &softce__row_scalar_f64; }
