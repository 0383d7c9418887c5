/*
 * exp for float in portable C that compilers auto-vectorise (no libm call, no branches):
 * n = round(x / ln2) by the 1.5*2^23 trick, r = x - n ln2 (two-part ln2), degree-7 Taylor
 * on |r| <= ln2/2 (truncation < 2^-27), 2^n assembled in the exponent bits.
 * Domain used here: x <= 0 (x - max). Results below e^-87.3 flush to exactly 0 (no denormals),
 * -inf -> 0, NaN -> NaN. Accuracy: <= 1.21 ulp on [-87.3, 0], every f32 (docs/numerics.md).
 */
#ifndef SOFTCE_EXPF_PORTABLE_H
#define SOFTCE_EXPF_PORTABLE_H

#include <stdint.h>
#include <string.h>

static inline float softce__bits_to_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline uint32_t softce__f32_to_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float softce__expf_portable(float x) {
    const float magic = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    float xc = x < -87.5f ? -87.5f : x; /* keeps n in range; NaN stays NaN here */
    float t = xc * 1.44269504088896341f + magic;
    float n = t - magic;
    float r = xc - n * 0.693145751953125f; /* ln2 high part: exact product */
    r = r - n * 1.42860682030941723212e-6f;
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    uint32_t nbits = softce__f32_to_bits(t) - softce__f32_to_bits(magic);
    float scale = softce__bits_to_f32((nbits + 127u) << 23);
    float y = p * scale;
    y = x < -87.3f ? 0.0f : y;
    return x != x ? x : y;
}

#endif
