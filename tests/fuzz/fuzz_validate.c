/*
 * libFuzzer target: descriptors and options built from fuzz bytes, mostly close to valid so
 * every validation stage is reached, sometimes aliased, sometimes with edge values. The model
 * (validate_model.c) says what must happen; the library must agree, leave every byte alone
 * when it fails, and write only the element bytes of its outputs when it succeeds.
 */
#include "fuzz_validate.h"
#include "fuzz_bytes.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Memory handed to the library: every byte is compared after the call. */
typedef struct region {
    unsigned char *p, *snap, *mark;
    size_t n;
} region;

typedef struct harness {
    fz_bytes b;
    fv_call c;
    region r[FV_NSLOT + 1]; /* one per operand, plus the tensor_init descriptor */
    int nr;
    unsigned char dummy[1]; /* data of invalid layouts: must never be read */
    softce_tensor *ti_out;
} harness;

static unsigned char *new_region(harness *h, size_t n) {
    region *r = &h->r[h->nr++];
    r->n = n;
    r->p = malloc(n);
    r->snap = malloc(n);
    r->mark = calloc(n, 1);
    for (size_t i = 0; i < n; i++)
        r->p[i] = fz_u8(&h->b);
    return r->p;
}

static region *region_of(harness *h, const void *p) {
    for (int i = 0; i < h->nr; i++)
        if ((const unsigned char *)p >= h->r[i].p &&
            (const unsigned char *)p < h->r[i].p + h->r[i].n)
            return &h->r[i];
    return NULL;
}

/* ---- building the call ---------------------------------------------------------------- */

static int32_t pick_dtype(fz_bytes *b, int32_t usual) {
    uint8_t k = fz_u8(b);
    return k < 170 ? usual : k < 245 ? 1 + k % 6 : (k % 2 ? (int32_t)fz_u32(b) : (k % 4) * 7 / 3);
}

static void pick_options(harness *h) {
    fz_bytes *b = &h->b;
    softce_options *o = &h->c.o;
    static const double eps[] = {0.0, 0.1, 1.0, -0.0, -0.5, 1.5, 1e-300, 0.999999};
    softce_options_init(o);
    h->c.use_opts = fz_u8(b) < 230;
    if (fz_chance(b, 40))
        o->reduction = fz_chance(b, 128) ? (int32_t)fz_u32(b) : (int32_t)fz_below(b, 5);
    else
        o->reduction = 1 + (int32_t)fz_below(b, 3);
    o->ignore_index = fz_chance(b, 128) ? -100 : fz_size(b, 4);
    unsigned k = fz_below(b, 12);
    o->label_smoothing = k < 8 ? eps[k] : k == 8 ? NAN : k == 9 ? INFINITY : fz_u8(b) / 255.0;
    o->num_threads = fz_chance(b, 20) ? (int32_t)fz_u32(b) : (int32_t)fz_below(b, 4);
    o->flags = fz_chance(b, 10) ? fz_u32(b) : 0u;
    if (fz_chance(b, 10))
        o->struct_size =
            fz_chance(b, 128) ? fz_u32(b) : (uint32_t)sizeof *o + 8 * fz_below(b, 3) - 8;
}

static void pick_strides(fz_bytes *b, softce_tensor *t) {
    int n = t->ndim < 0 ? 0 : t->ndim > SOFTCE_MAX_DIMS ? SOFTCE_MAX_DIMS : t->ndim;
    unsigned mode = fz_below(b, 10), rot = fz_below(b, 8);
    int64_t step = 1 + (mode == 5 ? fz_below(b, 3) : 0);
    for (int i = n - 1; i >= 0; i--) {
        int k = mode == 6 ? n - 1 - i : mode == 7 ? (int)((unsigned)i + rot) % n : i;
        int64_t size = t->shape[k] > 1 ? t->shape[k] : 1;
        t->strides[k] = mode == 8 ? (int64_t)fz_below(b, 8) : mode == 9 ? fz_size(b, 16) : step;
        int64_t grow;
        if (__builtin_add_overflow(size, mode == 5 ? (int64_t)fz_below(b, 2) : 0, &grow) ||
            __builtin_mul_overflow(step, grow, &step))
            step = 1;
    }
    for (int k = n; k < SOFTCE_MAX_DIMS; k++) /* ignored entries: garbage on purpose */
        t->shape[k] = t->strides[k] = fz_chance(b, 64) ? (int64_t)fz_u64(b) : 0;
}

