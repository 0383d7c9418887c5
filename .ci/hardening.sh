#!/usr/bin/env bash
# Hardening checks (issue 4), run by .ci/run after the normal suite, with the packages of
# .ci/setup. Each step builds its own tree under $SOFTCE_HARDENING_DIR (default
# build-hardening/) except valgrind and the large test, which reuse the Release build of
# .ci/run ($SOFTCE_BUILD_DIR, default build/). Steps:
#   abi        RelWithDebInfo library vs abi/libsoftce.abi (abidiff), exports; abi/selftest.sh
#   asan       the whole suite under ASan + UBSan (gcc, -fno-sanitize-recover=all); tests that
#              run uninstrumented programs (python, docs, examples, install) with libasan
#              preloaded and leak detection off, the rest natively with leak detection on
#   tsan       C tests + stress under TSan (clang 14, LLVM libomp, Archer); first a
#              deliberately racy probe must be reported, and its race-free twin must not
#   fuzz       each libFuzzer target for $SOFTCE_FUZZ_SECONDS (default 75 s), both at once
#   valgrind   memcheck of the C tests, errors and stress (OMP_NUM_THREADS=2, no suppressions),
#              two programs at a time
#   large      the > 2^31-element bf16 test (about 4.7 GB of RAM)
#   cross      the library and examples cross-built for aarch64 (scalar kernels only: the
#              issue's "builds on non-x86"), its exports checked (abi/check.sh
#              --exports-only: the header's functions, nothing else), the examples run under
#              qemu-user with OMP_THREAD_LIMIT=1 (libgomp's threads hang under qemu-user
#              here, even in a trivial program) and the demo's output compared with the
#              Release build's scalar kernels (the same bytes)
# Usage: .ci/hardening.sh [step...]   (default: all, in the order above)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=${SOFTCE_HARDENING_DIR:-$root/build-hardening}
release=${SOFTCE_BUILD_DIR:-$root/build}
fuzz_seconds=${SOFTCE_FUZZ_SECONDS:-75}
clang=${SOFTCE_CLANG:-clang-14}
llvm=/usr/lib/llvm-14/lib
mkdir -p "$out"

say() { echo "hardening: $*"; }
die() {
    echo "hardening: FAIL: $*" >&2
    exit 1
}

# configure <dir> <C compiler> <C flags> [cmake args...]: tests on, bench off.
configure() {
    local dir=$1 cc=$2 flags=$3
    shift 3
    local cxx=g++
    [ "$cc" = gcc ] || cxx=${cc/clang/clang++}
    CC=$cc CXX=$cxx cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DSOFTCE_BUILD_BENCH=OFF \
        "-DCMAKE_C_FLAGS=$flags" "-DCMAKE_CXX_FLAGS=$flags" "$@" >"$dir.configure.log" ||
        die "configure $dir (see $dir.configure.log)"
}

need_target() { # the hardening folders must be wired into tests/CMakeLists.txt
    [ -e "$1" ] || die "$1 was not built: are tests/errors, tests/stress and tests/fuzz added \
in tests/CMakeLists.txt?"
}

step_abi() {
    local dir="$out/abi"
    CC=gcc cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSOFTCE_BUILD_TESTS=OFF \
        -DSOFTCE_BUILD_BENCH=OFF -DSOFTCE_BUILD_EXAMPLES=OFF >"$dir.configure.log"
    cmake --build "$dir" -j2 --target softce >/dev/null
    bash abi/check.sh "$(readlink -f "$dir/src/libsoftce.so")"
    bash abi/selftest.sh
}

step_asan() {
    local dir="$out/asan"
    # Without install_static: it would build an uninstrumented static library of its own (245 s)
    # for consumers that are not instrumented either; the Release suite runs it.
    configure "$dir" gcc "-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g -O1" \
        -DSOFTCE_TEST_STATIC=OFF
    cmake --build "$dir" -j2 >/dev/null
    need_target "$dir/tests/errors/test_errors"
    local outside='python|docs|examples|install'
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        ctest --test-dir "$dir" -j2 --output-on-failure -LE "$outside|large|mpi"
    # Open MPI itself leaks at exit (MPI_Init's buffers, from MCA components unloaded by then,
    # so no suppression can name them): the MPI tests run with every ASan/UBSan check but leaks.
    ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:strict_string_checks=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        ctest --test-dir "$dir" -j2 --output-on-failure -L mpi
    # python/torch, man, compilers... are not instrumented: the runtime must come first.
    LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libstdc++.so.6)" \
        ASAN_OPTIONS=detect_leaks=0:alloc_dealloc_mismatch=0 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        ctest --test-dir "$dir" -j2 --output-on-failure -L "$outside"
}

