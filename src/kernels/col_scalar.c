/* Column kernel, baseline ISA. */
#define COL_NAME softce__col_scalar
#include "kernels/col_impl.h"
