# SIMD row kernels and ISA dispatch. Included by src/CMakeLists.txt after the library targets.
# Each per-ISA file is compiled with its own flags (set per source file, never per target), so
# nothing else in the library can emit AVX2/AVX-512 instructions. Built only for x86-64 with a
# GCC/Clang-style compiler that accepts the flags; otherwise the library is scalar only.
include(CheckCSourceCompiles)

option(SOFTCE_ENABLE_SIMD "Build the AVX2 and AVX-512 row kernels (x86-64 only)" ON)

set(SOFTCE_AVX2_FLAGS -mavx2 -mfma -mf16c CACHE INTERNAL "Flags of the AVX2 kernel files")
set(SOFTCE_AVX512_FLAGS -mavx512f -mavx512bw -mavx512dq -mavx512vl -mfma -mprfchw
    CACHE INTERNAL "Flags of the AVX-512 kernel files")

# softce_check_isa(<result var> <flags list> <body of main>): compiles a probe with the flags.
function(softce_check_isa var flags body)
  string(REPLACE ";" " " CMAKE_REQUIRED_FLAGS "${flags}")
  check_c_source_compiles("
#include <immintrin.h>
#if !defined(__x86_64__)
#error SIMD kernels are x86-64 only
#endif
int main(void) { ${body} }" ${var})
endfunction()

if(SOFTCE_ENABLE_SIMD AND CMAKE_C_COMPILER_ID MATCHES "GNU|Clang")
  softce_check_isa(SOFTCE_CC_HAS_AVX2 "${SOFTCE_AVX2_FLAGS}"
    "__m256 a = _mm256_fmadd_ps(_mm256_set1_ps(1.0f), _mm256_set1_ps(2.0f), _mm256_setzero_ps());
     return _mm_cvtsi128_si32(_mm256_cvtps_ph(a, 0));")
  softce_check_isa(SOFTCE_CC_HAS_AVX512 "${SOFTCE_AVX512_FLAGS}"
    "__m512 a = _mm512_set1_ps(1.0f);
     __m512d d = _mm512_cvtps_pd(_mm512_extractf32x8_ps(a, 1));
     _m_prefetchw(&a);
     return (int)_mm512_reduce_add_pd(d);")
endif()

# softce_add_kernel_sources(<target>): the dispatch's CPU detection and the SIMD tables the
# compiler can build, with their per-file flags. SOFTCE_HAVE_AVX2 / SOFTCE_HAVE_AVX512 are
# public: tests/kernels, which link the object library, see which tables exist.
function(softce_add_kernel_sources target)
  set(dir ${CMAKE_CURRENT_FUNCTION_LIST_DIR})
  target_sources(${target} PRIVATE ${dir}/cpu.c)
  if(SOFTCE_ENABLE_SIMD AND SOFTCE_CC_HAS_AVX2)
    set(srcs ${dir}/row_avx2_f32.c ${dir}/row_avx2_f64.c)
    target_sources(${target} PRIVATE ${srcs})
    set_source_files_properties(${srcs} TARGET_DIRECTORY ${target}
      PROPERTIES COMPILE_OPTIONS "${SOFTCE_AVX2_FLAGS}")
    target_compile_definitions(${target} PUBLIC SOFTCE_HAVE_AVX2)
  endif()
  if(SOFTCE_ENABLE_SIMD AND SOFTCE_CC_HAS_AVX512)
    set(srcs ${dir}/row_avx512_f32.c ${dir}/row_avx512_f64.c)
    target_sources(${target} PRIVATE ${srcs})
    set_source_files_properties(${srcs} TARGET_DIRECTORY ${target}
      PROPERTIES COMPILE_OPTIONS "${SOFTCE_AVX512_FLAGS}")
    target_compile_definitions(${target} PUBLIC SOFTCE_HAVE_AVX512)
  endif()
endfunction()

softce_add_kernel_sources(softce_kernels)
