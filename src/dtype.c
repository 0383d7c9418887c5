/* Element types: sizes, names, conversions (f16/bf16 in software, round to nearest even; the
   contiguous row conversions through the active ISA's, which give the same bits). */
#include "internal.h"
#include "kernels/kernels.h"

#include <string.h>

int softce__dtype_size(int32_t dtype) {
    switch (dtype) {
    case SOFTCE_DTYPE_F32:
    case SOFTCE_DTYPE_I32:
        return 4;
    case SOFTCE_DTYPE_F64:
    case SOFTCE_DTYPE_I64:
        return 8;
    case SOFTCE_DTYPE_F16:
    case SOFTCE_DTYPE_BF16:
        return 2;
    default:
        return 0;
    }
}

int softce__dtype_is_float(int32_t dtype) {
    return dtype == SOFTCE_DTYPE_F32 || dtype == SOFTCE_DTYPE_F64 || dtype == SOFTCE_DTYPE_F16 ||
           dtype == SOFTCE_DTYPE_BF16;
}

int softce__dtype_is_int(int32_t dtype) {
    return dtype == SOFTCE_DTYPE_I32 || dtype == SOFTCE_DTYPE_I64;
}

const char *softce__dtype_name(int32_t dtype) {
    static const char *const names[] = {"invalid", "f32", "f64", "f16", "bf16", "i32", "i64"};
    return (dtype >= 0 && dtype <= SOFTCE_DTYPE_I64) ? names[dtype] : "unknown";
}

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

float softce__bf16_to_f32(uint16_t b) { return bits_f32((uint32_t)b << 16); }

static inline uint16_t bf16_rne(float f);

uint16_t softce__f32_to_bf16(float f) { return bf16_rne(f); }

float softce__f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    if (exp == 0x1f) /* inf / NaN (quieted, as the F16C conversion does) */
        return bits_f32(sign | 0x7f800000u | (man << 13) | (man ? 0x400000u : 0u));
    if (exp == 0) { /* zero / subnormal: man * 2^-24 is exact in f32 */
        float v = (float)man * 5.9604644775390625e-8f;
        return sign ? -v : v;
    }
    return bits_f32(sign | ((exp + 112u) << 23) | (man << 13));
}

uint16_t softce__f32_to_f16(float f) {
    uint32_t u = f32_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u)
        return (uint16_t)(sign | 0x7e00u | ((a >> 13) & 0x3ffu));
    if (a >= 0x477ff000u) /* rounds to >= 65520: inf */
        return (uint16_t)(sign | 0x7c00u);
    if (a < 0x38800000u) { /* below 2^-14: subnormal half, round to nearest even */
        float v = bits_f32(a) * 16777216.0f; /* exact scaling by 2^24 */
        uint32_t m = (uint32_t)v;
        float rest = v - (float)m;
        if (rest > 0.5f || (rest == 0.5f && (m & 1u)))
            m++;
        return (uint16_t)(sign | m);
    }
    uint32_t r = a + 0x0fffu + ((a >> 13) & 1u) - 0x38000000u;
    return (uint16_t)(sign | (r >> 13));
}

double softce__load(int32_t dtype, const void *base, int64_t index) {
    switch (dtype) {
    case SOFTCE_DTYPE_F32:
        return ((const float *)base)[index];
    case SOFTCE_DTYPE_F64:
        return ((const double *)base)[index];
    case SOFTCE_DTYPE_F16:
        return softce__f16_to_f32(((const uint16_t *)base)[index]);
    case SOFTCE_DTYPE_BF16:
        return softce__bf16_to_f32(((const uint16_t *)base)[index]);
    default:
        return 0.0;
    }
}

void softce__store(int32_t dtype, void *base, int64_t index, double v) {
    switch (dtype) {
    case SOFTCE_DTYPE_F32:
        ((float *)base)[index] = (float)v;
        break;
    case SOFTCE_DTYPE_F64:
        ((double *)base)[index] = v;
        break;
    case SOFTCE_DTYPE_F16:
        ((uint16_t *)base)[index] = softce__f32_to_f16((float)v);
        break;
    case SOFTCE_DTYPE_BF16:
        ((uint16_t *)base)[index] = softce__f32_to_bf16((float)v);
        break;
    default:
        break;
    }
}

