/*
 * Reading a fuzz input as a stream of decisions. Past the end every read returns 0, so any
 * input (also an empty one) describes exactly one call.
 */
#ifndef SOFTCE_FUZZ_BYTES_H
#define SOFTCE_FUZZ_BYTES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct fz_bytes {
    const uint8_t *p;
    size_t n;
} fz_bytes;

static inline uint8_t fz_u8(fz_bytes *b) {
    if (b->n == 0)
        return 0;
    b->n--;
    return *b->p++;
}

static inline uint32_t fz_u32(fz_bytes *b) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v = v << 8 | fz_u8(b);
    return v;
}

static inline uint64_t fz_u64(fz_bytes *b) {
    uint64_t hi = fz_u32(b);
    return hi << 32 | fz_u32(b);
}

/* An integer in [0, n). */
static inline unsigned fz_below(fz_bytes *b, unsigned n) { return n ? fz_u8(b) % n : 0; }

/* true with probability about k/256 (always true past the end). */
static inline int fz_chance(fz_bytes *b, unsigned k) { return fz_u8(b) < k; }

/* true with probability about k/256, but false for a 0 byte and past the end (fuzzers love
   zeros): for costly or unusual choices. */
static inline int fz_rare(fz_bytes *b, unsigned k) { return b->n > 0 && fz_u8(b) >= 256 - k; }

/* An int64 that is usually small, sometimes one of the values that break arithmetic. */
static inline int64_t fz_size(fz_bytes *b, int64_t small_max) {
    static const int64_t edge[] = {-1,
                                   0,
                                   1,
                                   INT64_MAX,
                                   INT64_MIN,
                                   INT64_MAX / 2 + 1,
                                   (int64_t)1 << 31,
                                   (int64_t)1 << 32,
                                   ((int64_t)1 << 62) + 1,
                                   (int64_t)1 << 61};
    uint8_t k = fz_u8(b);
    if (k < 224)
        return (int64_t)(k % (unsigned)(small_max + 1));
    if (k < 240)
        return edge[k % (sizeof edge / sizeof edge[0])];
    return (int64_t)fz_u64(b);
}

#endif