/* A descriptor of `shape`, with occasional breakage of every field. */
static void pick_tensor(fz_bytes *b, softce_tensor *t, int32_t dtype, int ndim,
                        const int64_t *shape) {
    memset(t, 0, sizeof *t);
    t->struct_size = fz_chance(b, 4) ? fz_u32(b) : (uint32_t)sizeof *t;
    t->reserved = fz_chance(b, 4) ? (int32_t)fz_u32(b) : 0;
    t->dtype = pick_dtype(b, dtype);
    t->ndim =
        fz_chance(b, 6) ? (int32_t)(uint32_t)((uint64_t)fz_size(b, 9) - fz_below(b, 2)) : ndim;
    for (int k = 0; k < SOFTCE_MAX_DIMS; k++)
        t->shape[k] = k < ndim ? shape[k] : 1;
    if (fz_chance(b, 8))
        t->shape[fz_below(b, SOFTCE_MAX_DIMS)] = fz_size(b, 6);
    pick_strides(b, t);
}

/* Gives the operand memory: exactly its span when small, else NULL (or a 1-byte dummy when
   the layout is invalid, to catch a library that reads it anyway). */
static void give_memory(harness *h, softce_tensor *t) {
    int ok;
    int64_t numel, span = fv_span(t, &numel, &ok);
    size_t es = fv_dtype_size(t->dtype) ? fv_dtype_size(t->dtype) : 8;
    if (ok && numel <= FV_MAX_NUMEL && (size_t)span * es <= FV_MAX_BYTES && !fz_chance(&h->b, 4))
        t->data = span > 0                ? new_region(h, (size_t)span * es)
                  : fz_chance(&h->b, 128) ? NULL
                                          : h->dummy;
    else
        t->data = ok || fz_chance(&h->b, 128) ? NULL : h->dummy;
}

/* Hard targets: mostly classes in range, some ignore_index, some anything. */
static void pick_classes(harness *h, softce_tensor *t, int64_t C, int64_t ignore) {
    region *r = t->data ? region_of(h, t->data) : NULL;
    size_t es = fv_dtype_size(t->dtype);
    if (!r || (t->dtype != SOFTCE_DTYPE_I32 && t->dtype != SOFTCE_DTYPE_I64))
        return;
    for (size_t i = 0; i + es <= r->n; i += es) {
        uint8_t k = fz_u8(&h->b);
        int64_t v = k < 200 ? (C > 0 ? k % C : 0) : k < 225 ? ignore : (int64_t)fz_u64(&h->b);
        if (es == 4) {
            int32_t v32 = (int32_t)v;
            memcpy(r->p + i, &v32, 4);
        } else {
            memcpy(r->p + i, &v, 8);
        }
    }
}

static void pick_alias(harness *h, int o) {
    fv_call *c = &h->c;
    if (o == FV_GX && c->op != FV_FORWARD && fz_chance(&h->b, 40)) {
        c->t[FV_GX] = c->t[FV_X]; /* in place */
        return;
    }
    int s = (int)fz_below(&h->b, FV_NSLOT), ok;
    int64_t numel, span = fv_span(&c->t[o], &numel, &ok);
    region *r = c->present[s] && c->t[s].data ? region_of(h, c->t[s].data) : NULL;
    size_t bytes = (size_t)span * fv_dtype_size(c->t[o].dtype);
    if (!r || !ok || numel > FV_MAX_NUMEL || !fv_dtype_size(c->t[o].dtype) || bytes > r->n)
        return;
    size_t es = fv_dtype_size(c->t[o].dtype), room = (r->n - bytes) / es; /* aligned offsets */
    c->t[o].data =
        r->p + es * (room ? fz_below(&h->b, (unsigned)(room < 255 ? room + 1 : 255)) : 0);
}

