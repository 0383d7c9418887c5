/* Shared helpers of the C tests; see tutil.h. */
#include "common/tutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { GUARD = 64 };

/* ---- dtypes ---------------------------------------------------------------------------- */

size_t tu_dtype_size(int32_t dtype) {
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
        return 1;
    }
}

const char *tu_dtype_name(int32_t dtype) {
    static const char *const names[] = {"invalid", "f32", "f64", "f16", "bf16", "i32", "i64"};
    return dtype >= 0 && dtype <= 6 ? names[dtype] : "?";
}

/* Rounds to a binary format with p significant bits, minimum normal exponent emin. */
static double round_binary(double v, int p, int emin, double maxfinite) {
    if (v == 0.0 || !isfinite(v))
        return v;
    int e;
    frexp(fabs(v), &e); /* |v| in [2^(e-1), 2^e) */
    int ex = e - 1 < emin ? emin : e - 1;
    double q = ldexp(1.0, ex - (p - 1));
    double r = nearbyint(v / q) * q; /* ties to even in the default rounding mode */
    return fabs(r) > maxfinite ? copysign(INFINITY, v) : r;
}

double tu_round(int32_t dtype, double v) {
    switch (dtype) {
    case SOFTCE_DTYPE_F32:
        return (double)(float)v;
    case SOFTCE_DTYPE_F16:
        return round_binary(v, 11, -14, 65504.0);
    case SOFTCE_DTYPE_BF16:
        return round_binary(v, 8, -126, ldexp(255.0, 120));
    case SOFTCE_DTYPE_I32:
        return (double)(int32_t)v;
    case SOFTCE_DTYPE_I64:
        return (double)(int64_t)v;
    default:
        return v;
    }
}

static uint16_t f16_bits(double v) {
    double r = tu_round(SOFTCE_DTYPE_F16, v);
    uint16_t sign = signbit(r) ? 0x8000u : 0u;
    double a = fabs(r);
    if (isnan(r))
        return 0x7e00u;
    if (isinf(r))
        return (uint16_t)(sign | 0x7c00u);
    if (a < 0x1p-14)
        return (uint16_t)(sign | (uint16_t)(a * 0x1p24));
    int e;
    double m = frexp(a, &e);
    unsigned mant = (unsigned)((m * 2.0 - 1.0) * 1024.0);
    return (uint16_t)(sign | (unsigned)(e - 1 + 15) << 10 | mant);
}

static double f16_value(uint16_t h) {
    int e = (h >> 10) & 0x1f;
    int mant = h & 0x3ff;
    double a;
    if (e == 0)
        a = ldexp((double)mant, -24);
    else if (e == 31)
        a = mant ? NAN : INFINITY;
    else
        a = ldexp((double)(1024 + mant), e - 25);
    return (h & 0x8000u) ? -a : a;
}

static uint16_t bf16_bits(double v) {
    float f = (float)tu_round(SOFTCE_DTYPE_BF16, v); /* exact */
    uint32_t u;
    memcpy(&u, &f, 4);
    return isnan(f) ? (uint16_t)0x7fc0u : (uint16_t)(u >> 16);
}

static double bf16_value(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return (double)f;
}

void tu_put(int32_t dtype, void *p, double v) {
    if (dtype == SOFTCE_DTYPE_F32) {
        float f = (float)v;
        memcpy(p, &f, 4);
    } else if (dtype == SOFTCE_DTYPE_F64) {
        memcpy(p, &v, 8);
    } else if (dtype == SOFTCE_DTYPE_I32) {
        int32_t i = (int32_t)v;
        memcpy(p, &i, 4);
    } else if (dtype == SOFTCE_DTYPE_I64) {
        int64_t i = (int64_t)v;
        memcpy(p, &i, 8);
    } else {
        uint16_t h = dtype == SOFTCE_DTYPE_F16 ? f16_bits(v) : bf16_bits(v);
        memcpy(p, &h, 2);
    }
}

