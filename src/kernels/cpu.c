/* CPU feature detection for the ISA dispatch: cpuid for the instructions, xgetbv for the OS
   saving the vector state (an OS without AVX-512 state support makes the ISA unusable). */
#include "kernels/row_simd.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>

#define XCR0_SSE_AVX 0x6ull /* XMM and YMM state */
#define XCR0_AVX512 0xe0ull /* opmask, ZMM_Hi256 and Hi16_ZMM state */
#define LEAF1_ECX_FMA (1u << 12)
#define LEAF1_ECX_OSXSAVE (1u << 27)
#define LEAF1_ECX_AVX (1u << 28)
#define LEAF1_ECX_F16C (1u << 29)
#define LEAF7_EBX_AVX2 (1u << 5)
#define LEAF7_EBX_AVX512F (1u << 16)
#define LEAF7_EBX_AVX512DQ (1u << 17)
#define LEAF7_EBX_AVX512BW (1u << 30)
#define LEAF7_EBX_AVX512VL (1u << 31)

static int has_all(unsigned reg, unsigned bits) { return (reg & bits) == bits; }

static unsigned long long read_xcr0(void) {
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

softce__isa softce__cpu_isa(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return SOFTCE__ISA_SCALAR;
    const unsigned need1 = LEAF1_ECX_FMA | LEAF1_ECX_OSXSAVE | LEAF1_ECX_AVX | LEAF1_ECX_F16C;
    if (!has_all(c, need1))
        return SOFTCE__ISA_SCALAR;
    unsigned long long xcr0 = read_xcr0();
    if ((xcr0 & XCR0_SSE_AVX) != XCR0_SSE_AVX)
        return SOFTCE__ISA_SCALAR;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !has_all(b, LEAF7_EBX_AVX2))
        return SOFTCE__ISA_SCALAR;
    const unsigned need512 =
        LEAF7_EBX_AVX512F | LEAF7_EBX_AVX512DQ | LEAF7_EBX_AVX512BW | LEAF7_EBX_AVX512VL;
    if (has_all(b, need512) && (xcr0 & XCR0_AVX512) == XCR0_AVX512)
        return SOFTCE__ISA_AVX512;
    return SOFTCE__ISA_AVX2;
}

#else

softce__isa softce__cpu_isa(void) { return SOFTCE__ISA_SCALAR; }

#endif