static void build_call(harness *h) {
    fz_bytes *b = &h->b;
    fv_call *c = &h->c;
    c->op = (fv_op)fz_below(b, 4);
    pick_options(h);
    int n = 1 + (int)fz_below(b, 4);
    int64_t xs[SOFTCE_MAX_DIMS], es[SOFTCE_MAX_DIMS];
    for (int k = 0; k < n; k++)
        xs[k] = fz_size(b, 5);
    int cax = n == 1 ? 0 : 1, en = 0;
    for (int k = 0; k < n; k++)
        if (k != cax)
            es[en++] = xs[k];
    int soft = fz_chance(b, 100), reduced = c->o.reduction != SOFTCE_REDUCTION_NONE;
    static const int want[5][FV_NSLOT] = {{1, 1, 0, 0, 0, 1, 0, 0, 0},
                                          {1, 1, 0, 0, 0, 0, 0, 1, 0},
                                          {1, 1, 0, 0, 0, 1, 0, 1, 0},
                                          {1, 0, 0, 0, 0, 0, 0, 1, 0},
                                          {0}};
    static const int maybe[5][FV_NSLOT] = {{0, 0, 1, 0, 0, 0, 1, 0, 0},
                                           {0, 0, 1, 1, 1, 0, 0, 1, 1},
                                           {0, 0, 1, 1, 0, 0, 0, 0, 0},
                                           {0, 0, 1, 0, 0, 0, 0, 0, 0},
                                           {0}};
    for (int s = 0; s < FV_NSLOT; s++) {
        c->present[s] = want[c->op][s] ? !fz_chance(b, 4) : maybe[c->op][s] && fz_chance(b, 110);
        if (s == FV_W && !c->use_opts)
            c->present[s] = 0;
    }
    int32_t tdt = soft ? SOFTCE_DTYPE_F32 + (int32_t)fz_below(b, 4)
                       : SOFTCE_DTYPE_I32 + (int32_t)fz_below(b, 2);
    const int32_t fdt = SOFTCE_DTYPE_F32 + (int32_t)fz_below(b, 4);
    for (int s = 0; s < FV_NSLOT; s++) {
        if (!c->present[s])
            continue;
        int logits_shaped = s == FV_X || s == FV_GX || s == FV_GT || (s == FV_T && soft);
        int scalar = (s == FV_GL || s == FV_LOSS) && reduced;
        int64_t C = xs[cax];
        int32_t dt = s == FV_T ? tdt : s == FV_W ? SOFTCE_DTYPE_F32 + (int32_t)fz_below(b, 2) : fdt;
        pick_tensor(b, &c->t[s], dt,
                    s == FV_W       ? 1
                    : logits_shaped ? n
                    : scalar        ? 0
                                    : en,
                    s == FV_W       ? &C
                    : logits_shaped ? xs
                                    : es);
        give_memory(h, &c->t[s]);
    }
    if (c->present[FV_T])
        pick_classes(h, &c->t[FV_T], xs[cax], c->o.ignore_index);
    for (int o = FV_LOSS; o < FV_NSLOT; o++)
        if (c->present[o] && fz_chance(b, 24))
            pick_alias(h, o);
    if (c->present[FV_W])
        c->o.weight = &c->t[FV_W];
}

static void build_tensor_init(harness *h) {
    fz_bytes *b = &h->b;
    fv_call *c = &h->c;
    c->ti_null_t = fz_chance(b, 8);
    c->ti_null_shape = fz_chance(b, 8);
    c->ti_dtype = pick_dtype(b, SOFTCE_DTYPE_F32);
    c->ti_ndim = fz_chance(b, 20) ? (int32_t)fz_u32(b) : (int32_t)fz_below(b, 10);
    for (int k = 0; k < SOFTCE_MAX_DIMS; k++)
        c->ti_shape[k] = fz_size(b, 6);
    c->ti_data = fz_chance(b, 128) ? NULL : h->dummy;
    h->ti_out = (softce_tensor *)(void *)new_region(h, sizeof(softce_tensor));
}

