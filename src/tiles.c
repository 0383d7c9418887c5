/*
 * Tile mode: up to SOFTCE__COL_TILE consecutive positions of the innermost element dim at
 * once, vectorised across positions by the column kernel. Used for forward and fused
 * forward+backward with f32 compute when C is small, or when positions are contiguous and the
 * class axis is strided (N, C, H, W). Operands whose positions are f32 and contiguous are used
 * in place; the others are gathered into a [C][R] scratch tile (a transpose for row-major rows).
 * Row-major rows of C <= 64 skip the scratch tile when the ISA has a row-major column kernel
 * (AVX-512: f32, bf16 or f16 operands, 16 x 16 transposes in registers, converting 16-bit
 * floats on the way; AVX2: f32 operands, 8 x 8 transposes; kernels/col_rows.h); so do class planes
 * of C <= 64 whose operands are all bf16 (or all f16) with contiguous positions, which the AVX-512
 * column kernel converts as it loads and stores them.
 */
#include "driver.h"
#include "kernels/col_rows.h"

#define TILE SOFTCE__COL_TILE
/* Small C: tiles beat rows even with a transpose. */
#define TILE_MAX_SMALL_C 64
/* A strided class axis uses tiles up to this C (scratch of 3 x C x TILE floats). */
#define TILE_MAX_C 4096

/* Positions of a slot are f32 and contiguous along the innermost element dim. */
static int tile_direct(const softce__plan *p, int slot) {
    const softce_tensor *t = p->t[slot];
    return t && t->dtype == SOFTCE_DTYPE_F32 && p->ndim > 0 && p->es[slot][p->ndim - 1] == 1;
}

int softce__tiles_suitable(const softce__plan *p) {
    if (p->compute_f64 || p->ndim == 0 || p->C > TILE_MAX_C ||
        (p->op != SOFTCE__OP_FORWARD && p->op != SOFTCE__OP_FORWARD_BACKWARD))
        return 0;
    return p->C <= TILE_MAX_SMALL_C ||
           (p->cs[SOFTCE__LOGITS] != 1 && tile_direct(p, SOFTCE__LOGITS));
}

/* x, p and gx tiles of C x TILE floats, plus the per-position arrays. */
size_t softce__tiles_scratch(const softce__context *cx) {
    return 3 * (size_t)cx->p->C * TILE * sizeof(float);
}

typedef struct tile_io {
    int64_t R;
    softce__cursor c;           /* first position */
    softce__col_kernel by_rows; /* the row-major kernel, when every operand suits it */
    int k16; /* else 16-bit class planes the column kernel reads itself: their kind, or 0 */
} tile_io;

/* A tile operand walked along its smaller stride: for a strided class axis (es < cs) class
   plane by class plane, for row-major rows row by row, so that the reads or writes of one
   inner loop stay in a few cache lines. Element (o, i) is at off + o * so + i * si in the
   operand and at o * bo + i * bi in the [C][R] buffer. */
typedef struct tile_walk {
    int64_t no, ni, so, si, bo, bi, off;
} tile_walk;

static tile_walk walk_of(const softce__plan *p, int slot, const tile_io *io) {
    const int64_t es = p->es[slot][p->ndim - 1], cs = p->cs[slot], R = io->R;
    tile_walk w = {R, p->C, es, cs, 1, R, io->c.off[slot]};
    if (es < cs)
        w = (tile_walk){p->C, R, cs, es, R, 1, io->c.off[slot]};
    return w;
}

/* bf16 <-> f32 inline (dtype.c's are calls, one per element here); round to nearest even,
   NaN kept quiet, as softce__f32_to_bf16. */
