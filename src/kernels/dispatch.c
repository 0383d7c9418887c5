/*
 * Run-time choice of the row-kernel tables: the best ISA level that was compiled in and that
 * the CPU and OS support, or a lower one asked for by SOFTCE_FORCE_ISA=scalar|avx2|avx512 (a
 * level the CPU lacks falls back to the best available below it). Chosen on first use and
 * published through one atomic pointer: concurrent first calls compute the same choice, so the
 * race is benign and no lock is needed. This pointer is the library's only mutable global.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/row_simd.h"

typedef struct isa_tables {
    softce__isa isa;
    const softce__row_kernels *f32, *f64;
    const softce__convert *cv;
    const softce__index_scan *scan;
} isa_tables;

/* Ascending ISA level; only the levels built into this library. */
static const isa_tables levels[] = {
    {SOFTCE__ISA_SCALAR, &softce__row_scalar_f32, &softce__row_scalar_f64, NULL, NULL},
#ifdef SOFTCE_HAVE_AVX2
    {SOFTCE__ISA_AVX2, &softce__row_avx2_f32, &softce__row_avx2_f64, &softce__convert_avx2,
     &softce__index_scan_avx2},
#endif
#ifdef SOFTCE_HAVE_AVX512
    {SOFTCE__ISA_AVX512, &softce__row_avx512_f32, &softce__row_avx512_f64, &softce__convert_avx512,
     &softce__index_scan_avx512},
#endif
};

static const char *const isa_names[] = {"scalar", "avx2", "avx512"};

static _Atomic(const isa_tables *) active_tables;

const char *softce__isa_name(softce__isa isa) {
    return (unsigned)isa < sizeof isa_names / sizeof isa_names[0] ? isa_names[isa] : "unknown";
}

/* SOFTCE_FORCE_ISA as a level; unset or unrecognised: no limit. */
static softce__isa forced_isa_limit(void) {
    const char *env = getenv("SOFTCE_FORCE_ISA");
    for (unsigned i = 0; env && i < sizeof isa_names / sizeof isa_names[0]; i++)
        if (strcmp(env, isa_names[i]) == 0)
            return (softce__isa)i;
    return SOFTCE__ISA_AVX512;
}

static const isa_tables *choose_tables(void) {
    softce__isa limit = softce__cpu_isa();
    softce__isa forced = forced_isa_limit();
    if (forced < limit)
        limit = forced;
    const isa_tables *best = &levels[0];
    for (size_t i = 1; i < sizeof levels / sizeof levels[0]; i++)
        if (levels[i].isa <= limit)
            best = &levels[i];
    return best;
}

static const isa_tables *tables(void) {
    const isa_tables *t = atomic_load_explicit(&active_tables, memory_order_acquire);
    if (t == NULL) {
        t = choose_tables();
        atomic_store_explicit(&active_tables, t, memory_order_release);
    }
    return t;
}

const softce__row_kernels *softce__kernels_f32(void) { return tables()->f32; }

const softce__row_kernels *softce__kernels_f64(void) { return tables()->f64; }

const softce__convert *softce__converters(void) { return tables()->cv; }

const softce__index_scan *softce__index_scans(void) { return tables()->scan; }

softce__isa softce__active_isa(void) { return tables()->isa; }