/* ---- making the call and judging it --------------------------------------------------- */

static softce_status call_library(harness *h) {
    fv_call *c = &h->c;
    const softce_options *o = c->use_opts ? &c->o : NULL;
    const softce_tensor *t[FV_NSLOT];
    for (int s = 0; s < FV_NSLOT; s++)
        t[s] = c->present[s] ? &c->t[s] : NULL;
    switch (c->op) {
    case FV_FORWARD:
        return softce_forward(o, t[FV_X], t[FV_T], t[FV_LOSS], t[FV_LSE_OUT]);
    case FV_BACKWARD:
        return softce_backward(o, t[FV_X], t[FV_T], t[FV_GL], t[FV_LSE_IN], t[FV_GX], t[FV_GT]);
    case FV_FUSED:
        return softce_forward_backward(o, t[FV_X], t[FV_T], t[FV_GL], t[FV_LOSS], t[FV_GX]);
    case FV_LOG_SOFTMAX:
        return softce_log_softmax(o, t[FV_X], t[FV_GX]);
    case FV_TENSOR_INIT:
        return softce_tensor_init(c->ti_null_t ? NULL : h->ti_out, (softce_dtype)c->ti_dtype,
                                  c->ti_ndim, c->ti_null_shape ? NULL : c->ti_shape, c->ti_data);
    }
    return SOFTCE_ERROR_INTERNAL;
}

/* Prints the call, to make a failing input readable. */
static void describe(const harness *h) {
    static const char *const names[FV_NSLOT] = {"logits",    "target", "weight",
                                                "grad_loss", "lse_in", "loss",
                                                "lse_out",   "grad",   "grad_target"};
    const softce_options *o = &h->c.o;
    fprintf(stderr, "  options%s: size %u red %d ignore %lld eps %g threads %d flags %u\n",
            h->c.use_opts ? "" : " (not passed)", o->struct_size, o->reduction,
            (long long)o->ignore_index, o->label_smoothing, o->num_threads, o->flags);
    for (int s = 0; s < FV_NSLOT; s++) {
        const softce_tensor *t = &h->c.t[s];
        if (!h->c.present[s])
            continue;
        fprintf(stderr, "  %-11s size %u res %d dtype %d ndim %d data %p shape/strides", names[s],
                t->struct_size, t->reserved, t->dtype, t->ndim, t->data);
        for (int k = 0; k < t->ndim && k < SOFTCE_MAX_DIMS; k++)
            fprintf(stderr, " %lld/%lld", (long long)t->shape[k], (long long)t->strides[k]);
        fputc('\n', stderr);
    }
}

static void die(const harness *h, softce_status st, const fv_expect *e, const char *what) {
    fprintf(stderr, "fuzz_validate: %s\n  op %d, status %s, message '%s', model: kind %d (%s)\n",
            what, (int)h->c.op, softce_status_name(st), softce_last_error(), (int)e->kind,
            e->why ? e->why : "-");
    describe(h);
    abort();
}

/* Marks the bytes of every element of every output (what a successful call may write). */
static void mark_outputs(harness *h) {
    for (int o = FV_LOSS; o < FV_NSLOT; o++) {
        const softce_tensor *t = &h->c.t[o];
        int ok;
        int64_t numel;
        fv_span(t, &numel, &ok);
        region *r = h->c.present[o] && numel > 0 ? region_of(h, t->data) : NULL;
        size_t es = fv_dtype_size(t->dtype);
        for (int64_t i = 0; r && i < numel; i++) {
            int64_t off = 0, rest = i;
            for (int k = t->ndim - 1; k >= 0; k--) {
                off += (rest % t->shape[k]) * t->strides[k];
                rest /= t->shape[k];
            }
            memset(r->mark + ((const unsigned char *)t->data - r->p) + (size_t)off * es, 1, es);
        }
    }
}

