#!/usr/bin/env bash
# find_package(softce CONFIG) from a separate CMake project against the installed prefix.
. "$(dirname "$0")/common.sh"

src="$SOFTCE_TESTS_DIR/consumer"
cmake_dir="$SOFTCE_PREFIX/$SOFTCE_LIBDIR/cmake/softce"

# configure <build dir> <extra cmake args...>
configure() {
    local dir="$SOFTCE_WORK/$1"
    shift
    rm -rf "$dir"
    "$CMAKE_COMMAND" -S "$src" -B "$dir" -G "$CMAKE_GENERATOR" -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_C_COMPILER="$CC" -DCMAKE_CXX_COMPILER="$CXX" \
        -DCMAKE_PREFIX_PATH="$SOFTCE_PREFIX" "$@" >"$dir.log" 2>&1
}

# C and C++ consumers; OpenMP must not be needed for the shared library.
configure c_cxx -DCMAKE_DISABLE_FIND_PACKAGE_OpenMP=ON ||
    { cat "$SOFTCE_WORK/c_cxx.log"; fail "configure of the consumer project"; }
grep -q "softce $SOFTCE_VERSION from $cmake_dir" "$SOFTCE_WORK/c_cxx.log" ||
    { cat "$SOFTCE_WORK/c_cxx.log"; fail "found the wrong softce package"; }
"$CMAKE_COMMAND" --build "$SOFTCE_WORK/c_cxx" >"$SOFTCE_WORK/c_cxx-build.log" 2>&1 ||
    { cat "$SOFTCE_WORK/c_cxx-build.log"; fail "build of the consumer project"; }
"$SOFTCE_WORK/c_cxx/consumer_c" || fail "consumer_c"
"$SOFTCE_WORK/c_cxx/consumer_cxx" || fail "consumer_cxx"

# A C++-only project must be able to use the target (no C-only usage requirements).
configure cxx_only -DCONSUMER_LANGUAGES=CXX ||
    { cat "$SOFTCE_WORK/cxx_only.log"; fail "configure of a C++-only consumer"; }
"$CMAKE_COMMAND" --build "$SOFTCE_WORK/cxx_only" >"$SOFTCE_WORK/cxx_only-build.log" 2>&1 ||
    { cat "$SOFTCE_WORK/cxx_only-build.log"; fail "build of a C++-only consumer"; }
"$SOFTCE_WORK/cxx_only/consumer_cxx" || fail "consumer_cxx (C++-only project)"

# SameMajorVersion: 1.x is accepted above; 2.0 and 0.9 must be refused.
for v in 2.0 0.9; do
    if configure "v$v" -DCONSUMER_WANT_VERSION="$v" -DCONSUMER_LANGUAGES=C; then
        fail "find_package(softce $v) accepted version $SOFTCE_VERSION"
    fi
    tr -s ' \n' ' ' <"$SOFTCE_WORK/v$v.log" |
        grep -q "compatible with requested version \"$v\"" ||
        { cat "$SOFTCE_WORK/v$v.log"; fail "find_package(softce $v) failed for another reason"; }
done
note "find_package(softce CONFIG) works; versions 2.0 and 0.9 are refused"
