/* Column kernel compiled with AVX2+FMA (see src/CMakeLists.txt). */
#define COL_NAME softce__col_avx2
#include "kernels/col_impl.h"