# Archer gives TSan the OpenMP synchronisation of LLVM's libomp (no false positives).
# SOFTCE_TEST_QUICK: test_split runs a reduced set under the slow tools (TSan, valgrind): f32,
# and bf16 (staged chunks) in its random and mixed-dtype cases
tsan_env() {
    env OMP_TOOL_LIBRARIES="$llvm/libarcher.so" SOFTCE_TEST_QUICK=1 \
        TSAN_OPTIONS="ignore_noninstrumented_modules=1 halt_on_error=1 second_deadlock_stack=1" "$@"
}

step_tsan() {
    local dir="$out/tsan"
    # clang keeps the TSan runtime in the executables: the shared library may leave its
    # __tsan_* symbols undefined (-z undefs, last on the link line, undoes --no-undefined).
    configure "$dir" "$clang" "-fsanitize=thread -fno-omit-frame-pointer -g -O1" \
        -DSOFTCE_BUILD_EXAMPLES=OFF "-DCMAKE_C_STANDARD_LIBRARIES=-Wl,-z,undefs"
    cmake --build "$dir" -j2 >/dev/null
    cmake --build "$dir" -j2 --target tsan_race_probe >/dev/null
    need_target "$dir/tests/stress/test_stress"
    local probe="$dir/tests/stress/tsan_race_probe" rc=0
    tsan_env "$probe" >"$dir/probe-atomic.log" 2>&1 || die "TSan reports the race-free probe: \
a false positive ($dir/probe-atomic.log)"
    tsan_env "$probe" racy >"$dir/probe-racy.log" 2>&1 || rc=$?
    if [ $rc -eq 0 ] || ! grep -q 'WARNING: ThreadSanitizer: data race' "$dir/probe-racy.log"; then
        die "TSan + Archer missed the deliberate race ($dir/probe-racy.log)"
    fi
    say "tsan: the deliberate OpenMP race is reported (exit $rc), its atomic twin is clean"
    tsan_env ctest --test-dir "$dir" -j2 --output-on-failure -L '^c$|stress' -LE large
}

