#!/usr/bin/env bash
# The static library (SOFTCE_BUILD_STATIC=ON): installed and exported as softce::softce_static,
# usable through find_package(softce CONFIG COMPONENTS static) and pkg-config --static.
# When the main build has no static library (the README's build), a library-only build is made
# for this test, without the SIMD kernels (SOFTCE_ENABLE_SIMD=OFF: their files take most of a
# build's time, ~80 s of ~95 here, and this test is about the archive's packaging, not its
# kernels, which every other test runs). With SOFTCE_BUILD_STATIC=ON (.ci/run) the main
# build's archive, SIMD kernels included, is tested, symbol check and all.
. "$(dirname "$0")/common.sh"

prefix="$SOFTCE_PREFIX"
if [ "$SOFTCE_HAS_STATIC" != 1 ]; then
    build="$SOFTCE_WORK/static-build"
    prefix="$SOFTCE_WORK/static-prefix"
    rm -rf "$prefix"
    "$CMAKE_COMMAND" -S "$SOFTCE_SOURCE_DIR" -B "$build" -G "$CMAKE_GENERATOR" \
        -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER="$CC" -DCMAKE_CXX_COMPILER="$CXX" \
        -DSOFTCE_BUILD_STATIC=ON -DSOFTCE_BUILD_TESTS=OFF -DSOFTCE_BUILD_EXAMPLES=OFF \
        -DSOFTCE_BUILD_BENCH=OFF -DSOFTCE_ENABLE_SIMD=OFF >"$build.log" 2>&1 || { cat "$build.log"; fail "configure"; }
    "$CMAKE_COMMAND" --build "$build" -j2 >>"$build.log" 2>&1 || { cat "$build.log"; fail "build"; }
    "$CMAKE_COMMAND" --install "$build" --prefix "$prefix" >>"$build.log"
fi
libdir="$prefix/$SOFTCE_LIBDIR"
[ -f "$libdir/libsoftce.a" ] || fail "libsoftce.a is not installed"
[ -f "$libdir/cmake/softce/softceStaticTargets.cmake" ] || fail "softce_static is not exported"

# Every global symbol the archive defines is in the softce_ namespace (internal ones softce__).
others=$(nm -g --defined-only "$libdir/libsoftce.a" | awk 'NF == 3 && $3 !~ /^softce_/')
[ -z "$others" ] || fail "libsoftce.a defines symbols outside the softce_ namespace: $others"

# not_linked_to_shared <exe>: the executable must not need libsoftce.so.
not_linked_to_shared() {
    ! readelf -d "$1" | grep -q 'NEEDED.*libsoftce' || fail "$1 needs libsoftce.so"
}

# pkg-config --static: Libs.private must bring what libsoftce.a needs (OpenMP, libm).
export PKG_CONFIG_LIBDIR="$libdir/pkgconfig" PKG_CONFIG_PATH=""
libs=$(pkg-config --static --libs softce)
libs=${libs/-lsoftce/-l:libsoftce.a}
note "static link flags: $libs"
# shellcheck disable=SC2046,SC2086
"$CC" -std=c99 "$SOFTCE_TESTS_DIR/consumer.c" -o "$SOFTCE_WORK/consumer_pc_static" \
    $(pkg-config --cflags softce) -DSOFTCE_STATIC $libs
"$SOFTCE_WORK/consumer_pc_static" || fail "consumer_pc_static"
not_linked_to_shared "$SOFTCE_WORK/consumer_pc_static"

# CMake: COMPONENTS static finds OpenMP itself and links softce::softce_static.
dir="$SOFTCE_WORK/cmake_static"
rm -rf "$dir"
"$CMAKE_COMMAND" -S "$SOFTCE_TESTS_DIR/consumer" -B "$dir" -G "$CMAKE_GENERATOR" \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER="$CC" -DCMAKE_CXX_COMPILER="$CXX" \
    -DCMAKE_PREFIX_PATH="$prefix" -DCONSUMER_COMPONENTS="COMPONENTS;static" \
    -DCONSUMER_STATIC=ON >"$dir.log" 2>&1 || { cat "$dir.log"; fail "configure (static)"; }
"$CMAKE_COMMAND" --build "$dir" >>"$dir.log" 2>&1 || { cat "$dir.log"; fail "build (static)"; }
for exe in consumer_c consumer_cxx; do
    "$dir/$exe" || fail "$exe (static)"
    not_linked_to_shared "$dir/$exe"
done
note "static library: pkg-config --static and find_package(... COMPONENTS static) work"
