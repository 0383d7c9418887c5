/* The column kernel for the active ISA level (same choice as the row tables). */
#include "kernels/col_rows.h"
#include "kernels/kernels.h"

#include <stddef.h>

softce__col_kernel softce__kernels_col(void) {
    switch (softce__active_isa()) {
#ifdef SOFTCE_HAVE_AVX512
    case SOFTCE__ISA_AVX512:
        return softce__col_avx512;
#endif
#ifdef SOFTCE_HAVE_AVX2
    case SOFTCE__ISA_AVX2:
        return softce__col_avx2;
#endif
    default:
        return softce__col_scalar;
    }
}

softce__col_kernel softce__kernels_col_rows(void) {
    switch (softce__active_isa()) {
#ifdef SOFTCE_HAVE_AVX512
    case SOFTCE__ISA_AVX512:
        return softce__col_rows_avx512;
#endif
#ifdef SOFTCE_HAVE_AVX2
    case SOFTCE__ISA_AVX2:
        return softce__col_rows_avx2;
#endif
    default:
        return NULL;
    }
}

int softce__kernels_col_16bit(void) {
#ifdef SOFTCE_HAVE_AVX512
    return softce__active_isa() == SOFTCE__ISA_AVX512;
#else
    return 0;
#endif
}