step_fuzz() {
    local dir="$out/fuzz" t pids=() failed=0
    configure "$dir" "$clang" \
        "-fsanitize=address,undefined,fuzzer-no-link -fno-sanitize-recover=all -g -O1" \
        -DSOFTCE_BUILD_STATIC=ON -DSOFTCE_FUZZ=ON -DSOFTCE_BUILD_EXAMPLES=OFF
    cmake --build "$dir" -j2 --target fuzz_validate fuzz_kernels >/dev/null
    for t in validate kernels; do
        need_target "$dir/tests/fuzz/fuzz_$t"
        rm -rf "$dir/corpus-$t" "$dir/artifacts-$t"
        mkdir -p "$dir/corpus-$t" "$dir/artifacts-$t"
        # seeds: the committed corpus and every past crash; new inputs stay in the build tree
        (OMP_NUM_THREADS=1 "$dir/tests/fuzz/fuzz_$t" -max_total_time="$fuzz_seconds" \
            -max_len=4096 -rss_limit_mb=4096 -print_final_stats=1 \
            -artifact_prefix="$dir/artifacts-$t/" "$dir/corpus-$t" \
            "$root/tests/fuzz/corpus/$t" "$root/tests/fuzz/crashes/$t" \
            >"$dir/fuzz-$t.log" 2>&1) &
        pids+=($!)
    done
    for t in 0 1; do
        wait "${pids[$t]}" || failed=1
    done
    for t in validate kernels; do
        grep -E '^stat::number_of_executed_units|^Done' "$dir/fuzz-$t.log" | sed "s/^/fuzz_$t: /"
        if ls "$dir/artifacts-$t"/* >/dev/null 2>&1; then
            tail -n 40 "$dir/fuzz-$t.log" >&2
            failed=1
            echo "fuzz_$t found a failing input: $(ls "$dir/artifacts-$t"); add it to \
tests/fuzz/crashes/$t/ (with a line in its README.md) once understood" >&2
        fi
    done
    [ $failed = 0 ] || die "fuzzing"
}

# valgrind_one <exe> <log dir>: one memcheck run; writes "<seconds> ok|FAIL" to <log>.status.
valgrind_one() {
    local exe=$1 log="$2/$(basename "$1").log" t0=$SECONDS rc=0
    # libgomp's thread pool is "possibly lost" at exit: not an error, not shown
    OMP_NUM_THREADS=2 STRESS_THREADS=4 STRESS_ITERS=8 SOFTCE_TEST_QUICK=1 \
        valgrind --error-exitcode=99 --leak-check=full --show-possibly-lost=no \
        --errors-for-leak-kinds=definite "$exe" >"$log" 2>&1 || rc=$?
    if [ $rc = 0 ]; then
        echo "$((SECONDS - t0)) ok" >"$log.status"
    else
        echo "$((SECONDS - t0)) FAIL" >"$log.status"
    fi
}

step_valgrind() {
    [ -d "$release" ] || die "no Release build at $release (run .ci/run first)"
    local exe logs="$out/valgrind" status=0 running=0 st
    rm -rf "$logs"
    mkdir -p "$logs"
    mapfile -t exes < <(ctest --test-dir "$release" -N -V -L '^c$' -LE isa |
        sed -n 's/.*Test command: //p' | awk '{ print $1 }')
    exes+=("$release/tests/stress/test_stress")
    [ ${#exes[@]} -gt 2 ] || die "found no C tests in $release"
    # Valgrind runs a program's threads one at a time: two programs at once use both cores.
    for exe in "${exes[@]}"; do
        need_target "$exe"
        if [ $running -ge 2 ]; then
            wait -n || true
            running=$((running - 1))
        fi
        valgrind_one "$exe" "$logs" &
        running=$((running + 1))
    done
    wait || true
    for exe in "${exes[@]}"; do
        st=$(cat "$logs/$(basename "$exe").log.status" 2>/dev/null || echo "? FAIL")
        if [ "${st#* }" = ok ]; then
            say "valgrind: $(basename "$exe"): no error (${st% *} s)"
        else
            echo "valgrind: $exe failed (log: $logs/$(basename "$exe").log)" >&2
            status=1
        fi
    done
    [ $status = 0 ] || die "valgrind"
}

step_large() {
    [ -d "$release" ] || die "no Release build at $release (run .ci/run first)"
    SOFTCE_TEST_LARGE=1 ctest --test-dir "$release" --output-on-failure -L large
}

step_cross() {
    [ -d "$release" ] || die "no Release build at $release (run .ci/run first)"
    command -v aarch64-linux-gnu-gcc >/dev/null && command -v qemu-aarch64 >/dev/null ||
        die "cross: gcc-aarch64-linux-gnu and qemu-user are missing (run .ci/setup)"
    local dir="$out/aarch64"
    cmake -S "$root" -B "$dir" -DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchains/aarch64-linux-gnu.cmake" \
        -DCMAKE_BUILD_TYPE=Release -DSOFTCE_BUILD_TESTS=OFF -DSOFTCE_BUILD_BENCH=OFF \
        >"$dir.configure.log" || die "configure $dir (see $dir.configure.log)"
    ! grep -q '^SOFTCE_CC_HAS_AVX[0-9]*:INTERNAL=1$' "$dir/CMakeCache.txt" ||
        die "aarch64: an x86 kernel probe passed"
    cmake --build "$dir" -j2 >"$dir.build.log" 2>&1 || die "aarch64 build (see $dir.build.log)"
    if grep -q "warning:" "$dir.build.log"; then
        grep "warning:" "$dir.build.log" >&2
        die "aarch64 build warnings"
    fi
    local lib="$dir/src/libsoftce.so.1"
    file -L "$lib" | grep -q "ARM aarch64" || die "$lib is not an aarch64 library"
    NM=aarch64-linux-gnu-nm bash "$root/abi/check.sh" --exports-only "$lib" ||
        die "aarch64 library: its exports differ from the header's functions (abi/check.sh above)"
    local emu=(qemu-aarch64 -L /usr/aarch64-linux-gnu)
    OMP_THREAD_LIMIT=1 "${emu[@]}" "$dir/examples/minimal" >"$dir.minimal.log" ||
        die "minimal under qemu-aarch64"
    OMP_THREAD_LIMIT=1 "${emu[@]}" "$dir/examples/demo" >"$dir.demo.log" ||
        die "demo under qemu-aarch64"
    SOFTCE_FORCE_ISA=scalar "$release/examples/demo" >"$dir.demo-x86.log"
    cmp -s "$dir.demo.log" "$dir.demo-x86.log" ||
        die "the aarch64 demo printed other numbers than the x86-64 scalar one: diff $dir.demo.log $dir.demo-x86.log"
    say "aarch64: $(tail -n 1 "$dir.demo.log")"
}

steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(abi asan tsan fuzz valgrind large cross)
start=$SECONDS
for s in "${steps[@]}"; do
    t0=$SECONDS
    say "---- $s"
    "step_$s"
    say "---- $s: passed in $((SECONDS - t0)) s"
done
say "all passed (${steps[*]}) in $((SECONDS - start)) s"