static void check_ok_call(harness *h, const fv_expect *e) {
    if (softce_last_error()[0] != '\0')
        die(h, SOFTCE_OK, e, "success with a message");
    if (h->c.op == FV_TENSOR_INIT) {
        const softce_tensor *t = h->ti_out;
        int64_t step = 1;
        if (t->struct_size != sizeof *t || t->dtype != h->c.ti_dtype || t->ndim != h->c.ti_ndim ||
            t->reserved != 0 || t->data != h->c.ti_data)
            die(h, SOFTCE_OK, e, "tensor_init filled a wrong header");
        for (int k = t->ndim - 1; k >= 0; k--) {
            if (t->shape[k] != h->c.ti_shape[k] || t->strides[k] != step)
                die(h, SOFTCE_OK, e, "tensor_init filled a wrong shape or stride");
            step *= t->shape[k] > 1 ? t->shape[k] : 1;
        }
        return;
    }
    mark_outputs(h);
    for (int i = 0; i < h->nr; i++)
        for (size_t j = 0; j < h->r[i].n; j++)
            if (!h->r[i].mark[j] && h->r[i].p[j] != h->r[i].snap[j])
                die(h, SOFTCE_OK, e, "a successful call wrote outside its outputs");
}

static void judge(harness *h, softce_status st, const fv_expect *e) {
    if (e->kind == FV_EXPECT_OK) {
        if (st != SOFTCE_OK)
            die(h, st, e, "the model says valid, the library refused");
        check_ok_call(h, e);
        return;
    }
    if (st == SOFTCE_OK)
        die(h, st, e, "the model says invalid, the library accepted");
    if (st == SOFTCE_ERROR_INTERNAL || st == SOFTCE_ERROR_OUT_OF_MEMORY ||
        softce_last_error()[0] == 0)
        die(h, st, e, "internal error, out of memory or no message");
    if ((st == SOFTCE_ERROR_TARGET) != (e->kind == FV_EXPECT_TARGET))
        die(h, st, e, "class-index error and model disagree");
    if (e->kind == FV_EXPECT_TARGET) {
        char want[128];
        const softce_tensor *x = &h->c.t[FV_X];
        snprintf(want, sizeof want, "target[%lld] = %lld is outside [0, %lld)",
                 (long long)e->bad_index, (long long)e->bad_value,
                 (long long)x->shape[x->ndim == 1 ? 0 : 1]);
        if (strcmp(want, softce_last_error()) != 0)
            die(h, st, e, "wrong class-index message");
    }
    for (int i = 0; i < h->nr; i++)
        if (memcmp(h->r[i].p, h->r[i].snap, h->r[i].n) != 0)
            die(h, st, e, "a failed call wrote to an operand");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    harness *h = calloc(1, sizeof *h);
    h->b.p = data;
    h->b.n = size;
    if (fz_below(&h->b, 8) == 0) {
        h->c.op = FV_TENSOR_INIT;
        build_tensor_init(h);
    } else {
        build_call(h);
    }
    for (int i = 0; i < h->nr; i++)
        memcpy(h->r[i].snap, h->r[i].p, h->r[i].n);
    fv_expect e = fv_model(&h->c);
    softce_status st = call_library(h);
    if (getenv("FUZZ_VERBOSE")) { /* to read what an input does */
        fprintf(stderr, "op %d: %s '%s' (model: kind %d, %s)\n", (int)h->c.op,
                softce_status_name(st), softce_last_error(), (int)e.kind, e.why ? e.why : "-");
        describe(h);
    }
    judge(h, st, &e);
    for (int i = 0; i < h->nr; i++)
        free(h->r[i].p), free(h->r[i].snap), free(h->r[i].mark);
    free(h);
    return 0;
}
