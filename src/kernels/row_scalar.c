/* Scalar row kernels for f32 and f64 compute types (always built; the oracle). */
#include "kernels/kernels.h"

#include "kernels/blocks.h"
#include "kernels/expf_portable.h"
#include "kernels/ksum.h"

#include <math.h>

/* f32 uses the portable polynomial exp: branch-free, so the loops vectorise. */
#define T float
#define EXP softce__expf_portable
#define SFX _f32
#include "kernels/row_scalar_impl.h"
#undef T
#undef EXP
#undef SFX

#define T double
#define EXP exp
#define SFX _f64
#include "kernels/row_scalar_impl.h"
#undef T
#undef EXP
#undef SFX