void softce__store_int(int32_t dtype, void *base, int64_t index, int64_t v) {
    if (dtype == SOFTCE_DTYPE_I32)
        ((int32_t *)base)[index] = (int32_t)v;
    else if (dtype == SOFTCE_DTYPE_I64)
        ((int64_t *)base)[index] = v;
    else
        softce__store(dtype, base, index, (double)v);
}

int64_t softce__load_int(int32_t dtype, const void *base, int64_t index) {
    if (dtype == SOFTCE_DTYPE_I32)
        return ((const int32_t *)base)[index];
    return ((const int64_t *)base)[index];
}

/* Row conversions: contiguous f16/bf16 rows by the active ISA's conversions (F16C, AVX-512,
   integer SIMD); otherwise the dtype switch outside the loops, so the common cases (f32 <-> f32,
   bf16 -> f32, f32 -> bf16, contiguous or strided) are plain loops. */
static const softce__convert *row_converter(int32_t dtype, int64_t stride) {
    if (stride != 1 || (dtype != SOFTCE_DTYPE_BF16 && dtype != SOFTCE_DTYPE_F16))
        return NULL;
    return softce__converters();
}

static void gather_f32(int32_t dtype, const void *base, int64_t stride, int64_t n, float *out) {
    const softce__convert *cv = row_converter(dtype, stride);
    if (cv) {
        cv->widen(dtype == SOFTCE_DTYPE_BF16, base, n, out);
        return;
    }
    switch (dtype) {
    case SOFTCE_DTYPE_F32:
        for (int64_t i = 0; i < n; i++)
            out[i] = ((const float *)base)[i * stride];
        break;
    case SOFTCE_DTYPE_BF16:
        for (int64_t i = 0; i < n; i++)
            out[i] = bits_f32((uint32_t)((const uint16_t *)base)[i * stride] << 16);
        break;
    default:
        for (int64_t i = 0; i < n; i++)
            out[i] = (float)softce__load(dtype, base, i * stride);
        break;
    }
}

void softce__gather(int32_t dtype, const void *base, int64_t stride, int64_t n, int to_f64,
                    void *row) {
    if (!to_f64) {
        gather_f32(dtype, base, stride, n, row);
        return;
    }
    double *out = row;
    if (dtype == SOFTCE_DTYPE_F64) {
        for (int64_t i = 0; i < n; i++)
            out[i] = ((const double *)base)[i * stride];
        return;
    }
    for (int64_t i = 0; i < n; i++)
        out[i] = softce__load(dtype, base, i * stride);
}

/* f32 -> bf16, round to nearest even, NaN kept quiet; branch-free for vectorisation. */
static inline uint16_t bf16_rne(float f) {
    uint32_t u = f32_bits(f);
    uint32_t r = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
    uint32_t nan = (u >> 16) | 0x0040u;
    return (uint16_t)((u & 0x7fffffffu) > 0x7f800000u ? nan : r);
}

void softce__scatter(int32_t dtype, void *base, int64_t stride, int64_t n, int from_f64,
                     const void *row) {
    if (from_f64) {
        const double *in = row;
        for (int64_t i = 0; i < n; i++)
            softce__store(dtype, base, i * stride, in[i]);
        return;
    }
    const float *in = row;
    const softce__convert *cv = row_converter(dtype, stride);
    if (cv) {
        cv->narrow(dtype == SOFTCE_DTYPE_BF16, in, n, base);
        return;
    }
    switch (dtype) {
    case SOFTCE_DTYPE_F32:
        for (int64_t i = 0; i < n; i++)
            ((float *)base)[i * stride] = in[i];
        break;
    case SOFTCE_DTYPE_BF16:
        for (int64_t i = 0; i < n; i++)
            ((uint16_t *)base)[i * stride] = bf16_rne(in[i]);
        break;
    default:
        for (int64_t i = 0; i < n; i++)
            softce__store(dtype, base, i * stride, in[i]);
        break;
    }
}