double tu_get(int32_t dtype, const void *p) {
    float f;
    double d;
    int32_t i32;
    int64_t i64;
    uint16_t h;
    switch (dtype) {
    case SOFTCE_DTYPE_F32:
        memcpy(&f, p, 4);
        return (double)f;
    case SOFTCE_DTYPE_F64:
        memcpy(&d, p, 8);
        return d;
    case SOFTCE_DTYPE_I32:
        memcpy(&i32, p, 4);
        return (double)i32;
    case SOFTCE_DTYPE_I64:
        memcpy(&i64, p, 8);
        return (double)i64;
    default:
        memcpy(&h, p, 2);
        return dtype == SOFTCE_DTYPE_F16 ? f16_value(h) : bf16_value(h);
    }
}

int64_t tu_numel(int32_t ndim, const int64_t *shape) {
    int64_t n = 1;
    for (int32_t k = 0; k < ndim; k++)
        n *= shape[k];
    return n;
}

void *tu_alloc(size_t bytes) {
    void *p = malloc(bytes ? bytes : 1);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        abort();
    }
    return p;
}

/* ---- strided tensors ------------------------------------------------------------------- */

void tb_make(tbuf *b, int32_t dtype, int32_t ndim, const int64_t *shape, const int64_t *strides) {
    memset(b, 0, sizeof *b);
    int64_t span = 1, st = 1;
    for (int32_t k = ndim - 1; k >= 0; k--) {
        b->t.shape[k] = shape[k];
        b->t.strides[k] = strides ? strides[k] : st;
        st *= shape[k] > 0 ? shape[k] : 1;
        span += (shape[k] - 1) * b->t.strides[k];
    }
    if (tu_numel(ndim, shape) == 0)
        span = 0;
    b->t.struct_size = sizeof(softce_tensor);
    b->t.dtype = dtype;
    b->t.ndim = ndim;
    b->bytes = 2 * GUARD + (size_t)span * tu_dtype_size(dtype);
    b->mem = tu_alloc(b->bytes);
    b->snap = tu_alloc(b->bytes);
    for (size_t i = 0; i < b->bytes; i++)
        b->mem[i] = (unsigned char)(0xa5u ^ (i * 37u));
    b->t.data = b->mem + GUARD;
    tb_snapshot(b);
}

void tb_make_layout(tbuf *b, int32_t dtype, int32_t ndim, const int64_t *shape, int layout) {
    int order[SOFTCE_MAX_DIMS];
    int64_t strides[SOFTCE_MAX_DIMS];
    for (int k = 0; k < ndim; k++)
        order[k] = layout == TL_REVERSED ? ndim - 1 - k : k;
    if (layout == TL_CLASS_LAST && ndim >= 3) {
        for (int k = 1; k < ndim - 1; k++)
            order[k] = k + 1;
        order[ndim - 1] = 1;
    }
    int64_t gap = layout == TL_PADDED ? 3 : 0;
    int64_t st = layout == TL_PADDED ? 2 : 1;
    for (int k = ndim - 1; k >= 0; k--) { /* order lists dims from outermost to innermost */
        strides[order[k]] = st;
        st = st * (shape[order[k]] > 0 ? shape[order[k]] : 1) + gap;
    }
    if (layout == TL_BCAST && ndim > 0)
        strides[0] = 0;
    tb_make(b, dtype, ndim, shape, strides);
}

void tb_free(tbuf *b) {
    free(b->mem);
    free(b->snap);
    memset(b, 0, sizeof *b);
}

int64_t tb_offset(const softce_tensor *t, int64_t i) {
    int64_t off = 0;
    for (int32_t k = t->ndim - 1; k >= 0; k--) {
        off += (i % t->shape[k]) * t->strides[k];
        i /= t->shape[k];
    }
    return off;
}

void tb_store(tbuf *b, const double *vals) {
    size_t es = tu_dtype_size(b->t.dtype);
    int64_t n = tu_numel(b->t.ndim, b->t.shape);
    for (int64_t i = 0; i < n; i++)
        tu_put(b->t.dtype, (unsigned char *)b->t.data + tb_offset(&b->t, i) * (int64_t)es, vals[i]);
}

