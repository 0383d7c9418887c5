/* Column kernel compiled with AVX-512 (see src/CMakeLists.txt). */
#define COL_NAME softce__col_avx512
#include "kernels/col_impl.h"
