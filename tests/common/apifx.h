/*
 * Fixture of the API/validation tests: a small valid problem (N=4, C=5, f32) with every
 * operand in a sentinel-filled buffer, and checks that a call returns an allowed status and,
 * when it fails, sets last_error and leaves every buffer byte-for-byte untouched.
 */
#ifndef SOFTCE_TESTS_APIFX_H
#define SOFTCE_TESTS_APIFX_H

#include "common/tutil.h"

enum { FX_N = 4, FX_C = 5, FX_NBUF = 13 };

/** Bit of a status in an `allowed` mask. */
#define S(st) (1u << (st))
#define ANY_ERROR (~S(SOFTCE_OK))

typedef struct fx {
    /* x: logits (4,5); th: hard i64 (4); ts: soft (4,5); w: weight (5); loss0: 0-d;
       lossn: (4); lse: (4); gx, gt: (4,5); glo: 0-d upstream = 1; glon: (4) upstream = 1;
       out: (4,5); pool: 256 spare f32 for hand-placed views. */
    tbuf x, th, ts, w, loss0, lossn, lse, gx, gt, glo, glon, out, pool;
    softce_options o; /* defaults */
} fx;

/** Operand slots substituted by fx_expect_all(). */
enum { SLOT_X, SLOT_T, SLOT_TS, SLOT_W, SLOT_LOSS, SLOT_LSE, SLOT_GX, SLOT_GT, SLOT_GLO, NSLOT };

int fx_setup(void **state);
int fx_teardown(void **state);
void fx_snapshot(fx *f);
const tbuf *fx_slot_buf(fx *f, int slot);
void fx_expect(fx *f, unsigned allowed, softce_status got, const char *expr, const char *file,
               int line);
/** Every entry point that uses the slot, with `bad` in it (hard and soft targets). */
void fx_expect_all(fx *f, int slot, const softce_tensor *bad, unsigned allowed, const char *file,
                   int line);

/** Snapshots all buffers, evaluates expr, checks its status against `allowed`. */
#define EXPECT(f, allowed, expr)                                                                   \
    do {                                                                                           \
        fx_snapshot(f);                                                                            \
        fx_expect((f), (allowed), (expr), #expr, __FILE__, __LINE__);                              \
    } while (0)
#define EXPECT_ALL(f, slot, bad, allowed)                                                          \
    fx_expect_all((f), (slot), (bad), (allowed), __FILE__, __LINE__)

#endif