void tb_load(const tbuf *b, double *vals) {
    size_t es = tu_dtype_size(b->t.dtype);
    int64_t n = tu_numel(b->t.ndim, b->t.shape);
    for (int64_t i = 0; i < n; i++)
        vals[i] = tu_get(b->t.dtype,
                         (const unsigned char *)b->t.data + tb_offset(&b->t, i) * (int64_t)es);
}

void tb_snapshot(tbuf *b) { memcpy(b->snap, b->mem, b->bytes); }

bool tb_unchanged(const tbuf *b) { return b->bytes == 0 || memcmp(b->mem, b->snap, b->bytes) == 0; }

bool tb_same_bytes(const tbuf *a, const tbuf *b) {
    return a->bytes == b->bytes && (a->bytes == 0 || memcmp(a->mem, b->mem, a->bytes) == 0);
}

bool tb_outside_unchanged(const tbuf *b) {
    unsigned char *mask = calloc(b->bytes ? b->bytes : 1, 1);
    size_t es = tu_dtype_size(b->t.dtype);
    int64_t n = tu_numel(b->t.ndim, b->t.shape);
    size_t base = (size_t)((unsigned char *)b->t.data - b->mem);
    for (int64_t i = 0; i < n; i++)
        memset(mask + base + (size_t)tb_offset(&b->t, i) * es, 1, es);
    bool ok = true;
    for (size_t i = 0; i < b->bytes && ok; i++)
        ok = mask[i] || b->mem[i] == b->snap[i];
    free(mask);
    return ok;
}

/* ---- random ---------------------------------------------------------------------------- */

uint64_t tu_rand_u64(tu_rng *r) {
    uint64_t z = (r->s += 0x9e3779b97f4a7c15u); /* splitmix64 */
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

double tu_rand_unif(tu_rng *r) { return (double)(tu_rand_u64(r) >> 11) * 0x1p-53; }

double tu_rand_normal(tu_rng *r) {
    double u = 1.0 - tu_rand_unif(r), v = tu_rand_unif(r);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

int64_t tu_rand_int(tu_rng *r, int64_t n) { return (int64_t)(tu_rand_u64(r) % (uint64_t)n); }

/* ---- comparisons ----------------------------------------------------------------------- */

static char g_context[256];

void tu_set_context(const char *ctx) {
    snprintf(g_context, sizeof g_context, "%s", ctx ? ctx : "");
}

static bool same_value(double got, double want, double rtol, double atol) {
    if (isnan(want) || isnan(got))
        return isnan(want) && isnan(got);
    if (isinf(want) || isinf(got))
        return got == want;
    return fabs(got - want) <= rtol * fabs(want) + atol;
}

bool tu_close(const char *what, const double *got, const double *want, int64_t n, double rtol,
              double atol) {
    int bad = 0;
    for (int64_t i = 0; i < n; i++) {
        if (same_value(got[i], want[i], rtol, atol))
            continue;
        if (bad++ < 5)
            fprintf(stderr, "[%s] %s[%lld]: got %.17g want %.17g (rtol %g atol %g)\n", g_context,
                    what, (long long)i, got[i], want[i], rtol, atol);
    }
    if (bad)
        fprintf(stderr, "[%s] %s: %d of %lld values differ\n", g_context, what, bad, (long long)n);
    return bad == 0;
}

double tu_maxabs(const double *v, int64_t n) {
    double m = 0.0;
    for (int64_t i = 0; i < n; i++)
        if (isfinite(v[i]) && fabs(v[i]) > m)
            m = fabs(v[i]);
    return m;
}

double tu_rtol(int32_t in, int32_t out) {
    double r = in == SOFTCE_DTYPE_F64 ? 1e-12 : 1e-5;
    if (out == SOFTCE_DTYPE_F32)
        r += 1e-6;
    else if (out == SOFTCE_DTYPE_F16)
        r += 1e-3;
    else if (out == SOFTCE_DTYPE_BF16)
        r += 8e-3;
    return r;
}