static inline float bf16_load(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline uint16_t bf16_round(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    uint32_t r = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
    return (uint16_t)((u & 0x7fffffffu) > 0x7f800000u ? (u >> 16) | 0x0040u : r);
}

/* Gathers the tile into buf[c * R + r]; the dtype switch is outside the loops. Class planes
   (the buffer's rows contiguous) go row by row through softce__gather, whose contiguous
   f16/bf16 rows use the active ISA's SIMD conversions. */
static void gather_tile(const softce__plan *p, int slot, const tile_io *io, float *buf) {
    const softce_tensor *t = p->t[slot];
    const tile_walk w = walk_of(p, slot, io);
    if (w.bi == 1) {
        for (int64_t o = 0; o < w.no; o++)
            softce__gather(t->dtype, softce__slot_ptr(p, slot, w.off + o * w.so), w.si, w.ni, 0,
                           buf + o * w.bo);
    } else if (t->dtype == SOFTCE_DTYPE_F32) {
        const float *s = (const float *)t->data + w.off;
        for (int64_t o = 0; o < w.no; o++)
            for (int64_t i = 0; i < w.ni; i++)
                buf[o * w.bo + i * w.bi] = s[o * w.so + i * w.si];
    } else if (t->dtype == SOFTCE_DTYPE_BF16) {
        const uint16_t *s = (const uint16_t *)t->data + w.off;
        for (int64_t o = 0; o < w.no; o++)
            for (int64_t i = 0; i < w.ni; i++)
                buf[o * w.bo + i * w.bi] = bf16_load(s[o * w.so + i * w.si]);
    } else if (t->dtype == SOFTCE_DTYPE_F16) {
        const uint16_t *s = (const uint16_t *)t->data + w.off;
        for (int64_t o = 0; o < w.no; o++)
            for (int64_t i = 0; i < w.ni; i++)
                buf[o * w.bo + i * w.bi] = softce__f16_to_f32(s[o * w.so + i * w.si]);
    } else {
        for (int64_t o = 0; o < w.no; o++)
            for (int64_t i = 0; i < w.ni; i++)
                buf[o * w.bo + i * w.bi] =
                    (float)softce__load(t->dtype, t->data, w.off + o * w.so + i * w.si);
    }
}

static void scatter_tile(const softce__plan *p, int slot, const tile_io *io, const float *buf) {
    const softce_tensor *t = p->t[slot];
    const tile_walk w = walk_of(p, slot, io);
    if (w.bi == 1) { /* class planes, as gather_tile */
        for (int64_t o = 0; o < w.no; o++)
            softce__scatter(t->dtype, softce__slot_ptr(p, slot, w.off + o * w.so), w.si, w.ni, 0,
                            buf + o * w.bo);
        return;
    }
    if (t->dtype == SOFTCE_DTYPE_F32) {
        float *d = (float *)t->data + w.off;
        for (int64_t o = 0; o < w.no; o++)
            for (int64_t i = 0; i < w.ni; i++)
                d[o * w.so + i * w.si] = buf[o * w.bo + i * w.bi];
        return;
    }
    if (t->dtype == SOFTCE_DTYPE_BF16) {
        uint16_t *d = (uint16_t *)t->data + w.off;
        for (int64_t o = 0; o < w.no; o++)
            for (int64_t i = 0; i < w.ni; i++)
                d[o * w.so + i * w.si] = bf16_round(buf[o * w.bo + i * w.bi]);
        return;
    }
    for (int64_t o = 0; o < w.no; o++)
        for (int64_t i = 0; i < w.ni; i++)
            softce__store(t->dtype, t->data, w.off + o * w.so + i * w.si, buf[o * w.bo + i * w.bi]);
}

/* Operand `slot` of the tile: in place (ld = class stride) or gathered (ld = R). */
static const float *tile_in(const softce__plan *p, int slot, const tile_io *io, float *buf,
                            int64_t *ld) {
    if (tile_direct(p, slot)) {
        *ld = p->cs[slot];
        return (const float *)softce__slot_ptr(p, slot, io->c.off[slot]);
    }
    gather_tile(p, slot, io, buf);
    *ld = io->R;
    return buf;
}

/* The column kernels' element kind (SOFTCE__ROWS_*) of a dtype, -1 for one they do not read. */
static int kind_of(int32_t dtype) {
    return dtype == SOFTCE_DTYPE_F32    ? SOFTCE__ROWS_F32
           : dtype == SOFTCE_DTYPE_BF16 ? SOFTCE__ROWS_BF16
           : dtype == SOFTCE_DTYPE_F16  ? SOFTCE__ROWS_F16
                                        : -1;
}

/* The row-major kernel's kind of an operand whose classes are contiguous (row-major rows),
   read or written in place: f32, bf16 or f16; -1 for any other. */
static int rows_kind(const softce__plan *p, int slot) {
    const softce_tensor *t = p->t[slot];
    return !t || p->ndim == 0 || p->cs[slot] != 1 ? -1 : kind_of(t->dtype);
}

/* Every class-axis operand row-major of a kind the row-major column kernel takes (f32, and
   under AVX-512 bf16 and f16 too), and few classes. */
static int rows_take(const softce__plan *p, int slot, int max_kind) {
    const int kind = rows_kind(p, slot);
    return kind >= 0 && kind <= max_kind;
}

static int rows_suitable(const softce__plan *p) {
    const int max = softce__kernels_col_16bit() ? SOFTCE__ROWS_F16 : SOFTCE__ROWS_F32;
    return p->C <= SOFTCE__COL_ROWS_MAX_C && rows_take(p, SOFTCE__LOGITS, max) &&
           (!p->soft || rows_take(p, SOFTCE__TARGET, max)) &&
           (p->op != SOFTCE__OP_FORWARD_BACKWARD || rows_take(p, SOFTCE__GRAD_LOGITS, max));
}

/* Operand `slot` for the row-major kernel: first row, rows `ld` elements apart, its kind. */
static char *rows_in(const softce__plan *p, int slot, const tile_io *io, int64_t *ld, int *kind) {
    *ld = p->es[slot][p->ndim - 1];
    *kind = rows_kind(p, slot);
    return softce__slot_ptr(p, slot, io->c.off[slot]);
}

/* The kind of 16-bit class planes the active column kernel reads and writes itself: every
   class-axis operand bf16 (or every one f16) with contiguous positions; else 0 (gathered). */
static int planes_16bit(const softce__plan *p) {
    const int32_t dt = p->t[SOFTCE__LOGITS]->dtype;
    const int kind = kind_of(dt);
    if (kind <= SOFTCE__ROWS_F32 || p->C > SOFTCE__COL_16BIT_MAX_C || !softce__kernels_col_16bit())
        return 0;
    const int slots[3] = {SOFTCE__LOGITS, p->soft ? SOFTCE__TARGET : -1,
                          p->op == SOFTCE__OP_FORWARD_BACKWARD ? SOFTCE__GRAD_LOGITS : -1};
    for (int i = 0; i < 3; i++) {
        const softce_tensor *t = slots[i] < 0 ? NULL : p->t[slots[i]];
        if (slots[i] >= 0 && (!t || t->dtype != dt || p->es[slots[i]][p->ndim - 1] != 1))
            return 0;
    }
    return kind;
}

/* Class indices (-1 = ignored) and upstream gradients / D of the tile's positions. */
static void tile_targets(const softce__context *cx, const tile_io *io, int32_t *t, double *g) {
    const softce__plan *p = cx->p;
    const int inner = p->ndim - 1;
    const int64_t R = io->R, ign = p->ignore_index;
    if (!p->soft) {
        const softce_tensor *tt = p->t[SOFTCE__TARGET];
        const int64_t es = p->es[SOFTCE__TARGET][inner], off = io->c.off[SOFTCE__TARGET];
        if (tt->dtype == SOFTCE_DTYPE_I64 && es == 1) { /* the common case, vectorised */
            const int64_t *src = (const int64_t *)tt->data + off;
            for (int64_t r = 0; r < R; r++)
                t[r] = src[r] == ign ? -1 : (int32_t)src[r];
        } else if (tt->dtype == SOFTCE_DTYPE_I64) {
            const int64_t *src = (const int64_t *)tt->data + off;
            for (int64_t r = 0; r < R; r++)
                t[r] = src[r * es] == ign ? -1 : (int32_t)src[r * es];
        } else {
            const int32_t *src = (const int32_t *)tt->data + off;
            for (int64_t r = 0; r < R; r++)
                t[r] = src[r * es] == ign ? -1 : src[r * es];
        }
    }
    const softce_tensor *gt = p->t[SOFTCE__GRAD_LOSS];
    if (p->op == SOFTCE__OP_FORWARD)
        return;
    if (!gt) {
        for (int64_t r = 0; r < R; r++)
            g[r] = cx->inv_d;
        return;
    }
    const int64_t ges = p->es[SOFTCE__GRAD_LOSS][inner], goff = io->c.off[SOFTCE__GRAD_LOSS];
    for (int64_t r = 0; r < R; r++)
        g[r] = softce__load(gt->dtype, gt->data, goff + r * ges) * cx->inv_d;
}

/* Per-position outputs (lse, loss for none); returns the tile's loss sum in position order. */
static double tile_outputs(const softce__plan *p, const tile_io *io, const double *lse,
                           const double *loss) {
    const int inner = p->ndim - 1;
    const softce_tensor *lt = p->t[SOFTCE__LSE_OUT], *ls = p->t[SOFTCE__LOSS];
    double part[4] = {0.0, 0.0, 0.0, 0.0}; /* a fixed order, four chains at once */
    int64_t r = 0;
    for (; r + 4 <= io->R; r += 4)
        for (int k = 0; k < 4; k++)
            part[k] += loss[r + k];
    for (; r < io->R; r++)
        part[0] += loss[r];
    double sum = (part[0] + part[1]) + (part[2] + part[3]);
    if (lt)
        for (r = 0; r < io->R; r++)
            softce__store(lt->dtype, lt->data,
                          io->c.off[SOFTCE__LSE_OUT] + r * p->es[SOFTCE__LSE_OUT][inner], lse[r]);
    if (ls && p->reduction == SOFTCE_REDUCTION_NONE)
        for (r = 0; r < io->R; r++)
            softce__store(ls->dtype, ls->data,
                          io->c.off[SOFTCE__LOSS] + r * p->es[SOFTCE__LOSS][inner], loss[r]);
    return sum;
}

static double run_tile(const softce__context *cx, const tile_io *io, char *scratch) {
    const softce__plan *p = cx->p;
    size_t plane = (size_t)p->C * TILE;
    float *xb = (float *)scratch, *pb = xb + plane, *gb = pb + plane;
    int32_t t[TILE];
    double g[TILE], lse[TILE], loss[TILE];
    softce__col_tile a = {0};
    a.R = io->R;
    a.C = p->C;
    a.w = cx->w;
    a.a1 = p->soft ? 1.0 - p->eps : 0.0;
    a.a0 = p->eps / (double)p->C;
    a.spike = 1.0 - p->eps;
    a.lse = lse;
    a.loss = loss;
    tile_targets(cx, io, t, g);
    a.t = p->soft ? NULL : t;
    if (io->by_rows) {
        a.xr = rows_in(p, SOFTCE__LOGITS, io, &a.ldx, &a.xk);
        a.pr = p->soft ? rows_in(p, SOFTCE__TARGET, io, &a.ldp, &a.pk) : NULL;
        if (p->op == SOFTCE__OP_FORWARD_BACKWARD) {
            a.g = g;
            a.gr = rows_in(p, SOFTCE__GRAD_LOGITS, io, &a.ldg, &a.gk);
        }
        io->by_rows(&a);
        return tile_outputs(p, io, lse, loss);
    }
    if (io->k16) { /* 16-bit class planes, read and written by the column kernel */
        a.xr = softce__slot_ptr(p, SOFTCE__LOGITS, io->c.off[SOFTCE__LOGITS]);
        a.ldx = p->cs[SOFTCE__LOGITS];
        a.xk = io->k16;
        if (p->soft) {
            a.pr = softce__slot_ptr(p, SOFTCE__TARGET, io->c.off[SOFTCE__TARGET]);
            a.ldp = p->cs[SOFTCE__TARGET];
        }
        if (p->op == SOFTCE__OP_FORWARD_BACKWARD) {
            a.g = g;
            a.gr = softce__slot_ptr(p, SOFTCE__GRAD_LOGITS, io->c.off[SOFTCE__GRAD_LOGITS]);
            a.ldg = p->cs[SOFTCE__GRAD_LOGITS];
        }
        cx->col(&a);
        return tile_outputs(p, io, lse, loss);
    }
    a.x = tile_in(p, SOFTCE__LOGITS, io, xb, &a.ldx);
    if (p->soft)
        a.p = tile_in(p, SOFTCE__TARGET, io, pb, &a.ldp);
    int gx_direct = tile_direct(p, SOFTCE__GRAD_LOGITS);
    if (p->op == SOFTCE__OP_FORWARD_BACKWARD) {
        a.g = g;
        a.gx = gx_direct ? (float *)softce__slot_ptr(p, SOFTCE__GRAD_LOGITS,
                                                     io->c.off[SOFTCE__GRAD_LOGITS])
                         : gb;
        a.ldg = gx_direct ? p->cs[SOFTCE__GRAD_LOGITS] : io->R;
        a.stream = gx_direct && cx->stream_gx;
    }
    cx->col(&a);
    if (p->op == SOFTCE__OP_FORWARD_BACKWARD && !gx_direct)
        scatter_tile(p, SOFTCE__GRAD_LOGITS, io, gb);
    return tile_outputs(p, io, lse, loss);
}

double softce__tiles_block(const softce__context *cx, int64_t e0, int64_t e1, char *scratch) {
    const softce__plan *p = cx->p;
    tile_io io;
    softce__cursor_seek(p, &io.c, e0);
    io.by_rows = rows_suitable(p) ? softce__kernels_col_rows() : NULL;
    io.k16 = io.by_rows ? 0 : planes_16bit(p);
    double sum = 0.0;
    for (int64_t e = e0; e < e1; e += io.R) {
        int64_t left_in_dim = p->shape[p->ndim - 1] - io.c.idx[p->ndim - 1];
        io.R = e1 - e < TILE ? e1 - e : TILE;
        io.R = io.R < left_in_dim ? io.R : left_in_dim;
        sum += run_tile(cx, &io, scratch);
        softce__cursor_skip(p, &io.c, io.R);
    }
    return sum;
}
